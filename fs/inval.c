/* Telling the kernel what changed in the views.
 *
 * Delivered files never change, so the kernel keeps the views' names,
 * attributes, pages and directory listings; what a delivery adds, and a
 * trail whose delivery location changes, must then be invalidated.  The
 * notifications are sent from a thread of their own: the kernel may need
 * locks that the operation which caused them still holds (a rename over
 * s3_bucket holds the trail directory's lock; DeleteTrail delivers inside
 * rmdir), and libfuse forbids notifying from such a path. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

#define INVAL_QUEUE_MAX 4096   /* past this, the oldest are dropped: see inval_push */

struct inval_item {
	uint64_t ino;
	char name[NAME_MAX + 1];   /* "" = the inode itself; else the entry name in ino */
};

struct inval {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running;
	bool stopping;
	struct fuse_session *se;
	struct inval_item items[INVAL_QUEUE_MAX];
	size_t head, n;
};

static void *inval_thread(void *p)
{
	struct inval *q = p;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->n && !q->stopping)
			pthread_cond_wait(&q->wake, &q->lock);
		if (!q->n)
			break;
		struct inval_item it = q->items[q->head];
		q->head = (q->head + 1) % INVAL_QUEUE_MAX;
		q->n--;
		struct fuse_session *se = q->se;
		pthread_mutex_unlock(&q->lock);
		/* -ENOENT: the kernel no longer knows the inode or name, which
		 * is as good as invalidated. */
		if (it.name[0])
			(void)fuse_lowlevel_notify_inval_entry(se, it.ino, it.name, strlen(it.name));
		else
			(void)fuse_lowlevel_notify_inval_inode(se, it.ino, 0, 0);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int inval_start(struct fs *fs, struct fuse_session *se)
{
	struct inval *q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	q->se = se;
	int r = pthread_create(&q->thread, NULL, inval_thread, q);
	if (r != 0) {
		pthread_cond_destroy(&q->wake);
		pthread_mutex_destroy(&q->lock);
		free(q);
		return -r;
	}
	q->running = true;
	fs->inval = q;
	return 0;
}

void inval_stop(struct fs *fs)
{
	struct inval *q = fs->inval;
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	q->n = 0;   /* the mount is going: nothing is left to tell */
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	/* The delivery thread may still call inval_*: from now they do nothing. */
	__atomic_store_n(&fs->inval, NULL, __ATOMIC_RELEASE);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Queue one notification.  A full queue drops its oldest: an invalidation
 * that is lost leaves a listing cached until its inode is forgotten, which
 * is why the queue is large and notifications are cheap. */
static void inval_push(struct fs *fs, uint64_t ino, const char *name)
{
	struct inval *q = __atomic_load_n(&fs->inval, __ATOMIC_ACQUIRE);
	if (!q || !ino)
		return;
	pthread_mutex_lock(&q->lock);
	if (!q->stopping) {
		if (q->n == INVAL_QUEUE_MAX) {
			q->head = (q->head + 1) % INVAL_QUEUE_MAX;
			q->n--;
		}
		struct inval_item *it = &q->items[(q->head + q->n) % INVAL_QUEUE_MAX];
		it->ino = ino;
		snprintf(it->name, sizeof it->name, "%s", name ? name : "");
		q->n++;
		pthread_cond_signal(&q->wake);
	}
	pthread_mutex_unlock(&q->lock);
}

void inval_inode(struct fs *fs, const char *path)
{
	inval_push(fs, nodes_find(&fs->nodes, path), NULL);
}

void inval_entry(struct fs *fs, const char *dir, const char *name)
{
	inval_push(fs, nodes_find(&fs->nodes, dir), name);
}

/* Invalidate the listings on the way to sub (REGION/YYYY/MM/DD/NAME)
 * in the trail's view, and the view itself. */
static void inval_path(struct fs *fs, struct buf *path, const char *trail, const char *view,
		       const char *sub)
{
	buf_reset(path);
	if (buf_printf(path, "/trails/%s/%s", trail, view) == 0)
		inval_inode(fs, buf_str(path));
	for (const char *p = sub; (p = strchr(p, '/')); p++) {
		buf_reset(path);
		if (buf_printf(path, "/trails/%s/%s/%.*s", trail, view, (int)(p - sub), sub) == 0)
			inval_inode(fs, buf_str(path));
	}
}

/* A delivered object at key in bucket: every trail whose delivery location
 * holds it sees it (a log file in logs/ and raw/, a digest in digests/), so
 * the listings of the directories on its way there (REGION, YYYY, MM, DD,
 * and the view itself) change. */
void inval_delivered(void *ctx, const struct delivered_file *files, size_t n)
{
	struct fs *fs = ctx;
	char **trails = NULL;
	size_t n_trails = 0;
	if (!__atomic_load_n(&fs->inval, __ATOMIC_ACQUIRE) ||
	    ct_describe_trails(fs->ct, NULL, &trails, &n_trails) < 0)
		return;
	struct buf logs, digests, path;
	buf_init(&logs, 4096);
	buf_init(&digests, 4096);
	buf_init(&path, 4096);
	for (size_t t = 0; t < n_trails; t++) {
		char bucket[CT_BUCKET_NAME_MAX + 1], dbucket[CT_BUCKET_NAME_MAX + 1];
		buf_reset(&logs);
		buf_reset(&digests);
		if (ct_log_location(fs->ct, trails[t], bucket, &logs, NULL) < 0 ||
		    ct_digest_location(fs->ct, trails[t], dbucket, &digests, NULL) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(files[i].bucket, bucket))
				continue;
			if (!strncmp(files[i].key, logs.data, logs.len)) {
				inval_path(fs, &path, trails[t], "logs", files[i].key + logs.len);
				inval_path(fs, &path, trails[t], "raw", files[i].key + logs.len);
			} else if (!strncmp(files[i].key, digests.data, digests.len)) {
				inval_path(fs, &path, trails[t], "digests", files[i].key + digests.len);
			}
		}
	}
	buf_release(&path);
	buf_release(&digests);
	buf_release(&logs);
	store_names_free(trails, n_trails);
}
