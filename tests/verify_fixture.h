/* Test fixtures for trailfs validate: a trail's signed digest chain and its
 * log files written into a local object store with digest.h, sign.h and
 * gz.h, the way the engine writes them.  Shared by tests/unit/test_verify.c
 * and tests/tools/validate_fixture.c (the e2e test's generator). */
#ifndef TRAILFS_VERIFY_FIXTURE_H
#define TRAILFS_VERIFY_FIXTURE_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "digest.h"
#include "err.h"
#include "gz.h"
#include "sign.h"
#include "store.h"

#define FX_REGIONS_MAX 8
#define FX_LOGS_MAX    64

struct fx_chain {
	char region[32];
	bool have;                      /* a previous digest to link to */
	char key[DIGEST_KEY_MAX + 1];
	char hash[SIGN_SHA256_HEX_LEN + 1];
	char sig[DIGEST_SIGNATURE_HEX_MAX + 1];
};

struct fx {
	struct store *st;
	struct sign *sg;
	const char *bucket, *prefix, *account, *trail, *home;
	struct fx_chain chains[FX_REGIONS_MAX];
	size_t n_chains;
	unsigned serial;
	/* the last hour's log files, for tampering */
	char log_keys[FX_LOGS_MAX][DIGEST_KEY_MAX + 1];
	size_t n_logs;
	char last_digest[DIGEST_KEY_MAX + 1];
	const char *first_log_bucket;   /* set: the next hour lists its first log file there */
};

static struct fx_chain *fx_chain(struct fx *f, const char *region)
{
	for (size_t i = 0; i < f->n_chains; i++)
		if (!strcmp(f->chains[i].region, region))
			return &f->chains[i];
	if (f->n_chains == FX_REGIONS_MAX)
		return NULL;
	struct fx_chain *c = &f->chains[f->n_chains++];
	memset(c, 0, sizeof *c);
	snprintf(c->region, sizeof c->region, "%s", region);
	return c;
}

/* A store in dir/store with the bucket, and the key ring in ring. */
__attribute__((unused))
static int fx_open(struct fx *f, const char *dir, const char *ring, const char *bucket,
		   const char *prefix)
{
	memset(f, 0, sizeof *f);
	f->bucket = bucket;
	f->prefix = prefix;
	f->account = "123456789012";
	f->trail = "main";
	f->home = "us-east-1";
	char path[512];
	int err = 0;
	snprintf(path, sizeof path, "%s/store", dir);
	f->st = store_local_new(path, &err);
	if (!f->st)
		return err ? err : -EIO;
	int r = f->st->ops->bucket_create(f->st, bucket);
	if (r < 0 && r != -EEXIST)
		return r;
	struct ct_err e;
	memset(&e, 0, sizeof e);
	f->sg = sign_open(ring, &e);
	return f->sg ? 0 : -EIO;
}

__attribute__((unused))
static void fx_close(struct fx *f)
{
	sign_close(f->sg);
	store_free(f->st);
}

static void fx_ymd(int64_t t, char *out, size_t size, const char *fmt)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, size, fmt, &tm);
}

/* A log file delivered at t in region with n events: its key and the
 * SHA-256 of its content into key and hash. */
__attribute__((unused))
static int fx_log(struct fx *f, const char *region, int64_t t, int n, char *key, char *hash)
{
	char ymd[32], stamp[32], uniq[17];
	fx_ymd(t, ymd, sizeof ymd, "%Y/%m/%d");
	fx_ymd(t, stamp, sizeof stamp, "%Y%m%dT%H%MZ");
	snprintf(uniq, sizeof uniq, "U%015u", ++f->serial);
	bool p = f->prefix && *f->prefix;
	snprintf(key, DIGEST_KEY_MAX + 1, "%s%sAWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz",
		 p ? f->prefix : "", p ? "/" : "", f->account, region, ymd, f->account, region, stamp, uniq);
	struct buf body, gz;
	buf_init(&body, 1 << 20);
	buf_init(&gz, 1 << 20);
	char when[DIGEST_TIME_LEN + 1];
	clock_format_iso(t - 30, when, sizeof when);
	int r = buf_puts(&body, "{\"Records\":[");
	for (int i = 0; r == 0 && i < n; i++)
		r = buf_printf(&body, "%s{\"eventVersion\":\"1.08\",\"eventTime\":\"%s\",\"eventName\":\"E%d\",\"awsRegion\":\"%s\"}",
			       i ? "," : "", when, i, region);
	if (r == 0)
		r = buf_puts(&body, "]}");
	if (r == 0)
		r = sign_sha256_hex(body.data, body.len, hash);
	if (r == 0)
		r = gz_compress(body.data, body.len, GZ_LEVEL_DEFAULT, &gz);
	if (r == 0)
		r = f->st->ops->object_put(f->st, f->bucket, key, gz.data, gz.len, NULL);
	buf_release(&body);
	buf_release(&gz);
	return r;
}

/* The digest of region for [start, end] listing the logs given; restart
 * (or no previous digest) makes it a chain start.  Its key into
 * f->last_digest. */
__attribute__((unused))
static int fx_digest_as(struct fx *f, const char *region, int64_t start, int64_t end,
			const struct digest_log_file *logs, size_t n, bool restart,
			const char *backfill_ts);

static int fx_digest(struct fx *f, const char *region, int64_t start, int64_t end,
		     const struct digest_log_file *logs, size_t n, bool restart)
{
	return fx_digest_as(f, region, start, end, logs, n, restart, NULL);
}

/* A backfill digest: the key ends in _backfill.json.gz, the metadata has
 * backfill-generation-timestamp backfill_ts (NULL: left out, which the CLI
 * calls invalid format), its links are null and the chain is not moved. */
__attribute__((unused))
static int fx_backfill(struct fx *f, const char *region, int64_t start, int64_t end,
		       const struct digest_log_file *logs, size_t n, const char *backfill_ts)
{
	return fx_digest_as(f, region, start, end, logs, n, true, backfill_ts ? backfill_ts : "");
}

static int fx_digest_as(struct fx *f, const char *region, int64_t start, int64_t end,
			const struct digest_log_file *logs, size_t n, bool restart,
			const char *backfill_ts)
{
	struct fx_chain *c = fx_chain(f, region);
	if (!c)
		return -E2BIG;
	struct sign_key *k = NULL;
	struct ct_err e;
	memset(&e, 0, sizeof e);
	int r = sign_current(f->sg, region, start, &k, &e);
	if (r < 0)
		return r;
	struct digest_location loc = { f->prefix, f->account, region, f->trail, f->home };
	struct buf key, body, tosign, gz;
	buf_init(&key, DIGEST_KEY_MAX);
	buf_init(&body, DIGEST_BODY_MAX);
	buf_init(&tosign, SIGN_DATA_MAX);
	buf_init(&gz, DIGEST_BODY_MAX);
	r = digest_key(&loc, end, &key);
	if (r == 0 && backfill_ts) {
		/* ..._YYYYMMDDTHHMMSSZ.json.gz -> ..._YYYYMMDDTHHMMSSZ_backfill.json.gz */
		key.len -= sizeof ".json.gz" - 1;
		key.data[key.len] = '\0';
		r = buf_puts(&key, "_backfill.json.gz");
	}
	struct digest_previous prev = { f->bucket, c->key, c->hash, c->sig };
	struct digest d = {
		.account = f->account, .start = start, .end = end, .bucket = f->bucket,
		.key = key.data, .fingerprint = sign_key_fingerprint(k),
		.previous = restart || !c->have ? NULL : &prev, .logs = logs, .n_logs = n,
	};
	char sig[SIGN_SIGNATURE_HEX_LEN + 1];
	if (r == 0)
		r = digest_body(&d, &body);
	if (r == 0)
		r = digest_data_to_sign(&d, body.data, body.len, &tosign);
	if (r == 0)
		r = sign_sign(k, tosign.data, tosign.len, sig);
	if (r == 0)
		r = gz_compress(body.data, body.len, GZ_LEVEL_DEFAULT, &gz);
	if (r == 0) {
		struct store_object_info info;
		memset(&info, 0, sizeof info);
		info.meta[0].name = "signature";
		info.meta[0].value = sig;
		info.meta[1].name = "signature-algorithm";
		info.meta[1].value = (char *)SIGN_ALGORITHM;
		info.n_meta = 2;
		if (backfill_ts && *backfill_ts) {
			info.meta[2].name = "backfill-generation-timestamp";
			info.meta[2].value = (char *)backfill_ts;
			info.n_meta = 3;
		}
		r = f->st->ops->object_put(f->st, f->bucket, key.data, gz.data, gz.len, &info);
	}
	if (r == 0 && backfill_ts) {
		snprintf(f->last_digest, sizeof f->last_digest, "%s", key.data);
	} else if (r == 0) {
		c->have = true;
		snprintf(c->key, sizeof c->key, "%s", key.data);
		snprintf(f->last_digest, sizeof f->last_digest, "%s", key.data);
		r = sign_sha256_hex(body.data, body.len, c->hash);
		snprintf(c->sig, sizeof c->sig, "%s", sig);
	}
	sign_key_free(k);
	buf_release(&key);
	buf_release(&body);
	buf_release(&tosign);
	buf_release(&gz);
	return r;
}

/* One hour of region from start: n log files delivered inside it (each
 * with two events), then its digest [start, start + 3600].  The log keys
 * into f->log_keys. */
__attribute__((unused))
static int fx_hour(struct fx *f, const char *region, int64_t start, int n, bool restart)
{
	static char keys[FX_LOGS_MAX][DIGEST_KEY_MAX + 1];
	static char hashes[FX_LOGS_MAX][SIGN_SHA256_HEX_LEN + 1];
	struct digest_log_file logs[FX_LOGS_MAX];
	if (n > FX_LOGS_MAX)
		return -E2BIG;
	int r = 0;
	for (int i = 0; r == 0 && i < n; i++) {
		int64_t t = start + 60 + (int64_t)i * (3000 / (n ? n : 1));
		r = fx_log(f, region, t, 2, keys[i], hashes[i]);
		logs[i] = (struct digest_log_file){ f->bucket, keys[i], hashes[i], t - 30, t - 30 };
		if (i == 0 && f->first_log_bucket)
			logs[i].bucket = f->first_log_bucket;
		memcpy(f->log_keys[i], keys[i], sizeof f->log_keys[i]);
	}
	f->n_logs = (size_t)n;
	if (r == 0)
		r = fx_digest(f, region, start, start + 3600, logs, (size_t)n, restart);
	f->first_log_bucket = NULL;
	return r;
}

#endif
