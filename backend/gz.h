/* gzip, the one module that uses libdeflate: log files are one gzip member
 * each (validate-logs reads only the first member). */
#ifndef TRAILFS_GZ_H
#define TRAILFS_GZ_H

#include <stddef.h>

#include "buf.h"

#define GZ_LEVEL_DEFAULT 6

/* Append one gzip member of data at level (1-12) to out.  0 or -errno
 * (-E2BIG past out's cap, -ENOMEM). */
int gz_compress(const void *data, size_t len, int level, struct buf *out);

/* The same in parts, for callers that compress many members, perhaps on
 * several threads: a compressor (for one thread at a time) kept across
 * members, and a member written into memory the caller provides, so that
 * compressing itself allocates nothing and takes no lock. */
struct gz_compressor;
/* NULL: level out of range (1-12) or no memory. */
struct gz_compressor *gz_compressor_new(int level);
void gz_compressor_free(struct gz_compressor *c);
/* Room one member of len bytes may need. */
size_t gz_compress_bound(struct gz_compressor *c, size_t len);
/* One gzip member of data into out[0..cap): its length, or 0 when cap is
 * below gz_compress_bound and it did not fit. */
size_t gz_compress_to(struct gz_compressor *c, const void *data, size_t len, void *out,
		      size_t cap);

/* The uncompressed length a single-member gzip declares (ISIZE, mod 2^32),
 * or -EINVAL when data is too short to be gzip. */
long long gz_declared_size(const void *data, size_t len);

/* Inflate data, which must be exactly one gzip member (a second member or
 * trailing bytes: -EINVAL; a corrupt one or a CRC mismatch: -EINVAL),
 * appending at most max bytes to out (-E2BIG beyond).  0 or -errno. */
int gz_decompress(const void *data, size_t len, size_t max, struct buf *out);

/* Inflate the first gzip member of data[0..len) exactly as zlib's gzip
 * decoder (windowBits 31) reads it, which is what the aws CLI's
 * validate-logs uses: Python's zlib over the system zlib.  libdeflate is
 * faster but may accept streams zlib refuses, and it cannot give the part
 * of a truncated stream that zlib gives, so this one function uses zlib.
 *
 * Each piece of inflated output is passed to sink (which returns 0, or a
 * negative errno that stops the inflation and is returned).  The result is
 * 0 when zlib raised no error: the member ended (info->complete, with the
 * count of bytes after it in info->trailing, which zlib ignores), or the
 * input ran out first (not complete: zlib.decompressobj reports nothing,
 * while zlib.decompress calls that "incomplete or truncated stream").
 * Empty input is 0 and not complete.  -EINVAL when zlib reports an error
 * (a bad header or header CRC, corrupt deflate data, a CRC32 or length
 * mismatch in the trailer); -ENOMEM.  info may be NULL. */
struct gz_stream_info {
	int complete;             /* nonzero: the member's end was reached */
	size_t trailing;          /* complete: bytes of data after the member */
	unsigned long long out_len;   /* inflated bytes passed to sink */
};
typedef int (*gz_sink_fn)(void *arg, const void *p, size_t n);
int gz_inflate_first_member(const void *data, size_t len, gz_sink_fn sink, void *arg,
			    struct gz_stream_info *info);

#endif
