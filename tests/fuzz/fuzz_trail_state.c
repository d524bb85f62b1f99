/* Fuzz harness for the trail registry record and basic event selectors.
 *
 * Any input that trail_from_state_json accepts must survive
 * trail_to_state_json -> print -> parse -> trail_from_state_json unchanged;
 * any array that selectors_from_json accepts must fold back to the same
 * selectors after selectors_to_json.  A difference aborts, so the fuzzer
 * reports it as a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "trail.h"

static bool selectors_same(const struct selectors *a, const struct selectors *b, bool ordered)
{
	if (a->mgmt != b->mgmt || a->n_res != b->n_res)
		return false;
	/* Exclusions only survive AWS's shape on a selector that includes
	 * management events. */
	if (a->mgmt != RW_NONE &&
	    (a->exclude_kms != b->exclude_kms || a->exclude_rdsdata != b->exclude_rdsdata))
		return false;
	for (size_t i = 0; i < a->n_res; i++) {
		bool found = false;
		for (size_t k = ordered ? i : 0; k < (ordered ? i + 1 : b->n_res) && !found; k++)
			found = !strcmp(a->res[i].type, b->res[k].type) &&
				!strcmp(a->res[i].value, b->res[k].value) && a->res[i].rw == b->res[k].rw;
		if (!found)
			return false;
	}
	return true;
}

static bool trails_same(const struct trail *a, const struct trail *b)
{
	if (strcmp(a->name, b->name) || strcmp(a->home_region, b->home_region) ||
	    strcmp(a->account, b->account) || strcmp(a->bucket, b->bucket) ||
	    strcmp(a->prefix, b->prefix) || strcmp(a->kms_key_arn, b->kms_key_arn) ||
	    strcmp(a->sns_topic_arn, b->sns_topic_arn) || strcmp(a->log_group_arn, b->log_group_arn) ||
	    strcmp(a->log_role_arn, b->log_role_arn) ||
	    a->multi_region != b->multi_region || a->global_events != b->global_events ||
	    a->validation != b->validation || a->logging != b->logging ||
	    a->start_logging_time != b->start_logging_time ||
	    a->stop_logging_time != b->stop_logging_time || a->created_time != b->created_time)
		return false;
	/* The state record keeps exclusions even without management events. */
	if (a->sel.exclude_kms != b->sel.exclude_kms || a->sel.exclude_rdsdata != b->sel.exclude_rdsdata ||
	    !selectors_same(&a->sel, &b->sel, true) || a->n_tags != b->n_tags)
		return false;
	for (size_t i = 0; i < a->n_tags; i++)
		if (strcmp(a->tags[i].key, b->tags[i].key) || strcmp(a->tags[i].value, b->tags[i].value))
			return false;
	return true;
}

static void check_state(const json *j)
{
	struct trail t, u, c;
	trail_init(&t);
	trail_init(&u);
	struct ct_err err;
	if (trail_from_state_json(j, &t, &err) == 0) {
		json *out = trail_to_state_json(&t);
		char *text = out ? json_print(out, false) : NULL;
		json *back = text ? json_parse(text, strlen(text), NULL) : NULL;
		if (!back || trail_from_state_json(back, &u, &err) != 0 || !trails_same(&t, &u))
			abort();
		/* The other readers of a loaded trail must cope with it too. */
		json *config = trail_to_config_json(&t);
		if (!config)
			abort();
		if (trail_copy(&c, &t) != 0 || !trails_same(&t, &c))
			abort();
		trail_release(&c);
		json_free(config);
		json_free(back);
		free(text);
		json_free(out);
	}
	trail_release(&u);
	trail_release(&t);
}

static void check_selectors(const json *arr)
{
	struct selectors s, s2;
	struct ct_err err;
	if (selectors_from_json(arr, &s, &err) != 0)
		return;
	json *out = selectors_to_json(&s);
	if (!out || selectors_from_json(out, &s2, &err) != 0 || !selectors_same(&s, &s2, false))
		abort();
	selectors_release(&s2);
	selectors_release(&s);
	json_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json *j = json_parse((const char *)data, size, NULL);
	if (!j)
		return 0;
	check_state(j);
	if (json_is_array(j))
		check_selectors(j);
	/* A config.json document carries its selectors beside the trail. */
	const json *sel = json_get(j, "EventSelectors");
	if (sel)
		check_selectors(sel);
	json_free(j);
	return 0;
}
