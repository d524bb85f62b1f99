/* A delivered log file's integrity from the digests in its bucket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "integrity.h"

const char *integrity_name(enum integrity v)
{
	switch (v) {
	case INTEGRITY_VALID: return "valid";
	case INTEGRITY_INVALID: return "invalid";
	case INTEGRITY_UNLISTED: return "unlisted";
	case INTEGRITY_UNKNOWN: break;
	}
	return "unknown";
}

static void say(char *why, size_t size, const char *fmt, const char *a)
{
	if (why && size)
		snprintf(why, size, fmt, a);
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* The region and delivery minute of a log key
 * ".../CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz":
 * region into region, "YYYYMMDDTHHMM" into stamp.  False for another name. */
static bool log_name(const char *key, char region[64], char stamp[14], int *y, int *m, int *d)
{
	const char *base = strrchr(key, '/');
	base = base ? base + 1 : key;
	const char *tag = strstr(base, "_CloudTrail_");
	if (!tag)
		return false;
	const char *r = tag + strlen("_CloudTrail_");
	const char *end = strchr(r, '_');
	if (!end || (size_t)(end - r) >= 64 || end == r)
		return false;
	memcpy(region, r, (size_t)(end - r));
	region[end - r] = '\0';
	const char *t = end + 1;   /* YYYYMMDDTHHMMZ_ */
	for (int i = 0; i < 14; i++) {
		bool digit = i != 8 && i != 13;
		if (digit ? (t[i] < '0' || t[i] > '9') : t[i] != (i == 8 ? 'T' : 'Z'))
			return false;
	}
	if (t[14] != '_')
		return false;
	memcpy(stamp, t, 13);
	stamp[13] = '\0';
	*y = digits(t, 4);
	*m = digits(t + 4, 2);
	*d = digits(t + 6, 2);
	return *m >= 1 && *m <= 12 && *d >= 1 && *d <= 31;
}

/* The date day days after y-m-d (0 or 1 here), through the C library's
 * UTC calendar. */
static void day_after(int y, int m, int d, int days, int *oy, int *om, int *od)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d + days, .tm_hour = 12 };
	time_t t = timegm(&tm);
	gmtime_r(&t, &tm);
	*oy = tm.tm_year + 1900;
	*om = tm.tm_mon + 1;
	*od = tm.tm_mday;
}

struct candidates {
	char *keys[INTEGRITY_DIGESTS_MAX];
	size_t n;
	const char *stamp;   /* "YYYYMMDDTHHMM": digests named at or after it */
};

/* A digest key's time, "YYYYMMDDTHHMMSS", just before ".json.gz" (or
 * "_backfill.json.gz", which is no candidate). */
static int take(void *arg, const char *key)
{
	struct candidates *c = arg;
	size_t n = strlen(key);
	static const char tail[] = "Z.json.gz";
	size_t t = sizeof tail - 1;
	if (n < t + 15 || strcmp(key + n - t, tail))
		return 0;
	const char *when = key + n - t - 15;   /* YYYYMMDDTHHMMSS */
	if (strncmp(when, c->stamp, 13) < 0)
		return 0;
	if (c->n == INTEGRITY_DIGESTS_MAX)
		return 1;
	c->keys[c->n] = strdup(key);
	return c->keys[c->n] ? (c->n++, 0) : -ENOMEM;
}

enum integrity integrity_check(const struct verify_source *src, const struct verify_keys *keys,
			       const struct integrity_place *p, char *why, size_t why_size)
{
	char region[64], stamp[14];
	int y, m, d;
	if (!log_name(p->key, region, stamp, &y, &m, &d)) {
		say(why, why_size, "%s is not named as a CloudTrail log file", p->key);
		return INTEGRITY_UNKNOWN;
	}
	struct candidates c = { .stamp = stamp };
	struct buf prefix;
	buf_init(&prefix, 2048);
	int r = 0;
	/* The delivery day's folder, then the next day's (a window that ends
	 * after midnight). */
	for (int k = 0; r == 0 && k < 2 && c.n < INTEGRITY_DIGESTS_MAX; k++) {
		int yy, mm, dd;
		day_after(y, m, d, k, &yy, &mm, &dd);
		buf_reset(&prefix);
		r = buf_printf(&prefix, "%s%s/%04d/%02d/%02d/", p->digest_prefix, region, yy, mm, dd);
		if (r == 0)
			r = src->ops->list(src->ctx, p->bucket, prefix.data, "", take, &c);
		if (r == 1)
			r = 0;
	}
	buf_release(&prefix);
	enum integrity v = INTEGRITY_UNLISTED;
	bool saw_invalid = false, found = false;
	struct verify_object obj;
	verify_object_init(&obj);
	for (size_t i = 0; r == 0 && !found && i < c.n; i++) {
		struct verify_digest dg;
		memset(&dg, 0, sizeof dg);
		r = verify_digest_object(src, p->bucket, c.keys[i], keys, p->home_region, &dg);
		if (r == 0 && dg.verdict != VERIFY_DIGEST_VALID)
			saw_invalid = true;
		for (size_t j = 0; r == 0 && dg.verdict == VERIFY_DIGEST_VALID && j < dg.n_logs; j++) {
			const struct verify_log_ref *e = &dg.logs[j];
			if (!e->fetchable || strcmp(e->bucket, p->bucket) || strcmp(e->key, p->key))
				continue;
			found = true;
			struct verify_log_result res;
			r = verify_log_object(src, p->bucket, p->key, e->has_hash ? e->hash : NULL,
					      VERIFY_STRICT_GZIP, &obj, &res);
			if (r == 0)
				v = res.verdict == VERIFY_LOG_VALID ? INTEGRITY_VALID : INTEGRITY_INVALID;
			if (r == 0 && v == INTEGRITY_INVALID)
				say(why, why_size, "%s", verify_log_message(res.verdict));
			break;
		}
		verify_digest_release(&dg);
	}
	verify_object_release(&obj);
	for (size_t i = 0; i < c.n; i++)
		free(c.keys[i]);
	if (r < 0) {
		say(why, why_size, "the store could not be read: %s", strerror(-r));
		return INTEGRITY_UNKNOWN;
	}
	if (!found && saw_invalid) {
		say(why, why_size, "%s", "a digest that may list it is invalid");
		return INTEGRITY_INVALID;
	}
	if (!found)
		say(why, why_size, "%s", "no digest lists it");
	return v;
}
