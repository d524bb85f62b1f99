#include "registry.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "ct.h"
#include "fileio.h"
#include "json.h"
#include "validate.h"

#define REGISTRY_FILE_MAX (64u * 1024 * 1024)

int registry_load(const char *path, char account[CT_ACCOUNT_LEN + 1],
		  struct trail **trails, size_t *n, struct ct_err *err)
{
	struct buf text;
	buf_init(&text, REGISTRY_FILE_MAX);
	int r = read_file(path, &text);
	if (r == -ENOENT) {
		buf_release(&text);
		return r;
	}
	if (r < 0) {
		buf_release(&text);
		return ct_fail(err, "InvalidStateFile", "%s: cannot read: %s", path, strerror(-r));
	}
	*trails = NULL;
	*n = 0;
	size_t off = 0;
	json *doc = json_parse(text.data ? text.data : "", text.len, &off);
	buf_release(&text);
	if (!doc)
		return ct_fail(err, "InvalidStateFile",
			       "%s: damaged: not valid JSON (at byte %zu); restore it from a backup, "
			       "or move it away to start with no trails", path, off);
	r = 0;
	json *format = json_get(doc, "format");
	json *acct = json_get(doc, "account");
	json *list = json_get(doc, "trails");
	if (!json_is_number(format)) {
		r = ct_fail_damaged(err, path, "no \"format\" number");
		goto out;
	}
	if (json_number(format) > CT_REGISTRY_FORMAT) {
		r = ct_fail(err, "InvalidStateFile",
			    "%s: format %g is newer than this trailfs understands (%d); "
			    "run a newer trailfs on this state directory", path,
			    json_number(format), CT_REGISTRY_FORMAT);
		goto out;
	}
	if (json_number(format) != CT_REGISTRY_FORMAT) {
		r = ct_fail_damaged(err, path, "unknown format %g",
			    json_number(format));
		goto out;
	}
	if (!json_string(acct) || !account_id_valid(json_string(acct))) {
		r = ct_fail_damaged(err, path, "\"account\" is not 12 digits");
		goto out;
	}
	if (!json_is_array(list)) {
		r = ct_fail_damaged(err, path, "\"trails\" is not an array");
		goto out;
	}
	snprintf(account, CT_ACCOUNT_LEN + 1, "%s", json_string(acct));
	size_t count = json_size(list);
	struct trail *arr = calloc(count ? count : 1, sizeof *arr);
	if (!arr) {
		r = -ENOMEM;
		goto out;
	}
	size_t i = 0;
	for (json *e = json_first(list); e; e = json_next(e), i++) {
		trail_init(&arr[i]);
		struct ct_err why;
		ct_err_clear(&why);
		int bad = trail_from_state_json(e, &arr[i], &why);
		/* The file comes from outside like any input: a name CreateTrail
		 * would refuse (a '/' or ".." would break the tree) or a name given
		 * twice (the second trail unreachable) is damage, not a trail. */
		if (bad == 0)
			bad = validate_trail_name(arr[i].name, 0, &why);
		if (bad == 0 && !region_name_valid(arr[i].home_region))
			bad = ct_fail(&why, "InvalidStateFile", "homeRegion \"%s\" is not a region name",
				      arr[i].home_region);
		for (size_t k = 0; bad == 0 && k < i; k++)
			if (!strcmp(arr[k].name, arr[i].name))
				bad = ct_fail(&why, "InvalidStateFile", "trail %s is listed twice",
					      arr[i].name);
		if (bad < 0) {
			r = ct_fail_damaged(err, path, "trail %zu: %s", i,
				    why.message);
			for (size_t k = 0; k <= i; k++)
				trail_release(&arr[k]);
			free(arr);
			goto out;
		}
	}
	*trails = arr;
	*n = count;
out:
	json_free(doc);
	return r;
}

int registry_save(const char *path, const char *account,
		  const struct trail *trails, size_t n, struct ct_err *err)
{
	json *doc = json_new_object();
	json *list = json_new_array();
	int r = (doc && list) ? 0 : -ENOMEM;
	if (r == 0)
		r = json_add_number(doc, "format", CT_REGISTRY_FORMAT);
	if (r == 0)
		r = json_add_string(doc, "account", account);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = json_append(list, trail_to_state_json(&trails[i]));
	if (r == 0) {
		r = json_add(doc, "trails", list);
		list = NULL;
	}
	char *text = r == 0 ? json_print(doc, true) : NULL;
	if (r == 0 && !text)
		r = -ENOMEM;
	if (r == 0)
		r = write_file_durable(path, text, strlen(text), 0600);
	free(text);
	json_free(list);
	json_free(doc);
	if (r < 0)
		return ct_fail_errno(err, r, path);
	return 0;
}
