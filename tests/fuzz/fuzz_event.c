/* Fuzz harness for the /events stream (backend/event.c).
 *
 * Input: byte 0 chooses whether records are stamped and into how many
 * writes (1 to 3) the rest is cut; bytes 1 and 2 give the cut points; the
 * rest is what is written.  The same bytes are also fed in one write, and
 * the two runs must agree: all-or-nothing per write means cutting a stream
 * differently cannot change which record fails, nor what is accepted.
 * The whole input is fed once more with the one-pass scanner off
 * (event_set_fast_path): the general way must decide the same and give
 * byte-identical records (generated event IDs aside), so the scanner never
 * accepts what the general way refuses nor writes a record differently.
 * Every contract the harness can check aborts when broken. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

static const char *const regions[] = {"us-east-1", "eu-west-1"};
static const char *const categories[] = {"Management", "Data", "Insight", "NetworkActivity"};

#define CHECK(cond)                                                                   \
	do {                                                                              \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_event: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
			abort();                                                                  \
		}                                                                             \
	} while (0)

static bool str_is(const json *j, const char *want)
{
	return json_is_string(j) && strcmp(json_string(j), want) == 0;
}

/* What event.h promises of each record it returns. */
static void check_event(const struct event *e, const struct event_ctx *ctx)
{
	CHECK(e->json && strlen(e->json) == e->len && e->len <= CT_EVENT_MAX);
	json *j = json_parse(e->json, e->len, NULL);
	CHECK(json_is_object(j));
	bool region_ok = false;
	for (size_t i = 0; i < ctx->n_regions; i++)
		region_ok = region_ok || !strcmp(e->region, ctx->regions[i]);
	CHECK(region_ok && str_is(json_get(j, "awsRegion"), e->region));
	CHECK(e->source[0] && str_is(json_get(j, "eventSource"), e->source));
	CHECK(e->name[0] && str_is(json_get(j, "eventName"), e->name));
	CHECK(e->id[0] && str_is(json_get(j, "eventID"), e->id));
	CHECK(json_is_string(json_get(j, "eventTime")));
	CHECK(json_is_string(json_get(j, "eventVersion")) && json_is_string(json_get(j, "eventType")));
	CHECK(str_is(json_get(j, "recipientAccountId"), ctx->account) ||
	      json_is_string(json_get(j, "recipientAccountId")));
	CHECK((unsigned)e->category < 4 && str_is(json_get(j, "eventCategory"), categories[e->category]));
	CHECK(json_is_bool(json_get(j, "readOnly")) && json_bool(json_get(j, "readOnly")) == e->read_only);
	CHECK(json_is_bool(json_get(j, "managementEvent")) &&
	      json_bool(json_get(j, "managementEvent")) == e->management);
	CHECK(e->global == event_source_global(e->source));

	const json *res = json_get(j, "resources");
	CHECK(res ? json_is_array(res) && json_size(res) == e->n_resources : e->n_resources == 0);
	size_t i = 0;
	for (const json *r = json_first(res); r; r = json_next(r), i++) {
		CHECK(str_is(json_get(r, "ARN"), e->resources[i].arn));
		const json *type = json_get(r, "type");
		CHECK(type ? str_is(type, e->resources[i].type) : !strcmp(e->resources[i].type, ""));
	}

	/* A stamped record carries exactly one stamp, and it is ours. */
	if (ctx->who) {
		const json *aed = json_get(j, "additionalEventData");
		size_t stamps = 0;
		CHECK(json_is_object(aed));
		for (const json *m = json_first(aed); m; m = json_next(m))
			stamps += !strcmp(json_key(m), "trailfsIngest");
		const json *st = json_get(aed, "trailfsIngest");
		CHECK(stamps == 1 && json_number(json_get(st, "uid")) == ctx->who->uid &&
		      str_is(json_get(st, "userName"), ctx->who->user) &&
		      str_is(json_get(st, "program"), ctx->who->program));
	}
	json_free(j);
}

struct run {
	bool ok;                 /* every write taken */
	size_t records;
	struct ct_err err;       /* the failure, when !ok */
	int finish;
	struct ct_err finish_err;
	char names[4096];        /* eventName of each record, joined */
	size_t names_len;
	uint64_t texts;          /* FNV-1a over every record's text, its eventID blanked */
};

/* Fold e's normalised text into *h, without its eventID: one the record
 * lacked is random, and differs between runs. */
static void hash_text(uint64_t *h, const struct event *e)
{
	size_t idn = strlen(e->id);
	for (size_t i = 0; i < e->len; i++) {
		if (idn && i + idn <= e->len && !memcmp(e->json + i, e->id, idn)) {
			i += idn - 1;
			continue;
		}
		*h = (*h ^ (unsigned char)e->json[i]) * 1099511628211ull;
	}
	*h = (*h ^ 0xff) * 1099511628211ull;   /* the record's end */
}

/* Feed text cut at the given points; stop at the first refused write. */
static void run(const char *text, size_t len, const size_t *cuts, size_t n_cuts,
		const struct event_ctx *ctx, struct run *out)
{
	struct event_stream s;
	size_t at = 0;
	memset(out, 0, sizeof *out);
	out->ok = true;
	out->texts = 14695981039346656037ull;
	event_stream_init(&s);
	for (size_t k = 0; k <= n_cuts; k++) {
		size_t end = k < n_cuts ? cuts[k] : len;
		struct event_stream before = s;
		char *carry = malloc(s.carry.len + 1);
		CHECK(carry);
		memcpy(carry, buf_str(&s.carry), s.carry.len + 1);
		struct event *v = (struct event *)&s;
		size_t n = 12345;
		int r = event_stream_feed(&s, text + at, end - at, ctx, &v, &n, &out->err);
		if (r < 0) {
			/* All or nothing: nothing out, the stream exactly as before. */
			CHECK(r == -EINVAL || r == -ENOMEM);
			CHECK(v == NULL && n == 0);
			CHECK(s.carry.len == before.carry.len && s.line == before.line &&
			      s.lines_in_carry == before.lines_in_carry && s.scanned == before.scanned &&
			      s.depth == before.depth && s.in_string == before.in_string &&
			      s.escaped == before.escaped);
			CHECK(memcmp(buf_str(&s.carry), carry, s.carry.len + 1) == 0);
			CHECK(r != -EINVAL || strstr(out->err.message, "line ") == out->err.message);
			out->ok = false;
			free(carry);
			break;
		}
		free(carry);
		CHECK(r == 0 && (n == 0 || v));
		CHECK(s.scanned == s.carry.len && (s.carry.len == 0 || s.carry.data[0] == '{'));
		CHECK(s.carry.len > 0 || (s.depth == 0 && !s.in_string && !s.escaped && s.lines_in_carry == 0));
		for (size_t i = 0; i < n; i++) {
			check_event(&v[i], ctx);
			hash_text(&out->texts, &v[i]);
			size_t nl = strlen(v[i].name);
			if (out->names_len + nl + 1 < sizeof out->names) {
				memcpy(out->names + out->names_len, v[i].name, nl + 1);
				out->names_len += nl + 1;
			}
		}
		out->records += n;
		events_free(v, n);
		at = end;
	}
	if (out->ok) {
		out->finish = event_stream_finish(&s, &out->finish_err);
		CHECK(out->finish == 0 ? s.carry.len == 0 : s.carry.len > 0);
	}
	event_stream_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	static const struct ingest_who who = {1000, "fuzz", "fuzz_event"};
	struct event_ctx ctx = {"111122223333", regions, 2, (data[0] & 1) ? &who : NULL};
	const char *text = (const char *)data + 3;
	size_t len = size - 3;
	size_t n_cuts = (size_t)((data[0] >> 1) % 3);
	size_t cuts[2] = {data[1] % (len + 1), data[2] % (len + 1)};
	if (cuts[0] > cuts[1]) {
		size_t t = cuts[0];
		cuts[0] = cuts[1];
		cuts[1] = t;
	}
	if (n_cuts == 1)
		cuts[0] = cuts[1];

	struct run *cut = malloc(sizeof *cut), *whole = malloc(sizeof *whole),
		   *general = malloc(sizeof *general);
	CHECK(cut && whole && general);
	run(text, len, cuts, n_cuts, &ctx, cut);
	run(text, len, NULL, 0, &ctx, whole);
	event_set_fast_path(false);
	run(text, len, NULL, 0, &ctx, general);
	event_set_fast_path(true);

	/* The scanner and the general way agree on everything. */
	CHECK(general->ok == whole->ok && general->records == whole->records &&
	      general->texts == whole->texts);
	if (!whole->ok)
		CHECK(strcmp(general->err.name, whole->err.name) == 0 &&
		      strcmp(general->err.message, whole->err.message) == 0);
	else
		CHECK(general->finish == whole->finish);

	/* Cutting the stream differently changes nothing that is decided. */
	CHECK(cut->ok == whole->ok);
	if (cut->ok) {
		CHECK(cut->records == whole->records && cut->names_len == whole->names_len &&
		      memcmp(cut->names, whole->names, cut->names_len) == 0);
		CHECK(cut->finish == whole->finish &&
		      strcmp(cut->finish_err.message, whole->finish_err.message) == 0);
	} else {
		CHECK(strcmp(cut->err.name, whole->err.name) == 0 &&
		      strcmp(cut->err.message, whole->err.message) == 0);
	}
	free(cut);
	free(whole);
	free(general);
	return 0;
}
