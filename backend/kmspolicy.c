/* KMS key policies: grammar, evaluation for local users and CloudTrail, and
 * the console's policy for a trail's new key.
 *
 * The evaluator runs on documents that passed the grammar check, but it
 * treats every member defensively (a wrong type does not match), so a bug in
 * one half cannot crash the other. */
#include "kmspolicy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_limits.h"
#include "json.h"
#include "policy.h"

#define MALFORMED     "MalformedPolicyDocumentException"
#define DENIED        "AccessDeniedException"
#define INSUFFICIENT  "InsufficientEncryptionPolicyException"
#define VERSION       "2012-10-17"
#define MSG_MAX       (4 * CT_ERR_MESSAGE_MAX)
#define NAME_MAX_LEN  (2 * CT_ARN_MAX)
#define QUOTE_MAX     64
#define CTX_PREFIX    "kms:EncryptionContext:"
/* Request context entries besides the encryption context. */
#define RQ_FIXED_MAX  6

/* ---- text helpers -------------------------------------------------------- */

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool ieq(const char *a, const char *b)
{
	while (*a && lower(*a) == lower(*b))
		a++, b++;
	return lower(*a) == lower(*b);
}

static bool iprefix(const char *s, const char *p)
{
	for (; *p; s++, p++)
		if (lower(*s) != lower(*p))
			return false;
	return true;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[n] == '\0' || s[n] == ':';
}

__attribute__((format(printf, 2, 3)))
static int malformed(struct ct_err *err, const char *fmt, ...)
{
	char m[MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	return ct_fail(err, MALFORMED, "%s", m);
}

/* A value quoted for a message, cut at QUOTE_MAX bytes (at a character
 * boundary), control bytes shown as '?'. */
static const char *quoted(const json *v, char out[QUOTE_MAX + 8])
{
	if (!json_is_string(v)) {
		snprintf(out, QUOTE_MAX + 8, "%s", !v ? "nothing" : json_is_array(v) ? "an array" :
			 json_is_object(v) ? "an object" : json_is_number(v) ? "a number" :
			 json_is_bool(v) ? "a boolean" : "null");
		return out;
	}
	const char *s = json_string(v);
	size_t n = strlen(s), o = 0;
	bool cut = n > QUOTE_MAX;
	if (cut) {
		n = QUOTE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	out[o++] = '"';
	for (size_t i = 0; i < n; i++)
		out[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (cut)
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* A string, or each string of an array (NULL-terminated walk). */

/* ---- grammar --------------------------------------------------------------- */

static int check_members(const json *obj, const char *const *allowed, const char *where,
			 struct ct_err *err)
{
	for (const json *m = json_first(obj); m; m = json_next(m)) {
		const char *k = json_key(m);
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = !strcmp(k, allowed[i]);
		if (!ok) {
			char q[QUOTE_MAX + 8];
			json *name = json_new_string(k);
			int r = malformed(err, "%s has an unknown member %s", where,
					  name ? quoted(name, q) : "?");
			json_free(name);
			return r;
		}
	}
	return 0;
}

/* A string or a non-empty array of strings, each accepted by ok. */
static int check_strings(const json *v, const char *where, bool (*ok)(const char *),
			 const char *want, struct ct_err *err)
{
	char q[QUOTE_MAX + 8];
	if (!json_is_string(v) && !(json_is_array(v) && json_size(v) > 0))
		return malformed(err, "%s must be a string or a non-empty array of strings, not %s",
				 where, quoted(v, q));
	for (const json *e = json_each_first(v); e; e = json_each_next(v, e)) {
		if (!json_is_string(e))
			return malformed(err, "%s must hold strings, not %s", where, quoted(e, q));
		if (ok && !ok(json_string(e)))
			return malformed(err, "%s: %s is not %s", where, quoted(e, q), want);
	}
	return 0;
}

/* "*", a 12-digit account, or an IAM/STS ARN of an account. */
static bool aws_principal_ok(const char *s)
{
	if (!strcmp(s, "*"))
		return true;
	if (strlen(s) == CT_ACCOUNT_LEN && digits(s, CT_ACCOUNT_LEN))
		return true;
	const char *rest;
	if (!strncmp(s, "arn:aws:iam::", 13))
		rest = s + 13;
	else if (!strncmp(s, "arn:aws:sts::", 13))
		rest = s + 13;
	else
		return false;
	return digits(rest, CT_ACCOUNT_LEN) && rest[CT_ACCOUNT_LEN] == ':' && rest[CT_ACCOUNT_LEN + 1];
}

static bool service_principal_ok(const char *s)
{
	size_t n = strlen(s), sfx = strlen(".amazonaws.com");
	if (n <= sfx || strcmp(s + n - sfx, ".amazonaws.com"))
		return false;
	for (size_t i = 0; i < n - sfx; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return true;
}

static bool federated_ok(const char *s)
{
	return s[0] != '\0';
}

static bool action_ok(const char *s)
{
	if (!strcmp(s, "*"))
		return true;
	const char *colon = strchr(s, ':');
	if (!colon || colon == s || !colon[1])
		return false;
	for (const char *p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-'))
			return false;
	for (const char *p = colon + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '*' || *p == '?'))
			return false;
	return true;
}

static bool resource_ok(const char *s)
{
	return !strcmp(s, "*") || !strncmp(s, "arn:aws:kms:", 12);
}

static int check_principal(const json *p, const char *where, struct ct_err *err)
{
	char q[QUOTE_MAX + 8], w[128];
	if (json_is_string(p)) {
		if (strcmp(json_string(p), "*"))
			return malformed(err, "%s.Principal must be \"*\" or an object, not %s", where,
					 quoted(p, q));
		return 0;
	}
	if (!json_is_object(p) || json_size(p) == 0)
		return malformed(err, "%s.Principal must be \"*\" or an object of AWS, Service or "
				 "Federated, not %s", where, quoted(p, q));
	static const char *const members[] = {"AWS", "Service", "Federated", NULL};
	snprintf(w, sizeof w, "%s.Principal", where);
	int r = check_members(p, members, w, err);
	const json *v;
	if (r == 0 && (v = json_get(p, "AWS"))) {
		snprintf(w, sizeof w, "%s.Principal.AWS", where);
		r = check_strings(v, w, aws_principal_ok,
				  "\"*\", an account id or an arn:aws:iam::ACCOUNT:... ARN", err);
	}
	if (r == 0 && (v = json_get(p, "Service"))) {
		snprintf(w, sizeof w, "%s.Principal.Service", where);
		r = check_strings(v, w, service_principal_ok, "a service principal "
				  "(NAME.amazonaws.com)", err);
	}
	if (r == 0 && (v = json_get(p, "Federated"))) {
		snprintf(w, sizeof w, "%s.Principal.Federated", where);
		r = check_strings(v, w, federated_ok, "a provider", err);
	}
	return r;
}

static bool condition_scalar(const json *v)
{
	return json_is_string(v) || json_is_bool(v) || json_is_number(v);
}

static int check_condition(const json *c, const char *where, struct ct_err *err)
{
	char q[QUOTE_MAX + 8];
	if (!json_is_object(c))
		return malformed(err, "%s.Condition must be an object, not %s", where, quoted(c, q));
	for (const json *op = json_first(c); op; op = json_next(op)) {
		if (!json_is_object(op) || json_size(op) == 0)
			return malformed(err, "%s.Condition.%s must be a non-empty object of condition "
					 "keys, not %s", where, json_key(op), quoted(op, q));
		for (const json *k = json_first(op); k; k = json_next(k)) {
			bool ok = condition_scalar(k) ||
				  (json_is_array(k) && json_size(k) > 0);
			for (const json *e = json_is_array(k) ? json_first(k) : NULL; ok && e;
			     e = json_next(e))
				ok = condition_scalar(e);
			if (!ok)
				return malformed(err, "%s.Condition.%s.%s must be a string, boolean, "
						 "number or a non-empty array of them", where,
						 json_key(op), json_key(k));
		}
	}
	return 0;
}

static int check_statement(const json *st, const char *where, struct ct_err *err)
{
	char q[QUOTE_MAX + 8], w[160];
	if (!json_is_object(st))
		return malformed(err, "%s must be an object, not %s", where, quoted(st, q));
	static const char *const members[] = {"Sid", "Effect", "Principal", "Action", "NotAction",
		"Resource", "NotResource", "Condition", NULL};
	if (json_get(st, "NotPrincipal"))
		return malformed(err, "%s: key policies do not support NotPrincipal", where);
	int r = check_members(st, members, where, err);
	if (r < 0)
		return r;
	const json *v = json_get(st, "Sid");
	if (v && !json_is_string(v))
		return malformed(err, "%s.Sid must be a string, not %s", where, quoted(v, q));
	v = json_get(st, "Effect");
	if (!json_is_string(v) || (strcmp(json_string(v), "Allow") && strcmp(json_string(v), "Deny")))
		return malformed(err, "%s.Effect must be \"Allow\" or \"Deny\", not %s", where,
				 quoted(v, q));
	v = json_get(st, "Principal");
	if (!v)
		return malformed(err, "%s has no Principal (every key policy statement needs one)",
				 where);
	if ((r = check_principal(v, where, err)) < 0)
		return r;
	static const char *const pairs[][2] = {{"Action", "NotAction"}, {"Resource", "NotResource"}};
	for (size_t i = 0; i < 2; i++) {
		const json *a = json_get(st, pairs[i][0]), *na = json_get(st, pairs[i][1]);
		if (!a == !na)
			return malformed(err, "%s must have exactly one of %s and %s", where,
					 pairs[i][0], pairs[i][1]);
		snprintf(w, sizeof w, "%s.%s", where, a ? pairs[i][0] : pairs[i][1]);
		r = i == 0 ? check_strings(a ? a : na, w, action_ok, "\"*\" or a service:Action "
					   "pattern", err)
			   : check_strings(a ? a : na, w, resource_ok, "\"*\" or an arn:aws:kms: "
					   "ARN", err);
		if (r < 0)
			return r;
	}
	v = json_get(st, "Condition");
	if (v && (r = check_condition(v, where, err)) < 0)
		return r;
	return 0;
}

static int check_policy(const json *doc, struct ct_err *err)
{
	char q[QUOTE_MAX + 8], w[64];
	if (!json_is_object(doc))
		return malformed(err, "the policy must be a JSON object, not %s", quoted(doc, q));
	static const char *const members[] = {"Version", "Id", "Statement", NULL};
	int r = check_members(doc, members, "the policy", err);
	if (r < 0)
		return r;
	const json *v = json_get(doc, "Version");
	if (v && (!json_is_string(v) || (strcmp(json_string(v), "2012-10-17") &&
					 strcmp(json_string(v), "2008-10-17"))))
		return malformed(err, "Version must be \"2012-10-17\" or \"2008-10-17\", not %s",
				 quoted(v, q));
	v = json_get(doc, "Id");
	if (v && !json_is_string(v))
		return malformed(err, "Id must be a string, not %s", quoted(v, q));
	const json *stmts = json_get(doc, "Statement");
	if (!stmts)
		return malformed(err, "the policy has no Statement");
	if (json_is_object(stmts))
		return check_statement(stmts, "Statement", err);
	if (!json_is_array(stmts) || json_size(stmts) == 0)
		return malformed(err, "Statement must be an object or a non-empty array, not %s",
				 quoted(stmts, q));
	size_t i = 0;
	for (const json *st = json_first(stmts); st; st = json_next(st), i++) {
		snprintf(w, sizeof w, "Statement[%zu]", i);
		if ((r = check_statement(st, w, err)) < 0)
			return r;
	}
	return 0;
}

/* Parse and check; *out is the caller's on success. */
static int parse(const char *doc, size_t len, json **out, struct ct_err *err)
{
	*out = NULL;
	if (!doc || len == 0)
		return malformed(err, "the policy is empty");
	if (len > KMSPOLICY_MAX)
		return malformed(err, "the policy is %zu bytes; a key policy may have at most %d",
				 len, KMSPOLICY_MAX);
	if (!json_utf8_valid(doc, len))
		return malformed(err, "the policy is not valid UTF-8 or holds a NUL byte");
	struct json_scan sc = json_scan(doc, len);
	if (sc.end != JSON_COMPLETE) {
		if (sc.end == JSON_INCOMPLETE)
			return malformed(err, "the policy is not valid JSON: it ends too early");
		size_t line, col;
		json_locate(doc, len, sc.err_off, &line, &col);
		return malformed(err, "the policy is not valid JSON: %s at line %zu, column %zu",
				 sc.why ? sc.why : "syntax error", line, col);
	}
	json *j = json_parse(doc, len, NULL);
	if (!j)
		return malformed(err, "the policy is not valid JSON");
	int r = check_policy(j, err);
	if (r < 0) {
		json_free(j);
		return r;
	}
	*out = j;
	return 0;
}

int kmspolicy_validate(const char *doc, size_t len, struct ct_err *err)
{
	json *j;
	int r = parse(doc, len, &j, err);
	json_free(j);
	return r;
}

int kmspolicy_check_principals(const char *doc, size_t len, const char *account,
			       bool (*user_exists)(const char *name, void *arg), void *arg,
			       struct ct_err *err)
{
	if (!account || !user_exists)
		return -EINVAL;
	json *j;
	int r = parse(doc, len, &j, err);
	if (r < 0)
		return r;
	char prefix[64];
	int pl = snprintf(prefix, sizeof prefix, "arn:aws:iam::%s:user/", account);
	const json *stmts = json_get(j, "Statement");
	for (const json *st = json_each_first(stmts); r == 0 && st; st = json_each_next(stmts, st)) {
		const json *aws = json_get(json_get(st, "Principal"), "AWS");
		for (const json *v = json_each_first(aws); r == 0 && v; v = json_each_next(aws, v)) {
			const char *s = json_string(v);
			if (!s || strncmp(s, prefix, (size_t)pl))
				continue;
			const char *name = strrchr(s + pl, '/');
			name = name ? name + 1 : s + pl;
			if (!*name || !user_exists(name, arg)) {
				char q[QUOTE_MAX + 8];
				r = malformed(err, "Policy contains a statement with one or more invalid "
					      "principals. (%s: no such local user)", quoted(v, q));
			}
		}
	}
	json_free(j);
	return r;
}

/* ---- evaluation ---------------------------------------------------------- */

struct ctx_entry {
	const char *key;
	const char *value;
};

struct eval {
	const struct kms_request *rq;
	const char *principal_arn;       /* USER: root's or the user's ARN */
	struct ctx_entry fixed[RQ_FIXED_MAX];
	size_t n_fixed;
};

/* The request's value for a condition key, or NULL when it has none. */
static const char *ctx_get(const struct eval *e, const char *key)
{
	if (iprefix(key, CTX_PREFIX)) {
		const char *k = key + strlen(CTX_PREFIX);
		for (size_t i = 0; i < e->rq->n_context; i++)
			if (!strcmp(e->rq->context[i].key, k))
				return e->rq->context[i].value;
		return NULL;
	}
	for (size_t i = 0; i < e->n_fixed; i++)
		if (ieq(e->fixed[i].key, key))
			return e->fixed[i].value;
	return NULL;
}

enum cmp { CMP_EQ, CMP_EQ_ICASE, CMP_LIKE, CMP_ARN, CMP_BOOL, CMP_NULL };

static const struct {
	const char *name;
	enum cmp cmp;
	bool negated;
} ops[] = {
	{"StringEquals", CMP_EQ, false},
	{"StringNotEquals", CMP_EQ, true},
	{"StringEqualsIgnoreCase", CMP_EQ_ICASE, false},
	{"StringNotEqualsIgnoreCase", CMP_EQ_ICASE, true},
	{"StringLike", CMP_LIKE, false},
	{"StringNotLike", CMP_LIKE, true},
	{"ArnEquals", CMP_ARN, false},
	{"ArnNotEquals", CMP_ARN, true},
	{"ArnLike", CMP_ARN, false},
	{"ArnNotLike", CMP_ARN, true},
	{"Bool", CMP_BOOL, false},
	{"Null", CMP_NULL, false},
};

/* A condition value as text ("true", "12"), into tmp. */
static const char *value_text(const json *v, char tmp[64])
{
	if (json_is_string(v))
		return json_string(v);
	if (json_is_bool(v))
		return json_bool(v) ? "true" : "false";
	if (json_is_number(v)) {
		snprintf(tmp, 64, "%.17g", json_number(v));
		return tmp;
	}
	return NULL;
}

/* ARNs compare segment by segment, six of them, the last taking the rest;
 * each segment a glob.  With globs on whole strings "arn:aws:*" would also
 * match across colons, which IAM's ArnLike does not. */
static bool arn_match(const char *pat, const char *val)
{
	char p[NAME_MAX_LEN], v[NAME_MAX_LEN];
	if (strlen(pat) >= sizeof p || strlen(val) >= sizeof v)
		return false;
	strcpy(p, pat);
	strcpy(v, val);
	char *ps = p, *vs = v;
	for (int seg = 0; seg < 6; seg++) {
		char *pc = seg < 5 ? strchr(ps, ':') : NULL;
		char *vc = seg < 5 ? strchr(vs, ':') : NULL;
		if (seg < 5 && (!pc || !vc))
			return false;
		if (pc)
			*pc = '\0';
		if (vc)
			*vc = '\0';
		if (!policy_glob_match(ps, vs, false))
			return false;
		if (seg < 5)
			ps = pc + 1, vs = vc + 1;
	}
	return true;
}

static bool value_matches(enum cmp cmp, const char *want, const char *have)
{
	switch (cmp) {
	case CMP_EQ:
		return !strcmp(want, have);
	case CMP_EQ_ICASE:
		return ieq(want, have);
	case CMP_LIKE:
		return policy_glob_match(want, have, false);
	case CMP_ARN:
		return arn_match(want, have);
	case CMP_BOOL:
		return ieq(want, have);
	case CMP_NULL:
		return false;
	}
	return false;
}

static bool conditions_hold(const json *cond, const struct eval *e)
{
	if (!cond)
		return true;
	if (!json_is_object(cond))
		return false;
	for (const json *op = json_first(cond); op; op = json_next(op)) {
		const char *name = json_key(op);
		char base[64];
		snprintf(base, sizeof base, "%s", name);
		bool if_exists = false;
		size_t bl = strlen(base);
		if (bl > 8 && !strcmp(base + bl - 8, "IfExists")) {
			base[bl - 8] = '\0';
			if_exists = true;
		}
		size_t d = 0;
		while (d < sizeof ops / sizeof ops[0] && strcmp(ops[d].name, base))
			d++;
		if (d == sizeof ops / sizeof ops[0] || (if_exists && ops[d].cmp == CMP_NULL))
			return false;   /* an operator this evaluator does not know never holds */
		if (!json_is_object(op))
			return false;
		for (const json *k = json_first(op); k; k = json_next(k)) {
			const char *have = ctx_get(e, json_key(k));
			bool holds = false;
			char tmp[64];
			if (ops[d].cmp == CMP_NULL) {
				/* Null: "true" holds when the key is absent, "false" when present. */
				for (const json *w = json_each_first(k); w && !holds; w = json_each_next(k, w)) {
					const char *t = value_text(w, tmp);
					holds = t && (ieq(t, "true") ? !have : ieq(t, "false") ? !!have : false);
				}
			} else if (!have) {
				holds = if_exists;
			} else {
				bool any = false;
				for (const json *w = json_each_first(k); w && !any; w = json_each_next(k, w)) {
					const char *t = value_text(w, tmp);
					any = t && value_matches(ops[d].cmp, t, have);
				}
				/* A negated operator holds when no listed value matches. */
				holds = ops[d].negated ? !any : any;
			}
			if (!holds)
				return false;
		}
	}
	return true;
}

/* The account's root in an AWS principal value. */
static bool is_root(const char *s, const char *account)
{
	if (!strcmp(s, account))
		return true;
	return !strncmp(s, "arn:aws:iam::", 13) && !strncmp(s + 13, account, CT_ACCOUNT_LEN) &&
	       !strcmp(s + 13 + CT_ACCOUNT_LEN, ":root") && strlen(account) == CT_ACCOUNT_LEN;
}

/* arn:aws:iam::ACCOUNT:user/[PATH/]NAME naming this user. */
static bool is_user(const char *s, const char *account, const char *user)
{
	size_t al = strlen(account);
	if (strncmp(s, "arn:aws:iam::", 13) || strncmp(s + 13, account, al) ||
	    strncmp(s + 13 + al, ":user/", 6))
		return false;
	const char *name = strrchr(s + 13 + al + 6, '/');
	name = name ? name + 1 : s + 13 + al + 6;
	return !strcmp(name, user);
}

static bool principal_matches(const json *p, const struct eval *e)
{
	const struct kms_request *rq = e->rq;
	if (json_is_string(p))
		return !strcmp(json_string(p), "*");
	if (!json_is_object(p))
		return false;
	const json *aws = json_get(p, "AWS");
	for (const json *v = json_each_first(aws); v; v = json_each_next(aws, v)) {
		if (!json_is_string(v))
			continue;
		const char *s = json_string(v);
		if (!strcmp(s, "*"))
			return true;
		if (rq->kind == KMS_PRINCIPAL_USER &&
		    ((rq->uid == 0 && is_root(s, rq->account)) ||
		     (rq->user && is_user(s, rq->account, rq->user))))
			return true;
	}
	const json *svc = json_get(p, "Service");
	for (const json *v = json_each_first(svc); v; v = json_each_next(svc, v))
		if (rq->kind == KMS_PRINCIPAL_SERVICE && json_is_string(v) &&
		    !strcmp(json_string(v), rq->service))
			return true;
	return false;
}

static bool list_matches(const json *list, const char *s, bool arn)
{
	for (const json *v = json_each_first(list); v; v = json_each_next(list, v))
		if (json_is_string(v) && (arn ? (!strcmp(json_string(v), "*") ||
						 arn_match(json_string(v), s))
					      : policy_glob_match(json_string(v), s, true)))
			return true;
	return false;
}

static bool element_matches(const json *st, const char *name, const char *not_name,
			    const char *s, bool arn)
{
	const json *v = json_get(st, name);
	if (v)
		return list_matches(v, s, arn);
	v = json_get(st, not_name);
	return v && !list_matches(v, s, arn);
}

static bool statement_applies(const json *st, const struct eval *e)
{
	return json_is_object(st) && principal_matches(json_get(st, "Principal"), e) &&
	       element_matches(st, "Action", "NotAction", e->rq->action, false) &&
	       element_matches(st, "Resource", "NotResource", e->rq->key_arn, true) &&
	       conditions_hold(json_get(st, "Condition"), e);
}

enum verdict { V_DEFAULT_DENY, V_ALLOW, V_EXPLICIT_DENY };

static enum verdict decide(const json *doc, const struct eval *e)
{
	const json *stmts = json_get(doc, "Statement");
	bool allow = false;
	for (const json *st = json_each_first(stmts); st; st = json_each_next(stmts, st)) {
		if (!statement_applies(st, e))
			continue;
		const char *eff = json_string(json_get(st, "Effect"));
		if (eff && !strcmp(eff, "Deny"))
			return V_EXPLICIT_DENY;
		if (eff && !strcmp(eff, "Allow"))
			allow = true;
	}
	return allow ? V_ALLOW : V_DEFAULT_DENY;
}

int kmspolicy_user_arn(const char *account, const char *user, uint32_t uid, struct buf *out)
{
	if (!account || (!user && uid != 0))
		return -EINVAL;
	if (uid == 0)
		return buf_printf(out, "arn:aws:iam::%s:root", account);
	return buf_printf(out, "arn:aws:iam::%s:user/%s", account, user);
}

/* Evaluate; *v the verdict, shown the principal for messages. */
static int run(const char *doc, size_t len, const struct kms_request *rq, enum verdict *v,
	       struct buf *shown)
{
	if (!rq || !rq->action || !rq->key_arn || !rq->account ||
	    (rq->kind == KMS_PRINCIPAL_USER && !rq->user && rq->uid != 0) ||
	    (rq->kind == KMS_PRINCIPAL_SERVICE && !rq->service) || (rq->n_context && !rq->context))
		return -EINVAL;
	for (size_t i = 0; i < rq->n_context; i++)
		if (!rq->context[i].key || !rq->context[i].value)
			return -EINVAL;
	struct eval e = {.rq = rq};
	int r;
	if (rq->kind == KMS_PRINCIPAL_USER) {
		r = kmspolicy_user_arn(rq->account, rq->user, rq->uid, shown);
		if (r < 0)
			return r;
		e.principal_arn = buf_str(shown);
		e.fixed[e.n_fixed++] = (struct ctx_entry){"kms:CallerAccount", rq->account};
		e.fixed[e.n_fixed++] = (struct ctx_entry){"aws:PrincipalAccount", rq->account};
		e.fixed[e.n_fixed++] = (struct ctx_entry){"aws:PrincipalArn", e.principal_arn};
		if (rq->user)
			e.fixed[e.n_fixed++] = (struct ctx_entry){"aws:username", rq->user};
	} else {
		r = buf_puts(shown, rq->service);
		if (r < 0)
			return r;
		e.fixed[e.n_fixed++] = (struct ctx_entry){"aws:PrincipalServiceName", rq->service};
		if (rq->source_arn)
			e.fixed[e.n_fixed++] = (struct ctx_entry){"aws:SourceArn", rq->source_arn};
		if (rq->source_account)
			e.fixed[e.n_fixed++] = (struct ctx_entry){"aws:SourceAccount", rq->source_account};
	}
	json *j = doc && len ? json_parse(doc, len, NULL) : NULL;
	*v = j ? decide(j, &e) : V_DEFAULT_DENY;
	json_free(j);
	return 0;
}

int kmspolicy_evaluate(const char *doc, size_t len, const struct kms_request *rq,
		       struct ct_err *err)
{
	struct buf shown;
	buf_init(&shown, NAME_MAX_LEN);
	enum verdict v = V_DEFAULT_DENY;
	int r = run(doc, len, rq, &v, &shown);
	if (r == 0 && v == V_EXPLICIT_DENY)
		r = ct_fail(err, DENIED, "User: %s is not authorized to perform: %s on resource: %s "
			    "with an explicit deny in a resource-based policy", buf_str(&shown),
			    rq->action, rq->key_arn);
	else if (r == 0 && v == V_DEFAULT_DENY)
		r = ct_fail(err, DENIED, "User: %s is not authorized to perform: %s on resource: %s "
			    "because no resource-based policy allows the %s action", buf_str(&shown),
			    rq->action, rq->key_arn, rq->action);
	buf_release(&shown);
	return r;
}

/* ---- the console's policy ------------------------------------------------ */

/* Build and append the policy; -ENOMEM on any allocation failure. */
static int build_console(const char *account, const char *trail_arn, const char *user,
			 uint32_t uid, struct buf *out)
{
	char root[64], like[128], user_arn[NAME_MAX_LEN];
	snprintf(root, sizeof root, "arn:aws:iam::%s:root", account);
	snprintf(like, sizeof like, "arn:aws:cloudtrail:*:%s:trail/*", account);
	if (uid != 0 && (size_t)snprintf(user_arn, sizeof user_arn, "arn:aws:iam::%s:user/%s",
					  account, user) >= sizeof user_arn)
		return -EINVAL;
	json *doc = json_new_object();
	json *stmts = json_new_array();
	int r = doc && stmts ? 0 : -ENOMEM;
	if (r == 0)
		r = json_add_string(doc, "Version", VERSION);
	if (r == 0)
		r = json_add_string(doc, "Id", "Key policy created by CloudTrail");
	if (r == 0) {
		r = json_add(doc, "Statement", stmts);
	} else {
		json_free(stmts);
	}
	stmts = r == 0 ? json_get(doc, "Statement") : NULL;
	for (int i = 0; r == 0 && i < 4; i++) {
		if (i == 3 && uid == 0)
			break;
		json *st = json_new_object(), *p = json_new_object(), *cond = NULL;
		if (!st || !p) {
			json_free(st);
			json_free(p);
			r = -ENOMEM;
			break;
		}
		static const char *const sids[] = {"Enable IAM User Permissions",
			"Allow CloudTrail to encrypt logs", "Allow CloudTrail to describe key",
			"Enable CloudTrail log decrypt permissions"};
		r = json_add_string(st, "Sid", sids[i]);
		if (r == 0)
			r = json_add_string(st, "Effect", "Allow");
		if (r == 0)
			r = json_add_string(p, i == 0 ? "AWS" : i == 3 ? "AWS" : "Service",
					    i == 0 ? root : i == 3 ? user_arn : KMSPOLICY_CLOUDTRAIL);
		if (r == 0) {
			r = json_add(st, "Principal", p);
		} else {
			json_free(p);
		}
		if (r == 0 && i == 3) {
			json *acts = json_new_array();
			r = acts ? 0 : -ENOMEM;
			if (r == 0)
				r = json_append(acts, json_new_string("kms:Decrypt"));
			if (r == 0)
				r = json_append(acts, json_new_string("kms:ReEncryptFrom"));
			if (r == 0)
				r = json_add(st, "Action", acts);
			else
				json_free(acts);
		} else if (r == 0) {
			static const char *const acts[] = {"kms:*", "kms:GenerateDataKey*",
				"kms:DescribeKey"};
			r = json_add_string(st, "Action", acts[i]);
		}
		if (r == 0)
			r = json_add_string(st, "Resource", "*");
		if (r == 0 && (i == 1 || i == 3)) {
			cond = json_new_object();
			json *a = json_new_object(), *b = i == 1 ? json_new_object() : NULL;
			r = cond && a && (i != 1 || b) ? 0 : -ENOMEM;
			if (r == 0 && i == 1) {
				r = json_add_string(a, "aws:SourceArn", trail_arn);
				if (r == 0)
					r = json_add_string(b, CTX_PREFIX KMSPOLICY_CT_CONTEXT, like);
				if (r == 0) {
					r = json_add(cond, "StringEquals", a);
					a = NULL;
				}
				if (r == 0) {
					r = json_add(cond, "StringLike", b);
					b = NULL;
				}
			} else if (r == 0) {
				r = json_add_string(a, CTX_PREFIX KMSPOLICY_CT_CONTEXT, "false");
				if (r == 0) {
					r = json_add(cond, "Null", a);
					a = NULL;
				}
			}
			json_free(a);
			json_free(b);
			if (r == 0) {
				r = json_add(st, "Condition", cond);
			} else {
				json_free(cond);
			}
		}
		if (r == 0)
			r = json_append((json *)stmts, st);
		else
			json_free(st);
	}
	char *text = r == 0 ? json_print(doc, true) : NULL;
	if (r == 0 && !text)
		r = -ENOMEM;
	if (r == 0)
		r = buf_puts(out, text);
	free(text);
	json_free(doc);
	return r;
}

int kmspolicy_for_cloudtrail(const char *account, const char *trail_arn, const char *user,
			     uint32_t uid, struct buf *out)
{
	if (!account || !trail_arn || !out || (uid != 0 && !user))
		return -EINVAL;
	return build_console(account, trail_arn, user, uid, out);
}

int kmspolicy_allows_cloudtrail(const char *doc, size_t len, const char *account,
				const char *key_arn, const char *trail_arn, struct ct_err *err)
{
	if (!account || !key_arn || !trail_arn)
		return -EINVAL;
	struct crypto_context_pair ctx[] = {{KMSPOLICY_CT_CONTEXT, trail_arn}};
	struct kms_request rq = {
		.action = "kms:GenerateDataKey", .key_arn = key_arn, .account = account,
		.kind = KMS_PRINCIPAL_SERVICE, .service = KMSPOLICY_CLOUDTRAIL,
		.source_arn = trail_arn, .source_account = account, .context = ctx, .n_context = 1,
	};
	struct ct_err why;
	ct_err_clear(&why);
	if (kmspolicy_validate(doc, len, &why) < 0)
		return ct_fail(err, INSUFFICIENT, "Insufficient permissions to access KMS key %s: "
			       "its policy does not parse (%s)", key_arn, why.message);
	struct buf shown;
	buf_init(&shown, NAME_MAX_LEN);
	enum verdict v = V_DEFAULT_DENY;
	int r = run(doc, len, &rq, &v, &shown);
	buf_release(&shown);
	if (r < 0)
		return r;
	if (v == V_ALLOW)
		return 0;
	return ct_fail(err, INSUFFICIENT, "Insufficient permissions to access KMS key %s: %s "
		       "cloudtrail.amazonaws.com kms:GenerateDataKey* with encryption context "
		       "aws:cloudtrail:arn = %s and aws:SourceArn = %s", key_arn,
		       v == V_EXPLICIT_DENY ? "a Deny statement refuses" : "no statement allows",
		       trail_arn, trail_arn);
}
