/* Log files in the S3 encryption client's "V2" envelope format (reference
 * §9.2): AES-256-GCM content with a fresh data key and 12-byte IV per
 * object, the 16-byte tag appended, and the envelope in the object's user
 * metadata, the data key wrapped by the key ring (kms+context).
 *
 * Metadata names, as store.h keeps user metadata: WITHOUT the x-amz-meta-
 * prefix that S3 adds on the wire (a store_meta_entry named
 * "x-amz-key-v2" is the HTTP header x-amz-meta-x-amz-key-v2, exactly what
 * the S3 encryption clients write and read):
 *   x-amz-key-v2                      base64 of the wrapped data key (crypto.h's
 *                                     97-byte format: trailfs's CiphertextBlob)
 *   x-amz-iv                          base64 of the 12-byte IV
 *   x-amz-cek-alg                     AES/GCM/NoPadding
 *   x-amz-wrap-alg                    kms+context
 *   x-amz-matdesc                     the encryption context as compact JSON with
 *                                     sorted keys, ASCII only (\uXXXX escapes),
 *                                     holding the caller's pairs (aws:cloudtrail:arn)
 *                                     and "aws:x-amz-cek-alg":"AES/GCM/NoPadding"
 *   x-amz-tag-len                     128
 *   x-amz-unencrypted-content-length  the plaintext's length in decimal
 * The matdesc map is the encryption context the data key is wrapped with,
 * and the one Decrypt must present, as the v2 clients do.
 *
 * An S3 encryption client with a KMS keyring cannot decrypt these objects:
 * the wrapped key is a trailfs key ring blob, not a KMS CiphertextBlob.  Any
 * reader given the data key (or this key ring) can: the content format is
 * the published one. */
#ifndef TRAILFS_ENVELOPE_H
#define TRAILFS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "keyring.h"
#include "store.h"

#define ENVELOPE_KEY_V2        "x-amz-key-v2"
#define ENVELOPE_IV            "x-amz-iv"
#define ENVELOPE_CEK_ALG       "x-amz-cek-alg"
#define ENVELOPE_WRAP_ALG      "x-amz-wrap-alg"
#define ENVELOPE_MATDESC       "x-amz-matdesc"
#define ENVELOPE_TAG_LEN       "x-amz-tag-len"
#define ENVELOPE_PLAIN_LEN     "x-amz-unencrypted-content-length"
#define ENVELOPE_CEK_GCM       "AES/GCM/NoPadding"
#define ENVELOPE_WRAP_KMS_CTX  "kms+context"
#define ENVELOPE_TAG_BITS      "128"
#define ENVELOPE_CTX_CEK_ALG   "aws:x-amz-cek-alg"   /* reserved matdesc key */
#define ENVELOPE_META_N        7                     /* entries envelope_seal adds */
#define ENVELOPE_MATDESC_MAX   1536                  /* fits S3's 2 KB of user metadata */
#define ENVELOPE_PLAIN_MAX     CRYPTO_GCM_MAX        /* largest object sealed or opened */

/* A parsed, checked envelope: what envelope_parse finds in an object's
 * metadata.  Owns its strings; release with envelope_header_release. */
struct envelope_header {
	uint8_t wrapped[CRYPTO_WRAPPED_LEN];
	size_t wrapped_len;
	char key_id[CRYPTO_KEY_ID_LEN + 1];         /* the ring key the blob names */
	uint8_t iv[CRYPTO_IV_LEN];
	struct crypto_context_pair context[CRYPTO_CONTEXT_PAIRS_MAX];   /* the matdesc map */
	size_t n_context;
	char *strings;                               /* storage of context's strings */
	int64_t plain_len;                           /* x-amz-unencrypted-content-length, or -1 */
};
void envelope_header_release(struct envelope_header *h);
/* The value of context key k in h, or NULL. */
const char *envelope_context_get(const struct envelope_header *h, const char *k);

/* Encrypt pt[0..n) for the key key_spec (keyring.h's forms) with the
 * encryption context ctx[0..n_ctx) (aws:cloudtrail:arn => the trail ARN;
 * the reserved aws:x-amz-cek-alg may not be among them: -EINVAL,
 * ValidationException): GenerateDataKey on the ring, AES-256-GCM with a
 * random IV, the ciphertext and tag appended to out (n + 16 bytes), and the
 * ENVELOPE_META_N metadata entries appended to info (after any it holds;
 * -E2BIG when they would pass STORE_META_MAX; the names and values are
 * malloc'd, store_object_info_release frees them).  key_arn (may be NULL)
 * gets the key's ARN, for the GenerateDataKey audit record.  The data key
 * is wiped before returning.  The key ring's errors (DisabledException,
 * KMSInvalidStateException, NotFoundException), -E2BIG (out's cap),
 * -ENOMEM.  On failure out and info are as they were. */
int envelope_seal(struct keyring *kr, const char *key_spec,
		  const struct crypto_context_pair *ctx, size_t n_ctx, const void *pt, size_t n,
		  struct buf *out, struct store_object_info *info, char key_arn[KEYRING_ARN_MAX],
		  struct ct_err *err);

/* Read and check an object's envelope from its metadata (info), as a v2
 * decrypter does: x-amz-key-v2 present and no V1 (x-amz-key) or V3
 * (x-amz-3, x-amz-c, x-amz-d, x-amz-i) key beside it; x-amz-cek-alg
 * AES/GCM/NoPadding; x-amz-wrap-alg kms+context; x-amz-tag-len 128; x-amz-iv
 * base64 of 12 bytes; x-amz-key-v2 base64 of a wrapped key of this ring's
 * format; x-amz-matdesc a JSON object of string values with
 * aws:x-amz-cek-alg equal to x-amz-cek-alg; x-amz-unencrypted-content-length
 * (optional) a decimal number.  0 with *h filled, or -EINVAL with
 * InvalidEnvelope ("the envelope of this object is not valid: ...");
 * -ENODATA (no error filled) when the object has no envelope at all (no
 * x-amz-key-v2, x-amz-key or V3 key): a plain object. */
int envelope_parse(const struct store_object_info *info, struct envelope_header *h,
		   struct ct_err *err);

/* Decrypt an object in place: data[0..len) is the stored object
 * (ciphertext and tag); the data key is unwrapped through the ring with h's
 * context (keyring_decrypt: DisabledException, KMSInvalidStateException,
 * NotFoundException, InvalidCiphertextException), then the content is
 * decrypted and its tag verified.  On 0, data[0..*plain_len) is the
 * plaintext.  On any failure data[0..len) is wiped (no unauthenticated
 * byte is left behind): -EBADMSG with InvalidCiphertextException when the
 * tag fails (tampered ciphertext, tag or IV), -EINVAL when len is under 16
 * or disagrees with x-amz-unencrypted-content-length.  key_arn (may be NULL)
 * gets the key's ARN for the Decrypt audit record.  Authorization is the
 * caller's: keyring_authorize with h->key_id and h's context first. */
int envelope_open_inplace(struct keyring *kr, const struct envelope_header *h, uint8_t *data,
			  size_t len, size_t *plain_len, char key_arn[KEYRING_ARN_MAX],
			  struct ct_err *err);

/* The same, decrypting with a data key the caller already holds (the
 * format-fidelity test's and a cache's path): 0, -EBADMSG, -EINVAL as above. */
int envelope_open_with_key(const uint8_t data_key[CRYPTO_KEY_LEN], const struct envelope_header *h,
			   uint8_t *data, size_t len, size_t *plain_len, struct ct_err *err);

/* The matdesc JSON for ctx[0..n) (plus aws:x-amz-cek-alg), appended to out:
 * compact, keys sorted by byte, ASCII only.  -EINVAL (bad context), -E2BIG. */
int envelope_matdesc(const struct crypto_context_pair *ctx, size_t n, struct buf *out);

#endif
