/* Unit tests for backend/deliver.c: spooled records become AWS-format log
 * files, exactly once, also when the process dies mid-run. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "gz.h"
#include "spool.h"
#include "store.h"
#include "tap.h"
#include "testdir.h"

#define ACCOUNT "123456789012"

static char root[64], spool_dir[128], store_dir[128];
static struct clock clk;   /* the system clock */

static const struct delivery_target targets[] = {
	{ "main", "bucket-a", "", ACCOUNT },
	{ "audit", "bucket-b", "team/logs", ACCOUNT },
};

/* Spool n records numbered from first, routed to the trails named. */
static void spool_records(struct spool *sp, int first, int n, const char *region,
			  const char *const *trails, size_t n_trails)
{
	for (int i = first; i < first + n; i++) {
		struct event e;
		memset(&e, 0, sizeof e);
		char json[256];
		snprintf(json, sizeof json,
			 "{\"eventTime\":\"2026-01-01T00:00:00Z\",\"eventName\":\"Op\",\"awsRegion\":\"%s\","
			 "\"n\":%d}", region, i);
		e.json = json;
		e.len = strlen(json);
		snprintf(e.region, sizeof e.region, "%s", region);
		e.time = 1767225600;
		struct buf frame;
		buf_init(&frame, 1 << 16);
		delivery_frame(&e, trails, n_trails, &frame);
		struct spool_item it = { frame.data, frame.len };
		uint64_t seq;
		if (spool_append(sp, &it, 1, &seq) < 0)
			abort();
		buf_release(&frame);
	}
}

/* Every record number found in the bucket's log files under prefix (any
 * depth), counted into seen[]. Returns the number of files. */
static int count_records(struct store *st, const char *bucket, const char *prefix, int *seen,
			 int max)
{
	struct store_listing l;
	if (st->ops->object_list(st, bucket, prefix, &l) < 0)
		return 0;
	int files = 0;
	for (size_t i = 0; i < l.n_prefixes; i++)
		files += count_records(st, bucket, l.prefixes[i], seen, max);
	for (size_t i = 0; i < l.n_keys; i++) {
		struct buf obj, json, lines;
		buf_init(&obj, 1 << 26);
		buf_init(&json, 1 << 26);
		buf_init(&lines, 1 << 26);
		files++;
		if (st->ops->object_get(st, bucket, l.keys[i], &obj, NULL) == 0 &&
		    gz_decompress(obj.data, obj.len, 1 << 26, &json) == 0 &&
		    delivery_lines(json.data, json.len, &lines) == 0) {
			for (char *p = lines.data; p && (p = strstr(p, "\"n\":")); p++) {
				int n = atoi(p + 4);
				if (n >= 0 && n < max)
					seen[n]++;
			}
		}
		buf_release(&obj);
		buf_release(&json);
		buf_release(&lines);
	}
	store_listing_release(&l);
	return files;
}

static void open_all(struct spool **sp, struct store **st, struct delivery **d)
{
	int e = 0;
	char why[256];
	struct ct_err err;
	*sp = spool_open(spool_dir, 1ull << 32, &e, why, sizeof why);
	*st = store_local_new(store_dir, &e);
	*d = *sp && *st ? delivery_open(root, *sp, *st, &clk, &err) : NULL;
	if (!*d) {
		printf("# open failed: %s %s\n", why, *sp && *st ? err.message : "");
		exit(1);
	}
}

static void close_all(struct spool *sp, struct store *st, struct delivery *d)
{
	delivery_close(d);
	spool_close(sp);
	store_free(st);
}

static void test_run(void)
{
	struct spool *sp;
	struct store *st;
	struct delivery *d;
	open_all(&sp, &st, &d);
	st->ops->bucket_create(st, "bucket-a");
	st->ops->bucket_create(st, "bucket-b");
	const char *both[] = { "main", "audit" }, *main_only[] = { "main" };
	spool_records(sp, 0, 10, "us-east-1", both, 2);
	spool_records(sp, 10, 5, "eu-west-1", main_only, 1);
	spool_records(sp, 15, 3, "us-east-1", NULL, 0);   /* no trail took these */
	struct delivered_file *files;
	size_t n;
	ok(delivery_run(d, targets, 2, NULL, &files, &n) == 0, "a run");
	ok(n == 3, "three files: main us-east-1, main eu-west-1, audit us-east-1 (%zu)", n);
	int seen_a[32] = { 0 }, seen_b[32] = { 0 };
	count_records(st, "bucket-a", "", seen_a, 32);
	count_records(st, "bucket-b", "", seen_b, 32);
	int ok_a = 1, ok_b = 1;
	for (int i = 0; i < 18; i++) {
		ok_a &= seen_a[i] == (i < 15 ? 1 : 0);
		ok_b &= seen_b[i] == (i < 10 ? 1 : 0);
	}
	ok(ok_a, "main has records 0-14 once each");
	ok(ok_b, "audit has records 0-9 once each");
	bool names_ok = true;
	for (size_t i = 0; i < n; i++) {
		const char *k = files[i].key, *base = strrchr(k, '/') + 1;
		char want[128];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		const char *region = strstr(k, "eu-west-1") ? "eu-west-1" : "us-east-1";
		snprintf(want, sizeof want, "%s_CloudTrail_%s_%04d%02d%02dT", ACCOUNT, region,
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		names_ok &= !strncmp(base, want, strlen(want)) && strlen(base) == strlen(want) + 4 + 1 + 1 + 16 + 8;
		if (!strcmp(files[i].trail, "audit"))
			names_ok &= !strncmp(k, "team/logs/AWSLogs/" ACCOUNT "/CloudTrail/us-east-1/", 45);
		else
			names_ok &= !strncmp(k, "AWSLogs/" ACCOUNT "/CloudTrail/", 30);
		struct store_object_info info;
		st->ops->object_head(st, files[i].bucket, k, &info);
		names_ok &= store_meta_get(&info, META_RECORDS) && store_meta_get(&info, META_LINES_SIZE);
		store_object_info_release(&info);
	}
	ok(names_ok, "keys and names follow AWS, with the prefix, and carry sizes as metadata");
	delivered_files_free(files, n);

	ok(delivery_run(d, targets, 2, NULL, &files, &n) == 0 && n == 0, "a second run delivers nothing");
	int64_t t;
	char e[128];
	delivery_status(d, "main", &t, e, sizeof e);
	ok(t > 0 && !e[0], "LatestDeliveryTime set, no error");
	ok(spool_bytes(sp) == 0, "the spool is trimmed once every trail has its records");

	/* A missing bucket: the records stay, the error shows, and they go
	 * once the bucket is there. */
	struct delivery_target gone[] = { { "main", "no-such-bucket", "", ACCOUNT } };
	spool_records(sp, 20, 4, "us-east-1", main_only, 1);
	ok(delivery_run(d, gone, 1, NULL, &files, &n) == 0 && n == 0, "a run into a missing bucket");
	delivery_status(d, "main", &t, e, sizeof e);
	ok(strstr(e, "NoSuchBucket") != NULL, "LatestDeliveryError: %s", e);
	st->ops->bucket_create(st, "no-such-bucket");
	ok(delivery_run(d, gone, 1, NULL, &files, &n) == 0 && n == 1, "delivered once the bucket exists");
	delivered_files_free(files, n);
	int seen_c[32] = { 0 };
	count_records(st, "no-such-bucket", "", seen_c, 32);
	ok(seen_c[20] == 1 && seen_c[23] == 1, "the held records, once");
	delivery_status(d, "main", &t, e, sizeof e);
	ok(!e[0], "the error clears");
	ok(delivery_forget(d, "audit") == 0, "forget a deleted trail");
	close_all(sp, st, d);
}

/* Kill a delivering process at random moments: after each restart (which
 * redoes an interrupted run), every record is in exactly one file. */
static void test_crashes(void)
{
	enum { ROUNDS = 25, PER_ROUND = 40 };
	int total = 100;   /* the first test's records are 0-23 */
	srand(12345);
	for (int round = 0; round < ROUNDS; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			struct spool *sp;
			struct store *st;
			struct delivery *d;
			open_all(&sp, &st, &d);
			const char *both[] = { "main", "audit" };
			spool_records(sp, total, PER_ROUND / 2, "us-east-1", both, 2);
			spool_records(sp, total + PER_ROUND / 2, PER_ROUND / 2, "ap-south-1", both, 2);
			for (;;)
				delivery_run(d, targets, 2, NULL, NULL, NULL);
		}
		struct timespec ts = { 0, (long)(rand() % 40000) * 1000 };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		total += PER_ROUND;
	}
	struct spool *sp;
	struct store *st;
	struct delivery *d;
	open_all(&sp, &st, &d);   /* redoes whatever the last kill interrupted */
	/* Records the children spooled but never got to deliver go now. */
	delivery_run(d, targets, 2, NULL, NULL, NULL);
	static int seen_a[ROUNDS * PER_ROUND + 200], seen_b[ROUNDS * PER_ROUND + 200];
	memset(seen_a, 0, sizeof seen_a);
	memset(seen_b, 0, sizeof seen_b);
	count_records(st, "bucket-a", "", seen_a, ROUNDS * PER_ROUND + 200);
	count_records(st, "bucket-b", "", seen_b, ROUNDS * PER_ROUND + 200);
	int missing = 0, doubled = 0, delivered = 0;
	for (int i = 100; i < total; i++) {
		delivered += seen_a[i] == 1;
		/* a child killed before spooling all its records leaves gaps:
		 * those were never acknowledged; what counts is never twice */
		doubled += seen_a[i] > 1 || seen_b[i] > 1;
		missing += seen_a[i] != seen_b[i];
	}
	ok(doubled == 0, "%d kills mid-delivery: no record delivered twice (%d delivered)", ROUNDS,
	   delivered);
	ok(missing == 0, "both trails hold the same records");
	ok(spool_bytes(sp) == 0, "and the spool is empty after the last run");
	close_all(sp, st, d);
}

static void test_lines(void)
{
	struct buf out;
	buf_init(&out, 4096);
	const char *doc = "{\"Records\":[{\"a\":\"x,]}\\\"\"},{\"b\":[1,{\"c\":2}]}]}";
	ok(delivery_lines(doc, strlen(doc), &out) == 0 &&
	   !strcmp(out.data, "{\"a\":\"x,]}\\\"\"}\n{\"b\":[1,{\"c\":2}]}\n"),
	   "lines keep each record's bytes: %s", out.data);
	buf_reset(&out);
	ok(delivery_lines("{\"Records\":[]}", 14, &out) == 0 && out.len == 0, "no records, no lines");
	ok(delivery_lines("[1,2]", 5, &out) == -EINVAL, "not a log file");
	ok(delivery_lines("{\"Records\":[{\"a\":1}", 19, &out) == -EINVAL, "cut short");
	buf_release(&out);
}

int main(void)
{
	testdir_make(root, sizeof root);
	snprintf(spool_dir, sizeof spool_dir, "%s/spool", root);
	snprintf(store_dir, sizeof store_dir, "%s/store", root);
	test_lines();
	test_run();
	test_crashes();
	testdir_remove(root);
	return tap_done();
}
