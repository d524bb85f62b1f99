/* The local directory object store.
 *
 * DIR/BUCKET/ holds a bucket's objects; DIR/.meta/BUCKET/ holds policy.json.
 * A bucket exists exactly when DIR/BUCKET is a directory: that mkdir is the
 * last step of bucket_create and that rmdir the first step of bucket_delete,
 * so a crash between steps leaves at most a stale .meta entry, which the next
 * create of that name clears, never a half-made bucket. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "ct_limits.h"

#define META_DIR      ".meta"
#define POLICY_FILE   "policy.json"
#define STORE_MODE    0700
#define POLICY_MODE   0600
/* Cap on a path built here: Linux's PATH_MAX, which fileio's helpers also use. */
#define STORE_PATH_MAX 4096

struct store_local {
	struct store base;   /* first, so a struct store * is a struct store_local * */
	char *dir;
};

static struct store_local *local(struct store *s)
{
	return (struct store_local *)s;
}

/* A bucket name may only become a path component when it cannot climb out
 * or hide: non-empty, at most CT_BUCKET_NAME_MAX bytes, no '/', no leading
 * '.', no control bytes. */
static bool name_ok(const char *bucket)
{
	size_t n = bucket ? strlen(bucket) : 0;
	if (n == 0 || n > CT_BUCKET_NAME_MAX || bucket[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)bucket[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* path = DIR/[.meta/]BUCKET[/policy.json].  0 or -ENAMETOOLONG / -ENOMEM. */
static int make_path(struct buf *path, const struct store_local *l, bool meta, const char *bucket,
		     bool policy)
{
	buf_init(path, STORE_PATH_MAX);
	int r = buf_printf(path, "%s/%s%s%s%s", l->dir, meta ? META_DIR "/" : "", bucket ? bucket : "",
			   policy ? "/" : "", policy ? POLICY_FILE : "");
	if (r == -E2BIG)
		r = -ENAMETOOLONG;
	if (r < 0)
		buf_release(path);
	return r;
}

static int is_dir(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* 0 when path is a bucket directory, -ENOENT when not: a stray file or a
 * symbolic link of that name is not a bucket (and a link is never followed
 * out of the store). */
static int bucket_dir(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOENT;
}

static int bucket_check(struct store_local *l, const char *bucket)
{
	struct buf p;
	int r = make_path(&p, l, false, bucket, false);
	if (r < 0)
		return r;
	r = bucket_dir(p.data);
	buf_release(&p);
	return r;
}

/* Remove every file in a .meta/BUCKET directory and the directory itself.
 * It only ever holds files (the policy, and temp files a crash left). */
static int meta_remove(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int r = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
			r = -errno;
			break;
		}
	}
	closedir(d);
	if (r == 0 && rmdir(path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

/* The bucket's directory and its .meta directory.  On success both buffers
 * are the caller's to release. */
static int bucket_paths(const struct store_local *l, const char *bucket, struct buf *dir,
			struct buf *meta)
{
	if (!name_ok(bucket))
		return -EINVAL;
	int r = make_path(dir, l, false, bucket, false);
	if (r < 0)
		return r;
	r = make_path(meta, l, true, bucket, false);
	if (r < 0)
		buf_release(dir);
	return r;
}

static int local_bucket_create(struct store *s, const char *bucket)
{
	struct buf dir, meta;
	int r = bucket_paths(local(s), bucket, &dir, &meta);
	if (r < 0)
		return r;
	struct stat st;
	if (lstat(dir.data, &st) == 0) {
		r = -EEXIST;
		goto out;
	}
	/* A .meta entry without its bucket is left from a delete that did not
	 * finish; its old policy must not come back with the new bucket. */
	r = meta_remove(meta.data);
	if (r == 0 && mkdir(meta.data, STORE_MODE) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_parent(meta.data);
	if (r == 0 && mkdir(dir.data, STORE_MODE) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_parent(dir.data);
out:
	buf_release(&meta);
	buf_release(&dir);
	return r;
}

static int local_bucket_delete(struct store *s, const char *bucket)
{
	struct buf dir, meta;
	int r = bucket_paths(local(s), bucket, &dir, &meta);
	if (r < 0)
		return r;
	/* rmdir refuses a directory with entries: that is the emptiness test,
	 * with no window between looking and removing. */
	r = bucket_dir(dir.data);
	if (r == 0 && rmdir(dir.data) < 0)
		r = errno == EEXIST ? -ENOTEMPTY : -errno;
	if (r == 0)
		r = fsync_parent(dir.data);
	/* The bucket is gone once its directory is; its metadata follows.  A
	 * failure here is reported, and the next create clears what is left. */
	if (r == 0)
		r = meta_remove(meta.data);
	if (r == 0)
		r = fsync_parent(meta.data);
	buf_release(&meta);
	buf_release(&dir);
	return r;
}

static int local_bucket_exists(struct store *s, const char *bucket)
{
	if (!name_ok(bucket))
		return -EINVAL;
	return bucket_check(local(s), bucket);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int local_bucket_list(struct store *s, char ***names, size_t *n)
{
	struct store_local *l = local(s);
	*names = NULL;
	*n = 0;
	DIR *d = opendir(l->dir);
	if (!d)
		return -errno;
	char **v = NULL;
	size_t count = 0, cap = 0;
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			r = -errno;
			break;
		}
		/* Only directories whose names a bucket could have: skips ".",
		 * "..", ".meta" and anything else that strayed in. */
		if (!name_ok(e->d_name))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (count == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			char **nv = realloc(v, ncap * sizeof *nv);
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (!(v[count] = strdup(e->d_name))) {
			r = -ENOMEM;
			break;
		}
		count++;
	}
	closedir(d);
	if (r < 0) {
		store_names_free(v, count);
		return r;
	}
	if (count)
		qsort(v, count, sizeof *v, by_name);
	*names = v;
	*n = count;
	return 0;
}

static int local_policy_get(struct store *s, const char *bucket, struct buf *out)
{
	struct store_local *l = local(s);
	if (!name_ok(bucket))
		return -EINVAL;
	int r = bucket_check(l, bucket);
	if (r < 0)
		return r;
	struct buf p;
	r = make_path(&p, l, true, bucket, true);
	if (r < 0)
		return r;
	size_t old_len = out->len;
	r = read_file(p.data, out);
	buf_release(&p);
	if (r < 0) {
		/* Leave out as it was: no half policy. */
		out->len = old_len;
		if (out->data)
			out->data[old_len] = '\0';
	}
	/* No file (or no .meta directory, if a crash took it): no policy. */
	return r == -ENOENT ? -ENODATA : r;
}

static int local_policy_put(struct store *s, const char *bucket, const char *doc, size_t len)
{
	struct store_local *l = local(s);
	if (!name_ok(bucket))
		return -EINVAL;
	int r = bucket_check(l, bucket);
	if (r < 0)
		return r;
	struct buf meta, p;
	r = make_path(&meta, l, true, bucket, false);
	if (r < 0)
		return r;
	r = make_path(&p, l, true, bucket, true);
	if (r < 0) {
		buf_release(&meta);
		return r;
	}
	/* The metadata directory normally exists; recreate it if it went. */
	if (mkdir(meta.data, STORE_MODE) == 0)
		r = fsync_parent(meta.data);
	else if (errno != EEXIST)
		r = -errno;
	if (r == 0)
		r = write_file_durable(p.data, doc, len, POLICY_MODE);
	buf_release(&p);
	buf_release(&meta);
	return r;
}

static int local_policy_delete(struct store *s, const char *bucket)
{
	struct store_local *l = local(s);
	if (!name_ok(bucket))
		return -EINVAL;
	int r = bucket_check(l, bucket);
	if (r < 0)
		return r;
	struct buf p;
	r = make_path(&p, l, true, bucket, true);
	if (r < 0)
		return r;
	if (unlink(p.data) == 0)
		r = fsync_parent(p.data);
	else if (errno != ENOENT)
		r = -errno;
	buf_release(&p);
	return r;
}

static void local_free(struct store *s)
{
	struct store_local *l = local(s);
	free(l->dir);
	free(l);
}

static const struct store_ops local_ops = {
	.kind = "local",
	.bucket_create = local_bucket_create,
	.bucket_delete = local_bucket_delete,
	.bucket_exists = local_bucket_exists,
	.bucket_list = local_bucket_list,
	.policy_get = local_policy_get,
	.policy_put = local_policy_put,
	.policy_delete = local_policy_delete,
	.free = local_free,
};

struct store *store_local_new(const char *dir, int *errp)
{
	int r = 0;
	struct store_local *l = NULL;
	struct buf meta;
	buf_init(&meta, STORE_PATH_MAX);
	if (!dir || !dir[0]) {
		r = -EINVAL;
		goto fail;
	}
	l = calloc(1, sizeof *l);
	if (!l || !(l->dir = strdup(dir))) {
		r = -ENOMEM;
		goto fail;
	}
	l->base.ops = &local_ops;
	r = mkdir_p(dir, STORE_MODE);
	if (r == 0)
		r = is_dir(dir);
	if (r == 0)
		r = buf_printf(&meta, "%s/" META_DIR, dir);
	if (r == -E2BIG)
		r = -ENAMETOOLONG;
	if (r < 0)
		goto fail;
	if (mkdir(meta.data, STORE_MODE) == 0)
		r = fsync_parent(meta.data);
	else if (errno != EEXIST)
		r = -errno;
	if (r == 0)
		r = is_dir(meta.data);
	if (r < 0)
		goto fail;
	buf_release(&meta);
	return &l->base;
fail:
	buf_release(&meta);
	if (l)
		free(l->dir);
	free(l);
	if (errp)
		*errp = r;
	return NULL;
}

void store_names_free(char **names, size_t n)
{
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
