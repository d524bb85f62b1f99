/* Digest signing: the one module that uses OpenSSL.
 *
 * A key ring of RSA-2048 signing keys, one ring per region (CloudTrail signs
 * each region's digests with that region's key, and validate-logs fetches
 * the public keys from the digest's region), kept in a directory:
 *
 *   DIR/REGION/index.json      {"format":1,"keys":[{"Fingerprint":..,
 *                               "ValidityStartTime":..,"ValidityEndTime":..}]}
 *   DIR/REGION/FINGERPRINT.pub the public key, PKCS#1 RSAPublicKey DER
 *   DIR/REGION/FINGERPRINT.key the private key, PKCS#1 RSAPrivateKey DER, 0600
 *
 * The index is the truth: keys in the order they were made, each with its
 * validity window in epoch seconds, ValidityEndTime 0 for the one current key
 * (always the last).  A region's first key is made on first use; rotation
 * closes the current key's window and makes a new one.  Retired keys keep
 * their public half (digests they signed must stay verifiable, and
 * ListPublicKeys returns them) but lose the private half, which nothing
 * needs any more.  Private keys are only in memory while a caller holds a
 * struct sign_key, are wiped when it is freed, and never appear in a message.
 *
 * The fingerprint is the lowercase hex MD5 of the public key's PKCS#1 DER:
 * that is how AWS's published fingerprints are made (the reference, 3.4),
 * and the DER is ListPublicKeys's Value.
 *
 * Functions return 0 or a negative errno; those with a struct ct_err fill it
 * (when not NULL) with what went wrong, paths named.  A struct sign is
 * thread-safe. */
#ifndef TRAILFS_SIGN_H
#define TRAILFS_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define SIGN_FORMAT            1        /* version of index.json */
#define SIGN_KEY_BITS          2048     /* CloudTrail's signing keys are RSA-2048 */
#define SIGN_FINGERPRINT_LEN   32       /* hex MD5 */
#define SIGN_SHA256_HEX_LEN    64
#define SIGN_SIGNATURE_HEX_LEN 512      /* hex of SIGN_KEY_BITS / 8 bytes */
#define SIGN_ALGORITHM         "SHA256withRSA"   /* digestSignatureAlgorithm, signature-algorithm */
#define SIGN_HASH_ALGORITHM    "SHA-256"         /* hashAlgorithm */
#define SIGN_KEYS_MAX          4096     /* keys one region's ring may hold */
#define SIGN_DATA_MAX          (8u * 1024)       /* largest string-to-sign sign_data_to_sign builds */
/* Validity times run from 0 to the last second of 9999 (epoch seconds):
 * digest names have room for four-digit years only. */
#define SIGN_TIME_MAX          253402300799LL

struct sign;
struct sign_key;

/* A public key as ListPublicKeys gives it. */
struct sign_public_key {
	char fingerprint[SIGN_FINGERPRINT_LEN + 1];
	int64_t start;            /* ValidityStartTime, epoch seconds */
	int64_t end;              /* ValidityEndTime; 0 = the current key */
	unsigned char *der;       /* PKCS#1 RSAPublicKey DER: ListPublicKeys's Value */
	size_t der_len;
	char *pem;                /* the same bytes as PEM, "-----BEGIN RSA PUBLIC KEY-----" */
};

/* Open the key ring in dir (created, mode 0700, with its parents, if
 * missing).  Nothing is read until a region is used.  NULL on failure, with
 * err saying why. */
struct sign *sign_open(const char *dir, struct ct_err *err);
/* Close the ring.  Keys handed out stay valid (each is the caller's own). */
void sign_close(struct sign *s);

/* The key to sign region's digests with at time now: the current key,
 * made (with ValidityStartTime now) and stored durably if the region has
 * none.  *out is the caller's; free it with sign_key_free.  -EINVAL for a
 * malformed region name, now outside [0, SIGN_TIME_MAX], or (when a key is
 * made) now before the latest key's start; a damaged ring
 * fails with InvalidStateFile.  Making a key takes an RSA key generation
 * (tens of milliseconds) and three durable writes, under the ring's lock:
 * call it from the delivery thread, not from a FUSE callback. */
int sign_current(struct sign *s, const char *region, int64_t now, struct sign_key **out,
		 struct ct_err *err);

/* Whether region has a current key, so that sign_current will not have to
 * make one (the digest writer defers a digest to the delivery thread when
 * it would).  Reads the region's index on its first use.  0 or -errno. */
int sign_has_current(struct sign *s, const char *region, bool *has, struct ct_err *err);

/* Rotate region's key at time now: the current key's window ends at now, a
 * new key starts at now and becomes current, and the old key's private half
 * is deleted.  A region without keys just gets its first.  Durable when it
 * returns 0; on failure nothing has changed.  -EINVAL when now is before the
 * latest key's start (a window would end before it began) or outside
 * [1, SIGN_TIME_MAX] (a window closed at 0 would read back as current). */
int sign_rotate(struct sign *s, const char *region, int64_t now, struct ct_err *err);

/* Every public key of region, oldest first (none for a region never used:
 * listing makes no key).  *keys is the caller's: sign_public_keys_free.
 * The public halves are read when a region is first used and kept in
 * memory, so after that listing touches no disk. */
int sign_list(struct sign *s, const char *region, struct sign_public_key **keys, size_t *n,
	      struct ct_err *err);
void sign_public_keys_free(struct sign_public_key *keys, size_t n);

/* A key handed out by sign_current. */
const char *sign_key_fingerprint(const struct sign_key *k);
int64_t sign_key_start(const struct sign_key *k);
/* Wipe and free (NULL is fine). */
void sign_key_free(struct sign_key *k);

/* SHA256withRSA (RSA PKCS#1 v1.5 over SHA-256) of data[0..len) as lowercase
 * hex, what x-amz-meta-signature holds.  0 or -errno. */
int sign_sign(const struct sign_key *k, const void *data, size_t len,
	      char out[SIGN_SIGNATURE_HEX_LEN + 1]);

/* Check a SHA256withRSA signature (hex, either case) of data[0..len) with
 * the public key der[0..der_len), which must be exactly one PKCS#1
 * RSAPublicKey, as validate-logs requires.  0 when the signature is good;
 * -EINVAL when the key does not load (validate-logs: "Unable to load PKCS #1
 * key"); -EBADMSG when the signature is wrong or not hex ("signature
 * verification failed"); -ENOMEM. */
int sign_verify(const unsigned char *der, size_t der_len, const void *data, size_t len,
		const char *signature_hex);

/* The data a digest's signature covers (the reference, 3.3), appended to out:
 *   END_TIME "\n" BUCKET "/" KEY "\n" BODY_SHA256_HEX "\n" PREVIOUS_SIGNATURE
 * end_time as it stands in the digest's digestEndTime, key the digest's own
 * object key, body_sha256_hex the SHA-256 of the uncompressed digest bytes,
 * previous_signature the previous digest's signature hex, or NULL at a chain
 * start, which writes the four letters "null".  No trailing newline.
 * -E2BIG past out's cap or SIGN_DATA_MAX, -EINVAL for a NULL part. */
int sign_data_to_sign(const char *end_time, const char *bucket, const char *key,
		      const char *body_sha256_hex, const char *previous_signature, struct buf *out);

/* Lowercase hex SHA-256 of data[0..len): hashValue, previousDigestHashValue
 * and the hash in the string to sign.  0 or -ENOMEM. */
int sign_sha256_hex(const void *data, size_t len, char out[SIGN_SHA256_HEX_LEN + 1]);

/* The fingerprint of a PKCS#1 public key DER (lowercase hex MD5).  0, or
 * -EINVAL when der is not one PKCS#1 RSAPublicKey. */
int sign_fingerprint(const unsigned char *der, size_t der_len,
		     char out[SIGN_FINGERPRINT_LEN + 1]);

/* SHA-256 in parts, for data that arrives in pieces (an inflating log
 * file): new, update as often as needed, final (which also readies the
 * state for the next message), free.  One thread at a time per state.
 * new: NULL when memory is exhausted; update and final: 0 or -ENOMEM. */
struct sign_sha256;
struct sign_sha256 *sign_sha256_new(void);
int sign_sha256_update(struct sign_sha256 *h, const void *data, size_t len);
int sign_sha256_final_hex(struct sign_sha256 *h, char out[SIGN_SHA256_HEX_LEN + 1]);
void sign_sha256_free(struct sign_sha256 *h);

#endif
