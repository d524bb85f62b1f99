/* Unit tests for backend/errlog.c: the /errors ring and its file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errlog.h"
#include "tap.h"
#include "testdir.h"

static char root[64];

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
	test_errlog();
	testdir_remove(root);
	return tap_done();
}
