/* The last CT_ERRORS_KEPT rejected operations, newest last: the /errors file.
 * Kept in memory and appended to a file in the state directory so that they
 * survive a restart; the file is rewritten to the kept lines when it grows
 * to twice that. */
#ifndef TRAILFS_ERRLOG_H
#define TRAILFS_ERRLOG_H

#include <pthread.h>
#include <stddef.h>

#include "buf.h"
#include "ct_limits.h"

#define CT_ERRORS_KEPT_SLOTS CT_ERRORS_KEPT

struct errlog {
	pthread_mutex_t lock;
	char *lines[CT_ERRORS_KEPT_SLOTS];
	size_t head;        /* index of the oldest line */
	size_t count;
	size_t file_lines;  /* lines in the file since it was last rewritten */
	char *path;         /* NULL: memory only */
};

/* Load the tail of path (may be NULL or missing).  0 or -errno. */
int errlog_init(struct errlog *l, const char *path);
void errlog_release(struct errlog *l);
/* Add one line (without newline; control bytes are escaped). */
void errlog_add(struct errlog *l, const char *line);
/* Append every kept line, oldest first, each with a newline. */
int errlog_render(struct errlog *l, struct buf *out);

#endif
