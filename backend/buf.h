/* A growing byte buffer with a hard cap, in the manner of curl's dynbuf.
 *
 * Every path, object key, JSON document and message that trailfs builds goes
 * through one of these: appending past the cap fails cleanly instead of
 * overflowing or growing without bound.  The data is always NUL-terminated
 * (the terminator is not counted in len), so text can be used as a C string. */
#ifndef TRAILFS_BUF_H
#define TRAILFS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;   /* NULL until the first append */
	size_t len;   /* bytes in use, not counting the terminator */
	size_t cap;   /* bytes allocated */
	size_t max;   /* hard cap on len */
};

/* Prepare an empty buffer that will refuse to hold more than max bytes. */
void buf_init(struct buf *b, size_t max);
/* Free the storage; the buffer may be reused after buf_init. */
void buf_release(struct buf *b);
/* Forget the contents, keep the storage. */
void buf_reset(struct buf *b);

/* Append n bytes.  Returns 0, -E2BIG when the cap would be passed (the buffer
 * is then unchanged), or -ENOMEM. */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* The contents as a C string; "" for an empty buffer.  Owned by the buffer. */
const char *buf_str(const struct buf *b);
/* Hand the storage to the caller (free() it); the buffer is left empty.
 * Never NULL unless memory is exhausted. */
char *buf_take(struct buf *b);

#endif
