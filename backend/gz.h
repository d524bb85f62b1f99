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

/* The uncompressed length a single-member gzip declares (ISIZE, mod 2^32),
 * or -EINVAL when data is too short to be gzip. */
long long gz_declared_size(const void *data, size_t len);

/* Inflate data, which must be exactly one gzip member (a second member or
 * trailing bytes: -EINVAL; a corrupt one or a CRC mismatch: -EINVAL),
 * appending at most max bytes to out (-E2BIG beyond).  0 or -errno. */
int gz_decompress(const void *data, size_t len, size_t max, struct buf *out);

#endif
