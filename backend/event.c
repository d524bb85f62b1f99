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
struct res_view;
struct fast_res;

struct scratch {
	struct buf out;
	size_t random_fill;      /* bytes to fetch at a time, at most RANDOM_POOL */
	size_t random_left;      /* unused bytes at the start of random */
	unsigned char random[RANDOM_POOL];
	struct buf stamp;        /* the stamp of the write's records, once made */
	struct buf strings;      /* the fast path's copies of the strings the checks read */
	struct res_view *res;    /* a record's resources, as the checks see them */
	size_t res_cap;
	struct fast_res *fres;   /* ... and as the fast path finds them */
	size_t fres_cap;
	size_t region;           /* index of the last record's region */
};

static void scratch_init(struct scratch *sx, size_t random_fill)
{
	/* Room for a little more than the limit, so that a record over it is
	 * measured and refused rather than cut. */
	buf_init(&sx->out, CT_EVENT_MAX + 1);
	sx->random_fill = random_fill;
	sx->random_left = 0;
	buf_init(&sx->stamp, 4096);
	buf_init(&sx->strings, CT_EVENT_MAX + 1);
	sx->res = NULL;
	sx->res_cap = 0;
	sx->fres = NULL;
	sx->fres_cap = 0;
	sx->region = 0;
}

static void scratch_release(struct scratch *sx)
{
	buf_release(&sx->out);
	buf_release(&sx->stamp);
	buf_release(&sx->strings);
	free(sx->res);
	free(sx->fres);
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
	/* What clock_parse_iso (strptime, timegm) makes of the checked fields,
	 * worked out directly: this runs for every record.  Days from the
	 * civil date, proleptic Gregorian, in eras of 400 years from March. */
	int64_t y = year - (mon <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * ((mon + 9) % 12) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	*t = days * 86400 + num(s + 11, 2) * 3600 + num(s + 14, 2) * 60 + num(s + 17, 2);
	return true;
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

#define NUMBER_TEXT_MAX 40

/* Numbers as cJSON prints them (%1.15g, or %1.17g when that is needed to
 * read back the same double), but whole numbers in full.  The text goes
 * to t (not terminated); returns its length. */
static size_t number_text(double d, char t[NUMBER_TEXT_MAX])
{
	if (!isfinite(d)) {
		memcpy(t, "null", 4);
		return 4;
	}
	if (d > -1e15 && d < 1e15 && (double)(long long)d == d) {
		char digits[NUMBER_TEXT_MAX];
		long long v = (long long)d;
		unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
		char *end = digits + sizeof digits, *q = end;
		do {
			*--q = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (v < 0)
			*--q = '-';
		memcpy(t, q, (size_t)(end - q));
		return (size_t)(end - q);
	}
	int n = snprintf(t, NUMBER_TEXT_MAX, "%1.15g", d);
	if (strtod(t, NULL) != d)
		n = snprintf(t, NUMBER_TEXT_MAX, "%1.17g", d);
	return (size_t)n;
}

static void put_number(struct out *o, double d)
{
	char t[NUMBER_TEXT_MAX];
	out_add(o, t, number_text(d, t));
}

/* The bytes of a number, as cJSON and json_scan take them (to strtod). */
static bool number_char(char c)
{
	return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
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

/* What the checks read of a record, however it was parsed (a cJSON tree,
 * or the fast path's scan of the text): each member they know, once, and
 * inside resources[] and requestParameters the members they look at (the
 * first of a name, as json_get finds it).  Strings are NUL-terminated. */
enum vkind { VK_ABSENT, VK_STRING, VK_NUMBER, VK_TRUE, VK_FALSE, VK_NULL, VK_OBJECT, VK_ARRAY };

struct val {
	enum vkind kind;
	const char *s;            /* VK_STRING */
};

struct res_view {
	enum vkind kind;          /* of the element */
	struct val arn, type, account;
};

struct rec_view {
	struct val m[M_COUNT];
	const struct res_view *res;   /* m[M_RESOURCES]'s elements, when it is an array */
	size_t n_res;
	struct val bucket, key;       /* requestParameters.bucketName and .key */
};

static const char *kind_name(enum vkind k)
{
	switch (k) {
	case VK_OBJECT: return "an object";
	case VK_ARRAY: return "an array";
	case VK_STRING: return "a string";
	case VK_NUMBER: return "a number";
	case VK_TRUE: return "true";
	case VK_FALSE: return "false";
	default: return "null";
	}
}

static struct val val_of(const json *j)
{
	struct val v = { VK_ABSENT, NULL };
	if (!j)
		return v;
	if (json_is_string(j)) {
		v.kind = VK_STRING;
		v.s = json_string(j);
	} else if (json_is_object(j)) {
		v.kind = VK_OBJECT;
	} else if (json_is_array(j)) {
		v.kind = VK_ARRAY;
	} else if (json_is_number(j)) {
		v.kind = VK_NUMBER;
	} else if (json_is_bool(j)) {
		v.kind = json_bool(j) ? VK_TRUE : VK_FALSE;
	} else {
		v.kind = VK_NULL;
	}
	return v;
}

/* A required string: present, a string, not empty, at most max bytes. */
static int required(const struct val *v, enum member k, const char *needs, size_t max,
		    struct ct_err *err)
{
	const char *name = member_name[k];
	if (v->kind == VK_ABSENT)
		return ct_fail(err, EVENT_ERR, "%s is missing: every record needs %s", name, needs);
	if (v->kind != VK_STRING)
		return ct_fail(err, EVENT_ERR, "%s must be a string, not %s: every record needs %s",
			       name, kind_name(v->kind), needs);
	size_t n = strlen(v->s);
	if (n == 0)
		return ct_fail(err, EVENT_ERR, "%s is empty: every record needs %s", name, needs);
	if (n > max)
		return ct_fail(err, EVENT_ERR, "%s is %zu bytes long; at most %zu are taken", name,
			       n, max);
	return 0;
}

static int optional_string(const struct val *v, enum member k, struct ct_err *err)
{
	if (v->kind != VK_ABSENT && v->kind != VK_STRING)
		return ct_fail(err, EVENT_ERR, "%s must be a string, not %s", member_name[k],
			       kind_name(v->kind));
	return 0;
}

static int optional_bool(const struct val *v, enum member k, struct ct_err *err)
{
	if (v->kind != VK_ABSENT && v->kind != VK_TRUE && v->kind != VK_FALSE)
		return ct_fail(err, EVENT_ERR, "%s must be true or false, not %s", member_name[k],
			       kind_name(v->kind));
	return 0;
}

/* resources: an array of {"ARN":str,"type":str,"accountId":str}; ARN required. */
static int check_resources(const struct rec_view *v, struct ct_err *err)
{
	if (v->m[M_RESOURCES].kind != VK_ARRAY)
		return ct_fail(err, EVENT_ERR, "resources must be an array of objects like "
			       "{\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::bucket\"}, not %s",
			       kind_name(v->m[M_RESOURCES].kind));
	for (size_t i = 0; i < v->n_res; i++) {
		const struct res_view *r = &v->res[i];
		if (r->kind != VK_OBJECT)
			return ct_fail(err, EVENT_ERR, "resources[%zu] must be an object with a string "
				       "\"ARN\", not %s", i, kind_name(r->kind));
		if (r->arn.kind == VK_ABSENT)
			return ct_fail(err, EVENT_ERR, "resources[%zu] has no ARN: each resource needs a "
				       "string \"ARN\", like \"arn:aws:s3:::bucket\"", i);
		static const char *const keys[] = {"ARN", "type", "accountId"};
		const struct val *f[] = {&r->arn, &r->type, &r->account};
		for (size_t k = 0; k < N_OF(keys); k++)
			if (f[k]->kind != VK_ABSENT && f[k]->kind != VK_STRING)
				return ct_fail(err, EVENT_ERR, "resources[%zu].%s must be a string, not %s",
					       i, keys[k], kind_name(f[k]->kind));
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
static int s3_resources(struct out *o, bool *first, const char *bucket, const char *key,
			const char *account, struct event *e)
{
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

/* What AWS would have filled in, in the order AWS writes it, after the
 * members as given (first: none of those was written), and the closing
 * brace. */
static int put_filled(struct out *o, bool first, const struct rec_view *v,
		      const struct event_ctx *ctx, const char *stamp, size_t stamp_len,
		      struct event *e)
{
	const struct val *m = v->m;
	if (m[M_VERSION].kind == VK_ABSENT)
		put_raw(o, &first, "eventVersion", "\"" CT_EVENT_VERSION "\"");
	if (m[M_AED].kind == VK_ABSENT && ctx->who) {
		put_raw(o, &first, "additionalEventData", "{\"trailfsIngest\":");
		out_add(o, stamp, stamp_len);
		out_putc(o, '}');
	}
	if (m[M_ID].kind == VK_ABSENT) {
		put_key(o, &first, "eventID");
		put_str(o, e->id, false);
	}
	if (m[M_READONLY].kind == VK_ABSENT)
		put_raw(o, &first, "readOnly", e->read_only ? "true" : "false");
	if (m[M_RESOURCES].kind == VK_ABSENT && e->category == EC_DATA &&
	    !strcmp(e->source, "s3.amazonaws.com") && m[M_REQUEST].kind == VK_OBJECT) {
		const char *account = m[M_ACCOUNT].kind != VK_ABSENT ? m[M_ACCOUNT].s : ctx->account;
		int r = s3_resources(o, &first, v->bucket.kind == VK_STRING ? v->bucket.s : NULL,
				     v->key.kind == VK_STRING ? v->key.s : NULL, account, e);
		if (r < 0)
			return r;
	}
	if (m[M_TYPE].kind == VK_ABSENT)
		put_raw(o, &first, "eventType", "\"AwsApiCall\"");
	if (m[M_MANAGEMENT].kind == VK_ABSENT)
		put_raw(o, &first, "managementEvent", e->management ? "true" : "false");
	if (m[M_ACCOUNT].kind == VK_ABSENT && ctx->account) {
		put_key(o, &first, "recipientAccountId");
		put_str(o, ctx->account, false);
	}
	if (m[M_CATEGORY].kind == VK_ABSENT) {
		put_key(o, &first, "eventCategory");
		put_str(o, category_name[e->category], false);
	}
	out_putc(o, '}');
	out_flush(o);
	return o->err;
}

/* The stamp of this write's records, {"uid":N,...}, made once. */
static int stamp_text(struct scratch *sx, const struct ingest_who *who)
{
	if (sx->stamp.len || !who)
		return 0;
	struct out o = { .b = &sx->stamp };
	put_stamp(&o, who);
	out_flush(&o);
	return o.err;
}

/* Write the normalised record: the members as given (a stamp in
 * additionalEventData), then what AWS would have filled in.  *bad_key: the
 * member being written when it failed. */
static int put_record(struct out *o, const json *record, const struct rec_view *v,
		      const json *aed, const struct event_ctx *ctx, struct scratch *sx,
		      struct event *e, const char **bad_key)
{
	bool first = true;
	out_putc(o, '{');
	for (const json *it = json_first(record); it; it = json_next(it)) {
		if (it == aed && ctx->who) {
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
	return put_filled(o, first, v, ctx, sx->stamp.data, sx->stamp.len, e);
}

/* Check the members and fill e's fields (all but json and derived resources). */
static int check_record(const struct rec_view *v, const struct event_ctx *ctx, struct event *e,
			struct scratch *sx, struct ct_err *err)
{
	const struct val *m = v->m;
	char q[QUOTE_BUF], needs[128];
	const char *like = ctx->n_regions ? ctx->regions[0] : "us-east-1";
	int r;

	if ((r = required(&m[M_TIME], M_TIME, "the time of the call, like \"2026-11-23T10:02:11Z\"",
			  64, err)) < 0)
		return r;
	const char *time = m[M_TIME].s;
	if (!parse_event_time(time, &e->time))
		return ct_fail(err, EVENT_ERR, "eventTime %s is not an ISO-8601 UTC time like "
			       "2026-11-23T10:02:11Z", quote(q, time));
	if ((r = required(&m[M_SOURCE], M_SOURCE, "the service called, like \"s3.amazonaws.com\"",
			  CT_EVENT_SOURCE_MAX, err)) < 0 ||
	    (r = required(&m[M_NAME], M_NAME, "the API call, like \"GetObject\"",
			  CT_EVENT_SOURCE_MAX, err)) < 0)
		return r;
	snprintf(needs, sizeof needs, "a configured region, like \"%s\"", like);
	if ((r = required(&m[M_REGION], M_REGION, needs, CT_REGION_MAX, err)) < 0)
		return r;
	const char *region = m[M_REGION].s;
	/* The region of the last record first: a write's records mostly share
	 * a few. */
	size_t k = sx->region < ctx->n_regions && !strcmp(region, ctx->regions[sx->region]) ? sx->region : 0;
	while (k < ctx->n_regions && strcmp(region, ctx->regions[k]) != 0)
		k++;
	sx->region = k;
	if (k == ctx->n_regions)
		return ctx->n_regions ?
			ct_fail(err, EVENT_ERR, "awsRegion %s is not a configured region (like %s)",
				quote(q, region), like) :
			ct_fail(err, EVENT_ERR, "awsRegion %s is not a configured region (none is "
				"configured)", quote(q, region));
	if (m[M_ID].kind != VK_ABSENT && (r = required(&m[M_ID], M_ID, "an ID (left out, one is made)",
						  CT_EVENT_ID_MAX, err)) < 0)
		return r;
	if ((r = optional_string(&m[M_VERSION], M_VERSION, err)) < 0 ||
	    (r = optional_string(&m[M_TYPE], M_TYPE, err)) < 0 ||
	    (r = optional_string(&m[M_ACCOUNT], M_ACCOUNT, err)) < 0 ||
	    (r = optional_string(&m[M_CATEGORY], M_CATEGORY, err)) < 0 ||
	    (r = optional_bool(&m[M_READONLY], M_READONLY, err)) < 0 ||
	    (r = optional_bool(&m[M_MANAGEMENT], M_MANAGEMENT, err)) < 0)
		return r;
	if (m[M_RESOURCES].kind != VK_ABSENT && (r = check_resources(v, err)) < 0)
		return r;
	if (m[M_AED].kind != VK_ABSENT && m[M_AED].kind != VK_OBJECT)
		return ct_fail(err, EVENT_ERR, "additionalEventData must be an object, not %s",
			       kind_name(m[M_AED].kind));

	copy_field(e->region, region, CT_REGION_MAX);
	copy_field(e->source, m[M_SOURCE].s, CT_EVENT_SOURCE_MAX);
	copy_field(e->name, m[M_NAME].s, CT_EVENT_SOURCE_MAX);
	if (m[M_ID].kind != VK_ABSENT)
		copy_field(e->id, m[M_ID].s, CT_EVENT_ID_MAX);
	else if ((r = uuid4(sx, e->id)) < 0)
		return ct_fail_errno(err, r, "making an eventID");

	if (m[M_CATEGORY].kind != VK_ABSENT) {
		const char *c = m[M_CATEGORY].s;
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
	e->management = m[M_MANAGEMENT].kind != VK_ABSENT ? m[M_MANAGEMENT].kind == VK_TRUE
							   : e->category == EC_MANAGEMENT;
	e->read_only = m[M_READONLY].kind != VK_ABSENT ? m[M_READONLY].kind == VK_TRUE
						       : read_only_call(e->name);
	e->global = event_source_global(e->source);

	for (size_t i = 0; m[M_RESOURCES].kind != VK_ABSENT && i < v->n_res; i++) {
		const char *type = v->res[i].type.kind == VK_STRING ? v->res[i].type.s : "";
		const char *arn = v->res[i].arn.s;
		if (add_resource(e, type, strlen(type), arn, strlen(arn)) < 0)
			return ct_fail_errno(err, ENOMEM, "copying resources");
	}
	return 0;
}

/* Room for n resource views in the scratch.  0 or -ENOMEM. */
static int res_reserve(struct scratch *sx, size_t n)
{
	if (n <= sx->res_cap)
		return 0;
	size_t cap = sx->res_cap ? sx->res_cap : 8;
	while (cap < n)
		cap *= 2;
	struct res_view *v = realloc(sx->res, cap * sizeof *v);
	if (!v)
		return -ENOMEM;
	sx->res = v;
	sx->res_cap = cap;
	return 0;
}

/* The view of a record parsed by cJSON: its members are m[]. */
static int view_of_tree(const json *const *m, struct rec_view *v, struct scratch *sx)
{
	memset(v, 0, sizeof *v);
	for (int k = 0; k < M_COUNT; k++)
		v->m[k] = val_of(m[k]);
	if (v->m[M_RESOURCES].kind == VK_ARRAY) {
		size_t n = json_size(m[M_RESOURCES]);
		if (res_reserve(sx, n) < 0)
			return -ENOMEM;
		for (const json *r = json_first(m[M_RESOURCES]); r; r = json_next(r)) {
			struct res_view *rv = &sx->res[v->n_res++];
			rv->kind = val_of(r).kind;
			rv->arn = val_of(json_get(r, "ARN"));
			rv->type = val_of(json_get(r, "type"));
			rv->account = val_of(json_get(r, "accountId"));
		}
		v->res = sx->res;
	}
	if (v->m[M_REQUEST].kind == VK_OBJECT) {
		v->bucket = val_of(json_get(m[M_REQUEST], "bucketName"));
		v->key = val_of(json_get(m[M_REQUEST], "key"));
	}
	return 0;
}

/* e->json: a copy of the normalised text in sx->out. */
static int take_text(struct scratch *sx, struct event *e)
{
	if (sx->out.len > CT_EVENT_MAX)
		return -E2BIG;
	e->json = malloc(sx->out.len + 1);
	if (!e->json)
		return -ENOMEM;
	memcpy(e->json, sx->out.data, sx->out.len + 1);
	e->len = sx->out.len;
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
	struct rec_view v;
	int r = view_of_tree(m, &v, sx);
	if (r == 0)
		r = stamp_text(sx, ctx->who);
	if (r < 0)
		return ct_fail_errno(err, -r, "normalising a record");
	r = check_record(&v, ctx, e, sx, err);
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
	r = put_record(&o, record, &v, m[M_AED], ctx, sx, e, &bad_key);
	if (r == 0)
		r = take_text(sx, e);
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

/* ---- the fast path ----
 * Most records come compact and plainly written: strings whose only escapes
 * are those put_str writes, numbers as put_number prints them.  Their
 * normalised text is the input itself, copied span by span, with the stamp
 * and the filled-in members added: no tree, no allocation per value, one
 * pass.  The scanner takes only such text, a strict subset of what
 * json_scan and cJSON accept, on which put_value would print exactly what
 * is copied; it builds the view that view_of_tree would build, and the
 * same checks judge it.  Anything else, and every record with a problem,
 * goes the general way, which then decides, and words any error. */

#define FAST_DEPTH_MAX 64

static bool fast_enabled = true;

void event_set_fast_path(bool on)
{
	__atomic_store_n(&fast_enabled, on, __ATOMIC_RELAXED);
}
#define FAST_NUMBER_MAX 40

/* A value's place in the text, and what it is. */
struct span {
	size_t from, to;          /* a string's bytes, quotes included */
	enum vkind kind;
	bool esc;                 /* a string with a backslash in it */
};

/* A resources[] element: its kind and its ARN, type and accountId. */
struct fast_res {
	enum vkind kind;
	struct span f[3];
};

static const char *const res_names[] = {"ARN", "type", "accountId"};
static const char *const request_names[] = {"bucketName", "key"};

/* The members of an object to note (the first of each name). */
struct pick {
	const char *const *names;
	size_t n;
	struct span *out;
};

struct fast {
	const unsigned char *t;
	size_t i, n;
	struct out *o;
	size_t run_from, run_to;  /* input bytes owed to the output */
	struct scratch *sx;       /* fres: the resources[] elements */
	size_t n_res;
	size_t lines;             /* newlines stepped over (all in white space) */
};

static void fast_flush(struct fast *f)
{
	if (f->run_to > f->run_from)
		out_add(f->o, f->t + f->run_from, f->run_to - f->run_from);
	f->run_from = f->run_to = SIZE_MAX;
}

/* Owe the output input bytes [from, to): adjoining runs go out as one. */
static inline void fast_keep(struct fast *f, size_t from, size_t to)
{
	if (from == f->run_to) {
		f->run_to = to;
		return;
	}
	fast_flush(f);
	f->run_from = from;
	f->run_to = to;
}

/* The byte at the position, kept when emitting, and stepped over. */
static inline void fast_step(struct fast *f, bool emit)
{
	if (emit)
		fast_keep(f, f->i, f->i + 1);
	f->i++;
}

/* White space as JSON has it (json_scan's other bytes up to 0x20 are left
 * to the general path). */
static inline void fast_ws(struct fast *f)
{
	while (f->i < f->n && (f->t[f->i] == ' ' || f->t[f->i] == '\n' || f->t[f->i] == '\t' ||
			       f->t[f->i] == '\r'))
		f->lines += f->t[f->i++] == '\n';
}

static inline bool fast_at(const struct fast *f, char c)
{
	return f->i < f->n && f->t[f->i] == (unsigned char)c;
}

/* utf8_seq, looking at no more than avail bytes. */
static size_t utf8_seq_in(const unsigned char *p, size_t avail)
{
	unsigned c = p[0];
	size_t need = c >= 0xC2 && c <= 0xDF ? 2 : (c & 0xF0) == 0xE0 ? 3 :
		      c >= 0xF0 && c <= 0xF4 ? 4 : 0;
	if (need == 0 || avail < need)
		return 0;
	unsigned char q[5] = {0};
	memcpy(q, p, need);
	return utf8_seq(q);
}

static bool lower_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The first byte from p[i] (before n) that plain1 does not pass: sixteen
 * bytes a step where SSE2 is (all of x86-64), else eight (plain8). */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline size_t plain_run(const unsigned char *p, size_t i, size_t n)
{
	const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
		      space = _mm_set1_epi8(0x20);
	while (n - i >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		/* signed: below 0x20, and every byte from 0x80 */
		__m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, space),
					   _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)));
		unsigned mask = (unsigned)_mm_movemask_epi8(bad);
		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
	while (i < n && plain1(p[i]))
		i++;
	return i;
}
#else
static inline size_t plain_run(const unsigned char *p, size_t i, size_t n)
{
	while (n - i >= 8 && plain8(p + i))
		i += 8;
	while (i < n && plain1(p[i]))
		i++;
	return i;
}
#endif

/* A string at t[i] == '"' that put_str would write back byte for byte. */
static bool fast_string(struct fast *f, struct span *sp, bool emit)
{
	const unsigned char *p = f->t;
	size_t i = f->i + 1, n = f->n;
	bool esc = false;
	for (;;) {
		i = plain_run(p, i, n);
		if (i >= n)
			return false;
		unsigned char c = p[i];
		if (c == '"')
			break;
		if (c >= 0x80) {
			size_t k = utf8_seq_in(p + i, n - i);
			if (!k)
				return false;
			i += k;
			continue;
		}
		if (c != '\\' || n - i < 2)
			return false;   /* a raw control byte, or the text ends */
		unsigned char e = p[i + 1];
		if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
			i += 2;
		} else if (e == 'u' && n - i >= 6 && p[i + 2] == '0' && p[i + 3] == '0' &&
			   (p[i + 4] == '0' || p[i + 4] == '1') && lower_hex(p[i + 5])) {
			/* put_str's \u00xx: a control byte without a short escape */
			unsigned v = (unsigned)(p[i + 4] - '0') * 16 +
				     (unsigned)(p[i + 5] <= '9' ? p[i + 5] - '0' : p[i + 5] - 'a' + 10);
			if (v == 0 || v == '\b' || v == '\f' || v == '\n' || v == '\r' || v == '\t')
				return false;
			i += 6;
		} else {
			return false;
		}
		esc = true;
	}
	sp->from = f->i;
	sp->to = i + 1;
	sp->kind = VK_STRING;
	sp->esc = esc;
	if (emit)
		fast_keep(f, f->i, i + 1);
	f->i = i + 1;
	return true;
}

/* A number as put_number prints it: an integer of up to 15 digits without
 * a leading zero, or any text that strtod reads whole and that prints back
 * the same. */
static bool fast_number(struct fast *f, bool emit)
{
	const char *s = (const char *)f->t + f->i;
	size_t len = 0;
	while (f->i + len < f->n && number_char(s[len]))
		len++;
	if (len == 0 || len > FAST_NUMBER_MAX)
		return false;
	size_t k = s[0] == '-';
	bool plain = len - k >= 1 && len - k <= 15 && !(s[k] == '0' && len - k > 1) &&
		     !(k && len == 2 && s[1] == '0');
	for (size_t j = k; plain && j < len; j++)
		plain = s[j] >= '0' && s[j] <= '9';
	if (!plain) {
		char text[FAST_NUMBER_MAX + 1], back[NUMBER_TEXT_MAX];
		memcpy(text, s, len);
		text[len] = '\0';
		char *end;
		double d = strtod(text, &end);
		if (end != text + len || number_text(d, back) != len || memcmp(back, s, len))
			return false;
	}
	if (emit)
		fast_keep(f, f->i, f->i + len);
	f->i += len;
	return true;
}

static bool fast_literal(struct fast *f, bool emit, struct span *sp)
{
	static const struct { const char *w; size_t n; enum vkind kind; } lit[] = {
		{"true", 4, VK_TRUE}, {"false", 5, VK_FALSE}, {"null", 4, VK_NULL},
	};
	for (size_t k = 0; k < N_OF(lit); k++) {
		if (f->n - f->i >= lit[k].n && !memcmp(f->t + f->i, lit[k].w, lit[k].n)) {
			sp->kind = lit[k].kind;
			if (emit)
				fast_keep(f, f->i, f->i + lit[k].n);
			f->i += lit[k].n;
			return true;
		}
	}
	return false;
}

static bool fast_value(struct fast *f, unsigned depth, bool emit, struct span *sp,
		       const struct pick *pick, bool resources);

/* Is the key span (quotes included, no escapes) the name? */
static bool key_is(const struct fast *f, const struct span *key, const char *name)
{
	size_t n = strlen(name);
	return !key->esc && key->to - key->from == n + 2 && !memcmp(f->t + key->from + 1, name, n);
}

/* An object at t[i] == '{'.  pick: members to note. */
static bool fast_object(struct fast *f, unsigned depth, bool emit, const struct pick *pick)
{
	fast_step(f, emit);
	fast_ws(f);
	if (fast_at(f, '}')) {
		fast_step(f, emit);
		return true;
	}
	for (;;) {
		struct span key, v;
		fast_ws(f);
		if (!fast_at(f, '"') || !fast_string(f, &key, emit))
			return false;
		fast_ws(f);
		if (!fast_at(f, ':'))
			return false;
		fast_step(f, emit);
		fast_ws(f);
		struct span *slot = &v;
		for (size_t k = 0; pick && k < pick->n; k++)
			if (pick->out[k].kind == VK_ABSENT && key_is(f, &key, pick->names[k]))
				slot = &pick->out[k];
		if (!fast_value(f, depth, emit, slot, NULL, false))
			return false;
		fast_ws(f);
		if (fast_at(f, ',')) {
			fast_step(f, emit);
			continue;
		}
		if (!fast_at(f, '}'))
			return false;
		fast_step(f, emit);
		return true;
	}
}

/* An array at t[i] == '['.  resources: note each element (resources[]). */
static bool fast_array(struct fast *f, unsigned depth, bool emit, bool resources)
{
	fast_step(f, emit);
	fast_ws(f);
	if (fast_at(f, ']')) {
		fast_step(f, emit);
		return true;
	}
	for (;;) {
		struct span v = {0};
		fast_ws(f);
		if (resources) {
			struct scratch *sx = f->sx;
			if (f->n_res == sx->fres_cap) {
				size_t cap = sx->fres_cap ? 2 * sx->fres_cap : 8;
				struct fast_res *grown = realloc(sx->fres, cap * sizeof *grown);
				if (!grown)
					return false;
				sx->fres = grown;
				sx->fres_cap = cap;
			}
			struct fast_res *r = &sx->fres[f->n_res];
			memset(r, 0, sizeof *r);
			struct pick pick = { res_names, N_OF(res_names), r->f };
			if (!fast_value(f, depth, emit, &v, &pick, false))
				return false;
			r->kind = v.kind;
			f->n_res++;
		} else if (!fast_value(f, depth, emit, &v, NULL, false)) {
			return false;
		}
		fast_ws(f);
		if (fast_at(f, ',')) {
			fast_step(f, emit);
			continue;
		}
		if (!fast_at(f, ']'))
			return false;
		fast_step(f, emit);
		return true;
	}
}

/* Any value at t[i] (no white space before it); its kind into sp. */
static bool fast_value(struct fast *f, unsigned depth, bool emit, struct span *sp,
		       const struct pick *pick, bool resources)
{
	if (f->i >= f->n || depth >= FAST_DEPTH_MAX)
		return false;
	unsigned char c = f->t[f->i];
	switch (c) {
	case '"':
		return fast_string(f, sp, emit);
	case '{':
		sp->kind = VK_OBJECT;
		return fast_object(f, depth + 1, emit, pick);
	case '[':
		sp->kind = VK_ARRAY;
		return fast_array(f, depth + 1, emit, resources);
	case 't': case 'f': case 'n':
		return fast_literal(f, emit, sp);
	default:
		if (c != '-' && !(c >= '0' && c <= '9'))
			return false;
		sp->kind = VK_NUMBER;
		return fast_number(f, emit);
	}
}

/* additionalEventData at t[i] == '{', as put_stamped writes it: the
 * members but trailfsIngest, then the stamp. */
static bool fast_stamped(struct fast *f, const char *stamp, size_t stamp_len)
{
	bool any = false;
	size_t comma = 0;
	fast_step(f, true);
	fast_ws(f);
	if (fast_at(f, '}')) {
		f->i++;
	} else {
		for (;;) {
			struct span key, v;
			fast_ws(f);
			if (!fast_at(f, '"') || !fast_string(f, &key, false))
				return false;
			fast_ws(f);
			if (!fast_at(f, ':'))
				return false;
			size_t colon = f->i++;
			fast_ws(f);
			bool keep = !key_is(f, &key, "trailfsIngest");
			if (keep) {
				if (any)
					fast_keep(f, comma, comma + 1);
				fast_keep(f, key.from, key.to);
				fast_keep(f, colon, colon + 1);
				any = true;
			}
			if (!fast_value(f, 1, keep, &v, NULL, false))
				return false;
			fast_ws(f);
			if (fast_at(f, ',')) {
				comma = f->i++;
				continue;
			}
			if (!fast_at(f, '}'))
				return false;
			f->i++;
			break;
		}
	}
	fast_flush(f);
	if (any)
		out_putc(f->o, ',');
	OUT_LIT(f->o, "\"trailfsIngest\":");
	out_add(f->o, stamp, stamp_len);
	out_putc(f->o, '}');
	return true;
}

/* The strings the checks read, NUL-terminated in sx->strings, into v. */
static bool fast_view(struct fast *f, const struct span *m, const struct span *req,
		      struct rec_view *v)
{
	struct scratch *sx = f->sx;
	const struct span *need[M_COUNT + 2 + 3 * 64];
	struct val *into[M_COUNT + 2 + 3 * 64];
	size_t n = 0;
	memset(v, 0, sizeof *v);
	if (f->n_res > 64 || res_reserve(sx, f->n_res) < 0)
		return false;
	for (int k = 0; k < M_COUNT; k++) {
		v->m[k].kind = m[k].kind;
		if (m[k].kind == VK_STRING) {
			need[n] = &m[k];
			into[n++] = &v->m[k];
		}
	}
	for (size_t k = 0; k < 2; k++) {
		struct val *dst = k ? &v->key : &v->bucket;
		dst->kind = req[k].kind;
		if (req[k].kind == VK_STRING) {
			need[n] = &req[k];
			into[n++] = dst;
		}
	}
	for (size_t i = 0; i < f->n_res; i++) {
		struct res_view *rv = &sx->res[i];
		const struct fast_res *fr = &sx->fres[i];
		struct val *dst[3] = {&rv->arn, &rv->type, &rv->account};
		rv->kind = fr->kind;
		for (size_t k = 0; k < 3; k++) {
			dst[k]->kind = fr->f[k].kind;
			dst[k]->s = NULL;
			if (fr->f[k].kind == VK_STRING) {
				need[n] = &fr->f[k];
				into[n++] = dst[k];
			}
		}
	}
	if (m[M_RESOURCES].kind == VK_ARRAY) {
		v->res = sx->res;
		v->n_res = f->n_res;
	}
	/* Offsets first: the buffer may move as it grows. */
	size_t at[M_COUNT + 2 + 3 * 64];
	buf_reset(&sx->strings);
	for (size_t k = 0; k < n; k++) {
		if (need[k]->esc)
			return false;   /* to be unescaped: the general path */
		at[k] = sx->strings.len;
		if (buf_add(&sx->strings, f->t + need[k]->from + 1, need[k]->to - need[k]->from - 2) < 0 ||
		    buf_putc(&sx->strings, '\0') < 0)
			return false;
	}
	for (size_t k = 0; k < n; k++)
		into[k]->s = sx->strings.data + at[k];
	return true;
}

/* One record at t[i] == '{'.  True with e complete; false when it is not
 * for the fast path (e then holds nothing). */
static bool fast_record(struct fast *f, const struct event_ctx *ctx, struct event *e)
{
	struct scratch *sx = f->sx;
	struct span m[M_COUNT], req[2];
	memset(m, 0, sizeof m);
	memset(req, 0, sizeof req);
	struct out o = { .b = &sx->out };
	buf_reset(&sx->out);
	f->o = &o;
	f->run_from = f->run_to = SIZE_MAX;
	f->n_res = 0;
	bool first = true;
	size_t comma = 0;

	fast_step(f, true);
	fast_ws(f);
	if (fast_at(f, '}')) {
		f->i++;
	} else {
		for (;;) {
			struct span key, other;
			fast_ws(f);
			if (!first)
				fast_keep(f, comma, comma + 1);
			if (!fast_at(f, '"') || !fast_string(f, &key, true))
				return false;
			fast_ws(f);
			if (!fast_at(f, ':'))
				return false;
			fast_step(f, true);
			fast_ws(f);
			int k = -1;
			char name[24];
			size_t kn = key.to - key.from - 2;
			if (!key.esc && kn < sizeof name) {
				memcpy(name, f->t + key.from + 1, kn);
				name[kn] = '\0';
				k = member_index(name);
			}
			struct span *slot = k >= 0 ? &m[k] : &other;
			if (k >= 0 && m[k].kind != VK_ABSENT)
				return false;   /* twice: the general path says so */
			bool ok;
			if (k == M_AED && ctx->who) {
				if (!fast_at(f, '{'))
					return false;
				m[k].kind = VK_OBJECT;
				ok = fast_stamped(f, sx->stamp.data, sx->stamp.len);
			} else if (k == M_REQUEST) {
				struct pick pick = { request_names, N_OF(request_names), req };
				ok = fast_value(f, 1, true, slot, &pick, false);
			} else {
				ok = fast_value(f, 1, true, slot, NULL, k == M_RESOURCES);
			}
			if (!ok)
				return false;
			first = false;
			fast_ws(f);
			if (fast_at(f, ',')) {
				comma = f->i++;
				continue;
			}
			if (!fast_at(f, '}'))
				return false;
			f->i++;
			break;
		}
	}
	fast_flush(f);
	if (o.err)
		return false;

	struct rec_view v;
	struct ct_err err;
	if (!fast_view(f, m, req, &v) || check_record(&v, ctx, e, sx, &err) < 0 ||
	    put_filled(&o, first, &v, ctx, sx->stamp.data, sx->stamp.len, e) < 0 ||
	    take_text(sx, e) < 0) {
		event_release(e);
		return false;
	}
	return true;
}

/* The events of the top-level value at text[0] == '{' the fast way: true
 * with them appended to ev, *end just past the value and *lines the
 * newlines in it; false with ev as it was (the value may also just be
 * unfinished within len). */
static bool fast_take_value(const char *text, size_t len, const struct event_ctx *ctx,
			    struct scratch *sx, struct events *ev, size_t *end, size_t *lines)
{
	struct fast f = { .t = (const unsigned char *)text, .n = len, .sx = sx };
	size_t before = ev->n;
	if (!__atomic_load_n(&fast_enabled, __ATOMIC_RELAXED) || stamp_text(sx, ctx->who) < 0)
		return false;
	/* {"Records":[...]}: Records its only member, each element a record. */
	f.i = 1;
	fast_ws(&f);
	bool wrapper = false;
	if (len - f.i >= 9 && !memcmp(text + f.i, "\"Records\"", 9)) {
		f.i += 9;
		fast_ws(&f);
		if (fast_at(&f, ':')) {
			f.i++;
			fast_ws(&f);
			wrapper = fast_at(&f, '[');
		}
	}
	if (wrapper) {
		f.i++;
		fast_ws(&f);
		if (fast_at(&f, ']')) {
			f.i++;
		} else {
			for (;;) {
				fast_ws(&f);
				if (!fast_at(&f, '{'))
					goto undo;
				struct event *e = events_push(ev);
				if (!e)
					goto undo;
				if (!fast_record(&f, ctx, e)) {
					ev->n--;
					goto undo;
				}
				fast_ws(&f);
				if (fast_at(&f, ',')) {
					f.i++;
					continue;
				}
				if (!fast_at(&f, ']'))
					goto undo;
				f.i++;
				break;
			}
		}
		fast_ws(&f);
		if (!fast_at(&f, '}'))
			goto undo;   /* more members: one record, the general way */
		f.i++;
	} else {
		f.i = 0;
		f.lines = 0;
		struct event *e = events_push(ev);
		if (!e)
			goto undo;
		if (!fast_record(&f, ctx, e)) {
			ev->n--;
			goto undo;
		}
	}
	*end = f.i;
	*lines = f.lines;
	return true;
undo:
	while (ev->n > before)
		event_release(&ev->v[--ev->n]);
	return false;
}

/* One whole top-level value that begins on line: its records into ev.
 * try_fast: the fast path has not been tried on it yet. */
static int take_value(const char *text, size_t len, size_t line, bool try_fast,
		      const struct event_ctx *ctx, struct scratch *sx, struct events *ev,
		      struct ct_err *err)
{
	size_t before = ev->n;
	size_t end, lines;
	if (try_fast && fast_take_value(text, len, ctx, sx, ev, &end, &lines)) {
		if (end == len)
			return 0;
		/* not one value after all (the stream found its end): undo */
		while (ev->n > before)
			event_release(&ev->v[--ev->n]);
	}
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
			/* A value that is whole in this write and plainly written
			 * is taken in one pass, without scanning for its end first. */
			size_t end, lines;
			if (fast_take_value(data + i, len - i, ctx, &sx, &ev, &end, &lines)) {
				i += end;
				sc.line += lines;
				continue;
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
				r = take_value(whole.data, whole.len, start_line, true, ctx, &sx, &ev, err);
			else
				r = ct_fail_errno(err, r, "joining a record split across writes");
			buf_release(&whole);
		} else {
			r = take_value(data + start, i - start, start_line, false, ctx, &sx, &ev, err);
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
	if (ev.n == 0) {   /* a slot the fast path took and gave back */
		free(ev.v);
		ev.v = NULL;
	}
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
