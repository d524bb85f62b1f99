/* Unit tests for the digest chains (backend/chains.c) as the engine drives
 * them (backend/ct.c): windows with a test clock, empty ones, a day
 * boundary, StopLogging and StartLogging, validation off and on, a key
 * rotation mid-chain, a digest recorded but not stored when the daemon
 * stopped, DeleteTrail; and, at the chains level, a delivery redone after
 * a crash and a damaged journal.  Every digest found is checked as
 * validate-logs would: gzip of one member, metadata, the signature with
 * the region's public key, each log file's hash, and the links. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chains.h"
#include "clock.h"
#include "ct.h"
#include "deliver.h"
#include "digest.h"
#include "fileio.h"
#include "gz.h"
#include "json.h"
#include "sign.h"
#include "spool.h"
#include "store.h"
#include "tap.h"
#include "testdir.h"

#define ACCOUNT "123456789012"
#define T0 1767308400LL            /* 2026-01-01T23:00:00Z */
#define IV 600                     /* digest_interval */
#define OBJ_MAX (64u * 1024 * 1024)

static char root[64], state[128], clockfile[128];

static void set_clock(int64_t t)
{
	char text[32];
	int n = snprintf(text, sizeof text, "%lld\n", (long long)t);
	write_file_durable(clockfile, text, (size_t)n, 0600);
}

static struct ct *open_ct(void)
{
	struct ct_options o = { .state_dir = state, .account = ACCOUNT,
				.regions = "us-east-1:eu-west-1", .test_clock = clockfile,
				.digest_interval = IV };
	struct ct_err err;
	struct ct *ct = ct_open(&o, &err);
	if (!ct)
		diag("ct_open: %s", err.message);
	return ct;
}

/* Ingest n management records of region with eventTime t. */
static void ingest(struct ct *ct, const char *region, int n, int64_t t)
{
	struct event_ctx ctx;
	ct_event_ctx(ct, NULL, &ctx);
	char iso[32];
	clock_format_iso(t, iso, sizeof iso);
	for (int i = 0; i < n; i++) {
		char text[256];
		snprintf(text, sizeof text, "{\"eventTime\":\"%s\",\"eventSource\":\"ec2.amazonaws.com\","
			 "\"eventName\":\"RunInstances\",\"awsRegion\":\"%s\"}", iso, region);
		json *j = json_parse(text, strlen(text), NULL);
		struct event e;
		memset(&e, 0, sizeof e);
		struct ct_err err;
		if (event_normalize(j, &ctx, &e, &err) < 0 || ct_ingest(ct, &e, 1, &err) < 0)
			diag("ingest: %s", err.message);
		event_release(&e);
		json_free(j);
	}
}

/* A moment of the engine: the clock at t, records in, a delivery, and the
 * digests that are due (what the delivery thread does). */
static void step(struct ct *ct, int64_t t, int us, int eu)
{
	set_clock(t);
	if (us)
		ingest(ct, "us-east-1", us, t - 5);
	if (eu)
		ingest(ct, "eu-west-1", eu, t - 7);
	ct_deliver_now(ct, NULL);
	struct ct_err err;
	if (ct_write_digests(ct, &err) < 0)
		diag("ct_write_digests: %s", err.message);
}

/* ---- reading back the store ---- */

struct found {
	char key[1024];
	char *body;                /* uncompressed */
	size_t len;
	char signature[1100];
	char algorithm[64];
	json *doc;
};

struct store_view {
	struct found *d;           /* digests */
	size_t n;
	char **logs;               /* log file keys */
	size_t n_logs;
};

static void walk(struct store *st, const char *bucket, const char *prefix, struct store_view *v)
{
	struct store_listing l;
	if (st->ops->object_list(st, bucket, prefix, &l) < 0)
		return;
	for (size_t i = 0; i < l.n_prefixes; i++)
		walk(st, bucket, l.prefixes[i], v);
	for (size_t i = 0; i < l.n_keys; i++) {
		if (strstr(l.keys[i], "/CloudTrail/")) {
			v->logs = realloc(v->logs, (v->n_logs + 1) * sizeof *v->logs);
			v->logs[v->n_logs++] = strdup(l.keys[i]);
			continue;
		}
		struct buf obj, body;
		buf_init(&obj, OBJ_MAX);
		buf_init(&body, OBJ_MAX);
		struct store_object_info info;
		memset(&info, 0, sizeof info);
		v->d = realloc(v->d, (v->n + 1) * sizeof *v->d);
		struct found *f = &v->d[v->n++];
		memset(f, 0, sizeof *f);
		snprintf(f->key, sizeof f->key, "%s", l.keys[i]);
		if (st->ops->object_get(st, bucket, l.keys[i], &obj, &info) == 0 &&
		    gz_decompress(obj.data, obj.len, OBJ_MAX, &body) == 0) {
			f->len = body.len;
			f->body = buf_take(&body);
			const char *s = store_meta_get(&info, "signature");
			const char *a = store_meta_get(&info, "signature-algorithm");
			snprintf(f->signature, sizeof f->signature, "%s", s ? s : "");
			snprintf(f->algorithm, sizeof f->algorithm, "%s", a ? a : "");
			f->doc = json_parse(f->body, f->len, NULL);
		}
		store_object_info_release(&info);
		buf_release(&obj);
		buf_release(&body);
	}
	store_listing_release(&l);
}

static void view_release(struct store_view *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->d[i].body);
		json_free(v->d[i].doc);
	}
	free(v->d);
	for (size_t i = 0; i < v->n_logs; i++)
		free(v->logs[i]);
	free(v->logs);
	memset(v, 0, sizeof *v);
}

static const char *str(const json *o, const char *k)
{
	return json_string(json_get(o, k));
}

static struct found *digest_at(struct store_view *v, const char *key)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->d[i].key, key))
			return &v->d[i];
	return NULL;
}

/* Every digest verifies, every listed log file's hash is right, every link
 * holds, and every log file of the trail is listed exactly once.  Returns
 * the number of problems, naming them. */
static int check_all(struct ct *ct, struct store *st, const char *bucket, struct store_view *v,
		     const char *what)
{
	int bad = 0;
	walk(st, bucket, "", v);
	int *listed = calloc(v->n_logs + 1, sizeof *listed);
	for (size_t i = 0; i < v->n; i++) {
		struct found *f = &v->d[i];
		const json *d = f->doc;
		if (!d) {
			diag("%s: %s: not one gzip member of JSON", what, f->key);
			bad++;
			continue;
		}
		const char *region = strstr(f->key, "/CloudTrail-Digest/") + 19;
		char reg[32];
		snprintf(reg, sizeof reg, "%.*s", (int)strcspn(region, "/"), region);
		if (strcmp(f->algorithm, "SHA256withRSA") || strlen(f->signature) != 512 ||
		    strcmp(str(d, "digestS3Object"), f->key) || strcmp(str(d, "digestS3Bucket"), bucket)) {
			diag("%s: %s: metadata or location wrong", what, f->key);
			bad++;
		}
		/* The key's time is digestEndTime to the second. */
		int64_t end;
		clock_parse_iso(str(d, "digestEndTime"), &end);
		char stamp[32];
		time_t tt = (time_t)end;
		struct tm tm;
		gmtime_r(&tt, &tm);
		strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ.json.gz", &tm);
		if (!strstr(f->key, stamp)) {
			diag("%s: %s: name does not end %s", what, f->key, stamp);
			bad++;
		}
		struct sign_public_key *keys = NULL;
		size_t nk = 0;
		ct_list_public_keys(ct, reg, &keys, &nk, NULL);
		const struct sign_public_key *pk = NULL;
		for (size_t k = 0; k < nk; k++)
			if (!strcmp(keys[k].fingerprint, str(d, "digestPublicKeyFingerprint")))
				pk = &keys[k];
		char hash[65];
		sign_sha256_hex(f->body, f->len, hash);
		struct buf data;
		buf_init(&data, SIGN_DATA_MAX);
		const char *prev_sig = str(d, "previousDigestSignature");
		sign_data_to_sign(str(d, "digestEndTime"), bucket, f->key, hash, prev_sig, &data);
		if (!pk || sign_verify(pk->der, pk->der_len, data.data, data.len, f->signature) != 0) {
			diag("%s: %s: signature does not verify", what, f->key);
			bad++;
		}
		buf_release(&data);
		sign_public_keys_free(keys, nk);
		/* Links. */
		const char *pkey = str(d, "previousDigestS3Object");
		if (pkey) {
			struct found *p = digest_at(v, pkey);
			char ph[65] = "";
			if (p && p->body)
				sign_sha256_hex(p->body, p->len, ph);
			if (!p || strcmp(ph, str(d, "previousDigestHashValue")) ||
			    strcmp(p->signature, prev_sig ? prev_sig : "") ||
			    strcmp(str(p->doc, "digestEndTime"), str(d, "digestStartTime")) ||
			    strcmp(str(d, "previousDigestS3Bucket"), bucket) ||
			    strcmp(str(d, "previousDigestHashAlgorithm"), "SHA-256")) {
				diag("%s: %s: its link to %s is wrong", what, f->key, pkey);
				bad++;
			}
		} else if (!json_is_null(json_get(d, "previousDigestS3Bucket")) ||
			   !json_is_null(json_get(d, "previousDigestHashValue")) ||
			   !json_is_null(json_get(d, "previousDigestHashAlgorithm")) ||
			   !json_is_null(json_get(d, "previousDigestSignature"))) {
			diag("%s: %s: a chain start without all five links null", what, f->key);
			bad++;
		}
		/* Log files. */
		const json *logs = json_get(d, "logFiles");
		if (!json_is_array(logs) ||
		    (json_size(logs) == 0) != json_is_null(json_get(d, "newestEventTime"))) {
			diag("%s: %s: logFiles / event times wrong", what, f->key);
			bad++;
			continue;
		}
		for (const json *l = json_first(logs); l; l = json_next(l)) {
			struct buf obj, body;
			buf_init(&obj, OBJ_MAX);
			buf_init(&body, OBJ_MAX);
			char h[65] = "";
			if (st->ops->object_get(st, str(l, "s3Bucket"), str(l, "s3Object"), &obj, NULL) == 0 &&
			    gz_decompress(obj.data, obj.len, OBJ_MAX, &body) == 0)
				sign_sha256_hex(body.data, body.len, h);
			if (strcmp(h, str(l, "hashValue")) || strcmp(str(l, "hashAlgorithm"), "SHA-256")) {
				diag("%s: %s: hash of %s wrong", what, f->key, str(l, "s3Object"));
				bad++;
			}
			for (size_t k = 0; k < v->n_logs; k++)
				if (!strcmp(v->logs[k], str(l, "s3Object")))
					listed[k]++;
			buf_release(&obj);
			buf_release(&body);
		}
	}
	for (size_t k = 0; k < v->n_logs; k++)
		if (listed[k] != 1) {
			diag("%s: log file %s is listed %d times", what, v->logs[k], listed[k]);
			bad++;
		}
	free(listed);
	return bad;
}

/* How many digests of region there are, and how many start a chain. */
static void count(const struct store_view *v, const char *region, size_t *n, size_t *starts)
{
	char part[64];
	snprintf(part, sizeof part, "/CloudTrail-Digest/%s/", region);
	*n = *starts = 0;
	for (size_t i = 0; i < v->n; i++)
		if (strstr(v->d[i].key, part)) {
			(*n)++;
			if (v->d[i].doc && json_is_null(json_get(v->d[i].doc, "previousDigestS3Object")))
				(*starts)++;
		}
}

static bool has_digest_ending(const struct store_view *v, const char *region, int64_t end)
{
	char iso[32];
	clock_format_iso(end, iso, sizeof iso);
	char part[64];
	snprintf(part, sizeof part, "/CloudTrail-Digest/%s/", region);
	for (size_t i = 0; i < v->n; i++)
		if (strstr(v->d[i].key, part) && v->d[i].doc &&
		    !strcmp(str(v->d[i].doc, "digestEndTime"), iso))
			return true;
	return false;
}

static void test_engine(void)
{
	set_clock(T0);
	struct ct *ct = open_ct();
	if (!ct)
		return;
	struct ct_err err;
	ok(ct_create_trail(ct, NULL, "main", &err) == 0, "CreateTrail (validation on, multi-region)");
	struct trail t;
	trail_init(&t);
	ct_get_trail(ct, NULL, "main", &t, &err);
	char bucket[64];
	snprintf(bucket, sizeof bucket, "%s", t.bucket);
	trail_release(&t);
	char prefix_text[256];
	struct buf pfx;
	buf_init(&pfx, 256);
	char b2[CT_BUCKET_NAME_MAX + 1];
	ok(ct_digest_location(ct, "main", b2, &pfx, &err) == 0 && !strcmp(b2, bucket) &&
	   !strcmp(pfx.data, "AWSLogs/" ACCOUNT "/CloudTrail-Digest/"), "ct_digest_location: %s",
	   pfx.data ? pfx.data : "");
	snprintf(prefix_text, sizeof prefix_text, "%s", pfx.data ? pfx.data : "");
	buf_release(&pfx);

	/* Windows 23:00-23:10 (files), 23:10-23:20 (empty), and on over
	 * midnight. */
	step(ct, T0, 0, 0);
	step(ct, T0 + 60, 3, 2);
	step(ct, T0 + 300, 1, 0);
	step(ct, T0 + IV, 0, 0);            /* the first window closes */
	step(ct, T0 + IV + 30, 0, 0);
	step(ct, T0 + 2 * IV, 0, 0);        /* an empty window */
	for (int64_t at = T0 + 2 * IV + 200; at < T0 + 7 * IV; at += 200)
		step(ct, at, 1, 1);             /* 00:00 is T0 + 6 * IV */
	step(ct, T0 + 7 * IV, 0, 0);
	struct store *st = NULL;
	int serr;
	char store_dir[192];
	snprintf(store_dir, sizeof store_dir, "%s/store", state);
	st = store_local_new(store_dir, &serr);
	struct store_view v = { 0 };
	ok(check_all(ct, st, bucket, &v, "windows") == 0, "every digest verifies, links hold, each file listed once");
	size_t n, starts;
	count(&v, "us-east-1", &n, &starts);
	ok(n == 7 && starts == 1, "us-east-1: 7 digests for 7 windows, one chain start (%zu, %zu)", n, starts);
	count(&v, "eu-west-1", &n, &starts);
	ok(n == 7 && starts == 1, "eu-west-1 too (%zu, %zu)", n, starts);
	struct found *empty = NULL;
	char iso[32];
	clock_format_iso(T0 + 2 * IV, iso, sizeof iso);
	for (size_t i = 0; i < v.n; i++)
		if (v.d[i].doc && !strcmp(str(v.d[i].doc, "digestEndTime"), iso))
			empty = &v.d[i];
	ok(empty && json_size(json_get(empty->doc, "logFiles")) == 0 &&
	   json_is_null(json_get(empty->doc, "oldestEventTime")) &&
	   json_is_null(json_get(empty->doc, "newestEventTime")), "an empty window has a digest: logFiles [] and null times");
	bool midnight = false;
	for (size_t i = 0; i < v.n; i++)
		midnight |= strstr(v.d[i].key, "/2026/01/02/" ACCOUNT "_CloudTrail-Digest_us-east-1_main_us-east-1_20260102T000000Z.json.gz") != NULL;
	ok(midnight, "the window ending at midnight is named and filed under the new day");
	struct found *first = NULL;
	clock_format_iso(T0 + IV, iso, sizeof iso);
	for (size_t i = 0; i < v.n; i++)
		if (v.d[i].doc && !strcmp(str(v.d[i].doc, "digestEndTime"), iso) && strstr(v.d[i].key, "us-east-1_main"))
			first = &v.d[i];
	char want_old[32], want_new[32];
	clock_format_iso(T0 + 300 - 5, want_new, sizeof want_new);
	clock_format_iso(T0 + 60 - 5, want_old, sizeof want_old);
	ok(first && json_size(json_get(first->doc, "logFiles")) == 2 &&
	   !strcmp(str(first->doc, "newestEventTime"), want_new) &&
	   !strcmp(str(first->doc, "oldestEventTime"), want_old) &&
	   !strcmp(str(first->doc, "digestStartTime"), "2026-01-01T23:00:00Z"),
	   "the first window lists its two files with their event-time range");
	view_release(&v);
	int64_t now = T0 + 7 * IV;

	/* GetTrailStatus. */
	struct buf status;
	buf_init(&status, 4096);
	ct_get_trail_status_json(ct, NULL, "main", &status, &err);
	clock_format_iso(now, iso, sizeof iso);
	char want[64];
	snprintf(want, sizeof want, "\"LatestDigestDeliveryTime\":\"%s\"", iso);
	ok(status.data && strstr(status.data, want) && !strstr(status.data, "LatestDigestDeliveryError"),
	   "status: %s", status.data ? status.data : "");
	buf_release(&status);

	/* StopLogging mid-window: a final digest up to that moment; then
	 * StartLogging starts a new chain. */
	step(ct, now + 100, 2, 0);
	set_clock(now + 150);
	ingest(ct, "us-east-1", 1, now + 149);
	ok(ct_stop_logging(ct, NULL, "main", 0, &err) == 0, "StopLogging");
	walk(st, bucket, "", &v);
	ok(has_digest_ending(&v, "us-east-1", now + 150) && has_digest_ending(&v, "eu-west-1", now + 150),
	   "StopLogging wrote a final digest ending at the stop, in each region");
	view_release(&v);
	step(ct, now + 150 + 3 * IV, 0, 0);     /* stopped: no digests */
	walk(st, bucket, "", &v);
	count(&v, "us-east-1", &n, &starts);
	ok(n == 8, "no digests while logging is off (%zu)", n);
	view_release(&v);
	now += 150 + 3 * IV;
	ok(ct_start_logging(ct, NULL, "main", 0, &err) == 0, "StartLogging");
	step(ct, now + 50, 1, 1);
	step(ct, now + IV, 0, 0);
	walk(st, bucket, "", &v);
	count(&v, "us-east-1", &n, &starts);
	ok(n == 9 && starts == 2, "after StartLogging a new chain starts with null links (%zu, %zu)", n, starts);
	view_release(&v);
	now += IV;

	/* Key rotation mid-chain: later digests carry the new fingerprint,
	 * both keys stay listed. */
	struct sign_public_key *keys;
	size_t nk;
	ct_list_public_keys(ct, "us-east-1", &keys, &nk, &err);
	char old_fp[40];
	snprintf(old_fp, sizeof old_fp, "%s", nk ? keys[nk - 1].fingerprint : "");
	sign_public_keys_free(keys, nk);
	set_clock(now + 10);
	ok(ct_rotate_signing_key(ct, "us-east-1", &err) == 0, "ct_rotate_signing_key");
	ok(ct_rotate_signing_key(ct, "no-where-1", &err) < 0, "a region not configured is refused");
	ct_list_public_keys(ct, "us-east-1", &keys, &nk, &err);
	ok(nk == 2 && keys[0].end == now + 10 && keys[1].end == 0 && strcmp(keys[1].fingerprint, old_fp),
	   "two public keys, the old one closed at the rotation");
	char new_fp[40];
	snprintf(new_fp, sizeof new_fp, "%s", nk == 2 ? keys[1].fingerprint : "");
	sign_public_keys_free(keys, nk);
	step(ct, now + 100, 1, 0);
	step(ct, now + IV, 0, 0);
	walk(st, bucket, "", &v);
	clock_format_iso(now + IV, iso, sizeof iso);
	bool rotated = false;
	for (size_t i = 0; i < v.n; i++)
		if (v.d[i].doc && !strcmp(str(v.d[i].doc, "digestEndTime"), iso) && strstr(v.d[i].key, "us-east-1_main"))
			rotated = !strcmp(str(v.d[i].doc, "digestPublicKeyFingerprint"), new_fp) &&
				  str(v.d[i].doc, "previousDigestS3Object") != NULL;
	ok(rotated, "the digest after the rotation is signed with the new key and still links back");
	view_release(&v);
	now += IV;

	/* Validation off: a final digest; files delivered while off are in
	 * no digest; on again: a new chain. */
	struct ct_update u = CT_UPDATE_INIT;
	u.validation = 0;
	set_clock(now + 20);
	ingest(ct, "us-east-1", 1, now + 19);
	ok(ct_update_trail(ct, NULL, "main", &u, 0, &err) == 0, "validation off");
	step(ct, now + 40, 2, 0);                 /* delivered while off */
	step(ct, now + 40 + IV, 0, 0);
	walk(st, bucket, "", &v);
	ok(has_digest_ending(&v, "us-east-1", now + 20), "turning validation off wrote a final digest");
	count(&v, "us-east-1", &n, &starts);
	size_t before = n;
	view_release(&v);
	u.validation = 1;
	set_clock(now + 50 + IV);
	ok(ct_update_trail(ct, NULL, "main", &u, 0, &err) == 0, "validation on again");
	step(ct, now + 50 + 2 * IV, 0, 0);
	walk(st, bucket, "", &v);
	count(&v, "us-east-1", &n, &starts);
	ok(n == before + 1 && starts == 3, "validation on starts a new chain (%zu digests, %zu starts)", n, starts);
	/* The files delivered while off are the only ones no digest lists. */
	view_release(&v);
	now += 50 + 2 * IV;

	/* A digest recorded but not stored when the daemon stopped: the bucket
	 * is away when the window closes, the daemon closes, the bucket comes
	 * back, and the next open stores the recorded bytes. */
	char bdir[320], away[320];
	snprintf(bdir, sizeof bdir, "%s/%s", store_dir, bucket);
	snprintf(away, sizeof away, "%s/away", root);
	rename(bdir, away);
	step(ct, now + IV, 0, 0);
	buf_init(&status, 4096);
	ct_get_trail_status_json(ct, NULL, "main", &status, &err);
	ok(status.data && strstr(status.data, "\"LatestDigestDeliveryError\":\"NoSuchBucket"),
	   "a digest that cannot be stored shows in LatestDigestDeliveryError: %s", status.data);
	buf_release(&status);
	ct_close(ct);
	rename(away, bdir);
	ct = open_ct();
	walk(st, bucket, "", &v);
	ok(has_digest_ending(&v, "us-east-1", now + IV) && has_digest_ending(&v, "eu-west-1", now + IV),
	   "the recorded digests are stored at the next open");
	view_release(&v);
	step(ct, now + 2 * IV, 1, 1);
	step(ct, now + 3 * IV, 0, 0);
	now += 3 * IV;

	/* A bucket change: the old chain's final digest in the old bucket,
	 * a new chain with null links in the new one. */
	static const char moved[] = "trailfs-digests-moved";
	set_clock(now + 30);
	struct ct_update ub = CT_UPDATE_INIT;
	ub.bucket = moved;
	ok(ct_update_trail(ct, NULL, "main", &ub, 0, &err) == 0, "UpdateTrail to a new bucket");
	ct_write_digests(ct, &err);
	walk(st, bucket, "", &v);
	ok(has_digest_ending(&v, "us-east-1", now + 30) && has_digest_ending(&v, "eu-west-1", now + 30),
	   "the old bucket gets the final digests");
	view_release(&v);
	step(ct, now + 60, 1, 1);
	step(ct, now + 30 + IV, 0, 0);
	struct store_view v2 = { 0 };
	ok(check_all(ct, st, moved, &v2, "moved") == 0, "the new bucket's digests verify and list its files");
	count(&v2, "us-east-1", &n, &starts);
	ok(n == 1 && starts == 1 && has_digest_ending(&v2, "us-east-1", now + 30 + IV),
	   "the new bucket starts a chain with null links (%zu, %zu)", n, starts);
	view_release(&v2);
	now += 30 + IV;

	/* DeleteTrail: a final digest, then the trail is gone. */
	set_clock(now + 77);
	ingest(ct, "eu-west-1", 2, now + 70);
	ok(ct_delete_trail(ct, NULL, "main", &err) == 0, "DeleteTrail");
	walk(st, moved, "", &v);
	ok(has_digest_ending(&v, "us-east-1", now + 77) && has_digest_ending(&v, "eu-west-1", now + 77),
	   "DeleteTrail wrote a final digest in each region");
	view_release(&v);

	/* The whole history: every digest good, every link right, and every
	 * delivered file in exactly one digest but the three delivered while
	 * validation was off. */
	walk(st, bucket, "", &v);
	size_t n_logs = v.n_logs;
	view_release(&v);
	int problems = check_all(ct, st, bucket, &v, "history");
	ok(problems == 1, "the whole history checks out but for the one file delivered while validation was off (%d; %zu files)",
	   problems, n_logs);
	view_release(&v);
	ok(check_all(ct, st, moved, &v, "moved history") == 0, "and so does the new bucket's");
	view_release(&v);
	struct buf gone;
	buf_init(&gone, 4096);
	ok(ct_get_trail_status_json(ct, NULL, "main", &gone, &err) == -ENOENT, "the trail is gone");
	buf_release(&gone);
	store_free(st);
	ct_close(ct);
}

/* ---- the chains module on its own ---- */

static void test_chains_redo(void)
{
	char dir[192], sdir[192], kdir[192];
	snprintf(dir, sizeof dir, "%s/chains", root);
	snprintf(sdir, sizeof sdir, "%s/chains/store", root);
	snprintf(kdir, sizeof kdir, "%s/chains/keys", root);
	mkdir_p(dir, 0700);
	int serr;
	struct store *st = store_local_new(sdir, &serr);
	st->ops->bucket_create(st, "bkt");
	struct ct_err err;
	struct sign *sg = sign_open(kdir, &err);
	struct chains *c = chains_open(dir, st, sg, 100, &err);
	ok(c != NULL, "chains_open on a new directory");
	struct chain_want w = { "trl", "us-east-1", "bkt", "", ACCOUNT, "us-east-1" };
	ok(chains_sync(c, &w, 1, 1000, false, NULL, &err) == 0 && chains_running(c, "trl", "us-east-1"),
	   "a wanted chain starts (no key needed to start)");
	static const char h1[] = "1111111111111111111111111111111111111111111111111111111111111111";
	static const char h2[] = "2222222222222222222222222222222222222222222222222222222222222222";
	struct delivery_log a = { "trl", "us-east-1", "bkt", "logs/a.json.gz", h1, 990, 995 };
	struct delivery_log b = { "trl", "us-east-1", "bkt", "logs/b.json.gz", h2, 991, 996 };
	struct delivery_log other = { "trl", "eu-west-1", "bkt", "logs/c.json.gz", h2, 991, 996 };
	ok(chains_delivered(c, 1010, &a, 1, NULL, 0) == 0, "a delivered file is journaled");
	/* A redone delivery tells the same file again, and one whose trail
	 * failed is taken back. */
	ok(chains_delivered(c, 1010, &a, 1, NULL, 0) == 0, "the same file again (a redo)");
	ok(chains_delivered(c, 1020, &b, 1, NULL, 0) == 0 && chains_delivered(c, 1020, NULL, 0, &b, 1) == 0,
	   "a file delivered, then taken back");
	ok(chains_delivered(c, 1020, &other, 1, NULL, 0) == 0, "a file of a region without a chain is ignored");
	chains_close(c);
	/* A torn last line is dropped at open. */
	char jpath[256];
	snprintf(jpath, sizeof jpath, "%s/digests.journal", dir);
	FILE *f = fopen(jpath, "a");
	fputs("{\"s\":99,\"c\":1,\"t\":10", f);
	fclose(f);
	c = chains_open(dir, st, sg, 100, &err);
	ok(c != NULL, "reopens with a torn last journal line");
	bool deferred = false;
	ok(chains_sync(c, &w, 1, 1100, false, &deferred, &err) == 0 && deferred,
	   "without a key and without leave to make one, the digest waits");
	ok(chains_sync(c, &w, 1, 1100, true, &deferred, &err) == 0, "with leave, it is written (%s)",
	   err.message);
	struct store_view v = { 0 };
	walk(st, "bkt", "", &v);
	ok(v.n == 1 && v.d[0].doc && json_size(json_get(v.d[0].doc, "logFiles")) == 1 &&
	   !strcmp(str(json_at(json_get(v.d[0].doc, "logFiles"), 0), "s3Object"), "logs/a.json.gz") &&
	   !strcmp(str(v.d[0].doc, "digestStartTime"), "1970-01-01T00:16:40Z"),
	   "one digest listing the redone file once, not the one taken back");
	view_release(&v);
	/* 30 windows behind (a daemon that was down): one long digest for
	 * the first 7, then one per window, 24 in all, chained. */
	ok(chains_sync(c, &w, 1, 1100 + 30 * 100, true, NULL, &err) == 0, "a sync 30 windows late");
	walk(st, "bkt", "", &v);
	size_t n = 0, starts = 0;
	count(&v, "us-east-1", &n, &starts);
	bool longone = false;
	for (size_t i = 0; i < v.n; i++)
		longone |= v.d[i].doc && !strcmp(str(v.d[i].doc, "digestStartTime"), "1970-01-01T00:18:20Z") &&
			   !strcmp(str(v.d[i].doc, "digestEndTime"), "1970-01-01T00:30:00Z");
	ok(n == 25 && starts == 1 && longone, "24 catch-up digests, the first one long (%zu, %zu)", n, starts);
	view_release(&v);
	chains_close(c);
	/* A damaged journal line is refused with the path named. */
	f = fopen(jpath, "a");
	fputs("not json\n", f);
	fclose(f);
	c = chains_open(dir, st, sg, 100, &err);
	ok(!c && strstr(err.message, "digests.journal") && !strcmp(err.name, "InvalidStateFile"),
	   "a damaged journal is refused: %s", err.message);
	chains_close(c);
	sign_close(sg);
	store_free(st);
}

/* ---- the delivery observer ---- */

struct seen_log {
	char key[512];
	char hash[65];
	int64_t oldest, newest, time;
};
static struct seen_log seen[16];
static size_t n_seen;
static int observer_result;

static int observe(void *ctx, int64_t time, const struct delivery_log *logs, size_t n,
		   const struct delivery_log *gone, size_t n_gone)
{
	(void)ctx;
	(void)gone;
	(void)n_gone;
	if (observer_result < 0)
		return observer_result;
	for (size_t i = 0; i < n && n_seen < 16; i++) {
		struct seen_log *l = &seen[n_seen++];
		snprintf(l->key, sizeof l->key, "%s", logs[i].key);
		snprintf(l->hash, sizeof l->hash, "%s", logs[i].hash);
		l->oldest = logs[i].oldest;
		l->newest = logs[i].newest;
		l->time = time;
	}
	return 0;
}

static void test_observer(void)
{
	char dir[128], sdir[192], spdir[192];
	snprintf(dir, sizeof dir, "%s/observer", root);
	snprintf(sdir, sizeof sdir, "%s/store", dir);
	snprintf(spdir, sizeof spdir, "%s/spool", dir);
	mkdir_p(dir, 0700);
	int serr = 0;
	struct store *st = store_local_new(sdir, &serr);
	st->ops->bucket_create(st, "obs-bucket");
	char why[256];
	struct spool *sp = spool_open(spdir, 1ull << 30, &serr, why, sizeof why);
	struct clock clk = { .test_file = clockfile };
	set_clock(T0);
	struct ct_err err;
	struct delivery *d = delivery_open_observed(dir, sp, st, &clk, observe, NULL, &err);
	ok(d != NULL, "delivery_open_observed");
	const char *trails[] = { "obs" };
	for (int i = 0; i < 3; i++) {
		struct event e;
		memset(&e, 0, sizeof e);
		char json[200];
		snprintf(json, sizeof json, "{\"eventTime\":\"x\",\"n\":%d}", i);
		e.json = json;
		e.len = strlen(json);
		snprintf(e.region, sizeof e.region, "us-east-1");
		e.time = T0 - 100 + 40 * i;        /* out of order on purpose */
		if (i == 1)
			e.time = T0 - 200;
		struct buf frame;
		buf_init(&frame, 1 << 16);
		delivery_frame(&e, trails, 1, &frame);
		struct spool_item it = { frame.data, frame.len };
		uint64_t seq;
		spool_append(sp, &it, 1, &seq);
		buf_release(&frame);
	}
	struct delivery_target t = { "obs", "obs-bucket", "", ACCOUNT };
	observer_result = -EIO;
	ok(delivery_run(d, &t, 1, NULL, NULL, NULL) < 0, "an observer that fails fails the run");
	struct store_view none = { 0 };
	walk(st, "obs-bucket", "", &none);
	ok(none.n_logs == 0, "and leaves no file behind (%zu)", none.n_logs);
	view_release(&none);
	set_clock(T0 + 60);
	observer_result = 0;
	n_seen = 0;
	ok(delivery_run(d, &t, 1, NULL, NULL, NULL) == 0 && n_seen == 1,
	   "the records are delivered again, and the observer hears of the file (%zu)", n_seen);
	struct buf obj, body;
	buf_init(&obj, OBJ_MAX);
	buf_init(&body, OBJ_MAX);
	char h[65] = "";
	if (n_seen && st->ops->object_get(st, "obs-bucket", seen[0].key, &obj, NULL) == 0 &&
	    gz_decompress(obj.data, obj.len, OBJ_MAX, &body) == 0)
		sign_sha256_hex(body.data, body.len, h);
	ok(n_seen && !strcmp(h, seen[0].hash), "the hash told is the SHA-256 of the uncompressed object");
	ok(n_seen && seen[0].oldest == T0 - 200 && seen[0].newest == T0 - 20 && seen[0].time == T0 + 60,
	   "with the file's oldest and newest eventTime and the delivery time");
	buf_release(&obj);
	buf_release(&body);
	delivery_close(d);
	spool_close(sp);
	store_free(st);
}

/* -o key_rotation: a region's key turns over when it is that old, and
 * the chain goes on across it. */
static void test_scheduled_rotation(void)
{
	char st2[160];
	snprintf(st2, sizeof st2, "%s/rotation", root);
	struct ct_options o = { .state_dir = st2, .account = ACCOUNT, .regions = "us-east-1",
				.test_clock = clockfile, .digest_interval = IV, .key_rotation = 2 * IV };
	struct ct_err err;
	set_clock(T0);
	struct ct *ct = ct_open(&o, &err);
	ok(ct != NULL, "opens with key_rotation");
	if (!ct)
		return;
	ct_create_trail(ct, NULL, "rot", &err);
	for (int w = 0; w <= 6; w++)
		step(ct, T0 + w * IV, w % 2, 0);
	struct sign_public_key *keys;
	size_t nk;
	ct_list_public_keys(ct, "us-east-1", &keys, &nk, &err);
	/* Made at the first digest (T0 + IV), rotated at T0 + 3 IV and T0 + 5 IV. */
	ok(nk == 3 && keys[0].start == T0 + IV && keys[0].end == T0 + 3 * IV &&
	   keys[1].end == T0 + 5 * IV && keys[2].end == 0,
	   "keys rotate every key_rotation seconds (%zu keys)", nk);
	sign_public_keys_free(keys, nk);
	struct trail t;
	trail_init(&t);
	ct_get_trail(ct, NULL, "rot", &t, &err);
	char store_dir[192];
	snprintf(store_dir, sizeof store_dir, "%s/store", st2);
	int serr;
	struct store *st = store_local_new(store_dir, &serr);
	struct store_view v = { 0 };
	ok(check_all(ct, st, t.bucket, &v, "rotation") == 0 && v.n == 6,
	   "six digests across two rotations verify, each with its own key, and link (%zu)", v.n);
	view_release(&v);
	store_free(st);
	trail_release(&t);
	ct_close(ct);
}

int main(void)
{
	testdir_make(root, sizeof root);
	snprintf(state, sizeof state, "%s/state", root);
	snprintf(clockfile, sizeof clockfile, "%s/clock", root);
	test_engine();
	test_chains_redo();
	test_scheduled_rotation();
	test_observer();
	testdir_remove(root);
	return tap_done();
}
