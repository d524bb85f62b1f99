/* Unit tests for backend/fileio.c, backend/clock.c, backend/err.c and
 * backend/errlog.c: the small helpers under everything. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "errlog.h"
#include "fileio.h"
#include "tap.h"
#include "testdir.h"

static char root[64];

static void test_fileio(void)
{
	char path[256], deep[256];
	snprintf(path, sizeof path, "%s/file", root);
	snprintf(deep, sizeof deep, "%s/a/b/c", root);
	ok(write_file_durable(path, "hello", 5, 0600) == 0, "durable write");
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_size == 5, "mode and size");
	ok(write_file_durable(path, "bye", 3, 0644) == 0, "replace");
	struct buf b;
	buf_init(&b, 16);
	ok(read_file(path, &b) == 0 && !strcmp(b.data, "bye"), "read back the new content");
	buf_release(&b);
	buf_init(&b, 2);
	ok(read_file(path, &b) == -E2BIG, "a file over the buffer's cap: E2BIG");
	buf_release(&b);
	buf_init(&b, 16);
	ok(read_file(deep, &b) == -ENOENT, "a missing file: ENOENT");
	ok(mkdir_p(deep, 0700) == 0 && stat(deep, &st) == 0 && S_ISDIR(st.st_mode), "mkdir -p");
	ok(mkdir_p(deep, 0700) == 0, "mkdir -p of an existing directory");
	ok(fsync_dir(root) == 0 && fsync_parent(path) == 0, "fsync of directories");
	char tmp[300];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	ok(access(tmp, F_OK) < 0, "no temporary file left behind");
	buf_release(&b);
}

static void test_clock(void)
{
	char iso[32];
	clock_format_iso(1767225600, iso, sizeof iso);
	ok(!strcmp(iso, "2026-01-01T00:00:00Z"), "ISO-8601 UTC");
	int64_t t;
	ok(clock_parse_iso("2026-11-23T10:02:11Z", &t) == 0 && t == 1795428131, "parse");
	ok(clock_parse_iso("2026-11-23 10:02:11", &t) == -EINVAL, "only that form");
	char path[256];
	snprintf(path, sizeof path, "%s/clock", root);
	write_file_durable(path, "1767225600\n", 11, 0600);
	struct clock c = { .test_file = path };
	ok(clock_now(&c) == 1767225600, "a test clock reads its file");
	write_file_durable(path, "soon", 4, 0600);
	ok(clock_read_file(path, &t) == -EINVAL, "a bad clock file is refused");
	ok(clock_now(&c) > 1700000000, "and the system clock stands in");
}

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

static void test_errlog(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/errors.log", root);
	struct errlog l;
	ok(errlog_init(&l, path) == 0, "errlog on a new file");
	for (int i = 0; i < 2500; i++) {
		char line[64];
		snprintf(line, sizeof line, "line %d\ttab", i);
		errlog_add(&l, line);
	}
	struct buf out;
	buf_init(&out, 1 << 20);
	errlog_render(&l, &out);
	ok(!strncmp(out.data, "line 1500\\x09tab\n", 17), "oldest kept is line 1500, tab escaped");
	errlog_release(&l);
	ok(errlog_init(&l, path) == 0, "reopen");
	buf_reset(&out);
	errlog_render(&l, &out);
	size_t lines = 0;
	for (size_t i = 0; i < out.len; i++)
		lines += out.data[i] == '\n';
	ok(lines == CT_ERRORS_KEPT && strstr(out.data, "line 2499\\x09tab\n"),
	   "the kept lines survive a restart (%zu)", lines);
	struct stat st;
	ok(stat(path, &st) == 0 && st.st_size < 2 * CT_ERRORS_KEPT * 20, "the file stays bounded");
	buf_release(&out);
	errlog_release(&l);
}

int main(void)
{
	testdir_make(root, sizeof root);
	test_fileio();
	test_clock();
	test_err();
	test_errlog();
	testdir_remove(root);
	return tap_done();
}
