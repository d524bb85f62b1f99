/* Unit tests for backend/fileio.c: whole-buffer and durable I/O. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	char stale[300], other[300];
	snprintf(stale, sizeof stale, "%s.tmp.12345", path);
	snprintf(other, sizeof other, "%s.tmp.notapid", path);
	write_file_durable(stale, "x", 1, 0600);
	write_file_durable(other, "y", 1, 0600);
	ok(remove_stale_temps(path) == 0 && access(stale, F_OK) < 0, "a killed write's temporary file is removed");
	ok(access(other, F_OK) == 0 && access(path, F_OK) == 0, "other files stay");
	buf_release(&b);
}


/* Keep names that do not start with '.' and are not "skip". */
static bool keep_some(int dfd, const char *name, void *arg)
{
	(void)dfd;
	return name[0] != '.' && strcmp(name, arg);
}

static void test_dir_names(void)
{
	char dir[256], path[512];
	snprintf(dir, sizeof dir, "%s/names", root);
	mkdir(dir, 0700);
	const char *files[] = { "b", "a", "skip", ".hidden", "c" };
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		close(open(path, O_CREAT | O_WRONLY, 0600));
	}
	char **names;
	size_t n;
	int r = fileio_dir_names(dir, keep_some, "skip", &names, &n);
	ok(r == 0 && n == 3 && !strcmp(names[0], "a") && !strcmp(names[1], "b") &&
	   !strcmp(names[2], "c"), "fileio_dir_names: the kept names, sorted");
	fileio_names_free(names, n);
	snprintf(path, sizeof path, "%s/none", root);
	r = fileio_dir_names(path, keep_some, "skip", &names, &n);
	ok(r == -ENOENT && !names && n == 0, "fileio_dir_names: a missing directory is -ENOENT");
}

int main(void)
{
	testdir_make(root, sizeof root);
	test_fileio();
	test_dir_names();
	testdir_remove(root);
	return tap_done();
}
