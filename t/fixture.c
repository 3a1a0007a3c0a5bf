/*
 * fixture.c: what every check program shares (see fixture.h).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tally-int.h"
#include "fixture.h"

/* ---- the runner ---------------------------------------------------------- */

/* The case named by the n bytes at name, made and added to s if new. */
static TCase *
fixture_tcase(Suite *s, TCase **made, const char **names, size_t *nmade,
    const char *name, size_t n)
{
	size_t	 i;

	for (i = 0; i < *nmade; i++)
		if (strlen(names[i]) == n && strncmp(names[i], name, n) == 0)
			return made[i];
	if ((names[*nmade] = strndup(name, n)) == NULL)
		return NULL;
	made[*nmade] = tcase_create(names[*nmade]);
	suite_add_tcase(s, made[*nmade]);
	return made[(*nmade)++];
}

int
fixture_main(const char *name, const struct fixture_test *tests,
    size_t ntests, const struct fixture_tcase *tcases, size_t ntcases)
{
	Suite		*s = suite_create(name);
	TCase		**made;
	const char	**names;
	double		*timeout;
	const char	*p, *end;
	size_t		 i, j, nmade = 0, most = 0;
	int		 rc = EXIT_FAILURE;

	/* At most one case per word of the table. */
	for (i = 0; i < ntests; i++)
		for (p = tests[i].tcase; *p != '\0'; p++)
			most += *p != ' ' && (p == tests[i].tcase ||
			    p[-1] == ' ');
	made = calloc(most + 1, sizeof *made);
	names = calloc(most + 1, sizeof *names);
	timeout = calloc(most + 1, sizeof *timeout);
	if (made == NULL || names == NULL || timeout == NULL)
		goto out;
	for (i = 0; i < ntests; i++) {
		for (p = tests[i].tcase; *p != '\0'; p = end) {
			TCase	*tc;

			while (*p == ' ')
				p++;
			if (*p == '\0')
				break;
			for (end = p; *end != '\0' && *end != ' '; end++)
				continue;
			if ((tc = fixture_tcase(s, made, names, &nmade, p,
			    (size_t)(end - p))) == NULL)
				goto out;
			for (j = 0; made[j] != tc; j++)
				continue;
			if (tests[i].timeout > timeout[j]) {
				timeout[j] = tests[i].timeout;
				tcase_set_timeout(tc, timeout[j]);
			}
			tcase_add_loop_test(tc, tests[i].test, 0,
			    tests[i].loop > 0 ? tests[i].loop : 1);
		}
	}
	for (i = 0; i < ntcases; i++) {
		for (j = 0; j < nmade; j++)
			if (strcmp(names[j], tcases[i].tcase) == 0)
				break;
		if (j == nmade) {
			fprintf(stderr, "%s: fixtures for case %s, which has "
			    "no tests\n", name, tcases[i].tcase);
			goto out;
		}
		if (tcases[i].setup != NULL || tcases[i].teardown != NULL)
			tcase_add_checked_fixture(made[j], tcases[i].setup,
			    tcases[i].teardown);
		if (tcases[i].setup_once != NULL ||
		    tcases[i].teardown_once != NULL)
			tcase_add_unchecked_fixture(made[j],
			    tcases[i].setup_once, tcases[i].teardown_once);
	}
	rc = fixture_run(s);
	s = NULL;
out:
	if (s != NULL)
		srunner_free(srunner_create(s));	/* frees s */
	for (i = 0; names != NULL && i < nmade; i++)
		free((char *)names[i]);
	free(made);
	free(names);
	free(timeout);
	return rc;
}

int
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

/* ---- time ---------------------------------------------------------------- */

double
fixture_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
fixture_pause(void)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* ---- files --------------------------------------------------------------- */

char *
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

static int
fixture_rmtree_cb(const char *path, const struct stat *sb, int type,
    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

int
fixture_rmtree(const char *path)
{
	if (path == NULL || *path == '\0')
		return -1;
	return nftw(path, fixture_rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
}

char *
fixture_path(char *buf, const char *d, const char *name)
{
	snprintf(buf, FIXTURE_PATH_MAX + 64, "%s/%s", d, name);
	return buf;
}

void
fixture_skip(const char *test, const char *why)
{
	fprintf(stderr, "# SKIP %s: %s\n", test, why);
}

int
fixture_under_valgrind(void)
{
	const char	*p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "vgpreload") != NULL;
}

/* ---- a child process ----------------------------------------------------- */

_Static_assert(sizeof ((struct fixture_child *)0)->msg == TALLY_ERRLEN,
    "a child's message is TALLY_ERRLEN bytes");

void
fixture_child(fixture_child_fn fn, const void *arg, int nobody,
    struct fixture_child *c)
{
	double	 deadline;
	pid_t	 pid, w;
	ssize_t	 n;
	int	 fds[2];

	memset(c, 0, sizeof *c);
	c->rc = -1;
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		char	 m[TALLY_ERRLEN] = "";
		int	 rc;

		close(fds[0]);
		if (nobody && geteuid() == 0 && (setgroups(0, NULL) != 0 ||
		    setgid(65534) != 0 || setuid(65534) != 0))
			_exit(90);
		rc = fn(arg, m, sizeof m);
		if (write(fds[1], &rc, sizeof rc) != sizeof rc ||
		    write(fds[1], m, strlen(m)) < 0)
			_exit(91);
		_exit(0);
	}
	close(fds[1]);
	deadline = fixture_now() + 20;
	while ((w = waitpid(pid, &c->status, WNOHANG)) == 0 &&
	    fixture_now() < deadline)
		fixture_pause();
	if (w == 0) {
		c->hung = 1;
		kill(pid, SIGKILL);
		waitpid(pid, &c->status, 0);
	}
	if (read(fds[0], &c->rc, sizeof c->rc) == sizeof c->rc &&
	    (n = read(fds[0], c->msg, sizeof c->msg - 1)) > 0)
		c->msg[n] = '\0';
	close(fds[0]);
}

/* ---- a log to search ----------------------------------------------------- */

static pthread_mutex_t	 fixture_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char		 fixture_logged[16384];

void
fixture_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	pthread_mutex_lock(&fixture_log_lock);
	strncat(fixture_logged, msg, sizeof fixture_logged -
	    strlen(fixture_logged) - 2);
	strcat(fixture_logged, "\n");
	pthread_mutex_unlock(&fixture_log_lock);
}

void
fixture_log_clear(void)
{
	pthread_mutex_lock(&fixture_log_lock);
	fixture_logged[0] = '\0';
	pthread_mutex_unlock(&fixture_log_lock);
}

int
fixture_log_has(const char *s)
{
	int	 found;

	pthread_mutex_lock(&fixture_log_lock);
	found = strstr(fixture_logged, s) != NULL;
	pthread_mutex_unlock(&fixture_log_lock);
	return found;
}

const char *
fixture_log_text(void)
{
	static char	 copy[sizeof fixture_logged];

	pthread_mutex_lock(&fixture_log_lock);
	memcpy(copy, fixture_logged, sizeof copy);
	pthread_mutex_unlock(&fixture_log_lock);
	return copy;
}

void
fixture_log_wait(const char *s, double seconds)
{
	double	 end = fixture_now() + seconds;

	while (!fixture_log_has(s)) {
		if (fixture_now() >= end)
			ck_abort_msg("the provider never logged '%s'; it "
			    "logged:\n%s", s, fixture_log_text());
		fixture_pause();
	}
}

/* ---- certificates -------------------------------------------------------- */

void
fixture_x509_fingerprint(struct x509_st *x, char *fp, size_t fplen)
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

void
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

/* ---- raw LMDB ------------------------------------------------------------- */

/*
 * A raw <node>/<stat> put in counters or stats goes to the stat index too,
 * as the store's writes do (tally(5)), if the statsfile has one.
 */
static void
fixture_put_index(MDB_txn *txn, const char *db, const MDB_val *k, MDB_val *v)
{
	char		 name[64], key[600];
	const char	*slash = memchr(k->mv_data, '/', k->mv_size);
	MDB_dbi		 idx;
	MDB_val		 ik;
	size_t		 nlen;

	if ((strcmp(db, "counters") != 0 && strcmp(db, "stats") != 0) ||
	    slash == NULL || k->mv_size >= sizeof key)
		return;
	snprintf(name, sizeof name, "%s-by-stat", db);
	if (mdb_dbi_open(txn, name, 0, &idx) != 0)
		return;
	nlen = (size_t)(slash - (const char *)k->mv_data);
	memcpy(key, slash + 1, k->mv_size - nlen - 1);
	key[k->mv_size - nlen - 1] = '/';
	memcpy(key + k->mv_size - nlen, k->mv_data, nlen);
	ik.mv_data = key;
	ik.mv_size = k->mv_size;
	ck_assert_int_eq(mdb_put(txn, idx, &ik, v, 0), 0);
}

void
fixture_put_raw(const char *dir, const char *db, const void *key,
    size_t klen, const char *val)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k = { klen, (void *)key }, v = { strlen(val), (void *)val };

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, STORE_MAXDBS), 0);
	ck_assert_int_eq(mdb_env_set_mapsize(env, STORE_MAPSIZE_MIN), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	fixture_put_index(txn, db, &k, &v);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}
