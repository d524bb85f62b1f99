/* Fuzz harness for backend/chains.c's two files: the input is
 * STATE/digests.json, then (after a line "--journal--") STATE/digests.journal.
 * Any bytes must open or be refused with InvalidStateFile naming one of the
 * two paths, never crash or leak; a state that opens must open again after
 * chains_close (which saves what open changed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chains.h"
#include "fileio.h"
#include "sign.h"
#include "store.h"

#define SEPARATOR "\n--journal--\n"

static char dir[64];

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof dir, "/tmp/trailfs-fuzz-chains.XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

static struct chains *open_once(struct store *st, struct sign *sg, struct ct_err *err)
{
	return chains_open(dir, st, sg, 60, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	char state[128], journal[128], sdir[128], kdir[128];
	snprintf(state, sizeof state, "%s/digests.json", dir);
	snprintf(journal, sizeof journal, "%s/digests.journal", dir);
	snprintf(sdir, sizeof sdir, "%s/store", dir);
	snprintf(kdir, sizeof kdir, "%s/keys", dir);
	const char *text = (const char *)data;
	const char *sep = memmem(text, size, SEPARATOR, strlen(SEPARATOR));
	size_t state_len = sep ? (size_t)(sep - text) : size;
	const char *jtext = sep ? sep + strlen(SEPARATOR) : "";
	size_t jlen = sep ? size - state_len - strlen(SEPARATOR) : 0;
	if (write_file_durable(state, text, state_len, 0600) < 0 ||
	    write_file_durable(journal, jtext, jlen, 0600) < 0)
		abort();
	int serr = 0;
	struct store *st = store_local_new(sdir, &serr);
	struct ct_err err;
	struct sign *sg = sign_open(kdir, &err);
	if (!st || !sg)
		abort();
	struct chains *c = open_once(st, sg, &err);
	if (!c) {
		if (strcmp(err.name, "InvalidStateFile") && strcmp(err.name, "InternalFailure"))
			abort();
		if (!strstr(err.message, "digests.json") && !strstr(err.message, "digests.journal"))
			abort();
	} else {
		chains_close(c);
		c = open_once(st, sg, &err);
		if (!c)
			abort();
		chains_close(c);
	}
	sign_close(sg);
	store_free(st);
	return 0;
}
