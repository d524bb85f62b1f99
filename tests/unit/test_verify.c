/* Unit tests for backend/verify.c: the validate-logs algorithm over a local
 * store filled with digest.h/sign.h/gz.h, each case compared with the exact
 * stdout, stderr and exit code the aws CLI (1.45) gives for it: a clean
 * chain (quiet and --verbose), the tamper matrix (a log file changed,
 * deleted, rewritten as two gzip members; a digest changed, deleted, moved,
 * its signature altered, its metadata removed; a key not in the set, a key
 * that is not PKCS#1, no keys at all), a chain across a restart (the gap
 * line), empty hours and a day boundary; plus the parsers (times, ARNs,
 * PEM, ListPublicKeys) and the per-file checks. */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "gz.h"
#include "sign.h"
#include "store.h"
#include "tap.h"
#include "testdir.h"
#include "verify.h"
#include "../verify_fixture.h"

#define ARN "arn:aws:cloudtrail:us-east-1:123456789012:trail/main"
#define T0 1768035631LL            /* 2026-01-10T09:00:31Z */
#define START "2026-01-10T09:00:00Z"
#define END "2026-01-10T12:00:00Z"
#define HEADER "Validating log files for trail " ARN " between " START " and " END "\n\n"
#define REQUESTED "Results requested for " START " to " END "\n"

static char root[64], ring[128];
static int scenario;

struct result {
	char *out, *err;
	size_t out_len, err_len;
	int code;
};

static void result_release(struct result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof *r);
}

/* A fresh store for a case: its directory into dir. */
static void new_fx(struct fx *f, char *dir, size_t size, const char *bucket)
{
	snprintf(dir, size, "%s/s%d", root, ++scenario);
	int r = fx_open(f, dir, ring, bucket, NULL);
	if (r < 0) {
		printf("Bail out! fixture: %s\n", strerror(-r));
		exit(1);
	}
}

struct three {
	char d[3][DIGEST_KEY_MAX + 1];
	char l[3][2][DIGEST_KEY_MAX + 1];
};

/* Three chained hours from T0 with two log files each. */
static void three_hours(struct fx *f, struct three *t)
{
	for (int h = 0; h < 3; h++) {
		if (fx_hour(f, "us-east-1", T0 + 3600 * h, 2, false) < 0) {
			printf("Bail out! fx_hour\n");
			exit(1);
		}
		snprintf(t->d[h], sizeof t->d[h], "%s", f->last_digest);
		for (int i = 0; i < 2; i++)
			snprintf(t->l[h][i], sizeof t->l[h][i], "%s", f->log_keys[i]);
	}
}

/* Run the walk as `trailfs validate --region REGION` would. */
static void run(struct store *st, const char *bucket, const char *start, const char *end,
		bool verbose, unsigned flags, const struct verify_keys *keys, unsigned threads,
		struct result *res)
{
	memset(res, 0, sizeof *res);
	FILE *out = open_memstream(&res->out, &res->out_len);
	FILE *err = open_memstream(&res->err, &res->err_len);
	struct verify_keys ring_keys;
	verify_keys_init(&ring_keys);
	if (!keys) {
		verify_keys_load_ring(&ring_keys, ring, "us-east-1");
		keys = &ring_keys;
	}
	struct verify_source src;
	verify_source_store(st, &src);
	struct verify_trail t = { ARN, "123456789012", "main", "us-east-1", bucket, NULL, NULL };
	struct verify_time s, e;
	verify_time_parse(start, &s);
	verify_time_parse(end, &e);
	verify_time_normalize(&s);
	verify_time_normalize(&e);
	struct verify_report rep;
	verify_report_init(&rep, out, err, verbose);
	rep.threads = threads;
	rep.flags = flags;
	verify_report_header(&rep, ARN, &s, &e);
	verify_run_region(&rep, &src, &t, "us-east-1", keys, &s, &e);
	if (!rep.fatal)
		verify_report_summary(&rep, &s, &e);
	res->code = verify_report_exit_code(&rep);
	verify_report_release(&rep);
	verify_keys_release(&ring_keys);
	fclose(out);
	fclose(err);
}

static bool same(const char *what, const char *got, const char *want)
{
	if (!strcmp(got ? got : "", want))
		return true;
	diag("%s differs.\n--- want\n%s--- got\n%s---", what, want, got ? got : "");
	return false;
}

static void check(const char *name, const struct result *r, const char *out, const char *err, int code)
{
	ok(same("stdout", r->out, out), "%s: stdout", name);
	ok(same("stderr", r->err, err), "%s: stderr", name);
	ok(r->code == code, "%s: exit code %d (got %d)", name, code, r->code);
}

/* printf into a string that lives until fmt_free_all at the end. */
#define FMT_MAX 1024
static char *fmt_strings[FMT_MAX];
static size_t fmt_n;

__attribute__((format(printf, 1, 2)))
static char *fmt(const char *f, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s && fmt_n < FMT_MAX)
		fmt_strings[fmt_n++] = s;
	return s;
}

static void fmt_free_all(void)
{
	for (size_t i = 0; i < fmt_n; i++)
		free(fmt_strings[i]);
	fmt_n = 0;
}

static int get_obj(struct store *st, const char *bucket, const char *key, struct buf *b,
		   struct store_object_info *info)
{
	buf_init(b, 64u << 20);
	return st->ops->object_get(st, bucket, key, b, info);
}

/* Replace a gzip object's content: its inflated bytes with from -> to. */
static void edit_object(struct store *st, const char *bucket, const char *key, const char *from,
			const char *to, bool keep_meta)
{
	struct buf b, plain, gz;
	struct store_object_info info;
	get_obj(st, bucket, key, &b, &info);
	buf_init(&plain, 64u << 20);
	buf_init(&gz, 64u << 20);
	gz_decompress(b.data, b.len, 64u << 20, &plain);
	char *hit = strstr(plain.data, from);
	struct buf edited;
	buf_init(&edited, 64u << 20);
	if (hit) {
		buf_add(&edited, plain.data, (size_t)(hit - plain.data));
		buf_puts(&edited, to);
		buf_puts(&edited, hit + strlen(from));
	} else {
		buf_add(&edited, plain.data, plain.len);
	}
	gz_compress(edited.data, edited.len, 6, &gz);
	st->ops->object_put(st, bucket, key, gz.data, gz.len, keep_meta ? &info : NULL);
	store_object_info_release(&info);
	buf_release(&b);
	buf_release(&plain);
	buf_release(&gz);
	buf_release(&edited);
}

static void clean_cases(void)
{
	struct fx f;
	char dir[128];
	struct three t;
	new_fx(&f, dir, sizeof dir, "b");
	three_hours(&f, &t);
	struct result r;

	char *summary = "Results found for 2026-01-10T09:00:31Z to " END ":\n\n"
			"3/3 digest files valid\n6/6 log files valid\n";
	run(f.st, "b", START, END, false, 0, NULL, 1, &r);
	check("clean chain", &r, fmt(HEADER REQUESTED "%s", summary), "", 0);
	result_release(&r);

	/* The walk goes from the newest digest back, each digest's log files
	 * after it; valid lines only with --verbose, then a blank line. */
	struct buf want;
	buf_init(&want, 1 << 20);
	buf_puts(&want, HEADER);
	for (int h = 2; h >= 0; h--) {
		buf_printf(&want, "Digest file\ts3://b/%s\tvalid\n", t.d[h]);
		for (int i = 0; i < 2; i++)
			buf_printf(&want, "Log file\ts3://b/%s\tvalid\n", t.l[h][i]);
	}
	buf_printf(&want, "\n" REQUESTED "%s", summary);
	run(f.st, "b", START, END, true, 0, NULL, 1, &r);
	check("clean chain --verbose", &r, want.data, "", 0);
	result_release(&r);
	/* The same on four threads: the order is the CLI's all the same. */
	run(f.st, "b", START, END, true, 0, NULL, 4, &r);
	check("clean chain --verbose, 4 threads", &r, want.data, "", 0);
	result_release(&r);
	buf_release(&want);

	/* A window that starts after the first digest: the walk stops at the
	 * first digest that starts before --start-time. */
	run(f.st, "b", "2026-01-10T10:30:00Z", END, false, 0, NULL, 1, &r);
	check("window from 10:30", &r,
	      "Validating log files for trail " ARN " between 2026-01-10T10:30:00Z and " END "\n\n"
	      "Results requested for 2026-01-10T10:30:00Z to " END "\n"
	      "Results found for 2026-01-10T10:30:00Z to " END ":\n\n"
	      "2/2 digest files valid\n4/4 log files valid\n", "", 0);
	result_release(&r);

	/* Nothing in range. */
	run(f.st, "b", "2026-02-01T00:00:00Z", "2026-02-01T05:00:00Z", false, 0, NULL, 1, &r);
	check("no digests in range", &r,
	      "Validating log files for trail " ARN " between 2026-02-01T00:00:00Z and 2026-02-01T05:00:00Z\n\n"
	      "Results requested for 2026-02-01T00:00:00Z to 2026-02-01T05:00:00Z\nNo digests found\n", "", 0);
	result_release(&r);

	/* The bucket moved: every digest names its original location. */
	f.st->ops->bucket_create(f.st, "b2");
	for (int h = 0; h < 3; h++) {
		struct buf b;
		struct store_object_info info;
		char *k = fmt("%s", t.d[h]);
		get_obj(f.st, "b", k, &b, &info);
		f.st->ops->object_put(f.st, "b2", k, b.data, b.len, &info);
		store_object_info_release(&info);
		buf_release(&b);
	}
	run(f.st, "b2", START, END, false, 0, NULL, 1, &r);
	check("digests moved to another bucket", &r,
	      HEADER REQUESTED "No valid digests found in range\n\n0/3 digest files valid, 3/3 digest files INVALID\n",
	      fmt("Digest file\ts3://b2/%s\tINVALID: has been moved from its original location\n\n"
		  "Digest file\ts3://b2/%s\tINVALID: has been moved from its original location\n\n"
		  "Digest file\ts3://b2/%s\tINVALID: has been moved from its original location\n\n",
		  t.d[2], t.d[1], t.d[0]), 1);
	result_release(&r);

	/* No such bucket: the CLI's GetBucketLocation error, exit 255. */
	run(f.st, "nope", START, END, false, 0, NULL, 1, &r);
	check("no such bucket", &r, HEADER,
	      "\nAn error occurred (NoSuchBucket) when calling the GetBucketLocation operation: The specified bucket does not exist\n",
	      255);
	result_release(&r);
	fx_close(&f);
}

enum tamper {
	LOG_CHANGED, LOG_DELETED, LOG_TWO_MEMBERS, LOG_APPENDED_MEMBER, LOG_NOT_GZIP,
	DIGEST_CHANGED, DIGEST_DELETED, DIGEST_MOVED_KEY, SIG_ALTERED, META_REMOVED,
	DIGEST_NOT_GZIP,
};

/* The tamper matrix, each on the middle hour's first log or its digest. */
static void tamper_cases(void)
{
	static const struct {
		const char *name;
		enum tamper what;
		unsigned flags;
		const char *verdict;     /* the INVALID line's end, NULL: all valid */
		bool digest;             /* the line is the digest's */
	} cases[] = {
		{ "log changed", LOG_CHANGED, 0, "INVALID: hash value doesn't match", false },
		{ "log deleted", LOG_DELETED, 0, "INVALID: not found", false },
		{ "log as two gzip members", LOG_TWO_MEMBERS, 0, "INVALID: hash value doesn't match", false },
		{ "log as two gzip members, --strict-gzip", LOG_TWO_MEMBERS, VERIFY_STRICT_GZIP,
		  "INVALID: unexpected data after end of compressed stream", false },
		/* aws-cli 1.45 hashes the first member only: a member appended
		 * to an intact file passes it. */
		{ "log with a member appended", LOG_APPENDED_MEMBER, 0, NULL, false },
		{ "log with a member appended, --strict-gzip", LOG_APPENDED_MEMBER, VERIFY_STRICT_GZIP,
		  "INVALID: unexpected data after end of compressed stream", false },
		{ "log not gzip", LOG_NOT_GZIP, 0, "INVALID: invalid format", false },
		{ "digest changed", DIGEST_CHANGED, 0, "INVALID: signature verification failed", true },
		{ "digest deleted", DIGEST_DELETED, 0, "INVALID: not found", true },
		{ "digest moved to another key", DIGEST_MOVED_KEY, 0, "INVALID: not found", true },
		{ "signature altered", SIG_ALTERED, 0, "INVALID: signature verification failed", true },
		{ "metadata removed", META_REMOVED, 0, "INVALID: signature verification failed", true },
		{ "digest not gzip", DIGEST_NOT_GZIP, 0, "INVALID: invalid format", true },
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct fx f;
		char dir[128];
		struct three t;
		new_fx(&f, dir, sizeof dir, "b");
		three_hours(&f, &t);
		struct store *st = f.st;
		const char *lk = t.l[1][0], *dk = t.d[1];
		struct buf b, plain, gz;
		struct store_object_info info;
		buf_init(&plain, 1 << 20);
		buf_init(&gz, 1 << 20);
		switch (cases[c].what) {
		case LOG_CHANGED:
			edit_object(st, "b", lk, "\"E0\"", "\"E9\"", false);
			break;
		case LOG_DELETED:
		case DIGEST_DELETED:
			st->ops->object_delete(st, "b", cases[c].what == LOG_DELETED ? lk : dk);
			break;
		case LOG_TWO_MEMBERS:
		case LOG_APPENDED_MEMBER:
			get_obj(st, "b", lk, &b, NULL);
			gz_decompress(b.data, b.len, 1 << 20, &plain);
			if (cases[c].what == LOG_TWO_MEMBERS) {
				gz_compress(plain.data, plain.len / 2, 6, &gz);
				gz_compress(plain.data + plain.len / 2, plain.len - plain.len / 2, 6, &gz);
			} else {
				buf_add(&gz, b.data, b.len);
				gz_compress("{\"Records\":[]}", 14, 6, &gz);
			}
			st->ops->object_put(st, "b", lk, gz.data, gz.len, NULL);
			buf_release(&b);
			break;
		case LOG_NOT_GZIP:
			st->ops->object_put(st, "b", lk, "{\"Records\":[]}", 14, NULL);
			break;
		case DIGEST_CHANGED:
			edit_object(st, "b", dk, "\"logFiles\":[", "\"logFiles\":[ ", true);
			break;
		case DIGEST_MOVED_KEY: {
			get_obj(st, "b", dk, &b, &info);
			char *moved = fmt("%s", dk);
			memcpy(strstr(moved, "/2026/01/10/"), "/2026/01/09/", 12);
			st->ops->object_put(st, "b", moved, b.data, b.len, &info);
			st->ops->object_delete(st, "b", dk);
			store_object_info_release(&info);
			buf_release(&b);
			break;
		}
		case SIG_ALTERED:
		case META_REMOVED:
			get_obj(st, "b", dk, &b, &info);
			if (cases[c].what == SIG_ALTERED) {
				char *sig = info.meta[0].value;
				if (!strcmp(info.meta[0].name, "signature-algorithm"))
					sig = info.meta[1].value;
				sig[10] = sig[10] == '0' ? '1' : '0';
			}
			st->ops->object_put(st, "b", dk, b.data, b.len,
					    cases[c].what == SIG_ALTERED ? &info : NULL);
			store_object_info_release(&info);
			buf_release(&b);
			break;
		case DIGEST_NOT_GZIP:
			get_obj(st, "b", dk, &b, &info);
			st->ops->object_put(st, "b", dk, "{}", 2, &info);
			store_object_info_release(&info);
			buf_release(&b);
			break;
		}
		buf_release(&plain);
		buf_release(&gz);

		struct result r;
		run(st, "b", START, END, false, cases[c].flags, NULL, 2, &r);
		const char *found = "Results found for 2026-01-10T09:00:31Z to " END ":\n\n";
		if (!cases[c].verdict)
			check(cases[c].name, &r, fmt(HEADER REQUESTED "%s3/3 digest files valid\n6/6 log files valid\n", found), "", 0);
		else if (!cases[c].digest)
			check(cases[c].name, &r,
			      fmt(HEADER REQUESTED "%s3/3 digest files valid\n5/6 log files valid, 1/6 log files INVALID\n", found),
			      fmt("Log file\ts3://b/%s\t%s\n\n", lk, cases[c].verdict), 1);
		else
			/* An invalid digest's log files are never checked; the
			 * walk goes on with the next older listed digest. */
			check(cases[c].name, &r,
			      fmt(HEADER REQUESTED "%s2/3 digest files valid, 1/3 digest files INVALID\n4/4 log files valid\n", found),
			      fmt("Digest file\ts3://b/%s\t%s\n\n", dk, cases[c].verdict), 1);
		result_release(&r);
		fx_close(&f);
	}
}

/* A DER SubjectPublicKeyInfo around a PKCS#1 key (2048-bit sizes). */
static size_t to_spki(const unsigned char *der, size_t n, unsigned char *out)
{
	static const unsigned char alg[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
					     0x0d, 0x01, 0x01, 0x01, 0x05, 0x00 };
	size_t bits = n + 1, inner = sizeof alg + 4 + bits;
	size_t o = 0;
	out[o++] = 0x30;
	out[o++] = 0x82;
	out[o++] = (unsigned char)(inner >> 8);
	out[o++] = (unsigned char)inner;
	memcpy(out + o, alg, sizeof alg);
	o += sizeof alg;
	out[o++] = 0x03;
	out[o++] = 0x82;
	out[o++] = (unsigned char)(bits >> 8);
	out[o++] = (unsigned char)bits;
	out[o++] = 0;
	memcpy(out + o, der, n);
	return o + n;
}

static void key_cases(void)
{
	struct fx f;
	char dir[128];
	struct three t;
	new_fx(&f, dir, sizeof dir, "b");
	three_hours(&f, &t);
	struct verify_keys ring_keys, other, spki, none;
	verify_keys_init(&ring_keys);
	verify_keys_init(&other);
	verify_keys_init(&spki);
	verify_keys_init(&none);
	verify_keys_load_ring(&ring_keys, ring, "us-east-1");
	ok(ring_keys.n == 1, "the ring has one key for us-east-1");
	const char *fp = ring_keys.v[0].fingerprint;

	/* A key of another region (another ring's): not in the set. */
	struct fx g;
	char gdir[128];
	new_fx(&g, gdir, sizeof gdir, "b");
	struct sign_key *k = NULL;
	struct ct_err e;
	sign_current(g.sg, "eu-west-3", T0, &k, &e);
	sign_key_free(k);
	verify_keys_load_ring(&other, ring, "eu-west-3");
	fx_close(&g);
	struct result r;
	run(f.st, "b", START, END, false, 0, &other, 1, &r);
	char *line = fmt("INVALID: public key not found in region us-east-1 for fingerprint %s", fp);
	check("key not in the set", &r,
	      HEADER REQUESTED "No valid digests found in range\n\n0/3 digest files valid, 3/3 digest files INVALID\n",
	      fmt("Digest file\ts3://b/%s\t%s\n\nDigest file\ts3://b/%s\t%s\n\nDigest file\ts3://b/%s\t%s\n\n",
		  t.d[2], line, t.d[1], line, t.d[0], line), 1);
	result_release(&r);

	unsigned char buf[1024];
	size_t n = to_spki(ring_keys.v[0].der, ring_keys.v[0].der_len, buf);
	ok(verify_keys_add(&spki, fp, buf, n, 0, 0) == 0, "an SPKI key can be put in a set under a fingerprint");
	run(f.st, "b", START, END, false, 0, &spki, 1, &r);
	line = fmt("INVALID: Unable to load PKCS #1 key with fingerprint %s", fp);
	check("key not PKCS#1", &r,
	      HEADER REQUESTED "No valid digests found in range\n\n0/3 digest files valid, 3/3 digest files INVALID\n",
	      fmt("Digest file\ts3://b/%s\t%s\n\nDigest file\ts3://b/%s\t%s\n\nDigest file\ts3://b/%s\t%s\n\n",
		  t.d[2], line, t.d[1], line, t.d[0], line), 1);
	result_release(&r);

	run(f.st, "b", START, END, false, 0, &none, 1, &r);
	check("no public keys in range", &r, HEADER,
	      "\nNo public keys found between 2026-01-10T09:00:00Z and 2026-01-10T14:00:00Z\n", 255);
	result_release(&r);

	/* A window that ends before the range: ListPublicKeys gives nothing. */
	struct verify_keys old;
	verify_keys_init(&old);
	verify_keys_add(&old, NULL, ring_keys.v[0].der, ring_keys.v[0].der_len, 1000, 2000);
	run(f.st, "b", START, END, false, 0, &old, 1, &r);
	check("a key whose window is over", &r, HEADER,
	      "\nNo public keys found between 2026-01-10T09:00:00Z and 2026-01-10T14:00:00Z\n", 255);
	result_release(&r);
	verify_keys_release(&old);

	/* The PEM and ListPublicKeys forms load the same key. */
	struct sign_public_key *pub = NULL;
	size_t npub = 0;
	sign_list(f.sg, "us-east-1", &pub, &npub, &e);
	struct verify_keys pem, list;
	verify_keys_init(&pem);
	verify_keys_init(&list);
	ok(npub == 1 && verify_keys_parse_pem(&pem, pub[0].pem, strlen(pub[0].pem)) == 0 && pem.n == 1 &&
	   !strcmp(pem.v[0].fingerprint, fp) && pem.v[0].end == VERIFY_KEY_OPEN,
	   "a PEM RSA PUBLIC KEY loads with its fingerprint, always valid");
	/* base64 of the DER for a ListPublicKeys document */
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct buf v;
	buf_init(&v, 1 << 16);
	const unsigned char *d = ring_keys.v[0].der;
	size_t dl = ring_keys.v[0].der_len;
	for (size_t i = 0; i < dl; i += 3) {
		unsigned x = (unsigned)d[i] << 16 | (i + 1 < dl ? (unsigned)d[i + 1] << 8 : 0) |
			     (i + 2 < dl ? d[i + 2] : 0);
		buf_putc(&v, b64[x >> 18 & 63]);
		buf_putc(&v, b64[x >> 12 & 63]);
		buf_putc(&v, i + 1 < dl ? b64[x >> 6 & 63] : '=');
		buf_putc(&v, i + 2 < dl ? b64[x & 63] : '=');
	}
	char *doc = fmt("{\"PublicKeyList\":[{\"Value\":\"%s\",\"ValidityStartTime\":\"2026-01-10T08:00:00+00:00\","
			"\"ValidityEndTime\":1768060800.0,\"Fingerprint\":\"%s\"}]}", v.data, fp);
	ok(verify_keys_parse_list(&list, doc, strlen(doc)) == 0 && list.n == 1 && list.v[0].start == 1768032000 &&
	   list.v[0].end == 1768060800 && list.v[0].der_len == dl && !memcmp(list.v[0].der, d, dl),
	   "a ListPublicKeys document loads (ISO and epoch times, base64 Value)");
	run(f.st, "b", START, END, false, 0, &list, 1, &r);
	check("keys from a ListPublicKeys document", &r,
	      HEADER REQUESTED "Results found for 2026-01-10T09:00:31Z to " END ":\n\n3/3 digest files valid\n6/6 log files valid\n",
	      "", 0);
	result_release(&r);
	ok(verify_keys_parse_list(&list, "{\"Keys\":[]}", 11) == -EINVAL, "another document is refused");
	/* A directory of per-region files: each serves its own region. */
	struct sign_public_key *west = NULL;
	size_t nwest = 0;
	sign_list(f.sg, "eu-west-3", &west, &nwest, &e);
	char *kdir = fmt("%s/keydir", dir);
	mkdir(kdir, 0700);
	FILE *pf = fopen(fmt("%s/us-east-1.pem", kdir), "w");
	fputs(pub[0].pem, pf);
	fclose(pf);
	pf = fopen(fmt("%s/eu-west-3.pem", kdir), "w");
	fputs(nwest ? west[0].pem : "", pf);
	fclose(pf);
	struct verify_keys dk;
	verify_keys_init(&dk);
	ok(verify_keys_load_path(&dk, kdir, "us-east-1") == 0 && dk.n == 1 && !strcmp(dk.v[0].fingerprint, fp),
	   "a key directory: us-east-1.pem serves us-east-1, eu-west-3.pem does not");
	verify_keys_release(&dk);
	ok(verify_keys_load_path(&dk, kdir, NULL) == 0 && dk.n == 2, "a key directory without a region: every file");
	verify_keys_release(&dk);
	sign_public_keys_free(west, nwest);
	ok(verify_keys_parse_pem(&list, "hello", 5) == -EINVAL, "text without a PEM block is refused");
	buf_release(&v);
	sign_public_keys_free(pub, npub);
	verify_keys_release(&pem);
	verify_keys_release(&list);
	verify_keys_release(&ring_keys);
	verify_keys_release(&other);
	verify_keys_release(&spki);
	verify_keys_release(&none);
	fx_close(&f);
}

/* Chains across a restart, empty hours, a day boundary. */
static void chain_cases(void)
{
	struct fx f;
	char dir[128];
	new_fx(&f, dir, sizeof dir, "b");
	char d[4][DIGEST_KEY_MAX + 1];
	fx_hour(&f, "us-east-1", T0, 1, false);
	snprintf(d[0], sizeof d[0], "%s", f.last_digest);
	fx_hour(&f, "us-east-1", T0 + 3600, 0, false);    /* an empty hour */
	snprintf(d[1], sizeof d[1], "%s", f.last_digest);
	/* logging stopped for an hour, then a restart with null links */
	fx_hour(&f, "us-east-1", T0 + 3 * 3600, 1, true);
	snprintf(d[3], sizeof d[3], "%s", f.last_digest);
	struct result r;
	run(f.st, "b", START, "2026-01-10T13:00:00Z", false, 0, NULL, 1, &r);
	check("a restart: the gap line, not counted", &r,
	      "Validating log files for trail " ARN " between " START " and 2026-01-10T13:00:00Z\n\n"
	      "Results requested for " START " to 2026-01-10T13:00:00Z\n"
	      "Results found for 2026-01-10T09:00:31Z to 2026-01-10T13:00:00Z:\n\n"
	      "3/3 digest files valid\n2/2 log files valid\n",
	      "No log files were delivered by CloudTrail between 2026-01-10T11:00:31Z and 2026-01-10T12:00:31Z\n\n", 0);
	result_release(&r);
	/* --verbose: the gap line comes after the restart digest's lines, with
	 * a blank line before it since stdout had the last word. */
	run(f.st, "b", START, "2026-01-10T13:00:00Z", true, 0, NULL, 1, &r);
	ok(strstr(r.err ? r.err : "", "\nNo log files were delivered by CloudTrail between 2026-01-10T11:00:31Z and 2026-01-10T12:00:31Z\n\n") == r.err,
	   "a restart, --verbose: the gap line opens with a blank line");
	ok(strstr(r.out ? r.out : "", fmt("Digest file\ts3://b/%s\tvalid\n", d[1])) != NULL,
	   "a restart, --verbose: the empty hour's digest is valid");
	result_release(&r);
	fx_close(&f);

	/* A day boundary: 22:00:31 to 01:00:31 across midnight. */
	new_fx(&f, dir, sizeof dir, "b");
	int64_t late = 1768082431;   /* 2026-01-10T22:00:31Z */
	for (int h = 0; h < 3; h++)
		fx_hour(&f, "us-east-1", late + 3600 * h, 2, false);
	ok(strstr(f.last_digest, "/2026/01/11/") != NULL, "the last digest is in the next day's folder");
	run(f.st, "b", "2026-01-10T22:00:00Z", "2026-01-11T01:00:00Z", false, 0, NULL, 1, &r);
	check("a day boundary", &r,
	      "Validating log files for trail " ARN " between 2026-01-10T22:00:00Z and 2026-01-11T01:00:00Z\n\n"
	      "Results requested for 2026-01-10T22:00:00Z to 2026-01-11T01:00:00Z\n"
	      "Results found for 2026-01-10T22:00:31Z to 2026-01-11T01:00:00Z:\n\n"
	      "3/3 digest files valid\n6/6 log files valid\n", "", 0);
	result_release(&r);
	fx_close(&f);
}

/* Backfill digests: walked after the standard ones, keys fetched for the
 * generation time +- 1 hour, lines prefixed "(backfill) ", their own
 * ratio; null links between two of them give a (backfill) gap line. */
static void backfill_cases(void)
{
	struct fx f;
	char dir[128];
	new_fx(&f, dir, sizeof dir, "b");
	fx_hour(&f, "us-east-1", T0, 0, false);
	char bf[2][DIGEST_KEY_MAX + 1], lk[2][DIGEST_KEY_MAX + 1], h[65];
	for (int i = 0; i < 2; i++) {
		fx_log(&f, "us-east-1", T0 + 1800 + i, 1, lk[i], h);
		struct digest_log_file late = { "b", lk[i], h, T0, T0 };
		fx_backfill(&f, "us-east-1", T0 - 3600 * i, T0 + 3600 - 3600 * i, &late, 1,
			    i ? NULL : "2026-01-10T11:30:00Z");
		snprintf(bf[i], sizeof bf[i], "%s", f.last_digest);
	}
	struct result r;
	run(f.st, "b", "2026-01-10T08:00:00Z", END, true, 0, NULL, 1, &r);
	check("backfill digests", &r,
	      fmt("Validating log files for trail " ARN " between 2026-01-10T08:00:00Z and " END "\n\n"
		  "Digest file\ts3://b/%s\tvalid\n"
		  "(backfill) Digest file\ts3://b/%s\tvalid\n"
		  "Log file\ts3://b/%s\tvalid\n"
		  "Results requested for 2026-01-10T08:00:00Z to " END "\n"
		  "Results found for 2026-01-10T09:00:31Z to 2026-01-10T10:00:31Z:\n\n"
		  "1/1 digest files valid\n1/2 backfill digest files valid, 1/2 backfill digest files INVALID\n"
		  "1/1 log files valid\n", f.chains[0].key, bf[0], lk[0]),
	      fmt("\n(backfill) No log files were delivered by CloudTrail between 2026-01-10T09:00:31Z and 2026-01-10T09:00:31Z\n\n"
		  "(backfill) Digest file\ts3://b/%s\tINVALID: invalid format\n\n", bf[1]), 1);
	result_release(&r);
	fx_close(&f);
}

/* A log file in a bucket that does not exist: the CLI's GetBucketLocation
 * fails and it stops (255) with what it printed so far; the log files
 * queued behind it are never reported. */
static void fatal_cases(void)
{
	struct fx f;
	char dir[128];
	new_fx(&f, dir, sizeof dir, "b");
	char k1[DIGEST_KEY_MAX + 1], k2[DIGEST_KEY_MAX + 1], h1[65], h2[65];
	fx_log(&f, "us-east-1", T0 + 60, 1, k1, h1);
	fx_log(&f, "us-east-1", T0 + 120, 1, k2, h2);
	struct digest_log_file logs[3] = {
		{ "b", k1, h1, T0, T0 }, { "gone-bucket", k2, h2, T0, T0 }, { "b", k2, h2, T0, T0 },
	};
	fx_digest(&f, "us-east-1", T0, T0 + 3600, logs, 3, false);
	for (unsigned threads = 1; threads <= 3; threads += 2) {
		struct result r;
		run(f.st, "b", START, END, true, 0, NULL, threads, &r);
		check(threads == 1 ? "a log file in a missing bucket" : "a log file in a missing bucket, 3 threads", &r,
		      fmt(HEADER "Digest file\ts3://b/%s\tvalid\nLog file\ts3://b/%s\tvalid\n", f.last_digest, k1),
		      "\nAn error occurred (NoSuchBucket) when calling the GetBucketLocation operation: The specified bucket does not exist\n",
		      255);
		result_release(&r);
	}
	fx_close(&f);
}

static void parser_cases(void)
{
	static const struct {
		const char *in;
		int r;
		const char *display;
	} times[] = {
		{ "2026-01-10T09:00:00Z", 0, "2026-01-10T09:00:00Z" },
		{ "2026-01-10", 0, "2026-01-10T00:00:00Z" },
		{ "2026-01-10 09:05", 0, "2026-01-10T09:05:00Z" },
		{ "2026-01-10T09:05:07.123456Z", 0, "2026-01-10T09:05:07Z" },
		{ "20260110T090507Z", 0, "2026-01-10T09:05:07Z" },
		/* normalize_date keeps the wall time: the CLI ignores offsets */
		{ "2026-01-10T09:00:00+02:00", 0, "2026-01-10T09:00:00Z" },
		{ "2026-02-30", -EINVAL, NULL },
		{ "yesterday", -EINVAL, NULL },
		{ "2026-01-10T25:00:00Z", -EINVAL, NULL },
		{ "", -EINVAL, NULL },
	};
	for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
		struct verify_time t;
		int r = verify_time_parse(times[i].in, &t);
		char s[32] = "";
		if (r == 0) {
			verify_time_normalize(&t);
			verify_time_display(&t, s, sizeof s);
		}
		ok(r == times[i].r && (r || !strcmp(s, times[i].display)), "time \"%s\" -> %s", times[i].in,
		   times[i].display ? times[i].display : "refused");
	}
	static const struct {
		const char *arn;
		int r;
		const char *region, *account, *name;
	} arns[] = {
		{ ARN, 0, "us-east-1", "123456789012", "main" },
		{ "arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/a/b", 0, "cn-north-1", "123456789012", "b" },
		{ "arn:aws:cloudtrail:us-east-1:12345678901:trail/x", -EINVAL, NULL, NULL, NULL },
		{ "foo", -EINVAL, NULL, NULL, NULL },
		{ "arn:aws:cloudtrail:us-east-1:123456789012:trail/", -EINVAL, NULL, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof arns / sizeof *arns; i++) {
		char *reg, *acct, *name;
		int r = verify_parse_arn(arns[i].arn, &reg, &acct, &name);
		ok(r == arns[i].r && (r || (!strcmp(reg, arns[i].region) && !strcmp(acct, arns[i].account) &&
					    !strcmp(name, arns[i].name))),
		   "ARN %s", arns[i].arn);
		if (r == 0) {
			free(reg);
			free(acct);
			free(name);
		}
	}
}

/* The per-file checks the daemon uses for the integrity xattr. */
static void file_cases(void)
{
	const char *text = "{\"Records\":[]}";
	char hash[65];
	sign_sha256_hex(text, strlen(text), hash);
	struct buf gz;
	buf_init(&gz, 1 << 16);
	gz_compress(text, strlen(text), 6, &gz);
	struct verify_log_result res;
	ok(verify_log_bytes(gz.data, gz.len, hash, 0, &res) == 0 && res.verdict == VERIFY_LOG_VALID &&
	   !res.trailing, "a log file: valid");
	char upper[65];
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(hash[i] >= 'a' && hash[i] <= 'f' ? hash[i] - 32 : hash[i]);
	ok(verify_log_bytes(gz.data, gz.len, upper, 0, &res) == 0 && res.verdict == VERIFY_LOG_HASH_MISMATCH,
	   "an uppercase expected hash does not match (a string compare, as the CLI)");
	ok(verify_log_bytes(gz.data, gz.len, NULL, 0, &res) == 0 && res.verdict == VERIFY_LOG_INVALID_FORMAT,
	   "no hashValue: invalid format");
	/* A truncated trailer: zlib raises nothing and the content is whole. */
	ok(verify_log_bytes(gz.data, gz.len - 8, hash, 0, &res) == 0 && res.verdict == VERIFY_LOG_VALID,
	   "a log file without its gzip trailer is valid for the CLI (zlib reads no trailer)");
	unsigned char bad[64];
	memcpy(bad, gz.data, gz.len);
	bad[gz.len - 5] ^= 1;   /* CRC32 */
	ok(verify_log_bytes(bad, gz.len, hash, 0, &res) == 0 && res.verdict == VERIFY_LOG_INVALID_FORMAT,
	   "a CRC mismatch: invalid format");
	ok(verify_log_bytes("", 0, hash, 0, &res) == 0 && res.verdict == VERIFY_LOG_HASH_MISMATCH,
	   "an empty object hashes as empty: mismatch");
	buf_add(&gz, "junk", 4);
	ok(verify_log_bytes(gz.data, gz.len, hash, 0, &res) == 0 && res.verdict == VERIFY_LOG_VALID &&
	   res.trailing, "trailing bytes: valid as CLI 1.45, marked trailing");
	ok(verify_log_bytes(gz.data, gz.len, hash, VERIFY_STRICT_GZIP, &res) == 0 &&
	   res.verdict == VERIFY_LOG_TRAILING_DATA &&
	   !strcmp(verify_log_message(res.verdict), "INVALID: unexpected data after end of compressed stream"),
	   "trailing bytes, strict: unexpected data");
	buf_release(&gz);

	/* verify_digest_object on a fixture digest. */
	struct fx f;
	char dir[128];
	new_fx(&f, dir, sizeof dir, "b");
	fx_hour(&f, "us-east-1", T0, 3, false);
	struct verify_keys keys;
	verify_keys_init(&keys);
	verify_keys_load_ring(&keys, ring, "us-east-1");
	struct verify_source src;
	verify_source_store(f.st, &src);
	struct verify_digest d;
	int r = verify_digest_object(&src, "b", f.last_digest, &keys, "us-east-1", &d);
	ok(r == 0 && d.verdict == VERIFY_DIGEST_VALID && !strcmp(d.message, "valid") && d.n_logs == 3 &&
	   !strcmp(d.logs[0].key, f.log_keys[0]) && d.logs[0].fetchable && d.logs[0].hash &&
	   !d.previous_key, "verify_digest_object: valid, three log entries, a chain start");
	struct verify_object obj;
	verify_object_init(&obj);
	bool all = true;
	for (size_t i = 0; r == 0 && i < d.n_logs; i++) {
		r = verify_log_object(&src, "b", d.logs[i].key, d.logs[i].hash, 0, &obj, &res);
		all &= r == 0 && res.verdict == VERIFY_LOG_VALID;
	}
	ok(all, "verify_log_object: each listed log file is valid");
	ok(verify_log_object(&src, "b", "AWSLogs/none.json.gz", hash, 0, &obj, &res) == 0 &&
	   res.verdict == VERIFY_LOG_NOT_FOUND, "verify_log_object: a missing key is not found");
	ok(verify_log_object(&src, "zz", "k", hash, 0, &obj, &res) == -ENXIO,
	   "verify_log_object: a missing bucket is -ENXIO");
	verify_digest_release(&d);
	r = verify_digest_object(&src, "b", "AWSLogs/123456789012/CloudTrail-Digest/x.json.gz", &keys,
				 "us-east-1", &d);
	ok(r == 0 && d.verdict == VERIFY_DIGEST_NOT_FOUND && !strcmp(d.message, "INVALID: not found"),
	   "verify_digest_object: not found");
	verify_digest_release(&d);
	verify_object_release(&obj);
	verify_keys_release(&keys);
	fx_close(&f);
}

int main(void)
{
	testdir_make(root, sizeof root);
	snprintf(ring, sizeof ring, "%s/ring", root);
	clean_cases();
	tamper_cases();
	key_cases();
	chain_cases();
	fatal_cases();
	backfill_cases();
	parser_cases();
	file_cases();
	testdir_remove(root);
	fmt_free_all();
	return tap_done();
}
