/* Fuzz harness for backend/verify.c's other parsers: the input goes to
 * verify_keys_parse_list (ListPublicKeys JSON), verify_keys_parse_pem,
 * verify_time_parse and verify_parse_arn.  Aborts when a promise of
 * verify.h is broken:
 *   - each returns 0 or -EINVAL (or -ENOMEM), and a refused document adds
 *     nothing it does not own (every key added has a fingerprint and either
 *     its DER or the base64 error);
 *   - a time that parses, once normalized and displayed, parses back to the
 *     same second;
 *   - an ARN that parses gives the CLI's fields: split(':')[3] and [4] and
 *     the text after the last '/' (not always 12 digits: the CLI's regex
 *     only needs twelve digits somewhere after ":cloudtrail:"). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

static void check_keys(const struct verify_keys *ks)
{
	for (size_t i = 0; i < ks->n; i++) {
		const struct verify_key *k = &ks->v[i];
		if (!k->fingerprint || (!k->der && !k->value_error) || (k->der && k->value_error))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct verify_keys ks;
	verify_keys_init(&ks);
	int r = verify_keys_parse_list(&ks, s, size);
	if (r != 0 && r != -EINVAL && r != -ENOMEM)
		abort();
	check_keys(&ks);
	verify_keys_release(&ks);

	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = verify_keys_parse_pem(&ks, text, strlen(text));
	if (r != 0 && r != -EINVAL && r != -ENOMEM)
		abort();
	check_keys(&ks);
	verify_keys_release(&ks);

	struct verify_time t, back;
	if (verify_time_parse(text, &t) == 0) {
		verify_time_normalize(&t);
		char shown[64];
		verify_time_display(&t, shown, sizeof shown);
		if (verify_time_parse(shown, &back) != 0)
			abort();
		verify_time_normalize(&back);
		int64_t a = t.us / 1000000 - (t.us < 0 && t.us % 1000000 ? 1 : 0);
		if (back.us != a * 1000000)
			abort();
	}

	char *region, *account, *name;
	if (verify_parse_arn(text, &region, &account, &name) == 0) {
		/* The CLI's split(':')[3] and [4] and what follows the last '/',
		 * whatever the regex let through. */
		const char *f = text;
		for (int i = 0; i < 3; i++)
			f = strchr(f, ':') + 1;
		if (strncmp(f, region, strlen(region)) || f[strlen(region)] != ':')
			abort();
		f += strlen(region) + 1;
		if (strncmp(f, account, strlen(account)) ||
		    (f[strlen(account)] != ':' && f[strlen(account)] != '\0'))
			abort();
		if (strcmp(strrchr(text, '/') + 1, name))
			abort();
		free(region);
		free(account);
		free(name);
	}
	free(text);
	return 0;
}
