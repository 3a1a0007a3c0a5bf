/*
 * check_reader.c: the public reader (tally_reader_*) and the maintenance
 * calls (tally_statsfile_*), on real LMDB environments in temporary
 * directories.  Statsfiles are built with the store's own writer, and with
 * LMDB itself for what the store never writes.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <pthread.h>
#include <signal.h>

#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tally-int.h"
#include "store-int.h"
#include "fixture.h"

static char	 dir[FIXTURE_PATH_MAX];
static char	 err[TALLY_ERRMSG_LEN];

static void
setup(void)
{
	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	err[0] = '\0';
}

static void
teardown(void)
{
	fixture_rmtree(dir);
}

/* Write node id's slot: n counters c.000000.. = base + i, one stat "s". */
static void
put_node(const char *path, const char *id, const char *key, int64_t t, int n,
    int64_t base, double s)
{
	struct store		*st;
	struct record_node	 rn;
	struct snapshot		 snap;
	char			 name[32];
	int			 i, len;

	memset(&rn, 0, sizeof rn);
	snprintf(rn.nickname, sizeof rn.nickname, "nick %s", id);
	snprintf(rn.source, sizeof rn.source, "local");
	if (key != NULL)
		snprintf(rn.key, sizeof rn.key, "%s", key);
	rn.time = t;
	snapshot_init(&snap);
	for (i = 0; i < n; i++) {
		len = snprintf(name, sizeof name, "c.%06d", i);
		ck_assert_int_eq(snapshot_add_counter(&snap, name, (size_t)len,
		    base + i), 0);
	}
	ck_assert_int_eq(snapshot_add_stat(&snap, "s", 1, s), 0);
	snapshot_finish(&snap);
	ck_assert_msg(store_open(&st, path, 0, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_msg(store_write_slot(st, id, &rn, &snap, err,
	    sizeof err) == 0, "%s", err);
	store_close(st);
	snapshot_free(&snap);
}

/* Put a raw key and value with LMDB itself: what the store never writes. */
static void
put_raw(const char *db, const char *key, size_t klen, const char *val)
{
	fixture_put_raw(dir, db, key, klen, val);
}

/* Open a reader that must fail with code, its message holding want. */
static void
open_fails(const char *path, int code, const char *want)
{
	tally_reader	*r;
	tally_node	 node;

	ck_assert_int_eq(tally_reader_open(&r, path), code);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(strstr(tally_reader_errmsg(r), want) != NULL, "%s",
	    tally_reader_errmsg(r));
	/* A failed reader keeps failing the same way. */
	ck_assert_int_eq(tally_reader_next(r, &node), code);
	ck_assert_int_eq(tally_reader_metrics(r, "a"), code);
	/* No format: none was read. */
	ck_assert_int_eq(tally_reader_format(r), 0);
	tally_reader_close(r);
}

static tally_reader *
open_ok(void)
{
	tally_reader	*r;

	ck_assert_msg(tally_reader_open(&r, dir) == 0, "%s",
	    tally_reader_errmsg(r));
	ck_assert_str_eq(tally_reader_errmsg(r), "");
	return r;
}

#define KEY "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrsq"

START_TEST(test_nodes)
{
	tally_reader	*r;
	tally_node	 node;

	put_node(dir, "b", NULL, 1700000100, 2, 10, 0.5);
	put_node(dir, "a", KEY, 1700000000, 1, 5, NAN);
	put_raw("nodes", "c", 1, "nickname=x\ntime=1\nsource=local\n"
	    "interval=2.5\n");
	r = open_ok();
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_str_eq(node.id, "a");
	ck_assert_str_eq(node.nickname, "nick a");
	ck_assert_str_eq(node.source, "local");
	ck_assert_str_eq(node.key, KEY);
	ck_assert_int_eq(node.time, 1700000000);
	ck_assert(node.interval == 0);
	ck_assert_ptr_null(node.error);
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_str_eq(node.id, "b");
	ck_assert_ptr_null(node.key);
	ck_assert_int_eq(node.time, 1700000100);
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_str_eq(node.id, "c");
	ck_assert(node.interval == 2.5);
	ck_assert_int_eq(tally_reader_next(r, &node), 0);
	ck_assert_int_eq(tally_reader_next(r, &node), 0);
	tally_reader_close(r);
}
END_TEST

/*
 * tally_reader_node by id, in any order: forward (a step each, through
 * ids that are there and ids between them that are not), the same id
 * twice, backwards, past the last, and interleaved with a walk of the
 * nodes, each answer the record of the id asked for.
 */
START_TEST(test_node_lookups)
{
	static const char *const ids[] = { "b", "d", "f", "h", "j" };
	static const struct {
		const char	*id;
		int		 rc;
	} asks[] = {
		{ "a", TALLY_ENOTFOUND }, { "b", 0 }, { "c", TALLY_ENOTFOUND },
		{ "d", 0 }, { "d", 0 }, { "e", TALLY_ENOTFOUND },
		{ "ea", TALLY_ENOTFOUND }, { "f", 0 }, { "j", 0 },
		{ "h", 0 }, { "b", 0 }, { "h", 0 }, { "i", TALLY_ENOTFOUND },
		{ "j", 0 }, { "k", TALLY_ENOTFOUND }, { "j", 0 },
		{ "z", TALLY_ENOTFOUND }, { "f", 0 }, { "b-", TALLY_ENOTFOUND },
		{ "d", 0 },
	};
	tally_reader	*r;
	tally_node	 node, walked;
	char		 nick[32];
	size_t		 i, w = 0;

	for (i = 0; i < sizeof ids / sizeof ids[0]; i++)
		put_node(dir, ids[i], NULL, 1700000000 + (int64_t)i, 1, 5,
		    0.5);
	r = open_ok();
	for (i = 0; i < sizeof asks / sizeof asks[0]; i++) {
		/* The walk of the nodes goes on where it was. */
		if (i % 3 == 0 && w < sizeof ids / sizeof ids[0]) {
			ck_assert_int_eq(tally_reader_next(r, &walked), 1);
			ck_assert_str_eq(walked.id, ids[w++]);
		}
		ck_assert_msg(tally_reader_node(r, asks[i].id, &node) ==
		    asks[i].rc, "ask %zu, node %s", i, asks[i].id);
		if (asks[i].rc != 0)
			continue;
		snprintf(nick, sizeof nick, "nick %s", asks[i].id);
		ck_assert_str_eq(node.id, asks[i].id);
		ck_assert_str_eq(node.nickname, nick);
	}
	ck_assert_uint_eq(w, sizeof ids / sizeof ids[0]);
	tally_reader_close(r);
}
END_TEST

START_TEST(test_get)
{
	tally_reader	*r;
	tally_metric	 m;

	put_node(dir, "a", NULL, 1700000000, 2, -7, 0.25);
	r = open_ok();
	ck_assert_int_eq(tally_reader_get(r, "a", "c.000001", 0, &m), 0);
	ck_assert_int_eq(m.kind, TALLY_COUNTER);
	ck_assert_int_eq(m.counter, -6);
	ck_assert(m.value == -6.0);
	ck_assert_str_eq(m.text, "-6");
	ck_assert_str_eq(m.name, "c.000001");
	ck_assert_ptr_null(m.error);
	ck_assert_int_eq(tally_reader_get(r, "a", "s", 0, &m), 0);
	ck_assert_int_eq(m.kind, TALLY_STAT);
	ck_assert(m.value == 0.25);
	ck_assert_str_eq(m.text, "0.25");
	ck_assert_int_eq(tally_reader_get(r, "a", "s", TALLY_COUNTER, &m),
	    TALLY_ENOTFOUND);
	ck_assert_int_eq(tally_reader_get(r, "a", "c.000000", TALLY_STAT,
	    &m), TALLY_ENOTFOUND);
	ck_assert_int_eq(tally_reader_get(r, "a", "nope", 0, &m),
	    TALLY_ENOTFOUND);
	ck_assert_int_eq(tally_reader_get(r, "zz", "s", 0, &m),
	    TALLY_ENOTFOUND);
	ck_assert_int_eq(tally_reader_get(r, "A", "s", 0, &m), TALLY_EINVAL);
	ck_assert_int_eq(tally_reader_get(r, "a", "s/x", 0, &m),
	    TALLY_EINVAL);
	ck_assert_int_eq(tally_reader_get(r, "a", "s", 3, &m), TALLY_EINVAL);
	ck_assert_int_eq(tally_reader_get(r, NULL, "s", 0, &m), TALLY_EINVAL);
	ck_assert_msg(strstr(tally_reader_errmsg(r), "invalid") != NULL, "%s",
	    tally_reader_errmsg(r));
	/* An invalid call does not finish the reader. */
	ck_assert_int_eq(tally_reader_get(r, "a", "s", TALLY_STAT, &m), 0);
	ck_assert_str_eq(m.text, "0.25");
	tally_reader_close(r);
}
END_TEST

START_TEST(test_metrics)
{
	tally_reader	*r;
	tally_node	 node;
	tally_metric	 m;
	char		 name[32];
	int		 i;

	put_node(dir, "a", NULL, 1700000000, 3, 100, NAN);
	put_node(dir, "ab", NULL, 1700000000, 2, 200, 1.5);
	put_node(dir, "b", NULL, 1700000000, 1, 300, 2);
	r = open_ok();
	ck_assert_int_eq(tally_reader_next_metric(r, &m), TALLY_ESTATE);
	ck_assert_int_eq(tally_reader_metrics(r, "a"), 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
		snprintf(name, sizeof name, "c.%06d", i);
		ck_assert_str_eq(m.name, name);
		ck_assert_int_eq(m.kind, TALLY_COUNTER);
		ck_assert_int_eq(m.counter, 100 + i);
	}
	/* Then the stats: a's only, not ab's. */
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
	ck_assert_int_eq(m.kind, TALLY_STAT);
	ck_assert_str_eq(m.name, "s");
	ck_assert(isnan(m.value));
	ck_assert_str_eq(m.text, "nan");
	ck_assert_ptr_null(m.error);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 0);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 0);
	/* A walk does not disturb the walk of nodes, nor a get a walk. */
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_int_eq(tally_reader_metrics(r, "ab"), 0);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
	ck_assert_int_eq(tally_reader_get(r, "b", "s", 0, &m), 0);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
	ck_assert_str_eq(m.name, "c.000001");
	ck_assert_int_eq(m.counter, 201);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
	ck_assert_str_eq(m.text, "1.5");
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 0);
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_str_eq(node.id, "ab");
	/* An unknown node's walk is empty; an invalid id is refused. */
	ck_assert_int_eq(tally_reader_metrics(r, "zz"), 0);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 0);
	ck_assert_int_eq(tally_reader_metrics(r, "Z"), TALLY_EINVAL);
	tally_reader_close(r);
}
END_TEST

START_TEST(test_missing)
{
	char	 path[FIXTURE_PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/nope", dir);
	open_fails(path, TALLY_ESTORE, "No such file or directory");
	open_fails("", TALLY_EINVAL, "statsfile is not set");
	/* An empty directory: a reader never creates a database. */
	open_fails(dir, TALLY_ESTORE, "no database yet");
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_foreign)
{
	char	 path[FIXTURE_PATH_MAX + 16], junk[8192];
	int	 fd;

	put_raw("something", "else", 4, "entirely");
	open_fails(dir, TALLY_EFORMAT, "not a tally database");
	fixture_rmtree(dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	ck_assert_int_ge(fd = open(path, O_CREAT | O_WRONLY, 0600), 0);
	memset(junk, 'j', sizeof junk);
	ck_assert_int_eq(write(fd, junk, sizeof junk), (int)sizeof junk);
	close(fd);
	open_fails(dir, TALLY_ESTORE, "not an LMDB environment");
	/* A statsfile that is a file. */
	open_fails(path, TALLY_ESTORE, "not a directory");
}
END_TEST

START_TEST(test_newer_format)
{
	put_raw("meta", "format", 6, "3");
	open_fails(dir, TALLY_EFORMAT, "database format '3' is not supported "
	    "(this tally reads formats 1 and 2)");
}
END_TEST

/*
 * lock.mdb that the reader cannot write.  Root writes anything, so the
 * reader then runs as nobody, in a child.
 */
START_TEST(test_unwritable_lock)
{
	char	 env[FIXTURE_PATH_MAX + 16], path[FIXTURE_PATH_MAX + 32];
	char	 msg[TALLY_ERRMSG_LEN] = "";
	pid_t	 pid;
	ssize_t	 n;
	int	 fds[2], ws, rc = 0;

	snprintf(env, sizeof env, "%s/env", dir);
	ck_assert_int_eq(chmod(dir, 0711), 0);
	ck_assert_int_eq(mkdir(env, 0777), 0);
	ck_assert_int_eq(chmod(env, 0777), 0);
	put_node(env, "a", NULL, 1700000000, 1, 0, 0);
	snprintf(path, sizeof path, "%s/data.mdb", env);
	ck_assert_int_eq(chmod(path, 0666), 0);
	snprintf(path, sizeof path, "%s/lock.mdb", env);
	ck_assert_int_eq(chmod(path, 0444), 0);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		tally_reader	*r;

		close(fds[0]);
		if (geteuid() == 0 && (setgroups(0, NULL) != 0 ||
		    setgid(65534) != 0 || setuid(65534) != 0))
			_exit(90);
		rc = tally_reader_open(&r, env);
		if (write(fds[1], &rc, sizeof rc) != sizeof rc ||
		    write(fds[1], tally_reader_errmsg(r),
		    strlen(tally_reader_errmsg(r))) < 0)
			_exit(91);
		tally_reader_close(r);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &rc, sizeof rc), (int)sizeof rc);
	n = read(fds[0], msg, sizeof msg - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	ck_assert_int_eq(rc, TALLY_ESYS);
	ck_assert_msg(strstr(msg, "lock.mdb is not writable") != NULL, "%s",
	    msg);
	ck_assert_msg(strstr(msg, "statsfile's group") != NULL, "%s", msg);
}
END_TEST

START_TEST(test_bad_node_skipped)
{
	tally_reader	*r;
	tally_node	 node;

	put_node(dir, "a", NULL, 1700000000, 1, 0, 0);
	put_node(dir, "c", NULL, 1700000000, 1, 0, 0);
	put_raw("nodes", "B\033x", 3, "nickname=x\ntime=1\nsource=local\n");
	put_raw("nodes", "b", 1, "garbage");
	r = open_ok();
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_str_eq(node.id, "B\\x1bx");
	ck_assert_str_eq(node.error, "not a valid node id");
	ck_assert_ptr_null(node.nickname);
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_str_eq(node.id, "a");
	ck_assert_ptr_null(node.error);
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_str_eq(node.id, "b");
	ck_assert_ptr_nonnull(node.error);
	ck_assert_ptr_null(node.source);
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_str_eq(node.id, "c");
	ck_assert_ptr_null(node.error);
	ck_assert_int_eq(tally_reader_next(r, &node), 0);
	tally_reader_close(r);
}
END_TEST

START_TEST(test_bad_value)
{
	tally_reader	*r;
	tally_metric	 m;

	put_node(dir, "a", NULL, 1700000000, 1, 0, 0);
	put_raw("counters", "a/c.000000", 10, "12x");
	put_raw("counters", "a/bad name", 10, "1");
	put_raw("stats", "a/s", 3, "zz\n");
	r = open_ok();
	ck_assert_int_eq(tally_reader_get(r, "a", "c.000000", 0, &m), 0);
	ck_assert_str_eq(m.error, "not a 64-bit integer");
	ck_assert_str_eq(m.text, "12x");
	ck_assert(isnan(m.value));
	ck_assert_int_eq(m.counter, 0);
	ck_assert_int_eq(tally_reader_get(r, "a", "s", 0, &m), 0);
	ck_assert_str_eq(m.error, "not a number");
	ck_assert_str_eq(m.text, "zz\\x0a");
	ck_assert_int_eq(tally_reader_metrics(r, "a"), 0);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
	ck_assert_str_eq(m.name, "bad name");
	ck_assert_str_eq(m.error, "not a valid stat name");
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
	ck_assert_str_eq(m.name, "c.000000");
	ck_assert_ptr_nonnull(m.error);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
	ck_assert_str_eq(m.name, "s");
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 0);
	tally_reader_close(r);
}
END_TEST

/*
 * A reader sees the statsfile as it was when opened.  The write comes from
 * a child process, as from another writer: a writer of the reader's own
 * process waits for the reader to close (tally.h).
 */
START_TEST(test_consistent_view)
{
	tally_reader	*r, *r2;
	tally_node	 node;
	tally_metric	 m;
	pid_t		 pid;
	int		 ws;

	put_node(dir, "a", NULL, 1700000000, 1, 1, 0);
	r = open_ok();
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		put_node(dir, "a", NULL, 1700000060, 1, 2, 0);
		put_node(dir, "b", NULL, 1700000060, 1, 2, 0);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	ck_assert_int_eq(tally_reader_get(r, "a", "c.000000", 0, &m), 0);
	ck_assert_int_eq(m.counter, 1);
	ck_assert_int_eq(tally_reader_get(r, "b", "s", 0, &m),
	    TALLY_ENOTFOUND);
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_int_eq(node.time, 1700000000);
	ck_assert_int_eq(tally_reader_next(r, &node), 0);
	tally_reader_close(r);
	r2 = open_ok();
	ck_assert_int_eq(tally_reader_get(r2, "a", "c.000000", 0, &m), 0);
	ck_assert_int_eq(m.counter, 2);
	ck_assert_int_eq(tally_reader_get(r2, "b", "s", 0, &m), 0);
	tally_reader_close(r2);
}
END_TEST

/* One reader of a statsfile at a time in a thread; then another. */
START_TEST(test_two_readers)
{
	tally_reader	*r1, *r2;
	tally_node	 n1, n2;

	put_node(dir, "a", NULL, 1700000000, 1, 1, 0);
	r1 = open_ok();
	ck_assert_int_eq(tally_reader_next(r1, &n1), 1);
	/* A second one in the same thread would wait for the first. */
	open_fails(dir, TALLY_ESTATE, "has a reader open on it already");
	ck_assert_int_eq(tally_reader_next(r1, &n1), 0);
	tally_reader_close(r1);
	r2 = open_ok();
	ck_assert_int_eq(tally_reader_next(r2, &n2), 1);
	ck_assert_str_eq(n2.id, "a");
	tally_reader_close(r2);
	tally_reader_close(NULL);
	ck_assert_str_eq(tally_reader_errmsg(NULL), "out of memory");
}
END_TEST

#define LARGE_N	1000

START_TEST(test_large)
{
	struct store		*st;
	struct store_slot	*slots;
	struct record_node	 rn;
	struct snapshot		 snap;
	tally_reader		*r;
	tally_node		 node;
	tally_metric		 m;
	char			(*ids)[16], want[16];
	int			 i, rc;

	ck_assert_ptr_nonnull(slots = calloc(LARGE_N, sizeof *slots));
	ck_assert_ptr_nonnull(ids = calloc(LARGE_N, sizeof *ids));
	memset(&rn, 0, sizeof rn);
	snprintf(rn.nickname, sizeof rn.nickname, "n");
	snprintf(rn.source, sizeof rn.source, "local");
	rn.time = 1700000000;
	snapshot_init(&snap);
	ck_assert_int_eq(snapshot_add_counter(&snap, "x", 1, 42), 0);
	ck_assert_int_eq(snapshot_add_stat(&snap, "y", 1, 0.5), 0);
	snapshot_finish(&snap);
	for (i = 0; i < LARGE_N; i++) {
		snprintf(ids[i], sizeof ids[i], "node-%04d", i);
		slots[i].node_id = ids[i];
		slots[i].rn = &rn;
		slots[i].snap = &snap;
	}
	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_msg(store_write_slots(st, slots, LARGE_N, err,
	    sizeof err) == 0, "%s", err);
	store_close(st);
	r = open_ok();
	for (i = 0; (rc = tally_reader_next(r, &node)) == 1; i++) {
		snprintf(want, sizeof want, "node-%04d", i);
		ck_assert_str_eq(node.id, want);
		ck_assert_int_eq(tally_reader_get(r, node.id, "x", 0, &m), 0);
		ck_assert_int_eq(m.counter, 42);
		ck_assert_int_eq(tally_reader_metrics(r, node.id), 0);
		ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
		ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
		ck_assert_str_eq(m.text, "0.5");
		ck_assert_int_eq(tally_reader_next_metric(r, &m), 0);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(i, LARGE_N);
	tally_reader_close(r);
	snapshot_free(&snap);
	free(slots);
	free(ids);
}
END_TEST

/* 200 nodes of 50 counters: a data.mdb of many pages. */
static void
put_many(void)
{
	char	 id[16];
	int	 i;

	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof id, "n%03d", i);
		put_node(dir, id, NULL, 1700000000, 50, i, 0);
	}
}

/* Cut data.mdb to a quarter under r, then walk everything: the last code. */
static int
cut_and_walk(tally_reader *r)
{
	char		 path[FIXTURE_PATH_MAX + 16];
	struct stat	 sb;
	tally_node	 node;
	tally_metric	 m;
	int		 rc;

	snprintf(path, sizeof path, "%s/data.mdb", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(truncate(path, sb.st_size / 4), 0);
	while ((rc = tally_reader_next(r, &node)) == 1) {
		if ((rc = tally_reader_metrics(r, node.id)) != 0)
			break;
		while ((rc = tally_reader_next_metric(r, &m)) == 1)
			continue;
		if (rc != 0)
			break;
	}
	return rc;
}

/* A truncated data.mdb is an error with a message, never a fault. */
START_TEST(test_truncated)
{
	char		 path[FIXTURE_PATH_MAX + 16];
	struct stat	 sb;

	put_many();
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(truncate(path, sb.st_size / 2), 0);
	open_fails(dir, TALLY_ESTORE, "data.mdb");
}
END_TEST

/*
 * data.mdb cut under an open reader: the pages past the end fault inside
 * LMDB, which the guard catches.  The walk ends with TALLY_ESTORE and the
 * store's message, and the reader stays finished; nothing crashes.
 */
START_TEST(test_truncated_under_reader)
{
	char		 first[TALLY_ERRMSG_LEN];
	tally_reader	*r;
	tally_node	 node;
	tally_metric	 m;
	int		 rc;

	put_many();
	r = open_ok();
	rc = cut_and_walk(r);
	ck_assert_int_eq(rc, TALLY_ESTORE);
	ck_assert_msg(strstr(tally_reader_errmsg(r), "damaged (") != NULL,
	    "%s", tally_reader_errmsg(r));
	snprintf(first, sizeof first, "%s", tally_reader_errmsg(r));
	ck_assert_int_eq(tally_reader_next(r, &node), TALLY_ESTORE);
	ck_assert_int_eq(tally_reader_get(r, "n000", "s", 0, &m),
	    TALLY_ESTORE);
	ck_assert_str_eq(tally_reader_errmsg(r), first);
	tally_reader_close(r);
	/* A new reader is refused with the same words. */
	open_fails(dir, TALLY_ESTORE, "damaged (");
}
END_TEST

/*
 * data.mdb cut in the middle of a walk, between two of its steps: a
 * node's metric walk, then a stat walk across the index.  Each step
 * after the cut reads the file afresh inside the guard, so the walk ends
 * with TALLY_ESTORE and the store's message; no step reads a key it read
 * before the cut, where a fault would kill the process.  (A stat walk
 * reads its keys a batch at a time, copying them under the guard: what
 * it hands out of a batch read before the cut is that copy.)
 */
START_TEST(test_truncated_mid_walk)
{
	char		 path[FIXTURE_PATH_MAX + 16];
	tally_reader	*r;
	tally_metric	 m;
	const char	*id;
	struct stat	 sb;
	int		 i, rc, stat_walk;

	for (stat_walk = 0; stat_walk <= 1; stat_walk++) {
		if (stat_walk) {
			fixture_rmtree(dir);
			ck_assert_ptr_nonnull(fixture_tmpdir(dir));
			put_many();
			ck_assert_msg(tally_statsfile_index(dir, 1, err,
			    sizeof err) == 0, "%s", err);
		} else
			put_node(dir, "a", NULL, 1700000000, 5000, 0, 0);
		snprintf(path, sizeof path, "%s/data.mdb", dir);
		ck_assert_int_eq(stat(path, &sb), 0);
		r = open_ok();
		ck_assert_int_eq(stat_walk ? tally_reader_stat(r, "c.000010",
		    TALLY_COUNTER) : tally_reader_metrics(r, "a"), 0);
		for (i = 0; (rc = stat_walk ? tally_reader_next_stat(r, &id,
		    &m) : tally_reader_next_metric(r, &m)) == 1; i++)
			if (i == 10)
				ck_assert_int_eq(truncate(path, sb.st_size /
				    10), 0);
		ck_assert_int_eq(rc, TALLY_ESTORE);
		ck_assert_int_lt(i, stat_walk ? 200 : 5001);
		ck_assert_msg(strstr(tally_reader_errmsg(r), "damaged (") !=
		    NULL, "%s", tally_reader_errmsg(r));
		tally_reader_close(r);
	}
}
END_TEST

START_TEST(test_quote)
{
	char	 buf[TALLY_QUOTE_LEN], big[1000];

	ck_assert_str_eq(tally_quote(buf, sizeof buf, "a\nb\\", 4),
	    "a\\x0ab\\x5c");
	memset(big, 'x', sizeof big);
	tally_quote(buf, sizeof buf, big, sizeof big);
	ck_assert_uint_eq(strlen(buf), 200);
	ck_assert_str_eq(buf + 197, "...");
	ck_assert_str_eq(tally_quote(buf, 0, "a", 1), "");
	/* A text that fits is never cut, and one that does not says so. */
	tally_quote(buf, sizeof buf, big, 200);
	ck_assert_uint_eq(strlen(buf), 200);
	ck_assert_ptr_null(strchr(buf, '.'));
	big[197] = '\x01';
	tally_quote(buf, sizeof buf, big, 198);
	ck_assert_uint_eq(strlen(buf), 200);
	ck_assert_str_eq(buf + 197, "...");
	ck_assert_str_eq(tally_quote(buf, 8, "\x01\x02", 2), "\\x01...");
}
END_TEST

/* Rewrite node a's counter as 2, 3, ... n times, from a child process. */
static void
rewrite_in_child(int n)
{
	pid_t	 pid;
	int	 i, ws;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		for (i = 0; i < n; i++)
			put_node(dir, "a", NULL, 1700000000 + i, 1, 2 + i, 0);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

/*
 * A child of fork() is refused every call on the parent's reader, and its
 * close frees only memory: the parent's snapshot stays pinned however
 * much is written after (were the child to end the transaction, LMDB
 * would reuse the snapshot's pages under the parent).
 */
START_TEST(test_fork)
{
	tally_reader	*r;
	tally_node	 node;
	tally_metric	 m;
	pid_t		 pid;
	int		 ws, bad;

	put_node(dir, "a", NULL, 1700000000, 1, 1, 0);
	r = open_ok();
	ck_assert_int_eq(tally_reader_get(r, "a", "c.000000", 0, &m), 0);
	ck_assert_int_eq(m.counter, 1);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		bad = tally_reader_next(r, &node) != TALLY_EFORK ||
		    tally_reader_get(r, "a", "s", 0, &m) != TALLY_EFORK ||
		    strstr(tally_reader_errmsg(r), "after fork") == NULL;
		tally_reader_close(r);
		_exit(bad);
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
	    "the child was not refused with TALLY_EFORK");
	rewrite_in_child(40);
	ck_assert_msg(tally_reader_get(r, "a", "c.000000", 0, &m) == 0, "%s",
	    tally_reader_errmsg(r));
	ck_assert_int_eq(m.counter, 1);
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_int_eq(node.time, 1700000000);
	tally_reader_close(r);
}
END_TEST

/*
 * A thread that blocks SIGBUS and SIGSEGV still gets a damaged page as an
 * error, not a killed process; closing the reader blocks them again.
 */
START_TEST(test_faults_blocked)
{
	sigset_t	 all, old, now;
	tally_reader	*r;
	int		 rc;

	put_many();
	sigfillset(&all);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &all, &old), 0);
	r = open_ok();
	rc = cut_and_walk(r);
	ck_assert_int_eq(rc, TALLY_ESTORE);
	tally_reader_close(r);
	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, &now), 0);
	ck_assert(sigismember(&now, SIGBUS) == 1);
	ck_assert(sigismember(&now, SIGSEGV) == 1);
}
END_TEST

/*
 * A write from the thread that holds a reader would wait for that reader
 * forever: TALLY_ESTATE at once, also when a writer of this process
 * opened the statsfile first (the reader then shares its store).
 */
START_TEST(test_write_under_reader)
{
	struct store	*st;
	tally_reader	*r;

	put_node(dir, "a", KEY, 1700000000, 1, 1, 0);
	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	r = open_ok();
	ck_assert_int_eq(tally_statsfile_forget(dir, "a", err, sizeof err),
	    TALLY_ESTATE);
	ck_assert_msg(strstr(err, "reader open on it") != NULL, "%s", err);
	ck_assert_int_eq(tally_statsfile_remove(dir, "a", INT64_MAX, err,
	    sizeof err), TALLY_ESTATE);
	tally_reader_close(r);
	ck_assert_msg(tally_statsfile_forget(dir, "a", err, sizeof err) == 0,
	    "%s", err);
	store_close(st);
}
END_TEST

/* ---- maintenance ------------------------------------------------------- */

START_TEST(test_remove)
{
	char		 path[FIXTURE_PATH_MAX + 16];
	tally_reader	*r;
	tally_node	 node;
	int64_t		 now = (int64_t)time(NULL);

	put_node(dir, "old", NULL, now - 3600, 1, 0, 0);
	put_node(dir, "new", NULL, now, 1, 0, 0);
	put_node(dir, "wild", NULL, 5, 1, 0, 0);
	ck_assert_int_eq(tally_statsfile_remove(dir, "new", now - 60, err,
	    sizeof err), TALLY_ESTATE);
	ck_assert_msg(tally_statsfile_remove(dir, "old", now - 60, err,
	    sizeof err) == 0, "%s", err);
	/* A time that is not sane is older than any cutoff. */
	ck_assert_int_eq(tally_statsfile_remove(dir, "wild", 0, err,
	    sizeof err), 0);
	ck_assert_int_eq(tally_statsfile_remove(dir, "old", now, err,
	    sizeof err), TALLY_ENOTFOUND);
	ck_assert_int_eq(tally_statsfile_remove(dir, "Bad", now, err,
	    sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "invalid node id 'Bad'") != NULL, "%s", err);
	/* A reader of this process holds the statsfile: refused, no wait. */
	r = open_ok();
	ck_assert_int_eq(tally_statsfile_remove(dir, "new", now + 60, err,
	    sizeof err), TALLY_ESTATE);
	ck_assert_msg(strstr(err, "read-only") != NULL, "%s", err);
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_str_eq(node.id, "new");
	ck_assert_int_eq(tally_reader_next(r, &node), 0);
	tally_reader_close(r);
	/* A directory with no database: refused, and none is created. */
	snprintf(path, sizeof path, "%s/empty", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(tally_statsfile_remove(path, "new", now, err,
	    sizeof err), TALLY_ESTORE);
	ck_assert_msg(strstr(err, "no database yet") != NULL, "%s", err);
	ck_assert_int_eq(tally_statsfile_forget(path, "new", NULL, 0),
	    TALLY_ESTORE);
	ck_assert_int_eq(rmdir(path), 0);
}
END_TEST

START_TEST(test_forget)
{
	tally_reader	*r;
	tally_node	 node;

	put_node(dir, "a", KEY, 1700000000, 1, 0, 0);
	put_node(dir, "b", NULL, 1700000000, 1, 0, 0);
	ck_assert_msg(tally_statsfile_forget(dir, "a", err, sizeof err) == 0,
	    "%s", err);
	ck_assert_int_eq(tally_statsfile_forget(dir, "a", err, sizeof err),
	    TALLY_ESTATE);
	ck_assert_int_eq(tally_statsfile_forget(dir, "b", err, sizeof err),
	    TALLY_ESTATE);
	ck_assert_int_eq(tally_statsfile_forget(dir, "zz", err, sizeof err),
	    TALLY_ENOTFOUND);
	ck_assert_int_eq(tally_statsfile_forget(dir, "", err, sizeof err),
	    TALLY_EINVAL);
	r = open_ok();
	ck_assert_int_eq(tally_reader_next(r, &node), 1);
	ck_assert_ptr_null(node.key);
	ck_assert_str_eq(node.nickname, "nick a");
	tally_reader_close(r);
}
END_TEST

struct problems {
	int	 n;
	char	 all[4096];
};

static void
problem_cb(void *ctx, const char *msg)
{
	struct problems	*p = ctx;
	size_t		 len = strlen(p->all);

	p->n++;
	snprintf(p->all + len, sizeof p->all - len, "%s\n", msg);
}

START_TEST(test_check)
{
	tally_check_counts	 c;
	struct problems		 p;
	int64_t			 now = 1700000100;

	put_node(dir, "a", NULL, 1700000000, 2, 0, 0);
	memset(&p, 0, sizeof p);
	ck_assert_msg(tally_statsfile_check(dir, now, problem_cb, &p, &c, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(c.problems, 0);
	ck_assert_uint_eq(c.nodes, 1);
	ck_assert_uint_eq(c.counters, 2);
	ck_assert_uint_eq(c.stats, 1);
	ck_assert_int_eq(p.n, 0);

	put_node(dir, "w", NULL, 5, 0, 0, 0);
	put_raw("nodes", "B", 1, "nickname=x\ntime=1\nsource=local\n");
	put_raw("nodes", "g", 1, "garbage");
	put_raw("counters", "a/c.000000", 10, "12x");
	put_raw("counters", "nokey", 5, "1");
	put_raw("stats", "o/s", 3, "1");
	put_raw("stats", "a/t", 3, "zz");
	put_raw("stats", "a/b d", 5, "1");
	ck_assert_msg(tally_statsfile_check(dir, now, problem_cb, &p, &c, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(c.nodes, 4);
	ck_assert_uint_eq(c.counters, 3);
	ck_assert_uint_eq(c.stats, 5);
	ck_assert_uint_eq(c.problems, 8);
	ck_assert_int_eq(p.n, 8);
	ck_assert_msg(strstr(p.all, "nodes key 'B': not a valid node id\n")
	    != NULL, "%s", p.all);
	ck_assert_msg(strstr(p.all, "node g: ") != NULL, "%s", p.all);
	ck_assert_msg(strstr(p.all, "node w: time 5 out of range (before "
	    "2000-01-01 or more than a day ahead): a wrong clock\n") != NULL,
	    "%s", p.all);
	ck_assert_msg(strstr(p.all, "counters key 'a/c.000000': value '12x' "
	    "is not a 64-bit integer\n") != NULL, "%s", p.all);
	ck_assert_msg(strstr(p.all, "counters key 'nokey': not <node id>/"
	    "<stat name>\n") != NULL, "%s", p.all);
	ck_assert_msg(strstr(p.all, "stats key 'o/s': node o is not in the "
	    "nodes table (an orphan; its other keys are not listed)\n") !=
	    NULL, "%s", p.all);
	ck_assert_msg(strstr(p.all, "stats key 'a/t': value 'zz' is not a "
	    "number\n") != NULL, "%s", p.all);
	ck_assert_msg(strstr(p.all, "stats key 'a/b d': not a valid stat "
	    "name\n") != NULL, "%s", p.all);
	/* No callback, no counts: fine too. */
	ck_assert_int_eq(tally_statsfile_check(dir, now, NULL, NULL, NULL,
	    NULL, 0), 0);
	fixture_rmtree(dir);
	ck_assert_int_eq(tally_statsfile_check(dir, now, NULL, NULL, &c, err,
	    sizeof err), TALLY_ESTORE);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
}
END_TEST

int
main(void)
{
	const struct fixture_test	 tests[] = {
		{ "reader", test_nodes, 0, FIXTURE_TIMEOUT },
		{ "reader", test_node_lookups, 0, FIXTURE_TIMEOUT },
		{ "reader", test_get, 0, FIXTURE_TIMEOUT },
		{ "reader", test_metrics, 0, FIXTURE_TIMEOUT },
		{ "reader", test_missing, 0, FIXTURE_TIMEOUT },
		{ "reader", test_foreign, 0, FIXTURE_TIMEOUT },
		{ "reader", test_newer_format, 0, FIXTURE_TIMEOUT },
		{ "reader", test_unwritable_lock, 0, FIXTURE_TIMEOUT },
		{ "reader", test_bad_node_skipped, 0, FIXTURE_TIMEOUT },
		{ "reader", test_bad_value, 0, FIXTURE_TIMEOUT },
		{ "reader", test_consistent_view, 0, FIXTURE_TIMEOUT },
		{ "reader", test_two_readers, 0, FIXTURE_TIMEOUT },
		{ "reader", test_large, 0, FIXTURE_TIMEOUT },
		{ "reader", test_truncated, 0, FIXTURE_TIMEOUT },
		{ "reader", test_truncated_under_reader, 0, FIXTURE_TIMEOUT },
		{ "reader", test_truncated_mid_walk, 0, FIXTURE_TIMEOUT },
		{ "reader", test_quote, 0, FIXTURE_TIMEOUT },
		{ "reader", test_fork, 0, FIXTURE_TIMEOUT },
		{ "reader", test_faults_blocked, 0, FIXTURE_TIMEOUT },
		{ "reader", test_write_under_reader, 0, FIXTURE_TIMEOUT },
		{ "reader", test_remove, 0, FIXTURE_TIMEOUT },
		{ "reader", test_forget, 0, FIXTURE_TIMEOUT },
		{ "reader", test_check, 0, FIXTURE_TIMEOUT },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "reader", setup, teardown, NULL, NULL },
	};

	return fixture_main("reader", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
