/* Unit tests for backend/integrity.c: a log file's verdict from the digests
 * in its bucket, over fixtures written the way the engine writes them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gz.h"
#include "integrity.h"
#include "sign.h"
#include "store.h"
#include "tap.h"
#include "testdir.h"
#include "verify.h"
#include "../verify_fixture.h"

#define T0 1768035631LL            /* 2026-01-10T09:00:31Z */
#define DPREFIX "AWSLogs/123456789012/CloudTrail-Digest/"

static char root[64], ring[128];
static int scenario;

static void new_fx(struct fx *f, const char *bucket)
{
	char dir[256];
	snprintf(dir, sizeof dir, "%s/s%d", root, ++scenario);
	if (fx_open(f, dir, ring, bucket, NULL) < 0) {
		printf("Bail out! fixture\n");
		exit(1);
	}
}

static enum integrity check_key(struct fx *f, const char *key, char *why, size_t size)
{
	struct verify_keys keys;
	verify_keys_init(&keys);
	verify_keys_load_ring(&keys, ring, "us-east-1");
	struct verify_source src;
	verify_source_store(f->st, &src);
	struct integrity_place p = { f->bucket, key, DPREFIX, "us-east-1" };
	enum integrity v = integrity_check(&src, &keys, &p, why, size);
	verify_source_free(&src);
	verify_keys_release(&keys);
	return v;
}

/* Replace key's object with gzip of text. */
static void put(struct fx *f, const char *key, const char *text)
{
	struct buf gz;
	buf_init(&gz, 1 << 20);
	gz_compress(text, strlen(text), GZ_LEVEL_DEFAULT, &gz);
	f->st->ops->object_put(f->st, f->bucket, key, gz.data, gz.len, NULL);
	buf_release(&gz);
}

int main(void)
{
	testdir_make(root, sizeof root);
	snprintf(ring, sizeof ring, "%s/ring", root);
	char why[256];
	struct fx f;

	/* names */
	ok(!strcmp(integrity_name(INTEGRITY_VALID), "valid") &&
	   !strcmp(integrity_name(INTEGRITY_INVALID), "invalid") &&
	   !strcmp(integrity_name(INTEGRITY_UNLISTED), "unlisted") &&
	   !strcmp(integrity_name(INTEGRITY_UNKNOWN), "unknown"), "the four values' names");

	/* two chained hours: each hour's files are valid */
	new_fx(&f, "b1");
	fx_hour(&f, "us-east-1", T0, 2, false);
	char h1[2][DIGEST_KEY_MAX + 1];
	memcpy(h1, f.log_keys, sizeof h1);
	fx_hour(&f, "us-east-1", T0 + 3600, 2, false);
	ok(check_key(&f, h1[0], why, sizeof why) == INTEGRITY_VALID, "a file its hour's digest lists: valid");
	ok(check_key(&f, f.log_keys[1], why, sizeof why) == INTEGRITY_VALID, "one of the next hour: valid");

	/* a file no digest lists */
	char extra[DIGEST_KEY_MAX + 1], hash[SIGN_SHA256_HEX_LEN + 1];
	fx_log(&f, "us-east-1", T0 + 2 * 3600 + 60, 2, extra, hash);
	ok(check_key(&f, extra, why, sizeof why) == INTEGRITY_UNLISTED && strstr(why, "no digest"),
	   "a file delivered after the last digest: unlisted (%s)", why);

	/* changed, not gzip, two members */
	put(&f, h1[0], "{\"Records\":[]}");
	ok(check_key(&f, h1[0], why, sizeof why) == INTEGRITY_INVALID && strstr(why, "hash"),
	   "a changed file: invalid (%s)", why);
	f.st->ops->object_put(f.st, f.bucket, h1[1], "not gzip", 8, NULL);
	ok(check_key(&f, h1[1], why, sizeof why) == INTEGRITY_INVALID, "a file that is not gzip: invalid");

	/* a file in another region's folder name, and a name that is no log file's */
	ok(check_key(&f, "AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/10/notes.txt", why,
		     sizeof why) == INTEGRITY_UNKNOWN && strstr(why, "not named"),
	   "a name that is not a log file's: unknown (%s)", why);

	/* a digest with a bad signature vouches for nothing */
	fx_close(&f);
	new_fx(&f, "b2");
	fx_hour(&f, "us-east-1", T0, 1, false);
	char one[DIGEST_KEY_MAX + 1];
	snprintf(one, sizeof one, "%s", f.log_keys[0]);
	struct store_object_info info;
	memset(&info, 0, sizeof info);
	info.meta[0].name = "signature";
	info.meta[0].value = "00";
	info.meta[1].name = "signature-algorithm";
	info.meta[1].value = "SHA256withRSA";
	info.n_meta = 2;
	struct buf obj;
	buf_init(&obj, 1 << 20);
	f.st->ops->object_get(f.st, f.bucket, f.last_digest, &obj, NULL);
	f.st->ops->object_put(f.st, f.bucket, f.last_digest, obj.data, obj.len, &info);
	buf_release(&obj);
	ok(check_key(&f, one, why, sizeof why) == INTEGRITY_INVALID && strstr(why, "digest"),
	   "its digest's signature altered: invalid (%s)", why);
	f.st->ops->object_delete(f.st, f.bucket, f.last_digest);
	ok(check_key(&f, one, why, sizeof why) == INTEGRITY_UNLISTED, "its digest deleted: unlisted");

	/* a window that ends after midnight lists a file of the day before */
	fx_close(&f);
	new_fx(&f, "b3");
	int64_t late = 1768089000LL;   /* 2026-01-10T23:50:00Z */
	fx_hour(&f, "us-east-1", late, 1, false);
	ok(strstr(f.log_keys[0], "/2026/01/10/") && strstr(f.last_digest, "/2026/01/11/"),
	   "the fixture: the file on the 10th, its digest on the 11th");
	ok(check_key(&f, f.log_keys[0], why, sizeof why) == INTEGRITY_VALID,
	   "across midnight: valid (%s)", why);

	fx_close(&f);
	testdir_remove(root);
	return tap_done();
}
