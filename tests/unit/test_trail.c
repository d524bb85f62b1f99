/* Unit tests for backend/trail.c: read/write types, folding AWS basic event
 * selectors into struct selectors and back, the config.json document, the
 * registry's state record and tags. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"
#include "trail.h"

#define S3 "AWS::S3::Object"
#define LAMBDA "AWS::Lambda::Function"
#define DEFAULT_SEL "[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true," \
	"\"DataResources\":[],\"ExcludeManagementEventSources\":[]}]"

static json *parse(const char *s)
{
	return json_parse(s, strlen(s), NULL);
}

/* Compact JSON text of j (freed on the next call), "" when j is NULL. */
static const char *text(const json *j)
{
	static char *last;
	free(last);
	last = j ? json_print(j, false) : NULL;
	return last ? last : "";
}

static bool selectors_equal(const struct selectors *a, const struct selectors *b)
{
	if (a->mgmt != b->mgmt || a->exclude_kms != b->exclude_kms ||
	    a->exclude_rdsdata != b->exclude_rdsdata || a->n_res != b->n_res)
		return false;
	/* Order may differ after a round trip (resources are grouped by
	 * read/write type), so compare as sets. */
	for (size_t i = 0; i < a->n_res; i++) {
		bool found = false;
		for (size_t k = 0; k < b->n_res && !found; k++)
			found = !strcmp(a->res[i].type, b->res[k].type) &&
				!strcmp(a->res[i].value, b->res[k].value) && a->res[i].rw == b->res[k].rw;
		if (!found)
			return false;
	}
	return true;
}

static void test_rw_type(void)
{
	static const struct {
		const char *s;
		bool allow_none;
		int rc;
		enum rw_type t;
	} cases[] = {
		{ "All", false, 0, RW_ALL },
		{ "ReadOnly", false, 0, RW_READ },
		{ "WriteOnly", false, 0, RW_WRITE },
		{ "None", true, 0, RW_NONE },
		{ "None", false, -EINVAL, RW_NONE },
		{ "all", false, -EINVAL, RW_NONE },
		{ "read-only", false, -EINVAL, RW_NONE },
		{ "", true, -EINVAL, RW_NONE },
		{ "ReadOnly ", false, -EINVAL, RW_NONE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum rw_type t = RW_NONE;
		int rc = rw_type_parse(cases[i].s, cases[i].allow_none, &t);
		ok(rc == cases[i].rc && (rc < 0 || t == cases[i].t), "rw_type_parse(\"%s\", %d)",
		   cases[i].s, cases[i].allow_none);
		if (rc == 0)
			ok(!strcmp(rw_type_name(t), cases[i].s), "rw_type_name round trip \"%s\"", cases[i].s);
	}
	ok(rw_type_parse(NULL, true, &(enum rw_type){ RW_NONE }) == -EINVAL, "rw_type_parse(NULL)");
}

struct fold_case {
	const char *name;
	const char *in;
	int rc;
	enum rw_type mgmt;
	bool kms, rdsdata;
	size_t n_res;
	const char *err_has;    /* substring of the error message, or NULL */
};

static const struct fold_case fold_cases[] = {
	{ "empty selector is the default", "[{}]", 0, RW_ALL, false, false, 0, NULL },
	{ "explicit defaults", DEFAULT_SEL, 0, RW_ALL, false, false, 0, NULL },
	{ "management None", "[{\"IncludeManagementEvents\":false}]", 0, RW_NONE, false, false, 0, NULL },
	{ "ReadOnly management + WriteOnly data",
	  "[{\"ReadWriteType\":\"ReadOnly\"},{\"ReadWriteType\":\"WriteOnly\",\"IncludeManagementEvents\":false,"
	  "\"DataResources\":[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3:::bbb-bucket/\"]}]}]",
	  0, RW_READ, false, false, 1, NULL },
	{ "ReadOnly + WriteOnly management is All",
	  "[{\"ReadWriteType\":\"ReadOnly\"},{\"ReadWriteType\":\"WriteOnly\"}]", 0, RW_ALL, false, false, 0, NULL },
	{ "same value read and write merges",
	  "[{\"ReadWriteType\":\"ReadOnly\",\"DataResources\":[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3:::bbb-bucket/x\"]}]},"
	  "{\"ReadWriteType\":\"WriteOnly\",\"DataResources\":[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3:::bbb-bucket/x\"]}]}]",
	  0, RW_ALL, false, false, 1, NULL },
	{ "agreeing exclusions",
	  "[{\"ReadWriteType\":\"ReadOnly\",\"ExcludeManagementEventSources\":[\"kms.amazonaws.com\"]},"
	  "{\"ReadWriteType\":\"WriteOnly\",\"ExcludeManagementEventSources\":[\"kms.amazonaws.com\"]}]",
	  0, RW_ALL, true, false, 0, NULL },
	{ "exclusions of a selector without management events are ignored",
	  "[{\"ExcludeManagementEventSources\":[\"rdsdata.amazonaws.com\"]},"
	  "{\"IncludeManagementEvents\":false,\"ExcludeManagementEventSources\":[\"kms.amazonaws.com\"],"
	  "\"DataResources\":[{\"Type\":\"" LAMBDA "\",\"Values\":[\"arn:aws:lambda\"]}]}]",
	  0, RW_ALL, false, true, 1, NULL },
	{ "disagreeing exclusions",
	  "[{\"ReadWriteType\":\"ReadOnly\",\"ExcludeManagementEventSources\":[\"kms.amazonaws.com\"]},"
	  "{\"ReadWriteType\":\"WriteOnly\",\"ExcludeManagementEventSources\":[]}]",
	  -EINVAL, RW_NONE, false, false, 0, "EventSelectors[1].ExcludeManagementEventSources" },
	{ "unknown exclusion source", "[{\"ExcludeManagementEventSources\":[\"s3.amazonaws.com\"]}]",
	  -EINVAL, RW_NONE, false, false, 0, "EventSelectors[0].ExcludeManagementEventSources[0]" },
	{ "not a list", "{}", -EINVAL, RW_NONE, false, false, 0, "1 to 5" },
	{ "no selectors", "[]", -EINVAL, RW_NONE, false, false, 0, "1 to 5" },
	{ "6 selectors", "[{},{},{},{},{},{}]", -EINVAL, RW_NONE, false, false, 0, "1 to 5" },
	{ "5 selectors", "[{},{},{},{},{}]", 0, RW_ALL, false, false, 0, NULL },
	{ "selector not an object", "[{},3]", -EINVAL, RW_NONE, false, false, 0, "EventSelectors[1]" },
	{ "unknown member", "[{\"Bogus\":1}]", -EINVAL, RW_NONE, false, false, 0, "unknown member \"Bogus\"" },
	{ "member twice", "[{\"ReadWriteType\":\"All\",\"ReadWriteType\":\"All\"}]",
	  -EINVAL, RW_NONE, false, false, 0, "twice" },
	{ "bad ReadWriteType", "[{\"ReadWriteType\":\"read-only\"}]",
	  -EINVAL, RW_NONE, false, false, 0, "EventSelectors[0].ReadWriteType" },
	{ "ReadWriteType None", "[{\"ReadWriteType\":\"None\"}]",
	  -EINVAL, RW_NONE, false, false, 0, "ReadWriteType" },
	{ "IncludeManagementEvents not a bool", "[{\"IncludeManagementEvents\":\"true\"}]",
	  -EINVAL, RW_NONE, false, false, 0, "EventSelectors[0].IncludeManagementEvents" },
	{ "DataResources not a list", "[{\"DataResources\":{}}]",
	  -EINVAL, RW_NONE, false, false, 0, "EventSelectors[0].DataResources" },
	{ "data resource without Type", "[{\"DataResources\":[{\"Values\":[\"arn:aws:s3\"]}]}]",
	  -EINVAL, RW_NONE, false, false, 0, "DataResources[0].Type" },
	{ "data resource unknown member",
	  "[{\"DataResources\":[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3\"],\"X\":1}]}]",
	  -EINVAL, RW_NONE, false, false, 0, "unknown member \"X\"" },
	{ "unsupported resource type", "[{\"DataResources\":[{\"Type\":\"AWS::S3Outposts::Object\",\"Values\":[\"arn:aws:s3\"]}]}]",
	  -EINVAL, RW_NONE, false, false, 0, "DataResources[0].Type" },
	{ "values not strings", "[{\"DataResources\":[{\"Type\":\"" S3 "\",\"Values\":[1]}]}]",
	  -EINVAL, RW_NONE, false, false, 0, "Values[0]" },
	{ "no values", "[{\"DataResources\":[{\"Type\":\"" S3 "\",\"Values\":[]}]}]",
	  -EINVAL, RW_NONE, false, false, 0, "Values" },
	{ "value of another type", "[{},{\"DataResources\":[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3:::bbb-bucket/\",\"arn:aws:lambda\"]}]}]",
	  -EINVAL, RW_NONE, false, false, 0, "EventSelectors[1].DataResources[0].Values[1]" },
};

static void test_fold(void)
{
	for (size_t i = 0; i < sizeof fold_cases / sizeof fold_cases[0]; i++) {
		const struct fold_case *c = &fold_cases[i];
		json *j = parse(c->in);
		struct selectors s;
		struct ct_err err;
		ct_err_clear(&err);
		int rc = selectors_from_json(j, &s, &err);
		ok(j && rc == c->rc, "fold %s: rc %d", c->name, rc);
		if (rc == 0) {
			ok(s.mgmt == c->mgmt && s.exclude_kms == c->kms && s.exclude_rdsdata == c->rdsdata &&
			   s.n_res == c->n_res, "fold %s: mgmt %s, exclusions %d/%d, %zu resources",
			   c->name, rw_type_name(s.mgmt), s.exclude_kms, s.exclude_rdsdata, s.n_res);
			/* Unfolding and folding again gives the same selectors. */
			json *back = selectors_to_json(&s);
			struct selectors s2;
			ok(back && selectors_from_json(back, &s2, NULL) == 0 && selectors_equal(&s, &s2),
			   "fold %s: round trip through %s", c->name, text(back));
			selectors_release(&s2);
			json_free(back);
			selectors_release(&s);
		} else {
			ok(!strcmp(err.name, "InvalidEventSelectorsException") &&
			   (!c->err_has || strstr(err.message, c->err_has)),
			   "fold %s: %s: %s", c->name, err.name, err.message);
			ok(s.n_res == 0 && s.res == NULL, "fold %s: out left empty", c->name);
		}
		json_free(j);
	}
}

static void test_fold_merge(void)
{
	json *j = parse(fold_cases[5].in);
	struct selectors s;
	ok(selectors_from_json(j, &s, NULL) == 0 && s.n_res == 1 && s.res[0].rw == RW_ALL &&
	   !strcmp(s.res[0].type, S3) && !strcmp(s.res[0].value, "arn:aws:s3:::bbb-bucket/x"),
	   "read and write of one value merge into All");
	selectors_release(&s);
	json_free(j);
}

/* Selectors with n data resources (arn:aws:s3:::bucketN/), plus extra raw JSON values. */
static json *many_resources(int n, const char *extra)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "[{\"DataResources\":[{\"Type\":\"" S3 "\",\"Values\":[");
	for (int i = 0; i < n; i++)
		buf_printf(&b, "%s\"arn:aws:s3:::bucket%d/\"", i ? "," : "", i);
	buf_printf(&b, "%s]}]}]", extra);
	json *j = parse(buf_str(&b));
	buf_release(&b);
	return j;
}

static void test_resource_limit(void)
{
	static const struct {
		int n;
		const char *extra;
		int rc;
		const char *name;
	} cases[] = {
		{ 250, "", 0, "250 resources accepted" },
		{ 251, "", -EINVAL, "251 resources rejected" },
		{ 250, ",\"arn:aws:s3\"", 0, "arn:aws:s3 does not count toward 250" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json *j = many_resources(cases[i].n, cases[i].extra);
		struct selectors s;
		struct ct_err err;
		ct_err_clear(&err);
		int rc = selectors_from_json(j, &s, &err);
		ok(j && rc == cases[i].rc, "%s (%s)", cases[i].name, err.message);
		if (rc == 0)
			selectors_release(&s);
		json_free(j);
	}
	/* The limit counts over all selectors. */
	json *j = parse("[{\"DataResources\":[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3:::aaa-bucket/\"]}]}]");
	json *big = many_resources(250, "");
	struct buf b;
	buf_init(&b, 1 << 20);
	char *t1 = json_print(j, false), *t2 = json_print(big, false);
	buf_printf(&b, "[%.*s,%.*s]", (int)strlen(t1) - 2, t1 + 1, (int)strlen(t2) - 2, t2 + 1);
	json *both = parse(buf_str(&b));
	struct selectors s;
	ok(both && selectors_from_json(both, &s, NULL) == -EINVAL, "1 + 250 resources in two selectors rejected");
	free(t1);
	free(t2);
	buf_release(&b);
	json_free(both);
	json_free(big);
	json_free(j);
}

struct unfold_case {
	const char *name;
	enum rw_type mgmt;
	bool kms, rdsdata;
	struct { const char *type, *value; enum rw_type rw; } res[4];
	const char *out;
};

static const struct unfold_case unfold_cases[] = {
	{ "defaults", RW_ALL, false, false, { { NULL, NULL, 0 } }, DEFAULT_SEL },
	{ "management None, nothing else", RW_NONE, false, false, { { NULL, NULL, 0 } },
	  "[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":false,\"DataResources\":[],"
	  "\"ExcludeManagementEventSources\":[]}]" },
	{ "ReadOnly management, WriteOnly data", RW_READ, false, false,
	  { { S3, "arn:aws:s3:::bbb-bucket/", RW_WRITE } },
	  "[{\"ReadWriteType\":\"ReadOnly\",\"IncludeManagementEvents\":true,\"DataResources\":[],"
	  "\"ExcludeManagementEventSources\":[]},"
	  "{\"ReadWriteType\":\"WriteOnly\",\"IncludeManagementEvents\":false,\"DataResources\":"
	  "[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3:::bbb-bucket/\"]}],\"ExcludeManagementEventSources\":[]}]" },
	{ "data only", RW_NONE, false, false, { { S3, "arn:aws:s3", RW_READ } },
	  "[{\"ReadWriteType\":\"ReadOnly\",\"IncludeManagementEvents\":false,\"DataResources\":"
	  "[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3\"]}],\"ExcludeManagementEventSources\":[]}]" },
	{ "grouped by type in first-seen order", RW_ALL, true, false,
	  { { S3, "arn:aws:s3:::aaa-bucket/", RW_ALL }, { LAMBDA, "arn:aws:lambda", RW_ALL },
	    { S3, "arn:aws:s3:::ccc-bucket/p", RW_ALL } },
	  "[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true,\"DataResources\":"
	  "[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3:::aaa-bucket/\",\"arn:aws:s3:::ccc-bucket/p\"]},"
	  "{\"Type\":\"" LAMBDA "\",\"Values\":[\"arn:aws:lambda\"]}],"
	  "\"ExcludeManagementEventSources\":[\"kms.amazonaws.com\"]}]" },
	{ "exclusions on every selector, order All ReadOnly WriteOnly", RW_WRITE, true, true,
	  { { S3, "arn:aws:s3:::www-bucket/", RW_READ }, { S3, "arn:aws:s3:::aaa-bucket/", RW_ALL } },
	  "[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":false,\"DataResources\":"
	  "[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3:::aaa-bucket/\"]}],"
	  "\"ExcludeManagementEventSources\":[\"kms.amazonaws.com\",\"rdsdata.amazonaws.com\"]},"
	  "{\"ReadWriteType\":\"ReadOnly\",\"IncludeManagementEvents\":false,\"DataResources\":"
	  "[{\"Type\":\"" S3 "\",\"Values\":[\"arn:aws:s3:::www-bucket/\"]}],"
	  "\"ExcludeManagementEventSources\":[\"kms.amazonaws.com\",\"rdsdata.amazonaws.com\"]},"
	  "{\"ReadWriteType\":\"WriteOnly\",\"IncludeManagementEvents\":true,\"DataResources\":[],"
	  "\"ExcludeManagementEventSources\":[\"kms.amazonaws.com\",\"rdsdata.amazonaws.com\"]}]" },
};

static void test_unfold(void)
{
	for (size_t i = 0; i < sizeof unfold_cases / sizeof unfold_cases[0]; i++) {
		const struct unfold_case *c = &unfold_cases[i];
		struct selectors s = { .mgmt = c->mgmt, .exclude_kms = c->kms, .exclude_rdsdata = c->rdsdata };
		for (size_t k = 0; k < 4 && c->res[k].type; k++)
			selectors_add_resource(&s, c->res[k].type, c->res[k].value, c->res[k].rw);
		json *j = selectors_to_json(&s);
		const char *got = text(j);
		ok(!strcmp(got, c->out), "unfold %s", c->name);
		if (strcmp(got, c->out))
			diag("got      %s\nexpected %s", got, c->out);
		ok(selectors_are_default(&s) == !strcmp(c->name, "defaults"), "unfold %s: are_default", c->name);
		json_free(j);
		selectors_release(&s);
	}
}

static void test_add_resource(void)
{
	struct selectors s = { .mgmt = RW_ALL };
	ok(selectors_are_default(&s), "empty All selectors are the default");
	ok(selectors_add_resource(&s, S3, "arn:aws:s3:::bbb-bucket/", RW_READ) == 0 && s.n_res == 1, "add one");
	ok(selectors_add_resource(&s, S3, "arn:aws:s3:::bbb-bucket/", RW_WRITE) == 0 && s.n_res == 1 &&
	   s.res[0].rw == RW_ALL, "same type and value merge their read/write types");
	ok(selectors_add_resource(&s, LAMBDA, "arn:aws:s3:::bbb-bucket/", RW_READ) == 0 && s.n_res == 2,
	   "same value of another type is another resource");
	ok(selectors_add_resource(&s, S3, "arn:aws:s3:::ccc-bucket/", RW_NONE) == 0 && s.n_res == 2,
	   "a resource selecting nothing is not stored");
	struct selectors c;
	ok(selectors_copy(&c, &s) == 0 && selectors_equal(&c, &s) && c.res[0].value != s.res[0].value,
	   "selectors_copy is deep");
	ok(!selectors_are_default(&s), "selectors with resources are not the default");
	selectors_release(&c);
	selectors_release(&s);
	ok(s.n_res == 0 && s.res == NULL, "selectors_release empties");
	s.mgmt = RW_ALL;
	s.exclude_kms = true;
	ok(!selectors_are_default(&s), "an exclusion is not the default");
}

static void fill_trail(struct trail *t)
{
	trail_init(t);
	strcpy(t->name, "my-trail");
	strcpy(t->home_region, "us-east-1");
	strcpy(t->account, "123456789012");
	strcpy(t->bucket, "trail-bucket");
}

static const char *const config_order[] = {
	"Name", "S3BucketName", "S3KeyPrefix", "SnsTopicName", "SnsTopicARN",
	"IncludeGlobalServiceEvents", "IsMultiRegionTrail", "HomeRegion", "TrailARN",
	"LogFileValidationEnabled", "CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn", "KmsKeyId",
	"HasCustomEventSelectors", "HasInsightSelectors", "IsOrganizationTrail", "IsLogging",
	"EventSelectors", "TagsList",
};
#define N_CONFIG (sizeof config_order / sizeof config_order[0])

/* The member names of j follow config_order (skipping absent ones). */
static bool config_in_order(const json *j)
{
	size_t k = 0;
	for (const json *m = json_first(j); m; m = json_next(m), k++) {
		while (k < N_CONFIG && strcmp(config_order[k], json_key(m)))
			k++;
		if (k == N_CONFIG)
			return false;
	}
	return true;
}

static void test_config_json(void)
{
	struct trail t;
	fill_trail(&t);
	char arn[CT_ARN_MAX + 1];
	trail_arn(&t, arn, sizeof arn);
	ok(!strcmp(arn, "arn:aws:cloudtrail:us-east-1:123456789012:trail/my-trail"), "trail_arn: %s", arn);

	json *j = trail_to_config_json(&t);
	static const char *const absent[] = { "S3KeyPrefix", "SnsTopicName", "SnsTopicARN",
		"CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn", "KmsKeyId" };
	for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
		ok(!json_get(j, absent[i]), "config: unset %s left out", absent[i]);
	ok(json_size(j) == N_CONFIG - 6, "config: %zu members when minimal", json_size(j));
	ok(config_in_order(j), "config: members in AWS order (minimal)");
	ok(!strcmp(json_string(json_get(j, "TrailARN")), arn), "config: TrailARN");
	ok(!strcmp(json_string(json_get(j, "HomeRegion")), "us-east-1"), "config: HomeRegion");
	ok(json_is_bool(json_get(j, "HasCustomEventSelectors")) &&
	   !json_bool(json_get(j, "HasCustomEventSelectors")), "config: default selectors are not custom");
	ok(json_is_bool(json_get(j, "HasInsightSelectors")) && json_is_bool(json_get(j, "IsOrganizationTrail")),
	   "config: HasInsightSelectors and IsOrganizationTrail present");
	ok(!strcmp(text(json_get(j, "EventSelectors")), DEFAULT_SEL), "config: default EventSelectors");
	ok(json_is_array(json_get(j, "TagsList")) && json_size(json_get(j, "TagsList")) == 0,
	   "config: empty TagsList");
	json_free(j);

	strcpy(t.prefix, "logs");
	strcpy(t.sns_topic_arn, "arn:aws:sns:us-east-1:123456789012:my-topic");
	strcpy(t.log_group_arn, "arn:aws:logs:us-east-1:123456789012:log-group:g:*");
	strcpy(t.log_role_arn, "arn:aws:iam::123456789012:role/r");
	strcpy(t.kms_key_arn, "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab");
	t.multi_region = t.global_events = t.validation = t.logging = true;
	t.sel.mgmt = RW_READ;
	trail_set_tag(&t, "b", "2");
	trail_set_tag(&t, "a", "");
	j = trail_to_config_json(&t);
	ok(json_size(j) == N_CONFIG, "config: all %zu members when everything is set", N_CONFIG);
	ok(config_in_order(j), "config: members in AWS order (full)");
	ok(!strcmp(json_string(json_get(j, "SnsTopicName")), "my-topic"), "config: SnsTopicName from the ARN");
	ok(!strcmp(json_string(json_get(j, "S3KeyPrefix")), "logs"), "config: S3KeyPrefix");
	ok(!strcmp(json_string(json_get(j, "KmsKeyId")), t.kms_key_arn), "config: KmsKeyId");
	ok(json_bool(json_get(j, "IsLogging")) && json_bool(json_get(j, "IsMultiRegionTrail")) &&
	   json_bool(json_get(j, "IncludeGlobalServiceEvents")) && json_bool(json_get(j, "LogFileValidationEnabled")),
	   "config: booleans");
	ok(json_bool(json_get(j, "HasCustomEventSelectors")), "config: ReadOnly management is custom");
	const char *tags = text(json_get(j, "TagsList"));
	ok(!strcmp(tags, "[{\"Key\":\"b\",\"Value\":\"2\"},{\"Key\":\"a\",\"Value\":\"\"}]"),
	   "config: TagsList in stored order: %s", tags);
	json_free(j);
	trail_release(&t);
}

static bool trails_equal(const struct trail *a, const struct trail *b)
{
	if (strcmp(a->name, b->name) || strcmp(a->home_region, b->home_region) ||
	    strcmp(a->account, b->account) || strcmp(a->bucket, b->bucket) ||
	    strcmp(a->prefix, b->prefix) || strcmp(a->kms_key_arn, b->kms_key_arn) ||
	    strcmp(a->sns_topic_arn, b->sns_topic_arn) || strcmp(a->log_group_arn, b->log_group_arn) ||
	    strcmp(a->log_role_arn, b->log_role_arn))
		return false;
	if (a->multi_region != b->multi_region || a->global_events != b->global_events ||
	    a->validation != b->validation || a->logging != b->logging ||
	    a->start_logging_time != b->start_logging_time || a->stop_logging_time != b->stop_logging_time ||
	    a->created_time != b->created_time)
		return false;
	if (!selectors_equal(&a->sel, &b->sel) || a->n_tags != b->n_tags)
		return false;
	for (size_t i = 0; i < a->n_tags; i++)
		if (strcmp(a->tags[i].key, b->tags[i].key) || strcmp(a->tags[i].value, b->tags[i].value))
			return false;
	return true;
}

static void test_state_round_trip(void)
{
	struct trail t, u, c;
	fill_trail(&t);
	strcpy(t.prefix, "p/q");
	strcpy(t.sns_topic_arn, "arn:aws:sns:us-east-1:123456789012:topic");
	strcpy(t.kms_key_arn, "arn:aws:kms:us-east-1:123456789012:key/k");
	strcpy(t.log_group_arn, "arn:aws:logs:us-east-1:123456789012:log-group:g:*");
	strcpy(t.log_role_arn, "arn:aws:iam::123456789012:role/r");
	t.multi_region = t.validation = t.logging = true;
	t.start_logging_time = 1700000000;
	t.stop_logging_time = 1700003600;
	t.created_time = 1690000000;
	t.sel.mgmt = RW_WRITE;
	t.sel.exclude_rdsdata = true;
	selectors_add_resource(&t.sel, S3, "arn:aws:s3:::bbb-bucket/", RW_READ);
	selectors_add_resource(&t.sel, LAMBDA, "arn:aws:lambda", RW_ALL);
	trail_set_tag(&t, "env", "prod");
	trail_set_tag(&t, "empty", "");

	json *j = trail_to_state_json(&t);
	char *s = json_print(j, true);
	json *back = s ? parse(s) : NULL;
	trail_init(&u);
	struct ct_err err;
	ct_err_clear(&err);
	int rc = back ? trail_from_state_json(back, &u, &err) : -1;
	ok(rc == 0, "state: parse back (%s)", err.message);
	ok(trails_equal(&t, &u), "state: round trip keeps every field");
	ok(u.sel.n_res == 2 && !strcmp(u.sel.res[0].value, "arn:aws:s3:::bbb-bucket/"), "state: resources in order");
	/* Loading into a trail that holds data replaces it without leaking. */
	ok(trail_from_state_json(back, &u, NULL) == 0 && trails_equal(&t, &u), "state: load over a loaded trail");

	ok(trail_copy(&c, &t) == 0 && trails_equal(&c, &t), "trail_copy equal");
	trail_set_tag(&c, "env", "dev");
	ok(!strcmp(t.tags[0].value, "prod") && c.sel.res != t.sel.res, "trail_copy is deep");
	trail_release(&c);
	free(s);
	json_free(back);
	json_free(j);
	trail_release(&u);

	/* A minimal record: optional members default. */
	json *min = parse("{\"name\":\"abc\",\"homeRegion\":\"eu-west-1\",\"account\":\"123456789012\",\"bucket\":\"bkt\"}");
	ok(trail_from_state_json(min, &u, NULL) == 0 && u.sel.mgmt == RW_ALL && u.n_tags == 0 &&
	   !u.prefix[0] && u.created_time == 0, "state: minimal record gets defaults");
	json_free(min);
	trail_release(&u);
	trail_release(&t);
}

static void test_state_errors(void)
{
	char long_name[CT_TRAIL_NAME_MAX + 2];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	char long_json[512];
	snprintf(long_json, sizeof long_json, "{\"name\":\"%s\",\"homeRegion\":\"r\",\"account\":\"1\",\"bucket\":\"b\"}",
		 long_name);
#define BASE "\"name\":\"abc\",\"homeRegion\":\"r\",\"account\":\"1\",\"bucket\":\"b\""
	const struct {
		const char *in;
		const char *member;
	} cases[] = {
		{ "[]", "object" },
		{ "{\"homeRegion\":\"r\",\"account\":\"1\",\"bucket\":\"b\"}", "name" },
		{ "{\"name\":\"\",\"homeRegion\":\"r\",\"account\":\"1\",\"bucket\":\"b\"}", "name" },
		{ "{\"name\":1,\"homeRegion\":\"r\",\"account\":\"1\",\"bucket\":\"b\"}", "name" },
		{ "{\"name\":\"abc\",\"homeRegion\":\"r\",\"account\":\"1234567890123\",\"bucket\":\"b\"}", "account" },
		{ "{" BASE ",\"prefix\":null}", "prefix" },
		{ "{" BASE ",\"logging\":1}", "logging" },
		{ "{" BASE ",\"createdTime\":-1}", "createdTime" },
		{ "{" BASE ",\"createdTime\":1.5}", "createdTime" },
		{ "{" BASE ",\"startLoggingTime\":1e300}", "startLoggingTime" },
		{ "{" BASE ",\"stopLoggingTime\":\"0\"}", "stopLoggingTime" },
		{ "{" BASE ",\"selectors\":[]}", "selectors" },
		{ "{" BASE ",\"selectors\":{\"mgmt\":\"all\"}}", "selectors.mgmt" },
		{ "{" BASE ",\"selectors\":{\"mgmt\":\"All\",\"excludeKms\":0}}", "selectors.excludeKms" },
		{ "{" BASE ",\"selectors\":{\"mgmt\":\"All\",\"resources\":[{\"type\":\"" S3 "\",\"value\":\"arn:aws:s3\",\"rw\":\"None\"}]}}",
		  "selectors.resources[0].rw" },
		{ "{" BASE ",\"selectors\":{\"mgmt\":\"All\",\"resources\":[{\"type\":\"X\",\"value\":\"arn:aws:s3\",\"rw\":\"All\"}]}}",
		  "selectors.resources[0].type" },
		{ "{" BASE ",\"selectors\":{\"mgmt\":\"All\",\"resources\":[{\"type\":\"" S3 "\",\"rw\":\"All\"}]}}",
		  "selectors.resources[0].value" },
		{ "{" BASE ",\"tags\":[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"a\",\"value\":\"2\"}]}", "tags[1].key" },
		{ "{" BASE ",\"tags\":[{\"key\":\"a\"}]}", "tags[0].value" },
		{ "{" BASE ",\"tags\":{}}", "tags" },
		{ long_json, "name" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json *j = parse(cases[i].in);
		struct trail t;
		trail_init(&t);
		struct ct_err err;
		ct_err_clear(&err);
		int rc = trail_from_state_json(j, &t, &err);
		ok(j && rc == -EINVAL && !strcmp(err.name, "InvalidStateFile") &&
		   strstr(err.message, cases[i].member),
		   "state error names %s: %s", cases[i].member, err.message);
		trail_release(&t);
		json_free(j);
	}
#undef BASE
}

static void test_tags(void)
{
	struct trail t;
	trail_init(&t);
	ok(trail_set_tag(&t, "a", "1") == 0 && trail_set_tag(&t, "b", "2") == 0 &&
	   trail_set_tag(&t, "c", "3") == 0 && t.n_tags == 3, "set three tags");
	ok(trail_set_tag(&t, "b", "two") == 0 && t.n_tags == 3 && !strcmp(t.tags[1].key, "b") &&
	   !strcmp(t.tags[1].value, "two"), "setting an existing key replaces its value in place");
	ok(trail_remove_tag(&t, "a") && t.n_tags == 2 && !strcmp(t.tags[0].key, "b") &&
	   !strcmp(t.tags[1].key, "c"), "remove keeps the order of the rest");
	ok(!trail_remove_tag(&t, "a"), "removing a missing key says so");
	ok(trail_set_tag(&t, "e", "") == 0 && !strcmp(t.tags[2].value, ""), "empty value");
	trail_clear_tags(&t);
	ok(t.n_tags == 0 && t.tags == NULL, "clear tags");
	trail_release(&t);
	trail_release(&t);
	ok(t.sel.mgmt == RW_ALL, "release twice is harmless and leaves an initialised trail");
}

int main(void)
{
	test_rw_type();
	test_fold();
	test_fold_merge();
	test_resource_limit();
	test_unfold();
	test_add_resource();
	test_config_json();
	test_state_round_trip();
	test_state_errors();
	test_tags();
	text(NULL);
	return tap_done();
}
