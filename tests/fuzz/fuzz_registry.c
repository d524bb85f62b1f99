/* Fuzz harness for backend/registry.c: any bytes as STATE/registry.json
 * must load or be refused with InvalidStateFile naming the path, never
 * crash or leak; what loads must save and load again to the same trails. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "registry.h"

static const char *scratch_path(void)
{
	static char path[64];
	if (!path[0]) {
		char dir[] = "/tmp/trailfs-fuzz-registry.XXXXXX";
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof path, "%s/registry.json", dir);
	}
	return path;
}

static void free_trails(struct trail *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		trail_release(&t[i]);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = scratch_path();
	if (write_file_durable(path, data, size, 0600) < 0)
		abort();
	char account[CT_ACCOUNT_LEN + 1];
	struct trail *trails = NULL;
	size_t n = 0;
	struct ct_err err;
	ct_err_clear(&err);
	int r = registry_load(path, account, &trails, &n, &err);
	if (r < 0) {
		if (strcmp(err.name, "InvalidStateFile") || !strstr(err.message, path))
			abort();
		return 0;
	}
	if (registry_save(path, account, trails, n, &err) < 0)
		abort();
	struct trail *again = NULL;
	size_t m = 0;
	char account2[CT_ACCOUNT_LEN + 1];
	if (registry_load(path, account2, &again, &m, &err) < 0 || m != n || strcmp(account, account2))
		abort();
	free_trails(trails, n);
	free_trails(again, m);
	return 0;
}
