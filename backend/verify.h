/* Log file integrity validation: the algorithm of `aws cloudtrail
 * validate-logs` (aws-cli 1.45, customizations/cloudtrail/validation.py)
 * as a library, with no FUSE and no network, over any source of objects.
 *
 * The pieces:
 *   - a source (struct verify_source): lists keys in byte order after a
 *     marker and gets an object's bytes with its user metadata; the local
 *     store gives one (verify_source_store), the trailfs mount another
 *     (cli/validate_mount.c);
 *   - a set of public keys (struct verify_keys): fingerprint, PKCS#1 DER
 *     and validity window, loaded from PEM, a saved ListPublicKeys
 *     response, or a trailfs key ring;
 *   - per object checks, which the daemon also uses for the integrity
 *     xattr: verify_digest_object (one digest: verdict and its log file
 *     entries) and verify_log_bytes / verify_log_object (one log file
 *     against its expected hash);
 *   - the walk (verify_run_region) with the CLI's exact output, written to
 *     a struct verify_report's two streams.
 *
 * Verdict texts are the CLI's, byte for byte.  Functions return 0 or a
 * negative errno unless they say otherwise; "fatal" below means what makes
 * the CLI stop with an uncaught exception (exit 255). */
#ifndef TRAILFS_VERIFY_H
#define TRAILFS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

struct store;

/* Largest digest and log objects read (S3's largest single object is 5 GiB). */
#define VERIFY_OBJECT_MAX   ((size_t)5 << 30)
/* Largest inflated digest accepted (the CLI has no cap; trailfs's are at
 * most DIGEST_BODY_MAX, AWS's a few MB). */
#define VERIFY_DIGEST_INFLATED_MAX ((size_t)1 << 30)
#define VERIFY_KEY_OPEN     INT64_MAX   /* a validity window without an end */
#define VERIFY_MESSAGE_MAX  (16u * 1024)
/* Log files whose verdicts may wait to be printed: bounds memory on long runs. */
#define VERIFY_WINDOW       8192
#define VERIFY_THREADS_MAX  256

/* ---- times ---- */

/* An instant as dateutil gives it: the UTC instant in microseconds, the
 * offset the text was written in, and whether the text named a zone. */
struct verify_time {
	int64_t us;        /* microseconds since 1970-01-01T00:00:00Z */
	int32_t offset;    /* seconds east of UTC (display uses the wall time) */
	bool has_tz;
};

/* Parse an ISO 8601 time as the CLI's parse_date (dateutil) reads the
 * forms people and AWS write: YYYY-MM-DD, then optionally 'T' or ' ' and
 * HH[:MM[:SS[.frac]]], then optionally 'Z', "UTC" or +-HH[[:]MM]; also
 * the basic form YYYYMMDD[THHMM[SS]][Z].  0 or -EINVAL. */
int verify_time_parse(const char *s, struct verify_time *out);
/* normalize_date: keep the wall time, call it UTC (the CLI does not convert
 * an offset, it replaces it). */
void verify_time_normalize(struct verify_time *t);
/* "%Y-%m-%dT%H:%M:%SZ" of the wall time, into out (>= 21 bytes). */
void verify_time_display(const struct verify_time *t, char *out, size_t size);

/* ---- public keys ---- */

struct verify_key {
	char *fingerprint;         /* as ListPublicKeys gave it, or computed (MD5 of der) */
	unsigned char *der;        /* the bytes Value decodes to; NULL when it does not decode */
	size_t der_len;
	char *value_error;         /* der NULL: the CLI's base64 error text */
	int64_t start, end;        /* validity, epoch seconds; end VERIFY_KEY_OPEN: none */
};

struct verify_keys {
	struct verify_key *v;
	size_t n, cap;
};

void verify_keys_init(struct verify_keys *ks);
void verify_keys_release(struct verify_keys *ks);
/* Add a copy of a key.  fingerprint NULL: computed from der (MD5 hex of the
 * bytes; der must then be PKCS#1, else -EINVAL).  end 0 means open. */
int verify_keys_add(struct verify_keys *ks, const char *fingerprint, const unsigned char *der,
		    size_t der_len, int64_t start, int64_t end);
/* Every PEM block in text: "RSA PUBLIC KEY" (PKCS#1, as AWS and trailfs
 * publish) and "PUBLIC KEY" (SubjectPublicKeyInfo, whose PKCS#1 key is
 * taken out), always valid.  -EINVAL when text holds no such block or a
 * block does not decode. */
int verify_keys_parse_pem(struct verify_keys *ks, const char *text, size_t len);
/* A ListPublicKeys response, as the API sends it or as `aws cloudtrail
 * list-public-keys` prints it: {"PublicKeyList":[{"Value": base64,
 * "ValidityStartTime": epoch number or ISO string, "ValidityEndTime": ...,
 * "Fingerprint": hex}]}.  A missing or 0 ValidityEndTime is open.
 * -EINVAL for another shape. */
int verify_keys_parse_list(struct verify_keys *ks, const char *text, size_t len);
/* A file (a ListPublicKeys JSON when it starts with '{', else PEM) or a
 * directory (its *.pem and *.json files).  With region not NULL, files in
 * a directory named after another region (OTHER.json, OTHER.pem: what
 * `aws cloudtrail list-public-keys --region OTHER` saved) are skipped, since
 * ListPublicKeys gives a region's own keys only.  -ENOENT, -EINVAL, -errno. */
int verify_keys_load_path(struct verify_keys *ks, const char *path, const char *region);
/* A trailfs key ring (sign.h's layout): DIR/REGION/index.json and the
 * FINGERPRINT.pub files it names.  A region without a ring adds nothing. */
int verify_keys_load_ring(struct verify_keys *ks, const char *dir, const char *region);
/* The keys of all whose window meets [start_us, end_us] (what ListPublicKeys
 * returns for that range), appended to out. */
int verify_keys_select(const struct verify_keys *all, int64_t start_us, int64_t end_us,
		       struct verify_keys *out);

/* ---- sources ---- */

enum verify_kind {
	VERIFY_OBJECT_DIGEST,
	VERIFY_OBJECT_LOG,
};

/* An object as a source hands it over. */
struct verify_object {
	struct buf body;             /* the bytes (init with VERIFY_OBJECT_MAX) */
	bool inflated;               /* body is already the uncompressed content */
	bool unreadable;             /* it exists but its content is not gzip (a mount's EIO) */
	char *signature;             /* metadata "signature", NULL when absent */
	char *signature_algorithm;   /* "signature-algorithm" */
	char *backfill_timestamp;    /* "backfill-generation-timestamp" */
};
void verify_object_init(struct verify_object *o);
/* Empty it for reuse (keeps the buffer's storage). */
void verify_object_reset(struct verify_object *o);
void verify_object_release(struct verify_object *o);

/* fn's return: 0 to go on, 1 to stop the listing (not an error), <0 to fail. */
typedef int (*verify_key_fn)(void *arg, const char *key);

struct verify_source_ops {
	/* Call fn with every key of bucket that starts with prefix and sorts
	 * after marker (byte order, as S3 ListObjects with Marker), in that
	 * order.  -ENXIO when the bucket does not exist; fn's error. */
	int (*list)(void *ctx, const char *bucket, const char *prefix, const char *marker,
		    verify_key_fn fn, void *arg);
	/* Fill out (already reset) with the object.  -ENOENT no such key,
	 * -ENXIO no such bucket, -errno.  Must be callable from several
	 * threads at once. */
	int (*get)(void *ctx, const char *bucket, const char *key, enum verify_kind kind,
		   struct verify_object *out);
	void (*free)(void *ctx);
};

struct verify_source {
	const struct verify_source_ops *ops;
	void *ctx;
};

/* A source over an object store (borrowed; it must outlive the source).
 * A digest object without "signature" metadata (a copy of a bucket made
 * without its metadata) takes its metadata from the object KEY".head.json"
 * when there is one: `aws s3api head-object` output, whose "Metadata"
 * member holds them.  0 or -ENOMEM. */
int verify_source_store(struct store *st, struct verify_source *out);
void verify_source_free(struct verify_source *src);

/* ---- one log file ---- */

enum verify_log_verdict {
	VERIFY_LOG_VALID,            /* "valid" */
	VERIFY_LOG_HASH_MISMATCH,    /* "INVALID: hash value doesn't match" */
	VERIFY_LOG_NOT_FOUND,        /* "INVALID: not found" */
	VERIFY_LOG_INVALID_FORMAT,   /* "INVALID: invalid format" */
	VERIFY_LOG_TRAILING_DATA,    /* "INVALID: unexpected data after end of compressed stream" */
};
/* The text after "Log file\ts3://B/K\t". */
const char *verify_log_message(enum verify_log_verdict v);

/* With this flag, bytes after the first gzip member make a log file
 * VERIFY_LOG_TRAILING_DATA, as the newest CLI (May 2026) reports it.
 * Without it, as CLI 1.45: only the first member is hashed. */
#define VERIFY_STRICT_GZIP 1u

struct verify_log_result {
	enum verify_log_verdict verdict;
	bool trailing;               /* bytes follow the first gzip member */
	char hash[65];               /* the SHA-256 computed ("" when none was) */
};

/* Check log bytes (as stored, gzip) against expected, the digest's
 * hashValue (NULL: the entry had none, which the CLI calls invalid
 * format).  The CLI's reading: zlib over the first member, no error on a
 * truncated one, SHA-256 of what inflated, compared as strings.
 * 0 or -ENOMEM. */
int verify_log_bytes(const void *data, size_t len, const char *expected, unsigned flags,
		     struct verify_log_result *out);
/* The same for an object fetched from src; obj is scratch (reset here).
 * -ENXIO (no such bucket: fatal for the CLI) or another -errno from the
 * source; a missing key is VERIFY_LOG_NOT_FOUND. */
int verify_log_object(const struct verify_source *src, const char *bucket, const char *key,
		      const char *expected, unsigned flags, struct verify_object *obj,
		      struct verify_log_result *out);

/* ---- one digest ---- */

enum verify_digest_verdict {
	VERIFY_DIGEST_VALID,
	VERIFY_DIGEST_NOT_FOUND,        /* "INVALID: not found" */
	VERIFY_DIGEST_INVALID_FORMAT,   /* "INVALID: invalid format" */
	VERIFY_DIGEST_BAD_SIGNATURE,    /* "INVALID: signature verification failed" */
	VERIFY_DIGEST_MOVED,            /* "INVALID: has been moved from its original location" */
	VERIFY_DIGEST_NO_KEY,           /* "INVALID: public key not found in region R for fingerprint F" */
	VERIFY_DIGEST_BAD_KEY,          /* "INVALID: Unable to load PKCS #1 key with fingerprint F" */
	VERIFY_DIGEST_OTHER,            /* "INVALID: " and the text of another exception */
};

/* A logFiles entry, as the CLI reads it. */
struct verify_log_ref {
	char *bucket;          /* s3Bucket as Python's str() shows it */
	char *key;             /* s3Object */
	bool fetchable;        /* both are strings (else: invalid format) */
	char *hash;            /* hashValue when it is a string */
	bool has_hash;         /* hashValue is there (any type; not a string: mismatch) */
};

struct verify_digest {
	enum verify_digest_verdict verdict;
	char *message;          /* "valid" or "INVALID: ...": the text after the key */
	bool backfill;          /* the key ends in _backfill.json.gz */
	/* Set when valid: */
	struct verify_time start, end;        /* as parsed, not normalized */
	char *previous_bucket;  /* previousDigestS3Bucket; NULL: null or absent */
	char *previous_key;     /* previousDigestS3Object */
	struct verify_log_ref *logs;
	size_t n_logs;
	char *fatal;            /* valid, but the CLI would crash on its logFiles: why */
};
void verify_digest_release(struct verify_digest *d);

/* Fetch and check the digest bucket/key with keys (each key's window is
 * not consulted: the CLI checks only that the fingerprint is in the set
 * it was given); home_region names the region in "public key not found".
 * *out is filled in every case but a fatal one.  0, or -ENXIO (no such
 * bucket), -ENOMEM, another -errno from the source (fatal). */
int verify_digest_object(const struct verify_source *src, const char *bucket, const char *key,
			 const struct verify_keys *keys, const char *home_region,
			 struct verify_digest *out);

/* ---- the walk and its report ---- */

/* Where a trail's digests of one region are, and what to check. */
struct verify_trail {
	const char *arn;            /* as the user gave it */
	const char *account;        /* ARN field 5, or --account-id */
	const char *name;           /* after the ARN's last '/' */
	const char *home_region;    /* ARN field 4 */
	const char *bucket;         /* the starting bucket */
	const char *prefix;         /* S3KeyPrefix; NULL or "" for none */
	const char *organization;   /* o-... for an organization trail, else NULL */
};

struct verify_report {
	FILE *out, *err;            /* the CLI's stdout and stderr */
	bool verbose;
	unsigned threads;           /* workers hashing log files (>= 1) */
	unsigned flags;             /* VERIFY_STRICT_GZIP */
	bool progress;              /* draw a progress line on err (a terminal) */
	bool double_space;          /* the CLI's _is_last_status_double_space */
	uint64_t valid_digests, invalid_digests;
	uint64_t valid_backfill, invalid_backfill;
	uint64_t valid_logs, invalid_logs;
	bool found;
	struct verify_time found_start, found_end;
	char *fatal;                /* set: the run stopped as the CLI would, exit 255 */
	/* progress */
	uint64_t progress_digests, progress_logs_done, progress_logs_queued;
	int64_t progress_last_ms;
	bool progress_shown;
};

void verify_report_init(struct verify_report *r, FILE *out, FILE *err, bool verbose);
void verify_report_release(struct verify_report *r);
/* "Validating log files for trail ARN between S and E" and a blank line. */
void verify_report_header(struct verify_report *r, const char *arn, const struct verify_time *start,
			  const struct verify_time *end);
/* The summary ("Results requested ..." to the ratios). */
void verify_report_summary(struct verify_report *r, const struct verify_time *start,
			   const struct verify_time *end);
/* Print a fatal error as the CLI does ("\n" MESSAGE "\n" on err) and keep
 * it in r->fatal. */
void verify_report_fatal(struct verify_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* 255 after a fatal error, 1 when anything was INVALID, else 0. */
int verify_report_exit_code(const struct verify_report *r);

/* Validate region's digests (the CLI run with --region region) between
 * start and end (both normalized), standard digests first, then backfill
 * ones, adding lines and counts to r.  all_keys: every public key of the
 * region with its window (ListPublicKeys is emulated over it).  Returns 0,
 * or 1 after a fatal error (printed, r->fatal set): the CLI's own, or one
 * of ours (memory, a source that fails), which stops the run the same way. */
int verify_run_region(struct verify_report *r, const struct verify_source *src,
		      const struct verify_trail *trail, const char *region,
		      const struct verify_keys *all_keys, const struct verify_time *start,
		      const struct verify_time *end);

/* Regions that have digests of trail under its bucket and prefix (the
 * subfolders of [PREFIX/]AWSLogs/ACCOUNT/CloudTrail-Digest/), sorted; the
 * caller frees with verify_names_free.  -ENXIO when the bucket is missing. */
int verify_list_regions(const struct verify_source *src, const struct verify_trail *trail,
			char ***names, size_t *n);
void verify_names_free(char **names, size_t n);

/* Parse an ARN the way the CLI does (arn:.+:cloudtrail:.+:\d{12}:trail/.+):
 * 0 and the parts (malloc'd) or -EINVAL. */
int verify_parse_arn(const char *arn, char **region, char **account, char **name);

#endif
