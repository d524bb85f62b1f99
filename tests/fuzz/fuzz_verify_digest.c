/* Fuzz harness for backend/verify.c's digest reading: the input is a digest
 * object as a source hands it over (its first byte chooses: inflated JSON
 * with both metadata, without them, gzip bytes, or a backfill key), checked
 * by verify_digest_object against a fixed public key whose fingerprint the
 * input may name.  Aborts when a promise of verify.h is broken:
 *   - the call returns 0 (the source never fails here);
 *   - the verdict is one of the enum's and the message is "valid" or begins
 *     "INVALID: ", matching the verdict's fixed texts;
 *   - a valid digest has parsed times and log entries with bucket and key.
 * With bit 0x10 of the first byte the harness signs the input itself (a
 * key made once per process), so that the paths after a good signature
 * (times, links, logFiles) are reached too. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "sign.h"
#include "verify.h"

static const unsigned char key_der[] = {
  0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00, 0x98, 0x95, 0xca,
  0x67, 0x9b, 0xe2, 0x91, 0x20, 0x84, 0xe1, 0xd5, 0x77, 0xec, 0x4f, 0xb3,
  0x95, 0x63, 0xc9, 0x76, 0xfb, 0xd6, 0xa6, 0x65, 0xa8, 0x1a, 0x00, 0xda,
  0x05, 0xb5, 0x09, 0x74, 0x98, 0x71, 0x7a, 0x87, 0x47, 0x01, 0x66, 0xed,
  0x24, 0xed, 0xd4, 0xee, 0x29, 0xf6, 0xc3, 0xb6, 0x61, 0x6b, 0x86, 0xf4,
  0xf9, 0xd6, 0x2e, 0xf8, 0x23, 0x18, 0x94, 0x30, 0x38, 0x17, 0x0c, 0xb1,
  0x8c, 0xbb, 0xf0, 0x6e, 0x6b, 0x5c, 0xe8, 0xbd, 0x32, 0x0d, 0x27, 0x95,
  0x37, 0xb5, 0xa3, 0x8c, 0x84, 0x28, 0x5c, 0xbf, 0xcb, 0xb1, 0x45, 0xd1,
  0xaa, 0x93, 0xc8, 0x6e, 0xef, 0x88, 0x48, 0x55, 0x95, 0x21, 0xb1, 0xdf,
  0x4b, 0xb3, 0xeb, 0x79, 0x38, 0x34, 0xea, 0x67, 0x63, 0x4b, 0xad, 0xd6,
  0x9e, 0x95, 0x21, 0x30, 0x11, 0x21, 0xd1, 0xfe, 0xc1, 0xcb, 0x03, 0x08,
  0xe9, 0xdf, 0xce, 0x6f, 0x5b, 0x7f, 0x82, 0x50, 0xb8, 0x5e, 0xb4, 0x37,
  0x87, 0x5c, 0x4b, 0x50, 0x5d, 0x03, 0xea, 0x93, 0x41, 0x64, 0x56, 0x17,
  0xae, 0x61, 0x8b, 0x57, 0x7c, 0xd3, 0xb7, 0x77, 0x39, 0x98, 0xe0, 0x33,
  0xb4, 0x30, 0x57, 0x2a, 0x1a, 0xff, 0x74, 0x8d, 0xfa, 0xb9, 0x26, 0x01,
  0x14, 0xd0, 0xb3, 0xae, 0xe8, 0xcd, 0x5b, 0xf3, 0x7d, 0xdc, 0x96, 0x42,
  0xd1, 0x88, 0x24, 0x03, 0xeb, 0xb7, 0x5d, 0x3c, 0x99, 0xa2, 0x57, 0x9b,
  0xf4, 0x16, 0x7c, 0x19, 0x7c, 0x02, 0x78, 0x88, 0xf9, 0x6f, 0x5a, 0xa0,
  0x6f, 0x8a, 0x3f, 0x94, 0xdd, 0x96, 0x56, 0xa5, 0x98, 0x46, 0x83, 0x38,
  0x28, 0x3e, 0xa7, 0xe2, 0xa6, 0x0b, 0x3c, 0xec, 0x73, 0x6c, 0x95, 0xb0,
  0xab, 0x0c, 0x3d, 0x55, 0xf4, 0x52, 0x9b, 0xcd, 0xc4, 0x33, 0xd8, 0x12,
  0xd4, 0x9b, 0x2b, 0xa4, 0x9c, 0x02, 0x30, 0x72, 0x29, 0x65, 0x58, 0x8f,
  0xb1, 0x02, 0x03, 0x01, 0x00, 0x01
};

#define FUZZ_BUCKET "b"
#define FUZZ_KEY "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/01/10/123456789012_CloudTrail-Digest_us-east-1_main_us-east-1_20260110T100031Z.json.gz"
#define FUZZ_BACKFILL_KEY "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/01/10/123456789012_CloudTrail-Digest_us-east-1_main_us-east-1_20260110T100031Z_backfill.json.gz"

struct mem {
	const uint8_t *data;
	size_t len;
	unsigned mode;
};

static struct sign_key *own_key;
static struct sign_public_key *own_pub;

/* A key of our own, made once (the ring in a temporary directory). */
static void own_key_init(void)
{
	if (own_key)
		return;
	char dir[] = "/tmp/fuzz-verify.XXXXXX";
	if (!mkdtemp(dir))
		abort();
	struct ct_err e;
	struct sign *s = sign_open(dir, &e);
	size_t n = 0;
	if (!s || sign_current(s, "us-east-1", 1768035631, &own_key, &e) != 0 ||
	    sign_list(s, "us-east-1", &own_pub, &n, &e) != 0 || n != 1)
		abort();
	sign_close(s);
}

/* The signature of body as the CLI computes what it covers, or NULL when
 * the members it needs are not there as strings. */
static char *sign_body(const uint8_t *body, size_t len)
{
	json *doc = json_parse((const char *)body, len, NULL);
	const char *end = json_string(json_get(doc, "digestEndTime"));
	const char *b = json_string(json_get(doc, "digestS3Bucket"));
	const char *k = json_string(json_get(doc, "digestS3Object"));
	json *prev = json_get(doc, "previousDigestSignature");
	char *sig = NULL;
	if (end && b && k && (json_is_string(prev) || json_is_null(prev))) {
		char hash[SIGN_SHA256_HEX_LEN + 1];
		struct buf data;
		buf_init(&data, 1 << 20);
		sig = malloc(SIGN_SIGNATURE_HEX_LEN + 1);
		if (!sig || sign_sha256_hex(body, len, hash) != 0 ||
		    sign_data_to_sign(end, b, k, hash, json_string(prev), &data) != 0 ||
		    sign_sign(own_key, data.data, data.len, sig) != 0) {
			free(sig);
			sig = NULL;
		}
		buf_release(&data);
	}
	json_free(doc);
	return sig;
}

static int mem_list(void *ctx, const char *bucket, const char *prefix, const char *marker,
		    verify_key_fn fn, void *arg)
{
	(void)ctx, (void)bucket, (void)prefix, (void)marker, (void)fn, (void)arg;
	return 0;
}

static int mem_get(void *ctx, const char *bucket, const char *key, enum verify_kind kind,
		   struct verify_object *out)
{
	struct mem *m = ctx;
	(void)bucket, (void)key, (void)kind;
	/* "@FP@" stands for our key's fingerprint, which a fuzzer would not
	 * guess. */
	for (size_t i = 0; i < m->len; i++) {
		int r;
		if (i + 4 <= m->len && !memcmp(m->data + i, "@FP@", 4)) {
			r = buf_puts(&out->body, own_pub->fingerprint);
			i += 3;
		} else {
			r = buf_add(&out->body, m->data + i, 1);
		}
		if (r < 0)
			return -ENOMEM;
	}
	out->inflated = (m->mode & 3) != 2;
	if ((m->mode & 3) != 1) {
		out->signature = (m->mode & 0x10) && (m->mode & 3) != 2 ? sign_body((const uint8_t *)out->body.data, out->body.len) : NULL;
		if (!out->signature)
			out->signature = strdup("00ff");
		out->signature_algorithm = strdup("SHA256withRSA");
	}
	if (m->mode & 4)
		out->backfill_timestamp = strdup("2026-01-10T10:30:00Z");
	return 0;
}

static const struct verify_source_ops mem_ops = { mem_list, mem_get, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct mem m = { data + 1, size - 1, data[0] };
	struct verify_source src = { &mem_ops, &m };
	struct verify_keys keys;
	verify_keys_init(&keys);
	own_key_init();
	if (verify_keys_add(&keys, NULL, key_der, sizeof key_der, 0, 0) != 0 ||
	    verify_keys_add(&keys, NULL, own_pub->der, own_pub->der_len, 0, 0) != 0)
		abort();
	struct verify_digest d;
	int r = verify_digest_object(&src, FUZZ_BUCKET, (m.mode & 8) ? FUZZ_BACKFILL_KEY : FUZZ_KEY, &keys,
				     "us-east-1", &d);
	if (r != 0 && r != -ENOMEM)
		abort();
	if (r == 0) {
		if (!d.message || d.verdict > VERIFY_DIGEST_OTHER)
			abort();
		bool valid = d.verdict == VERIFY_DIGEST_VALID;
		if (valid != !strcmp(d.message, "valid"))
			abort();
		if (!valid && strncmp(d.message, "INVALID: ", 9))
			abort();
		if (d.verdict == VERIFY_DIGEST_NOT_FOUND)
			abort();   /* the source always has the object */
		for (size_t i = 0; valid && i < d.n_logs; i++)
			if (!d.logs[i].bucket || !d.logs[i].key)
				abort();
	}
	verify_digest_release(&d);
	verify_keys_release(&keys);
	return 0;
}
