/* Digest file keys, names, bodies and signed strings (see digest.h). */
#include "digest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "json.h"
#include "sign.h"
#include "validate.h"

#define FINGERPRINT_LEN SIGN_FINGERPRINT_LEN
#define HASH_LEN        SIGN_SHA256_HEX_LEN

_Static_assert(DIGEST_TIME_MAX == SIGN_TIME_MAX, "digests and keys share one time range");

/* ---- checks ---- */

static bool time_ok(int64_t t)
{
	return t >= 0 && t <= DIGEST_TIME_MAX;
}

/* Lowercase hex only: validate-logs compares hashValue as a string, so an
 * uppercase digit would make a good file INVALID. */
static bool lower_hex(const char *s, size_t min, size_t max)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool signature_ok(const char *s)
{
	return lower_hex(s, 2, DIGEST_SIGNATURE_HEX_MAX) && strlen(s) % 2 == 0;
}

static bool text_ok(const char *s)
{
	return s && *s;
}

/* The parts of a name: each lands between '_' or '/' separators that
 * validate-logs splits and matches by regex, so each must be well-formed. */
static bool location_ok(const struct digest_location *loc, int64_t end)
{
	return loc && loc->account && account_id_valid(loc->account) && loc->region &&
	       region_name_valid(loc->region) && loc->home_region &&
	       region_name_valid(loc->home_region) && loc->trail &&
	       validate_trail_name(loc->trail, 0, NULL) == 0 && time_ok(end);
}

/* ---- key and name ---- */

static void utc(int64_t t, struct tm *tm)
{
	time_t tt = (time_t)t;
	gmtime_r(&tt, tm);
}

static int append_name(const struct digest_location *loc, const struct tm *tm, struct buf *out)
{
	/* The stamp is digestEndTime to the second: validate-logs reads it
	 * back as the 16 characters before ".json.gz". */
	return buf_printf(out, "%s_CloudTrail-Digest_%s_%s_%s_%04d%02d%02dT%02d%02d%02dZ.json.gz",
			  loc->account, loc->region, loc->trail, loc->home_region,
			  tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min,
			  tm->tm_sec);
}

int digest_name(const struct digest_location *loc, int64_t end, struct buf *out)
{
	if (!location_ok(loc, end))
		return -EINVAL;
	struct tm tm;
	utc(end, &tm);
	return append_name(loc, &tm, out);
}

int digest_key(const struct digest_location *loc, int64_t end, struct buf *out)
{
	if (!location_ok(loc, end))
		return -EINVAL;
	const char *prefix = loc->prefix ? loc->prefix : "";
	if (validate_s3_prefix(prefix, 0, NULL) < 0)
		return -EINVAL;
	struct tm tm;
	utc(end, &tm);
	/* Built whole in a buffer of its own, so the key's cap is the key's
	 * (S3's 1,024 bytes), whatever out already holds. */
	struct buf k;
	buf_init(&k, DIGEST_KEY_MAX);
	int r = buf_printf(&k, "%s%sAWSLogs/%s/CloudTrail-Digest/%s/%04d/%02d/%02d/", prefix,
			   *prefix ? "/" : "", loc->account, loc->region, tm.tm_year + 1900,
			   tm.tm_mon + 1, tm.tm_mday);
	if (r == 0)
		r = append_name(loc, &tm, &k);
	if (r == 0)
		r = buf_add(out, k.data, k.len);
	buf_release(&k);
	return r;
}

/* ---- body ---- */

static bool log_file_ok(const struct digest_log_file *f)
{
	return text_ok(f->bucket) && text_ok(f->key) && lower_hex(f->hash, HASH_LEN, HASH_LEN) &&
	       time_ok(f->oldest) && time_ok(f->newest) && f->oldest <= f->newest;
}

static bool digest_ok(const struct digest *d)
{
	if (!d || !d->account || !account_id_valid(d->account) || !time_ok(d->start) ||
	    !time_ok(d->end) || d->start > d->end || !text_ok(d->bucket) || !text_ok(d->key) ||
	    !lower_hex(d->fingerprint, FINGERPRINT_LEN, FINGERPRINT_LEN))
		return false;
	const struct digest_previous *p = d->previous;
	if (p && (!text_ok(p->bucket) || !text_ok(p->key) || !lower_hex(p->hash, HASH_LEN, HASH_LEN) ||
		  !signature_ok(p->signature)))
		return false;
	if (d->n_logs > DIGEST_LOG_FILES_MAX || (d->n_logs && !d->logs))
		return false;
	for (size_t i = 0; i < d->n_logs; i++)
		if (!log_file_ok(&d->logs[i]))
			return false;
	return true;
}

static int add_time(json *o, const char *name, int64_t t)
{
	char text[DIGEST_TIME_LEN + 1];
	clock_format_iso(t, text, sizeof text);
	return json_add_string(o, name, text);
}

/* A string member, or JSON null when s is NULL: the reference's spelling
 * of "no such thing" (a chain start, an empty hour). */
static int add_string_or_null(json *o, const char *name, const char *s)
{
	return s ? json_add_string(o, name, s) : json_add(o, name, json_new_null());
}

static int add_time_or_null(json *o, const char *name, bool present, int64_t t)
{
	return present ? add_time(o, name, t) : json_add(o, name, json_new_null());
}

static json *log_file_json(const struct digest_log_file *f)
{
	json *o = json_new_object();
	int r = o ? json_add_string(o, "s3Bucket", f->bucket) : -ENOMEM;
	if (r == 0)
		r = json_add_string(o, "s3Object", f->key);
	if (r == 0)
		r = json_add_string(o, "hashValue", f->hash);
	if (r == 0)
		r = json_add_string(o, "hashAlgorithm", DIGEST_HASH_ALGORITHM);
	if (r == 0)
		r = add_time(o, "newestEventTime", f->newest);
	if (r == 0)
		r = add_time(o, "oldestEventTime", f->oldest);
	if (r < 0) {
		json_free(o);
		return NULL;
	}
	return o;
}

int digest_body(const struct digest *d, struct buf *out)
{
	if (!digest_ok(d))
		return -EINVAL;
	int64_t newest = 0, oldest = 0;
	for (size_t i = 0; i < d->n_logs; i++) {
		if (i == 0 || d->logs[i].newest > newest)
			newest = d->logs[i].newest;
		if (i == 0 || d->logs[i].oldest < oldest)
			oldest = d->logs[i].oldest;
	}
	const struct digest_previous *p = d->previous;
	json *doc = json_new_object();
	int r = doc ? json_add_string(doc, "awsAccountId", d->account) : -ENOMEM;
	if (r == 0)
		r = add_time(doc, "digestStartTime", d->start);
	if (r == 0)
		r = add_time(doc, "digestEndTime", d->end);
	if (r == 0)
		r = json_add_string(doc, "digestS3Bucket", d->bucket);
	if (r == 0)
		r = json_add_string(doc, "digestS3Object", d->key);
	if (r == 0)
		r = json_add_string(doc, "digestPublicKeyFingerprint", d->fingerprint);
	if (r == 0)
		r = json_add_string(doc, "digestSignatureAlgorithm", DIGEST_SIGNATURE_ALGORITHM);
	if (r == 0)
		r = add_time_or_null(doc, "newestEventTime", d->n_logs > 0, newest);
	if (r == 0)
		r = add_time_or_null(doc, "oldestEventTime", d->n_logs > 0, oldest);
	if (r == 0)
		r = add_string_or_null(doc, "previousDigestS3Bucket", p ? p->bucket : NULL);
	if (r == 0)
		r = add_string_or_null(doc, "previousDigestS3Object", p ? p->key : NULL);
	if (r == 0)
		r = add_string_or_null(doc, "previousDigestHashValue", p ? p->hash : NULL);
	if (r == 0)
		r = add_string_or_null(doc, "previousDigestHashAlgorithm",
				       p ? DIGEST_HASH_ALGORITHM : NULL);
	if (r == 0)
		r = add_string_or_null(doc, "previousDigestSignature", p ? p->signature : NULL);
	/* Always present, [] for an empty hour: validate-logs reads
	 * digest['logFiles'] and fails with KeyError without it. */
	json *files = r == 0 ? json_new_array() : NULL;
	if (r == 0 && !files)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < d->n_logs; i++) {
		json *f = log_file_json(&d->logs[i]);
		r = f ? json_append(files, f) : -ENOMEM;
	}
	if (r == 0) {
		r = json_add(doc, "logFiles", files);
		files = NULL;
	}
	char *text = r == 0 ? json_print(doc, false) : NULL;
	if (r == 0 && !text)
		r = -ENOMEM;
	if (r == 0) {
		size_t n = strlen(text);
		r = n > DIGEST_BODY_MAX ? -E2BIG : buf_add(out, text, n);
	}
	free(text);
	json_free(files);
	json_free(doc);
	return r;
}

int digest_data_to_sign(const struct digest *d, const char *body, size_t len, struct buf *out)
{
	if (!d || !time_ok(d->end) || !text_ok(d->bucket) || !text_ok(d->key) || !body ||
	    (d->previous && !signature_ok(d->previous->signature)))
		return -EINVAL;
	char end[DIGEST_TIME_LEN + 1];
	clock_format_iso(d->end, end, sizeof end);
	char hash[SIGN_SHA256_HEX_LEN + 1];
	int r = sign_sha256_hex(body, len, hash);
	if (r == 0)
		r = sign_data_to_sign(end, d->bucket, d->key, hash,
				      d->previous ? d->previous->signature : NULL, out);
	return r;
}
