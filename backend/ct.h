/* The trail engine's facade: the CloudTrail API (and the S3 bucket calls the
 * tree needs) over the registry and an object store.  No FUSE in here: the
 * driver in fs/, the tests and later the server mode call these.
 *
 * Conventions for every call:
 *  - returns 0 or a negative errno; on failure err (may be NULL) holds the
 *    AWS error name and message, and nothing has changed;
 *  - who (may be NULL for internal calls) is the caller: a call with a
 *    caller is recorded as its management event (reads included), ingested
 *    and routed like any other record; internal calls (who NULL) are not.
 *    A successful call is recorded by the call itself; a failed one names
 *    itself in err (ct_err_call) and is recorded when the rejection is
 *    final, by ct_record_error, so that a check that a longer value could
 *    still pass is not a failed call;
 *  - names are trail names; CT_DRY_RUN runs every check (policies included)
 *    without changing anything;
 *  - out-parameters are owned by the caller after success.
 * All calls are thread-safe.  Changes are serialised and durable: when a
 * mutating call returns 0 its effect survives a crash. */
#ifndef TRAILFS_CT_H
#define TRAILFS_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "buf.h"
#include "deliver.h"
#include "err.h"
#include "event.h"
#include "integrity.h"
#include "sign.h"
#include "store.h"
#include "trail.h"

#define CT_REGISTRY_FORMAT 1      /* version number of registry.json */

struct ct;

struct ct_options {
	const char *state_dir;   /* required */
	const char *store_dir;   /* NULL: STATE/store */
	const char *account;     /* NULL: the one kept in the state, or a new one */
	const char *region;      /* home region; NULL: us-east-1 */
	const char *regions;     /* colon-separated; NULL: the AWS commercial regions */
	const char *test_clock;  /* NULL: the system clock */
	unsigned delivery_interval;  /* seconds between deliveries; 0: 300 */
	uint64_t spool_max;          /* bytes the spool may hold; 0: SPOOL_DEFAULT_MAX */
	unsigned digest_interval;    /* seconds per digest window; 0: 3600 */
	uint64_t key_rotation;       /* rotate a region's signing key when it is this
				      * many seconds old; 0: never */
	unsigned key_deletion_days;  /* the key ring's pending window, 7..30; 0: 30 */
};

#define CT_DELIVERY_INTERVAL_DEFAULT 300
#define CT_DIGEST_INTERVAL_DEFAULT   3600

/* Flags for mutating calls. */
#define CT_DRY_RUN  1u   /* check only */
#define CT_PARTIAL  2u   /* (with CT_DRY_RUN) the input may still be growing */

/* Open the engine on a state directory (created mode 0700 if missing):
 * lock it against a second daemon, load the registry, open the store.
 * NULL on failure with err saying why, the path included. */
struct ct *ct_open(const struct ct_options *o, struct ct_err *err);
void ct_close(struct ct *ct);

const char *ct_account(const struct ct *ct);
const char *ct_region(const struct ct *ct);
int64_t ct_now(const struct ct *ct);
/* The configured regions, in order; borrowed. */
const char *const *ct_regions(const struct ct *ct, size_t *n);
bool ct_region_known(const struct ct *ct, const char *region);
/* The colon-separated default region list. */
extern const char CT_DEFAULT_REGIONS[];

/* ---- CloudTrail ---- */

/* CreateTrail with the console's defaults: multi-region, global service
 * events, management events All, no data events, log file validation on,
 * logging on, and a new bucket aws-cloudtrail-logs-ACCOUNT-XXXXXXXX with
 * CloudTrail's bucket policy for this trail.  Recorded as the console's
 * calls: CreateBucket, PutBucketPolicy, CreateTrail, StartLogging. */
int ct_create_trail(struct ct *ct, const struct ct_caller *who, const char *name,
		    struct ct_err *err);
/* DeleteTrail; delivered files stay in the bucket. */
int ct_delete_trail(struct ct *ct, const struct ct_caller *who, const char *name,
		    struct ct_err *err);
/* GetTrail: a deep copy into out (trail_release it). */
int ct_get_trail(struct ct *ct, const struct ct_caller *who, const char *name,
		 struct trail *out, struct ct_err *err);
/* DescribeTrails: the names of every trail, sorted (store_names_free them). */
int ct_describe_trails(struct ct *ct, const struct ct_caller *who, char ***names, size_t *n);
bool ct_trail_exists(struct ct *ct, const char *name);

/* UpdateTrail.  NULL strings and -1 booleans leave a member unchanged; ""
 * clears an optional string. */
struct ct_update {
	const char *bucket;
	const char *prefix;
	const char *sns_topic;       /* name or ARN */
	const char *kms_key;         /* alias/NAME, alias ARN, key ARN or key id */
	const char *log_group_arn;
	const char *log_role_arn;
	int multi_region;
	int global_events;
	int validation;
};
#define CT_UPDATE_INIT { NULL, NULL, NULL, NULL, NULL, NULL, -1, -1, -1 }

/* Parts of struct selectors, for changes that replace only some of them
 * (the management_events and data_events files). */
#define CT_SEL_MGMT     1u   /* mgmt */
#define CT_SEL_EXCLUDE  2u   /* exclude_kms, exclude_rdsdata */
#define CT_SEL_DATA     4u   /* res[] */

enum ct_tag_op {
	CT_TAGS_KEEP = 0,      /* leave the tags alone */
	CT_TAGS_REPLACE,       /* the set becomes exactly tags[] (AddTags + RemoveTags) */
	CT_TAGS_ADD,           /* AddTags: set each key */
	CT_TAGS_REMOVE,        /* RemoveTags: drop each key */
};

/* Several API calls applied together, all or nothing (config.json). */
struct ct_change {
	const struct ct_update *update;        /* UpdateTrail, or NULL */
	const struct selectors *selectors;     /* PutEventSelectors, or NULL */
	unsigned selector_parts;               /* which parts of selectors to take; 0 = all */
	enum ct_tag_op tag_op;
	const struct tag *tags;
	size_t n_tags;
	int logging;                           /* 1 StartLogging, 0 StopLogging, -1 neither */
};
int ct_apply(struct ct *ct, const struct ct_caller *who, const char *name,
	     const struct ct_change *c, unsigned flags, struct ct_err *err);

int ct_update_trail(struct ct *ct, const struct ct_caller *who, const char *name,
		    const struct ct_update *u, unsigned flags, struct ct_err *err);
int ct_start_logging(struct ct *ct, const struct ct_caller *who, const char *name,
		     unsigned flags, struct ct_err *err);
int ct_stop_logging(struct ct *ct, const struct ct_caller *who, const char *name,
		    unsigned flags, struct ct_err *err);
int ct_put_event_selectors(struct ct *ct, const struct ct_caller *who, const char *name,
			   const struct selectors *sel, unsigned flags, struct ct_err *err);
/* GetEventSelectors: a deep copy (selectors_release it). */
int ct_get_event_selectors(struct ct *ct, const struct ct_caller *who, const char *name,
			   struct selectors *out, struct ct_err *err);
/* AddTags: set each key (an existing key gets the new value). */
int ct_add_tags(struct ct *ct, const struct ct_caller *who, const char *name,
		const struct tag *tags, size_t n, unsigned flags, struct ct_err *err);
/* RemoveTags by key (values are ignored, as AWS ignores them). */
int ct_remove_tags(struct ct *ct, const struct ct_caller *who, const char *name,
		   const struct tag *tags, size_t n, unsigned flags, struct ct_err *err);
/* ListTags: a copy of the tag list; free with ct_tags_free. */
int ct_list_tags(struct ct *ct, const struct ct_caller *who, const char *name,
		 struct tag **tags, size_t *n, struct ct_err *err);
void ct_tags_free(struct tag *tags, size_t n);

/* GetTrailStatus as compact JSON (AWS member names, ISO-8601 UTC times,
 * unset members left out), appended to out. */
int ct_get_trail_status_json(struct ct *ct, const struct ct_caller *who, const char *name,
			     struct buf *out, struct ct_err *err);

/* ---- S3 buckets (the object store) ---- */

int ct_create_bucket(struct ct *ct, const struct ct_caller *who, const char *bucket,
		     struct ct_err *err);
int ct_delete_bucket(struct ct *ct, const struct ct_caller *who, const char *bucket,
		     struct ct_err *err);
/* ListBuckets. */
int ct_list_buckets(struct ct *ct, const struct ct_caller *who, char ***names, size_t *n);
bool ct_bucket_exists(struct ct *ct, const char *bucket);
/* GetBucketPolicy: appends the document; -ENODATA (NoSuchBucketPolicy)
 * when the bucket has none (recorded as a failed GetBucketPolicy here, since
 * callers take it as "no policy" rather than as a rejection). */
int ct_get_bucket_policy(struct ct *ct, const struct ct_caller *who, const char *bucket,
			 struct buf *out, struct ct_err *err);
/* PutBucketPolicy (validated: MalformedPolicy); an empty or all-whitespace
 * document is DeleteBucketPolicy. */
int ct_put_bucket_policy(struct ct *ct, const struct ct_caller *who, const char *bucket,
			 const char *doc, size_t len, unsigned flags, struct ct_err *err);

/* ---- events ---- */

/* The context for normalising records that who ingests (account, regions). */
void ct_event_ctx(const struct ct *ct, const struct ingest_who *who, struct event_ctx *out);

/* Accept normalised records: route each to the trails whose selectors take
 * it and spool it.  When this returns 0 the records are durable (one
 * fdatasync for all of them).  -ENOSPC (with err) when the spool is full;
 * nothing of the batch is kept then. */
int ct_ingest(struct ct *ct, const struct event *events, size_t n, struct ct_err *err);

/* Called after each delivery run that wrote files (from the delivery
 * thread): the views learn of new files. */
typedef void (*ct_delivered_fn)(void *ctx, const struct delivered_file *files, size_t n);

/* Start delivering every delivery_interval seconds (and sooner when
 * DELIVERY_SIZE_CAP bytes are waiting).  Call after the daemon has forked:
 * this starts a thread.  0 or -errno. */
int ct_start_delivery(struct ct *ct, ct_delivered_fn fn, void *ctx);

/* Deliver now, synchronously (only_trail: just that trail, or NULL). */
int ct_deliver_now(struct ct *ct, const char *only_trail);

/* ---- delivered objects, as the views show them ---- */

/* The trail's log location: its bucket, and the key prefix
 * "[PREFIX/]AWSLogs/ACCOUNT/CloudTrail/" (appended to prefix). */
int ct_log_location(struct ct *ct, const char *trail, char bucket[CT_BUCKET_NAME_MAX + 1],
		    struct buf *prefix, struct ct_err *err);
/* One listing level of a bucket (S3 ListObjects with delimiter '/'). */
int ct_list_objects(struct ct *ct, const char *bucket, const char *prefix,
		    struct store_listing *out);
/* GetObject / HeadObject. */
int ct_get_object(struct ct *ct, const char *bucket, const char *key, struct buf *out,
		  struct store_object_info *info);
int ct_head_object(struct ct *ct, const char *bucket, const char *key,
		   struct store_object_info *info);

/* ---- digests and signing keys ----
 * Digests are ordinary objects in the trail's bucket, under
 * "[PREFIX/]AWSLogs/ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/", written
 * as backend/chains.h describes; ct_list_objects and ct_get_object /
 * ct_head_object (metadata "signature" and "signature-algorithm") read
 * them.  The signing keys are in STATE/signing-keys (backend/sign.h). */

/* The trail's digest location: its bucket, and the key prefix
 * "[PREFIX/]AWSLogs/ACCOUNT/CloudTrail-Digest/" appended to prefix.
 * TrailNotFoundException for an unknown trail. */
int ct_digest_location(struct ct *ct, const char *trail, char bucket[CT_BUCKET_NAME_MAX + 1],
		       struct buf *prefix, struct ct_err *err);

/* Every public key of region, oldest first, as ListPublicKeys gives them
 * (none for a region that never signed).  *keys is the caller's:
 * sign_public_keys_free.  Touches no disk once the region is loaded, makes
 * no key.  InvalidParameterValueException for a region not configured. */
int ct_list_public_keys(struct ct *ct, const char *region, struct sign_public_key **keys,
			size_t *n, struct ct_err *err);

/* What /public-keys shows of region, as a caller reads it (recorded as a
 * ListPublicKeys call; NULL who: not recorded).  ct_public_keys_json: the
 * ListPublicKeys response for every key of the region, as the aws CLI
 * prints it with `--output json` but with epoch-second times:
 *   {"PublicKeyList":[{"Value":BASE64_DER,"ValidityStartTime":N,
 *     "ValidityEndTime":N,"Fingerprint":HEX}, ...]}
 * pretty-printed, newline-terminated; the current key has no
 * ValidityEndTime (it is open).  ct_public_key_pem: one key's PEM
 * ("-----BEGIN RSA PUBLIC KEY-----", PKCS#1).  Appended to out.
 * InvalidParameterValueException for a region not configured; -ENOENT for
 * a fingerprint the region does not have. */
int ct_public_keys_json(struct ct *ct, const struct ct_caller *who, const char *region,
			struct buf *out, struct ct_err *err);
int ct_public_key_pem(struct ct *ct, const struct ct_caller *who, const char *region,
		      const char *fingerprint, struct buf *out, struct ct_err *err);

/* Rotate region's signing key now (a region without keys gets its first).
 * The key is made on the delivery thread when it runs (the caller waits for
 * it, a fraction of a second), else on the caller's.  Digests already
 * written keep verifying: the old public key stays listed with its window.
 * 0, or -errno with err. */
int ct_rotate_signing_key(struct ct *ct, const char *region, struct ct_err *err);

/* What the delivery thread does after each delivery, for tests and for
 * callers without the thread: rotate the keys key_rotation says are due,
 * start and end chains as the trails say, and write the digests that are
 * due now (making keys as needed).  0 or -errno. */
int ct_write_digests(struct ct *ct, struct ct_err *err);

/* ---- the trail views: logs/, raw/ and digests/ ----
 * sub is the path below the view: "" (regions), "REGION", "REGION/YYYY",
 * "REGION/YYYY/MM", "REGION/YYYY/MM/DD" (directories) and
 * "REGION/YYYY/MM/DD/NAME" (a file: NAME is the object's file name, without
 * ".gz" in logs/ and digests/).  They show what lies in the trail's delivery
 * location: logs/ and raw/ the log files under CloudTrail/, digests/ the
 * digest files under CloudTrail-Digest/, each decompressed (its exact
 * bytes, which previousDigestHashValue hashes). */
enum ct_view { CT_VIEW_LOGS, CT_VIEW_RAW, CT_VIEW_DIGESTS };

struct ct_view_entry {
	char *name;
	bool dir;
};
void ct_view_entries_free(struct ct_view_entry *v, size_t n);

/* The entries of a view directory, sorted.  -ENOENT when it does not exist
 * (the view's root always does), -ENOTDIR for a file. */
int ct_view_list(struct ct *ct, const char *trail, enum ct_view view, const char *sub,
		 struct ct_view_entry **out, size_t *n);
/* Whether sub exists, is a directory, and a file's exact size (in logs/ the
 * size of the one-record-per-line text, known without decompressing for
 * files trailfs delivered) and time.  -ENOENT when it does not exist. */
int ct_view_stat(struct ct *ct, const char *trail, enum ct_view view, const char *sub,
		 bool *dir, uint64_t *size, int64_t *mtime);
/* A file's content: in logs/ the records one per line, in raw/ the
 * object's bytes (decrypted, as an S3 GET of an SSE-KMS object returns
 * them).  An encrypted log file is decrypted for who when its key's policy
 * allows who kms:Decrypt (ct_kms_open_object): -EACCES otherwise, -EIO for
 * a tampered object or a destroyed key, with err (may be NULL) saying why
 * for /errors.  -ENOENT, -EISDIR, -EIO for a damaged object.  With a
 * caller, recorded as an S3 GetObject data event on the trail's bucket
 * (bytesTransferredOut: the bytes shown before the view's decompression),
 * and an encrypted file's Decrypt as a KMS event. */
int ct_view_read(struct ct *ct, const struct ct_caller *who, const char *trail,
		 enum ct_view view, const char *sub, struct buf *out, struct ct_err *err);
/* user.trailfs.integrity of a file under logs/ or raw/: whether a valid
 * digest of the trail's digest location lists it with its hash
 * (integrity.h).  why (why_size bytes) says what was found.  -ENOENT,
 * -EISDIR, -EINVAL for a file of digests/. */
int ct_view_integrity(struct ct *ct, const char *trail, enum ct_view view, const char *sub,
		      enum integrity *out, char *why, size_t why_size);

/* The object behind a view file: its HeadObject (user metadata included),
 * for the extended attributes.  info is the caller's to release.
 * -ENOENT, -EISDIR. */
int ct_view_head(struct ct *ct, const char *trail, enum ct_view view, const char *sub,
		 struct store_object_info *info);

/* ---- /errors ---- */

/* Remember a rejected operation: "TIME uid=UID OP PATH NAME: MESSAGE", and
 * when err names the call that failed (ct_err_call), record that call's
 * management event with errorCode and errorMessage. */
void ct_record_error(struct ct *ct, const struct ct_caller *who, const char *op,
		     const char *path, const struct ct_err *err);
/* The kept lines, oldest first, each ending in a newline. */
int ct_render_errors(struct ct *ct, struct buf *out);

#endif
