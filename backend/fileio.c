#include "fileio.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int read_file(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char chunk[65536];
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		r = buf_add(out, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	close(fd);
	return r;
}

int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int fsync_parent(const char *path)
{
	struct buf dir;
	buf_init(&dir, 4096);
	int r = buf_puts(&dir, path);
	if (r == 0) {
		char *slash = strrchr(dir.data, '/');
		if (!slash)
			r = fsync_dir(".");
		else if (slash == dir.data)
			r = fsync_dir("/");
		else {
			*slash = '\0';
			r = fsync_dir(dir.data);
		}
	}
	buf_release(&dir);
	return r;
}

int write_file_durable(const char *path, const void *data, size_t n, mode_t mode)
{
	struct buf tmp;
	buf_init(&tmp, 4096);
	int r = buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	if (r < 0)
		goto out;
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, data, n);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp.data, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp.data);
	else
		r = fsync_parent(path);
out:
	buf_release(&tmp);
	return r;
}

int mkdir_p(const char *path, mode_t mode)
{
	struct buf p;
	buf_init(&p, 4096);
	int r = buf_puts(&p, path);
	for (char *s = p.data + 1; r == 0 && s && *s; s = strchr(s + 1, '/')) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p.data, mode) < 0 && errno != EEXIST)
			r = -errno;
		*s = '/';
	}
	if (r == 0 && mkdir(p.data, mode) < 0 && errno != EEXIST)
		r = -errno;
	buf_release(&p);
	return r;
}

int remove_stale_temps(const char *path)
{
	struct buf dir, stem;
	buf_init(&dir, 4096);
	buf_init(&stem, 4096);
	const char *slash = strrchr(path, '/');
	int r = slash ? buf_add(&dir, path, slash == path ? 1 : (size_t)(slash - path))
		      : buf_puts(&dir, ".");
	if (r == 0)
		r = buf_printf(&stem, "%s.tmp.", slash ? slash + 1 : path);
	DIR *d = r == 0 ? opendir(dir.data) : NULL;
	if (r == 0 && !d)
		r = errno == ENOENT ? 0 : -errno;
	bool removed = false;
	for (struct dirent *e; d && (e = readdir(d));) {
		if (strncmp(e->d_name, stem.data, stem.len) || !e->d_name[stem.len] ||
		    strspn(e->d_name + stem.len, "0123456789") != strlen(e->d_name + stem.len))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed = true;
	}
	if (d)
		closedir(d);
	if (removed)
		r = fsync_dir(dir.data);
	buf_release(&dir);
	buf_release(&stem);
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void fileio_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int fileio_dir_names(const char *dir, bool (*keep)(int dfd, const char *name, void *arg),
		     void *arg, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
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
		if (!keep(dirfd(d), e->d_name, arg))
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
		fileio_names_free(v, count);
		return r;
	}
	if (count)
		qsort(v, count, sizeof *v, by_name);
	*names = v;
	*n = count;
	return 0;
}
