#include "event.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"

#define EVENT_ERR "InvalidEventException"

/* How much of a value from outside a message quotes, and the room that
 * takes once every byte is escaped. */
#define QUOTE_MAX 64
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)

/* A carry buffer that grew past this is freed once it empties, so one huge
 * record does not pin its memory for the rest of the open file. */
#define CARRY_KEEP (1024 * 1024)

#define UUID_LEN EVENT_UUID_LEN
/* Random bytes fetched at once when normalising a write's records: IDs for 32. */
#define RANDOM_POOL 512
#define UUID_BYTES 16

/* ---- small helpers ---- */

/* Length of the valid UTF-8 sequence of two or more bytes at p, or 0.
 * Stops at a NUL (never a continuation byte), so p may be a C string. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned c = p[0], cp;
	size_t n;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 1;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		n = 2;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t k = 1; k <= n; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3F);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return n + 1;
}

/* s as a message may show it: in quotes, on one line (control bytes and
 * broken UTF-8 escaped), cut after QUOTE_MAX bytes. */
static const char *quote(char out[QUOTE_BUF], const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0;
	out[o++] = '"';
	while (p[i] && i < QUOTE_MAX) {
		unsigned char c = p[i];
		size_t n = c >= 0x80 ? utf8_seq(p + i) : 1;
		if (c >= 0x80 && n) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		} else if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '"' || c == '\\') {
			o += (size_t)snprintf(out + o, QUOTE_BUF - o, c == '"' || c == '\\' ? "\\%c" : "\\x%02x", c);
			i++;
		} else {
			out[o++] = (char)c;
			i++;
		}
	}
	out[o++] = '"';
	if (p[i]) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static const char *type_name(const json *j)
{
	if (json_is_object(j))
		return "an object";
	if (json_is_array(j))
		return "an array";
	if (json_is_string(j))
		return "a string";
	if (json_is_number(j))
		return "a number";
	if (json_is_bool(j))
		return json_bool(j) ? "true" : "false";
	return "null";
}

/* Copy s (at most max bytes of it: it need not be terminated within them)
 * into a field of max + 1 bytes. */
static void copy_field(char *dst, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* What normalising needs beyond the record, kept across the records of a
 * write: the output buffer (grown once, reused) and random bytes for event
 * IDs (one getrandom call for many records, not a system call each). */
struct scratch {
	struct buf out;
	size_t random_fill;      /* bytes to fetch at a time, at most RANDOM_POOL */
	size_t random_left;      /* unused bytes at the start of random */
	unsigned char random[RANDOM_POOL];
};

static void scratch_init(struct scratch *sx, size_t random_fill)
{
	/* Room for a little more than the limit, so that a record over it is
	 * measured and refused rather than cut. */
	buf_init(&sx->out, CT_EVENT_MAX + 1);
	sx->random_fill = random_fill;
	sx->random_left = 0;
}

static void scratch_release(struct scratch *sx)
{
	buf_release(&sx->out);
}

/* Sixteen random bytes as a version 4 UUID. */
static void format_uuid4(unsigned char r[16], char out[UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);   /* version 4 */
	r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);   /* RFC 4122 variant */
	size_t o = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[r[i] >> 4];
		out[o++] = hex[r[i] & 0x0F];
	}
	out[o] = '\0';
}

static int fill_random(unsigned char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = getrandom(p + got, n - got, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)k;
	}
	return 0;
}

/* A random (version 4) UUID, from the write's pool of random bytes. */
static int uuid4(struct scratch *sx, char out[UUID_LEN + 1])
{
	unsigned char r[16];
	if (sx->random_left < sizeof r) {
		int e = fill_random(sx->random, sx->random_fill);
		if (e < 0)
			return e;
		sx->random_left = sx->random_fill;
	}
	sx->random_left -= sizeof r;
	memcpy(r, sx->random + sx->random_left, sizeof r);
	format_uuid4(r, out);
	return 0;
}

int event_uuid(char out[EVENT_UUID_LEN + 1])
{
	unsigned char r[16];
	int e = fill_random(r, sizeof r);
	if (e == 0)
		format_uuid4(r, out);
	return e;
}

/* ---- eventTime ---- */

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* "YYYY-MM-DDTHH:MM:SSZ", or with 1 to 9 digits of fractional seconds
 * before the Z (dropped: records are routed by the second).  The fields
 * are range-checked here, because clock_parse_iso's strptime would take
 * "2026-02-30" and roll it into March. */
static bool parse_event_time(const char *s, int64_t *t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return false;
	}
	const char *p = s + sizeof shape - 1;
	if (*p == '.') {
		size_t n = 0;
		while (p[1 + n] >= '0' && p[1 + n] <= '9')
			n++;
		if (n == 0 || n > 9)
			return false;
		p += 1 + n;
	}
	if (p[0] != 'Z' || p[1] != '\0')
		return false;
	int year = num(s, 4), mon = num(s + 5, 2), day = num(s + 8, 2);
	if (mon < 1 || mon > 12 || day < 1 ||
	    day > mdays[mon - 1] + (mon == 2 && leap(year)) ||
	    num(s + 11, 2) > 23 || num(s + 14, 2) > 59 || num(s + 17, 2) > 59)
		return false;
	char whole[21];
	memcpy(whole, s, 19);
	whole[19] = 'Z';
	whole[20] = '\0';
	return clock_parse_iso(whole, t) == 0;
}

/* ---- what AWS derives from the call ---- */

static int by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_sorted(const char *name, const char *const *list, size_t n)
{
	return bsearch(&name, list, n, sizeof *list, by_string) != NULL;
}

/* Object-level S3 calls (reference §7.3), sorted for bsearch. */
static const char *const s3_data_calls[] = {
	"AbortMultipartUpload", "CompleteMultipartUpload", "CopyObject", "CreateMultipartUpload",
	"DeleteObject", "DeleteObjectTagging", "DeleteObjects", "GetObject", "GetObjectAcl",
	"GetObjectAttributes", "GetObjectLegalHold", "GetObjectRetention", "GetObjectTagging",
	"HeadBucket", "HeadObject", "ListObjectVersions", "ListObjects", "ListObjectsV2",
	"ListParts", "PostObject", "PutObject", "PutObjectAcl", "PutObjectLegalHold",
	"PutObjectRetention", "PutObjectTagging", "RestoreObject", "SelectObjectContent",
	"UploadPart", "UploadPartCopy",
};

/* Item-level DynamoDB calls, sorted. */
static const char *const dynamodb_data_calls[] = {
	"BatchExecuteStatement", "BatchGetItem", "BatchWriteItem", "DeleteItem",
	"ExecuteStatement", "ExecuteTransaction", "GetItem", "PutItem", "Query", "Scan",
	"TransactGetItems", "TransactWriteItems", "UpdateItem",
};

#define N_OF(a) (sizeof(a) / sizeof *(a))

static bool data_plane(const char *source, const char *name)
{
	if (!strcmp(source, "s3.amazonaws.com"))
		return in_sorted(name, s3_data_calls, N_OF(s3_data_calls));
	if (!strcmp(source, "dynamodb.amazonaws.com"))
		return in_sorted(name, dynamodb_data_calls, N_OF(dynamodb_data_calls));
	if (!strcmp(source, "lambda.amazonaws.com"))
		return !strcmp(name, "Invoke");
	return false;
}

/* Calls that change nothing start with one of these verbs, as a whole word
 * of the CamelCase name ("GetObject", "Query"; not "Getaway"). */
static bool read_only_call(const char *name)
{
	static const char *const verbs[] = {
		"Get", "List", "Describe", "Head", "Lookup", "Search", "Query", "Scan",
		"BatchGet", "Select",
	};
	for (size_t i = 0; i < N_OF(verbs); i++) {
		size_t n = strlen(verbs[i]);
		if (!strncmp(name, verbs[i], n) && !(name[n] >= 'a' && name[n] <= 'z'))
			return true;
	}
	return false;
}

bool event_source_global(const char *source)
{
	static const char *const global[] = {
		"iam.amazonaws.com", "sts.amazonaws.com", "cloudfront.amazonaws.com",
		"route53.amazonaws.com", "waf.amazonaws.com",
	};
	if (!source)
		return false;
	for (size_t i = 0; i < N_OF(global); i++)
		if (!strcmp(source, global[i]))
			return true;
	return false;
}

static const char *const category_name[] = {
	[EC_MANAGEMENT] = "Management", [EC_DATA] = "Data",
	[EC_INSIGHT] = "Insight", [EC_NETWORK] = "NetworkActivity",
};

/* ---- compact JSON output ----
 * The record is written out by walking the parsed tree, not by editing it
 * and printing it: the tree stays the caller's (const), a forged stamp is
 * left out simply by not writing it, and the filled-in members are appended
 * as text.  One pass, into one buffer that is reused from record to record. */

/* Output is staged in a small array and handed to the buffer in large
 * pieces: a record is hundreds of tiny writes (a quote, a colon, a comma),
 * and each would otherwise be a call that checks the buffer's room.  The
 * first error sticks, and the writers' loops stop on it. */
struct out {
	struct buf *b;
	int err;
	size_t n;
	char stage[4096];
};

static void out_flush(struct out *o)
{
	if (o->err == 0 && o->n)
		o->err = buf_add(o->b, o->stage, o->n);
	o->n = 0;
}

static inline void out_add(struct out *o, const void *p, size_t n)
{
	if (n > sizeof o->stage - o->n) {
		out_flush(o);
		if (n > sizeof o->stage) {
			if (o->err == 0)
				o->err = buf_add(o->b, p, n);
			return;
		}
	}
	memcpy(o->stage + o->n, p, n);
	o->n += n;
}

static inline void out_putc(struct out *o, char c)
{
	if (o->n == sizeof o->stage)
		out_flush(o);
	o->stage[o->n++] = c;
}

#define OUT_LIT(o, lit) out_add(o, lit, sizeof(lit) - 1)

/* Eight bytes that need no escape and are ASCII: none below 0x20, none
 * from 0x80, no '"' and no '\\'.  The usual bit tricks on one 64-bit word
 * (each test is exact for "some byte is ..."), so that the long plain runs
 * of a record's strings cost an eighth of a byte-by-byte loop. */
#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL
static inline bool plain8(const unsigned char *p)
{
	uint64_t x, q, b;
	memcpy(&x, p, sizeof x);
	q = x ^ (ONES * '"');
	b = x ^ (ONES * '\\');
	return ((x | ((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGH) == 0;
}

static inline bool plain1(unsigned char c)
{
	return (unsigned char)(c - 0x20) < 0x60 && c != '"' && c != '\\';
}

/* A JSON string.  Text that is not UTF-8 is refused (-EILSEQ): JSON text
 * is UTF-8, and a record its readers choke on must not reach a log file.
 * With lenient (trailfs's own values: user and program names) a bad byte
 * becomes U+FFFD instead. */
static void put_str(struct out *o, const char *s, bool lenient)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run = p;
	const unsigned char *end = p + strlen(s);
	out_putc(o, '"');
	for (;;) {
		while (end - p >= 8 && plain8(p))
			p += 8;
		while (p < end && plain1(*p))
			p++;
		unsigned char c = p < end ? *p : '\0';
		if (c >= 0x80) {
			size_t n = utf8_seq(p);
			if (n) {
				p += n;
				continue;
			}
			if (!lenient) {
				if (o->err == 0)
					o->err = -EILSEQ;
				return;
			}
		}
		out_add(o, run, (size_t)(p - run));
		if (p == end)
			break;
		char esc[6] = {'\\', (char)c};
		size_t n = 2;
		switch (c) {
		case '"': case '\\': break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			if (c >= 0x80) {   /* lenient */
				memcpy(esc, "\xEF\xBF\xBD", 3);
				n = 3;
			} else {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0x0F];
				n = 6;
			}
		}
		out_add(o, esc, n);
		run = ++p;
	}
	out_putc(o, '"');
}

/* Numbers as cJSON prints them (%1.15g, or %1.17g when that is needed to
 * read back the same double), but whole numbers in full. */
static void put_number(struct out *o, double d)
{
	char t[40];
	if (!isfinite(d)) {
		OUT_LIT(o, "null");
		return;
	}
	if (d > -1e15 && d < 1e15 && (double)(long long)d == d) {
		long long v = (long long)d;
		unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
		char *end = t + sizeof t, *q = end;
		do {
			*--q = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (v < 0)
			*--q = '-';
		out_add(o, q, (size_t)(end - q));
		return;
	}
	int n = snprintf(t, sizeof t, "%1.15g", d);
	if (strtod(t, NULL) != d)
		n = snprintf(t, sizeof t, "%1.17g", d);
	out_add(o, t, (size_t)n);
}

static void put_value(struct out *o, const json *j);

/* "key": with a comma before all but the first member. */
static void put_key(struct out *o, bool *first, const char *key)
{
	if (!*first)
		out_putc(o, ',');
	*first = false;
	put_str(o, key, false);
	out_putc(o, ':');
}

static void put_member(struct out *o, bool *first, const char *key, const json *v)
{
	put_key(o, first, key);
	put_value(o, v);
}

/* A member whose value is JSON text already. */
static void put_raw(struct out *o, bool *first, const char *key, const char *text)
{
	put_key(o, first, key);
	out_add(o, text, strlen(text));
}

static void put_value(struct out *o, const json *j)
{
	bool first = true;
	if (json_is_string(j)) {
		put_str(o, json_string(j), false);
	} else if (json_is_object(j)) {
		out_putc(o, '{');
		for (const json *m = json_first(j); m && o->err == 0; m = json_next(m))
			put_member(o, &first, json_key(m), m);
		out_putc(o, '}');
	} else if (json_is_array(j)) {
		out_putc(o, '[');
		for (const json *m = json_first(j); m && o->err == 0; m = json_next(m)) {
			if (!first)
				out_putc(o, ',');
			first = false;
			put_value(o, m);
		}
		out_putc(o, ']');
	} else if (json_is_number(j)) {
		put_number(o, json_number(j));
	} else if (json_is_bool(j)) {
		if (json_bool(j))
			OUT_LIT(o, "true");
		else
			OUT_LIT(o, "false");
	} else {
		OUT_LIT(o, "null");
	}
}

/* {"uid":N,"userName":"...","program":"..."} */
static void put_stamp(struct out *o, const struct ingest_who *who)
{
	char user[sizeof who->user + 1], program[sizeof who->program + 1], uid[32];
	copy_field(user, who->user, sizeof who->user);
	copy_field(program, who->program, sizeof who->program);
	int n = snprintf(uid, sizeof uid, "{\"uid\":%u,\"userName\":", (unsigned)who->uid);
	out_add(o, uid, (size_t)n);
	put_str(o, user, true);
	OUT_LIT(o, ",\"program\":");
	put_str(o, program, true);
	out_putc(o, '}');
}

/* additionalEventData as given, less any trailfsIngest, plus the stamp. */
static void put_stamped(struct out *o, const json *aed, const struct ingest_who *who)
{
	bool first = true;
	out_putc(o, '{');
	for (const json *m = json_first(aed); m && o->err == 0; m = json_next(m))
		if (strcmp(json_key(m), "trailfsIngest") != 0)
			put_member(o, &first, json_key(m), m);
	put_key(o, &first, "trailfsIngest");
	put_stamp(o, who);
	out_putc(o, '}');
}

/* ---- event_normalize ---- */

/* The members event_normalize reads. */
enum member {
	M_TIME, M_SOURCE, M_NAME, M_REGION, M_ID, M_VERSION, M_TYPE, M_ACCOUNT,
	M_READONLY, M_MANAGEMENT, M_CATEGORY, M_RESOURCES, M_AED, M_REQUEST, M_COUNT
};

static const char *const member_name[M_COUNT] = {
	"eventTime", "eventSource", "eventName", "awsRegion", "eventID", "eventVersion",
	"eventType", "recipientAccountId", "readOnly", "managementEvent", "eventCategory",
	"resources", "additionalEventData", "requestParameters",
};

/* Which of them key is, or -1.  A switch on a letter or two first: this
 * runs for every member of every record. */
static int member_index(const char *k)
{
	int c = -1;
	switch (k[0]) {
	case 'e':
		if (k[1] != 'v' || k[2] != 'e' || k[3] != 'n' || k[4] != 't')
			return -1;
		switch (k[5]) {
		case 'T': c = k[6] == 'i' ? M_TIME : M_TYPE; break;
		case 'S': c = M_SOURCE; break;
		case 'N': c = M_NAME; break;
		case 'I': c = M_ID; break;
		case 'V': c = M_VERSION; break;
		case 'C': c = M_CATEGORY; break;
		default: return -1;
		}
		break;
	case 'a':
		c = k[1] == 'w' ? M_REGION : M_AED;
		break;
	case 'r':
		if (k[1] != 'e')
			return -1;
		switch (k[2]) {
		case 'c': c = M_ACCOUNT; break;
		case 'a': c = M_READONLY; break;
		case 's': c = M_RESOURCES; break;
		case 'q': c = M_REQUEST; break;
		default: return -1;
		}
		break;
	case 'm':
		c = M_MANAGEMENT;
		break;
	default:
		return -1;
	}
	return strcmp(k, member_name[c]) == 0 ? c : -1;
}

/* A required string: present, a string, not empty, at most max bytes. */
static int required(const json *v, enum member k, const char *needs, size_t max,
		    struct ct_err *err)
{
	const char *name = member_name[k];
	if (!v)
		return ct_fail(err, EVENT_ERR, "%s is missing: every record needs %s", name, needs);
	if (!json_is_string(v))
		return ct_fail(err, EVENT_ERR, "%s must be a string, not %s: every record needs %s",
			       name, type_name(v), needs);
	size_t n = strlen(json_string(v));
	if (n == 0)
		return ct_fail(err, EVENT_ERR, "%s is empty: every record needs %s", name, needs);
	if (n > max)
		return ct_fail(err, EVENT_ERR, "%s is %zu bytes long; at most %zu are taken", name,
			       n, max);
	return 0;
}

static int optional_string(const json *v, enum member k, struct ct_err *err)
{
	if (v && !json_is_string(v))
		return ct_fail(err, EVENT_ERR, "%s must be a string, not %s", member_name[k],
			       type_name(v));
	return 0;
}

static int optional_bool(const json *v, enum member k, struct ct_err *err)
{
	if (v && !json_is_bool(v))
		return ct_fail(err, EVENT_ERR, "%s must be true or false, not %s", member_name[k],
			       type_name(v));
	return 0;
}

/* resources: an array of {"ARN":str,"type":str,"accountId":str}; ARN required. */
static int check_resources(const json *v, struct ct_err *err)
{
	if (!json_is_array(v))
		return ct_fail(err, EVENT_ERR, "resources must be an array of objects like "
			       "{\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::bucket\"}, not %s",
			       type_name(v));
	size_t i = 0;
	for (const json *r = json_first(v); r; r = json_next(r), i++) {
		if (!json_is_object(r))
			return ct_fail(err, EVENT_ERR, "resources[%zu] must be an object with a string "
				       "\"ARN\", not %s", i, type_name(r));
		const json *arn = json_get(r, "ARN");
		if (!arn)
			return ct_fail(err, EVENT_ERR, "resources[%zu] has no ARN: each resource needs a "
				       "string \"ARN\", like \"arn:aws:s3:::bucket\"", i);
		static const char *const keys[] = {"ARN", "type", "accountId"};
		for (size_t k = 0; k < N_OF(keys); k++) {
			const json *f = json_get(r, keys[k]);
			if (f && !json_is_string(f))
				return ct_fail(err, EVENT_ERR, "resources[%zu].%s must be a string, not %s",
					       i, keys[k], type_name(f));
		}
	}
	return 0;
}

static int add_resource(struct event *e, const char *type, size_t type_len, const char *arn,
			size_t arn_len)
{
	struct event_resource *v = realloc(e->resources, (e->n_resources + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	e->resources = v;
	struct event_resource *r = &v[e->n_resources];
	r->type = strndup(type, type_len);
	r->arn = strndup(arn, arn_len);
	if (!r->type || !r->arn) {
		free(r->type);
		free(r->arn);
		return -ENOMEM;
	}
	e->n_resources++;
	return 0;
}

/* The resources AWS writes for an S3 data event: the object (when there is
 * a key) and the bucket, from requestParameters.  Appends the member and
 * fills e; nothing when the record names no bucket. */
static int s3_resources(struct out *o, bool *first, const json *request, const char *account,
			struct event *e)
{
	const char *bucket = json_string(json_get(request, "bucketName"));
	const char *key = json_string(json_get(request, "key"));
	if (!bucket || !*bucket)
		return 0;
	size_t nb = strlen(bucket), nk = key ? strlen(key) : 0;
	char *arn = malloc(sizeof "arn:aws:s3:::/" + nb + nk);
	if (!arn)
		return -ENOMEM;
	/* The object's ARN, of which the bucket's is a prefix. */
	size_t arn_bucket = (size_t)sprintf(arn, "arn:aws:s3:::%s", bucket);
	size_t arn_object = arn_bucket;
	if (nk)
		arn_object += (size_t)sprintf(arn + arn_bucket, "/%s", key);
	int r = 0;
	put_raw(o, first, "resources", "[");
	if (nk) {
		OUT_LIT(o, "{\"type\":\"AWS::S3::Object\",\"ARN\":");
		put_str(o, arn, false);
		OUT_LIT(o, "},");
		r = add_resource(e, "AWS::S3::Object", 15, arn, arn_object);
	}
	out_putc(o, '{');
	if (account) {
		OUT_LIT(o, "\"accountId\":");
		put_str(o, account, false);
		out_putc(o, ',');
	}
	OUT_LIT(o, "\"type\":\"AWS::S3::Bucket\",\"ARN\":");
	arn[arn_bucket] = '\0';
	put_str(o, arn, false);
	OUT_LIT(o, "}]");
	if (r == 0)
		r = add_resource(e, "AWS::S3::Bucket", 15, arn, arn_bucket);
	free(arn);
	return r;
}

/* Write the normalised record: the members as given (a stamp in
 * additionalEventData), then what AWS would have filled in, in the order
 * AWS writes them.  *bad_key: the member being written when it failed. */
static int put_record(struct out *o, const json *record, const json *const *m,
		      const struct event_ctx *ctx, struct event *e, const char **bad_key)
{
	bool first = true;
	out_putc(o, '{');
	for (const json *it = json_first(record); it; it = json_next(it)) {
		if (it == m[M_AED] && ctx->who) {
			put_key(o, &first, json_key(it));
			put_stamped(o, it, ctx->who);
		} else {
			put_member(o, &first, json_key(it), it);
		}
		if (o->err) {
			*bad_key = json_key(it);
			return o->err;
		}
	}
	if (!m[M_VERSION])
		put_raw(o, &first, "eventVersion", "\"" CT_EVENT_VERSION "\"");
	if (!m[M_AED] && ctx->who) {
		put_raw(o, &first, "additionalEventData", "{\"trailfsIngest\":");
		put_stamp(o, ctx->who);
		out_putc(o, '}');
	}
	if (!m[M_ID]) {
		put_key(o, &first, "eventID");
		put_str(o, e->id, false);
	}
	if (!m[M_READONLY])
		put_raw(o, &first, "readOnly", e->read_only ? "true" : "false");
	if (!m[M_RESOURCES] && e->category == EC_DATA && !strcmp(e->source, "s3.amazonaws.com") &&
	    json_is_object(m[M_REQUEST])) {
		const char *account = m[M_ACCOUNT] ? json_string(m[M_ACCOUNT]) : ctx->account;
		int r = s3_resources(o, &first, m[M_REQUEST], account, e);
		if (r < 0)
			return r;
	}
	if (!m[M_TYPE])
		put_raw(o, &first, "eventType", "\"AwsApiCall\"");
	if (!m[M_MANAGEMENT])
		put_raw(o, &first, "managementEvent", e->management ? "true" : "false");
	if (!m[M_ACCOUNT] && ctx->account) {
		put_key(o, &first, "recipientAccountId");
		put_str(o, ctx->account, false);
	}
	if (!m[M_CATEGORY]) {
		put_key(o, &first, "eventCategory");
		put_str(o, category_name[e->category], false);
	}
	out_putc(o, '}');
	out_flush(o);
	return o->err;
}

/* Check the members and fill e's fields (all but json and derived resources). */
static int check_record(const json *const *m, const struct event_ctx *ctx, struct event *e,
			struct scratch *sx, struct ct_err *err)
{
	char q[QUOTE_BUF], needs[128];
	const char *like = ctx->n_regions ? ctx->regions[0] : "us-east-1";
	int r;

	if ((r = required(m[M_TIME], M_TIME, "the time of the call, like \"2026-11-23T10:02:11Z\"",
			  64, err)) < 0)
		return r;
	const char *time = json_string(m[M_TIME]);
	if (!parse_event_time(time, &e->time))
		return ct_fail(err, EVENT_ERR, "eventTime %s is not an ISO-8601 UTC time like "
			       "2026-11-23T10:02:11Z", quote(q, time));
	if ((r = required(m[M_SOURCE], M_SOURCE, "the service called, like \"s3.amazonaws.com\"",
			  CT_EVENT_SOURCE_MAX, err)) < 0 ||
	    (r = required(m[M_NAME], M_NAME, "the API call, like \"GetObject\"",
			  CT_EVENT_SOURCE_MAX, err)) < 0)
		return r;
	snprintf(needs, sizeof needs, "a configured region, like \"%s\"", like);
	if ((r = required(m[M_REGION], M_REGION, needs, CT_REGION_MAX, err)) < 0)
		return r;
	const char *region = json_string(m[M_REGION]);
	size_t k = 0;
	while (k < ctx->n_regions && strcmp(region, ctx->regions[k]) != 0)
		k++;
	if (k == ctx->n_regions)
		return ctx->n_regions ?
			ct_fail(err, EVENT_ERR, "awsRegion %s is not a configured region (like %s)",
				quote(q, region), like) :
			ct_fail(err, EVENT_ERR, "awsRegion %s is not a configured region (none is "
				"configured)", quote(q, region));
	if (m[M_ID] && (r = required(m[M_ID], M_ID, "an ID (left out, one is made)",
				  CT_EVENT_ID_MAX, err)) < 0)
		return r;
	if ((r = optional_string(m[M_VERSION], M_VERSION, err)) < 0 ||
	    (r = optional_string(m[M_TYPE], M_TYPE, err)) < 0 ||
	    (r = optional_string(m[M_ACCOUNT], M_ACCOUNT, err)) < 0 ||
	    (r = optional_string(m[M_CATEGORY], M_CATEGORY, err)) < 0 ||
	    (r = optional_bool(m[M_READONLY], M_READONLY, err)) < 0 ||
	    (r = optional_bool(m[M_MANAGEMENT], M_MANAGEMENT, err)) < 0)
		return r;
	if (m[M_RESOURCES] && (r = check_resources(m[M_RESOURCES], err)) < 0)
		return r;
	if (m[M_AED] && !json_is_object(m[M_AED]))
		return ct_fail(err, EVENT_ERR, "additionalEventData must be an object, not %s",
			       type_name(m[M_AED]));

	copy_field(e->region, region, CT_REGION_MAX);
	copy_field(e->source, json_string(m[M_SOURCE]), CT_EVENT_SOURCE_MAX);
	copy_field(e->name, json_string(m[M_NAME]), CT_EVENT_SOURCE_MAX);
	if (m[M_ID])
		copy_field(e->id, json_string(m[M_ID]), CT_EVENT_ID_MAX);
	else if ((r = uuid4(sx, e->id)) < 0)
		return ct_fail_errno(err, r, "making an eventID");

	if (m[M_CATEGORY]) {
		const char *c = json_string(m[M_CATEGORY]);
		size_t i = 0;
		while (i < N_OF(category_name) && strcmp(c, category_name[i]) != 0)
			i++;
		if (i == N_OF(category_name))
			return ct_fail(err, EVENT_ERR, "eventCategory %s is not one of Management, Data, "
				       "Insight or NetworkActivity", quote(q, c));
		e->category = (enum event_category)i;
	} else {
		e->category = data_plane(e->source, e->name) ? EC_DATA : EC_MANAGEMENT;
	}
	e->management = m[M_MANAGEMENT] ? json_bool(m[M_MANAGEMENT]) : e->category == EC_MANAGEMENT;
	e->read_only = m[M_READONLY] ? json_bool(m[M_READONLY]) : read_only_call(e->name);
	e->global = event_source_global(e->source);

	if (m[M_RESOURCES]) {
		for (const json *res = json_first(m[M_RESOURCES]); res; res = json_next(res)) {
			const char *type = json_string(json_get(res, "type"));
			const char *arn = json_string(json_get(res, "ARN"));
			if (!type)
				type = "";
			if (add_resource(e, type, strlen(type), arn, strlen(arn)) < 0)
				return ct_fail_errno(err, ENOMEM, "copying resources");
		}
	}
	return 0;
}

static int normalize(const json *record, const struct event_ctx *ctx, struct event *e,
		     struct scratch *sx, struct ct_err *err)
{
	const json *m[M_COUNT] = {0};
	if (!json_is_object(record))
		return ct_fail(err, EVENT_ERR, "a record must be a JSON object, not %s",
			       type_name(record));
	/* One pass over the members finds the ones that matter.  Each may
	 * appear once: with two, readers disagree about which one counts (and
	 * a second additionalEventData could carry a forged stamp past us). */
	for (const json *it = json_first(record); it; it = json_next(it)) {
		int k = member_index(json_key(it));
		if (k < 0)
			continue;
		if (m[k])
			return ct_fail(err, EVENT_ERR, "%s appears twice; a record holds each member "
				       "once", member_name[k]);
		m[k] = it;
	}
	int r = check_record(m, ctx, e, sx, err);
	if (r < 0) {
		event_release(e);
		return r;
	}

	struct out o;
	const char *bad_key = NULL;
	o.b = &sx->out;
	o.err = 0;
	o.n = 0;
	buf_reset(&sx->out);
	r = put_record(&o, record, m, ctx, e, &bad_key);
	if (r == 0 && sx->out.len > CT_EVENT_MAX)
		r = -E2BIG;
	if (r == 0) {
		e->json = malloc(sx->out.len + 1);
		if (e->json) {
			memcpy(e->json, sx->out.data, sx->out.len + 1);
			e->len = sx->out.len;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0)
		return 0;
	event_release(e);
	if (r == -EILSEQ) {
		char q[QUOTE_BUF];
		return ct_fail(err, EVENT_ERR, "member %s holds text that is not UTF-8; JSON text "
			       "must be UTF-8", quote(q, bad_key ? bad_key : "?"));
	}
	if (r == -E2BIG)
		return ct_fail(err, EVENT_ERR, "the record is over %d bytes once normalised; "
			       "CloudTrail takes at most 256 KB per event", CT_EVENT_MAX);
	return ct_fail_errno(err, r, "normalising a record");
}

int event_normalize(const json *record, const struct event_ctx *ctx, struct event *e,
		    struct ct_err *err)
{
	struct scratch sx;
	scratch_init(&sx, UUID_BYTES);
	int r = normalize(record, ctx, e, &sx, err);
	scratch_release(&sx);
	return r;
}

void event_release(struct event *e)
{
	if (!e)
		return;
	free(e->json);
	for (size_t i = 0; i < e->n_resources; i++) {
		free(e->resources[i].type);
		free(e->resources[i].arn);
	}
	free(e->resources);
	memset(e, 0, sizeof *e);
}

void events_free(struct event *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		event_release(&v[i]);
	free(v);
}

/* ---- the stream ---- */

void event_stream_init(struct event_stream *s)
{
	memset(s, 0, sizeof *s);
	buf_init(&s->carry, CT_EVENT_STREAM_MAX);
	s->line = 1;
}

void event_stream_release(struct event_stream *s)
{
	buf_release(&s->carry);
}

/* Bytes the scanner must look at, outside and inside strings; it steps
 * over everything else in a tight loop. */
static const unsigned char stop_outside[256] = {
	['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1, ['\n'] = 1,
};
static const unsigned char stop_inside[256] = {['"'] = 1, ['\\'] = 1, ['\n'] = 1};

struct scanner {
	unsigned depth;     /* open objects and arrays */
	bool in_string;
	bool escaped;       /* the last byte was a backslash in a string */
	size_t line;        /* current line */
};

/* Go on scanning a top-level value (depth >= 1) from p[*i].  True when it
 * ends, *i then just past its last byte; false when p runs out first.  It
 * only finds where the value ends (brackets outside strings): json_parse
 * judges the syntax once the value is whole. */
static bool scan_value(struct scanner *sc, const char *text, size_t *at, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = *at, line = sc->line;
	unsigned depth = sc->depth;
	bool in_string = sc->in_string, done = false;

	if (sc->escaped && i < len) {
		line += p[i] == '\n';
		sc->escaped = false;
		i++;
	}
	while (i < len) {
		if (in_string) {
			while (i < len && !stop_inside[p[i]])
				i++;
			if (i == len)
				break;
			unsigned char c = p[i++];
			if (c == '"') {
				in_string = false;
			} else if (c == '\n') {
				line++;
			} else if (i == len) {   /* a backslash, the last byte for now */
				sc->escaped = true;
			} else {                 /* a backslash: the next byte is taken as it is */
				line += p[i] == '\n';
				i++;
			}
			continue;
		}
		while (i < len && !stop_outside[p[i]])
			i++;
		if (i == len)
			break;
		unsigned char c = p[i++];
		if (c == '\n') {
			line++;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (--depth == 0) {
			done = true;
			break;
		}
	}
	*at = i;
	sc->line = line;
	sc->depth = depth;
	sc->in_string = in_string;
	return done;
}

/* The line where element want of the Records array in text begins.  Only
 * errors need it, so it is found by scanning again, not kept for every
 * element. */
static size_t element_line(const char *text, size_t len, size_t line, size_t want)
{
	unsigned depth = 0;
	bool in_string = false, escaped = false, at_start = false;
	size_t index = 0, first = line;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '\n')
			line++;
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (at_start && (unsigned char)c > 0x20) {
			if (index == want)
				return line;
			at_start = false;
		}
		switch (c) {
		case '"': in_string = true; break;
		case '{': depth++; break;
		case '[': if (++depth == 2) at_start = true; break;
		case '}': case ']': depth--; break;
		case ',': if (depth == 2) { index++; at_start = true; } break;
		}
	}
	return first;
}

static int bad_json(const char *text, size_t len, size_t off, size_t line, struct ct_err *err)
{
	struct json_scan sc = json_scan(text, len);
	size_t l, col;
	if (sc.end == JSON_BROKEN)
		off = sc.err_off;
	json_locate(text, len, off, &l, &col);
	return ct_fail(err, EVENT_ERR, "line %zu: the record is not valid JSON: %s at line %zu, "
		       "column %zu", line, sc.why ? sc.why : "syntax error", line + l - 1, col);
}

/* What a top-level value that is not an object begins with. */
static int not_object(size_t line, unsigned char c, struct ct_err *err)
{
	char what[40];
	switch (c) {
	case '[': snprintf(what, sizeof what, "an array"); break;
	case '"': snprintf(what, sizeof what, "a string"); break;
	case 't': case 'f': snprintf(what, sizeof what, "true or false"); break;
	case 'n': snprintf(what, sizeof what, "null"); break;
	case '}': case ']': snprintf(what, sizeof what, "a stray '%c'", c); break;
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			snprintf(what, sizeof what, "a number");
		else if (c > 0x20 && c < 0x7f)
			snprintf(what, sizeof what, "'%c'", c);
		else
			snprintf(what, sizeof what, "the byte 0x%02x", c);
	}
	return ct_fail(err, EVENT_ERR, "line %zu: each record must be a JSON object {...} (or "
		       "{\"Records\":[...]} holding some), not %s", line, what);
}

/* A growing array of events. */
struct events {
	struct event *v;
	size_t n, cap;
};

static struct event *events_push(struct events *ev)
{
	if (ev->n == ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 16;
		struct event *v = realloc(ev->v, cap * sizeof *v);
		if (!v)
			return NULL;
		ev->v = v;
		ev->cap = cap;
	}
	struct event *e = &ev->v[ev->n++];
	memset(e, 0, sizeof *e);
	return e;
}

/* One whole top-level value that begins on line: its records into ev. */
static int take_value(const char *text, size_t len, size_t line, const struct event_ctx *ctx,
		      struct scratch *sx, struct events *ev, struct ct_err *err)
{
	size_t off = 0;
	json *doc = json_parse(text, len, &off);
	if (!doc)
		return bad_json(text, len, off, line, err);
	int r = 0;
	const json *first = json_first(doc);
	if (first && !json_next(first) && !strcmp(json_key(first), "Records")) {
		if (!json_is_array(first)) {
			r = ct_fail(err, EVENT_ERR, "line %zu: \"Records\" must be an array of records, "
				    "not %s", line, type_name(first));
			goto out;
		}
		size_t i = 0;
		for (const json *rec = json_first(first); rec; rec = json_next(rec), i++) {
			struct event *e = events_push(ev);
			if (!e) {
				r = ct_fail_errno(err, ENOMEM, "reading records");
				goto out;
			}
			r = normalize(rec, ctx, e, sx, err);
			if (r < 0) {
				ev->n--;
				ct_err_prefix(err, "line %zu: Records[%zu]: ",
					      element_line(text, len, line, i), i);
				goto out;
			}
		}
	} else {
		struct event *e = events_push(ev);
		if (!e) {
			r = ct_fail_errno(err, ENOMEM, "reading records");
			goto out;
		}
		r = normalize(doc, ctx, e, sx, err);
		if (r < 0) {
			ev->n--;
			ct_err_prefix(err, "line %zu: ", line);
		}
	}
out:
	json_free(doc);
	return r;
}

int event_stream_feed(struct event_stream *s, const char *data, size_t len,
		      const struct event_ctx *ctx, struct event **out, size_t *n,
		      struct ct_err *err)
{
	/* Work on copies of the scanner state; s changes only once the whole
	 * write is known to be good. */
	struct scanner sc = {s->depth, s->in_string, s->escaped, s->line + s->lines_in_carry};
	bool pending = s->carry.len > 0;     /* inside a top-level value */
	bool from_carry = pending;           /* ... that began in an earlier write */
	size_t start = 0, start_line = s->line, i = 0;
	struct events ev = {0};
	struct scratch sx;
	struct buf fresh;
	bool use_fresh = false;
	int r;

	*out = NULL;
	*n = 0;
	scratch_init(&sx, RANDOM_POOL);
	while (i < len) {
		if (!pending) {
			unsigned char c = (unsigned char)data[i];
			if (c <= 0x20) {   /* white space, as json_scan counts it */
				sc.line += c == '\n';
				i++;
				continue;
			}
			if (c != '{') {
				r = not_object(sc.line, c, err);
				scratch_release(&sx);
				goto fail;
			}
			pending = true;
			from_carry = false;
			start = i++;
			start_line = sc.line;
			sc.depth = 1;
			sc.in_string = sc.escaped = false;
			continue;
		}
		if (!scan_value(&sc, data, &i, len))
			break;
		if (from_carry) {
			/* The one value per write that began before it: join it once. */
			struct buf whole;
			buf_init(&whole, s->carry.len + i);
			r = buf_add(&whole, s->carry.data, s->carry.len);
			if (r == 0)
				r = buf_add(&whole, data, i);
			if (r == 0)
				r = take_value(whole.data, whole.len, start_line, ctx, &sx, &ev, err);
			else
				r = ct_fail_errno(err, r, "joining a record split across writes");
			buf_release(&whole);
		} else {
			r = take_value(data + start, i - start, start_line, ctx, &sx, &ev, err);
		}
		if (r < 0) {
			scratch_release(&sx);
			goto fail;
		}
		pending = from_carry = false;
	}

	scratch_release(&sx);

	/* Keep the unfinished value for the next write. */
	if (pending) {
		size_t have = from_carry ? s->carry.len : 0, add = len - (from_carry ? 0 : start);
		if (add > CT_EVENT_STREAM_MAX - have) {
			r = ct_fail(err, EVENT_ERR, "line %zu: the record that begins here is still "
				    "unfinished after %d MB; is a closing } missing?", start_line,
				    CT_EVENT_STREAM_MAX / (1024 * 1024));
			goto fail;
		}
		if (from_carry || s->carry.len == 0) {
			r = buf_add(&s->carry, data + (from_carry ? 0 : start), add);
		} else {
			/* The old carry ended in this write; the tail goes to a
			 * new buffer so that a failure leaves the old one as it was. */
			buf_init(&fresh, CT_EVENT_STREAM_MAX);
			use_fresh = true;
			r = buf_add(&fresh, data + start, add);
		}
		if (r < 0) {
			if (use_fresh)
				buf_release(&fresh);
			r = ct_fail_errno(err, r, "keeping an unfinished record");
			goto fail;
		}
	}

	/* Commit: nothing fails from here on. */
	if (use_fresh) {
		buf_release(&s->carry);
		s->carry = fresh;
	} else if (!pending) {
		if (s->carry.cap > CARRY_KEEP)
			buf_release(&s->carry);
		else
			buf_reset(&s->carry);
	}
	s->depth = pending ? sc.depth : 0;
	s->in_string = pending && sc.in_string;
	s->escaped = pending && sc.escaped;
	s->line = pending ? start_line : sc.line;
	s->lines_in_carry = pending ? sc.line - start_line : 0;
	s->scanned = s->carry.len;
	*out = ev.v;
	*n = ev.n;
	return 0;

fail:
	events_free(ev.v, ev.n);
	return r;
}

int event_stream_finish(const struct event_stream *s, struct ct_err *err)
{
	if (s->carry.len == 0)
		return 0;
	if (s->in_string)
		return ct_fail(err, EVENT_ERR, "line %zu: the record that begins here is unfinished "
			       "at close: it ends inside a string (a closing \" is missing)", s->line);
	return ct_fail(err, EVENT_ERR, "line %zu: the record that begins here is unfinished at "
		       "close: %u closing %s missing", s->line, s->depth,
		       s->depth == 1 ? "bracket (} or ]) is" : "brackets (} or ]) are");
}
