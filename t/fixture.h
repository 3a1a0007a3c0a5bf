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
#include <time.h>
#include <unistd.h>

#define FIXTURE_PATH_MAX PATH_MAX

/*
 * check's per-test timeout for the test cases that need no longer one:
 * its default, 4 s, is less than 10x what their slowest test takes under
 * ASan on a 2-CPU machine busy with other work.
 */
#define FIXTURE_TIMEOUT	30

/* Seconds on the monotonic clock, for deadlines. */
static inline double
fixture_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A short pause inside a loop that polls a condition against a deadline,
 * for conditions with nothing to wait on (a log file, a database).
 */
static inline void
fixture_pause(void)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

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

#if defined(OPENSSL_X509_H) && defined(OPENSSL_PEM_H)
/*
 * The furl fingerprint of a certificate, computed here from scratch
 * (SHA-256 of the DER, base32), to check tallyd's own: for the tests that
 * include OpenSSL's x509.h and pem.h before this file.
 */
static inline void
fixture_x509_fingerprint(X509 *x, char *fp, size_t fplen)
{
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 len;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_gt(len = i2d_X509(x, &der), 0);
	ck_assert(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL));
	ck_assert_uint_eq(mdlen, 32);
	ck_assert_int_eq(furl_b32_encode(md, mdlen, fp, fplen), FURL_FP_LEN);
	OPENSSL_free(der);
}

/* The same, of a PEM certificate file. */
static inline void
fixture_cert_fingerprint(const char *path, char *fp, size_t fplen)
{
	FILE	*f;
	X509	*x;

	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	fixture_x509_fingerprint(x, fp, fplen);
	X509_free(x);
}
#endif

#endif /* FIXTURE_H */
