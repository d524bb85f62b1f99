/* Whole-buffer I/O that loops on short reads and writes and EINTR, and the
 * durable write: temp file + fsync + rename + fsync of the directory. */
#ifndef TRAILFS_FILEIO_H
#define TRAILFS_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Write all n bytes to fd.  0 or -errno. */
int write_all(int fd, const void *p, size_t n);

/* Read the whole file at path into out (appending; out's cap bounds it:
 * -E2BIG when the file is larger).  0, -ENOENT, or -errno. */
int read_file(const char *path, struct buf *out);

/* Replace the file at path with data, durably: when this returns 0 the new
 * contents survive a crash, and a crash at any moment leaves either the old
 * or the new file, never a mix.  mode applies to a newly created file.
 * 0 or -errno. */
int write_file_durable(const char *path, const void *data, size_t n, mode_t mode);

/* Remove the temporary files write_file_durable(path, ...) leaves when it is
 * killed mid-write (PATH.tmp.PID).  Only call it while no other process can
 * be writing path (the daemon holds the state lock).  0 or -errno. */
int remove_stale_temps(const char *path);

/* fsync the directory holding path (the entry itself, after a rename). */
int fsync_parent(const char *path);
/* fsync a directory by its own path. */
int fsync_dir(const char *dir);

/* mkdir -p with mode for each created level; 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* The names in directory dir that keep(dfd, name, arg) accepts (keep sees
 * "." and ".." too), sorted by strcmp, into *names (the caller's: each
 * name and the array, free with fileio_names_free) and *n.  0 or -errno. */
int fileio_dir_names(const char *dir, bool (*keep)(int dfd, const char *name, void *arg),
		     void *arg, char ***names, size_t *n);
void fileio_names_free(char **names, size_t n);

#endif
