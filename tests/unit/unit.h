/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by the unit tests: cmocka, and files in a temporary directory. */
#ifndef AG_UNIT_H
#define AG_UNIT_H

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#ifndef AG_UNIT_FIXTURES
#define AG_UNIT_FIXTURES "tests/unit/fixtures"
#endif

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *ag_unit_mkdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (asprintf(&dir, "%s/ag-unit-XXXXXX", tmp) < 0)
		return NULL;
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* Write text to dir/name, mode 0644 whatever the umask (the configuration loader refuses a
 * group-writable file: a umask of 002 must not fail the tests); returns the path (caller
 * frees) or fails the test. */
static inline char *ag_unit_write(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0644), 0);
	return path;
}

/* A copy of the file src as dir/name (ag_unit_write): a configuration of the repository is
 * loaded from the copy, so that a checkout in a group-writable directory (umask 002) still
 * passes the loader's check of the file's directories. */
static inline char *ag_unit_copy(const char *dir, const char *name, const char *src)
{
	char *text = NULL, *path;
	size_t cap = 0;
	FILE *f = fopen(src, "r");
	ssize_t n;

	assert_non_null(f);
	n = getdelim(&text, &cap, '\0', f); /* the whole file: it holds no NUL */
	assert_true(n >= 0);
	assert_int_equal(fclose(f), 0);
	path = ag_unit_write(dir, name, text);
	free(text);
	return path;
}

static inline int ag_unit_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void ag_unit_rmrf(const char *dir)
{
	if (dir)
		nftw(dir, ag_unit_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
