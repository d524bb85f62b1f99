/* Unit tests for backend/store_local.c, in a private temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
