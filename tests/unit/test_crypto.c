/* Unit tests for backend/crypto.c: AES-256-GCM against the GCM
 * specification's test vectors (McGrew & Viega, test cases 13, 14, 16),
 * streaming against one-shot, every tampering a tag must catch, the
 * canonical context serialisation, key wrapping and its byte format,
 * base64 (RFC 4648 vectors and strictness), and the small helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "tap.h"

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static const struct {
	const char *name, *key, *iv, *pt, *aad, *ct, *tag;
} kat[] = {
	{"GCM spec case 13 (empty)", "0000000000000000000000000000000000000000000000000000000000000000",
	 "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
	{"GCM spec case 14 (one block)",
	 "0000000000000000000000000000000000000000000000000000000000000000",
	 "000000000000000000000000", "00000000000000000000000000000000", "",
	 "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
	{"GCM spec case 16 (AAD, partial block)",
	 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	 "cafebabefacedbaddecaf888",
	 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	 "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	 "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static void test_kat(void)
{
	for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
		uint8_t key[32], iv[12], pt[64], aad[64], ct[64], tag[16], out[64], got_tag[16];
		unhex(kat[i].key, key);
		unhex(kat[i].iv, iv);
		size_t n = unhex(kat[i].pt, pt), an = unhex(kat[i].aad, aad);
		unhex(kat[i].ct, ct);
		unhex(kat[i].tag, tag);
		int r = crypto_gcm_encrypt(key, iv, an ? aad : NULL, an, pt, n, out, got_tag);
		ok(r == 0 && !memcmp(out, ct, n) && !memcmp(got_tag, tag, 16), "%s: encrypt",
		   kat[i].name);
		memset(out, 0xAA, sizeof out);
		r = crypto_gcm_decrypt(key, iv, an ? aad : NULL, an, ct, n, tag, out);
		ok(r == 0 && !memcmp(out, pt, n), "%s: decrypt", kat[i].name);
	}
}

/* Every way to alter a GCM message must fail the tag and leave no plaintext. */
static void test_tamper(void)
{
	uint8_t key[32], iv[12], aad[20], pt[100], ct[100], tag[16], out[100];
	crypto_random(key, sizeof key);
	crypto_random(iv, sizeof iv);
	crypto_random(aad, sizeof aad);
	crypto_random(pt, sizeof pt);
	ok(crypto_gcm_encrypt(key, iv, aad, sizeof aad, pt, sizeof pt, ct, tag) == 0, "encrypt");
	enum { T_CT, T_TAG, T_IV, T_AAD, T_KEY, T_SHORT_AAD, T_NO_AAD };
	static const struct { int what; size_t at; const char *name; } cases[] = {
		{T_CT, 0, "first ciphertext byte"}, {T_CT, 57, "a middle ciphertext byte"},
		{T_CT, 99, "last ciphertext byte"}, {T_TAG, 0, "first tag byte"},
		{T_TAG, 15, "last tag byte"}, {T_IV, 0, "IV byte 0"}, {T_IV, 11, "IV byte 11"},
		{T_AAD, 3, "an AAD byte"}, {T_KEY, 31, "a key byte"},
		{T_SHORT_AAD, 0, "AAD cut short"}, {T_NO_AAD, 0, "AAD left out"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t k[32], v[12], a[20], c[100], t[16];
		memcpy(k, key, 32);
		memcpy(v, iv, 12);
		memcpy(a, aad, 20);
		memcpy(c, ct, 100);
		memcpy(t, tag, 16);
		size_t alen = sizeof a;
		switch (cases[i].what) {
		case T_CT: c[cases[i].at] ^= 1; break;
		case T_TAG: t[cases[i].at] ^= 0x80; break;
		case T_IV: v[cases[i].at] ^= 1; break;
		case T_AAD: a[cases[i].at] ^= 1; break;
		case T_KEY: k[cases[i].at] ^= 1; break;
		case T_SHORT_AAD: alen--; break;
		case T_NO_AAD: alen = 0; break;
		}
		memset(out, 0x55, sizeof out);
		int r = crypto_gcm_decrypt(k, v, alen ? a : NULL, alen, c, sizeof c, t, out);
		ok(r == -EBADMSG && all_zero(out, sizeof out), "tampered %s: -EBADMSG, output wiped",
		   cases[i].name);
	}
	/* In place, tampered: the buffer holding the ciphertext is wiped too. */
	memcpy(out, ct, sizeof out);
	out[5] ^= 4;
	ok(crypto_gcm_decrypt(key, iv, aad, sizeof aad, out, sizeof out, tag, out) == -EBADMSG &&
	   all_zero(out, sizeof out), "tampered, in place: wiped");
	memcpy(out, ct, sizeof out);
	ok(crypto_gcm_decrypt(key, iv, aad, sizeof aad, out, sizeof out, tag, out) == 0 &&
	   !memcmp(out, pt, sizeof pt), "in place decrypt");
}

static void test_streaming(void)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 4095, 65536 + 3, 1 << 20};
	uint8_t key[32], iv[12];
	crypto_random(key, sizeof key);
	crypto_random(iv, sizeof iv);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t n = sizes[s];
		uint8_t *pt = malloc(n + 1), *ct = malloc(n + 1), *st = malloc(n + 1);
		uint8_t *back = malloc(n + 1);
		crypto_random(pt, n);
		uint8_t tag[16], stag[16];
		int r = crypto_gcm_encrypt(key, iv, "x", 1, pt, n, ct, tag);
		struct crypto_gcm *g;
		r |= crypto_gcm_new(true, key, iv, "x", 1, &g);
		/* Uneven pieces: 1, 7, 100, 4096, ... bytes. */
		size_t off = 0, piece = 1;
		while (r == 0 && off < n) {
			size_t m = piece < n - off ? piece : n - off;
			r = crypto_gcm_update(g, pt + off, m, st + off);
			off += m;
			piece = piece * 7 + 3;
		}
		if (r == 0)
			r = crypto_gcm_final_encrypt(g, stag);
		crypto_gcm_free(g);
		ok(r == 0 && !memcmp(ct, st, n) && !memcmp(tag, stag, 16),
		   "%zu bytes: streaming encryption in pieces equals one-shot", n);
		r = crypto_gcm_new(false, key, iv, "x", 1, &g);
		if (r == 0)
			r = crypto_gcm_update(g, ct, n, back);
		if (r == 0)
			r = crypto_gcm_final_decrypt(g, tag);
		crypto_gcm_free(g);
		ok(r == 0 && !memcmp(back, pt, n), "%zu bytes: streaming decryption", n);
		stag[0] ^= 1;
		r = crypto_gcm_new(false, key, iv, "x", 1, &g);
		if (r == 0)
			r = crypto_gcm_update(g, ct, n, back);
		if (r == 0)
			r = crypto_gcm_final_decrypt(g, stag);
		crypto_gcm_free(g);
		ok(r == -EBADMSG, "%zu bytes: streaming decryption refuses a bad tag", n);
		free(pt);
		free(ct);
		free(st);
		free(back);
	}
	struct crypto_gcm *g;
	uint8_t tag[16] = {0}, b[4] = {0};
	ok(crypto_gcm_new(true, key, iv, NULL, 0, &g) == 0, "new encryption");
	ok(crypto_gcm_final_decrypt(g, tag) == -EINVAL, "final_decrypt of an encryption: -EINVAL");
	ok(crypto_gcm_final_encrypt(g, tag) == 0, "final_encrypt");
	ok(crypto_gcm_final_encrypt(g, tag) == -EINVAL, "finishing twice: -EINVAL");
	ok(crypto_gcm_update(g, b, 4, b) == -EINVAL, "update after final: -EINVAL");
	crypto_gcm_free(g);
	ok(crypto_gcm_new(false, key, iv, NULL, 0, &g) == 0, "new decryption");
	ok(crypto_gcm_final_encrypt(g, tag) == -EINVAL, "final_encrypt of a decryption: -EINVAL");
	crypto_gcm_free(g);
	crypto_gcm_free(NULL);
	ok(crypto_gcm_new(true, key, iv, NULL, 5, &g) == -EINVAL && !g,
	   "AAD length without AAD: -EINVAL");
}

static void test_context(void)
{
	struct buf b;
	buf_init(&b, 4096);
	struct crypto_context_pair ctx[] = {{"b", "2"}, {"a", "1"}};
	static const uint8_t want[] = {0, 0, 0, 2, 0, 0, 0, 1, 'a', 0, 0, 0, 1, '1',
				       0, 0, 0, 1, 'b', 0, 0, 0, 1, '2'};
	ok(crypto_context_serialize(ctx, 2, &b) == 0 && b.len == sizeof want &&
	   !memcmp(b.data, want, sizeof want), "serialisation: count, then sorted length-prefixed pairs");
	buf_reset(&b);
	struct crypto_context_pair rev[] = {{"a", "1"}, {"b", "2"}};
	ok(crypto_context_serialize(rev, 2, &b) == 0 && b.len == sizeof want &&
	   !memcmp(b.data, want, sizeof want), "serialisation does not depend on the order given");
	buf_reset(&b);
	ok(crypto_context_serialize(NULL, 0, &b) == 0 && b.len == 4 && all_zero((uint8_t *)b.data, 4),
	   "empty context: four zero bytes");
	/* "ab"+"c" and "a"+"bc" must differ: lengths make it unambiguous. */
	struct buf b2;
	buf_init(&b2, 4096);
	buf_reset(&b);
	struct crypto_context_pair x[] = {{"ab", "c"}}, y[] = {{"a", "bc"}};
	crypto_context_serialize(x, 1, &b);
	crypto_context_serialize(y, 1, &b2);
	ok(b.len == b2.len && memcmp(b.data, b2.data, b.len), "no two contexts share a serialisation");
	buf_release(&b2);
	/* Unsigned byte order: 0xC3 sorts after 'z'. */
	buf_reset(&b);
	struct crypto_context_pair u[] = {{"\xc3\xa9", "1"}, {"z", "2"}};
	ok(crypto_context_serialize(u, 2, &b) == 0 && b.data[8] == 'z', "keys sort by unsigned bytes");

	char *big = malloc(CRYPTO_CONTEXT_MAX + 2);
	memset(big, 'v', CRYPTO_CONTEXT_MAX + 1);
	big[CRYPTO_CONTEXT_MAX + 1] = '\0';
	struct crypto_context_pair many[CRYPTO_CONTEXT_PAIRS_MAX + 1];
	char names[CRYPTO_CONTEXT_PAIRS_MAX + 1][8];
	for (int i = 0; i <= CRYPTO_CONTEXT_PAIRS_MAX; i++) {
		snprintf(names[i], sizeof names[i], "k%d", i);
		many[i] = (struct crypto_context_pair){names[i], "v"};
	}
	static const struct {
		const char *name;
		struct crypto_context_pair p[2];
		size_t n;
	} bad[] = {
		{"a repeated key", {{"a", "1"}, {"a", "2"}}, 2},
		{"an empty key", {{"", "1"}}, 1},
		{"a NULL key", {{NULL, "1"}}, 1},
		{"a NULL value", {{"a", NULL}}, 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_reset(&b);
		ok(crypto_context_serialize(bad[i].p, bad[i].n, &b) == -EINVAL, "refused: %s",
		   bad[i].name);
	}
	buf_reset(&b);
	ok(crypto_context_serialize(many, CRYPTO_CONTEXT_PAIRS_MAX + 1, &b) == -EINVAL,
	   "refused: more than %d pairs", CRYPTO_CONTEXT_PAIRS_MAX);
	buf_reset(&b);
	ok(crypto_context_serialize(many, CRYPTO_CONTEXT_PAIRS_MAX, &b) == 0, "%d pairs pass",
	   CRYPTO_CONTEXT_PAIRS_MAX);
	struct crypto_context_pair huge[] = {{"k", big}};
	buf_reset(&b);
	ok(crypto_context_serialize(huge, 1, &b) == -EINVAL, "refused: over %d bytes",
	   CRYPTO_CONTEXT_MAX);
	free(big);
	buf_release(&b);
}

#define ID "0b5c3a4e-1f2d-4c6b-8a9e-0123456789ab"

static void test_wrap(void)
{
	uint8_t ring[32], other[32], dk[32], blob[CRYPTO_WRAPPED_LEN], back[32], blob2[CRYPTO_WRAPPED_LEN];
	crypto_random(ring, 32);
	crypto_random(other, 32);
	crypto_random(dk, 32);
	struct crypto_context_pair ctx[] = {{"aws:cloudtrail:arn", "arn:aws:cloudtrail:us-east-1:123456789012:trail/t"},
					    {"aws:x-amz-cek-alg", "AES/GCM/NoPadding"}};
	ok(CRYPTO_WRAPPED_LEN == 97, "the wrapped key is 97 bytes");
	ok(crypto_wrap_key(ring, ID, dk, ctx, 2, blob) == 0, "wrap");
	ok(blob[0] == CRYPTO_WRAP_VERSION && !memcmp(blob + 1, ID, 36), "byte 0 the version, 1..36 the key id");
	ok(crypto_wrap_key(ring, ID, dk, ctx, 2, blob2) == 0 && memcmp(blob + 37, blob2 + 37, 12),
	   "a fresh IV every wrap");
	char id[37];
	ok(crypto_wrapped_key_id(blob, sizeof blob, id) == 0 && !strcmp(id, ID), "key id read back");
	ok(crypto_unwrap_key(ring, blob, sizeof blob, ctx, 2, back) == 0 && !memcmp(back, dk, 32),
	   "unwrap with the same context");
	struct crypto_context_pair swapped[] = {ctx[1], ctx[0]};
	ok(crypto_unwrap_key(ring, blob, sizeof blob, swapped, 2, back) == 0 && !memcmp(back, dk, 32),
	   "unwrap with the context's pairs in another order");
	/* The AAD binds the blob's bytes 0..36 and the context; 37..96 are IV, key and tag. */
	static const struct { size_t at; int want; const char *name; } flips[] = {
		{0, -EINVAL, "version"}, {1, -EBADMSG, "key id (still a UUID)"},
		{37, -EBADMSG, "IV"}, {48, -EBADMSG, "IV's last byte"}, {49, -EBADMSG, "wrapped key"},
		{80, -EBADMSG, "wrapped key's last byte"}, {81, -EBADMSG, "tag"},
		{96, -EBADMSG, "tag's last byte"},
	};
	for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
		uint8_t t[CRYPTO_WRAPPED_LEN];
		memcpy(t, blob, sizeof t);
		/* '0' <-> '1' keeps a key id a UUID. */
		t[flips[i].at] ^= 1;
		memset(back, 0x77, 32);
		int r = crypto_unwrap_key(ring, t, sizeof t, ctx, 2, back);
		ok(r == flips[i].want && all_zero(back, 32), "tampered %s: %d, key wiped", flips[i].name, r);
	}
	uint8_t t[CRYPTO_WRAPPED_LEN];
	memcpy(t, blob, sizeof t);
	t[5] = 'X';
	ok(crypto_unwrap_key(ring, t, sizeof t, ctx, 2, back) == -EINVAL, "a key id that is no UUID: -EINVAL");
	ok(crypto_unwrap_key(ring, blob, sizeof blob - 1, ctx, 2, back) == -EINVAL, "a short blob: -EINVAL");
	ok(crypto_unwrap_key(other, blob, sizeof blob, ctx, 2, back) == -EBADMSG, "another ring key: -EBADMSG");
	struct crypto_context_pair wrong_value[] = {{"aws:cloudtrail:arn", "arn:aws:cloudtrail:us-east-1:123456789012:trail/u"}, ctx[1]};
	ok(crypto_unwrap_key(ring, blob, sizeof blob, wrong_value, 2, back) == -EBADMSG, "another context value: -EBADMSG");
	ok(crypto_unwrap_key(ring, blob, sizeof blob, ctx, 1, back) == -EBADMSG, "a pair missing: -EBADMSG");
	ok(crypto_unwrap_key(ring, blob, sizeof blob, NULL, 0, back) == -EBADMSG, "no context: -EBADMSG");
	struct crypto_context_pair extra[] = {ctx[0], ctx[1], {"aws:s3:arn", "arn:aws:s3:::b/k"}};
	ok(crypto_unwrap_key(ring, blob, sizeof blob, extra, 3, back) == -EBADMSG, "an extra pair: -EBADMSG");
	ok(crypto_wrap_key(ring, "not-a-uuid", dk, ctx, 2, blob2) == -EINVAL, "wrap for a bad key id: -EINVAL");
	struct crypto_context_pair dup[] = {ctx[0], ctx[0]};
	ok(crypto_wrap_key(ring, ID, dk, dup, 2, blob2) == -EINVAL, "wrap with a repeated key: -EINVAL");
}

static void test_base64(void)
{
	static const struct { const char *raw, *b64; } v[] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"\xff\xfe\xfd", "//79"},
	};
	struct buf b;
	buf_init(&b, 1024);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		buf_reset(&b);
		uint8_t out[16];
		size_t n;
		ok(crypto_base64_encode(v[i].raw, strlen(v[i].raw), &b) == 0 && !strcmp(buf_str(&b), v[i].b64),
		   "encode \"%s\"", v[i].b64);
		ok(crypto_base64_decode(v[i].b64, strlen(v[i].b64), out, sizeof out, &n) == 0 &&
		   n == strlen(v[i].raw) && !memcmp(out, v[i].raw, n), "decode \"%s\"", v[i].b64);
	}
	static const char *const bad[] = {"Zg=", "Zg", "Z===", "Zh==", "Zm9=", "Zm 9v", "Zm9v\n",
					  "Zm-v", "Zm_v", "=m9v", "Zg==Zm9v", "Zm=v"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t out[16];
		size_t n;
		ok(crypto_base64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n) == -EINVAL,
		   "decode refuses \"%s\"", bad[i]);
	}
	uint8_t small[2];
	size_t n;
	ok(crypto_base64_decode("Zm9v", 4, small, sizeof small, &n) == -E2BIG, "decode past cap: -E2BIG");
	buf_release(&b);
}

static void test_helpers(void)
{
	char a[37], b[37];
	ok(crypto_uuid(a) == 0 && crypto_uuid(b) == 0 && crypto_uuid_ok(a) && strcmp(a, b) &&
	   a[14] == '4' && strchr("89ab", a[19]), "UUIDs: version 4, distinct, well-formed");
	static const char *const not_uuids[] = {"", "0B5C3A4E-1F2D-4C6B-8A9E-0123456789AB",
		"0b5c3a4e-1f2d-4c6b-8a9e-0123456789a", "0b5c3a4e-1f2d-4c6b-8a9e-0123456789abc",
		"0b5c3a4e_1f2d-4c6b-8a9e-0123456789ab", "../../../../etc/passwd-0123456789ab"};
	for (size_t i = 0; i < sizeof not_uuids / sizeof not_uuids[0]; i++)
		ok(!crypto_uuid_ok(not_uuids[i]), "not a key id: \"%s\"", not_uuids[i]);
	ok(!crypto_uuid_ok(NULL), "NULL is no key id");
	uint8_t x[16] = {1, 2, 3}, y[16] = {1, 2, 3};
	ok(crypto_equal(x, y, 16), "equal");
	y[15] = 9;
	ok(!crypto_equal(x, y, 16), "different in the last byte");
	ok(crypto_equal(x, y, 0), "zero bytes are equal");
	crypto_wipe(x, sizeof x);
	ok(all_zero(x, sizeof x), "wipe clears");
	crypto_wipe(NULL, 0);
	uint8_t r1[32], r2[32];
	ok(crypto_random(r1, 32) == 0 && crypto_random(r2, 32) == 0 && memcmp(r1, r2, 32),
	   "random bytes differ");
	ok(crypto_random(NULL, 0) == 0, "zero random bytes");
}

int main(void)
{
	test_kat();
	test_tamper();
	test_streaming();
	test_context();
	test_wrap();
	test_base64();
	test_helpers();
	return tap_done();
}
