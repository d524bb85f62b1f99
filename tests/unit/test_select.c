/* Unit tests for backend/select.c: which trails take which records.
 *
 * One table of (trail, record, expected) rows, each row named, walks every
 * rule of select.h in turn: logging, region, global service events, record
 * categories, management read/write types and exclusions, and data resources
 * by type, value prefix and read/write type.  An exhaustive cross of the
 * routing gates (logging x multi-region x global events x home region x
 * record region x global record) follows, checked against the rule as
 * select.h states it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"
#include "tap.h"
#include "trail.h"

#define S3      "AWS::S3::Object"
#define BUCKET  "AWS::S3::Bucket"
#define LAMBDA  "AWS::Lambda::Function"
#define DYNAMO  "AWS::DynamoDB::Table"

#define HOME    "eu-west-1"
#define OTHER   "ap-south-1"
#define GLOBAL_REGION "us-east-1"

#define FN_ARN  "arn:aws:lambda:eu-west-1:123456789012:function:resize"
#define TBL_ARN "arn:aws:dynamodb:eu-west-1:123456789012:table/orders"

/* ---- what a row is made of ------------------------------------------------ */

struct dres {
	const char *type;
	const char *value;
	enum rw_type rw;
};

/* Zero members mean a default trail's settings, so that a row names only
 * what it changes: logging, home-region only, global events on, all
 * management events, no exclusions, no data resources. */
struct tspec {
	bool off;                 /* not logging */
	bool multi;
	bool no_global;           /* IncludeGlobalServiceEvents false */
	const char *home;         /* NULL: HOME */
	const char *mgmt;         /* AWS spelling; NULL: "All" */
	bool exclude_kms;
	bool exclude_rdsdata;
	const struct dres *res;   /* ends with a NULL type */
};

/* Zero members: a management write record from EC2 in HOME. */
struct espec {
	const char *region;       /* NULL: HOME */
	const char *source;       /* NULL: ec2.amazonaws.com */
	enum event_category category;
	bool read_only;
	bool global;
	struct event_resource *res;   /* ends with a NULL type */
};

struct row {
	const char *name;
	const struct tspec *t;
	const struct espec *e;
	bool want;
};

/* ---- trails ----------------------------------------------------------------- */

#define TRAIL(...) (&(const struct tspec){ __VA_ARGS__ })
#define RES(...) ((const struct dres[]){ __VA_ARGS__, { NULL, NULL, RW_NONE } })

#define T_DEFAULT TRAIL(.multi = false)
#define T_OFF TRAIL(.off = true)
#define T_OFF_MULTI TRAIL(.off = true, .multi = true)
#define T_MULTI TRAIL(.multi = true)
#define T_NOGLOBAL TRAIL(.no_global = true)
#define T_MULTI_NOGLOBAL TRAIL(.multi = true, .no_global = true)
#define T_USE1 TRAIL(.home = "us-east-1")
#define T_USE1_NOGLOBAL TRAIL(.home = "us-east-1", .no_global = true)

#define T_MGMT_RO TRAIL(.mgmt = "ReadOnly")
#define T_MGMT_WO TRAIL(.mgmt = "WriteOnly")
#define T_MGMT_NONE TRAIL(.mgmt = "None")
#define T_X_KMS TRAIL(.exclude_kms = true)
#define T_X_RDS TRAIL(.exclude_rdsdata = true)
#define T_X_BOTH TRAIL(.exclude_kms = true, .exclude_rdsdata = true)
#define T_X_KMS_RO TRAIL(.mgmt = "ReadOnly", .exclude_kms = true)

/* Data selectors (management events off, so only the data rule speaks). */
#define T_S3_ALL TRAIL(.mgmt = "None", .res = RES({ S3, "arn:aws:s3", RW_ALL }))
#define T_S3_BUCKET TRAIL(.mgmt = "None", \
	.res = RES({ S3, "arn:aws:s3:::logs/", RW_ALL }))
#define T_S3_PREFIX TRAIL(.mgmt = "None", \
	.res = RES({ S3, "arn:aws:s3:::logs/2024/", RW_ALL }))
#define T_S3_RO TRAIL(.mgmt = "None", .res = RES({ S3, "arn:aws:s3:::logs/", RW_READ }))
#define T_S3_WO TRAIL(.mgmt = "None", .res = RES({ S3, "arn:aws:s3:::logs/", RW_WRITE }))
#define T_S3_SPLIT TRAIL(.mgmt = "None", \
	.res = RES({ S3, "arn:aws:s3:::logs/", RW_READ }, { S3, "arn:aws:s3:::data/", RW_WRITE }))
#define T_S3_TWO TRAIL(.mgmt = "None", \
	.res = RES({ S3, "arn:aws:s3:::alpha/", RW_ALL }, { S3, "arn:aws:s3:::logs/2024/", RW_ALL }))
#define T_LAMBDA_ALL TRAIL(.mgmt = "None", .res = RES({ LAMBDA, "arn:aws:lambda", RW_ALL }))
#define T_LAMBDA_FN TRAIL(.mgmt = "None", .res = RES({ LAMBDA, FN_ARN, RW_ALL }))
#define T_DYNAMO_ALL TRAIL(.mgmt = "None", \
	.res = RES({ DYNAMO, "arn:aws:dynamodb", RW_ALL }))
#define T_DYNAMO_TBL TRAIL(.mgmt = "None", .res = RES({ DYNAMO, TBL_ARN, RW_ALL }))
/* Management and data together, in the shapes a person would use. */
#define T_MIXED TRAIL(.mgmt = "WriteOnly", .exclude_kms = true, \
	.res = RES({ S3, "arn:aws:s3:::logs/", RW_READ }, { LAMBDA, "arn:aws:lambda", RW_ALL }))
#define T_S3_MULTI_NOGLOBAL TRAIL(.multi = true, .no_global = true, \
	.mgmt = "None", .res = RES({ S3, "arn:aws:s3", RW_ALL }))
#define T_S3_OFF TRAIL(.off = true, .mgmt = "None", \
	.res = RES({ S3, "arn:aws:s3", RW_ALL }))

/* ---- records -------------------------------------------------------------- */

#define RECORD(...) (&(const struct espec){ __VA_ARGS__ })
#define RRES(...) ((struct event_resource[]){ __VA_ARGS__, { NULL, NULL } })

#define OBJ(arn) { S3, "arn:aws:s3:::" arn }

/* Management, read and write, at home, elsewhere and from global services. */
#define M_READ RECORD(.read_only = true)
#define M_WRITE RECORD(.read_only = false)
#define M_OTHER RECORD(.region = OTHER)
#define M_USE1 RECORD(.region = GLOBAL_REGION)
#define M_IAM RECORD(.region = GLOBAL_REGION, .source = "iam.amazonaws.com", .global = true)
#define M_STS_READ RECORD(.region = GLOBAL_REGION, .source = "sts.amazonaws.com", \
	.global = true, .read_only = true)
#define M_KMS_READ RECORD(.source = "kms.amazonaws.com", .read_only = true)
#define M_KMS_WRITE RECORD(.source = "kms.amazonaws.com")
#define M_RDS RECORD(.source = "rdsdata.amazonaws.com")
/* Near misses of the excluded names are not excluded. */
#define M_KMS_LIKE RECORD(.source = "kms.amazonaws.com.evil")
#define M_RDS_LIKE RECORD(.source = "rds.amazonaws.com")

#define I_INSIGHT RECORD(.category = EC_INSIGHT)
#define I_NETWORK RECORD(.category = EC_NETWORK, \
	.res = RRES(OBJ("logs/2024/a.txt")))

/* S3 data records. */
#define D_GET RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, .read_only = true, \
	.res = RRES(OBJ("logs/2024/a.txt"), { BUCKET, "arn:aws:s3:::logs" }))
#define D_PUT RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.res = RRES(OBJ("logs/2024/a.txt"), { BUCKET, "arn:aws:s3:::logs" }))
#define D_GET_OTHER RECORD(.region = OTHER, .source = "s3.amazonaws.com", \
	.category = EC_DATA, .read_only = true, .res = RRES(OBJ("logs/2024/a.txt")))
#define D_GET_OLD RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.read_only = true, .res = RRES(OBJ("logs/2023/a.txt")))
#define D_GET_LOGS2 RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.read_only = true, .res = RRES(OBJ("logs2/2024/a.txt")))
#define D_PUT_DATA RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.res = RRES(OBJ("data/x")))
#define D_GET_DATA RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.read_only = true, .res = RRES(OBJ("data/x")))
#define D_NO_RES RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.read_only = true)
#define D_UNTYPED RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.read_only = true, .res = RRES({ "", "arn:aws:s3:::logs/2024/a.txt" }))
#define D_BUCKET_ONLY RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.read_only = true, .res = RRES({ BUCKET, "arn:aws:s3:::logs" }))
/* Several resources, only the second one selected by T_S3_PREFIX / T_S3_TWO. */
#define D_SECOND RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.res = RRES(OBJ("other/key"), OBJ("logs/2024/b.txt")))
#define D_NEITHER RECORD(.source = "s3.amazonaws.com", .category = EC_DATA, \
	.res = RRES(OBJ("other/key"), OBJ("logs/2023/b.txt")))
/* Lambda and DynamoDB data records. */
#define D_INVOKE RECORD(.source = "lambda.amazonaws.com", .category = EC_DATA, \
	.res = RRES({ LAMBDA, FN_ARN }))
#define D_INVOKE_OTHER_FN RECORD(.source = "lambda.amazonaws.com", .category = EC_DATA, \
	.res = RRES({ LAMBDA, "arn:aws:lambda:eu-west-1:123456789012:function:thumbnail" }))
#define D_GETITEM RECORD(.source = "dynamodb.amazonaws.com", .category = EC_DATA, \
	.read_only = true, .res = RRES({ DYNAMO, TBL_ARN }))
#define D_PUTITEM_OTHER_TBL RECORD(.source = "dynamodb.amazonaws.com", \
	.category = EC_DATA, .res = RRES({ DYNAMO, "arn:aws:dynamodb:eu-west-1:123456789012:table/users" }))
/* A record whose resource ARN a selector value covers, but of another type. */
#define D_S3_ARN_AS_LAMBDA RECORD(.source = "lambda.amazonaws.com", \
	.category = EC_DATA, .res = RRES({ LAMBDA, "arn:aws:s3:::logs/2024/a.txt" }))
#define D_S3_GLOBAL RECORD(.region = GLOBAL_REGION, .source = "cloudfront.amazonaws.com", \
	.category = EC_DATA, .global = true, .read_only = true, .res = RRES(OBJ("logs/x")))

/* ---- the table ---------------------------------------------------------------- */

static const struct row rows[] = {
	/* logging */
	{ "logging off takes no management record", T_OFF, M_WRITE, false },
	{ "logging off, multi-region, takes nothing elsewhere either", T_OFF_MULTI, M_OTHER, false },
	{ "logging off takes no data record a selector covers", T_S3_OFF, D_GET, false },
	{ "logging on takes a management record", T_DEFAULT, M_WRITE, true },

	/* region */
	{ "home-only trail, record in its home region", T_DEFAULT, M_READ, true },
	{ "home-only trail, record in another region", T_DEFAULT, M_OTHER, false },
	{ "home-only trail, non-global record in us-east-1", T_DEFAULT, M_USE1, false },
	{ "multi-region trail, record in its home region", T_MULTI, M_READ, true },
	{ "multi-region trail, record in another region", T_MULTI, M_OTHER, true },
	{ "home-only trail, data record in another region", T_S3_BUCKET, D_GET_OTHER, false },

	/* global service events */
	{ "multi-region, global events on: IAM record", T_MULTI, M_IAM, true },
	{ "multi-region, global events off: IAM record", T_MULTI_NOGLOBAL, M_IAM, false },
	{ "multi-region, global events off: non-global us-east-1 record", T_MULTI_NOGLOBAL, M_USE1, true },
	{ "us-east-1 home-only, global events on: IAM record", T_USE1, M_IAM, true },
	{ "us-east-1 home-only, global events on: STS read record", T_USE1, M_STS_READ, true },
	{ "us-east-1 home-only, global events off: IAM record", T_USE1_NOGLOBAL, M_IAM, false },
	{ "us-east-1 home-only, global events off: its own records", T_USE1_NOGLOBAL, M_USE1, true },
	{ "eu-west-1 home-only, global events on: never an IAM record", T_DEFAULT, M_IAM, false },
	{ "eu-west-1 home-only, global events on: never an STS record", T_DEFAULT, M_STS_READ, false },
	{ "eu-west-1 home-only, global events off: IAM record", T_NOGLOBAL, M_IAM, false },
	{ "multi-region, global events off: global data record", T_S3_MULTI_NOGLOBAL, D_S3_GLOBAL, false },

	/* categories without selectors */
	{ "Insight record, default trail", T_DEFAULT, I_INSIGHT, false },
	{ "Insight record, multi-region trail", T_MULTI, I_INSIGHT, false },
	{ "network-activity record, trail with arn:aws:s3", T_S3_ALL, I_NETWORK, false },
	{ "network-activity record, default trail", T_DEFAULT, I_NETWORK, false },

	/* management read/write types */
	{ "mgmt All, read record", T_DEFAULT, M_READ, true },
	{ "mgmt All, write record", T_DEFAULT, M_WRITE, true },
	{ "mgmt ReadOnly, read record", T_MGMT_RO, M_READ, true },
	{ "mgmt ReadOnly, write record", T_MGMT_RO, M_WRITE, false },
	{ "mgmt WriteOnly, read record", T_MGMT_WO, M_READ, false },
	{ "mgmt WriteOnly, write record", T_MGMT_WO, M_WRITE, true },
	{ "mgmt None, read record", T_MGMT_NONE, M_READ, false },
	{ "mgmt None, write record", T_MGMT_NONE, M_WRITE, false },
	{ "mgmt None (data-only trail), management record", T_S3_ALL, M_WRITE, false },

	/* exclusions */
	{ "no exclusion: kms record", T_DEFAULT, M_KMS_WRITE, true },
	{ "no exclusion: rdsdata record", T_DEFAULT, M_RDS, true },
	{ "exclude kms: kms write record", T_X_KMS, M_KMS_WRITE, false },
	{ "exclude kms: kms read record", T_X_KMS, M_KMS_READ, false },
	{ "exclude kms: rdsdata record kept", T_X_KMS, M_RDS, true },
	{ "exclude kms: other record kept", T_X_KMS, M_WRITE, true },
	{ "exclude kms: kms.amazonaws.com.evil kept", T_X_KMS, M_KMS_LIKE, true },
	{ "exclude rdsdata: rdsdata record", T_X_RDS, M_RDS, false },
	{ "exclude rdsdata: kms record kept", T_X_RDS, M_KMS_WRITE, true },
	{ "exclude rdsdata: rds.amazonaws.com kept", T_X_RDS, M_RDS_LIKE, true },
	{ "exclude both: kms record", T_X_BOTH, M_KMS_READ, false },
	{ "exclude both: rdsdata record", T_X_BOTH, M_RDS, false },
	{ "exclude both: other record kept", T_X_BOTH, M_READ, true },
	{ "ReadOnly + exclude kms: kms read record", T_X_KMS_RO, M_KMS_READ, false },
	{ "ReadOnly + exclude kms: other write record", T_X_KMS_RO, M_WRITE, false },
	{ "ReadOnly + exclude kms: other read record", T_X_KMS_RO, M_READ, true },

	/* data records need a data resource */
	{ "default trail (no data resources), S3 read", T_DEFAULT, D_GET, false },
	{ "default trail (no data resources), S3 write", T_DEFAULT, D_PUT, false },
	{ "default trail, Lambda invoke", T_DEFAULT, D_INVOKE, false },

	/* S3 values */
	{ "arn:aws:s3 takes an object in any bucket", T_S3_ALL, D_GET_LOGS2, true },
	{ "arn:aws:s3 takes a write", T_S3_ALL, D_PUT_DATA, true },
	{ "arn:aws:s3 takes a data record in another region (multi-region)", T_S3_MULTI_NOGLOBAL, D_GET_OTHER, true },
	{ "bucket/ takes an object in that bucket", T_S3_BUCKET, D_GET, true },
	{ "bucket/ takes another key in that bucket", T_S3_BUCKET, D_GET_OLD, true },
	{ "arn:aws:s3:::logs/ does not take bucket logs2", T_S3_BUCKET, D_GET_LOGS2, false },
	{ "bucket/ does not take another bucket", T_S3_BUCKET, D_GET_DATA, false },
	{ "bucket/prefix takes a key under the prefix", T_S3_PREFIX, D_GET, true },
	{ "bucket/prefix does not take a key outside it", T_S3_PREFIX, D_GET_OLD, false },
	{ "bucket/prefix does not take bucket logs2", T_S3_PREFIX, D_GET_LOGS2, false },
	{ "data record matching no resource", T_S3_TWO, D_GET_DATA, false },
	{ "data record without resources", T_S3_ALL, D_NO_RES, false },
	{ "resource without a type matches nothing", T_S3_ALL, D_UNTYPED, false },
	{ "bucket resource alone is not an object", T_S3_ALL, D_BUCKET_ONLY, false },

	/* S3 read/write types */
	{ "S3 All, read record", T_S3_BUCKET, D_GET, true },
	{ "S3 All, write record", T_S3_BUCKET, D_PUT, true },
	{ "S3 ReadOnly, read record", T_S3_RO, D_GET, true },
	{ "S3 ReadOnly, write record", T_S3_RO, D_PUT, false },
	{ "S3 WriteOnly, read record", T_S3_WO, D_GET, false },
	{ "S3 WriteOnly, write record", T_S3_WO, D_PUT, true },
	{ "read-only value for logs/, write record in logs/", T_S3_SPLIT, D_PUT, false },
	{ "write-only value for data/, write record in data/", T_S3_SPLIT, D_PUT_DATA, true },
	{ "write-only value for data/, read record in data/", T_S3_SPLIT, D_GET_DATA, false },

	/* several resources */
	{ "several resources, only the second matches (prefix)", T_S3_PREFIX, D_SECOND, true },
	{ "several resources, only the second matches (second value)", T_S3_TWO, D_SECOND, true },
	{ "several resources, none matches", T_S3_PREFIX, D_NEITHER, false },

	/* Lambda and DynamoDB */
	{ "arn:aws:lambda takes an invoke", T_LAMBDA_ALL, D_INVOKE, true },
	{ "arn:aws:lambda takes another function", T_LAMBDA_ALL, D_INVOKE_OTHER_FN, true },
	{ "function ARN takes its function", T_LAMBDA_FN, D_INVOKE, true },
	{ "function ARN does not take another function", T_LAMBDA_FN, D_INVOKE_OTHER_FN, false },
	{ "arn:aws:lambda does not take an S3 object", T_LAMBDA_ALL, D_GET, false },
	{ "arn:aws:lambda does not take a DynamoDB item", T_LAMBDA_ALL, D_GETITEM, false },
	{ "arn:aws:dynamodb takes a GetItem", T_DYNAMO_ALL, D_GETITEM, true },
	{ "arn:aws:dynamodb takes another table", T_DYNAMO_ALL, D_PUTITEM_OTHER_TBL, true },
	{ "table ARN takes its table", T_DYNAMO_TBL, D_GETITEM, true },
	{ "table ARN does not take another table", T_DYNAMO_TBL, D_PUTITEM_OTHER_TBL, false },
	{ "arn:aws:dynamodb does not take a Lambda invoke", T_DYNAMO_ALL, D_INVOKE, false },
	{ "arn:aws:s3 does not take a Lambda invoke", T_S3_ALL, D_INVOKE, false },
	{ "arn:aws:s3 does not take a DynamoDB item", T_S3_ALL, D_GETITEM, false },
	{ "S3 value covering the ARN, resource typed Lambda", T_S3_ALL, D_S3_ARN_AS_LAMBDA, false },

	/* management and data together */
	{ "mixed: write management record", T_MIXED, M_WRITE, true },
	{ "mixed: read management record", T_MIXED, M_READ, false },
	{ "mixed: kms write record excluded", T_MIXED, M_KMS_WRITE, false },
	{ "mixed: S3 read in logs/", T_MIXED, D_GET, true },
	{ "mixed: S3 write in logs/", T_MIXED, D_PUT, false },
	{ "mixed: Lambda invoke", T_MIXED, D_INVOKE, true },
	{ "mixed: DynamoDB item", T_MIXED, D_GETITEM, false },
};

/* ---- building the structs --------------------------------------------------- */

static bool make_trail(struct trail *t, const struct tspec *s)
{
	trail_init(t);
	snprintf(t->name, sizeof t->name, "test-trail");
	snprintf(t->home_region, sizeof t->home_region, "%s", s->home ? s->home : HOME);
	snprintf(t->account, sizeof t->account, "123456789012");
	snprintf(t->bucket, sizeof t->bucket, "trail-bucket");
	t->logging = !s->off;
	t->multi_region = s->multi;
	t->global_events = !s->no_global;
	if (rw_type_parse(s->mgmt ? s->mgmt : "All", true, &t->sel.mgmt) < 0)
		return false;
	t->sel.exclude_kms = s->exclude_kms;
	t->sel.exclude_rdsdata = s->exclude_rdsdata;
	for (const struct dres *r = s->res; r && r->type; r++)
		if (selectors_add_resource(&t->sel, r->type, r->value, r->rw) < 0)
			return false;
	return true;
}

/* The record as event_normalize would leave it; json stays NULL, which
 * select_matches must not need. */
static void make_event(struct event *e, const struct espec *s)
{
	memset(e, 0, sizeof *e);
	snprintf(e->region, sizeof e->region, "%s", s->region ? s->region : HOME);
	snprintf(e->source, sizeof e->source, "%s", s->source ? s->source : "ec2.amazonaws.com");
	snprintf(e->name, sizeof e->name, "%s", s->read_only ? "GetThing" : "PutThing");
	snprintf(e->id, sizeof e->id, "00000000-0000-4000-8000-000000000000");
	e->time = 1700000000;
	e->category = s->category;
	e->management = s->category == EC_MANAGEMENT;
	e->read_only = s->read_only;
	e->global = s->global;
	e->resources = s->res;
	for (const struct event_resource *r = s->res; r && r->type; r++)
		e->n_resources++;
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct trail t;
		struct event e;
		bool built = make_trail(&t, rows[i].t);
		make_event(&e, rows[i].e);
		bool got = built && select_matches(&t, &e);
		ok(built && got == rows[i].want, "%s: %s", rows[i].name, rows[i].want ? "taken" : "not taken");
		trail_release(&t);
	}
}

/* Every combination of the routing gates, for a management write record
 * that a default trail's selectors take.  The oracle is select.h's text:
 * logging, then all regions or the home region, then global events only
 * with IncludeGlobalServiceEvents. */
static void test_gates(void)
{
	static const char *const regions[] = { "us-east-1", "eu-west-1" };
	int checked = 0, wrong = 0;
	for (int logging = 0; logging < 2; logging++)
	for (int multi = 0; multi < 2; multi++)
	for (int globals = 0; globals < 2; globals++)
	for (int home = 0; home < 2; home++)
	for (int where = 0; where < 2; where++)
	for (int global = 0; global < 2; global++) {
		const struct tspec ts = { .off = !logging, .multi = multi, .no_global = !globals,
			.home = regions[home] };
		const struct espec es = { .region = regions[where], .source = "iam.amazonaws.com",
			.category = EC_MANAGEMENT, .global = global };
		bool want = logging && (multi || home == where) && (!global || globals);
		struct trail t;
		struct event e;
		bool built = make_trail(&t, &ts);
		make_event(&e, &es);
		bool got = built && select_matches(&t, &e);
		checked++;
		if (got != want) {
			wrong++;
			diag("logging=%d multi=%d global_events=%d home=%s record=%s global=%d: got %d",
			     logging, multi, globals, regions[home], regions[where], global, got);
		}
		trail_release(&t);
	}
	ok(checked == 64 && wrong == 0, "all %d gate combinations as select.h states", checked);
}

/* The same record against every management read/write type, with and
 * without each exclusion, against the rule: mgmt covers the record's bit,
 * and the source is not one excluded. */
static void test_mgmt_cross(void)
{
	static const char *const sources[] = { "ec2.amazonaws.com", "kms.amazonaws.com", "rdsdata.amazonaws.com" };
	int checked = 0, wrong = 0;
	for (int mgmt = RW_NONE; mgmt <= RW_ALL; mgmt++)
	for (int xk = 0; xk < 2; xk++)
	for (int xr = 0; xr < 2; xr++)
	for (int src = 0; src < 3; src++)
	for (int ro = 0; ro < 2; ro++) {
		const struct tspec ts = { .mgmt = rw_type_name((enum rw_type)mgmt),
			.exclude_kms = xk, .exclude_rdsdata = xr };
		const struct espec es = { .source = sources[src], .read_only = ro };
		bool covers = mgmt & (ro ? RW_READ : RW_WRITE);
		bool excluded = (src == 1 && xk) || (src == 2 && xr);
		bool want = covers && !excluded;
		struct trail t;
		struct event e;
		bool built = make_trail(&t, &ts);
		make_event(&e, &es);
		bool got = built && select_matches(&t, &e);
		checked++;
		if (got != want) {
			wrong++;
			diag("mgmt=%s exclude_kms=%d exclude_rdsdata=%d source=%s read_only=%d: got %d",
			     rw_type_name((enum rw_type)mgmt), xk, xr, sources[src], ro, got);
		}
		trail_release(&t);
	}
	ok(checked == 96 && wrong == 0, "all %d management type/exclusion combinations", checked);
}

int main(void)
{
	test_table();
	test_gates();
	test_mgmt_cross();
	return tap_done();
}
