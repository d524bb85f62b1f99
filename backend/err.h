/* AWS-style errors: an exception name, a message a person understands, and
 * the errno the shell reports for it.
 *
 * Backend functions return 0 or a negative errno and, when they fail for a
 * reason a user should read, fill a struct ct_err.  The errno is derived from
 * the AWS name by family, in one place (ct_errno_for), so every module maps
 * the same way. */
#ifndef TRAILFS_ERR_H
#define TRAILFS_ERR_H

#include "ct_limits.h"

struct ct_err {
	char name[96];                       /* e.g. "InvalidTrailNameException" */
	char message[CT_ERR_MESSAGE_MAX];    /* e.g. "trail names may not ..." */
	/* The API call that failed and what it named (a trail or a bucket),
	 * so that the rejection, once final, is recorded as that call's
	 * management event with errorCode and errorMessage.  "" when unknown.
	 * Set with ct_err_call after the failure; ct_fail clears them. */
	char call[40];
	char subject[CT_TRAIL_NAME_MAX + 1];
};

/* The errno for an AWS error name (positive):
 *   ...AlreadyExists..., BucketAlreadyOwnedByYou          EEXIST
 *   ...NotFound..., NoSuch..., S3BucketDoesNotExist...     ENOENT
 *   Insufficient...Policy..., AccessDenied...              EACCES
 *   MaximumNumberOf...Exceeded..., TagsLimitExceeded...    EDQUOT
 *   BucketNotEmpty                                         ENOTEMPTY
 *   OperationNotPermitted..., TrailRename (EPERM family)   EPERM
 *   anything else (the Invalid... family included)         EINVAL */
int ct_errno_for(const char *name);

/* Fill err (which may be NULL) and return -ct_errno_for(name). */
int ct_fail(struct ct_err *err, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A state file that does not read back: InvalidStateFile, "PATH: damaged:
 * " and the rest as fmt says. */
int ct_fail_damaged(struct ct_err *err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fill err with a plain errno failure that has no AWS name of its own
 * (disk full, out of memory): name "InternalFailure", message from strerror
 * prefixed by what. Returns -errnum (errnum positive or negative). */
int ct_fail_errno(struct ct_err *err, int errnum, const char *what);

/* Put printf-style text in front of err's message (cut to fit). */
void ct_err_prefix(struct ct_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Name the failed call (when err is not NULL, holds a failure, and no
 * call is named yet: the innermost API call wins). */
void ct_err_call(struct ct_err *err, const char *call, const char *subject);

/* Clear an error to empty strings. */
void ct_err_clear(struct ct_err *err);

#endif
