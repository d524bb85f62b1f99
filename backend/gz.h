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

#endif
