/*
 * check_store.c: the LMDB environment, on real environments in temporary
 * directories.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tally-int.h"
#include "fixture.h"

static char	 dir[FIXTURE_PATH_MAX];
static char	 err[TALLY_ERRLEN];

static void
setup(void)
{
	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	err[0] = '\0';
	store_mapsize_min = STORE_MAPSIZE_MIN;
}

static void
teardown(void)
{
	fixture_rmtree(dir);
}

static void
fill(struct snapshot *snap, const char *prefix, int n, int64_t base)
{
	char	 name[64];
	int	 i;

	for (i = 0; i < n; i++) {
		int len = snprintf(name, sizeof name, "%s.%06d", prefix, i);
		ck_assert_int_eq(snapshot_add_counter(snap, name, (size_t)len,
		    base + i), 0);
	}
}

static void
node_rec(struct record_node *rn, const char *nick)
{
	memset(rn, 0, sizeof *rn);
	snprintf(rn->nickname, sizeof rn->nickname, "%s", nick);
	snprintf(rn->source, sizeof rn->source, "local");
	rn->time = (int64_t)time(NULL);
	rn->interval = 10;
}

/* Read one value through a read-only store; returns 1 found, 0 not. */
static int
get(const char *node, enum store_db db, const char *stat, char *out,
    size_t outlen)
{
	struct store		*st;
	struct store_reader	 r;
	MDB_val			 v;
	int			 rc;

	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    0);
	ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err), 0);
	rc = store_reader_get(&r, db, node, strlen(node), stat, strlen(stat),
	    &v);
	ck_assert_int_ge(rc, 0);
	if (rc == 1)
		snprintf(out, outlen, "%.*s", (int)v.mv_size,
		    (const char *)v.mv_data);
	store_reader_end(&r);
	store_close(st);
	return rc;
}

START_TEST(test_create_layout)
{
	struct store	*st;
	struct stat	 sb;
	char		 path[FIXTURE_PATH_MAX + 16];
	mode_t		 old = umask(077);

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	umask(old);
	/* 0660 whatever the umask, so a group can read. */
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0660);
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0660);
	store_close(st);
}
END_TEST

START_TEST(test_write_and_read)
{
	struct store		*st;
	struct snapshot		 snap;
	struct record_node	 rn, back;
	struct store_reader	 r;
	MDB_val			 id, rec;
	char			 val[64];
	int			 n = 0;

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&snap);
	ck_assert_int_eq(snapshot_add_counter(&snap, "ops.get", 7, 41), 0);
	ck_assert_int_eq(snapshot_add_stat(&snap, "space.used", 10, 0.5), 0);
	ck_assert_int_eq(snapshot_add_stat(&snap, "lat.p99", 7, NAN), 0);
	snapshot_finish(&snap);
	node_rec(&rn, "one");
	ck_assert_int_eq(store_write_slot(st, "n1", &rn, &snap, err,
	    sizeof err), 0);
	store_close(st);

	ck_assert_int_eq(get("n1", STORE_COUNTERS, "ops.get", val, sizeof val),
	    1);
	ck_assert_str_eq(val, "41");
	ck_assert_int_eq(get("n1", STORE_STATS, "space.used", val, sizeof val),
	    1);
	ck_assert_str_eq(val, "0.5");
	ck_assert_int_eq(get("n1", STORE_STATS, "lat.p99", val, sizeof val),
	    1);
	ck_assert_str_eq(val, "nan");
	ck_assert_int_eq(get("n1", STORE_STATS, "nope", val, sizeof val), 0);
	ck_assert_int_eq(get("n1", STORE_META, "", val, sizeof val), 0);

	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    0);
	ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err), 0);
	while (store_reader_next(&r, &id, &rec) == 1) {
		n++;
		ck_assert_int_eq((int)id.mv_size, 2);
		ck_assert_int_eq(record_node_parse(rec.mv_data, rec.mv_size,
		    &back, err, sizeof err), 0);
		ck_assert_str_eq(back.nickname, "one");
	}
	ck_assert_int_eq(n, 1);
	store_reader_end(&r);
	store_close(st);
	snapshot_free(&snap);
}
END_TEST

/* A snapshot replaces the slot: keys it lacks are gone, others stay. */
START_TEST(test_replace_slot)
{
	struct store		*st;
	struct snapshot		 a, b;
	struct record_node	 rn;
	char			 val[64];

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&a);
	snapshot_init(&b);
	fill(&a, "x", 100, 0);
	snapshot_finish(&a);
	node_rec(&rn, "one");
	ck_assert_int_eq(store_write_slot(st, "n1", &rn, &a, err, sizeof err),
	    0);
	/* A neighbour whose id is a prefix-plus-more must be untouched. */
	ck_assert_int_eq(store_write_slot(st, "n1-b", &rn, &a, err,
	    sizeof err), 0);
	ck_assert_int_eq(store_write_slot(st, "n", &rn, &a, err, sizeof err),
	    0);
	fill(&b, "x", 50, 1000);
	ck_assert_int_eq(snapshot_add_counter(&b, "y.new", 5, 9), 0);
	snapshot_finish(&b);
	ck_assert_int_eq(store_write_slot(st, "n1", &rn, &b, err, sizeof err),
	    0);
	store_close(st);

	ck_assert_int_eq(get("n1", STORE_COUNTERS, "x.000049", val,
	    sizeof val), 1);
	ck_assert_str_eq(val, "1049");
	ck_assert_int_eq(get("n1", STORE_COUNTERS, "x.000050", val,
	    sizeof val), 0);
	ck_assert_int_eq(get("n1", STORE_COUNTERS, "y.new", val, sizeof val),
	    1);
	ck_assert_int_eq(get("n1-b", STORE_COUNTERS, "x.000099", val,
	    sizeof val), 1);
	ck_assert_str_eq(val, "99");
	ck_assert_int_eq(get("n", STORE_COUNTERS, "x.000099", val,
	    sizeof val), 1);
	snapshot_free(&a);
	snapshot_free(&b);
}
END_TEST

START_TEST(test_duplicates_keep_last)
{
	struct store		*st;
	struct snapshot		 s;
	struct record_node	 rn;
	char			 val[64];

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&s);
	snapshot_add_stat(&s, "a", 1, 1);
	snapshot_add_stat(&s, "b", 1, 2);
	snapshot_add_stat(&s, "a", 1, 3);
	snapshot_finish(&s);
	ck_assert_uint_eq(s.nstats, 2);
	node_rec(&rn, "one");
	ck_assert_int_eq(store_write_slot(st, "n1", &rn, &s, err, sizeof err),
	    0);
	store_close(st);
	ck_assert_int_eq(get("n1", STORE_STATS, "a", val, sizeof val), 1);
	ck_assert_str_eq(val, "3");
	snapshot_free(&s);
}
END_TEST

static int
sum_cb(void *ctx, const char *name, size_t len, int64_t v)
{
	*(int64_t *)ctx += v;
	return 0;
}

START_TEST(test_read_counters)
{
	struct store		*st;
	struct snapshot		 s;
	struct record_node	 rn;
	int64_t			 sum = 0;

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&s);
	fill(&s, "c", 10, 1);		/* 1..10 */
	snapshot_finish(&s);
	node_rec(&rn, "one");
	ck_assert_int_eq(store_write_slot(st, "n1", &rn, &s, err, sizeof err),
	    0);
	ck_assert_int_eq(store_write_slot(st, "n10", &rn, &s, err,
	    sizeof err), 0);
	ck_assert_int_eq(store_read_counters(st, "n1", sum_cb, &sum, err,
	    sizeof err), 0);
	ck_assert(sum == 55);
	store_close(st);
	snapshot_free(&s);
}
END_TEST

START_TEST(test_refcount_one_env)
{
	struct store	*a, *b, *c;

	ck_assert_int_eq(store_open(&a, dir, 0, err, sizeof err), 0);
	ck_assert_int_eq(store_open(&b, dir, 0, err, sizeof err), 0);
	ck_assert_ptr_eq(a, b);
	/* A reader in the same process shares the writer's environment. */
	ck_assert_int_eq(store_open(&c, dir, STORE_RDONLY, err, sizeof err),
	    0);
	ck_assert_ptr_eq(a, c);
	store_close(c);
	store_close(b);
	store_close(a);
}
END_TEST

START_TEST(test_map_grows)
{
	struct store		*st;
	struct snapshot		 s;
	struct record_node	 rn;
	char			 val[64];

	store_mapsize_min = 1 << 20;
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&s);
	fill(&s, "a.rather.long.counter.name.to.fill.the.map.quickly", 40000,
	    0);
	snapshot_finish(&s);
	node_rec(&rn, "big");
	ck_assert_msg(store_write_slot(st, "big", &rn, &s, err, sizeof err) ==
	    0, "%s", err);
	store_close(st);
	ck_assert_int_eq(get("big", STORE_COUNTERS, "a.rather.long.counter."
	    "name.to.fill.the.map.quickly.039999", val, sizeof val), 1);
	ck_assert_str_eq(val, "39999");
	snapshot_free(&s);
}
END_TEST

/* Another process grows the map; this one adopts it on MDB_MAP_RESIZED. */
START_TEST(test_map_resized_by_other)
{
	struct store		*st, *cs;
	struct snapshot		 s, small;
	struct record_node	 rn;
	char			 val[64];
	pid_t			 pid;
	int			 status;

	store_mapsize_min = 1 << 20;
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&small);
	fill(&small, "s", 3, 0);
	snapshot_finish(&small);
	node_rec(&rn, "parent");
	ck_assert_int_eq(store_write_slot(st, "parent", &rn, &small, err,
	    sizeof err), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		/* A new process (pid differs): its own environment. */
		if (store_open(&cs, dir, 0, err, sizeof err) != 0)
			_exit(2);
		snapshot_init(&s);
		fill(&s, "a.rather.long.counter.name.to.fill.the.map", 40000,
		    0);
		snapshot_finish(&s);
		node_rec(&rn, "child");
		_exit(store_write_slot(cs, "child", &rn, &s, err,
		    sizeof err) == 0 ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_msg(store_write_slot(st, "parent", &rn, &small, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_int_eq(get("child", STORE_COUNTERS, "a.rather.long.counter."
	    "name.to.fill.the.map.039999", val, sizeof val), 1);
	store_close(st);
	snapshot_free(&small);
}
END_TEST

START_TEST(test_fork_refused)
{
	struct store		*st;
	struct snapshot		 s;
	struct record_node	 rn;
	pid_t			 pid;
	int			 status;

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&s);
	node_rec(&rn, "x");
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		int rc = store_write_slot(st, "x", &rn, &s, err, sizeof err);
		_exit(rc == TALLY_EFORK && strstr(err, "fork") ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* The parent's environment still works. */
	ck_assert_int_eq(store_write_slot(st, "x", &rn, &s, err, sizeof err),
	    0);
	store_close(st);
}
END_TEST

START_TEST(test_delete_slot)
{
	struct store		*st;
	struct snapshot		 s;
	struct record_node	 rn;
	char			 val[64];

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&s);
	fill(&s, "c", 3, 0);
	snapshot_finish(&s);
	node_rec(&rn, "x");
	ck_assert_int_eq(store_write_slot(st, "gone", &rn, &s, err,
	    sizeof err), 0);
	ck_assert_int_eq(store_write_slot(st, "kept", &rn, &s, err,
	    sizeof err), 0);
	ck_assert_int_eq(store_delete_slot(st, "gone", err, sizeof err), 0);
	ck_assert_int_eq(store_delete_slot(st, "gone", err, sizeof err),
	    TALLY_ENOTFOUND);
	store_close(st);
	ck_assert_int_eq(get("gone", STORE_COUNTERS, "c.000001", val,
	    sizeof val), 0);
	ck_assert_int_eq(get("kept", STORE_COUNTERS, "c.000001", val,
	    sizeof val), 1);
	snapshot_free(&s);
}
END_TEST

/* Bad statsfiles: each refused with a precise message. */
START_TEST(test_missing_dir)
{
	struct store	*st;
	char		 path[FIXTURE_PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/nope", dir);
	ck_assert_int_eq(store_open(&st, path, 0, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_int_eq(store_open(&st, NULL, 0, err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_msg(strstr(err, "not set") != NULL, "%s", err);
}
END_TEST

START_TEST(test_regular_file)
{
	struct store	*st;
	char		 path[FIXTURE_PATH_MAX + 16];
	int		 fd;

	snprintf(path, sizeof path, "%s/file", dir);
	ck_assert_int_ge(fd = open(path, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	ck_assert_int_eq(store_open(&st, path, 0, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
}
END_TEST

START_TEST(test_garbage)
{
	struct store	*st;
	char		 path[FIXTURE_PATH_MAX + 16], junk[8192];
	int		 fd;

	snprintf(path, sizeof path, "%s/data.mdb", dir);
	ck_assert_int_ge(fd = open(path, O_CREAT | O_WRONLY, 0600), 0);
	memset(junk, 'j', sizeof junk);
	ck_assert_int_eq(write(fd, junk, sizeof junk), (int)sizeof junk);
	close(fd);
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "not an LMDB environment") != NULL, "%s",
	    err);
	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "not an LMDB environment") != NULL, "%s",
	    err);
}
END_TEST

/* Write a raw LMDB environment, as another program or version would. */
static void
raw_env(const char *db, const char *key, const char *val)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k = { strlen(key), (void *)key }, v = { strlen(val),
	    (void *)val };

	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

START_TEST(test_unknown_format)
{
	struct store	*st;

	raw_env("meta", "format", "2");
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err),
	    TALLY_EFORMAT);
	ck_assert_msg(strstr(err, "format '2'") != NULL, "%s", err);
	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    TALLY_EFORMAT);
	ck_assert_msg(strstr(err, "format '2'") != NULL, "%s", err);
}
END_TEST

START_TEST(test_foreign_env)
{
	struct store	*st;

	raw_env("something", "else", "entirely");
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err),
	    TALLY_EFORMAT);
	ck_assert_msg(strstr(err, "not a tally database") != NULL, "%s", err);
}
END_TEST

START_TEST(test_reader_needs_data)
{
	struct store	*st;

	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "no database yet") != NULL, "%s", err);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("store");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_create_layout);
	tcase_add_test(tc, test_write_and_read);
	tcase_add_test(tc, test_replace_slot);
	tcase_add_test(tc, test_duplicates_keep_last);
	tcase_add_test(tc, test_read_counters);
	tcase_add_test(tc, test_refcount_one_env);
	tcase_add_test(tc, test_map_grows);
	tcase_add_test(tc, test_map_resized_by_other);
	tcase_add_test(tc, test_fork_refused);
	tcase_add_test(tc, test_delete_slot);
	tcase_add_test(tc, test_missing_dir);
	tcase_add_test(tc, test_regular_file);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_unknown_format);
	tcase_add_test(tc, test_foreign_env);
	tcase_add_test(tc, test_reader_needs_data);
	suite_add_tcase(s, tc);
	return fixture_run(s);
}
