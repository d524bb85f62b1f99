/* Unit tests for backend/clock.c: the clock, real or from a test file, and ISO-8601 times. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "tap.h"
#include "testdir.h"

static char root[64];

static void test_clock(void)
{
	char iso[32];
	clock_format_iso(1767225600, iso, sizeof iso);
	ok(!strcmp(iso, "2026-01-01T00:00:00Z"), "ISO-8601 UTC");
	int64_t t;
	ok(clock_parse_iso("2026-11-23T10:02:11Z", &t) == 0 && t == 1795428131, "parse");
	ok(clock_parse_iso("2026-11-23 10:02:11", &t) == -EINVAL, "only that form");
	char path[256];
	snprintf(path, sizeof path, "%s/clock", root);
	write_file_durable(path, "1767225600\n", 11, 0600);
	struct clock c = { .test_file = path };
	ok(clock_now(&c) == 1767225600, "a test clock reads its file");
	write_file_durable(path, "soon", 4, 0600);
	ok(clock_read_file(path, &t) == -EINVAL, "a bad clock file is refused");
	ok(clock_now(&c) > 1700000000, "and the system clock stands in");
}

/* The second half of `echo T > FILE`: the write after the truncation. */
static void *late_write(void *path)
{
	struct timespec pause = { 0, 5 * 1000000L };   /* 5 ms */
	nanosleep(&pause, NULL);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1767225700\n", 11) != 11)
			perror("late_write");
		close(fd);
	}
	return NULL;
}

/* A clock file caught empty, between the truncation and the write of a
 * rewrite, is read again rather than taken as unreadable: the time does not
 * jump to the system clock's date. */
static void test_clock_rewrite(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/clock-empty", root);
	write_file_durable(path, "", 0, 0600);
	int64_t t;
	ok(clock_read_file(path, &t) == -ENODATA, "an empty clock file reads as -ENODATA");
	struct clock c = { .test_file = path };
	pthread_t th;
	ok(pthread_create(&th, NULL, late_write, path) == 0, "a writer fills the file in 5 ms");
	int64_t now = clock_now(&c);
	pthread_join(th, NULL);
	ok(now == 1767225700, "clock_now waits for the write instead of taking the system clock (got %lld)",
	   (long long)now);
	write_file_durable(path, "", 0, 0600);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	now = clock_now(&c);
	clock_gettime(CLOCK_MONOTONIC, &b);
	int64_t ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	ok(now > 1700000000 && ms >= CLOCK_EMPTY_WAIT_MS - 1,
	   "a file that stays empty: the system clock after CLOCK_EMPTY_WAIT_MS (%lld ms)", (long long)ms);
}


int main(void)
{
	testdir_make(root, sizeof root);
	test_clock();
	test_clock_rewrite();
	testdir_remove(root);
	return tap_done();
}
