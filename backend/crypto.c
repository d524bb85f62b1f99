/* Symmetric cryptography over OpenSSL's EVP interface.  EVP's AES-GCM uses
 * AES-NI and PCLMULQDQ when the CPU has them, so streaming decryption runs
 * at several GB/s and needs no buffering beyond the caller's. */
#include "crypto.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* OpenSSL's failures are translated here, once; its error queue is
 * dropped so that nothing of it leaks into a later, unrelated report. */
static int ossl_fail(void)
{
	ERR_clear_error();
	return -EIO;
}

int crypto_random(void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (!p || n > INT_MAX)
		return -EINVAL;
	return RAND_bytes(p, (int)n) == 1 ? 0 : ossl_fail();
}

int crypto_uuid(char out[CRYPTO_KEY_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t r[16];
	int e = crypto_random(r, sizeof r);
	if (e < 0)
		return e;
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);   /* version 4 */
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[r[i] >> 4];
		*o++ = hex[r[i] & 15];
	}
	*o = '\0';
	return 0;
}

bool crypto_uuid_ok(const char *s)
{
	if (!s)
		return false;
	for (int i = 0; i < CRYPTO_KEY_ID_LEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
	}
	return s[CRYPTO_KEY_ID_LEN] == '\0';
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
	return n == 0 || CRYPTO_memcmp(a, b, n) == 0;
}

void crypto_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

/* ---- GCM ---------------------------------------------------------------- */

struct crypto_gcm {
	EVP_CIPHER_CTX *ctx;
	bool encrypt;
	bool finished;
};

int crypto_gcm_new(bool encrypt, const uint8_t key[CRYPTO_KEY_LEN],
		   const uint8_t iv[CRYPTO_IV_LEN], const void *aad, size_t aad_len,
		   struct crypto_gcm **out)
{
	*out = NULL;
	if (!key || !iv || (aad_len && !aad) || aad_len > INT_MAX)
		return -EINVAL;
	struct crypto_gcm *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->encrypt = encrypt;
	g->ctx = EVP_CIPHER_CTX_new();
	if (!g->ctx) {
		free(g);
		return -ENOMEM;
	}
	/* The 12-byte IV is GCM's default length, so no SET_IVLEN call. */
	int ok = EVP_CipherInit_ex(g->ctx, EVP_aes_256_gcm(), NULL, key, iv, encrypt ? 1 : 0) == 1;
	int outl = 0;
	if (ok && aad_len)
		ok = EVP_CipherUpdate(g->ctx, NULL, &outl, aad, (int)aad_len) == 1;
	if (!ok) {
		crypto_gcm_free(g);
		return ossl_fail();
	}
	*out = g;
	return 0;
}

int crypto_gcm_update(struct crypto_gcm *g, const void *in, size_t n, void *out)
{
	if (!g || g->finished || n > CRYPTO_GCM_MAX || (n && (!in || !out)))
		return -EINVAL;
	if (n == 0)
		return 0;
	int outl = 0;
	/* GCM is a stream mode: EVP writes exactly n bytes, never holding any back. */
	if (EVP_CipherUpdate(g->ctx, out, &outl, in, (int)n) != 1 || (size_t)outl != n)
		return ossl_fail();
	return 0;
}

int crypto_gcm_final_encrypt(struct crypto_gcm *g, uint8_t tag[CRYPTO_TAG_LEN])
{
	if (!g || g->finished || !g->encrypt || !tag)
		return -EINVAL;
	g->finished = true;
	uint8_t rest[16];
	int outl = 0;
	if (EVP_CipherFinal_ex(g->ctx, rest, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) != 1)
		return ossl_fail();
	return 0;
}

int crypto_gcm_final_decrypt(struct crypto_gcm *g, const uint8_t tag[CRYPTO_TAG_LEN])
{
	if (!g || g->finished || g->encrypt || !tag)
		return -EINVAL;
	g->finished = true;
	/* SET_TAG copies the tag; OpenSSL's final compares it in constant time. */
	uint8_t t[CRYPTO_TAG_LEN], rest[16];
	memcpy(t, tag, sizeof t);
	int outl = 0;
	if (EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN, t) != 1)
		return ossl_fail();
	if (EVP_CipherFinal_ex(g->ctx, rest, &outl) != 1) {
		ERR_clear_error();
		return -EBADMSG;
	}
	return 0;
}

void crypto_gcm_free(struct crypto_gcm *g)
{
	if (!g)
		return;
	EVP_CIPHER_CTX_free(g->ctx);   /* clears the key schedule */
	free(g);
}

int crypto_gcm_encrypt(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t iv[CRYPTO_IV_LEN],
		       const void *aad, size_t aad_len, const void *pt, size_t n, void *out,
		       uint8_t tag[CRYPTO_TAG_LEN])
{
	if (n > CRYPTO_GCM_MAX || !tag)
		return -EINVAL;
	struct crypto_gcm *g;
	int r = crypto_gcm_new(true, key, iv, aad, aad_len, &g);
	if (r == 0)
		r = crypto_gcm_update(g, pt, n, out);
	if (r == 0)
		r = crypto_gcm_final_encrypt(g, tag);
	crypto_gcm_free(g);
	return r;
}

int crypto_gcm_decrypt(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t iv[CRYPTO_IV_LEN],
		       const void *aad, size_t aad_len, const void *ct, size_t n,
		       const uint8_t tag[CRYPTO_TAG_LEN], void *out)
{
	if (n > CRYPTO_GCM_MAX || !tag || (n && (!ct || !out)))
		return -EINVAL;
	struct crypto_gcm *g;
	int r = crypto_gcm_new(false, key, iv, aad, aad_len, &g);
	if (r == 0)
		r = crypto_gcm_update(g, ct, n, out);
	if (r == 0)
		r = crypto_gcm_final_decrypt(g, tag);
	crypto_gcm_free(g);
	/* The plaintext is only the caller's once the tag has verified. */
	if (r < 0 && out)
		crypto_wipe(out, n);
	return r;
}

/* ---- contexts and wrapping ---------------------------------------------- */

static int put_u32(struct buf *out, size_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	return buf_add(out, b, sizeof b);
}

/* Ascending by the key's bytes, unsigned, shorter first on a common prefix:
 * exactly strcmp's order on the bytes as unsigned char. */
static int pair_cmp(const void *a, const void *b)
{
	const struct crypto_context_pair *x = *(const struct crypto_context_pair *const *)a;
	const struct crypto_context_pair *y = *(const struct crypto_context_pair *const *)b;
	return strcmp(x->key, y->key);
}

int crypto_context_serialize(const struct crypto_context_pair *ctx, size_t n, struct buf *out)
{
	if (n > CRYPTO_CONTEXT_PAIRS_MAX || (n && !ctx))
		return -EINVAL;
	const struct crypto_context_pair *sorted[CRYPTO_CONTEXT_PAIRS_MAX];
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ctx[i].key || !ctx[i].key[0] || !ctx[i].value)
			return -EINVAL;
		total += strlen(ctx[i].key) + strlen(ctx[i].value);
		if (total > CRYPTO_CONTEXT_MAX)
			return -EINVAL;
		sorted[i] = &ctx[i];
	}
	qsort(sorted, n, sizeof sorted[0], pair_cmp);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(sorted[i - 1]->key, sorted[i]->key))
			return -EINVAL;
	int r = put_u32(out, n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t kl = strlen(sorted[i]->key), vl = strlen(sorted[i]->value);
		r = put_u32(out, kl);
		if (r == 0)
			r = buf_add(out, sorted[i]->key, kl);
		if (r == 0)
			r = put_u32(out, vl);
		if (r == 0)
			r = buf_add(out, sorted[i]->value, vl);
	}
	return r;
}

#define WRAP_OFF_ID   1
#define WRAP_OFF_IV   (WRAP_OFF_ID + CRYPTO_KEY_ID_LEN)
#define WRAP_OFF_KEY  (WRAP_OFF_IV + CRYPTO_IV_LEN)
#define WRAP_OFF_TAG  (WRAP_OFF_KEY + CRYPTO_KEY_LEN)
#define WRAP_HEADER   WRAP_OFF_IV     /* version and key id: the AAD's first part */
_Static_assert(WRAP_OFF_TAG + CRYPTO_TAG_LEN == CRYPTO_WRAPPED_LEN, "wrapped key layout");

/* The AAD: the blob's header, then the serialised context. */
static int wrap_aad(const uint8_t *header, const struct crypto_context_pair *ctx, size_t n,
		    struct buf *aad)
{
	buf_init(aad, WRAP_HEADER + CRYPTO_CONTEXT_SERIAL_MAX);
	int r = buf_add(aad, header, WRAP_HEADER);
	if (r == 0)
		r = crypto_context_serialize(ctx, n, aad);
	if (r == -E2BIG)
		r = -EINVAL;
	return r;
}

int crypto_wrap_key(const uint8_t ring_key[CRYPTO_KEY_LEN], const char *key_id,
		    const uint8_t data_key[CRYPTO_KEY_LEN],
		    const struct crypto_context_pair *ctx, size_t n,
		    uint8_t out[CRYPTO_WRAPPED_LEN])
{
	if (!ring_key || !data_key || !out || !crypto_uuid_ok(key_id))
		return -EINVAL;
	uint8_t blob[CRYPTO_WRAPPED_LEN];
	blob[0] = CRYPTO_WRAP_VERSION;
	memcpy(blob + WRAP_OFF_ID, key_id, CRYPTO_KEY_ID_LEN);
	struct buf aad;
	int r = wrap_aad(blob, ctx, n, &aad);
	if (r == 0)
		r = crypto_random(blob + WRAP_OFF_IV, CRYPTO_IV_LEN);
	if (r == 0)
		r = crypto_gcm_encrypt(ring_key, blob + WRAP_OFF_IV, aad.data, aad.len, data_key,
				       CRYPTO_KEY_LEN, blob + WRAP_OFF_KEY, blob + WRAP_OFF_TAG);
	buf_release(&aad);
	if (r == 0)
		memcpy(out, blob, sizeof blob);
	crypto_wipe(blob, sizeof blob);
	return r;
}

int crypto_wrapped_key_id(const uint8_t *blob, size_t len, char id[CRYPTO_KEY_ID_LEN + 1])
{
	if (!blob || len != CRYPTO_WRAPPED_LEN || blob[0] != CRYPTO_WRAP_VERSION)
		return -EINVAL;
	memcpy(id, blob + WRAP_OFF_ID, CRYPTO_KEY_ID_LEN);
	id[CRYPTO_KEY_ID_LEN] = '\0';
	return crypto_uuid_ok(id) ? 0 : -EINVAL;
}

int crypto_unwrap_key(const uint8_t ring_key[CRYPTO_KEY_LEN], const uint8_t *blob, size_t len,
		      const struct crypto_context_pair *ctx, size_t n,
		      uint8_t data_key[CRYPTO_KEY_LEN])
{
	char id[CRYPTO_KEY_ID_LEN + 1];
	if (!ring_key || !data_key)
		return -EINVAL;
	crypto_wipe(data_key, CRYPTO_KEY_LEN);
	int r = crypto_wrapped_key_id(blob, len, id);
	if (r < 0)
		return r;
	struct buf aad;
	r = wrap_aad(blob, ctx, n, &aad);
	if (r == 0)
		r = crypto_gcm_decrypt(ring_key, blob + WRAP_OFF_IV, aad.data, aad.len,
				       blob + WRAP_OFF_KEY, CRYPTO_KEY_LEN, blob + WRAP_OFF_TAG,
				       data_key);
	buf_release(&aad);
	if (r < 0)
		crypto_wipe(data_key, CRYPTO_KEY_LEN);
	return r;
}

/* ---- base64 ------------------------------------------------------------- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int crypto_base64_encode(const void *p, size_t n, struct buf *out)
{
	const uint8_t *s = p;
	char q[4];
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = b64_alphabet[(v >> 18) & 63];
		q[1] = b64_alphabet[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64_alphabet[v & 63] : '=';
		r = buf_add(out, q, 4);
	}
	return r;
}

int crypto_base64_digit(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int crypto_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n)
{
	*n = 0;
	if (len % 4 || (len && !s))
		return -EINVAL;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int pad = 0;
		if (last && s[i + 3] == '=')
			pad = s[i + 2] == '=' ? 2 : 1;
		int v[4];
		for (int k = 0; k < 4 - pad; k++)
			if ((v[k] = crypto_base64_digit((unsigned char)s[i + k])) < 0)
				return -EINVAL;
		for (int k = 4 - pad; k < 4; k++)
			v[k] = 0;
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		/* Canonical only: the bits a padded quantum does not carry are zero. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -EINVAL;
		size_t emit = (size_t)(3 - pad);
		if (o + emit > cap)
			return -E2BIG;
		out[o++] = (uint8_t)(w >> 16);
		if (emit > 1)
			out[o++] = (uint8_t)(w >> 8);
		if (emit > 2)
			out[o++] = (uint8_t)w;
	}
	*n = o;
	return 0;
}
