/* Writes a fixture for `trailfs validate` tests and benchmarks:
 *
 *   validate_fixture DIR SCENARIO [HOURS REGIONS LOGS]
 *
 * DIR/store is a local object store with bucket "ct-bucket" holding trail "main"
 * (account 123456789012, home us-east-1): HOURS chained hourly digests
 * from 2026-01-10T09:00:31Z per region (default 3 hours, us-east-1 only,
 * 2 log files an hour), each region signed with its own key from the ring
 * DIR/ring; DIR/keys/REGION.json is the region's ListPublicKeys response
 * and DIR/keys/REGION.pem its key.  Then SCENARIO tampers with the middle
 * hour of the first region: clean, log-changed, log-deleted,
 * log-two-members, digest-changed, digest-deleted, digest-moved,
 * sig-altered, meta-removed, restart (a stop and start after the middle
 * hour), no-keys, key-spki (the key as SubjectPublicKeyInfo), backfill
 * (two backfill digests for late log files), backfill-no-ts (without
 * their backfill-generation-timestamp), log-no-bucket (a log file listed
 * in a bucket that does not exist).  It prints the keys of the middle hour's digest and first
 * log file, one a line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "gz.h"
#include "sign.h"
#include "store.h"
#include "../verify_fixture.h"

#define T0 1768035631LL   /* 2026-01-10T09:00:31Z */
#define BUCKET "ct-bucket"

static const char *const regions[] = { "us-east-1", "eu-west-1", "ap-south-1", "us-west-2",
				       "eu-central-1", "sa-east-1", "ca-central-1", "ap-northeast-1" };

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

static void b64(const unsigned char *d, size_t n, struct buf *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned x = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) |
			     (i + 2 < n ? d[i + 2] : 0);
		buf_putc(out, a[x >> 18 & 63]);
		buf_putc(out, a[x >> 12 & 63]);
		buf_putc(out, i + 1 < n ? a[x >> 6 & 63] : '=');
		buf_putc(out, i + 2 < n ? a[x & 63] : '=');
	}
}

static int export_keys(struct fx *f, const char *dir, const char *region)
{
	struct sign_public_key *k = NULL;
	size_t n = 0;
	struct ct_err e;
	int r = sign_list(f->sg, region, &k, &n, &e);
	if (r < 0)
		return r;
	struct buf doc;
	buf_init(&doc, 1 << 20);
	buf_puts(&doc, "{\"PublicKeyList\":[");
	for (size_t i = 0; i < n; i++) {
		buf_printf(&doc, "%s{\"Value\":\"", i ? "," : "");
		b64(k[i].der, k[i].der_len, &doc);
		buf_printf(&doc, "\",\"ValidityStartTime\":%lld,\"ValidityEndTime\":%lld,\"Fingerprint\":\"%s\"}",
			   (long long)k[i].start, (long long)(k[i].end ? k[i].end : 0), k[i].fingerprint);
	}
	buf_puts(&doc, "]}\n");
	char path[512];
	snprintf(path, sizeof path, "%s/keys/%s.json", dir, region);
	r = write_text(path, doc.data);
	snprintf(path, sizeof path, "%s/keys/%s.pem", dir, region);
	if (r == 0 && n)
		r = write_text(path, k[n - 1].pem);
	buf_release(&doc);
	sign_public_keys_free(k, n);
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 6) {
		fprintf(stderr, "usage: validate_fixture DIR SCENARIO [HOURS REGIONS LOGS]\n");
		return 2;
	}
	const char *dir = argv[1], *what = argv[2];
	int hours = argc == 6 ? atoi(argv[3]) : 3;
	int nreg = argc == 6 ? atoi(argv[4]) : 1;
	int logs = argc == 6 ? atoi(argv[5]) : 2;
	if (hours < 1 || nreg < 1 || nreg > 8 || logs < 0 || logs > FX_LOGS_MAX) {
		fprintf(stderr, "validate_fixture: bad sizes\n");
		return 2;
	}
	char ring[512], keys[512];
	mkdir(dir, 0700);
	snprintf(ring, sizeof ring, "%s/ring", dir);
	snprintf(keys, sizeof keys, "%s/keys", dir);
	mkdir(keys, 0700);
	struct fx f;
	int r = fx_open(&f, dir, ring, BUCKET, NULL);
	char mid_digest[DIGEST_KEY_MAX + 1] = "", mid_log[DIGEST_KEY_MAX + 1] = "";
	bool restart = !strcmp(what, "restart");
	for (int g = 0; r == 0 && g < nreg; g++)
		for (int h = 0; r == 0 && h < hours; h++) {
			/* restart: logging stopped for the hour after the middle
			 * one, and the chain starts again with null links. */
			if (restart && g == 0 && h == hours / 2 + 1)
				continue;
			/* log-no-bucket: the middle hour's digest lists its first
			 * log file in a bucket that does not exist. */
			if (!strcmp(what, "log-no-bucket") && g == 0 && h == hours / 2)
				f.first_log_bucket = "gone-bucket";
			r = fx_hour(&f, regions[g], T0 + 3600LL * h, logs,
				    restart && g == 0 && h == hours / 2 + 2);
			if (g == 0 && h == hours / 2) {
				memcpy(mid_digest, f.last_digest, sizeof mid_digest);
				if (logs)
					memcpy(mid_log, f.log_keys[0], sizeof mid_log);
			}
		}
	for (int g = 0; r == 0 && g < nreg; g++)
		r = export_keys(&f, dir, regions[g]);
	if (r < 0) {
		fprintf(stderr, "validate_fixture: %s\n", strerror(-r));
		return 1;
	}
	struct store *st = f.st;
	struct buf b, plain, gz;
	buf_init(&b, 64u << 20);
	buf_init(&plain, 64u << 20);
	buf_init(&gz, 64u << 20);
	struct store_object_info info;
	memset(&info, 0, sizeof info);
	char path[600];
	if (!strcmp(what, "clean") || restart || !strcmp(what, "log-no-bucket")) {
		r = 0;
	} else if (!strcmp(what, "backfill") || !strcmp(what, "backfill-no-ts")) {
		/* Two late log files, each in a backfill digest of its hour
		 * (null links), generated at 13:30. */
		const char *ts = !strcmp(what, "backfill") ? "2026-01-10T13:30:00Z" : NULL;
		for (int h = 0; r == 0 && h < 2; h++) {
			char key[DIGEST_KEY_MAX + 1], hash[SIGN_SHA256_HEX_LEN + 1];
			int64_t t = T0 + 3600LL * h + 1800;
			r = fx_log(&f, regions[0], t, 1, key, hash);
			struct digest_log_file late = { BUCKET, key, hash, t - 30, t - 30 };
			if (r == 0)
				r = fx_backfill(&f, regions[0], T0 + 3600LL * h, T0 + 3600LL * (h + 1), &late, 1, ts);
		}
	} else if (!strcmp(what, "no-keys")) {
		for (int g = 0; g < nreg; g++) {
			snprintf(path, sizeof path, "%s/keys/%s.json", dir, regions[g]);
			unlink(path);
			snprintf(path, sizeof path, "%s/keys/%s.pem", dir, regions[g]);
			unlink(path);
		}
		r = 0;
	} else if (!strcmp(what, "key-spki")) {
		/* The region's key as SubjectPublicKeyInfo under its own
		 * fingerprint: the CLI cannot load it as PKCS#1. */
		struct sign_public_key *k = NULL;
		size_t n = 0;
		struct ct_err e;
		r = sign_list(f.sg, regions[0], &k, &n, &e);
		if (r == 0 && n) {
			static const unsigned char alg[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
							     0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00 };
			unsigned char spki[1024];
			size_t dl = k[0].der_len, bits = dl + 1, inner = sizeof alg + 4 + bits, o = 0;
			spki[o++] = 0x30; spki[o++] = 0x82;
			spki[o++] = (unsigned char)(inner >> 8); spki[o++] = (unsigned char)inner;
			memcpy(spki + o, alg, sizeof alg);
			o += sizeof alg;
			spki[o++] = 0x03; spki[o++] = 0x82;
			spki[o++] = (unsigned char)(bits >> 8); spki[o++] = (unsigned char)bits;
			spki[o++] = 0;
			memcpy(spki + o, k[0].der, dl);
			o += dl;
			struct buf doc;
			buf_init(&doc, 1 << 20);
			buf_puts(&doc, "{\"PublicKeyList\":[{\"Value\":\"");
			b64(spki, o, &doc);
			buf_printf(&doc, "\",\"ValidityStartTime\":%lld,\"ValidityEndTime\":0,\"Fingerprint\":\"%s\"}]}\n",
				   (long long)k[0].start, k[0].fingerprint);
			snprintf(path, sizeof path, "%s/keys/%s.json", dir, regions[0]);
			r = write_text(path, doc.data);
			snprintf(path, sizeof path, "%s/keys/%s.pem", dir, regions[0]);
			unlink(path);
			buf_release(&doc);
		}
		sign_public_keys_free(k, n);
	} else if (!strcmp(what, "digest-moved")) {
		/* Copied to a key that still matches the trail's pattern (and
		 * lists after the others of its day), and gone from its own. */
		r = st->ops->object_get(st, BUCKET, mid_digest, &b, &info);
		char moved[DIGEST_KEY_MAX + 8];
		char *us = strrchr(mid_digest, '_');
		snprintf(moved, sizeof moved, "%.*s_X%s", (int)(us - mid_digest), mid_digest, us + 1);
		if (r == 0)
			r = st->ops->object_put(st, BUCKET, moved, b.data, b.len, &info);
		if (r == 0)
			r = st->ops->object_delete(st, BUCKET, mid_digest);
		store_object_info_release(&info);
	} else if (!strcmp(what, "log-changed") || !strcmp(what, "log-two-members")) {
		r = st->ops->object_get(st, BUCKET, mid_log, &b, NULL);
		if (r == 0)
			r = gz_decompress(b.data, b.len, 64u << 20, &plain);
		if (r == 0 && !strcmp(what, "log-changed")) {
			plain.data[plain.len / 2] ^= 1;
			r = gz_compress(plain.data, plain.len, 6, &gz);
		} else if (r == 0) {
			r = gz_compress(plain.data, plain.len / 2, 6, &gz);
			if (r == 0)
				r = gz_compress(plain.data + plain.len / 2, plain.len - plain.len / 2, 6, &gz);
		}
		if (r == 0)
			r = st->ops->object_put(st, BUCKET, mid_log, gz.data, gz.len, NULL);
	} else if (!strcmp(what, "log-deleted")) {
		r = st->ops->object_delete(st, BUCKET, mid_log);
	} else if (!strcmp(what, "digest-deleted")) {
		r = st->ops->object_delete(st, BUCKET, mid_digest);
	} else if (!strcmp(what, "digest-changed") || !strcmp(what, "sig-altered") ||
		   !strcmp(what, "meta-removed")) {
		r = st->ops->object_get(st, BUCKET, mid_digest, &b, &info);
		if (r == 0 && !strcmp(what, "digest-changed")) {
			r = gz_decompress(b.data, b.len, 64u << 20, &plain);
			char *p = plain.data ? strstr(plain.data, "\"logFiles\":[") : NULL;
			if (p)
				p[1] = 'L';   /* "LogFiles": the JSON still parses */
			buf_reset(&b);
			if (r == 0)
				r = gz_compress(plain.data, plain.len, 6, &b);
		}
		if (r == 0 && !strcmp(what, "sig-altered"))
			for (size_t i = 0; i < info.n_meta; i++)
				if (!strcmp(info.meta[i].name, "signature"))
					info.meta[i].value[7] = info.meta[i].value[7] == 'a' ? 'b' : 'a';
		if (r == 0)
			r = st->ops->object_put(st, BUCKET, mid_digest, b.data, b.len,
						!strcmp(what, "meta-removed") ? NULL : &info);
		store_object_info_release(&info);
	} else {
		fprintf(stderr, "validate_fixture: unknown scenario %s\n", what);
		return 2;
	}
	buf_release(&b);
	buf_release(&plain);
	buf_release(&gz);
	fx_close(&f);
	if (r < 0) {
		fprintf(stderr, "validate_fixture: %s: %s\n", what, strerror(-r));
		return 1;
	}
	printf("%s\n%s\n", mid_digest, mid_log);
	return 0;
}
