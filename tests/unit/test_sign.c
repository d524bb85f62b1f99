/* Unit tests for backend/sign.c: SHA-256 and fingerprint vectors (a key AWS
 * published), the string to sign, SHA256withRSA round trips and checks by
 * openssl(1) both ways, the key ring's files and modes, rotation, reopening,
 * damaged and untidy ring directories, and refused region names. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "sign.h"
#include "tap.h"
#include "testdir.h"

#define OPENSSL "openssl"
#define T0 1767225600        /* 2026-01-01T00:00:00Z */
#define HOUR 3600
#define BIG (1024u * 1024)

static char root[64];

/* ---- helpers ---------------------------------------------------------------- */

static int b64_value(char c)
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

/* Decode base64 (no line breaks) into out; its length. */
static size_t b64_decode(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		int v = b64_value(*s);
		if (v < 0)
			abort();
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				abort();
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

static size_t hex_decode(const char *s, unsigned char *out, size_t cap)
{
	size_t n = strlen(s) / 2;
	if (n > cap)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
	return n;
}

static bool lower_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool write_bytes(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	bool good = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && good;
}

/* Everything a shell command prints on stdout, into out; its exit status, or -1. */
static int run_capture(const char *cmd, struct buf *out)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_add(out, chunk, n) < 0) {
			pclose(f);
			return -1;
		}
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool have_openssl(void)
{
	struct buf out;
	buf_init(&out, BIG);
	int st = run_capture(OPENSSL " version 2>/dev/null", &out);
	buf_release(&out);
	return st == 0;
}

static mode_t file_mode(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void path_in(char *out, size_t size, const char *ring, const char *region,
		    const char *name)
{
	snprintf(out, size, "%s/%s/%s", ring, region, name);
}

static void key_path(char *out, size_t size, const char *ring, const char *region,
		     const char *fp, const char *ext)
{
	char name[64];
	snprintf(name, sizeof name, "%s%s", fp, ext);
	path_in(out, size, ring, region, name);
}

/* The fingerprint of region's current key, via sign_current. */
static bool current_fp(struct sign *s, const char *region, int64_t now, char fp[33])
{
	struct sign_key *k = NULL;
	struct ct_err err;
	ct_err_clear(&err);
	int r = sign_current(s, region, now, &k, &err);
	if (r < 0) {
		diag("sign_current(%s): %d %s: %s", region, r, err.name, err.message);
		return false;
	}
	snprintf(fp, 33, "%s", sign_key_fingerprint(k));
	sign_key_free(k);
	return true;
}

/* ---- a key AWS published -------------------------------------------------------- */

/* ListPublicKeys's example output in the aws CLI's documentation
 * (awscli/examples/cloudtrail/list-public-keys.rst): a PKCS#1 Value and the
 * fingerprint AWS gave it. */
static const char AWS_VALUE[] =
	"MIIBCgKCAQEAlSS3cl92HDycr/MTj0moOhas8habjrraXw+KzlWF0axSI2tcF+3iJ9BKQAVSKxGwxwu3m0wG3J+k"
	"Ul1xboEcEPHYoIYMbgfSw7KGnuDKwkLzsQWhUJ0cIbOHASox1vv/5fNXkrHhGbDCHeVXm804c83nvHUEFYThr1Pf"
	"yP/8HwrCtR3FX5OANtQCP61C1nJtSSkC8JSQUOrIP4CuwJjc+4WGDk+BGH5m9iuiAKkipEHWmUl8/P7XpfpWQuk4"
	"h8g3pXZOrNXr08lbh4d39svj7UqdhvOXoBISp9t/EXYuePGEtBdrKD9Dz+VHwyUPtBQvYr9BnkF88qBnaPNhS44r"
	"zwIDAQAB";
static const char AWS_FINGERPRINT[] = "7f3f401420072e50a65a141430817ab3";
#define AWS_START 1453076702
#define AWS_END 1455668702
/* The same key as `openssl rsa -pubin -RSAPublicKey_in -inform DER
 * -RSAPublicKey_out` prints it. */
static const char AWS_PEM[] =
	"-----BEGIN RSA PUBLIC KEY-----\n"
	"MIIBCgKCAQEAlSS3cl92HDycr/MTj0moOhas8habjrraXw+KzlWF0axSI2tcF+3i\n"
	"J9BKQAVSKxGwxwu3m0wG3J+kUl1xboEcEPHYoIYMbgfSw7KGnuDKwkLzsQWhUJ0c\n"
	"IbOHASox1vv/5fNXkrHhGbDCHeVXm804c83nvHUEFYThr1PfyP/8HwrCtR3FX5OA\n"
	"NtQCP61C1nJtSSkC8JSQUOrIP4CuwJjc+4WGDk+BGH5m9iuiAKkipEHWmUl8/P7X\n"
	"pfpWQuk4h8g3pXZOrNXr08lbh4d39svj7UqdhvOXoBISp9t/EXYuePGEtBdrKD9D\n"
	"z+VHwyUPtBQvYr9BnkF88qBnaPNhS44rzwIDAQAB\n"
	"-----END RSA PUBLIC KEY-----\n";
/* The same key as X.509 SubjectPublicKeyInfo, which validate-logs refuses. */
static const char AWS_SPKI[] =
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlSS3cl92HDycr/MTj0moOhas8habjrraXw+KzlWF0axS"
	"I2tcF+3iJ9BKQAVSKxGwxwu3m0wG3J+kUl1xboEcEPHYoIYMbgfSw7KGnuDKwkLzsQWhUJ0cIbOHASox1vv/5fNX"
	"krHhGbDCHeVXm804c83nvHUEFYThr1PfyP/8HwrCtR3FX5OANtQCP61C1nJtSSkC8JSQUOrIP4CuwJjc+4WGDk+B"
	"GH5m9iuiAKkipEHWmUl8/P7XpfpWQuk4h8g3pXZOrNXr08lbh4d39svj7UqdhvOXoBISp9t/EXYuePGEtBdrKD9D"
	"z+VHwyUPtBQvYr9BnkF88qBnaPNhS44rzwIDAQAB";

/* ---- pure functions ---------------------------------------------------------------- */

static void test_sha256(void)
{
	static const struct {
		const char *in;
		const char *hex;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "The quick brown fox jumps over the lazy dog",
		  "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char hex[SIGN_SHA256_HEX_LEN + 1];
		int r = sign_sha256_hex(v[i].in, strlen(v[i].in), hex);
		ok(r == 0 && !strcmp(hex, v[i].hex), "sha256 of \"%.20s\" = %.16s...", v[i].in, v[i].hex);
	}
}

static void test_data_to_sign(void)
{
	static const char KEY[] = "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/"
				  "111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_"
				  "20150817T150131Z.json.gz";
	static const char HASH[] = "4ea57fe6e1f2d8c1bb4d1f6a8d1d28e6b3bcd4f5a5f40bd0d7f5b2b8e8d59f38";
	static const struct {
		const char *name;
		const char *prev;
		const char *want;
	} v[] = {
		{ "linked", "50887c0123ab328a",
		  "2015-08-17T15:01:31Z\nS3-bucket-name/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/"
		  "2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_"
		  "20150817T150131Z.json.gz\n"
		  "4ea57fe6e1f2d8c1bb4d1f6a8d1d28e6b3bcd4f5a5f40bd0d7f5b2b8e8d59f38\n50887c0123ab328a" },
		{ "chain start", NULL,
		  "2015-08-17T15:01:31Z\nS3-bucket-name/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/"
		  "2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_"
		  "20150817T150131Z.json.gz\n"
		  "4ea57fe6e1f2d8c1bb4d1f6a8d1d28e6b3bcd4f5a5f40bd0d7f5b2b8e8d59f38\nnull" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct buf b;
		buf_init(&b, BIG);
		int r = sign_data_to_sign("2015-08-17T15:01:31Z", "S3-bucket-name", KEY, HASH, v[i].prev, &b);
		ok(r == 0 && !strcmp(buf_str(&b), v[i].want), "string to sign: %s", v[i].name);
		ok(b.len && b.data[b.len - 1] != '\n', "string to sign: %s: no trailing newline", v[i].name);
		buf_release(&b);
	}

	struct buf b;
	buf_init(&b, BIG);
	buf_puts(&b, "X");
	int r = sign_data_to_sign("t", "b", "k", "h", "p", &b);
	ok(r == 0 && !strcmp(buf_str(&b), "Xt\nb/k\nh\np"), "string to sign appends");
	buf_reset(&b);
	ok(sign_data_to_sign(NULL, "b", "k", "h", NULL, &b) == -EINVAL &&
	   sign_data_to_sign("t", NULL, "k", "h", NULL, &b) == -EINVAL &&
	   sign_data_to_sign("t", "b", NULL, "h", NULL, &b) == -EINVAL &&
	   sign_data_to_sign("t", "b", "k", NULL, NULL, &b) == -EINVAL && b.len == 0,
	   "string to sign: a missing part is -EINVAL");
	char *huge = malloc(SIGN_DATA_MAX + 1);
	memset(huge, 'k', SIGN_DATA_MAX);
	huge[SIGN_DATA_MAX] = '\0';
	ok(sign_data_to_sign("t", "b", huge, "h", NULL, &b) == -E2BIG && b.len == 0,
	   "string to sign past SIGN_DATA_MAX is -E2BIG");
	free(huge);
	buf_release(&b);
	buf_init(&b, 8);
	ok(sign_data_to_sign("t", "b", "key-too-long", "h", NULL, &b) == -E2BIG,
	   "string to sign past the buffer's cap is -E2BIG");
	buf_release(&b);
}

static void test_known_key(void)
{
	unsigned char der[1024], spki[1024];
	size_t n = b64_decode(AWS_VALUE, der, sizeof der);
	size_t ns = b64_decode(AWS_SPKI, spki, sizeof spki);
	char fp[SIGN_FINGERPRINT_LEN + 1] = "";
	ok(n == 270 && der[0] == 0x30 && sign_fingerprint(der, n, fp) == 0 &&
	   !strcmp(fp, AWS_FINGERPRINT),
	   "fingerprint of AWS's published key is AWS's (%s)", fp);
	ok(sign_fingerprint(spki, ns, fp) == -EINVAL, "SubjectPublicKeyInfo is not a PKCS#1 key");
	ok(sign_fingerprint(der, n - 1, fp) == -EINVAL, "a truncated key is refused");
	unsigned char longer[1024];
	memcpy(longer, der, n);
	longer[n] = 0;
	ok(sign_fingerprint(longer, n + 1, fp) == -EINVAL, "a key with a byte after it is refused");
	ok(sign_fingerprint(der, 0, fp) == -EINVAL, "an empty key is refused");
	ok(sign_verify(spki, ns, "x", 1, "00") == -EINVAL,
	   "sign_verify: SubjectPublicKeyInfo does not load (-EINVAL)");
	char bad_sig[SIGN_SIGNATURE_HEX_LEN + 1];
	memset(bad_sig, 'a', SIGN_SIGNATURE_HEX_LEN);
	bad_sig[SIGN_SIGNATURE_HEX_LEN] = '\0';
	ok(sign_verify(der, n, "x", 1, bad_sig) == -EBADMSG,
	   "sign_verify: a wrong signature under AWS's key is -EBADMSG");
}

/* ---- the ring ------------------------------------------------------------------------ */

static void test_first_use(const char *ring, bool openssl_ok)
{
	struct ct_err err;
	struct sign *s = sign_open(ring, &err);
	ok(s != NULL && file_mode(ring) == 0700, "sign_open creates the ring directory, mode 0700");

	struct sign_public_key *keys = NULL;
	size_t n = 99;
	int r = sign_list(s, "us-east-1", &keys, &n, &err);
	char p[512];
	path_in(p, sizeof p, ring, "us-east-1", "index.json");
	ok(r == 0 && n == 0 && keys == NULL && !exists(p), "a region never used lists no keys, makes none");

	struct sign_key *k = NULL;
	r = sign_current(s, "us-east-1", T0, &k, &err);
	ok(r == 0 && k && lower_hex(sign_key_fingerprint(k), SIGN_FINGERPRINT_LEN) &&
	   sign_key_start(k) == T0, "first use makes a key (fingerprint %s)", k ? sign_key_fingerprint(k) : "-");
	char fp[33];
	snprintf(fp, sizeof fp, "%s", k ? sign_key_fingerprint(k) : "");

	key_path(p, sizeof p, ring, "us-east-1", fp, ".key");
	ok(file_mode(p) == 0600, "the private key file is mode 0600 (%o)", (unsigned)file_mode(p));
	char dir[512];
	snprintf(dir, sizeof dir, "%s/us-east-1", ring);
	ok(file_mode(dir) == 0700, "the region's directory is mode 0700");
	key_path(p, sizeof p, ring, "us-east-1", fp, ".pub");
	ok(exists(p), "the public key file exists");
	path_in(p, sizeof p, ring, "us-east-1", "index.json");
	FILE *f = fopen(p, "r");
	char chunk[4096];
	size_t got = f ? fread(chunk, 1, sizeof chunk - 1, f) : 0;
	if (f)
		fclose(f);
	chunk[got] = '\0';
	char want[256];
	snprintf(want, sizeof want,
		 "{\"format\":1,\"keys\":[{\"Fingerprint\":\"%s\",\"ValidityStartTime\":%d,"
		 "\"ValidityEndTime\":0}]}", fp, T0);
	ok(!strcmp(chunk, want), "index.json: %s", chunk);

	char again[33];
	ok(current_fp(s, "us-east-1", T0 + HOUR, again) && !strcmp(again, fp),
	   "the next call gives the same key");

	r = sign_list(s, "us-east-1", &keys, &n, &err);
	ok(r == 0 && n == 1, "one key listed");
	if (r == 0 && n == 1) {
		char fp2[33];
		ok(!strcmp(keys[0].fingerprint, fp) && keys[0].start == T0 && keys[0].end == 0,
		   "listed: fingerprint, start, end 0 (current)");
		ok(keys[0].der_len == 270 && !memcmp(keys[0].der, "\x30\x82\x01\x0a\x02\x82\x01\x01\x00", 9),
		   "listed DER is a PKCS#1 RSAPublicKey of a 2048-bit key (%zu bytes)", keys[0].der_len);
		ok(sign_fingerprint(keys[0].der, keys[0].der_len, fp2) == 0 && !strcmp(fp2, fp),
		   "the fingerprint is the MD5 of the listed DER");
		ok(!strncmp(keys[0].pem, "-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA", 43) &&
		   strstr(keys[0].pem, "\n-----END RSA PUBLIC KEY-----\n") &&
		   keys[0].pem[strlen(keys[0].pem) - 1] == '\n', "listed PEM is PKCS#1 (MIIBCgKCAQEA...)");

		/* Sign, then verify in-process and with openssl(1). */
		static const char DATA[] = "2026-01-01T01:00:00Z\nbucket/AWSLogs/key.json.gz\n"
					   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nnull";
		char sig[SIGN_SIGNATURE_HEX_LEN + 1] = "", sig2[SIGN_SIGNATURE_HEX_LEN + 1] = "";
		r = sign_sign(k, DATA, strlen(DATA), sig);
		ok(r == 0 && lower_hex(sig, SIGN_SIGNATURE_HEX_LEN), "signature is 512 lowercase hex");
		ok(sign_sign(k, DATA, strlen(DATA), sig2) == 0 && !strcmp(sig, sig2),
		   "PKCS#1 v1.5 is deterministic: the same data signs the same");
		ok(sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA), sig) == 0,
		   "round trip: the signature verifies");
		char upper[SIGN_SIGNATURE_HEX_LEN + 1];
		for (size_t i = 0; i <= SIGN_SIGNATURE_HEX_LEN; i++)
			upper[i] = (sig[i] >= 'a' && sig[i] <= 'f') ? (char)(sig[i] - 32) : sig[i];
		ok(sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA), upper) == 0,
		   "sign_verify takes uppercase hex too (unhexlify does)");
		ok(sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA) - 1, sig) == -EBADMSG,
		   "other data: -EBADMSG");
		char tampered[SIGN_SIGNATURE_HEX_LEN + 1];
		memcpy(tampered, sig, sizeof tampered);
		tampered[100] = tampered[100] == '0' ? '1' : '0';
		ok(sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA), tampered) == -EBADMSG,
		   "a changed signature: -EBADMSG");
		ok(sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA), "abc") == -EBADMSG &&
		   sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA), "") == -EBADMSG &&
		   sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA), NULL) == -EBADMSG &&
		   sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA), "zz") == -EBADMSG,
		   "odd, empty, missing or non-hex signatures: -EBADMSG");
		ok(sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA), sig + 2) == -EBADMSG,
		   "a short signature: -EBADMSG");

		if (!openssl_ok) {
			ok(1, "# SKIP openssl(1) not installed");
		} else {
			char pem_path[512], sig_path[512], data_path[512], cmd[2048];
			snprintf(pem_path, sizeof pem_path, "%s/pub.pem", root);
			snprintf(sig_path, sizeof sig_path, "%s/sig.bin", root);
			snprintf(data_path, sizeof data_path, "%s/data", root);
			unsigned char raw[SIGN_SIGNATURE_HEX_LEN / 2];
			size_t raw_len = hex_decode(sig, raw, sizeof raw);
			write_bytes(pem_path, keys[0].pem, strlen(keys[0].pem));
			write_bytes(sig_path, raw, raw_len);
			write_bytes(data_path, DATA, strlen(DATA));
			struct buf out;
			buf_init(&out, BIG);
			snprintf(cmd, sizeof cmd, OPENSSL " dgst -sha256 -verify %s -signature %s %s 2>&1",
				 pem_path, sig_path, data_path);
			int st = run_capture(cmd, &out);
			ok(st == 0 && !strcmp(buf_str(&out), "Verified OK\n"),
			   "openssl dgst -sha256 -verify accepts the signature: %s", buf_str(&out));
			write_bytes(data_path, DATA, strlen(DATA) - 1);
			buf_reset(&out);
			st = run_capture(cmd, &out);
			ok(st != 0, "openssl dgst -verify refuses it over other data");

			buf_reset(&out);
			snprintf(cmd, sizeof cmd,
				 OPENSSL " rsa -pubin -in %s -RSAPublicKey_out -outform DER 2>/dev/null | md5sum",
				 pem_path);
			st = run_capture(cmd, &out);
			ok(st == 0 && !strncmp(buf_str(&out), fp, SIGN_FINGERPRINT_LEN),
			   "openssl rsa -pubin -RSAPublicKey_out -outform DER | md5sum = the fingerprint");

			/* The private key file is a standard PKCS#1 DER, and
			 * openssl signing with it gives our bytes exactly. */
			char key_file[512];
			key_path(key_file, sizeof key_file, ring, "us-east-1", fp, ".key");
			write_bytes(data_path, DATA, strlen(DATA));
			buf_reset(&out);
			snprintf(cmd, sizeof cmd,
				 OPENSSL " dgst -sha256 -sign %s -keyform DER %s 2>/dev/null | od -An -v -tx1 | tr -d ' \\n'",
				 key_file, data_path);
			st = run_capture(cmd, &out);
			ok(st == 0 && !strcmp(buf_str(&out), sig),
			   "openssl dgst -sha256 -sign with the key file gives the same signature");
			buf_reset(&out);
			snprintf(cmd, sizeof cmd,
				 OPENSSL " asn1parse -inform DER -in %s 2>/dev/null | head -2 | tail -1", key_file);
			st = run_capture(cmd, &out);
			ok(st == 0 && strstr(buf_str(&out), "INTEGER") && strstr(buf_str(&out), ":00"),
			   "the key file is an RSAPrivateKey (version 0 first)");
			buf_release(&out);
		}
	}
	sign_public_keys_free(keys, n);
	sign_key_free(k);
	sign_close(s);
}

static void test_rotation(const char *ring)
{
	struct ct_err err;
	struct sign *s = sign_open(ring, &err);
	char first[33], second[33], third[33];
	current_fp(s, "us-east-1", T0, first);

	struct sign_key *old = NULL;
	sign_current(s, "us-east-1", T0, &old, &err);
	static const char DATA[] = "signed before rotation";
	char old_sig[SIGN_SIGNATURE_HEX_LEN + 1];
	sign_sign(old, DATA, strlen(DATA), old_sig);

	int r = sign_rotate(s, "us-east-1", T0 + 10 * HOUR, &err);
	ok(r == 0, "rotate");
	ok(current_fp(s, "us-east-1", T0 + 11 * HOUR, second) && strcmp(second, first),
	   "after rotation the current key is new");
	char p[512];
	key_path(p, sizeof p, ring, "us-east-1", first, ".key");
	ok(!exists(p), "the retired key's private half is gone");
	key_path(p, sizeof p, ring, "us-east-1", first, ".pub");
	ok(exists(p), "the retired key's public half stays");
	key_path(p, sizeof p, ring, "us-east-1", second, ".key");
	ok(file_mode(p) == 0600, "the new private key is mode 0600");
	char sig[SIGN_SIGNATURE_HEX_LEN + 1];
	ok(sign_sign(old, DATA, strlen(DATA), sig) == 0 && !strcmp(sig, old_sig),
	   "a key handed out before rotation still signs (it is the holder's)");
	sign_key_free(old);

	ok(sign_rotate(s, "us-east-1", T0 + 20 * HOUR, &err) == 0 &&
	   current_fp(s, "us-east-1", T0 + 20 * HOUR, third) && strcmp(third, second) &&
	   strcmp(third, first), "rotate again");

	struct sign_public_key *keys = NULL;
	size_t n = 0;
	r = sign_list(s, "us-east-1", &keys, &n, &err);
	ok(r == 0 && n == 3, "three keys listed after two rotations");
	if (r == 0 && n == 3) {
		ok(!strcmp(keys[0].fingerprint, first) && keys[0].start == T0 &&
		   keys[0].end == T0 + 10 * HOUR, "first key: window [T0, T0+10h]");
		ok(!strcmp(keys[1].fingerprint, second) && keys[1].start == T0 + 10 * HOUR &&
		   keys[1].end == T0 + 20 * HOUR, "second key: window [T0+10h, T0+20h]");
		ok(!strcmp(keys[2].fingerprint, third) && keys[2].start == T0 + 20 * HOUR &&
		   keys[2].end == 0, "third key: current from T0+20h");
		ok(sign_verify(keys[0].der, keys[0].der_len, DATA, strlen(DATA), old_sig) == 0,
		   "a retired key's public half still verifies what it signed");
		ok(sign_verify(keys[2].der, keys[2].der_len, DATA, strlen(DATA), old_sig) == -EBADMSG,
		   "the new key does not verify the old key's signature");
	}
	sign_public_keys_free(keys, n);

	ct_err_clear(&err);
	r = sign_rotate(s, "us-east-1", T0 + 19 * HOUR, &err);
	ok(r == -EINVAL && !strcmp(err.name, "InvalidTimeRangeException"),
	   "rotating before the current key's start is refused: %s", err.message);
	ok(sign_rotate(s, "us-east-1", 0, &err) == -EINVAL, "rotating at 0 is refused");
	ok(sign_rotate(s, "us-east-1", SIGN_TIME_MAX + 1, &err) == -EINVAL,
	   "rotating past 9999 is refused");
	struct sign_key *k = NULL;
	ok(sign_current(s, "us-east-1", -1, &k, &err) == -EINVAL && !k, "a negative time is refused");
	r = sign_list(s, "us-east-1", &keys, &n, &err);
	ok(r == 0 && n == 3 && keys[2].end == 0, "refused rotations changed nothing");
	sign_public_keys_free(keys, n);

	ok(sign_rotate(s, "us-east-1", T0 + 20 * HOUR, &err) == 0, "rotating at the current key's start is allowed");

	/* Regions have their own rings. */
	char eu[33];
	ok(sign_rotate(s, "eu-west-1", T0, &err) == 0 && current_fp(s, "eu-west-1", T0, eu) &&
	   strcmp(eu, third), "rotating a region without keys makes its first; regions differ");
	r = sign_list(s, "eu-west-1", &keys, &n, &err);
	ok(r == 0 && n == 1 && keys[0].start == T0 && keys[0].end == 0, "eu-west-1 has one key");
	sign_public_keys_free(keys, n);
	sign_close(s);
}

static void test_reopen(const char *ring)
{
	struct ct_err err;
	struct sign *s = sign_open(ring, &err);
	struct sign_public_key *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;
	sign_list(s, "us-east-1", &before, &nb, &err);
	struct sign_key *k = NULL;
	sign_current(s, "us-east-1", T0 + 30 * HOUR, &k, &err);
	static const char DATA[] = "reopen";
	char sig[SIGN_SIGNATURE_HEX_LEN + 1] = "";
	sign_sign(k, DATA, strlen(DATA), sig);
	sign_key_free(k);
	sign_close(s);

	s = sign_open(ring, &err);
	int r = sign_list(s, "us-east-1", &after, &na, &err);
	bool same = r == 0 && na == nb && nb > 0;
	for (size_t i = 0; same && i < na; i++)
		same = !strcmp(before[i].fingerprint, after[i].fingerprint) &&
		       before[i].start == after[i].start && before[i].end == after[i].end &&
		       before[i].der_len == after[i].der_len &&
		       !memcmp(before[i].der, after[i].der, after[i].der_len) &&
		       !strcmp(before[i].pem, after[i].pem);
	ok(same, "reopened: the same %zu keys, windows and bytes", na);
	k = NULL;
	r = sign_current(s, "us-east-1", T0 + 31 * HOUR, &k, &err);
	char sig2[SIGN_SIGNATURE_HEX_LEN + 1] = "";
	if (r == 0)
		sign_sign(k, DATA, strlen(DATA), sig2);
	ok(r == 0 && na && !strcmp(sign_key_fingerprint(k), after[na - 1].fingerprint) && !strcmp(sig, sig2),
	   "reopened: the same current key, signing the same bytes");
	sign_key_free(k);
	sign_public_keys_free(before, nb);
	sign_public_keys_free(after, na);
	sign_close(s);
}

static void test_bad_regions(const char *ring)
{
	static const char *const bad[] = { "", "..", "../etc", "us-east-1/x", "US-EAST-1", "us east 1",
					   "us-east-1\n", "/tmp" };
	struct ct_err err;
	struct sign *s = sign_open(ring, &err);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sign_key *k = NULL;
		struct sign_public_key *keys = NULL;
		size_t n = 0;
		ct_err_clear(&err);
		int r1 = sign_current(s, bad[i], T0, &k, &err);
		int r2 = sign_rotate(s, bad[i], T0, &err);
		int r3 = sign_list(s, bad[i], &keys, &n, &err);
		ok(r1 == -EINVAL && r2 == -EINVAL && r3 == -EINVAL && !k && !keys,
		   "region \"%s\" refused (%s)", bad[i], err.name);
	}
	struct sign_key *k = NULL;
	ok(sign_current(s, NULL, T0, &k, &err) == -EINVAL, "a NULL region is refused");
	char p[512];
	snprintf(p, sizeof p, "%s/../etc", ring);
	ok(!exists(p), "nothing was made outside the ring");
	sign_close(s);
}

/* A thread asking for a fresh region's key. */
struct race {
	struct sign *s;
	char fp[33];
	int r;
};

static void *race_current(void *arg)
{
	struct race *rc = arg;
	struct sign_key *k = NULL;
	rc->r = sign_current(rc->s, "ap-south-1", T0, &k, NULL);
	if (rc->r == 0)
		snprintf(rc->fp, sizeof rc->fp, "%s", sign_key_fingerprint(k));
	sign_key_free(k);
	return NULL;
}

static void test_threads(const char *ring)
{
	struct ct_err err;
	struct sign *s = sign_open(ring, &err);
	struct race rc[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		memset(&rc[i], 0, sizeof rc[i]);
		rc[i].s = s;
		pthread_create(&th[i], NULL, race_current, &rc[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	bool same = true;
	for (int i = 0; i < 4; i++)
		same = same && rc[i].r == 0 && !strcmp(rc[i].fp, rc[0].fp);
	struct sign_public_key *keys = NULL;
	size_t n = 0;
	sign_list(s, "ap-south-1", &keys, &n, &err);
	ok(same && n == 1, "four threads asking a fresh region at once get one key");
	sign_public_keys_free(keys, n);
	sign_close(s);
}

/* Write text to ring/region/name, making the directory. */
static void plant(const char *ring, const char *region, const char *name, const void *p, size_t len)
{
	char dir[512], path[640];
	snprintf(dir, sizeof dir, "%s/%s", ring, region);
	mkdir(ring, 0700);
	mkdir(dir, 0700);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!write_bytes(path, p, len))
		abort();
}

static void test_planted_aws_key(const char *ring)
{
	unsigned char der[1024];
	size_t n = b64_decode(AWS_VALUE, der, sizeof der);
	char index[256];
	snprintf(index, sizeof index,
		 "{\"format\":1,\"keys\":[{\"Fingerprint\":\"%s\",\"ValidityStartTime\":%d,"
		 "\"ValidityEndTime\":%d}]}", AWS_FINGERPRINT, AWS_START, AWS_END);
	plant(ring, "us-west-2", "index.json", index, strlen(index));
	char name[64];
	snprintf(name, sizeof name, "%s.pub", AWS_FINGERPRINT);
	plant(ring, "us-west-2", name, der, n);

	struct ct_err err;
	struct sign *s = sign_open(ring, &err);
	struct sign_public_key *keys = NULL;
	size_t count = 0;
	int r = sign_list(s, "us-west-2", &keys, &count, &err);
	ok(r == 0 && count == 1, "a ring holding AWS's published key lists it");
	if (r == 0 && count == 1) {
		ok(!strcmp(keys[0].fingerprint, AWS_FINGERPRINT) && keys[0].start == AWS_START &&
		   keys[0].end == AWS_END && keys[0].der_len == n && !memcmp(keys[0].der, der, n),
		   "its fingerprint, window and DER");
		ok(!strcmp(keys[0].pem, AWS_PEM), "its PEM is byte for byte what openssl prints");
	}
	sign_public_keys_free(keys, count);
	char fp[33];
	ok(current_fp(s, "us-west-2", T0, fp) && strcmp(fp, AWS_FINGERPRINT),
	   "a ring whose last key is closed gets a new current key");
	r = sign_list(s, "us-west-2", &keys, &count, &err);
	ok(r == 0 && count == 2 && keys[1].start == T0 && keys[1].end == 0, "and keeps the old one");
	sign_public_keys_free(keys, count);

	/* A closed last key and a clock before its start: no key may start
	 * before the one before it. */
	snprintf(index, sizeof index,
		 "{\"format\":1,\"keys\":[{\"Fingerprint\":\"%s\",\"ValidityStartTime\":%d,"
		 "\"ValidityEndTime\":%d}]}", AWS_FINGERPRINT, AWS_START, AWS_END);
	plant(ring, "us-gov-west-1", "index.json", index, strlen(index));
	plant(ring, "us-gov-west-1", name, der, n);
	struct sign_key *k = NULL;
	ct_err_clear(&err);
	r = sign_current(s, "us-gov-west-1", AWS_START - 1, &k, &err);
	ok(r == -EINVAL && !k && !strcmp(err.name, "InvalidTimeRangeException"),
	   "a new key cannot start before the latest key: %s", err.message);
	sign_close(s);
}

/* A ring directory in a given state: what sign_current / sign_list say. */
static void expect_damaged(const char *ring, const char *region, const char *what)
{
	struct ct_err err;
	ct_err_clear(&err);
	struct sign *s = sign_open(ring, &err);
	struct sign_key *k = NULL;
	int r = sign_current(s, region, T0, &k, &err);
	ok(r == -EINVAL && !k && !strcmp(err.name, "InvalidStateFile") && strstr(err.message, ring),
	   "%s: InvalidStateFile (%s)", what, err.message);
	sign_key_free(k);
	sign_close(s);
}

static void test_damage(const char *ring)
{
	static const struct {
		const char *region;
		const char *index;
		const char *what;
	} v[] = {
		{ "sa-east-1", "{\"format\":1,\"keys\":[", "truncated index" },
		{ "ca-central-1", "{\"format\":2,\"keys\":[]}", "index from a newer format" },
		{ "ca-west-1", "{\"format\":0.5,\"keys\":[]}", "index of an unknown format" },
		{ "me-south-1", "{\"format\":1}", "index without keys" },
		{ "af-south-1",
		  "{\"format\":1,\"keys\":[{\"Fingerprint\":\"../../../../etc/passwd0000000000\","
		  "\"ValidityStartTime\":1,\"ValidityEndTime\":0}]}", "a fingerprint that is a path" },
		{ "il-central-1",
		  "{\"format\":1,\"keys\":[{\"Fingerprint\":\"00000000000000000000000000000000\","
		  "\"ValidityStartTime\":1,\"ValidityEndTime\":0},"
		  "{\"Fingerprint\":\"11111111111111111111111111111111\","
		  "\"ValidityStartTime\":2,\"ValidityEndTime\":0}]}", "two current keys" },
		{ "eu-north-1",
		  "{\"format\":1,\"keys\":[{\"Fingerprint\":\"00000000000000000000000000000000\","
		  "\"ValidityStartTime\":5,\"ValidityEndTime\":4}]}", "a window ending before it starts" },
		{ "eu-south-1",
		  "{\"format\":1,\"keys\":[{\"Fingerprint\":\"00000000000000000000000000000000\","
		  "\"ValidityStartTime\":1.5,\"ValidityEndTime\":0}]}", "a fractional time" },
		{ "eu-south-2",
		  "{\"format\":1,\"keys\":[{\"Fingerprint\":\"00000000000000000000000000000000\","
		  "\"ValidityStartTime\":1,\"ValidityEndTime\":0}]}", "a listed key without its files" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		plant(ring, v[i].region, "index.json", v[i].index, strlen(v[i].index));
		expect_damaged(ring, v[i].region, v[i].what);
	}

	/* A public key filed under another key's fingerprint. */
	unsigned char der[1024];
	size_t n = b64_decode(AWS_VALUE, der, sizeof der);
	static const char OTHER[] = "0123456789abcdef0123456789abcdef";
	char index[256], name[64];
	snprintf(index, sizeof index,
		 "{\"format\":1,\"keys\":[{\"Fingerprint\":\"%s\",\"ValidityStartTime\":1,"
		 "\"ValidityEndTime\":2}]}", OTHER);
	plant(ring, "ap-east-1", "index.json", index, strlen(index));
	snprintf(name, sizeof name, "%s.pub", OTHER);
	plant(ring, "ap-east-1", name, der, n);
	expect_damaged(ring, "ap-east-1", "a public key under the wrong fingerprint");

	/* The current key's private half deleted: no silent new key. */
	struct ct_err err;
	struct sign *s = sign_open(ring, &err);
	char fp[33];
	current_fp(s, "us-east-2", T0, fp);
	sign_close(s);
	char p[512];
	key_path(p, sizeof p, ring, "us-east-2", fp, ".key");
	unlink(p);
	expect_damaged(ring, "us-east-2", "the current private key missing");
	/* ... or replaced by another key's. */
	s = sign_open(ring, &err);
	char other[33];
	current_fp(s, "us-west-1", T0, other);
	sign_close(s);
	char q[512];
	key_path(q, sizeof q, ring, "us-west-1", other, ".key");
	if (link(q, p) < 0)
		diag("link: %s", strerror(errno));
	expect_damaged(ring, "us-east-2", "the current private key replaced by another");
	unlink(p);   /* a hard link to us-west-1's key: do not write through it */
	plant(ring, "us-east-2", strrchr(p, '/') + 1, "garbage", 7);
	expect_damaged(ring, "us-east-2", "the current private key garbage");
}

static void test_tidy(const char *ring)
{
	struct ct_err err;
	struct sign *s = sign_open(ring, &err);
	char retired[33], current[33];
	current_fp(s, "eu-central-1", T0, retired);
	sign_rotate(s, "eu-central-1", T0 + HOUR, &err);
	current_fp(s, "eu-central-1", T0 + HOUR, current);
	sign_close(s);

	/* What crashes leave: a retired key's private half, a key made but
	 * never indexed, temporary files; and a file that is not ours. */
	char name[128];
	snprintf(name, sizeof name, "%s.key", retired);
	plant(ring, "eu-central-1", name, "x", 1);
	static const char ORPHAN[] = "abcdefabcdefabcdefabcdefabcdef00";
	snprintf(name, sizeof name, "%s.key", ORPHAN);
	plant(ring, "eu-central-1", name, "x", 1);
	snprintf(name, sizeof name, "%s.pub", ORPHAN);
	plant(ring, "eu-central-1", name, "x", 1);
	snprintf(name, sizeof name, "%s.key.tmp.12345", current);
	plant(ring, "eu-central-1", name, "x", 1);
	plant(ring, "eu-central-1", "index.json.tmp.777", "x", 1);
	plant(ring, "eu-central-1", "README", "mine", 4);

	s = sign_open(ring, &err);
	struct sign_public_key *keys = NULL;
	size_t n = 0;
	int r = sign_list(s, "eu-central-1", &keys, &n, &err);
	ok(r == 0 && n == 2, "an untidy ring still loads");
	sign_public_keys_free(keys, n);
	char p[512];
	struct {
		const char *fp;
		const char *ext;
		bool kept;
	} want[] = {
		{ retired, ".key", false }, { retired, ".pub", true },  { current, ".key", true },
		{ current, ".pub", true },  { ORPHAN, ".key", false },  { ORPHAN, ".pub", false },
		{ current, ".key.tmp.12345", false },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		key_path(p, sizeof p, ring, "eu-central-1", want[i].fp, want[i].ext);
		ok(exists(p) == want[i].kept, "tidy: %.8s...%s %s", want[i].fp, want[i].ext,
		   want[i].kept ? "kept" : "removed");
	}
	path_in(p, sizeof p, ring, "eu-central-1", "index.json.tmp.777");
	ok(!exists(p), "tidy: index temp removed");
	path_in(p, sizeof p, ring, "eu-central-1", "README");
	ok(exists(p), "tidy: a file that is not the ring's is left alone");
	char fp[33];
	ok(current_fp(s, "eu-central-1", T0 + 2 * HOUR, fp) && !strcmp(fp, current),
	   "tidy: the current key still signs");
	sign_close(s);
}

int main(void)
{
	testdir_make(root, sizeof root);
	char ring[128];
	snprintf(ring, sizeof ring, "%s/keys/signing", root);
	bool openssl_ok = have_openssl();
	if (!openssl_ok)
		diag("openssl(1) is not installed: the cross-checks are skipped (scripts/deps installs it)");

	test_sha256();
	test_data_to_sign();
	test_known_key();
	test_first_use(ring, openssl_ok);
	test_rotation(ring);
	test_reopen(ring);
	test_bad_regions(ring);
	test_threads(ring);
	test_planted_aws_key(ring);

	char damaged[128];
	snprintf(damaged, sizeof damaged, "%s/damaged", root);
	test_damage(damaged);
	test_tidy(ring);

	testdir_remove(root);
	return tap_done();
}
