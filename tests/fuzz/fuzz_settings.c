/* Fuzz harness for the settings parsers (backend/settings.c,
 * backend/settings_keys.c): every trail setting, a bucket's policy.json and
 * a key's state and policy.json, through both the in-write check and the
 * apply at close, on one engine in a private temporary directory.  The
 * first byte picks the file; the rest is what was written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "ct_kms.h"
#include "settings.h"

static struct ct *engine(void)
{
	static struct ct *ct;
	if (ct)
		return ct;
	char dir[] = "/tmp/trailfs-fuzz.XXXXXX";
	if (!mkdtemp(dir))
		abort();
	char state[64];
	snprintf(state, sizeof state, "%s/state", dir);
	struct ct_options o = { .state_dir = state };
	struct ct_err err;
	ct = ct_open(&o, &err);
	if (!ct || ct_create_trail(ct, NULL, "fuzz", &err) < 0 ||
	    ct_create_bucket(ct, NULL, "fuzz-bucket", &err) < 0 ||
	    ct_kms_create(ct, NULL, "fuzz", &err) < 0)
		abort();
	return ct;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct ct *ct = engine();
	const char *const *files = settings_trail_files();
	size_t n = 0;
	while (files[n])
		n++;
	size_t pick = data[0] % (n + 3);
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	struct ct_err err;
	struct buf out;
	buf_init(&out, 1 << 22);
	if (pick > n) {
		/* A key's writable files; the key must stay readable. */
		const char *file = pick == n + 1 ? "state" : SETTINGS_KEY_POLICY;
		settings_key_check(ct, NULL, "fuzz", file, text, len, &err);
		settings_key_apply(ct, NULL, "fuzz", file, text, len, &err);
		if (settings_key_read(ct, NULL, "fuzz", file, &out, &err) < 0)
			abort();
	} else if (pick == n) {
		settings_bucket_check(ct, NULL, "fuzz-bucket", text, len, &err);
		settings_bucket_apply(ct, NULL, "fuzz-bucket", text, len, &err);
		settings_bucket_read(ct, NULL, "fuzz-bucket", &out, &err);
	} else {
		settings_check(ct, NULL, "fuzz", files[pick], text, len, &err);
		settings_apply(ct, NULL, "fuzz", files[pick], text, len, &err);
		/* Whatever was accepted must read back and be accepted again. */
		if (settings_read(ct, NULL, "fuzz", files[pick], &out, &err) == 0 &&
		    settings_trail_file(files[pick]) == SETTING_RW &&
		    settings_apply(ct, NULL, "fuzz", files[pick], out.data ? out.data : "", out.len,
				   &err) < 0 &&
		    strcmp(files[pick], "s3_key_prefix") && strcmp(files[pick], "s3_bucket"))
			abort();
	}
	buf_release(&out);
	return 0;
}
