/* Open-file handles, counted.  The kernel can send release while a read of
 * the same file is still being answered (an interrupted read whose process
 * has gone), so fi->fh is an id, not a pointer: each operation takes a
 * reference for its duration, and the object is freed when the last one is
 * dropped.  Ids carry a generation, so a late request for a closed file
 * finds nothing instead of someone else's file. */
#include <errno.h>
#include <stdlib.h>

#include "fs.h"

struct slot {
	void *obj;               /* NULL: free */
	void (*free_fn)(void *);
	uint32_t gen;
	uint32_t refs;
	uint32_t next_free;      /* index + 1 of the next free slot, 0 = none */
};

void handles_init(struct handles *t)
{
	pthread_mutex_init(&t->lock, NULL);
	t->slots = NULL;
	t->n = 0;
	t->free_head = 0;
}

void handles_release(struct handles *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->slots[i].obj)
			t->slots[i].free_fn(t->slots[i].obj);
	free(t->slots);
	pthread_mutex_destroy(&t->lock);
}

uint64_t handles_add(struct handles *t, void *obj, void (*free_fn)(void *))
{
	pthread_mutex_lock(&t->lock);
	uint32_t idx;
	if (t->free_head) {
		idx = t->free_head - 1;
		t->free_head = t->slots[idx].next_free;
	} else {
		if (t->n == UINT32_MAX - 1) {
			pthread_mutex_unlock(&t->lock);
			return 0;
		}
		struct slot *grown = realloc(t->slots, (t->n + 1) * sizeof *grown);
		if (!grown) {
			pthread_mutex_unlock(&t->lock);
			return 0;
		}
		t->slots = grown;
		idx = (uint32_t)t->n++;
		t->slots[idx].gen = 0;
	}
	struct slot *s = &t->slots[idx];
	s->obj = obj;
	s->free_fn = free_fn;
	s->gen++;
	s->refs = 1;
	s->next_free = 0;
	uint64_t id = ((uint64_t)s->gen << 32) | (idx + 1);
	pthread_mutex_unlock(&t->lock);
	return id;
}

static struct slot *find(struct handles *t, uint64_t id)
{
	uint32_t idx = (uint32_t)(id & 0xffffffffu);
	if (idx == 0 || idx > t->n)
		return NULL;
	struct slot *s = &t->slots[idx - 1];
	return s->obj && s->gen == (uint32_t)(id >> 32) ? s : NULL;
}

void *handles_get(struct handles *t, uint64_t id)
{
	pthread_mutex_lock(&t->lock);
	struct slot *s = find(t, id);
	void *obj = NULL;
	if (s) {
		s->refs++;
		obj = s->obj;
	}
	pthread_mutex_unlock(&t->lock);
	return obj;
}

void handles_put(struct handles *t, uint64_t id)
{
	pthread_mutex_lock(&t->lock);
	struct slot *s = find(t, id);
	void *obj = NULL;
	void (*free_fn)(void *) = NULL;
	if (s && --s->refs == 0) {
		obj = s->obj;
		free_fn = s->free_fn;
		s->obj = NULL;
		s->next_free = t->free_head;
		t->free_head = (uint32_t)(s - t->slots) + 1;
	}
	pthread_mutex_unlock(&t->lock);
	if (obj)
		free_fn(obj);
}
