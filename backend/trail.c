#include "trail.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define TYPE_S3      "AWS::S3::Object"
#define TYPE_LAMBDA  "AWS::Lambda::Function"
#define TYPE_DYNAMO  "AWS::DynamoDB::Table"
#define SRC_KMS      "kms.amazonaws.com"
#define SRC_RDSDATA  "rdsdata.amazonaws.com"

#define SEL_ERR      "InvalidEventSelectorsException"
#define STATE_ERR    "InvalidStateFile"

/* The "all resources of a type" values (one per type) do not count toward
 * CT_DATA_RESOURCES_MAX, so a merged resource list never holds more than this. */
#define RESOURCES_STORED_MAX (CT_DATA_RESOURCES_MAX + 3)

/* Latest time the state file accepts: 9999-12-31T23:59:59Z, the last second
 * an ISO-8601 four-digit year can show.  It also keeps times well inside the
 * 15 significant digits that cJSON prints a number with, so they round-trip. */
#define STATE_TIME_MAX 253402300799.0

/* ---- read/write types ---------------------------------------------------- */

const char *rw_type_name(enum rw_type t)
{
	switch (t & RW_ALL) {
	case RW_READ:
		return "ReadOnly";
	case RW_WRITE:
		return "WriteOnly";
	case RW_ALL:
		return "All";
	default:
		return "None";
	}
}

int rw_type_parse(const char *s, bool allow_none, enum rw_type *out)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "All"))
		*out = RW_ALL;
	else if (!strcmp(s, "ReadOnly"))
		*out = RW_READ;
	else if (!strcmp(s, "WriteOnly"))
		*out = RW_WRITE;
	else if (allow_none && !strcmp(s, "None"))
		*out = RW_NONE;
	else
		return -EINVAL;
	return 0;
}

/* ---- selectors ----------------------------------------------------------- */

void selectors_release(struct selectors *s)
{
	for (size_t i = 0; i < s->n_res; i++) {
		free(s->res[i].type);
		free(s->res[i].value);
	}
	free(s->res);
	memset(s, 0, sizeof *s);
}

int selectors_copy(struct selectors *dst, const struct selectors *src)
{
	memset(dst, 0, sizeof *dst);
	dst->mgmt = src->mgmt;
	dst->exclude_kms = src->exclude_kms;
	dst->exclude_rdsdata = src->exclude_rdsdata;
	if (src->n_res == 0)
		return 0;
	dst->res = calloc(src->n_res, sizeof *dst->res);
	if (!dst->res)
		return -ENOMEM;
	for (size_t i = 0; i < src->n_res; i++) {
		struct data_resource *d = &dst->res[i];
		d->type = strdup(src->res[i].type);
		d->value = strdup(src->res[i].value);
		d->rw = src->res[i].rw;
		/* Count the entry even when half-made, so that release frees it. */
		dst->n_res = i + 1;
		if (!d->type || !d->value) {
			selectors_release(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

int selectors_add_resource(struct selectors *s, const char *type, const char *value, enum rw_type rw)
{
	rw &= RW_ALL;
	for (size_t i = 0; i < s->n_res; i++) {
		if (!strcmp(s->res[i].type, type) && !strcmp(s->res[i].value, value)) {
			s->res[i].rw |= rw;
			return 0;
		}
	}
	/* A resource with no read/write type selects nothing: not worth keeping,
	 * and AWS's selectors have no way to say it. */
	if (rw == RW_NONE)
		return 0;
	char *t = strdup(type);
	char *v = strdup(value);
	struct data_resource *res = t && v ? realloc(s->res, (s->n_res + 1) * sizeof *res) : NULL;
	if (!res) {
		free(t);
		free(v);
		return -ENOMEM;
	}
	s->res = res;
	s->res[s->n_res++] = (struct data_resource){ .type = t, .value = v, .rw = rw };
	return 0;
}

bool selectors_are_default(const struct selectors *s)
{
	return s->mgmt == RW_ALL && !s->exclude_kms && !s->exclude_rdsdata && s->n_res == 0;
}

static json *exclusions_to_json(const struct selectors *s)
{
	json *a = json_new_array();
	if (!a)
		return NULL;
	int bad = 0;
	if (s->exclude_kms)
		bad |= json_append(a, json_new_string(SRC_KMS));
	if (s->exclude_rdsdata)
		bad |= json_append(a, json_new_string(SRC_RDSDATA));
	if (bad) {
		json_free(a);
		return NULL;
	}
	return a;
}

/* DataResources of the selector for read/write type rw: one {Type, Values}
 * entry per resource type, in the order the types were first seen. */
static json *resources_to_json(const struct selectors *s, enum rw_type rw)
{
	json *arr = json_new_array();
	if (!arr)
		return NULL;
	for (size_t i = 0; i < s->n_res; i++) {
		if (s->res[i].rw != rw)
			continue;
		json *entry = NULL;
		for (json *e = json_first(arr); e; e = json_next(e)) {
			if (!strcmp(json_string(json_get(e, "Type")), s->res[i].type)) {
				entry = e;
				break;
			}
		}
		if (!entry) {
			entry = json_new_object();
			if (json_append(arr, entry) < 0 ||
			    json_add_string(entry, "Type", s->res[i].type) < 0 ||
			    json_add(entry, "Values", json_new_array()) < 0)
				goto fail;
		}
		if (json_append(json_get(entry, "Values"), json_new_string(s->res[i].value)) < 0)
			goto fail;
	}
	return arr;
fail:
	json_free(arr);
	return NULL;
}

json *selectors_to_json(const struct selectors *s)
{
	static const enum rw_type order[] = { RW_ALL, RW_READ, RW_WRITE };
	bool used[3] = { false, false, false };
	bool any = false;
	for (size_t k = 0; k < 3; k++) {
		used[k] = s->mgmt == order[k];
		for (size_t i = 0; i < s->n_res && !used[k]; i++)
			used[k] = s->res[i].rw == order[k];
		any |= used[k];
	}
	/* AWS keeps at least one selector: with nothing selected it is an "All"
	 * selector that includes no management events and no data resources. */
	if (!any)
		used[0] = true;

	json *arr = json_new_array();
	if (!arr)
		return NULL;
	for (size_t k = 0; k < 3; k++) {
		if (!used[k])
			continue;
		json *sel = json_new_object();
		if (json_append(arr, sel) < 0)
			goto fail;
		int bad = 0;
		bad |= json_add_string(sel, "ReadWriteType", rw_type_name(order[k]));
		bad |= json_add_bool(sel, "IncludeManagementEvents", s->mgmt == order[k]);
		bad |= json_add(sel, "DataResources", resources_to_json(s, order[k]));
		bad |= json_add(sel, "ExcludeManagementEventSources", exclusions_to_json(s));
		if (bad)
			goto fail;
	}
	return arr;
fail:
	json_free(arr);
	return NULL;
}

static bool resource_type_known(const char *type)
{
	return !strcmp(type, TYPE_S3) || !strcmp(type, TYPE_LAMBDA) || !strcmp(type, TYPE_DYNAMO);
}

/* One DataResources entry of selector si: check it and merge its values into
 * out with read/write type rw.  *counted is the running number of values
 * that count toward the 250-resource limit. */
static int resource_from_json(const json *dr, size_t si, size_t di, enum rw_type rw,
			      struct selectors *out, size_t *counted, struct ct_err *err)
{
	if (!json_is_object(dr))
		return ct_fail(err, SEL_ERR, "EventSelectors[%zu].DataResources[%zu] must be an object "
			       "with Type and Values", si, di);
	const json *type = NULL, *values = NULL;
	for (const json *m = json_first(dr); m; m = json_next(m)) {
		const char *k = json_key(m);
		const json **slot = !strcmp(k, "Type") ? &type : !strcmp(k, "Values") ? &values : NULL;
		if (!slot)
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu].DataResources[%zu]: unknown member "
				       "\"%s\" (allowed: Type, Values)", si, di, k);
		if (*slot)
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu].DataResources[%zu]: member %s "
				       "given twice", si, di, k);
		*slot = m;
	}
	if (!json_is_string(type))
		return ct_fail(err, SEL_ERR, "EventSelectors[%zu].DataResources[%zu].Type is required and "
			       "must be a string", si, di);
	const char *t = json_string(type);
	if (!resource_type_known(t))
		return ct_fail(err, SEL_ERR, "EventSelectors[%zu].DataResources[%zu].Type \"%.100s\" is not "
			       "a basic selector resource type (use " TYPE_S3 ", " TYPE_LAMBDA " or "
			       TYPE_DYNAMO ")", si, di, t);
	/* A type without values would select nothing and vanish from the trail;
	 * refusing it says so instead of dropping it silently. */
	if (!json_is_array(values) || json_size(values) == 0)
		return ct_fail(err, SEL_ERR, "EventSelectors[%zu].DataResources[%zu].Values must be a "
			       "non-empty list of resource ARNs", si, di);
	size_t vi = 0;
	for (const json *v = json_first(values); v; v = json_next(v), vi++) {
		const char *s = json_string(v);
		if (!s)
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu].DataResources[%zu].Values[%zu] "
				       "must be a string", si, di, vi);
		struct ct_err sub;
		ct_err_clear(&sub);
		if (validate_data_resource(t, s, &sub) < 0)
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu].DataResources[%zu].Values[%zu]: %s",
				       si, di, vi, sub.message[0] ? sub.message : "invalid resource value");
		if (!data_resource_is_all(s) && ++*counted > CT_DATA_RESOURCES_MAX)
			return ct_fail(err, SEL_ERR, "EventSelectors: more than %d data resources in total "
				       "(values such as arn:aws:s3 that select all resources do not count)",
				       CT_DATA_RESOURCES_MAX);
		if (selectors_add_resource(out, t, s, rw) < 0)
			return ct_fail_errno(err, ENOMEM, "event selectors");
	}
	return 0;
}

static int exclusions_from_json(const json *a, size_t si, bool *kms, bool *rdsdata, struct ct_err *err)
{
	*kms = *rdsdata = false;
	if (!json_is_array(a))
		return ct_fail(err, SEL_ERR, "EventSelectors[%zu].ExcludeManagementEventSources must be "
			       "a list", si);
	size_t i = 0;
	for (const json *e = json_first(a); e; e = json_next(e), i++) {
		const char *s = json_string(e);
		if (s && !strcmp(s, SRC_KMS))
			*kms = true;
		else if (s && !strcmp(s, SRC_RDSDATA))
			*rdsdata = true;
		else
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu].ExcludeManagementEventSources[%zu]: "
				       "only \"" SRC_KMS "\" and \"" SRC_RDSDATA "\" can be excluded", si, i);
	}
	return 0;
}

static const char *const selector_members[] = {
	"ReadWriteType", "IncludeManagementEvents", "DataResources", "ExcludeManagementEventSources",
};

/* Fold one selector into out. *seen_mgmt says whether an earlier selector
 * included management events (and so fixed the exclusion set). */
static int selector_from_json(const json *sel, size_t si, struct selectors *out, bool *seen_mgmt,
			      size_t *counted, struct ct_err *err)
{
	if (!json_is_object(sel))
		return ct_fail(err, SEL_ERR, "EventSelectors[%zu] must be an object", si);
	const json *member[4] = { NULL, NULL, NULL, NULL };
	for (const json *m = json_first(sel); m; m = json_next(m)) {
		const char *k = json_key(m);
		size_t i = 0;
		while (i < 4 && strcmp(k, selector_members[i]))
			i++;
		if (i == 4)
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu]: unknown member \"%.100s\" (allowed: "
				       "ReadWriteType, IncludeManagementEvents, DataResources, "
				       "ExcludeManagementEventSources)", si, k);
		if (member[i])
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu]: member %s given twice", si, k);
		member[i] = m;
	}
	const json *rwj = member[0], *incj = member[1], *drj = member[2], *exj = member[3];

	enum rw_type rw = RW_ALL;
	if (rwj && rw_type_parse(json_string(rwj), false, &rw) < 0)
		return ct_fail(err, SEL_ERR, "EventSelectors[%zu].ReadWriteType must be one of ReadOnly, "
			       "WriteOnly, All", si);
	bool include = true;
	if (incj) {
		if (!json_is_bool(incj))
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu].IncludeManagementEvents must be "
				       "true or false", si);
		include = json_bool(incj);
	}
	bool kms = false, rdsdata = false;
	if (exj) {
		int r = exclusions_from_json(exj, si, &kms, &rdsdata, err);
		if (r < 0)
			return r;
	}
	if (drj) {
		if (!json_is_array(drj))
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu].DataResources must be a list", si);
		size_t di = 0;
		for (const json *dr = json_first(drj); dr; dr = json_next(dr), di++) {
			int r = resource_from_json(dr, si, di, rw, out, counted, err);
			if (r < 0)
				return r;
		}
	}
	/* Exclusions only mean something on a selector that includes management
	 * events; those selectors must agree, because a trail keeps one set. */
	if (include) {
		if (*seen_mgmt && (kms != out->exclude_kms || rdsdata != out->exclude_rdsdata))
			return ct_fail(err, SEL_ERR, "EventSelectors[%zu].ExcludeManagementEventSources "
				       "differs from an earlier selector that includes management events; "
				       "trailfs keeps one exclusion list per trail, so every selector with "
				       "IncludeManagementEvents must exclude the same sources", si);
		*seen_mgmt = true;
		out->exclude_kms = kms;
		out->exclude_rdsdata = rdsdata;
		out->mgmt |= rw;
	}
	return 0;
}

int selectors_from_json(const json *arr, struct selectors *out, struct ct_err *err)
{
	/* Build in a local copy, so out is only touched by success (and left
	 * empty on failure). */
	struct selectors s;
	memset(&s, 0, sizeof s);
	memset(out, 0, sizeof *out);
	if (!json_is_array(arr) || json_size(arr) < 1 || json_size(arr) > CT_SELECTORS_MAX)
		return ct_fail(err, SEL_ERR, "EventSelectors must be a list of 1 to %d selectors",
			       CT_SELECTORS_MAX);
	bool seen_mgmt = false;
	size_t counted = 0, si = 0;
	for (const json *sel = json_first(arr); sel; sel = json_next(sel), si++) {
		int r = selector_from_json(sel, si, &s, &seen_mgmt, &counted, err);
		if (r < 0) {
			selectors_release(&s);
			return r;
		}
	}
	*out = s;
	return 0;
}

/* ---- tags ---------------------------------------------------------------- */

int trail_set_tag(struct trail *t, const char *key, const char *value)
{
	char *v = strdup(value);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_tags; i++) {
		if (!strcmp(t->tags[i].key, key)) {
			free(t->tags[i].value);
			t->tags[i].value = v;
			return 0;
		}
	}
	char *k = strdup(key);
	struct tag *tags = k ? realloc(t->tags, (t->n_tags + 1) * sizeof *tags) : NULL;
	if (!tags) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	t->tags = tags;
	t->tags[t->n_tags++] = (struct tag){ .key = k, .value = v };
	return 0;
}

bool trail_remove_tag(struct trail *t, const char *key)
{
	for (size_t i = 0; i < t->n_tags; i++) {
		if (!strcmp(t->tags[i].key, key)) {
			free(t->tags[i].key);
			free(t->tags[i].value);
			/* Keep the others in their order: TagsList shows stored order. */
			memmove(&t->tags[i], &t->tags[i + 1], (t->n_tags - i - 1) * sizeof *t->tags);
			t->n_tags--;
			return true;
		}
	}
	return false;
}

void trail_clear_tags(struct trail *t)
{
	for (size_t i = 0; i < t->n_tags; i++) {
		free(t->tags[i].key);
		free(t->tags[i].value);
	}
	free(t->tags);
	t->tags = NULL;
	t->n_tags = 0;
}

/* ---- the trail ----------------------------------------------------------- */

void trail_init(struct trail *t)
{
	memset(t, 0, sizeof *t);
	/* A trail nobody has put selectors on logs all management events. */
	t->sel.mgmt = RW_ALL;
}

void trail_release(struct trail *t)
{
	selectors_release(&t->sel);
	trail_clear_tags(t);
	trail_init(t);
}

int trail_copy(struct trail *dst, const struct trail *src)
{
	*dst = *src;
	dst->tags = NULL;
	dst->n_tags = 0;
	if (selectors_copy(&dst->sel, &src->sel) < 0) {
		trail_init(dst);
		return -ENOMEM;
	}
	for (size_t i = 0; i < src->n_tags; i++) {
		if (trail_set_tag(dst, src->tags[i].key, src->tags[i].value) < 0) {
			trail_release(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

void trail_arn(const struct trail *t, char *out, size_t size)
{
	snprintf(out, size, "arn:aws:cloudtrail:%s:%s:trail/%s", t->home_region, t->account, t->name);
}

static const char *sns_topic_name(const char *arn)
{
	const char *colon = strrchr(arn, ':');
	return colon ? colon + 1 : arn;
}

json *trail_to_config_json(const struct trail *t)
{
	char arn[CT_ARN_MAX + 1];
	trail_arn(t, arn, sizeof arn);
	json *j = json_new_object();
	if (!j)
		return NULL;
	int bad = 0;
	bad |= json_add_string(j, "Name", t->name);
	bad |= json_add_string(j, "S3BucketName", t->bucket);
	if (t->prefix[0])
		bad |= json_add_string(j, "S3KeyPrefix", t->prefix);
	if (t->sns_topic_arn[0]) {
		bad |= json_add_string(j, "SnsTopicName", sns_topic_name(t->sns_topic_arn));
		bad |= json_add_string(j, "SnsTopicARN", t->sns_topic_arn);
	}
	bad |= json_add_bool(j, "IncludeGlobalServiceEvents", t->global_events);
	bad |= json_add_bool(j, "IsMultiRegionTrail", t->multi_region);
	bad |= json_add_string(j, "HomeRegion", t->home_region);
	bad |= json_add_string(j, "TrailARN", arn);
	bad |= json_add_bool(j, "LogFileValidationEnabled", t->validation);
	if (t->log_group_arn[0])
		bad |= json_add_string(j, "CloudWatchLogsLogGroupArn", t->log_group_arn);
	if (t->log_role_arn[0])
		bad |= json_add_string(j, "CloudWatchLogsRoleArn", t->log_role_arn);
	if (t->kms_key_arn[0])
		bad |= json_add_string(j, "KmsKeyId", t->kms_key_arn);
	bad |= json_add_bool(j, "HasCustomEventSelectors", !selectors_are_default(&t->sel));
	bad |= json_add_bool(j, "HasInsightSelectors", false);
	bad |= json_add_bool(j, "IsOrganizationTrail", false);
	bad |= json_add_bool(j, "IsLogging", t->logging);
	bad |= json_add(j, "EventSelectors", selectors_to_json(&t->sel));
	json *tags = json_new_array();
	bad |= json_add(j, "TagsList", tags);
	for (size_t i = 0; !bad && i < t->n_tags; i++) {
		json *tag = json_new_object();
		bad |= json_append(tags, tag);
		if (!bad) {
			bad |= json_add_string(tag, "Key", t->tags[i].key);
			bad |= json_add_string(tag, "Value", t->tags[i].value);
		}
	}
	if (bad) {
		json_free(j);
		return NULL;
	}
	return j;
}

/* ---- the registry's state record ------------------------------------------ */

/* The string members of struct trail, with their state names and sizes. */
struct state_string {
	const char *name;
	size_t offset;
	size_t size;
	bool required;
};

#define STATE_STRING(n, field, req) { n, offsetof(struct trail, field), sizeof ((struct trail *)0)->field, req }

static const struct state_string state_strings[] = {
	STATE_STRING("name", name, true),
	STATE_STRING("homeRegion", home_region, true),
	STATE_STRING("account", account, true),
	STATE_STRING("bucket", bucket, true),
	STATE_STRING("prefix", prefix, false),
	STATE_STRING("kmsKeyArn", kms_key_arn, false),
	STATE_STRING("snsTopicArn", sns_topic_arn, false),
	STATE_STRING("logGroupArn", log_group_arn, false),
	STATE_STRING("logRoleArn", log_role_arn, false),
};

struct state_field {
	const char *name;
	size_t offset;
};

static const struct state_field state_bools[] = {
	{ "multiRegion", offsetof(struct trail, multi_region) },
	{ "globalEvents", offsetof(struct trail, global_events) },
	{ "validation", offsetof(struct trail, validation) },
	{ "logging", offsetof(struct trail, logging) },
};

static const struct state_field state_times[] = {
	{ "startLoggingTime", offsetof(struct trail, start_logging_time) },
	{ "stopLoggingTime", offsetof(struct trail, stop_logging_time) },
	{ "createdTime", offsetof(struct trail, created_time) },
};

#define N_ELEMS(a) (sizeof (a) / sizeof (a)[0])

static json *selectors_to_state(const struct selectors *s)
{
	json *j = json_new_object();
	if (!j)
		return NULL;
	int bad = 0;
	bad |= json_add_string(j, "mgmt", rw_type_name(s->mgmt));
	bad |= json_add_bool(j, "excludeKms", s->exclude_kms);
	bad |= json_add_bool(j, "excludeRdsData", s->exclude_rdsdata);
	json *res = json_new_array();
	bad |= json_add(j, "resources", res);
	for (size_t i = 0; !bad && i < s->n_res; i++) {
		json *r = json_new_object();
		bad |= json_append(res, r);
		if (!bad) {
			bad |= json_add_string(r, "type", s->res[i].type);
			bad |= json_add_string(r, "value", s->res[i].value);
			bad |= json_add_string(r, "rw", rw_type_name(s->res[i].rw));
		}
	}
	if (bad) {
		json_free(j);
		return NULL;
	}
	return j;
}

json *trail_to_state_json(const struct trail *t)
{
	json *j = json_new_object();
	if (!j)
		return NULL;
	int bad = 0;
	for (size_t i = 0; i < N_ELEMS(state_strings); i++)
		bad |= json_add_string(j, state_strings[i].name, (const char *)t + state_strings[i].offset);
	for (size_t i = 0; i < N_ELEMS(state_bools); i++)
		bad |= json_add_bool(j, state_bools[i].name,
				     *(const bool *)((const char *)t + state_bools[i].offset));
	for (size_t i = 0; i < N_ELEMS(state_times); i++)
		bad |= json_add_number(j, state_times[i].name,
				       (double)*(const int64_t *)((const char *)t + state_times[i].offset));
	bad |= json_add(j, "selectors", selectors_to_state(&t->sel));
	json *tags = json_new_array();
	bad |= json_add(j, "tags", tags);
	for (size_t i = 0; !bad && i < t->n_tags; i++) {
		json *tag = json_new_object();
		bad |= json_append(tags, tag);
		if (!bad) {
			bad |= json_add_string(tag, "key", t->tags[i].key);
			bad |= json_add_string(tag, "value", t->tags[i].value);
		}
	}
	if (bad) {
		json_free(j);
		return NULL;
	}
	return j;
}

/* A string member of a state object: NULL with err filled when it is not a
 * string or is longer than max bytes. */
static const char *state_string(const json *obj, const char *ctx, const char *name, size_t max,
				struct ct_err *err, int *r)
{
	const json *m = json_get(obj, name);
	const char *s = json_string(m);
	if (!s) {
		*r = ct_fail(err, STATE_ERR, "%s%s %s", ctx, name, m ? "must be a string" : "is missing");
		return NULL;
	}
	if (strlen(s) > max) {
		*r = ct_fail(err, STATE_ERR, "%s%s is longer than %zu bytes", ctx, name, max);
		return NULL;
	}
	return s;
}

static int resources_from_state(const json *arr, struct selectors *s, struct ct_err *err)
{
	if (!json_is_array(arr))
		return ct_fail(err, STATE_ERR, "selectors.resources must be a list");
	if (json_size(arr) > RESOURCES_STORED_MAX)
		return ct_fail(err, STATE_ERR, "selectors.resources has more than %d entries",
			       RESOURCES_STORED_MAX);
	size_t i = 0, counted = 0;
	for (const json *e = json_first(arr); e; e = json_next(e), i++) {
		char ctx[48];
		snprintf(ctx, sizeof ctx, "selectors.resources[%zu].", i);
		if (!json_is_object(e))
			return ct_fail(err, STATE_ERR, "selectors.resources[%zu] must be an object", i);
		int r = 0;
		const char *type = state_string(e, ctx, "type", 64, err, &r);
		const char *value = type ? state_string(e, ctx, "value", CT_DATA_VALUE_MAX, err, &r) : NULL;
		const char *rw_s = value ? state_string(e, ctx, "rw", 16, err, &r) : NULL;
		if (!rw_s)
			return r;
		enum rw_type rw;
		if (rw_type_parse(rw_s, false, &rw) < 0)
			return ct_fail(err, STATE_ERR, "%srw must be All, ReadOnly or WriteOnly", ctx);
		if (!resource_type_known(type))
			return ct_fail(err, STATE_ERR, "%stype \"%s\" is not a basic selector resource type",
				       ctx, type);
		struct ct_err sub;
		ct_err_clear(&sub);
		if (validate_data_resource(type, value, &sub) < 0)
			return ct_fail(err, STATE_ERR, "%svalue: %s", ctx, sub.message);
		if (!data_resource_is_all(value) && ++counted > CT_DATA_RESOURCES_MAX)
			return ct_fail(err, STATE_ERR, "selectors.resources has more than %d resources",
				       CT_DATA_RESOURCES_MAX);
		if (selectors_add_resource(s, type, value, rw) < 0)
			return ct_fail_errno(err, ENOMEM, "trail state");
	}
	return 0;
}

static int selectors_from_state(const json *j, struct selectors *s, struct ct_err *err)
{
	if (!json_is_object(j))
		return ct_fail(err, STATE_ERR, "selectors must be an object");
	int r = 0;
	const char *mgmt = state_string(j, "selectors.", "mgmt", 16, err, &r);
	if (!mgmt)
		return r;
	if (rw_type_parse(mgmt, true, &s->mgmt) < 0)
		return ct_fail(err, STATE_ERR, "selectors.mgmt must be All, ReadOnly, WriteOnly or None");
	const json *kms = json_get(j, "excludeKms");
	const json *rds = json_get(j, "excludeRdsData");
	if (kms && !json_is_bool(kms))
		return ct_fail(err, STATE_ERR, "selectors.excludeKms must be true or false");
	if (rds && !json_is_bool(rds))
		return ct_fail(err, STATE_ERR, "selectors.excludeRdsData must be true or false");
	s->exclude_kms = json_bool(kms);
	s->exclude_rdsdata = json_bool(rds);
	const json *res = json_get(j, "resources");
	return res ? resources_from_state(res, s, err) : 0;
}

static int tags_from_state(const json *arr, struct trail *t, struct ct_err *err)
{
	if (!json_is_array(arr))
		return ct_fail(err, STATE_ERR, "tags must be a list");
	if (json_size(arr) > CT_TAGS_MAX)
		return ct_fail(err, STATE_ERR, "tags has more than %d entries", CT_TAGS_MAX);
	size_t i = 0;
	for (const json *e = json_first(arr); e; e = json_next(e), i++) {
		char ctx[32];
		snprintf(ctx, sizeof ctx, "tags[%zu].", i);
		if (!json_is_object(e))
			return ct_fail(err, STATE_ERR, "tags[%zu] must be an object", i);
		int r = 0;
		/* Tag limits count characters; a UTF-8 character is at most 4 bytes. */
		const char *key = state_string(e, ctx, "key", 4 * CT_TAG_KEY_MAX, err, &r);
		const char *value = key ? state_string(e, ctx, "value", 4 * CT_TAG_VALUE_MAX, err, &r) : NULL;
		if (!value)
			return r;
		if (!key[0])
			return ct_fail(err, STATE_ERR, "tags[%zu].key is empty", i);
		for (size_t k = 0; k < t->n_tags; k++)
			if (!strcmp(t->tags[k].key, key))
				return ct_fail(err, STATE_ERR, "tags[%zu].key \"%.128s\" appears twice", i, key);
		if (trail_set_tag(t, key, value) < 0)
			return ct_fail_errno(err, ENOMEM, "trail state");
	}
	return 0;
}

int trail_from_state_json(const json *j, struct trail *t, struct ct_err *err)
{
	trail_release(t);
	if (!json_is_object(j))
		return ct_fail(err, STATE_ERR, "a trail's state must be a JSON object");
	int r = 0;
	for (size_t i = 0; i < N_ELEMS(state_strings); i++) {
		const struct state_string *f = &state_strings[i];
		if (!json_get(j, f->name) && !f->required)
			continue;
		const char *s = state_string(j, "", f->name, f->size - 1, err, &r);
		if (!s)
			return r;
		if (f->required && !s[0])
			return ct_fail(err, STATE_ERR, "%s is empty", f->name);
		memcpy((char *)t + f->offset, s, strlen(s) + 1);
	}
	for (size_t i = 0; i < N_ELEMS(state_bools); i++) {
		const json *m = json_get(j, state_bools[i].name);
		if (!m)
			continue;
		if (!json_is_bool(m))
			return ct_fail(err, STATE_ERR, "%s must be true or false", state_bools[i].name);
		*(bool *)((char *)t + state_bools[i].offset) = json_bool(m);
	}
	for (size_t i = 0; i < N_ELEMS(state_times); i++) {
		const json *m = json_get(j, state_times[i].name);
		if (!m)
			continue;
		double v = json_number(m);
		/* The range test also rejects NaN; the cast is then defined, and
		 * comparing back rejects fractions. */
		if (!json_is_number(m) || !(v >= 0 && v <= STATE_TIME_MAX) || (double)(int64_t)v != v)
			return ct_fail(err, STATE_ERR, "%s must be whole epoch seconds from 0 to %.0f",
				       state_times[i].name, STATE_TIME_MAX);
		*(int64_t *)((char *)t + state_times[i].offset) = (int64_t)v;
	}
	const json *sel = json_get(j, "selectors");
	if (sel && (r = selectors_from_state(sel, &t->sel, err)) < 0)
		return r;
	const json *tags = json_get(j, "tags");
	if (tags && (r = tags_from_state(tags, t, err)) < 0)
		return r;
	return 0;
}
