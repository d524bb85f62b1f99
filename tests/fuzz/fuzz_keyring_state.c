/* Fuzz harness for the key ring's state parser (backend/keyring.c): the
 * input is written as DIR/keyring.json beside one key's files (material and
 * policy for KEY_ID), and the ring is opened.
 *
 * An index the parser accepts must give a ring whose keys all have
 * well-formed ids and states, whose aliases all point at listed keys, and
 * which works: GenerateDataKey/Decrypt round-trip on an Enabled key, the
 * expiry pass runs, and closing and reopening gives the same listing. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "keyring.h"

#define KEY_ID "11111111-2222-4333-8444-555555555555"
#define POLICY "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}}"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

/* The replay runs the corpus in one process: remove the state directory at exit. */
static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void put(const char *name, const void *p, size_t n)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (write_file_durable(path, p, n, 0600) < 0)
		abort();
}

static bool same_listing(struct keyring *a, struct keyring *b)
{
	struct keyring_key_info *ka, *kb;
	struct keyring_alias *aa, *ab;
	size_t nka, nkb, naa, nab;
	if (keyring_list(a, &ka, &nka, &aa, &naa) < 0 || keyring_list(b, &kb, &nkb, &ab, &nab) < 0)
		abort();
	bool same = nka == nkb && naa == nab;
	for (size_t i = 0; same && i < nka; i++)
		same = !strcmp(ka[i].key_id, kb[i].key_id) && ka[i].state == kb[i].state &&
		       ka[i].creation_date == kb[i].creation_date && ka[i].deletion_date == kb[i].deletion_date;
	for (size_t i = 0; same && i < naa; i++)
		same = !strcmp(aa[i].name, ab[i].name) && !strcmp(aa[i].target, ab[i].target);
	free(ka);
	free(kb);
	free(aa);
	free(ab);
	return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/trailfs-fuzz-ring-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(remove_dir);
	}
	put("keyring.json", data, size);
	put(KEY_ID ".key", "0123456789abcdef0123456789abcdef", 32);
	put(KEY_ID ".policy.json", POLICY, strlen(POLICY));
	struct ct_err err;
	struct keyring *kr = keyring_open(dir, "123456789012", "us-east-1", &err);
	if (!kr) {
		if (strcmp(err.name, "InvalidStateFile") && strcmp(err.name, "InternalFailure"))
			abort();
		return 0;
	}
	struct keyring_key_info *keys;
	struct keyring_alias *aliases;
	size_t nk, na;
	if (keyring_list(kr, &keys, &nk, &aliases, &na) < 0)
		abort();
	for (size_t i = 0; i < nk; i++) {
		if (!crypto_uuid_ok(keys[i].key_id) || strcmp(keys[i].key_id, KEY_ID))
			abort();   /* only KEY_ID has material, so only it can load */
		struct crypto_context_pair ctx[] = {{"k", "v"}};
		uint8_t dk[32], back[32], blob[CRYPTO_WRAPPED_LEN];
		int r = keyring_generate_data_key(kr, keys[i].key_id, ctx, 1, dk, blob, NULL, &err);
		if ((r == 0) != (keys[i].state == KEYRING_ENABLED))
			abort();
		if (r == 0 && (keyring_decrypt(kr, blob, sizeof blob, ctx, 1, back, NULL, &err) < 0 ||
			       memcmp(dk, back, 32)))
			abort();
	}
	for (size_t i = 0; i < na; i++) {
		struct keyring_key_info info;
		if (keyring_describe(kr, aliases[i].name, &info, &err) < 0 ||
		    strcmp(info.key_id, aliases[i].target))
			abort();
	}
	free(keys);
	free(aliases);
	/* Reopening what was loaded gives the same ring (the index is not
	 * rewritten by opening, so this reads the fuzzed bytes again). */
	struct keyring *again = keyring_open(dir, "123456789012", "us-east-1", &err);
	if (!again || !same_listing(kr, again))
		abort();
	keyring_close(again);
	size_t destroyed;
	keyring_expire(kr, 253402300799LL, &destroyed, NULL, &err);
	keyring_close(kr);
	return 0;
}
