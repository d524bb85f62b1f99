/* Fuzz harness for backend/policy.c: the input is a bucket policy for the
 * grammar check (complete and partial) and the CloudTrail evaluation, and,
 * split at its first newline, a glob pattern and a subject.
 *
 * Besides "no crash, no leak" it checks the promises the callers rely on:
 * a document CloudTrail may use is a valid one, a valid document is also a
 * valid partial one, and cutting a valid document short leaves a valid
 * partial one (a file written in pieces is never refused halfway). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define FUZZ_BUCKET  "trail-bucket"
#define FUZZ_ACCOUNT "123456789012"
#define FUZZ_REGION  "us-east-1"
#define FUZZ_TRAIL   "arn:aws:cloudtrail:us-east-1:123456789012:trail/mytrail"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *doc = (const char *)data;
	struct ct_err err;

	int full = policy_validate(doc, size, FUZZ_BUCKET, false, &err);
	int partial = policy_validate(doc, size, FUZZ_BUCKET, true, &err);
	if (full == 0 && partial != 0)
		abort();
	if (full == 0 && policy_validate(doc, size / 2, FUZZ_BUCKET, true, &err) != 0)
		abort();

	static const char *const prefixes[] = {"", "logs"};
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		int r = policy_allows_cloudtrail(doc, size, FUZZ_BUCKET, prefixes[i], FUZZ_ACCOUNT,
						 FUZZ_REGION, FUZZ_TRAIL, &err);
		if (r == 0 && full != 0)
			abort();
	}

	/* The glob matcher takes C strings: copy, then split at the first newline. */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *nl = strchr(text, '\n');
	if (nl) {
		*nl = '\0';
		bool exact = policy_glob_match(text, nl + 1, false);
		bool folded = policy_glob_match(text, nl + 1, true);
		if (exact && !folded)
			abort();
	}
	free(text);
	return 0;
}
