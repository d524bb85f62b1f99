/* Unit tests for backend/err.c: AWS error names, messages and their errno. */
#include <errno.h>
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


int main(void)
{
	test_err();
	return tap_done();
}
