/* Fuzz harness for backend/kmspolicy.c: the input is a key policy for the
 * grammar check, the evaluation (a local user, root, the CloudTrail
 * service) and the CloudTrail check.
 *
 * Besides "no crash, no leak" it checks the promises callers rely on: a
 * policy that fails the grammar check never lets CloudTrail in, evaluation
 * gives only 0, -EACCES (with AccessDeniedException) or -EINVAL, and a
 * valid policy with an added "Deny everything" statement allows nothing
 * (explicit deny wins). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmspolicy.h"

#define ACCOUNT "123456789012"
#define KEY     "arn:aws:kms:us-east-1:123456789012:key/0b5c3a4e-1f2d-4c6b-8a9e-0123456789ab"
#define TRAIL   "arn:aws:cloudtrail:us-east-1:123456789012:trail/audit"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int eval_all(const char *doc, size_t len, int *results)
{
	struct crypto_context_pair ctx[] = {{"aws:cloudtrail:arn", TRAIL}};
	struct kms_request rq[] = {
		{.action = "kms:Decrypt", .key_arn = KEY, .account = ACCOUNT, .kind = KMS_PRINCIPAL_USER,
		 .user = "alice", .uid = 1001, .context = ctx, .n_context = 1},
		{.action = "kms:Decrypt", .key_arn = KEY, .account = ACCOUNT, .kind = KMS_PRINCIPAL_USER,
		 .user = "root", .uid = 0, .context = ctx, .n_context = 1},
		{.action = "kms:GenerateDataKey", .key_arn = KEY, .account = ACCOUNT,
		 .kind = KMS_PRINCIPAL_SERVICE, .service = KMSPOLICY_CLOUDTRAIL, .source_arn = TRAIL,
		 .source_account = ACCOUNT, .context = ctx, .n_context = 1},
	};
	int allowed = 0;
	for (size_t i = 0; i < sizeof rq / sizeof rq[0]; i++) {
		struct ct_err err;
		ct_err_clear(&err);
		int r = kmspolicy_evaluate(doc, len, &rq[i], &err);
		if (r != 0 && !(r == -EACCES && !strcmp(err.name, "AccessDeniedException")))
			abort();
		results[i] = r;
		allowed += r == 0;
	}
	return allowed;
}

static bool short_names(const char *name, void *arg)
{
	(void)arg;
	return strlen(name) < 6;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *doc = (const char *)data;
	struct ct_err err;
	int valid = kmspolicy_validate(doc, size, &err);
	int results[3];
	eval_all(doc, size, results);
	int ct = kmspolicy_allows_cloudtrail(doc, size, ACCOUNT, KEY, TRAIL, &err);
	if (ct == 0 && valid != 0)
		abort();
	if (ct != 0 && strcmp(err.name, "InsufficientEncryptionPolicyException"))
		abort();
	if (valid == 0 && (ct == 0) != (results[2] == 0))
		abort();
	int principals = kmspolicy_check_principals(doc, size, ACCOUNT, short_names, NULL, &err);
	if ((principals == 0 && valid != 0) || (principals != 0 && principals != -EINVAL))
		abort();

	/* A valid policy whose Statement is an array: add a Deny for everyone. */
	if (valid == 0 && size > 2) {
		const char *deny = "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}";
		const char *arr = memmem(doc, size, "\"Statement\"", 11);
		const char *open = arr ? memchr(arr, '[', size - (size_t)(arr - doc)) : NULL;
		if (open) {
			size_t at = (size_t)(open - doc) + 1, dl = strlen(deny);
			char *with = malloc(size + dl + 2);
			memcpy(with, doc, at);
			memcpy(with + at, deny, dl);
			with[at + dl] = ',';
			memcpy(with + at + dl + 1, doc + at, size - at);
			size_t wl = size + dl + 1;
			/* Only when the splice kept a valid policy (the '[' may not
			 * have been the Statement array's own). */
			if (kmspolicy_validate(with, wl, &err) == 0 && eval_all(with, wl, results) != 0)
				abort();
			free(with);
		}
	}
	return 0;
}
