/* Unit tests for backend/policy.c: the bucket policy grammar, the console's
 * CloudTrail policy, the IAM evaluation and the glob matcher.
 *
 * Policies in the tables are written with single quotes for readability;
 * dq() turns them into JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "policy.h"
#include "tap.h"

#define B "trail-bucket"
#define A "123456789012"
#define R "us-east-1"
#define T "arn:aws:cloudtrail:" R ":" A ":trail/mytrail"
#define T_OTHER "arn:aws:cloudtrail:" R ":" A ":trail/other"
#define INSUFFICIENT "InsufficientS3BucketPolicyException"

/* A copy of s with ' turned into " (caller frees). */
static char *dq(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

/* ---- statement building blocks ------------------------------------------ */

#define PRINC "'Principal':{'Service':'cloudtrail.amazonaws.com'}"
#define SRC_ARN_EQ "'Condition':{'StringEquals':{'aws:SourceArn':'" T "'}}"
#define ACL_STMT \
	"{'Sid':'AWSCloudTrailAclCheck20150319','Effect':'Allow'," PRINC "," \
	"'Action':'s3:GetBucketAcl','Resource':'arn:aws:s3:::" B "'," SRC_ARN_EQ "}"
#define ACL_STMT_NO_COND \
	"{'Sid':'AclCheck','Effect':'Allow'," PRINC "," \
	"'Action':'s3:GetBucketAcl','Resource':'arn:aws:s3:::" B "'}"
/* The write statement with a Resource (JSON text) and an optional ",Condition". */
#define WRITE(res, cond) \
	"{'Sid':'AWSCloudTrailWrite20150319','Effect':'Allow'," PRINC "," \
	"'Action':'s3:PutObject','Resource':" res cond "}"
#define RES_NOPFX "'arn:aws:s3:::" B "/AWSLogs/" A "/*'"
#define RES_PFX "'arn:aws:s3:::" B "/logs/AWSLogs/" A "/*'"
#define COND(body) ",'Condition':{" body "}"
#define COND_CONSOLE \
	COND("'StringEquals':{'s3:x-amz-acl':'bucket-owner-full-control','aws:SourceArn':'" T "'}")
#define POLICY(...) "{'Version':'2012-10-17','Statement':[" __VA_ARGS__ "]}"
#define CONSOLE POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND_CONSOLE))
#define CONSOLE_PFX POLICY(ACL_STMT "," WRITE(RES_PFX, COND_CONSOLE))
#define DENY_PUT \
	"{'Sid':'DenyPut','Effect':'Deny','Principal':'*','Action':'s3:PutObject'," \
	"'Resource':'arn:aws:s3:::" B "/*'}"

/* ---- grammar ------------------------------------------------------------- */

struct grammar_case {
	const char *name;
	const char *doc;      /* single-quoted JSON */
	bool partial;
	bool valid;
	const char *msg;      /* substring of the message when invalid */
};

static const struct grammar_case grammar_cases[] = {
	{"console policy", CONSOLE, false, true, NULL},
	{"console policy with prefix", CONSOLE_PFX, false, true, NULL},
	{"Version 2008-10-17, Id",
	 "{'Version':'2008-10-17','Id':'Policy1','Statement':" ACL_STMT "}", false, true, NULL},
	{"no Version", "{'Statement':[" ACL_STMT "]}", false, true, NULL},
	{"Statement as an object", "{'Version':'2012-10-17','Statement':" ACL_STMT "}",
	 false, true, NULL},
	{"empty Sid", POLICY("{'Sid':'','Effect':'Allow','Principal':'*','Action':'*','Resource':'*'}"),
	 false, true, NULL},
	{"NotPrincipal, NotAction, NotResource",
	 POLICY("{'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::" A ":root']},"
		"'NotAction':['s3:Get*','s3:List?ucket'],'NotResource':'arn:aws:s3:::" B "/keep/*'}"),
	 false, true, NULL},
	{"all principal kinds",
	 POLICY("{'Effect':'Allow','Principal':{'AWS':'*','Service':['a.amazonaws.com'],"
		"'Federated':'cognito-identity.amazonaws.com','CanonicalUser':'abc'},"
		"'Action':'s3:GetObject','Resource':'*'}"),
	 false, true, NULL},

	{"missing Effect",
	 POLICY("{'Principal':'*','Action':'*','Resource':'*'}"), false, false,
	 "Statement[0]: \"Effect\" is missing"},
	{"bad Effect",
	 POLICY(ACL_STMT ",{'Effect':'allow','Principal':'*','Action':'*','Resource':'*'}"),
	 false, false, "Statement[1]: \"Effect\" must be \"Allow\" or \"Deny\", not \"allow\""},
	{"Effect not a string",
	 POLICY("{'Effect':true,'Principal':'*','Action':'*','Resource':'*'}"), false, false,
	 "not true"},
	{"both Action and NotAction",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','NotAction':'s3:Get*','Resource':'*'}"),
	 false, false, "has both \"Action\" and \"NotAction\""},
	{"missing Principal",
	 POLICY("{'Effect':'Allow','Action':'*','Resource':'*'}"), false, false,
	 "\"Principal\" is missing"},
	{"both Principal and NotPrincipal",
	 POLICY("{'Effect':'Allow','Principal':'*','NotPrincipal':'*','Action':'*','Resource':'*'}"),
	 false, false, "has both \"Principal\" and \"NotPrincipal\""},
	{"missing Resource",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*'}"), false, false,
	 "\"Resource\" is missing"},
	{"missing Action",
	 POLICY("{'Effect':'Allow','Principal':'*','Resource':'*'}"), false, false,
	 "\"Action\" is missing"},
	{"unknown top-level member",
	 "{'Version':'2012-10-17','Foo':1,'Statement':[" ACL_STMT "]}", false, false,
	 "the policy has unknown member \"Foo\""},
	{"unknown statement member",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Resources':'*'}"),
	 false, false, "Statement[0] has unknown member \"Resources\""},
	{"member name in the wrong case",
	 POLICY("{'effect':'Allow','Principal':'*','Action':'*','Resource':'*'}"), false, false,
	 "did you mean \"Effect\"?"},
	{"duplicate member",
	 POLICY("{'Effect':'Allow','Effect':'Deny','Principal':'*','Action':'*','Resource':'*'}"),
	 false, false, "has member \"Effect\" twice"},
	{"empty Statement array", "{'Version':'2012-10-17','Statement':[]}", false, false,
	 "\"Statement\" must be an object or a non-empty array of objects, not an empty array"},
	{"Statement a string", "{'Statement':'x'}", false, false, "\"Statement\" must be"},
	{"Statement element not an object", POLICY(ACL_STMT ",7"), false, false,
	 "Statement[1] must be an object, not the number 7"},
	{"Statement missing", "{'Version':'2012-10-17'}", false, false,
	 "\"Statement\" is missing"},
	{"bad Version", "{'Version':'2012-10-18','Statement':[" ACL_STMT "]}", false, false,
	 "\"Version\" must be \"2012-10-17\" or \"2008-10-17\", not \"2012-10-18\""},
	{"Version a number", "{'Version':2012,'Statement':[" ACL_STMT "]}", false, false,
	 "not the number 2012"},
	{"Id a number", "{'Id':1,'Statement':[" ACL_STMT "]}", false, false,
	 "\"Id\" must be a string"},
	{"top level an array", "[]", false, false, "the policy must be a JSON object"},
	{"Sid with a space",
	 POLICY("{'Sid':'my sid','Effect':'Allow','Principal':'*','Action':'*','Resource':'*'}"),
	 false, false, "\"Sid\" may hold only letters"},
	{"Sid a number",
	 POLICY("{'Sid':1,'Effect':'Allow','Principal':'*','Action':'*','Resource':'*'}"),
	 false, false, "\"Sid\" must be a string"},

	{"Principal a bare service",
	 POLICY("{'Effect':'Allow','Principal':'cloudtrail','Action':'*','Resource':'*'}"),
	 false, false, "\"Principal\" must be \"*\" or an object"},
	{"Principal empty object",
	 POLICY("{'Effect':'Allow','Principal':{},'Action':'*','Resource':'*'}"),
	 false, false, "must name at least one of"},
	{"Principal member in the wrong case",
	 POLICY("{'Effect':'Allow','Principal':{'service':'x'},'Action':'*','Resource':'*'}"),
	 false, false, "did you mean \"Service\"?"},
	{"Principal Service empty array",
	 POLICY("{'Effect':'Allow','Principal':{'Service':[]},'Action':'*','Resource':'*'}"),
	 false, false, "\"Principal\" \"Service\" must be a string or a non-empty array of strings"},
	{"Principal AWS a number",
	 POLICY("{'Effect':'Allow','Principal':{'AWS':['*',5]},'Action':'*','Resource':'*'}"),
	 false, false, "\"Principal\" \"AWS\"[1] must be a string, not the number 5"},

	{"Action without a service",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'s3GetObject','Resource':'*'}"),
	 false, false, "each \"Action\" entry must be \"*\" or \"service:Action\""},
	{"Action with a space",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':['s3:Get Object'],'Resource':'*'}"),
	 false, false, "not \"s3:Get Object\""},
	{"Action empty array",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':[],'Resource':'*'}"),
	 false, false, "\"Action\" must be a string or a non-empty array"},
	{"NotAction a number",
	 POLICY("{'Effect':'Allow','Principal':'*','NotAction':3,'Resource':'*'}"),
	 false, false, "\"NotAction\" must be a string"},

	{"resource for another bucket",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'arn:aws:s3:::other/*'}"),
	 false, false, "Policy has invalid resource"},
	{"resource for a longer bucket name",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'arn:aws:s3:::" B "x/*'}"),
	 false, false, "Policy has invalid resource"},
	{"resource of another service",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','NotResource':"
		"['arn:aws:s3:::" B "','arn:aws:sns:us-east-1:" A ":t']}"),
	 false, false, "\"NotResource\" \"arn:aws:sns:"},
	{"resource wildcard bucket",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'arn:aws:s3:::*'}"),
	 false, true, NULL},
	{"resource wildcard in the bucket name",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'arn:aws:s3:::trail-*/x'}"),
	 false, true, NULL},
	{"resource ? in the bucket name",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'arn:aws:s3:::trail?bucket'}"),
	 false, true, NULL},
	{"resource wildcard not matching the bucket",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'arn:aws:s3:::other*'}"),
	 false, false, "Policy has invalid resource"},

	{"Condition value types",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Condition':{"
		"'StringEquals':{'a:b':'x','c:d':['x','y']},'Bool':{'aws:SecureTransport':true},"
		"'NumericLessThan':{'s3:max-keys':10},'Null':{'x:y':[false,'true',1]}}}"),
	 false, true, NULL},
	{"Condition value null",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Condition':{"
		"'StringEquals':{'a:b':null}}}"),
	 false, false, "Condition \"StringEquals\" \"a:b\": values must be strings, booleans, "
	 "numbers or a non-empty array of them, not null"},
	{"Condition value an object",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Condition':{"
		"'StringEquals':{'a:b':{'c':'d'}}}}"),
	 false, false, "not an object"},
	{"Condition value an empty array",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Condition':{"
		"'StringEquals':{'a:b':[]}}}"),
	 false, false, "not an empty array"},
	{"Condition value array holding an array",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Condition':{"
		"'StringEquals':{'a:b':['x',['y']]}}}"),
	 false, false, "not an array"},
	{"Condition operator not an object",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Condition':{"
		"'StringEquals':'x'}}"),
	 false, false, "Condition \"StringEquals\" must be an object"},
	{"Condition not an object",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Condition':[]}"),
	 false, false, "\"Condition\" must be an object"},
	{"Condition operator twice",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'*','Resource':'*','Condition':{"
		"'Bool':{'a:b':true},'Bool':{'a:b':false}}}"),
	 false, false, "has member \"Bool\" twice"},

	{"not JSON", "{'Version':'2012-10-17',}", false, false,
	 "not valid JSON: syntax error at line 1, column 25, at \"}\""},
	{"syntax error on line 3", "{\n  'Version': '2012-10-17',\n  'Statement' []}", false, false,
	 "line 3, column 15"},
	{"empty document", "", false, false, "the policy is empty"},
	{"blank document", " \n ", false, false, "the policy is empty"},
	{"cut-off document", "{'Version':'2012-10-17'", false, false,
	 "ends before every { and [ is closed"},
	{"cut-off string", "{'Version':'2012-", false, false, "ends inside a string"},
	{"not UTF-8", "{'Id':'\xff','Statement':[" ACL_STMT "]}", false, false, "not valid UTF-8"},
	{"cut-off UTF-8", "{'Id':'x\xe2\x9c", false, false, "a cut-off character at byte offset 8"},
	{"overlong UTF-8", "{'Id':'\xc0\xaf'}", false, false, "not valid UTF-8"},
	{"surrogate in UTF-8", "{'Id':'\xed\xa0\x80'}", false, false, "not valid UTF-8"},
	{"UTF-8 in Id", "{'Id':'pol\xc3\xadtica \xe2\x9c\x93 \xf0\x9f\x93\x9c','Statement':["
	 ACL_STMT "]}", false, true, NULL},

	/* partial: cut-off documents pass, errors no continuation repairs fail */
	{"partial: empty", "", true, true, NULL},
	{"partial: blank", "  \n", true, true, NULL},
	{"partial: open brace", "{", true, true, NULL},
	{"partial: inside a literal", "{'Id':'x','Statement':[{'Condition':{'Bool':{'a:b':tr",
	 true, true, NULL},
	{"partial: inside a number", "{'Statement':[{'Condition':{'Null':{'a:b':1e", true, true, NULL},
	{"partial: a minus sign", "{'Statement':[{'Condition':{'Null':{'a:b':-", true, true, NULL},
	{"partial: inside an escape", "{'Id':'\\u00", true, true, NULL},
	{"partial: inside a surrogate pair", "{'Id':'\\ud83d\\ude", true, true, NULL},
	{"partial: cut-off UTF-8 character", "{'Id':'pol\xc3", true, true, NULL},
	{"partial: cut-off 4-byte character", "{'Id':'x\xf0\x9f\x93", true, true, NULL},
	{"partial: complete but invalid", "{'Version':'2012-10-17'}", true, false,
	 "\"Statement\" is missing"},
	{"partial: complete and valid", CONSOLE, true, true, NULL},
	{"partial: garbage", "x", true, false, "syntax error at line 1, column 1"},
	{"partial: word", "nope", true, false, "syntax error at line 1, column 1, at \"nope\""},
	{"partial: wrong closer", "{]", true, false, "column 2"},
	{"partial: missing colon", "{'Version' 1", true, false, "column 12"},
	{"partial: extra closer", "{}}", true, false, "column 3"},
	{"partial: trailing text", CONSOLE " x", true, false, "syntax error"},
	{"partial: value after comma missing", "[1,]", true, false, "column 4"},
	{"partial: broken literal", "{'a':tru e", true, false, "syntax error"},
	{"partial: broken number", "{'a':1.2.3", true, false, "syntax error"},
	{"partial: bad escape", "{'a':'\\x", true, false, "syntax error"},
	{"bad \\u escape (cJSON reads it as \\u0000)", "{'Id':'a\\unaws','Statement':[" ACL_STMT "]}",
	 false, false, "syntax error at line 1, column 9"},
	{"escaped NUL", "{'Id':'a\\u0000b','Statement':[" ACL_STMT "]}", true, false,
	 "it has \\u0000 in a string at line 1, column 9"},
	{"partial: lone low surrogate", "{'a':'\\udc00", true, false, "syntax error"},
	{"partial: high surrogate then letter", "{'a':'\\ud83dx", true, false, "syntax error"},
	{"partial: bad UTF-8", "{'Id':'\xff", true, false, "not valid UTF-8"},
	{"partial: cut-off UTF-8 outside a string", "{\xc3", true, false, "syntax error"},
	{"partial: impossible UTF-8 prefix", "{'Id':'\xf4\x90", true, false, "not valid UTF-8"},
};

static void test_grammar(void)
{
	for (size_t i = 0; i < sizeof grammar_cases / sizeof grammar_cases[0]; i++) {
		const struct grammar_case *c = &grammar_cases[i];
		char *doc = dq(c->doc);
		struct ct_err err;
		ct_err_clear(&err);
		int r = policy_validate(doc, strlen(doc), B, c->partial, &err);
		if (c->valid) {
			ok(r == 0, "grammar: %s: valid", c->name);
			if (r)
				diag("%s", err.message);
		} else {
			ok(r == -EINVAL && !strcmp(err.name, "MalformedPolicy") &&
			   strstr(err.message, c->msg),
			   "grammar: %s: MalformedPolicy naming '%s'", c->name, c->msg);
			if (r != -EINVAL || !strstr(err.message, c->msg))
				diag("r=%d %s: %s", r, err.name, err.message);
		}
		free(doc);
	}
}

/* Documents that must pass as partial when cut at every byte, and fail as
 * complete documents at every cut but the last. */
static const char *const truncation_docs[] = {
	CONSOLE,
	"{'Id':'pol\xc3\xadtica \xe2\x9c\x93 \\u00e9\\ud83d\\ude00 \\n','Statement':{'Effect':'Deny',"
	"'Principal':{'AWS':['*']},'Action':['s3:*'],'Resource':['*'],'Condition':{"
	"'Bool':{'aws:SecureTransport':false},'Null':{'a:b':true},"
	"'NumericLessThan':{'s3:max-keys':-1.5e+3}}}}",
};

static void test_truncations(void)
{
	for (size_t d = 0; d < sizeof truncation_docs / sizeof truncation_docs[0]; d++) {
		char *doc = dq(truncation_docs[d]);
		size_t len = strlen(doc), bad_partial = len, bad_full = len;
		struct ct_err err;
		for (size_t n = 0; n < len; n++) {
			if (policy_validate(doc, n, B, true, &err) != 0 && bad_partial == len) {
				bad_partial = n;
				diag("cut at %zu: %s", n, err.message);
			}
			if (policy_validate(doc, n, B, false, &err) == 0 && bad_full == len)
				bad_full = n;
		}
		ok(bad_partial == len, "partial: document %zu cut at each of %zu bytes passes", d, len);
		ok(bad_full == len, "complete: document %zu cut at each of %zu bytes fails", d, len);
		ok(policy_validate(doc, len, B, false, &err) == 0, "complete: document %zu is valid", d);
		free(doc);
	}
}

static void test_limits(void)
{
	/* Valid JSON padded past the size limit: too big, partial or not. */
	char *doc = dq(CONSOLE);
	size_t n = strlen(doc), big = CT_POLICY_MAX + 1;
	char *padded = malloc(big);
	if (!padded)
		abort();
	memset(padded, ' ', big);
	memcpy(padded, doc, n);
	struct ct_err err;
	for (int partial = 0; partial <= 1; partial++) {
		int r = policy_validate(padded, big, B, partial, &err);
		ok(r == -EINVAL && strstr(err.message, "at most 20480"),
		   "limits: %d bytes refused (partial=%d)", (int)big, partial);
	}
	ok(policy_validate(padded, big - 1, B, false, &err) == 0,
	   "limits: exactly %d bytes accepted", CT_POLICY_MAX);
	free(padded);
	free(doc);

	/* Nesting deeper than cJSON reads can never become valid. */
	size_t depth = 1001;
	char *deep = malloc(depth);
	if (!deep)
		abort();
	memset(deep, '[', depth);
	ok(policy_validate(deep, depth, B, true, &err) == -EINVAL &&
	   strstr(err.message, "nests objects and arrays too deeply"),
	   "limits: %zu nested arrays refused even partial", depth);
	ok(policy_validate(deep, depth - 1, B, true, &err) == 0,
	   "limits: %zu nested arrays pass as partial", depth - 1);
	free(deep);

	static const char nul_doc[] = "{\"Id\":\"\0\"}";
	for (int partial = 0; partial <= 1; partial++)
		ok(policy_validate(nul_doc, sizeof nul_doc - 1, B, partial, &err) == -EINVAL &&
		   strstr(err.message, "a NUL byte at byte offset 7"),
		   "limits: a NUL byte is refused (partial=%d)", partial);
	ok(policy_validate(NULL, 0, B, false, &err) == -EINVAL, "limits: NULL document is empty");
	ok(policy_validate(NULL, 0, B, true, &err) == 0, "limits: NULL partial document passes");
}

/* ---- the console policy ---------------------------------------------------- */

struct console_case {
	const char *prefix;
	const char *compact;   /* expected, single-quoted */
};

static const struct console_case console_cases[] = {
	{"", "{'Version':'2012-10-17','Statement':["
	     "{'Sid':'AWSCloudTrailAclCheck20150319','Effect':'Allow',"
	     "'Principal':{'Service':'cloudtrail.amazonaws.com'},'Action':'s3:GetBucketAcl',"
	     "'Resource':'arn:aws:s3:::" B "','Condition':{'StringEquals':{'aws:SourceArn':'" T "'}}},"
	     "{'Sid':'AWSCloudTrailWrite20150319','Effect':'Allow',"
	     "'Principal':{'Service':'cloudtrail.amazonaws.com'},'Action':'s3:PutObject',"
	     "'Resource':'arn:aws:s3:::" B "/AWSLogs/" A "/*','Condition':{'StringEquals':{"
	     "'s3:x-amz-acl':'bucket-owner-full-control','aws:SourceArn':'" T "'}}}]}"},
	{"logs/east", "{'Version':'2012-10-17','Statement':["
	     "{'Sid':'AWSCloudTrailAclCheck20150319','Effect':'Allow',"
	     "'Principal':{'Service':'cloudtrail.amazonaws.com'},'Action':'s3:GetBucketAcl',"
	     "'Resource':'arn:aws:s3:::" B "','Condition':{'StringEquals':{'aws:SourceArn':'" T "'}}},"
	     "{'Sid':'AWSCloudTrailWrite20150319','Effect':'Allow',"
	     "'Principal':{'Service':'cloudtrail.amazonaws.com'},'Action':'s3:PutObject',"
	     "'Resource':'arn:aws:s3:::" B "/logs/east/AWSLogs/" A "/*','Condition':{'StringEquals':{"
	     "'s3:x-amz-acl':'bucket-owner-full-control','aws:SourceArn':'" T "'}}}]}"},
};

static void test_console(void)
{
	for (size_t i = 0; i < sizeof console_cases / sizeof console_cases[0]; i++) {
		const struct console_case *c = &console_cases[i];
		struct buf out;
		buf_init(&out, CT_POLICY_MAX);
		buf_puts(&out, "x");   /* the policy is appended, not written over */
		int r = policy_for_cloudtrail(B, c->prefix, A, T, &out);
		ok(r == 0, "console: prefix '%s': built", c->prefix);
		const char *text = buf_str(&out) + 1;
		ok(buf_str(&out)[0] == 'x' && strchr(text, '\n'), "console: prefix '%s': appended, pretty",
		   c->prefix);
		json *j = json_parse(text, strlen(text), NULL);
		char *compact = j ? json_print(j, false) : NULL;
		char *want = dq(c->compact);
		ok(compact && !strcmp(compact, want), "console: prefix '%s': exactly the reference policy",
		   c->prefix);
		if (compact && strcmp(compact, want))
			diag("got %s", compact);
		struct ct_err err;
		ok(policy_validate(text, strlen(text), B, false, &err) == 0,
		   "console: prefix '%s': passes the grammar", c->prefix);
		ok(policy_allows_cloudtrail(text, strlen(text), B, c->prefix, A, R, T, &err) == 0,
		   "console: prefix '%s': allows CloudTrail", c->prefix);
		ok(policy_allows_cloudtrail(text, strlen(text), B, c->prefix, A, R, T_OTHER, &err) == -EACCES,
		   "console: prefix '%s': refuses another trail", c->prefix);
		free(want);
		free(compact);
		json_free(j);
		buf_release(&out);
	}

	struct buf out;
	buf_init(&out, 16);
	ok(policy_for_cloudtrail(B, "", A, T, &out) == -E2BIG, "console: a full buffer gives -E2BIG");
	ok(out.len == 0, "console: a full buffer is left unchanged");
	buf_release(&out);
	buf_init(&out, CT_POLICY_MAX);
	ok(policy_for_cloudtrail(B, NULL, A, T, &out) == 0 && strstr(buf_str(&out), B "/AWSLogs/"),
	   "console: NULL prefix is no prefix");
	buf_release(&out);
}

/* ---- evaluation -------------------------------------------------------------- */

struct eval_case {
	const char *name;
	const char *doc;      /* single-quoted JSON */
	const char *prefix;
	bool allowed;
	const char *msg;      /* substring of the message when refused */
};

static const struct eval_case eval_cases[] = {
	{"console policy", CONSOLE, "", true, NULL},
	{"console policy with prefix", CONSOLE_PFX, "logs", true, NULL},
	{"policy without the prefix, trail with one", CONSOLE, "logs", false,
	 "no statement allows cloudtrail.amazonaws.com s3:PutObject on arn:aws:s3:::" B
	 "/logs/AWSLogs/" A "/CloudTrail/" R "/* (log files); add an Allow statement with "
	 "Principal {\"Service\": \"cloudtrail.amazonaws.com\"}, Action \"s3:PutObject\", "
	 "Resource \"arn:aws:s3:::" B "/logs/AWSLogs/" A "/*\" and Condition {\"StringEquals\": "
	 "{\"s3:x-amz-acl\": \"bucket-owner-full-control\", \"aws:SourceArn\": \"" T "\"}}"},
	{"policy with a prefix, trail without", CONSOLE_PFX, "", false, "s3:PutObject"},
	{"wrong SourceArn",
	 POLICY("{'Sid':'Acl','Effect':'Allow'," PRINC ",'Action':'s3:GetBucketAcl',"
		"'Resource':'arn:aws:s3:::" B "','Condition':{'StringEquals':{'aws:SourceArn':'" T_OTHER "'}}},"
		WRITE(RES_NOPFX, COND_CONSOLE)),
	 "", false,
	 "Incorrect S3 bucket policy is detected for bucket: " B ": no statement allows "
	 "cloudtrail.amazonaws.com s3:GetBucketAcl on arn:aws:s3:::" B " (the bucket); "
	 "statement \"Acl\" (Statement[0]) would, but its condition \"StringEquals\" "
	 "\"aws:SourceArn\" does not hold for the request's value \"" T "\"; add an Allow "
	 "statement with Principal {\"Service\": \"cloudtrail.amazonaws.com\"}, Action "
	 "\"s3:GetBucketAcl\", Resource \"arn:aws:s3:::" B "\" and Condition {\"StringEquals\": "
	 "{\"aws:SourceArn\": \"" T "\"}}"},
	{"SourceArn by StringLike wildcard",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringLike':{'aws:SourceArn':'arn:aws:cloudtrail:*:" A ":trail/*'}"))),
	 "", true, NULL},
	{"StringLike wildcard for another account",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringLike':{'aws:SourceArn':'arn:aws:cloudtrail:*:999999999999:trail/*'}"))),
	 "", false, "\"StringLike\" \"aws:SourceArn\" does not hold"},
	{"SourceArn by ArnLike",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'ArnLike':{'aws:SourceArn':'arn:aws:cloudtrail:us-*:" A ":trail/my*'}"))),
	 "", true, NULL},
	{"SourceArn by ArnEquals",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX, COND("'ArnEquals':{'aws:SourceArn':'" T "'}"))),
	 "", true, NULL},
	{"ArnLike wildcard does not span a colon",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'ArnLike':{'aws:SourceArn':'arn:aws:cloudtrail:*:trail/*'}"))),
	 "", false, "ArnLike"},
	{"ArnNotLike another account",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'ArnNotLike':{'aws:SourceArn':'arn:aws:cloudtrail:*:999999999999:*'}"))),
	 "", true, NULL},
	{"no acl condition", POLICY(ACL_STMT "," WRITE(RES_NOPFX, ",'Condition':{'StringEquals':"
					"{'aws:SourceArn':'" T "'}}")), "", true, NULL},
	{"no conditions at all", POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX, "")), "", true, NULL},
	{"acl condition with another value",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND("'StringEquals':{'s3:x-amz-acl':'private'}"))),
	 "", false, "\"s3:x-amz-acl\" does not hold for the request's value "
	 "\"bucket-owner-full-control\""},
	{"acl condition on GetBucketAcl (no such header there)",
	 POLICY("{'Effect':'Allow'," PRINC ",'Action':['s3:GetBucketAcl','s3:PutObject'],"
		"'Resource':['arn:aws:s3:::" B "','arn:aws:s3:::" B "/*']"
		COND("'StringEquals':{'s3:x-amz-acl':'bucket-owner-full-control'}") "}"),
	 "", false, "the request has no such key"},
	{"s3:* and principal *",
	 POLICY("{'Effect':'Allow','Principal':'*','Action':'s3:*',"
		"'Resource':['arn:aws:s3:::" B "','arn:aws:s3:::" B "/*']}"),
	 "", true, NULL},
	{"action * and principal AWS *, Statement an object",
	 "{'Statement':{'Effect':'Allow','Principal':{'AWS':'*'},'Action':'*','Resource':'*'}}",
	 "", true, NULL},
	{"action names are case-insensitive",
	 POLICY("{'Effect':'Allow'," PRINC ",'Action':['S3:getbucketacl','s3:PUTOBJECT'],"
		"'Resource':'*'}"),
	 "", true, NULL},
	{"action ? wildcard",
	 POLICY("{'Effect':'Allow'," PRINC ",'Action':['s3:GetBucketAc?','s3:P?tObject'],"
		"'Resource':'*'}"),
	 "", true, NULL},
	{"resources are case-sensitive",
	 POLICY(ACL_STMT "," WRITE("'arn:aws:s3:::" B "/awslogs/" A "/*'", COND_CONSOLE)),
	 "", false, "log files"},
	{"Deny on s3:PutObject", POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND_CONSOLE) "," DENY_PUT),
	 "", false,
	 "Incorrect S3 bucket policy is detected for bucket: " B ": statement \"DenyPut\" "
	 "(Statement[2]) denies cloudtrail.amazonaws.com s3:PutObject on arn:aws:s3:::" B
	 "/AWSLogs/" A "/CloudTrail/" R "/* (log files)"},
	{"Deny without a Sid",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND_CONSOLE) ","
		"{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':'arn:aws:s3:::" B "'}"),
	 "", false, ": Statement[2] denies cloudtrail.amazonaws.com s3:GetBucketAcl"},
	{"Deny on other actions only",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND_CONSOLE) ","
		"{'Effect':'Deny','Principal':'*','Action':'s3:Delete*','Resource':'*'}"),
	 "", true, NULL},
	{"Deny unless secure transport",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND_CONSOLE) ","
		"{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':'*',"
		"'Condition':{'Bool':{'aws:SecureTransport':'false'}}}"),
	 "", true, NULL},
	{"Bool with a JSON boolean",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX, COND("'Bool':{'aws:SecureTransport':true}"))),
	 "", true, NULL},
	{"Bool false on a secure request",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX, COND("'Bool':{'aws:SecureTransport':false}"))),
	 "", false, "\"Bool\""},
	{"NotResource allows the AWSLogs tree",
	 POLICY("{'Effect':'Allow'," PRINC ",'Action':'s3:*',"
		"'NotResource':'arn:aws:s3:::" B "/private/*'}"),
	 "", true, NULL},
	{"Deny NotResource outside AWSLogs hits the bucket ARN",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND_CONSOLE) ","
		"{'Sid':'OnlyLogs','Effect':'Deny','Principal':'*','Action':'*',"
		"'NotResource':'arn:aws:s3:::" B "/AWSLogs/*'}"),
	 "", false, "statement \"OnlyLogs\" (Statement[2]) denies cloudtrail.amazonaws.com s3:GetBucketAcl"},
	{"NotAction",
	 POLICY("{'Effect':'Allow'," PRINC ",'NotAction':'s3:Delete*','Resource':'*'}"),
	 "", true, NULL},
	{"NotAction excluding PutObject",
	 POLICY("{'Effect':'Allow'," PRINC ",'NotAction':'s3:Put*','Resource':'*'}"),
	 "", false, "s3:PutObject"},
	{"missing GetBucketAcl statement", POLICY(WRITE(RES_NOPFX, COND_CONSOLE)), "", false,
	 "no statement allows cloudtrail.amazonaws.com s3:GetBucketAcl on arn:aws:s3:::" B
	 " (the bucket)"},
	{"bucket-wide object Resource",
	 POLICY(ACL_STMT "," WRITE("'arn:aws:s3:::" B "/*'", COND_CONSOLE)), "logs", true, NULL},
	{"Resource on CloudTrail/ but not CloudTrail-Digest/",
	 POLICY(ACL_STMT "," WRITE("'arn:aws:s3:::" B "/AWSLogs/" A "/CloudTrail/*'", COND_CONSOLE)),
	 "", false, "s3:PutObject on arn:aws:s3:::" B "/AWSLogs/" A "/CloudTrail-Digest/" R
	 "/* (digest files)"},
	{"digest Resource naming this trail",
	 POLICY(ACL_STMT "," WRITE("['arn:aws:s3:::" B "/AWSLogs/" A "/CloudTrail/*',"
		"'arn:aws:s3:::" B "/AWSLogs/" A "/CloudTrail-Digest/" R "/*/" A "_CloudTrail-Digest_"
		R "_mytrail_" R "_*.json.gz']", COND_CONSOLE)),
	 "", true, NULL},
	{"digest Resource naming another trail",
	 POLICY(ACL_STMT "," WRITE("['arn:aws:s3:::" B "/AWSLogs/" A "/CloudTrail/*',"
		"'arn:aws:s3:::" B "/AWSLogs/" A "/CloudTrail-Digest/*_other_*']", COND_CONSOLE)),
	 "", false, "digest files"},
	{"Resource with ?", POLICY(ACL_STMT "," WRITE("'arn:aws:s3:::" B "/AWSLogs/12345678901?/*'",
						     COND_CONSOLE)), "", true, NULL},
	{"unknown operator on an Allow",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND("'StringEqualz':{'aws:SourceArn':'" T "'}"))),
	 "", false, "its condition \"StringEqualz\" is not an operator trailfs evaluates"},
	{"set operator on an Allow (not evaluated)",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX,
		COND("'ForAnyValue:StringEquals':{'aws:SourceArn':'" T "'}"))),
	 "", false, "ForAnyValue:StringEquals"},
	{"unknown operator on a Deny",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND_CONSOLE) ","
		"{'Effect':'Deny','Principal':'*','Action':'s3:PutObject','Resource':'*',"
		"'Condition':{'NumericLessThan':{'s3:max-keys':'10'}}}"),
	 "", true, NULL},
	{"aws:SourceAccount",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEquals':{'aws:SourceAccount':'" A "'}"))),
	 "", true, NULL},
	{"aws:SourceAccount as a number",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEquals':{'aws:SourceAccount':" A "}"))),
	 "", true, NULL},
	{"StringNotEquals another SourceArn",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringNotEquals':{'aws:SourceArn':'" T_OTHER "'}"))),
	 "", true, NULL},
	{"StringNotEquals this SourceArn",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringNotEquals':{'aws:SourceArn':['" T_OTHER "','" T "']}"))),
	 "", false, "StringNotEquals"},
	{"StringNotEquals on an absent key",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX, COND("'StringNotEquals':{'aws:SourceVpc':'v'}"))),
	 "", true, NULL},
	{"StringEquals on an absent key",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX, COND("'StringEquals':{'aws:SourceVpc':'v'}"))),
	 "", false, "\"aws:SourceVpc\" does not hold: the request has no such key"},
	{"StringEqualsIfExists on an absent key",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEqualsIfExists':{'aws:SourceVpc':'v'}"))),
	 "", true, NULL},
	{"StringEqualsIfExists on a present key",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEqualsIfExists':{'aws:SourceArn':'" T_OTHER "'}"))),
	 "", false, "StringEqualsIfExists"},
	{"StringEqualsIgnoreCase",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEqualsIgnoreCase':{'aws:SourceArn':'ARN:AWS:CLOUDTRAIL:US-EAST-1:" A
		     ":TRAIL/MYTRAIL'}"))),
	 "", true, NULL},
	{"StringEquals is case-sensitive",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEquals':{'aws:SourceArn':'ARN:AWS:CLOUDTRAIL:US-EAST-1:" A
		     ":TRAIL/MYTRAIL'}"))),
	 "", false, "StringEquals"},
	{"condition keys are case-insensitive",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEquals':{'AWS:SOURCEARN':'" T "','S3:X-Amz-Acl':'bucket-owner-full-control'}"))),
	 "", true, NULL},
	{"values of one key are ORed",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEquals':{'aws:SourceArn':['" T_OTHER "','" T "']}"))),
	 "", true, NULL},
	{"keys are ANDed",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEquals':{'aws:SourceArn':'" T "','aws:SourceAccount':'999999999999'}"))),
	 "", false, "aws:SourceAccount"},
	{"operators are ANDed",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX,
		COND("'StringEquals':{'aws:SourceArn':'" T "'},'StringLike':{'s3:x-amz-acl':'public*'}"))),
	 "", false, "StringLike"},
	{"Null false on a present key",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX, COND("'Null':{'aws:SourceArn':'false'}"))),
	 "", true, NULL},
	{"Null true on a present key",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX, COND("'Null':{'aws:SourceArn':true}"))),
	 "", false, "\"Null\""},
	{"Null true on an absent key",
	 POLICY(ACL_STMT_NO_COND "," WRITE(RES_NOPFX, COND("'Null':{'aws:SourceVpc':'true'}"))),
	 "", true, NULL},
	{"Service principal in an array",
	 POLICY("{'Effect':'Allow','Principal':{'Service':['ec2.amazonaws.com',"
		"'cloudtrail.amazonaws.com']},'Action':'s3:*','Resource':'*'}"),
	 "", true, NULL},
	{"another service principal",
	 POLICY("{'Effect':'Allow','Principal':{'Service':'config.amazonaws.com'},"
		"'Action':'s3:*','Resource':'*'}"),
	 "", false, "no statement allows"},
	{"an account principal",
	 POLICY("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::" A ":root'},"
		"'Action':'s3:*','Resource':'*'}"),
	 "", false, "no statement allows"},
	{"Deny NotPrincipal CloudTrail",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND_CONSOLE) ","
		"{'Effect':'Deny','NotPrincipal':{'Service':'cloudtrail.amazonaws.com'},"
		"'Action':'s3:PutObject','Resource':'*'}"),
	 "", true, NULL},
	{"Deny NotPrincipal an account",
	 POLICY(ACL_STMT "," WRITE(RES_NOPFX, COND_CONSOLE) ","
		"{'Sid':'OnlyMe','Effect':'Deny','NotPrincipal':{'AWS':'arn:aws:iam::" A ":root'},"
		"'Action':'s3:PutObject','Resource':'*'}"),
	 "", false, "\"OnlyMe\""},
	{"not JSON", "{'Statement':", "", false,
	 "Incorrect S3 bucket policy is detected for bucket: " B ": the policy is not valid JSON"},
	{"not a valid policy", POLICY("{'Effect':'allow','Principal':'*','Action':'*','Resource':'*'}"),
	 "", false, "\"Effect\" must be \"Allow\" or \"Deny\""},
};

static void test_eval(void)
{
	for (size_t i = 0; i < sizeof eval_cases / sizeof eval_cases[0]; i++) {
		const struct eval_case *c = &eval_cases[i];
		char *doc = dq(c->doc);
		struct ct_err err;
		ct_err_clear(&err);
		int r = policy_allows_cloudtrail(doc, strlen(doc), B, c->prefix, A, R, T, &err);
		if (c->allowed) {
			ok(r == 0, "eval: %s: allowed", c->name);
			if (r)
				diag("%s", err.message);
		} else {
			ok(r == -EACCES && !strcmp(err.name, INSUFFICIENT) && strstr(err.message, c->msg),
			   "eval: %s: refused with '%s'", c->name, c->msg);
			if (r != -EACCES || !strstr(err.message, c->msg))
				diag("r=%d %s: %s", r, err.name, err.message);
		}
		free(doc);
	}
}

/* ---- glob ----------------------------------------------------------------- */

struct glob_case {
	const char *pattern, *s;
	bool ignore_case, match;
};

static const struct glob_case glob_cases[] = {
	{"", "", false, true},
	{"", "a", false, false},
	{"*", "", false, true},
	{"*", "anything/at:all", false, true},
	{"?", "", false, false},
	{"?", "a", false, true},
	{"?", "ab", false, false},
	{"?", "\xc3\xa9", false, true},           /* one character, two bytes */
	{"a?c", "a\xe2\x9c\x93" "c", false, true},
	{"abc", "abc", false, true},
	{"abc", "abd", false, false},
	{"abc", "ABC", false, false},
	{"abc", "ABC", true, true},
	{"s3:get*", "s3:GetObject", true, true},
	{"s3:get*", "s3:GetObject", false, false},
	{"a*b*c", "aXXbYYc", false, true},
	{"a*b*c", "aXXbYY", false, false},
	{"a*b", "abab", false, true},
	{"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
	{"**", "x", false, true},
	{"*?", "", false, false},
	{"*?", "x", false, true},
	{"arn:aws:s3:::b/*", "arn:aws:s3:::b/AWSLogs/1/x.json.gz", false, true},
	{"arn:aws:s3:::b/*", "arn:aws:s3:::b", false, false},
	{"arn:aws:s3:::b*", "arn:aws:s3:::b", false, true},
	{"arn:aws:cloudtrail:*:1:trail/*", "arn:aws:cloudtrail:us-east-1:1:trail/t", false, true},
	{"arn:aws:cloudtrail:*:2:trail/*", "arn:aws:cloudtrail:us-east-1:1:trail/t", false, false},
};

static void test_glob(void)
{
	for (size_t i = 0; i < sizeof glob_cases / sizeof glob_cases[0]; i++) {
		const struct glob_case *c = &glob_cases[i];
		ok(policy_glob_match(c->pattern, c->s, c->ignore_case) == c->match,
		   "glob: '%s' %s '%s'%s", c->pattern, c->match ? "matches" : "does not match", c->s,
		   c->ignore_case ? " ignoring case" : "");
	}
	ok(!policy_glob_match(NULL, "a", false) && !policy_glob_match("a", NULL, false),
	   "glob: NULL matches nothing");
}

int main(void)
{
	test_grammar();
	test_truncations();
	test_limits();
	test_console();
	test_eval();
	test_glob();
	return tap_done();
}
