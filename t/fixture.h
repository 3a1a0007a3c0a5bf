/*
 * fixture.h: helpers shared by the check tests.  Header-only, and every
 * function is static inline so that a test using only some of them still
 * builds with -Werror.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <sys/stat.h>

#include <check.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FIXTURE_PATH_MAX PATH_MAX

/*
 * Make a fresh, empty directory (an LMDB environment, say) under $TMPDIR
 * or /tmp into buf, of FIXTURE_PATH_MAX bytes.  Returns buf, or NULL.
 */
static inline char *
fixture_tmpdir(char *buf)
{
	const char	*tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(buf, FIXTURE_PATH_MAX, "%s/tally-test.XXXXXX",
	    tmp) >= FIXTURE_PATH_MAX)
		return NULL;
	return mkdtemp(buf);
}

static inline int
fixture_rmtree_cb(const char *path, const struct stat *sb, int type,
    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Remove path and everything under it, never following symlinks. */
static inline int
fixture_rmtree(const char *path)
{
	if (path == NULL || *path == '\0')
		return -1;
	return nftw(path, fixture_rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Run a suite and report each test in TAP on stdout, so that automake's
 * summary counts test cases, not programs.  Returns an exit status.
 */
static inline int
fixture_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* FIXTURE_H */
