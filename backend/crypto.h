/* Symmetric cryptography: the one module that uses OpenSSL for it (random
 * bytes, AES-256-GCM, key wrapping, base64, constant-time compare, wiping).
 * backend/sign.c still calls OpenSSL itself for RSA digest signing.
 *
 * Every function returns 0 or a negative errno:
 *   -EINVAL   an argument out of range (a length, a NULL where none is allowed)
 *   -EBADMSG  an authentication tag did not verify: wrong key, wrong IV,
 *             wrong AAD or tampered bytes (GCM cannot tell which)
 *   -ENOMEM   OpenSSL could not allocate
 *   -EIO      OpenSSL failed for a reason of its own (its error queue is
 *             cleared; nothing from it reaches a message)
 * Nothing here logs; key bytes never reach any message.
 *
 * The wrapped data key (what keyring.c hands out as the KMS CiphertextBlob,
 * and what the envelope's x-amz-key-v2 holds, base64'd) is exactly
 * CRYPTO_WRAPPED_LEN = 97 bytes:
 *
 *   offset  length  contents
 *   0       1       version, CRYPTO_WRAP_VERSION (0x01)
 *   1       36      the ring key's id: a UUID in lowercase ASCII,
 *                   8-4-4-4-12 hex digits with '-'
 *   37      12      IV (random, fresh for every wrap)
 *   49      32      the data key, AES-256-GCM encrypted under the ring key
 *   81      16      the GCM tag (128 bits)
 *
 * The GCM AAD is bytes 0..36 (version and key id) followed by the canonical
 * serialisation of the encryption context (crypto_context_serialize), so
 * the blob cannot be moved to another key id, and unwrapping with any other
 * context fails the tag check.
 *
 * The canonical serialisation of an encryption context of n pairs:
 *   u32be n, then for each pair in ascending order of its key's bytes
 *   (unsigned memcmp, shorter first on a common prefix):
 *   u32be key length, key bytes, u32be value length, value bytes.
 * Keys must be distinct and non-empty; an empty context is the 4 bytes
 * 00 00 00 00.  Lengths make it unambiguous whatever bytes the strings hold. */
#ifndef TRAILFS_CRYPTO_H
#define TRAILFS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CRYPTO_KEY_LEN      32    /* AES-256 */
#define CRYPTO_IV_LEN       12    /* GCM's 96-bit nonce */
#define CRYPTO_TAG_LEN      16    /* GCM's 128-bit tag */
#define CRYPTO_KEY_ID_LEN   36    /* a UUID as text */
#define CRYPTO_WRAP_VERSION 1
#define CRYPTO_WRAPPED_LEN  (1 + CRYPTO_KEY_ID_LEN + CRYPTO_IV_LEN + CRYPTO_KEY_LEN + CRYPTO_TAG_LEN)
/* KMS limits an encryption context to 8 KB; the serialised form adds 4
 * bytes per string and 4 for the count. */
#define CRYPTO_CONTEXT_MAX  8192
#define CRYPTO_CONTEXT_PAIRS_MAX 64
/* The serialised context bound to a wrapped key: its text plus framing. */
#define CRYPTO_CONTEXT_SERIAL_MAX (CRYPTO_CONTEXT_MAX + 4 + 8 * CRYPTO_CONTEXT_PAIRS_MAX)
/* One-shot GCM takes at most this many bytes (OpenSSL's int lengths, and
 * GCM's own limit is far above). */
#define CRYPTO_GCM_MAX      ((size_t)1 << 30)

/* One encryption context entry (KMS's EncryptionContext map).  Strings are
 * borrowed; both NUL-terminated. */
struct crypto_context_pair {
	const char *key;
	const char *value;
};

/* Fill p[0..n) with bytes from OpenSSL's CSPRNG.  0, or -EIO. */
int crypto_random(void *p, size_t n);

/* A fresh random (version 4) UUID, lowercase: a key id.  0 or -EIO. */
int crypto_uuid(char out[CRYPTO_KEY_ID_LEN + 1]);

/* Is s a UUID as crypto_uuid writes it (36 chars, lowercase hex, dashes at
 * 8, 13, 18, 23)?  Key ids name files, so only this shape passes. */
bool crypto_uuid_ok(const char *s);

/* Compare n bytes in time independent of where they differ.  true when equal. */
bool crypto_equal(const void *a, const void *b, size_t n);

/* Overwrite n bytes so that the compiler cannot drop the write (NULL with
 * n 0 is fine). */
void crypto_wipe(void *p, size_t n);

/* ---- AES-256-GCM, one shot ------------------------------------------------ */

/* Encrypt pt[0..n) under key with iv and aad[0..aad_len) (aad may be NULL
 * when aad_len is 0) into out[0..n) (out may equal pt: in place) and write
 * the 128-bit tag.  n at most CRYPTO_GCM_MAX.  The caller must never use an
 * iv twice with one key: take it from crypto_random.  0, -EINVAL, -EIO. */
int crypto_gcm_encrypt(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t iv[CRYPTO_IV_LEN],
		       const void *aad, size_t aad_len, const void *pt, size_t n, void *out,
		       uint8_t tag[CRYPTO_TAG_LEN]);

/* Decrypt ct[0..n) into out[0..n) (out may equal ct) and verify tag.  On
 * success returns 0 and out holds the plaintext.  On any failure out[0..n)
 * is wiped before returning, so no unauthenticated byte is ever handed out:
 * -EBADMSG when the tag does not verify, -EINVAL, -EIO. */
int crypto_gcm_decrypt(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t iv[CRYPTO_IV_LEN],
		       const void *aad, size_t aad_len, const void *ct, size_t n,
		       const uint8_t tag[CRYPTO_TAG_LEN], void *out);

/* ---- AES-256-GCM, streaming ----------------------------------------------- */

/* Streaming GCM for inputs too large to hold at once.  Unlike the one-shot
 * decrypt, crypto_gcm_update hands out plaintext before the tag is checked:
 * a caller must hold what it decrypts (never return it to a reader, never
 * write it to disk) until crypto_gcm_final_decrypt returns 0, and wipe it
 * otherwise. */
struct crypto_gcm;

/* Start an encryption (encrypt true) or decryption under key and iv, with
 * the aad bytes (may be NULL when aad_len is 0).  *out is the caller's:
 * crypto_gcm_free.  0, -EINVAL, -ENOMEM, -EIO. */
int crypto_gcm_new(bool encrypt, const uint8_t key[CRYPTO_KEY_LEN],
		   const uint8_t iv[CRYPTO_IV_LEN], const void *aad, size_t aad_len,
		   struct crypto_gcm **out);
/* Process in[0..n) into out[0..n) (out may equal in).  Any split of the
 * input gives the same output.  0, -EINVAL (n over CRYPTO_GCM_MAX in one
 * call, or the context already finished), -EIO. */
int crypto_gcm_update(struct crypto_gcm *g, const void *in, size_t n, void *out);
/* Finish an encryption and write its tag.  0, -EINVAL (a decryption, or
 * finished), -EIO. */
int crypto_gcm_final_encrypt(struct crypto_gcm *g, uint8_t tag[CRYPTO_TAG_LEN]);
/* Finish a decryption: 0 when tag verifies, -EBADMSG when not, -EINVAL (an
 * encryption, or finished). */
int crypto_gcm_final_decrypt(struct crypto_gcm *g, const uint8_t tag[CRYPTO_TAG_LEN]);
/* Free (and wipe the key schedule).  NULL is fine. */
void crypto_gcm_free(struct crypto_gcm *g);

/* ---- encryption contexts and key wrapping --------------------------------- */

/* Append the canonical serialisation of ctx[0..n) (see the top of this
 * file) to out.  ctx may be NULL when n is 0.  -EINVAL for a NULL or empty
 * key, a NULL value, a repeated key, more than CRYPTO_CONTEXT_PAIRS_MAX
 * pairs or more than CRYPTO_CONTEXT_MAX bytes of keys and values; -E2BIG
 * past out's cap; -ENOMEM. */
int crypto_context_serialize(const struct crypto_context_pair *ctx, size_t n, struct buf *out);

/* Wrap the 32-byte data_key under ring_key for key_id (a crypto_uuid_ok
 * id) with the encryption context ctx[0..n), into out (the format at the top
 * of this file), with a fresh random IV.  0, -EINVAL (bad key id or
 * context), -ENOMEM, -EIO. */
int crypto_wrap_key(const uint8_t ring_key[CRYPTO_KEY_LEN], const char *key_id,
		    const uint8_t data_key[CRYPTO_KEY_LEN],
		    const struct crypto_context_pair *ctx, size_t n,
		    uint8_t out[CRYPTO_WRAPPED_LEN]);

/* Unwrap blob[0..len) with ring_key and the context ctx[0..n) into
 * data_key.  -EINVAL when blob is not CRYPTO_WRAPPED_LEN bytes of this
 * format (version, key id shape) or the context is invalid; -EBADMSG when
 * the tag does not verify (another key, another context, tampered bytes).
 * data_key is wiped on any failure. */
int crypto_unwrap_key(const uint8_t ring_key[CRYPTO_KEY_LEN], const uint8_t *blob, size_t len,
		      const struct crypto_context_pair *ctx, size_t n,
		      uint8_t data_key[CRYPTO_KEY_LEN]);

/* The key id a wrapped blob names, copied to id.  0, or -EINVAL when blob
 * is not of the format.  Nothing is verified: the id only says which ring
 * key to try. */
int crypto_wrapped_key_id(const uint8_t *blob, size_t len, char id[CRYPTO_KEY_ID_LEN + 1]);

/* ---- base64 (RFC 4648, standard alphabet, '=' padding) -------------------- */

/* Append base64 of p[0..n) to out.  0, -E2BIG, -ENOMEM. */
int crypto_base64_encode(const void *p, size_t n, struct buf *out);
/* The value of one base64 digit (A-Z a-z 0-9 + /), or -1. */
int crypto_base64_digit(unsigned char c);
/* Decode s[0..len) exactly: canonical padded base64 with no white space
 * and zero unused bits; anything else is -EINVAL.  Writes at most cap
 * bytes to out (-E2BIG when the result is larger) and the count to *n. */
int crypto_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n);

#endif
