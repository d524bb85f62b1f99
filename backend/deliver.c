/* Delivery of spooled records as AWS-format log files (see deliver.h). */
#include "deliver.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "gz.h"
#include "json.h"
#include "sign.h"

#define DELIVERY_STATE_MAX (16u * 1024 * 1024)
#define FRAME_VERSION 1
#define UNIQUE_LEN 16
#define KEY_MAX 1024
#define ERROR_MAX 512

struct cursor {
	char *trail;
	uint64_t cursor;          /* every record below it is delivered */
	int64_t latest_time;      /* LatestDeliveryTime, 0 = never */
	char *latest_error;       /* LatestDeliveryError, "" = none */
};

/* What a run is about to do, recorded before it writes anything. */
struct intent_trail {
	char *trail;
	uint64_t from, to;        /* the trail's records in [from, to) */
};

struct intent_file {
	char *trail;
	char *region;
	char *bucket;
	char *key;
};

struct intent {
	bool active;
	int64_t time;
	struct intent_trail *trails;
	size_t n_trails;
	struct intent_file *files;
	size_t n_files;
};

struct delivery {
	pthread_mutex_t lock;     /* one run at a time; guards everything below */
	char *path;               /* STATE/delivery.json */
	struct spool *spool;
	struct store *store;
	const struct clock *clock;
	struct cursor *cursors;
	size_t n_cursors;
	uint64_t last_end;        /* spool end at the last run, for pending bytes */
	uint64_t appended_at_last; /* spool_appended when the last run took its records */
	delivery_observer_fn observer;   /* NULL: none */
	void *observer_ctx;
	delivery_seal_fn seal;           /* NULL: every file stored as it is */
	void *seal_ctx;
};

/* ---- frames ---- */

int delivery_frame(const struct event *e, const char *const *trails, size_t n, struct buf *out)
{
	if (n > 255)
		return -E2BIG;
	unsigned char head[2] = { FRAME_VERSION, (unsigned char)n };
	int r = buf_add(out, head, sizeof head);
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t len = strlen(trails[i]);
		unsigned char l = (unsigned char)len;
		r = len > 255 ? -E2BIG : buf_add(out, &l, 1);
		if (r == 0)
			r = buf_add(out, trails[i], len);
	}
	size_t rl = strlen(e->region);
	unsigned char l = (unsigned char)rl;
	if (r == 0)
		r = rl > 255 ? -E2BIG : buf_add(out, &l, 1);
	if (r == 0)
		r = buf_add(out, e->region, rl);
	unsigned char t[8];
	uint64_t v = (uint64_t)e->time;
	for (int i = 0; i < 8; i++)
		t[i] = (unsigned char)(v >> (8 * i));
	if (r == 0)
		r = buf_add(out, t, sizeof t);
	if (r == 0)
		r = buf_add(out, e->json, e->len);
	return r;
}

struct frame {
	size_t n_trails;
	const char *trail[255];
	unsigned char trail_len[255];
	const char *region;
	size_t region_len;
	int64_t time;
	const char *json;
	size_t json_len;
};

static int frame_decode(const void *payload, size_t len, struct frame *f)
{
	const unsigned char *p = payload, *end = p + len;
	if (len < 2 || p[0] != FRAME_VERSION)
		return -EBADMSG;
	f->n_trails = p[1];
	p += 2;
	for (size_t i = 0; i < f->n_trails; i++) {
		if (p >= end || (size_t)(end - p) < 1u + p[0])
			return -EBADMSG;
		f->trail_len[i] = p[0];
		f->trail[i] = (const char *)p + 1;
		p += 1 + p[0];
	}
	if (p >= end || (size_t)(end - p) < 1u + p[0] + 8u)
		return -EBADMSG;
	f->region_len = p[0];
	f->region = (const char *)p + 1;
	p += 1 + p[0];
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	f->time = (int64_t)v;
	p += 8;
	f->json = (const char *)p;
	f->json_len = (size_t)(end - p);
	return 0;
}

static bool frame_has_trail(const struct frame *f, const char *trail)
{
	size_t n = strlen(trail);
	for (size_t i = 0; i < f->n_trails; i++)
		if (f->trail_len[i] == n && !memcmp(f->trail[i], trail, n))
			return true;
	return false;
}

/* ---- cursors and the state file ---- */

static struct cursor *cursor_find(struct delivery *d, const char *trail)
{
	for (size_t i = 0; i < d->n_cursors; i++)
		if (!strcmp(d->cursors[i].trail, trail))
			return &d->cursors[i];
	return NULL;
}

static struct cursor *cursor_get(struct delivery *d, const char *trail)
{
	struct cursor *c = cursor_find(d, trail);
	if (c)
		return c;
	struct cursor *grown = realloc(d->cursors, (d->n_cursors + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	d->cursors = grown;
	c = &d->cursors[d->n_cursors];
	c->trail = strdup(trail);
	c->latest_error = strdup("");
	if (!c->trail || !c->latest_error) {
		free(c->trail);
		free(c->latest_error);
		return NULL;
	}
	/* Nothing spooled before a trail's first run can be for it unless it
	 * is in the spool: start at the spool's first record. */
	c->cursor = spool_first(d->spool);
	c->latest_time = 0;
	d->n_cursors++;
	return c;
}

static void intent_release(struct intent *in)
{
	for (size_t i = 0; i < in->n_trails; i++)
		free(in->trails[i].trail);
	for (size_t i = 0; i < in->n_files; i++) {
		free(in->files[i].trail);
		free(in->files[i].region);
		free(in->files[i].bucket);
		free(in->files[i].key);
	}
	free(in->trails);
	free(in->files);
	memset(in, 0, sizeof *in);
}

static int save_state(struct delivery *d, const struct intent *in, struct ct_err *err)
{
	json *doc = json_new_object();
	json *trails = json_new_object();
	int r = (doc && trails) ? json_add_number(doc, "format", DELIVERY_FORMAT) : -ENOMEM;
	for (size_t i = 0; r == 0 && i < d->n_cursors; i++) {
		json *c = json_new_object();
		r = c ? json_add_number(c, "cursor", (double)d->cursors[i].cursor) : -ENOMEM;
		if (r == 0)
			r = json_add_number(c, "latestDeliveryTime", (double)d->cursors[i].latest_time);
		if (r == 0)
			r = json_add_string(c, "latestDeliveryError", d->cursors[i].latest_error);
		if (r == 0)
			r = json_add(trails, d->cursors[i].trail, c);
		else
			json_free(c);
	}
	if (r == 0) {
		r = json_add(doc, "trails", trails);
		trails = NULL;
	}
	if (r == 0 && in && in->active) {
		json *o = json_new_object(), *ts = json_new_array(), *fs = json_new_array();
		r = (o && ts && fs) ? json_add_number(o, "time", (double)in->time) : -ENOMEM;
		for (size_t i = 0; r == 0 && i < in->n_trails; i++) {
			json *t = json_new_object();
			r = t ? json_add_string(t, "trail", in->trails[i].trail) : -ENOMEM;
			if (r == 0)
				r = json_add_number(t, "from", (double)in->trails[i].from);
			if (r == 0)
				r = json_add_number(t, "to", (double)in->trails[i].to);
			if (r == 0)
				r = json_append(ts, t);
			else
				json_free(t);
		}
		for (size_t i = 0; r == 0 && i < in->n_files; i++) {
			json *f = json_new_object();
			r = f ? json_add_string(f, "trail", in->files[i].trail) : -ENOMEM;
			if (r == 0)
				r = json_add_string(f, "region", in->files[i].region);
			if (r == 0)
				r = json_add_string(f, "bucket", in->files[i].bucket);
			if (r == 0)
				r = json_add_string(f, "key", in->files[i].key);
			if (r == 0)
				r = json_append(fs, f);
			else
				json_free(f);
		}
		if (r == 0) {
			r = json_add(o, "trails", ts);
			ts = NULL;
		}
		if (r == 0) {
			r = json_add(o, "files", fs);
			fs = NULL;
		}
		if (r == 0) {
			r = json_add(doc, "intent", o);
			o = NULL;
		}
		json_free(o);
		json_free(ts);
		json_free(fs);
	}
	char *text = r == 0 ? json_print(doc, false) : NULL;
	if (r == 0 && !text)
		r = -ENOMEM;
	if (r == 0)
		r = write_file_durable(d->path, text, strlen(text), 0600);
	free(text);
	json_free(trails);
	json_free(doc);
	return r < 0 ? ct_fail_errno(err, r, d->path) : 0;
}


static int load_intent(const json *o, struct intent *in, const char *path, struct ct_err *err)
{
	json *ts = json_get(o, "trails"), *fs = json_get(o, "files");
	uint64_t t;
	if (!json_u64(json_get(o, "time"), &t) || !json_is_array(ts) || !json_is_array(fs))
		return ct_fail_damaged(err, path, "intent");
	in->active = true;
	in->time = (int64_t)t;
	in->trails = calloc(json_size(ts) + 1, sizeof *in->trails);
	in->files = calloc(json_size(fs) + 1, sizeof *in->files);
	if (!in->trails || !in->files)
		return -ENOMEM;
	for (json *e = json_first(ts); e; e = json_next(e)) {
		struct intent_trail *it = &in->trails[in->n_trails];
		const char *name = json_string(json_get(e, "trail"));
		if (!name || !json_u64(json_get(e, "from"), &it->from) ||
		    !json_u64(json_get(e, "to"), &it->to) || !(it->trail = strdup(name)))
			return ct_fail_damaged(err, path, "intent trail");
		in->n_trails++;
	}
	for (json *e = json_first(fs); e; e = json_next(e)) {
		struct intent_file *f = &in->files[in->n_files];
		const char *a = json_string(json_get(e, "trail")), *b = json_string(json_get(e, "region")),
			   *c = json_string(json_get(e, "bucket")), *k = json_string(json_get(e, "key"));
		if (!a || !b || !c || !k)
			return ct_fail_damaged(err, path, "intent file");
		f->trail = strdup(a);
		f->region = strdup(b);
		f->bucket = strdup(c);
		f->key = strdup(k);
		in->n_files++;
		if (!f->trail || !f->region || !f->bucket || !f->key)
			return -ENOMEM;
	}
	return 0;
}

static int load_state(struct delivery *d, struct intent *in, struct ct_err *err)
{
	struct buf text;
	buf_init(&text, DELIVERY_STATE_MAX);
	int r = read_file(d->path, &text);
	if (r == -ENOENT) {
		buf_release(&text);
		return 0;
	}
	if (r < 0) {
		buf_release(&text);
		return ct_fail(err, "InvalidStateFile", "%s: cannot read: %s", d->path, strerror(-r));
	}
	json *doc = json_parse(buf_str(&text), text.len, NULL);
	buf_release(&text);
	if (!doc)
		return ct_fail_damaged(err, d->path, "not valid JSON");
	json *format = json_get(doc, "format"), *trails = json_get(doc, "trails");
	if (!json_is_number(format) || json_number(format) > DELIVERY_FORMAT) {
		json_free(doc);
		return ct_fail(err, "InvalidStateFile", "%s: format is missing or newer than %d",
			       d->path, DELIVERY_FORMAT);
	}
	if (!json_is_object(trails)) {
		json_free(doc);
		return ct_fail_damaged(err, d->path, "\"trails\" is not an object");
	}
	for (json *m = json_first(trails); r == 0 && m; m = json_next(m)) {
		struct cursor *c = cursor_get(d, json_key(m));
		uint64_t cur, t;
		const char *e = json_string(json_get(m, "latestDeliveryError"));
		if (!c)
			r = -ENOMEM;
		else if (!json_u64(json_get(m, "cursor"), &cur) ||
			 !json_u64(json_get(m, "latestDeliveryTime"), &t) || !e)
			r = ct_fail_damaged(err, d->path, "a trail's cursor");
		else {
			c->cursor = cur;
			c->latest_time = (int64_t)t;
			free(c->latest_error);
			c->latest_error = strdup(e);
			if (!c->latest_error)
				r = -ENOMEM;
		}
	}
	json *intent = json_get(doc, "intent");
	if (r == 0 && intent)
		r = load_intent(intent, in, d->path, err);
	json_free(doc);
	if (r == -ENOMEM)
		r = ct_fail_errno(err, r, d->path);
	return r;
}

/* ---- building files ---- */

/* The log file of one trail and region in one run. */
struct group {
	const char *trail;
	char region[CT_REGION_MAX + 1];
	struct buf body;          /* {"Records":[r1,r2,...  (closed when written) */
	size_t records;
	size_t json_bytes;        /* sum of record lengths */
	char *key;
	const struct delivery_target *target;
	bool failed;
	int result;               /* of writing it (write_groups) */
	int64_t oldest, newest;   /* eventTime range of its records */
	char hash[SIGN_SHA256_HEX_LEN + 1];   /* of the closed body, when observed */
	char why[ERROR_MAX];      /* the sealer's refusal, for LatestDeliveryError */
};

struct run {
	struct delivery *d;
	const struct delivery_target *targets;
	size_t n_targets;
	const char *only;
	uint64_t *from;           /* per target: its cursor */
	uint64_t *to;             /* per target: where this run stops for it */
	bool *full;               /* per target: a file reached DELIVERY_FILE_MAX */
	struct group *groups;
	size_t n_groups;
	/* redo: the files of the intent, to be rebuilt exactly */
	const struct intent *redo;
	size_t taken;             /* record bytes collected, against DELIVERY_RUN_MAX */
	uint64_t stop;            /* nonzero: the run stopped collecting here */
};

static bool selected(const struct run *rn, size_t i)
{
	return !rn->only || !strcmp(rn->targets[i].trail, rn->only);
}

static struct group *group_get(struct run *rn, const struct delivery_target *t, const char *region,
			       size_t region_len)
{
	for (size_t i = 0; i < rn->n_groups; i++)
		if (rn->groups[i].target == t && strlen(rn->groups[i].region) == region_len &&
		    !memcmp(rn->groups[i].region, region, region_len))
			return &rn->groups[i];
	if (region_len > CT_REGION_MAX)
		return NULL;
	struct group *grown = realloc(rn->groups, (rn->n_groups + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	rn->groups = grown;
	struct group *g = &rn->groups[rn->n_groups++];
	memset(g, 0, sizeof *g);
	g->target = t;
	g->trail = t->trail;
	memcpy(g->region, region, region_len);
	g->region[region_len] = '\0';
	buf_init(&g->body, DELIVERY_FILE_MAX);
	return g;
}

static int collect(void *ctx, uint64_t seq, const void *payload, size_t len)
{
	struct run *rn = ctx;
	/* A run holds what it collects in memory until it is written: past
	 * DELIVERY_RUN_MAX the rest goes in another run at once (a redo
	 * rebuilds its files exactly, so it is never cut). */
	if (!rn->redo && rn->taken >= DELIVERY_RUN_MAX) {
		rn->stop = seq;
		return 1;
	}
	struct frame f;
	if (frame_decode(payload, len, &f) < 0)
		return 0;   /* not ours to judge: the spool checked its CRC */
	for (size_t i = 0; i < rn->n_targets; i++) {
		const struct delivery_target *t = &rn->targets[i];
		if (!selected(rn, i) || seq < rn->from[i] || seq >= rn->to[i] || rn->full[i] ||
		    !frame_has_trail(&f, t->trail))
			continue;
		struct group *g = group_get(rn, t, f.region, f.region_len);
		if (!g)
			return -ENOMEM;
		/* 14 bytes of framing around the records, one comma each. */
		if (g->body.len + f.json_len + 16 > DELIVERY_FILE_MAX) {
			rn->full[i] = true;
			rn->to[i] = seq;
			continue;
		}
		int r = buf_puts(&g->body, g->records ? "," : "{\"Records\":[");
		if (r == 0)
			r = buf_add(&g->body, f.json, f.json_len);
		if (r < 0)
			return r;
		if (!g->records || f.time < g->oldest)
			g->oldest = f.time;
		if (!g->records || f.time > g->newest)
			g->newest = f.time;
		g->records++;
		g->json_bytes += f.json_len;
		rn->taken += f.json_len;
	}
	return 0;
}

/* The 16-character unique part: [A-Za-z0-9], derived from what names the
 * file, so that a redone run writes the same key. */
static void unique_part(const char *trail, const char *region, uint64_t from, uint64_t to,
			int64_t when, char out[UNIQUE_LEN + 1])
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char text[512];
	int n = snprintf(text, sizeof text, "%s\n%s\n%llu\n%llu\n%lld", trail, region,
			 (unsigned long long)from, (unsigned long long)to, (long long)when);
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < n && i < (int)sizeof text; i++)
		h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
	for (int i = 0; i < UNIQUE_LEN; i++) {
		/* splitmix64 steps spread the hash over the characters */
		h += 0x9E3779B97F4A7C15ull;
		uint64_t z = h;
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		z ^= z >> 31;
		out[i] = alphabet[z % 62];
	}
	out[UNIQUE_LEN] = '\0';
}

static char *make_key(const struct delivery_target *t, const char *region, uint64_t from,
		      uint64_t to, int64_t when)
{
	char unique[UNIQUE_LEN + 1];
	unique_part(t->trail, region, from, to, when, unique);
	time_t tt = (time_t)when;
	struct tm tm;
	gmtime_r(&tt, &tm);
	struct buf k;
	buf_init(&k, KEY_MAX);
	int r = buf_printf(&k, "%s%sAWSLogs/%s/CloudTrail/%s/%04d/%02d/%02d/%s_CloudTrail_%s_"
			   "%04d%02d%02dT%02d%02dZ_%s.json.gz",
			   t->prefix, *t->prefix ? "/" : "", t->account, region, tm.tm_year + 1900,
			   tm.tm_mon + 1, tm.tm_mday, t->account, region, tm.tm_year + 1900,
			   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, unique);
	if (r < 0) {
		buf_release(&k);
		return NULL;
	}
	return buf_take(&k);
}

static void run_release(struct run *rn)
{
	for (size_t i = 0; i < rn->n_groups; i++) {
		buf_release(&rn->groups[i].body);
		free(rn->groups[i].key);
	}
	free(rn->groups);
	free(rn->from);
	free(rn->to);
	free(rn->full);
}

/* Store a group's file (its gzip member gz[0..len)) with the metadata
 * the views read, sealed first when the delivery has a sealer and the
 * trail encrypts (the sizes stay the plaintext's: the views show it). */
static int put_group(struct delivery *d, struct group *g, const void *gz, size_t len)
{
	struct store_object_info info;
	memset(&info, 0, sizeof info);
	char records[32], lines[32];
	snprintf(records, sizeof records, "%zu", g->records);
	snprintf(lines, sizeof lines, "%zu", g->json_bytes + g->records);
	const char *names[] = { META_RECORDS, META_LINES_SIZE }, *values[] = { records, lines };
	int r = 0;
	for (size_t i = 0; r == 0 && i < 2; i++) {
		info.meta[i].name = strdup(names[i]);
		info.meta[i].value = strdup(values[i]);
		info.n_meta = i + 1;
		if (!info.meta[i].name || !info.meta[i].value)
			r = -ENOMEM;
	}
	struct buf sealed;
	buf_init(&sealed, DELIVERY_FILE_MAX + DELIVERY_SEAL_OVERHEAD);
	if (r == 0 && d->seal) {
		r = d->seal(d->seal_ctx, g->trail, gz, len, &sealed, &info, g->why, sizeof g->why);
		if (r > 0) {
			gz = sealed.data;
			len = sealed.len;
			r = 0;
		}
	}
	if (r == 0)
		r = d->store->ops->object_put(d->store, g->target->bucket, g->key, gz, len, &info);
	buf_release(&sealed);
	store_object_info_release(&info);
	return r;
}

/* fmt takes a and then the error text of r (fmt "%s" takes a alone). */
static void set_error(struct cursor *c, const char *fmt, const char *a, int r)
{
	char text[ERROR_MAX];
	if (!strcmp(fmt, "%s"))
		snprintf(text, sizeof text, "%s", a);
	else
		snprintf(text, sizeof text, fmt, a, strerror(r < 0 ? -r : r));
	char *copy = strdup(text);
	if (copy) {
		free(c->latest_error);
		c->latest_error = copy;
	}
}

static void add_file(struct delivered_file **files, size_t *n, const struct group *g,
		     const char *bucket)
{
	if (!files)
		return;
	struct delivered_file *grown = realloc(*files, (*n + 1) * sizeof *grown);
	if (!grown)
		return;
	*files = grown;
	grown[*n].trail = strdup(g->trail);
	grown[*n].bucket = strdup(bucket);
	grown[*n].key = strdup(g->key);
	(*n)++;
}

/* Writing a run's files.  Compressing is most of a run's work and the
 * files are independent, so besides the thread running the delivery,
 * helper threads compress while it stores what is done (largest files
 * first, so that the big ones do not come last).
 *
 * Ingest comes first: a write to /events waits for its records to be
 * spooled, and one write at a time reaches it, so the processor time that
 * ingest needs must be there the moment it needs it, or every write waits.
 * The helpers therefore run at the lowest priority (SCHED_IDLE) and only
 * ever compute: each compresses with its own compressor into memory given
 * to it beforehand, takes no lock and makes no system call, so that a
 * helper held back by the scheduler never holds anything back.  The thread
 * running the delivery keeps its priority and claims work from the same
 * list, so a run goes on at least as fast as one thread would take it, and
 * it alone allocates, frees and stores.  A run waits at its end for the
 * helpers' last files: at worst, on a machine busy to the last cycle, as
 * long as their share of the processor takes to finish them. */
#define WRITERS_MAX 8

struct job {
	struct group *g;
	unsigned char *gz;        /* room for the member ... */
	size_t cap, len;          /* ... and its length once done */
	int done;                 /* atomic: compressed (len set) */
	bool stored;
};

struct writers {
	struct job *jobs;         /* largest first */
	size_t n;
	bool hash;                /* take each body's SHA-256 (for the digests) */
	size_t next;              /* atomic: the next job to claim */
	struct gz_compressor *c[WRITERS_MAX];
};

struct helper {
	struct writers *w;
	struct gz_compressor *c;
};

/* Compress jobs until none is left; false when there was none to take. */
static bool compress_jobs(struct writers *w, struct gz_compressor *c, bool just_one)
{
	bool any = false;
	for (;;) {
		size_t i = __atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED);
		if (i >= w->n)
			return any;
		struct job *j = &w->jobs[i];
		/* The hash a digest lists is of these very bytes, taken here
		 * from memory rather than read back; a failed hash fails the
		 * file (len 0). */
		if (w->hash && sign_sha256_hex(j->g->body.data, j->g->body.len, j->g->hash) < 0) {
			j->len = 0;
			__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
			any = true;
			if (just_one)
				return any;
			continue;
		}
		j->len = gz_compress_to(c, j->g->body.data, j->g->body.len, j->gz, j->cap);
		__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
		any = true;
		if (just_one)
			return any;
	}
}

static void *helper_main(void *p)
{
	struct helper *h = p;
#ifdef SCHED_IDLE
	struct sched_param sp = {0};
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);   /* this thread only */
#endif
	compress_jobs(h->w, h->c, false);
	return NULL;
}

/* Store every job that is compressed and not yet stored. */
static void store_done(struct delivery *d, struct writers *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct job *j = &w->jobs[i];
		if (j->stored || !__atomic_load_n(&j->done, __ATOMIC_ACQUIRE))
			continue;
		struct group *g = j->g;
		/* Within the bound libdeflate cannot fail; 0 would be its bug. */
		g->result = j->len == 0 ? -EIO : j->len > DELIVERY_FILE_MAX ? -E2BIG
			    : put_group(d, g, j->gz, j->len);
		free(j->gz);
		j->gz = NULL;
		buf_release(&g->body);
		j->stored = true;
	}
}

static int by_size_desc(const void *a, const void *b)
{
	size_t x = ((const struct job *)a)->g->body.len, y = ((const struct job *)b)->g->body.len;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void write_groups(struct delivery *d, struct run *rn)
{
	struct writers w;
	memset(&w, 0, sizeof w);
	w.hash = d->observer != NULL;
	w.jobs = calloc(rn->n_groups + 1, sizeof *w.jobs);
	w.c[0] = gz_compressor_new(GZ_LEVEL_DEFAULT);
	for (size_t i = 0; i < rn->n_groups; i++) {
		struct group *g = &rn->groups[i];
		if (!g->records)
			continue;
		int r = w.jobs && w.c[0] ? buf_puts(&g->body, "]}") : -ENOMEM;
		if (r == 0) {
			struct job *j = &w.jobs[w.n];
			j->g = g;
			j->cap = gz_compress_bound(w.c[0], g->body.len);
			j->gz = malloc(j->cap);
			r = j->gz ? 0 : -ENOMEM;
			if (r == 0)
				w.n++;
		}
		if (r < 0) {
			g->result = r;
			buf_release(&g->body);
		}
	}
	if (w.n) {
		qsort(w.jobs, w.n, sizeof *w.jobs, by_size_desc);
		/* The processors this process may run on (taskset, cpusets). */
		cpu_set_t set;
		long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
									: sysconf(_SC_NPROCESSORS_ONLN);
		size_t extra = cpus > 1 ? (size_t)cpus - 1 : 0;
		if (extra > WRITERS_MAX - 1)
			extra = WRITERS_MAX - 1;
		if (extra > w.n - 1)
			extra = w.n - 1;
		pthread_t threads[WRITERS_MAX];
		struct helper helpers[WRITERS_MAX];
		size_t started = 0;
		while (started < extra) {
			struct gz_compressor *c = gz_compressor_new(GZ_LEVEL_DEFAULT);
			helpers[started] = (struct helper){ &w, c };
			if (!c || pthread_create(&threads[started], NULL, helper_main, &helpers[started])) {
				if (c)
					gz_compressor_free(c);
				break;
			}
			w.c[++started] = c;
		}
		/* Compress a file, store what is done, and again; then wait for
		 * the helpers and store the rest. */
		while (compress_jobs(&w, w.c[0], true))
			store_done(d, &w);
		for (size_t i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
		store_done(d, &w);
	}
	for (size_t i = 0; i < WRITERS_MAX; i++)
		if (w.c[i])
			gz_compressor_free(w.c[i]);
	free(w.jobs);
}

/* Give back the spool below every cursor. */
static void trim_delivered(struct delivery *d)
{
	uint64_t low = spool_next(d->spool);
	for (size_t i = 0; i < d->n_cursors; i++)
		if (d->cursors[i].cursor < low)
			low = d->cursors[i].cursor;
	spool_trim(d->spool, low);
}

/* Tell the observer which files of the run stand (their trail's cursor
 * moves) and which do not (every file of a trail with a failed one). */
static int tell_observer(struct delivery *d, const struct run *rn, const struct intent *in,
			 const bool *trail_failed)
{
	struct delivery_log *logs = calloc(rn->n_groups + 1, sizeof *logs);
	struct delivery_log *gone = calloc(rn->n_groups + 1, sizeof *gone);
	size_t n = 0, n_gone = 0;
	int r = logs && gone ? 0 : -ENOMEM;
	for (size_t k = 0; r == 0 && k < rn->n_groups; k++) {
		const struct group *g = &rn->groups[k];
		if (!g->records || !g->key)
			continue;
		bool failed = false;
		for (size_t i = 0; i < in->n_trails; i++)
			if (!strcmp(in->trails[i].trail, g->trail))
				failed = trail_failed[i];
		struct delivery_log *l = failed ? &gone[n_gone++] : &logs[n++];
		*l = (struct delivery_log){ g->trail, g->region, g->target->bucket, g->key,
					    g->hash, g->oldest, g->newest };
	}
	if (r == 0 && (n || n_gone))
		r = d->observer(d->observer_ctx, in->time, logs, n, gone, n_gone);
	free(logs);
	free(gone);
	return r;
}

/* Carry out a run whose intent is recorded (or being redone).  Writes every
 * file, moves the cursors of the trails whose files were all written, and
 * clears the intent.  Caller holds d->lock. */
static int finish(struct delivery *d, struct run *rn, const struct intent *in,
		  struct delivered_file **files, size_t *n_files, struct ct_err *err)
{
	/* Every file is written (and durable) before any cursor moves. */
	write_groups(d, rn);
	for (size_t i = 0; i < rn->n_groups; i++) {
		struct group *g = &rn->groups[i];
		if (!g->records)
			continue;
		const char *bucket = g->target->bucket;
		int r = g->result;
		if (r < 0) {
			g->failed = true;
			struct cursor *c = cursor_get(d, g->trail);
			if (c && g->why[0])
				set_error(c, "%s", g->why, 0);
			else if (c)
				set_error(c, r == -ENOENT ? "NoSuchBucket: %s (%s)"
							  : "cannot write to bucket %s: %s", bucket, r);
		} else {
			add_file(files, n_files, g, bucket);
		}
	}
	/* A trail with a failed file keeps its cursor, and the files of its
	 * that were written go again: they will be written anew next run. */
	bool *trail_failed = calloc(in->n_trails + 1, sizeof *trail_failed);
	if (!trail_failed)
		return ct_fail_errno(err, ENOMEM, "delivery");
	for (size_t i = 0; i < in->n_trails; i++) {
		const char *trail = in->trails[i].trail;
		bool failed = false;
		for (size_t k = 0; k < rn->n_groups; k++)
			if (!strcmp(rn->groups[k].trail, trail) && rn->groups[k].records)
				failed |= rn->groups[k].failed;
		trail_failed[i] = failed;
		if (!failed)
			continue;
		for (size_t k = 0; k < rn->n_groups; k++)
			if (!strcmp(rn->groups[k].trail, trail) && !rn->groups[k].failed &&
			    rn->groups[k].records)
				d->store->ops->object_delete(d->store, rn->groups[k].target->bucket,
							     rn->groups[k].key);
	}
	/* The digest writer hears of the files before any cursor moves, so
	 * that a file whose records will not be delivered again is always
	 * known to it. */
	if (d->observer) {
		int r = tell_observer(d, rn, in, trail_failed);
		if (r < 0) {
			/* No cursor moves, so the records go again under other
			 * keys: this run's files must not stay beside them. */
			for (size_t k = 0; k < rn->n_groups; k++)
				if (rn->groups[k].records && !rn->groups[k].failed)
					d->store->ops->object_delete(d->store,
								     rn->groups[k].target->bucket,
								     rn->groups[k].key);
			free(trail_failed);
			return ct_fail_errno(err, r, "recording delivered files for the digests");
		}
	}
	for (size_t i = 0; i < in->n_trails; i++) {
		const char *trail = in->trails[i].trail;
		bool any = false;
		for (size_t k = 0; k < rn->n_groups; k++)
			any |= !strcmp(rn->groups[k].trail, trail) && rn->groups[k].records;
		struct cursor *c = cursor_get(d, trail);
		if (!c) {
			free(trail_failed);
			return ct_fail_errno(err, ENOMEM, "delivery");
		}
		if (trail_failed[i])
			continue;
		c->cursor = in->trails[i].to;
		if (any) {
			c->latest_time = in->time;
			c->latest_error[0] = '\0';
		}
	}
	free(trail_failed);
	int r = save_state(d, NULL, err);
	if (r < 0)
		return r;
	trim_delivered(d);
	return 0;
}

/* One run over the records below end.  *ran: it got as far as writing (or
 * found nothing to write); *more: it stopped short of end (DELIVERY_RUN_MAX)
 * with every file written, so another should follow at once.  Caller holds
 * d->lock. */
static int run_once(struct delivery *d, const struct delivery_target *targets, size_t n,
		    const char *only_trail, uint64_t end, struct delivered_file **files,
		    size_t *n_files, bool *ran, bool *more)
{
	struct run rn = { .d = d, .targets = targets, .n_targets = n, .only = only_trail };
	struct intent in;
	memset(&in, 0, sizeof in);
	struct ct_err err;
	int r = 0;
	*ran = *more = false;
	rn.from = calloc(n + 1, sizeof *rn.from);
	rn.to = calloc(n + 1, sizeof *rn.to);
	rn.full = calloc(n + 1, sizeof *rn.full);
	if (!rn.from || !rn.to || !rn.full) {
		r = -ENOMEM;
		goto out;
	}
	uint64_t low = end;
	for (size_t i = 0; i < n; i++) {
		struct cursor *c = cursor_get(d, targets[i].trail);
		if (!c) {
			r = -ENOMEM;
			goto out;
		}
		rn.from[i] = c->cursor;
		rn.to[i] = end;
		if (selected(&rn, i) && c->cursor < low)
			low = c->cursor;
	}
	if (low < end && (r = spool_read(d->spool, low, end, collect, &rn)) < 0)
		goto out;
	r = 0;
	if (rn.stop) {
		/* Cut short: every trail stops where collecting stopped. */
		for (size_t i = 0; i < n; i++)
			if (rn.to[i] > rn.stop)
				rn.to[i] = rn.from[i] > rn.stop ? rn.from[i] : rn.stop;
	}

	in.active = true;
	in.time = clock_now(d->clock);
	in.trails = calloc(n + 1, sizeof *in.trails);
	in.files = calloc(rn.n_groups + 1, sizeof *in.files);
	if (!in.trails || !in.files) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!selected(&rn, i))
			continue;
		struct intent_trail *it = &in.trails[in.n_trails++];
		it->trail = strdup(targets[i].trail);
		it->from = rn.from[i];
		it->to = rn.to[i];
		if (!it->trail) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < rn.n_groups; i++) {
		struct group *g = &rn.groups[i];
		size_t ti = (size_t)(g->target - targets);
		g->key = make_key(g->target, g->region, rn.from[ti], rn.to[ti], in.time);
		struct intent_file *f = &in.files[in.n_files++];
		f->trail = strdup(g->trail);
		f->region = strdup(g->region);
		f->bucket = strdup(g->target->bucket);
		f->key = g->key ? strdup(g->key) : NULL;
		if (!g->key || !f->trail || !f->region || !f->bucket || !f->key) {
			r = -ENOMEM;
			goto out;
		}
	}
	/* Nothing to write and no cursor to move: no intent needed. */
	if (rn.n_groups == 0) {
		bool moves = false;
		for (size_t i = 0; i < in.n_trails; i++) {
			struct cursor *c = cursor_find(d, in.trails[i].trail);
			moves |= c && c->cursor != in.trails[i].to;
		}
		if (!moves) {
			/* A crash between saving the cursors and trimming left
			 * delivered records spooled: give them back now. */
			trim_delivered(d);
			*ran = true;
			goto out;
		}
	}
	if ((r = save_state(d, &in, &err)) < 0)
		goto out;
	r = finish(d, &rn, &in, files, n_files, &err);
	*ran = true;
	if (r == 0 && rn.stop) {
		bool failed = false;
		for (size_t i = 0; i < rn.n_groups; i++)
			failed |= rn.groups[i].failed;
		/* A trail that failed would be read again and again: it waits
		 * for the next run, as it would have anyway. */
		*more = !failed;
	}
out:
	intent_release(&in);
	run_release(&rn);
	return r;
}

int delivery_run(struct delivery *d, const struct delivery_target *targets, size_t n,
		 const char *only_trail, struct delivered_file **files, size_t *n_files)
{
	if (files) {
		*files = NULL;
		*n_files = 0;
	}
	pthread_mutex_lock(&d->lock);
	uint64_t end = spool_next(d->spool);
	/* What this run takes: records appended later are pending for the next
	 * (a frame appended between these two reads is counted as taken; one
	 * write's worth at most, and it waits for the timer at worst). */
	uint64_t appended = spool_appended(d->spool);
	bool ran, more;
	int r;
	do
		r = run_once(d, targets, n, only_trail, end, files, n_files, &ran, &more);
	while (r == 0 && more);
	if (ran)
		__atomic_store_n(&d->appended_at_last, appended, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* Redo an interrupted run: the same files from the same records, with the
 * keys the intent recorded. */
static int redo(struct delivery *d, const struct intent *in, struct ct_err *err)
{
	struct delivery_target *targets = calloc(in->n_files + 1, sizeof *targets);
	struct run rn = { .d = d, .redo = in };
	int r = targets ? 0 : -ENOMEM;
	/* One target per file: its trail, bucket and the key already chosen. */
	rn.from = calloc(in->n_files + 1, sizeof *rn.from);
	rn.to = calloc(in->n_files + 1, sizeof *rn.to);
	rn.full = calloc(in->n_files + 1, sizeof *rn.full);
	if (!rn.from || !rn.to || !rn.full)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < in->n_files; i++) {
		targets[i].trail = in->files[i].trail;
		targets[i].bucket = in->files[i].bucket;
		targets[i].prefix = "";
		targets[i].account = "";
		for (size_t k = 0; k < in->n_trails; k++)
			if (!strcmp(in->trails[k].trail, in->files[i].trail)) {
				rn.from[i] = in->trails[k].from;
				rn.to[i] = in->trails[k].to;
			}
	}
	rn.targets = targets;
	rn.n_targets = in->n_files;
	uint64_t low = UINT64_MAX, high = 0;
	for (size_t i = 0; i < in->n_files; i++) {
		low = rn.from[i] < low ? rn.from[i] : low;
		high = rn.to[i] > high ? rn.to[i] : high;
	}
	/* Each target collects every region of its trail; keep only the
	 * group of the file's own region. */
	if (r == 0 && in->n_files && low < high)
		r = spool_read(d->spool, low, high, collect, &rn);
	for (size_t i = 0; r == 0 && i < rn.n_groups; i++) {
		struct group *g = &rn.groups[i];
		size_t ti = (size_t)(g->target - targets);
		if (strcmp(g->region, in->files[ti].region)) {
			g->records = 0;   /* another file's group */
			continue;
		}
		g->key = strdup(in->files[ti].key);
		if (!g->key)
			r = -ENOMEM;
	}
	if (r == 0)
		r = finish(d, &rn, in, NULL, NULL, err);
	run_release(&rn);
	free(targets);
	return r;
}

struct delivery *delivery_open(const char *state_dir, struct spool *spool, struct store *store,
			       const struct clock *clock, struct ct_err *err)
{
	return delivery_open_observed(state_dir, spool, store, clock, NULL, NULL, err);
}

struct delivery *delivery_open_observed(const char *state_dir, struct spool *spool,
					struct store *store, const struct clock *clock,
					delivery_observer_fn fn, void *ctx, struct ct_err *err)
{
	return delivery_open_sealed(state_dir, spool, store, clock, fn, ctx, NULL, NULL, err);
}

struct delivery *delivery_open_sealed(const char *state_dir, struct spool *spool,
				      struct store *store, const struct clock *clock,
				      delivery_observer_fn fn, void *ctx, delivery_seal_fn seal,
				      void *seal_ctx, struct ct_err *err)
{
	struct delivery *d = calloc(1, sizeof *d);
	if (!d) {
		ct_fail_errno(err, ENOMEM, "delivery");
		return NULL;
	}
	d->observer = fn;
	d->observer_ctx = ctx;
	d->seal = seal;
	d->seal_ctx = seal_ctx;
	pthread_mutex_init(&d->lock, NULL);
	d->spool = spool;
	d->store = store;
	d->clock = clock;
	struct buf p;
	buf_init(&p, 4096);
	if (buf_printf(&p, "%s/delivery.json", state_dir) < 0) {
		buf_release(&p);
		ct_fail_errno(err, ENAMETOOLONG, state_dir);
		delivery_close(d);
		return NULL;
	}
	d->path = buf_take(&p);
	remove_stale_temps(d->path);
	struct intent in;
	memset(&in, 0, sizeof in);
	int r = load_state(d, &in, err);
	if (r == 0 && in.active)
		r = redo(d, &in, err);
	intent_release(&in);
	if (r < 0) {
		delivery_close(d);
		return NULL;
	}
	d->appended_at_last = spool_appended(spool);
	return d;
}

void delivery_close(struct delivery *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_cursors; i++) {
		free(d->cursors[i].trail);
		free(d->cursors[i].latest_error);
	}
	free(d->cursors);
	free(d->path);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void delivered_files_free(struct delivered_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].trail);
		free(f[i].bucket);
		free(f[i].key);
	}
	free(f);
}

void delivery_status(struct delivery *d, const char *trail, int64_t *latest_time,
		     char *latest_error, size_t size)
{
	pthread_mutex_lock(&d->lock);
	struct cursor *c = cursor_find(d, trail);
	*latest_time = c ? c->latest_time : 0;
	snprintf(latest_error, size, "%s", c ? c->latest_error : "");
	pthread_mutex_unlock(&d->lock);
}

int delivery_forget(struct delivery *d, const char *trail)
{
	pthread_mutex_lock(&d->lock);
	int r = 0;
	for (size_t i = 0; i < d->n_cursors; i++) {
		if (strcmp(d->cursors[i].trail, trail))
			continue;
		free(d->cursors[i].trail);
		free(d->cursors[i].latest_error);
		d->cursors[i] = d->cursors[--d->n_cursors];
		struct ct_err err;
		r = save_state(d, NULL, &err);
		break;
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

int delivery_keep_only(struct delivery *d, const char *const *names, size_t n)
{
	pthread_mutex_lock(&d->lock);
	bool changed = false;
	for (size_t i = 0; i < d->n_cursors;) {
		bool keep = false;
		for (size_t k = 0; k < n && !keep; k++)
			keep = !strcmp(d->cursors[i].trail, names[k]);
		if (keep) {
			i++;
			continue;
		}
		free(d->cursors[i].trail);
		free(d->cursors[i].latest_error);
		d->cursors[i] = d->cursors[--d->n_cursors];
		changed = true;
	}
	struct ct_err err;
	int r = changed ? save_state(d, NULL, &err) : 0;
	pthread_mutex_unlock(&d->lock);
	return r;
}

uint64_t delivery_pending_bytes(struct delivery *d)
{
	/* Unlocked, as ingest asks after every write: a stale value only moves
	 * a run by one write. */
	uint64_t now = spool_appended(d->spool);
	uint64_t last = __atomic_load_n(&d->appended_at_last, __ATOMIC_RELAXED);
	return now > last ? now - last : 0;
}

int delivery_lines(const char *body, size_t len, struct buf *out)
{
	/* Find the array after "Records", then copy each element's bytes,
	 * tracking strings and nesting: no record is re-serialised, so the
	 * lines hold exactly the delivered bytes. */
	size_t i = 0;
	while (i < len && (unsigned char)body[i] <= ' ')
		i++;
	if (i >= len || body[i] != '{')
		return -EINVAL;
	const char *key = memmem(body + i, len - i, "\"Records\"", 9);
	if (!key)
		return -EINVAL;
	i = (size_t)(key - body) + 9;
	while (i < len && body[i] != '[') {
		if (body[i] != ':' && (unsigned char)body[i] > ' ')
			return -EINVAL;
		i++;
	}
	if (i >= len)
		return -EINVAL;
	i++;
	for (;;) {
		while (i < len && ((unsigned char)body[i] <= ' ' || body[i] == ','))
			i++;
		if (i >= len)
			return -EINVAL;
		if (body[i] == ']')
			return 0;
		size_t start = i;
		int depth = 0;
		bool in_string = false, esc = false;
		for (; i < len; i++) {
			char c = body[i];
			if (in_string) {
				if (esc)
					esc = false;
				else if (c == '\\')
					esc = true;
				else if (c == '"')
					in_string = false;
				continue;
			}
			if (c == '"')
				in_string = true;
			else if (c == '{' || c == '[')
				depth++;
			else if (c == '}' || c == ']') {
				if (--depth == 0) {
					i++;
					break;
				}
			} else if (depth == 0 && (c == ',' || (unsigned char)c <= ' '))
				break;
		}
		if (depth != 0 || in_string)
			return -EINVAL;
		int r = buf_add(out, body + start, i - start);
		if (r == 0)
			r = buf_putc(out, '\n');
		if (r < 0)
			return r;
	}
}
