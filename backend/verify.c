/* The validate-logs algorithm over a source of objects: see verify.h.
 *
 * Where the CLI's behaviour is odd, the code follows it and says so; the
 * references are to aws-cli 1.45's customizations/cloudtrail/validation.py
 * (DigestProvider, DigestTraverser, CloudTrailValidateLogs). */
#include "verify.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "fileio.h"
#include "gz.h"
#include "json.h"
#include "sign.h"
#include "store.h"

#define US_PER_S        1000000LL
#define US_PER_MIN      (60 * US_PER_S)
#define US_PER_HOUR     (3600 * US_PER_S)
#define KEY_DATE_LEN    16                 /* YYYYMMDDTHHMMSSZ */
#define KEY_MAX         4096               /* keys we build or are handed */
#define KEYS_FILE_MAX   (16u * 1024 * 1024)   /* a PEM or ListPublicKeys file */
#define HEAD_JSON_MAX   (64u * 1024)
#define HEAD_SUFFIX     ".head.json"
#define BACKFILL_SUFFIX "_backfill.json.gz"
#define DIGEST_SUFFIX   ".json.gz"
#define PROGRESS_MS     100

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* malloc'd printf, NULL on failure. */
__attribute__((format(printf, 1, 2)))
static char *xprintf(const char *fmt, ...)
{
	struct buf b;
	buf_init(&b, VERIFY_MESSAGE_MAX);
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == -E2BIG) {
		/* A message longer than the cap (a huge key) is cut, not lost. */
		r = 0;
	}
	char *s = r == 0 ? buf_take(&b) : NULL;
	buf_release(&b);
	return s;
}

/* ---- Python's str() of a JSON value, for the texts the CLI builds with
 * f-strings: strings as they are, null None, booleans True/False, integral
 * numbers as integers (cJSON keeps no "1.0" apart from "1"), containers in
 * Python's repr. ---- */

static int pyrepr(const json *j, struct buf *b, int depth);

static int pystr_number(double v, struct buf *b)
{
	if (v == (double)(long long)v && v > -9007199254740992.0 && v < 9007199254740992.0)
		return buf_printf(b, "%lld", (long long)v);
	return buf_printf(b, "%.17g", v);
}

static int pyrepr_string(const char *s, struct buf *b)
{
	bool sq = strchr(s, '\'') != NULL, dq = strchr(s, '"') != NULL;
	char q = sq && !dq ? '"' : '\'';
	int r = buf_putc(b, q);
	for (const char *p = s; r == 0 && *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\\' || c == (unsigned char)q)
			r = buf_printf(b, "\\%c", c);
		else if (c == '\n')
			r = buf_puts(b, "\\n");
		else if (c == '\t')
			r = buf_puts(b, "\\t");
		else if (c == '\r')
			r = buf_puts(b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			r = buf_printf(b, "\\x%02x", c);
		else
			r = buf_putc(b, (char)c);
	}
	return r ? r : buf_putc(b, q);
}

static int pyrepr(const json *j, struct buf *b, int depth)
{
	if (depth > 32)
		return buf_puts(b, "...");
	if (json_is_string(j))
		return pyrepr_string(json_string(j), b);
	if (json_is_null(j) || !j)
		return buf_puts(b, "None");
	if (json_is_bool(j))
		return buf_puts(b, json_bool(j) ? "True" : "False");
	if (json_is_number(j))
		return pystr_number(json_number(j), b);
	bool obj = json_is_object(j);
	int r = buf_putc(b, obj ? '{' : '[');
	bool first = true;
	for (json *e = json_first(j); r == 0 && e; e = json_next(e)) {
		if (!first)
			r = buf_puts(b, ", ");
		first = false;
		if (r == 0 && obj) {
			r = pyrepr_string(json_key(e), b);
			if (r == 0)
				r = buf_puts(b, ": ");
		}
		if (r == 0)
			r = pyrepr(e, b, depth + 1);
	}
	return r ? r : buf_putc(b, obj ? '}' : ']');
}

/* str(value), malloc'd (NULL only when memory is exhausted). */
static char *pystr(const json *j)
{
	if (json_is_string(j))
		return strdup(json_string(j));
	struct buf b;
	buf_init(&b, VERIFY_MESSAGE_MAX);
	int r = pyrepr(j, &b, 0);
	char *s = r == 0 || r == -E2BIG ? buf_take(&b) : NULL;
	buf_release(&b);
	return s;
}

/* Python's type name of a JSON value. */
static const char *pytype(const json *j)
{
	if (json_is_string(j))
		return "str";
	if (json_is_bool(j))
		return "bool";
	if (json_is_number(j)) {
		double v = json_number(j);
		return v == (double)(long long)v ? "int" : "float";
	}
	if (json_is_array(j))
		return "list";
	if (json_is_object(j))
		return "dict";
	return "NoneType";
}

/* ---- times ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* n digits at *p into *v; advances. */
static bool digits(const char **p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return true;
}

int verify_time_parse(const char *s, struct verify_time *out)
{
	if (!s)
		return -EINVAL;
	while (*s == ' ')
		s++;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, se = 0;
	long frac = 0;
	bool basic = false;
	if (!digits(&p, 4, &y))
		return -EINVAL;
	if (*p == '-') {
		p++;
		if (!digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d))
			return -EINVAL;
	} else {
		basic = true;
		if (!digits(&p, 2, &mo) || !digits(&p, 2, &d))
			return -EINVAL;
	}
	if (*p == 'T' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
		p++;
		if (!digits(&p, 2, &h))
			return -EINVAL;
		if (basic) {
			if (isdigit((unsigned char)*p) && !digits(&p, 2, &mi))
				return -EINVAL;
			if (isdigit((unsigned char)*p) && !digits(&p, 2, &se))
				return -EINVAL;
		} else if (*p == ':') {
			p++;
			if (!digits(&p, 2, &mi))
				return -EINVAL;
			if (*p == ':') {
				p++;
				if (!digits(&p, 2, &se))
					return -EINVAL;
			}
		}
		if (*p == '.' || *p == ',') {
			p++;
			int n = 0;
			while (isdigit((unsigned char)*p)) {
				if (n < 6) {
					frac = frac * 10 + (*p - '0');
					n++;
				}
				p++;
			}
			if (n == 0)
				return -EINVAL;
			while (n++ < 6)
				frac *= 10;
		}
	}
	bool tz = false;
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		tz = true;
		p++;
	} else if (!strncmp(p, "UTC", 3) || !strncmp(p, "GMT", 3)) {
		tz = true;
		p += 3;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
		if (!digits(&p, 2, &oh))
			return -EINVAL;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)*p) && !digits(&p, 2, &om))
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -EINVAL;
		tz = true;
		off = sign * (oh * 3600 + om * 60);
	}
	while (*p == ' ')
		p++;
	if (*p)
		return -EINVAL;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)) ||
	    h > 23 || mi > 59 || se > 59)
		return -EINVAL;
	int64_t wall = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
	out->us = (wall - off) * US_PER_S + frac;
	out->offset = off;
	out->has_tz = tz;
	return 0;
}

void verify_time_normalize(struct verify_time *t)
{
	t->us += (int64_t)t->offset * US_PER_S;
	t->offset = 0;
	t->has_tz = true;
}

/* Wall-time fields of t. */
static void wall_fields(const struct verify_time *t, int *y, unsigned *mo, unsigned *d, int *h,
			int *mi, int *s)
{
	int64_t us = t->us + (int64_t)t->offset * US_PER_S;
	int64_t secs = us >= 0 ? us / US_PER_S : -((-us + US_PER_S - 1) / US_PER_S);
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	civil_from_days(days, y, mo, d);
	*h = (int)(rem / 3600);
	*mi = (int)(rem / 60 % 60);
	*s = (int)(rem % 60);
}

void verify_time_display(const struct verify_time *t, char *out, size_t size)
{
	int y, h, mi, s;
	unsigned mo, d;
	wall_fields(t, &y, &mo, &d, &h, &mi, &s);
	snprintf(out, size, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, mo, d, h, mi, s);
}

/* DATE_FORMAT, "%Y%m%dT%H%M%SZ". */
static void time_key(const struct verify_time *t, char out[KEY_DATE_LEN + 1])
{
	int y, h, mi, s;
	unsigned mo, d;
	wall_fields(t, &y, &mo, &d, &h, &mi, &s);
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%04d%02u%02uT%02d%02d%02dZ", y, mo, d, h, mi, s);
	memcpy(out, tmp, KEY_DATE_LEN);
	out[KEY_DATE_LEN] = '\0';
}

static struct verify_time time_plus(const struct verify_time *t, int64_t us)
{
	struct verify_time r = *t;
	r.us += us;
	return r;
}

/* Epoch seconds (floor) of the instant. */
static int64_t time_secs(const struct verify_time *t)
{
	return t->us >= 0 ? t->us / US_PER_S : -((-t->us + US_PER_S - 1) / US_PER_S);
}

/* ---- public keys ---- */

void verify_keys_init(struct verify_keys *ks)
{
	memset(ks, 0, sizeof *ks);
}

static void key_release(struct verify_key *k)
{
	free(k->fingerprint);
	free(k->der);
	free(k->value_error);
}

void verify_keys_release(struct verify_keys *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		key_release(&ks->v[i]);
	free(ks->v);
	memset(ks, 0, sizeof *ks);
}

static struct verify_key *keys_slot(struct verify_keys *ks)
{
	if (ks->n == ks->cap) {
		size_t ncap = ks->cap ? 2 * ks->cap : 8;
		struct verify_key *nv = realloc(ks->v, ncap * sizeof *nv);
		if (!nv)
			return NULL;
		ks->v = nv;
		ks->cap = ncap;
	}
	struct verify_key *k = &ks->v[ks->n];
	memset(k, 0, sizeof *k);
	return k;
}

static int keys_add_raw(struct verify_keys *ks, const char *fp, const unsigned char *der,
			size_t der_len, const char *value_error, int64_t start, int64_t end)
{
	struct verify_key *k = keys_slot(ks);
	if (!k)
		return -ENOMEM;
	k->fingerprint = strdup(fp);
	if (der) {
		k->der = malloc(der_len ? der_len : 1);
		if (k->der)
			memcpy(k->der, der, der_len);
		k->der_len = der_len;
	}
	k->value_error = xstrdup(value_error);
	k->start = start;
	k->end = end == 0 ? VERIFY_KEY_OPEN : end;
	if (!k->fingerprint || (der && !k->der) || (value_error && !k->value_error)) {
		key_release(k);
		return -ENOMEM;
	}
	ks->n++;
	return 0;
}

int verify_keys_add(struct verify_keys *ks, const char *fingerprint, const unsigned char *der,
		    size_t der_len, int64_t start, int64_t end)
{
	char fp[SIGN_FINGERPRINT_LEN + 1];
	if (!fingerprint) {
		int r = sign_fingerprint(der, der_len, fp);
		if (r < 0)
			return r;
		fingerprint = fp;
	}
	return keys_add_raw(ks, fingerprint, der, der_len, NULL, start, end);
}

/* base64.b64decode(s) as Python does it without validate: bytes outside
 * the alphabet are skipped; the data ends at padding that completes a
 * quantum.  0 and out, or -EINVAL with *why (a static text: the
 * binascii.Error message) or -ENOMEM. */
static int b64_decode(const char *s, size_t len, struct buf *out, char *why, size_t why_size)
{
	unsigned acc = 0;
	size_t nchars = 0, pads = 0;
	int r = 0;
	for (size_t i = 0; i < len && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			if (nchars % 4 >= 2 && nchars % 4 + ++pads >= 4)
				break;
			continue;
		}
		int v = crypto_base64_digit(c);
		if (v < 0)
			continue;
		pads = 0;
		acc = acc << 6 | (unsigned)v;
		nchars++;
		if (nchars % 4 == 0) {
			unsigned char three[3] = { (unsigned char)(acc >> 16), (unsigned char)(acc >> 8),
						   (unsigned char)acc };
			r = buf_add(out, three, 3);
			acc = 0;
		}
	}
	if (r < 0)
		return r;
	size_t rest = nchars % 4;
	if (rest == 1) {
		snprintf(why, why_size,
			 "Invalid base64-encoded string: number of data characters (%zu) cannot be 1 more than a multiple of 4",
			 nchars);
		return -EINVAL;
	}
	if (rest) {
		/* Python requires the padding to be there. */
		size_t need = 4 - rest, have = 0;
		for (size_t i = len; i > 0 && s[i - 1] != '\0'; i--) {
			if (s[i - 1] == '=')
				have++;
			else if (crypto_base64_digit((unsigned char)s[i - 1]) >= 0)
				break;
		}
		if (have < need) {
			snprintf(why, why_size, "Incorrect padding");
			return -EINVAL;
		}
		unsigned char two[2];
		if (rest == 2) {
			two[0] = (unsigned char)(acc >> 4);
			r = buf_add(out, two, 1);
		} else {
			two[0] = (unsigned char)(acc >> 10);
			two[1] = (unsigned char)(acc >> 2);
			r = buf_add(out, two, 2);
		}
	}
	return r;
}

/* DER tag and length at p[0..n): header length and content length, or -1. */
static long der_header(const unsigned char *p, size_t n, unsigned char tag, size_t *content)
{
	if (n < 2 || p[0] != tag)
		return -1;
	size_t len = p[1], h = 2;
	if (len & 0x80) {
		size_t nb = len & 0x7f;
		if (nb == 0 || nb > 4 || n < 2 + nb)
			return -1;
		len = 0;
		for (size_t i = 0; i < nb; i++)
			len = len << 8 | p[2 + i];
		h += nb;
	}
	if (len > n - h)
		return -1;
	*content = len;
	return (long)h;
}

/* The PKCS#1 RSAPublicKey inside a SubjectPublicKeyInfo, or der itself
 * when it is not one. */
static void spki_inner(const unsigned char **der, size_t *len)
{
	const unsigned char *p = *der;
	size_t n = *len, c;
	long h = der_header(p, n, 0x30, &c);
	if (h < 0)
		return;
	p += h;
	n = c;
	long h2 = der_header(p, n, 0x30, &c);
	if (h2 < 0)
		return;
	p += h2 + (long)c;
	n -= (size_t)h2 + c;
	long h3 = der_header(p, n, 0x03, &c);
	if (h3 < 0 || c < 2 || p[h3] != 0)
		return;
	*der = p + h3 + 1;
	*len = c - 1;
}

int verify_keys_parse_pem(struct verify_keys *ks, const char *text, size_t len)
{
	static const char begin[] = "-----BEGIN ";
	size_t found = 0;
	const char *p = text, *end = text + len;
	int r = 0;
	while (r == 0 && p < end) {
		const char *b = memmem(p, (size_t)(end - p), begin, sizeof begin - 1);
		if (!b)
			break;
		const char *label = b + sizeof begin - 1;
		const char *dash = memmem(label, (size_t)(end - label), "-----", 5);
		if (!dash)
			break;
		size_t label_len = (size_t)(dash - label);
		bool pkcs1 = label_len == 14 && !memcmp(label, "RSA PUBLIC KEY", 14);
		bool spki = label_len == 10 && !memcmp(label, "PUBLIC KEY", 10);
		const char *body = dash + 5;
		const char *stop = memmem(body, (size_t)(end - body), "-----END ", 9);
		if (!stop)
			return -EINVAL;
		p = stop + 9;
		if (!pkcs1 && !spki)
			continue;
		struct buf der;
		buf_init(&der, KEYS_FILE_MAX);
		char why[160];
		r = b64_decode(body, (size_t)(stop - body), &der, why, sizeof why);
		if (r == 0) {
			const unsigned char *d = (const unsigned char *)der.data;
			size_t n = der.len;
			if (spki)
				spki_inner(&d, &n);
			r = verify_keys_add(ks, NULL, d, n, 0, 0);
			found++;
		}
		buf_release(&der);
	}
	if (r == 0 && !found)
		r = -EINVAL;
	return r;
}

/* A ListPublicKeys time: epoch seconds (number) or a time string. */
static int list_time(const json *j, int64_t *out)
{
	if (!j || json_is_null(j)) {
		*out = 0;
		return 0;
	}
	if (json_is_number(j)) {
		*out = (int64_t)json_number(j);
		return 0;
	}
	struct verify_time t;
	if (!json_is_string(j))
		return -EINVAL;
	/* A bare number written as a string (some tools do) is epoch seconds. */
	char *e;
	double v = strtod(json_string(j), &e);
	if (e != json_string(j) && *e == '\0') {
		*out = (int64_t)v;
		return 0;
	}
	if (verify_time_parse(json_string(j), &t) < 0)
		return -EINVAL;
	*out = time_secs(&t);
	return 0;
}

int verify_keys_parse_list(struct verify_keys *ks, const char *text, size_t len)
{
	json *doc = json_parse(text, len, NULL);
	json *list = json_get(doc, "PublicKeyList");
	int r = json_is_array(list) ? 0 : -EINVAL;
	for (json *k = json_first(list); r == 0 && k; k = json_next(k)) {
		const char *value = json_string(json_get(k, "Value"));
		const char *fp = json_string(json_get(k, "Fingerprint"));
		int64_t start, end;
		if (!value || !fp || list_time(json_get(k, "ValidityStartTime"), &start) < 0 ||
		    list_time(json_get(k, "ValidityEndTime"), &end) < 0) {
			r = -EINVAL;
			break;
		}
		struct buf der;
		buf_init(&der, KEYS_FILE_MAX);
		char why[160];
		int d = b64_decode(value, strlen(value), &der, why, sizeof why);
		if (d == -EINVAL)
			r = keys_add_raw(ks, fp, NULL, 0, why, start, end);
		else if (d < 0)
			r = d;
		else
			r = keys_add_raw(ks, fp, der.data ? (const unsigned char *)der.data : (const unsigned char *)"",
					 der.len, NULL, start, end);
		buf_release(&der);
	}
	json_free(doc);
	return r;
}

static int keys_load_file(struct verify_keys *ks, const char *path)
{
	struct buf b;
	buf_init(&b, KEYS_FILE_MAX);
	int r = read_file(path, &b);
	if (r == 0) {
		const char *s = buf_str(&b);
		while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
			s++;
		r = *s == '{' ? verify_keys_parse_list(ks, b.data, b.len)
			      : verify_keys_parse_pem(ks, buf_str(&b), b.len);
	}
	buf_release(&b);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void verify_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Entries that are no "." entry and end with the suffix in arg (NULL: any). */
static bool name_entry(int dfd, const char *name, void *arg)
{
	(void)dfd;
	const char *suffix = arg;
	return name[0] != '.' && (!suffix || ends_with(name, suffix));
}

/* Sorted names of dir's entries (no "." entries) that end with suffix
 * (NULL: any). */
static int dir_names(const char *dir, const char *suffix, char ***out, size_t *n)
{
	return fileio_dir_names(dir, name_entry, (void *)suffix, out, n);
}

/* Is name (a file name without its extension) a region's name, such as
 * us-east-1 or us-gov-west-1: letters, dash-separated words, a number? */
static bool region_like(const char *name, size_t n)
{
	size_t dashes = 0, i = 0;
	while (i < n && islower((unsigned char)name[i]))
		i++;
	if (i != 2)
		return false;
	for (; i < n; i++) {
		if (name[i] == '-')
			dashes++;
		else if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]))
			return false;
	}
	return dashes >= 2 && isdigit((unsigned char)name[n - 1]);
}

int verify_keys_load_path(struct verify_keys *ks, const char *path, const char *region)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return keys_load_file(ks, path);
	char **names;
	size_t n;
	int r = dir_names(path, NULL, &names, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (!ends_with(names[i], ".pem") && !ends_with(names[i], ".json"))
			continue;
		size_t stem = strlen(names[i]) - (ends_with(names[i], ".pem") ? 4 : 5);
		if (region && region_like(names[i], stem) &&
		    (strlen(region) != stem || strncmp(names[i], region, stem)))
			continue;
		char *p = xprintf("%s/%s", path, names[i]);
		r = p ? keys_load_file(ks, p) : -ENOMEM;
		free(p);
	}
	verify_names_free(names, n);
	return r;
}

int verify_keys_load_ring(struct verify_keys *ks, const char *dir, const char *region)
{
	char *index = xprintf("%s/%s/index.json", dir, region);
	if (!index)
		return -ENOMEM;
	struct buf b;
	buf_init(&b, KEYS_FILE_MAX);
	int r = read_file(index, &b);
	free(index);
	if (r == -ENOENT) {
		buf_release(&b);
		return 0;
	}
	json *doc = r == 0 ? json_parse(b.data, b.len, NULL) : NULL;
	buf_release(&b);
	json *list = json_get(doc, "keys");
	if (r == 0 && !json_is_array(list))
		r = -EINVAL;
	for (json *k = json_first(list); r == 0 && k; k = json_next(k)) {
		const char *fp = json_string(json_get(k, "Fingerprint"));
		json *s = json_get(k, "ValidityStartTime"), *e = json_get(k, "ValidityEndTime");
		if (!fp || strlen(fp) != SIGN_FINGERPRINT_LEN || strchr(fp, '/') || !json_is_number(s) ||
		    !json_is_number(e)) {
			r = -EINVAL;
			break;
		}
		char *pub = xprintf("%s/%s/%s.pub", dir, region, fp);
		struct buf der;
		buf_init(&der, KEYS_FILE_MAX);
		r = pub ? read_file(pub, &der) : -ENOMEM;
		free(pub);
		if (r == 0)
			r = keys_add_raw(ks, fp, (const unsigned char *)der.data, der.len, NULL,
					 (int64_t)json_number(s), (int64_t)json_number(e));
		buf_release(&der);
	}
	json_free(doc);
	return r;
}

int verify_keys_select(const struct verify_keys *all, int64_t start_us, int64_t end_us,
		       struct verify_keys *out)
{
	for (size_t i = 0; i < all->n; i++) {
		const struct verify_key *k = &all->v[i];
		int64_t ks = k->start > INT64_MAX / US_PER_S ? INT64_MAX : k->start * US_PER_S;
		int64_t ke = k->end > INT64_MAX / US_PER_S ? INT64_MAX : k->end * US_PER_S;
		if (ks > end_us || ke < start_us)
			continue;
		int r = keys_add_raw(out, k->fingerprint, k->der, k->der_len, k->value_error, k->start,
				     k->end);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The key the CLI's dict holds for fp: the last one listed with it. */
static const struct verify_key *keys_find(const struct verify_keys *ks, const char *fp)
{
	for (size_t i = ks->n; i > 0; i--)
		if (!strcmp(ks->v[i - 1].fingerprint, fp))
			return &ks->v[i - 1];
	return NULL;
}

/* ---- objects and the store source ---- */

void verify_object_init(struct verify_object *o)
{
	memset(o, 0, sizeof *o);
	buf_init(&o->body, VERIFY_OBJECT_MAX);
}

void verify_object_reset(struct verify_object *o)
{
	buf_reset(&o->body);
	o->inflated = o->unreadable = false;
	free(o->signature);
	free(o->signature_algorithm);
	free(o->backfill_timestamp);
	o->signature = o->signature_algorithm = o->backfill_timestamp = NULL;
}

void verify_object_release(struct verify_object *o)
{
	verify_object_reset(o);
	buf_release(&o->body);
}

void verify_source_free(struct verify_source *src)
{
	if (src && src->ops && src->ops->free)
		src->ops->free(src->ctx);
	if (src)
		memset(src, 0, sizeof *src);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct entry_list {
	char **v;
	size_t n;
};

static int store_walk(struct store *st, const char *bucket, const char *level, const char *prefix,
		      const char *marker, verify_key_fn fn, void *arg)
{
	struct store_listing l;
	int r = st->ops->object_list(st, bucket, level, &l);
	if (r == -ENOENT)
		return st->ops->bucket_exists(st, bucket) == -ENOENT ? -ENXIO : 0;
	if (r == -EINVAL)
		return 0;   /* a prefix no key can have */
	if (r < 0)
		return r;
	size_t n = l.n_keys + l.n_prefixes;
	char **all = malloc((n ? n : 1) * sizeof *all);
	if (!all) {
		store_listing_release(&l);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l.n_keys; i++)
		all[i] = l.keys[i];
	for (size_t i = 0; i < l.n_prefixes; i++)
		all[l.n_keys + i] = l.prefixes[i];
	/* Keys and prefixes (with their '/') in one byte order: expanding each
	 * prefix in place then gives the flat listing's order. */
	if (n)
		qsort(all, n, sizeof *all, by_string);
	r = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		const char *e = all[i];
		size_t len = strlen(e);
		bool dir = len && e[len - 1] == '/';
		if (!dir) {
			if (starts_with(e, prefix) && strcmp(e, marker) > 0)
				r = fn(arg, e);
			continue;
		}
		if (!starts_with(e, prefix) && !starts_with(prefix, e))
			continue;
		/* Every key under e sorts before the marker: skip the subtree. */
		if (strcmp(marker, e) > 0 && !starts_with(marker, e))
			continue;
		r = store_walk(st, bucket, e, prefix, marker, fn, arg);
	}
	free(all);
	store_listing_release(&l);
	return r;
}

static int store_src_list(void *ctx, const char *bucket, const char *prefix, const char *marker,
			  verify_key_fn fn, void *arg)
{
	struct store *st = ctx;
	const char *slash = strrchr(prefix, '/');
	size_t n = slash ? (size_t)(slash - prefix) + 1 : 0;
	char *level = strndup(prefix, n);
	if (!level)
		return -ENOMEM;
	int r = store_walk(st, bucket, level, prefix, marker ? marker : "", fn, arg);
	free(level);
	return r < 0 ? r : 0;
}

static int meta_take(const struct store_object_info *info, const char *name, char **out)
{
	const char *v = store_meta_get(info, name);
	if (!v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

/* KEY.head.json (head-object output) for a digest copied without metadata. */
static int head_json_meta(struct store *st, const char *bucket, const char *key,
			  struct verify_object *out)
{
	char *hk = xprintf("%s" HEAD_SUFFIX, key);
	if (!hk)
		return -ENOMEM;
	struct buf b;
	buf_init(&b, HEAD_JSON_MAX);
	int r = st->ops->object_get(st, bucket, hk, &b, NULL);
	free(hk);
	if (r < 0) {
		buf_release(&b);
		return r == -ENOENT || r == -E2BIG || r == -EINVAL ? 0 : r;
	}
	json *doc = json_parse(b.data, b.len, NULL);
	buf_release(&b);
	json *meta = json_get(doc, "Metadata");
	const char *names[] = { "signature", "signature-algorithm", "backfill-generation-timestamp" };
	char **slots[] = { &out->signature, &out->signature_algorithm, &out->backfill_timestamp };
	r = 0;
	for (size_t i = 0; r == 0 && i < 3; i++) {
		const char *v = json_string(json_get(meta, names[i]));
		if (v && !(*slots[i] = strdup(v)))
			r = -ENOMEM;
	}
	json_free(doc);
	return r;
}

static int store_src_get(void *ctx, const char *bucket, const char *key, enum verify_kind kind,
			 struct verify_object *out)
{
	struct store *st = ctx;
	struct store_object_info info;
	int r = st->ops->object_get(st, bucket, key, &out->body, kind == VERIFY_OBJECT_DIGEST ? &info : NULL);
	if (r == -ENOENT || r == -EINVAL)
		return st->ops->bucket_exists(st, bucket) == -ENOENT ? -ENXIO : -ENOENT;
	if (r < 0 || kind != VERIFY_OBJECT_DIGEST)
		return r;
	r = meta_take(&info, "signature", &out->signature);
	if (r == 0)
		r = meta_take(&info, "signature-algorithm", &out->signature_algorithm);
	if (r == 0)
		r = meta_take(&info, "backfill-generation-timestamp", &out->backfill_timestamp);
	bool none = info.n_meta == 0;
	store_object_info_release(&info);
	if (r == 0 && none)
		r = head_json_meta(st, bucket, key, out);
	return r;
}

static const struct verify_source_ops store_source_ops = {
	.list = store_src_list,
	.get = store_src_get,
	.free = NULL,
};

int verify_source_store(struct store *st, struct verify_source *out)
{
	out->ops = &store_source_ops;
	out->ctx = st;
	return 0;
}

/* ---- one log file ---- */

const char *verify_log_message(enum verify_log_verdict v)
{
	switch (v) {
	case VERIFY_LOG_VALID:
		return "valid";
	case VERIFY_LOG_HASH_MISMATCH:
		return "INVALID: hash value doesn't match";
	case VERIFY_LOG_NOT_FOUND:
		return "INVALID: not found";
	case VERIFY_LOG_INVALID_FORMAT:
		return "INVALID: invalid format";
	case VERIFY_LOG_TRAILING_DATA:
		return "INVALID: unexpected data after end of compressed stream";
	}
	return "INVALID: invalid format";
}

static int sha_sink(void *arg, const void *p, size_t n)
{
	return sign_sha256_update(arg, p, n);
}

int verify_log_bytes(const void *data, size_t len, const char *expected, unsigned flags,
		     struct verify_log_result *out)
{
	memset(out, 0, sizeof *out);
	struct sign_sha256 *h = sign_sha256_new();
	if (!h)
		return -ENOMEM;
	struct gz_stream_info info;
	int r = gz_inflate_first_member(data, len, sha_sink, h, &info);
	if (r == 0)
		r = sign_sha256_final_hex(h, out->hash);
	sign_sha256_free(h);
	if (r == -ENOMEM)
		return r;
	out->trailing = info.complete && info.trailing > 0;
	if (r < 0) {
		out->hash[0] = '\0';
		out->verdict = VERIFY_LOG_INVALID_FORMAT;
	} else if ((flags & VERIFY_STRICT_GZIP) && out->trailing) {
		out->verdict = VERIFY_LOG_TRAILING_DATA;
	} else if (!expected) {
		/* log['hashValue'] raises KeyError inside the CLI's try. */
		out->verdict = VERIFY_LOG_INVALID_FORMAT;
	} else {
		out->verdict = strcmp(out->hash, expected) ? VERIFY_LOG_HASH_MISMATCH : VERIFY_LOG_VALID;
	}
	return 0;
}

int verify_log_object(const struct verify_source *src, const char *bucket, const char *key,
		      const char *expected, unsigned flags, struct verify_object *obj,
		      struct verify_log_result *out)
{
	memset(out, 0, sizeof *out);
	verify_object_reset(obj);
	int r = src->ops->get(src->ctx, bucket, key, VERIFY_OBJECT_LOG, obj);
	if (r == -ENOENT) {
		out->verdict = VERIFY_LOG_NOT_FOUND;
		return 0;
	}
	if (r < 0)
		return r;
	return verify_log_bytes(obj->body.data, obj->body.len, expected, flags, out);
}

/* ---- one digest ---- */

void verify_digest_release(struct verify_digest *d)
{
	free(d->message);
	free(d->previous_bucket);
	free(d->previous_key);
	for (size_t i = 0; i < d->n_logs; i++) {
		free(d->logs[i].bucket);
		free(d->logs[i].key);
		free(d->logs[i].hash);
	}
	free(d->logs);
	free(d->fatal);
	memset(d, 0, sizeof *d);
}

static bool is_backfill_key(const char *key)
{
	return ends_with(key, BACKFILL_SUFFIX);
}

/* Python's s[a:b] with negative a and b (from the end). */
static char *py_slice_end(const char *s, long a, long b)
{
	long n = (long)strlen(s);
	long from = n + a < 0 ? 0 : n + a, to = n + b < 0 ? 0 : n + b;
	if (to < from)
		to = from;
	return strndup(s + from, (size_t)(to - from));
}

/* extract_digest_key_date */
static char *key_date(const char *key)
{
	return is_backfill_key(key) ? py_slice_end(key, -33, -17) : py_slice_end(key, -24, -8);
}

/* Python's json accepts no raw control byte in a string, and only space,
 * tab, LF and CR between tokens; cJSON is laxer about both. */
static bool python_json_bytes_ok(const char *s, size_t len)
{
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (in_str) {
			if (c < 0x20)
				return false;
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return false;
		}
	}
	return true;
}

static int set_message(struct verify_digest *d, enum verify_digest_verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int set_message(struct verify_digest *d, enum verify_digest_verdict v, const char *fmt, ...)
{
	struct buf b;
	buf_init(&b, VERIFY_MESSAGE_MAX);
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(d->message);
	d->message = r == 0 || r == -E2BIG ? buf_take(&b) : NULL;
	buf_release(&b);
	d->verdict = v;
	return d->message ? 0 : -ENOMEM;
}

/* parse_date of a JSON value, with the CLI's error texts. */
static int json_time(const json *j, struct verify_time *t, char **why)
{
	if (!json_is_string(j)) {
		*why = xprintf("Parser must be a string or character stream, not %s", pytype(j));
		return -EINVAL;
	}
	if (verify_time_parse(json_string(j), t) < 0) {
		*why = xprintf("Unable to parse date value: %s", json_string(j));
		return -EINVAL;
	}
	return 0;
}

static bool hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The logFiles of a valid digest, read as _call and _download_log read
 * them; a shape the CLI would crash on leaves d->fatal. */
static int digest_logs(const json *doc, struct verify_digest *d)
{
	const json *logs = json_get(doc, "logFiles");
	if (!logs)
		return (d->fatal = strdup("'logFiles'")) ? 0 : -ENOMEM;
	/* `if not digest['logFiles']: continue` */
	bool falsy = json_is_null(logs) || (json_is_bool(logs) && !json_bool(logs)) ||
		     (json_is_number(logs) && json_number(logs) == 0) ||
		     (json_is_string(logs) && !*json_string(logs)) ||
		     ((json_is_array(logs) || json_is_object(logs)) && json_size(logs) == 0);
	if (falsy)
		return 0;
	if (!json_is_array(logs)) {
		d->fatal = json_is_string(logs) ? strdup("string indices must be integers, not 'str'")
		       : json_is_object(logs) ? strdup("string indices must be integers, not 'str'")
		       : xprintf("'%s' object is not iterable", pytype(logs));
		return d->fatal ? 0 : -ENOMEM;
	}
	size_t n = json_size(logs);
	d->logs = calloc(n, sizeof *d->logs);
	if (!d->logs)
		return -ENOMEM;
	for (json *e = json_first(logs); e; e = json_next(e)) {
		if (!json_is_object(e)) {
			d->fatal = json_is_string(e) ? strdup("string indices must be integers, not 'str'")
				: xprintf("'%s' object is not subscriptable", pytype(e));
			return d->fatal ? 0 : -ENOMEM;
		}
		json *b = json_get(e, "s3Bucket"), *k = json_get(e, "s3Object"), *h = json_get(e, "hashValue");
		/* Missing either: a KeyError inside the except handler. */
		if (!b || !k) {
			d->fatal = xprintf("'%s'", !b ? "s3Bucket" : "s3Object");
			return d->fatal ? 0 : -ENOMEM;
		}
		struct verify_log_ref *ref = &d->logs[d->n_logs++];
		ref->bucket = pystr(b);
		ref->key = pystr(k);
		ref->fetchable = json_is_string(b) && json_is_string(k);
		ref->has_hash = h != NULL;
		if (json_is_string(h))
			ref->hash = strdup(json_string(h));
		if (!ref->bucket || !ref->key || (json_is_string(h) && !ref->hash))
			return -ENOMEM;
	}
	return 0;
}

/* The string to sign (_create_string_to_sign). */
static int digest_to_sign(const json *doc, const char *body, size_t len, struct buf *out)
{
	char hash[SIGN_SHA256_HEX_LEN + 1];
	int r = sign_sha256_hex(body, len, hash);
	if (r < 0)
		return r;
	json *prev = json_get(doc, "previousDigestSignature");
	char *end = pystr(json_get(doc, "digestEndTime"));
	char *ps = json_is_null(prev) ? strdup("null") : pystr(prev);
	if (end && ps)
		r = buf_printf(out, "%s\n%s/%s\n%s\n%s", end, json_string(json_get(doc, "digestS3Bucket")),
			       json_string(json_get(doc, "digestS3Object")), hash, ps);
	else
		r = -ENOMEM;
	free(end);
	free(ps);
	return r;
}

/* Everything after fetching: _load_and_validate_digest and the parse of
 * digestStartTime in _traverse_digest_chain.  keys may grow (backfill:
 * keys for the generation time are fetched from all, when given). */
static int digest_check(const char *bucket, const char *key, const char *body, size_t len,
			const struct verify_object *obj, struct verify_keys *keys,
			const struct verify_keys *all, const char *home_region, struct verify_digest *d)
{
	if (!python_json_bytes_ok(body, len) || !json_utf8_valid(body, len) || len == 0)
		return set_message(d, VERIFY_DIGEST_INVALID_FORMAT, "INVALID: invalid format");
	json *doc = json_parse(body, len, NULL);
	if (!doc)
		return set_message(d, VERIFY_DIGEST_INVALID_FORMAT, "INVALID: invalid format");
	int r;
	char *why = NULL;
	if (!obj->signature || !obj->signature_algorithm) {
		r = set_message(d, VERIFY_DIGEST_BAD_SIGNATURE, "INVALID: signature verification failed");
		goto out;
	}
	if (!json_is_object(doc)) {
		/* digest_data['_signature'] = ... on another type */
		if (json_is_array(doc))
			r = set_message(d, VERIFY_DIGEST_OTHER,
					"INVALID: list indices must be integers or slices, not str");
		else
			r = set_message(d, VERIFY_DIGEST_OTHER,
					"INVALID: '%s' object does not support item assignment", pytype(doc));
		goto out;
	}
	if (d->backfill && !obj->backfill_timestamp) {
		r = set_message(d, VERIFY_DIGEST_INVALID_FORMAT, "INVALID: invalid format");
		goto out;
	}
	static const char *const required[] = { "digestPublicKeyFingerprint", "digestS3Bucket",
		"digestS3Object", "previousDigestSignature", "digestEndTime", "digestStartTime" };
	for (size_t i = 0; i < sizeof required / sizeof *required; i++)
		if (!json_get(doc, required[i])) {
			r = set_message(d, VERIFY_DIGEST_INVALID_FORMAT, "INVALID: invalid format");
			goto out;
		}
	const char *db = json_string(json_get(doc, "digestS3Bucket"));
	const char *dk = json_string(json_get(doc, "digestS3Object"));
	if (!db || !dk || strcmp(db, bucket) || strcmp(dk, key)) {
		r = set_message(d, VERIFY_DIGEST_MOVED, "INVALID: has been moved from its original location");
		goto out;
	}
	json *fpj = json_get(doc, "digestPublicKeyFingerprint");
	if (json_is_array(fpj) || json_is_object(fpj)) {
		r = set_message(d, VERIFY_DIGEST_OTHER, "INVALID: unhashable type: '%s'", pytype(fpj));
		goto out;
	}
	char *fp = pystr(fpj);
	if (!fp) {
		r = -ENOMEM;
		goto out;
	}
	const struct verify_key *k = json_is_string(fpj) ? keys_find(keys, fp) : NULL;
	if (!k && d->backfill && all) {
		struct verify_time ts;
		if (verify_time_parse(obj->backfill_timestamp, &ts) < 0) {
			r = set_message(d, VERIFY_DIGEST_OTHER, "INVALID: Unable to parse date value: %s",
					obj->backfill_timestamp);
			free(fp);
			goto out;
		}
		verify_time_normalize(&ts);
		struct verify_time a = time_plus(&ts, -US_PER_HOUR), b = time_plus(&ts, US_PER_HOUR);
		size_t before = keys->n;
		r = verify_keys_select(all, a.us, b.us, keys);
		if (r == 0 && keys->n == before) {
			char as[24], bs[24];
			verify_time_display(&a, as, sizeof as);
			verify_time_display(&b, bs, sizeof bs);
			r = set_message(d, VERIFY_DIGEST_OTHER, "INVALID: No public keys found between %s and %s",
					as, bs);
			free(fp);
			goto out;
		}
		if (r < 0) {
			free(fp);
			goto out;
		}
		k = json_is_string(fpj) ? keys_find(keys, fp) : NULL;
	}
	if (!k) {
		r = set_message(d, VERIFY_DIGEST_NO_KEY,
				"INVALID: public key not found in region %s for fingerprint %s", home_region, fp);
		free(fp);
		goto out;
	}
	if (!k->der) {
		r = set_message(d, VERIFY_DIGEST_OTHER, "INVALID: %s", k->value_error);
		free(fp);
		goto out;
	}
	/* Key loading comes first in the CLI's validate(), then the hex. */
	char probe[SIGN_FINGERPRINT_LEN + 1];
	if (sign_fingerprint(k->der, k->der_len, probe) < 0) {
		r = set_message(d, VERIFY_DIGEST_BAD_KEY, "INVALID: Unable to load PKCS #1 key with fingerprint %s",
				fp);
		free(fp);
		goto out;
	}
	free(fp);
	size_t sl = strlen(obj->signature);
	bool nonhex = false;
	for (size_t i = 0; i < sl; i++)
		nonhex |= !hex_digit(obj->signature[i]);
	if (sl % 2) {
		r = set_message(d, VERIFY_DIGEST_OTHER, "INVALID: Odd-length string");
		goto out;
	}
	if (nonhex) {
		r = set_message(d, VERIFY_DIGEST_OTHER, "INVALID: Non-hexadecimal digit found");
		goto out;
	}
	struct buf tosign;
	buf_init(&tosign, VERIFY_MESSAGE_MAX + 2 * KEY_MAX);
	r = digest_to_sign(doc, body, len, &tosign);
	int v = r == 0 ? sign_verify(k->der, k->der_len, tosign.data, tosign.len, obj->signature) : r;
	buf_release(&tosign);
	if (v == -ENOMEM || v == -E2BIG) {
		r = v == -E2BIG ? set_message(d, VERIFY_DIGEST_BAD_SIGNATURE, "INVALID: signature verification failed") : v;
		goto out;
	}
	if (v == -EINVAL) {
		r = set_message(d, VERIFY_DIGEST_BAD_KEY, "INVALID: Unable to load PKCS #1 key with fingerprint %s",
				json_string(fpj));
		goto out;
	}
	if (v < 0) {
		r = set_message(d, VERIFY_DIGEST_BAD_SIGNATURE, "INVALID: signature verification failed");
		goto out;
	}
	if (json_time(json_get(doc, "digestEndTime"), &d->end, &why) < 0 ||
	    json_time(json_get(doc, "digestStartTime"), &d->start, &why) < 0) {
		r = why ? set_message(d, VERIFY_DIGEST_OTHER, "INVALID: %s", why) : -ENOMEM;
		goto out;
	}
	/* digest.get('previousDigestS3Bucket', None) */
	json *pb = json_get(doc, "previousDigestS3Bucket"), *pk = json_get(doc, "previousDigestS3Object");
	if (pb && !json_is_null(pb) && pk && !json_is_null(pk)) {
		d->previous_bucket = pystr(pb);
		d->previous_key = pystr(pk);
		if (!d->previous_bucket || !d->previous_key) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = digest_logs(doc, d);
	if (r == 0)
		r = set_message(d, VERIFY_DIGEST_VALID, "valid");
out:
	free(why);
	json_free(doc);
	return r;
}

static int inflate_sink(void *arg, const void *p, size_t n)
{
	int r = buf_add(arg, p, n);
	return r == -E2BIG ? -EFBIG : r;
}

/* Fetch and check (fetch_digest and the rest).  obj is scratch. */
static int digest_fetch_check(const struct verify_source *src, const char *bucket, const char *key,
			      struct verify_keys *keys, const struct verify_keys *all,
			      const char *home_region, struct verify_object *obj, struct verify_digest *d)
{
	memset(d, 0, sizeof *d);
	d->backfill = is_backfill_key(key);
	verify_object_reset(obj);
	int r = src->ops->get(src->ctx, bucket, key, VERIFY_OBJECT_DIGEST, obj);
	if (r == -ENOENT)
		return set_message(d, VERIFY_DIGEST_NOT_FOUND, "INVALID: not found");
	if (r < 0)
		return r;
	if (obj->unreadable)
		return set_message(d, VERIFY_DIGEST_INVALID_FORMAT, "INVALID: invalid format");
	if (obj->inflated)
		return digest_check(bucket, key, obj->body.data ? obj->body.data : "", obj->body.len, obj,
				    keys, all, home_region, d);
	/* zlib.decompress(body, MAX_WBITS | 16): the first member, complete;
	 * what follows it is ignored. */
	struct buf inflated;
	buf_init(&inflated, VERIFY_DIGEST_INFLATED_MAX);
	struct gz_stream_info info;
	r = gz_inflate_first_member(obj->body.data, obj->body.len, inflate_sink, &inflated, &info);
	if (r == -ENOMEM) {
		buf_release(&inflated);
		return r;
	}
	if (r < 0 || !info.complete)
		r = set_message(d, VERIFY_DIGEST_INVALID_FORMAT, "INVALID: invalid format");
	else
		r = digest_check(bucket, key, inflated.data ? inflated.data : "", inflated.len, obj, keys,
				 all, home_region, d);
	buf_release(&inflated);
	return r;
}

int verify_digest_object(const struct verify_source *src, const char *bucket, const char *key,
			 const struct verify_keys *keys, const char *home_region,
			 struct verify_digest *out)
{
	struct verify_keys copy;
	verify_keys_init(&copy);
	int r = verify_keys_select(keys, INT64_MIN, INT64_MAX, &copy);
	struct verify_object obj;
	verify_object_init(&obj);
	if (r == 0)
		r = digest_fetch_check(src, bucket, key, &copy, keys, home_region, &obj, out);
	verify_object_release(&obj);
	verify_keys_release(&copy);
	return r;
}

/* ---- the report: the CLI's output ---- */

void verify_report_init(struct verify_report *r, FILE *out, FILE *err, bool verbose)
{
	memset(r, 0, sizeof *r);
	r->out = out;
	r->err = err;
	r->verbose = verbose;
	r->threads = 1;
	r->double_space = true;
}

void verify_report_release(struct verify_report *r)
{
	free(r->fatal);
	r->fatal = NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void progress_clear(struct verify_report *r)
{
	if (r->progress_shown) {
		fputs("\r\033[K", r->err);
		fflush(r->err);
		r->progress_shown = false;
	}
}

static void progress_draw(struct verify_report *r, const char *region, bool force)
{
	if (!r->progress)
		return;
	int64_t t = now_ms();
	if (!force && t - r->progress_last_ms < PROGRESS_MS)
		return;
	r->progress_last_ms = t;
	fprintf(r->err, "\r\033[Kvalidating %s: %llu digest files, %llu/%llu log files", region ? region : "",
		(unsigned long long)r->progress_digests, (unsigned long long)r->progress_logs_done,
		(unsigned long long)r->progress_logs_queued);
	fflush(r->err);
	r->progress_shown = true;
}

/* _write_status */
static void write_status(struct verify_report *r, const char *msg, bool is_error)
{
	progress_clear(r);
	if (is_error) {
		/* stdout first, so that both streams on one terminal keep order */
		fflush(r->out);
		fprintf(r->err, r->double_space ? "%s\n\n" : "\n%s\n\n", msg);
		fflush(r->err);
		r->double_space = true;
	} else if (r->verbose) {
		r->double_space = false;
		fprintf(r->out, "%s\n", msg);
	}
}

void verify_report_header(struct verify_report *r, const char *arn, const struct verify_time *start,
			  const struct verify_time *end)
{
	char a[24], b[24];
	verify_time_display(start, a, sizeof a);
	verify_time_display(end, b, sizeof b);
	fprintf(r->out, "Validating log files for trail %s between %s and %s\n\n", arn, a, b);
	fflush(r->out);
}

static void write_ratio(struct verify_report *r, uint64_t valid, uint64_t invalid, const char *name)
{
	uint64_t total = valid + invalid;
	if (!total)
		return;
	fprintf(r->out, "\n%llu/%llu %s files valid", (unsigned long long)valid,
		(unsigned long long)total, name);
	if (invalid)
		fprintf(r->out, ", %llu/%llu %s files INVALID", (unsigned long long)invalid,
			(unsigned long long)total, name);
}

void verify_report_summary(struct verify_report *r, const struct verify_time *start,
			   const struct verify_time *end)
{
	progress_clear(r);
	char a[24], b[24];
	if (!r->double_space)
		fputc('\n', r->out);
	verify_time_display(start, a, sizeof a);
	verify_time_display(end, b, sizeof b);
	fprintf(r->out, "Results requested for %s to %s\n", a, b);
	uint64_t valid = r->valid_digests + r->valid_backfill;
	uint64_t invalid = r->invalid_digests + r->invalid_backfill;
	if (!valid && !invalid) {
		fputs("No digests found\n", r->out);
		fflush(r->out);
		return;
	}
	if (!r->found) {
		fputs("No valid digests found in range\n", r->out);
	} else {
		verify_time_display(&r->found_start, a, sizeof a);
		verify_time_display(&r->found_end, b, sizeof b);
		fprintf(r->out, "Results found for %s to %s:\n", a, b);
	}
	write_ratio(r, r->valid_digests, r->invalid_digests, "digest");
	write_ratio(r, r->valid_backfill, r->invalid_backfill, "backfill digest");
	write_ratio(r, r->valid_logs, r->invalid_logs, "log");
	fputc('\n', r->out);
	fflush(r->out);
}

void verify_report_fatal(struct verify_report *r, const char *fmt, ...)
{
	struct buf b;
	buf_init(&b, VERIFY_MESSAGE_MAX);
	va_list ap;
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	progress_clear(r);
	fflush(r->out);
	fprintf(r->err, "\n%s\n", buf_str(&b));
	fflush(r->err);
	if (!r->fatal)
		r->fatal = buf_take(&b);
	if (!r->fatal)
		r->fatal = strdup("fatal");
	buf_release(&b);
}

int verify_report_exit_code(const struct verify_report *r)
{
	if (r->fatal)
		return 255;
	return r->invalid_digests || r->invalid_backfill || r->invalid_logs ? 1 : 0;
}

/* ---- the ordered pipeline: log files hashed on worker threads, lines
 * printed in the CLI's order ---- */

enum item_kind {
	ITEM_OUT,        /* a status line (valid digest) */
	ITEM_ERR,        /* an error status line (counted already) */
	ITEM_LOG,        /* a log file to check */
	ITEM_FATAL,      /* the CLI would crash here */
};

struct item {
	enum item_kind kind;
	char *text;
	char *bucket, *key, *hash;    /* ITEM_LOG */
	bool has_hash, fetchable;
	bool claimed, done;
	struct verify_log_result res;
	int err;
};

struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct item **items;
	size_t base, count, cap;      /* items[0] is number base */
	size_t next_job;              /* number of the next item a worker looks at */
	bool closing;
	const struct verify_source *src;
	unsigned flags;
	pthread_t *threads;
	size_t n_threads;
};

static void item_free(struct item *it)
{
	if (!it)
		return;
	free(it->text);
	free(it->bucket);
	free(it->key);
	free(it->hash);
	free(it);
}

static void item_run(struct pipeline *p, struct item *it, struct verify_object *obj)
{
	if (!it->fetchable) {
		it->res.verdict = VERIFY_LOG_INVALID_FORMAT;
		return;
	}
	const char *expected = it->hash ? it->hash : it->has_hash ? "\x01not a string" : NULL;
	it->err = verify_log_object(p->src, it->bucket, it->key, expected, p->flags, obj, &it->res);
}

/* Claim the next job under the lock, or NULL. */
static struct item *claim(struct pipeline *p)
{
	if (p->next_job < p->base)
		p->next_job = p->base;
	while (p->next_job < p->base + p->count) {
		struct item *it = p->items[p->next_job - p->base];
		p->next_job++;
		if (it->kind == ITEM_LOG && !it->claimed) {
			it->claimed = true;
			return it;
		}
	}
	return NULL;
}

static void *worker(void *arg)
{
	struct pipeline *p = arg;
	struct verify_object obj;
	verify_object_init(&obj);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct item *it = claim(p);
		if (it) {
			pthread_mutex_unlock(&p->mu);
			item_run(p, it, &obj);
			pthread_mutex_lock(&p->mu);
			it->done = true;
			pthread_cond_broadcast(&p->done);
			continue;
		}
		if (p->closing)
			break;
		pthread_cond_wait(&p->work, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	verify_object_release(&obj);
	return NULL;
}

static int pipeline_start(struct pipeline *p, const struct verify_source *src, unsigned flags,
			  unsigned threads)
{
	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->src = src;
	p->flags = flags;
	if (threads > VERIFY_THREADS_MAX)
		threads = VERIFY_THREADS_MAX;
	/* The calling thread walks the digests and prints, and hashes when it
	 * would otherwise wait; one worker fewer than threads keeps it busy. */
	size_t want = threads > 1 ? threads - 1 : 0;
	if (want) {
		p->threads = calloc(want, sizeof *p->threads);
		if (!p->threads)
			return -ENOMEM;
	}
	for (size_t i = 0; i < want; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->n_threads++;
	}
	return 0;
}

static void pipeline_stop(struct pipeline *p)
{
	pthread_mutex_lock(&p->mu);
	p->closing = true;
	/* Jobs not yet claimed are dropped (after a fatal error). */
	for (size_t i = 0; i < p->count; i++)
		p->items[i]->claimed = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	for (size_t i = 0; i < p->count; i++)
		item_free(p->items[i]);
	free(p->items);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
}

struct walk {
	struct verify_report *r;
	const struct verify_source *src;
	const struct verify_trail *t;
	const char *region;
	const struct verify_keys *all;
	struct verify_time start, end;
	struct pipeline pipe;
	struct verify_object obj;    /* digest scratch */
	struct list_cache *cache;
	size_t n_cache;
};

/* Print what is done at the head; with wait, until everything is. */
static void drain(struct walk *w, bool wait)
{
	struct pipeline *p = &w->pipe;
	struct verify_report *r = w->r;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->count == 0)
			break;
		struct item *it = p->items[0];
		if (!it->done) {
			if (it->kind == ITEM_LOG && !it->claimed && r->fatal) {
				/* After a fatal error nothing more is printed. */
				it->claimed = it->done = true;
				continue;
			}
			if (it->kind == ITEM_LOG && !it->claimed) {
				/* Do it here rather than wait for a worker. */
				it->claimed = true;
				pthread_mutex_unlock(&p->mu);
				item_run(p, it, &w->obj);
				pthread_mutex_lock(&p->mu);
				it->done = true;
				continue;
			}
			if (!wait && p->count < VERIFY_WINDOW)
				break;
			pthread_cond_wait(&p->done, &p->mu);
			continue;
		}
		memmove(p->items, p->items + 1, (p->count - 1) * sizeof *p->items);
		p->count--;
		p->base++;
		pthread_mutex_unlock(&p->mu);
		if (!r->fatal) {
			switch (it->kind) {
			case ITEM_OUT:
				write_status(r, it->text, false);
				break;
			case ITEM_ERR:
				write_status(r, it->text, true);
				break;
			case ITEM_FATAL:
				verify_report_fatal(r, "%s", it->text);
				break;
			case ITEM_LOG: {
				char *line = NULL;
				r->progress_logs_done++;
				if (it->err == -ENXIO) {
					verify_report_fatal(r, "An error occurred (NoSuchBucket) when calling the GetBucketLocation operation: The specified bucket does not exist");
					break;
				}
				if (it->err < 0) {
					verify_report_fatal(r, "cannot read s3://%s/%s: %s", it->bucket, it->key,
							    strerror(-it->err));
					break;
				}
				line = xprintf("Log file\ts3://%s/%s\t%s", it->bucket, it->key,
					       verify_log_message(it->res.verdict));
				if (it->res.verdict == VERIFY_LOG_VALID)
					r->valid_logs++;
				else
					r->invalid_logs++;
				if (line)
					write_status(r, line, it->res.verdict != VERIFY_LOG_VALID);
				free(line);
				break;
			}
			}
			progress_draw(r, w->region, false);
		}
		item_free(it);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Queue an item (ownership passes). */
static int enqueue(struct walk *w, struct item *it)
{
	struct pipeline *p = &w->pipe;
	if (!it)
		return -ENOMEM;
	if (it->kind != ITEM_LOG)
		it->done = true;
	else
		w->r->progress_logs_queued++;
	pthread_mutex_lock(&p->mu);
	if (p->count == p->cap) {
		size_t ncap = p->cap ? 2 * p->cap : 256;
		struct item **nv = realloc(p->items, ncap * sizeof *nv);
		if (!nv) {
			pthread_mutex_unlock(&p->mu);
			item_free(it);
			return -ENOMEM;
		}
		p->items = nv;
		p->cap = ncap;
	}
	p->items[p->count++] = it;
	if (it->kind == ITEM_LOG)
		pthread_cond_signal(&p->work);
	size_t pending = p->count;
	pthread_mutex_unlock(&p->mu);
	if (pending >= VERIFY_WINDOW)
		drain(w, false);
	return 0;
}

static struct item *text_item(enum item_kind kind, char *text)
{
	if (!text)
		return NULL;
	struct item *it = calloc(1, sizeof *it);
	if (!it) {
		free(text);
		return NULL;
	}
	it->kind = kind;
	it->text = text;
	return it;
}

/* ---- the walk ---- */

/* load_digest_keys_in_range's cache: one listing per (bucket, prefix,
 * start, end), split into standard and backfill keys, which the walks pop
 * from the end as the CLI pops its lists. */
struct list_cache {
	char *bucket;
	int64_t start_us, end_us;
	char **std, **bf;
	size_t n_std, n_bf, cap_std, cap_bf;
};

static void cache_free(struct list_cache *c)
{
	free(c->bucket);
	verify_names_free(c->std, c->n_std);
	verify_names_free(c->bf, c->n_bf);
}

/* [prefix/]AWSLogs/[org/]ACCOUNT/CloudTrail-Digest/REGION */
static char *digest_prefix(const struct verify_trail *t, const char *region)
{
	bool p = t->prefix && *t->prefix;
	bool o = t->organization && *t->organization;
	return xprintf("%s%sAWSLogs/%s%s%s/CloudTrail-Digest/%s", p ? t->prefix : "", p ? "/" : "",
		       o ? t->organization : "", o ? "/" : "", t->account, region);
}

/* The name part of the regex after ".../\d+/\d+/\d+/":
 * ACCOUNT_CloudTrail-Digest_REGION_NAME_HOME_ */
static char *digest_name_head(const struct verify_trail *t, const char *region)
{
	return xprintf("%s_CloudTrail-Digest_%s_%s_%s_", t->account, region, t->name, t->home_region);
}

/* _create_digest_key_regex's match, spelled out. */
static bool key_matches(const char *key, const char *head, const char *name_head)
{
	if (strchr(key, '\n') || !starts_with(key, head))
		return false;
	const char *p = key + strlen(head);
	if (*p++ != '/')
		return false;
	for (int i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p++ != '/')
			return false;
	}
	if (!starts_with(p, name_head))
		return false;
	p += strlen(name_head);
	size_t rest = strlen(p);
	return rest >= 1 + strlen(DIGEST_SUFFIX) && ends_with(p, DIGEST_SUFFIX);
}

struct list_state {
	const char *head, *name_head;
	char target_start[KEY_DATE_LEN + 1], target_end[KEY_DATE_LEN + 1];
	struct list_cache *c;
	int err;
};

static int push_name(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		char **nv = realloc(*v, ncap * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	if (!((*v)[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int list_one(void *arg, const char *key)
{
	struct list_state *s = arg;
	if (!key_matches(key, s->head, s->name_head))
		return 0;
	char *date = key_date(key);
	if (!date)
		return -ENOMEM;
	/* A lexicographic comparison, as the CLI's, to know when to stop. */
	int stop = strcmp(date, s->target_end) > 0, before = strcmp(date, s->target_start) < 0;
	free(date);
	if (stop)
		return 1;
	if (before)
		return 0;
	struct list_cache *c = s->c;
	return is_backfill_key(key) ? push_name(&c->bf, &c->n_bf, &c->cap_bf, key)
				    : push_name(&c->std, &c->n_std, &c->cap_std, key);
}

/* The listing for (bucket, start, end): from the cache, or made now.
 * 0 and *out, -ENXIO (no such bucket), -ENOMEM, -errno. */
static int load_digests(struct walk *w, const char *bucket, const struct verify_time *end,
			struct list_cache **out)
{
	for (size_t i = 0; i < w->n_cache; i++) {
		struct list_cache *c = &w->cache[i];
		if (!strcmp(c->bucket, bucket) && c->start_us == w->start.us && c->end_us == end->us) {
			*out = c;
			return 0;
		}
	}
	struct list_cache *nc = realloc(w->cache, (w->n_cache + 1) * sizeof *nc);
	if (!nc)
		return -ENOMEM;
	w->cache = nc;
	struct list_cache *c = &w->cache[w->n_cache];
	memset(c, 0, sizeof *c);
	c->bucket = strdup(bucket);
	c->start_us = w->start.us;
	c->end_us = end->us;
	if (!c->bucket)
		return -ENOMEM;
	w->n_cache++;
	/* _create_digest_key(start - 1 minute): the marker. */
	struct verify_time m = time_plus(&w->start, -US_PER_MIN);
	char mdate[KEY_DATE_LEN + 1];
	time_key(&m, mdate);
	int y, h, mi, se;
	unsigned mo, d;
	wall_fields(&m, &y, &mo, &d, &h, &mi, &se);
	char *head = digest_prefix(w->t, w->region);
	char *name_head = digest_name_head(w->t, w->region);
	char *marker = head && name_head ? xprintf("%s/%04d/%02u/%02u/%s%s" DIGEST_SUFFIX, head, y, mo, d,
						   name_head, mdate) : NULL;
	int r = marker ? 0 : -ENOMEM;
	if (r == 0) {
		struct list_state s = { .head = head, .name_head = name_head, .c = c };
		time_key(&w->start, s.target_start);
		struct verify_time e = time_plus(end, US_PER_HOUR);
		time_key(&e, s.target_end);
		r = w->src->ops->list(w->src->ctx, bucket, head, marker, list_one, &s);
	}
	free(head);
	free(name_head);
	free(marker);
	*out = c;
	return r;
}

/* Parse a key's date (parse_date of extract_digest_key_date). */
static int key_time(const char *key, struct verify_time *t, char **why)
{
	char *date = key_date(key);
	if (!date)
		return -ENOMEM;
	int r = verify_time_parse(date, t);
	if (r < 0)
		*why = xprintf("Unable to parse date value: %s", date);
	else
		verify_time_normalize(t);
	free(date);
	return r;
}

/* _get_last_digest: pop the newest key, or with before, the newest one
 * dated before it.  *key NULL when none is left.  -EINVAL (*why set) for a
 * date the CLI cannot parse (fatal there). */
static int last_digest(char **list, size_t *n, const char *before, char **key,
		       struct verify_time *date, char **why)
{
	*key = NULL;
	struct verify_time bt;
	if (before) {
		int r = key_time(before, &bt, why);
		if (r < 0)
			return r;
	}
	while (*n) {
		char *k = list[--*n];
		int r = key_time(k, date, why);
		if (r < 0) {
			free(k);
			return r;
		}
		if (!before || date->us < bt.us) {
			*key = k;
			return 0;
		}
		free(k);
	}
	return 0;
}

static void track_found(struct walk *w, const struct verify_digest *d, bool *fatal)
{
	struct verify_report *r = w->r;
	if (!d->start.has_tz || !d->end.has_tz) {
		*fatal = true;
		return;
	}
	struct verify_time s = d->start.us > w->start.us ? d->start : w->start;
	if (!r->found || s.us < r->found_start.us)
		r->found_start = s;
	struct verify_time e = d->end.us < w->end.us ? d->end : w->end;
	if (!r->found || e.us > r->found_end.us)
		r->found_end = e;
	r->found = true;
}

static int fatal_item(struct walk *w, char *msg)
{
	int r = enqueue(w, text_item(ITEM_FATAL, msg ? msg : strdup("out of memory")));
	return r < 0 ? r : 1;
}

static int no_bucket(struct walk *w)
{
	return fatal_item(w, strdup("An error occurred (NoSuchBucket) when calling the GetBucketLocation operation: The specified bucket does not exist"));
}

/* A valid digest: what _call does with it (digestS3Bucket/Object equal
 * bucket/key, or it would not be valid). */
static int digest_valid(struct walk *w, const char *bucket, const char *key, struct verify_digest *d)
{
	bool crash = false;
	track_found(w, d, &crash);
	if (crash)
		return fatal_item(w, strdup("can't compare offset-naive and offset-aware datetimes"));
	if (d->backfill)
		w->r->valid_backfill++;
	else
		w->r->valid_digests++;
	w->r->progress_digests++;
	int r = enqueue(w, text_item(ITEM_OUT, xprintf("%sDigest file\ts3://%s/%s\tvalid",
						      d->backfill ? "(backfill) " : "", bucket, key)));
	if (r < 0)
		return r;
	if (d->fatal)
		return fatal_item(w, strdup(d->fatal));
	for (size_t i = 0; i < d->n_logs; i++) {
		struct verify_log_ref *ref = &d->logs[i];
		struct item *it = calloc(1, sizeof *it);
		if (!it)
			return -ENOMEM;
		it->kind = ITEM_LOG;
		it->bucket = ref->bucket;
		it->key = ref->key;
		it->hash = ref->hash;
		ref->bucket = ref->key = ref->hash = NULL;
		it->has_hash = ref->has_hash;
		it->fetchable = ref->fetchable;
		if ((r = enqueue(w, it)) < 0)
			return r;
	}
	drain(w, false);
	return w->r->fatal ? 1 : 0;
}

/* An invalid or missing digest: on_invalid / on_missing. */
static int digest_invalid(struct walk *w, const char *bucket, const char *key, bool backfill,
			  const char *message)
{
	if (backfill)
		w->r->invalid_backfill++;
	else
		w->r->invalid_digests++;
	w->r->progress_digests++;
	int r = enqueue(w, text_item(ITEM_ERR, xprintf("%sDigest file\ts3://%s/%s\t%s",
						      backfill ? "(backfill) " : "", bucket, key, message)));
	if (r == 0)
		drain(w, false);
	return r;
}

/* traverse_digests and _traverse_digest_chain for one kind. */
static int traverse(struct walk *w, bool backfill)
{
	const char *bucket0 = w->t->bucket;
	char *bucket = strdup(bucket0);
	if (!bucket)
		return -ENOMEM;
	struct list_cache *c;
	int r = load_digests(w, bucket, &w->end, &c);
	if (r == -ENXIO) {
		free(bucket);
		return no_bucket(w);
	}
	struct verify_keys keys;
	verify_keys_init(&keys);
	if (r == 0 && !backfill) {
		struct verify_time e2 = time_plus(&w->end, 2 * US_PER_HOUR);
		r = verify_keys_select(w->all, w->start.us, e2.us, &keys);
		if (r == 0 && keys.n == 0) {
			char a[24], b[24];
			verify_time_display(&w->start, a, sizeof a);
			verify_time_display(&e2, b, sizeof b);
			r = fatal_item(w, xprintf("No public keys found between %s and %s", a, b));
		}
	}
	char *key = NULL, *why = NULL;
	struct verify_time last_start = { 0 }, first_date;
	if (r == 0) {
		char ***lv = backfill ? &c->bf : &c->std;
		size_t *ln = backfill ? &c->n_bf : &c->n_std;
		r = last_digest(*lv, ln, NULL, &key, &first_date, &why);
		if (r == -EINVAL)
			r = fatal_item(w, why), why = NULL;
		/* The CLI starts last_start_date at the newest key's date. */
		last_start = first_date;
	}
	while (r == 0 && key && w->start.us <= last_start.us) {
		struct verify_digest d;
		r = digest_fetch_check(w->src, bucket, key, &keys, w->all, w->t->home_region, &w->obj, &d);
		if (r == -ENXIO) {
			verify_digest_release(&d);
			r = no_bucket(w);
			break;
		}
		if (r < 0) {
			verify_digest_release(&d);
			r = fatal_item(w, xprintf("cannot read s3://%s/%s: %s", bucket, key, strerror(-r)));
			break;
		}
		char ***lv = backfill ? &c->bf : &c->std;
		size_t *ln = backfill ? &c->n_bf : &c->n_std;
		char *next = NULL;
		struct verify_time next_date;
		if (d.verdict == VERIFY_DIGEST_VALID) {
			last_start = d.start;
			verify_time_normalize(&last_start);
			r = digest_valid(w, bucket, key, &d);
			if (r == 0 && (!d.previous_bucket || !d.previous_key)) {
				/* The chain is broken: the next older listed key. */
				r = last_digest(*lv, ln, key, &next, &next_date, &why);
				if (r == -EINVAL)
					r = fatal_item(w, why), why = NULL;
				if (r == 0 && next) {
					char a[24], b[24];
					verify_time_display(&next_date, a, sizeof a);
					verify_time_display(&last_start, b, sizeof b);
					r = enqueue(w, text_item(ITEM_ERR, xprintf("%sNo log files were delivered by CloudTrail between %s and %s",
										   backfill ? "(backfill) " : "", a, b)));
				}
			} else if (r == 0) {
				next = d.previous_key;
				d.previous_key = NULL;
				struct verify_time de = d.end;
				verify_time_normalize(&de);
				if (strcmp(d.previous_bucket, bucket)) {
					free(bucket);
					bucket = d.previous_bucket;
					d.previous_bucket = NULL;
					/* The bucket changed: list again, to this digest's end. */
					r = load_digests(w, bucket, &de, &c);
					if (r == -ENXIO)
						r = no_bucket(w);
				}
			}
		} else {
			r = last_digest(*lv, ln, key, &next, &next_date, &why);
			if (r == -EINVAL)
				r = fatal_item(w, why), why = NULL;
			if (r == 0)
				r = digest_invalid(w, bucket, key, backfill, d.message);
		}
		verify_digest_release(&d);
		free(key);
		key = next;
		if (r == 0 && w->r->fatal)
			r = 1;
	}
	free(key);
	free(why);
	free(bucket);
	verify_keys_release(&keys);
	return r;
}

int verify_run_region(struct verify_report *r, const struct verify_source *src,
		      const struct verify_trail *trail, const char *region,
		      const struct verify_keys *all_keys, const struct verify_time *start,
		      const struct verify_time *end)
{
	struct walk w;
	memset(&w, 0, sizeof w);
	w.r = r;
	w.src = src;
	w.t = trail;
	w.region = region;
	w.all = all_keys;
	w.start = *start;
	w.end = *end;
	verify_object_init(&w.obj);
	int ret = pipeline_start(&w.pipe, src, r->flags, r->threads ? r->threads : 1);
	if (ret == 0)
		ret = traverse(&w, false);
	if (ret == 0)
		ret = traverse(&w, true);
	drain(&w, true);
	pipeline_stop(&w.pipe);
	for (size_t i = 0; i < w.n_cache; i++)
		cache_free(&w.cache[i]);
	free(w.cache);
	verify_object_release(&w.obj);
	/* An error of our own (memory, a listing that failed) stops the run
	 * as an uncaught exception stops the CLI: never a silent "valid". */
	if (ret < 0 && !r->fatal)
		verify_report_fatal(r, "trailfs validate: cannot validate region %s: %s", region,
				    strerror(-ret));
	return r->fatal ? 1 : 0;
}

/* ---- regions and ARNs ---- */

struct region_state {
	const char *base;    /* ".../CloudTrail-Digest/" */
	char *found;         /* the region of the first key listed */
};

static int region_one(void *arg, const char *key)
{
	struct region_state *s = arg;
	const char *rest = key + strlen(s->base);
	const char *slash = strchr(rest, '/');
	if (!slash || slash == rest)
		return 0;
	s->found = strndup(rest, (size_t)(slash - rest));
	return s->found ? 1 : -ENOMEM;
}

int verify_list_regions(const struct verify_source *src, const struct verify_trail *t,
			char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	char *base = digest_prefix(t, "");
	if (!base)
		return -ENOMEM;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	char *marker = strdup("");
	int r = marker ? 0 : -ENOMEM;
	/* One short listing per region: after region R the listing starts
	 * again past every key under R/ (they all sort before "R0", '/' being
	 * just below '0'), so a bucket of years of digests costs a few
	 * directory reads per region, not a walk over all of them. */
	while (r == 0) {
		struct region_state s = { .base = base };
		r = src->ops->list(src->ctx, t->bucket, base, marker, region_one, &s);
		if (r < 0 || !s.found)
			break;
		r = push_name(&v, &cnt, &cap, s.found);
		free(marker);
		marker = r == 0 ? xprintf("%s%s0", base, s.found) : NULL;
		free(s.found);
		if (r == 0 && !marker)
			r = -ENOMEM;
	}
	free(marker);
	free(base);
	if (r < 0) {
		verify_names_free(v, cnt);
		return r;
	}
	*names = v;
	*n = cnt;
	return 0;
}

int verify_parse_arn(const char *arn, char **region, char **account, char **name)
{
	/* arn:.+:cloudtrail:.+:\d{12}:trail/.+ (re.match: anchored at the start
	 * only), then split(':')[3], [4] and split('/')[-1], as the CLI does. */
	*region = *account = *name = NULL;
	if (!arn || strlen(arn) < 5 || strncmp(arn, "arn:", 4))
		return -EINVAL;
	bool ok = false;
	for (const char *p = strstr(arn + 5, ":cloudtrail:"); p && !ok; p = strstr(p + 1, ":cloudtrail:")) {
		if (p == arn + 4)
			continue;
		const char *q = p + strlen(":cloudtrail:");
		if (!*q)
			break;   /* ".+" needs a character here */
		for (const char *c = strchr(q + 1, ':'); c && !ok; c = strchr(c + 1, ':')) {
			int i = 1;
			while (i <= 12 && isdigit((unsigned char)c[i]))
				i++;
			/* Stops at the NUL at the latest, so c[13..] is read only
			 * when twelve digits are there. */
			if (i == 13 && !strncmp(c + 13, ":trail/", 7) && c[20] && c[20] != '\n')
				ok = true;
		}
	}
	if (!ok)
		return -EINVAL;
	char *copy = strdup(arn);
	if (!copy)
		return -ENOMEM;
	char *f[6] = { 0 };
	size_t nf = 0;
	for (char *p = copy; nf < 6;) {
		f[nf++] = p;
		char *c = strchr(p, ':');
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	const char *slash = strrchr(arn, '/');
	int r = nf >= 5 ? 0 : -EINVAL;
	if (r == 0) {
		*region = strdup(f[3]);
		*account = strdup(f[4]);
		*name = strdup(slash + 1);
		if (!*region || !*account || !*name)
			r = -ENOMEM;
	}
	free(copy);
	if (r < 0) {
		free(*region);
		free(*account);
		free(*name);
		*region = *account = *name = NULL;
	}
	return r;
}
