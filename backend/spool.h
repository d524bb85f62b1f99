/* The spool: accepted records, durable before /events acknowledges them,
 * kept until every trail they were routed to has them in a delivered file.
 *
 * An append-only sequence of frames in segment files SPOOL/NNNNNNNNNNNNNNNNNNNN.seg
 * (the number is the sequence number of the segment's first frame). Each
 * frame: magic u32 "TFS1", payload length u32, CRC-32C of the payload u32,
 * sequence number u64, payload.  Integers little-endian.  Sequence numbers
 * are consecutive from 1.  A torn tail (a crash mid-append: a short frame or
 * a bad CRC at the end of the last segment) was never acknowledged and is cut
 * off at open; damage anywhere else is reported, not repaired. */
#ifndef TRAILFS_SPOOL_H
#define TRAILFS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_SEGMENT_BYTES (64u * 1024 * 1024)   /* a new segment past this */
#define SPOOL_DEFAULT_MAX   (1024ull * 1024 * 1024)  /* -o spool_max default */

struct spool;

struct spool_item {
	const void *payload;
	size_t len;
};

/* Open (creating mode 0700) the spool in dir, recovering as above.  max:
 * the most bytes of frames it may hold (appends past it fail with -ENOSPC).
 * NULL with *errp (-errno; -EBADMSG for damage, with the path and offset in
 * why, a buffer of why_size bytes) on failure. */
struct spool *spool_open(const char *dir, uint64_t max, int *errp, char *why, size_t why_size);
void spool_close(struct spool *s);

/* Append items as consecutive frames and make them durable: one write and
 * one fdatasync for the whole batch, whatever its size.  All or nothing: on
 * failure (-ENOSPC when the spool would pass max; -EFBIG for an item over
 * 16 MiB; -errno from the disk) nothing of the batch is kept.  On success
 * *first is the sequence number of the first item.  Thread-safe: concurrent
 * appends get distinct sequence numbers; the lock covers only the write, the
 * fdatasync runs outside it (group commit: one fsync covers every write
 * before it). */
int spool_append(struct spool *s, const struct spool_item *items, size_t n, uint64_t *first);

/* The next sequence number to be appended (the last one is this minus 1). */
uint64_t spool_next(struct spool *s);
/* The first sequence number still held (spool_next when empty). */
uint64_t spool_first(struct spool *s);
/* Bytes of frames held. */
uint64_t spool_bytes(struct spool *s);
/* Bytes of frames appended since the spool was opened (only grows). */
uint64_t spool_appended(struct spool *s);

/* Call fn for each frame with from <= seq < to, in order, stopping at the
 * first nonzero return (which is returned).  Frames appended meanwhile are
 * not seen unless below to.  -ERANGE when from < spool_first. */
int spool_read(struct spool *s, uint64_t from, uint64_t to,
	       int (*fn)(void *ctx, uint64_t seq, const void *payload, size_t len), void *ctx);

/* Everything below seq is delivered: whole segments entirely below it are
 * deleted (the space is given back for appends).  0 or -errno. */
int spool_trim(struct spool *s, uint64_t seq);

/* CRC-32C (Castagnoli), as the frames use. */
uint32_t spool_crc32c(const void *data, size_t len);

#endif
