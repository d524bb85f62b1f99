/* Unit tests for backend/validate.c: table-driven vectors for every rule in
 * validate.h, each run both as a whole value and with VF_PARTIAL, plus the
 * properties VF_PARTIAL promises (see check_prefixes). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "validate.h"

#define OK  0
#define BAD EINVAL

/* A string validator with flags, and the AWS error it reports. */
typedef int (*validator)(const char *s, unsigned flags, struct ct_err *err);

/* One vector: the input, the expected result as a whole value, and the
 * expected result with VF_PARTIAL (0, or the positive errno). */
struct vec {
	const char *in;
	int full;
	int partial;
};

struct table {
	const char *what;      /* test-name prefix */
	validator fn;
	const char *errname;   /* expected ct_err.name on failure */
	const struct vec *v;
	size_t n;
};

#define TABLE(what, fn, errname, arr) { what, fn, errname, arr, sizeof arr / sizeof *arr }

/* Printable rendering of s for test names (TAP lines must stay on one line). */
static const char *show(char *out, size_t size, const char *s)
{
	size_t o = 0, i = 0;
	for (; s[i] && o + 8 < size && i < 48; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (s[i])
		o += (size_t)snprintf(out + o, size - o, "...(%zu bytes)", strlen(s));
	out[o] = '\0';
	return out;
}

/* An error must carry the expected name and a readable one-line message. */
static bool err_ok(const struct ct_err *e, const char *errname)
{
	if (strcmp(e->name, errname) != 0 || e->message[0] == '\0')
		return false;
	for (const unsigned char *p = (const unsigned char *)e->message; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static void check_one(const struct table *t, const char *in, unsigned flags, int want)
{
	struct ct_err e;
	char s[256];
	ct_err_clear(&e);
	int r = t->fn(in, flags, &e);
	const char *mode = flags & VF_PARTIAL ? "partial" : "full";
	if (want == 0)
		ok(r == 0, "%s %s \"%s\" accepted%s%s", t->what, mode, show(s, sizeof s, in),
		   r ? ": " : "", r ? e.message : "");
	else
		ok(r == -want && err_ok(&e, t->errname), "%s %s \"%s\" rejected with %s (%s)",
		   t->what, mode, show(s, sizeof s, in), t->errname, e.message);
}

/* With VF_PARTIAL only unrepairable faults count, so every start of a
 * value that is accepted partially must be accepted partially too. */
static void check_prefixes(const struct table *t, const char *in)
{
	size_t n = strlen(in);
	char *p = malloc(n + 1);
	bool good = p != NULL;
	size_t at = 0;
	for (size_t k = 0; good && k <= n; k++) {
		memcpy(p, in, k);
		p[k] = '\0';
		if (t->fn(p, VF_PARTIAL, NULL) != 0) {
			good = false;
			at = k;
		}
	}
	free(p);
	char s[256];
	ok(good, "%s partial: every start of \"%s\" is accepted (first refused: %zu bytes)",
	   t->what, show(s, sizeof s, in), at);
}

static void run_table(const struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		check_one(t, t->v[i].in, 0, t->v[i].full);
		check_one(t, t->v[i].in, VF_PARTIAL, t->v[i].partial);
		if (t->v[i].partial == 0)
			check_prefixes(t, t->v[i].in);
		/* A value that is right as a whole is right as a piece. */
		if (t->v[i].full == 0)
			ok(t->v[i].partial == 0, "%s vector %zu: full implies partial", t->what, i);
	}
}

/* head followed by c repeated until the string is len bytes long. */
static char *make(const char *head, const char *c, size_t len)
{
	char *s = malloc(len + 1);
	if (!s)
		abort();
	size_t h = strlen(head), k = strlen(c);
	memcpy(s, head, h);
	size_t i = h;
	while (i + k <= len) {
		memcpy(s + i, c, k);
		i += k;
	}
	s[i] = '\0';
	return s;
}

/* Strings too long to write out, freed at the end. */
struct longs {
	char *trail128, *trail129;
	char *bucket63, *bucket64;
	char *prefix200, *prefix201;
	char *alias256, *alias257;
	char *sns256, *sns257, *sns_fifo256;
	char *lg512, *lg513, *lg_arn512;
	char *role64, *role65;
	char *key128, *key129, *key128_utf8, *key129_utf8;
	char *val256, *val257, *val256_utf8, *val257_utf8;
	char *s3_2048, *s3_2049, *fn64, *fn65, *long_line;
	char *kms_arn1025, *sns_arn1025, *lg_arn1025, *role_arn1025, *region33;
	char *owned[40];   /* everything above, for longs_free */
	size_t n_owned;
};

/* make(), remembered in l so that longs_free can free it. */
static char *keep(struct longs *l, const char *head, const char *c, size_t len)
{
	if (l->n_owned == sizeof l->owned / sizeof *l->owned)
		abort();
	return l->owned[l->n_owned++] = make(head, c, len);
}

static void longs_make(struct longs *l)
{
	l->n_owned = 0;
	l->trail128 = keep(l, "", "a", 128);
	l->trail129 = keep(l, "", "a", 129);
	l->bucket63 = keep(l, "", "b", 63);
	l->bucket64 = keep(l, "", "b", 64);
	l->prefix200 = keep(l, "", "p", 200);
	l->prefix201 = keep(l, "", "p", 201);
	l->alias256 = keep(l, "alias/", "k", 6 + 256);
	l->alias257 = keep(l, "alias/", "k", 6 + 257);
	l->sns256 = keep(l, "", "t", 256);
	l->sns257 = keep(l, "", "t", 257);
	char *t = make("", "t", 251);
	l->sns_fifo256 = keep(l, t, ".fifo", 256);
	free(t);
	l->lg512 = keep(l, "", "g", 512);
	l->lg513 = keep(l, "", "g", 513);
	l->lg_arn512 = keep(l, "arn:aws:logs:us-east-1:123456789012:log-group:", "g",
			    strlen("arn:aws:logs:us-east-1:123456789012:log-group:") + 512);
	l->role64 = keep(l, "arn:aws:iam::123456789012:role/", "r",
			 strlen("arn:aws:iam::123456789012:role/") + 64);
	l->role65 = keep(l, "arn:aws:iam::123456789012:role/", "r",
			 strlen("arn:aws:iam::123456789012:role/") + 65);
	l->key128 = keep(l, "", "k", 128);
	l->key129 = keep(l, "", "k", 129);
	l->key128_utf8 = keep(l, "", "\xc3\xa9", 256);      /* 128 x U+00E9 */
	l->key129_utf8 = keep(l, "", "\xc3\xa9", 258);      /* 129 of them */
	l->val256 = keep(l, "", "v", 256);
	l->val257 = keep(l, "", "v", 257);
	l->val256_utf8 = keep(l, "", "\xe2\x82\xac", 768);  /* 256 x U+20AC */
	l->val257_utf8 = keep(l, "", "\xe2\x82\xac", 771);
	l->s3_2048 = keep(l, "arn:aws:s3:::mybucket/", "x", 2048);
	l->s3_2049 = keep(l, "arn:aws:s3:::mybucket/", "x", 2049);
	l->fn64 = keep(l, "arn:aws:lambda:us-east-1:123456789012:function:", "f",
		       strlen("arn:aws:lambda:us-east-1:123456789012:function:") + 64);
	l->fn65 = keep(l, "arn:aws:lambda:us-east-1:123456789012:function:", "f",
		       strlen("arn:aws:lambda:us-east-1:123456789012:function:") + 65);
	l->long_line = keep(l, "mybucket/", "x", 3000);
	/* One past CT_ARN_MAX (1024). */
	l->kms_arn1025 = keep(l, "arn:aws:kms:us-east-1:123456789012:alias/", "k", 1025);
	l->sns_arn1025 = keep(l, "arn:aws:sns:us-east-1:123456789012:", "t", 1025);
	l->lg_arn1025 = keep(l, "arn:aws:logs:us-east-1:123456789012:log-group:", "g", 1025);
	l->role_arn1025 = keep(l, "arn:aws:iam::123456789012:role/", "r/", 1025);
	/* Shaped like a region but 33 bytes, one past CT_REGION_MAX. */
	l->region33 = keep(l, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-", "1", 33);
}

static void longs_free(struct longs *l)
{
	for (size_t i = 0; i < l->n_owned; i++)
		free(l->owned[i]);
}

static void test_trail_names(const struct longs *l)
{
	const struct vec v[] = {
		{ "my-trail", OK, OK },
		{ "a.b_c-d", OK, OK },
		{ "MyTrail9", OK, OK },
		{ "a.b", OK, OK },
		{ "abc", OK, OK },
		{ l->trail128, OK, OK },
		{ "ab", BAD, OK },                 /* too short */
		{ "a", BAD, OK },
		{ "", BAD, OK },                   /* blank */
		{ l->trail129, BAD, BAD },         /* too long */
		{ "my--trail", BAD, BAD },         /* adjacent punctuation */
		{ "my-_namespace", BAD, BAD },
		{ "a._b", BAD, BAD },
		{ "my-", BAD, OK },                /* last character */
		{ "my--", BAD, BAD },
		{ "abc-", BAD, OK },
		{ "abc.", BAD, OK },
		{ "-abc", BAD, BAD },              /* first character */
		{ "_abc", BAD, BAD },
		{ ".", BAD, BAD },
		{ "192.168.5.4", BAD, OK },        /* IPv4 shape */
		{ "1.2.3.4", BAD, OK },
		{ "1.2.3", OK, OK },               /* three groups: not an address */
		{ "1.2.3.4.5", OK, OK },
		{ "1234.1.1.1", OK, OK },
		{ "a b", BAD, BAD },               /* bad characters */
		{ "trail\x01", BAD, BAD },
		{ "caf\xc3\xa9", BAD, BAD },
		{ "a/b", BAD, BAD },
		{ "a:b", BAD, BAD },
	};
	const struct table t = TABLE("trail_name", validate_trail_name, "InvalidTrailNameException", v);
	run_table(&t);
}

static void test_buckets(const struct longs *l)
{
	/* Vectors that S3 and CloudTrail judge alike. */
	const struct vec common[] = {
		{ "my-bucket", OK, OK },
		{ "my.bucket.name", OK, OK },
		{ "abc", OK, OK },
		{ "a1b2", OK, OK },
		{ l->bucket63, OK, OK },
		{ "ab", BAD, OK },                 /* too short */
		{ "", BAD, OK },
		{ l->bucket64, BAD, BAD },         /* too long */
		{ "MyBucket", BAD, BAD },          /* characters */
		{ "my_bucket", BAD, BAD },
		{ "my bucket", BAD, BAD },
		{ "b\x7f", BAD, BAD },
		{ "-abc", BAD, BAD },              /* first character */
		{ ".abc", BAD, BAD },
		{ "abc-", BAD, OK },               /* last character */
		{ "abc.", BAD, OK },
		{ "a..b", BAD, BAD },              /* ".." */
		{ "192.168.1.1", BAD, OK },        /* IPv4 shape */
		{ "192.168.1", OK, OK },
		{ "xn--abc", BAD, BAD },           /* reserved prefixes */
		{ "xn-", BAD, OK },
		{ "sthree-x", BAD, BAD },
		{ "sthree-configurator", BAD, BAD },
		{ "amzn-s3-demo-x", BAD, BAD },
		{ "amzn-s3-demo", OK, OK },
		{ "x-s3alias", BAD, OK },          /* reserved suffixes */
		{ "x--ol-s3", BAD, OK },
		{ "x.mrap", BAD, OK },
		{ "x--x-s3", BAD, OK },
		{ "x--table-s3", BAD, OK },
		{ "x-s3aliasy", OK, OK },
	};
	const struct table t1 = TABLE("bucket_s3", validate_bucket_name_s3, "InvalidBucketName", common);
	const struct table t2 = TABLE("bucket_cloudtrail", validate_bucket_name_cloudtrail,
				      "InvalidS3BucketNameException", common);
	run_table(&t1);
	run_table(&t2);

	/* Where CloudTrail's copy of the rules is stricter. */
	const struct vec s3_only[] = {
		{ "a.-b", OK, OK },
		{ "a-.b", OK, OK },
		{ "a--b", OK, OK },
		{ "a-", BAD, OK },
	};
	const struct vec ct_only[] = {
		{ "a.-b", BAD, BAD },              /* label starts with '-' */
		{ "a-.b", BAD, BAD },              /* '-' before '.' */
		{ "a-.", BAD, BAD },
		{ "a.-", BAD, BAD },
		{ "a--b", OK, OK },
		{ "a-", BAD, OK },                 /* trailing '-' */
		{ "a.", BAD, OK },
		{ "my-bucket.logs-1", OK, OK },
	};
	const struct table t3 = TABLE("bucket_s3", validate_bucket_name_s3, "InvalidBucketName", s3_only);
	const struct table t4 = TABLE("bucket_cloudtrail", validate_bucket_name_cloudtrail,
				      "InvalidS3BucketNameException", ct_only);
	run_table(&t3);
	run_table(&t4);
}

static void test_prefixes(const struct longs *l)
{
	const struct vec v[] = {
		{ "", OK, OK },
		{ "logs", OK, OK },
		{ "a/b/c", OK, OK },
		{ "..a", OK, OK },
		{ ".a/b.", OK, OK },
		{ "caf\xc3\xa9/x", OK, OK },
		{ l->prefix200, OK, OK },
		{ l->prefix201, BAD, BAD },        /* too long */
		{ "/a", BAD, BAD },                /* leading '/' */
		{ "/", BAD, BAD },
		{ "a/", BAD, OK },                 /* trailing '/' */
		{ "a//b", BAD, BAD },              /* empty segment */
		{ "a//", BAD, BAD },
		{ "a/./b", BAD, BAD },             /* "." and ".." segments */
		{ "a/../b", BAD, BAD },
		{ "./a", BAD, BAD },
		{ ".", BAD, OK },
		{ "..", BAD, OK },
		{ "a/.", BAD, OK },
		{ "a/..", BAD, OK },
		{ "a\x01" "b", BAD, BAD },         /* control bytes */
		{ "a\x7f", BAD, BAD },
		{ "a\tb", BAD, BAD },
		{ "caf\xc3", BAD, OK },            /* UTF-8 cut short: more may come */
		{ "\xe2\x82", BAD, OK },
		{ "\xf0\x9f\x98", BAD, OK },
		{ "caf\xc3(", BAD, BAD },          /* invalid UTF-8 */
		{ "\xff", BAD, BAD },
		{ "\xc0", BAD, BAD },              /* can only be overlong */
		{ "\xed\xa0", BAD, BAD },          /* can only be a surrogate */
		{ "\xf4\x90", BAD, BAD },          /* can only pass U+10FFFF */
	};
	const struct table t = TABLE("s3_prefix", validate_s3_prefix, "InvalidS3PrefixException", v);
	run_table(&t);
}

static void test_kms(const struct longs *l)
{
	const struct vec v[] = {
		{ "alias/x", OK, OK },
		{ "alias/my-key", OK, OK },
		{ "alias/a/b_c-D9", OK, OK },
		{ "alias/aw", OK, OK },
		{ l->alias256, OK, OK },
		{ l->alias257, BAD, BAD },
		{ "alias/aws-x", BAD, BAD },       /* reserved */
		{ "alias/aws/s3", BAD, BAD },
		{ "alias/awsome", BAD, BAD },
		{ "alias/", BAD, OK },
		{ "alias", BAD, OK },
		{ "a", BAD, OK },
		{ "", BAD, OK },
		{ "alias/a b", BAD, BAD },
		{ "alias/a.b", BAD, BAD },
		{ "arn:aws:kms:us-east-1:123456789012:alias/my-key", OK, OK },
		{ "arn:aws:kms:us-east-1:123456789012:alias/aws/s3", BAD, BAD },
		{ "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", OK, OK },
		{ "arn:aws:kms:eu-west-2:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab", OK, OK },
		{ "arn:aws:kms:us-east-1:123456789012:key/nope", BAD, BAD },
		{ "arn:aws:kms:us-east-1:123456789012:key/", BAD, OK },
		{ "arn:aws:kms:us-east-1:123456789012:k", BAD, OK },
		{ "arn:aws:kms:us-east-1:123456789012:", BAD, OK },
		{ "arn:aws:kms:us-east-1:123456789012:foo/x", BAD, BAD },
		{ "arn:aws:kms:us-east-1:1234", BAD, OK },
		{ "arn:aws:kms:us-east-1:12345:key/1234abcd-12ab-34cd-56ef-1234567890ab", BAD, BAD },
		{ "arn:aws:kms:us-east", BAD, OK },
		{ "arn:aws:kms:US-east-1:123456789012:alias/x", BAD, BAD },
		{ "arn:aws:kms::123456789012:alias/x", BAD, BAD },
		{ "arn:aws:kms", BAD, OK },
		{ "arn:aws:s3:::x", BAD, BAD },
		{ "arn:aws-cn:kms:cn-north-1:123456789012:alias/x", BAD, BAD },
		{ "1234abcd-12ab-34cd-56ef-1234567890ab", OK, OK },
		{ "1234abcd-12ab", BAD, OK },
		{ "1234ABCD-12ab-34cd-56ef-1234567890ab", BAD, BAD },
		{ "1234abcd12ab34cd56ef1234567890ab", BAD, BAD },
		{ "1234abcd-12ab-34cd-56ef-1234567890abc", BAD, BAD },
		{ "mrk-1234abcd12ab34cd56ef1234567890ab", OK, OK },
		{ "mrk-12", BAD, OK },
		{ "mr", BAD, OK },
		{ "mrk-xyz", BAD, BAD },
		{ "garbage", BAD, BAD },
		{ l->kms_arn1025, BAD, BAD },      /* longer than CT_ARN_MAX */
	};
	const struct table t = TABLE("kms_key_id", validate_kms_key_id, "InvalidKmsKeyIdException", v);
	run_table(&t);
}

static void test_sns(const struct longs *l)
{
	const struct vec v[] = {
		{ "my-topic", OK, OK },
		{ "My_Topic-1", OK, OK },
		{ "t.fifo", OK, OK },
		{ "arn", OK, OK },                 /* a name, not an ARN */
		{ l->sns256, OK, OK },
		{ l->sns_fifo256, OK, OK },
		{ l->sns257, BAD, BAD },
		{ "", BAD, OK },
		{ "t.fi", BAD, OK },
		{ "t.", BAD, OK },
		{ "t.fifox", BAD, BAD },
		{ "t.x", BAD, BAD },
		{ ".fifo", BAD, BAD },
		{ "a b", BAD, BAD },
		{ "a/b", BAD, BAD },
		{ "arn:aws:sns:us-east-1:123456789012:my-topic", OK, OK },
		{ "arn:aws:sns:us-east-1:123456789012:my-topic.fifo", OK, OK },
		{ "arn:aws:sns:us-east-1:123456789012:", BAD, OK },
		{ "arn:aws:sns:us-east-1", BAD, OK },
		{ "arn:", BAD, OK },
		{ "arn:aws:sns:us-east-1:123456789012:a:b", BAD, BAD },
		{ "arn:aws:sqs:us-east-1:123456789012:q", BAD, BAD },
		{ "arn:aws:sns:us-east-1:12345678901a:t", BAD, BAD },
		{ "arn:aws:sns:us-east-12:123456789012:t", OK, OK },
		{ l->sns_arn1025, BAD, BAD },      /* longer than CT_ARN_MAX */
	};
	const struct table t = TABLE("sns_topic", validate_sns_topic, "InvalidSnsTopicNameException", v);
	run_table(&t);
}

static void test_log_groups(const struct longs *l)
{
	const struct vec v[] = {
		{ "CloudTrail/logs", OK, OK },
		{ "a#b.c_d-e/f", OK, OK },
		{ l->lg512, OK, OK },
		{ l->lg513, BAD, BAD },
		{ "", BAD, OK },
		{ "a b", BAD, BAD },
		{ "a:b", BAD, BAD },
		{ "a*", BAD, BAD },
	};
	const struct table t = TABLE("log_group_name", validate_log_group_name,
				     "InvalidCloudWatchLogsLogGroupArnException", v);
	run_table(&t);

	struct { const char *in; int want; const char *name; } arns[] = {
		{ "arn:aws:logs:us-east-1:123456789012:log-group:CloudTrail/logs:*", OK, "CloudTrail/logs" },
		{ "arn:aws:logs:us-east-1:123456789012:log-group:my-group", OK, "my-group" },
		{ l->lg_arn512, OK, l->lg512 },
		{ "arn:aws:logs:us-east-1:123456789012:log-group:", BAD, NULL },
		{ "arn:aws:logs:us-east-1:123456789012:log-group::*", BAD, NULL },
		{ "arn:aws:logs:us-east-1:123456789012:log-group:a b:*", BAD, NULL },
		{ "arn:aws:logs:us-east-1:123456789012:log-group:x:y", BAD, NULL },
		{ "arn:aws:logs:us-east-1:123456789012:log-group:x:*:*", BAD, NULL },
		{ "arn:aws:logs:us-east-1:123456789012:log-stream:x", BAD, NULL },
		{ "arn:aws:logs:us-east-1:1234:log-group:x", BAD, NULL },
		{ "arn:aws:logs:useast1:123456789012:log-group:x", BAD, NULL },
		{ "arn:aws:logs::123456789012:log-group:x", BAD, NULL },
		{ "arn:aws:sns:us-east-1:123456789012:log-group:x", BAD, NULL },
		{ "arn:aws:logs:us-east-1:123456789012", BAD, NULL },
		{ l->lg_arn1025, BAD, NULL },
		{ "my-group", BAD, NULL },
		{ "", BAD, NULL },
	};
	for (size_t i = 0; i < sizeof arns / sizeof *arns; i++) {
		char name[CT_LOG_GROUP_MAX + 1] = "untouched";
		struct ct_err e;
		char s[256];
		ct_err_clear(&e);
		int r = validate_log_group_arn(arns[i].in, name, &e);
		if (arns[i].want == OK)
			ok(r == 0 && !strcmp(name, arns[i].name), "log_group_arn \"%s\" accepted, name \"%s\"",
			   show(s, sizeof s, arns[i].in), arns[i].name);
		else
			ok(r == -BAD && err_ok(&e, "InvalidCloudWatchLogsLogGroupArnException"),
			   "log_group_arn \"%s\" rejected (%s)", show(s, sizeof s, arns[i].in), e.message);
	}
	ok(validate_log_group_arn(arns[0].in, NULL, NULL) == 0, "log_group_arn: name_out may be NULL");
}

static void test_roles(const struct longs *l)
{
	struct { const char *in; int want; } v[] = {
		{ "arn:aws:iam::123456789012:role/CloudTrail_CloudWatchLogs_Role", OK },
		{ "arn:aws:iam::123456789012:role/service-role/my.role+x=y,z@w", OK },
		{ l->role64, OK },
		{ l->role65, BAD },
		{ "arn:aws:iam::123456789012:user/bob", BAD },
		{ "arn:aws:iam:us-east-1:123456789012:role/x", BAD },
		{ "arn:aws:iam::12345678901:role/x", BAD },
		{ "arn:aws:iam::123456789012:role/", BAD },
		{ "arn:aws:iam::123456789012:role//x", BAD },
		{ "arn:aws:iam::123456789012:role/x/", BAD },
		{ "arn:aws:iam::123456789012:role/a b", BAD },
		{ "arn:aws:iam::123456789012:role/a\x01", BAD },
		{ "arn:aws:sts::123456789012:role/x", BAD },
		{ "arn:aws:iam::123456789012", BAD },
		{ "role/x", BAD },
		{ l->role_arn1025, BAD },
		{ "", BAD },
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		struct ct_err e;
		char s[256];
		ct_err_clear(&e);
		int r = validate_log_role_arn(v[i].in, &e);
		if (v[i].want == OK)
			ok(r == 0, "log_role_arn \"%s\" accepted%s%s", show(s, sizeof s, v[i].in),
			   r ? ": " : "", e.message);
		else
			ok(r == -BAD && err_ok(&e, "InvalidCloudWatchLogsRoleArnException"),
			   "log_role_arn \"%s\" rejected (%s)", show(s, sizeof s, v[i].in), e.message);
	}
}

static void test_tags(const struct longs *l)
{
	struct { const char *key, *value; int want; } v[] = {
		{ "Owner", "alice", OK },
		{ "a b_.:/=+-@", "x y_.:/=+-@", OK },
		{ "k", "", OK },
		{ "k", NULL, OK },
		{ "\xe6\x97\xa5\xe6\x9c\xac", "\xe8\xaa\x9e", OK },   /* non-ASCII */
		{ "aws", "x", OK },
		{ "awsx:", "x", OK },
		{ "k", "aws:x", OK },             /* only keys are reserved */
		{ l->key128, "v", OK },
		{ l->key129, "v", BAD },
		{ l->key128_utf8, "v", OK },      /* characters, not bytes */
		{ l->key129_utf8, "v", BAD },
		{ "k", l->val256, OK },
		{ "k", l->val257, BAD },
		{ "k", l->val256_utf8, OK },
		{ "k", l->val257_utf8, BAD },
		{ "", "v", BAD },
		{ NULL, "v", BAD },
		{ "aws:x", "v", BAD },
		{ "AWS:x", "v", BAD },
		{ "aws:", "v", BAD },
		{ "a\xff", "v", BAD },            /* invalid UTF-8 */
		{ "k", "\xc3", BAD },
		{ "k", "\xed\xa0\x80", BAD },
		{ "a\tb", "v", BAD },             /* not printable */
		{ "a*b", "v", BAD },
		{ "k", "v\x01", BAD },
		{ "k", "a#b", BAD },
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		struct ct_err e;
		char s1[256], s2[256];
		ct_err_clear(&e);
		int r = validate_tag(v[i].key, v[i].value, &e);
		const char *k = v[i].key ? show(s1, sizeof s1, v[i].key) : "(null)";
		const char *val = v[i].value ? show(s2, sizeof s2, v[i].value) : "(null)";
		if (v[i].want == OK)
			ok(r == 0, "tag \"%s\"=\"%s\" accepted%s%s", k, val, r ? ": " : "", e.message);
		else
			ok(r == -BAD && err_ok(&e, "InvalidTagParameterException"),
			   "tag \"%s\"=\"%s\" rejected (%s)", k, val, e.message);
	}
}

#define S3  "AWS::S3::Object"
#define LAM "AWS::Lambda::Function"
#define DDB "AWS::DynamoDB::Table"

static void test_data_resources(const struct longs *l)
{
	struct { const char *type, *value; int want; } v[] = {
		{ S3, "arn:aws:s3", OK },
		{ S3, "arn:aws:s3:::mybucket/", OK },
		{ S3, "arn:aws:s3:::mybucket/prefix", OK },
		{ S3, "arn:aws:s3:::mybucket/a:b/c d", OK },
		{ S3, "arn:aws:s3:::mybucket/pr\xc3\xa9", OK },
		{ S3, l->s3_2048, OK },
		{ S3, l->s3_2049, BAD },
		{ S3, "arn:aws:s3:::mybucket", BAD },    /* no '/' */
		{ S3, "arn:aws:s3:::MyBucket/", BAD },
		{ S3, "arn:aws:s3:::a..b/", BAD },
		{ S3, "arn:aws:s3:::xn--b/", BAD },
		{ S3, "arn:aws:s3:::ab/", BAD },
		{ S3, "arn:aws:s3:::/", BAD },
		{ S3, "arn:aws:s3:::", BAD },
		{ S3, "arn:aws:s3:", BAD },
		{ S3, "arn:aws:s3:::mybucket/pre\x01", BAD },
		{ S3, "arn:aws:s3:::mybucket/\xff", BAD },
		{ S3, "arn:aws:s3:us-east-1::mybucket/", BAD },
		{ S3, "arn:aws:s3::123456789012:mybucket/", BAD },
		{ S3, "arn:aws:lambda", BAD },
		{ S3, "mybucket/", BAD },
		{ LAM, "arn:aws:lambda", OK },
		{ LAM, "arn:aws:lambda:us-east-1:123456789012:function:my-fn", OK },
		{ LAM, "arn:aws:lambda:us-east-1:123456789012:function:my-fn:$LATEST", OK },
		{ LAM, "arn:aws:lambda:us-east-1:123456789012:function:my-fn:1", OK },
		{ LAM, l->fn64, OK },
		{ LAM, l->fn65, BAD },
		{ LAM, "arn:aws:lambda:us-east-1:123456789012:function:", BAD },
		{ LAM, "arn:aws:lambda:us-east-1:123456789012:function:my fn", BAD },
		{ LAM, "arn:aws:lambda:us-east-1:123456789012:function:my-fn:", BAD },
		{ LAM, "arn:aws:lambda:us-east-1:123456789012:function:f:a:b", BAD },
		{ LAM, "arn:aws:lambda:us-east-1:123456789012:layer:x", BAD },
		{ LAM, "arn:aws:lambda:us-east-1:123456789012", BAD },
		{ LAM, "arn:aws:s3", BAD },
		{ DDB, "arn:aws:dynamodb", OK },
		{ DDB, "arn:aws:dynamodb:us-east-1:123456789012:table/Orders", OK },
		{ DDB, "arn:aws:dynamodb:us-east-1:123456789012:table/a.b_c-d", OK },
		{ DDB, "arn:aws:dynamodb:us-east-1:123456789012:table/ab", BAD },
		{ DDB, "arn:aws:dynamodb:us-east-1:123456789012:table/a b", BAD },
		{ DDB, "arn:aws:dynamodb:us-east-1:123456789012:index/x", BAD },
		{ DDB, "arn:aws:dynamodb:us-east-1:123:table/Orders", BAD },
		{ "AWS::S3::Bucket", "arn:aws:s3", BAD },
		{ "", "arn:aws:s3", BAD },
		{ "aws::s3::object", "arn:aws:s3", BAD },
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		struct ct_err e;
		char s[256];
		ct_err_clear(&e);
		int r = validate_data_resource(v[i].type, v[i].value, &e);
		if (v[i].want == OK)
			ok(r == 0, "data_resource %s \"%s\" accepted%s%s", v[i].type,
			   show(s, sizeof s, v[i].value), r ? ": " : "", e.message);
		else
			ok(r == -BAD && err_ok(&e, "InvalidEventSelectorsException"),
			   "data_resource %s \"%s\" rejected (%s)", v[i].type,
			   show(s, sizeof s, v[i].value), e.message);
	}

	struct { const char *value; bool all; } alls[] = {
		{ "arn:aws:s3", true },
		{ "arn:aws:lambda", true },
		{ "arn:aws:dynamodb", true },
		{ "arn:aws:s3:::b/", false },
		{ "arn:aws:s3:::", false },
		{ "arn:aws:s3/", false },
		{ "", false },
	};
	for (size_t i = 0; i < sizeof alls / sizeof *alls; i++)
		ok(data_resource_is_all(alls[i].value) == alls[i].all, "data_resource_is_all \"%s\" is %s",
		   alls[i].value, alls[i].all ? "true" : "false");
}

static void test_data_events_lines(const struct longs *l)
{
	struct {
		const char *line;
		int want;
		const char *type, *value;
		enum rw_type rw;
	} v[] = {
		{ "mybucket", OK, S3, "arn:aws:s3:::mybucket/", RW_ALL },
		{ "mybucket/", OK, S3, "arn:aws:s3:::mybucket/", RW_ALL },
		{ "mybucket/logs/", OK, S3, "arn:aws:s3:::mybucket/logs/", RW_ALL },
		{ "mybucket/prefix ReadOnly", OK, S3, "arn:aws:s3:::mybucket/prefix", RW_READ },
		{ "  mybucket\tWriteOnly  ", OK, S3, "arn:aws:s3:::mybucket/", RW_WRITE },
		{ "\tmybucket \t All\t", OK, S3, "arn:aws:s3:::mybucket/", RW_ALL },
		{ "arn:aws:s3:::mybucket", OK, S3, "arn:aws:s3:::mybucket/", RW_ALL },
		{ "arn:aws:s3:::mybucket/x ReadOnly", OK, S3, "arn:aws:s3:::mybucket/x", RW_READ },
		{ "arn:aws:s3", OK, S3, "arn:aws:s3", RW_ALL },
		{ "arn", OK, S3, "arn:aws:s3:::arn/", RW_ALL },   /* a bucket called "arn" */
		{ "arn:aws:s3 WriteOnly", OK, S3, "arn:aws:s3", RW_WRITE },
		{ "arn:aws:lambda", OK, LAM, "arn:aws:lambda", RW_ALL },
		{ "arn:aws:lambda:us-east-1:123456789012:function:f ReadOnly", OK, LAM,
		  "arn:aws:lambda:us-east-1:123456789012:function:f", RW_READ },
		{ "arn:aws:lambda:us-east-1:123456789012:function:f:1 All", OK, LAM,
		  "arn:aws:lambda:us-east-1:123456789012:function:f:1", RW_ALL },
		{ "arn:aws:dynamodb", OK, DDB, "arn:aws:dynamodb", RW_ALL },
		{ "arn:aws:dynamodb:us-east-1:123456789012:table/Orders WriteOnly", OK, DDB,
		  "arn:aws:dynamodb:us-east-1:123456789012:table/Orders", RW_WRITE },
		{ "mybucket readonly", BAD, NULL, NULL, RW_NONE },
		{ "mybucket all", BAD, NULL, NULL, RW_NONE },
		{ "mybucket None", BAD, NULL, NULL, RW_NONE },
		{ "mybucket ReadOnly extra", BAD, NULL, NULL, RW_NONE },
		{ "my bucket", BAD, NULL, NULL, RW_NONE },
		{ "", BAD, NULL, NULL, RW_NONE },
		{ " \t ", BAD, NULL, NULL, RW_NONE },
		{ "MyBucket", BAD, NULL, NULL, RW_NONE },
		{ "a", BAD, NULL, NULL, RW_NONE },
		{ "s3://mybucket", BAD, NULL, NULL, RW_NONE },
		{ "mybucket\x01", BAD, NULL, NULL, RW_NONE },
		{ "mybucket/pre\x01" "fix", BAD, NULL, NULL, RW_NONE },
		{ "mybucket/\xff", BAD, NULL, NULL, RW_NONE },
		{ "arn:aws:sqs:us-east-1:123456789012:q", BAD, NULL, NULL, RW_NONE },
		{ "arn:aws:s3:::", BAD, NULL, NULL, RW_NONE },
		{ "arn:aws:s3:us-east-1::b", BAD, NULL, NULL, RW_NONE },
		{ "arn:aws:lambda:us-east-1:123456789012:table/x", BAD, NULL, NULL, RW_NONE },
		{ l->long_line, BAD, NULL, NULL, RW_NONE },
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		struct ct_err e;
		char s[256];
		char *type = (char *)1, *value = (char *)1;
		enum rw_type rw = RW_NONE;
		ct_err_clear(&e);
		int r = parse_data_events_line(v[i].line, &type, &value, &rw, &e);
		if (v[i].want == OK)
			ok(r == 0 && type && value && !strcmp(type, v[i].type) && !strcmp(value, v[i].value) &&
			   rw == v[i].rw, "data_events line \"%s\" -> %s \"%s\" %d%s%s",
			   show(s, sizeof s, v[i].line), v[i].type, v[i].value, (int)v[i].rw,
			   r ? ": " : "", e.message);
		else
			ok(r == -BAD && !type && !value && err_ok(&e, "InvalidEventSelectorsException"),
			   "data_events line \"%s\" rejected (%s)", show(s, sizeof s, v[i].line), e.message);
		if (r == 0) {
			free(type);
			free(value);
		}
	}
}

static void test_shapes(const struct longs *l)
{
	struct { const char *s; bool want; } regions[] = {
		{ "us-east-1", true },
		{ "us-gov-west-1", true },
		{ "eu-central-1", true },
		{ "ap-southeast-2", true },
		{ "us-east", false },
		{ "US-east-1", false },
		{ "us--east-1", false },
		{ "us-east-1a", false },
		{ "-us-east-1", false },
		{ "us_east_1", false },
		{ "us-east-12", true },
		{ l->region33, false },
		{ "", false },
	};
	for (size_t i = 0; i < sizeof regions / sizeof *regions; i++)
		ok(region_name_valid(regions[i].s) == regions[i].want, "region_name_valid \"%s\" is %s",
		   regions[i].s, regions[i].want ? "true" : "false");

	struct { const char *s; bool want; } accounts[] = {
		{ "123456789012", true },
		{ "000000000000", true },
		{ "12345678901", false },
		{ "1234567890123", false },
		{ "12345678901a", false },
		{ "", false },
	};
	for (size_t i = 0; i < sizeof accounts / sizeof *accounts; i++)
		ok(account_id_valid(accounts[i].s) == accounts[i].want, "account_id_valid \"%s\" is %s",
		   accounts[i].s, accounts[i].want ? "true" : "false");

	struct { const char *s; bool want; } ips[] = {
		{ "192.168.5.4", true },
		{ "1.2.3.4", true },
		{ "999.999.999.999", true },
		{ "1.2.3", false },
		{ "1.2.3.4.5", false },
		{ "1234.1.1.1", false },
		{ "1.2.3.4.", false },
		{ ".1.2.3.4", false },
		{ "1..2.3", false },
		{ "a.b.c.d", false },
		{ "", false },
	};
	for (size_t i = 0; i < sizeof ips / sizeof *ips; i++)
		ok(looks_like_ipv4(ips[i].s) == ips[i].want, "looks_like_ipv4 \"%s\" is %s",
		   ips[i].s, ips[i].want ? "true" : "false");
}

/* Messages say what is wrong, quote it, and never carry control bytes. */
static void test_messages(const struct longs *l)
{
	struct { validator fn; const char *in; const char *want; } v[] = {
		{ validate_trail_name, "my--trail",
		  "trail names may not contain two punctuation characters in a row (\"--\"); use "
		  "letters, digits, '.', '_' or '-' with a letter or digit between punctuation" },
		{ validate_trail_name, "a b", "\" \"" },
		{ validate_trail_name, "ab\x01", "\\x01" },
		{ validate_trail_name, "caf\xc3\xa9", "\"\xc3\xa9\"" },
		{ validate_trail_name, "192.168.5.4", "\"192.168.5.4\"" },
		{ validate_bucket_name_s3, "MyBucket", "\"M\"" },
		{ validate_bucket_name_s3, "x--ol-s3", "\"--ol-s3\"" },
		{ validate_bucket_name_cloudtrail, "a.-b", "\".-\"" },
		{ validate_s3_prefix, "a\x01" "b", "\\x01" },
		{ validate_s3_prefix, "a\xff", "\\xff" },
		{ validate_s3_prefix, "a/../b", "\"..\"" },
		{ validate_kms_key_id, "alias/aws-x", "\"aws-x\"" },
		{ validate_kms_key_id, "x\"y\\z", "\"x\\\"y\\\\z\"" },
		{ validate_sns_topic, "t.fifx", "\".fifx\"" },
		{ validate_log_group_name, "a\x1b[31m", "\\x1b" },
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		struct ct_err e;
		char s1[256], s2[256];
		ct_err_clear(&e);
		v[i].fn(v[i].in, 0, &e);
		ok(strstr(e.message, v[i].want) != NULL, "message for \"%s\" contains %s: %s",
		   show(s1, sizeof s1, v[i].in), show(s2, sizeof s2, v[i].want), e.message);
	}

	/* Long values are shortened, not copied whole into the message. */
	char *big = make("", "a", 5000);
	char *bad = make("", "\x01", 3000);
	struct ct_err e;
	ct_err_clear(&e);
	validate_trail_name(big, 0, &e);
	ok(strlen(e.message) < 300, "message about a 5000-byte name stays short (%zu)", strlen(e.message));
	ct_err_clear(&e);
	validate_data_resource(S3, bad, &e);
	ok(err_ok(&e, "InvalidEventSelectorsException") && strlen(e.message) < 600,
	   "message about 3000 control bytes stays short and escaped");
	free(big);
	free(bad);

	/* The ARN length cap is what these fail on. */
	const char *longs_1025[] = { l->kms_arn1025, l->sns_arn1025, l->lg_arn1025, l->role_arn1025 };
	for (size_t i = 0; i < sizeof longs_1025 / sizeof *longs_1025; i++) {
		ct_err_clear(&e);
		if (i == 0)
			validate_kms_key_id(longs_1025[i], 0, &e);
		else if (i == 1)
			validate_sns_topic(longs_1025[i], 0, &e);
		else if (i == 2)
			validate_log_group_arn(longs_1025[i], NULL, &e);
		else
			validate_log_role_arn(longs_1025[i], &e);
		ok(strstr(e.message, "at most 1024") != NULL, "1025-byte ARN %zu fails on length: %s",
		   i, e.message);
	}

	/* err may be NULL. */
	ok(validate_trail_name("a b", 0, NULL) == -EINVAL, "trail name with err NULL");
	ok(validate_tag("aws:x", "v", NULL) == -EINVAL, "tag with err NULL");
	ok(validate_data_resource(S3, "x", NULL) == -EINVAL, "data resource with err NULL");
	char *type, *value;
	enum rw_type rw;
	ok(parse_data_events_line("a b c", &type, &value, &rw, NULL) == -EINVAL,
	   "data_events line with err NULL");
}

int main(void)
{
	struct longs l;
	longs_make(&l);
	test_trail_names(&l);
	test_buckets(&l);
	test_prefixes(&l);
	test_kms(&l);
	test_sns(&l);
	test_log_groups(&l);
	test_roles(&l);
	test_tags(&l);
	test_data_resources(&l);
	test_data_events_lines(&l);
	test_shapes(&l);
	test_messages(&l);
	longs_free(&l);
	return tap_done();
}
