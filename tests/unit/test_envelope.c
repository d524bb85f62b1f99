/* Unit tests for backend/envelope.c: sealing a log file in the S3
 * encryption client's V2 format (exact metadata names and values), opening
 * it through the key ring, and every refusal: a malformed or mixed-format
 * envelope, tampered ciphertext, tag, IV or wrapped key, a wrong context,
 * a disabled, pending or destroyed key; the buffer is wiped on each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "tap.h"

#define A "123456789012"
#define R "us-east-1"
#define T0 1780000000LL
#define TRAIL "arn:aws:cloudtrail:us-east-1:" A ":trail/audit"

static char dir[256];
static struct crypto_context_pair ctx[] = {{"aws:cloudtrail:arn", TRAIL}};

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void set_meta(struct store_object_info *info, const char *name, const char *value)
{
	for (size_t i = 0; i < info->n_meta; i++)
		if (!strcmp(info->meta[i].name, name)) {
			free(info->meta[i].value);
			info->meta[i].value = strdup(value);
			return;
		}
	info->meta[info->n_meta].name = strdup(name);
	info->meta[info->n_meta].value = strdup(value);
	info->n_meta++;
}

static void del_meta(struct store_object_info *info, const char *name)
{
	for (size_t i = 0; i < info->n_meta; i++)
		if (!strcmp(info->meta[i].name, name)) {
			free(info->meta[i].name);
			free(info->meta[i].value);
			info->meta[i] = info->meta[--info->n_meta];
			return;
		}
}

static void copy_info(struct store_object_info *dst, const struct store_object_info *src)
{
	memset(dst, 0, sizeof *dst);
	for (size_t i = 0; i < src->n_meta; i++)
		set_meta(dst, src->meta[i].name, src->meta[i].value);
}

/* Parse info and open data (a copy of obj[0..len)); returns the result and
 * leaves the copy in *out (caller frees). */
static int try_open(struct keyring *kr, const struct store_object_info *info, const uint8_t *obj,
		    size_t len, uint8_t **out, size_t *plain, struct ct_err *err)
{
	*out = malloc(len + 1);
	memcpy(*out, obj, len);
	struct envelope_header h;
	int r = envelope_parse(info, &h, err);
	if (r < 0)
		return r;
	r = envelope_open_inplace(kr, &h, *out, len, plain, NULL, err);
	envelope_header_release(&h);
	return r;
}

static void test_seal_format(struct keyring *kr)
{
	static const char text[] = "{\"Records\":[{\"eventName\":\"MARKER-7f3a\"}]}";
	struct buf out;
	buf_init(&out, 1 << 20);
	struct store_object_info info = {0};
	struct ct_err err;
	char arn[KEYRING_ARN_MAX];
	ok(envelope_seal(kr, "alias/audit", ctx, 1, text, strlen(text), &out, &info, arn, &err) == 0,
	   "seal (%s)", err.message);
	ok(out.len == strlen(text) + 16, "object = plaintext + 16-byte tag");
	ok(!memmem(out.data, out.len, "MARKER-7f3a", 11), "the marker is not in the ciphertext");
	ok(strstr(arn, ":key/") != NULL, "the key's ARN is handed back: %s", arn);
	ok(info.n_meta == ENVELOPE_META_N, "%d metadata entries", ENVELOPE_META_N);
	ok(!strcmp(store_meta_get(&info, "x-amz-cek-alg"), "AES/GCM/NoPadding"), "x-amz-cek-alg");
	ok(!strcmp(store_meta_get(&info, "x-amz-wrap-alg"), "kms+context"), "x-amz-wrap-alg");
	ok(!strcmp(store_meta_get(&info, "x-amz-tag-len"), "128"), "x-amz-tag-len");
	char len[24];
	snprintf(len, sizeof len, "%zu", strlen(text));
	ok(!strcmp(store_meta_get(&info, "x-amz-unencrypted-content-length"), len),
	   "x-amz-unencrypted-content-length");
	ok(!strcmp(store_meta_get(&info, "x-amz-matdesc"),
		   "{\"aws:cloudtrail:arn\":\"" TRAIL "\",\"aws:x-amz-cek-alg\":\"AES/GCM/NoPadding\"}"),
	   "x-amz-matdesc: the context with aws:x-amz-cek-alg, sorted: %s",
	   store_meta_get(&info, "x-amz-matdesc"));
	uint8_t raw[128];
	size_t n;
	const char *iv = store_meta_get(&info, "x-amz-iv");
	ok(crypto_base64_decode(iv, strlen(iv), raw, sizeof raw, &n) == 0 && n == 12, "x-amz-iv: base64 of 12 bytes");
	const char *key = store_meta_get(&info, "x-amz-key-v2");
	ok(crypto_base64_decode(key, strlen(key), raw, sizeof raw, &n) == 0 && n == CRYPTO_WRAPPED_LEN,
	   "x-amz-key-v2: base64 of the 97-byte wrapped key");
	size_t total = 0;
	bool ascii = true;
	for (size_t i = 0; i < info.n_meta; i++) {
		total += strlen(info.meta[i].name) + strlen(info.meta[i].value);
		for (const char *c = info.meta[i].value; *c; c++)
			ascii = ascii && *c >= 0x20 && *c < 0x7f;
		ok(strncmp(info.meta[i].name, "x-amz-meta-", 11) != 0, "%s: stored without the x-amz-meta- prefix",
		   info.meta[i].name);
	}
	ok(total <= 2048 && ascii, "the metadata fits S3's 2 KB and is printable ASCII (%zu bytes)", total);

	uint8_t *opened;
	size_t plain;
	ok(try_open(kr, &info, (uint8_t *)out.data, out.len, &opened, &plain, &err) == 0 &&
	   plain == strlen(text) && !memcmp(opened, text, plain), "open gives the plaintext back");
	free(opened);

	/* A second seal: fresh data key and IV. */
	struct buf out2;
	buf_init(&out2, 1 << 20);
	struct store_object_info info2 = {0};
	envelope_seal(kr, "alias/audit", ctx, 1, text, strlen(text), &out2, &info2, NULL, &err);
	ok(strcmp(store_meta_get(&info, "x-amz-iv"), store_meta_get(&info2, "x-amz-iv")) &&
	   strcmp(store_meta_get(&info, "x-amz-key-v2"), store_meta_get(&info2, "x-amz-key-v2")) &&
	   memcmp(out.data, out2.data, out.len), "each seal has its own IV and data key");
	store_object_info_release(&info2);
	buf_release(&out2);

	/* Sizes. */
	static const size_t sizes[] = {0, 1, 16, 100000, 3 << 20};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		struct buf big;
		buf_init(&big, (size_t)8 << 20);
		uint8_t *pt = malloc(sizes[s] + 1);
		crypto_random(pt, sizes[s]);
		struct store_object_info bi = {0};
		int r = envelope_seal(kr, "alias/audit", ctx, 1, pt, sizes[s], &big, &bi, NULL, &err);
		uint8_t *o = NULL;
		size_t pl = 0;
		if (r == 0)
			r = try_open(kr, &bi, (uint8_t *)big.data, big.len, &o, &pl, &err);
		ok(r == 0 && pl == sizes[s] && !memcmp(o, pt, pl), "%zu bytes round trip", sizes[s]);
		free(o);
		free(pt);
		store_object_info_release(&bi);
		buf_release(&big);
	}

	/* Refusals when sealing; out and info stay as they were. */
	struct crypto_context_pair reserved[] = {{"aws:x-amz-cek-alg", "AES/GCM/NoPadding"}};
	size_t before = out.len;
	ok(envelope_seal(kr, "alias/audit", reserved, 1, "x", 1, &out, &info, NULL, &err) == -EINVAL &&
	   !strcmp(err.name, "ValidationException"), "the reserved context key: ValidationException");
	struct crypto_context_pair badutf[] = {{"k", "\xff"}};
	ok(envelope_seal(kr, "alias/audit", badutf, 1, "x", 1, &out, &info, NULL, &err) == -EINVAL,
	   "a context value that is not UTF-8: refused");
	ok(envelope_seal(kr, "alias/none", ctx, 1, "x", 1, &out, &info, NULL, &err) == -ENOENT &&
	   !strcmp(err.name, "NotFoundException"), "an unknown key: NotFoundException");
	ok(out.len == before && info.n_meta == ENVELOPE_META_N, "refused seals leave out and info alone");
	struct store_object_info full = {0};
	char name[16];
	for (int i = 0; i < STORE_META_MAX - ENVELOPE_META_N + 1; i++) {
		snprintf(name, sizeof name, "m%d", i);
		set_meta(&full, name, "v");
	}
	ok(envelope_seal(kr, "alias/audit", ctx, 1, "x", 1, &out, &full, NULL, &err) == -E2BIG &&
	   out.len == before && full.n_meta == STORE_META_MAX - ENVELOPE_META_N + 1,
	   "no room for %d more metadata entries: -E2BIG, nothing added", ENVELOPE_META_N);
	store_object_info_release(&full);
	struct buf tiny;
	buf_init(&tiny, 10);
	struct store_object_info ti = {0};
	ok(envelope_seal(kr, "alias/audit", ctx, 1, text, strlen(text), &tiny, &ti, NULL, &err) == -E2BIG &&
	   tiny.len == 0 && ti.n_meta == 0, "out's cap: -E2BIG, nothing added");
	buf_release(&tiny);

	/* matdesc escaping: ASCII only. */
	struct buf md;
	buf_init(&md, 4096);
	struct crypto_context_pair odd[] = {{"q\"k", "caf\xc3\xa9 \xf0\x9f\x94\x91\n\\"}};
	ok(envelope_matdesc(odd, 1, &md) == 0 &&
	   !strcmp(md.data, "{\"aws:x-amz-cek-alg\":\"AES/GCM/NoPadding\",\"q\\\"k\":\"caf\\u00e9 \\ud83d\\udd11\\u000a\\\\\"}"),
	   "matdesc escapes quotes, control and non-ASCII characters: %s", md.data);
	buf_release(&md);

	store_object_info_release(&info);
	buf_release(&out);
}

/* One sealed object to break in every way. */
static struct buf sealed;
static struct store_object_info sealed_info;

static void test_parse_refusals(struct keyring *kr)
{
	(void)kr;
	struct ct_err err;
	struct envelope_header h;
	struct store_object_info none = {0};
	set_meta(&none, "signature", "abc");
	ok(envelope_parse(&none, &h, &err) == -ENODATA, "no envelope: -ENODATA (a plain object)");
	store_object_info_release(&none);
	enum { SET, DEL };
	static const struct { int op; const char *name, *value, *why; } cases[] = {
		{DEL, "x-amz-key-v2", NULL, "x-amz-key-v2 is missing"},
		{SET, "x-amz-key", "abcd", "mixed"},
		{SET, "x-amz-3", "abcd", "mixed"},
		{SET, "x-amz-c", "115", "mixed"},
		{DEL, "x-amz-cek-alg", NULL, "x-amz-cek-alg"},
		{SET, "x-amz-cek-alg", "AES/CBC/PKCS5Padding", "x-amz-cek-alg"},
		{DEL, "x-amz-wrap-alg", NULL, "x-amz-wrap-alg"},
		{SET, "x-amz-wrap-alg", "kms", "x-amz-wrap-alg"},
		{SET, "x-amz-wrap-alg", "AES/GCM", "x-amz-wrap-alg"},
		{DEL, "x-amz-tag-len", NULL, "x-amz-tag-len"},
		{SET, "x-amz-tag-len", "96", "x-amz-tag-len"},
		{DEL, "x-amz-iv", NULL, "x-amz-iv"},
		{SET, "x-amz-iv", "AAAAAAAAAAAAAAAA", "x-amz-iv"},      /* 12 bytes: valid shape, checked below */
		{SET, "x-amz-iv", "AAAAAAAAAAAAAA==", "x-amz-iv"},      /* 10 bytes */
		{SET, "x-amz-iv", "not base64!!", "x-amz-iv"},
		{SET, "x-amz-key-v2", "AAAA", "x-amz-key-v2"},
		{SET, "x-amz-key-v2", "!!!!", "x-amz-key-v2"},
		{DEL, "x-amz-matdesc", NULL, "x-amz-matdesc is missing"},
		{SET, "x-amz-matdesc", "[]", "not a JSON object"},
		{SET, "x-amz-matdesc", "{", "not a JSON object"},
		{SET, "x-amz-matdesc", "{\"aws:x-amz-cek-alg\":\"AES/GCM/NoPadding\",\"n\":1}", "must be strings"},
		{SET, "x-amz-matdesc", "{\"aws:cloudtrail:arn\":\"" TRAIL "\"}", "aws:x-amz-cek-alg"},
		{SET, "x-amz-matdesc", "{\"aws:x-amz-cek-alg\":\"AES/CBC/PKCS5Padding\"}", "aws:x-amz-cek-alg"},
		{SET, "x-amz-matdesc", "{\"aws:x-amz-cek-alg\":\"AES/GCM/NoPadding\",\"a\":\"1\",\"a\":\"2\"}", "repeats"},
		{SET, "x-amz-unencrypted-content-length", "-1", "decimal"},
		{SET, "x-amz-unencrypted-content-length", "12x", "decimal"},
		{SET, "x-amz-unencrypted-content-length", "", "decimal"},
		{SET, "x-amz-unencrypted-content-length", "99999999999999999999999", "decimal"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct store_object_info info;
		copy_info(&info, &sealed_info);
		if (cases[i].op == SET)
			set_meta(&info, cases[i].name, cases[i].value);
		else
			del_meta(&info, cases[i].name);
		ct_err_clear(&err);
		int r = envelope_parse(&info, &h, &err);
		if (i == 12) {
			/* A well-formed IV of the wrong value parses; opening fails the tag. */
			ok(r == 0, "x-amz-iv replaced by another 12-byte IV still parses");
			if (r == 0)
				envelope_header_release(&h);
		} else {
			ok(r == -EINVAL && !strcmp(err.name, "InvalidEnvelope") && strstr(err.message, cases[i].why),
			   "%s %s%s%s: InvalidEnvelope (%s)", cases[i].op == SET ? "set" : "remove", cases[i].name,
			   cases[i].value ? " = " : "", cases[i].value ? cases[i].value : "", err.message);
		}
		store_object_info_release(&info);
	}
	struct store_object_info ok_info;
	copy_info(&ok_info, &sealed_info);
	del_meta(&ok_info, "x-amz-unencrypted-content-length");
	ok(envelope_parse(&ok_info, &h, &err) == 0 && h.plain_len == -1, "the plaintext length is optional");
	envelope_header_release(&h);
	store_object_info_release(&ok_info);
}

static void test_open_refusals(struct keyring *kr)
{
	struct ct_err err;
	uint8_t *o;
	size_t pl;
	const uint8_t *obj = (const uint8_t *)sealed.data;
	size_t len = sealed.len;
	ok(try_open(kr, &sealed_info, obj, len, &o, &pl, &err) == 0, "the untouched object opens");
	free(o);
	static const struct { const char *name; long at; } flips[] = {
		{"first ciphertext byte", 0}, {"last ciphertext byte", -17}, {"first tag byte", -16},
		{"last tag byte", -1},
	};
	for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
		uint8_t *t = malloc(len);
		memcpy(t, obj, len);
		t[flips[i].at < 0 ? (size_t)((long)len + flips[i].at) : (size_t)flips[i].at] ^= 0x01;
		int r = try_open(kr, &sealed_info, t, len, &o, &pl, &err);
		ok(r == -EBADMSG && !strcmp(err.name, "InvalidCiphertextException") && zero(o, len),
		   "tampered %s: -EBADMSG, buffer wiped", flips[i].name);
		free(o);
		free(t);
	}
	/* Metadata tampering. */
	static const struct { const char *name, *value; int want; const char *err_name; } meta[] = {
		{"x-amz-iv", "AAAAAAAAAAAAAAAA", -EBADMSG, "InvalidCiphertextException"},
		{"x-amz-matdesc", "{\"aws:cloudtrail:arn\":\"arn:aws:cloudtrail:us-east-1:" A ":trail/other\","
		 "\"aws:x-amz-cek-alg\":\"AES/GCM/NoPadding\"}", -EINVAL, "InvalidCiphertextException"},
		{"x-amz-matdesc", "{\"aws:x-amz-cek-alg\":\"AES/GCM/NoPadding\"}", -EINVAL, "InvalidCiphertextException"},
		{"x-amz-unencrypted-content-length", "1", -EINVAL, "InvalidEnvelope"},
	};
	for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
		struct store_object_info info;
		copy_info(&info, &sealed_info);
		set_meta(&info, meta[i].name, meta[i].value);
		int r = try_open(kr, &info, obj, len, &o, &pl, &err);
		ok(r == meta[i].want && !strcmp(err.name, meta[i].err_name) && zero(o, len),
		   "%s changed: %s, buffer wiped (%s)", meta[i].name, meta[i].err_name, err.message);
		free(o);
		store_object_info_release(&info);
	}
	/* The wrapped key: flip a bit inside its IV/key/tag part. */
	{
		struct store_object_info info;
		copy_info(&info, &sealed_info);
		const char *k = store_meta_get(&info, "x-amz-key-v2");
		uint8_t raw[CRYPTO_WRAPPED_LEN];
		size_t n;
		crypto_base64_decode(k, strlen(k), raw, sizeof raw, &n);
		raw[60] ^= 1;
		struct buf b;
		buf_init(&b, 256);
		crypto_base64_encode(raw, n, &b);
		set_meta(&info, "x-amz-key-v2", b.data);
		buf_release(&b);
		int r = try_open(kr, &info, obj, len, &o, &pl, &err);
		ok(r == -EINVAL && !strcmp(err.name, "InvalidCiphertextException") && zero(o, len),
		   "tampered wrapped key: InvalidCiphertextException, buffer wiped");
		free(o);
		store_object_info_release(&info);
	}
	ok(try_open(kr, &sealed_info, obj, 15, &o, &pl, &err) == -EINVAL && zero(o, 15),
	   "an object shorter than its tag: refused, wiped");
	free(o);
	/* The data key held by the caller. */
	struct envelope_header h;
	envelope_parse(&sealed_info, &h, &err);
	uint8_t dk[32], wrong[32] = {0};
	ok(keyring_decrypt(kr, h.wrapped, h.wrapped_len, h.context, h.n_context, dk, NULL, &err) == 0,
	   "the data key unwrapped with the matdesc context");
	uint8_t *t = malloc(len);
	memcpy(t, obj, len);
	ok(envelope_open_with_key(dk, &h, t, len, &pl, &err) == 0, "open with the data key");
	memcpy(t, obj, len);
	ok(envelope_open_with_key(wrong, &h, t, len, &pl, &err) == -EBADMSG && zero(t, len),
	   "open with a wrong data key: -EBADMSG, wiped");
	free(t);
	envelope_header_release(&h);

	/* Key states. */
	struct { const char *name, *err_name; int want; } states[] = {
		{"disabled", "DisabledException", -EINVAL},
		{"pending deletion", "KMSInvalidStateException", -EINVAL},
		{"destroyed", "NotFoundException", -ENOENT},
	};
	ok(keyring_set_enabled(kr, "alias/audit", false, &err) == 0, "disable the key");
	for (size_t i = 0; i < 3; i++) {
		if (i == 1) {
			keyring_set_enabled(kr, "alias/audit", true, &err);
			ok(keyring_schedule_deletion(kr, "alias/audit", 7, T0, NULL, &err) == 0, "schedule deletion");
		}
		if (i == 2) {
			size_t d;
			ok(keyring_expire(kr, T0 + 7 * 86400, &d, NULL, &err) == 0 && d == 1, "the window ends");
		}
		int r = try_open(kr, &sealed_info, obj, len, &o, &pl, &err);
		ok(r == states[i].want && !strcmp(err.name, states[i].err_name) && zero(o, len),
		   "key %s: %s, wiped", states[i].name, states[i].err_name);
		free(o);
	}
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/trailfs-envelope-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	char ring[300];
	snprintf(ring, sizeof ring, "%s/ring", dir);
	struct ct_err err;
	struct keyring *kr = keyring_open(ring, A, R, &err);
	struct keyring_key_info info;
	ok(kr && keyring_create_key(kr, NULL, 0, T0, &info, &err) == 0 &&
	   keyring_create_alias(kr, "alias/audit", info.key_id, &err) == 0, "a ring with alias/audit");
	test_seal_format(kr);
	buf_init(&sealed, 1 << 20);
	static const char text[] = "{\"Records\":[{\"eventName\":\"GetObject\",\"x\":\"0123456789\"}]}";
	ok(envelope_seal(kr, "alias/audit", ctx, 1, text, strlen(text), &sealed, &sealed_info, NULL, &err) == 0,
	   "the object to break");
	test_parse_refusals(kr);
	test_open_refusals(kr);
	store_object_info_release(&sealed_info);
	buf_release(&sealed);
	keyring_close(kr);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
