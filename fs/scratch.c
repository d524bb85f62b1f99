/* Scratch files: editors' temporary files beside settings, kept in memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

struct scratch_file {
	char *dir;
	char *name;
	struct buf data;
	mode_t mode;
	time_t mtime;
	struct scratch_file *next;
};

void scratch_init(struct scratch *s)
{
	pthread_mutex_init(&s->lock, NULL);
	s->head = NULL;
}

static void file_free(struct scratch_file *f)
{
	free(f->dir);
	free(f->name);
	buf_release(&f->data);
	free(f);
}

void scratch_release(struct scratch *s)
{
	while (s->head) {
		struct scratch_file *f = s->head;
		s->head = f->next;
		file_free(f);
	}
	pthread_mutex_destroy(&s->lock);
}

static struct scratch_file **find(struct scratch *s, const char *dir, const char *name)
{
	struct scratch_file **p = &s->head;
	for (; *p; p = &(*p)->next)
		if (!strcmp((*p)->dir, dir) && !strcmp((*p)->name, name))
			break;
	return p;
}

int scratch_create(struct scratch *s, const char *dir, const char *name, mode_t mode)
{
	pthread_mutex_lock(&s->lock);
	int r = 0;
	size_t in_dir = 0;
	for (struct scratch_file *f = s->head; f; f = f->next)
		in_dir += !strcmp(f->dir, dir);
	if (*find(s, dir, name))
		r = -EEXIST;
	else if (in_dir >= SCRATCH_PER_DIR_MAX)
		r = -EDQUOT;
	struct scratch_file *f = r == 0 ? calloc(1, sizeof *f) : NULL;
	if (r == 0 && f) {
		f->dir = strdup(dir);
		f->name = strdup(name);
		buf_init(&f->data, SCRATCH_SIZE_MAX);
		f->mode = mode & 07777;
		f->mtime = time(NULL);
	}
	if (r == 0 && (!f || !f->dir || !f->name)) {
		if (f)
			file_free(f);
		r = -ENOMEM;
	} else if (r == 0) {
		f->next = s->head;
		s->head = f;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int scratch_stat(struct scratch *s, const char *dir, const char *name, struct scratch_stat *st)
{
	pthread_mutex_lock(&s->lock);
	struct scratch_file *f = *find(s, dir, name);
	if (f) {
		st->size = f->data.len;
		st->mode = f->mode;
		st->mtime = f->mtime;
	}
	pthread_mutex_unlock(&s->lock);
	return f ? 0 : -ENOENT;
}

/* Grow f to size bytes, zero-filled. */
static int grow(struct scratch_file *f, size_t size)
{
	static const char zeros[4096];
	while (f->data.len < size) {
		size_t n = size - f->data.len;
		int r = buf_add(&f->data, zeros, n > sizeof zeros ? sizeof zeros : n);
		if (r < 0)
			return r == -E2BIG ? -EFBIG : r;
	}
	return 0;
}

int scratch_write(struct scratch *s, const char *dir, const char *name, off_t off,
		  const char *data, size_t len)
{
	if (off < 0 || (size_t)off > SCRATCH_SIZE_MAX || len > SCRATCH_SIZE_MAX - (size_t)off)
		return -EFBIG;
	pthread_mutex_lock(&s->lock);
	struct scratch_file *f = *find(s, dir, name);
	int r = f ? grow(f, (size_t)off + len) : -ENOENT;
	if (r == 0) {
		memcpy(f->data.data + off, data, len);
		f->mtime = time(NULL);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int scratch_read(struct scratch *s, const char *dir, const char *name, off_t off, size_t size,
		 struct buf *out)
{
	pthread_mutex_lock(&s->lock);
	struct scratch_file *f = *find(s, dir, name);
	int r = f ? 0 : -ENOENT;
	if (f && off >= 0 && (size_t)off < f->data.len) {
		size_t n = f->data.len - (size_t)off;
		r = buf_add(out, f->data.data + off, n < size ? n : size);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int scratch_truncate(struct scratch *s, const char *dir, const char *name, off_t size)
{
	if (size < 0 || (size_t)size > SCRATCH_SIZE_MAX)
		return -EFBIG;
	pthread_mutex_lock(&s->lock);
	struct scratch_file *f = *find(s, dir, name);
	int r = f ? 0 : -ENOENT;
	if (f) {
		if ((size_t)size < f->data.len) {
			f->data.len = (size_t)size;
			f->data.data[size] = '\0';
		} else {
			r = grow(f, (size_t)size);
		}
		f->mtime = time(NULL);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int scratch_chmod(struct scratch *s, const char *dir, const char *name, mode_t mode)
{
	pthread_mutex_lock(&s->lock);
	struct scratch_file *f = *find(s, dir, name);
	if (f)
		f->mode = mode & 07777;
	pthread_mutex_unlock(&s->lock);
	return f ? 0 : -ENOENT;
}

int scratch_contents(struct scratch *s, const char *dir, const char *name, struct buf *out)
{
	pthread_mutex_lock(&s->lock);
	struct scratch_file *f = *find(s, dir, name);
	int r = f ? buf_add(out, f->data.data ? f->data.data : "", f->data.len) : -ENOENT;
	pthread_mutex_unlock(&s->lock);
	return r;
}

int scratch_remove(struct scratch *s, const char *dir, const char *name)
{
	pthread_mutex_lock(&s->lock);
	struct scratch_file **p = find(s, dir, name);
	struct scratch_file *f = *p;
	if (f)
		*p = f->next;
	pthread_mutex_unlock(&s->lock);
	if (!f)
		return -ENOENT;
	file_free(f);
	return 0;
}

int scratch_rename(struct scratch *s, const char *dir, const char *from, const char *to)
{
	char *copy = strdup(to);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	struct scratch_file *f = *find(s, dir, from);
	struct scratch_file *victim = NULL;
	if (f && strcmp(from, to)) {
		struct scratch_file **p = find(s, dir, to);
		victim = *p;
		if (victim)
			*p = victim->next;
		free(f->name);
		f->name = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	free(copy);
	if (victim)
		file_free(victim);
	return f ? 0 : -ENOENT;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int scratch_list(struct scratch *s, const char *dir, struct buf *out, size_t *n)
{
	const char *names[SCRATCH_PER_DIR_MAX];
	size_t count = 0;
	pthread_mutex_lock(&s->lock);
	for (struct scratch_file *f = s->head; f && count < SCRATCH_PER_DIR_MAX; f = f->next)
		if (!strcmp(f->dir, dir))
			names[count++] = f->name;
	qsort(names, count, sizeof *names, by_name);
	int r = 0;
	for (size_t i = 0; r == 0 && i < count; i++)
		r = buf_add(out, names[i], strlen(names[i]) + 1);
	pthread_mutex_unlock(&s->lock);
	*n = count;
	return r;
}

void scratch_drop_dir(struct scratch *s, const char *dir)
{
	pthread_mutex_lock(&s->lock);
	struct scratch_file **p = &s->head;
	while (*p) {
		struct scratch_file *f = *p;
		if (!strcmp(f->dir, dir)) {
			*p = f->next;
			file_free(f);
		} else {
			p = &f->next;
		}
	}
	pthread_mutex_unlock(&s->lock);
}
