/* A private temporary directory for a unit test, removed at the end. */
#ifndef TRAILFS_TESTDIR_H
#define TRAILFS_TESTDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int testdir_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Make /tmp/trailfs-unit.XXXXXX into dir (size >= 64). */
__attribute__((unused))
static void testdir_make(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/trailfs-unit.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
}

__attribute__((unused))
static void testdir_remove(const char *dir)
{
	nftw(dir, testdir_rm, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
