/* Unit tests for backend/registry.c: the trail registry on disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "registry.h"
#include "tap.h"
#include "testdir.h"

static char root[64];
static char path[128];

static void put(const char *text)
{
	write_file_durable(path, text, strlen(text), 0600);
}

static int load(struct ct_err *err)
{
	char account[CT_ACCOUNT_LEN + 1];
	struct trail *trails = NULL;
	size_t n = 0;
	int r = registry_load(path, account, &trails, &n, err);
	for (size_t i = 0; i < n; i++)
		trail_release(&trails[i]);
	free(trails);
	return r;
}

static const struct {
	const char *text;
	const char *says;   /* NULL: loads */
} files[] = {
	{ "{\"format\":1,\"account\":\"123456789012\",\"trails\":[]}", NULL },
	{ "", "not valid JSON" },
	{ "{\"format\":1,\"account\":\"12345678901", "not valid JSON" },
	{ "[]", "no \"format\"" },
	{ "{\"format\":2,\"account\":\"123456789012\",\"trails\":[]}", "newer" },
	{ "{\"format\":0,\"account\":\"123456789012\",\"trails\":[]}", "unknown format" },
	{ "{\"format\":1,\"account\":\"12345\",\"trails\":[]}", "12 digits" },
	{ "{\"format\":1,\"account\":\"123456789012\",\"trails\":{}}", "not an array" },
	{ "{\"format\":1,\"account\":\"123456789012\",\"trails\":[{\"name\":\"a/../b\",\"homeRegion\":"
	  "\"us-east-1\",\"account\":\"123456789012\",\"bucket\":\"bkt\"}]}", "trail 0" },
	{ "{\"format\":1,\"account\":\"123456789012\",\"trails\":[{\"name\":\"main\",\"homeRegion\":"
	  "\"us-east-1\",\"account\":\"123456789012\",\"bucket\":\"bkt\"},{\"name\":\"main\","
	  "\"homeRegion\":\"us-east-1\",\"account\":\"123456789012\",\"bucket\":\"bkt\"}]}", "twice" },
};

int main(void)
{
	testdir_make(root, sizeof root);
	snprintf(path, sizeof path, "%s/registry.json", root);
	struct ct_err err;
	ok(load(&err) == -ENOENT, "a missing registry: ENOENT (a new state directory)");

	struct trail t[2];
	trail_init(&t[0]);
	trail_init(&t[1]);
	snprintf(t[0].name, sizeof t[0].name, "main");
	snprintf(t[1].name, sizeof t[1].name, "audit.2026");
	for (int i = 0; i < 2; i++) {
		snprintf(t[i].home_region, sizeof t[i].home_region, "us-east-1");
		snprintf(t[i].account, sizeof t[i].account, "123456789012");
		snprintf(t[i].bucket, sizeof t[i].bucket, "bucket-%d", i);
	}
	t[1].logging = true;
	t[1].start_logging_time = 1767225600;
	trail_set_tag(&t[1], "team", "security");
	selectors_add_resource(&t[1].sel, "AWS::S3::Object", "arn:aws:s3:::finance/", RW_READ);
	ok(registry_save(path, "123456789012", t, 2, &err) == 0, "save two trails");

	char account[CT_ACCOUNT_LEN + 1];
	struct trail *got = NULL;
	size_t n = 0;
	ok(registry_load(path, account, &got, &n, &err) == 0 && n == 2 &&
	   !strcmp(account, "123456789012"), "load them back");
	for (size_t i = 0; i < n && i < 2; i++) {
		json *a = trail_to_state_json(&t[i]), *b = trail_to_state_json(&got[i]);
		char *ta = json_print(a, false), *tb = json_print(b, false);
		ok(ta && tb && !strcmp(ta, tb), "trail %zu round-trips exactly", i);
		free(ta);
		free(tb);
		json_free(a);
		json_free(b);
		trail_release(&got[i]);
	}
	free(got);
	trail_release(&t[0]);
	trail_release(&t[1]);

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		put(files[i].text);
		ct_err_clear(&err);
		int r = load(&err);
		if (!files[i].says)
			ok(r == 0, "loads: %s", files[i].text);
		else
			ok(r < 0 && !strcmp(err.name, "InvalidStateFile") && strstr(err.message, path) &&
			   strstr(err.message, files[i].says),
			   "refused with the path and \"%s\": %s", files[i].says, err.message);
	}
	testdir_remove(root);
	return tap_done();
}
