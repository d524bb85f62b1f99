/* Unit tests for backend/event.c: every check and fill-in rule of
 * event_normalize as table-driven vectors, the category and readOnly
 * derivation, S3 resources, the ingest stamp, the size limit, and the
 * /events stream (splitting, line numbers, all-or-nothing per write). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "tap.h"

static const char *const regions[] = {"us-east-1", "eu-west-1"};
static const struct ingest_who alice = {1000, "alice", "writer"};
static const struct event_ctx ctx = {"111122223333", regions, 2, &alice};
static const struct event_ctx own = {"111122223333", regions, 2, NULL};

#define TIME   "\"eventTime\":\"2026-11-23T10:02:11Z\""
#define SOURCE "\"eventSource\":\"ec2.amazonaws.com\""
#define NAME   "\"eventName\":\"DescribeInstances\""
#define REGION "\"awsRegion\":\"us-east-1\""
#define BASE   TIME "," SOURCE "," NAME "," REGION
#define N_OF(a) (sizeof(a) / sizeof *(a))

/* Printable rendering of s for test names (TAP lines stay on one line). */
static const char *show(char *out, size_t size, const char *s)
{
	size_t o = 0, i = 0;
	for (; s[i] && o + 8 < size && i < 60; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (s[i])
		o += (size_t)snprintf(out + o, size - o, "...");
	out[o] = '\0';
	return out;
}

/* An error is InvalidEventException with a one-line message holding want. */
static bool err_ok(const struct ct_err *e, const char *want)
{
	if (strcmp(e->name, "InvalidEventException") != 0 || !strstr(e->message, want))
		return false;
	for (const unsigned char *p = (const unsigned char *)e->message; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Normalise the record in text. */
static int norm(const char *text, const struct event_ctx *c, struct event *e, struct ct_err *err)
{
	memset(e, 0, sizeof *e);
	json *j = json_parse(text, strlen(text), NULL);
	if (!j)
		return -1000;
	int r = event_normalize(j, c, e, err);
	json_free(j);
	return r;
}

/* The normalised record parsed back (the caller frees). */
static json *reparse(const struct event *e)
{
	return e->json && strlen(e->json) == e->len ? json_parse(e->json, e->len, NULL) : NULL;
}

static bool is_uuid4(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return false;
	}
	return s[14] == '4' && strchr("89ab", s[19]);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* ---- bad records ---- */

struct bad {
	const char *record;
	const char *want;   /* in the message */
};

static const struct bad bad_records[] = {
	/* required members */
	{"{" SOURCE "," NAME "," REGION "}", "eventTime is missing"},
	{"{\"eventTime\":1795428131," SOURCE "," NAME "," REGION "}", "eventTime must be a string, not a number"},
	{"{\"eventTime\":\"yesterday\"," SOURCE "," NAME "," REGION "}",
	 "eventTime \"yesterday\" is not an ISO-8601 UTC time like 2026-11-23T10:02:11Z"},
	{"{\"eventTime\":\"2026-02-30T10:02:11Z\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"2026-11-23T24:00:00Z\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"2026-11-23T10:02:60Z\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"2026-11-23T10:02:11\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"2026-11-23 10:02:11Z\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"2026-11-23T10:02:11+00:00\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"2026-11-23T10:02:11.Z\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"2026-11-23T10:02:11.1234567890Z\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"2026-1-23T10:02:11Z\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"2026-11-23T10:02:11Zjunk\"," SOURCE "," NAME "," REGION "}", "is not an ISO-8601"},
	{"{\"eventTime\":\"\"," SOURCE "," NAME "," REGION "}", "eventTime is empty"},
	{"{" TIME "," NAME "," REGION "}", "eventSource is missing"},
	{"{" TIME ",\"eventSource\":\"\"," NAME "," REGION "}", "eventSource is empty"},
	{"{" TIME ",\"eventSource\":[]," NAME "," REGION "}", "eventSource must be a string, not an array"},
	{"{" TIME ",\"eventSource\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"," NAME "," REGION "}",
	 "eventSource is 129 bytes long"},
	{"{" TIME "," SOURCE "," REGION "}", "eventName is missing"},
	{"{" TIME "," SOURCE ",\"eventName\":null," REGION "}", "eventName must be a string, not null"},
	{"{" TIME "," SOURCE "," NAME "}", "awsRegion is missing: every record needs a configured region, like \"us-east-1\""},
	{"{" TIME "," SOURCE "," NAME ",\"awsRegion\":\"mars-1\"}",
	 "awsRegion \"mars-1\" is not a configured region (like us-east-1)"},
	{"{" TIME "," SOURCE "," NAME ",\"awsRegion\":\"us-east-1\\n\"}", "awsRegion \"us-east-1\\x0a\" is not"},
	{"{" TIME "," SOURCE "," NAME ",\"awsRegion\":\"US-EAST-1\"}", "is not a configured region"},
	{"{" TIME "," SOURCE "," NAME ",\"awsRegion\":7}", "awsRegion must be a string, not a number"},
	/* present members must have the right type */
	{"{" BASE ",\"eventID\":5}", "eventID must be a string, not a number"},
	{"{" BASE ",\"eventID\":\"\"}", "eventID is empty"},
	{"{" BASE ",\"eventID\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
	 "eventID is 70 bytes long; at most 64"},
	{"{" BASE ",\"eventVersion\":1.11}", "eventVersion must be a string, not a number"},
	{"{" BASE ",\"eventType\":true}", "eventType must be a string, not true"},
	{"{" BASE ",\"recipientAccountId\":111122223333}", "recipientAccountId must be a string, not a number"},
	{"{" BASE ",\"readOnly\":\"true\"}", "readOnly must be true or false, not a string"},
	{"{" BASE ",\"managementEvent\":1}", "managementEvent must be true or false, not a number"},
	{"{" BASE ",\"eventCategory\":\"Foo\"}", "eventCategory \"Foo\" is not one of Management, Data, Insight or NetworkActivity"},
	{"{" BASE ",\"eventCategory\":\"data\"}", "eventCategory \"data\" is not one of"},
	{"{" BASE ",\"eventCategory\":3}", "eventCategory must be a string, not a number"},
	{"{" BASE ",\"resources\":{}}", "resources must be an array of objects"},
	{"{" BASE ",\"resources\":[1]}", "resources[0] must be an object"},
	{"{" BASE ",\"resources\":[{\"ARN\":\"a\"},{}]}", "resources[1] has no ARN"},
	{"{" BASE ",\"resources\":[{\"ARN\":1}]}", "resources[0].ARN must be a string, not a number"},
	{"{" BASE ",\"resources\":[{\"ARN\":\"a\",\"type\":2}]}", "resources[0].type must be a string"},
	{"{" BASE ",\"resources\":[{\"ARN\":\"a\",\"accountId\":2}]}", "resources[0].accountId must be a string"},
	{"{" BASE ",\"additionalEventData\":\"x\"}", "additionalEventData must be an object, not a string"},
	{"{" BASE ",\"additionalEventData\":[]}", "additionalEventData must be an object, not an array"},
	/* each member once; UTF-8 only */
	{"{" BASE ",\"awsRegion\":\"eu-west-1\"}", "awsRegion appears twice"},
	{"{" BASE ",\"additionalEventData\":{},\"additionalEventData\":{\"trailfsIngest\":1}}",
	 "additionalEventData appears twice"},
	{"{" BASE ",\"userAgent\":\"\xff\xfe\"}", "member \"userAgent\" holds text that is not UTF-8"},
	{"{" BASE ",\"requestParameters\":{\"k\":[\"ok\",\"\xc0\xaf\"]}}", "member \"requestParameters\" holds text"},
	{"{" BASE ",\"\xed\xa0\x80\":1}", "holds text that is not UTF-8"},
	/* not a record at all */
	{"[{" BASE "}]", "must be a JSON object, not an array"},
	{"\"x\"", "must be a JSON object, not a string"},
};

static void test_bad_records(void)
{
	char name[128];
	for (size_t i = 0; i < N_OF(bad_records); i++) {
		struct event e;
		struct ct_err err = {{0}, {0}, {0}, {0}};
		int r = norm(bad_records[i].record, &ctx, &e, &err);
		bool zero = !e.json && !e.resources && !e.n_resources;
		ok(r == -EINVAL && err_ok(&err, bad_records[i].want) && zero, "refused: %s",
		   show(name, sizeof name, bad_records[i].want));
		if (r != -EINVAL || !err_ok(&err, bad_records[i].want))
			diag("got %d %s: %s", r, err.name, err.message);
		event_release(&e);
	}
}

/* ---- fill-ins ---- */

static void test_fill_ins(void)
{
	struct event e;
	struct ct_err err;
	int r = norm("{" BASE "}", &ctx, &e, &err);
	json *j = reparse(&e);
	ok(r == 0 && j, "a minimal record is accepted and its output parses");
	ok(j && !strcmp(json_string(json_get(j, "eventVersion")), CT_EVENT_VERSION), "eventVersion filled in");
	ok(j && is_uuid4(json_string(json_get(j, "eventID"))) && !strcmp(e.id, json_string(json_get(j, "eventID"))),
	   "eventID filled in with a UUID v4, also in e.id");
	ok(j && !strcmp(json_string(json_get(j, "recipientAccountId")), "111122223333"), "recipientAccountId filled in");
	ok(j && !strcmp(json_string(json_get(j, "eventType")), "AwsApiCall"), "eventType filled in");
	ok(j && !strcmp(json_string(json_get(j, "eventCategory")), "Management") && e.category == EC_MANAGEMENT,
	   "eventCategory filled in");
	ok(j && json_is_bool(json_get(j, "managementEvent")) && json_bool(json_get(j, "managementEvent")) && e.management,
	   "managementEvent filled in");
	ok(j && json_is_bool(json_get(j, "readOnly")) && json_bool(json_get(j, "readOnly")) && e.read_only,
	   "readOnly filled in");
	ok(!strcmp(e.region, "us-east-1") && !strcmp(e.source, "ec2.amazonaws.com") &&
	   !strcmp(e.name, "DescribeInstances") && e.time == 1795428131 && !e.global && e.n_resources == 0,
	   "the routing fields are set");
	ok(e.json && !strchr(e.json, '\n') && !strchr(e.json, ' '), "the output is compact");
	json_free(j);
	event_release(&e);

	struct event e2;
	norm("{" BASE "}", &ctx, &e2, &err);
	norm("{" BASE "}", &ctx, &e, &err);
	ok(strcmp(e.id, e2.id) != 0, "two records get two eventIDs");
	event_release(&e);
	event_release(&e2);

	/* With every member given and no stamp, the output is the input, compacted. */
	const char *full =
		"{ \"eventVersion\" : \"1.05\",\n \"eventTime\":\"2026-11-23T10:02:11.250Z\",\"eventSource\":\"s3.amazonaws.com\","
		"\"eventName\":\"GetObject\",\"awsRegion\":\"eu-west-1\",\"requestParameters\":{\"bucketName\":\"b\",\"key\":\"k\"},"
		"\"eventID\":\"my-id\",\"readOnly\":false,\"resources\":[],\"eventType\":\"AwsServiceEvent\",\"managementEvent\":true,"
		"\"recipientAccountId\":\"999988887777\",\"eventCategory\":\"Management\",\"n\":[1.5,-7,12345678901234,1e+300,true,null],"
		"\"s\":\"tab\\there \\\"q\\\" \\\\ \\u00e9 \\/ \\u0001\"}";
	const char *compact =
		"{\"eventVersion\":\"1.05\",\"eventTime\":\"2026-11-23T10:02:11.250Z\",\"eventSource\":\"s3.amazonaws.com\","
		"\"eventName\":\"GetObject\",\"awsRegion\":\"eu-west-1\",\"requestParameters\":{\"bucketName\":\"b\",\"key\":\"k\"},"
		"\"eventID\":\"my-id\",\"readOnly\":false,\"resources\":[],\"eventType\":\"AwsServiceEvent\",\"managementEvent\":true,"
		"\"recipientAccountId\":\"999988887777\",\"eventCategory\":\"Management\",\"n\":[1.5,-7,12345678901234,1e+300,true,null],"
		"\"s\":\"tab\\there \\\"q\\\" \\\\ \xc3\xa9 / \\u0001\"}";
	r = norm(full, &own, &e, &err);
	ok(r == 0 && e.json && !strcmp(e.json, compact) && e.len == strlen(compact),
	   "members given are kept as given, in order, compacted");
	if (r == 0 && strcmp(e.json, compact))
		diag("got %s", e.json);
	ok(r == 0 && !strcmp(e.id, "my-id") && !e.read_only && e.management && e.category == EC_MANAGEMENT &&
	   e.time == 1795428131 && e.n_resources == 0, "given values are what routing sees (fraction dropped)");
	event_release(&e);

	/* Filled-in members are appended after the given ones, in AWS's order. */
	r = norm("{" BASE ",\"eventID\":\"x\"}", &own, &e, &err);
	ok(r == 0 && !strcmp(e.json, "{" BASE ",\"eventID\":\"x\",\"eventVersion\":\"1.11\",\"readOnly\":true,"
			     "\"eventType\":\"AwsApiCall\",\"managementEvent\":true,"
			     "\"recipientAccountId\":\"111122223333\",\"eventCategory\":\"Management\"}"),
	   "filled-in members are appended in AWS's order");
	event_release(&e);

	struct event_ctx no_account = own;
	no_account.account = NULL;
	r = norm("{" BASE "}", &no_account, &e, &err);
	ok(r == 0 && !strstr(e.json, "recipientAccountId"), "no account in the context: none filled in");
	event_release(&e);

	r = norm("{\"eventTime\":\"2024-02-29T23:59:59.999999999Z\"," SOURCE "," NAME "," REGION "}", &ctx, &e, &err);
	ok(r == 0 && e.time == 1709251199 && strstr(e.json, "\"2024-02-29T23:59:59.999999999Z\""),
	   "fractional seconds and a leap day are accepted; the original string is kept");
	event_release(&e);

	r = norm("{" BASE ",\"eventCategory\":\"Insight\"}", &ctx, &e, &err);
	ok(r == 0 && e.category == EC_INSIGHT && !e.management, "eventCategory Insight");
	event_release(&e);
	r = norm("{" BASE ",\"eventCategory\":\"NetworkActivity\"}", &ctx, &e, &err);
	ok(r == 0 && e.category == EC_NETWORK && strstr(e.json, "\"managementEvent\":false"), "eventCategory NetworkActivity");
	event_release(&e);
	r = norm("{" BASE ",\"eventCategory\":\"Data\"}", &ctx, &e, &err);
	ok(r == 0 && e.category == EC_DATA && !e.management && strstr(e.json, "\"managementEvent\":false"),
	   "eventCategory Data given on a management call is kept");
	event_release(&e);
	r = norm("{\"eventTime\":\"2026-11-23T10:02:11Z\",\"eventSource\":\"iam.amazonaws.com\",\"eventName\":\"CreateUser\","
		 REGION ",\"managementEvent\":false}", &ctx, &e, &err);
	ok(r == 0 && e.global && !e.management && e.category == EC_MANAGEMENT, "iam is global; managementEvent given is kept");
	event_release(&e);
}

/* ---- category and readOnly ---- */

struct derive {
	const char *source, *name;
	enum event_category category;
	bool read_only;
};

static const struct derive derived[] = {
	{"s3", "GetObject", EC_DATA, true},
	{"s3", "PutObject", EC_DATA, false},
	{"s3", "CreateBucket", EC_MANAGEMENT, false},
	{"ec2", "DescribeInstances", EC_MANAGEMENT, true},
	{"signin", "ConsoleLogin", EC_MANAGEMENT, false},
	{"lambda", "Invoke", EC_DATA, false},
	{"dynamodb", "GetItem", EC_DATA, true},
	/* every S3 object-level call */
	{"s3", "AbortMultipartUpload", EC_DATA, false}, {"s3", "CompleteMultipartUpload", EC_DATA, false},
	{"s3", "DeleteObjects", EC_DATA, false}, {"s3", "DeleteObject", EC_DATA, false},
	{"s3", "GetObjectAcl", EC_DATA, true}, {"s3", "GetObjectAttributes", EC_DATA, true},
	{"s3", "GetObjectTagging", EC_DATA, true}, {"s3", "GetObjectRetention", EC_DATA, true},
	{"s3", "GetObjectLegalHold", EC_DATA, true}, {"s3", "HeadObject", EC_DATA, true},
	{"s3", "CreateMultipartUpload", EC_DATA, false}, {"s3", "ListParts", EC_DATA, true},
	{"s3", "PostObject", EC_DATA, false}, {"s3", "RestoreObject", EC_DATA, false},
	{"s3", "PutObjectAcl", EC_DATA, false}, {"s3", "PutObjectTagging", EC_DATA, false},
	{"s3", "PutObjectRetention", EC_DATA, false}, {"s3", "PutObjectLegalHold", EC_DATA, false},
	{"s3", "DeleteObjectTagging", EC_DATA, false}, {"s3", "CopyObject", EC_DATA, false},
	{"s3", "UploadPart", EC_DATA, false}, {"s3", "UploadPartCopy", EC_DATA, false},
	{"s3", "SelectObjectContent", EC_DATA, true}, {"s3", "ListObjects", EC_DATA, true},
	{"s3", "ListObjectsV2", EC_DATA, true}, {"s3", "ListObjectVersions", EC_DATA, true},
	{"s3", "HeadBucket", EC_DATA, true},
	/* S3 bucket and account calls are management events */
	{"s3", "ListBuckets", EC_MANAGEMENT, true}, {"s3", "GetBucketPolicy", EC_MANAGEMENT, true},
	{"s3", "PutBucketPolicy", EC_MANAGEMENT, false}, {"s3", "DeleteBucket", EC_MANAGEMENT, false},
	{"s3", "GetObjectLockConfiguration", EC_MANAGEMENT, true},
	/* every DynamoDB item-level call */
	{"dynamodb", "PutItem", EC_DATA, false}, {"dynamodb", "DeleteItem", EC_DATA, false},
	{"dynamodb", "UpdateItem", EC_DATA, false}, {"dynamodb", "Query", EC_DATA, true},
	{"dynamodb", "Scan", EC_DATA, true}, {"dynamodb", "BatchGetItem", EC_DATA, true},
	{"dynamodb", "BatchWriteItem", EC_DATA, false}, {"dynamodb", "TransactGetItems", EC_DATA, false},
	{"dynamodb", "TransactWriteItems", EC_DATA, false}, {"dynamodb", "ExecuteStatement", EC_DATA, false},
	{"dynamodb", "BatchExecuteStatement", EC_DATA, false}, {"dynamodb", "ExecuteTransaction", EC_DATA, false},
	{"dynamodb", "CreateTable", EC_MANAGEMENT, false}, {"dynamodb", "DescribeTable", EC_MANAGEMENT, true},
	/* Lambda: only Invoke is data */
	{"lambda", "GetFunction", EC_MANAGEMENT, true}, {"lambda", "CreateFunction", EC_MANAGEMENT, false},
	/* the data-plane names count only for their own service */
	{"states", "Invoke", EC_MANAGEMENT, false}, {"ec2", "GetObject", EC_MANAGEMENT, true},
	/* readOnly verbs, as whole words */
	{"cloudtrail", "LookupEvents", EC_MANAGEMENT, true}, {"cloudsearch", "Search", EC_MANAGEMENT, true},
	{"ec2", "ListInstances2", EC_MANAGEMENT, true}, {"x", "Getaway", EC_MANAGEMENT, false},
	{"x", "Listen", EC_MANAGEMENT, false}, {"x", "Headline", EC_MANAGEMENT, false},
	{"x", "Get", EC_MANAGEMENT, true}, {"x", "get", EC_MANAGEMENT, false},
};

static void test_derivation(void)
{
	static const char *const cat[] = {"Management", "Data", "Insight", "NetworkActivity"};
	for (size_t i = 0; i < N_OF(derived); i++) {
		const struct derive *d = &derived[i];
		char text[512];
		snprintf(text, sizeof text, "{" TIME ",\"eventSource\":\"%s.amazonaws.com\",\"eventName\":\"%s\"," REGION "}",
			 d->source, d->name);
		struct event e;
		struct ct_err err;
		int r = norm(text, &ctx, &e, &err);
		json *j = r == 0 ? reparse(&e) : NULL;
		bool mgmt = d->category == EC_MANAGEMENT;
		ok(j && e.category == d->category && e.read_only == d->read_only && e.management == mgmt &&
		   !strcmp(json_string(json_get(j, "eventCategory")), cat[d->category]) &&
		   json_bool(json_get(j, "readOnly")) == d->read_only &&
		   json_bool(json_get(j, "managementEvent")) == mgmt,
		   "%s %s: %s, %s", d->source, d->name, cat[d->category], d->read_only ? "read" : "write");
		json_free(j);
		event_release(&e);
	}
}

/* ---- S3 resources ---- */

struct s3case {
	const char *what;
	const char *members;     /* after eventTime, source s3, awsRegion */
	const char *json;        /* expected "resources":... in the output, or NULL for none */
	size_t n;
	const char *type0, *arn0, *type1, *arn1;
};

static const struct s3case s3cases[] = {
	{"object and bucket from bucketName and key",
	 "\"eventName\":\"GetObject\",\"requestParameters\":{\"bucketName\":\"b\",\"key\":\"k/x.csv\"}",
	 "\"resources\":[{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::b/k/x.csv\"},"
	 "{\"accountId\":\"111122223333\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::b\"}]",
	 2, "AWS::S3::Object", "arn:aws:s3:::b/k/x.csv", "AWS::S3::Bucket", "arn:aws:s3:::b"},
	{"the bucket's account is the record's recipientAccountId",
	 "\"eventName\":\"PutObject\",\"recipientAccountId\":\"444455556666\",\"requestParameters\":{\"bucketName\":\"b\",\"key\":\"k\"}",
	 "{\"accountId\":\"444455556666\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::b\"}]",
	 2, "AWS::S3::Object", "arn:aws:s3:::b/k", "AWS::S3::Bucket", "arn:aws:s3:::b"},
	{"only the bucket without a key",
	 "\"eventName\":\"ListObjects\",\"requestParameters\":{\"bucketName\":\"b\",\"prefix\":\"p\"}",
	 "\"resources\":[{\"accountId\":\"111122223333\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::b\"}]",
	 1, "AWS::S3::Bucket", "arn:aws:s3:::b", NULL, NULL},
	{"a key that needs escaping",
	 "\"eventName\":\"GetObject\",\"requestParameters\":{\"bucketName\":\"b\",\"key\":\"a\\\"b\\\\c \xc3\xa9\"}",
	 "{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::b/a\\\"b\\\\c \xc3\xa9\"}",
	 2, "AWS::S3::Object", "arn:aws:s3:::b/a\"b\\c \xc3\xa9", "AWS::S3::Bucket", "arn:aws:s3:::b"},
	{"resources given are kept",
	 "\"eventName\":\"GetObject\",\"requestParameters\":{\"bucketName\":\"b\",\"key\":\"k\"},\"resources\":[{\"ARN\":\"arn:aws:s3:::x/y\"}]",
	 "\"resources\":[{\"ARN\":\"arn:aws:s3:::x/y\"}]", 1, "", "arn:aws:s3:::x/y", NULL, NULL},
	{"an empty resources array given is kept",
	 "\"eventName\":\"GetObject\",\"requestParameters\":{\"bucketName\":\"b\",\"key\":\"k\"},\"resources\":[]",
	 "\"resources\":[]", 0, NULL, NULL, NULL, NULL},
	{"none for a management call",
	 "\"eventName\":\"CreateBucket\",\"requestParameters\":{\"bucketName\":\"b\"}", NULL, 0, NULL, NULL, NULL, NULL},
	{"none when the record says it is a management event",
	 "\"eventName\":\"GetObject\",\"eventCategory\":\"Management\",\"requestParameters\":{\"bucketName\":\"b\",\"key\":\"k\"}",
	 NULL, 0, NULL, NULL, NULL, NULL},
	{"none without requestParameters", "\"eventName\":\"GetObject\"", NULL, 0, NULL, NULL, NULL, NULL},
	{"none with requestParameters null", "\"eventName\":\"GetObject\",\"requestParameters\":null",
	 NULL, 0, NULL, NULL, NULL, NULL},
	{"none with an empty bucketName", "\"eventName\":\"GetObject\",\"requestParameters\":{\"bucketName\":\"\",\"key\":\"k\"}",
	 NULL, 0, NULL, NULL, NULL, NULL},
	{"none with a bucketName that is not a string",
	 "\"eventName\":\"GetObject\",\"requestParameters\":{\"bucketName\":5,\"key\":\"k\"}", NULL, 0, NULL, NULL, NULL, NULL},
};

static void test_s3_resources(void)
{
	for (size_t i = 0; i < N_OF(s3cases); i++) {
		const struct s3case *c = &s3cases[i];
		char text[1024];
		snprintf(text, sizeof text, "{" TIME ",\"eventSource\":\"s3.amazonaws.com\"," REGION ",%s}", c->members);
		struct event e;
		struct ct_err err;
		int r = norm(text, &ctx, &e, &err);
		json *j = r == 0 ? reparse(&e) : NULL;
		bool good = j && e.n_resources == c->n;
		if (good && c->json)
			good = strstr(e.json, c->json) != NULL;
		else if (good)
			good = !strstr(e.json, "\"resources\"");
		if (good && c->n >= 1)
			good = !strcmp(e.resources[0].type, c->type0) && !strcmp(e.resources[0].arn, c->arn0);
		if (good && c->n >= 2)
			good = !strcmp(e.resources[1].type, c->type1) && !strcmp(e.resources[1].arn, c->arn1);
		ok(good, "S3 resources: %s", c->what);
		if (!good)
			diag("r=%d %s", r, r ? err.message : e.json);
		json_free(j);
		event_release(&e);
	}
}

/* ---- the ingest stamp ---- */

static void test_stamp(void)
{
	struct event e;
	struct ct_err err;
	const char *stamp = "\"trailfsIngest\":{\"uid\":1000,\"userName\":\"alice\",\"program\":\"writer\"}";
	char want[256];

	int r = norm("{" BASE ",\"additionalEventData\":{\"x\":1,\"trailfsIngest\":{\"uid\":0,\"userName\":\"root\","
		     "\"program\":\"evil\"},\"y\":[2]}}", &ctx, &e, &err);
	snprintf(want, sizeof want, "\"additionalEventData\":{\"x\":1,\"y\":[2],%s}", stamp);
	ok(r == 0 && strstr(e.json, want) && count(e.json, "trailfsIngest") == 1 && !strstr(e.json, "evil"),
	   "a forged stamp is replaced; the other members stay");
	event_release(&e);

	r = norm("{" BASE ",\"additionalEventData\":{\"trailfsIngest\":\"me\",\"trailfsIngest\":\"me too\"}}", &ctx, &e, &err);
	snprintf(want, sizeof want, "\"additionalEventData\":{%s}", stamp);
	ok(r == 0 && strstr(e.json, want) && count(e.json, "trailfsIngest") == 1, "forged stamps, twice over, are replaced");
	event_release(&e);

	r = norm("{" BASE ",\"requestParameters\":{\"trailfsIngest\":1}}", &ctx, &e, &err);
	ok(r == 0 && count(e.json, "trailfsIngest") == 2 && strstr(e.json, stamp), "the name elsewhere is just data");
	event_release(&e);

	r = norm("{" BASE "}", &ctx, &e, &err);
	snprintf(want, sizeof want, "\"additionalEventData\":{%s}", stamp);
	ok(r == 0 && strstr(e.json, want), "additionalEventData is created for the stamp");
	event_release(&e);

	r = norm("{" BASE ",\"additionalEventData\":{}}", &ctx, &e, &err);
	ok(r == 0 && strstr(e.json, want), "an empty additionalEventData gets the stamp");
	event_release(&e);

	r = norm("{" BASE "}", &own, &e, &err);
	ok(r == 0 && !strstr(e.json, "trailfsIngest") && !strstr(e.json, "additionalEventData"),
	   "trailfs's own events are not stamped");
	event_release(&e);

	struct ingest_who odd = {4294967295u, "", ""};
	memcpy(odd.user, "a\"b\\c\n\x01", 8);
	memset(odd.program, 'p', sizeof odd.program);   /* no terminator */
	odd.program[3] = (char)0xff;
	struct event_ctx c = ctx;
	c.who = &odd;
	r = norm("{" BASE "}", &c, &e, &err);
	json *j = r == 0 ? reparse(&e) : NULL;
	json *st = json_get(json_get(j, "additionalEventData"), "trailfsIngest");
	const char *prog = json_string(json_get(st, "program"));
	ok(j && json_number(json_get(st, "uid")) == 4294967295.0 &&
	   !strcmp(json_string(json_get(st, "userName")), "a\"b\\c\n\x01") &&
	   prog && !strncmp(prog, "ppp\xef\xbf\xbdppp", 9) && strlen(prog) == 63 + 3,
	   "odd user and program names are escaped, cut to their fields, made UTF-8");
	json_free(j);
	event_release(&e);
}

/* ---- the size limit ---- */

/* A record whose normalised form is exactly size bytes long. */
static char *record_of_size(size_t size, const struct event_ctx *c)
{
	const char *head = "{" BASE ",\"eventID\":\"fixed\",\"requestParameters\":{\"pad\":\"";
	const char *tail = "\"}}";
	size_t pad = 100;
	for (int round = 0; round < 2; round++) {
		char *text = malloc(strlen(head) + pad + strlen(tail) + 1);
		if (!text)
			return NULL;
		strcpy(text, head);
		memset(text + strlen(head), 'x', pad);
		strcpy(text + strlen(head) + pad, tail);
		if (round == 1)
			return text;
		struct event e;
		struct ct_err err;
		if (norm(text, c, &e, &err) != 0) {
			free(text);
			return NULL;
		}
		pad += size - e.len;
		event_release(&e);
		free(text);
	}
	return NULL;
}

static void test_size_limit(void)
{
	static const long delta[] = {-1, 0, 1, 1000};
	for (size_t i = 0; i < N_OF(delta); i++) {
		size_t size = (size_t)((long)CT_EVENT_MAX + delta[i]);
		char *text = record_of_size(size, &ctx);
		struct event e;
		struct ct_err err;
		int r = text ? norm(text, &ctx, &e, &err) : -1;
		if (delta[i] <= 0)
			ok(r == 0 && e.len == size && strlen(e.json) == size, "a record of %zu bytes normalised is taken", size);
		else
			ok(r == -EINVAL && err_ok(&err, "over 262144 bytes once normalised") && !e.json,
			   "a record of %zu bytes normalised is refused", size);
		event_release(&e);

		/* And through the stream, where the line is named. */
		struct event_stream s;
		struct event *v = NULL;
		size_t n = 0;
		event_stream_init(&s);
		r = text ? event_stream_feed(&s, "\n", 1, &ctx, &v, &n, &err) : -1;
		events_free(v, n);
		r = r == 0 ? event_stream_feed(&s, text, strlen(text), &ctx, &v, &n, &err) : r;
		if (delta[i] <= 0)
			ok(r == 0 && n == 1 && v[0].len == size, "the stream takes it");
		else
			ok(r == -EINVAL && err_ok(&err, "line 2: the record is over"), "the stream refuses it on line 2");
		if (r == 0)
			events_free(v, n);
		event_stream_release(&s);
		free(text);
	}
}

/* ---- the stream ---- */

#define REC(name) "{" TIME "," SOURCE ",\"eventName\":\"" name "\"," REGION "}"
#define BADREC    "{" TIME "," SOURCE ",\"eventName\":\"Bad\",\"awsRegion\":\"mars-1\"}"

/* Feed text in one write: 0 and the events, or the error. */
static int feed(struct event_stream *s, const char *text, struct event **v, size_t *n, struct ct_err *err)
{
	return event_stream_feed(s, text, strlen(text), &ctx, v, n, err);
}

/* Everything the stream holds, for "unchanged" checks. */
struct snap {
	size_t carry_len, line, lines_in_carry, scanned;
	unsigned depth;
	bool in_string, escaped;
	char *carry;
};

static struct snap snap_of(const struct event_stream *s)
{
	struct snap sn = {s->carry.len, s->line, s->lines_in_carry, s->scanned, s->depth, s->in_string,
			  s->escaped, strdup(buf_str(&s->carry))};
	return sn;
}

static bool snap_same(struct snap a, const struct event_stream *s)
{
	struct snap b = snap_of(s);
	bool same = a.carry_len == b.carry_len && a.line == b.line && a.lines_in_carry == b.lines_in_carry &&
		    a.scanned == b.scanned && a.depth == b.depth && a.in_string == b.in_string &&
		    a.escaped == b.escaped && a.carry && b.carry && !strcmp(a.carry, b.carry);
	free(b.carry);
	return same;
}

static bool names_are(const struct event *v, size_t n, const char *const *names, size_t want)
{
	if (n != want)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, names[i]) != 0)
			return false;
	return true;
}

static void test_stream_shapes(void)
{
	struct event_stream s;
	struct event *v;
	size_t n;
	struct ct_err err;
	static const char *const abc[] = {"A", "B", "C"};

	event_stream_init(&s);
	int r = feed(&s, REC("A") "\n" REC("B") "\n" REC("C") "\n", &v, &n, &err);
	ok(r == 0 && names_are(v, n, abc, 3) && s.carry.len == 0 && s.line == 4, "JSON Lines: three records");
	events_free(v, n);
	r = feed(&s, "{\"Records\":[" REC("A") "," REC("B") "]}" REC("C"), &v, &n, &err);
	ok(r == 0 && names_are(v, n, abc, 3), "a Records document and a record after it, no white space between");
	events_free(v, n);
	r = feed(&s, "{\"Records\":[]}\n \t\r\n", &v, &n, &err);
	ok(r == 0 && n == 0 && s.carry.len == 0 && s.line == 6, "an empty Records document gives nothing");
	events_free(v, n);
	r = feed(&s, "{\"Records\":[" REC("A") "],\"x\":1}\n", &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 6: eventTime is missing"),
	   "a Records member with others beside it is a record (and not a good one)");
	r = feed(&s, "{\"Records\":{}}\n", &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 6: \"Records\" must be an array of records, not an object"),
	   "Records must be an array");
	r = feed(&s, "{\"Records\":[" REC("A") ",7]}\n", &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 6: Records[1]: a record must be a JSON object, not a number"),
	   "each element of Records must be an object");
	event_stream_release(&s);

	/* A pretty-printed document over many lines; errors name the line
	 * where the failing record begins, counted over the whole stream. */
	const char *pretty =
		"{\n"                                            /* 1 */
		"  \"Records\": [\n"                             /* 2 */
		"    {\n"                                        /* 3 */
		"      \"eventTime\": \"2026-11-23T10:02:11Z\",\n"
		"      \"eventSource\": \"ec2.amazonaws.com\",\n"
		"      \"eventName\": \"A\",\n"
		"      \"awsRegion\": \"us-east-1\"\n"
		"    },\n"                                       /* 8 */
		"    {\"eventTime\": \"2026-11-23T10:02:11Z\", \"eventSource\": \"ec2.amazonaws.com\",\n"
		"     \"eventName\": \"B\", \"awsRegion\": \"eu-west-1\"}\n"
		"  ]\n"
		"}\n";                                           /* 12 */
	event_stream_init(&s);
	r = feed(&s, pretty, &v, &n, &err);
	ok(r == 0 && names_are(v, n, abc, 2) && !strcmp(v[1].region, "eu-west-1") && s.line == 13,
	   "a pretty-printed Records document over 12 lines");
	events_free(v, n);
	r = feed(&s, "\n" REC("C") "\n" BADREC "\n", &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 15: awsRegion \"mars-1\" is not a configured region (like us-east-1)"),
	   "the line of a bad record after it is counted over the stream: %s", err.message);
	event_stream_release(&s);

	char *bad_pretty = strdup(pretty);
	char *second = strstr(bad_pretty, "eu-west-1");
	memcpy(second, "eu-west-9", 9);
	event_stream_init(&s);
	r = feed(&s, "\n\n", &v, &n, &err);
	events_free(v, n);
	r = feed(&s, bad_pretty, &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 11: Records[1]: awsRegion \"eu-west-9\""),
	   "a bad element names its own line and index: %s", err.message);
	char *first = strstr(bad_pretty, "us-east-1");
	memcpy(first, "us-east-9", 9);
	r = feed(&s, bad_pretty, &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 5: Records[0]: awsRegion"), "the first element too: %s", err.message);
	event_stream_release(&s);
	free(bad_pretty);

	/* Values that are not objects, and JSON that is not JSON. */
	static const struct bad not_records[] = {
		{"[" REC("A") "]\n", "line 1: each record must be a JSON object {...} (or {\"Records\":[...]} holding some), not an array"},
		{"\n\n  42\n", "line 3: each record must be a JSON object"},
		{"\"str\"", "not a string"},
		{"null", "not null"},
		{"true", "not true or false"},
		{"}", "not a stray '}'"},
		{REC("A") "]", "line 1: each record must be a JSON object {...} (or {\"Records\":[...]} holding some), not a stray ']'"},
		{"\xef\xbb\xbf" REC("A"), "not the byte 0xef"},
		{"x", "not 'x'"},
		{"{\"a\":}\n", "line 1: the record is not valid JSON: syntax error at line 1, column 6"},
		{"\n{\"a\":\n\n  tru}\n", "line 2: the record is not valid JSON: syntax error at line 4, column 3"},
		{"{\"a\":\"x\\u0000\"}", "the record is not valid JSON: it has \\u0000 in a string"},
		{"{\"a\":1]", "not valid JSON"},
	};
	char name[128];
	for (size_t i = 0; i < N_OF(not_records); i++) {
		event_stream_init(&s);
		r = feed(&s, not_records[i].record, &v, &n, &err);
		ok(r == -EINVAL && err_ok(&err, not_records[i].want) && s.carry.len == 0 && s.line == 1,
		   "refused in the stream: %s", show(name, sizeof name, not_records[i].record));
		if (r != -EINVAL || !err_ok(&err, not_records[i].want))
			diag("got %d: %s", r, err.message);
		event_stream_release(&s);
	}
}

/* Feeding text in pieces gives what feeding it whole gives. */
static bool pieces_match(const char *text, const size_t *cuts, size_t n_cuts, const struct event *whole,
			 size_t n_whole)
{
	struct event_stream s;
	struct ct_err err;
	size_t got = 0, at = 0;
	bool same = true;
	event_stream_init(&s);
	for (size_t k = 0; k <= n_cuts && same; k++) {
		size_t end = k < n_cuts ? cuts[k] : strlen(text);
		struct event *v;
		size_t n;
		if (event_stream_feed(&s, text + at, end - at, &own, &v, &n, &err) != 0) {
			same = false;
			break;
		}
		for (size_t i = 0; i < n; i++, got++)
			if (got >= n_whole || strcmp(v[i].json, whole[got].json) != 0)
				same = false;
		events_free(v, n);
		at = end;
	}
	same = same && got == n_whole && event_stream_finish(&s, &err) == 0;
	event_stream_release(&s);
	return same;
}

static void test_stream_pieces(void)
{
	/* Strings with escapes, brackets and a raw newline in them, so that a
	 * cut can fall anywhere: before and after a backslash, inside \u. */
	const char *text =
		"{" BASE ",\"eventID\":\"1\",\"s\":\"a\\\"}]{[\\\\\",\"t\":\"\\u00e9\\n\\\\\\\"\"}\n"
		"  {\"Records\":[{" BASE ",\"eventID\":\"2\",\"k\":{\"x\":[1,{\"y\":\"}\"}]}}," "\n"
		"{" BASE ",\"eventID\":\"3\",\"raw\":\"line\nbreak\"}]}\n";
	struct event_stream s;
	struct event *whole;
	size_t n_whole;
	struct ct_err err;
	event_stream_init(&s);
	int r = event_stream_feed(&s, text, strlen(text), &own, &whole, &n_whole, &err);
	ok(r == 0 && n_whole == 3 && !strcmp(whole[2].id, "3") && s.line == 5, "the reference text in one write");
	event_stream_release(&s);
	if (r != 0)
		return;

	size_t len = strlen(text);
	bool all = true;
	for (size_t cut = 1; cut < len && all; cut++) {
		size_t cuts[] = {cut};
		all = pieces_match(text, cuts, 1, whole, n_whole);
		if (!all)
			diag("split at %zu fails", cut);
	}
	ok(all, "split in two at every one of %zu places", len - 1);

	all = true;
	for (size_t a = 1; a < len && all; a += 7)
		for (size_t b = a + 1; b < len && all; b += 5) {
			size_t cuts[] = {a, b};
			all = pieces_match(text, cuts, 2, whole, n_whole);
		}
	ok(all, "split in three at many places");

	size_t *cuts = malloc(len * sizeof *cuts);
	for (size_t step = 1; step <= 3; step++) {
		size_t k = 0;
		for (size_t c = step; c < len; c += step)
			cuts[k++] = c;
		ok(pieces_match(text, cuts, k, whole, n_whole), "fed %zu byte%s at a time", step, step > 1 ? "s" : "");
	}
	free(cuts);

	/* Line numbers survive byte-at-a-time feeding. */
	event_stream_init(&s);
	bool fed = true;
	for (size_t i = 0; i < len && fed; i++) {
		struct event *v;
		size_t n;
		fed = event_stream_feed(&s, text + i, 1, &own, &v, &n, &err) == 0;
		events_free(v, n);
	}
	struct event *v;
	size_t n;
	r = feed(&s, "\n" BADREC, &v, &n, &err);
	ok(fed && r == -EINVAL && err_ok(&err, "line 6: awsRegion"), "lines counted across one-byte writes: %s", err.message);
	event_stream_release(&s);
	events_free(whole, n_whole);
}

static void test_stream_all_or_nothing(void)
{
	struct event_stream s;
	struct event *v = (struct event *)&s;
	size_t n = 99;
	struct ct_err err;
	static const char *const names[] = {"A", "B", "C"};

	event_stream_init(&s);
	struct snap before = snap_of(&s);
	int r = feed(&s, REC("A") "\n" BADREC "\n" REC("C"), &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 2: awsRegion \"mars-1\""), "the second of two records is bad: line 2");
	ok(v == NULL && n == 0, "nothing is returned");
	ok(snap_same(before, &s), "the stream is as it was");
	free(before.carry);
	r = feed(&s, REC("A") "\n" REC("B") "\n{" TIME, &v, &n, &err);
	ok(r == 0 && names_are(v, n, names, 2) && s.carry.len > 0 && s.line == 3,
	   "a following good write works (the third record is still open)");
	events_free(v, n);
	r = feed(&s, "," SOURCE ",\"eventName\":\"C\"," REGION "}\n", &v, &n, &err);
	ok(r == 0 && names_are(v, n, names + 2, 1) && s.carry.len == 0 && s.line == 4, "and a newline closes it");
	events_free(v, n);
	event_stream_release(&s);

	/* A record open across writes: a failing write leaves the carry and the
	 * scanner state (here inside a string, after a backslash) alone. */
	event_stream_init(&s);
	r = feed(&s, "\n{" BASE ",\"eventName2\":\"x\n\\", &v, &n, &err);
	ok(r == 0 && n == 0 && s.in_string && s.escaped && s.depth == 1 && s.line == 2 && s.lines_in_carry == 1,
	   "an open record ends inside a string after a backslash");
	events_free(v, n);
	before = snap_of(&s);
	r = feed(&s, "\"\"}\n" REC("B") "\n\n" BADREC "\n", &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 6: awsRegion"), "a write that completes it and then fails: line 6");
	ok(snap_same(before, &s), "the open record is kept as it was");
	free(before.carry);
	r = feed(&s, "\"\"}\n" REC("B") "\n", &v, &n, &err);
	ok(r == 0 && n == 2 && !strcmp(v[1].name, "B") && strstr(v[0].json, "\"eventName2\":\"x\\n\\\"\""),
	   "completing it afterwards works, the escape intact");
	events_free(v, n);
	r = feed(&s, "[", &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 5: each record must be a JSON object"), "and the lines still add up");
	event_stream_release(&s);

	/* A failing write whose earlier records completed a carried one: the
	 * carry must survive even though the good part consumed it. */
	event_stream_init(&s);
	feed(&s, "{" BASE, &v, &n, &err);
	events_free(v, n);
	r = feed(&s, "}\n{" BASE ",\"x\":\"", &v, &n, &err);
	ok(r == 0 && n == 1 && s.line == 2 && s.in_string, "a carried record ends and a new one opens in one write");
	events_free(v, n);
	before = snap_of(&s);
	r = feed(&s, "\"}" BADREC, &v, &n, &err);
	ok(r == -EINVAL && err_ok(&err, "line 2: awsRegion") && snap_same(before, &s), "fails cleanly again");
	free(before.carry);
	event_stream_release(&s);
}

static void test_stream_finish(void)
{
	struct event_stream s;
	struct event *v;
	size_t n;
	struct ct_err err;

	event_stream_init(&s);
	ok(event_stream_finish(&s, &err) == 0, "finish on a fresh stream");
	feed(&s, " \n\t\r\n  ", &v, &n, &err);
	events_free(v, n);
	ok(event_stream_finish(&s, &err) == 0 && s.carry.len == 0, "finish after white space only");
	feed(&s, REC("A") "\n\n{" TIME ",\n\"eventSource\":{\"a\":[", &v, &n, &err);
	events_free(v, n);
	int r = event_stream_finish(&s, &err);
	ok(r == -EINVAL && err_ok(&err, "line 5: the record that begins here is unfinished at close: 3 closing brackets"),
	   "finish with a record pending names the line it began on: %s", err.message);
	event_stream_release(&s);

	event_stream_init(&s);
	feed(&s, "{\"a\":\"b", &v, &n, &err);
	events_free(v, n);
	r = event_stream_finish(&s, &err);
	ok(r == -EINVAL && err_ok(&err, "line 1: the record that begins here is unfinished at close: it ends inside a string"),
	   "finish inside a string says so");
	event_stream_release(&s);

	/* The carry has a cap: an unfinished value past it is refused, and the
	 * stream keeps what it had. */
	event_stream_init(&s);
	size_t chunk = 1024 * 1024;
	char *big = malloc(chunk);
	memset(big, 'x', chunk);
	feed(&s, "\n{\"a\":\"", &v, &n, &err);
	bool fed = true;
	for (size_t i = 0; i < CT_EVENT_STREAM_MAX / chunk - 1 && fed; i++) {
		fed = event_stream_feed(&s, big, chunk, &ctx, &v, &n, &err) == 0 && n == 0;
		events_free(v, n);
	}
	struct snap before = snap_of(&s);
	r = event_stream_feed(&s, big, chunk, &ctx, &v, &n, &err);
	ok(fed && r == -EINVAL && err_ok(&err, "line 2: the record that begins here is still unfinished after 64 MB"),
	   "an unfinished record past CT_EVENT_STREAM_MAX is refused");
	ok(snap_same(before, &s), "and the stream keeps what it had");
	free(before.carry);
	r = event_stream_feed(&s, big, chunk - 7, &ctx, &v, &n, &err);
	ok(r == 0 && s.carry.len == CT_EVENT_STREAM_MAX - 1, "up to the cap is taken");
	events_free(v, n);
	free(big);
	event_stream_release(&s);
}

static void test_global(void)
{
	static const struct {
		const char *source;
		bool global;
	} v[] = {
		{"iam.amazonaws.com", true}, {"sts.amazonaws.com", true}, {"cloudfront.amazonaws.com", true},
		{"route53.amazonaws.com", true}, {"waf.amazonaws.com", true},
		{"s3.amazonaws.com", false}, {"ec2.amazonaws.com", false}, {"signin.amazonaws.com", false},
		{"wafv2.amazonaws.com", false}, {"iam", false}, {"iam.amazonaws.com.evil", false},
		{"IAM.amazonaws.com", false}, {"", false}, {NULL, false},
	};
	for (size_t i = 0; i < N_OF(v); i++)
		ok(event_source_global(v[i].source) == v[i].global, "event_source_global(%s) is %s",
		   v[i].source ? v[i].source : "NULL", v[i].global ? "true" : "false");
}

int main(void)
{
	test_bad_records();
	test_fill_ins();
	test_derivation();
	test_s3_resources();
	test_stamp();
	test_size_limit();
	test_stream_shapes();
	test_stream_pieces();
	test_stream_all_or_nothing();
	test_stream_finish();
	test_global();
	return tap_done();
}
