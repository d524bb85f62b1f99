/* Bucket policies: the PutBucketPolicy grammar check, the console's
 * CloudTrail policy, and a small IAM evaluator for CreateTrail/UpdateTrail.
 *
 * The evaluator runs only on documents that pass the grammar check, but it
 * still treats every member defensively (a wrong type simply does not
 * match), so a bug in one half cannot crash the other. */
#include "policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ct_limits.h"

/* How many bytes of a value from the policy a message quotes. */
#define POLICY_QUOTE_MAX   64
/* Messages are built up to this size; ct_fail cuts them to CT_ERR_MESSAGE_MAX. */
#define POLICY_MSG_MAX     (4 * CT_ERR_MESSAGE_MAX)
/* ARNs and object keys built from the caller's bucket, prefix and names. */
#define POLICY_NAME_MAX    (4 * CT_ARN_MAX)
/* cJSON's CJSON_NESTING_LIMIT: a document nested deeper never parses. */
#define POLICY_NESTING_MAX 1000
/* Request context entries per probe request. */
#define POLICY_CTX_MAX     5

#define MALFORMED       "MalformedPolicy"
#define INSUFFICIENT    "InsufficientS3BucketPolicyException"
#define CT_SERVICE      "cloudtrail.amazonaws.com"
#define ACL_FULL        "bucket-owner-full-control"
#define POLICY_VERSION  "2012-10-17"
#define SID_ACL         "AWSCloudTrailAclCheck20150319"
#define SID_WRITE       "AWSCloudTrailWrite20150319"
/* The probe keys' fixed parts: any date and unique string would do, the
 * policy is checked for the shape of the key, not for one file. */
#define PROBE_DATE_DIR  "2026/01/01"
#define PROBE_LOG_STAMP "20260101T0000Z"
#define PROBE_UNIQUE    "0123456789abcdef"
#define PROBE_DIG_STAMP "20260101T000000Z"

/* ---- small text helpers ------------------------------------------------ */

/* ASCII only: IAM's case-insensitive comparisons do not depend on a locale. */
static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool ieq(const char *a, const char *b)
{
	while (*a && ascii_lower(*a) == ascii_lower(*b))
		a++, b++;
	return ascii_lower(*a) == ascii_lower(*b);
}

/* Step over one UTF-8 character, so '?' matches a character, not a byte. */
static const char *u8_next(const char *s, const char *end)
{
	s++;
	while (s < end && ((unsigned char)*s & 0xC0) == 0x80)
		s++;
	return s;
}

/* Append s quoted like a JSON string, cut after POLICY_QUOTE_MAX bytes.
 * Messages are best effort: an append that hits the cap is dropped. */
static void put_quoted(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	bool cut = false;
	if (n > POLICY_QUOTE_MAX) {
		n = POLICY_QUOTE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		cut = true;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(b, "\\u%04x", c);
		} else {
			buf_putc(b, (char)c);
		}
	}
	buf_puts(b, cut ? "...\"" : "\"");
}

/* What a value is, for "..., not X" in messages. */
static void put_described(struct buf *b, const json *v)
{
	if (!v)
		buf_puts(b, "nothing");
	else if (json_is_string(v))
		put_quoted(b, json_string(v));
	else if (json_is_number(v))
		buf_printf(b, "the number %g", json_number(v));
	else if (json_is_bool(v))
		buf_puts(b, json_bool(v) ? "true" : "false");
	else if (json_is_null(v))
		buf_puts(b, "null");
	else if (json_is_array(v))
		buf_puts(b, json_size(v) ? "an array" : "an empty array");
	else
		buf_puts(b, "an object");
}

/* Hand a built message to ct_fail and release it. */
static int fail_msg(struct ct_err *err, const char *name, struct buf *m)
{
	int r = ct_fail(err, name, "%s", buf_str(m));
	buf_release(m);
	return r;
}

__attribute__((format(printf, 2, 3)))
static int malformed(struct ct_err *err, const char *fmt, ...)
{
	struct buf m;
	buf_init(&m, POLICY_MSG_MAX);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&m, fmt, ap);
	va_end(ap);
	return fail_msg(err, MALFORMED, &m);
}

/* MalformedPolicy "<fmt...>, not <v described>". */
__attribute__((format(printf, 3, 4)))
static int bad_value(struct ct_err *err, const json *v, const char *fmt, ...)
{
	struct buf m;
	buf_init(&m, POLICY_MSG_MAX);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&m, fmt, ap);
	va_end(ap);
	buf_puts(&m, ", not ");
	put_described(&m, v);
	return fail_msg(err, MALFORMED, &m);
}

/* ---- glob matching ------------------------------------------------------- */

/* Match [p, pe) against [s, se).  prefix: succeed when the pattern can match
 * some string that starts with s (used to ask "could this Resource pattern
 * name an object in this bucket?").  The star backtracking is the classic
 * greedy one: retrying only the last star is enough and keeps it O(n*m). */
static bool glob_range(const char *p, const char *pe, const char *s, const char *se,
		       bool ignore_case, bool prefix)
{
	const char *star_p = NULL, *star_s = NULL;
	while (s < se) {
		if (p < pe && *p == '*') {
			while (p < pe && *p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		if (p < pe && *p == '?') {
			p++;
			s = u8_next(s, se);
			continue;
		}
		if (p < pe && (ignore_case ? ascii_lower(*p) == ascii_lower(*s) : *p == *s)) {
			p++;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		star_s = u8_next(star_s, se);
		s = star_s;
		p = star_p;
	}
	if (prefix)
		return true;
	while (p < pe && *p == '*')
		p++;
	return p == pe;
}

static bool glob(const char *p, const char *s, bool ignore_case, bool prefix)
{
	return glob_range(p, p + strlen(p), s, s + strlen(s), ignore_case, prefix);
}

bool policy_glob_match(const char *pattern, const char *s, bool ignore_case)
{
	if (!pattern || !s)
		return false;
	return glob(pattern, s, ignore_case, false);
}

/* ArnEquals/ArnLike: each of the six colon-separated parts is matched by
 * itself, so a wildcard never spans a colon except in the last part (the
 * resource, which may itself hold colons).  A pattern or value with fewer
 * than six parts is not an ARN and matches nothing. */
static bool arn_match(const char *pat, const char *val)
{
	for (int part = 0; part < 5; part++) {
		const char *pc = strchr(pat, ':'), *vc = strchr(val, ':');
		if (!pc || !vc || !glob_range(pat, pc, val, vc, false, false))
			return false;
		pat = pc + 1;
		val = vc + 1;
	}
	return glob(pat, val, false, false);
}

/* ---- JSON text checks for partial documents ------------------------------- */

/* Where a byte string stops being UTF-8.  Returns true when all of it is
 * valid; otherwise *bad is the offset of the first bad sequence and
 * *truncated says whether that sequence is merely cut off by the end of the
 * input (more bytes could still complete it validly). */
static bool utf8_scan(const char *s, size_t len, size_t *bad, bool *truncated)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	*truncated = false;
	while (i < len) {
		unsigned c = p[i];
		if (c >= 0x01 && c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned cp, min;
		if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; min = 0x80; }
		else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
		else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; min = 0x10000; }
		else { *bad = i; return false; }   /* NUL, stray continuation, 0xF8.. */
		size_t have = len - i - 1 < n ? len - i - 1 : n;
		for (size_t k = 1; k <= have; k++) {
			if ((p[i + k] & 0xC0) != 0x80) {
				*bad = i;
				return false;
			}
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		/* A cut-off sequence is repairable when some completion is valid:
		 * the completions span [lo, hi], and the invalid code points are a
		 * low range (overlong), the surrogates and a high range, so trying
		 * both ends is enough. */
		unsigned lo = cp, hi = cp;
		for (size_t k = have; k < n; k++) {
			lo = lo << 6;
			hi = (hi << 6) | 0x3F;
		}
		bool lo_ok = lo >= min && !(lo >= 0xD800 && lo <= 0xDFFF) && lo <= 0x10FFFF;
		bool hi_ok = hi >= min && !(hi >= 0xD800 && hi <= 0xDFFF) && hi <= 0x10FFFF;
		if (have < n) {
			*bad = i;
			*truncated = lo_ok || hi_ok;
			return false;
		}
		if (!lo_ok) {
			*bad = i;
			return false;
		}
		i += n + 1;
	}
	return true;
}

/* MalformedPolicy for text that is not JSON: line and column, and the bytes
 * there, so the place can be found in an editor. */
static int syntax_error(struct ct_err *err, const char *doc, size_t len, size_t off,
			const char *why)
{
	size_t line, col;
	json_locate(doc, len, off, &line, &col);
	struct buf m, near;
	buf_init(&m, POLICY_MSG_MAX);
	buf_init(&near, POLICY_QUOTE_MAX);
	size_t n = off < len ? len - off : 0;
	if (n > POLICY_QUOTE_MAX / 4)
		n = POLICY_QUOTE_MAX / 4;
	buf_add(&near, doc + off, n);
	buf_printf(&m, "the policy is not valid JSON: %s at line %zu, column %zu",
		   why ? why : "syntax error", line, col);
	if (n) {
		buf_puts(&m, ", at ");
		put_quoted(&m, buf_str(&near));
	}
	buf_release(&near);
	return fail_msg(err, MALFORMED, &m);
}

/* ---- the grammar ------------------------------------------------------- */

static const char *const top_members[] = {"Version", "Id", "Statement", NULL};
static const char *const statement_members[] = {
	"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
	"Resource", "NotResource", "Condition", NULL};
static const char *const principal_members[] = {
	"AWS", "Service", "Federated", "CanonicalUser", NULL};

/* Iterate a member that may be one value or an array of values. */

/* Members of obj: each one of allowed (when allowed is not NULL), and none
 * twice.  cJSON keeps duplicates and json_get returns the first one; a
 * policy whose meaning depends on which copy is read is refused instead. */
static int check_members(const json *obj, const char *const *allowed, const char *subject,
			 struct ct_err *err)
{
	for (const json *m = json_first(obj); m; m = json_next(m)) {
		const char *k = json_key(m);
		for (const json *o = json_first(obj); o != m; o = json_next(o)) {
			if (!strcmp(json_key(o), k)) {
				struct buf b;
				buf_init(&b, POLICY_MSG_MAX);
				buf_printf(&b, "%s has member ", subject);
				put_quoted(&b, k);
				buf_puts(&b, " twice");
				return fail_msg(err, MALFORMED, &b);
			}
		}
		if (!allowed)
			continue;
		const char *hint = NULL;
		bool known = false;
		for (size_t a = 0; allowed[a]; a++) {
			if (!strcmp(allowed[a], k))
				known = true;
			else if (ieq(allowed[a], k))
				hint = allowed[a];
		}
		if (known)
			continue;
		struct buf b;
		buf_init(&b, POLICY_MSG_MAX);
		buf_printf(&b, "%s has unknown member ", subject);
		put_quoted(&b, k);
		buf_puts(&b, " (allowed: ");
		for (size_t a = 0; allowed[a]; a++)
			buf_printf(&b, "%s%s", a ? ", " : "", allowed[a]);
		buf_putc(&b, ')');
		if (hint)
			buf_printf(&b, "; member names are case-sensitive: did you mean \"%s\"?", hint);
		return fail_msg(err, MALFORMED, &b);
	}
	return 0;
}

/* A string or a non-empty array of strings.  label names the member as a
 * message shows it, quotes included: "Action", "Principal" "Service". */
static int check_strings(const json *v, const char *where, const char *label, struct ct_err *err)
{
	if (json_is_string(v))
		return 0;
	if (!json_is_array(v) || json_size(v) == 0)
		return bad_value(err, v, "%s: %s must be a string or a non-empty array of strings",
				 where, label);
	size_t i = 0;
	for (const json *e = json_first(v); e; e = json_next(e), i++)
		if (!json_is_string(e))
			return bad_value(err, e, "%s: %s[%zu] must be a string", where, label, i);
	return 0;
}

static int check_principal(const json *v, const char *where, const char *name, struct ct_err *err)
{
	if (json_is_string(v) && !strcmp(json_string(v), "*"))
		return 0;
	if (!json_is_object(v))
		return bad_value(err, v, "%s: \"%s\" must be \"*\" or an object such as "
				 "{\"Service\": \"" CT_SERVICE "\"}", where, name);
	if (json_size(v) == 0)
		return malformed(err, "%s: \"%s\" must name at least one of AWS, Service, "
				 "Federated or CanonicalUser", where, name);
	struct buf subject;
	buf_init(&subject, POLICY_MSG_MAX);
	buf_printf(&subject, "%s: \"%s\"", where, name);
	int r = check_members(v, principal_members, buf_str(&subject), err);
	for (const json *m = json_first(v); r == 0 && m; m = json_next(m)) {
		/* check_members has made the member names known ones. */
		buf_reset(&subject);
		buf_printf(&subject, "\"%s\" \"%s\"", name, json_key(m));
		r = check_strings(m, where, buf_str(&subject), err);
	}
	buf_release(&subject);
	return r;
}

/* "*" or service:Action, the action part with * and ? wildcards. */
static bool action_pattern_ok(const char *a)
{
	if (!strcmp(a, "*"))
		return true;
	const char *colon = strchr(a, ':');
	if (!colon || colon == a || !colon[1])
		return false;
	for (const char *p = a; p < colon; p++)
		if (!ascii_alnum(*p) && *p != '-')
			return false;
	for (const char *p = colon + 1; *p; p++)
		if (!ascii_alnum(*p) && *p != '*' && *p != '?')
			return false;
	return true;
}

static int check_actions(const json *v, const char *where, const char *label,
			 struct ct_err *err)
{
	int r = check_strings(v, where, label, err);
	for (const json *e = json_each_first(v); r == 0 && e; e = json_each_next(v, e))
		if (!action_pattern_ok(json_string(e)))
			r = bad_value(err, e, "%s: each %s entry must be \"*\" or \"service:Action\" "
				      "such as \"s3:PutObject\"", where, label);
	return r;
}

/* Could the pattern match the bucket's ARN or the ARN of an object in it? */
static bool resource_names_bucket(const char *pattern, const char *bucket)
{
	if (!strcmp(pattern, "*"))
		return true;
	struct buf arn;
	buf_init(&arn, POLICY_NAME_MAX);
	bool ok = false;
	if (buf_printf(&arn, "arn:aws:s3:::%s", bucket) == 0) {
		ok = glob(pattern, buf_str(&arn), false, false) ||
		     (buf_putc(&arn, '/') == 0 && glob(pattern, buf_str(&arn), false, true));
	}
	buf_release(&arn);
	return ok;
}

static int check_resources(const json *v, const char *where, const char *label,
			   const char *bucket, struct ct_err *err)
{
	int r = check_strings(v, where, label, err);
	for (const json *e = json_each_first(v); r == 0 && e; e = json_each_next(v, e)) {
		if (resource_names_bucket(json_string(e), bucket))
			continue;
		struct buf m;
		buf_init(&m, POLICY_MSG_MAX);
		buf_printf(&m, "Policy has invalid resource: %s: %s ", where, label);
		put_quoted(&m, json_string(e));
		buf_printf(&m, " is not in bucket \"%s\" (use \"*\", \"arn:aws:s3:::%s\" or "
			   "\"arn:aws:s3:::%s/...\")", bucket, bucket, bucket);
		r = fail_msg(err, MALFORMED, &m);
	}
	return r;
}

static bool condition_scalar(const json *v)
{
	return json_is_string(v) || json_is_bool(v) || json_is_number(v);
}

/* Condition: operator -> {key -> scalar or non-empty array of scalars}.
 * Operator names are not checked here: the evaluator treats an operator it
 * does not know as a condition that never holds. */
static int check_condition(const json *c, const char *where, struct ct_err *err)
{
	if (!json_is_object(c))
		return bad_value(err, c, "%s: \"Condition\" must be an object such as "
				 "{\"StringEquals\": {\"aws:SourceArn\": \"...\"}}", where);
	struct buf s;
	buf_init(&s, POLICY_MSG_MAX);
	buf_printf(&s, "%s: \"Condition\"", where);
	int r = check_members(c, NULL, buf_str(&s), err);
	for (const json *op = json_first(c); r == 0 && op; op = json_next(op)) {
		buf_reset(&s);
		buf_printf(&s, "%s: Condition ", where);
		put_quoted(&s, json_key(op));
		if (!json_is_object(op)) {
			r = bad_value(err, op, "%s must be an object of condition key -> values",
				      buf_str(&s));
			break;
		}
		r = check_members(op, NULL, buf_str(&s), err);
		for (const json *k = json_first(op); r == 0 && k; k = json_next(k)) {
			bool ok = condition_scalar(k);
			const json *bad = k;
			if (json_is_array(k)) {
				ok = json_size(k) > 0;
				for (const json *e = json_first(k); ok && e; e = json_next(e))
					if (!condition_scalar(e)) {
						ok = false;
						bad = e;
					}
			}
			if (ok)
				continue;
			buf_putc(&s, ' ');
			put_quoted(&s, json_key(k));
			r = bad_value(err, bad, "%s: values must be strings, booleans, numbers or a "
				      "non-empty array of them", buf_str(&s));
		}
	}
	buf_release(&s);
	return r;
}

/* Exactly one of name and not_name. */
static int check_pair(const json *st, const char *where, const char *name, const char *not_name,
		      struct ct_err *err)
{
	bool a = json_get(st, name) != NULL, b = json_get(st, not_name) != NULL;
	if (a && b)
		return malformed(err, "%s: has both \"%s\" and \"%s\"; use exactly one",
				 where, name, not_name);
	if (!a && !b)
		return malformed(err, "%s: \"%s\" is missing (a statement needs \"%s\" or \"%s\")",
				 where, name, name, not_name);
	return 0;
}

static int check_statement(const json *st, const char *where, const char *bucket,
			   struct ct_err *err)
{
	if (!json_is_object(st))
		return bad_value(err, st, "%s must be an object", where);
	int r = check_members(st, statement_members, where, err);
	if (r < 0)
		return r;

	const json *sid = json_get(st, "Sid");
	if (sid) {
		const char *s = json_string(sid);
		if (!s)
			return bad_value(err, sid, "%s: \"Sid\" must be a string", where);
		for (; *s; s++)
			if (!ascii_alnum(*s))
				return bad_value(err, sid, "%s: \"Sid\" may hold only letters A-Z, a-z "
						 "and digits", where);
	}

	const json *effect = json_get(st, "Effect");
	if (!effect)
		return malformed(err, "%s: \"Effect\" is missing (it must be \"Allow\" or \"Deny\")",
				 where);
	const char *e = json_string(effect);
	if (!e || (strcmp(e, "Allow") && strcmp(e, "Deny")))
		return bad_value(err, effect, "%s: \"Effect\" must be \"Allow\" or \"Deny\"", where);

	static const char *const pairs[][2] = {
		{"Principal", "NotPrincipal"}, {"Action", "NotAction"}, {"Resource", "NotResource"}};
	for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
		r = check_pair(st, where, pairs[p][0], pairs[p][1], err);
		if (r < 0)
			return r;
		const char *name = json_get(st, pairs[p][0]) ? pairs[p][0] : pairs[p][1];
		const json *v = json_get(st, name);
		struct buf label;
		buf_init(&label, POLICY_MSG_MAX);
		buf_printf(&label, "\"%s\"", name);
		if (p == 0)
			r = check_principal(v, where, name, err);
		else if (p == 1)
			r = check_actions(v, where, buf_str(&label), err);
		else
			r = check_resources(v, where, buf_str(&label), bucket, err);
		buf_release(&label);
		if (r < 0)
			return r;
	}

	const json *cond = json_get(st, "Condition");
	return cond ? check_condition(cond, where, err) : 0;
}

static int check_policy(const json *doc, const char *bucket, struct ct_err *err)
{
	if (!json_is_object(doc))
		return bad_value(err, doc, "the policy must be a JSON object");
	int r = check_members(doc, top_members, "the policy", err);
	if (r < 0)
		return r;

	const json *version = json_get(doc, "Version");
	if (version) {
		const char *v = json_string(version);
		if (!v || (strcmp(v, "2012-10-17") && strcmp(v, "2008-10-17")))
			return bad_value(err, version,
					 "\"Version\" must be \"2012-10-17\" or \"2008-10-17\"");
	}
	const json *id = json_get(doc, "Id");
	if (id && !json_is_string(id))
		return bad_value(err, id, "\"Id\" must be a string");

	const json *stmts = json_get(doc, "Statement");
	if (!stmts)
		return malformed(err, "\"Statement\" is missing (a policy needs a statement object "
				 "or a non-empty array of them)");
	if (json_is_object(stmts))
		return check_statement(stmts, "Statement", bucket, err);
	if (!json_is_array(stmts) || json_size(stmts) == 0)
		return bad_value(err, stmts, "\"Statement\" must be an object or a non-empty array "
				 "of objects");
	struct buf where;
	buf_init(&where, POLICY_MSG_MAX);
	size_t i = 0;
	for (const json *st = json_first(stmts); r == 0 && st; st = json_next(st), i++) {
		buf_reset(&where);
		buf_printf(&where, "Statement[%zu]", i);
		r = check_statement(st, buf_str(&where), bucket, err);
	}
	buf_release(&where);
	return r;
}

/* Parse and check; on success *out holds the tree (the caller frees it). */
static int parse_policy(const char *doc, size_t len, const char *bucket, bool partial,
			json **out, struct ct_err *err)
{
	*out = NULL;
	if (!doc)
		len = 0;
	if (len > CT_POLICY_MAX)
		return malformed(err, "the policy is %zu bytes; a bucket policy may have at most %d",
				 len, CT_POLICY_MAX);
	size_t bad;
	bool truncated;
	size_t text_len = len;
	if (!utf8_scan(doc, len, &bad, &truncated)) {
		if (!(partial && truncated))
			return malformed(err, "the policy is not valid UTF-8 (%s at byte offset %zu)",
					 !doc[bad] ? "a NUL byte" : truncated ? "a cut-off character" :
					 "a bad byte sequence", bad);
		text_len = bad;   /* the cut-off character may still be completed */
	}
	/* The scanner is the judge of syntax, in both modes: json_parse's error
	 * offset cannot tell a cut-off document from a broken one (see
	 * json_scan), and cJSON takes a few things JSON does not ("\uZZZZ"
	 * reads as \u0000).  With two judges, a document valid when complete
	 * could be refused while it is still being written. */
	struct json_scan sc = json_scan(doc, text_len);
	/* A cut-off UTF-8 character can only be completed inside a string. */
	if (text_len < len && sc.end != JSON_BROKEN && !(sc.end == JSON_INCOMPLETE && sc.in_string)) {
		sc.end = JSON_BROKEN;
		sc.err_off = text_len;
	}
	if (sc.end == JSON_BROKEN)
		return syntax_error(err, doc, len, sc.err_off, sc.why);
	if (sc.end == JSON_INCOMPLETE) {
		if (partial)
			return 0;
		bool blank = true;
		for (size_t k = 0; k < len && blank; k++)
			blank = (unsigned char)doc[k] <= 0x20;
		if (blank)
			return malformed(err, "the policy is empty");
		return malformed(err, "the policy is not valid JSON: it ends %s",
				 sc.in_string ? "inside a string" :
				 sc.depth ? "before every { and [ is closed" :
				 "before the value is complete");
	}
	size_t err_off = 0;
	json *j = json_parse(doc, len, &err_off);
	/* Complete to the scanner but not to cJSON (not known to happen): cJSON
	 * is what reads the policy, so its refusal stands. */
	if (!j)
		return syntax_error(err, doc, len, err_off, NULL);
	int r = check_policy(j, bucket, err);
	if (r < 0) {
		json_free(j);
		return r;
	}
	*out = j;
	return 0;
}

int policy_validate(const char *doc, size_t len, const char *bucket, bool partial,
		    struct ct_err *err)
{
	json *j;
	int r = parse_policy(doc, len, bucket ? bucket : "", partial, &j, err);
	json_free(j);
	return r;
}

/* ---- the console's policy ------------------------------------------------ */

/* One statement of the console policy; acl NULL leaves out s3:x-amz-acl. */
static json *console_statement(const char *sid, const char *action, const char *resource,
			       const char *acl, const char *trail_arn)
{
	json *st = json_new_object(), *principal = json_new_object();
	json *cond = json_new_object(), *eq = json_new_object();
	if (!st || !principal || !cond || !eq)
		goto fail;
	if (json_add_string(principal, "Service", CT_SERVICE) < 0)
		goto fail;
	if (acl && json_add_string(eq, "s3:x-amz-acl", acl) < 0)
		goto fail;
	if (json_add_string(eq, "aws:SourceArn", trail_arn) < 0)
		goto fail;
	/* From here each json_add owns its item, even when it fails. */
	int r = json_add(cond, "StringEquals", eq);
	eq = NULL;
	if (r < 0 || json_add_string(st, "Sid", sid) < 0 ||
	    json_add_string(st, "Effect", "Allow") < 0)
		goto fail;
	r = json_add(st, "Principal", principal);
	principal = NULL;
	if (r < 0 || json_add_string(st, "Action", action) < 0 ||
	    json_add_string(st, "Resource", resource) < 0)
		goto fail;
	r = json_add(st, "Condition", cond);
	cond = NULL;
	if (r < 0)
		goto fail;
	return st;
fail:
	json_free(st);
	json_free(principal);
	json_free(cond);
	json_free(eq);
	return NULL;
}

int policy_for_cloudtrail(const char *bucket, const char *prefix, const char *account,
			  const char *trail_arn, struct buf *out)
{
	if (!bucket || !account || !trail_arn || !out)
		return -EINVAL;
	if (!prefix)
		prefix = "";
	struct buf bucket_arn, objects_arn;
	buf_init(&bucket_arn, POLICY_NAME_MAX);
	buf_init(&objects_arn, POLICY_NAME_MAX);
	int r = buf_printf(&bucket_arn, "arn:aws:s3:::%s", bucket);
	if (r == 0)
		r = buf_printf(&objects_arn, "arn:aws:s3:::%s/%s%sAWSLogs/%s/*", bucket, prefix,
			       *prefix ? "/" : "", account);
	json *doc = NULL, *stmts = NULL;
	char *text = NULL;
	if (r < 0)
		goto done;
	r = -ENOMEM;
	doc = json_new_object();
	if (!doc || json_add_string(doc, "Version", POLICY_VERSION) < 0)
		goto done;
	stmts = json_new_array();
	if (json_add(doc, "Statement", stmts) < 0)
		goto done;
	if (json_append(stmts, console_statement(SID_ACL, "s3:GetBucketAcl", buf_str(&bucket_arn),
						 NULL, trail_arn)) < 0 ||
	    json_append(stmts, console_statement(SID_WRITE, "s3:PutObject", buf_str(&objects_arn),
						 ACL_FULL, trail_arn)) < 0)
		goto done;
	text = json_print(doc, true);
	if (!text)
		goto done;
	r = buf_puts(out, text);
done:
	free(text);
	json_free(doc);
	buf_release(&bucket_arn);
	buf_release(&objects_arn);
	return r;
}

/* ---- evaluation ------------------------------------------------------------ */

struct ctx_entry {
	const char *key;
	const char *value;
};

/* One request CloudTrail makes, and the statement that would allow it. */
struct request {
	const char *action;        /* "s3:PutObject" */
	const char *arn;           /* the probe resource */
	const char *shown;         /* the resource as a message shows it */
	const char *what;          /* "the bucket", "log files", "digest files" */
	const char *fix_resource;  /* Resource of an Allow statement that fixes it */
	bool acl;                  /* the request carries x-amz-acl */
	struct ctx_entry ctx[POLICY_CTX_MAX];
	size_t nctx;
};

/* Condition keys are case-insensitive. */
static const char *ctx_get(const struct request *rq, const char *key)
{
	for (size_t i = 0; i < rq->nctx; i++)
		if (ieq(rq->ctx[i].key, key))
			return rq->ctx[i].value;
	return NULL;
}

enum cmp { CMP_EQ, CMP_EQ_ICASE, CMP_LIKE, CMP_ARN, CMP_BOOL, CMP_NULL };

struct op_def {
	const char *name;
	enum cmp cmp;
	bool negated;
};

static const struct op_def ops[] = {
	{"StringEquals", CMP_EQ, false},
	{"StringNotEquals", CMP_EQ, true},
	{"StringEqualsIgnoreCase", CMP_EQ_ICASE, false},
	{"StringNotEqualsIgnoreCase", CMP_EQ_ICASE, true},
	{"StringLike", CMP_LIKE, false},
	{"StringNotLike", CMP_LIKE, true},
	/* IAM documents ArnEquals and ArnLike as the same test. */
	{"ArnEquals", CMP_ARN, false},
	{"ArnNotEquals", CMP_ARN, true},
	{"ArnLike", CMP_ARN, false},
	{"ArnNotLike", CMP_ARN, true},
	{"Bool", CMP_BOOL, false},
	{"Null", CMP_NULL, false},
};

#define IF_EXISTS "IfExists"

/* The operator for a name, with or without ...IfExists (Null has no such
 * form: it is the presence test itself).  Operator names are matched
 * exactly, as IAM spells them. */
static const struct op_def *op_find(const char *name, bool *if_exists)
{
	size_t n = strlen(name), sl = strlen(IF_EXISTS);
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		size_t on = strlen(ops[i].name);
		if (n == on && !strcmp(name, ops[i].name)) {
			*if_exists = false;
			return &ops[i];
		}
		if (ops[i].cmp != CMP_NULL && n == on + sl && !strncmp(name, ops[i].name, on) &&
		    !strcmp(name + on, IF_EXISTS)) {
			*if_exists = true;
			return &ops[i];
		}
	}
	return NULL;
}

/* A condition value as text: numbers and booleans compare as IAM writes
 * them ("123456789012", "true"). */
static const char *value_text(const json *v, struct buf *tmp)
{
	if (json_is_string(v))
		return json_string(v);
	if (json_is_bool(v))
		return json_bool(v) ? "true" : "false";
	if (!json_is_number(v))
		return NULL;
	double d = json_number(v);
	buf_reset(tmp);
	/* Whole numbers within the exact range of a double print without a
	 * fraction or exponent, so an account id written as a number works. */
	if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(long long)d)
		buf_printf(tmp, "%lld", (long long)d);
	else
		buf_printf(tmp, "%.17g", d);
	return buf_str(tmp);
}

static bool value_matches(enum cmp cmp, const char *want, const char *have)
{
	switch (cmp) {
	case CMP_EQ:
		return !strcmp(want, have);
	case CMP_EQ_ICASE:
	case CMP_BOOL:
		return ieq(want, have);
	case CMP_LIKE:
		return glob(want, have, false, false);
	case CMP_ARN:
		return arn_match(want, have);
	case CMP_NULL:
		break;
	}
	return false;
}

/* One key under one operator.  Values of one key are ORed; a negated
 * operator holds when none matches.  An absent key fails a positive test,
 * passes a negated one, and passes any ...IfExists test. */
static bool condition_key_holds(const struct op_def *d, bool if_exists, const json *vals,
				const struct request *rq, struct buf *tmp)
{
	const char *have = ctx_get(rq, json_key(vals));
	if (d->cmp == CMP_NULL) {
		for (const json *v = json_each_first(vals); v; v = json_each_next(vals, v)) {
			const char *t = value_text(v, tmp);
			if (t && ((ieq(t, "true") && !have) || (ieq(t, "false") && have)))
				return true;
		}
		return false;
	}
	if (!have)
		return d->negated || if_exists;
	bool any = false;
	for (const json *v = json_each_first(vals); v && !any; v = json_each_next(vals, v)) {
		const char *t = value_text(v, tmp);
		any = t && value_matches(d->cmp, t, have);
	}
	return d->negated ? !any : any;
}

/* Why a statement's condition failed, for the message. */
struct cond_miss {
	const char *op;
	const char *key;   /* NULL: the operator itself is unknown */
};

/* All operators and all keys must hold (AND). */
static bool conditions_hold(const json *cond, const struct request *rq, struct cond_miss *miss)
{
	if (!json_is_object(cond)) {
		miss->op = "Condition";
		miss->key = NULL;
		return false;
	}
	struct buf tmp;
	buf_init(&tmp, POLICY_NAME_MAX);
	bool ok = true;
	for (const json *op = json_first(cond); ok && op; op = json_next(op)) {
		bool if_exists = false;
		const struct op_def *d = op_find(json_key(op), &if_exists);
		miss->op = json_key(op);
		miss->key = NULL;
		if (!d || !json_is_object(op)) {
			ok = false;
			break;
		}
		for (const json *k = json_first(op); ok && k; k = json_next(k)) {
			miss->key = json_key(k);
			ok = condition_key_holds(d, if_exists, k, rq, &tmp);
		}
	}
	buf_release(&tmp);
	return ok;
}

/* Principal "*", {"AWS": "*"}, or a Service naming CloudTrail. */
static bool principal_is_cloudtrail(const json *p)
{
	if (json_is_string(p))
		return !strcmp(json_string(p), "*");
	for (const json *m = json_is_object(p) ? json_first(p) : NULL; m; m = json_next(m)) {
		const char *k = json_key(m);
		for (const json *e = json_each_first(m); e; e = json_each_next(m, e)) {
			const char *v = json_string(e);
			if (!v)
				continue;
			if ((!strcmp(k, "AWS") && !strcmp(v, "*")) ||
			    (!strcmp(k, "Service") && !strcmp(v, CT_SERVICE)))
				return true;
		}
	}
	return false;
}

static bool any_pattern_matches(const json *list, const char *s, bool ignore_case)
{
	for (const json *e = json_each_first(list); e; e = json_each_next(list, e)) {
		const char *p = json_string(e);
		if (p && glob(p, s, ignore_case, false))
			return true;
	}
	return false;
}

/* Principal names CloudTrail, or NotPrincipal is there and does not. */
static bool principal_matches(const json *st)
{
	const json *p = json_get(st, "Principal"), *np = json_get(st, "NotPrincipal");
	return p ? principal_is_cloudtrail(p) : np ? !principal_is_cloudtrail(np) : false;
}

/* X matches s, or NotX is there and does not; a statement with neither
 * (not valid) matches nothing. */
static bool element_matches(const json *st, const char *name, const char *not_name,
			    const char *s, bool ignore_case)
{
	const json *v = json_get(st, name), *nv = json_get(st, not_name);
	return v ? any_pattern_matches(v, s, ignore_case)
		 : nv ? !any_pattern_matches(nv, s, ignore_case) : false;
}

enum verdict {
	V_NO,          /* principal, action or resource do not match */
	V_CONDITION,   /* they match; a condition does not hold */
	V_YES,
};

static enum verdict statement_applies(const json *st, const struct request *rq,
				      struct cond_miss *miss)
{
	/* IAM action names are case-insensitive; resources are not. */
	if (!principal_matches(st) ||
	    !element_matches(st, "Action", "NotAction", rq->action, true) ||
	    !element_matches(st, "Resource", "NotResource", rq->arn, false))
		return V_NO;
	const json *cond = json_get(st, "Condition");
	if (cond && !conditions_hold(cond, rq, miss))
		return V_CONDITION;
	return V_YES;
}

/* statement "Sid" (Statement[2]), or Statement[2] without a Sid. */
static void put_statement_name(struct buf *m, const json *st, size_t index, bool in_array)
{
	const char *sid = json_string(json_get(st, "Sid"));
	if (sid && *sid) {
		buf_puts(m, "statement ");
		put_quoted(m, sid);
		buf_puts(m, " (");
	}
	if (in_array)
		buf_printf(m, "Statement[%zu]", index);
	else
		buf_puts(m, "Statement");
	if (sid && *sid)
		buf_putc(m, ')');
}

static void put_fix(struct buf *m, const struct request *rq, const char *trail_arn)
{
	buf_printf(m, "; add an Allow statement with Principal {\"Service\": \"%s\"}, "
		   "Action \"%s\", Resource \"%s\" and Condition {\"StringEquals\": {",
		   CT_SERVICE, rq->action, rq->fix_resource);
	if (rq->acl)
		buf_puts(m, "\"s3:x-amz-acl\": \"" ACL_FULL "\", ");
	buf_printf(m, "\"aws:SourceArn\": \"%s\"}}", trail_arn);
}

/* 0 when rq is allowed, else the InsufficientS3BucketPolicyException. */
static int evaluate(const json *doc, const struct request *rq, const char *bucket,
		    const char *trail_arn, struct ct_err *err)
{
	const json *stmts = json_get(doc, "Statement");
	bool in_array = json_is_array(stmts);
	const json *near = NULL;
	size_t near_index = 0, index = 0;
	struct cond_miss near_miss = {NULL, NULL};
	bool allowed = false;

	for (const json *st = json_each_first(stmts); st;
	     st = json_each_next(stmts, st), index++) {
		const char *effect = json_string(json_get(st, "Effect"));
		if (!effect)
			continue;
		struct cond_miss miss = {NULL, NULL};
		enum verdict v = statement_applies(st, rq, &miss);
		if (!strcmp(effect, "Deny") && v == V_YES) {
			/* An explicit Deny wins over every Allow. */
			struct buf m;
			buf_init(&m, POLICY_MSG_MAX);
			buf_printf(&m, "Incorrect S3 bucket policy is detected for bucket: %s: ", bucket);
			put_statement_name(&m, st, index, in_array);
			buf_printf(&m, " denies %s %s on %s (%s)", CT_SERVICE, rq->action, rq->shown,
				   rq->what);
			return fail_msg(err, INSUFFICIENT, &m);
		}
		if (strcmp(effect, "Allow"))
			continue;
		if (v == V_YES) {
			allowed = true;
		} else if (v == V_CONDITION && !near) {
			near = st;
			near_index = index;
			near_miss = miss;
		}
	}
	if (allowed)
		return 0;

	struct buf m;
	buf_init(&m, POLICY_MSG_MAX);
	buf_printf(&m, "Incorrect S3 bucket policy is detected for bucket: %s: no statement allows "
		   "%s %s on %s (%s)", bucket, CT_SERVICE, rq->action, rq->shown, rq->what);
	if (near) {
		buf_puts(&m, "; ");
		put_statement_name(&m, near, near_index, in_array);
		buf_puts(&m, " would, but its condition ");
		put_quoted(&m, near_miss.op);
		if (!near_miss.key) {
			buf_puts(&m, " is not an operator trailfs evaluates, so it never holds");
		} else {
			buf_putc(&m, ' ');
			put_quoted(&m, near_miss.key);
			const char *have = ctx_get(rq, near_miss.key);
			if (have) {
				buf_puts(&m, " does not hold for the request's value ");
				put_quoted(&m, have);
			} else {
				buf_puts(&m, " does not hold: the request has no such key");
			}
		}
	}
	put_fix(&m, rq, trail_arn);
	return fail_msg(err, INSUFFICIENT, &m);
}

/* The ARNs the probe requests use, built once per call. */
struct probe_names {
	struct buf bucket_arn, objects_arn, log_arn, log_shown, digest_arn, digest_shown;
};

static int probe_names_build(struct probe_names *n, const char *bucket, const char *prefix,
			     const char *account, const char *region, const char *trail_arn)
{
	struct buf *all[] = {&n->bucket_arn, &n->objects_arn, &n->log_arn, &n->log_shown,
			     &n->digest_arn, &n->digest_shown};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		buf_init(all[i], POLICY_NAME_MAX);
	const char *slash = strrchr(trail_arn, '/');
	const char *trail_name = slash ? slash + 1 : trail_arn;
	const char *sep = *prefix ? "/" : "";
	int r = buf_printf(&n->bucket_arn, "arn:aws:s3:::%s", bucket);
	if (r == 0)
		r = buf_printf(&n->objects_arn, "arn:aws:s3:::%s/%s%sAWSLogs/%s/*",
			       bucket, prefix, sep, account);
	if (r == 0)
		r = buf_printf(&n->log_arn, "arn:aws:s3:::%s/%s%sAWSLogs/%s/CloudTrail/%s/"
			       PROBE_DATE_DIR "/%s_CloudTrail_%s_" PROBE_LOG_STAMP "_"
			       PROBE_UNIQUE ".json.gz",
			       bucket, prefix, sep, account, region, account, region);
	if (r == 0)
		r = buf_printf(&n->log_shown, "arn:aws:s3:::%s/%s%sAWSLogs/%s/CloudTrail/%s/*",
			       bucket, prefix, sep, account, region);
	if (r == 0)
		r = buf_printf(&n->digest_arn, "arn:aws:s3:::%s/%s%sAWSLogs/%s/CloudTrail-Digest/%s/"
			       PROBE_DATE_DIR "/%s_CloudTrail-Digest_%s_%s_%s_" PROBE_DIG_STAMP
			       ".json.gz",
			       bucket, prefix, sep, account, region, account, region, trail_name,
			       region);
	if (r == 0)
		r = buf_printf(&n->digest_shown,
			       "arn:aws:s3:::%s/%s%sAWSLogs/%s/CloudTrail-Digest/%s/*",
			       bucket, prefix, sep, account, region);
	return r;
}

static void probe_names_release(struct probe_names *n)
{
	struct buf *all[] = {&n->bucket_arn, &n->objects_arn, &n->log_arn, &n->log_shown,
			     &n->digest_arn, &n->digest_shown};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		buf_release(all[i]);
}

static void request_set(struct request *rq, const char *action, const char *arn,
			const char *shown, const char *what, const char *fix_resource, bool acl,
			const char *account, const char *trail_arn)
{
	rq->action = action;
	rq->arn = arn;
	rq->shown = shown;
	rq->what = what;
	rq->fix_resource = fix_resource;
	rq->acl = acl;
	rq->nctx = 0;
	rq->ctx[rq->nctx++] = (struct ctx_entry){"aws:SourceArn", trail_arn};
	rq->ctx[rq->nctx++] = (struct ctx_entry){"aws:SourceAccount", account};
	rq->ctx[rq->nctx++] = (struct ctx_entry){"aws:SecureTransport", "true"};
	rq->ctx[rq->nctx++] = (struct ctx_entry){"aws:PrincipalServiceName", CT_SERVICE};
	/* s3:x-amz-acl exists only on requests that send the header: the
	 * PutObjects.  A GetBucketAcl statement conditioned on it does not
	 * match, as in S3. */
	if (acl)
		rq->ctx[rq->nctx++] = (struct ctx_entry){"s3:x-amz-acl", ACL_FULL};
}

int policy_allows_cloudtrail(const char *doc, size_t len, const char *bucket,
			     const char *prefix, const char *account, const char *region,
			     const char *trail_arn, struct ct_err *err)
{
	if (!bucket || !account || !region || !trail_arn)
		return ct_fail(err, "InvalidParameterCombinationException",
			       "bucket, account, region and trail ARN are required");
	if (!prefix)
		prefix = "";
	json *j;
	struct ct_err why;
	ct_err_clear(&why);
	if (parse_policy(doc, len, bucket, false, &j, &why) < 0)
		return ct_fail(err, INSUFFICIENT, "Incorrect S3 bucket policy is detected for "
			       "bucket: %s: %s", bucket, why.message);

	struct probe_names n;
	int r = probe_names_build(&n, bucket, prefix, account, region, trail_arn);
	if (r < 0) {
		r = ct_fail_errno(err, r, "bucket policy check");
		goto done;
	}
	struct request rq;
	request_set(&rq, "s3:GetBucketAcl", buf_str(&n.bucket_arn), buf_str(&n.bucket_arn),
		    "the bucket", buf_str(&n.bucket_arn), false, account, trail_arn);
	r = evaluate(j, &rq, bucket, trail_arn, err);
	if (r == 0) {
		request_set(&rq, "s3:PutObject", buf_str(&n.log_arn), buf_str(&n.log_shown),
			    "log files", buf_str(&n.objects_arn), true, account, trail_arn);
		r = evaluate(j, &rq, bucket, trail_arn, err);
	}
	if (r == 0) {
		request_set(&rq, "s3:PutObject", buf_str(&n.digest_arn), buf_str(&n.digest_shown),
			    "digest files", buf_str(&n.objects_arn), true, account, trail_arn);
		r = evaluate(j, &rq, bucket, trail_arn, err);
	}
done:
	probe_names_release(&n);
	json_free(j);
	return r;
}
