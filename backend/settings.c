/* Text forms of a trail's settings, and of a bucket's policy.json. */
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "validate.h"

enum kind {
	K_ARN, K_HOME, K_STATUS, K_CONFIG,
	K_MULTI, K_GLOBAL, K_VALIDATION, K_LOGGING,
	K_BUCKET, K_PREFIX, K_MGMT, K_DATA, K_KMS, K_SNS, K_LOGGROUP, K_TAGS,
};

struct file_def {
	const char *name;
	enum kind kind;
	bool writable;
};

static const struct file_def files[] = {
	{ "arn", K_ARN, false },
	{ "cloudwatch_logs_group", K_LOGGROUP, true },
	{ "config.json", K_CONFIG, true },
	{ "data_events", K_DATA, true },
	{ "global_service_events", K_GLOBAL, true },
	{ "home_region", K_HOME, false },
	{ "kms_key", K_KMS, true },
	{ "log_file_validation", K_VALIDATION, true },
	{ "logging", K_LOGGING, true },
	{ "management_events", K_MGMT, true },
	{ "multi_region", K_MULTI, true },
	{ "s3_bucket", K_BUCKET, true },
	{ "s3_key_prefix", K_PREFIX, true },
	{ "sns_topic", K_SNS, true },
	{ "status", K_STATUS, false },
	{ "tags", K_TAGS, true },
};

#define N_FILES (sizeof files / sizeof files[0])

static const char *const file_names[N_FILES + 1] = {
	"arn", "cloudwatch_logs_group", "config.json", "data_events", "global_service_events",
	"home_region", "kms_key", "log_file_validation", "logging", "management_events",
	"multi_region", "s3_bucket", "s3_key_prefix", "sns_topic", "status", "tags", NULL,
};

static const struct file_def *find(const char *name)
{
	for (size_t i = 0; i < N_FILES; i++)
		if (!strcmp(files[i].name, name))
			return &files[i];
	return NULL;
}

enum setting_access settings_trail_file(const char *name)
{
	const struct file_def *d = find(name);
	return !d ? SETTING_NONE : d->writable ? SETTING_RW : SETTING_RO;
}

const char *const *settings_trail_files(void)
{
	return file_names;
}

/* ---- reading ---- */

static const char *yes_no(bool v) { return v ? "yes" : "no"; }

/* The group name inside arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]. */
static void log_group_name(const char *arn, struct buf *out)
{
	const char *p = strstr(arn, ":log-group:");
	if (!p) {
		(void)buf_puts(out, arn);
		return;
	}
	p += strlen(":log-group:");
	size_t n = strlen(p);
	if (n >= 2 && !strcmp(p + n - 2, ":*"))
		n -= 2;
	(void)buf_add(out, p, n);
}

static int read_data_events(const struct selectors *s, struct buf *out)
{
	static const char s3[] = "arn:aws:s3:::";
	int r = 0;
	for (size_t i = 0; r == 0 && i < s->n_res; i++) {
		const char *v = s->res[i].value;
		if (!strncmp(v, s3, strlen(s3)))
			v += strlen(s3);
		r = buf_printf(out, "%s %s\n", v, rw_type_name(s->res[i].rw));
	}
	return r;
}

static int read_config(const struct trail *t, struct buf *out)
{
	json *j = trail_to_config_json(t);
	char *text = j ? json_print(j, true) : NULL;
	int r = text ? buf_puts(out, text) : -ENOMEM;
	if (r == 0)
		r = buf_putc(out, '\n');
	free(text);
	json_free(j);
	return r;
}

int settings_read(struct ct *ct, const struct ct_caller *who, const char *trail,
		  const char *file, struct buf *out, struct ct_err *err)
{
	const struct file_def *d = find(file);
	if (!d)
		return -ENOENT;
	if (d->kind == K_STATUS)
		return ct_get_trail_status_json(ct, who, trail, out, err);
	/* Each file is read with the call that answers it, so that its record
	 * names that call: the selector files GetEventSelectors, tags ListTags,
	 * the others GetTrail. */
	struct trail t;
	trail_init(&t);
	int r;
	if (d->kind == K_MGMT || d->kind == K_DATA)
		r = ct_get_event_selectors(ct, who, trail, &t.sel, err);
	else if (d->kind == K_TAGS)
		r = ct_list_tags(ct, who, trail, &t.tags, &t.n_tags, err);
	else
		r = ct_get_trail(ct, who, trail, &t, err);
	if (r < 0) {
		trail_release(&t);
		return r;
	}
	char arn[CT_ARN_MAX + 1];
	switch (d->kind) {
	case K_ARN:
		trail_arn(&t, arn, sizeof arn);
		r = buf_printf(out, "%s\n", arn);
		break;
	case K_HOME: r = buf_printf(out, "%s\n", t.home_region); break;
	case K_MULTI: r = buf_printf(out, "%s\n", yes_no(t.multi_region)); break;
	case K_GLOBAL: r = buf_printf(out, "%s\n", yes_no(t.global_events)); break;
	case K_VALIDATION: r = buf_printf(out, "%s\n", yes_no(t.validation)); break;
	case K_LOGGING: r = buf_printf(out, "%s\n", t.logging ? "on" : "off"); break;
	case K_BUCKET: r = buf_printf(out, "%s\n", t.bucket); break;
	case K_PREFIX: r = buf_printf(out, "%s\n", t.prefix); break;
	case K_MGMT: r = buf_printf(out, "%s\n", rw_type_name(t.sel.mgmt)); break;
	case K_DATA: r = read_data_events(&t.sel, out); break;
	case K_KMS: r = buf_printf(out, "%s\n", t.kms_key_arn); break;
	case K_SNS: r = buf_printf(out, "%s\n", t.sns_topic_arn); break;
	case K_LOGGROUP:
		log_group_name(t.log_group_arn, out);
		r = buf_putc(out, '\n');
		break;
	case K_TAGS:
		for (size_t i = 0; r == 0 && i < t.n_tags; i++)
			r = buf_printf(out, "%s=%s\n", t.tags[i].key, t.tags[i].value);
		break;
	case K_CONFIG: r = read_config(&t, out); break;
	case K_STATUS: break;
	}
	trail_release(&t);
	return r;
}

/* ---- parsing what was written ---- */

/* A parsed write: the change it makes, and what it owns. */
struct plan {
	struct ct_change change;
	struct ct_update update;
	struct selectors sel;
	struct tag *tags;
	size_t n_tags;
	char *strings[8];         /* owned copies the update points into */
	size_t n_strings;
};

static void plan_init(struct plan *p)
{
	memset(p, 0, sizeof *p);
	struct ct_update u = CT_UPDATE_INIT;
	p->update = u;
	p->change.logging = -1;
}

static void plan_release(struct plan *p)
{
	selectors_release(&p->sel);
	ct_tags_free(p->tags, p->n_tags);
	for (size_t i = 0; i < p->n_strings; i++)
		free(p->strings[i]);
}

static const char *plan_keep(struct plan *p, const char *s, size_t n)
{
	if (p->n_strings == sizeof p->strings / sizeof p->strings[0])
		return NULL;
	char *copy = strndup(s, n);
	if (copy)
		p->strings[p->n_strings++] = copy;
	return copy;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The one value of a single-line setting: surrounding white space dropped,
 * no line break inside. */
static int one_line(const struct file_def *d, const char *text, size_t len, const char **v,
		    size_t *n, struct ct_err *err)
{
	while (len && is_space(text[len - 1]))
		len--;
	while (len && is_space(*text)) {
		text++;
		len--;
	}
	if (memchr(text, '\n', len) || memchr(text, '\r', len))
		return ct_fail(err, "InvalidParameterException",
			       "%s takes one value on one line", d->name);
	if (memchr(text, '\0', len))
		return ct_fail(err, "InvalidParameterException", "%s: NUL bytes are not allowed",
			       d->name);
	*v = text;
	*n = len;
	return 0;
}

/* value is one of words, exactly; with partial, a prefix of one will do. */
static int pick_word(const char *v, size_t n, const char *const *words, bool partial)
{
	for (int i = 0; words[i]; i++) {
		size_t wl = strlen(words[i]);
		if ((n == wl || (partial && n < wl)) && !strncmp(v, words[i], n))
			return i;
	}
	return -1;
}

static int parse_word(const struct file_def *d, const char *v, size_t n, bool partial,
		      int *out, struct ct_err *err)
{
	static const char *const yes_no_words[] = { "no", "yes", NULL };
	static const char *const on_off_words[] = { "off", "on", NULL };
	static const char *const mgmt_words[] = { "None", "ReadOnly", "WriteOnly", "All", NULL };
	const char *const *words = d->kind == K_LOGGING ? on_off_words
				 : d->kind == K_MGMT ? mgmt_words : yes_no_words;
	int i = pick_word(v, n, words, partial);
	if (i >= 0) {
		*out = i;
		return 0;
	}
	if (d->kind == K_MGMT)
		return ct_fail(err, "InvalidEventSelectorsException",
			       "management_events takes All, ReadOnly, WriteOnly or None "
			       "(exactly so spelt), not \"%.*s\"", (int)(n > 64 ? 64 : n), v);
	return ct_fail(err, "InvalidParameterException", "%s takes %s or %s, not \"%.*s\"",
		       d->name, words[1], words[0], (int)(n > 64 ? 64 : n), v);
}

/* Cut an unfinished UTF-8 sequence off the end of a growing value. */
static size_t complete_utf8(const char *text, size_t len)
{
	size_t back = 0;
	while (back < 4 && back < len && ((unsigned char)text[len - 1 - back] & 0xC0) == 0x80)
		back++;
	if (back < len) {
		unsigned char lead = (unsigned char)text[len - 1 - back];
		size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
		if (need > back)
			return len - 1 - back;
	}
	return len;
}

/* Each line of a multi-line setting: fn(line, length, line number).  With
 * partial, an unfinished last line is left for later. */
static int each_line(const char *text, size_t len, bool partial,
		     int (*fn)(void *ctx, const char *line, size_t n, size_t lineno,
			       struct ct_err *err),
		     void *ctx, struct ct_err *err)
{
	size_t lineno = 0;
	while (len) {
		const char *nl = memchr(text, '\n', len);
		if (!nl && partial)
			return 0;
		size_t n = nl ? (size_t)(nl - text) : len;
		lineno++;
		size_t m = n;
		if (m && text[m - 1] == '\r')
			m--;
		int r = fn(ctx, text, m, lineno, err);
		if (r < 0)
			return r;
		text += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
	return 0;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space(s[i]))
			return false;
	return true;
}

static int data_line(void *ctx, const char *line, size_t n, size_t lineno, struct ct_err *err)
{
	struct plan *p = ctx;
	if (blank(line, n))
		return 0;
	char *copy = strndup(line, n);
	if (!copy)
		return -ENOMEM;
	char *type = NULL, *value = NULL;
	enum rw_type rw;
	int r = memchr(line, '\0', n) ? ct_fail(err, "InvalidEventSelectorsException", "NUL byte")
				      : parse_data_events_line(copy, &type, &value, &rw, err);
	if (r == 0 && selectors_add_resource(&p->sel, type, value, rw) < 0)
		r = -ENOMEM;
	if (r < 0 && r != -ENOMEM)
		ct_err_prefix(err, "data_events line %zu: ", lineno);
	size_t counted = 0;
	for (size_t i = 0; r == 0 && i < p->sel.n_res; i++)
		if (!data_resource_is_all(p->sel.res[i].value))
			counted++;
	if (r == 0 && counted > CT_DATA_RESOURCES_MAX)
		r = ct_fail(err, "InvalidEventSelectorsException",
			    "data_events line %zu: a trail can select at most %d data resources",
			    lineno, CT_DATA_RESOURCES_MAX);
	free(type);
	free(value);
	free(copy);
	return r;
}

static int tag_line(void *ctx, const char *line, size_t n, size_t lineno, struct ct_err *err)
{
	struct plan *p = ctx;
	if (blank(line, n))
		return 0;
	const char *eq = memchr(line, '=', n);
	if (!eq)
		return ct_fail(err, "InvalidTagParameterException",
			       "tags line %zu: expected key=value, got \"%.*s\"", lineno,
			       (int)(n > 64 ? 64 : n), line);
	if (memchr(line, '\0', n))
		return ct_fail(err, "InvalidTagParameterException", "tags line %zu: NUL byte", lineno);
	if (p->n_tags >= CT_TAGS_MAX)
		return ct_fail(err, "TagsLimitExceededException",
			       "tags line %zu: a trail can have at most %d tags", lineno, CT_TAGS_MAX);
	struct tag *grown = realloc(p->tags, (p->n_tags + 1) * sizeof *grown);
	if (!grown)
		return -ENOMEM;
	p->tags = grown;
	struct tag *t = &p->tags[p->n_tags];
	t->key = strndup(line, (size_t)(eq - line));
	t->value = strndup(eq + 1, n - (size_t)(eq - line) - 1);
	if (!t->key || !t->value) {
		free(t->key);
		free(t->value);
		return -ENOMEM;
	}
	p->n_tags++;
	int r = validate_tag(t->key, t->value, err);
	for (size_t i = 0; r == 0 && i + 1 < p->n_tags; i++)
		if (!strcmp(p->tags[i].key, t->key))
			r = ct_fail(err, "InvalidTagParameterException",
				    "tags line %zu: key \"%s\" is given twice", lineno, t->key);
	if (r < 0 && err && strncmp(err->message, "tags line", 9))
		ct_err_prefix(err, "tags line %zu: ", lineno);
	return r;
}

static int config_string(const json *m, const char *name, const char **out, struct ct_err *err)
{
	if (!json_is_string(m))
		return ct_fail(err, "InvalidParameterException", "config.json: %s must be a string", name);
	*out = json_string(m);
	return 0;
}

static int config_bool(const json *m, const char *name, int *out, struct ct_err *err)
{
	if (!json_is_bool(m))
		return ct_fail(err, "InvalidParameterException",
			       "config.json: %s must be true or false", name);
	*out = json_bool(m);
	return 0;
}

static int config_tags(struct plan *p, const json *list, struct ct_err *err)
{
	if (!json_is_array(list))
		return ct_fail(err, "InvalidTagParameterException",
			       "config.json: TagsList must be an array of {\"Key\":...,\"Value\":...}");
	size_t n = json_size(list);
	if (n > CT_TAGS_MAX)
		return ct_fail(err, "TagsLimitExceededException",
			       "config.json: a trail can have at most %d tags, TagsList has %zu",
			       CT_TAGS_MAX, n);
	p->tags = calloc(n ? n : 1, sizeof *p->tags);
	if (!p->tags)
		return -ENOMEM;
	size_t i = 0;
	for (json *e = json_first(list); e; e = json_next(e), i++) {
		json *k = json_get(e, "Key"), *v = json_get(e, "Value");
		if (!json_is_object(e) || !json_is_string(k) || (v && !json_is_string(v)) ||
		    json_size(e) != (size_t)(1 + (v != NULL)))
			return ct_fail(err, "InvalidTagParameterException",
				       "config.json: TagsList[%zu] must be {\"Key\":\"...\",\"Value\":\"...\"}", i);
		p->tags[i].key = strdup(json_string(k));
		p->tags[i].value = strdup(v ? json_string(v) : "");
		p->n_tags = i + 1;
		if (!p->tags[i].key || !p->tags[i].value)
			return -ENOMEM;
	}
	p->change.tags = p->tags;
	p->change.n_tags = p->n_tags;
	p->change.tag_op = CT_TAGS_REPLACE;
	return 0;
}

static int config_must_match(const json *m, const char *name, const char *want, struct ct_err *err)
{
	if (!json_is_string(m) || strcmp(json_string(m), want))
		return ct_fail(err, "InvalidParameterException",
			       "config.json: %s is read-only and must stay \"%s\"%s", name, want,
			       !strcmp(name, "Name") ? " (trails cannot be renamed)" : "");
	return 0;
}

static int parse_config(struct ct *ct, const char *trail, const char *text, size_t len,
			bool partial, struct plan *p, struct ct_err *err)
{
	size_t off = 0;
	json *doc = json_parse(text, len, &off);
	if (!doc) {
		if (partial && off >= len)
			return 1;   /* may still be growing */
		size_t line, col;
		json_locate(text, len, off, &line, &col);
		return ct_fail(err, "InvalidParameterException",
			       "config.json is not valid JSON: %s at line %zu, column %zu",
			       off >= len ? "it ends before the document is complete" : "syntax error",
			       line, col);
	}
	struct trail cur;
	trail_init(&cur);
	int r = ct_get_trail(ct, NULL, trail, &cur, err);
	if (r == 0 && !json_is_object(doc))
		r = ct_fail(err, "InvalidParameterException",
			    "config.json must be a JSON object of Trail members");
	const char *sns_name = NULL, *sns_arn = NULL;
	for (json *m = r == 0 ? json_first(doc) : NULL; r == 0 && m; m = json_next(m)) {
		const char *k = json_key(m);
		char arn[CT_ARN_MAX + 1];
		struct ct_update *u = &p->update;
		if (!strcmp(k, "Name")) {
			r = config_must_match(m, k, cur.name, err);
		} else if (!strcmp(k, "TrailARN")) {
			trail_arn(&cur, arn, sizeof arn);
			r = config_must_match(m, k, arn, err);
		} else if (!strcmp(k, "HomeRegion")) {
			r = config_must_match(m, k, cur.home_region, err);
		} else if (!strcmp(k, "S3BucketName")) {
			r = config_string(m, k, &u->bucket, err);
		} else if (!strcmp(k, "S3KeyPrefix")) {
			r = config_string(m, k, &u->prefix, err);
		} else if (!strcmp(k, "SnsTopicName")) {
			r = config_string(m, k, &sns_name, err);
		} else if (!strcmp(k, "SnsTopicARN")) {
			r = config_string(m, k, &sns_arn, err);
		} else if (!strcmp(k, "KmsKeyId")) {
			r = config_string(m, k, &u->kms_key, err);
		} else if (!strcmp(k, "CloudWatchLogsLogGroupArn")) {
			r = config_string(m, k, &u->log_group_arn, err);
		} else if (!strcmp(k, "CloudWatchLogsRoleArn")) {
			r = config_string(m, k, &u->log_role_arn, err);
		} else if (!strcmp(k, "IncludeGlobalServiceEvents")) {
			r = config_bool(m, k, &u->global_events, err);
		} else if (!strcmp(k, "IsMultiRegionTrail")) {
			r = config_bool(m, k, &u->multi_region, err);
		} else if (!strcmp(k, "LogFileValidationEnabled")) {
			r = config_bool(m, k, &u->validation, err);
		} else if (!strcmp(k, "IsLogging")) {
			r = config_bool(m, k, &p->change.logging, err);
		} else if (!strcmp(k, "HasCustomEventSelectors")) {
			int ignored;   /* derived from EventSelectors */
			r = config_bool(m, k, &ignored, err);
		} else if (!strcmp(k, "HasInsightSelectors") || !strcmp(k, "IsOrganizationTrail")) {
			int v = 0;
			r = config_bool(m, k, &v, err);
			if (r == 0 && v)
				r = ct_fail(err, "InvalidParameterException",
					    "config.json: %s must be false: trailfs has no %s", k,
					    k[2] == 'I' ? "Insights" : "organization trails");
		} else if (!strcmp(k, "EventSelectors")) {
			selectors_release(&p->sel);
			r = selectors_from_json(m, &p->sel, err);
			p->change.selectors = &p->sel;
		} else if (!strcmp(k, "TagsList")) {
			r = config_tags(p, m, err);
		} else if (!strcmp(k, "AdvancedEventSelectors")) {
			r = ct_fail(err, "InvalidEventSelectorsException",
				    "config.json: AdvancedEventSelectors are not supported by trailfs; "
				    "use EventSelectors (basic selectors)");
		} else {
			r = ct_fail(err, "InvalidParameterException",
				    "config.json: unknown member \"%s\"; the members are those of "
				    "the Trail structure, with IsLogging, EventSelectors and TagsList", k);
		}
	}
	if (r == 0 && sns_name && sns_arn) {
		const char *tail = strrchr(sns_arn, ':');
		if (strcmp(tail ? tail + 1 : sns_arn, sns_name))
			r = ct_fail(err, "InvalidParameterException",
				    "config.json: SnsTopicName \"%s\" and SnsTopicARN \"%s\" name "
				    "different topics", sns_name, sns_arn);
	}
	if (r == 0 && (sns_arn || sns_name)) {
		/* A name that matches the current topic is no change. */
		const char *tail = strrchr(cur.sns_topic_arn, ':');
		if (sns_arn)
			p->update.sns_topic = sns_arn;
		else if (tail && !strcmp(tail + 1, sns_name))
			p->update.sns_topic = cur.sns_topic_arn;
		else
			p->update.sns_topic = sns_name;
	}
	/* The strings point into doc: copy them before it goes. */
	const char **strs[] = { &p->update.bucket, &p->update.prefix, &p->update.sns_topic,
				&p->update.kms_key, &p->update.log_group_arn, &p->update.log_role_arn };
	for (size_t i = 0; r == 0 && i < sizeof strs / sizeof strs[0]; i++)
		if (*strs[i] && !(*strs[i] = plan_keep(p, *strs[i], strlen(*strs[i]))))
			r = -ENOMEM;
	p->change.update = &p->update;
	trail_release(&cur);
	json_free(doc);
	return r;
}

/* Parse text as the file's new value into p.  Returns 0, 1 when a partial
 * value is acceptable so far but has nothing to check against the engine,
 * or -errno. */
static int parse(struct ct *ct, const struct file_def *d, const char *trail, const char *text,
		 size_t len, bool partial, struct plan *p, struct ct_err *err)
{
	if (partial)
		len = complete_utf8(text, len);
	if (!json_utf8_valid(text, len) && !memchr(text, '\0', len))
		return ct_fail(err, "InvalidParameterException", "%s: the value is not valid UTF-8",
			       d->name);
	const char *v = NULL;
	size_t n = 0;
	int r, word = 0;
	const char *s;
	unsigned vf = partial ? VF_PARTIAL : 0;
	switch (d->kind) {
	case K_ARN:
	case K_HOME:
	case K_STATUS:
		return ct_fail(err, "OperationNotPermittedException", "%s is read-only", d->name);
	case K_MULTI:
	case K_GLOBAL:
	case K_VALIDATION:
	case K_LOGGING:
	case K_MGMT:
		if ((r = one_line(d, text, len, &v, &n, err)) < 0 ||
		    (r = parse_word(d, v, n, partial, &word, err)) < 0)
			return r;
		if (partial)
			return 1;
		if (d->kind == K_MULTI)
			p->update.multi_region = word;
		else if (d->kind == K_GLOBAL)
			p->update.global_events = word;
		else if (d->kind == K_VALIDATION)
			p->update.validation = word;
		else if (d->kind == K_LOGGING)
			p->change.logging = word;
		if (d->kind == K_MGMT) {
			static const enum rw_type rw[] = { RW_NONE, RW_READ, RW_WRITE, RW_ALL };
			p->sel.mgmt = rw[word];
			p->change.selectors = &p->sel;
			p->change.selector_parts = CT_SEL_MGMT;
		} else if (d->kind != K_LOGGING) {
			p->change.update = &p->update;
		}
		return 0;
	case K_BUCKET:
	case K_PREFIX:
	case K_KMS:
	case K_SNS:
	case K_LOGGROUP:
		if ((r = one_line(d, text, len, &v, &n, err)) < 0)
			return r;
		if (!(s = plan_keep(p, v, n)))
			return -ENOMEM;
		if (partial) {
			if (!*s)
				return 1;
			switch (d->kind) {
			case K_BUCKET: r = validate_bucket_name_cloudtrail(s, vf, err); break;
			case K_PREFIX: r = validate_s3_prefix(s, vf, err); break;
			case K_KMS: r = validate_kms_key_id(s, vf, err); break;
			case K_SNS: r = validate_sns_topic(s, vf, err); break;
			default: r = validate_log_group_name(s, vf, err); break;
			}
			return r < 0 ? r : 1;
		}
		p->change.update = &p->update;
		switch (d->kind) {
		case K_BUCKET:
			if (!*s)
				return ct_fail(err, "InvalidS3BucketNameException",
					       "s3_bucket cannot be empty: a trail needs a bucket");
			p->update.bucket = s;
			break;
		case K_PREFIX: p->update.prefix = s; break;
		case K_KMS: p->update.kms_key = s; break;
		case K_SNS: p->update.sns_topic = s; break;
		default:
			if (!*s) {
				p->update.log_group_arn = "";
				p->update.log_role_arn = "";
				break;
			}
			if ((r = validate_log_group_name(s, 0, err)) < 0)
				return r;
			{
				struct buf arn;
				buf_init(&arn, CT_ARN_MAX);
				r = buf_printf(&arn, "arn:aws:logs:%s:%s:log-group:%s:*", ct_region(ct),
					       ct_account(ct), s);
				const char *kept = r == 0 ? plan_keep(p, arn.data, arn.len) : NULL;
				buf_release(&arn);
				if (!kept)
					return r < 0 ? ct_fail(err, "InvalidCloudWatchLogsLogGroupArnException",
							       "log group name too long") : -ENOMEM;
				p->update.log_group_arn = kept;
			}
			break;
		}
		return 0;
	case K_DATA:
		if (memchr(text, '\0', len))
			return ct_fail(err, "InvalidEventSelectorsException", "data_events: NUL byte");
		if ((r = each_line(text, len, partial, data_line, p, err)) < 0)
			return r;
		if (partial)
			return 1;
		p->change.selectors = &p->sel;
		p->change.selector_parts = CT_SEL_DATA;
		return 0;
	case K_TAGS:
		if ((r = each_line(text, len, partial, tag_line, p, err)) < 0)
			return r;
		if (partial)
			return 1;
		p->change.tag_op = CT_TAGS_REPLACE;
		p->change.tags = p->tags;
		p->change.n_tags = p->n_tags;
		return 0;
	case K_CONFIG:
		return parse_config(ct, trail, text, len, partial, p, err);
	}
	return -EINVAL;
}

/* Has the writer said all it will say?  A line setting ends in a newline; a
 * JSON document parses. */
static bool looks_complete(const struct file_def *d, const char *text, size_t len)
{
	if (d->kind == K_CONFIG) {
		json *j = json_parse(text, len, NULL);
		json_free(j);
		return j != NULL;
	}
	return len && text[len - 1] == '\n';
}

/* The API call a write to the file stands for, to name a value that was
 * refused before any call was made. */
static const char *call_of(const struct file_def *d, const char *text, size_t len)
{
	switch (d->kind) {
	case K_MGMT:
	case K_DATA: return "PutEventSelectors";
	case K_TAGS: return "AddTags";
	case K_LOGGING:
		while (len && (*text == ' ' || *text == '\t')) {
			text++;
			len--;
		}
		return len >= 3 && !memcmp(text, "off", 3) ? "StopLogging" : "StartLogging";
	default: return "UpdateTrail";
	}
}

static int run(struct ct *ct, const struct ct_caller *who, const struct file_def *d,
	       const char *trail, const char *text, size_t len, bool partial, unsigned flags,
	       struct ct_err *err)
{
	struct plan p;
	plan_init(&p);
	int r = parse(ct, d, trail, text, len, partial, &p, err);
	if (r == 0)
		r = ct_apply(ct, who, trail, &p.change, flags, err);
	plan_release(&p);
	if (r == -ENOMEM)
		r = ct_fail_errno(err, ENOMEM, d->name);
	if (r < 0)
		ct_err_call(err, call_of(d, text, len), trail);
	return r < 0 ? r : 0;
}

int settings_check(struct ct *ct, const struct ct_caller *who, const char *trail,
		   const char *file, const char *text, size_t len, struct ct_err *err)
{
	const struct file_def *d = find(file);
	if (!d)
		return -ENOENT;
	int r = run(ct, who, d, trail, text, len, false, CT_DRY_RUN, err);
	if (r == 0 || looks_complete(d, text, len))
		return r;
	return run(ct, who, d, trail, text, len, true, CT_DRY_RUN, err);
}

int settings_apply(struct ct *ct, const struct ct_caller *who, const char *trail,
		   const char *file, const char *text, size_t len, struct ct_err *err)
{
	const struct file_def *d = find(file);
	if (!d)
		return -ENOENT;
	return run(ct, who, d, trail, text, len, false, 0, err);
}

/* ---- a bucket's policy.json ---- */

int settings_bucket_read(struct ct *ct, const struct ct_caller *who, const char *bucket,
			 struct buf *out, struct ct_err *err)
{
	int r = ct_get_bucket_policy(ct, who, bucket, out, err);
	if (r == -ENODATA)
		return 0;   /* no policy: an empty file */
	if (r == 0 && out->len && out->data[out->len - 1] != '\n')
		r = buf_putc(out, '\n');
	return r;
}

int settings_bucket_check(struct ct *ct, const struct ct_caller *who, const char *bucket,
			  const char *text, size_t len, struct ct_err *err)
{
	int r = ct_put_bucket_policy(ct, who, bucket, text, len, CT_DRY_RUN, err);
	if (r == 0 || r == -ENOENT)
		return r;
	json *j = json_parse(text, len, NULL);
	json_free(j);
	if (j)
		return r;
	return ct_put_bucket_policy(ct, who, bucket, text, len, CT_DRY_RUN | CT_PARTIAL, err);
}

int settings_bucket_apply(struct ct *ct, const struct ct_caller *who, const char *bucket,
			  const char *text, size_t len, struct ct_err *err)
{
	return ct_put_bucket_policy(ct, who, bucket, text, len, 0, err);
}
