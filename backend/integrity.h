/* A delivered log file's integrity, as the digests in its bucket attest it:
 * what the views show as the extended attribute user.trailfs.integrity.
 *
 * A log file's digest is one of the digests of its region (under the
 * trail's digest location) whose window ends at or after the file's
 * delivery minute (its name's YYYYMMDDTHHMMZ): the first few of them, in
 * order of their end, are read, each checked as validate-logs checks it
 * (verify.h), until one lists the file.  Then the file is checked against
 * that entry's hashValue as validate-logs checks it. */
#ifndef TRAILFS_INTEGRITY_H
#define TRAILFS_INTEGRITY_H

#include "verify.h"

/* How many digests, from the file's delivery minute on, are read before a
 * file no digest lists is called unlisted.  A file is in the digest whose
 * window holds its delivery second: the first or second of these, unless
 * the windows are shorter than a minute. */
#define INTEGRITY_DIGESTS_MAX 8

enum integrity {
	INTEGRITY_VALID,      /* a valid digest lists it, and its hash matches */
	INTEGRITY_INVALID,    /* its digest lists another hash, or the file does not
			       * inflate; or a digest that may cover it is invalid */
	INTEGRITY_UNLISTED,   /* no digest lists it (yet) */
	INTEGRITY_UNKNOWN,    /* it could not be checked: a name not of a log file,
			       * a store error */
};

/* The attribute's value: "valid", "invalid", "unlisted" or "unknown". */
const char *integrity_name(enum integrity v);

/* Where to look. All borrowed. */
struct integrity_place {
	const char *bucket;           /* the log file's bucket (and its digests') */
	const char *key;              /* the log file's key */
	const char *digest_prefix;    /* "[PREFIX/]AWSLogs/ACCOUNT/CloudTrail-Digest/" */
	const char *home_region;      /* for verify's messages */
};

/* The integrity of place's log file, read from src with keys (the region's
 * public keys; the window of each is not consulted, as validate-logs does
 * not consult it for a single digest).  Never fails: a check that cannot be
 * made is INTEGRITY_UNKNOWN, with why (a buffer of why_size bytes; may be
 * NULL) saying so. */
enum integrity integrity_check(const struct verify_source *src, const struct verify_keys *keys,
			       const struct integrity_place *place, char *why, size_t why_size);

#endif
