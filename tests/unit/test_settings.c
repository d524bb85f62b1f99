/* Unit tests for backend/settings.c: the text forms of a trail's settings,
 * checked in write() and applied at close. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "settings.h"
#include "tap.h"
#include "testdir.h"

static char root[64];
static struct ct *ct;

static char *read_setting(const char *file)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	struct ct_err err;
	if (settings_read(ct, NULL, "main", file, &b, &err) < 0) {
		buf_release(&b);
		return strdup("<error>");
	}
	return buf_take(&b);
}

struct write_case {
	const char *file;
	const char *text;
	int check;          /* settings_check on the whole text */
	int apply;          /* settings_apply */
	const char *error;  /* AWS error name when refused */
	const char *reads;  /* the file afterwards; NULL: unchanged */
};

static const struct write_case cases[] = {
	{ "management_events", "WriteOnly\n", 0, 0, NULL, "WriteOnly\n" },
	{ "management_events", "ReadOnly", 0, 0, NULL, "ReadOnly\n" },
	{ "management_events", "  None  \n", 0, 0, NULL, "None\n" },
	{ "management_events", "All\n", 0, 0, NULL, "All\n" },
	{ "management_events", "Sometimes\n", -EINVAL, -EINVAL, "InvalidEventSelectorsException", NULL },
	{ "management_events", "read-only\n", -EINVAL, -EINVAL, "InvalidEventSelectorsException", NULL },
	{ "management_events", "all\n", -EINVAL, -EINVAL, "InvalidEventSelectorsException", NULL },
	{ "management_events", "All\nNone\n", -EINVAL, -EINVAL, "InvalidParameterException", NULL },
	/* a growing value: "Write" could become WriteOnly, so write() lets it
	 * pass; close() applies the whole and refuses it */
	{ "management_events", "Write", 0, -EINVAL, "InvalidEventSelectorsException", NULL },
	{ "multi_region", "no\n", 0, 0, NULL, "no\n" },
	{ "global_service_events", "no\n", 0, 0, NULL, "no\n" },
	{ "multi_region", "yes\n", -EINVAL, -EINVAL, "InvalidParameterCombinationException", NULL },
	{ "global_service_events", "yes\n", 0, 0, NULL, "yes\n" },
	{ "multi_region", "yes\n", 0, 0, NULL, "yes\n" },
	{ "multi_region", "true\n", -EINVAL, -EINVAL, "InvalidParameterException", NULL },
	{ "multi_region", "y", 0, -EINVAL, "InvalidParameterException", NULL },
	{ "log_file_validation", "no\n", 0, 0, NULL, "no\n" },
	{ "logging", "off\n", 0, 0, NULL, "off\n" },
	{ "logging", "on\n", 0, 0, NULL, "on\n" },
	{ "logging", "enabled\n", -EINVAL, -EINVAL, "InvalidParameterException", NULL },
	{ "s3_key_prefix", "/audit\n", -EINVAL, -EINVAL, "InvalidS3PrefixException", NULL },
	{ "s3_key_prefix", "a//b\n", -EINVAL, -EINVAL, "InvalidS3PrefixException", NULL },
	{ "s3_key_prefix", "audit\n", -EACCES, -EACCES, "InsufficientS3BucketPolicyException", NULL },
	{ "s3_bucket", "Bad_Bucket\n", -EINVAL, -EINVAL, "InvalidS3BucketNameException", NULL },
	{ "s3_bucket", "a.-b\n", -EINVAL, -EINVAL, "InvalidS3BucketNameException", NULL },
	{ "s3_bucket", "\n", -EINVAL, -EINVAL, "InvalidS3BucketNameException", NULL },
	{ "s3_bucket", "settings-test-bucket\n", 0, 0, NULL, "settings-test-bucket\n" },
	{ "s3_key_prefix", "ab/./c", -EINVAL, -EINVAL, "InvalidS3PrefixException", NULL },
	{ "data_events", "finance-reports/2026 ReadOnly\nlogs-bucket\n", 0, 0, NULL,
	  "finance-reports/2026 ReadOnly\nlogs-bucket/ All\n" },
	{ "data_events", "arn:aws:s3 WriteOnly\n", 0, 0, NULL, "arn:aws:s3 WriteOnly\n" },
	{ "data_events", "Bad_Bucket All\n", -EINVAL, -EINVAL, "InvalidEventSelectorsException", NULL },
	{ "data_events", "good-bucket Sometimes\n", -EINVAL, -EINVAL, "InvalidEventSelectorsException", NULL },
	{ "data_events", "", 0, 0, NULL, "" },
	{ "tags", "team=security\nenv=prod\n", 0, 0, NULL, "team=security\nenv=prod\n" },
	{ "tags", "a=b=c\nempty=\n", 0, 0, NULL, "a=b=c\nempty=\n" },
	{ "tags", "novalue\n", -EINVAL, -EINVAL, "InvalidTagParameterException", NULL },
	{ "tags", "dup=1\ndup=2\n", -EINVAL, -EINVAL, "InvalidTagParameterException", NULL },
	{ "tags", "aws:reserved=1\n", -EINVAL, -EINVAL, "InvalidTagParameterException", NULL },
	{ "kms_key", "11111111-2222-3333-4444-555555555555\n", -ENOENT, -ENOENT,
	  "KmsKeyNotFoundException", NULL },
	{ "kms_key", "not a key\n", -EINVAL, -EINVAL, "InvalidKmsKeyIdException", NULL },
	{ "kms_key", "\n", 0, 0, NULL, "\n" },
	{ "sns_topic", "audit-topic\n", -EACCES, -EACCES, "InsufficientSnsTopicPolicyException", NULL },
	{ "sns_topic", "bad topic!\n", -EINVAL, -EINVAL, "InvalidSnsTopicNameException", NULL },
	{ "cloudwatch_logs_group", "CloudTrail/logs\n", -EINVAL, -EINVAL,
	  "InvalidCloudWatchLogsLogGroupArnException", NULL },
	{ "cloudwatch_logs_group", "bad group!\n", -EINVAL, -EINVAL,
	  "InvalidCloudWatchLogsLogGroupArnException", NULL },
	{ "status", "{}\n", -EPERM, -EPERM, "OperationNotPermittedException", NULL },
	{ "arn", "x\n", -EPERM, -EPERM, "OperationNotPermittedException", NULL },
	{ "config.json", "{\"IsLogging\":false,\"LogFileValidationEnabled\":true}", 0, 0, NULL, NULL },
	{ "config.json", "{\"IsLogging\":true,\"Bogus\":1}", -EINVAL, -EINVAL, "InvalidParameterException", NULL },
	{ "config.json", "{\"Name\":\"other\"}", -EINVAL, -EINVAL, "InvalidParameterException", NULL },
	{ "config.json", "{\"IsLogging\":\"yes\"}", -EINVAL, -EINVAL, "InvalidParameterException", NULL },
	{ "config.json", "{\"IsLogging\":true,\"S3KeyPrefix\":\"/bad\"}", -EINVAL, -EINVAL,
	  "InvalidS3PrefixException", NULL },
	{ "config.json", "{\"IsLogging\":tr", 0, -EINVAL, "InvalidParameterException", NULL },
	{ "config.json", "{\"IsLogging\":x", -EINVAL, -EINVAL, "InvalidParameterException", NULL },
	{ "config.json", "[]", -EINVAL, -EINVAL, "InvalidParameterException", NULL },
	{ "config.json", "{\"HasInsightSelectors\":true}", -EINVAL, -EINVAL, "InvalidParameterException", NULL },
	{ "config.json", "{\"AdvancedEventSelectors\":[]}", -EINVAL, -EINVAL,
	  "InvalidEventSelectorsException", NULL },
	{ "config.json",
	  "{\"EventSelectors\":[{\"ReadWriteType\":\"ReadOnly\",\"IncludeManagementEvents\":true,"
	  "\"DataResources\":[{\"Type\":\"AWS::S3::Object\",\"Values\":[\"arn:aws:s3:::cfg-bucket/x\"]}]}],"
	  "\"TagsList\":[{\"Key\":\"k=with=equals\",\"Value\":\"v\"}]}", 0, 0, NULL, NULL },
};

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct write_case *c = &cases[i];
		char *before = read_setting(c->file);
		struct ct_err err;
		ct_err_clear(&err);
		int r = settings_check(ct, NULL, "main", c->file, c->text, strlen(c->text), &err);
		ok(r == c->check, "check %s <- \"%.40s\": %d (%s)", c->file, c->text, r, err.message);
		ct_err_clear(&err);
		r = settings_apply(ct, NULL, "main", c->file, c->text, strlen(c->text), &err);
		ok(r == c->apply && (!c->error || !strcmp(err.name, c->error)),
		   "apply %s <- \"%.40s\": %d %s (%s)", c->file, c->text, r, err.name, err.message);
		char *after = read_setting(c->file);
		if (c->reads)
			ok(!strcmp(after, c->reads), "%s reads \"%s\"", c->file, after);
		else if (c->apply < 0)
			ok(!strcmp(after, before), "%s unchanged after a refusal", c->file);
		free(before);
		free(after);
	}
	char *m = read_setting("management_events"), *d = read_setting("data_events"),
	     *t = read_setting("tags"), *l = read_setting("logging");
	ok(!strcmp(m, "ReadOnly\n") && !strcmp(d, "cfg-bucket/x ReadOnly\n") &&
	   !strcmp(t, "k=with=equals=v\n") && !strcmp(l, "off\n"),
	   "config.json set selectors, tags and logging together");
	free(m);
	free(d);
	free(t);
	free(l);
}

static void test_round_trip(void)
{
	char *cfg = read_setting("config.json");
	struct ct_err err;
	ok(settings_apply(ct, NULL, "main", "config.json", cfg, strlen(cfg), &err) == 0,
	   "config.json written back unedited is accepted: %s", err.message);
	char *again = read_setting("config.json");
	ok(!strcmp(cfg, again), "and changes nothing");
	free(cfg);
	free(again);
}

static void test_partial(void)
{
	struct ct_err err;
	static const struct {
		const char *file, *text;
		int check;
	} growing[] = {
		{ "management_events", "Wri", 0 },
		{ "management_events", "Wrx", -EINVAL },
		{ "multi_region", "ye", 0 },
		{ "s3_bucket", "my-buck", 0 },
		{ "s3_bucket", "My", -EINVAL },
		{ "s3_key_prefix", "/", -EINVAL },
		{ "tags", "a=1\nb", 0 },
		{ "tags", "a=1\nno-equals\nc", -EINVAL },
		{ "data_events", "bucket-one All\nbuck", 0 },
		{ "config.json", "{\"IsLogging\": ", 0 },
		{ "config.json", "{\"IsLogging\": ]", -EINVAL },
	};
	for (size_t i = 0; i < sizeof growing / sizeof growing[0]; i++) {
		int r = settings_check(ct, NULL, "main", growing[i].file, growing[i].text,
				       strlen(growing[i].text), &err);
		ok(r == growing[i].check, "growing %s \"%s\": %d", growing[i].file, growing[i].text, r);
	}
}

static void test_bucket_policy(void)
{
	struct ct_err err;
	ok(ct_create_bucket(ct, NULL, "policy-bucket", &err) == 0, "a bucket");
	struct buf b;
	buf_init(&b, 1 << 16);
	ok(settings_bucket_read(ct, NULL, "policy-bucket", &b, &err) == 0 && b.len == 0,
	   "no policy reads as empty");
	const char *good = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
			   "\"Principal\":\"*\",\"Action\":\"s3:GetObject\","
			   "\"Resource\":\"arn:aws:s3:::policy-bucket/*\"}]}";
	ok(settings_bucket_check(ct, NULL, "policy-bucket", good, strlen(good), &err) == 0,
	   "a good policy passes the check");
	ok(settings_bucket_check(ct, NULL, "policy-bucket", good, 30, &err) == 0,
	   "a growing good policy passes too");
	ok(settings_bucket_apply(ct, NULL, "policy-bucket", good, 30, &err) == -EINVAL &&
	   !strcmp(err.name, "MalformedPolicy"), "but not when applied unfinished");
	ok(settings_bucket_apply(ct, NULL, "policy-bucket", good, strlen(good), &err) == 0, "applied");
	buf_reset(&b);
	settings_bucket_read(ct, NULL, "policy-bucket", &b, &err);
	ok(strstr(b.data, "s3:GetObject") && b.data[b.len - 1] == '\n', "reads back, with a newline");
	const char *bad = "{\"Statement\":[{\"Effect\":\"Maybe\"}]}";
	ok(settings_bucket_check(ct, NULL, "policy-bucket", bad, strlen(bad), &err) == -EINVAL,
	   "a malformed policy fails the check: %s", err.message);
	ok(settings_bucket_apply(ct, NULL, "policy-bucket", "\n", 1, &err) == 0, "an empty value deletes it");
	buf_reset(&b);
	settings_bucket_read(ct, NULL, "policy-bucket", &b, &err);
	ok(b.len == 0, "gone");
	buf_release(&b);
}

int main(void)
{
	testdir_make(root, sizeof root);
	char state[128];
	snprintf(state, sizeof state, "%s/state", root);
	struct ct_options o = { .state_dir = state };
	struct ct_err err;
	ct = ct_open(&o, &err);
	if (!ct || ct_create_trail(ct, NULL, "main", &err) < 0) {
		ok(0, "set up: %s", err.message);
		return tap_done();
	}
	ok(settings_trail_file("logging") == SETTING_RW && settings_trail_file("arn") == SETTING_RO &&
	   settings_trail_file("logs") == SETTING_NONE, "which files are settings");
	test_cases();
	test_round_trip();
	test_partial();
	test_bucket_policy();
	ct_close(ct);
	testdir_remove(root);
	return tap_done();
}
