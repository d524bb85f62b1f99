/* The current time, real or from a test clock file.
 *
 * With a test clock (-o test_clock=FILE) the time is the epoch seconds
 * written in FILE, read afresh on every call, so tests can cross hours and
 * days without waiting.  A testing aid, documented as such. */
#ifndef TRAILFS_CLOCK_H
#define TRAILFS_CLOCK_H

#include <stddef.h>
#include <stdint.h>

struct clock {
	const char *test_file;   /* NULL: the system clock; borrowed */
};

/* A test clock file found empty is taken to be in the middle of a rewrite
 * (`echo T > FILE` truncates, then writes): it is read again, every
 * CLOCK_EMPTY_RETRY_US, for up to CLOCK_EMPTY_WAIT_MS, before the system
 * clock stands in.  Without this a reader polling the clock (the delivery
 * thread reads it every 50 ms) now and then jumps to the real date. */
#define CLOCK_EMPTY_RETRY_US 500
#define CLOCK_EMPTY_WAIT_MS  100

/* Epoch seconds.  A test clock file that cannot be read or parsed (or stays
 * empty for CLOCK_EMPTY_WAIT_MS) falls back to the system clock (and the
 * daemon warned at start-up if it was bad then). */
int64_t clock_now(const struct clock *c);

/* Read the test clock file: 0 and *out, -ENODATA for an empty file, or
 * -errno / -EINVAL. */
int clock_read_file(const char *path, int64_t *out);

/* ISO-8601 UTC "YYYY-MM-DDTHH:MM:SSZ" into out (size >= 21). */
void clock_format_iso(int64_t t, char *out, size_t size);
/* Parse that form (and only that form).  0 or -EINVAL. */
int clock_parse_iso(const char *s, int64_t *out);

#endif
