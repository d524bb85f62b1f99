/* The FUSE driver's shared declarations: the daemon context, the inode
 * table and the editors' scratch files.  fs/ is the only code that includes
 * <fuse.h>; everything it does to trails and buckets goes through ct.h and
 * settings.h. */
#ifndef TRAILFS_FS_H
#define TRAILFS_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "ct.h"

/* ---- the inode table (node.c) ----
 * Inodes are named by path: the same path has the same inode for as long as
 * the kernel remembers it (its lookup count is above zero). */
struct node;
struct nodes {
	pthread_mutex_t lock;
	struct node **by_path;
	struct node **by_ino;
	size_t n_buckets;
	uint64_t next_ino;
};

int nodes_init(struct nodes *t);
void nodes_release(struct nodes *t);
/* The inode for path, counting one more kernel lookup.  0 on ENOMEM. */
uint64_t nodes_lookup(struct nodes *t, const char *path);
/* Append the path of ino to out.  -ENOENT for an unknown or detached inode. */
int nodes_path(struct nodes *t, uint64_t ino, struct buf *out);
/* The inode the kernel knows path by, without counting a lookup; 0 when
 * the kernel has not looked it up (so it caches nothing of it). */
uint64_t nodes_find(struct nodes *t, const char *path);
/* The kernel forgets n lookups of ino. */
void nodes_forget(struct nodes *t, uint64_t ino, uint64_t n);
/* After a rename: the inode at from is now at to; the one that was at to
 * (if any) is detached. */
void nodes_move(struct nodes *t, const char *from, const char *to);

/* ---- scratch files (scratch.c) ----
 * Editors and `sed -i` write a temporary file beside the file they edit and
 * rename it over.  Those temporary files live here, in memory, until they
 * are renamed onto a setting (which applies them) or removed. */
#define SCRATCH_PER_DIR_MAX 32
#define SCRATCH_SIZE_MAX CT_SETTING_MAX

struct scratch_file;
struct scratch {
	pthread_mutex_t lock;
	struct scratch_file *head;
};

struct scratch_stat {
	size_t size;
	mode_t mode;
	time_t mtime;
};

void scratch_init(struct scratch *s);
void scratch_release(struct scratch *s);
/* 0, -EEXIST, -EDQUOT (too many in dir), -ENOMEM. */
int scratch_create(struct scratch *s, const char *dir, const char *name, mode_t mode);
/* 0 and *st, or -ENOENT. */
int scratch_stat(struct scratch *s, const char *dir, const char *name, struct scratch_stat *st);
int scratch_write(struct scratch *s, const char *dir, const char *name, off_t off,
		  const char *data, size_t len);
int scratch_read(struct scratch *s, const char *dir, const char *name, off_t off, size_t size,
		 struct buf *out);
int scratch_truncate(struct scratch *s, const char *dir, const char *name, off_t size);
int scratch_chmod(struct scratch *s, const char *dir, const char *name, mode_t mode);
/* Copy the contents to out (appending). */
int scratch_contents(struct scratch *s, const char *dir, const char *name, struct buf *out);
int scratch_remove(struct scratch *s, const char *dir, const char *name);
/* Rename within dir, replacing to if it exists. */
int scratch_rename(struct scratch *s, const char *dir, const char *from, const char *to);
/* Names in dir, sorted, appended as NUL-terminated strings to out; *n set. */
int scratch_list(struct scratch *s, const char *dir, struct buf *out, size_t *n);
/* Forget every scratch file of dir (its trail or bucket is gone). */
void scratch_drop_dir(struct scratch *s, const char *dir);

/* ---- open-file handles (handles.c) ----
 * fi->fh holds an id; every operation on an open file takes a reference
 * (handles_get) and drops it (handles_put); the open's own reference is
 * dropped by release.  The object is freed with free_fn after the last. */
struct slot;
struct handles {
	pthread_mutex_t lock;
	struct slot *slots;
	size_t n;
	uint32_t free_head;
};

void handles_init(struct handles *t);
void handles_release(struct handles *t);
/* A new id holding one reference, or 0 on ENOMEM. */
uint64_t handles_add(struct handles *t, void *obj, void (*free_fn)(void *));
/* The object with one more reference, or NULL if the id is stale. */
void *handles_get(struct handles *t, uint64_t id);
void handles_put(struct handles *t, uint64_t id);

/* ---- kernel cache invalidation (inval.c) ----
 * Queued and sent from a thread of its own, so that callers may hold what
 * the kernel needs to act on the notification. */
struct inval;
struct fuse_session;
struct fs;
int inval_start(struct fs *fs, struct fuse_session *se);
/* Stop before the session is destroyed; later calls do nothing. */
void inval_stop(struct fs *fs);
/* Forget the attributes and cached listing or pages of path's inode. */
void inval_inode(struct fs *fs, const char *path);
/* Forget the name in directory dir (and so everything below it). */
void inval_entry(struct fs *fs, const char *dir, const char *name);
/* The delivery callback (ct_delivered_fn, ctx the struct fs). */
void inval_delivered(void *ctx, const struct delivered_file *files, size_t n);

/* ---- the daemon context ---- */
struct fs {
	struct ct *ct;
	uid_t uid;              /* the mount owner: owns every file */
	gid_t gid;
	time_t mount_time;
	bool allow_other;
	bool verify_reads;      /* -o verify_reads: an invalid log file reads as EIO */
	gid_t ingest_gid;       /* -o ingest_group: may write /events too */
	bool ingest_gid_set;
	struct nodes nodes;
	struct scratch scratch;
	struct handles handles;
	struct inval *inval;    /* NULL when not (or no longer) mounted */
};

/* The low-level operations table (ops.c). */
struct fuse_lowlevel_ops;
extern const struct fuse_lowlevel_ops trailfs_ops;

#endif
