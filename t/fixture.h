/*
 * fixture.h: what every check program shares, compiled once in fixture.c
 * and linked into each: temporary directories, deadlines, a log that tests
 * can search, certificate fingerprints, and the runner that turns a table
 * of tests into check's suite and runs it in TAP.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <sys/stat.h>

#include <check.h>

#include <limits.h>
#include <stddef.h>
/* What the tests took from this header when it was all inline. */
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

/* The number of elements of an array, for the tables. */
#define FIXTURE_N(a)	(sizeof (a) / sizeof (a)[0])

/* ---- the runner ---------------------------------------------------------- */

/*
 * A row of a check program's table: test runs in the test case (check's
 * TCase, which CK_RUN_CASE selects by name) tcase, once, or loop times
 * with _i from 0 to loop - 1.  tcase may name several cases, separated by
 * spaces: the test then runs in each.  timeout is in seconds, for each
 * test of the case (check's tcase_set_timeout); the rows of a case give
 * the same, and the largest wins.  Cases run in the order in which they
 * first appear, their tests in table order.
 */
struct fixture_test {
	const char	*tcase;
	const TTest	*test;
	int		 loop;
	double		 timeout;
};

/*
 * The fixtures of a test case: setup and teardown around each test, in
 * the test's own process (checked); setup_once and teardown_once around
 * the whole case, in the runner's process (unchecked).  Any may be NULL;
 * a case without a row here has none.
 */
struct fixture_tcase {
	const char	*tcase;
	SFun		 setup;
	SFun		 teardown;
	SFun		 setup_once;
	SFun		 teardown_once;
};

/*
 * Build the suite name from the tables (tcases may be NULL with ntcases 0)
 * and run it as fixture_run does.  Returns an exit status for main; a
 * row of tcases for a case that no test names is an error, on stderr.
 */
int	 fixture_main(const char *name, const struct fixture_test *tests,
	    size_t ntests, const struct fixture_tcase *tcases,
	    size_t ntcases);

/*
 * Run a suite and report each test in TAP on stdout, so that automake's
 * summary counts test cases, not programs.  Returns an exit status.
 */
int	 fixture_run(Suite *s);

/* ---- time ---------------------------------------------------------------- */

/* Seconds on the monotonic clock, for deadlines. */
double	 fixture_now(void);

/*
 * A short pause inside a loop that polls a condition against a deadline,
 * for conditions with nothing to wait on (a log file, a database).
 */
void	 fixture_pause(void);

/* ---- files --------------------------------------------------------------- */

/*
 * Make a fresh, empty directory (an LMDB environment, say) under $TMPDIR
 * or /tmp into buf, of FIXTURE_PATH_MAX bytes.  Returns buf, or NULL.
 */
char	*fixture_tmpdir(char *buf);

/* Remove path and everything under it, never following symlinks. */
int	 fixture_rmtree(const char *path);

/* d/name into buf, of FIXTURE_PATH_MAX + 64 bytes; returns buf. */
char	*fixture_path(char *buf, const char *d, const char *name);

/* Say on stderr, as a TAP comment, that test skips a check, and why. */
void	 fixture_skip(const char *test, const char *why);

/* Whether this runs under valgrind (its preload is in LD_PRELOAD). */
int	 fixture_under_valgrind(void);

/* ---- a child process ----------------------------------------------------- */

/* What fixture_child learnt of a function it ran in a child process. */
struct fixture_child {
	int	 status;		/* waitpid's */
	int	 hung;		/* killed after 20 s */
	int	 rc;		/* what the function returned; -1 if unsaid */
	char	 msg[512];	/* its message (TALLY_ERRLEN bytes) */
};
typedef int (*fixture_child_fn)(const void *arg, char *msg, size_t msglen);

/*
 * Run fn(arg) in a child process, as nobody when nobody is set and this
 * runs as root (root bypasses permissions; the child then exits 90 if it
 * cannot drop root), and wait up to 20 s for it: a child that hangs is
 * killed.  What it returned and said comes back in *c.
 */
void	 fixture_child(fixture_child_fn fn, const void *arg, int nobody,
	    struct fixture_child *c);

/* ---- raw LMDB ------------------------------------------------------------ */

/*
 * Put key = val in table db of the statsfile dir with LMDB itself, to
 * write what the store never would; a <node>/<stat> key of counters or
 * stats goes to the stat index too if the statsfile has one.  The store
 * must not be open in this process.
 */
void	 fixture_put_raw(const char *dir, const char *db, const void *key,
	    size_t klen, const char *val);

/* ---- a log to search ----------------------------------------------------- */

/*
 * A tally_options.log callback that keeps each message as a line, for
 * the tests to search; the provider's thread may log at any time, so
 * every access takes a lock.  The log holds the first 16 KB.
 */
void	 fixture_log(void *ctx, int level, const char *msg);

/* Forget what was logged. */
void	 fixture_log_clear(void);

/* Whether s was logged (a substring of the log). */
int	 fixture_log_has(const char *s);

/* The log so far, for a failure's message. */
const char *fixture_log_text(void);

/*
 * Wait up to seconds for the provider to log s, polling: its thread logs
 * when it will.  Fails the test, with the whole log, when it never does.
 */
void	 fixture_log_wait(const char *s, double seconds);

/* ---- certificates -------------------------------------------------------- */

struct x509_st;

/*
 * The furl fingerprint of a certificate, computed here from scratch
 * (SHA-256 of the DER, base32), to check tallyd's and tls.c's own.
 */
void	 fixture_x509_fingerprint(struct x509_st *x, char *fp, size_t fplen);

/* The same, of a PEM certificate file. */
void	 fixture_cert_fingerprint(const char *path, char *fp, size_t fplen);

#endif /* FIXTURE_H */
