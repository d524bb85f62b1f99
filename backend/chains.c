/* Digest chains: cadence, journal, exactly-once writing (see chains.h). */
#include "chains.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "fileio.h"
#include "gz.h"
#include "json.h"
#include "validate.h"

#define PATH_MAX_LEN 4096
/* Journal lines no chain needs any more, past which (and past the live
 * ones) the journal is rewritten with the live ones only. */
#define JOURNAL_DEAD_MIN 1024
#define LINE_MAX_LEN     (8u * 1024)

struct entry {
	uint64_t seq;
	int64_t time;             /* delivery time */
	char *bucket;
	char *key;
	char hash[SIGN_SHA256_HEX_LEN + 1];
	int64_t oldest, newest;
};

struct link {
	bool set;                 /* false: a chain start, null links */
	char *bucket;
	char *key;
	char hash[SIGN_SHA256_HEX_LEN + 1];
	char *signature;
};

/* What a sync will make of a chain once its state is durable. */
struct plan {
	bool set;
	int64_t start;
	uint64_t consumed;
	size_t taken;             /* entries[0..taken) are in a digest */
	struct link prev;
	bool remove;              /* the chain has ended */
};

struct chain {
	uint64_t id;
	char *trail, *region, *bucket, *prefix, *account, *home;
	int64_t start;            /* the open window's start */
	uint64_t consumed;        /* journal lines up to this seq are in digests */
	bool closing;             /* ended at end, final digest not yet written */
	int64_t end;
	bool fresh;               /* started by this sync, not yet durable */
	struct link prev;
	struct entry *e;          /* its journaled files not in a digest, by seq */
	size_t n_e;
	struct plan plan;
};

/* A digest recorded and not yet (known to be) stored. */
struct pending {
	char *trail;
	char *bucket;
	char *key;
	char *body;
	size_t len;
	char *signature;
};

struct status {
	char *trail;
	int64_t time;
	char *error;
};

/* The end of the last digest of a trail and region, so that a chain that
 * starts again in the same second never names a digest like the last. */
struct endmark {
	char *trail;
	char *region;
	int64_t end;
};

struct chains {
	pthread_mutex_t lock;     /* guards everything below and both files */
	pthread_mutex_t put_lock; /* one store_recorded at a time; taken before lock */
	struct store *store;
	struct sign *sign;
	unsigned interval;
	char *state_path;
	char *journal_path;
	int jfd;
	off_t jsize;
	uint64_t next_id, next_seq;
	size_t dead;              /* journal lines no chain needs */
	bool dirty;               /* memory is ahead of digests.json (chains_record) */
	struct chain **chains;
	size_t n_chains;
	struct pending *pending;
	size_t n_pending;
	struct status *status;
	size_t n_status;
	struct endmark *ends;
	size_t n_ends;
	/* Regions known to have a current signing key (one never goes away:
	 * rotation makes the next), so a sync without leave to make keys
	 * asks the key ring nothing and never waits for a key being made. */
	char (*ready)[CT_REGION_MAX + 1];
	size_t n_ready;
};

static bool region_ready(const struct chains *c, const char *region)
{
	for (size_t i = 0; i < c->n_ready; i++)
		if (!strcmp(c->ready[i], region))
			return true;
	return false;
}

/* Caller holds c->lock. */
static void mark_ready(struct chains *c, const char *region)
{
	if (region_ready(c, region) || strlen(region) > CT_REGION_MAX)
		return;
	char (*grown)[CT_REGION_MAX + 1] = realloc(c->ready, (c->n_ready + 1) * sizeof *grown);
	if (!grown)
		return;
	c->ready = grown;
	snprintf(c->ready[c->n_ready++], CT_REGION_MAX + 1, "%s", region);
}

/* ---- small helpers ---- */

static char *path_in(const char *dir, const char *name)
{
	struct buf b;
	buf_init(&b, PATH_MAX_LEN);
	if (buf_printf(&b, "%s/%s", dir, name) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_take(&b);
}

static void link_release(struct link *l)
{
	free(l->bucket);
	free(l->key);
	free(l->signature);
	memset(l, 0, sizeof *l);
}

static int link_copy(struct link *dst, const struct link *src)
{
	memset(dst, 0, sizeof *dst);
	if (!src->set)
		return 0;
	dst->set = true;
	dst->bucket = strdup(src->bucket);
	dst->key = strdup(src->key);
	dst->signature = strdup(src->signature);
	memcpy(dst->hash, src->hash, sizeof dst->hash);
	if (!dst->bucket || !dst->key || !dst->signature) {
		link_release(dst);
		return -ENOMEM;
	}
	return 0;
}

static void entry_release(struct entry *e)
{
	free(e->bucket);
	free(e->key);
}

static void chain_free(struct chain *ch)
{
	if (!ch)
		return;
	free(ch->trail);
	free(ch->region);
	free(ch->bucket);
	free(ch->prefix);
	free(ch->account);
	free(ch->home);
	link_release(&ch->prev);
	link_release(&ch->plan.prev);
	for (size_t i = 0; i < ch->n_e; i++)
		entry_release(&ch->e[i]);
	free(ch->e);
	free(ch);
}

static void pending_release(struct pending *p)
{
	free(p->trail);
	free(p->bucket);
	free(p->key);
	free(p->body);
	free(p->signature);
}

static struct chain *running(struct chains *c, const char *trail, const char *region)
{
	for (size_t i = 0; i < c->n_chains; i++) {
		struct chain *ch = c->chains[i];
		if (!ch->closing && !strcmp(ch->trail, trail) && !strcmp(ch->region, region))
			return ch;
	}
	return NULL;
}

static struct chain *chain_by_id(struct chains *c, uint64_t id)
{
	for (size_t i = 0; i < c->n_chains; i++)
		if (c->chains[i]->id == id)
			return c->chains[i];
	return NULL;
}

static struct status *status_get(struct chains *c, const char *trail, bool create)
{
	for (size_t i = 0; i < c->n_status; i++)
		if (!strcmp(c->status[i].trail, trail))
			return &c->status[i];
	if (!create)
		return NULL;
	struct status *grown = realloc(c->status, (c->n_status + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	c->status = grown;
	struct status *s = &grown[c->n_status];
	s->trail = strdup(trail);
	s->error = strdup("");
	s->time = 0;
	if (!s->trail || !s->error) {
		free(s->trail);
		free(s->error);
		return NULL;
	}
	c->n_status++;
	return s;
}

static void status_set(struct chains *c, const char *trail, int64_t time, const char *error)
{
	struct status *s = status_get(c, trail, true);
	if (!s)
		return;
	char *copy = strdup(error);
	if (!copy)
		return;
	free(s->error);
	s->error = copy;
	if (time)
		s->time = time;
}

static struct endmark *endmark_get(struct chains *c, const char *trail, const char *region)
{
	for (size_t i = 0; i < c->n_ends; i++)
		if (!strcmp(c->ends[i].trail, trail) && !strcmp(c->ends[i].region, region))
			return &c->ends[i];
	return NULL;
}

static int endmark_set(struct chains *c, const char *trail, const char *region, int64_t end)
{
	struct endmark *m = endmark_get(c, trail, region);
	if (m) {
		if (end > m->end)
			m->end = end;
		return 0;
	}
	struct endmark *grown = realloc(c->ends, (c->n_ends + 1) * sizeof *grown);
	if (!grown)
		return -ENOMEM;
	c->ends = grown;
	m = &grown[c->n_ends];
	m->trail = strdup(trail);
	m->region = strdup(region);
	m->end = end;
	if (!m->trail || !m->region) {
		free(m->trail);
		free(m->region);
		return -ENOMEM;
	}
	c->n_ends++;
	return 0;
}


static bool json_time(const json *j, int64_t *out)
{
	uint64_t v;
	if (!json_u64(j, &v) || v > (uint64_t)DIGEST_TIME_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool hex_of_len(const char *s, size_t len)
{
	if (!s || strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static char *dup_member(const json *o, const char *name)
{
	const char *s = json_string(json_get(o, name));
	return s ? strdup(s) : NULL;
}

/* ---- the state file ---- */

static json *link_json(const struct link *l)
{
	if (!l->set)
		return json_new_null();
	json *o = json_new_object();
	int r = o ? json_add_string(o, "bucket", l->bucket) : -ENOMEM;
	if (r == 0)
		r = json_add_string(o, "key", l->key);
	if (r == 0)
		r = json_add_string(o, "hash", l->hash);
	if (r == 0)
		r = json_add_string(o, "signature", l->signature);
	if (r < 0) {
		json_free(o);
		return NULL;
	}
	return o;
}

static int add_chain(json *arr, const struct chain *ch)
{
	const struct plan *p = ch->plan.set ? &ch->plan : NULL;
	if (p && p->remove)
		return 0;
	json *o = json_new_object();
	int r = o ? json_add_number(o, "id", (double)ch->id) : -ENOMEM;
	const char *names[] = { "trail", "region", "bucket", "prefix", "account", "homeRegion" };
	const char *vals[] = { ch->trail, ch->region, ch->bucket, ch->prefix, ch->account, ch->home };
	for (size_t i = 0; r == 0 && i < 6; i++)
		r = json_add_string(o, names[i], vals[i]);
	if (r == 0)
		r = json_add_number(o, "start", (double)(p ? p->start : ch->start));
	if (r == 0)
		r = json_add_number(o, "consumed", (double)(p ? p->consumed : ch->consumed));
	if (r == 0)
		r = json_add_bool(o, "closing", ch->closing);
	if (r == 0)
		r = json_add_number(o, "end", (double)ch->end);
	json *l = r == 0 ? link_json(p ? &p->prev : &ch->prev) : NULL;
	if (r == 0)
		r = l ? json_add(o, "previous", l) : -ENOMEM;
	if (r == 0)
		r = json_append(arr, o);
	else
		json_free(o);
	return r;
}

static int add_pending(json *arr, const struct pending *p)
{
	json *o = json_new_object();
	int r = o ? json_add_string(o, "trail", p->trail) : -ENOMEM;
	if (r == 0)
		r = json_add_string(o, "bucket", p->bucket);
	if (r == 0)
		r = json_add_string(o, "key", p->key);
	if (r == 0)
		r = json_add_string(o, "body", p->body);
	if (r == 0)
		r = json_add_string(o, "signature", p->signature);
	if (r == 0)
		r = json_append(arr, o);
	else
		json_free(o);
	return r;
}

/* Write digests.json: the chains as their plans will leave them, the
 * digests recorded (pending[0..n_pending) and more[0..n_more)). */
static int save_state(struct chains *c, const struct pending *more, size_t n_more,
		      struct ct_err *err)
{
	json *doc = json_new_object(), *chains = json_new_array(), *pend = json_new_array(),
	     *status = json_new_array(), *ends = json_new_array();
	int r = doc && chains && pend && status && ends ? 0 : -ENOMEM;
	if (r == 0)
		r = json_add_number(doc, "format", CHAINS_FORMAT);
	if (r == 0)
		r = json_add_number(doc, "nextId", (double)c->next_id);
	for (size_t i = 0; r == 0 && i < c->n_chains; i++)
		r = add_chain(chains, c->chains[i]);
	for (size_t i = 0; r == 0 && i < c->n_pending; i++)
		r = add_pending(pend, &c->pending[i]);
	for (size_t i = 0; r == 0 && i < n_more; i++)
		r = add_pending(pend, &more[i]);
	for (size_t i = 0; r == 0 && i < c->n_status; i++) {
		json *o = json_new_object();
		r = o ? json_add_string(o, "trail", c->status[i].trail) : -ENOMEM;
		if (r == 0)
			r = json_add_number(o, "time", (double)c->status[i].time);
		if (r == 0)
			r = json_add_string(o, "error", c->status[i].error);
		if (r == 0)
			r = json_append(status, o);
		else
			json_free(o);
	}
	for (size_t i = 0; r == 0 && i < c->n_ends; i++) {
		json *o = json_new_object();
		r = o ? json_add_string(o, "trail", c->ends[i].trail) : -ENOMEM;
		if (r == 0)
			r = json_add_string(o, "region", c->ends[i].region);
		if (r == 0)
			r = json_add_number(o, "end", (double)c->ends[i].end);
		if (r == 0)
			r = json_append(ends, o);
		else
			json_free(o);
	}
	json *parts[] = { chains, pend, status, ends };
	const char *names[] = { "chains", "pending", "status", "ends" };
	for (size_t i = 0; i < 4; i++) {
		if (r == 0) {
			r = json_add(doc, names[i], parts[i]);
			if (r == 0)
				parts[i] = NULL;
		}
		json_free(parts[i]);
	}
	char *text = r == 0 ? json_print(doc, false) : NULL;
	if (r == 0 && !text)
		r = -ENOMEM;
	if (r == 0 && strlen(text) > CHAINS_STATE_MAX)
		r = -E2BIG;
	if (r == 0)
		r = write_file_durable(c->state_path, text, strlen(text), 0600);
	if (r == 0 && n_more == 0)
		c->dirty = false;
	free(text);
	json_free(doc);
	return r < 0 ? ct_fail_errno(err, r, c->state_path) : 0;
}

static int load_link(const json *j, struct link *l)
{
	memset(l, 0, sizeof *l);
	if (json_is_null(j))
		return 0;
	const char *hash = json_string(json_get(j, "hash"));
	const char *sig = json_string(json_get(j, "signature"));
	if (!json_is_object(j) || !hex_of_len(hash, SIGN_SHA256_HEX_LEN) || !sig ||
	    strlen(sig) > DIGEST_SIGNATURE_HEX_MAX)
		return -EINVAL;
	l->set = true;
	l->bucket = dup_member(j, "bucket");
	l->key = dup_member(j, "key");
	l->signature = strdup(sig);
	memcpy(l->hash, hash, sizeof l->hash);
	if (!l->bucket || !l->key || !l->signature) {
		link_release(l);
		return -EINVAL;
	}
	return 0;
}

static int load_chain(struct chains *c, const json *o)
{
	struct chain *ch = calloc(1, sizeof *ch);
	if (!ch)
		return -ENOMEM;
	uint64_t id;
	int r = json_is_object(o) && json_u64(json_get(o, "id"), &id) &&
		json_time(json_get(o, "start"), &ch->start) &&
		json_u64(json_get(o, "consumed"), &ch->consumed) &&
		json_is_bool(json_get(o, "closing")) && json_time(json_get(o, "end"), &ch->end)
		? 0 : -EINVAL;
	if (r == 0) {
		ch->id = id;
		ch->closing = json_bool(json_get(o, "closing"));
		ch->trail = dup_member(o, "trail");
		ch->region = dup_member(o, "region");
		ch->bucket = dup_member(o, "bucket");
		ch->prefix = dup_member(o, "prefix");
		ch->account = dup_member(o, "account");
		ch->home = dup_member(o, "homeRegion");
		if (!ch->trail || !ch->region || !ch->bucket || !ch->prefix || !ch->account ||
		    !ch->home || !region_name_valid(ch->region) || chain_by_id(c, id) ||
		    (ch->closing && ch->end < ch->start))
			r = -EINVAL;
	}
	if (r == 0)
		r = load_link(json_get(o, "previous"), &ch->prev);
	struct chain **grown = r == 0 ? realloc(c->chains, (c->n_chains + 1) * sizeof *grown) : NULL;
	if (r == 0 && !grown)
		r = -ENOMEM;
	if (r < 0) {
		chain_free(ch);
		return r;
	}
	c->chains = grown;
	c->chains[c->n_chains++] = ch;
	if (id >= c->next_id)
		c->next_id = id + 1;
	return 0;
}

static int load_state(struct chains *c, struct ct_err *err)
{
	struct buf text;
	buf_init(&text, CHAINS_STATE_MAX);
	int r = read_file(c->state_path, &text);
	if (r == -ENOENT) {
		buf_release(&text);
		return 0;
	}
	if (r < 0) {
		buf_release(&text);
		return ct_fail(err, "InvalidStateFile", "%s: cannot read: %s", c->state_path,
			       strerror(-r));
	}
	json *doc = json_parse(buf_str(&text), text.len, NULL);
	buf_release(&text);
	if (!doc)
		return ct_fail_damaged(err, c->state_path, "not valid JSON");
	json *format = json_get(doc, "format"), *chains = json_get(doc, "chains"),
	     *pend = json_get(doc, "pending"), *status = json_get(doc, "status"),
	     *ends = json_get(doc, "ends");
	uint64_t next_id;
	if (!json_is_number(format) || json_number(format) > CHAINS_FORMAT) {
		json_free(doc);
		return ct_fail(err, "InvalidStateFile", "%s: format is missing or newer than %d",
			       c->state_path, CHAINS_FORMAT);
	}
	if (!json_u64(json_get(doc, "nextId"), &next_id) || !json_is_array(chains) ||
	    !json_is_array(pend) || !json_is_array(status) || !json_is_array(ends)) {
		json_free(doc);
		return ct_fail_damaged(err, c->state_path, "a member is missing");
	}
	c->next_id = next_id;
	const char *what = NULL;
	for (json *o = json_first(chains); r == 0 && o; o = json_next(o))
		if ((r = load_chain(c, o)) == -EINVAL)
			what = "a chain";
	for (json *o = json_first(pend); r == 0 && o; o = json_next(o)) {
		struct pending p = { dup_member(o, "trail"), dup_member(o, "bucket"),
				     dup_member(o, "key"), dup_member(o, "body"), 0,
				     dup_member(o, "signature") };
		struct pending *grown = NULL;
		if (!p.trail || !p.bucket || !p.key || !p.body || !p.signature) {
			r = -EINVAL;
			what = "a recorded digest";
		} else if (!(grown = realloc(c->pending, (c->n_pending + 1) * sizeof *grown))) {
			r = -ENOMEM;
		}
		if (r < 0) {
			pending_release(&p);
			break;
		}
		p.len = strlen(p.body);
		c->pending = grown;
		c->pending[c->n_pending++] = p;
	}
	for (json *o = json_first(status); r == 0 && o; o = json_next(o)) {
		const char *trail = json_string(json_get(o, "trail"));
		const char *e = json_string(json_get(o, "error"));
		int64_t t;
		if (!trail || !e || !json_time(json_get(o, "time"), &t)) {
			r = -EINVAL;
			what = "a trail's status";
			break;
		}
		struct status *s = status_get(c, trail, true);
		char *copy = strdup(e);
		if (!s || !copy) {
			free(copy);
			r = -ENOMEM;
			break;
		}
		free(s->error);
		s->error = copy;
		s->time = t;
	}
	for (json *o = json_first(ends); r == 0 && o; o = json_next(o)) {
		const char *trail = json_string(json_get(o, "trail"));
		const char *region = json_string(json_get(o, "region"));
		int64_t t;
		if (!trail || !region || !json_time(json_get(o, "end"), &t)) {
			r = -EINVAL;
			what = "a digest end";
			break;
		}
		r = endmark_set(c, trail, region, t);
	}
	json_free(doc);
	if (r == -EINVAL)
		return ct_fail_damaged(err, c->state_path, "%s", what ? what : "a member");
	return r < 0 ? ct_fail_errno(err, r, c->state_path) : 0;
}

/* ---- the journal ---- */

static void drop_entry(struct chain *ch, size_t i)
{
	entry_release(&ch->e[i]);
	memmove(&ch->e[i], &ch->e[i + 1], (ch->n_e - i - 1) * sizeof *ch->e);
	ch->n_e--;
}

/* Take back the file bucket/key from every chain; true when one had it. */
static bool forget_file(struct chains *c, const char *bucket, const char *key)
{
	bool any = false;
	for (size_t i = 0; i < c->n_chains; i++) {
		struct chain *ch = c->chains[i];
		for (size_t k = 0; k < ch->n_e;)
			if (!strcmp(ch->e[k].key, key) && !strcmp(ch->e[k].bucket, bucket)) {
				drop_entry(ch, k);
				any = true;
				c->dead += 2;   /* its line and the one taking it back or replacing it */
			} else {
				k++;
			}
	}
	return any;
}

/* Add a journaled file to its chain (the file again: it replaces itself). */
static int chain_add_entry(struct chains *c, struct chain *ch, uint64_t seq, int64_t time,
			   const char *bucket, const char *key, const char *hash, int64_t oldest,
			   int64_t newest)
{
	forget_file(c, bucket, key);
	struct entry *grown = realloc(ch->e, (ch->n_e + 1) * sizeof *grown);
	if (!grown)
		return -ENOMEM;
	ch->e = grown;
	struct entry *e = &grown[ch->n_e];
	e->seq = seq;
	e->time = time;
	e->bucket = strdup(bucket);
	e->key = strdup(key);
	memcpy(e->hash, hash, SIGN_SHA256_HEX_LEN + 1);
	e->oldest = oldest;
	e->newest = newest;
	if (!e->bucket || !e->key) {
		entry_release(e);
		return -ENOMEM;
	}
	ch->n_e++;
	return 0;
}

static json *entry_line(uint64_t seq, uint64_t chain, int64_t time, const char *bucket,
			const char *key, const char *hash, int64_t oldest, int64_t newest)
{
	json *o = json_new_object();
	int r = o ? json_add_number(o, "s", (double)seq) : -ENOMEM;
	if (r == 0 && hash) {
		r = json_add_number(o, "c", (double)chain);
		if (r == 0)
			r = json_add_number(o, "t", (double)time);
	}
	if (r == 0)
		r = json_add_string(o, "b", bucket);
	if (r == 0)
		r = json_add_string(o, "k", key);
	if (r == 0 && hash) {
		r = json_add_string(o, "h", hash);
		if (r == 0)
			r = json_add_number(o, "o", (double)oldest);
		if (r == 0)
			r = json_add_number(o, "n", (double)newest);
	} else if (r == 0) {
		r = json_add_bool(o, "drop", true);
	}
	if (r < 0) {
		json_free(o);
		return NULL;
	}
	return o;
}

static int add_line(struct buf *text, json *o)
{
	char *s = o ? json_print(o, false) : NULL;
	json_free(o);
	if (!s)
		return -ENOMEM;
	int r = strlen(s) > LINE_MAX_LEN ? -E2BIG : buf_puts(text, s);
	free(s);
	return r == 0 ? buf_putc(text, '\n') : r;
}

/* Apply one journal line (at open). */
static int replay_line(struct chains *c, const char *line, size_t len)
{
	json *o = json_parse(line, len, NULL);
	uint64_t seq, id;
	int64_t t, oldest, newest;
	const char *b = json_string(json_get(o, "b")), *k = json_string(json_get(o, "k"));
	int r = 0;
	if (!json_is_object(o) || !json_u64(json_get(o, "s"), &seq) || !b || !k) {
		r = -EINVAL;
	} else if (json_get(o, "drop")) {
		forget_file(c, b, k);
		c->dead++;
	} else {
		const char *h = json_string(json_get(o, "h"));
		if (!json_u64(json_get(o, "c"), &id) || !json_time(json_get(o, "t"), &t) ||
		    !json_time(json_get(o, "o"), &oldest) || !json_time(json_get(o, "n"), &newest) ||
		    !hex_of_len(h, SIGN_SHA256_HEX_LEN) || oldest > newest) {
			r = -EINVAL;
		} else {
			struct chain *ch = chain_by_id(c, id);
			if (ch && seq > ch->consumed)
				r = chain_add_entry(c, ch, seq, t, b, k, h, oldest, newest);
			else
				c->dead++;   /* already in a digest, or its chain has ended */
		}
	}
	if (o && json_u64(json_get(o, "s"), &seq) && seq >= c->next_seq)
		c->next_seq = seq + 1;
	json_free(o);
	return r;
}

static int load_journal(struct chains *c, struct ct_err *err)
{
	struct buf text;
	buf_init(&text, CHAINS_JOURNAL_MAX);
	int r = read_file(c->journal_path, &text);
	if (r < 0 && r != -ENOENT) {
		buf_release(&text);
		return ct_fail(err, "InvalidStateFile", "%s: cannot read: %s", c->journal_path,
			       strerror(-r));
	}
	size_t good = 0;
	for (size_t at = 0; r == 0 && at < text.len;) {
		const char *nl = memchr(text.data + at, '\n', text.len - at);
		if (!nl)
			break;   /* a torn last line: its append never returned */
		size_t len = (size_t)(nl - (text.data + at));
		r = replay_line(c, text.data + at, len);
		if (r == -EINVAL) {
			buf_release(&text);
			return ct_fail_damaged(err, c->journal_path, "a line is not a journal entry");
		}
		at += len + 1;
		good = at;
	}
	buf_release(&text);
	if (r < 0 && r != -ENOENT)
		return ct_fail_errno(err, r, c->journal_path);
	c->jfd = open(c->journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (c->jfd < 0)
		return ct_fail_errno(err, errno, c->journal_path);
	if (ftruncate(c->jfd, (off_t)good) < 0)
		return ct_fail_errno(err, errno, c->journal_path);
	c->jsize = (off_t)good;
	for (size_t i = 0; i < c->n_chains; i++)
		if (c->chains[i]->consumed >= c->next_seq)
			c->next_seq = c->chains[i]->consumed + 1;
	return 0;
}

/* Append text durably; on failure the journal is as it was. */
static int journal_append(struct chains *c, const struct buf *text)
{
	int r = write_all(c->jfd, text->data, text->len);
	if (r == 0 && fdatasync(c->jfd) < 0)
		r = -errno;
	if (r < 0) {
		if (ftruncate(c->jfd, c->jsize) < 0)
			r = -EIO;
		return r;
	}
	c->jsize += (off_t)text->len;
	return 0;
}

/* Rewrite the journal with the files still waiting for a digest. */
static void journal_compact(struct chains *c)
{
	size_t live = 0;
	for (size_t i = 0; i < c->n_chains; i++)
		live += c->chains[i]->n_e;
	if (c->dead < JOURNAL_DEAD_MIN || c->dead < live)
		return;
	struct buf text;
	buf_init(&text, CHAINS_JOURNAL_MAX);
	int r = 0;
	for (size_t i = 0; r == 0 && i < c->n_chains; i++) {
		const struct chain *ch = c->chains[i];
		for (size_t k = 0; r == 0 && k < ch->n_e; k++) {
			const struct entry *e = &ch->e[k];
			r = add_line(&text, entry_line(e->seq, ch->id, e->time, e->bucket, e->key,
						       e->hash, e->oldest, e->newest));
		}
	}
	/* Lines of one chain stay in seq order; chains may interleave in any
	 * order, as each is read on its own.  A failure keeps the old journal,
	 * which says the same. */
	if (r == 0)
		r = write_file_durable(c->journal_path, text.data ? text.data : "", text.len, 0600);
	if (r == 0) {
		int fd = open(c->journal_path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0) {
			close(c->jfd);
			c->jfd = fd;
			c->jsize = (off_t)text.len;
			c->dead = 0;
		}
	}
	buf_release(&text);
}

int chains_delivered(void *ctx, int64_t time, const struct delivery_log *logs, size_t n,
		     const struct delivery_log *gone, size_t n_gone)
{
	struct chains *c = ctx;
	pthread_mutex_lock(&c->lock);
	struct buf text;
	buf_init(&text, CHAINS_JOURNAL_MAX);
	uint64_t seq = c->next_seq;
	int r = 0;
	for (size_t i = 0; r == 0 && i < n_gone; i++) {
		bool known = false;
		for (size_t k = 0; k < c->n_chains && !known; k++)
			for (size_t m = 0; m < c->chains[k]->n_e && !known; m++)
				known = !strcmp(c->chains[k]->e[m].key, gone[i].key) &&
					!strcmp(c->chains[k]->e[m].bucket, gone[i].bucket);
		if (known)
			r = add_line(&text, entry_line(seq++, 0, 0, gone[i].bucket, gone[i].key, NULL,
						       0, 0));
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct delivery_log *l = &logs[i];
		struct chain *ch = running(c, l->trail, l->region);
		if (!ch)
			continue;
		if (!hex_of_len(l->hash, SIGN_SHA256_HEX_LEN) || time < 0 || l->oldest < 0 ||
		    l->oldest > l->newest || l->newest > DIGEST_TIME_MAX) {
			r = -EINVAL;
			break;
		}
		r = add_line(&text, entry_line(seq++, ch->id, time, l->bucket, l->key, l->hash,
					       l->oldest, l->newest));
	}
	/* A chain that chains_record started is made durable before a line
	 * names it. */
	if (r == 0 && text.len && c->dirty)
		r = save_state(c, NULL, 0, NULL);
	if (r == 0 && text.len)
		r = journal_append(c, &text);
	/* Durable: now the same in memory, in the same order as a replay. */
	seq = c->next_seq;
	for (size_t i = 0; r == 0 && text.len && i < n_gone; i++)
		if (forget_file(c, gone[i].bucket, gone[i].key))
			seq++;
	for (size_t i = 0; r == 0 && text.len && i < n; i++) {
		struct chain *ch = running(c, logs[i].trail, logs[i].region);
		if (ch)
			r = chain_add_entry(c, ch, seq++, time, logs[i].bucket, logs[i].key,
					    logs[i].hash, logs[i].oldest, logs[i].newest);
	}
	if (text.len)
		c->next_seq = seq;
	buf_release(&text);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* ---- writing digests ---- */

static void store_error(struct chains *c, const char *trail, const char *bucket, int r)
{
	char text[CHAINS_ERROR_MAX];
	if (r == -ENOENT)
		snprintf(text, sizeof text, "NoSuchBucket: %s (%s)", bucket, strerror(-r));
	else
		snprintf(text, sizeof text, "cannot write a digest to bucket %s: %s", bucket,
			 strerror(r < 0 ? -r : r));
	status_set(c, trail, 0, text);
}

/* Store a recorded digest: its bytes as one gzip member, its signature as
 * the metadata validate-logs reads.  Never encrypted. */
static int put_digest(struct chains *c, const struct pending *p)
{
	struct buf gz;
	buf_init(&gz, DIGEST_BODY_MAX + DIGEST_BODY_MAX / 8 + 4096);
	int r = gz_compress(p->body, p->len, GZ_LEVEL_DEFAULT, &gz);
	if (r == 0) {
		struct store_object_info info;
		memset(&info, 0, sizeof info);
		info.meta[0].name = (char *)"signature";
		info.meta[0].value = p->signature;
		info.meta[1].name = (char *)"signature-algorithm";
		info.meta[1].value = (char *)SIGN_ALGORITHM;
		info.n_meta = 2;
		r = c->store->ops->object_put(c->store, p->bucket, p->key, gz.data, gz.len, &info);
	}
	buf_release(&gz);
	return r;
}

/* Store every recorded digest; those stored leave the record.  Called
 * without c->lock: the objects are written with only put_lock held (one
 * writer of digest objects at a time), so that a quick caller
 * (chains_record, the observer) never waits for the store. */
static void store_recorded(struct chains *c, int64_t now)
{
	pthread_mutex_lock(&c->put_lock);
	pthread_mutex_lock(&c->lock);
	size_t n = c->n_pending;
	struct pending *copy = n ? calloc(n, sizeof *copy) : NULL;
	int *res = n ? calloc(n, sizeof *res) : NULL;
	if (n && (!copy || !res))
		n = 0;   /* no memory now: the next sync, or open, stores them */
	for (size_t i = 0; i < n; i++) {
		const struct pending *p = &c->pending[i];
		copy[i] = (struct pending){ strdup(p->trail), strdup(p->bucket), strdup(p->key),
					    malloc(p->len + 1), p->len, strdup(p->signature) };
		if (copy[i].body)
			memcpy(copy[i].body, p->body, p->len + 1);
	}
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++) {
		const struct pending *p = &copy[i];
		res[i] = p->trail && p->bucket && p->key && p->body && p->signature ? put_digest(c, p)
										     : -ENOMEM;
	}
	pthread_mutex_lock(&c->lock);
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		if (res[i] < 0) {
			if (copy[i].trail && copy[i].bucket)
				store_error(c, copy[i].trail, copy[i].bucket, res[i]);
			continue;
		}
		status_set(c, copy[i].trail, now, "");
		for (size_t k = 0; k < c->n_pending; k++)
			if (!strcmp(c->pending[k].key, copy[i].key) &&
			    !strcmp(c->pending[k].bucket, copy[i].bucket)) {
				pending_release(&c->pending[k]);
				c->pending[k] = c->pending[--c->n_pending];
				any = true;
				break;
			}
	}
	/* Saving the shorter record may fail: the digests are then stored
	 * again, the same bytes, at the next sync or open. */
	if (any)
		(void)save_state(c, NULL, 0, NULL);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->put_lock);
	for (size_t i = 0; i < n; i++)
		pending_release(&copy[i]);
	free(copy);
	free(res);
}

/* Build, hash and sign the digest of ch for [start, end) listing
 * files[0..n), linking to prev; the result goes into *out. */
static int build_digest(const struct chain *ch, int64_t start, int64_t end,
			const struct entry *files, size_t n, const struct link *prev,
			struct sign_key *key, struct pending *out, char hash[SIGN_SHA256_HEX_LEN + 1])
{
	memset(out, 0, sizeof *out);
	struct digest_location loc = { ch->prefix, ch->account, ch->region, ch->trail, ch->home };
	struct buf kb, body, data;
	buf_init(&kb, DIGEST_KEY_MAX + 1);
	buf_init(&body, DIGEST_BODY_MAX);
	buf_init(&data, SIGN_DATA_MAX);
	struct digest_log_file *logs = calloc(n + 1, sizeof *logs);
	char sig[SIGN_SIGNATURE_HEX_LEN + 1];
	int r = logs ? digest_key(&loc, end, &kb) : -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++)
		logs[i] = (struct digest_log_file){ files[i].bucket, files[i].key, files[i].hash,
						    files[i].oldest, files[i].newest };
	struct digest_previous p = { prev->bucket, prev->key, prev->hash, prev->signature };
	struct digest d = { ch->account, start, end, ch->bucket, buf_str(&kb),
			    sign_key_fingerprint(key), prev->set ? &p : NULL, logs, n };
	if (r == 0)
		r = digest_body(&d, &body);
	if (r == 0)
		r = sign_sha256_hex(body.data, body.len, hash);
	if (r == 0)
		r = digest_data_to_sign(&d, body.data, body.len, &data);
	if (r == 0)
		r = sign_sign(key, data.data, data.len, sig);
	if (r == 0) {
		out->trail = strdup(ch->trail);
		out->bucket = strdup(ch->bucket);
		out->key = buf_take(&kb);
		out->len = body.len;
		out->body = buf_take(&body);
		out->signature = strdup(sig);
		if (!out->trail || !out->bucket || !out->key || !out->body || !out->signature) {
			pending_release(out);
			memset(out, 0, sizeof *out);
			r = -ENOMEM;
		}
	}
	free(logs);
	buf_release(&kb);
	buf_release(&body);
	buf_release(&data);
	return r;
}

static bool same_location(const struct chain *ch, const struct chain_want *w)
{
	return !strcmp(ch->bucket, w->bucket) && !strcmp(ch->prefix, w->prefix ? w->prefix : "") &&
	       !strcmp(ch->account, w->account) && !strcmp(ch->home, w->home_region);
}

static int start_chain(struct chains *c, const struct chain_want *w, int64_t now)
{
	struct chain *ch = calloc(1, sizeof *ch);
	struct chain **grown = ch ? realloc(c->chains, (c->n_chains + 1) * sizeof *grown) : NULL;
	if (!grown) {
		free(ch);
		return -ENOMEM;
	}
	c->chains = grown;
	ch->id = c->next_id++;
	ch->trail = strdup(w->trail);
	ch->region = strdup(w->region);
	ch->bucket = strdup(w->bucket);
	ch->prefix = strdup(w->prefix ? w->prefix : "");
	ch->account = strdup(w->account);
	ch->home = strdup(w->home_region);
	ch->fresh = true;
	const struct endmark *m = endmark_get(c, w->trail, w->region);
	ch->start = m && m->end > now ? m->end : now;
	/* After a chain of this trail and region whose final digest is not
	 * written yet: after its end (plan_chain lengthens a window of no
	 * time to a second), so the two never share a digest name. */
	for (size_t i = 0; i < c->n_chains; i++) {
		const struct chain *o = c->chains[i];
		if (!o->closing || strcmp(o->trail, w->trail) || strcmp(o->region, w->region))
			continue;
		int64_t end = o->end > o->start ? o->end : o->n_e ? o->start + 1 : o->start;
		if (end > ch->start)
			ch->start = end;
	}
	c->chains[c->n_chains++] = ch;
	if (!ch->trail || !ch->region || !ch->bucket || !ch->prefix || !ch->account || !ch->home)
		return -ENOMEM;
	return 0;
}

/* The digests ch owes at now, planned (ch->plan) and appended to
 * out[0..n_out).  deferred is set when its key may not be made here. */
static int plan_chain(struct chains *c, struct chain *ch, int64_t now, bool make_keys,
		      bool *deferred, struct pending **out, size_t *n_out, struct ct_err *err)
{
	int64_t iv = c->interval;
	int64_t ends[CHAINS_CATCHUP_MAX + 1];
	size_t n_ends = 0;
	if (ch->closing) {
		ends[n_ends++] = ch->end;
	} else if (now >= ch->start + iv) {
		int64_t k = (now - ch->start) / iv;
		int64_t first = k > CHAINS_CATCHUP_MAX ? k - CHAINS_CATCHUP_MAX + 1 : 1;
		ends[n_ends++] = ch->start + first * iv;
		for (int64_t w = first + 1; w <= k; w++)
			ends[n_ends++] = ch->start + w * iv;
	}
	if (n_ends == 0)
		return 0;
	/* Keys are made outside the lock (prepare_keys); one not known
	 * here waits for a sync with leave to make it. */
	(void)make_keys;
	if (!region_ready(c, ch->region)) {
		*deferred = true;
		return 0;
	}
	int r;
	/* A final digest with no files attests nothing when its window has no
	 * time or the chain never wrote a digest (a trail stopped or deleted
	 * before its first window closed, with nothing delivered): the chain
	 * just ends.  A chain with digests always ends with a final one. */
	if (ch->closing && ch->n_e == 0 && (ch->end <= ch->start || !ch->prev.set)) {
		ch->plan = (struct plan){ .set = true, .start = ch->start, .consumed = ch->consumed,
					  .remove = true };
		return 0;
	}
	struct sign_key *key = NULL;
	if ((r = sign_current(c->sign, ch->region, now, &key, err)) < 0)
		return r;
	mark_ready(c, ch->region);
	struct plan p = { .set = true, .start = ch->start, .consumed = ch->consumed };
	r = link_copy(&p.prev, &ch->prev);
	struct pending *grown = r == 0 ? realloc(*out, (*n_out + n_ends) * sizeof *grown) : NULL;
	if (r == 0 && !grown)
		r = -ENOMEM;
	if (grown)
		*out = grown;
	for (size_t w = 0; r == 0 && w < n_ends; w++) {
		int64_t end = ends[w];
		size_t upto = p.taken;
		if (ch->closing) {
			upto = ch->n_e;
			/* A window is at least a second long: two digests of one
			 * trail and region never share a name. */
			if (end <= p.start)
				end = p.start + 1;
		} else {
			while (upto < ch->n_e && ch->e[upto].time < end)
				upto++;
		}
		char hash[SIGN_SHA256_HEX_LEN + 1];
		struct pending *d = &(*out)[*n_out];
		r = build_digest(ch, p.start, end, ch->e + p.taken, upto - p.taken, &p.prev, key,
				 d, hash);
		if (r < 0) {
			ct_fail_errno(err, r, "building a digest");
			break;
		}
		(*n_out)++;
		struct link next = { true, strdup(d->bucket), strdup(d->key), "", strdup(d->signature) };
		memcpy(next.hash, hash, sizeof next.hash);
		link_release(&p.prev);
		p.prev = next;
		if (!next.bucket || !next.key || !next.signature)
			r = -ENOMEM;
		if (upto > p.taken)
			p.consumed = ch->e[upto - 1].seq;
		p.taken = upto;
		p.start = end;
		if (r == 0)
			r = endmark_set(c, ch->trail, ch->region, end);
	}
	sign_key_free(key);
	p.remove = ch->closing;
	if (r < 0) {
		link_release(&p.prev);
		return r;
	}
	ch->plan = p;
	return 0;
}

static void plans_drop(struct chains *c)
{
	for (size_t i = 0; i < c->n_chains;) {
		struct chain *ch = c->chains[i];
		link_release(&ch->plan.prev);
		memset(&ch->plan, 0, sizeof ch->plan);
		if (ch->fresh) {
			chain_free(ch);
			c->chains[i] = c->chains[--c->n_chains];
		} else {
			i++;
		}
	}
}

static void plans_apply(struct chains *c)
{
	for (size_t i = 0; i < c->n_chains;) {
		struct chain *ch = c->chains[i];
		ch->fresh = false;
		if (!ch->plan.set) {
			i++;
			continue;
		}
		if (ch->plan.remove) {
			c->dead += ch->n_e;
			chain_free(ch);
			c->chains[i] = c->chains[--c->n_chains];
			continue;
		}
		ch->start = ch->plan.start;
		ch->consumed = ch->plan.consumed;
		link_release(&ch->prev);
		ch->prev = ch->plan.prev;
		memset(&ch->plan.prev, 0, sizeof ch->plan.prev);
		for (size_t k = 0; k < ch->plan.taken; k++)
			entry_release(&ch->e[k]);
		if (ch->plan.taken)
			memmove(ch->e, ch->e + ch->plan.taken,
				(ch->n_e - ch->plan.taken) * sizeof *ch->e);
		ch->n_e -= ch->plan.taken;
		c->dead += ch->plan.taken;
		memset(&ch->plan, 0, sizeof ch->plan);
		i++;
	}
}

/* Make keys for regions[0..n) that are not known to have one, without
 * the chains' lock: a key takes a while to make (up to a second on a busy
 * machine), and deliveries and changes must not wait for it. */
static int prepare_keys(struct chains *c, char (*regions)[CT_REGION_MAX + 1], size_t n,
			int64_t now, struct ct_err *err)
{
	for (size_t i = 0; i < n; i++) {
		bool has = false;
		int r = sign_has_current(c->sign, regions[i], &has, err);
		if (r == 0 && !has) {
			struct sign_key *key = NULL;
			r = sign_current(c->sign, regions[i], now, &key, err);
			sign_key_free(key);
		}
		if (r < 0)
			return r;
		pthread_mutex_lock(&c->lock);
		mark_ready(c, regions[i]);
		pthread_mutex_unlock(&c->lock);
	}
	return 0;
}

/* The regions that will sign a digest at now and are not known to have a
 * key: chains that end, or whose window has ended.  Caller holds c->lock;
 * *out is the caller's. */
static int regions_due(struct chains *c, const struct chain_want *want, size_t n, int64_t now,
		       char (**out)[CT_REGION_MAX + 1], size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < c->n_chains; i++) {
		const struct chain *ch = c->chains[i];
		bool due = ch->closing || now >= ch->start + (int64_t)c->interval;
		if (!due) {
			const struct chain_want *w = NULL;
			for (size_t k = 0; k < n && !w; k++)
				if (!strcmp(want[k].trail, ch->trail) && !strcmp(want[k].region, ch->region))
					w = &want[k];
			due = !w || !same_location(ch, w);
		}
		/* A chain that will end without a final digest (see plan_chain)
		 * signs nothing. */
		bool ending = ch->closing || now < ch->start + (int64_t)c->interval;
		int64_t end = ch->closing ? ch->end : now;
		if (due && ending && ch->n_e == 0 && (end <= ch->start || !ch->prev.set))
			due = false;
		bool listed = region_ready(c, ch->region) || strlen(ch->region) > CT_REGION_MAX;
		for (size_t k = 0; k < *n_out && !listed; k++)
			listed = !strcmp((*out)[k], ch->region);
		if (!due || listed)
			continue;
		char (*grown)[CT_REGION_MAX + 1] = realloc(*out, (*n_out + 1) * sizeof *grown);
		if (!grown)
			return -ENOMEM;
		*out = grown;
		snprintf(grown[(*n_out)++], CT_REGION_MAX + 1, "%s", ch->region);
	}
	return 0;
}

int chains_prepare_keys(struct chains *c, const struct chain_want *want, size_t n, int64_t now,
			struct ct_err *err)
{
	char (*regions)[CT_REGION_MAX + 1] = NULL;
	size_t n_regions = 0;
	pthread_mutex_lock(&c->lock);
	int r = regions_due(c, want, n, now, &regions, &n_regions);
	pthread_mutex_unlock(&c->lock);
	if (r == 0)
		r = prepare_keys(c, regions, n_regions, now, err);
	else
		ct_fail_errno(err, r, "digests");
	free(regions);
	return r;
}

static int sync_chains(struct chains *c, const struct chain_want *want, size_t n, int64_t now,
		bool write, bool make_keys, bool *deferred, struct ct_err *err)
{
	bool dummy = false;
	if (!deferred)
		deferred = &dummy;
	if (now < 0 || now > DIGEST_TIME_MAX)
		return ct_fail(err, "InvalidParameterValueException", "digests: time %lld is out of range",
			       (long long)now);
	if (write && make_keys) {
		int r = chains_prepare_keys(c, want, n, now, err);
		if (r < 0)
			return r;
	}
	/* Digests recorded before and not stored yet (a bucket that was
	 * missing) are tried again first. */
	if (write)
		store_recorded(c, now);
	pthread_mutex_lock(&c->lock);
	bool changed = false;
	int r = 0;
	for (size_t i = 0; i < c->n_chains; i++) {
		struct chain *ch = c->chains[i];
		if (ch->closing)
			continue;
		const struct chain_want *w = NULL;
		for (size_t k = 0; k < n && !w; k++)
			if (!strcmp(want[k].trail, ch->trail) && !strcmp(want[k].region, ch->region))
				w = &want[k];
		if (w && same_location(ch, w))
			continue;
		ch->closing = true;
		ch->end = now > ch->start ? now : ch->start;
		changed = true;
	}
	struct pending *made = NULL;
	size_t n_made = 0;
	for (size_t i = 0; write && r == 0 && i < c->n_chains; i++)
		r = plan_chain(c, c->chains[i], now, make_keys, deferred, &made, &n_made, err);
	/* Chains start after the ones ending have planned their final
	 * digests, so that a new chain's first window starts after them. */
	for (size_t k = 0; r == 0 && k < n; k++) {
		if (running(c, want[k].trail, want[k].region))
			continue;
		if (!region_name_valid(want[k].region)) {
			r = ct_fail(err, "InvalidParameterValueException", "digests: not a region: %s",
				    want[k].region);
			break;
		}
		r = start_chain(c, &want[k], now);
		changed = true;
	}
	if (r == -ENOMEM)
		ct_fail_errno(err, r, "digests");
	/* Changes chains_record kept in memory stay there until a digest,
	 * a journal line or close saves them (see chains_record). */
	for (size_t i = 0; r == 0 && !changed && i < c->n_chains; i++)
		changed = c->chains[i]->plan.set;
	/* chains_record keeps its changes in memory (a crash only makes a
	 * chain start, or end, at the next start-up instead): the next
	 * sync, or the first journal line for such a chain, saves them. */
	if (r == 0 && changed && !write) {
		c->dirty = true;
		changed = false;
	}
	if (r == 0 && changed)
		r = save_state(c, made, n_made, err);
	if (r < 0) {
		plans_drop(c);
		for (size_t i = 0; i < n_made; i++)
			pending_release(&made[i]);
		free(made);
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	plans_apply(c);
	/* Recorded: now store them. */
	struct pending *grown = n_made ? realloc(c->pending, (c->n_pending + n_made) * sizeof *grown)
				       : c->pending;
	if (n_made && !grown) {
		/* They are durable in the state file: the next open stores them. */
		for (size_t i = 0; i < n_made; i++)
			pending_release(&made[i]);
		n_made = 0;
	} else if (n_made) {
		c->pending = grown;
		memcpy(c->pending + c->n_pending, made, n_made * sizeof *made);
		c->n_pending += n_made;
	}
	free(made);
	journal_compact(c);
	pthread_mutex_unlock(&c->lock);
	/* Recorded: now store them. */
	if (n_made)
		store_recorded(c, now);
	return 0;
}

int chains_sync(struct chains *c, const struct chain_want *want, size_t n, int64_t now,
		bool make_keys, bool *deferred, struct ct_err *err)
{
	return sync_chains(c, want, n, now, true, make_keys, deferred, err);
}

int chains_record(struct chains *c, const struct chain_want *want, size_t n, int64_t now,
		  bool *finals, struct ct_err *err)
{
	int r = sync_chains(c, want, n, now, false, false, NULL, err);
	if (finals) {
		*finals = false;
		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < c->n_chains; i++) {
			const struct chain *ch = c->chains[i];
			*finals |= ch->closing && (ch->n_e > 0 || (ch->prev.set && ch->end > ch->start));
		}
		pthread_mutex_unlock(&c->lock);
	}
	return r;
}

/* ---- open, status ---- */

struct chains *chains_open(const char *state_dir, struct store *store, struct sign *sign,
			   unsigned interval, struct ct_err *err)
{
	struct chains *c = calloc(1, sizeof *c);
	if (!c) {
		ct_fail_errno(err, ENOMEM, "digests");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->put_lock, NULL);
	c->jfd = -1;
	c->store = store;
	c->sign = sign;
	c->interval = interval ? interval : 1;
	c->next_id = 1;
	c->next_seq = 1;
	c->state_path = path_in(state_dir, "digests.json");
	c->journal_path = path_in(state_dir, "digests.journal");
	int r = c->state_path && c->journal_path ? 0 : ct_fail_errno(err, ENOMEM, "digests");
	if (r == 0) {
		remove_stale_temps(c->state_path);
		remove_stale_temps(c->journal_path);
		r = load_state(c, err);
	}
	if (r == 0)
		r = load_journal(c, err);
	/* Digests recorded by a daemon that died before storing them: the
	 * same bytes, the same signature, stored again. */
	if (r == 0 && c->n_pending) {
		int64_t now = 0;
		for (size_t i = 0; i < c->n_status; i++)
			if (c->status[i].time > now)
				now = c->status[i].time;
		store_recorded(c, now);
	}
	if (r < 0) {
		chains_close(c);
		return NULL;
	}
	return c;
}

void chains_close(struct chains *c)
{
	if (!c)
		return;
	if (c->dirty)
		(void)save_state(c, NULL, 0, NULL);
	for (size_t i = 0; i < c->n_chains; i++)
		chain_free(c->chains[i]);
	free(c->chains);
	for (size_t i = 0; i < c->n_pending; i++)
		pending_release(&c->pending[i]);
	free(c->pending);
	for (size_t i = 0; i < c->n_status; i++) {
		free(c->status[i].trail);
		free(c->status[i].error);
	}
	free(c->status);
	for (size_t i = 0; i < c->n_ends; i++) {
		free(c->ends[i].trail);
		free(c->ends[i].region);
	}
	free(c->ends);
	free(c->ready);
	if (c->jfd >= 0)
		close(c->jfd);
	free(c->state_path);
	free(c->journal_path);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->put_lock);
	free(c);
}

void chains_status(struct chains *c, const char *trail, int64_t *time, char *error, size_t size)
{
	pthread_mutex_lock(&c->lock);
	const struct status *s = status_get(c, trail, false);
	*time = s ? s->time : 0;
	snprintf(error, size, "%s", s ? s->error : "");
	pthread_mutex_unlock(&c->lock);
}

int chains_forget(struct chains *c, const char *trail, struct ct_err *err)
{
	pthread_mutex_lock(&c->lock);
	bool changed = false;
	for (size_t i = 0; i < c->n_status; i++)
		if (!strcmp(c->status[i].trail, trail)) {
			free(c->status[i].trail);
			free(c->status[i].error);
			c->status[i] = c->status[--c->n_status];
			changed = true;
			break;
		}
	for (size_t i = 0; i < c->n_ends;)
		if (!strcmp(c->ends[i].trail, trail)) {
			free(c->ends[i].trail);
			free(c->ends[i].region);
			c->ends[i] = c->ends[--c->n_ends];
			changed = true;
		} else {
			i++;
		}
	/* Saved with the next change: a status left over by a crash is only
	 * that of a trail that is gone. */
	if (changed)
		c->dirty = true;
	(void)err;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

bool chains_running(struct chains *c, const char *trail, const char *region)
{
	pthread_mutex_lock(&c->lock);
	bool r = running(c, trail, region) != NULL;
	pthread_mutex_unlock(&c->lock);
	return r;
}
