/* Unit tests for backend/audit.c: the records of trailfs's own API calls.
 *
 * The event source of every call name, the lower-camel copy of API shapes,
 * and the record itself: identity for root and for another user, the
 * members every record has, failures, S3 resources, CloudTrail's 1 KB cuts,
 * and that event_normalize takes the record as it stands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "event.h"
#include "json.h"
#include "tap.h"

#define N_OF(a) (sizeof(a) / sizeof *(a))
#define ACCOUNT "123456789012"

static const struct { const char *call; const char *source; } sources[] = {
	{ "CreateTrail", AUDIT_SOURCE_CLOUDTRAIL }, { "UpdateTrail", AUDIT_SOURCE_CLOUDTRAIL },
	{ "DeleteTrail", AUDIT_SOURCE_CLOUDTRAIL }, { "GetTrail", AUDIT_SOURCE_CLOUDTRAIL },
	{ "DescribeTrails", AUDIT_SOURCE_CLOUDTRAIL }, { "GetTrailStatus", AUDIT_SOURCE_CLOUDTRAIL },
	{ "StartLogging", AUDIT_SOURCE_CLOUDTRAIL }, { "StopLogging", AUDIT_SOURCE_CLOUDTRAIL },
	{ "PutEventSelectors", AUDIT_SOURCE_CLOUDTRAIL }, { "GetEventSelectors", AUDIT_SOURCE_CLOUDTRAIL },
	{ "AddTags", AUDIT_SOURCE_CLOUDTRAIL }, { "RemoveTags", AUDIT_SOURCE_CLOUDTRAIL },
	{ "ListTags", AUDIT_SOURCE_CLOUDTRAIL },
	{ "CreateBucket", AUDIT_SOURCE_S3 }, { "DeleteBucket", AUDIT_SOURCE_S3 },
	{ "ListBuckets", AUDIT_SOURCE_S3 }, { "GetBucketPolicy", AUDIT_SOURCE_S3 },
	{ "PutBucketPolicy", AUDIT_SOURCE_S3 }, { "DeleteBucketPolicy", AUDIT_SOURCE_S3 },
	{ "GetObject", AUDIT_SOURCE_S3 },
};

static void test_sources(void)
{
	for (size_t i = 0; i < N_OF(sources); i++)
		ok(!strcmp(audit_source(sources[i].call), sources[i].source), "%s is %s",
		   sources[i].call, sources[i].source);
}

static char *print(const json *j)
{
	return j ? json_print(j, false) : NULL;
}

static void test_lower_camel(void)
{
	static const struct { const char *in, *out; } rows[] = {
		{ "{\"TrailARN\":\"x\"}", "{\"trailARN\":\"x\"}" },
		{ "{\"EventSelectors\":[{\"ReadWriteType\":\"All\",\"DataResources\":[{\"Type\":\"t\",\"Values\":[\"V\"]}]}]}",
		  "{\"eventSelectors\":[{\"readWriteType\":\"All\",\"dataResources\":[{\"type\":\"t\",\"values\":[\"V\"]}]}]}" },
		{ "[1,\"Two\",{\"A\":null}]", "[1,\"Two\",{\"a\":null}]" },
		{ "\"Scalar\"", "\"Scalar\"" },
		{ "{\"already\":true,\"\":1}", "{\"already\":true,\"\":1}" },
	};
	for (size_t i = 0; i < N_OF(rows); i++) {
		json *in = json_parse(rows[i].in, strlen(rows[i].in), NULL);
		json *out = audit_lower_camel(in);
		char *text = print(out);
		ok(text && !strcmp(text, rows[i].out), "lower camel: %s -> %s", rows[i].in,
		   text ? text : "(null)");
		free(text);
		json_free(out);
		json_free(in);
	}
	ok(audit_lower_camel(NULL) == NULL, "lower camel of NULL is NULL");
}

static const char *str(const json *o, const char *key)
{
	const json *v = json_get(o, key);
	return json_is_string(v) ? json_string(v) : NULL;
}

static bool is(const json *o, const char *key, const char *want)
{
	const char *s = str(o, key);
	return s && !strcmp(s, want);
}

/* event_normalize over a record, with one configured region. */
static int normalize(const json *r, struct event *e, struct ct_err *err)
{
	static const char *const regions[] = { "us-east-1" };
	struct event_ctx ctx = { .account = ACCOUNT, .regions = regions, .n_regions = 1 };
	memset(e, 0, sizeof *e);
	ct_err_clear(err);
	return event_normalize(r, &ctx, e, err);
}

static const struct ct_caller root = { .uid = 0, .user = "root", .program = "mkdir" };
static const struct ct_caller alice = { .uid = 1001, .user = "alice", .program = "cat" };

static void test_record_root(void)
{
	struct audit_call c = { .name = "CreateTrail", .request = json_new_object(),
				.response = json_new_object() };
	json_add_string(c.request, "name", "main");
	json_add_string(c.response, "trailARN", "arn:aws:cloudtrail:us-east-1:" ACCOUNT ":trail/main");
	json *r = audit_record(ACCOUNT, "us-east-1", 1767225600, &root, &c);
	ok(r != NULL, "a record is built");
	ok(!c.request && !c.response, "the call's members are taken");
	const json *u = json_get(r, "userIdentity");
	ok(is(u, "type", "Root") && is(u, "arn", "arn:aws:iam::" ACCOUNT ":root") &&
	   is(u, "principalId", ACCOUNT) && is(u, "accountId", ACCOUNT) && !json_get(u, "userName"),
	   "uid 0 is the account's Root");
	ok(is(r, "eventTime", "2026-01-01T00:00:00Z"), "eventTime from now, ISO-8601 UTC");
	ok(is(r, "eventSource", AUDIT_SOURCE_CLOUDTRAIL) && is(r, "eventName", "CreateTrail") &&
	   is(r, "awsRegion", "us-east-1"), "source, name and region");
	ok(is(r, "sourceIPAddress", AUDIT_SOURCE_IP), "sourceIPAddress");
	const char *ua = str(r, "userAgent");
	ok(ua && !strncmp(ua, "trailfs/", 8) && strstr(ua, " mkdir"), "userAgent names trailfs and the program: %s",
	   ua ? ua : "(none)");
	ok(is(json_get(r, "requestParameters"), "name", "main"), "requestParameters kept");
	ok(json_get(json_get(r, "responseElements"), "trailARN") != NULL, "responseElements kept");
	const char *rid = str(r, "requestID");
	ok(rid && strlen(rid) == EVENT_UUID_LEN && rid[14] == '4', "requestID is a version 4 UUID");
	ok(json_is_bool(json_get(r, "readOnly")) && !json_bool(json_get(r, "readOnly")), "readOnly false");
	ok(is(r, "eventType", "AwsApiCall") && is(r, "recipientAccountId", ACCOUNT), "eventType, recipient");
	ok(!json_get(r, "errorCode") && !json_get(r, "errorMessage") && !json_get(r, "resources") &&
	   !json_get(r, "additionalEventData"), "nothing that does not apply");

	/* event_normalize takes it as it is and fills in the rest. */
	struct event e;
	struct ct_err err;
	ok(normalize(r, &e, &err) == 0, "event_normalize accepts the record (%s)", err.message);
	ok(e.management && e.category == EC_MANAGEMENT && !e.read_only && e.id[0],
	   "a management write with an eventID");
	ok(!strstr(e.json, "trailfsIngest"), "no ingest stamp on trailfs's own records");
	event_release(&e);
	json_free(r);
}

static void test_record_user_failure(void)
{
	struct ct_err err;
	ct_fail(&err, "TrailNotFoundException", "Unknown trail: nope for the user: %s", ACCOUNT);
	struct audit_call c = { .name = "GetTrail", .read_only = true, .error = &err };
	json *r = audit_record(ACCOUNT, "eu-west-1", 0, &alice, &c);
	const json *u = json_get(r, "userIdentity");
	ok(is(u, "type", "IAMUser") && is(u, "arn", "arn:aws:iam::" ACCOUNT ":user/alice") &&
	   is(u, "userName", "alice") && is(u, "principalId", "1001"),
	   "another user is the IAM user of its name, principalId its uid");
	ok(is(r, "errorCode", "TrailNotFoundException") &&
	   is(r, "errorMessage", "Unknown trail: nope for the user: " ACCOUNT), "errorCode and errorMessage");
	ok(json_is_null(json_get(r, "requestParameters")) && json_is_null(json_get(r, "responseElements")),
	   "absent parameters are null, as CloudTrail writes them");
	ok(json_bool(json_get(r, "readOnly")), "readOnly true");
	json_free(r);

	/* The 1 KB cuts, at a character boundary. */
	char big[3000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[1022] = (char)0xC3;   /* a two-byte character across the cut */
	big[1023] = (char)0xA9;
	struct ct_err long_err;
	ct_fail(&long_err, "InvalidParameterException", "%s", big);
	struct audit_call c2 = { .name = "UpdateTrail", .error = &long_err };
	struct ct_caller prog = alice;
	r = audit_record(ACCOUNT, "eu-west-1", 0, &prog, &c2);
	const char *msg = str(r, "errorMessage");
	ok(msg && strlen(msg) <= 1024 && strlen(msg) >= 1000, "errorMessage cut to 1 KB (%zu)", msg ? strlen(msg) : 0);
	ok(msg && json_utf8_valid(msg, strlen(msg)), "and still valid UTF-8");
	json_free(r);
}

static void test_record_s3(void)
{
	struct audit_call c = { .name = "GetObject", .read_only = true, .request = json_new_object(),
				.additional = json_new_object(), .bucket = "logs-bucket",
				.key = "AWSLogs/" ACCOUNT "/CloudTrail/x.json.gz" };
	json_add_string(c.request, "bucketName", "logs-bucket");
	json_add_number(c.additional, "bytesTransferredOut", 42);
	json *r = audit_record(ACCOUNT, "us-east-1", 0, &alice, &c);
	ok(is(r, "eventSource", AUDIT_SOURCE_S3), "GetObject is an S3 call");
	const json *res = json_get(r, "resources");
	ok(json_is_array(res) && json_size(res) == 2, "two resources");
	ok(is(json_at(res, 0), "type", "AWS::S3::Object") &&
	   is(json_at(res, 0), "ARN", "arn:aws:s3:::logs-bucket/AWSLogs/" ACCOUNT "/CloudTrail/x.json.gz"),
	   "the object first");
	ok(is(json_at(res, 1), "type", "AWS::S3::Bucket") && is(json_at(res, 1), "ARN", "arn:aws:s3:::logs-bucket") &&
	   is(json_at(res, 1), "accountId", ACCOUNT), "then the bucket, with its account");
	ok(json_number(json_get(json_get(r, "additionalEventData"), "bytesTransferredOut")) == 42,
	   "additionalEventData kept");
	struct event e;
	struct ct_err err;
	ok(normalize(r, &e, &err) == 0 && e.category == EC_DATA && !e.management &&
	   e.read_only && e.n_resources == 2, "normalised: a read-only data event with its resources");
	event_release(&e);
	json_free(r);

	struct audit_call b = { .name = "CreateBucket", .bucket = "new-bucket" };
	r = audit_record(ACCOUNT, "us-east-1", 0, &root, &b);
	res = json_get(r, "resources");
	ok(json_size(res) == 1 && is(json_at(res, 0), "type", "AWS::S3::Bucket"), "a bucket call names the bucket only");
	json_free(r);
}

static void test_release(void)
{
	struct audit_call c = { .name = "X", .request = json_new_object(), .response = json_new_array(),
				.additional = json_new_object() };
	audit_call_release(&c);
	ok(!c.request && !c.response && !c.additional, "audit_call_release frees and clears");
	audit_call_release(&c);
	ok(1, "and may be called twice");
}

int main(void)
{
	test_sources();
	test_lower_camel();
	test_record_root();
	test_record_user_failure();
	test_record_s3();
	test_release();
	return tap_done();
}
