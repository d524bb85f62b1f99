/* Delivery: spooled records become log files in the trails' buckets.
 *
 * Each trail has a cursor: every spooled record below it that was routed to
 * the trail is in a delivered file.  A delivery run takes, for each trail,
 * the records from its cursor to the spool's end, groups them by region,
 * and writes one gzip file per (trail, region) under the AWS key
 *   [PREFIX/]AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz
 * (the delivery time, UTC, to the minute).  Exactly once, across crashes:
 * before writing, the run records its intent (the spool end, the time, and
 * for each file its trail, region, bucket, key and first sequence number)
 * durably in STATE/delivery.json; the 16-character unique part is derived
 * from those, and the file's bytes from the spool range, so a run that a
 * crash interrupts is redone at start-up with the same keys and the same
 * bytes, overwriting what it had written.  Then the cursors move and the
 * spool is trimmed. */
#ifndef TRAILFS_DELIVER_H
#define TRAILFS_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "event.h"
#include "spool.h"
#include "store.h"

#define DELIVERY_FORMAT 1
#define DELIVERY_SIZE_CAP (32u * 1024 * 1024)   /* a run starts early past this much spooled */
#define DELIVERY_FILE_MAX (256u * 1024 * 1024)  /* uncompressed bytes of one log file */
/* Record bytes one run collects (all its files together): past it the rest
 * goes in another run at once, so that a backlog never has to fit in memory. */
#define DELIVERY_RUN_MAX  DELIVERY_FILE_MAX

/* Metadata trailfs keeps beside each log file it delivers, so that the
 * views know sizes without decompressing. */
#define META_RECORDS     "trailfs-records"      /* number of records */
#define META_LINES_SIZE  "trailfs-lines-size"   /* bytes of the one-record-per-line view */

/* Where a trail delivers, as a run sees it. */
struct delivery_target {
	const char *trail;
	const char *bucket;
	const char *prefix;       /* "" = none */
	const char *account;
};

/* A file a run delivered (for the views to learn of it). */
struct delivered_file {
	char *trail;
	char *bucket;
	char *key;
};

/* A log file a run committed (or took back), as the digest writer learns
 * of it.  All borrowed for the length of the call. */
struct delivery_log {
	const char *trail;
	const char *region;
	const char *bucket;
	const char *key;
	const char *hash;         /* lowercase hex SHA-256 of the uncompressed bytes */
	int64_t oldest;           /* the oldest and newest eventTime in the file */
	int64_t newest;
};

/* Called by a run (and by the redo at open) after its files are written and
 * before its cursors move durably: time is the run's delivery time (the one
 * in the keys), logs[0..n) the files whose trail's cursor is about to move,
 * gone[0..n_gone) files the run removed or could not write (a trail with a
 * failed file delivers those records again under new keys).  A redo calls
 * it again for the same files with the same time, keys and hashes, so the
 * observer must take a file it already has as the same file.  It runs under
 * the delivery's lock and must not call back into the delivery.  A negative
 * return fails the run before any cursor moves (the intent stays, and the
 * records are delivered again). */
typedef int (*delivery_observer_fn)(void *ctx, int64_t time, const struct delivery_log *logs,
				    size_t n, const struct delivery_log *gone, size_t n_gone);

struct delivery;

/* delivery_open with an observer (fn may be NULL: none).  With one, every
 * file's SHA-256 is taken from the bytes that are compressed, and its
 * eventTime range from its records. */
struct delivery *delivery_open_observed(const char *state_dir, struct spool *spool,
					struct store *store, const struct clock *clock,
					delivery_observer_fn fn, void *ctx, struct ct_err *err);

/* How a trail's log files are encrypted before they are stored: called for
 * every log file a run stores (the redo at open included), with its gzip
 * member gz[0..len).  When the trail encrypts, it appends the stored bytes
 * to out (at most len + DELIVERY_SEAL_OVERHEAD), appends its metadata to
 * info (malloc'd names and values, after the two META_ entries) and
 * returns 1; 0 stores the file as it is.  A negative return stores nothing:
 * the file counts as not written (its trail's records stay spooled) and
 * why[0..size) (a NUL-terminated line) becomes the trail's
 * LatestDeliveryError.  Runs on the delivering thread under the delivery's
 * lock and must not call back into the delivery.  Digest files never pass
 * through it. */
#define DELIVERY_SEAL_OVERHEAD 64
typedef int (*delivery_seal_fn)(void *ctx, const char *trail, const void *gz, size_t len,
				struct buf *out, struct store_object_info *info, char *why,
				size_t size);

/* delivery_open_observed with a sealer too (seal may be NULL: none).  Given
 * here, not later, so that a run redone at open is sealed as well. */
struct delivery *delivery_open_sealed(const char *state_dir, struct spool *spool,
				      struct store *store, const struct clock *clock,
				      delivery_observer_fn fn, void *ctx, delivery_seal_fn seal,
				      void *seal_ctx, struct ct_err *err);

/* Load STATE/delivery.json (missing: a new state) and finish an interrupted
 * run.  NULL with err filled (the path named) on failure. */
struct delivery *delivery_open(const char *state_dir, struct spool *spool, struct store *store,
			       const struct clock *clock, struct ct_err *err);
void delivery_close(struct delivery *d);

/* The spool frame for a record routed to trails[0..n): what ingest appends.
 * Appends to out.  0 or -errno. */
int delivery_frame(const struct event *e, const char *const *trails, size_t n, struct buf *out);

/* Deliver what is spooled for the targets (only_trail: just that one, or
 * NULL for all).  Trails not among the targets are left alone (their
 * cursors stay); records for trails that no longer exist are skipped.  On
 * return, *files lists what was written (free with delivered_files_free).
 * A target whose bucket cannot be written keeps its cursor (the records are
 * retried next run) and its LatestDeliveryError says why.  0 or -errno. */
int delivery_run(struct delivery *d, const struct delivery_target *targets, size_t n,
		 const char *only_trail, struct delivered_file **files, size_t *n_files);
void delivered_files_free(struct delivered_file *f, size_t n);

/* GetTrailStatus's delivery members for trail: time 0 = never; error ""
 * = none. */
void delivery_status(struct delivery *d, const char *trail, int64_t *latest_time,
		     char *latest_error, size_t size);

/* A trail is gone: forget its cursor and status (durably). */
int delivery_forget(struct delivery *d, const char *trail);

/* The one-record-per-line view of a log file's JSON ({"Records":[...]}):
 * each record's bytes as they stand, each followed by a newline.  Appends
 * to out.  -EINVAL when body is not such a document. */
int delivery_lines(const char *body, size_t len, struct buf *out);

/* Forget the cursors of every trail not among names[0..n) (trails deleted
 * by a daemon that died before it could forget them).  0 or -errno. */
int delivery_keep_only(struct delivery *d, const char *const *names, size_t n);

/* Bytes spooled that no run has taken yet, those that came during a run
 * included (to start one early past DELIVERY_SIZE_CAP). */
uint64_t delivery_pending_bytes(struct delivery *d);

#endif
