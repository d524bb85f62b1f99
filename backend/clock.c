#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int clock_read_file(const char *path, int64_t *out)
{
	char text[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, text, sizeof text - 1);
	int saved = errno;
	close(fd);
	if (n < 0)
		return -saved;
	if (n == 0)
		return -ENODATA;
	text[n] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	while (*end == '\n' || *end == ' ' || *end == '\r' || *end == '\t')
		end++;
	if (errno || end == text || *end || v < 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_now(const struct clock *c)
{
	if (c && c->test_file) {
		int64_t t, deadline = 0;
		int r;
		while ((r = clock_read_file(c->test_file, &t)) == -ENODATA) {
			int64_t now = monotonic_ms();
			if (!deadline)
				deadline = now + CLOCK_EMPTY_WAIT_MS;
			else if (now >= deadline)
				break;
			struct timespec pause = { 0, CLOCK_EMPTY_RETRY_US * 1000L };
			nanosleep(&pause, NULL);
		}
		if (r == 0)
			return t;
	}
	return (int64_t)time(NULL);
}

void clock_format_iso(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int clock_parse_iso(const char *s, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}
