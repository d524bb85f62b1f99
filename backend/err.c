#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ct_errno_for(const char *name)
{
	if (strstr(name, "AlreadyExists") || !strcmp(name, "BucketAlreadyOwnedByYou"))
		return EEXIST;
	if (strstr(name, "NotFound") || !strncmp(name, "NoSuch", 6) ||
	    !strcmp(name, "S3BucketDoesNotExistException"))
		return ENOENT;
	if ((!strncmp(name, "Insufficient", 12) && strstr(name, "Policy")) ||
	    !strncmp(name, "AccessDenied", 12))
		return EACCES;
	if ((!strncmp(name, "MaximumNumberOf", 15) && strstr(name, "Exceeded")) ||
	    !strncmp(name, "TagsLimitExceeded", 17))
		return EDQUOT;
	if (!strcmp(name, "BucketNotEmpty"))
		return ENOTEMPTY;
	if (!strncmp(name, "OperationNotPermitted", 21))
		return EPERM;
	return EINVAL;
}

void ct_err_clear(struct ct_err *err)
{
	if (err) {
		err->name[0] = '\0';
		err->message[0] = '\0';
		err->call[0] = '\0';
		err->subject[0] = '\0';
	}
}

void ct_err_call(struct ct_err *err, const char *call, const char *subject)
{
	if (!err || !err->name[0] || err->call[0])
		return;
	snprintf(err->call, sizeof err->call, "%s", call);
	snprintf(err->subject, sizeof err->subject, "%s", subject ? subject : "");
}

/* A message cut to fit its buffer must not end inside a UTF-8 character:
 * it goes into JSON records and /errors.  Drop a trailing incomplete
 * sequence. */
static void trim_partial_utf8(char *s)
{
	size_t n = strlen(s), lead = n;
	while (lead > 0 && n - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead == 0)
		return;
	unsigned char c = (unsigned char)s[lead - 1];
	size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (c >= 0x80 && n - (lead - 1) < want)
		s[lead - 1] = '\0';
}

int ct_fail(struct ct_err *err, const char *name, const char *fmt, ...)
{
	if (err) {
		snprintf(err->name, sizeof err->name, "%s", name);
		err->call[0] = err->subject[0] = '\0';
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
		if (n >= (int)sizeof err->message)
			trim_partial_utf8(err->message);
	}
	return -ct_errno_for(name);
}

int ct_fail_damaged(struct ct_err *err, const char *path, const char *fmt, ...)
{
	char what[CT_ERR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return ct_fail(err, "InvalidStateFile", "%s: damaged: %s", path, what);
}

int ct_fail_errno(struct ct_err *err, int errnum, const char *what)
{
	if (errnum < 0)
		errnum = -errnum;
	if (err) {
		snprintf(err->name, sizeof err->name, "InternalFailure");
		err->call[0] = err->subject[0] = '\0';
		snprintf(err->message, sizeof err->message, "%s: %s", what, strerror(errnum));
	}
	return -errnum;
}

void ct_err_prefix(struct ct_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	char prefix[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	size_t plen = strlen(prefix);
	size_t cap = sizeof err->message - 1;
	size_t mlen = strlen(err->message);
	if (plen > cap)
		plen = cap;
	if (mlen > cap - plen)
		mlen = cap - plen;
	memmove(err->message + plen, err->message, mlen);
	memcpy(err->message, prefix, plen);
	err->message[plen + mlen] = '\0';
}
