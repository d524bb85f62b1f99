/* The inode table: path <-> inode number, with the kernel's lookup counts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

#define NODES_BUCKETS 4096
#define ROOT_INO 1

struct node {
	uint64_t ino;
	char *path;              /* NULL once detached by a rename */
	uint64_t nlookup;
	struct node *next_path;  /* chain in by_path */
	struct node *next_ino;   /* chain in by_ino */
};

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

int nodes_init(struct nodes *t)
{
	pthread_mutex_init(&t->lock, NULL);
	t->n_buckets = NODES_BUCKETS;
	t->by_path = calloc(t->n_buckets, sizeof *t->by_path);
	t->by_ino = calloc(t->n_buckets, sizeof *t->by_ino);
	t->next_ino = ROOT_INO + 1;
	if (!t->by_path || !t->by_ino)
		return -ENOMEM;
	/* The root is always there; the kernel never looks it up. */
	return nodes_lookup(t, "/") == ROOT_INO ? 0 : -ENOMEM;
}

void nodes_release(struct nodes *t)
{
	for (size_t i = 0; t->by_ino && i < t->n_buckets; i++) {
		struct node *n = t->by_ino[i];
		while (n) {
			struct node *next = n->next_ino;
			free(n->path);
			free(n);
			n = next;
		}
	}
	free(t->by_path);
	free(t->by_ino);
	pthread_mutex_destroy(&t->lock);
}

static struct node *find_path(struct nodes *t, const char *path)
{
	for (struct node *n = t->by_path[hash_str(path) % t->n_buckets]; n; n = n->next_path)
		if (!strcmp(n->path, path))
			return n;
	return NULL;
}

static struct node *find_ino(struct nodes *t, uint64_t ino)
{
	for (struct node *n = t->by_ino[ino % t->n_buckets]; n; n = n->next_ino)
		if (n->ino == ino)
			return n;
	return NULL;
}

static void unlink_path(struct nodes *t, struct node *victim)
{
	struct node **p = &t->by_path[hash_str(victim->path) % t->n_buckets];
	while (*p && *p != victim)
		p = &(*p)->next_path;
	if (*p)
		*p = victim->next_path;
	victim->next_path = NULL;
}

uint64_t nodes_lookup(struct nodes *t, const char *path)
{
	pthread_mutex_lock(&t->lock);
	struct node *n = find_path(t, path);
	if (!n) {
		n = calloc(1, sizeof *n);
		if (n)
			n->path = strdup(path);
		if (!n || !n->path) {
			free(n);
			pthread_mutex_unlock(&t->lock);
			return 0;
		}
		n->ino = strcmp(path, "/") ? t->next_ino++ : ROOT_INO;
		size_t hp = hash_str(path) % t->n_buckets, hi = n->ino % t->n_buckets;
		n->next_path = t->by_path[hp];
		t->by_path[hp] = n;
		n->next_ino = t->by_ino[hi];
		t->by_ino[hi] = n;
	}
	n->nlookup++;
	uint64_t ino = n->ino;
	pthread_mutex_unlock(&t->lock);
	return ino;
}

uint64_t nodes_find(struct nodes *t, const char *path)
{
	pthread_mutex_lock(&t->lock);
	struct node *n = find_path(t, path);
	uint64_t ino = n && n->nlookup ? n->ino : 0;
	pthread_mutex_unlock(&t->lock);
	return ino;
}

int nodes_path(struct nodes *t, uint64_t ino, struct buf *out)
{
	pthread_mutex_lock(&t->lock);
	struct node *n = find_ino(t, ino);
	int r = (n && n->path) ? buf_puts(out, n->path) : -ENOENT;
	pthread_mutex_unlock(&t->lock);
	return r;
}

void nodes_forget(struct nodes *t, uint64_t ino, uint64_t count)
{
	if (ino == ROOT_INO)
		return;
	pthread_mutex_lock(&t->lock);
	struct node *n = find_ino(t, ino);
	if (n) {
		n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
		if (n->nlookup == 0) {
			if (n->path)
				unlink_path(t, n);
			struct node **p = &t->by_ino[ino % t->n_buckets];
			while (*p != n)
				p = &(*p)->next_ino;
			*p = n->next_ino;
			free(n->path);
			free(n);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void nodes_move(struct nodes *t, const char *from, const char *to)
{
	pthread_mutex_lock(&t->lock);
	struct node *target = find_path(t, to);
	if (target) {
		unlink_path(t, target);
		free(target->path);
		target->path = NULL;
	}
	struct node *n = find_path(t, from);
	char *copy = n ? strdup(to) : NULL;
	if (n && copy) {
		unlink_path(t, n);
		free(n->path);
		n->path = copy;
		size_t hp = hash_str(to) % t->n_buckets;
		n->next_path = t->by_path[hp];
		t->by_path[hp] = n;
	}
	pthread_mutex_unlock(&t->lock);
}
