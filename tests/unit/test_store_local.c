/* Unit tests for backend/store_local.c, in a private temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ct_limits.h"
#include "store.h"
#include "tap.h"

static char root[64];
static char sdir[128];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static const char *at(const char *rel)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", sdir, rel);
	return path;
}

static int mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void test_create_list(struct store *s)
{
	ok(!strcmp(s->ops->kind, "local"), "kind is local");
	ok(mode_of(sdir) == 0700 && mode_of(at(".meta")) == 0700, "store root and .meta are 0700");
	ok(s->ops->bucket_create(s, "alpha") == 0, "create alpha");
	ok(exists(at("alpha")) && exists(at(".meta/alpha")), "alpha and .meta/alpha made");
	ok(mode_of(at("alpha")) == 0700, "bucket directory is 0700");
	ok(s->ops->bucket_exists(s, "alpha") == 0, "alpha exists");
	ok(s->ops->bucket_exists(s, "beta") == -ENOENT, "beta does not exist");
	ok(s->ops->bucket_create(s, "alpha") == -EEXIST, "create alpha again: EEXIST");
	ok(s->ops->bucket_create(s, "charlie") == 0 && s->ops->bucket_create(s, "bravo") == 0,
	   "create charlie and bravo");

	/* Strays in the store root are not buckets. */
	int fd = open(at("zfile"), O_CREAT | O_WRONLY, 0600);
	close(fd);
	ok(mkdir(at(".hidden"), 0700) == 0 && symlink("/", at("link")) == 0, "strays made in the store root");
	ok(s->ops->bucket_exists(s, "zfile") == -ENOENT, "a plain file is not a bucket");
	ok(s->ops->bucket_exists(s, "link") == -ENOENT, "a symbolic link is not a bucket");

	char **names = NULL;
	size_t n = 0;
	int r = s->ops->bucket_list(s, &names, &n);
	ok(r == 0 && n == 3, "list: %zu buckets", n);
	ok(n == 3 && !strcmp(names[0], "alpha") && !strcmp(names[1], "bravo") && !strcmp(names[2], "charlie"),
	   "list sorted, .meta, .hidden, files and links skipped");
	store_names_free(names, n);
	unlink(at("zfile"));
	unlink(at("link"));
	rmdir(at(".hidden"));
}

static void test_policy(struct store *s)
{
	static const char doc[] = "{\"Version\":\"2012-10-17\",\"Statement\":[]}";
	static const char doc2[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{}]}";
	struct buf b;
	buf_init(&b, 1 << 16);
	ok(s->ops->policy_get(s, "alpha", &b) == -ENODATA && b.len == 0, "no policy yet: ENODATA");
	ok(s->ops->policy_get(s, "nope", &b) == -ENOENT, "policy of a missing bucket: ENOENT");
	ok(s->ops->policy_put(s, "alpha", doc, strlen(doc)) == 0, "put policy");
	ok(mode_of(at(".meta/alpha/policy.json")) == 0600, "policy file is 0600");
	ok(s->ops->policy_get(s, "alpha", &b) == 0 && !strcmp(buf_str(&b), doc), "get policy back");
	buf_reset(&b);
	buf_puts(&b, "X");
	ok(s->ops->policy_get(s, "alpha", &b) == 0 && b.len == 1 + strlen(doc) && buf_str(&b)[0] == 'X',
	   "policy_get appends");
	buf_reset(&b);
	ok(s->ops->policy_put(s, "alpha", doc2, strlen(doc2)) == 0 &&
	   s->ops->policy_get(s, "alpha", &b) == 0 && !strcmp(buf_str(&b), doc2), "put replaces the policy");
	buf_reset(&b);

	struct buf small;
	buf_init(&small, 4);
	buf_puts(&small, "ab");
	ok(s->ops->policy_get(s, "alpha", &small) == -E2BIG && !strcmp(buf_str(&small), "ab"),
	   "a policy too big for out fails and leaves out as it was");
	buf_release(&small);

	ok(s->ops->policy_put(s, "nope", doc, strlen(doc)) == -ENOENT, "put on a missing bucket: ENOENT");
	ok(s->ops->policy_delete(s, "nope") == -ENOENT, "delete policy of a missing bucket: ENOENT");
	ok(s->ops->policy_delete(s, "alpha") == 0, "delete policy");
	ok(s->ops->policy_get(s, "alpha", &b) == -ENODATA, "after delete: ENODATA");
	ok(s->ops->policy_delete(s, "alpha") == 0, "delete a missing policy: 0");
	ok(s->ops->policy_put(s, "alpha", doc, strlen(doc)) == 0, "put again (kept for reopen)");
	buf_release(&b);
}

static void test_bad_names(struct store *s)
{
	char long_name[CT_BUCKET_NAME_MAX + 2];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	const char *bad[] = { "", "a/b", "/abc", ".meta", "..", ".", ".abc", "a\nb", "a\x7f", long_name };
	struct buf b;
	buf_init(&b, 1 << 16);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ok(s->ops->bucket_create(s, bad[i]) == -EINVAL && s->ops->bucket_delete(s, bad[i]) == -EINVAL &&
		   s->ops->bucket_exists(s, bad[i]) == -EINVAL && s->ops->policy_get(s, bad[i], &b) == -EINVAL &&
		   s->ops->policy_put(s, bad[i], "{}", 2) == -EINVAL &&
		   s->ops->policy_delete(s, bad[i]) == -EINVAL, "bad name %zu refused with EINVAL", i);
	}
	ok(s->ops->bucket_create(s, NULL) == -EINVAL, "NULL name refused");
	long_name[CT_BUCKET_NAME_MAX] = '\0';
	ok(s->ops->bucket_create(s, long_name) == 0 && s->ops->bucket_delete(s, long_name) == 0,
	   "a %d-byte name is fine", CT_BUCKET_NAME_MAX);
	buf_release(&b);
}

static void test_delete(struct store *s)
{
	ok(s->ops->bucket_delete(s, "nope") == -ENOENT, "delete a missing bucket: ENOENT");
	ok(s->ops->bucket_create(s, "temp") == 0 &&
	   s->ops->policy_put(s, "temp", "{}", 2) == 0, "create temp with a policy");
	ok(s->ops->bucket_delete(s, "temp") == 0, "delete an empty bucket");
	ok(!exists(at("temp")) && !exists(at(".meta/temp")), "bucket and metadata gone");
	ok(s->ops->bucket_exists(s, "temp") == -ENOENT, "deleted bucket does not exist");

	int fd = open(at("bravo/object"), O_CREAT | O_WRONLY, 0600);
	close(fd);
	ok(s->ops->bucket_delete(s, "bravo") == -ENOTEMPTY, "delete a bucket with an object: ENOTEMPTY");
	ok(s->ops->bucket_exists(s, "bravo") == 0 && exists(at(".meta/bravo")), "bravo untouched");
	unlink(at("bravo/object"));

	/* A delete that crashed after removing the bucket directory leaves its
	 * metadata behind; creating the name again must not revive the policy. */
	struct buf b;
	buf_init(&b, 1 << 16);
	ok(s->ops->bucket_create(s, "stale") == 0 && s->ops->policy_put(s, "stale", "{}", 2) == 0,
	   "create stale with a policy");
	rmdir(at("stale"));
	ok(s->ops->bucket_exists(s, "stale") == -ENOENT, "stale gone without its metadata");
	ok(s->ops->bucket_create(s, "stale") == 0 && s->ops->policy_get(s, "stale", &b) == -ENODATA,
	   "re-created bucket has no old policy");
	buf_release(&b);
	ok(s->ops->bucket_delete(s, "stale") == 0, "delete stale");
}

/* ---- Objects ---- */

#define LOG_DIR "AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/02/"

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			diag("write %s failed", path);
		close(fd);
	}
}

static bool file_is(const char *path, const char *text)
{
	char got[4096];
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(got, 1, sizeof got - 1, f);
	fclose(f);
	got[n] = '\0';
	return !strcmp(got, text);
}

static bool is_dir_at(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int put(struct store *s, const char *key, const char *data)
{
	return s->ops->object_put(s, "objs", key, data, strlen(data), NULL);
}

static bool listing_is(const struct store_listing *l, const char *const *keys, size_t n_keys,
		       const char *const *prefixes, size_t n_prefixes)
{
	if (l->n_keys != n_keys || l->n_prefixes != n_prefixes)
		return false;
	for (size_t i = 0; i < n_keys; i++)
		if (strcmp(l->keys[i], keys[i]))
			return false;
	for (size_t i = 0; i < n_prefixes; i++)
		if (strcmp(l->prefixes[i], prefixes[i]))
			return false;
	return true;
}

static void test_object_round_trip(struct store *s)
{
	static const char body[] = "\x1f\x8b binary \0 bytes";
	const char *key = LOG_DIR "123456789012_CloudTrail_us-east-1_20240102T0000Z_abcdefghijklmnop.json.gz";
	struct store_object_info in = { 0 }, info;
	in.meta[0] = (struct store_meta_entry){ "record-count", "3" };
	in.meta[1] = (struct store_meta_entry){ "decompressed-size", "1234" };
	in.n_meta = 2;
	in.size = 999;   /* ignored: the size is len */
	ok(s->ops->bucket_create(s, "objs") == 0, "create bucket objs");
	time_t before = time(NULL);
	ok(s->ops->object_put(s, "objs", key, body, sizeof body, &in) == 0, "put a log object with metadata");

	struct buf b;
	buf_init(&b, 1 << 16);
	buf_puts(&b, "X");
	int r = s->ops->object_get(s, "objs", key, &b, &info);
	ok(r == 0 && b.len == 1 + sizeof body && !memcmp(b.data + 1, body, sizeof body),
	   "get appends the exact bytes (%d)", r);
	ok(info.size == sizeof body && info.mtime >= before && info.mtime <= time(NULL) + 1,
	   "get: size and mtime from the object");
	ok(info.n_meta == 2 && !strcmp(store_meta_get(&info, "record-count"), "3") &&
	   !strcmp(store_meta_get(&info, "decompressed-size"), "1234") && !store_meta_get(&info, "nope") &&
	   !store_meta_get(NULL, "x"), "get: metadata round trip");
	store_object_info_release(&info);
	ok(info.n_meta == 0 && info.size == 0 && !store_meta_get(&info, "record-count"), "release empties info");
	store_object_info_release(NULL);

	ok(s->ops->object_head(s, "objs", key, &info) == 0 && info.size == sizeof body &&
	   !strcmp(store_meta_get(&info, "record-count"), "3"), "head: size and metadata");
	store_object_info_release(&info);
	ok(s->ops->object_head(s, "objs", key, NULL) == 0, "head without info");
	buf_reset(&b);
	ok(s->ops->object_get(s, "objs", key, &b, NULL) == 0 && b.len == sizeof body, "get without info");

	ok(file_is(at(".meta/objs/objects/" LOG_DIR
		      "123456789012_CloudTrail_us-east-1_20240102T0000Z_abcdefghijklmnop.json.gz.json"),
		   "{\"size\":18,\"meta\":{\"record-count\":\"3\",\"decompressed-size\":\"1234\"}}"),
	   "sidecar is compact JSON with size and meta");
	ok(is_dir_at(at("objs/AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/02")) &&
	   mode_of(at("objs/AWSLogs")) == 0700 && mode_of(at("objs/" LOG_DIR)) == 0700,
	   "nested keys make directories, mode 0700");
	ok(mode_of(at("objs/" LOG_DIR "123456789012_CloudTrail_us-east-1_20240102T0000Z_abcdefghijklmnop.json.gz")) ==
	   0600, "object file is 0600");

	/* Overwrite: new bytes, new metadata, nothing of the old left. */
	struct store_object_info in2 = { 0 };
	in2.meta[0] = (struct store_meta_entry){ "other", "value with spaces ~!" };
	in2.n_meta = 1;
	buf_reset(&b);
	ok(s->ops->object_put(s, "objs", key, "new", 3, &in2) == 0 &&
	   s->ops->object_get(s, "objs", key, &b, &info) == 0 && !strcmp(buf_str(&b), "new") && info.size == 3 &&
	   info.n_meta == 1 && !strcmp(store_meta_get(&info, "other"), "value with spaces ~!") &&
	   !store_meta_get(&info, "record-count"), "overwrite replaces bytes and metadata");
	store_object_info_release(&info);
	buf_reset(&b);
	ok(s->ops->object_put(s, "objs", key, NULL, 0, NULL) == 0 &&
	   s->ops->object_get(s, "objs", key, &b, &info) == 0 && b.len == 0 && info.size == 0 && info.n_meta == 0,
	   "an empty object without metadata");
	store_object_info_release(&info);
	ok(s->ops->object_put(s, "objs", key, NULL, 1, NULL) == -EINVAL, "NULL data with a length: EINVAL");

	/* Failures leave out as it was. */
	buf_reset(&b);
	buf_puts(&b, "keep");
	ok(s->ops->object_get(s, "objs", "missing", &b, &info) == -ENOENT && !strcmp(buf_str(&b), "keep") &&
	   info.n_meta == 0, "get of a missing key: ENOENT, out unchanged");
	struct buf small;
	buf_init(&small, 4);
	buf_puts(&small, "ab");
	ok(put(s, "big", "0123456789") == 0 && s->ops->object_get(s, "objs", "big", &small, &info) == -E2BIG &&
	   !strcmp(buf_str(&small), "ab"), "an object too big for out: E2BIG, out unchanged");
	buf_release(&small);
	ok(s->ops->object_delete(s, "objs", "big") == 0 && s->ops->object_delete(s, "objs", key) == 0,
	   "delete the round-trip objects");
	ok(!exists(at("objs/AWSLogs")) && !exists(at(".meta/objs/objects/AWSLogs")),
	   "deleting the only key under a path prunes its directories");
	buf_release(&b);
}

static void test_object_list(struct store *s)
{
	const char *keys[] = { "c", "a", "b/y/z", "B", "b/x", "\xc3\xa9t\xc3\xa9", "b/y/w", "a-b", LOG_DIR "f2",
			       LOG_DIR "f1" };
	bool all = true;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		all &= put(s, keys[i], keys[i]) == 0;
	ok(all, "put keys for listing");

	struct store_listing l;
	int r = s->ops->object_list(s, "objs", "", &l);
	ok(r == 0 && listing_is(&l, (const char *[]){ "B", "a", "a-b", "c", "\xc3\xa9t\xc3\xa9" }, 5,
				 (const char *[]){ "AWSLogs/", "b/" }, 2),
	   "list \"\": keys and prefixes, each in byte order");
	store_listing_release(&l);
	ok(l.n_keys == 0 && !l.keys && !l.prefixes, "release empties the listing");
	store_listing_release(NULL);
	ok(s->ops->object_list(s, "objs", "b/", &l) == 0 &&
	   listing_is(&l, (const char *[]){ "b/x" }, 1, (const char *[]){ "b/y/" }, 1), "list b/");
	store_listing_release(&l);
	ok(s->ops->object_list(s, "objs", "b/y/", &l) == 0 &&
	   listing_is(&l, (const char *[]){ "b/y/w", "b/y/z" }, 2, NULL, 0), "list b/y/");
	store_listing_release(&l);
	ok(s->ops->object_list(s, "objs", LOG_DIR, &l) == 0 &&
	   listing_is(&l, (const char *[]){ LOG_DIR "f1", LOG_DIR "f2" }, 2, NULL, 0), "list a deep prefix");
	store_listing_release(&l);
	ok(s->ops->object_list(s, "objs", "AWSLogs/123456789012/", &l) == 0 &&
	   listing_is(&l, NULL, 0, (const char *[]){ "AWSLogs/123456789012/CloudTrail/" }, 1),
	   "list an intermediate prefix");
	store_listing_release(&l);
	ok(s->ops->object_list(s, "objs", "nope/deeper/", &l) == 0 && l.n_keys == 0 && l.n_prefixes == 0,
	   "a missing prefix lists empty");
	store_listing_release(&l);
	ok(s->ops->object_list(s, "objs", "a/", &l) == 0 && l.n_keys == 0 && l.n_prefixes == 0,
	   "a prefix through an object lists empty");
	store_listing_release(&l);

	/* Unfinished puts: temp files in the bucket and in a prefix. */
	write_text(at("objs/.a.tmp.12345"), "partial");
	write_text(at("objs/b/.q.tmp.77"), "partial");
	mkdir(at("objs/.odd"), 0700);
	ok(s->ops->object_list(s, "objs", "", &l) == 0 && l.n_keys == 5 && l.n_prefixes == 2, "temp files not listed");
	store_listing_release(&l);
	ok(s->ops->object_list(s, "objs", "b/", &l) == 0 && l.n_keys == 1 && l.n_prefixes == 1,
	   "temp files not listed under a prefix");
	store_listing_release(&l);
	unlink(at("objs/.a.tmp.12345"));
	rmdir(at("objs/.odd"));

	/* Strays: a link and a FIFO are neither keys nor prefixes. */
	ok(symlink("/etc", at("objs/lnk")) == 0 && mkfifo(at("objs/fifo"), 0600) == 0, "strays made");
	ok(s->ops->object_list(s, "objs", "", &l) == 0 && l.n_keys == 5 && l.n_prefixes == 2, "links and FIFOs not listed");
	store_listing_release(&l);
	struct store_object_info info;
	ok(s->ops->object_head(s, "objs", "lnk", &info) == -ENOENT &&
	   s->ops->object_head(s, "objs", "lnk/passwd", &info) == -ENOENT &&
	   s->ops->object_head(s, "objs", "fifo", &info) == -ENOENT, "a link is not followed, a FIFO is no object");
	ok(put(s, "lnk/x", "x") == -EEXIST, "put through a link: EEXIST");
	unlink(at("objs/lnk"));
	unlink(at("objs/fifo"));

	const char *bad_prefix[] = { "b", "/", "/b/", "b//", "./", "../", "b/../", ".b/", "b\n/" };
	for (size_t i = 0; i < sizeof bad_prefix / sizeof bad_prefix[0]; i++)
		ok(s->ops->object_list(s, "objs", bad_prefix[i], &l) == -EINVAL && l.n_keys == 0,
		   "bad prefix %zu refused with EINVAL", i);
	ok(s->ops->object_list(s, "objs", NULL, &l) == -EINVAL, "NULL prefix refused");
	ok(s->ops->object_list(s, "nope", "", &l) == -ENOENT, "list a missing bucket: ENOENT");
	ok(s->ops->object_list(s, "../x", "", &l) == -EINVAL, "list a bad bucket name: EINVAL");
}

static void test_object_bad_keys(struct store *s)
{
	char long_key[1026];
	memset(long_key, 'k', sizeof long_key - 1);
	long_key[sizeof long_key - 1] = '\0';
	for (size_t i = 100; i < sizeof long_key - 1; i += 101)
		long_key[i] = '/';   /* short segments: only the length is wrong */
	const char *bad[] = { "", "/a", "a//b", "a/./b", "a/../b", "a\x01z", long_key, ".hidden",
			      "a/", "..", ".", "a/.b", "a\x7f", "a\tb", "sub/\n" };
	struct buf b;
	buf_init(&b, 1 << 16);
	struct store_object_info info;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ok(put(s, bad[i], "x") == -EINVAL && s->ops->object_get(s, "objs", bad[i], &b, &info) == -EINVAL &&
		   s->ops->object_head(s, "objs", bad[i], &info) == -EINVAL &&
		   s->ops->object_delete(s, "objs", bad[i]) == -EINVAL, "bad key %zu refused with EINVAL", i);
	}
	ok(put(s, NULL, "x") == -EINVAL, "NULL key refused");
	long_key[1024] = '\0';
	ok(put(s, long_key, "x") == 0 && s->ops->object_head(s, "objs", long_key, &info) == 0 &&
	   s->ops->object_delete(s, "objs", long_key) == 0, "a 1024-byte key is fine");
	char seg[300];
	memset(seg, 's', sizeof seg - 1);
	seg[sizeof seg - 1] = '\0';
	ok(put(s, seg, "x") == -ENAMETOOLONG, "a segment too long for a file name: ENAMETOOLONG");
	ok(s->ops->object_head(s, "objs", seg, &info) == -ENOENT && s->ops->object_delete(s, "objs", seg) == 0,
	   "such a key does not exist");
	ok(put(s, "\xc3\xa9/\xe2\x82\xac", "utf8") == 0 && s->ops->object_delete(s, "objs", "\xc3\xa9/\xe2\x82\xac") == 0,
	   "UTF-8 keys are fine");
	buf_release(&b);
}

static void test_object_meta_rules(struct store *s)
{
	static const struct store_meta_entry bad[][2] = {
		{ { "Upper", "v" } },   { { "", "v" } },       { { "under_score", "v" } }, { { "x-amz-meta-a", "v\n" } },
		{ { "a", "\x80" } },    { { "a", NULL } },     { { NULL, "v" } },          { { "sp ace", "v" } },
		{ { "a", "1" }, { "a", "2" } },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct store_object_info in = { 0 };
		in.meta[0] = bad[i][0];
		in.meta[1] = bad[i][1];
		in.n_meta = bad[i][1].name ? 2 : 1;
		ok(s->ops->object_put(s, "objs", "m", "x", 1, &in) == -EINVAL, "bad metadata %zu refused with EINVAL", i);
	}
	static char names[STORE_META_MAX][8];
	struct store_object_info in = { 0 };
	for (size_t i = 0; i < STORE_META_MAX; i++) {
		snprintf(names[i], sizeof names[i], "n%zu", i);
		in.meta[i] = (struct store_meta_entry){ names[i], "v" };
	}
	in.n_meta = STORE_META_MAX;
	struct store_object_info info;
	ok(s->ops->object_put(s, "objs", "m", "x", 1, &in) == 0 && s->ops->object_head(s, "objs", "m", &info) == 0 &&
	   info.n_meta == STORE_META_MAX && !strcmp(store_meta_get(&info, "n15"), "v"),
	   "%d entries are fine", STORE_META_MAX);
	store_object_info_release(&info);
	in.n_meta = STORE_META_MAX + 1;
	ok(s->ops->object_put(s, "objs", "m", "x", 1, &in) == -EINVAL, "%d entries refused", STORE_META_MAX + 1);
	static char huge[2100];
	memset(huge, 'v', sizeof huge - 1);
	struct store_object_info big = { 0 };
	big.meta[0] = (struct store_meta_entry){ "big", huge };
	big.n_meta = 1;
	ok(s->ops->object_put(s, "objs", "m", "x", 1, &big) == -EINVAL, "over 2 KB of metadata refused");
	ok(s->ops->object_head(s, "objs", "m", &info) == 0 && info.n_meta == STORE_META_MAX,
	   "refused puts left the object as it was");
	store_object_info_release(&info);
	ok(s->ops->object_delete(s, "objs", "m") == 0, "delete m");
}

static void test_object_conflicts(struct store *s)
{
	struct store_object_info info;
	ok(put(s, "a/b", "x") == -EEXIST, "put a/b while a is an object: EEXIST");
	ok(put(s, "b", "x") == -EEXIST, "put b while b/ holds keys: EEXIST");
	ok(put(s, "a/b/c", "x") == -EEXIST, "deeper through an object: EEXIST");
	ok(s->ops->object_head(s, "objs", "b", &info) == -ENOENT, "a prefix is not an object");
	ok(s->ops->object_delete(s, "objs", "b") == 0 && s->ops->object_head(s, "objs", "b/x", &info) == 0,
	   "deleting a prefix's name is a no-op");
	ok(s->ops->object_head(s, "objs", "a/b", &info) == -ENOENT, "head through an object: ENOENT");

	/* Sidecars are NAME.json, so a directory NAME.json beside an object
	 * NAME cannot have its sidecars: refused both ways, leaving nothing. */
	ok(put(s, "c.json/x", "x") == -EEXIST, "put c.json/x while c is an object: EEXIST");
	ok(!exists(at("objs/c.json")), "the refused put left no directory");
	ok(put(s, "d.json/x", "x") == 0 && put(s, "d", "x") == -EEXIST, "put d while d.json/ holds keys: EEXIST");
	ok(!exists(at("objs/d")) && s->ops->object_delete(s, "objs", "d.json/x") == 0, "clean up d.json/x");

	ok(s->ops->object_put(s, "nope", "k", "x", 1, NULL) == -ENOENT, "put to a missing bucket: ENOENT");
	ok(s->ops->object_head(s, "nope", "k", &info) == -ENOENT, "head in a missing bucket: ENOENT");
	ok(s->ops->object_delete(s, "nope", "k") == -ENOENT, "delete in a missing bucket: ENOENT");
	ok(s->ops->object_put(s, "../objs", "k", "x", 1, NULL) == -EINVAL && !exists(at("k")),
	   "a bad bucket name: EINVAL");
}

static void test_object_sidecar_damage(struct store *s)
{
	struct store_object_info in = { 0 }, info;
	in.meta[0] = (struct store_meta_entry){ "x", "1" };
	in.n_meta = 1;
	ok(s->ops->object_put(s, "objs", "s/t", "12345", 5, &in) == 0, "put s/t with metadata");
	const char *side = at(".meta/objs/objects/s/t.json");
	/* A put of another size that crashed after its sidecar. */
	write_text(side, "{\"size\":99,\"meta\":{\"x\":\"2\"}}");
	ok(s->ops->object_head(s, "objs", "s/t", &info) == 0 && info.size == 5 && info.n_meta == 0,
	   "a sidecar of another size is ignored");
	store_object_info_release(&info);
	write_text(side, "{\"size\":5,\"meta\":{\"x\":\"2\"}}");
	ok(s->ops->object_head(s, "objs", "s/t", &info) == 0 && info.n_meta == 1 &&
	   !strcmp(store_meta_get(&info, "x"), "2"), "a sidecar of the same size is used");
	store_object_info_release(&info);
	const char *damaged[] = { "not json", "{\"size\":5,\"meta\":{\"BAD\":\"v\"}}", "{\"size\":5,\"meta\":{\"a\":1}}",
				  "{\"size\":\"5\",\"meta\":{}}", "{\"size\":5}", "[]", "" };
	for (size_t i = 0; i < sizeof damaged / sizeof damaged[0]; i++) {
		write_text(side, damaged[i]);
		ok(s->ops->object_head(s, "objs", "s/t", &info) == 0 && info.size == 5 && info.n_meta == 0,
		   "damaged sidecar %zu means no metadata", i);
		store_object_info_release(&info);
	}
	unlink(side);
	ok(s->ops->object_head(s, "objs", "s/t", &info) == 0 && info.n_meta == 0, "no sidecar: no metadata");
	ok(mkfifo(side, 0600) == 0 && s->ops->object_head(s, "objs", "s/t", &info) == 0 && info.n_meta == 0,
	   "a FIFO for a sidecar is ignored, without hanging");
	unlink(side);
	ok(s->ops->object_delete(s, "objs", "s/t") == 0 && !exists(at("objs/s")), "delete s/t");
}

static void test_object_delete(struct store *s)
{
	struct store_object_info info;
	ok(s->ops->object_delete(s, "objs", "a") == 0 && s->ops->object_head(s, "objs", "a", &info) == -ENOENT &&
	   !exists(at(".meta/objs/objects/a.json")), "delete an object and its sidecar");
	ok(s->ops->object_delete(s, "objs", "a") == 0, "delete it again: 0");
	ok(s->ops->object_delete(s, "objs", "never/was") == 0, "delete a key that never was: 0");
	/* A put killed mid-write left temporary files of its key, object and
	 * sidecar; the put that later writes the key (on another thread) takes
	 * them, and leaves a neighbour's alone. */
	write_text(at("objs/b/y/.z.tmp.31337"), "partial");
	write_text(at(".meta/objs/objects/b/y/.z.json.tmp.31337"), "partial");
	write_text(at("objs/b/y/.w.tmp.31337"), "partial");
	struct store_object_info in;
	memset(&in, 0, sizeof in);
	in.meta[0] = (struct store_meta_entry){ "k", "v" };
	in.n_meta = 1;
	ok(s->ops->object_put(s, "objs", "b/y/z", "redo", 4, &in) == 0 &&
	   !exists(at("objs/b/y/.z.tmp.31337")) && !exists(at(".meta/objs/objects/b/y/.z.json.tmp.31337")),
	   "a put sweeps its key's leftover temporary files, object and sidecar");
	ok(exists(at("objs/b/y/.w.tmp.31337")), "but not another key's");
	unlink(at("objs/b/y/.w.tmp.31337"));
	write_text(at("objs/b/y/.z.tmp.4242"), "partial");
	ok(s->ops->object_delete(s, "objs", "b/y/z") == 0 && !exists(at("objs/b/y/.z.tmp.4242")) &&
	   exists(at("objs/b/y/w")), "delete takes the key's leftover temp files, not its neighbours");
	ok(s->ops->object_delete(s, "objs", "b/y/w") == 0 && !exists(at("objs/b/y")) &&
	   !exists(at(".meta/objs/objects/b/y")) && exists(at("objs/b/x")),
	   "deleting the last key of b/y/ prunes it, b/ stays");

	ok(s->ops->bucket_delete(s, "objs") == -ENOTEMPTY && s->ops->bucket_exists(s, "objs") == 0,
	   "bucket delete refused while objects exist");
	struct store_listing l;
	ok(s->ops->object_list(s, "objs", "", &l) == 0, "list what is left");
	bool all = true;
	for (size_t i = 0; i < l.n_keys; i++)
		all &= s->ops->object_delete(s, "objs", l.keys[i]) == 0;
	store_listing_release(&l);
	const char *rest[] = { "b/x", LOG_DIR "f1", LOG_DIR "f2" };
	for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
		all &= s->ops->object_delete(s, "objs", rest[i]) == 0;
	ok(all, "delete every object");
	/* What crashes leave: temp files and an empty directory. */
	mkdir(at("objs/empty"), 0700);
	mkdir(at("objs/b"), 0700);
	write_text(at("objs/b/.q.tmp.77"), "partial");
	write_text(at(".meta/objs/objects/.q.json.tmp.9"), "partial");
	ok(s->ops->object_list(s, "objs", "", &l) == 0 && l.n_keys == 0, "no keys left");
	store_listing_release(&l);
	ok(s->ops->bucket_delete(s, "objs") == 0, "then bucket delete succeeds, past leftover temp files");
	ok(!exists(at("objs")) && !exists(at(".meta/objs")), "bucket, sidecars and metadata gone");
	ok(s->ops->object_head(s, "objs", "b/x", &info) == -ENOENT, "objects of a deleted bucket: ENOENT");

	/* A stray non-temp dot file is something unknown: not swept. */
	ok(s->ops->bucket_create(s, "objs2") == 0, "create objs2");
	write_text(at("objs2/.unknown"), "?");
	ok(s->ops->bucket_delete(s, "objs2") == -ENOTEMPTY, "a stray file keeps a bucket");
	unlink(at("objs2/.unknown"));
	ok(s->ops->bucket_delete(s, "objs2") == 0, "delete objs2");
}

static void test_objects(struct store *s)
{
	test_object_round_trip(s);
	test_object_list(s);
	test_object_bad_keys(s);
	test_object_meta_rules(s);
	test_object_conflicts(s);
	test_object_sidecar_damage(s);
	test_object_delete(s);
}

static void test_reopen(void)
{
	int err = 0;
	struct store *s = store_local_new(sdir, &err);
	ok(s != NULL, "reopen the store");
	if (!s)
		return;
	char **names = NULL;
	size_t n = 0;
	ok(s->ops->bucket_list(s, &names, &n) == 0 && n == 3 && !strcmp(names[0], "alpha") &&
	   !strcmp(names[1], "bravo") && !strcmp(names[2], "charlie"), "buckets still there");
	store_names_free(names, n);
	struct buf b;
	buf_init(&b, 1 << 16);
	ok(s->ops->policy_get(s, "alpha", &b) == 0 && b.len > 0, "policy still there");
	buf_release(&b);
	store_free(s);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/test_store_local.XXXXXX");
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(sdir, sizeof sdir, "%s/nested/store", root);

	int err = 0;
	struct store *s = store_local_new(sdir, &err);
	ok(s != NULL, "store_local_new creates a missing directory");
	if (!s) {
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		return tap_done();
	}
	test_create_list(s);
	test_policy(s);
	test_bad_names(s);
	test_delete(s);
	test_objects(s);
	store_free(s);
	test_reopen();

	char file[160];
	snprintf(file, sizeof file, "%s/file", root);
	close(open(file, O_CREAT | O_WRONLY, 0600));
	err = 0;
	struct store *bad = store_local_new(file, &err);
	ok(bad == NULL && err < 0, "a file is not a store directory (%s)", strerror(-err));
	store_free(bad);
	err = 0;
	ok(store_local_new("", &err) == NULL && err == -EINVAL, "an empty path is refused");
	store_free(NULL);

	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
