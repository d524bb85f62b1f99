/* Unit tests for backend/clock.c: the clock, real or from a test file, and ISO-8601 times. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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


int main(void)
{
	testdir_make(root, sizeof root);
	test_clock();
	testdir_remove(root);
	return tap_done();
}
