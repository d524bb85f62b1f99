/* A verify source over a trailfs mount.
 *
 * The contract with the filesystem (fs/):
 *   MNT/trails/NAME/digests/REGION/YYYY/MM/DD/<digest name without .gz>
 *       the digest's uncompressed JSON; a read error (EIO) means the object
 *       is not valid gzip; its metadata as the xattrs user.trailfs.signature,
 *       user.trailfs.signature-algorithm and
 *       user.trailfs.backfill-generation-timestamp (absent when the object
 *       has none);
 *   MNT/trails/NAME/raw/REGION/YYYY/MM/DD/<log file name>
 *       the log object's bytes exactly;
 *   MNT/public-keys/REGION/keys.json and FINGERPRINT.pem.
 * An S3 key maps to a path by dropping PREFIX/AWSLogs/ACCOUNT/CloudTrail/
 * (to raw/) or .../CloudTrail-Digest/ (to digests/, and ".gz" from the
 * end).  Only the trail's own bucket is visible through the mount. */
#include "validate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"

#define MOUNT_PATH_MAX 4096
#define XATTR_MAX      4096

struct mount_src {
	char *mnt, *trail, *bucket;
	char *digest_base;     /* [PREFIX/]AWSLogs/ACCOUNT/CloudTrail-Digest/ */
	char *log_base;        /* [PREFIX/]AWSLogs/ACCOUNT/CloudTrail/ */
};

static void mount_free(void *ctx)
{
	struct mount_src *m = ctx;
	if (!m)
		return;
	free(m->mnt);
	free(m->trail);
	free(m->bucket);
	free(m->digest_base);
	free(m->log_base);
	free(m);
}

static bool starts_with(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* A relative path taken from a key must stay inside its view. */
static bool rel_ok(const char *rel)
{
	if (!*rel || rel[0] == '/')
		return false;
	for (const char *p = rel; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	for (const char *s = rel;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!e)
			return true;
		s = e + 1;
	}
}

static int path_of(const struct mount_src *m, const char *key, bool digest, struct buf *out)
{
	const char *base = digest ? m->digest_base : m->log_base;
	if (!starts_with(key, base))
		return -ENOENT;
	const char *rel = key + strlen(base);
	size_t n = strlen(rel);
	if (digest) {
		if (n < 4 || strcmp(rel + n - 3, ".gz"))
			return -ENOENT;
		n -= 3;
	}
	char *r = strndup(rel, n);
	if (!r)
		return -ENOMEM;
	int ret = rel_ok(r) ? buf_printf(out, "%s/trails/%s/%s/%s", m->mnt, m->trail,
					 digest ? "digests" : "raw", r) : -ENOENT;
	free(r);
	return ret == -E2BIG ? -ENOENT : ret;
}

static int xattr_get(const char *path, const char *name, char **out)
{
	char v[XATTR_MAX + 1];
	ssize_t n = getxattr(path, name, v, XATTR_MAX);
	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP || errno == ERANGE ? 0 : -errno;
	v[n] = '\0';
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

static int mount_get(void *ctx, const char *bucket, const char *key, enum verify_kind kind,
		     struct verify_object *out)
{
	struct mount_src *m = ctx;
	if (strcmp(bucket, m->bucket))
		return -ENXIO;
	bool digest = kind == VERIFY_OBJECT_DIGEST;
	struct buf path;
	buf_init(&path, MOUNT_PATH_MAX);
	int r = path_of(m, key, digest, &path);
	if (r < 0) {
		buf_release(&path);
		return r;
	}
	struct stat st;
	if (stat(path.data, &st) < 0) {
		r = errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
		buf_release(&path);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		/* a directory or a stray: no such object */
		buf_release(&path);
		return -ENOENT;
	}
	r = read_file(path.data, &out->body);
	if (digest) {
		out->inflated = true;
		if (r == -EIO) {
			out->unreadable = true;
			r = 0;
		}
		if (r == 0)
			r = xattr_get(path.data, "user.trailfs.signature", &out->signature);
		if (r == 0)
			r = xattr_get(path.data, "user.trailfs.signature-algorithm", &out->signature_algorithm);
		if (r == 0)
			r = xattr_get(path.data, "user.trailfs.backfill-generation-timestamp",
				      &out->backfill_timestamp);
	}
	buf_release(&path);
	return r == -ENOENT ? -ENOENT : r;
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk dir (whose keys begin with keybase), keys in byte order: a file
 * NAME is the key keybase NAME ".gz", a directory the prefix keybase NAME "/". */
static int mount_walk(const char *dir, const char *keybase, const char *prefix, const char *marker,
		      verify_key_fn fn, void *arg, int depth)
{
	if (depth > 8)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *full = NULL;
		struct buf p;
		buf_init(&p, MOUNT_PATH_MAX);
		r = buf_printf(&p, "%s/%s", dir, e->d_name);
		struct stat st;
		bool isdir = r == 0 && stat(p.data, &st) == 0 && S_ISDIR(st.st_mode);
		bool isreg = r == 0 && !isdir && stat(p.data, &st) == 0 && S_ISREG(st.st_mode);
		buf_release(&p);
		if (r < 0)
			break;
		if (!isdir && !isreg)
			continue;
		struct buf k;
		buf_init(&k, MOUNT_PATH_MAX);
		r = buf_printf(&k, "%s%s%s", keybase, e->d_name, isdir ? "/" : ".gz");
		full = r == 0 ? buf_take(&k) : NULL;
		buf_release(&k);
		if (r < 0 || !full) {
			r = r < 0 ? r : -ENOMEM;
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 32;
			char **nv = realloc(v, ncap * sizeof *nv);
			if (!nv) {
				free(full);
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		v[n++] = full;
	}
	closedir(d);
	if (n && r == 0)
		qsort(v, n, sizeof *v, by_string);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const char *e = v[i];
		size_t len = strlen(e);
		if (e[len - 1] != '/') {
			if (starts_with(e, prefix) && strcmp(e, marker) > 0)
				r = fn(arg, e);
			continue;
		}
		if (!starts_with(e, prefix) && !starts_with(prefix, e))
			continue;
		if (strcmp(marker, e) > 0 && !starts_with(marker, e))
			continue;
		struct buf sub;
		buf_init(&sub, MOUNT_PATH_MAX);
		const char *name = e + strlen(keybase);
		r = buf_printf(&sub, "%s/%.*s", dir, (int)(strlen(name) - 1), name);
		if (r == 0)
			r = mount_walk(sub.data, e, prefix, marker, fn, arg, depth + 1);
		buf_release(&sub);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return r;
}

static int mount_list(void *ctx, const char *bucket, const char *prefix, const char *marker,
		      verify_key_fn fn, void *arg)
{
	struct mount_src *m = ctx;
	if (strcmp(bucket, m->bucket))
		return -ENXIO;
	/* Only digests are listed through the mount. */
	const char *base = m->digest_base;
	size_t bl = strlen(base);
	if (strncmp(prefix, base, strlen(prefix) < bl ? strlen(prefix) : bl))
		return 0;
	struct buf dir;
	buf_init(&dir, MOUNT_PATH_MAX);
	int r = buf_printf(&dir, "%s/trails/%s/digests", m->mnt, m->trail);
	if (r == 0)
		r = mount_walk(dir.data, base, prefix, marker ? marker : "", fn, arg, 0);
	buf_release(&dir);
	return r < 0 ? r : 0;
}

static const struct verify_source_ops mount_ops = {
	.list = mount_list,
	.get = mount_get,
	.free = mount_free,
};

int validate_mount_source(const char *mnt, const char *trail, const char *bucket,
			  const char *prefix, const char *account, struct verify_source *out)
{
	struct mount_src *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	bool p = prefix && *prefix;
	m->mnt = strdup(mnt);
	m->trail = strdup(trail);
	m->bucket = strdup(bucket);
	struct buf b;
	buf_init(&b, MOUNT_PATH_MAX);
	if (buf_printf(&b, "%s%sAWSLogs/%s/CloudTrail-Digest/", p ? prefix : "", p ? "/" : "", account) == 0)
		m->digest_base = buf_take(&b);
	buf_release(&b);
	buf_init(&b, MOUNT_PATH_MAX);
	if (buf_printf(&b, "%s%sAWSLogs/%s/CloudTrail/", p ? prefix : "", p ? "/" : "", account) == 0)
		m->log_base = buf_take(&b);
	buf_release(&b);
	if (!m->mnt || !m->trail || !m->bucket || !m->digest_base || !m->log_base) {
		mount_free(m);
		return -ENOMEM;
	}
	out->ops = &mount_ops;
	out->ctx = m;
	return 0;
}

int validate_mount_keys(const char *mnt, const char *region, struct verify_keys *ks)
{
	if (strchr(region, '/') || !strcmp(region, "..") || !strcmp(region, "."))
		return -EINVAL;
	struct buf p;
	buf_init(&p, MOUNT_PATH_MAX);
	int r = buf_printf(&p, "%s/public-keys/%s/keys.json", mnt, region);
	if (r == 0) {
		struct buf text;
		buf_init(&text, 16u << 20);
		r = read_file(p.data, &text);
		if (r == 0)
			r = verify_keys_parse_list(ks, text.data, text.len);
		buf_release(&text);
	}
	if (r == -ENOENT) {
		/* No keys.json: the PEM files, always valid. */
		buf_reset(&p);
		r = buf_printf(&p, "%s/public-keys/%s", mnt, region);
		DIR *d = r == 0 ? opendir(p.data) : NULL;
		if (r == 0 && !d)
			r = errno == ENOENT ? 0 : -errno;
		for (struct dirent *e; d && r == 0 && (e = readdir(d));) {
			size_t n = strlen(e->d_name);
			if (e->d_name[0] == '.' || n < 5 || strcmp(e->d_name + n - 4, ".pem"))
				continue;
			struct buf f, text;
			buf_init(&f, MOUNT_PATH_MAX);
			buf_init(&text, 1u << 20);
			r = buf_printf(&f, "%s/%s", p.data, e->d_name);
			if (r == 0)
				r = read_file(f.data, &text);
			if (r == 0)
				r = verify_keys_parse_pem(ks, buf_str(&text), text.len);
			buf_release(&f);
			buf_release(&text);
		}
		if (d)
			closedir(d);
	}
	buf_release(&p);
	return r;
}
