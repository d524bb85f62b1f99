/* Digest files: where a digest goes, what it says, and what its signature
 * covers (the reference, sections 1.2, 3.2 and 3.3).
 *
 * One digest per trail, region and hour lists the log files delivered in
 * its window, links to the digest before it (or, at a chain start, has the
 * five previousDigest* members null), and is signed with the region's key.
 * This module only builds text: the key and name, the JSON body and the
 * string to sign.  Hashing and signing are sign.h's, storing is the
 * caller's.  The order of work matters, because every hash covers exact
 * bytes: build the body, hash and sign those bytes, gzip those same bytes,
 * and never serialise the document again.
 *
 * Times are epoch seconds in, "YYYY-MM-DDTHH:MM:SSZ" (UTC) out; valid times
 * run from 1970 to the end of 9999, since the key holds a four-digit year.
 * Functions append to a struct buf and return 0 or a negative errno: -EINVAL
 * for an input the format cannot hold (each is listed), -E2BIG past the
 * buffer's cap, -ENOMEM.  On failure out may hold a partial text: the
 * caller discards it. */
#ifndef TRAILFS_DIGEST_H
#define TRAILFS_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DIGEST_KEY_MAX      1024          /* an S3 object key is at most 1,024 bytes */
#define DIGEST_TIME_MAX     253402300799LL   /* 9999-12-31T23:59:59Z */
#define DIGEST_TIME_LEN     20            /* "YYYY-MM-DDTHH:MM:SSZ" */
/* A digest lists at most one hour of a trail's files in one region: with
 * deliveries every second, 3,600 of them, some hundreds of bytes each.  The
 * cap leaves a wide margin and still refuses a runaway list. */
#define DIGEST_BODY_MAX     (64u * 1024 * 1024)
#define DIGEST_LOG_FILES_MAX 100000
#define DIGEST_SIGNATURE_HEX_MAX 2048     /* an 8192-bit key's signature */
#define DIGEST_SIGNATURE_ALGORITHM "SHA256withRSA"
#define DIGEST_HASH_ALGORITHM      "SHA-256"

/* Where a trail's digests for one region go. */
struct digest_location {
	const char *prefix;       /* the trail's S3KeyPrefix; NULL or "" = none */
	const char *account;      /* 12 digits */
	const char *region;       /* the region whose log files the digest lists */
	const char *trail;        /* the trail's name */
	const char *home_region;  /* the trail's home region */
};

/* The digest's file name, appended to out:
 *   ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ.json.gz
 * from end (digestEndTime) to the second.  -EINVAL for a malformed account,
 * region, home region or trail name, or end outside the valid times. */
int digest_name(const struct digest_location *loc, int64_t end, struct buf *out);

/* The digest's object key (everything after the bucket), appended to out:
 *   [PREFIX/]AWSLogs/ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/NAME
 * with the date folders from end, UTC, and NAME as digest_name gives it.
 * -EINVAL as digest_name, or for a prefix validate_s3_prefix refuses. */
int digest_key(const struct digest_location *loc, int64_t end, struct buf *out);

/* A log file the digest lists.  All borrowed. */
struct digest_log_file {
	const char *bucket;
	const char *key;
	const char *hash;         /* lowercase hex SHA-256 of the uncompressed file */
	int64_t oldest;           /* the oldest and newest eventTime in the file */
	int64_t newest;
};

/* The digest before this one in the chain.  All borrowed. */
struct digest_previous {
	const char *bucket;
	const char *key;
	const char *hash;         /* lowercase hex SHA-256 of its uncompressed bytes */
	const char *signature;    /* its signature, lowercase hex */
};

/* One digest file's content.  All borrowed. */
struct digest {
	const char *account;      /* awsAccountId */
	int64_t start;            /* digestStartTime */
	int64_t end;              /* digestEndTime */
	const char *bucket;       /* digestS3Bucket: where this digest is written */
	const char *key;          /* digestS3Object: its key, from digest_key */
	const char *fingerprint;  /* digestPublicKeyFingerprint: 32 lowercase hex */
	const struct digest_previous *previous;   /* NULL: a chain start */
	const struct digest_log_file *logs;       /* may be NULL when n_logs is 0 */
	size_t n_logs;
};

/* The digest's JSON, compact, appended to out: the members in the order the
 * reference shows them (awsAccountId, digestStartTime, digestEndTime,
 * digestS3Bucket, digestS3Object, digestPublicKeyFingerprint,
 * digestSignatureAlgorithm, newestEventTime, oldestEventTime,
 * previousDigestS3Bucket, previousDigestS3Object, previousDigestHashValue,
 * previousDigestHashAlgorithm, previousDigestSignature, logFiles), every
 * member always present.  newestEventTime and oldestEventTime are the
 * newest and oldest over the listed files, null when there are none;
 * logFiles is [] then.  At a chain start the five previousDigest* members
 * are null.  Each logFiles element holds s3Bucket, s3Object, hashValue,
 * hashAlgorithm, newestEventTime, oldestEventTime.  -EINVAL for an account
 * that is not 12 digits, an empty bucket or key, a hash or fingerprint
 * that is not lowercase hex of its length, a signature that is not
 * lowercase hex of even length (at most DIGEST_SIGNATURE_HEX_MAX), start
 * after end, a
 * file whose oldest event is newer than its newest, a time outside the
 * valid times, or more than DIGEST_LOG_FILES_MAX files. */
int digest_body(const struct digest *d, struct buf *out);

/* The string d's signature covers (sign_data_to_sign's, 3.3): d's end time
 * as digest_body writes it, d's bucket and key, the SHA-256 of body[0..len)
 * (the body exactly as it will be stored, uncompressed) and the previous
 * digest's signature or "null" at a chain start.  Appended to out. */
int digest_data_to_sign(const struct digest *d, const char *body, size_t len, struct buf *out);

#endif
