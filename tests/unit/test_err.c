/* Unit tests for backend/err.c: AWS error names, messages and their errno. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "tap.h"

static void test_err(void)
{
	static const struct { const char *name; int e; } names[] = {
		{ "InvalidTrailNameException", EINVAL }, { "TrailAlreadyExistsException", EEXIST },
		{ "BucketAlreadyOwnedByYou", EEXIST }, { "TrailNotFoundException", ENOENT },
		{ "KmsKeyNotFoundException", ENOENT }, { "S3BucketDoesNotExistException", ENOENT },
		{ "NoSuchBucket", ENOENT }, { "InsufficientS3BucketPolicyException", EACCES },
		{ "InsufficientEncryptionPolicyException", EACCES }, { "AccessDenied", EACCES },
		{ "MaximumNumberOfTrailsExceededException", EDQUOT },
		{ "TagsLimitExceededException", EDQUOT }, { "BucketNotEmpty", ENOTEMPTY },
		{ "OperationNotPermittedException", EPERM },
		{ "InvalidParameterCombinationException", EINVAL }, { "MalformedPolicy", EINVAL },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		ok(ct_errno_for(names[i].name) == names[i].e, "%s -> errno %d", names[i].name, names[i].e);
	struct ct_err err;
	ok(ct_fail(&err, "InvalidTrailNameException", "bad %s", "name") == -EINVAL &&
	   !strcmp(err.message, "bad name"), "ct_fail fills and returns -errno");
	ok(ct_fail(NULL, "TrailNotFoundException", "x") == -ENOENT, "err may be NULL");
	ct_err_prefix(&err, "line %d: ", 3);
	ok(!strcmp(err.message, "line 3: bad name"), "prefix");
	memset(err.message, 'x', sizeof err.message - 1);
	err.message[sizeof err.message - 1] = '\0';
	ct_err_prefix(&err, "p: ");
	ok(strlen(err.message) == sizeof err.message - 1 && !strncmp(err.message, "p: xx", 5),
	   "prefix of a full message cuts it to fit");
}


/* A message cut to fit ends on a character boundary, whatever the width of
 * the character the cut falls in. */
static bool utf8_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 0;
		if (!n)
			return false;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xC0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

static void test_cut_utf8(void)
{
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
	char text[4 * CT_ERR_MESSAGE_MAX];
	for (size_t c = 0; c < 3; c++) {
		for (size_t shift = 0; shift < 4; shift++) {
			size_t len = strlen(chars[c]), o = 0;
			memset(text, 'x', shift);
			o = shift;
			while (o + len < sizeof text - 1) {
				memcpy(text + o, chars[c], len);
				o += len;
			}
			text[o] = '\0';
			struct ct_err err;
			ct_fail(&err, "InvalidParameterException", "%s", text);
			size_t got = strlen(err.message);
			ok(utf8_ok(err.message) && got + 4 >= CT_ERR_MESSAGE_MAX - 1,
			   "a cut message ends on a character boundary (%zu-byte characters, shift %zu, %zu bytes)",
			   len, shift, got);
		}
	}
}

int main(void)
{
	test_err();
	test_cut_utf8();
	return tap_done();
}
