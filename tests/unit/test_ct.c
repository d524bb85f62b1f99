/* Unit tests for backend/ct.c: the CloudTrail facade over registry and store. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct.h"
#include "fileio.h"
#include "store.h"
#include "tap.h"
#include "testdir.h"

static char root[64];
static char state[128];
static char clockfile[128];

static struct ct *open_ct(const char *account, const char *region, struct ct_err *err)
{
	struct ct_options o = { .state_dir = state, .account = account, .region = region,
				.test_clock = clockfile };
	return ct_open(&o, err);
}

static void set_clock(long t)
{
	char text[32];
	int n = snprintf(text, sizeof text, "%ld\n", t);
	write_file_durable(clockfile, text, (size_t)n, 0600);
}

static void test_open(void)
{
	struct ct_err err;
	struct ct *ct = open_ct(NULL, NULL, &err);
	ok(ct != NULL, "opens a new state directory");
	if (!ct)
		return;
	char account[16];
	snprintf(account, sizeof account, "%s", ct_account(ct));
	ok(strlen(account) == 12 && strspn(account, "0123456789") == 12, "generates a 12-digit account");
	ok(!strcmp(ct_region(ct), "us-east-1"), "home region defaults to us-east-1");
	size_t n;
	ct_regions(ct, &n);
	ok(n == 34 && ct_region_known(ct, "eu-west-1") && ct_region_known(ct, "mx-central-1"),
	   "default regions are the 34 commercial regions");

	struct ct *second = open_ct(NULL, NULL, &err);
	ok(second == NULL && strstr(err.message, "in use"), "a second open of the same state is refused: %s",
	   err.message);
	ct_close(second);
	ct_close(ct);

	ct = open_ct(NULL, NULL, &err);
	ok(ct && !strcmp(ct_account(ct), account), "the account is kept across opens");
	ct_close(ct);
	ct = open_ct("111122223333", NULL, &err);
	ok(!ct && strstr(err.message, "belongs to account"), "a different account= is refused: %s",
	   err.message);
	ct_close(ct);
	ct = open_ct(NULL, "xx-nowhere-1", &err);
	ok(!ct && strstr(err.message, "not among the configured regions"),
	   "a home region outside regions= is refused");
	ct_close(ct);
	struct ct_options bad = { .state_dir = state, .regions = "us-east-1:Bogus" };
	ct = ct_open(&bad, &err);
	ok(!ct && strstr(err.message, "Bogus"), "a bad regions= entry is refused");
	ct_close(ct);
}

static void test_create_defaults(struct ct *ct)
{
	struct ct_err err;
	set_clock(1767225600);   /* 2026-01-01T00:00:00Z */
	ok(ct_create_trail(ct, NULL, "main", &err) == 0, "CreateTrail main");
	struct trail t;
	trail_init(&t);
	ok(ct_get_trail(ct, NULL, "main", &t, &err) == 0, "GetTrail main");
	ok(t.multi_region && t.global_events && t.validation && t.logging,
	   "console defaults: multi-region, global events, validation, logging");
	ok(t.sel.mgmt == RW_ALL && t.sel.n_res == 0, "management events All, no data events");
	char want[64];
	snprintf(want, sizeof want, "aws-cloudtrail-logs-%s-", ct_account(ct));
	ok(!strncmp(t.bucket, want, strlen(want)) && strlen(t.bucket) == strlen(want) + 8,
	   "bucket named aws-cloudtrail-logs-ACCOUNT-XXXXXXXX: %s", t.bucket);
	ok(ct_bucket_exists(ct, t.bucket), "the bucket was created");
	struct buf policy;
	buf_init(&policy, CT_POLICY_MAX);
	ok(ct_get_bucket_policy(ct, NULL, t.bucket, &policy, &err) == 0 &&
	   strstr(policy.data, "AWSCloudTrailWrite20150319") && strstr(policy.data, "trail/main"),
	   "with CloudTrail's policy for this trail");
	buf_release(&policy);
	ok(t.start_logging_time == 1767225600, "StartLoggingTime from the clock");

	struct buf status;
	buf_init(&status, 4096);
	ok(ct_get_trail_status_json(ct, NULL, "main", &status, &err) == 0 &&
	   !strcmp(status.data, "{\"IsLogging\":true,\"StartLoggingTime\":\"2026-01-01T00:00:00Z\"}\n"),
	   "status JSON: %s", status.data);
	buf_release(&status);
	trail_release(&t);

	ok(ct_create_trail(ct, NULL, "main", &err) == -EEXIST &&
	   !strcmp(err.name, "TrailAlreadyExistsException"), "CreateTrail again: TrailAlreadyExists");
	ok(ct_create_trail(ct, NULL, "my--trail", &err) == -EINVAL &&
	   !strcmp(err.name, "InvalidTrailNameException"), "a bad name: InvalidTrailName");
	ok(ct_get_trail(ct, NULL, "nope", &t, &err) == -ENOENT && !strcmp(err.name, "TrailNotFoundException") &&
	   strstr(err.message, "Unknown trail: nope for the user: "), "GetTrail unknown: %s", err.message);
}

static void test_logging(struct ct *ct)
{
	struct ct_err err;
	set_clock(1767229200);   /* 01:00 */
	ok(ct_stop_logging(ct, NULL, "main", 0, &err) == 0, "StopLogging");
	struct buf status;
	buf_init(&status, 4096);
	ct_get_trail_status_json(ct, NULL, "main", &status, &err);
	ok(!strcmp(status.data, "{\"IsLogging\":false,\"StartLoggingTime\":\"2026-01-01T00:00:00Z\","
				"\"StopLoggingTime\":\"2026-01-01T01:00:00Z\"}\n"), "status after stop: %s",
	   status.data);
	set_clock(1767232800);   /* 02:00 */
	ok(ct_start_logging(ct, NULL, "main", CT_DRY_RUN, &err) == 0, "StartLogging dry run");
	buf_reset(&status);
	ct_get_trail_status_json(ct, NULL, "main", &status, &err);
	ok(strstr(status.data, "\"IsLogging\":false"), "a dry run changes nothing");
	ok(ct_start_logging(ct, NULL, "main", 0, &err) == 0, "StartLogging");
	buf_reset(&status);
	ct_get_trail_status_json(ct, NULL, "main", &status, &err);
	ok(strstr(status.data, "\"IsLogging\":true") && strstr(status.data, "\"StartLoggingTime\":\"2026-01-01T02:00:00Z\""),
	   "StartLoggingTime moves: %s", status.data);
	buf_release(&status);
}

static void test_update(struct ct *ct)
{
	struct ct_err err;
	struct trail t;
	trail_init(&t);
	struct ct_update u = CT_UPDATE_INIT;
	u.prefix = "audit";
	ok(ct_update_trail(ct, NULL, "main", &u, 0, &err) == -EACCES &&
	   !strcmp(err.name, "InsufficientS3BucketPolicyException"),
	   "a new prefix on a bucket whose policy names no prefix: %s", err.message);

	struct ct_update u2 = CT_UPDATE_INIT;
	u2.bucket = "fresh-bucket-for-main";
	u2.prefix = "audit";
	ok(ct_update_trail(ct, NULL, "main", &u2, CT_DRY_RUN, &err) == 0 &&
	   !ct_bucket_exists(ct, "fresh-bucket-for-main"), "a dry run creates no bucket");
	ok(ct_update_trail(ct, NULL, "main", &u2, 0, &err) == 0, "bucket and prefix together");
	ok(ct_bucket_exists(ct, "fresh-bucket-for-main"), "an unknown bucket is created");
	ct_get_trail(ct, NULL, "main", &t, &err);
	ok(!strcmp(t.bucket, "fresh-bucket-for-main") && !strcmp(t.prefix, "audit"), "both applied");
	trail_release(&t);

	ok(ct_create_bucket(ct, NULL, "bare-bucket", &err) == 0, "CreateBucket without a policy");
	struct ct_update u3 = CT_UPDATE_INIT;
	u3.bucket = "bare-bucket";
	ok(ct_update_trail(ct, NULL, "main", &u3, 0, &err) == -EACCES && strstr(err.message, "no policy"),
	   "a bucket without a policy is refused: %s", err.message);

	struct ct_update u4 = CT_UPDATE_INIT;
	u4.global_events = 0;
	ok(ct_update_trail(ct, NULL, "main", &u4, 0, &err) == -EINVAL &&
	   !strcmp(err.name, "InvalidParameterCombinationException"),
	   "multi-region without global events: InvalidParameterCombination");
	u4.multi_region = 0;
	ok(ct_update_trail(ct, NULL, "main", &u4, 0, &err) == 0, "single-region without global events");

	struct ct_update u5 = CT_UPDATE_INIT;
	u5.kms_key = "11111111-2222-3333-4444-555555555555";
	ok(ct_update_trail(ct, NULL, "main", &u5, 0, &err) == -ENOENT &&
	   !strcmp(err.name, "KmsKeyNotFoundException"), "an unknown key: KmsKeyNotFound");
	u5.kms_key = "alias/aws/bad";
	ok(ct_update_trail(ct, NULL, "main", &u5, 0, &err) == -EINVAL &&
	   !strcmp(err.name, "InvalidKmsKeyIdException"), "a malformed key: InvalidKmsKeyId");
	struct ct_update u6 = CT_UPDATE_INIT;
	u6.sns_topic = "audit-topic";
	ok(ct_update_trail(ct, NULL, "main", &u6, 0, &err) == -EACCES &&
	   !strcmp(err.name, "InsufficientSnsTopicPolicyException"), "an unknown topic is refused");

	ct_get_trail(ct, NULL, "main", &t, &err);
	ok(!t.multi_region && !t.global_events && !*t.kms_key_arn && !*t.sns_topic_arn,
	   "refused updates changed nothing");
	trail_release(&t);
}

static void test_tags_selectors(struct ct *ct)
{
	struct ct_err err;
	struct tag two[] = { { "team", "security" }, { "env", "prod" } };
	ok(ct_add_tags(ct, NULL, "main", two, 2, 0, &err) == 0, "AddTags");
	struct tag one[] = { { "env", "staging" } };
	ok(ct_add_tags(ct, NULL, "main", one, 1, 0, &err) == 0, "AddTags replaces a value");
	struct tag *tags;
	size_t n;
	ok(ct_list_tags(ct, NULL, "main", &tags, &n, &err) == 0 && n == 2 &&
	   !strcmp(tags[1].key, "env") && !strcmp(tags[1].value, "staging"), "ListTags");
	ct_tags_free(tags, n);
	struct tag gone[] = { { "team", NULL } };
	ok(ct_remove_tags(ct, NULL, "main", gone, 1, 0, &err) == 0, "RemoveTags");
	ct_list_tags(ct, NULL, "main", &tags, &n, &err);
	ok(n == 1 && !strcmp(tags[0].key, "env"), "one tag left");
	ct_tags_free(tags, n);

	struct tag many[51];
	char keys[51][8];
	for (int i = 0; i < 51; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		many[i].key = keys[i];
		many[i].value = "";
	}
	ok(ct_add_tags(ct, NULL, "main", many, 50, 0, &err) == -EDQUOT &&
	   !strcmp(err.name, "TagsLimitExceededException"), "50 more tags on top of one: TagsLimitExceeded");
	struct ct_change c = { .tag_op = CT_TAGS_REPLACE, .tags = many, .n_tags = 50, .logging = -1 };
	ok(ct_apply(ct, NULL, "main", &c, 0, &err) == 0, "replacing with exactly 50 tags");
	c.n_tags = 51;
	ok(ct_apply(ct, NULL, "main", &c, 0, &err) == -EDQUOT, "51 tags: refused");

	struct selectors sel = { 0 };
	sel.mgmt = RW_WRITE;
	selectors_add_resource(&sel, "AWS::S3::Object", "arn:aws:s3:::finance/2026", RW_READ);
	ok(ct_put_event_selectors(ct, NULL, "main", &sel, 0, &err) == 0, "PutEventSelectors");
	selectors_release(&sel);
	struct selectors got;
	ok(ct_get_event_selectors(ct, NULL, "main", &got, &err) == 0 && got.mgmt == RW_WRITE &&
	   got.n_res == 1 && got.res[0].rw == RW_READ, "GetEventSelectors gives them back");
	selectors_release(&got);

	struct selectors mgmt_only = { 0 };
	mgmt_only.mgmt = RW_NONE;
	struct ct_change m = { .selectors = &mgmt_only, .selector_parts = CT_SEL_MGMT, .logging = -1 };
	ok(ct_apply(ct, NULL, "main", &m, 0, &err) == 0, "changing only the management part");
	ct_get_event_selectors(ct, NULL, "main", &got, &err);
	ok(got.mgmt == RW_NONE && got.n_res == 1, "the data resources stay");
	selectors_release(&got);
}

/* Many threads create the same trail: exactly one wins. */
struct race {
	struct ct *ct;
	const char *name;
	int result;
};

static void *racer(void *p)
{
	struct race *r = p;
	struct ct_err err;
	r->result = ct_create_trail(r->ct, NULL, r->name, &err);
	return NULL;
}

static void test_create_race(struct ct *ct)
{
	enum { N = 16 };
	pthread_t th[N];
	struct race races[N];
	for (int i = 0; i < N; i++) {
		races[i] = (struct race){ ct, "contested", 1 };
		pthread_create(&th[i], NULL, racer, &races[i]);
	}
	int wins = 0, exists = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		wins += races[i].result == 0;
		exists += races[i].result == -EEXIST;
	}
	ok(wins == 1 && exists == N - 1, "16 threads, one name: exactly one wins (%d won, %d EEXIST)",
	   wins, exists);

	/* main and contested exist; 8 threads race for the 3 places left. */
	char names[8][16];
	for (int i = 0; i < 8; i++) {
		snprintf(names[i], sizeof names[i], "racer-%d", i);
		races[i] = (struct race){ ct, names[i], 1 };
		pthread_create(&th[i], NULL, racer, &races[i]);
	}
	wins = 0;
	int full = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		wins += races[i].result == 0;
		full += races[i].result == -EDQUOT;
	}
	ok(wins == 3 && full == 5, "8 threads for 3 places: 3 win, 5 get EDQUOT (%d, %d)", wins, full);
	char **list;
	size_t n;
	ok(ct_describe_trails(ct, NULL, &list, &n) == 0 && n == 5, "five trails listed");
	for (size_t i = 1; i < n; i++)
		if (strcmp(list[i - 1], list[i]) >= 0)
			n = 0;
	ok(n == 5, "listed in order");
	store_names_free(list, 5);
}

static void test_delete_and_reopen(struct ct **ctp)
{
	struct ct_err err;
	struct trail before;
	trail_init(&before);
	ct_get_trail(*ctp, NULL, "main", &before, &err);
	ok(ct_delete_trail(*ctp, NULL, "contested", &err) == 0, "DeleteTrail");
	ok(!ct_trail_exists(*ctp, "contested"), "it is gone");
	ok(ct_delete_trail(*ctp, NULL, "contested", &err) == -ENOENT, "DeleteTrail again: not found");
	ct_close(*ctp);
	*ctp = open_ct(NULL, NULL, &err);
	struct trail after;
	trail_init(&after);
	ok(*ctp && ct_get_trail(*ctp, NULL, "main", &after, &err) == 0, "reopened, main is there");
	json *a = trail_to_state_json(&before), *b = trail_to_state_json(&after);
	char *ta = json_print(a, false), *tb = json_print(b, false);
	ok(ta && tb && !strcmp(ta, tb), "main is exactly as it was");
	free(ta);
	free(tb);
	json_free(a);
	json_free(b);
	trail_release(&before);
	trail_release(&after);
	ok(!ct_trail_exists(*ctp, "contested"), "the deleted trail stays deleted");

	ct_close(*ctp);
	struct ct *other = open_ct(NULL, "eu-west-1", &err);
	ok(other != NULL, "opened with another home region");
	struct ct_update u = CT_UPDATE_INIT;
	u.validation = 0;
	ok(other && ct_update_trail(other, NULL, "main", &u, 0, &err) == -EINVAL &&
	   !strcmp(err.name, "InvalidHomeRegionException"), "a trail of another home region is read-only");
	ok(other && ct_delete_trail(other, NULL, "main", &err) == -EINVAL, "and cannot be deleted there");
	ok(other && ct_create_trail(other, NULL, "euro", &err) == 0, "the region has its own 5 places");
	ct_close(other);
	*ctp = open_ct(NULL, NULL, &err);
}

static void test_errors_kept(struct ct *ct)
{
	struct ct_err err;
	for (int i = 0; i < 1005; i++) {
		ct_fail(&err, "InvalidTrailNameException", "number %d\x01", i);
		ct_record_error(ct, NULL, "mkdir", "/trails/x", &err);
	}
	struct buf out;
	buf_init(&out, 4u << 20);
	ct_render_errors(ct, &out);
	size_t lines = 0;
	for (size_t i = 0; i < out.len; i++)
		lines += out.data[i] == '\n';
	ok(lines == 1000, "the last 1000 errors are kept (%zu)", lines);
	ok(strstr(out.data, "number 5\\x01") && !strstr(out.data, "number 4\\x01"),
	   "the oldest are dropped, control bytes escaped");
	ok(strstr(out.data, "uid=0 mkdir /trails/x InvalidTrailNameException: number 1004"),
	   "the line format");
	buf_release(&out);
}

static void test_damaged_registry(void)
{
	struct ct_err err;
	char path[256];
	snprintf(path, sizeof path, "%s/registry.json", state);
	write_file_durable(path, "{\"format\":1,\"account\":", 22, 0600);
	struct ct *ct = open_ct(NULL, NULL, &err);
	ok(!ct && strstr(err.message, path) && strstr(err.message, "damaged"),
	   "a damaged registry is reported with its path: %s", err.message);
	ct_close(ct);
	const char *newer = "{\"format\":7,\"account\":\"123456789012\",\"trails\":[]}";
	write_file_durable(path, newer, strlen(newer), 0600);
	ct = open_ct(NULL, NULL, &err);
	ok(!ct && strstr(err.message, "newer"), "a newer format is refused: %s", err.message);
	ct_close(ct);
}

int main(void)
{
	testdir_make(root, sizeof root);
	snprintf(state, sizeof state, "%s/state", root);
	snprintf(clockfile, sizeof clockfile, "%s/clock", root);
	set_clock(1767225600);
	test_open();
	struct ct_err err;
	struct ct *ct = open_ct(NULL, NULL, &err);
	if (!ct) {
		ok(0, "open: %s", err.message);
		return tap_done();
	}
	test_create_defaults(ct);
	test_logging(ct);
	test_update(ct);
	test_tags_selectors(ct);
	test_create_race(ct);
	test_delete_and_reopen(&ct);
	test_errors_kept(ct);
	ct_close(ct);
	test_damaged_registry();
	testdir_remove(root);
	return tap_done();
}
