/* Validators for CloudTrail's names and values (see validate.h for the rules).
 *
 * Every check works on a (pointer, length) span so that parts of an ARN can
 * be checked where they lie, without copying.  Character classes are spelled
 * out instead of using <ctype.h>: the rules are about ASCII, and ctype's
 * answers depend on the locale.
 *
 * Messages quote what they complain about through quote(), which escapes
 * control bytes and bytes of invalid UTF-8 as \xNN and shortens long values,
 * so nothing a user wrote reaches a message raw. */
#include "validate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "json.h"

#define E_TRAIL     "InvalidTrailNameException"
#define E_BUCKET_S3 "InvalidBucketName"
#define E_BUCKET_CT "InvalidS3BucketNameException"
#define E_PREFIX    "InvalidS3PrefixException"
#define E_KMS       "InvalidKmsKeyIdException"
#define E_SNS       "InvalidSnsTopicNameException"
#define E_LOG_GROUP "InvalidCloudWatchLogsLogGroupArnException"
#define E_LOG_ROLE  "InvalidCloudWatchLogsRoleArnException"
#define E_TAG       "InvalidTagParameterException"
#define E_SELECTORS "InvalidEventSelectorsException"

#define TYPE_S3       "AWS::S3::Object"
#define TYPE_LAMBDA   "AWS::Lambda::Function"
#define TYPE_DYNAMODB "AWS::DynamoDB::Table"

/* Limits of names inside ARNs that CloudTrail passes on to other services. */
#define LAMBDA_NAME_MAX       64    /* Lambda function name */
#define LAMBDA_QUALIFIER_MAX  128   /* version number or alias */
#define DYNAMODB_TABLE_MIN    3
#define DYNAMODB_TABLE_MAX    255
#define IAM_ROLE_NAME_MAX     64
#define KMS_UUID_LEN          36    /* 8-4-4-4-12 */
#define KMS_MRK_HEX           32    /* hex digits after "mrk-" */
#define IPV4_GROUP_DIGITS     3

enum {
	QUOTE_SHOWN = 64,                  /* bytes of a value shown in a message */
	QUOTE_SIZE = QUOTE_SHOWN * 4 + 8,  /* each byte may become \xNN; quotes, "..." */
	ARN_PARTS = 6,                     /* arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE */
};

/* ---- character classes ---- */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_alnum(unsigned char c) { return is_digit(c) || is_lower(c) || is_upper(c); }
static bool is_lower_alnum(unsigned char c) { return is_digit(c) || is_lower(c); }
static bool is_hex_lower(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
static bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

static bool is_trail_char(unsigned char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }
static bool is_trail_punct(unsigned char c) { return c == '.' || c == '_' || c == '-'; }
static bool is_bucket_char(unsigned char c) { return is_lower_alnum(c) || c == '.' || c == '-'; }
static bool is_kms_alias_char(unsigned char c) { return is_alnum(c) || c == '/' || c == '_' || c == '-'; }
static bool is_sns_char(unsigned char c) { return is_alnum(c) || c == '_' || c == '-'; }
static bool is_log_group_char(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == '.' || c == '/' || c == '#' || c == '-';
}
static bool is_iam_char(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("+=,.@_-", c) != NULL);
}
static bool is_lambda_char(unsigned char c) { return is_alnum(c) || c == '_' || c == '-'; }
static bool is_qualifier_char(unsigned char c) { return is_lambda_char(c) || c == '$'; }
static bool is_table_char(unsigned char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; }
/* Tags: ASCII letters, digits, space and _ . : / = + - @; anything non-ASCII. */
static bool is_tag_char(unsigned char c)
{
	return c >= 0x80 || is_alnum(c) || (c != '\0' && strchr(" _.:/=+-@", c) != NULL);
}

/* Index of the first byte of s[0..n) that ok() refuses, or n. */
static size_t first_bad(const char *s, size_t n, bool (*ok)(unsigned char))
{
	size_t i = 0;
	while (i < n && ok((unsigned char)s[i]))
		i++;
	return i;
}

static bool span_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool starts_with(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	return n >= k && memcmp(s, lit, k) == 0;
}

/* s[0..n) is lit cut short (or all of it): more bytes could still make lit. */
static bool is_prefix_of(const char *s, size_t n, const char *lit)
{
	return n <= strlen(lit) && memcmp(s, lit, n) == 0;
}

static bool ends_with(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	return n >= k && memcmp(s + n - k, lit, k) == 0;
}

/* ---- UTF-8 ---- */

/* Bytes in the sequence a lead byte starts, 0 for a byte that cannot lead. */
static size_t utf8_lead_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	if ((c & 0xF8) == 0xF0)
		return 4;
	return 0;
}

/* Length of the character at s (at most n bytes): its whole sequence when
 * that is valid UTF-8, else 1, so a message can quote one character. */
static size_t char_len(const char *s, size_t n)
{
	size_t k = utf8_lead_len((unsigned char)s[0]);
	if (k > 1 && k <= n && json_utf8_valid(s, k))
		return k;
	return 1;
}

/* Could the k bytes at s (fewer than their lead byte asks for) still become
 * a valid character?  The code points a completion can reach form a range
 * whose ends are the completions with all-0x80 and all-0xBF continuation
 * bytes, and the invalid code points (overlong forms, surrogates, past
 * U+10FFFF) lie at the ends of the ranges, so trying both ends decides. */
static bool utf8_completable(const char *s, size_t k)
{
	size_t need = utf8_lead_len((unsigned char)s[0]);
	char lo[4], hi[4];
	if (need < 2 || k >= need)
		return false;
	memcpy(lo, s, k);
	memcpy(hi, s, k);
	memset(lo + k, 0x80, need - k);
	memset(hi + k, 0xBF, need - k);
	return json_utf8_valid(lo, need) || json_utf8_valid(hi, need);
}

/* Offset of the first byte where s[0..n) stops being valid UTF-8, or n.
 * *cut is set when the fault is only a character cut short by the end of
 * the string, which more bytes could complete. */
static size_t utf8_bad_at(const char *s, size_t n, bool *cut)
{
	size_t i = 0;
	*cut = false;
	while (i < n) {
		size_t k = utf8_lead_len((unsigned char)s[i]);
		if (k == 0)
			return i;
		if (i + k > n) {
			*cut = utf8_completable(s + i, n - i);
			return i;
		}
		if (!json_utf8_valid(s + i, k))
			return i;
		i += k;
	}
	return n;
}

/* ---- messages ---- */

/* Write s[0..n) into out (QUOTE_SIZE bytes) in double quotes, with control
 * bytes, '"' and '\' escaped, bytes of invalid UTF-8 as \xNN, and at most
 * QUOTE_SHOWN bytes shown.  Returns out, for use as a printf argument. */
static const char *quote(char *out, const char *s, size_t n)
{
	bool utf8 = json_utf8_valid(s, n);
	size_t shown = n;
	if (shown > QUOTE_SHOWN) {
		shown = QUOTE_SHOWN;
		/* Do not cut a character in two. */
		while (utf8 && shown > 0 && ((unsigned char)s[shown] & 0xC0) == 0x80)
			shown--;
	}
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_control(c) || (c >= 0x80 && !utf8)) {
			o += (size_t)snprintf(out + o, QUOTE_SIZE - o, "\\x%02x", c);
		} else if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	if (shown < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static const char *quote_str(char *out, const char *s)
{
	return quote(out, s, strlen(s));
}

/* The character at s[i] of an n-byte string, quoted. */
static const char *quote_char(char *out, const char *s, size_t n, size_t i)
{
	return quote(out, s + i, char_len(s + i, n - i));
}

/* The common failure for invalid UTF-8 at byte at of s (n bytes long); cut
 * as utf8_bad_at set it. */
static int fail_utf8(struct ct_err *err, const char *errname, const char *what,
		     const char *s, size_t n, size_t at, bool cut)
{
	char q[QUOTE_SIZE];
	if (cut)
		return ct_fail(err, errname, "%s must be valid UTF-8, but it ends in the middle of a "
			       "character (%s); add the missing bytes or remove the partial character",
			       what, quote(q, s + at, n - at));
	return ct_fail(err, errname, "%s must be valid UTF-8, but byte %zu (%s) is not; "
		       "save the text as UTF-8", what, at + 1, quote(q, s + at, 1));
}

/* ---- shapes shared by several rules ---- */

/* Four groups of 1-3 digits separated by dots, and nothing else. */
static bool ipv4_shape(const char *s, size_t n)
{
	size_t groups = 0, i = 0;
	while (groups < 4) {
		size_t digits = 0;
		while (i < n && is_digit((unsigned char)s[i]) && digits <= IPV4_GROUP_DIGITS) {
			i++;
			digits++;
		}
		if (digits == 0 || digits > IPV4_GROUP_DIGITS)
			return false;
		groups++;
		if (groups < 4) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
	}
	return i == n;
}

bool looks_like_ipv4(const char *s)
{
	return ipv4_shape(s, strlen(s));
}

/* Region names: ^[a-z]+(-[a-z]+)*-[0-9]+$, at most CT_REGION_MAX bytes.
 * With partial, s may be the start of such a name. */
static bool region_ok(const char *s, size_t n, bool partial)
{
	enum { START, LETTERS, HYPHEN, DIGITS } state = START;
	if (n > CT_REGION_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (state) {
		case START:
			if (!is_lower(c))
				return false;
			state = LETTERS;
			break;
		case LETTERS:
			if (c == '-')
				state = HYPHEN;
			else if (!is_lower(c))
				return false;
			break;
		case HYPHEN:
			if (is_lower(c))
				state = LETTERS;
			else if (is_digit(c))
				state = DIGITS;
			else
				return false;
			break;
		case DIGITS:
			if (!is_digit(c))
				return false;
			break;
		}
	}
	return partial || state == DIGITS;
}

bool region_name_valid(const char *s)
{
	return region_ok(s, strlen(s), false);
}

static bool account_ok(const char *s, size_t n, bool partial)
{
	if (n > CT_ACCOUNT_LEN || (!partial && n != CT_ACCOUNT_LEN))
		return false;
	return first_bad(s, n, is_digit) == n;
}

bool account_id_valid(const char *s)
{
	return account_ok(s, strlen(s), false);
}

/* ---- ARNs ---- */

/* An ARN cut at its first five colons; the resource part keeps any further
 * colons, since resources such as "log-group:NAME:*" contain them. */
struct arn {
	const char *part[ARN_PARTS];
	size_t len[ARN_PARTS];
	size_t n;   /* parts present: the colons seen plus one */
};

static void arn_split(const char *s, size_t n, struct arn *a)
{
	size_t start = 0;
	a->n = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || (s[i] == ':' && a->n < ARN_PARTS - 1)) {
			a->part[a->n] = s + start;
			a->len[a->n] = i - start;
			a->n++;
			start = i + 1;
		}
	}
}

/* What the head of one kind of ARN holds. */
struct arn_form {
	const char *service;   /* "kms" */
	bool region;           /* a region name, else an empty part */
	bool account;          /* an account id, else an empty part */
	const char *errname;
	const char *what;      /* "KMS key ARNs", the subject of messages */
	const char *form;      /* the shape to suggest */
};

/* Check "arn:aws:SERVICE:REGION:ACCOUNT:" of s (split into a).  Returns 0
 * when the head is right and the resource part is there; 1 when partial and
 * s ends inside a head that could still be completed; else a failure. */
static int arn_head(const char *s, const struct arn *a, const struct arn_form *f,
		    bool partial, struct ct_err *err)
{
	const char *lit[3] = { "arn", "aws", f->service };
	char q[QUOTE_SIZE];
	for (size_t i = 0; i < a->n && i < ARN_PARTS - 1; i++) {
		/* With partial, the last part present may still be growing. */
		bool growing = partial && i == a->n - 1;
		const char *p = a->part[i];
		size_t len = a->len[i];
		if (i < 3) {
			bool good = growing ? is_prefix_of(p, len, lit[i]) : span_eq(p, len, lit[i]);
			if (!good)
				return ct_fail(err, f->errname, "%s start with \"arn:aws:%s:\", not %s; "
					       "use the form %s", f->what, f->service,
					       quote(q, s, (size_t)(p + len - s)), f->form);
		} else if (i == 3 && f->region) {
			if (!region_ok(p, len, growing))
				return ct_fail(err, f->errname, "%s name a region in the fourth part, and %s "
					       "is not a region name; use one such as \"us-east-1\" (form %s)",
					       f->what, quote(q, p, len), f->form);
		} else if (i == 4 && f->account) {
			if (!account_ok(p, len, growing))
				return ct_fail(err, f->errname, "%s name an account in the fifth part, and %s "
					       "is not a 12-digit account id; use the form %s",
					       f->what, quote(q, p, len), f->form);
		} else if (len > 0) {
			return ct_fail(err, f->errname, "%s have an empty %s part, not %s; use the form %s",
				       f->what, i == 3 ? "region" : "account", quote(q, p, len), f->form);
		}
	}
	if (a->n < ARN_PARTS) {
		if (partial)
			return 1;
		return ct_fail(err, f->errname, "%s is incomplete; %s have the form %s",
			       quote_str(q, s), f->what, f->form);
	}
	return 0;
}

/* ---- trail names ---- */

int validate_trail_name(const char *s, unsigned flags, struct ct_err *err)
{
	bool partial = flags & VF_PARTIAL;
	size_t n = strlen(s);
	char q[QUOTE_SIZE];

	if (n == 0 && !partial)
		return ct_fail(err, E_TRAIL, "trail name cannot be blank; use %d to %d ASCII letters, "
			       "digits, '.', '_' or '-'", CT_TRAIL_NAME_MIN, CT_TRAIL_NAME_MAX);
	size_t bad = first_bad(s, n, is_trail_char);
	if (bad < n)
		return ct_fail(err, E_TRAIL, "trail names may not contain %s; use only ASCII letters, "
			       "digits, '.', '_' and '-'", quote_char(q, s, n, bad));
	if (n > CT_TRAIL_NAME_MAX)
		return ct_fail(err, E_TRAIL, "trail names may be at most %d characters long, and this one "
			       "has %zu; use a shorter name", CT_TRAIL_NAME_MAX, n);
	if (n > 0 && !is_alnum((unsigned char)s[0]))
		return ct_fail(err, E_TRAIL, "trail names must start with a letter or digit, not %s; "
			       "remove the leading punctuation", quote(q, s, 1));
	for (size_t i = 0; i + 1 < n; i++)
		if (is_trail_punct((unsigned char)s[i]) && is_trail_punct((unsigned char)s[i + 1]))
			return ct_fail(err, E_TRAIL, "trail names may not contain two punctuation "
				       "characters in a row (%s); use letters, digits, '.', '_' or '-' "
				       "with a letter or digit between punctuation", quote(q, s + i, 2));
	if (partial)
		return 0;
	if (!is_alnum((unsigned char)s[n - 1]))
		return ct_fail(err, E_TRAIL, "trail names must end with a letter or digit, not %s; "
			       "remove the trailing punctuation or add a letter or digit after it",
			       quote(q, s + n - 1, 1));
	if (n < CT_TRAIL_NAME_MIN)
		return ct_fail(err, E_TRAIL, "trail name %s is too short; use at least %d characters",
			       quote(q, s, n), CT_TRAIL_NAME_MIN);
	if (ipv4_shape(s, n))
		return ct_fail(err, E_TRAIL, "trail name %s looks like an IP address; use a name that is "
			       "not four groups of digits separated by dots", quote(q, s, n));
	return 0;
}

/* ---- bucket names ---- */

static const char *const bucket_reserved_prefixes[] = { "xn--", "sthree-", "amzn-s3-demo-" };
static const char *const bucket_reserved_suffixes[] = {
	"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3",
};

/* S3's general-purpose rules, plus CloudTrail's when cloudtrail is set,
 * reported under errname (the caller's AWS error). */
static int bucket_check(const char *s, size_t n, bool partial, bool cloudtrail,
			const char *errname, struct ct_err *err)
{
	char q[QUOTE_SIZE], q2[QUOTE_SIZE];

	if (n == 0 && !partial)
		return ct_fail(err, errname, "bucket name cannot be blank; use %d to %d lowercase "
			       "letters, digits, '.' or '-'", CT_BUCKET_NAME_MIN, CT_BUCKET_NAME_MAX);
	size_t bad = first_bad(s, n, is_bucket_char);
	if (bad < n) {
		if (is_upper((unsigned char)s[bad]))
			return ct_fail(err, errname, "bucket names may not contain uppercase letters (%s); "
				       "use lowercase letters, digits, '.' and '-'", quote_char(q, s, n, bad));
		return ct_fail(err, errname, "bucket names may not contain %s; use only lowercase "
			       "letters, digits, '.' and '-'", quote_char(q, s, n, bad));
	}
	if (n > CT_BUCKET_NAME_MAX)
		return ct_fail(err, errname, "bucket names may be at most %d characters long, and this one "
			       "has %zu; use a shorter name", CT_BUCKET_NAME_MAX, n);
	if (n > 0 && !is_lower_alnum((unsigned char)s[0]))
		return ct_fail(err, errname, "bucket names must start with a lowercase letter or digit, "
			       "not %s; remove the leading punctuation", quote(q, s, 1));
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] == '.' && s[i + 1] == '.')
			return ct_fail(err, errname, "bucket names may not contain two dots in a row "
				       "(\"..\"); put a letter or digit between dots");
		/* CloudTrail's copy of the rules: every dot-separated label starts
		 * with a letter or digit, and no '-' touches a '.'. */
		if (cloudtrail && ((s[i] == '.' && s[i + 1] == '-') || (s[i] == '-' && s[i + 1] == '.')))
			return ct_fail(err, errname, "bucket names for CloudTrail may not have '-' next to "
				       "'.' (%s); start and end each dot-separated part with a letter or "
				       "digit", quote(q, s + i, 2));
	}
	for (size_t k = 0; k < sizeof bucket_reserved_prefixes / sizeof *bucket_reserved_prefixes; k++)
		if (starts_with(s, n, bucket_reserved_prefixes[k]))
			return ct_fail(err, errname, "bucket names may not start with %s, which S3 "
				       "reserves; choose another name", quote_str(q, bucket_reserved_prefixes[k]));
	if (partial)
		return 0;
	if (!is_lower_alnum((unsigned char)s[n - 1]))
		return ct_fail(err, errname, "bucket names must end with a lowercase letter or digit, "
			       "not %s; remove the trailing punctuation", quote(q, s + n - 1, 1));
	if (n < CT_BUCKET_NAME_MIN)
		return ct_fail(err, errname, "bucket name %s is too short; use at least %d characters",
			       quote(q, s, n), CT_BUCKET_NAME_MIN);
	if (ipv4_shape(s, n))
		return ct_fail(err, errname, "bucket name %s looks like an IP address; use a name that is "
			       "not four groups of digits separated by dots", quote(q, s, n));
	for (size_t k = 0; k < sizeof bucket_reserved_suffixes / sizeof *bucket_reserved_suffixes; k++)
		if (ends_with(s, n, bucket_reserved_suffixes[k]))
			return ct_fail(err, errname, "bucket name %s ends with %s, which S3 reserves; "
				       "choose another name", quote(q, s, n),
				       quote_str(q2, bucket_reserved_suffixes[k]));
	return 0;
}

int validate_bucket_name_s3(const char *s, unsigned flags, struct ct_err *err)
{
	return bucket_check(s, strlen(s), flags & VF_PARTIAL, false, E_BUCKET_S3, err);
}

int validate_bucket_name_cloudtrail(const char *s, unsigned flags, struct ct_err *err)
{
	return bucket_check(s, strlen(s), flags & VF_PARTIAL, true, E_BUCKET_CT, err);
}

/* ---- S3 key prefix ---- */

int validate_s3_prefix(const char *s, unsigned flags, struct ct_err *err)
{
	bool partial = flags & VF_PARTIAL;
	size_t n = strlen(s);
	char q[QUOTE_SIZE];

	if (n > CT_PREFIX_MAX)
		return ct_fail(err, E_PREFIX, "S3 key prefixes may be at most %d bytes long, and this one "
			       "has %zu; use a shorter prefix", CT_PREFIX_MAX, n);
	for (size_t i = 0; i < n; i++)
		if (is_control((unsigned char)s[i]))
			return ct_fail(err, E_PREFIX, "S3 key prefixes may not contain control characters "
				       "(%s); use printable characters", quote(q, s + i, 1));
	bool cut;
	size_t bad = utf8_bad_at(s, n, &cut);
	/* A character cut short at the end may be completed by the next piece. */
	if (bad < n && !(partial && cut))
		return fail_utf8(err, E_PREFIX, "an S3 key prefix", s, n, bad, cut);
	if (n > 0 && s[0] == '/')
		return ct_fail(err, E_PREFIX, "S3 key prefixes may not start with '/'; write %s without "
			       "the leading slash", quote(q, s, n));
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		const char *seg = s + start;
		size_t len = i - start;
		bool last = i == n;
		start = i + 1;
		/* With partial the last segment may still grow ("." into ".x"). */
		if (last && (partial || n == 0))
			break;
		if (last && len == 0)
			return ct_fail(err, E_PREFIX, "S3 key prefixes may not end with '/' (CloudTrail "
				       "adds one); write %s without the trailing slash", quote(q, s, n));
		if (len == 0)
			return ct_fail(err, E_PREFIX, "S3 key prefixes may not contain an empty path "
				       "segment (\"//\"); use a single '/' between segments");
		if (span_eq(seg, len, ".") || span_eq(seg, len, ".."))
			return ct_fail(err, E_PREFIX, "S3 key prefixes may not contain a %s path "
				       "segment; use a name other than \".\" or \"..\" between slashes",
				       quote(q, seg, len));
	}
	return 0;
}

/* ---- KMS ---- */

static const struct arn_form kms_arn_form = {
	"kms", true, true, E_KMS, "KMS key ARNs",
	"arn:aws:kms:REGION:ACCOUNT:key/KEY-ID or arn:aws:kms:REGION:ACCOUNT:alias/NAME",
};

/* NAME of "alias/NAME". */
static int kms_alias(const char *s, size_t n, bool partial, struct ct_err *err)
{
	char q[QUOTE_SIZE];
	if (n == 0 && !partial)
		return ct_fail(err, E_KMS, "KMS alias names cannot be blank; write alias/NAME, "
			       "such as alias/my-trail-key");
	size_t bad = first_bad(s, n, is_kms_alias_char);
	if (bad < n)
		return ct_fail(err, E_KMS, "KMS alias names may not contain %s; use only ASCII letters, "
			       "digits, '/', '_' and '-'", quote_char(q, s, n, bad));
	if (n > CT_KMS_ALIAS_MAX)
		return ct_fail(err, E_KMS, "KMS alias names may be at most %d characters long after "
			       "\"alias/\", and this one has %zu; use a shorter alias",
			       CT_KMS_ALIAS_MAX, n);
	if (starts_with(s, n, "aws"))
		return ct_fail(err, E_KMS, "KMS alias names may not begin with \"aws\", which is kept "
			       "for AWS managed keys (found %s); use your own alias, such as "
			       "alias/my-trail-key", quote(q, s, n));
	return 0;
}

/* A bare key id: a lowercase UUID, or "mrk-" and 32 lowercase hex digits. */
static int kms_key(const char *s, size_t n, bool partial, struct ct_err *err)
{
	char q[QUOTE_SIZE];
	bool good;
	if (partial && is_prefix_of(s, n, "mrk-"))
		return 0;
	if (starts_with(s, n, "mrk-")) {
		size_t hex = n - 4;
		good = hex <= KMS_MRK_HEX && (partial || hex == KMS_MRK_HEX) &&
		       first_bad(s + 4, hex, is_hex_lower) == hex;
	} else {
		good = n <= KMS_UUID_LEN && (partial || n == KMS_UUID_LEN);
		for (size_t i = 0; good && i < n; i++) {
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;
			good = dash ? s[i] == '-' : is_hex_lower((unsigned char)s[i]);
		}
	}
	if (good)
		return 0;
	return ct_fail(err, E_KMS, "%s is not a KMS key id; use a lowercase UUID such as "
		       "1234abcd-12ab-34cd-56ef-1234567890ab, \"mrk-\" and %d lowercase hex digits, "
		       "alias/NAME, or a key or alias ARN (%s)", quote(q, s, n), KMS_MRK_HEX,
		       kms_arn_form.form);
}

int validate_kms_key_id(const char *s, unsigned flags, struct ct_err *err)
{
	bool partial = flags & VF_PARTIAL;
	size_t n = strlen(s);
	char q[QUOTE_SIZE];

	if (n > CT_ARN_MAX)
		return ct_fail(err, E_KMS, "KMS key ids may be at most %d characters long, and this one "
			       "has %zu; use a key id, alias/NAME or a key ARN", CT_ARN_MAX, n);
	if (n == 0 && !partial)
		return ct_fail(err, E_KMS, "KMS key id cannot be blank; use a key id, alias/NAME, or a "
			       "key or alias ARN");
	/* A start such as "a" could still become any of the forms. */
	if (partial && (is_prefix_of(s, n, "alias/") || is_prefix_of(s, n, "arn:")))
		return 0;
	if (starts_with(s, n, "alias/"))
		return kms_alias(s + 6, n - 6, partial, err);
	if (!starts_with(s, n, "arn:"))
		return kms_key(s, n, partial, err);

	struct arn a;
	arn_split(s, n, &a);
	int r = arn_head(s, &a, &kms_arn_form, partial, err);
	if (r != 0)
		return r < 0 ? r : 0;
	const char *res = a.part[5];
	size_t rn = a.len[5];
	if (partial && (is_prefix_of(res, rn, "alias/") || is_prefix_of(res, rn, "key/")))
		return 0;
	if (starts_with(res, rn, "alias/"))
		return kms_alias(res + 6, rn - 6, partial, err);
	if (starts_with(res, rn, "key/"))
		return kms_key(res + 4, rn - 4, partial, err);
	return ct_fail(err, E_KMS, "KMS key ARNs end in key/KEY-ID or alias/NAME, not %s; use the "
		       "form %s", quote(q, res, rn), kms_arn_form.form);
}

/* ---- SNS ---- */

static const struct arn_form sns_arn_form = {
	"sns", true, true, E_SNS, "SNS topic ARNs", "arn:aws:sns:REGION:ACCOUNT:TOPIC",
};

/* A topic name: [A-Za-z0-9_-]+ with an optional ".fifo" ending. */
static int sns_name(const char *s, size_t n, bool partial, struct ct_err *err)
{
	char q[QUOTE_SIZE];
	if (n == 0 && !partial)
		return ct_fail(err, E_SNS, "SNS topic name cannot be blank; use 1 to %d ASCII letters, "
			       "digits, '_' or '-'", CT_SNS_TOPIC_MAX);
	if (n > CT_SNS_TOPIC_MAX)
		return ct_fail(err, E_SNS, "SNS topic names may be at most %d characters long, and this "
			       "one has %zu; use a shorter name", CT_SNS_TOPIC_MAX, n);
	size_t bad = first_bad(s, n, is_sns_char);
	if (bad == n)
		return 0;
	if (s[bad] != '.')
		return ct_fail(err, E_SNS, "SNS topic names may not contain %s; use only ASCII letters, "
			       "digits, '_' and '-' (and \".fifo\" at the end of a FIFO topic)",
			       quote_char(q, s, n, bad));
	if (bad == 0)
		return ct_fail(err, E_SNS, "SNS topic names need a name before \".fifo\"; use a name "
			       "such as \"my-topic.fifo\"");
	const char *tail = s + bad + 1;
	size_t tn = n - bad - 1;
	if (partial ? is_prefix_of(tail, tn, "fifo") : span_eq(tail, tn, "fifo"))
		return 0;
	return ct_fail(err, E_SNS, "SNS topic names may contain '.' only in a \".fifo\" ending, not "
		       "in %s; use letters, digits, '_' and '-', and end FIFO topics with \".fifo\"",
		       quote(q, s + bad, n - bad));
}

int validate_sns_topic(const char *s, unsigned flags, struct ct_err *err)
{
	bool partial = flags & VF_PARTIAL;
	size_t n = strlen(s);

	if (!starts_with(s, n, "arn:"))
		return sns_name(s, n, partial, err);
	if (n > CT_ARN_MAX)
		return ct_fail(err, E_SNS, "SNS topic ARNs may be at most %d characters long, and this "
			       "one has %zu; use the form %s", CT_ARN_MAX, n, sns_arn_form.form);
	struct arn a;
	arn_split(s, n, &a);
	int r = arn_head(s, &a, &sns_arn_form, partial, err);
	if (r != 0)
		return r < 0 ? r : 0;
	return sns_name(a.part[5], a.len[5], partial, err);
}

/* ---- CloudWatch Logs ---- */

static const struct arn_form log_group_arn_form = {
	"logs", true, true, E_LOG_GROUP, "log group ARNs",
	"arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*",
};

static const struct arn_form log_role_arn_form = {
	"iam", false, true, E_LOG_ROLE, "role ARNs", "arn:aws:iam::ACCOUNT:role/NAME",
};

static int log_group_name(const char *s, size_t n, bool partial, struct ct_err *err)
{
	char q[QUOTE_SIZE];
	if (n == 0 && !partial)
		return ct_fail(err, E_LOG_GROUP, "log group name cannot be blank; use 1 to %d ASCII "
			       "letters, digits, '_', '.', '/', '#' or '-'", CT_LOG_GROUP_MAX);
	size_t bad = first_bad(s, n, is_log_group_char);
	if (bad < n)
		return ct_fail(err, E_LOG_GROUP, "log group names may not contain %s; use only ASCII "
			       "letters, digits, '_', '.', '/', '#' and '-'", quote_char(q, s, n, bad));
	if (n > CT_LOG_GROUP_MAX)
		return ct_fail(err, E_LOG_GROUP, "log group names may be at most %d characters long, and "
			       "this one has %zu; use a shorter name", CT_LOG_GROUP_MAX, n);
	return 0;
}

int validate_log_group_name(const char *s, unsigned flags, struct ct_err *err)
{
	return log_group_name(s, strlen(s), flags & VF_PARTIAL, err);
}

int validate_log_group_arn(const char *s, char *name_out, struct ct_err *err)
{
	size_t n = strlen(s);
	char q[QUOTE_SIZE];

	if (n > CT_ARN_MAX)
		return ct_fail(err, E_LOG_GROUP, "log group ARNs may be at most %d characters long, and "
			       "this one has %zu; use the form %s", CT_ARN_MAX, n, log_group_arn_form.form);
	struct arn a;
	arn_split(s, n, &a);
	int r = arn_head(s, &a, &log_group_arn_form, false, err);
	if (r < 0)
		return r;
	const char *res = a.part[5];
	size_t rn = a.len[5];
	if (!starts_with(res, rn, "log-group:"))
		return ct_fail(err, E_LOG_GROUP, "log group ARNs end in log-group:NAME, not %s; use the "
			       "form %s", quote(q, res, rn), log_group_arn_form.form);
	const char *name = res + strlen("log-group:");
	size_t nn = rn - strlen("log-group:");
	if (ends_with(name, nn, ":*"))
		nn -= 2;
	r = log_group_name(name, nn, false, err);
	if (r < 0)
		return r;
	if (name_out) {
		memcpy(name_out, name, nn);
		name_out[nn] = '\0';
	}
	return 0;
}

int validate_log_role_arn(const char *s, struct ct_err *err)
{
	size_t n = strlen(s);
	char q[QUOTE_SIZE];

	if (n > CT_ARN_MAX)
		return ct_fail(err, E_LOG_ROLE, "role ARNs may be at most %d characters long, and this "
			       "one has %zu; use the form %s", CT_ARN_MAX, n, log_role_arn_form.form);
	struct arn a;
	arn_split(s, n, &a);
	int r = arn_head(s, &a, &log_role_arn_form, false, err);
	if (r < 0)
		return r;
	const char *res = a.part[5];
	size_t rn = a.len[5];
	if (!starts_with(res, rn, "role/"))
		return ct_fail(err, E_LOG_ROLE, "role ARNs end in role/NAME or role/PATH/NAME, not %s; "
			       "use the form %s", quote(q, res, rn), log_role_arn_form.form);
	/* role/PATH/NAME: every segment is a non-empty run of IAM name
	 * characters, and the last one, the role name, has at most 64. */
	size_t start = strlen("role/");
	for (size_t i = start; i <= rn; i++) {
		if (i < rn && res[i] != '/')
			continue;
		if (i == start)
			return ct_fail(err, E_LOG_ROLE, "role ARN %s has an empty path segment or role "
				       "name; use the form %s", quote_str(q, s), log_role_arn_form.form);
		size_t bad = first_bad(res + start, i - start, is_iam_char);
		if (bad < i - start)
			return ct_fail(err, E_LOG_ROLE, "role names and paths may not contain %s; use only "
				       "ASCII letters, digits and + = , . @ _ -",
				       quote_char(q, res + start, i - start, bad));
		if (i == rn && i - start > IAM_ROLE_NAME_MAX)
			return ct_fail(err, E_LOG_ROLE, "role names may be at most %d characters long, "
				       "and this one has %zu; use the role's real name",
				       IAM_ROLE_NAME_MAX, i - start);
		start = i + 1;
	}
	return 0;
}

/* ---- tags ---- */

/* One tag key or value: valid UTF-8, min..max characters, tag characters. */
static int tag_text(const char *s, const char *what, size_t min, size_t max, struct ct_err *err)
{
	size_t n = strlen(s);
	char q[QUOTE_SIZE];
	bool cut;
	size_t bad = utf8_bad_at(s, n, &cut);
	if (bad < n)
		return fail_utf8(err, E_TAG, what, s, n, bad, cut);
	size_t chars = json_utf8_length(s);
	if (chars < min)
		return ct_fail(err, E_TAG, "a tag key cannot be blank; use 1 to %zu characters", max);
	if (chars > max)
		return ct_fail(err, E_TAG, "%s may be at most %zu characters long, and %s has %zu; "
			       "shorten it", what, max, quote(q, s, n), chars);
	bad = first_bad(s, n, is_tag_char);
	if (bad < n)
		return ct_fail(err, E_TAG, "%s may not contain %s; use letters, digits, spaces and "
			       "_ . : / = + - @", what, quote_char(q, s, n, bad));
	return 0;
}

int validate_tag(const char *key, const char *value, struct ct_err *err)
{
	char q[QUOTE_SIZE];
	/* NULL is taken as "", so a missing key fails and a missing value is empty. */
	if (!key)
		key = "";
	if (!value)
		value = "";
	int r = tag_text(key, "a tag key", 1, CT_TAG_KEY_MAX, err);
	if (r < 0)
		return r;
	/* AWS reserves the prefix in any mix of case ("AWS:", "Aws:"). */
	if (strncasecmp(key, "aws:", 4) == 0)
		return ct_fail(err, E_TAG, "tag keys may not begin with \"aws:\", which AWS reserves "
			       "(found %s); use another key", quote_str(q, key));
	return tag_text(value, "a tag value", 0, CT_TAG_VALUE_MAX, err);
}

/* ---- data resources ---- */

static const struct arn_form s3_data_form = {
	"s3", false, false, E_SELECTORS, TYPE_S3 " values",
	"arn:aws:s3:::BUCKET/ or arn:aws:s3:::BUCKET/PREFIX (or arn:aws:s3 for all buckets)",
};

static const struct arn_form lambda_data_form = {
	"lambda", true, true, E_SELECTORS, TYPE_LAMBDA " values",
	"arn:aws:lambda:REGION:ACCOUNT:function:NAME (or arn:aws:lambda for all functions)",
};

static const struct arn_form dynamodb_data_form = {
	"dynamodb", true, true, E_SELECTORS, TYPE_DYNAMODB " values",
	"arn:aws:dynamodb:REGION:ACCOUNT:table/NAME (or arn:aws:dynamodb for all tables)",
};

static int s3_resource(const char *s, size_t n, struct ct_err *err)
{
	char q[QUOTE_SIZE];
	struct arn a;
	arn_split(s, n, &a);
	int r = arn_head(s, &a, &s3_data_form, false, err);
	if (r < 0)
		return r;
	const char *res = a.part[5];
	size_t rn = a.len[5];
	const char *slash = memchr(res, '/', rn);
	if (!slash)
		return ct_fail(err, E_SELECTORS, "S3 data resource %s needs a '/' after the bucket "
			       "name; use arn:aws:s3:::BUCKET/ for the whole bucket", quote(q, s, n));
	size_t bn = (size_t)(slash - res);
	r = bucket_check(res, bn, false, false, E_SELECTORS, err);
	if (r < 0)
		return r;
	for (const char *p = slash + 1; p < res + rn; p++)
		if (is_control((unsigned char)*p))
			return ct_fail(err, E_SELECTORS, "S3 data resource prefixes may not contain control "
				       "characters (%s); use printable characters", quote(q, p, 1));
	return 0;
}

/* A name of min..max characters accepted by ok(), for messages called what. */
static int resource_name(const char *s, size_t n, size_t min, size_t max,
			 bool (*ok)(unsigned char), const char *what, const char *chars,
			 struct ct_err *err)
{
	char q[QUOTE_SIZE];
	size_t bad = first_bad(s, n, ok);
	if (bad < n)
		return ct_fail(err, E_SELECTORS, "%s may not contain %s; use only %s",
			       what, quote_char(q, s, n, bad), chars);
	if (n < min || n > max)
		return ct_fail(err, E_SELECTORS, "%s must be %zu to %zu characters long, and %s has %zu; "
			       "use a name of that length", what, min, max, quote(q, s, n), n);
	return 0;
}

static int lambda_resource(const char *s, size_t n, struct ct_err *err)
{
	char q[QUOTE_SIZE];
	struct arn a;
	arn_split(s, n, &a);
	int r = arn_head(s, &a, &lambda_data_form, false, err);
	if (r < 0)
		return r;
	const char *res = a.part[5];
	size_t rn = a.len[5];
	if (!starts_with(res, rn, "function:"))
		return ct_fail(err, E_SELECTORS, TYPE_LAMBDA " values end in function:NAME, not %s; "
			       "use the form %s", quote(q, res, rn), lambda_data_form.form);
	const char *name = res + strlen("function:");
	size_t nn = rn - strlen("function:");
	const char *colon = memchr(name, ':', nn);
	size_t len = colon ? (size_t)(colon - name) : nn;
	r = resource_name(name, len, 1, LAMBDA_NAME_MAX, is_lambda_char, "Lambda function names",
			  "ASCII letters, digits, '_' and '-'", err);
	if (r < 0 || !colon)
		return r;
	return resource_name(colon + 1, nn - len - 1, 1, LAMBDA_QUALIFIER_MAX, is_qualifier_char,
			     "Lambda qualifiers (version or alias)", "ASCII letters, digits, '$', '_' and '-'",
			     err);
}

static int dynamodb_resource(const char *s, size_t n, struct ct_err *err)
{
	char q[QUOTE_SIZE];
	struct arn a;
	arn_split(s, n, &a);
	int r = arn_head(s, &a, &dynamodb_data_form, false, err);
	if (r < 0)
		return r;
	const char *res = a.part[5];
	size_t rn = a.len[5];
	if (!starts_with(res, rn, "table/"))
		return ct_fail(err, E_SELECTORS, TYPE_DYNAMODB " values end in table/NAME, not %s; "
			       "use the form %s", quote(q, res, rn), dynamodb_data_form.form);
	return resource_name(res + strlen("table/"), rn - strlen("table/"), DYNAMODB_TABLE_MIN,
			     DYNAMODB_TABLE_MAX, is_table_char, "DynamoDB table names",
			     "ASCII letters, digits, '_', '.' and '-'", err);
}

bool data_resource_is_all(const char *value)
{
	return !strcmp(value, "arn:aws:s3") || !strcmp(value, "arn:aws:lambda") ||
	       !strcmp(value, "arn:aws:dynamodb");
}

int validate_data_resource(const char *type, const char *value, struct ct_err *err)
{
	size_t n = strlen(value);
	char q[QUOTE_SIZE];
	bool cut;

	if (n > CT_DATA_VALUE_MAX)
		return ct_fail(err, E_SELECTORS, "data resource values may be at most %d characters "
			       "long, and this one has %zu; use a shorter prefix", CT_DATA_VALUE_MAX, n);
	/* Not in AWS's list of rules, but every value ends up in JSON, which
	 * must be UTF-8. */
	size_t bad = utf8_bad_at(value, n, &cut);
	if (bad < n)
		return fail_utf8(err, E_SELECTORS, "a data resource value", value, n, bad, cut);
	if (!strcmp(type, TYPE_S3))
		return !strcmp(value, "arn:aws:s3") ? 0 : s3_resource(value, n, err);
	if (!strcmp(type, TYPE_LAMBDA))
		return !strcmp(value, "arn:aws:lambda") ? 0 : lambda_resource(value, n, err);
	if (!strcmp(type, TYPE_DYNAMODB))
		return !strcmp(value, "arn:aws:dynamodb") ? 0 : dynamodb_resource(value, n, err);
	return ct_fail(err, E_SELECTORS, "data resource type %s is not one CloudTrail knows; use "
		       TYPE_S3 ", " TYPE_LAMBDA " or " TYPE_DYNAMODB, quote_str(q, type));
}

/* ---- the data_events file ---- */

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* "All", "ReadOnly" or "WriteOnly", exactly.  (trail.c's rw_type_parse does
 * the same, but validate.c stays free of the trail module.) */
static bool rw_from_word(const char *s, size_t n, enum rw_type *out)
{
	if (span_eq(s, n, "All"))
		*out = RW_ALL;
	else if (span_eq(s, n, "ReadOnly"))
		*out = RW_READ;
	else if (span_eq(s, n, "WriteOnly"))
		*out = RW_WRITE;
	else
		return false;
	return true;
}

/* Turn RESOURCE into a type and a full value in v (empty on entry). */
static int data_events_resource(const char *s, size_t n, const char **type, struct buf *v,
				struct ct_err *err)
{
	char q[QUOTE_SIZE];
	int r = 0;
	if (starts_with(s, n, "s3://"))
		return ct_fail(err, E_SELECTORS, "data_events lines name a bucket without \"s3://\" "
			       "(found %s); write BUCKET or BUCKET/PREFIX", quote(q, s, n));
	if (!starts_with(s, n, "arn:")) {
		/* BUCKET[/PREFIX]; a bare BUCKET means the whole bucket. */
		*type = TYPE_S3;
		r = buf_puts(v, "arn:aws:s3:::");
		if (r == 0)
			r = buf_add(v, s, n);
		if (r == 0 && !memchr(s, '/', n))
			r = buf_putc(v, '/');
		return r;
	}
	struct arn a;
	arn_split(s, n, &a);
	if (a.n >= 3 && span_eq(a.part[2], a.len[2], "s3")) {
		*type = TYPE_S3;
		r = buf_add(v, s, n);
		/* arn:aws:s3:::BUCKET means the whole bucket, as AWS's
		 * arn:aws:s3:::BUCKET/ does. */
		if (r == 0 && a.n == ARN_PARTS && !memchr(a.part[5], '/', a.len[5]))
			r = buf_putc(v, '/');
		return r;
	}
	if (a.n >= 3 && span_eq(a.part[2], a.len[2], "lambda"))
		*type = TYPE_LAMBDA;
	else if (a.n >= 3 && span_eq(a.part[2], a.len[2], "dynamodb"))
		*type = TYPE_DYNAMODB;
	else
		return ct_fail(err, E_SELECTORS, "data resource %s is not an S3, Lambda or DynamoDB "
			       "ARN; use BUCKET[/PREFIX], arn:aws:s3:::BUCKET/PREFIX, "
			       "arn:aws:lambda:REGION:ACCOUNT:function:NAME or "
			       "arn:aws:dynamodb:REGION:ACCOUNT:table/NAME", quote(q, s, n));
	return buf_add(v, s, n);
}

int parse_data_events_line(const char *line, char **type_out, char **value_out,
			   enum rw_type *rw_out, struct ct_err *err)
{
	char q[QUOTE_SIZE];
	const char *word[2];
	size_t len[2];
	size_t words = 0;
	const char *p = line;

	*type_out = NULL;
	*value_out = NULL;
	for (;;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && !is_blank(*p))
			p++;
		if (words == 2)
			return ct_fail(err, E_SELECTORS, "data_events lines hold a resource and an optional "
				       "read/write type, but %s has more; write one resource per line "
				       "as \"RESOURCE [All|ReadOnly|WriteOnly]\"", quote_str(q, line));
		word[words] = start;
		len[words] = (size_t)(p - start);
		words++;
	}
	if (words == 0)
		return ct_fail(err, E_SELECTORS, "data_events line is empty; write "
			       "\"RESOURCE [All|ReadOnly|WriteOnly]\"");

	enum rw_type rw = RW_ALL;
	if (words == 2 && !rw_from_word(word[1], len[1], &rw))
		return ct_fail(err, E_SELECTORS, "read/write type %s is not one of All, ReadOnly or "
			       "WriteOnly; write one of those, spelled exactly so",
			       quote(q, word[1], len[1]));
	if (len[0] > CT_DATA_VALUE_MAX)
		return ct_fail(err, E_SELECTORS, "data resource values may be at most %d characters "
			       "long, and this one has %zu; use a shorter prefix",
			       CT_DATA_VALUE_MAX, len[0]);

	/* Room for the resource, "arn:aws:s3:::" in front and '/' behind. */
	struct buf v;
	buf_init(&v, CT_DATA_VALUE_MAX + strlen("arn:aws:s3:::/"));
	const char *type = NULL;
	int r = data_events_resource(word[0], len[0], &type, &v, err);
	if (r == 0)
		r = validate_data_resource(type, buf_str(&v), err);
	else if (r == -ENOMEM)
		r = ct_fail_errno(err, r, "data_events line");
	if (r < 0) {
		buf_release(&v);
		return r;
	}
	char *value = buf_take(&v);
	char *t = strdup(type);
	if (!value || !t) {
		free(value);
		free(t);
		return ct_fail_errno(err, ENOMEM, "data_events line");
	}
	*type_out = t;
	*value_out = value;
	*rw_out = rw;
	return 0;
}
