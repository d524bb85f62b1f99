/* Unit tests for backend/kmspolicy.c: the key policy grammar, IAM's
 * evaluation with trailfs's principal mapping (users, root, "*" with
 * kms:CallerAccount, the CloudTrail service), explicit deny, conditions,
 * the console's policy for a trail's key and the CloudTrail check.
 *
 * Policies are written with single quotes; dq() turns them into JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kmspolicy.h"
#include "tap.h"

#define A "123456789012"
#define OTHER_A "210987654321"
#define KEY "arn:aws:kms:us-east-1:" A ":key/0b5c3a4e-1f2d-4c6b-8a9e-0123456789ab"
#define TRAIL "arn:aws:cloudtrail:us-east-1:" A ":trail/audit"
#define TRAIL2 "arn:aws:cloudtrail:us-east-1:" A ":trail/other"

static char *dq(const char *s)
{
	char *d = strdup(s);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

#define POLICY(...) "{'Version':'2012-10-17','Statement':[" __VA_ARGS__ "]}"
#define ST(effect, principal, action, rest) \
	"{'Effect':'" effect "','Principal':" principal ",'Action':" action ",'Resource':'*'" rest "}"
#define ROOT "{'AWS':'arn:aws:iam::" A ":root'}"
#define ALICE "{'AWS':'arn:aws:iam::" A ":user/alice'}"
#define CT "{'Service':'cloudtrail.amazonaws.com'}"
#define CTX_LIKE ",'Condition':{'StringLike':{'kms:EncryptionContext:aws:cloudtrail:arn':'arn:aws:cloudtrail:*:" A ":trail/*'}}"
#define CALLER ",'Condition':{'StringEquals':{'kms:CallerAccount':'" A "'}}"

static void test_grammar(void)
{
	static const struct { const char *doc; const char *want; } cases[] = {
		{POLICY(ST("Allow", ROOT, "'kms:*'", "")), NULL},
		{"{'Statement':" ST("Allow", "'*'", "'kms:Decrypt'", "") "}", NULL},
		{POLICY(ST("Allow", "{'AWS':['" A "','arn:aws:iam::" A ":user/p/bob']}", "['kms:Decrypt','kms:ReEncrypt*']", "")), NULL},
		{POLICY("{'Sid':'Enable IAM User Permissions','Effect':'Deny','Principal':" CT ",'NotAction':'kms:Decrypt','NotResource':'arn:aws:kms:*'}"), NULL},
		{POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", CTX_LIKE)), NULL},
		{POLICY(ST("Allow", "{'AWS':'*'}", "'kms:Decrypt'", ",'Condition':{'Null':{'kms:EncryptionContext:aws:cloudtrail:arn':false}}")), NULL},
		{"", "empty"},
		{"{", "ends too early"},
		{"{'Statement':[]}x", "not valid JSON"},
		{"[]", "must be a JSON object"},
		{"{'Version':'2012-10-18','Statement':" ST("Allow", ROOT, "'kms:*'", "") "}", "Version"},
		{"{'Statement':[]}", "non-empty array"},
		{"{'Id':1,'Statement':" ST("Allow", ROOT, "'kms:*'", "") "}", "Id must be a string"},
		{"{}", "no Statement"},
		{"{'Statement':" ST("Allow", ROOT, "'kms:*'", "") ",'Extra':1}", "unknown member \"Extra\""},
		{POLICY(ST("Maybe", ROOT, "'kms:*'", "")), "Effect"},
		{POLICY("{'Effect':'Allow','Action':'kms:*','Resource':'*'}"), "no Principal"},
		{POLICY("{'Effect':'Allow','NotPrincipal':" ROOT ",'Action':'kms:*','Resource':'*'}"), "NotPrincipal"},
		{POLICY(ST("Allow", "'someone'", "'kms:*'", "")), "Principal must be"},
		{POLICY(ST("Allow", "{'AWS':'arn:aws:iam::12345:root'}", "'kms:*'", "")), "Principal.AWS"},
		{POLICY(ST("Allow", "{'AWS':[]}", "'kms:*'", "")), "non-empty array"},
		{POLICY(ST("Allow", "{'Service':'cloudtrail'}", "'kms:*'", "")), "service principal"},
		{POLICY(ST("Allow", "{'Users':'x'}", "'kms:*'", "")), "unknown member \"Users\""},
		{POLICY(ST("Allow", ROOT, "'Decrypt'", "")), "service:Action"},
		{POLICY("{'Effect':'Allow','Principal':" ROOT ",'Action':'kms:*','NotAction':'kms:x','Resource':'*'}"), "exactly one of Action"},
		{POLICY("{'Effect':'Allow','Principal':" ROOT ",'Action':'kms:*'}"), "exactly one of Resource"},
		{POLICY("{'Effect':'Allow','Principal':" ROOT ",'Action':'kms:*','Resource':'arn:aws:s3:::b'}"), "arn:aws:kms"},
		{POLICY(ST("Allow", ROOT, "'kms:*'", ",'Condition':'x'")), "Condition must be an object"},
		{POLICY(ST("Allow", ROOT, "'kms:*'", ",'Condition':{'StringEquals':{'k':{}}}")), "must be a string"},
		{POLICY(ST("Allow", ROOT, "'kms:*'", ",'Condition':{'StringEquals':{'k':[]}}")), "non-empty array"},
		{POLICY("{'Sid':5,'Effect':'Allow','Principal':" ROOT ",'Action':'kms:*','Resource':'*'}"), "Sid must be a string"},
		{"{'Statement':{'Effect':'Allow','Principal':'*','Action':'kms:*','Resource':'*','x':'\xff'}}", "UTF-8"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *doc = dq(cases[i].doc);
		struct ct_err err;
		ct_err_clear(&err);
		int r = kmspolicy_validate(doc, strlen(doc), &err);
		if (!cases[i].want)
			ok(r == 0, "valid: %s (%s)", cases[i].doc, err.message);
		else
			ok(r == -EINVAL && !strcmp(err.name, "MalformedPolicyDocumentException") &&
			   strstr(err.message, cases[i].want), "invalid: %s -> %s (%s)", cases[i].doc,
			   cases[i].want, err.message);
		free(doc);
	}
	char *big = malloc(KMSPOLICY_MAX + 2);
	memset(big, ' ', KMSPOLICY_MAX + 1);
	memcpy(big, "{}", 2);
	struct ct_err err;
	ok(kmspolicy_validate(big, KMSPOLICY_MAX + 1, &err) == -EINVAL && strstr(err.message, "at most 32768"),
	   "over 32 KB: refused (%s)", err.message);
	free(big);
	ok(kmspolicy_validate("{\"Statement\":{}}\0", 17, &err) == -EINVAL, "a NUL byte: refused");
}

/* Requests. */
enum who { ROOT_U, ALICE_U, BOB_U, CT_SVC, CT_SVC_OTHER_TRAIL, CT_SVC_NO_SOURCE };

static int eval(const char *policy_sq, const char *action, enum who w, const char *ctx_trail,
		struct ct_err *err)
{
	char *doc = dq(policy_sq);
	struct crypto_context_pair ctx[] = {{"aws:cloudtrail:arn", ctx_trail ? ctx_trail : ""}};
	struct kms_request rq = {.action = action, .key_arn = KEY, .account = A,
				 .context = ctx, .n_context = ctx_trail ? 1 : 0};
	switch (w) {
	case ROOT_U: rq.kind = KMS_PRINCIPAL_USER; rq.user = "root"; rq.uid = 0; break;
	case ALICE_U: rq.kind = KMS_PRINCIPAL_USER; rq.user = "alice"; rq.uid = 1001; break;
	case BOB_U: rq.kind = KMS_PRINCIPAL_USER; rq.user = "bob"; rq.uid = 1002; break;
	case CT_SVC: case CT_SVC_OTHER_TRAIL: case CT_SVC_NO_SOURCE:
		rq.kind = KMS_PRINCIPAL_SERVICE;
		rq.service = KMSPOLICY_CLOUDTRAIL;
		rq.source_arn = w == CT_SVC ? TRAIL : w == CT_SVC_OTHER_TRAIL ? TRAIL2 : NULL;
		rq.source_account = w == CT_SVC_NO_SOURCE ? NULL : A;
		break;
	}
	int r = kmspolicy_evaluate(doc, strlen(doc), &rq, err);
	free(doc);
	return r;
}

static void test_evaluate(void)
{
	static const struct {
		const char *name, *policy, *action;
		enum who who;
		const char *ctx;
		int want;       /* 0 allow, 1 default deny, 2 explicit deny */
	} cases[] = {
		{"root principal is uid 0", POLICY(ST("Allow", ROOT, "'kms:*'", "")), "kms:Decrypt", ROOT_U, TRAIL, 0},
		{"root principal is not alice", POLICY(ST("Allow", ROOT, "'kms:*'", "")), "kms:Decrypt", ALICE_U, TRAIL, 1},
		{"a bare account id is root", POLICY(ST("Allow", "{'AWS':'" A "'}", "'kms:*'", "")), "kms:Decrypt", ROOT_U, TRAIL, 0},
		{"another account's root is nobody here", POLICY(ST("Allow", "{'AWS':'arn:aws:iam::" OTHER_A ":root'}", "'kms:*'", "")), "kms:Decrypt", ROOT_U, TRAIL, 1},
		{"user ARN is the local user", POLICY(ST("Allow", ALICE, "'kms:Decrypt'", "")), "kms:Decrypt", ALICE_U, TRAIL, 0},
		{"user ARN is not another user", POLICY(ST("Allow", ALICE, "'kms:Decrypt'", "")), "kms:Decrypt", BOB_U, TRAIL, 1},
		{"user ARN with a path", POLICY(ST("Allow", "{'AWS':'arn:aws:iam::" A ":user/ops/alice'}", "'kms:Decrypt'", "")), "kms:Decrypt", ALICE_U, TRAIL, 0},
		{"user of another account", POLICY(ST("Allow", "{'AWS':'arn:aws:iam::" OTHER_A ":user/alice'}", "'kms:Decrypt'", "")), "kms:Decrypt", ALICE_U, TRAIL, 1},
		{"a role is nobody", POLICY(ST("Allow", "{'AWS':'arn:aws:iam::" A ":role/alice'}", "'kms:Decrypt'", "")), "kms:Decrypt", ALICE_U, TRAIL, 1},
		{"AWS * with CallerAccount: every user", POLICY(ST("Allow", "{'AWS':'*'}", "'kms:Decrypt'", CALLER)), "kms:Decrypt", BOB_U, TRAIL, 0},
		{"AWS * with CallerAccount: root too", POLICY(ST("Allow", "{'AWS':'*'}", "'kms:Decrypt'", CALLER)), "kms:Decrypt", ROOT_U, TRAIL, 0},
		{"AWS * with CallerAccount: not the service", POLICY(ST("Allow", "{'AWS':'*'}", "'kms:Decrypt'", CALLER)), "kms:Decrypt", CT_SVC, TRAIL, 1},
		{"AWS * with another CallerAccount", POLICY(ST("Allow", "{'AWS':'*'}", "'kms:Decrypt'", ",'Condition':{'StringEquals':{'kms:CallerAccount':'" OTHER_A "'}}")), "kms:Decrypt", BOB_U, TRAIL, 1},
		{"condition key names ignore case", POLICY(ST("Allow", "{'AWS':'*'}", "'kms:Decrypt'", ",'Condition':{'StringEquals':{'KMS:calleraccount':'" A "'}}")), "kms:Decrypt", BOB_U, TRAIL, 0},
		{"Principal * string", POLICY(ST("Allow", "'*'", "'kms:Decrypt'", "")), "kms:Decrypt", BOB_U, NULL, 0},
		{"action not listed", POLICY(ST("Allow", ALICE, "'kms:Encrypt'", "")), "kms:Decrypt", ALICE_U, TRAIL, 1},
		{"action wildcard GenerateDataKey*", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", "")), "kms:GenerateDataKey", CT_SVC, TRAIL, 0},
		{"action case-insensitive", POLICY(ST("Allow", ALICE, "'KMS:decrypt'", "")), "kms:Decrypt", ALICE_U, TRAIL, 0},
		{"NotAction excludes", POLICY("{'Effect':'Allow','Principal':" ALICE ",'NotAction':'kms:Decrypt','Resource':'*'}"), "kms:Decrypt", ALICE_U, TRAIL, 1},
		{"NotAction includes others", POLICY("{'Effect':'Allow','Principal':" ALICE ",'NotAction':'kms:Encrypt','Resource':'*'}"), "kms:Decrypt", ALICE_U, TRAIL, 0},
		{"Resource names this key", POLICY("{'Effect':'Allow','Principal':" ALICE ",'Action':'kms:Decrypt','Resource':'" KEY "'}"), "kms:Decrypt", ALICE_U, TRAIL, 0},
		{"Resource names another key", POLICY("{'Effect':'Allow','Principal':" ALICE ",'Action':'kms:Decrypt','Resource':'arn:aws:kms:us-east-1:" A ":key/other'}"), "kms:Decrypt", ALICE_U, TRAIL, 1},
		{"Resource glob", POLICY("{'Effect':'Allow','Principal':" ALICE ",'Action':'kms:Decrypt','Resource':'arn:aws:kms:*:" A ":key/*'}"), "kms:Decrypt", ALICE_U, TRAIL, 0},
		{"explicit deny wins over allow", POLICY(ST("Allow", ALICE, "'kms:*'", "") "," ST("Deny", ALICE, "'kms:Decrypt'", "")), "kms:Decrypt", ALICE_U, TRAIL, 2},
		{"deny for someone else does not apply", POLICY(ST("Allow", ALICE, "'kms:*'", "") "," ST("Deny", "{'AWS':'arn:aws:iam::" A ":user/bob'}", "'kms:Decrypt'", "")), "kms:Decrypt", ALICE_U, TRAIL, 0},
		{"deny * with a condition that holds", POLICY(ST("Allow", ROOT, "'kms:*'", "") "," ST("Deny", "'*'", "'kms:*'", ",'Condition':{'StringNotEquals':{'kms:EncryptionContext:aws:cloudtrail:arn':'" TRAIL "'}}")), "kms:Decrypt", ROOT_U, TRAIL2, 2},
		{"deny * with a condition that fails", POLICY(ST("Allow", ROOT, "'kms:*'", "") "," ST("Deny", "'*'", "'kms:*'", ",'Condition':{'StringNotEquals':{'kms:EncryptionContext:aws:cloudtrail:arn':'" TRAIL "'}}")), "kms:Decrypt", ROOT_U, TRAIL, 0},
		{"deny with an unknown operator does not apply", POLICY(ST("Allow", ROOT, "'kms:*'", "") "," ST("Deny", "'*'", "'kms:*'", ",'Condition':{'NumericLessThan':{'x':'1'}}")), "kms:Decrypt", ROOT_U, TRAIL, 0},
		{"allow with an unknown operator does not count", POLICY(ST("Allow", ROOT, "'kms:*'", ",'Condition':{'DateLessThan':{'aws:CurrentTime':'2100-01-01'}}")), "kms:Decrypt", ROOT_U, TRAIL, 1},
		{"no statement: default deny", "{'Statement':" ST("Allow", ALICE, "'kms:Encrypt'", "") "}", "kms:Decrypt", BOB_U, TRAIL, 1},
		{"CloudTrail encrypt: StringLike context", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", CTX_LIKE)), "kms:GenerateDataKey", CT_SVC, TRAIL, 0},
		{"CloudTrail encrypt: context of another account", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", CTX_LIKE)), "kms:GenerateDataKey", CT_SVC, "arn:aws:cloudtrail:us-east-1:" OTHER_A ":trail/audit", 1},
		{"CloudTrail encrypt: no context", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", CTX_LIKE)), "kms:GenerateDataKey", CT_SVC, NULL, 1},
		{"service principal is not a user", POLICY(ST("Allow", CT, "'kms:*'", "")), "kms:Decrypt", ROOT_U, TRAIL, 1},
		{"a user principal is not the service", POLICY(ST("Allow", ROOT, "'kms:*'", "")), "kms:GenerateDataKey", CT_SVC, TRAIL, 1},
		{"aws:SourceArn StringEquals", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'StringEquals':{'aws:SourceArn':'" TRAIL "'}}")), "kms:GenerateDataKey", CT_SVC, TRAIL, 0},
		{"aws:SourceArn of another trail", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'StringEquals':{'aws:SourceArn':'" TRAIL "'}}")), "kms:GenerateDataKey", CT_SVC_OTHER_TRAIL, TRAIL, 1},
		{"aws:SourceArn missing", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'StringEquals':{'aws:SourceArn':'" TRAIL "'}}")), "kms:GenerateDataKey", CT_SVC_NO_SOURCE, TRAIL, 1},
		{"aws:SourceArn IfExists when missing", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'StringEqualsIfExists':{'aws:SourceArn':'" TRAIL "'}}")), "kms:GenerateDataKey", CT_SVC_NO_SOURCE, TRAIL, 0},
		{"ArnLike SourceArn", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'ArnLike':{'aws:SourceArn':'arn:aws:cloudtrail:*:" A ":trail/*'}}")), "kms:GenerateDataKey", CT_SVC, TRAIL, 0},
		{"ArnLike does not cross colons", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'ArnLike':{'aws:SourceArn':'arn:aws:cloudtrail:*:trail/*'}}")), "kms:GenerateDataKey", CT_SVC, TRAIL, 1},
		{"ArnEquals SourceArn", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'ArnEquals':{'aws:SourceArn':'" TRAIL "'}}")), "kms:GenerateDataKey", CT_SVC, TRAIL, 0},
		{"aws:SourceAccount", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'StringEquals':{'aws:SourceAccount':'" A "'}}")), "kms:GenerateDataKey", CT_SVC, TRAIL, 0},
		{"aws:SourceAccount of another", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'StringEquals':{'aws:SourceAccount':'" OTHER_A "'}}")), "kms:GenerateDataKey", CT_SVC, TRAIL, 1},
		{"condition list: any value", POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", ",'Condition':{'StringEquals':{'aws:SourceArn':['" TRAIL2 "','" TRAIL "']}}")), "kms:GenerateDataKey", CT_SVC, TRAIL, 0},
		{"context key is case-sensitive", POLICY(ST("Allow", ALICE, "'kms:Decrypt'", ",'Condition':{'StringEquals':{'kms:EncryptionContext:AWS:CloudTrail:ARN':'" TRAIL "'}}")), "kms:Decrypt", ALICE_U, TRAIL, 1},
		{"Null false: context present", POLICY(ST("Allow", ALICE, "'kms:Decrypt'", ",'Condition':{'Null':{'kms:EncryptionContext:aws:cloudtrail:arn':'false'}}")), "kms:Decrypt", ALICE_U, TRAIL, 0},
		{"Null false: context absent", POLICY(ST("Allow", ALICE, "'kms:Decrypt'", ",'Condition':{'Null':{'kms:EncryptionContext:aws:cloudtrail:arn':'false'}}")), "kms:Decrypt", ALICE_U, NULL, 1},
		{"Null true: context absent", POLICY(ST("Allow", ALICE, "'kms:Decrypt'", ",'Condition':{'Null':{'kms:EncryptionContext:aws:cloudtrail:arn':true}}")), "kms:Decrypt", ALICE_U, NULL, 0},
		{"two conditions both must hold", POLICY(ST("Allow", "{'AWS':'*'}", "'kms:Decrypt'", ",'Condition':{'StringEquals':{'kms:CallerAccount':'" A "'},'StringLike':{'kms:EncryptionContext:aws:cloudtrail:arn':'arn:aws:cloudtrail:*:" OTHER_A ":trail/*'}}")), "kms:Decrypt", ALICE_U, TRAIL, 1},
		{"aws:username", POLICY(ST("Allow", "'*'", "'kms:Decrypt'", ",'Condition':{'StringEquals':{'aws:username':'alice'}}")), "kms:Decrypt", ALICE_U, TRAIL, 0},
		{"a broken document allows nothing", "{'Statement':", "kms:Decrypt", ROOT_U, TRAIL, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ct_err err;
		ct_err_clear(&err);
		int r = eval(cases[i].policy, cases[i].action, cases[i].who, cases[i].ctx, &err);
		bool good;
		if (cases[i].want == 0)
			good = r == 0;
		else
			good = r == -EACCES && !strcmp(err.name, "AccessDeniedException") &&
			       strstr(err.message, cases[i].want == 2 ? "explicit deny" : "no resource-based policy");
		ok(good, "%s: %s (%d %s)", cases[i].name,
		   cases[i].want == 0 ? "allowed" : cases[i].want == 1 ? "denied by default" : "denied explicitly",
		   r, err.message);
	}
	struct ct_err err;
	eval(POLICY(ST("Allow", ROOT, "'kms:*'", "")), "kms:Decrypt", ALICE_U, TRAIL, &err);
	ok(!strcmp(err.message, "User: arn:aws:iam::" A ":user/alice is not authorized to perform: "
		   "kms:Decrypt on resource: " KEY " because no resource-based policy allows the "
		   "kms:Decrypt action"), "AWS's denial message: %s", err.message);
	struct kms_request bad = {.action = NULL, .key_arn = KEY, .account = A};
	ok(kmspolicy_evaluate("{}", 2, &bad, &err) == -EINVAL, "a request without an action: -EINVAL");
	struct kms_request nouser = {.action = "kms:Decrypt", .key_arn = KEY, .account = A,
				     .kind = KMS_PRINCIPAL_USER, .uid = 5};
	ok(kmspolicy_evaluate("{}", 2, &nouser, &err) == -EINVAL, "a user without a name: -EINVAL");
}

static void test_console(void)
{
	struct buf b;
	buf_init(&b, 1 << 16);
	ok(kmspolicy_for_cloudtrail(A, TRAIL, "alice", 1001, &b) == 0, "console policy built");
	struct ct_err err;
	ok(kmspolicy_validate(b.data, b.len, &err) == 0, "it is a valid key policy (%s)", err.message);
	ok(strstr(b.data, "Allow CloudTrail to encrypt logs") && strstr(b.data, "Enable CloudTrail log decrypt permissions") &&
	   strstr(b.data, "Allow CloudTrail to describe key") && strstr(b.data, "Enable IAM User Permissions"),
	   "it has the console's statements");
	ok(kmspolicy_allows_cloudtrail(b.data, b.len, A, KEY, TRAIL, &err) == 0,
	   "it lets CloudTrail encrypt for the trail (%s)", err.message);
	ok(kmspolicy_allows_cloudtrail(b.data, b.len, A, KEY, TRAIL2, &err) == -EACCES &&
	   !strcmp(err.name, "InsufficientEncryptionPolicyException"), "not for another trail (SourceArn)");
	struct crypto_context_pair ctx[] = {{"aws:cloudtrail:arn", TRAIL}};
	static const struct { const char *user; uint32_t uid; const char *action; int want; const char *name; } who[] = {
		{"alice", 1001, "kms:Decrypt", 0, "the user who set it decrypts"},
		{"root", 0, "kms:Decrypt", 0, "root decrypts"},
		{"bob", 1002, "kms:Decrypt", -EACCES, "another user does not"},
		{"alice", 1001, "kms:PutKeyPolicy", -EACCES, "the user may not edit the policy"},
		{"root", 0, "kms:PutKeyPolicy", 0, "root may edit the policy"},
	};
	for (size_t i = 0; i < sizeof who / sizeof who[0]; i++) {
		struct kms_request rq = {.action = who[i].action, .key_arn = KEY, .account = A,
					 .kind = KMS_PRINCIPAL_USER, .user = who[i].user, .uid = who[i].uid,
					 .context = ctx, .n_context = 1};
		ok(kmspolicy_evaluate(b.data, b.len, &rq, &err) == who[i].want, "console policy: %s", who[i].name);
	}
	struct kms_request nocx = {.action = "kms:Decrypt", .key_arn = KEY, .account = A,
				   .kind = KMS_PRINCIPAL_USER, .user = "alice", .uid = 1001};
	ok(kmspolicy_evaluate(b.data, b.len, &nocx, &err) == -EACCES,
	   "console policy: the user decrypts only with a CloudTrail context");
	buf_reset(&b);
	ok(kmspolicy_for_cloudtrail(A, TRAIL, "root", 0, &b) == 0 && !strstr(b.data, ":user/") &&
	   kmspolicy_validate(b.data, b.len, &err) == 0, "set by root: no user statement, still valid");
	ok(kmspolicy_for_cloudtrail(A, TRAIL, NULL, 5, &b) == -EINVAL, "no user name: -EINVAL");
	buf_release(&b);

	static const struct { const char *policy; int want; const char *name; } checks[] = {
		{POLICY(ST("Allow", ROOT, "'kms:*'", "")), -EACCES, "the default key policy"},
		{POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", CTX_LIKE)), 0, "the documented statement"},
		{POLICY(ST("Allow", CT, "'kms:GenerateDataKey*'", CTX_LIKE) "," ST("Deny", CT, "'kms:*'", "")), -EACCES, "with a Deny for CloudTrail"},
		{POLICY(ST("Allow", CT, "'kms:Encrypt'", "")), -EACCES, "the wrong action"},
		{"{'Statement':", -EACCES, "a broken document"},
	};
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		char *doc = dq(checks[i].policy);
		ct_err_clear(&err);
		int r = kmspolicy_allows_cloudtrail(doc, strlen(doc), A, KEY, TRAIL, &err);
		ok(r == checks[i].want && (r == 0 || !strcmp(err.name, "InsufficientEncryptionPolicyException")),
		   "CloudTrail check: %s (%s)", checks[i].name, err.message);
		free(doc);
	}
}

static bool only_alice(const char *name, void *arg)
{
	(*(int *)arg)++;
	return !strcmp(name, "alice");
}

static void test_principals(void)
{
	static const struct { const char *policy; int want; const char *name; } cases[] = {
		{POLICY(ST("Allow", ALICE, "'kms:*'", "")), 0, "an existing user"},
		{POLICY(ST("Allow", "{'AWS':['arn:aws:iam::" A ":user/ops/alice','" A "']}", "'kms:*'", "")), 0, "a user with a path, an account"},
		{POLICY(ST("Allow", "{'AWS':'arn:aws:iam::" A ":user/mallory'}", "'kms:*'", "")), -EINVAL, "an unknown user"},
		{POLICY(ST("Allow", ROOT, "'kms:*'", "") "," ST("Allow", "{'AWS':['arn:aws:iam::" A ":user/alice','arn:aws:iam::" A ":user/bob']}", "'kms:*'", "")), -EINVAL, "one unknown among several"},
		{POLICY(ST("Allow", "{'AWS':'arn:aws:iam::" OTHER_A ":user/mallory'}", "'kms:*'", "")), 0, "another account's user is not checked"},
		{POLICY(ST("Allow", "{'AWS':'*'}", "'kms:*'", "") "," ST("Allow", CT, "'kms:*'", "")), 0, "\"*\" and services"},
		{"{'Statement':[]}", -EINVAL, "an invalid policy"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *doc = dq(cases[i].policy);
		struct ct_err err;
		ct_err_clear(&err);
		int calls = 0;
		int r = kmspolicy_check_principals(doc, strlen(doc), A, only_alice, &calls, &err);
		ok(r == cases[i].want && (r == 0 || !strcmp(err.name, "MalformedPolicyDocumentException")),
		   "principals: %s (%s)", cases[i].name, err.message);
		free(doc);
	}
	char *doc = dq(POLICY(ST("Allow", "{'AWS':'arn:aws:iam::" A ":user/bob'}", "'kms:*'", "")));
	struct ct_err err;
	int calls = 0;
	kmspolicy_check_principals(doc, strlen(doc), A, only_alice, &calls, &err);
	ok(!strcmp(err.message, "Policy contains a statement with one or more invalid principals. "
		   "(\"arn:aws:iam::" A ":user/bob\": no such local user)") && calls == 1,
	   "KMS's message, with the name: %s", err.message);
	free(doc);
}

int main(void)
{
	test_grammar();
	test_evaluate();
	test_console();
	test_principals();
	return tap_done();
}
