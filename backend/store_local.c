/* The local directory object store.
 *
 * DIR/BUCKET/ holds a bucket's objects; DIR/.meta/BUCKET/ holds policy.json
 * and, under objects/, each object's metadata sidecar.
 * A bucket exists exactly when DIR/BUCKET is a directory: that mkdir is the
 * last step of bucket_create and that rmdir the first step of bucket_delete,
 * so a crash between steps leaves at most a stale .meta entry, which the next
 * create of that name clears, never a half-made bucket.
 *
 * Objects: a key's '/' segments are directories, so key "a/b/c" is the file
 * DIR/BUCKET/a/b/c and its metadata DIR/.meta/BUCKET/objects/a/b/c.json
 * ({"size":N,"meta":{...}}), and one level of a listing is one readdir.
 * Keys are reached through directory descriptors opened one segment at a
 * time with O_NOFOLLOW, so a key never leaves its bucket and no link is
 * followed.  Writes go to a temporary file ".NAME.tmp.TID" in the same
 * directory, then fsync, rename and fsync of the directory; a leading '.'
 * marks it, since keys here never have one (see key_split). */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_limits.h"
#include "fileio.h"
#include "json.h"

#define META_DIR      ".meta"
#define POLICY_FILE   "policy.json"
#define STORE_MODE    0700
#define POLICY_MODE   0600
/* Cap on a path built here: Linux's PATH_MAX, which fileio's helpers also use. */
#define STORE_PATH_MAX 4096

#define OBJECTS_DIR    "objects"
#define SIDECAR_SUFFIX ".json"
#define TEMP_INFIX     ".tmp."
#define OBJECT_MODE    0600
#define STORE_KEY_MAX  1024                      /* S3's limit on a key, in bytes */
#define KEY_DEPTH_MAX  (STORE_KEY_MAX / 2 + 1)   /* segments of "a/a/.../a" */
/* A key segment becomes a file name, and the temporary file of its sidecar
 * adds the most around it: "." NAME ".json" ".tmp." TID, a TID having at
 * most 10 digits.  S3 allows longer segments; this store cannot hold them. */
#define TEMP_EXTRA_MAX  (sizeof "." SIDECAR_SUFFIX TEMP_INFIX - 1 + 10)
#define KEY_SEGMENT_MAX (NAME_MAX - TEMP_EXTRA_MAX)
/* S3 allows 2 KB of user metadata (names and values together). */
#define META_BYTES_MAX 2048
/* A sidecar: the metadata with every byte escaped, plus its syntax. */
#define SIDECAR_MAX    (2 * META_BYTES_MAX + 4096)
/* Entries of one listing level, keys and prefixes together. */
#define LIST_MAX       (1 << 20)
/* A put whose directory a concurrent delete pruned starts again; this many
 * times at most (each retry means another thread emptied the directory). */
#define PUT_ATTEMPTS   4

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

static bool is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* Is name a temporary file of write_at: ".NAME.tmp.TID", for leaf's NAME
 * only when leaf is not NULL? */
static bool is_temp(const char *name, const char *leaf)
{
	if (name[0] != '.')
		return false;
	const char *tid = NULL;
	if (leaf) {
		size_t n = strlen(leaf);
		if (strncmp(name + 1, leaf, n) || strncmp(name + 1 + n, TEMP_INFIX, strlen(TEMP_INFIX)))
			return false;
		tid = name + 1 + n;
	} else {
		for (const char *p = name + 1; (p = strstr(p, TEMP_INFIX)); p++)
			tid = p;
		if (!tid)
			return false;
	}
	tid += strlen(TEMP_INFIX);
	return *tid && strspn(tid, "0123456789") == strlen(tid);
}

/* Empty the directory dfd (which this closes), depth levels below where the
 * emptying began.  With everything, remove all it holds; otherwise only
 * temporary files of write_at and directories holding nothing else, and
 * stop with -ENOTEMPTY at the first object (or anything else).  A store's
 * trees are at most KEY_DEPTH_MAX + 1 deep; anything deeper strayed in and
 * is refused, which bounds the descriptors open at once.  0 or -errno. */
static int tree_empty(int dfd, bool everything, size_t depth)
{
	if (depth > KEY_DEPTH_MAX + 1) {
		close(dfd);
		return everything ? -ELOOP : -ENOTEMPTY;
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		close(dfd);
		return r;
	}
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			r = -errno;
			break;
		}
		if (is_dot(e->d_name))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = sub < 0 ? -errno : tree_empty(sub, everything, depth + 1);
			if (r == 0 && unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) < 0)
				r = errno == EEXIST ? -ENOTEMPTY : -errno;
			if (r == -ENOENT)
				r = 0;
		} else if (everything || (S_ISREG(st.st_mode) && is_temp(e->d_name, NULL))) {
			if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
				r = -errno;
		} else {
			r = -ENOTEMPTY;
		}
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/* Remove a .meta/BUCKET directory with all it holds (the policy, the
 * objects/ tree of sidecars, and temp files a crash left). */
static int meta_remove(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		/* Not a directory: a stray, never followed; it goes too. */
		if (errno == ENOTDIR || errno == ELOOP)
			return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
		return -errno;
	}
	int r = tree_empty(fd, true, 0);
	if (r == 0 && rmdir(path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

/* rmdir of a bucket directory, which refuses one with entries: that is the
 * emptiness test, with no window between looking and removing.  What a
 * crashed put leaves (its temporary file, directories of keys since
 * deleted) holds no object, so it does not make a bucket non-empty: it is
 * cleared, stopping at the first object, and the rmdir tried again.  A put
 * racing with this either lands first (the bucket stays, -ENOTEMPTY) or
 * loses its temporary file, starts again and finds no bucket. */
static int bucket_rmdir(const char *path)
{
	if (rmdir(path) == 0)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -errno;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = tree_empty(fd, false, 0);
	if (r == 0 && rmdir(path) < 0)
		r = errno == EEXIST ? -ENOTEMPTY : -errno;
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
	r = bucket_dir(dir.data);
	if (r == 0)
		r = bucket_rmdir(dir.data);
	if (r == 0)
		r = fsync_parent(dir.data);
	/* The bucket is gone once its directory is; its metadata (policy and
	 * object sidecars) follows.  A failure here is reported, and the next
	 * create clears what is left. */
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

/* Only directories whose names a bucket could have: skips ".", "..",
 * ".meta" and anything else that strayed in. */
static bool bucket_entry(int dfd, const char *name, void *arg)
{
	(void)arg;
	struct stat st;
	return name_ok(name) && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

static int local_bucket_list(struct store *s, char ***names, size_t *n)
{
	return fileio_dir_names(local(s)->dir, bucket_entry, NULL, names, n);
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

/* ---- Objects ---- */

/* A key split into its segments (each a file or directory name). */
struct key_path {
	char copy[STORE_KEY_MAX + 1];     /* the key, each '/' replaced by '\0' */
	const char *seg[KEY_DEPTH_MAX];
	size_t n;
};

/* Split key into segments; with prefix, key is "" (no segments) or ends in
 * '/', which ends the last segment.  Refused with -EINVAL, as the store
 * contract says: NULL, empty, over STORE_KEY_MAX bytes, a leading '/',
 * empty, "." or ".." segments, control bytes.  Also -EINVAL, where S3 would
 * take it: a segment beginning with '.', because this store marks its
 * temporary files with one and must never list one as a key (trailfs's own
 * keys never have such segments).  -ENAMETOOLONG for a segment over
 * KEY_SEGMENT_MAX bytes, which cannot be a local file name. */
static int key_split(const char *key, bool prefix, struct key_path *k)
{
	k->n = 0;
	if (!key)
		return -EINVAL;
	size_t len = strlen(key);
	if (prefix) {
		if (len == 0)
			return 0;
		if (key[len - 1] != '/')
			return -EINVAL;
		len--;
	}
	if (len == 0 || len > STORE_KEY_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c < 0x20 || c == 0x7f)
			return -EINVAL;
	}
	memcpy(k->copy, key, len);
	k->copy[len] = '\0';
	bool too_long = false;
	for (char *s = k->copy;;) {
		char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (n == 0 || s[0] == '.')
			return -EINVAL;
		if (n > KEY_SEGMENT_MAX)
			too_long = true;
		/* Each segment takes at least two of the key's bytes but the
		 * last, so KEY_DEPTH_MAX always suffices. */
		k->seg[k->n++] = s;
		if (!slash)
			break;
		*slash = '\0';
		s = slash + 1;
	}
	return too_long ? -ENAMETOOLONG : 0;
}

static const char *key_leaf(const struct key_path *k)
{
	return k->seg[k->n - 1];
}

/* The sidecar's file name for leaf (NAME.json), in out[size]. */
static int sidecar_name(char *out, size_t size, const char *leaf)
{
	int n = snprintf(out, size, "%s" SIDECAR_SUFFIX, leaf);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The bucket's directory, opened: a descriptor, -EINVAL for a bad name,
 * -ENOENT when there is no such bucket, or -errno. */
static int bucket_open(const struct store_local *l, const char *bucket)
{
	if (!name_ok(bucket))
		return -EINVAL;
	struct buf p;
	int r = make_path(&p, l, false, bucket, false);
	if (r < 0)
		return r;
	int fd = open(p.data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = fd >= 0 ? fd : errno == ENOTDIR || errno == ELOOP ? -ENOENT : -errno;
	buf_release(&p);
	return r;
}

/* Open the directory name under dfd; with create, make it first when
 * missing (mode 0700) and make its entry durable.  A descriptor, or -errno:
 * -ENOTDIR when name is something else (a file, a link). */
static int subdir_open(int dfd, const char *name, bool create)
{
	if (create) {
		if (mkdirat(dfd, name, STORE_MODE) == 0) {
			if (fsync(dfd) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
	}
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	return fd;
}

/* DIR/.meta/BUCKET/objects, opened; with create, made when missing (and
 * .meta/BUCKET with it, should a crash have taken it).  A descriptor or
 * -errno (-ENOENT when missing). */
static int sidecars_open(const struct store_local *l, const char *bucket, bool create)
{
	struct buf p;
	int r = make_path(&p, l, true, bucket, false);
	if (r < 0)
		return r;
	if (create) {
		if (mkdir(p.data, STORE_MODE) == 0)
			r = fsync_parent(p.data);
		else if (errno != EEXIST)
			r = -errno;
	}
	int fd = -1;
	if (r == 0 && (fd = open(p.data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		r = errno == ENOTDIR || errno == ELOOP ? -ENOENT : -errno;
	buf_release(&p);
	if (r < 0)
		return r;
	r = subdir_open(fd, OBJECTS_DIR, create);
	close(fd);
	return r == -ENOTDIR ? -ENOENT : r;
}

/* The directory of k's first depth segments below root (root stays open;
 * the result is the caller's to close).  A descriptor or -errno, as
 * subdir_open. */
static int walk(int root, const struct key_path *k, size_t depth, bool create)
{
	int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < depth; i++) {
		int next = subdir_open(fd, k->seg[i], create);
		close(fd);
		if (next < 0)
			return next;
		fd = next;
	}
	return fd;
}

/* Remove the directories on k's path below root that are now empty,
 * deepest first, up to the first that is not.  Best effort: one left
 * behind is an empty prefix, which a bucket delete clears. */
static void prune(int root, const struct key_path *k)
{
	for (size_t depth = k->n - 1; depth > 0; depth--) {
		int parent = walk(root, k, depth - 1, false);
		if (parent < 0)
			return;
		int r = unlinkat(parent, k->seg[depth - 1], AT_REMOVEDIR) == 0 ? 0 : errno;
		if (r == 0 && fsync(parent) < 0)
			r = errno;
		close(parent);
		if (r && r != ENOENT)
			return;
	}
}

/* 0 when name in dfd is free for a file or already one; -EEXIST when a
 * directory (the key is a prefix of other keys) or anything else is there. */
static int file_slot(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return S_ISREG(st.st_mode) ? 0 : -EEXIST;
}

/* Unlink the temporary files of name in dfd (".NAME.tmp.TID", any TID):
 * what writers killed mid-write left.  True if any went. */
static bool sweep_temps(int dfd, const char *name)
{
	int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (dup >= 0 && !d)
		close(dup);
	bool removed = false;
	for (struct dirent *e; d && (e = readdir(d));)
		if (is_temp(e->d_name, name) && unlinkat(dfd, e->d_name, 0) == 0)
			removed = true;
	if (d)
		closedir(d);
	return removed;
}

/* Replace name in dfd with data, durably: write_file_durable's steps, with
 * the temporary file named ".NAME.tmp.TID" so that a listing can tell it
 * from a key.  The thread ID makes it unique among the writers alive (one
 * thread writes one file at a time); a file of that name is a dead writer's,
 * so O_TRUNC reuses it.  A writer killed mid-write leaves its temporary
 * file, and the writer that later writes the key (a redone delivery) runs on
 * another thread: so once the new file is in place, the key's leftover
 * temporary files are swept.  (A live writer of the same key whose file is
 * swept finds it gone at its rename and starts again: -EAGAIN.)  0 or
 * -errno; -EAGAIN when the directory was removed under us (a concurrent
 * prune: start again); -EEXIST when a directory took the name. */
static int write_at(int dfd, const char *name, const void *data, size_t len)
{
	char tmp[NAME_MAX + 1];
	int n = snprintf(tmp, sizeof tmp, ".%s" TEMP_INFIX "%ld", name, (long)gettid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -ENAMETOOLONG;
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, OBJECT_MODE);
	if (fd < 0)
		return errno == ENOENT ? -EAGAIN : -errno;
	int r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0) {
		if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST)
			r = -EEXIST;
		else
			r = errno == ENOENT ? -EAGAIN : -errno;
	}
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		return r;
	}
	(void)sweep_temps(dfd, name);
	return fsync(dfd) < 0 ? -errno : 0;
}

/* Remove name from k's directory below root (nothing there is fine), with
 * the temporary files a dead writer of it left, then prune.  0 or -errno. */
static int remove_at(int root, const struct key_path *k, const char *name)
{
	int dir = walk(root, k, k->n - 1, false);
	if (dir == -ENOENT || dir == -ENOTDIR)
		return 0;
	if (dir < 0)
		return dir;
	int r = 0;
	bool removed = false;
	if (unlinkat(dir, name, 0) == 0)
		removed = true;
	else if (errno != ENOENT && errno != EISDIR)   /* EISDIR: a prefix, no object */
		r = -errno;
	if (r == 0 && sweep_temps(dir, name))
		removed = true;
	if (removed && fsync(dir) < 0 && r == 0)
		r = -errno;
	close(dir);
	prune(root, k);
	return r;
}

/* Metadata names are what S3 keeps of x-amz-meta-NAME in lower case, limited
 * here to [a-z0-9-]; values are printable ASCII (S3 can carry other bytes
 * only encoded). */
static bool meta_name_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static bool meta_value_ok(const char *s)
{
	if (!s)
		return false;
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* 0 when info's metadata may be stored (info may be NULL: none), else
 * -EINVAL: a bad name or value, a repeated name, over STORE_META_MAX
 * entries or META_BYTES_MAX bytes. */
static int meta_check(const struct store_object_info *info)
{
	if (!info)
		return 0;
	if (info->n_meta > STORE_META_MAX)
		return -EINVAL;
	size_t total = 0;
	for (size_t i = 0; i < info->n_meta; i++) {
		const struct store_meta_entry *m = &info->meta[i];
		if (!meta_name_ok(m->name) || !meta_value_ok(m->value))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(info->meta[j].name, m->name))
				return -EINVAL;
		total += strlen(m->name) + strlen(m->value);
	}
	return total > META_BYTES_MAX ? -EINVAL : 0;
}

/* The sidecar document, compact: {"size":N,"meta":{"name":"value",...}}.
 * malloc'd, or NULL when memory is exhausted. */
static char *sidecar_build(size_t len, const struct store_object_info *info)
{
	json *doc = json_new_object();
	json *meta = json_new_object();
	if (!doc || !meta) {
		json_free(doc);
		json_free(meta);
		return NULL;
	}
	int r = json_add_number(doc, "size", (double)len);
	if (r == 0)
		r = json_add(doc, "meta", meta);
	else
		json_free(meta);
	for (size_t i = 0; r == 0 && info && i < info->n_meta; i++)
		r = json_add_string(meta, info->meta[i].name, info->meta[i].value);
	char *s = r == 0 ? json_print(doc, false) : NULL;
	json_free(doc);
	return s;
}

/* Append all of fd to out, looping on short reads and EINTR.  0 or -errno
 * (-E2BIG past out's cap). */
static int read_fd(int fd, struct buf *out)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		int r = buf_add(out, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
}

/* Fill info's metadata from sidecar text that describes an object of size
 * bytes.  Text that does not (damaged, or another object's) leaves none.
 * 0 or -ENOMEM. */
static int sidecar_parse(const char *text, size_t len, uint64_t size, struct store_object_info *info)
{
	json *doc = json_parse(text, len, NULL);
	json *sz = json_get(doc, "size");
	json *meta = json_get(doc, "meta");
	int r = 0;
	if (!json_is_number(sz) || json_number(sz) != (double)size || !json_is_object(meta) ||
	    json_size(meta) > STORE_META_MAX)
		goto out;
	for (json *m = json_first(meta); m; m = json_next(m)) {
		const char *v = json_string(m);
		struct store_meta_entry *e = &info->meta[info->n_meta];
		if (!v || !json_key(m))
			goto bad;
		e->name = strdup(json_key(m));
		e->value = strdup(v);
		info->n_meta++;
		if (!e->name || !e->value) {
			r = -ENOMEM;
			goto bad;
		}
	}
	if (meta_check(info) == 0)
		goto out;
bad:
	for (size_t i = 0; i < info->n_meta; i++) {
		free(info->meta[i].name);
		free(info->meta[i].value);
	}
	memset(info->meta, 0, sizeof info->meta);
	info->n_meta = 0;
out:
	json_free(doc);
	return r;
}

/* -errno of a missing or strayed path on the way to a sidecar: no sidecar. */
static int sidecar_absent(int r)
{
	return r == -ENOENT || r == -ENOTDIR || r == -ELOOP || r == -EISDIR || r == -E2BIG ? 0 : r;
}

/* Fill info's metadata from the key's sidecar, if it describes an object of
 * size bytes.  No sidecar, a damaged one, or one for another size (left by
 * a put that crashed between writing it and writing the object) means no
 * metadata: 0.  -errno only for real failures (I/O, memory). */
static int sidecar_read(const struct store_local *l, const char *bucket, const struct key_path *k,
			uint64_t size, struct store_object_info *info)
{
	char name[NAME_MAX + 1];
	if (sidecar_name(name, sizeof name, key_leaf(k)) < 0)
		return 0;
	int mroot = sidecars_open(l, bucket, false);
	if (mroot < 0)
		return sidecar_absent(mroot);
	int mdir = walk(mroot, k, k->n - 1, false);
	close(mroot);
	if (mdir < 0)
		return sidecar_absent(mdir);
	int fd = openat(mdir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int r = fd < 0 ? -errno : 0;
	close(mdir);
	if (r < 0)
		return sidecar_absent(r);
	struct stat st;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -ENOENT;   /* a stray (a FIFO would not even read) */
	struct buf b;
	buf_init(&b, SIDECAR_MAX);
	if (r == 0)
		r = read_fd(fd, &b);
	close(fd);
	if (r == 0)
		r = sidecar_parse(buf_str(&b), b.len, size, info);
	buf_release(&b);
	return sidecar_absent(r);
}

/* Open the object's file for reading, with its stat.  A descriptor, or
 * -ENOENT when the bucket or the key does not exist (a key that is only a
 * prefix of others, a stray link or device, are not objects), or -errno. */
static int object_open(const struct store_local *l, const char *bucket, const struct key_path *k,
		       struct stat *st)
{
	int root = bucket_open(l, bucket);
	if (root < 0)
		return root;
	int dir = walk(root, k, k->n - 1, false);
	close(root);
	if (dir < 0)
		return dir == -ENOTDIR ? -ENOENT : dir;
	/* O_NONBLOCK: a FIFO that strayed in must not hang the open (reads of
	 * a regular file do not block either way). */
	int fd = openat(dir, key_leaf(k), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int r = fd >= 0 ? 0 : errno == ELOOP ? -ENOENT : -errno;
	close(dir);
	if (r == 0 && fstat(fd, st) < 0)
		r = -errno;
	if (r == 0 && !S_ISREG(st->st_mode))
		r = -ENOENT;
	if (r < 0 && fd >= 0)
		close(fd);
	return r < 0 ? r : fd;
}

/* info from the open object's stat and its sidecar. */
static int info_fill(const struct store_local *l, const char *bucket, const struct key_path *k,
		     const struct stat *st, struct store_object_info *info)
{
	info->size = (uint64_t)st->st_size;
	info->mtime = (int64_t)st->st_mtim.tv_sec;
	return sidecar_read(l, bucket, k, info->size, info);
}

/* One attempt of object_put; -EAGAIN when a concurrent prune removed a
 * directory on the key's path, so the caller starts again. */
static int put_once(const struct store_local *l, const char *bucket, const struct key_path *k,
		    const void *data, size_t len, const char *side)
{
	char side_name[NAME_MAX + 1];
	int r = sidecar_name(side_name, sizeof side_name, key_leaf(k));
	if (r < 0)
		return r;
	int root = bucket_open(l, bucket);
	if (root < 0)
		return root;
	int dir = -1, mroot = -1, mdir = -1;
	/* The object's directories first: a key that runs into a file, or a
	 * file name taken by a directory, fails before anything is written. */
	r = dir = walk(root, k, k->n - 1, true);
	if (r >= 0)
		r = file_slot(dir, key_leaf(k));
	if (r >= 0)
		r = mroot = sidecars_open(l, bucket, true);
	if (r >= 0)
		r = mdir = walk(mroot, k, k->n - 1, true);
	if (r >= 0)
		r = file_slot(mdir, side_name);
	/* The sidecar before the object: a crash between the two leaves the
	 * old object (or none) beside a sidecar of the new size, which a read
	 * ignores when the sizes differ.  The other order would leave a new
	 * object described by its predecessor's metadata. */
	if (r >= 0)
		r = write_at(mdir, side_name, side, strlen(side));
	if (r >= 0)
		r = write_at(dir, key_leaf(k), data, len);
	if (r == -ENOTDIR)
		r = -EEXIST;   /* a segment of the key is an object */
	else if (r == -ENOENT)
		r = -EAGAIN;   /* a directory made above was pruned before it was opened */
	if (r < 0) {
		/* Take back directories made for nothing, so that they do not
		 * show as empty prefixes. */
		prune(root, k);
		if (mroot >= 0)
			prune(mroot, k);
	}
	if (mdir >= 0)
		close(mdir);
	if (mroot >= 0)
		close(mroot);
	if (dir >= 0)
		close(dir);
	close(root);
	return r < 0 ? r : 0;
}

/* info->size is ignored: the size is len.  Besides the contract's errors:
 * -ENAMETOOLONG (see key_split), -EINVAL for metadata that meta_check
 * refuses, -EEXIST when the key runs into another key ("a/b" when "a" is
 * an object, or "a" when "a/..." are), including through the sidecars'
 * names (a segment "NAME.json" beside an object NAME). */
static int local_object_put(struct store *s, const char *bucket, const char *key, const void *data,
			    size_t len, const struct store_object_info *info)
{
	if (!name_ok(bucket) || (!data && len))
		return -EINVAL;
	struct key_path k;
	int r = key_split(key, false, &k);
	if (r == 0)
		r = meta_check(info);
	if (r < 0)
		return r;
	char *side = sidecar_build(len, info);
	if (!side)
		return -ENOMEM;
	for (int i = 0; i < PUT_ATTEMPTS; i++) {
		r = put_once(local(s), bucket, &k, data, len, side);
		if (r != -EAGAIN)
			break;
	}
	free(side);
	return r;
}

/* info is overwritten, not released, first; after an error it holds
 * nothing, so releasing it is always safe.  On an error out is as it was. */
static int local_object_get(struct store *s, const char *bucket, const char *key, struct buf *out,
			    struct store_object_info *info)
{
	if (info)
		memset(info, 0, sizeof *info);
	if (!name_ok(bucket))
		return -EINVAL;
	struct key_path k;
	int r = key_split(key, false, &k);
	if (r < 0)
		return r == -ENAMETOOLONG ? -ENOENT : r;
	struct stat st;
	int fd = object_open(local(s), bucket, &k, &st);
	if (fd < 0)
		return fd;
	/* Objects are replaced by rename, never written in place, so what the
	 * open descriptor reads is the object st describes. */
	size_t old_len = out->len;
	r = read_fd(fd, out);
	close(fd);
	if (r == 0 && info)
		r = info_fill(local(s), bucket, &k, &st, info);
	if (r < 0) {
		out->len = old_len;
		if (out->data)
			out->data[old_len] = '\0';
		store_object_info_release(info);
	}
	return r;
}

/* info as for get; info may be NULL (an existence test). */
static int local_object_head(struct store *s, const char *bucket, const char *key,
			     struct store_object_info *info)
{
	if (info)
		memset(info, 0, sizeof *info);
	if (!name_ok(bucket))
		return -EINVAL;
	struct key_path k;
	int r = key_split(key, false, &k);
	if (r < 0)
		return r == -ENAMETOOLONG ? -ENOENT : r;
	struct stat st;
	int fd = object_open(local(s), bucket, &k, &st);
	if (fd < 0)
		return fd;
	close(fd);
	r = info ? info_fill(local(s), bucket, &k, &st, info) : 0;
	if (r < 0)
		store_object_info_release(info);
	return r;
}

/* A growing array of malloc'd strings, capped at LIST_MAX for a listing. */
struct name_list {
	char **v;
	size_t n, cap;
};

/* Add prefix + name (+ "/" for a directory).  A full name over
 * STORE_KEY_MAX bytes strayed in (no put makes one) and is skipped. */
static int name_list_add(struct name_list *nl, size_t *total, const char *prefix, const char *name,
			 bool dir)
{
	struct buf b;
	buf_init(&b, STORE_KEY_MAX);
	int r = buf_printf(&b, "%s%s%s", prefix, name, dir ? "/" : "");
	if (r == -E2BIG) {
		buf_release(&b);
		return 0;
	}
	if (r == 0 && ++*total > LIST_MAX)
		r = -E2BIG;
	if (r == 0 && nl->n == nl->cap) {
		size_t ncap = nl->cap ? 2 * nl->cap : 16;
		char **nv = realloc(nl->v, ncap * sizeof *nv);
		if (nv) {
			nl->v = nv;
			nl->cap = ncap;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0 && !(nl->v[nl->n] = buf_take(&b)))
		r = -ENOMEM;
	if (r == 0)
		nl->n++;
	buf_release(&b);
	return r;
}

/* Besides the contract's errors: -EINVAL for a prefix that is not "" and
 * does not end in '/', or that breaks the key rules (key_split).  A prefix
 * with no directory (nothing under it) lists empty.  Entries whose names
 * begin with '.' are temporary files of unfinished puts and are skipped.
 * An empty directory (left by a crash) shows as a prefix until a delete or
 * bucket delete takes it.  -E2BIG past LIST_MAX entries. */
static int local_object_list(struct store *s, const char *bucket, const char *prefix,
			     struct store_listing *out)
{
	memset(out, 0, sizeof *out);
	if (!name_ok(bucket))
		return -EINVAL;
	struct key_path k;
	int r = key_split(prefix, true, &k);
	if (r < 0 && r != -ENAMETOOLONG)
		return r;
	int root = bucket_open(local(s), bucket);
	if (root < 0)
		return root;
	/* A segment too long to be stored: no key has that prefix. */
	int dir = r < 0 ? -ENOENT : walk(root, &k, k.n, false);
	close(root);
	if (dir == -ENOENT || dir == -ENOTDIR)
		return 0;
	if (dir < 0)
		return dir;
	DIR *d = fdopendir(dir);
	if (!d) {
		r = -errno;
		close(dir);
		return r;
	}
	struct name_list keys = { 0 }, prefixes = { 0 };
	size_t total = 0;
	r = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			r = -errno;
			break;
		}
		if (e->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			break;
		}
		if (S_ISREG(st.st_mode))
			r = name_list_add(&keys, &total, prefix, e->d_name, false);
		else if (S_ISDIR(st.st_mode))
			r = name_list_add(&prefixes, &total, prefix, e->d_name, true);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0) {
		store_names_free(keys.v, keys.n);
		store_names_free(prefixes.v, prefixes.n);
		return r;
	}
	/* strcmp compares as unsigned char: UTF-8 byte order, as S3 lists. */
	if (keys.n)
		qsort(keys.v, keys.n, sizeof *keys.v, by_name);
	if (prefixes.n)
		qsort(prefixes.v, prefixes.n, sizeof *prefixes.v, by_name);
	out->keys = keys.v;
	out->n_keys = keys.n;
	out->prefixes = prefixes.v;
	out->n_prefixes = prefixes.n;
	return 0;
}

static int local_object_delete(struct store *s, const char *bucket, const char *key)
{
	struct store_local *l = local(s);
	if (!name_ok(bucket))
		return -EINVAL;
	struct key_path k;
	int r = key_split(key, false, &k);
	if (r < 0 && r != -ENAMETOOLONG)
		return r;
	int root = bucket_open(l, bucket);
	if (root < 0 || r < 0) {
		/* A key too long to store was never stored. */
		if (root >= 0)
			close(root);
		return root < 0 ? root : 0;
	}
	/* The object before its sidecar: a crash between leaves a sidecar
	 * without an object, which the next put of the key replaces, never an
	 * object without its metadata. */
	r = remove_at(root, &k, key_leaf(&k));
	close(root);
	char side_name[NAME_MAX + 1];
	if (r == 0)
		r = sidecar_name(side_name, sizeof side_name, key_leaf(&k));
	int mroot = r == 0 ? sidecars_open(l, bucket, false) : r;
	if (mroot < 0)
		return mroot == -ENOENT ? 0 : mroot;   /* no sidecars at all */
	r = remove_at(mroot, &k, side_name);
	close(mroot);
	return r;
}

void store_object_info_release(struct store_object_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->n_meta && i < STORE_META_MAX; i++) {
		free(info->meta[i].name);
		free(info->meta[i].value);
	}
	memset(info, 0, sizeof *info);
}

const char *store_meta_get(const struct store_object_info *info, const char *name)
{
	if (!info || !name)
		return NULL;
	for (size_t i = 0; i < info->n_meta && i < STORE_META_MAX; i++)
		if (info->meta[i].name && !strcmp(info->meta[i].name, name))
			return info->meta[i].value;
	return NULL;
}

void store_listing_release(struct store_listing *l)
{
	if (!l)
		return;
	store_names_free(l->keys, l->n_keys);
	store_names_free(l->prefixes, l->n_prefixes);
	memset(l, 0, sizeof *l);
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
	.object_put = local_object_put,
	.object_get = local_object_get,
	.object_head = local_object_head,
	.object_list = local_object_list,
	.object_delete = local_object_delete,
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
