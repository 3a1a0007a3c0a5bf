/*
 * check_index.c: the stat index of format 2 (tally(5)): tally index
 * (tally_statsfile_index) makes it from a statsfile of format 1 and drops
 * it again; while it is there, every write keeps counters-by-stat and
 * stats-by-stat equal to counters and stats keyed stat first, also in a
 * process that opened the file before another made or dropped it; the
 * reader's stat walk (tally_reader_stat) gives the same nodes and values
 * with and without it; tally check finds an index that differs.
 * Real LMDB environments in temporary directories, read back with LMDB
 * itself.
 */
#include <check.h>
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
static char	 err[TALLY_ERRLEN];

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

/*
 * Node id's slot: counters c.000..c.(n-1) = base + i, stats s.000.. =
 * base + i + 0.5; written through st, its outcome returned (err set).
 */
static int
write_slot_rc(struct store *st, const char *id, int n, int64_t base)
{
	struct record_node	 rn;
	struct snapshot		 snap;
	char			 name[32];
	int			 i, len, rc;

	memset(&rn, 0, sizeof rn);
	snprintf(rn.nickname, sizeof rn.nickname, "nick %s", id);
	snprintf(rn.source, sizeof rn.source, "local");
	rn.time = (int64_t)time(NULL);
	snapshot_init(&snap);
	for (i = 0; i < n; i++) {
		len = snprintf(name, sizeof name, "c.%03d", i);
		ck_assert_int_eq(snapshot_add_counter(&snap, name, (size_t)len,
		    base + i), 0);
		len = snprintf(name, sizeof name, "s.%03d", i);
		ck_assert_int_eq(snapshot_add_stat(&snap, name, (size_t)len,
		    (double)(base + i) + 0.5), 0);
	}
	snapshot_finish(&snap);
	rc = store_write_slot(st, id, &rn, &snap, err, sizeof err);
	snapshot_free(&snap);
	return rc;
}

/* The same, which must succeed. */
static void
put_slot(struct store *st, const char *id, int n, int64_t base)
{
	ck_assert_msg(write_slot_rc(st, id, n, base) == 0, "%s", err);
}

/* tally index, or tally index --off: must succeed. */
static void
index_set(int on)
{
	ck_assert_msg(tally_statsfile_index(dir, on, err, sizeof err) == 0,
	    "%s", err);
}

static void
write_slot(const char *id, int n, int64_t base)
{
	struct store	*st;

	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	put_slot(st, id, n, base);
	store_close(st);
}

/*
 * A table read with LMDB itself, as lines "key=value\n", keys turned
 * stat first if swap is set (a node-major table), sorted; NULL if the
 * table is not there.  The caller frees it.
 */
static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
table_text(const char *table, int swap)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	char		**lines = NULL, *out, *p;
	const char	*slash;
	size_t		 n = 0, cap = 0, len = 1, i, nl;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, STORE_MAXDBS);
	ck_assert_int_eq(mdb_env_open(env, dir, MDB_RDONLY, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	if (mdb_dbi_open(txn, table, 0, &dbi) != 0) {
		mdb_txn_abort(txn);
		mdb_env_close(env);
		return NULL;
	}
	ck_assert_int_eq(mdb_cursor_open(txn, dbi, &cur), 0);
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			lines = realloc(lines, cap * sizeof *lines);
			ck_assert_ptr_nonnull(lines);
		}
		slash = memchr(k.mv_data, '/', k.mv_size);
		ck_assert(slash != NULL || !swap);
		nl = slash != NULL ? (size_t)(slash - (const char *)k.mv_data) :
		    0;
		if (swap)
			ck_assert_int_gt(asprintf(&lines[n], "%.*s/%.*s=%.*s\n",
			    (int)(k.mv_size - nl - 1), slash + 1, (int)nl,
			    (const char *)k.mv_data, (int)v.mv_size,
			    (const char *)v.mv_data), 0);
		else
			ck_assert_int_gt(asprintf(&lines[n], "%.*s=%.*s\n",
			    (int)k.mv_size, (const char *)k.mv_data,
			    (int)v.mv_size, (const char *)v.mv_data), 0);
		len += strlen(lines[n++]);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	qsort(lines, n, sizeof *lines, line_cmp);
	ck_assert_ptr_nonnull(out = p = malloc(len));
	*p = '\0';
	for (i = 0; i < n; i++) {
		p = stpcpy(p, lines[i]);
		free(lines[i]);
	}
	free(lines);
	return out;
}

/*
 * Each index holds exactly its table, keyed stat first: nc counters and
 * ns stats.
 */
static void
assert_index2(size_t nc, size_t ns)
{
	static const char *const tables[][2] = {
		{ "counters", "counters-by-stat" },
		{ "stats", "stats-by-stat" },
	};
	char	*want, *got;
	size_t	 i, lines;
	char	*p;

	for (i = 0; i < 2; i++) {
		want = table_text(tables[i][0], 1);
		got = table_text(tables[i][1], 0);
		ck_assert_ptr_nonnull(want);
		ck_assert_msg(got != NULL, "no %s", tables[i][1]);
		ck_assert_str_eq(got, want);
		for (lines = 0, p = got; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		ck_assert_uint_eq(lines, i == 0 ? nc : ns);
		free(want);
		free(got);
	}
}

/* The same, as many stats as counters. */
static void
assert_index(size_t n)
{
	assert_index2(n, n);
}

/* The format in meta, read with LMDB itself. */
static char *
meta_format(void)
{
	char	*text = table_text("meta", 0);

	ck_assert_ptr_nonnull(text);
	return text;
}

/* The format a reader sees: 1 without the index, 2 with it. */
static int
reader_format(void)
{
	tally_reader	*r;
	int		 f;

	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	f = tally_reader_format(r);
	tally_reader_close(r);
	return f;
}

/* Writes, changes, removals and deletes keep the index equal. */
START_TEST(test_mirror)
{
	struct store	*st;

	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	put_slot(st, "a", 5, 10);
	put_slot(st, "b", 5, 20);
	store_close(st);
	ck_assert_int_eq(reader_format(), 1);
	index_set(1);
	ck_assert_int_eq(reader_format(), 2);
	assert_index(10);
	/* Changed values, and fewer stats: the rest is deleted. */
	write_slot("a", 3, 100);
	assert_index(8);
	/* More again, and a new node. */
	write_slot("a", 6, 7);
	write_slot("c", 1, 1);
	assert_index(12);
	ck_assert_int_eq(tally_statsfile_remove(dir, "b", INT64_MAX, err,
	    sizeof err), 0);
	assert_index(7);
	/* An empty snapshot leaves the node nothing, in both. */
	write_slot("a", 0, 0);
	assert_index(1);
}
END_TEST

/*
 * A statsfile of format 1, as the previous release wrote it: meta, nodes,
 * counters and stats, no index.
 */
static void
format1_env(void)
{
	static const char *const rows[][3] = {
		{ "meta", "format", "1" },
		{ "nodes", "old", "nickname=o\ntime=%lld\nsource=local\n" },
		{ "nodes", "two", "nickname=t\ntime=%lld\nsource=local\n" },
		{ "counters", "old/c.000", "41" },
		{ "counters", "two/c.000", "42" },
		{ "counters", "two/c.001", "43" },
		{ "stats", "old/s.000", "0.25" },
	};
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k, v;
	char	 val[128];
	size_t	 i;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, STORE_MAXDBS);
	mdb_env_set_mapsize(env, STORE_MAPSIZE_MIN);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(val, sizeof val, rows[i][2],
		    (long long)time(NULL));
		ck_assert_int_eq(mdb_dbi_open(txn, rows[i][0], MDB_CREATE,
		    &dbi), 0);
		k.mv_data = (void *)rows[i][1];
		k.mv_size = strlen(rows[i][1]);
		v.mv_data = val;
		v.mv_size = strlen(val);
		ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* A stat walk's "node=value ..." over dir, through the public reader. */
static char *
walk_text(const char *name, int kind)
{
	tally_reader	*r;
	tally_metric	 m;
	const char	*id;
	char		*out = strdup(""), *tmp;
	int		 rc;

	ck_assert_msg(tally_reader_open(&r, dir) == 0, "%s",
	    tally_reader_errmsg(r));
	ck_assert_int_eq(tally_reader_stat(r, name, kind), 0);
	while ((rc = tally_reader_next_stat(r, &id, &m)) == 1) {
		ck_assert_ptr_null(m.error);
		ck_assert_int_gt(asprintf(&tmp, "%s%s=%s ", out, id, m.text),
		    0);
		free(out);
		out = tmp;
	}
	ck_assert_int_eq(rc, 0);
	/* The end stays the end. */
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 0);
	tally_reader_close(r);
	return out;
}

/*
 * Format 1 is read and written as it is; tally index makes the index from
 * it, --off drops it again; the stat walk answers the same throughout.
 */
START_TEST(test_index_on_off)
{
	tally_check_counts	 c;
	char			*text;

	format1_env();
	text = walk_text("c.000", TALLY_COUNTER);
	ck_assert_str_eq(text, "old=41 two=42 ");
	free(text);
	text = walk_text("s.000", TALLY_STAT);
	ck_assert_str_eq(text, "old=0.25 ");
	free(text);
	/* A write leaves it as it is: no index, format 1. */
	write_slot("new", 2, 5);
	ck_assert_ptr_null(table_text("counters-by-stat", 0));
	/* A stray table of the index's name: its keys do not survive. */
	fixture_put_raw(dir, "counters-by-stat", "c.000/gone", 10, "7");
	text = meta_format();
	ck_assert_str_eq(text, "format=1\n");
	free(text);
	index_set(1);
	text = meta_format();
	ck_assert_str_eq(text, "format=2\n");
	free(text);
	assert_index2(5, 3);
	text = walk_text("c.000", TALLY_COUNTER);
	ck_assert_str_eq(text, "new=5 old=41 two=42 ");
	free(text);
	ck_assert_msg(tally_statsfile_check(dir, (int64_t)time(NULL), NULL,
	    NULL, &c, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(c.problems, 0);
	/* Twice is said, and changes nothing. */
	ck_assert_int_eq(tally_statsfile_index(dir, 1, err, sizeof err),
	    TALLY_ESTATE);
	ck_assert_msg(strstr(err, "the stat index is there already") != NULL,
	    "%s", err);
	index_set(0);
	ck_assert_ptr_null(table_text("counters-by-stat", 0));
	ck_assert_ptr_null(table_text("stats-by-stat", 0));
	text = meta_format();
	ck_assert_str_eq(text, "format=1\n");
	free(text);
	text = walk_text("c.000", TALLY_COUNTER);
	ck_assert_str_eq(text, "new=5 old=41 two=42 ");
	free(text);
	ck_assert_int_eq(tally_statsfile_index(dir, 0, err, sizeof err),
	    TALLY_ESTATE);
	/* No statsfile: said, and none made. */
	fixture_rmtree(dir);
	ck_assert_int_eq(tally_statsfile_index(dir, 1, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_int_ne(access(dir, F_OK), 0);
}
END_TEST

/* A prune deletes in both. */
START_TEST(test_format1_remove)
{
	format1_env();
	index_set(1);
	ck_assert_int_eq(tally_statsfile_remove(dir, "two", INT64_MAX, err,
	    sizeof err), 0);
	assert_index(1);
}
END_TEST

/*
 * A format-1 file holding a table of the index's name made with other
 * flags (MDB_DUPSORT, a hostile or foreign file): tally index drops it
 * whole and makes it again, plain.
 */
START_TEST(test_index_over_flagged)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k = { 9, (void *)"c.000/old" }, v = { 1, (void *)"1" };
	unsigned	 flags;

	format1_env();
	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, STORE_MAXDBS);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "counters-by-stat", MDB_CREATE |
	    MDB_DUPSORT, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	v.mv_data = (void *)"2";
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	index_set(1);
	assert_index2(3, 1);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, STORE_MAXDBS);
	ck_assert_int_eq(mdb_env_open(env, dir, MDB_RDONLY, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "counters-by-stat", 0, &dbi), 0);
	ck_assert_int_eq(mdb_dbi_flags(txn, dbi, &flags), 0);
	ck_assert_uint_eq(flags, 0);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}
END_TEST

/* Another process makes or drops the index while this one has it open. */
static int
index_child(const void *arg, char *msg, size_t msglen)
{
	return tally_statsfile_index(dir, *(const int *)arg, msg, msglen);
}

START_TEST(test_converted_meanwhile)
{
	struct store		*st;
	struct fixture_child	 c;
	char			*text;

	static const int on = 1, off = 0;

	format1_env();
	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_int_eq(st->idx, STORE_IDX_NONE);
	fixture_child(index_child, &on, 0, &c);
	ck_assert_msg(c.rc == 0, "child: %d %s", c.rc, c.msg);
	/* This store finds the index at its next write, and keeps it. */
	put_slot(st, "two", 1, 77);
	ck_assert_int_eq(st->idx, STORE_IDX_READY);
	assert_index2(2, 2);
	text = walk_text("c.000", TALLY_COUNTER);
	ck_assert_str_eq(text, "old=41 two=77 ");
	free(text);
	/* Dropped meanwhile: the next write stops mirroring, and lands. */
	fixture_child(index_child, &off, 0, &c);
	ck_assert_msg(c.rc == 0, "child: %d %s", c.rc, c.msg);
	put_slot(st, "two", 1, 78);
	ck_assert_int_eq(st->idx, STORE_IDX_NONE);
	store_close(st);
	ck_assert_ptr_null(table_text("counters-by-stat", 0));
	text = meta_format();
	ck_assert_str_eq(text, "format=1\n");
	free(text);
	text = walk_text("c.000", TALLY_COUNTER);
	ck_assert_str_eq(text, "old=41 two=78 ");
	free(text);
}
END_TEST

/*
 * Another process drops the index after this one opened the statsfile
 * (seeing format 2) and before its reader begins: the reader finds format
 * 1 in its own transaction and walks the node-major tables, every node in
 * the answer; the next write of this process finds the same.
 */
START_TEST(test_dropped_under_reader)
{
	struct store		*st;
	struct fixture_child	 c;
	char			*text;

	static const int off = 0;

	format1_env();
	index_set(1);
	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_int_eq(st->idx, STORE_IDX_READY);
	fixture_child(index_child, &off, 0, &c);
	ck_assert_msg(c.rc == 0, "child: %d %s", c.rc, c.msg);
	/* The reader shares st, opened before the drop. */
	text = walk_text("c.000", TALLY_COUNTER);
	ck_assert_str_eq(text, "old=41 two=42 ");
	free(text);
	ck_assert_int_eq(st->idx, STORE_IDX_NONE);
	put_slot(st, "two", 1, 78);
	ck_assert_int_eq(st->idx, STORE_IDX_NONE);
	text = walk_text("c.000", TALLY_COUNTER);
	ck_assert_str_eq(text, "old=41 two=78 ");
	free(text);
	store_close(st);
	ck_assert_ptr_null(table_text("counters-by-stat", 0));
}
END_TEST

/*
 * Another process sets format 2 over index tables made with LMDB flags
 * (MDB_DUPSORT) while this store is open: its next write is refused,
 * saying so, and the node's values stay as they were.
 */
START_TEST(test_flagged_meanwhile)
{
	static const char *const names[] = { "counters-by-stat",
	    "stats-by-stat" };
	struct store	*st;
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k = { 6, (void *)"format" }, v = { 1, (void *)"2" };
	char		*text;
	size_t		 i;

	format1_env();
	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, STORE_MAXDBS);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (i = 0; i < FIXTURE_N(names); i++)
		ck_assert_int_eq(mdb_dbi_open(txn, names[i], MDB_CREATE |
		    MDB_DUPSORT, &dbi), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	ck_assert_int_lt(write_slot_rc(st, "two", 1, 77), 0);
	ck_assert_msg(strstr(err, "flags") != NULL, "%s", err);
	store_close(st);
	text = table_text("counters", 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "two/c.000=42\n") != NULL, "%s", text);
	free(text);
}
END_TEST

/* The stat walk: order, kinds, node lookups, and its place among walks. */
START_TEST(test_walk)
{
	tally_reader	*r;
	tally_metric	 m;
	tally_node	 n;
	const char	*id;
	char		*text;

	write_slot("b", 2, 20);
	write_slot("a", 1, 10);
	write_slot("c", 2, 30);
	index_set(1);
	text = walk_text("c.001", TALLY_COUNTER);
	ck_assert_str_eq(text, "b=21 c=31 ");
	free(text);
	text = walk_text("s.000", TALLY_STAT);
	ck_assert_str_eq(text, "a=10.5 b=20.5 c=30.5 ");
	free(text);
	/* A counter's name asked as a stat, or a prefix: nothing. */
	text = walk_text("c.000", TALLY_STAT);
	ck_assert_str_eq(text, "");
	free(text);
	text = walk_text("c.00", TALLY_COUNTER);
	ck_assert_str_eq(text, "");
	free(text);

	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_stat(r, "bad name", TALLY_STAT),
	    TALLY_EINVAL);
	ck_assert_int_eq(tally_reader_stat(r, "s.000", 0), TALLY_EINVAL);
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), TALLY_ESTATE);
	ck_assert_int_eq(tally_reader_stat(r, "s.000", TALLY_STAT), 0);
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 1);
	ck_assert_str_eq(id, "a");
	/* A node lookup does not disturb the walk. */
	ck_assert_int_eq(tally_reader_node(r, "c", &n), 0);
	ck_assert_str_eq(n.id, "c");
	ck_assert_str_eq(n.nickname, "nick c");
	ck_assert_int_eq(tally_reader_node(r, "zz", &n), TALLY_ENOTFOUND);
	ck_assert_int_eq(tally_reader_node(r, "A", &n), TALLY_EINVAL);
	ck_assert_int_eq(tally_reader_node(r, NULL, &n), TALLY_EINVAL);
	ck_assert_int_eq(tally_reader_node(r, "c", NULL), TALLY_EINVAL);
	{
		/* One byte past the longest id, every byte valid. */
		char long_id[TALLY_NODE_ID_MAX + 2];

		memset(long_id, 'c', sizeof long_id - 1);
		long_id[sizeof long_id - 1] = '\0';
		ck_assert_int_eq(tally_reader_node(r, long_id, &n),
		    TALLY_EINVAL);
		long_id[TALLY_NODE_ID_MAX] = '\0';
		ck_assert_int_eq(tally_reader_node(r, long_id, &n),
		    TALLY_ENOTFOUND);
	}
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 1);
	ck_assert_str_eq(id, "b");
	ck_assert(m.value == 20.5);
	/* The walk's own name, given back, starts it again. */
	ck_assert_str_eq(m.name, "s.000");
	ck_assert_int_eq(tally_reader_stat(r, m.name, TALLY_STAT), 0);
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 1);
	ck_assert_str_eq(id, "a");
	ck_assert_str_eq(m.name, "s.000");
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 1);
	ck_assert_str_eq(id, "b");
	/* A metric walk is not a stat walk, nor the other way round. */
	ck_assert_int_eq(tally_reader_next_metric(r, &m), TALLY_ESTATE);
	ck_assert_int_eq(tally_reader_metrics(r, "b"), 0);
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), TALLY_ESTATE);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
	ck_assert_str_eq(m.name, "c.000");
	tally_reader_close(r);
}
END_TEST

/*
 * Walks of 1 to 97 nodes and a node of 192 metrics: each node once, in
 * order (n000.., then zbig), whether the walk's stat is followed by
 * another (c.001, s.001) or ends its table (s.002), with the index
 * (format 2) or without it (node by node).  Node lookups and gets
 * between the steps, a second walk started halfway and a metric walk
 * over both tables each leave the others right.
 */
#define WALK_BIG	96	/* zbig's counters, and as many stats */

static const int walk_sizes[] = { 1, 31, 32, 33, 64, 65, 97 };

static void
walk_check(int nodes, const char *stat, int kind, int idx)
{
	tally_reader	*r;
	tally_metric	 m, g;
	tally_node	 n;
	const char	*id;
	char		 want[16];
	int		 i = 0, base, rc;

	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_stat(r, stat, kind), 0);
	while ((rc = tally_reader_next_stat(r, &id, &m)) == 1) {
		/* The n nodes, then the big one, whose base is 0. */
		base = i < nodes ? 1000 * i : 0;
		snprintf(want, sizeof want, i < nodes ? "n%03d" : "zbig", i);
		ck_assert_msg(strcmp(id, want) == 0, "%s, index %d: %s, not "
		    "%s", stat, idx, id, want);
		ck_assert_ptr_null(m.error);
		ck_assert(m.value == (kind == TALLY_COUNTER ? base + stat[4] -
		    '0' : base + stat[4] - '0' + 0.5));
		if (i % 7 == 3 && i < nodes) {
			/* Elsewhere in the file, between two steps. */
			ck_assert_int_eq(tally_reader_node(r, "n000", &n), 0);
			ck_assert_int_eq(tally_reader_get(r, want, "c.002",
			    TALLY_COUNTER, &g), 0);
			ck_assert(g.counter == 1000 * i + 2);
		}
		i++;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(i, nodes + 1);
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 0);
	tally_reader_close(r);
}

START_TEST(test_walk_long)
{
	tally_reader	*r;
	tally_metric	 m;
	const char	*id, *stats[] = { "c.001", "s.001", "s.002" };
	char		 nid[16], want[16];
	int		 nodes = walk_sizes[_i], i, j, idx, rc;
	struct store	*st;

	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	for (i = 0; i < nodes; i++) {
		snprintf(nid, sizeof nid, "n%03d", i);
		put_slot(st, nid, 3, 1000 * i);
	}
	/* One node with many metrics, in both tables. */
	put_slot(st, "zbig", WALK_BIG, 0);
	store_close(st);
	/* Format 1 first, node by node; then with the index. */
	for (idx = 0; idx <= 1; idx++) {
		if (idx)
			index_set(1);
		for (j = 0; j < 3; j++)
			walk_check(nodes, stats[j], stats[j][0] == 'c' ?
			    TALLY_COUNTER : TALLY_STAT, idx);
	}
	/* A walk dropped halfway for another of its table: that one whole. */
	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_stat(r, "s.001", TALLY_STAT), 0);
	for (i = 0; i < nodes / 2 + 1; i++)
		ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 1);
	ck_assert_int_eq(tally_reader_stat(r, "s.000", TALLY_STAT), 0);
	for (i = 0; (rc = tally_reader_next_stat(r, &id, &m)) == 1; i++) {
		snprintf(want, sizeof want, i < nodes ? "n%03d" : "zbig", i);
		ck_assert_str_eq(id, want);
		ck_assert(m.value == (i < nodes ? 1000 * i : 0) + 0.5);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(i, nodes + 1);
	/* Every metric of the big node, counters then stats, in order. */
	ck_assert_int_eq(tally_reader_metrics(r, "zbig"), 0);
	for (i = 0; (rc = tally_reader_next_metric(r, &m)) == 1; i++) {
		snprintf(want, sizeof want, "%c.%03d", i < WALK_BIG ?
		    'c' : 's', i % (WALK_BIG));
		ck_assert_str_eq(m.name, want);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(i, 2 * WALK_BIG);
	tally_reader_close(r);
}
END_TEST

/* Put a raw key and value with LMDB itself, in the index or anywhere. */
static void
put_raw(const char *db, const char *key, const char *val)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k = { strlen(key), (void *)key };
	MDB_val	 v = { strlen(val), (void *)val };

	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, STORE_MAXDBS);
	mdb_env_set_mapsize(env, STORE_MAPSIZE_MIN);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
	if (val[0] == '\0')
		ck_assert_int_eq(mdb_del(txn, dbi, &k, NULL), 0);
	else
		ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* Every name tally_reader_names gives, each followed by a space. */
static char *
names_text(int kind)
{
	tally_reader	*r;
	const char	*name;
	char		*text = NULL;
	size_t		 len = 0;
	FILE		*f;
	int		 rc;

	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_names(r, kind), 0);
	while ((rc = tally_reader_next_name(r, &name)) == 1)
		fprintf(f, "%s ", name);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(tally_reader_next_name(r, &name), 0);
	tally_reader_close(r);
	ck_assert_int_eq(fclose(f), 0);
	return text;
}

/*
 * The names a fleet has, one seek each in the index: distinct, in order,
 * whatever nodes have them; a key of the index that is no stat's is
 * passed over; without the index, TALLY_ENOTFOUND.
 */
START_TEST(test_names)
{
	tally_reader	*r;
	const char	*name;
	char		*text;

	write_slot("b", 2, 20);
	write_slot("a", 1, 10);
	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_names(r, TALLY_COUNTER),
	    TALLY_ENOTFOUND);
	ck_assert_msg(strstr(tally_reader_errmsg(r), "tally index") != NULL,
	    "%s", tally_reader_errmsg(r));
	tally_reader_close(r);
	index_set(1);
	write_slot("c", 3, 30);
	text = names_text(TALLY_COUNTER);
	ck_assert_str_eq(text, "c.000 c.001 c.002 ");
	free(text);
	text = names_text(TALLY_STAT);
	ck_assert_str_eq(text, "s.000 s.001 s.002 ");
	free(text);
	/*
	 * Names that are prefixes of others, each once, in the index's
	 * order ('/' sorts after '.'); a key without a node, or of no valid
	 * name, passed over.
	 */
	put_raw("counters-by-stat", "c/z", "1");
	put_raw("counters-by-stat", "c.0", "1");
	put_raw("counters-by-stat", "c.0/z", "1");
	put_raw("counters-by-stat", "c.0/zz", "1");
	put_raw("counters-by-stat", "bad name/z", "1");
	text = names_text(TALLY_COUNTER);
	ck_assert_str_eq(text, "c.0 c.000 c.001 c.002 c ");
	free(text);

	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_next_name(r, &name), TALLY_ESTATE);
	ck_assert_int_eq(tally_reader_names(r, 0), TALLY_EINVAL);
	ck_assert_int_eq(tally_reader_names(r, TALLY_STAT), 0);
	ck_assert_int_eq(tally_reader_next_name(r, &name), 1);
	ck_assert_str_eq(name, "s.000");
	/* A metric walk ends it. */
	ck_assert_int_eq(tally_reader_metrics(r, "c"), 0);
	ck_assert_int_eq(tally_reader_next_name(r, &name), TALLY_ESTATE);
	tally_reader_close(r);
}
END_TEST

struct problems {
	char	 all[4096];
};

static void
problem_cb(void *ctx, const char *msg)
{
	struct problems	*p = ctx;
	size_t		 n = strlen(p->all);

	snprintf(p->all + n, sizeof p->all - n, "%s\n", msg);
}

/*
 * An index that differs from its table, as a hostile or broken writer
 * leaves it: tally check says each way; the walk reports a bad node id
 * rather than handing it out as one.
 */
START_TEST(test_index_differs)
{
	struct problems		 p;
	tally_check_counts	 c;
	tally_reader		*r;
	tally_metric		 m;
	const char		*id;

	write_slot("a", 2, 1);
	write_slot("b", 1, 5);
	index_set(1);
	put_raw("counters-by-stat", "c.000/a", "99");		/* changed */
	put_raw("counters-by-stat", "c.001/a", "");		/* missing */
	put_raw("stats-by-stat", "s.000/gone", "1");		/* extra */
	put_raw("stats-by-stat", "s.000/B\x01", "1");		/* bad id */
	put_raw("counters-by-stat", "c.000/b", "");		/* replaced */
	put_raw("counters-by-stat", "c.000/bb", "5");		/* by this */
	memset(&p, 0, sizeof p);
	ck_assert_msg(tally_statsfile_check(dir, (int64_t)time(NULL),
	    problem_cb, &p, &c, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(strstr(p.all, "counters key 'a/c.000': the stat index "
	    "(counters-by-stat) holds '99', not its value\n") != NULL, "%s",
	    p.all);
	ck_assert_msg(strstr(p.all, "counters key 'a/c.001': not in the stat "
	    "index (counters-by-stat)") != NULL, "%s", p.all);
	ck_assert_msg(strstr(p.all, "stats-by-stat holds 2 keys that its "
	    "table does not") != NULL, "%s", p.all);
	/* One key for another: as many keys, one missing, one extra. */
	ck_assert_msg(strstr(p.all, "counters key 'b/c.000': not in the stat "
	    "index (counters-by-stat)") != NULL, "%s", p.all);
	ck_assert_msg(strstr(p.all, "counters-by-stat holds 1 key that its "
	    "table does not") != NULL, "%s", p.all);
	ck_assert_uint_eq(c.problems, 5);

	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_stat(r, "s.000", TALLY_STAT), 0);
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 1);
	ck_assert_str_eq(id, "B\\x01");
	ck_assert_str_eq(m.error, "not a valid node id");
	ck_assert(isnan(m.value));
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 1);
	ck_assert_str_eq(id, "a");
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 1);
	ck_assert_str_eq(id, "b");
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 1);
	ck_assert_str_eq(id, "gone");
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), 0);
	tally_reader_close(r);
}
END_TEST

/* Format 2 without its index is not ours: refused by name. */
START_TEST(test_format2_without_index)
{
	struct store	*st;

	format1_env();
	put_raw("meta", "format", "2");
	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    TALLY_EFORMAT);
	ck_assert_msg(strstr(err, "no counters-by-stat table") != NULL, "%s",
	    err);
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err),
	    TALLY_EFORMAT);
}
END_TEST

int
main(void)
{
	const struct fixture_test	 tests[] = {
		{ "index", test_mirror, 0, FIXTURE_TIMEOUT },
		{ "index", test_index_on_off, 0, FIXTURE_TIMEOUT },
		{ "index", test_format1_remove, 0, FIXTURE_TIMEOUT },
		{ "index", test_index_over_flagged, 0, FIXTURE_TIMEOUT },
		{ "index", test_converted_meanwhile, 0, FIXTURE_TIMEOUT },
		{ "index", test_dropped_under_reader, 0, FIXTURE_TIMEOUT },
		{ "index", test_flagged_meanwhile, 0, FIXTURE_TIMEOUT },
		{ "index", test_walk, 0, FIXTURE_TIMEOUT },
		{ "index", test_walk_long, FIXTURE_N(walk_sizes),
		    FIXTURE_TIMEOUT },
		{ "index", test_names, 0, FIXTURE_TIMEOUT },
		{ "index", test_index_differs, 0, FIXTURE_TIMEOUT },
		{ "index", test_format2_without_index, 0, FIXTURE_TIMEOUT },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "index", setup, teardown, NULL, NULL },
	};

	return fixture_main("index", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
