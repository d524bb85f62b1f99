/* FUSE low-level operations: translate an inode into a place in the tree,
 * call the backend, reply.  Every rejection with an AWS error name is also
 * written to /errors. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct_kms.h"
#include "fs.h"
#include "settings.h"
#include "store.h"

#define PATH_CAP 4096
/* Control-plane files change under their names: the kernel may keep names
 * for a second, but must ask for sizes every time. */
#define ENTRY_TIMEOUT 1.0
#define ATTR_TIMEOUT 0.0
/* Delivered files never change: the kernel may keep their names,
 * attributes and pages (keep_cache) for as long as it likes. */
#define VIEW_TIMEOUT 86400.0
#define PATH_PARTS 8

enum kind {
	N_NONE, N_ROOT, N_ERRORS, N_TRAILS, N_TRAIL, N_SETTING, N_TRAIL_SCRATCH,
	N_BUCKETS, N_BUCKET, N_POLICY, N_BUCKET_SCRATCH,
	N_EVENTS, N_VIEW_DIR, N_VIEW_FILE,
	N_PUBKEYS, N_PUBKEYS_REGION, N_PUBKEY_FILE, N_PUBKEYS_ROTATE,
	N_KEYS, N_KEY, N_KEY_FILE, N_KEY_SCRATCH,
};

static bool is_scratch(enum kind k)
{
	return k == N_TRAIL_SCRATCH || k == N_BUCKET_SCRATCH || k == N_KEY_SCRATCH;
}

/* /public-keys/REGION/: the region's signing keys as ListPublicKeys gives
 * them (keys.json), each as FINGERPRINT.pem, and rotate (write "now"). */
#define PUBKEYS_LIST   "keys.json"
#define PUBKEYS_ROTATE "rotate"
#define PEM_SUFFIX     ".pem"

/* A place in the tree, parsed from a path (existence is checked apart). */
struct where {
	enum kind kind;
	char path[PATH_CAP];
	char dir[PATH_CAP];             /* the directory, for scratch files */
	char name[NAME_MAX + 1];        /* trail, bucket or key (its alias's NAME) */
	char file[NAME_MAX + 1];        /* the file inside it */
	enum ct_view view;              /* N_VIEW_*: logs/, raw/ or digests/ */
	char sub[PATH_CAP];             /* N_VIEW_*: the path below the view */
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Split path into at most PATH_PARTS components; false if deeper or too long. */
static bool split(const char *path, char parts[PATH_PARTS][NAME_MAX + 1], int *n)
{
	*n = 0;
	const char *p = path;
	while (*p == '/')
		p++;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (*n == PATH_PARTS || len > NAME_MAX)
			return false;
		memcpy(parts[*n], p, len);
		parts[*n][len] = '\0';
		(*n)++;
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

static void classify(const char *path, struct where *w)
{
	char parts[PATH_PARTS][NAME_MAX + 1];
	int n;
	memset(w, 0, sizeof *w);
	snprintf(w->path, sizeof w->path, "%s", path);
	if (!split(path, parts, &n))
		return;
	if (n == 0) {
		w->kind = N_ROOT;
		return;
	}
	bool trails = !strcmp(parts[0], "trails"), buckets = !strcmp(parts[0], "buckets");
	bool keys = !strcmp(parts[0], "keys");
	if (n == 1) {
		w->kind = !strcmp(parts[0], "errors") ? N_ERRORS : !strcmp(parts[0], "events") ? N_EVENTS
			: trails ? N_TRAILS : buckets ? N_BUCKETS : keys ? N_KEYS
			: !strcmp(parts[0], "public-keys") ? N_PUBKEYS : N_NONE;
		return;
	}
	if (!strcmp(parts[0], "public-keys")) {
		snprintf(w->name, sizeof w->name, "%s", parts[1]);
		if (n == 2) {
			w->kind = N_PUBKEYS_REGION;
		} else if (n == 3) {
			snprintf(w->file, sizeof w->file, "%s", parts[2]);
			w->kind = !strcmp(parts[2], PUBKEYS_ROTATE) ? N_PUBKEYS_ROTATE : N_PUBKEY_FILE;
		}
		return;
	}
	if (!trails && !buckets && !keys)
		return;
	snprintf(w->name, sizeof w->name, "%s", parts[1]);
	if (n == 2) {
		w->kind = trails ? N_TRAIL : buckets ? N_BUCKET : N_KEY;
		return;
	}
	snprintf(w->file, sizeof w->file, "%s", parts[2]);
	snprintf(w->dir, sizeof w->dir, "/%s/%s", parts[0], parts[1]);
	if (trails && (!strcmp(parts[2], "logs") || !strcmp(parts[2], "raw") ||
		       !strcmp(parts[2], "digests"))) {
		w->view = parts[2][0] == 'l' ? CT_VIEW_LOGS : parts[2][0] == 'r' ? CT_VIEW_RAW
					     : CT_VIEW_DIGESTS;
		for (int i = 3; i < n; i++) {
			size_t len = strlen(w->sub);
			snprintf(w->sub + len, sizeof w->sub - len, "%s%s", i > 3 ? "/" : "", parts[i]);
		}
		/* REGION/YYYY/MM/DD/NAME: five levels down is a file. */
		w->kind = n - 3 >= 5 ? N_VIEW_FILE : N_VIEW_DIR;
		if (n - 3 > 5)
			w->kind = N_NONE;
		return;
	}
	if (n > 3)
		return;
	if (keys)
		w->kind = settings_key_file(parts[2]) != SETTING_NONE ? N_KEY_FILE : N_KEY_SCRATCH;
	else if (trails)
		w->kind = settings_trail_file(parts[2]) != SETTING_NONE ? N_SETTING : N_TRAIL_SCRATCH;
	else
		w->kind = !strcmp(parts[2], SETTINGS_BUCKET_POLICY) ? N_POLICY : N_BUCKET_SCRATCH;
}

static bool bucket_name_plausible(const char *name)
{
	return name[0] && name[0] != '.' && strlen(name) <= CT_BUCKET_NAME_MAX;
}

/* A key file's text: keys.json or FINGERPRINT.pem (who: the caller, whose
 * read is recorded; NULL for a stat). */
static int pubkey_text(struct fs *fs, const struct ct_caller *who, const struct where *w,
		       struct buf *out, struct ct_err *err)
{
	if (!strcmp(w->file, PUBKEYS_LIST))
		return ct_public_keys_json(fs->ct, who, w->name, out, err);
	size_t n = strlen(w->file), sl = strlen(PEM_SUFFIX);
	if (n <= sl || strcmp(w->file + n - sl, PEM_SUFFIX))
		return -ENOENT;
	char fp[NAME_MAX + 1];
	snprintf(fp, sizeof fp, "%.*s", (int)(n - sl), w->file);
	return ct_public_key_pem(fs->ct, who, w->name, fp, out, err);
}

static bool pubkey_file_exists(struct fs *fs, const struct where *w)
{
	if (!ct_region_known(fs->ct, w->name))
		return false;
	if (!strcmp(w->file, PUBKEYS_LIST))
		return true;
	struct buf b;
	buf_init(&b, 64 * 1024);
	bool ok = pubkey_text(fs, NULL, w, &b, NULL) == 0;
	buf_release(&b);
	return ok;
}

static bool exists(struct fs *fs, const struct where *w)
{
	struct scratch_stat st;
	switch (w->kind) {
	case N_NONE: return false;
	case N_ROOT: case N_ERRORS: case N_TRAILS: case N_BUCKETS: case N_EVENTS: case N_PUBKEYS:
	case N_KEYS:
		return true;
	case N_PUBKEYS_REGION: case N_PUBKEYS_ROTATE: return ct_region_known(fs->ct, w->name);
	case N_PUBKEY_FILE: return pubkey_file_exists(fs, w);
	case N_KEY: case N_KEY_FILE: return ct_kms_exists(fs->ct, w->name);
	case N_KEY_SCRATCH:
		return ct_kms_exists(fs->ct, w->name) &&
		       scratch_stat(&fs->scratch, w->dir, w->file, &st) == 0;
	case N_VIEW_DIR: case N_VIEW_FILE: {
		bool dir;
		uint64_t size;
		int64_t mtime;
		return ct_view_stat(fs->ct, w->name, w->view, w->sub, &dir, &size, &mtime) == 0 &&
		       dir == (w->kind == N_VIEW_DIR);
	}
	case N_TRAIL: case N_SETTING: return ct_trail_exists(fs->ct, w->name);
	case N_TRAIL_SCRATCH:
		return ct_trail_exists(fs->ct, w->name) &&
		       scratch_stat(&fs->scratch, w->dir, w->file, &st) == 0;
	case N_BUCKET: case N_POLICY:
		return bucket_name_plausible(w->name) && ct_bucket_exists(fs->ct, w->name);
	case N_BUCKET_SCRATCH:
		return bucket_name_plausible(w->name) && ct_bucket_exists(fs->ct, w->name) &&
		       scratch_stat(&fs->scratch, w->dir, w->file, &st) == 0;
	}
	return false;
}

static bool is_dir(enum kind k)
{
	return k == N_ROOT || k == N_TRAILS || k == N_TRAIL || k == N_BUCKETS || k == N_BUCKET ||
	       k == N_VIEW_DIR || k == N_PUBKEYS || k == N_PUBKEYS_REGION || k == N_KEYS ||
	       k == N_KEY;
}

/* The caller, for /errors and (later) for the events every action makes. */
static void caller_of(fuse_req_t req, struct ct_caller *c)
{
	const struct fuse_ctx *x = fuse_req_ctx(req);
	memset(c, 0, sizeof *c);
	c->uid = x->uid;
	c->gid = x->gid;
	c->pid = x->pid;
	struct passwd pw, *res = NULL;
	char text[1024];
	if (getpwuid_r(x->uid, &pw, text, sizeof text, &res) == 0 && res)
		snprintf(c->user, sizeof c->user, "%s", pw.pw_name);
	else
		snprintf(c->user, sizeof c->user, "%u", (unsigned)x->uid);
	char comm[64];
	snprintf(comm, sizeof comm, "/proc/%d/comm", (int)x->pid);
	FILE *f = fopen(comm, "re");
	if (f) {
		if (fgets(c->program, sizeof c->program, f))
			c->program[strcspn(c->program, "\n")] = '\0';
		fclose(f);
	}
}

/* Reply with an error; when err names an AWS error, write it to /errors. */
static void fail(fuse_req_t req, const char *op, const char *path, int r, const struct ct_err *err)
{
	if (err && err->name[0]) {
		struct ct_caller who;
		caller_of(req, &who);
		ct_record_error(fs_of(req)->ct, &who, op, path, err);
	}
	fuse_reply_err(req, r < 0 ? -r : r);
}

/* A rejection made here in the driver, with its AWS-style name. */
static void refuse(fuse_req_t req, const char *op, const char *path, const char *name,
		   const char *msg)
{
	struct ct_err err;
	int r = ct_fail(&err, name, "%s", msg);
	fail(req, op, path, r, &err);
}

static size_t content_size(struct fs *fs, const struct where *w)
{
	struct buf b;
	buf_init(&b, CT_SETTING_MAX * 4);
	struct scratch_stat st;
	size_t n = 0;
	switch (w->kind) {
	case N_SETTING:
		if (settings_read(fs->ct, NULL, w->name, w->file, &b, NULL) == 0)
			n = b.len;
		break;
	case N_POLICY:
		if (settings_bucket_read(fs->ct, NULL, w->name, &b, NULL) == 0)
			n = b.len;
		break;
	case N_ERRORS:
		if (ct_render_errors(fs->ct, &b) == 0)
			n = b.len;
		break;
	case N_KEY_FILE:
		if (settings_key_read(fs->ct, NULL, w->name, w->file, &b, NULL) == 0)
			n = b.len;
		break;
	case N_TRAIL_SCRATCH:
	case N_BUCKET_SCRATCH:
	case N_KEY_SCRATCH:
		if (scratch_stat(&fs->scratch, w->dir, w->file, &st) == 0)
			n = st.size;
		break;
	case N_PUBKEY_FILE:
		if (pubkey_text(fs, NULL, w, &b, NULL) == 0)
			n = b.len;
		break;
	default:
		break;
	}
	buf_release(&b);
	return n;
}

static void fill_stat(struct fs *fs, const struct where *w, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_atime = st->st_mtime = st->st_ctime = fs->mount_time;
	st->st_blksize = 4096;
	struct scratch_stat ss;
	if (w->kind == N_VIEW_DIR || w->kind == N_VIEW_FILE) {
		bool dir;
		uint64_t size = 0;
		int64_t mtime = 0;
		ct_view_stat(fs->ct, w->name, w->view, w->sub, &dir, &size, &mtime);
		st->st_mode = w->kind == N_VIEW_DIR ? S_IFDIR | 0555 : S_IFREG | 0444;
		st->st_nlink = w->kind == N_VIEW_DIR ? 2 : 1;
		st->st_size = (off_t)size;
		st->st_blocks = (st->st_size + 511) / 512;
		if (mtime)
			st->st_atime = st->st_mtime = st->st_ctime = (time_t)mtime;
		return;
	}
	if (w->kind == N_EVENTS) {
		/* Write-only: its owner and the ingest group may append. */
		st->st_mode = S_IFREG | (fs->ingest_gid_set ? 0220 : 0200);
		st->st_nlink = 1;
		if (fs->ingest_gid_set)
			st->st_gid = fs->ingest_gid;
		return;
	}
	if (w->kind == N_PUBKEYS || w->kind == N_PUBKEYS_REGION) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else if (is_dir(w->kind)) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_nlink = 1;
		switch (w->kind) {
		case N_ERRORS:
		case N_PUBKEY_FILE:
			st->st_mode = S_IFREG | 0444;
			break;
		case N_PUBKEYS_ROTATE:
			st->st_mode = S_IFREG | 0200;
			break;
		case N_SETTING:
			st->st_mode = S_IFREG |
				(settings_trail_file(w->file) == SETTING_RW ? 0644 : 0444);
			break;
		case N_POLICY:
			st->st_mode = S_IFREG | 0644;
			break;
		case N_KEY_FILE:
			/* Only the mount owner administers keys: the same modes
			 * as a trail's settings. */
			st->st_mode = S_IFREG |
				(settings_key_file(w->file) == SETTING_RW ? 0644 : 0444);
			break;
		default:
			st->st_mode = S_IFREG | 0600;
			if (scratch_stat(&fs->scratch, w->dir, w->file, &ss) == 0) {
				st->st_mode = S_IFREG | ss.mode;
				st->st_mtime = st->st_ctime = ss.mtime;
			}
			break;
		}
		st->st_size = (off_t)content_size(fs, w);
		st->st_blocks = (st->st_size + 511) / 512;
	}
}

/* The place of an inode.  -ENOENT for a stale one. */
static int where_of(struct fs *fs, fuse_ino_t ino, struct where *w)
{
	struct buf p;
	buf_init(&p, PATH_CAP - 1);
	int r = nodes_path(&fs->nodes, ino, &p);
	if (r == 0)
		classify(p.data, w);
	buf_release(&p);
	return r;
}

/* The place of name inside directory parent. */
static int child_of(struct fs *fs, fuse_ino_t parent, const char *name, struct where *w)
{
	struct buf p;
	buf_init(&p, PATH_CAP - 1);
	int r = nodes_path(&fs->nodes, parent, &p);
	if (r == 0)
		r = buf_printf(&p, "%s%s", strcmp(p.data, "/") ? "/" : "", name);
	if (r == 0)
		classify(p.data, w);
	buf_release(&p);
	return r == -E2BIG ? -ENAMETOOLONG : r;
}

/* child_of for a callback: on failure the error is the reply. */
static bool resolve_child(fuse_req_t req, struct fs *fs, fuse_ino_t parent, const char *name,
			  struct where *w)
{
	int r = child_of(fs, parent, name, w);
	if (r < 0)
		fuse_reply_err(req, -r);
	return r == 0;
}

static void reply_entry(fuse_req_t req, struct fs *fs, const struct where *w)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof e);
	e.ino = nodes_lookup(&fs->nodes, w->path);
	if (!e.ino) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fill_stat(fs, w, e.ino, &e.attr);
	bool view = w->kind == N_VIEW_FILE || w->kind == N_VIEW_DIR;
	e.attr_timeout = view ? VIEW_TIMEOUT : ATTR_TIMEOUT;
	e.entry_timeout = view ? VIEW_TIMEOUT : ENTRY_TIMEOUT;
	if (fuse_reply_entry(req, &e) != 0)
		nodes_forget(&fs->nodes, e.ino, 1);
}

/* ---- lookup and attributes ---- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct where w;
	if (!resolve_child(req, fs, parent, name, &w))
		return;
	if (!exists(fs, &w)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	reply_entry(req, fs, &w);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	nodes_forget(&fs_of(req)->nodes, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *list)
{
	for (size_t i = 0; i < count; i++)
		nodes_forget(&fs_of(req)->nodes, list[i].ino, list[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct fs *fs = fs_of(req);
	struct where w;
	if (where_of(fs, ino, &w) < 0 || !exists(fs, &w)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct stat st;
	fill_stat(fs, &w, ino, &st);
	fuse_reply_attr(req, &st, w.kind == N_VIEW_FILE || w.kind == N_VIEW_DIR ? VIEW_TIMEOUT
									     : ATTR_TIMEOUT);
}

/* Truncation of a setting changes nothing (a value is replaced by writing
 * it, and O_TRUNC must not clear it); times are not kept; owners and modes
 * are the mount's.  Scratch files behave like files. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)fi;
	struct fs *fs = fs_of(req);
	struct where w;
	if (where_of(fs, ino, &w) < 0 || !exists(fs, &w)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	bool scratch = is_scratch(w.kind);
	int r = 0;
	if (scratch) {
		if (to_set & FUSE_SET_ATTR_SIZE)
			r = scratch_truncate(&fs->scratch, w.dir, w.file, attr->st_size);
		if (r == 0 && (to_set & FUSE_SET_ATTR_MODE))
			r = scratch_chmod(&fs->scratch, w.dir, w.file, attr->st_mode);
		/* chown to the mount owner (sed -i does it) is a no-op */
		if (r == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
		    (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->uid) ||
		     ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->gid)))
			r = -EPERM;
	} else if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		refuse(req, "setattr", w.path, "OperationNotPermittedException",
		       "modes and owners in trailfs are fixed: the mount owner administers, "
		       "others read");
		return;
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	struct stat st;
	fill_stat(fs, &w, ino, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

/* ---- directories ---- */

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)mode;
	struct fs *fs = fs_of(req);
	struct where w;
	if (!resolve_child(req, fs, parent, name, &w))
		return;
	int r = 0;
	struct ct_caller who;
	caller_of(req, &who);
	struct ct_err err;
	ct_err_clear(&err);
	if (w.kind == N_TRAIL)
		r = ct_create_trail(fs->ct, &who, w.name, &err);
	else if (w.kind == N_BUCKET)
		r = ct_create_bucket(fs->ct, &who, w.name, &err);
	else if (w.kind == N_KEY)
		r = ct_kms_create(fs->ct, &who, w.name, &err);
	else if (exists(fs, &w))
		r = -EEXIST;
	else
		r = ct_fail(&err, "OperationNotPermittedException",
			    "directories are made only in /trails (a trail), /buckets (a bucket) "
			    "and /keys (a key)");
	if (r < 0) {
		fail(req, "mkdir", w.path, r, &err);
		return;
	}
	reply_entry(req, fs, &w);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct where w;
	if (!resolve_child(req, fs, parent, name, &w))
		return;
	int r = 0;
	struct ct_caller who;
	caller_of(req, &who);
	struct ct_err err;
	ct_err_clear(&err);
	if (w.kind == N_TRAIL)
		r = ct_delete_trail(fs->ct, &who, w.name, &err);
	else if (w.kind == N_BUCKET)
		r = bucket_name_plausible(w.name) ? ct_delete_bucket(fs->ct, &who, w.name, &err)
						  : -ENOENT;
	else if (w.kind == N_KEY)
		r = ct_kms_exists(fs->ct, w.name)
			? ct_kms_schedule_deletion(fs->ct, &who, w.name, &err) : -ENOENT;
	else if (!exists(fs, &w))
		r = -ENOENT;
	else if (!is_dir(w.kind))
		r = -ENOTDIR;
	else
		r = ct_fail(&err, "OperationNotPermittedException",
			    "only trails, buckets and keys can be removed");
	if (r < 0) {
		fail(req, "rmdir", w.path, r, &err);
		return;
	}
	/* A key pending deletion stays listed (and its editors' files with
	 * it) until its window ends. */
	if (w.kind == N_KEY) {
		fuse_reply_err(req, 0);
		return;
	}
	char dir[PATH_CAP + 8];
	snprintf(dir, sizeof dir, "/%s/%s", w.kind == N_TRAIL ? "trails" : "buckets", w.name);
	scratch_drop_dir(&fs->scratch, dir);
	fuse_reply_err(req, 0);
}

/* A directory listing, made at opendir so that readdir pages through one
 * consistent snapshot. */
struct listing {
	struct buf names;     /* NUL-separated */
	size_t n;
	struct buf kinds;     /* one byte per name: 'd' or 'f' */
};

static void listing_free(void *p)
{
	struct listing *l = p;
	buf_release(&l->names);
	buf_release(&l->kinds);
	free(l);
}

static int list_add(struct listing *l, const char *name, bool dir)
{
	int r = buf_add(&l->names, name, strlen(name) + 1);
	if (r == 0)
		r = buf_putc(&l->kinds, dir ? 'd' : 'f');
	if (r == 0)
		l->n++;
	return r;
}

static int list_names(struct listing *l, char **names, size_t n, bool dir)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = list_add(l, names[i], dir);
	store_names_free(names, n);
	return r;
}

static int list_scratch(struct fs *fs, struct listing *l, const char *dir)
{
	struct buf names;
	buf_init(&names, SCRATCH_PER_DIR_MAX * (NAME_MAX + 1));
	size_t n = 0;
	int r = scratch_list(&fs->scratch, dir, &names, &n);
	const char *p = names.data;
	for (size_t i = 0; r == 0 && i < n; i++, p += strlen(p) + 1)
		r = list_add(l, p, false);
	buf_release(&names);
	return r;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct where w;
	if (where_of(fs, ino, &w) < 0 || !exists(fs, &w)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!is_dir(w.kind)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	struct listing *l = calloc(1, sizeof *l);
	if (!l) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	buf_init(&l->names, 64u * 1024 * 1024);
	buf_init(&l->kinds, 1024u * 1024);
	/* opendir of /trails is DescribeTrails, of /buckets ListBuckets: one
	 * call per opendir, whatever the kernel caches. */
	struct ct_caller who;
	caller_of(req, &who);
	int r = list_add(l, ".", true);
	if (r == 0)
		r = list_add(l, "..", true);
	char **names = NULL;
	size_t n = 0;
	switch (w.kind) {
	case N_ROOT:
		if (r == 0) r = list_add(l, "buckets", true);
		if (r == 0) r = list_add(l, "errors", false);
		if (r == 0) r = list_add(l, "events", false);
		if (r == 0) r = list_add(l, "keys", true);
		if (r == 0) r = list_add(l, "public-keys", true);
		if (r == 0) r = list_add(l, "trails", true);
		break;
	case N_PUBKEYS: {
		size_t nr;
		const char *const *regions = ct_regions(fs->ct, &nr);
		for (size_t i = 0; r == 0 && i < nr; i++)
			r = list_add(l, regions[i], true);
		break;
	}
	case N_PUBKEYS_REGION: {
		struct sign_public_key *keys = NULL;
		size_t nk = 0;
		if (r == 0) r = list_add(l, PUBKEYS_LIST, false);
		if (r == 0) r = list_add(l, PUBKEYS_ROTATE, false);
		if (r == 0) r = ct_list_public_keys(fs->ct, w.name, &keys, &nk, NULL);
		char pem[SIGN_FINGERPRINT_LEN + sizeof PEM_SUFFIX];
		for (size_t i = 0; r == 0 && i < nk; i++) {
			snprintf(pem, sizeof pem, "%s" PEM_SUFFIX, keys[i].fingerprint);
			r = list_add(l, pem, false);
		}
		sign_public_keys_free(keys, nk);
		break;
	}
	case N_KEYS:
		if (r == 0 && (r = ct_kms_list(fs->ct, &who, &names, &n)) == 0)
			r = list_names(l, names, n, true);
		break;
	case N_KEY: {
		char dir[PATH_CAP];
		snprintf(dir, sizeof dir, "/keys/%s", w.name);
		for (const char *const *f = settings_key_files(); r == 0 && *f; f++)
			r = list_add(l, *f, false);
		if (r == 0)
			r = list_scratch(fs, l, dir);
		break;
	}
	case N_TRAILS:
		if (r == 0 && (r = ct_describe_trails(fs->ct, &who, &names, &n)) == 0)
			r = list_names(l, names, n, true);
		break;
	case N_BUCKETS:
		if (r == 0 && (r = ct_list_buckets(fs->ct, &who, &names, &n)) == 0)
			r = list_names(l, names, n, true);
		break;
	case N_TRAIL: {
		char dir[PATH_CAP];
		snprintf(dir, sizeof dir, "/trails/%s", w.name);
		for (const char *const *f = settings_trail_files(); r == 0 && *f; f++)
			r = list_add(l, *f, false);
		if (r == 0)
			r = list_add(l, "logs", true);
		if (r == 0)
			r = list_add(l, "raw", true);
		if (r == 0)
			r = list_add(l, "digests", true);
		if (r == 0)
			r = list_scratch(fs, l, dir);
		break;
	}
	case N_BUCKET: {
		char dir[PATH_CAP];
		snprintf(dir, sizeof dir, "/buckets/%s", w.name);
		if (r == 0)
			r = list_add(l, SETTINGS_BUCKET_POLICY, false);
		if (r == 0)
			r = list_scratch(fs, l, dir);
		break;
	}
	case N_VIEW_DIR: {
		struct ct_view_entry *v = NULL;
		size_t n = 0;
		if (r == 0)
			r = ct_view_list(fs->ct, w.name, w.view, w.sub, &v, &n);
		for (size_t i = 0; r == 0 && i < n; i++)
			r = list_add(l, v[i].name, v[i].dir);
		ct_view_entries_free(v, n);
		break;
	}
	default:
		break;
	}
	if (r < 0) {
		listing_free(l);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = handles_add(&fs->handles, l, listing_free);
	if (!fi->fh) {
		listing_free(l);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* A view's listing changes only when a delivery adds to it, and then
	 * inval_delivered says so: the kernel may keep it until then.  Digests
	 * are written by the delivery thread apart from deliveries, with no
	 * such notice: their listings are read afresh (a few entries a day). */
	if (w.kind == N_VIEW_DIR && w.view != CT_VIEW_DIGESTS) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	if (fuse_reply_open(req, fi) != 0)
		handles_put(&fs->handles, fi->fh);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	struct fs *fs = fs_of(req);
	struct listing *l = handles_get(&fs->handles, fi->fh);
	if (!l) {
		fuse_reply_err(req, EBADF);
		return;
	}
	char *out = malloc(size);
	if (!out) {
		handles_put(&fs->handles, fi->fh);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	const char *name = l->names.data;
	for (size_t i = 0; i < l->n; i++, name += strlen(name) + 1) {
		if ((off_t)i < off)
			continue;
		struct stat st;
		memset(&st, 0, sizeof st);
		st.st_ino = 0xffffffffu;   /* unknown: the kernel looks names up */
		st.st_mode = l->kinds.data[i] == 'd' ? S_IFDIR : S_IFREG;
		size_t need = fuse_add_direntry(req, out + used, size - used, name, &st, (off_t)i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, out, used);
	free(out);
	handles_put(&fs->handles, fi->fh);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	handles_put(&fs_of(req)->handles, fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- files ---- */

/* An open file: what it showed when opened, and what has been written. */
struct handle {
	pthread_mutex_t lock;  /* guards pending, dirty, failed, writer */
	struct where w;
	struct buf snapshot;   /* settings, policy.json, errors: content at open */
	struct buf pending;    /* written since the last apply */
	bool dirty;
	int failed;            /* the error a rejected write returned, or 0 */
	bool scratch;
	uint64_t writer;       /* lock owner (fd table) of the last write, 0 if unknown */
	bool events;           /* /events: records assembled across writes */
	struct event_stream stream;
};

static void handle_free(void *p)
{
	struct handle *h = p;
	pthread_mutex_destroy(&h->lock);
	if (h->events)
		event_stream_release(&h->stream);
	/* A delivered file's content may be an encrypted log file's
	 * plaintext: it does not outlive the open file in freed memory. */
	if (h->w.kind == N_VIEW_FILE && h->snapshot.data)
		explicit_bzero(h->snapshot.data, h->snapshot.len);
	buf_release(&h->snapshot);
	buf_release(&h->pending);
	free(h);
}

static struct handle *handle_new(const struct where *w)
{
	struct handle *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->w = *w;
	buf_init(&h->snapshot, 512u * 1024 * 1024);
	buf_init(&h->pending, CT_SETTING_MAX);
	h->scratch = is_scratch(w->kind);
	h->events = w->kind == N_EVENTS;
	if (h->events)
		event_stream_init(&h->stream);
	return h;
}

/* With -o verify_reads, a log file its digest says was changed does not
 * open: EIO, and /errors says why. */
static int verify_read(struct fs *fs, const struct where *w, struct ct_err *err)
{
	if (!fs->verify_reads || w->view == CT_VIEW_DIGESTS)
		return 0;
	enum integrity v;
	char why[256];
	int r = ct_view_integrity(fs->ct, w->name, w->view, w->sub, &v, why, sizeof why);
	if (r < 0 || v != INTEGRITY_INVALID)
		return r;
	ct_fail(err, "LogFileIntegrityException",
		"the digest that lists this log file says it was changed (%s); -o verify_reads "
		"refuses to read it", why);
	return -EIO;
}

static void open_handle(fuse_req_t req, struct fs *fs, const struct where *w,
			struct fuse_file_info *fi, bool created)
{
	int acc = fi->flags & O_ACCMODE;
	bool wants_write = acc != O_RDONLY;
	if (wants_write && (w->kind == N_ERRORS || w->kind == N_VIEW_FILE ||
			    w->kind == N_PUBKEY_FILE ||
			    (w->kind == N_SETTING && settings_trail_file(w->file) != SETTING_RW) ||
			    (w->kind == N_KEY_FILE && settings_key_file(w->file) != SETTING_RW))) {
		char msg[NAME_MAX + 64];
		snprintf(msg, sizeof msg, "%s is read-only",
			 w->kind == N_ERRORS ? "errors" : w->kind == N_VIEW_FILE ? "a delivered file"
			 : w->kind == N_PUBKEY_FILE ? "a public key" : w->file);
		refuse(req, "open", w->path, "OperationNotPermittedException", msg);
		return;
	}
	if (w->kind == N_PUBKEYS_ROTATE && acc != O_WRONLY) {
		refuse(req, "open", w->path, "OperationNotPermittedException",
		       "rotate is write-only: write now to it to rotate the region's signing key");
		return;
	}
	if (w->kind == N_EVENTS && acc != O_WRONLY) {
		refuse(req, "open", w->path, "OperationNotPermittedException",
		       "events is write-only: append records to it; read them under trails/NAME/logs");
		return;
	}
	struct handle *h = handle_new(w);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int r = 0;
	struct ct_err err;
	ct_err_clear(&err);
	/* Opening to read is the call that answers the file (GetTrail,
	 * GetTrailStatus, GetBucketPolicy, GetObject, ...), once per open. */
	struct ct_caller who;
	caller_of(req, &who);
	if (acc != O_WRONLY) {
		switch (w->kind) {
		case N_SETTING: r = settings_read(fs->ct, &who, w->name, w->file, &h->snapshot, &err); break;
		case N_POLICY: r = settings_bucket_read(fs->ct, &who, w->name, &h->snapshot, &err); break;
		case N_ERRORS: r = ct_render_errors(fs->ct, &h->snapshot); break;
		case N_KEY_FILE: r = settings_key_read(fs->ct, &who, w->name, w->file, &h->snapshot, &err); break;
		case N_VIEW_FILE:
			r = verify_read(fs, w, &err);
			if (r == 0)
				r = ct_view_read(fs->ct, &who, w->name, w->view, w->sub, &h->snapshot,
						 &err);
			break;
		case N_PUBKEY_FILE: r = pubkey_text(fs, &who, w, &h->snapshot, &err); break;
		default: break;
		}
	}
	if (r == 0 && h->scratch && (fi->flags & O_TRUNC))
		r = scratch_truncate(&fs->scratch, w->dir, w->file, 0);
	if (r < 0) {
		handle_free(h);
		fail(req, "open", w->path, r, &err);
		return;
	}
	fi->fh = handles_add(&fs->handles, h, handle_free);
	if (!fi->fh) {
		handle_free(h);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Control-plane content changes behind the kernel's back (another
	 * writer, a status change): never serve it from the page cache. */
	fi->direct_io = !h->scratch && w->kind != N_VIEW_FILE;
	fi->keep_cache = w->kind == N_VIEW_FILE;
	fi->nonseekable = 0;
	if (created) {
		struct fuse_entry_param e;
		memset(&e, 0, sizeof e);
		e.ino = nodes_lookup(&fs->nodes, w->path);
		fill_stat(fs, w, e.ino, &e.attr);
		e.attr_timeout = ATTR_TIMEOUT;
		e.entry_timeout = ENTRY_TIMEOUT;
		if (fuse_reply_create(req, &e, fi) != 0) {
			nodes_forget(&fs->nodes, e.ino, 1);
			handles_put(&fs->handles, fi->fh);
		}
		return;
	}
	if (fuse_reply_open(req, fi) != 0)
		handles_put(&fs->handles, fi->fh);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct where w;
	if (where_of(fs, ino, &w) < 0 || !exists(fs, &w)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (is_dir(w.kind)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	open_handle(req, fs, &w, fi, false);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct where w;
	if (!resolve_child(req, fs, parent, name, &w))
		return;
	int r = 0;
	if (exists(fs, &w)) {
		/* O_CREAT without O_EXCL on an existing file is an open */
		if (fi->flags & O_EXCL)
			fuse_reply_err(req, EEXIST);
		else if (is_dir(w.kind))
			fuse_reply_err(req, EISDIR);
		else
			open_handle(req, fs, &w, fi, true);
		return;
	}
	if (!is_scratch(w.kind)) {
		refuse(req, "create", w.path, "OperationNotPermittedException",
		       "files cannot be created here: trails are made with mkdir in /trails, "
		       "and a trail's settings are its existing files");
		return;
	}
	struct where dir;
	if (where_of(fs, parent, &dir) < 0 || !exists(fs, &dir)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	const struct fuse_ctx *x = fuse_req_ctx(req);
	r = scratch_create(&fs->scratch, w.dir, w.file, mode & ~x->umask & 07777);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	open_handle(req, fs, &w, fi, true);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	struct fs *fs = fs_of(req);
	struct handle *h = handles_get(&fs->handles, fi->fh);
	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (h->scratch) {
		struct buf out;
		buf_init(&out, size);
		int r = scratch_read(&fs->scratch, h->w.dir, h->w.file, off, size, &out);
		if (r < 0)
			fuse_reply_err(req, -r);
		else
			fuse_reply_buf(req, out.data, out.len);
		buf_release(&out);
	} else if (off < 0 || (size_t)off >= h->snapshot.len) {
		fuse_reply_buf(req, NULL, 0);
	} else {
		size_t n = h->snapshot.len - (size_t)off;
		fuse_reply_buf(req, h->snapshot.data + off, n < size ? n : size);
	}
	handles_put(&fs->handles, fi->fh);
}

/* What rotate takes: "now", with an optional newline; partial: more may
 * still come. */
static int rotate_word(const char *text, size_t len, bool partial, struct ct_err *err)
{
	static const char word[] = "now";
	size_t n = len && text[len - 1] == '\n' ? len - 1 : len;
	bool ok = partial ? n <= 3 && !memcmp(text, word, n) && (n == len || n == 3)
			  : n == 3 && !memcmp(text, word, 3);
	return ok ? 0 : ct_fail(err, "InvalidParameterValueException",
				"rotate takes the word now (echo now > rotate), which "
				"rotates the region's signing key");
}

static int check(struct fs *fs, const struct ct_caller *who, const struct handle *h,
		 struct ct_err *err)
{
	if (h->w.kind == N_PUBKEYS_ROTATE)
		return rotate_word(h->pending.data, h->pending.len, true, err);
	if (h->w.kind == N_POLICY)
		return settings_bucket_check(fs->ct, who, h->w.name, h->pending.data,
					     h->pending.len, err);
	if (h->w.kind == N_KEY_FILE)
		return settings_key_check(fs->ct, who, h->w.name, h->w.file, h->pending.data,
					  h->pending.len, err);
	return settings_check(fs->ct, who, h->w.name, h->w.file, h->pending.data,
			      h->pending.len, err);
}

static int apply(struct fs *fs, const struct ct_caller *who, const struct where *w,
		 const char *text, size_t len, struct ct_err *err)
{
	if (w->kind == N_PUBKEYS_ROTATE) {
		int r = rotate_word(text, len, false, err);
		return r < 0 ? r : ct_rotate_signing_key(fs->ct, w->name, err);
	}
	if (w->kind == N_POLICY)
		return settings_bucket_apply(fs->ct, who, w->name, text, len, err);
	if (w->kind == N_KEY_FILE)
		return settings_key_apply(fs->ct, who, w->name, w->file, text, len, err);
	int r = settings_apply(fs->ct, who, w->name, w->file, text, len, err);
	/* The views show the trail's delivery location: when it may have
	 * moved, whatever the kernel keeps of them is stale. */
	if (r == 0 && (!strcmp(w->file, "s3_bucket") || !strcmp(w->file, "s3_key_prefix") ||
		       !strcmp(w->file, "config.json"))) {
		inval_entry(fs, w->dir, "logs");
		inval_entry(fs, w->dir, "raw");
		inval_entry(fs, w->dir, "digests");
	}
	return r;
}

/* Writes to a setting accumulate in arrival order (offsets are ignored: a
 * value is replaced whole, whether opened with O_TRUNC, O_APPEND or
 * neither) and every write checks what has arrived, so a bad value fails
 * in write(), where shells see it. */
/* /events: each write request is all or nothing, and is acknowledged only
 * once its records are durable.  A record split across writes is assembled
 * per open file.  A write(2) larger than the mount's write size arrives as
 * several requests: what earlier ones carried stays accepted and the call
 * returns short. */
static void write_events(fuse_req_t req, struct fs *fs, struct handle *h, const char *data,
			 size_t size, struct fuse_file_info *fi)
{
	struct ct_caller who;
	caller_of(req, &who);
	struct ingest_who iw = { .uid = who.uid };
	snprintf(iw.user, sizeof iw.user, "%s", who.user);
	snprintf(iw.program, sizeof iw.program, "%s", who.program);
	struct event_ctx ctx;
	ct_event_ctx(fs->ct, &iw, &ctx);
	struct ct_err err;
	ct_err_clear(&err);
	struct event *events = NULL;
	size_t n = 0;
	pthread_mutex_lock(&h->lock);
	/* If the records cannot be spooled, the stream goes back to how it was
	 * before this write, so nothing of it counts and a retry is whole. */
	struct event_stream before = h->stream;
	buf_init(&before.carry, CT_EVENT_STREAM_MAX);
	int r = buf_add(&before.carry, buf_str(&h->stream.carry), h->stream.carry.len);
	if (r < 0)
		r = ct_fail_errno(&err, r, "events");
	if (r == 0)
		r = event_stream_feed(&h->stream, data, size, &ctx, &events, &n, &err);
	if (r == 0) {
		r = ct_ingest(fs->ct, events, n, &err);
		if (r < 0) {
			event_stream_release(&h->stream);
			h->stream = before;
			buf_init(&before.carry, 0);
		}
	}
	buf_release(&before.carry);
	if (r == 0)
		h->writer = fi->lock_owner;
	pthread_mutex_unlock(&h->lock);
	events_free(events, n);
	if (r < 0)
		fail(req, "write", h->w.path, r, &err);
	else
		fuse_reply_write(req, size);
}

/* At the writer's close, an unfinished record is an error. */
static int finish_events(fuse_req_t req, struct fs *fs, struct handle *h, const char *op)
{
	struct ct_err err;
	ct_err_clear(&err);
	int r = event_stream_finish(&h->stream, &err);
	if (r < 0) {
		struct ct_caller who;
		caller_of(req, &who);
		ct_record_error(fs->ct, &who, op, h->w.path, &err);
		/* said once: a later close of the same file does not repeat it */
		event_stream_release(&h->stream);
		event_stream_init(&h->stream);
	}
	return r;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	struct fs *fs = fs_of(req);
	struct handle *h = handles_get(&fs->handles, fi->fh);
	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (h->scratch) {
		int r = scratch_write(&fs->scratch, h->w.dir, h->w.file, off, data, size);
		if (r < 0)
			fuse_reply_err(req, -r);
		else
			fuse_reply_write(req, size);
		handles_put(&fs->handles, fi->fh);
		return;
	}
	if (h->events) {
		write_events(req, fs, h, data, size, fi);
		handles_put(&fs->handles, fi->fh);
		return;
	}
	struct ct_caller who;
	caller_of(req, &who);
	struct ct_err err;
	ct_err_clear(&err);
	pthread_mutex_lock(&h->lock);
	int r = h->failed ? -h->failed : buf_add(&h->pending, data, size);
	if (r == -E2BIG)
		r = ct_fail(&err, "InvalidParameterException", "a value can be at most %d bytes",
			    CT_SETTING_MAX);
	else if (r < 0 && !h->failed)
		r = ct_fail_errno(&err, r, "write");
	if (r == 0)
		r = check(fs, &who, h, &err);
	if (r < 0) {
		h->failed = -r;
		h->dirty = false;
	} else {
		h->dirty = true;
		h->writer = fi->lock_owner;
	}
	pthread_mutex_unlock(&h->lock);
	if (r < 0)
		fail(req, "write", h->w.path, r, &err);
	else
		fuse_reply_write(req, size);
	handles_put(&fs->handles, fi->fh);
}

/* Apply what was written.  Called from flush (whose error close() returns)
 * and, if no flush came, from release.  Caller holds h->lock. */
static int settle(fuse_req_t req, struct fs *fs, struct handle *h, const char *op)
{
	if (h->scratch || !h->dirty)
		return h->failed ? -h->failed : 0;
	struct ct_caller who;
	caller_of(req, &who);
	struct ct_err err;
	ct_err_clear(&err);
	int r = apply(fs, &who, &h->w, h->pending.data ? h->pending.data : "", h->pending.len, &err);
	h->dirty = false;
	buf_reset(&h->pending);
	if (r < 0) {
		h->failed = -r;
		if (err.name[0])
			ct_record_error(fs->ct, &who, op, h->w.path, &err);
	}
	return r;
}

/* Every close() of every descriptor of the file flushes, also a child's
 * inherited copy (`{ printf Write; sleep 1; printf 'Only\n'; } > f`: sleep
 * closes its stdout between the pieces).  Only the writer's close applies;
 * a process that wrote nothing has nothing to settle, and release applies
 * whatever no flush did. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct fs *fs = fs_of(req);
	struct handle *h = handles_get(&fs->handles, fi->fh);
	if (!h) {
		fuse_reply_err(req, 0);
		return;
	}
	pthread_mutex_lock(&h->lock);
	int r = 0;
	if (h->events) {
		if (!h->writer || fi->lock_owner == h->writer)
			r = finish_events(req, fs, h, "close");
	} else if (h->scratch || !h->dirty || !h->writer || fi->lock_owner == h->writer) {
		r = settle(req, fs, h, "close");
	}
	pthread_mutex_unlock(&h->lock);
	handles_put(&fs->handles, fi->fh);
	fuse_reply_err(req, r < 0 ? -r : 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct fs *fs = fs_of(req);
	struct handle *h = handles_get(&fs->handles, fi->fh);
	if (h) {
		pthread_mutex_lock(&h->lock);
		if (h->events)
			finish_events(req, fs, h, "close");
		else
			settle(req, fs, h, "close");
		pthread_mutex_unlock(&h->lock);
		handles_put(&fs->handles, fi->fh);   /* this operation's reference */
		handles_put(&fs->handles, fi->fh);   /* the open's */
	}
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	/* Applied settings are already durable; fsync applies a pending one. */
	struct fs *fs = fs_of(req);
	struct handle *h = handles_get(&fs->handles, fi->fh);
	int r = 0;
	if (h) {
		pthread_mutex_lock(&h->lock);
		r = settle(req, fs, h, "fsync");
		pthread_mutex_unlock(&h->lock);
		handles_put(&fs->handles, fi->fh);
	}
	fuse_reply_err(req, r < 0 ? -r : 0);
}

/* ---- names ---- */

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct where w;
	if (!resolve_child(req, fs, parent, name, &w))
		return;
	int r = 0;
	if (!exists(fs, &w)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (is_scratch(w.kind)) {
		r = scratch_remove(&fs->scratch, w.dir, w.file);
		fuse_reply_err(req, r < 0 ? -r : 0);
		return;
	}
	if (is_dir(w.kind)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	refuse(req, "unlink", w.path, "OperationNotPermittedException",
	       w.kind == N_ERRORS ? "errors cannot be removed"
				  : "settings cannot be removed; write an empty value to clear one");
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct where from, to;
	int r = child_of(fs, parent, name, &from);
	if (r == 0)
		r = child_of(fs, newparent, newname, &to);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (!exists(fs, &from)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (from.kind == N_TRAIL) {
		refuse(req, "rename", from.path, "OperationNotPermittedException",
		       "trails cannot be renamed: create a new trail (mkdir) and delete this one "
		       "(rmdir)");
		return;
	}
	bool from_scratch = is_scratch(from.kind);
	if (!from_scratch || strcmp(from.dir, to.dir) || (flags & RENAME_EXCHANGE)) {
		refuse(req, "rename", from.path, "OperationNotPermittedException",
		       is_dir(from.kind) ? "this directory cannot be renamed"
					 : "settings cannot be renamed or moved; only an editor's "
					   "temporary file can be renamed onto a setting");
		return;
	}
	if ((flags & RENAME_NOREPLACE) && exists(fs, &to)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	if (is_scratch(to.kind)) {
		r = scratch_rename(&fs->scratch, from.dir, from.file, to.file);
		if (r == 0)
			nodes_move(&fs->nodes, from.path, to.path);
		fuse_reply_err(req, r < 0 ? -r : 0);
		return;
	}
	if ((to.kind == N_SETTING && settings_trail_file(to.file) != SETTING_RW) ||
	    (to.kind == N_KEY_FILE && settings_key_file(to.file) != SETTING_RW)) {
		char msg[NAME_MAX + 32];
		snprintf(msg, sizeof msg, "%s is read-only", to.file);
		refuse(req, "rename", to.path, "OperationNotPermittedException", msg);
		return;
	}
	/* An editor's file renamed onto a setting: apply its content. */
	struct buf text;
	buf_init(&text, SCRATCH_SIZE_MAX);
	r = scratch_contents(&fs->scratch, from.dir, from.file, &text);
	struct ct_caller who;
	caller_of(req, &who);
	struct ct_err err;
	ct_err_clear(&err);
	if (r == 0)
		r = apply(fs, &who, &to, text.data ? text.data : "", text.len, &err);
	buf_release(&text);
	if (r < 0) {
		fail(req, "rename", to.path, r, &err);
		return;
	}
	scratch_remove(&fs->scratch, from.dir, from.file);
	nodes_move(&fs->nodes, from.path, to.path);
	fuse_reply_err(req, 0);
}

/* Links, symbolic links and device nodes have no place in the tree. */
static void refuse_node(fuse_req_t req, fuse_ino_t parent, const char *name, const char *op)
{
	struct where w;
	if (child_of(fs_of(req), parent, name, &w) < 0)
		snprintf(w.path, sizeof w.path, "%s", name);
	refuse(req, op, w.path, "OperationNotPermittedException",
	       "trailfs holds trails, buckets and their settings; links and special files "
	       "cannot be made in it");
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	refuse_node(req, parent, name, "symlink");
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	refuse_node(req, newparent, newname, "link");
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)rdev;
	/* A plain file made with mknod (some tools do) is a create. */
	if (S_ISREG(mode)) {
		struct fs *fs = fs_of(req);
		struct where w;
		int r = child_of(fs, parent, name, &w);
		if (r == 0 && exists(fs, &w))
			r = -EEXIST;
		else if (r == 0 && !is_scratch(w.kind))
			r = 1;
		if (r == 0) {
			const struct fuse_ctx *x = fuse_req_ctx(req);
			r = scratch_create(&fs->scratch, w.dir, w.file, mode & ~x->umask & 07777);
		}
		if (r == 0) {
			reply_entry(req, fs, &w);
			return;
		}
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
	}
	refuse_node(req, parent, name, "mknod");
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs st;
	memset(&st, 0, sizeof st);
	st.f_bsize = st.f_frsize = 4096;
	st.f_namemax = NAME_MAX;
	fuse_reply_statfs(req, &st);
}

/* ---- extended attributes ----
 * A log file under logs/ and raw/ carries user.trailfs.integrity: valid,
 * invalid, unlisted or unknown, what the digests say of it (integrity.h),
 * checked at each getxattr (the store may have been changed under us).
 * A digest under digests/ carries its object's signature metadata, as
 * user.trailfs.signature and user.trailfs.signature-algorithm (what an S3
 * HEAD shows as x-amz-meta-signature and x-amz-meta-signature-algorithm),
 * so that a validator reading the tree has what validate-logs reads. */
#define XATTR_PREFIX "user.trailfs."
#define XATTR_MAX 4

struct xattr {
	const char *name;       /* without XATTR_PREFIX */
	const char *value;      /* borrowed from the object's metadata, or static */
};

#define XATTR_INTEGRITY "integrity"

static const char *const digest_xattrs[] = { "signature", "signature-algorithm",
					      "backfill-generation-timestamp" };

/* The attributes of w (info holds their values). */
static size_t xattrs_of(struct fs *fs, const struct where *w, struct store_object_info *info,
			struct xattr out[XATTR_MAX], int *r)
{
	memset(info, 0, sizeof *info);
	*r = 0;
	if (w->kind != N_VIEW_FILE)
		return 0;
	if (w->view != CT_VIEW_DIGESTS) {
		enum integrity v;
		*r = ct_view_integrity(fs->ct, w->name, w->view, w->sub, &v, NULL, 0);
		if (*r < 0)
			return 0;
		out[0] = (struct xattr){ XATTR_INTEGRITY, integrity_name(v) };
		return 1;
	}
	*r = ct_view_head(fs->ct, w->name, w->view, w->sub, info);
	if (*r < 0)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < sizeof digest_xattrs / sizeof *digest_xattrs; i++) {
		const char *v = store_meta_get(info, digest_xattrs[i]);
		if (v)
			out[n++] = (struct xattr){ digest_xattrs[i], v };
	}
	return n;
}

/* Reply with data[0..len) as getxattr/listxattr do: its size when the
 * caller asked for it (size 0), ERANGE when it does not fit. */
static void reply_xattr(fuse_req_t req, size_t size, const char *data, size_t len)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, data, len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fs_of(req);
	struct where w;
	int r = where_of(fs, ino, &w);
	struct store_object_info info;
	struct xattr x[XATTR_MAX];
	size_t n = r == 0 ? xattrs_of(fs, &w, &info, x, &r) : 0;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = -ENODATA;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) &&
		    !strcmp(name + strlen(XATTR_PREFIX), x[i].name)) {
			reply_xattr(req, size, x[i].value, strlen(x[i].value));
			r = 0;
			break;
		}
	if (r < 0)
		fuse_reply_err(req, -r);
	store_object_info_release(&info);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fs_of(req);
	struct where w;
	int r = where_of(fs, ino, &w);
	struct store_object_info info;
	struct xattr x[XATTR_MAX];
	size_t n = r == 0 ? xattrs_of(fs, &w, &info, x, &r) : 0;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	char names[XATTR_MAX * (NAME_MAX + 1)];
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(names + len, sizeof names - len, XATTR_PREFIX "%s", x[i].name);
		len += (size_t)k + 1;   /* each name ends in NUL */
	}
	reply_xattr(req, size, names, len);
	store_object_info_release(&info);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	(void)ino; (void)name; (void)value; (void)size; (void)flags;
	fuse_reply_err(req, ENOTSUP);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino; (void)name;
	fuse_reply_err(req, ENOTSUP);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives with open, so no separate truncate reaches a setting. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

const struct fuse_lowlevel_ops trailfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.rename = op_rename,
	.symlink = op_symlink,
	.link = op_link,
	.mknod = op_mknod,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
};
