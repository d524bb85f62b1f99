/* The S3 encryption client's V2 envelope, sealed and opened through the key
 * ring.  Opening decrypts in place: the object's bytes are read once into
 * one buffer and decrypted there, with no second copy, so decryption costs
 * one AES-GCM pass (AES-NI) over the data. */
#include "envelope.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define INVALID        "InvalidEnvelope"
#define BAD_CIPHERTEXT "InvalidCiphertextException"
#define VALIDATION     "ValidationException"
#define B64_WRAPPED_MAX (4 * ((CRYPTO_WRAPPED_LEN + 2) / 3))
#define B64_IV_MAX      (4 * ((CRYPTO_IV_LEN + 2) / 3))
#define DECIMAL_MAX     24

void envelope_header_release(struct envelope_header *h)
{
	if (!h)
		return;
	free(h->strings);
	crypto_wipe(h, sizeof *h);
}

const char *envelope_context_get(const struct envelope_header *h, const char *k)
{
	for (size_t i = 0; i < h->n_context; i++)
		if (!strcmp(h->context[i].key, k))
			return h->context[i].value;
	return NULL;
}

/* ---- matdesc --------------------------------------------------------------- */

/* One UTF-8 character at s (valid UTF-8 assumed, checked by the caller). */
static unsigned long utf8_char(const unsigned char *s, size_t *adv)
{
	if (s[0] < 0x80) {
		*adv = 1;
		return s[0];
	}
	if (s[0] < 0xE0) {
		*adv = 2;
		return ((unsigned long)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if (s[0] < 0xF0) {
		*adv = 3;
		return ((unsigned long)(s[0] & 0x0F) << 12) | ((unsigned long)(s[1] & 0x3F) << 6) |
		       (s[2] & 0x3F);
	}
	*adv = 4;
	return ((unsigned long)(s[0] & 0x07) << 18) | ((unsigned long)(s[1] & 0x3F) << 12) |
	       ((unsigned long)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

/* A JSON string in ASCII: metadata values are HTTP header values. */
static int put_json_string(struct buf *out, const char *s)
{
	int r = buf_putc(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; r == 0 && *p;) {
		size_t adv;
		unsigned long c = utf8_char(p, &adv);
		p += adv;
		if (c == '"' || c == '\\')
			r = buf_printf(out, "\\%c", (char)c);
		else if (c >= 0x20 && c < 0x7f)
			r = buf_putc(out, (char)c);
		else if (c < 0x10000)
			r = buf_printf(out, "\\u%04lx", c);
		else
			r = buf_printf(out, "\\u%04lx\\u%04lx", 0xD800 + ((c - 0x10000) >> 10),
				       0xDC00 + ((c - 0x10000) & 0x3FF));
	}
	if (r == 0)
		r = buf_putc(out, '"');
	return r;
}

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct crypto_context_pair *)a)->key,
		      ((const struct crypto_context_pair *)b)->key);
}

/* ctx plus the reserved pair, checked and sorted into full (n + 1 entries). */
static int full_context(const struct crypto_context_pair *ctx, size_t n,
			struct crypto_context_pair *full)
{
	if (n + 1 > CRYPTO_CONTEXT_PAIRS_MAX || (n && !ctx))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!ctx[i].key || !ctx[i].value || !strcmp(ctx[i].key, ENVELOPE_CTX_CEK_ALG) ||
		    !json_utf8_valid(ctx[i].key, strlen(ctx[i].key)) ||
		    !json_utf8_valid(ctx[i].value, strlen(ctx[i].value)))
			return -EINVAL;
		full[i] = ctx[i];
	}
	full[n] = (struct crypto_context_pair){ENVELOPE_CTX_CEK_ALG, ENVELOPE_CEK_GCM};
	qsort(full, n + 1, sizeof *full, pair_cmp);
	/* The serialisation also checks for repeats, empty keys and size. */
	struct buf probe;
	buf_init(&probe, CRYPTO_CONTEXT_SERIAL_MAX);
	int r = crypto_context_serialize(full, n + 1, &probe);
	buf_release(&probe);
	return r < 0 ? -EINVAL : 0;
}

static int matdesc_of_full(const struct crypto_context_pair *full, size_t n, struct buf *out)
{
	int r = buf_putc(out, '{');
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (i)
			r = buf_putc(out, ',');
		if (r == 0)
			r = put_json_string(out, full[i].key);
		if (r == 0)
			r = buf_putc(out, ':');
		if (r == 0)
			r = put_json_string(out, full[i].value);
	}
	if (r == 0)
		r = buf_putc(out, '}');
	return r;
}

int envelope_matdesc(const struct crypto_context_pair *ctx, size_t n, struct buf *out)
{
	struct crypto_context_pair full[CRYPTO_CONTEXT_PAIRS_MAX];
	int r = full_context(ctx, n, full);
	if (r == 0)
		r = matdesc_of_full(full, n + 1, out);
	return r;
}

/* ---- sealing ----------------------------------------------------------------- */

static int meta_add(struct store_object_info *info, const char *name, const char *value)
{
	if (info->n_meta >= STORE_META_MAX)
		return -E2BIG;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -ENOMEM;
	}
	info->meta[info->n_meta].name = n;
	info->meta[info->n_meta].value = v;
	info->n_meta++;
	return 0;
}

int envelope_seal(struct keyring *kr, const char *key_spec,
		  const struct crypto_context_pair *ctx, size_t n_ctx, const void *pt, size_t n,
		  struct buf *out, struct store_object_info *info, char key_arn[KEYRING_ARN_MAX],
		  struct ct_err *err)
{
	struct crypto_context_pair full[CRYPTO_CONTEXT_PAIRS_MAX];
	if (full_context(ctx, n_ctx, full) < 0)
		return ct_fail(err, VALIDATION, "the encryption context is not valid: distinct "
			       "non-empty UTF-8 keys, at most %d pairs, and not the reserved key "
			       ENVELOPE_CTX_CEK_ALG, CRYPTO_CONTEXT_PAIRS_MAX - 1);
	if (n > ENVELOPE_PLAIN_MAX || (n && !pt))
		return ct_fail(err, VALIDATION, "a log file of %zu bytes is too large to encrypt", n);
	if (info->n_meta + ENVELOPE_META_N > STORE_META_MAX)
		return ct_fail_errno(err, E2BIG, "object metadata");
	uint8_t dk[CRYPTO_KEY_LEN], blob[CRYPTO_WRAPPED_LEN], iv[CRYPTO_IV_LEN], tag[CRYPTO_TAG_LEN];
	int r = keyring_generate_data_key(kr, key_spec, full, n_ctx + 1, dk, blob, key_arn, err);
	if (r < 0)
		return r;
	size_t old_len = out->len, old_meta = info->n_meta;
	if ((r = crypto_random(iv, sizeof iv)) < 0) {
		ct_fail_errno(err, r, "random bytes");
		goto out;
	}
	/* Copy once, then encrypt where the bytes lie. */
	r = buf_add(out, pt, n);
	if (r == 0) {
		r = crypto_gcm_encrypt(dk, iv, NULL, 0, out->data + old_len, n, out->data + old_len,
				       tag);
		if (r == 0)
			r = buf_add(out, tag, sizeof tag);
	}
	struct buf key_b64, iv_b64, matdesc;
	buf_init(&key_b64, B64_WRAPPED_MAX);
	buf_init(&iv_b64, B64_IV_MAX);
	buf_init(&matdesc, ENVELOPE_MATDESC_MAX);
	char plain[DECIMAL_MAX];
	snprintf(plain, sizeof plain, "%zu", n);
	if (r == 0)
		r = crypto_base64_encode(blob, sizeof blob, &key_b64);
	if (r == 0)
		r = crypto_base64_encode(iv, sizeof iv, &iv_b64);
	if (r == 0)
		r = matdesc_of_full(full, n_ctx + 1, &matdesc);
	if (r == 0)
		r = meta_add(info, ENVELOPE_KEY_V2, buf_str(&key_b64));
	if (r == 0)
		r = meta_add(info, ENVELOPE_IV, buf_str(&iv_b64));
	if (r == 0)
		r = meta_add(info, ENVELOPE_CEK_ALG, ENVELOPE_CEK_GCM);
	if (r == 0)
		r = meta_add(info, ENVELOPE_WRAP_ALG, ENVELOPE_WRAP_KMS_CTX);
	if (r == 0)
		r = meta_add(info, ENVELOPE_MATDESC, buf_str(&matdesc));
	if (r == 0)
		r = meta_add(info, ENVELOPE_TAG_LEN, ENVELOPE_TAG_BITS);
	if (r == 0)
		r = meta_add(info, ENVELOPE_PLAIN_LEN, plain);
	buf_release(&key_b64);
	buf_release(&iv_b64);
	buf_release(&matdesc);
	if (r < 0)
		ct_fail_errno(err, r, "encrypting a log file");
out:
	crypto_wipe(dk, sizeof dk);
	if (r < 0) {
		if (out->data && out->len > old_len)
			crypto_wipe(out->data + old_len, out->len - old_len);
		out->len = old_len;
		if (out->data)
			out->data[old_len] = '\0';
		while (info->n_meta > old_meta) {
			info->n_meta--;
			free(info->meta[info->n_meta].name);
			free(info->meta[info->n_meta].value);
			info->meta[info->n_meta].name = info->meta[info->n_meta].value = NULL;
		}
	}
	return r;
}

/* ---- parsing ----------------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static int invalid(struct ct_err *err, const char *fmt, ...)
{
	char m[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	return ct_fail(err, INVALID, "the envelope of this object is not valid: %s", m);
}

static int parse_matdesc(const char *text, struct envelope_header *h, struct ct_err *err)
{
	size_t len = strlen(text);
	if (len > ENVELOPE_MATDESC_MAX)
		return invalid(err, ENVELOPE_MATDESC " is over %d bytes", ENVELOPE_MATDESC_MAX);
	json *j = json_parse(text, len, NULL);
	int r = 0;
	if (!json_is_object(j)) {
		r = invalid(err, ENVELOPE_MATDESC " is not a JSON object");
		goto out;
	}
	if (json_size(j) > CRYPTO_CONTEXT_PAIRS_MAX) {
		r = invalid(err, ENVELOPE_MATDESC " has over %d entries", CRYPTO_CONTEXT_PAIRS_MAX);
		goto out;
	}
	size_t total = 0;
	for (const json *m = json_first(j); m; m = json_next(m)) {
		if (!json_is_string(m)) {
			r = invalid(err, ENVELOPE_MATDESC " values must be strings");
			goto out;
		}
		total += strlen(json_key(m)) + strlen(json_string(m)) + 2;
	}
	h->strings = malloc(total + 1);
	if (!h->strings) {
		r = ct_fail_errno(err, ENOMEM, "envelope");
		goto out;
	}
	char *p = h->strings;
	for (const json *m = json_first(j); m; m = json_next(m)) {
		size_t kl = strlen(json_key(m)) + 1, vl = strlen(json_string(m)) + 1;
		memcpy(p, json_key(m), kl);
		memcpy(p + kl, json_string(m), vl);
		for (size_t i = 0; i < h->n_context; i++)
			if (!strcmp(h->context[i].key, p)) {
				r = invalid(err, ENVELOPE_MATDESC " repeats a key");
				goto out;
			}
		h->context[h->n_context++] = (struct crypto_context_pair){p, p + kl};
		p += kl + vl;
	}
	const char *cek = envelope_context_get(h, ENVELOPE_CTX_CEK_ALG);
	if (!cek || strcmp(cek, ENVELOPE_CEK_GCM))
		r = invalid(err, ENVELOPE_MATDESC " must hold \"" ENVELOPE_CTX_CEK_ALG "\":\""
			    ENVELOPE_CEK_GCM "\" (the content algorithm)");
out:
	json_free(j);
	return r;
}

int envelope_parse(const struct store_object_info *info, struct envelope_header *h,
		   struct ct_err *err)
{
	memset(h, 0, sizeof *h);
	h->plain_len = -1;
	static const char *const other_formats[] = {"x-amz-key", "x-amz-3", "x-amz-c", "x-amz-d",
		"x-amz-i"};
	const char *key = store_meta_get(info, ENVELOPE_KEY_V2);
	bool other = false;
	for (size_t i = 0; i < sizeof other_formats / sizeof other_formats[0]; i++)
		other = other || store_meta_get(info, other_formats[i]);
	/* Envelope members without any key: a damaged envelope, not a plain object. */
	static const char *const members[] = {ENVELOPE_IV, ENVELOPE_CEK_ALG, ENVELOPE_WRAP_ALG,
		ENVELOPE_MATDESC, ENVELOPE_TAG_LEN};
	bool parts = false;
	for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
		parts = parts || store_meta_get(info, members[i]);
	if (!key && !other && !parts)
		return -ENODATA;
	int r;
	if (!key || other) {
		r = invalid(err, "%s", other ? "V2 keys mixed with another format's (x-amz-key, or "
			    "x-amz-3/c/d/i)" : "not a V2 envelope (x-amz-key-v2 is missing)");
		goto fail;
	}
	const char *cek = store_meta_get(info, ENVELOPE_CEK_ALG);
	const char *wrap = store_meta_get(info, ENVELOPE_WRAP_ALG);
	const char *tag = store_meta_get(info, ENVELOPE_TAG_LEN);
	const char *iv = store_meta_get(info, ENVELOPE_IV);
	const char *md = store_meta_get(info, ENVELOPE_MATDESC);
	const char *plain = store_meta_get(info, ENVELOPE_PLAIN_LEN);
	if (!cek || strcmp(cek, ENVELOPE_CEK_GCM)) {
		r = invalid(err, ENVELOPE_CEK_ALG " must be " ENVELOPE_CEK_GCM);
		goto fail;
	}
	if (!wrap || strcmp(wrap, ENVELOPE_WRAP_KMS_CTX)) {
		r = invalid(err, ENVELOPE_WRAP_ALG " must be " ENVELOPE_WRAP_KMS_CTX);
		goto fail;
	}
	if (!tag || strcmp(tag, ENVELOPE_TAG_BITS)) {
		r = invalid(err, ENVELOPE_TAG_LEN " must be " ENVELOPE_TAG_BITS);
		goto fail;
	}
	size_t n;
	if (!iv || crypto_base64_decode(iv, strlen(iv), h->iv, sizeof h->iv, &n) < 0 ||
	    n != CRYPTO_IV_LEN) {
		r = invalid(err, ENVELOPE_IV " must be base64 of %d bytes", CRYPTO_IV_LEN);
		goto fail;
	}
	if (crypto_base64_decode(key, strlen(key), h->wrapped, sizeof h->wrapped, &n) < 0 ||
	    crypto_wrapped_key_id(h->wrapped, n, h->key_id) < 0) {
		r = invalid(err, ENVELOPE_KEY_V2 " is not base64 of a wrapped data key of this "
			    "key ring");
		goto fail;
	}
	h->wrapped_len = n;
	if (!md) {
		r = invalid(err, ENVELOPE_MATDESC " is missing");
		goto fail;
	}
	if ((r = parse_matdesc(md, h, err)) < 0)
		goto fail;
	if (plain) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(plain, &end, 10);
		if (!*plain || *end || errno || plain[0] < '0' || plain[0] > '9' ||
		    v > ENVELOPE_PLAIN_MAX) {
			r = invalid(err, ENVELOPE_PLAIN_LEN " must be a decimal length");
			goto fail;
		}
		h->plain_len = (int64_t)v;
	}
	return 0;
fail:
	envelope_header_release(h);
	h->plain_len = -1;
	return r;
}

/* ---- opening ----------------------------------------------------------------- */

static int check_len(const struct envelope_header *h, size_t len, struct ct_err *err)
{
	if (len < CRYPTO_TAG_LEN || len - CRYPTO_TAG_LEN > ENVELOPE_PLAIN_MAX)
		return invalid(err, "the object is %zu bytes, shorter than its tag", len);
	if (h->plain_len >= 0 && (uint64_t)h->plain_len != len - CRYPTO_TAG_LEN)
		return invalid(err, "the object holds %zu bytes of content, its "
			       ENVELOPE_PLAIN_LEN " says %lld", len - CRYPTO_TAG_LEN,
			       (long long)h->plain_len);
	return 0;
}

int envelope_open_with_key(const uint8_t data_key[CRYPTO_KEY_LEN], const struct envelope_header *h,
			   uint8_t *data, size_t len, size_t *plain_len, struct ct_err *err)
{
	*plain_len = 0;
	int r = check_len(h, len, err);
	if (r == 0) {
		size_t n = len - CRYPTO_TAG_LEN;
		uint8_t tag[CRYPTO_TAG_LEN];
		memcpy(tag, data + n, sizeof tag);
		r = crypto_gcm_decrypt(data_key, h->iv, NULL, 0, data, n, tag, data);
		if (r == -EBADMSG)
			ct_fail(err, BAD_CIPHERTEXT, "the log file's authentication tag does not "
				"verify: its ciphertext, tag or IV was altered, or the key is wrong");
		else if (r < 0)
			ct_fail_errno(err, r, "decrypting a log file");
		else
			*plain_len = n;
	}
	if (r < 0 && data)
		crypto_wipe(data, len);
	return r;
}

int envelope_open_inplace(struct keyring *kr, const struct envelope_header *h, uint8_t *data,
			  size_t len, size_t *plain_len, char key_arn[KEYRING_ARN_MAX],
			  struct ct_err *err)
{
	*plain_len = 0;
	if (key_arn)
		key_arn[0] = '\0';
	int r = check_len(h, len, err);
	uint8_t dk[CRYPTO_KEY_LEN];
	if (r == 0)
		r = keyring_decrypt(kr, h->wrapped, h->wrapped_len, h->context, h->n_context, dk,
				    key_arn, err);
	if (r == 0)
		r = envelope_open_with_key(dk, h, data, len, plain_len, err);
	crypto_wipe(dk, sizeof dk);
	if (r < 0 && data)
		crypto_wipe(data, len);
	return r;
}
