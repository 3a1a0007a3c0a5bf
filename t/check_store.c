/*
 * check_store.c: the LMDB environment, on real environments in temporary
 * directories.
 */
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
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

	/*
	 * A reader that finds no lock.mdb (data.mdb copied alone, as a
	 * backup is) makes it 0660 too: LMDB's own would be 0640 here, and
	 * the group's readers and writers could not open the file.
	 */
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	ck_assert_int_eq(unlink(path), 0);
	old = umask(027);
	ck_assert_msg(store_open(&st, dir, STORE_RDONLY, err, sizeof err) ==
	    0, "%s", err);
	umask(old);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0660);
	store_close(st);
}
END_TEST

/*
 * lock.mdb's blocks are allocated before LMDB opens it, all of LMDB's
 * reader table: a slot in a hole of a sparse one is a SIGBUS on a full
 * file system, inside LMDB's reader-table mutex.  So for a new statsfile,
 * for a writer and a reader of one whose lock.mdb is sparse (an older
 * tally's, or LMDB's tools' of fewer slots), and the size LMDB made is the
 * one it keeps.
 */
static void
assert_lock_allocated(const char *path)
{
	struct stat	 sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, STORE_LOCKSIZE);
	ck_assert_msg((off_t)sb.st_blocks * 512 >= sb.st_size, "%s: %lld "
	    "blocks of 512 for %lld bytes", path, (long long)sb.st_blocks,
	    (long long)sb.st_size);
}

START_TEST(test_lock_allocated)
{
	struct store	*st;
	char		 path[FIXTURE_PATH_MAX + 16];
	int		 fd, flags;

	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	assert_lock_allocated(path);
	store_close(st);
	for (flags = 0; flags <= STORE_RDONLY; flags += STORE_RDONLY) {
		ck_assert_int_eq(unlink(path), 0);
		ck_assert_int_ge(fd = open(path, O_RDWR | O_CREAT, 0660), 0);
		ck_assert_int_eq(ftruncate(fd, 8192), 0);	/* sparse */
		close(fd);
		ck_assert_msg(store_open(&st, dir, flags, err, sizeof err) ==
		    0, "%s", err);
		assert_lock_allocated(path);
		store_close(st);
	}
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

/*
 * A rewrite over several pages where values keep their size (written in
 * place), grow (pages split), shrink, go, or come: every value reads back
 * as written, in order.
 */
static int64_t
merged_value(int i)
{
	if (i % 3 == 0)
		return INT64_C(1000000000000) + i;	/* longer */
	if (i % 3 == 1)
		return i % 10 == 9 ? i - 1 : i + 1;	/* the same size */
	return i % 10;					/* shorter */
}

START_TEST(test_merge_sizes)
{
	struct store		*st;
	struct store_reader	 r;
	struct snapshot		 a, b;
	struct record_node	 rn;
	MDB_val			 v;
	char			 name[32], want[32];
	int			 i, n = 3000, len;

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&a);
	snapshot_init(&b);
	fill(&a, "m", n, 0);
	snapshot_finish(&a);
	node_rec(&rn, "one");
	ck_assert_int_eq(store_write_slot(st, "n1", &rn, &a, err, sizeof err),
	    0);
	ck_assert_int_eq(store_write_slot(st, "n2", &rn, &a, err, sizeof err),
	    0);
	for (i = 0; i < n; i++) {
		if (i % 7 == 0)
			continue;
		len = snprintf(name, sizeof name, "m.%06d", i);
		ck_assert_int_eq(snapshot_add_counter(&b, name, (size_t)len,
		    merged_value(i)), 0);
	}
	ck_assert_int_eq(snapshot_add_counter(&b, "z.new", 5, 7), 0);
	snapshot_finish(&b);
	ck_assert_int_eq(store_write_slot(st, "n1", &rn, &b, err, sizeof err),
	    0);

	ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err), 0);
	for (i = 0; i < n; i++) {
		len = snprintf(name, sizeof name, "m.%06d", i);
		ck_assert_int_eq(store_reader_get(&r, STORE_COUNTERS, "n1", 2,
		    name, (size_t)len, &v), i % 7 != 0);
		if (i % 7 != 0) {
			snprintf(want, sizeof want, "%" PRId64,
			    merged_value(i));
			ck_assert_uint_eq(v.mv_size, strlen(want));
			ck_assert(memcmp(v.mv_data, want, v.mv_size) == 0);
		}
		/* The neighbour is untouched. */
		ck_assert_int_eq(store_reader_get(&r, STORE_COUNTERS, "n2", 2,
		    name, (size_t)len, &v), 1);
		snprintf(want, sizeof want, "%d", i);
		ck_assert_uint_eq(v.mv_size, strlen(want));
		ck_assert(memcmp(v.mv_data, want, v.mv_size) == 0);
	}
	ck_assert_int_eq(store_reader_get(&r, STORE_COUNTERS, "n1", 2, "z.new",
	    5, &v), 1);
	store_reader_end(&r);
	store_close(st);
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

/* A slot of n counters c.* from base and one stat s.one = d. */
static void
slot_snap(struct snapshot *s, int n, int64_t base, double d)
{
	snapshot_init(s);
	fill(s, "c", n, base);
	ck_assert_int_eq(snapshot_add_stat(s, "s.one", 5, d), 0);
	snapshot_finish(s);
}

static int64_t	 slot_n, slot_v;

static int
slot_cb(void *ctx, const char *name, size_t len, int64_t v)
{
	slot_n++;
	slot_v += v;
	return 0;
}

/* node holds exactly n counters base..base+n-1, and s.one = text. */
static void
assert_slot(struct store *st, const char *node, int n, int64_t base,
    const char *text)
{
	char	 val[64];

	slot_n = slot_v = 0;
	ck_assert_msg(store_read_counters(st, node, slot_cb, NULL, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_int_eq(slot_n, n);
	ck_assert_int_eq(slot_v, n * base + (int64_t)n * (n - 1) / 2);
	ck_assert_int_eq(get(node, STORE_STATS, "s.one", val, sizeof val), 1);
	ck_assert_str_eq(val, text);
}

/*
 * Write n slots through st: the write walks walks node ranges before it
 * and formats fmts stats.
 */
static void
write_walked(struct store *st, const struct store_slot *slots, size_t n,
    size_t walks, size_t fmts)
{
	size_t	 walked = store_walked(), formatted = store_formatted();

	ck_assert_msg(store_write_slots(st, slots, n, err, sizeof err) == 0,
	    "%s", err);
	ck_assert_uint_eq(store_walked() - walked, walks);
	ck_assert_uint_eq(store_formatted() - formatted, fmts);
}

/*
 * A write that only puts (new keys, changed values) walks no node range
 * before it (store_prewalk); one that must delete is undone, walks the
 * ranges of its nodes, three tables each, and is done again, deletes and
 * all, with each stat formatted once.  The write after one that deleted
 * walks first.  The same in a batch.
 */
START_TEST(test_walk_only_to_delete)
{
	struct store		*st;
	struct snapshot		 a, b;
	struct record_node	 rn;
	struct store_slot	 two[2] = { { "a", &rn, &a }, { "b", &rn, &b } };

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	node_rec(&rn, "x");
	slot_snap(&a, 100, 0, 0.5);
	write_walked(st, two, 1, 0, 1);
	assert_slot(st, "a", 100, 0, "0.5");
	snapshot_free(&a);
	slot_snap(&a, 100, 7, 1.5);
	write_walked(st, two, 1, 0, 1);
	assert_slot(st, "a", 100, 7, "1.5");
	snapshot_free(&a);

	/* 60 counters gone: walked, then written once. */
	slot_snap(&a, 40, 9, 2.5);
	write_walked(st, two, 1, 3, 1);
	assert_slot(st, "a", 40, 9, "2.5");
	snapshot_free(&a);

	/* Puts only: walked first all the same after a delete, then not. */
	slot_snap(&a, 100, 3, 3.5);
	slot_snap(&b, 10, 1, 4.5);
	write_walked(st, two, 2, 6, 2);
	write_walked(st, two, 2, 0, 0);
	snapshot_free(&a);
	snapshot_free(&b);

	/* a's stat is formatted before b's delete undoes the try: once. */
	slot_snap(&a, 100, 3, 6.5);
	slot_snap(&b, 4, 2, 5.5);
	write_walked(st, two, 2, 6, 2);
	assert_slot(st, "a", 100, 3, "6.5");
	assert_slot(st, "b", 4, 2, "5.5");
	snapshot_free(&a);

	/* Deleting in every write: walked first, written once each time. */
	slot_snap(&a, 99, 3, 7.5);
	write_walked(st, two, 1, 3, 1);
	assert_slot(st, "a", 99, 3, "7.5");
	snapshot_free(&a);
	snapshot_free(&b);
	store_close(st);
}
END_TEST

/*
 * One write that fills the map with its new keys (grown, tried again)
 * and then meets keys to delete (undone, walked, done again): it ends
 * written whole, the old keys gone.
 */
START_TEST(test_map_grows_then_deletes)
{
	struct store		*st;
	struct snapshot		 s;
	struct record_node	 rn;
	size_t			 walked;
	char			 val[64];

	store_mapsize_min = 1 << 20;
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	node_rec(&rn, "big");
	snapshot_init(&s);
	fill(&s, "z.old", 100, 0);
	snapshot_finish(&s);
	ck_assert_msg(store_write_slot(st, "big", &rn, &s, err, sizeof err) ==
	    0, "%s", err);
	snapshot_free(&s);
	snapshot_init(&s);
	fill(&s, "a.new.counter.with.a.name.long.enough.to.fill.the.map",
	    30000, 5);
	snapshot_finish(&s);
	walked = store_walked();
	ck_assert_msg(store_write_slot(st, "big", &rn, &s, err, sizeof err) ==
	    0, "%s", err);
	ck_assert_uint_eq(store_walked() - walked, 3);
	ck_assert_uint_gt(st->mapsize, (size_t)1 << 20);
	slot_n = slot_v = 0;
	ck_assert_msg(store_read_counters(st, "big", slot_cb, NULL, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_int_eq(slot_n, 30000);
	ck_assert_int_eq(slot_v, 30000 * 5 + (int64_t)30000 * 29999 / 2);
	store_close(st);
	ck_assert_int_eq(get("big", STORE_COUNTERS, "z.old.000007", val,
	    sizeof val), 0);
	snapshot_free(&s);
}
END_TEST

/* A node's key fingerprint: base32 of the SHA-256 of "node key one". */
#define KEY_FP	"jp6carkyxellvxjfu7fn4eggy4vydkzflcjqbgkmzug65tboe7pq"

/* The node's raw record, through a read-only store; 1 found, 0 not. */
static int
record_of(const char *node, char *out, size_t outlen)
{
	struct store		*st;
	struct store_reader	 r;
	MDB_val			 id, rec;
	int			 rc, found = 0;

	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    0);
	ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err), 0);
	while ((rc = store_reader_next(&r, &id, &rec)) == 1) {
		if (id.mv_size != strlen(node) ||
		    memcmp(id.mv_data, node, id.mv_size) != 0)
			continue;
		ck_assert_uint_lt(rec.mv_size, outlen);
		memcpy(out, rec.mv_data, rec.mv_size);
		out[rec.mv_size] = '\0';
		found = 1;
	}
	ck_assert_int_eq(rc, 0);
	store_reader_end(&r);
	store_close(st);
	return found;
}

/*
 * Forgetting a key rewrites the record without its key= line and nothing
 * else: the other lines byte for byte, the counters and stats, and the
 * other nodes, untouched.
 */
/*
 * A writer that knows no key (a local provider) keeps the key bound to
 * the node: only tally forget unbinds it.  One that knows a key writes it.
 */
START_TEST(test_write_keeps_key)
{
	struct store		*st;
	struct snapshot		 s;
	struct record_node	 rn;
	char			 rec[1024];

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&s);
	fill(&s, "c", 3, 10);
	snapshot_finish(&s);
	node_rec(&rn, "moved");
	snprintf(rn.key, sizeof rn.key, "%s", KEY_FP);
	ck_assert_int_eq(store_write_slot(st, "moved", &rn, &s, err,
	    sizeof err), 0);
	rn.key[0] = '\0';
	rn.time++;
	ck_assert_msg(store_write_slot(st, "moved", &rn, &s, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_int_eq(record_of("moved", rec, sizeof rec), 1);
	ck_assert_msg(strstr(rec, "\nkey=" KEY_FP "\n") != NULL, "%s", rec);
	/* A node never bound stays unbound. */
	node_rec(&rn, "fresh");
	ck_assert_int_eq(store_write_slot(st, "fresh", &rn, &s, err,
	    sizeof err), 0);
	ck_assert_int_eq(record_of("fresh", rec, sizeof rec), 1);
	ck_assert_ptr_null(strstr(rec, "key="));
	snapshot_free(&s);
	store_close(st);
}
END_TEST

START_TEST(test_forget_key)
{
	struct store		*st;
	struct snapshot		 s;
	struct record_node	 rn, other, back;
	char			 want[1024], rec[1024], val[64];

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&s);
	fill(&s, "c", 3, 10);
	ck_assert_int_eq(snapshot_add_stat(&s, "s.one", 5, 2.5), 0);
	snapshot_finish(&s);
	node_rec(&rn, "far");
	snprintf(rn.source, sizeof rn.source, "remote 192.0.2.7:40312");
	snprintf(rn.key, sizeof rn.key, "%s", KEY_FP);
	ck_assert_msg(store_write_slot(st, "far", &rn, &s, err, sizeof err) ==
	    0, "%s", err);
	node_rec(&other, "near");
	snprintf(other.key, sizeof other.key, "%s", KEY_FP);
	ck_assert_int_eq(store_write_slot(st, "near", &other, &s, err,
	    sizeof err), 0);
	ck_assert_int_eq(record_of("far", rec, sizeof rec), 1);
	ck_assert_ptr_nonnull(strstr(rec, "\nkey=" KEY_FP "\n"));

	ck_assert_msg(store_forget_key(st, "far", err, sizeof err) == 0, "%s",
	    err);
	store_close(st);

	/* What the writer would write for the same node with no key. */
	rn.key[0] = '\0';
	ck_assert_int_gt(record_node_fmt(want, sizeof want, &rn), 0);
	ck_assert_int_eq(record_of("far", rec, sizeof rec), 1);
	ck_assert_str_eq(rec, want);
	ck_assert_int_eq(record_node_parse(rec, strlen(rec), &back, err,
	    sizeof err), 0);
	ck_assert_str_eq(back.key, "");
	ck_assert(back.time == rn.time);
	ck_assert_int_eq(get("far", STORE_COUNTERS, "c.000002", val,
	    sizeof val), 1);
	ck_assert_str_eq(val, "12");
	ck_assert_int_eq(get("far", STORE_STATS, "s.one", val, sizeof val), 1);
	ck_assert_str_eq(val, "2.5");
	/* The other node keeps its key. */
	ck_assert_int_eq(record_of("near", rec, sizeof rec), 1);
	ck_assert_ptr_nonnull(strstr(rec, "\nkey=" KEY_FP "\n"));
	snapshot_free(&s);
}
END_TEST

/* Twice: the second finds no key; an unknown node; a bad id; read-only. */
START_TEST(test_forget_key_refused)
{
	struct store		*st, *ro;
	struct snapshot		 s;
	struct record_node	 rn;
	char			 before[1024], rec[1024];

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&s);
	fill(&s, "c", 2, 0);
	snapshot_finish(&s);
	node_rec(&rn, "plain");
	ck_assert_int_eq(store_write_slot(st, "plain", &rn, &s, err,
	    sizeof err), 0);
	snprintf(rn.key, sizeof rn.key, "%s", KEY_FP);
	ck_assert_int_eq(store_write_slot(st, "keyed", &rn, &s, err,
	    sizeof err), 0);

	ck_assert_int_eq(store_forget_key(st, "keyed", err, sizeof err), 0);
	ck_assert_int_eq(record_of("keyed", before, sizeof before), 1);
	ck_assert_int_eq(store_forget_key(st, "keyed", err, sizeof err),
	    TALLY_ESTATE);
	ck_assert_msg(strstr(err, ": node keyed: no key bound") != NULL, "%s",
	    err);
	ck_assert_int_eq(record_of("keyed", rec, sizeof rec), 1);
	ck_assert_str_eq(rec, before);

	ck_assert_int_eq(record_of("plain", before, sizeof before), 1);
	ck_assert_int_eq(store_forget_key(st, "plain", err, sizeof err),
	    TALLY_ESTATE);
	ck_assert_int_eq(record_of("plain", rec, sizeof rec), 1);
	ck_assert_str_eq(rec, before);

	ck_assert_int_eq(store_forget_key(st, "nosuch", err, sizeof err),
	    TALLY_ENOTFOUND);
	ck_assert_msg(strstr(err, ": no node nosuch") != NULL, "%s", err);
	ck_assert_int_eq(record_of("nosuch", rec, sizeof rec), 0);

	ck_assert_int_eq(store_forget_key(st, "Bad Id", err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_int_eq(store_forget_key(st, "", err, sizeof err),
	    TALLY_EINVAL);

	/* A key written again, then refused through a read-only store. */
	ck_assert_int_eq(store_write_slot(st, "keyed", &rn, &s, err,
	    sizeof err), 0);
	store_close(st);
	ck_assert_int_eq(store_open(&ro, dir, STORE_RDONLY, err, sizeof err),
	    0);
	ck_assert_int_eq(store_forget_key(ro, "keyed", err, sizeof err),
	    TALLY_ESTATE);
	ck_assert_msg(strstr(err, "opened read-only") != NULL, "%s", err);
	store_close(ro);
	ck_assert_int_eq(record_of("keyed", rec, sizeof rec), 1);
	ck_assert_ptr_nonnull(strstr(rec, "\nkey=" KEY_FP "\n"));
	snapshot_free(&s);
}
END_TEST

/*
 * A record of another version: its fields unknown here survive, and so
 * does a record whose key line is the only thing wrong with it, once the
 * line is gone.
 */
static void	raw_env(const char *, const char *, const char *);

START_TEST(test_forget_key_keeps_lines)
{
	struct store	*st;
	char		 rec[1024];

	/* A tally database first, then records as mdb_load would put them. */
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	store_close(st);
	raw_env("nodes", "later", "nickname=l\nkey=" KEY_FP "\ntime=1\n"
	    "source=remote 10.0.0.1:5\nfuture=1\nkey=" KEY_FP);
	raw_env("nodes", "broken", "nickname=b\ntime=1\nsource=local\n"
	    "key=NOT-A-KEY\n");
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	ck_assert_msg(store_forget_key(st, "later", err, sizeof err) == 0,
	    "%s", err);
	ck_assert_msg(store_forget_key(st, "broken", err, sizeof err) == 0,
	    "%s", err);
	store_close(st);
	ck_assert_int_eq(record_of("later", rec, sizeof rec), 1);
	ck_assert_str_eq(rec, "nickname=l\ntime=1\nsource=remote "
	    "10.0.0.1:5\nfuture=1\n");
	ck_assert_int_eq(record_of("broken", rec, sizeof rec), 1);
	ck_assert_str_eq(rec, "nickname=b\ntime=1\nsource=local\n");
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

	raw_env("meta", "format", "3");
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err),
	    TALLY_EFORMAT);
	ck_assert_msg(strstr(err, "format '3'") != NULL, "%s", err);
	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    TALLY_EFORMAT);
	ck_assert_msg(strstr(err, "format '3'") != NULL, "%s", err);
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

/*
 * A statsfile whose table is made with LMDB flags tally never sets: its
 * keys would sort or mean otherwise.  Refused, naming the table.
 */
START_TEST(test_flagged_table)
{
	static const unsigned	 flags[] = { MDB_DUPSORT, MDB_REVERSEKEY,
	    MDB_INTEGERKEY };
	static const char *const plain[] = { "meta", "nodes", "stats" };
	struct store	*st;
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k = { 6, (void *)"format" }, v = { 1, (void *)"1" };
	size_t		 i;
	int		 ro;

	fixture_rmtree(dir);
	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (i = 0; i < FIXTURE_N(plain); i++)
		ck_assert_int_eq(mdb_dbi_open(txn, plain[i], MDB_CREATE,
		    &dbi), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "counters", MDB_CREATE |
	    flags[_i], &dbi), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	for (ro = 0; ro < 2; ro++) {
		ck_assert_int_eq(store_open(&st, dir, ro ? STORE_RDONLY : 0,
		    err, sizeof err), TALLY_EFORMAT);
		ck_assert_msg(strstr(err, "counters is not a plain table") !=
		    NULL, "%s", err);
	}
}
END_TEST

/* Does the raw table db hold key?  The store must be closed. */
static int
raw_has(const char *db, const char *key)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k = { strlen(key), (void *)key }, v;
	int	 rc;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	ck_assert_int_eq(mdb_env_open(env, dir, MDB_RDONLY, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
	rc = mdb_get(txn, dbi, &k, &v);
	ck_assert(rc == 0 || rc == MDB_NOTFOUND);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc == 0;
}

static int
count_scan_cb(void *ctx, const char *name, size_t nlen, const char *val,
    size_t vlen)
{
	(*(int *)ctx)++;
	return 0;
}

/*
 * A key that is a node's prefix alone ("n1/": no name) sorts before the
 * node's every other key.  It is one unreadable counter, not the end of
 * the node's range: the node's counters resume, its metrics are listed,
 * its next write deletes it (and a "n1//x" after it), and so does a
 * delete of the slot.  (A walk that stopped there resumed no counter at
 * all, and the node's next snapshot wrote them back from 0.)
 */
START_TEST(test_empty_name_key)
{
	struct store		*st;
	struct store_reader	 r;
	struct snapshot		 s;
	struct record_node	 rn;
	int64_t			 sum = 0;
	int			 n = 0;

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	snapshot_init(&s);
	fill(&s, "c", 3, 10);		/* 10, 11, 12 */
	snapshot_finish(&s);
	node_rec(&rn, "one");
	ck_assert_int_eq(store_write_slot(st, "n1", &rn, &s, err, sizeof err),
	    0);
	store_close(st);
	raw_env("counters", "n1/", "5");
	raw_env("counters", "n1//x", "7");

	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	err[0] = '\0';
	ck_assert_int_eq(store_read_counters(st, "n1", sum_cb, &sum, err,
	    sizeof err), 0);
	ck_assert(sum == 33);
	ck_assert_msg(strstr(err, "skipped 2 unreadable counters") != NULL,
	    "%s", err);
	ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err), 0);
	ck_assert_int_eq(store_reader_scan(&r, STORE_COUNTERS, "n1", 2,
	    count_scan_cb, &n), 0);
	store_reader_end(&r);
	ck_assert_int_eq(n, 4);		/* n1//x, a name for the caller */

	ck_assert_int_eq(store_write_slot(st, "n1", &rn, &s, err, sizeof err),
	    0);
	store_close(st);
	ck_assert_int_eq(raw_has("counters", "n1/"), 0);
	ck_assert_int_eq(raw_has("counters", "n1//x"), 0);
	ck_assert_int_eq(raw_has("counters", "n1/c.000000"), 1);

	raw_env("counters", "n1/", "5");
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	ck_assert_int_eq(store_delete_slot(st, "n1", err, sizeof err), 0);
	store_close(st);
	ck_assert_int_eq(raw_has("counters", "n1/"), 0);
	ck_assert_int_eq(raw_has("counters", "n1/c.000000"), 0);
	snapshot_free(&s);
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

/* ---- damaged and odd statsfiles: nothing may kill the process ---------- */

/* Write nodes slots of keys counters each (and two stats) into d. */
static void
populate(const char *d, int nodes, int keys)
{
	struct store		*st;
	struct snapshot		 snap;
	struct record_node	 rn;
	char			 id[16];
	int			 i;

	ck_assert_msg(store_open(&st, d, 0, err, sizeof err) == 0, "%s", err);
	for (i = 0; i < nodes; i++) {
		snapshot_init(&snap);
		fill(&snap, "some.counter", keys, i * 100000);
		snapshot_add_stat(&snap, "s.one", 5, 1.5);
		snapshot_add_stat(&snap, "s.two", 5, 2.5);
		snapshot_finish(&snap);
		node_rec(&rn, "nick");
		snprintf(id, sizeof id, "node%d", i);
		ck_assert_msg(store_write_slot(st, id, &rn, &snap, err,
		    sizeof err) == 0, "%s", err);
		snapshot_free(&snap);
	}
	store_close(st);
}

/* One slot of a few counters, written through st. */
static int
write_small(struct store *st, const char *node, int64_t base, char *e,
    size_t elen)
{
	struct snapshot		 snap;
	struct record_node	 rn;
	int			 rc;

	snapshot_init(&snap);
	fill(&snap, "small", 20, base);
	snapshot_finish(&snap);
	node_rec(&rn, "small");
	rc = store_write_slot(st, node, &rn, &snap, e, elen);
	snapshot_free(&snap);
	return rc;
}

/* The child neither hung nor died, and its call failed saying want. */
static void
child_refused(const struct fixture_child *c, const char *who,
    const char *want)
{
	ck_assert_msg(!c->hung, "%s hung", who);
	ck_assert_msg(WIFEXITED(c->status), "%s died of signal %d", who,
	    WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0);
	ck_assert_msg(WEXITSTATUS(c->status) != 90, "%s: cannot become "
	    "nobody", who);
	ck_assert_msg(c->rc < 0, "%s: accepted (%d)", who, c->rc);
	ck_assert_msg(strstr(c->msg, want) != NULL, "%s said: %s", who,
	    c->msg);
}

static int
open_reader(const void *d, char *e, size_t elen)
{
	struct store	*st;
	int		 rc;

	if ((rc = store_open(&st, d, STORE_RDONLY, e, elen)) == 0)
		store_close(st);
	return rc;
}

static int
open_writer(const void *d, char *e, size_t elen)
{
	struct store	*st;
	int		 rc;

	if ((rc = store_open(&st, d, 0, e, elen)) == 0)
		store_close(st);
	return rc;
}

/* A FIFO named data.mdb: refused at once, never opened (it would hang). */
START_TEST(test_fifo_data)
{
	char		 path[FIXTURE_PATH_MAX + 64];
	struct fixture_child	 c;

	ck_assert_int_eq(mkfifo(fixture_path(path, dir, "data.mdb"), 0660), 0);
	fixture_child(open_reader, dir, 0, &c);
	child_refused(&c, "reader", "data.mdb is a FIFO, not a regular file");
	fixture_child(open_writer, dir, 0, &c);
	child_refused(&c, "writer", "data.mdb is a FIFO, not a regular file");
}
END_TEST

START_TEST(test_fifo_lock)
{
	char		 path[FIXTURE_PATH_MAX + 64];
	struct fixture_child	 c;

	populate(dir, 1, 10);
	ck_assert_int_eq(unlink(fixture_path(path, dir, "lock.mdb")), 0);
	ck_assert_int_eq(mkfifo(path, 0660), 0);
	fixture_child(open_reader, dir, 0, &c);
	child_refused(&c, "reader", "lock.mdb is a FIFO");
	fixture_child(open_writer, dir, 0, &c);
	child_refused(&c, "writer", "lock.mdb is a FIFO");
}
END_TEST

/* A socket and a directory get their names too. */
START_TEST(test_odd_files)
{
	char			 path[FIXTURE_PATH_MAX + 64];
	struct sockaddr_un	 sun;
	struct store		*st;
	int			 fd;

	ck_assert_int_eq(mkdir(fixture_path(path, dir, "data.mdb"), 0770), 0);
	ck_assert_int_ne(store_open(&st, dir, 0, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "data.mdb is a directory, not a regular "
	    "file") != NULL, "%s", err);
	ck_assert_int_ne(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    0);
	ck_assert_msg(strstr(err, "data.mdb is a directory") != NULL, "%s",
	    err);
	ck_assert_int_eq(rmdir(path), 0);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof sun.sun_path);
	memcpy(sun.sun_path, path, strlen(path));
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_ne(store_open(&st, dir, 0, err, sizeof err), 0);
	ck_assert_msg(strstr(err, "data.mdb is a socket, not a regular "
	    "file") != NULL, "%s", err);
	ck_assert_int_ne(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    0);
	ck_assert_msg(strstr(err, "data.mdb is a socket") != NULL, "%s", err);
	close(fd);
}
END_TEST

/*
 * A dangling symlink named data.mdb or lock.mdb: LMDB would create its
 * target, wherever it points.  Refused, and nothing is created.
 */
START_TEST(test_dangling_symlink)
{
	char		 env[FIXTURE_PATH_MAX + 64], out[FIXTURE_PATH_MAX + 64];
	char		 link[FIXTURE_PATH_MAX + 128];
	const char	*names[2] = { "data.mdb", "lock.mdb" };
	struct store	*st;
	struct stat	 sb;
	int		 i, flags;

	fixture_path(env, dir, "env");
	fixture_path(out, dir, "outside");
	ck_assert_int_eq(mkdir(env, 0770), 0);
	for (i = 0; i < 2; i++) {
		snprintf(link, sizeof link, "%s/%s", env, names[i]);
		/* Beside a real data.mdb, for lock.mdb. */
		if (i == 1) {
			populate(env, 1, 10);
			ck_assert_int_eq(unlink(link), 0);
		}
		ck_assert_int_eq(symlink(out, link), 0);
		for (flags = 0; flags <= STORE_RDONLY; flags++) {
			ck_assert_int_eq(store_open(&st, env, flags, err,
			    sizeof err), TALLY_ESTORE);
			ck_assert_msg(strstr(err, names[i]) != NULL &&
			    strstr(err, "dangling symlink") != NULL, "%s", err);
			ck_assert_msg(lstat(out, &sb) != 0 && errno == ENOENT,
			    "%s created through the symlink", out);
		}
		ck_assert_int_eq(unlink(link), 0);
	}
}
END_TEST

/* A valid symlink is refused as well (tally(5) says why). */
START_TEST(test_valid_symlink)
{
	char		 env[FIXTURE_PATH_MAX + 64];
	char		 real[FIXTURE_PATH_MAX + 64];
	char		 link[FIXTURE_PATH_MAX + 128];
	char		 from[FIXTURE_PATH_MAX + 128];
	struct store	*st;

	fixture_path(env, dir, "env");
	ck_assert_int_eq(mkdir(env, 0770), 0);
	populate(dir, 1, 10);
	snprintf(from, sizeof from, "%s/data.mdb", dir);
	fixture_path(real, dir, "real.mdb");
	ck_assert_int_eq(rename(from, real), 0);
	snprintf(link, sizeof link, "%s/data.mdb", env);
	ck_assert_int_eq(symlink(real, link), 0);
	ck_assert_int_eq(store_open(&st, env, 0, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "data.mdb is a symlink") != NULL, "%s", err);
	ck_assert_int_eq(store_open(&st, env, STORE_RDONLY, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "data.mdb is a symlink") != NULL, "%s", err);
}
END_TEST

/* An empty data.mdb: no database yet for a reader; a writer starts one. */
START_TEST(test_empty_data)
{
	char		 path[FIXTURE_PATH_MAX + 64];
	struct store	*st;
	int		 fd;

	ck_assert_int_ge(fd = open(fixture_path(path, dir, "data.mdb"),
	    O_CREAT | O_WRONLY, 0660), 0);
	close(fd);
	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "no database yet (data.mdb is empty: has "
	    "any node written to it?)") != NULL, "%s", err);
	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	store_close(st);
}
END_TEST

/*
 * Permissions, as a user whom they bind: nobody when the tests run as
 * root.  Everything is made by root first; dir itself becomes searchable.
 */
static char	 penv[FIXTURE_PATH_MAX + 64];

static void
perm_env(void)
{
	ck_assert_int_eq(chmod(dir, 0711), 0);
	fixture_path(penv, dir, "env");
	ck_assert_int_eq(mkdir(penv, 0777), 0);
	ck_assert_int_eq(chmod(penv, 0777), 0);
	populate(penv, 1, 10);
}

static void
perm_file(const char *name, mode_t mode)
{
	char	 path[FIXTURE_PATH_MAX + 128];

	snprintf(path, sizeof path, "%s/%s", penv, name);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_unreadable_data)
{
	struct fixture_child	 c;

	perm_env();
	perm_file("data.mdb", 0600);
	perm_file("lock.mdb", 0666);
	fixture_child(open_reader, penv, 1, &c);
	child_refused(&c, "reader", "cannot read data.mdb: Permission denied");
	ck_assert_msg(strstr(c.msg, "lock.mdb") == NULL, "blamed on "
	    "lock.mdb: %s", c.msg);
	fixture_child(open_writer, penv, 1, &c);
	child_refused(&c, "writer", "cannot write data.mdb: Permission "
	    "denied");
}
END_TEST

START_TEST(test_unwritable_lock)
{
	struct fixture_child	 c;

	perm_env();
	perm_file("data.mdb", 0666);
	perm_file("lock.mdb", 0644);
	fixture_child(open_reader, penv, 1, &c);
	child_refused(&c, "reader", "lock.mdb is not writable by uid");
	ck_assert_msg(strstr(c.msg, "put the reader in the statsfile's "
	    "group") != NULL, "%s", c.msg);
}
END_TEST

START_TEST(test_unsearchable_dir)
{
	char		 want[FIXTURE_PATH_MAX + 128];
	struct fixture_child	 c;

	perm_env();
	perm_file("data.mdb", 0666);
	perm_file("lock.mdb", 0666);
	ck_assert_int_eq(chmod(penv, 0666), 0);
	snprintf(want, sizeof want, "cannot search %s: Permission denied",
	    penv);
	fixture_child(open_reader, penv, 1, &c);
	child_refused(&c, "reader", want);
	ck_assert_msg(strstr(c.msg, "no database yet") == NULL, "%s", c.msg);
	fixture_child(open_writer, penv, 1, &c);
	ck_assert_msg(c.rc < 0 && WIFEXITED(c.status), "writer: %s", c.msg);
}
END_TEST

/* A path from outside is quoted in messages: no escape codes, no 100 KB. */
START_TEST(test_path_quoted)
{
	struct store	*st;
	char		*longp;
	char		 path[FIXTURE_PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/red\033[31m", dir);
	ck_assert_int_eq(store_open(&st, path, 0, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strchr(err, '\033') == NULL, "%s", err);
	ck_assert_msg(strstr(err, "red\\x1b[31m") != NULL, "%s", err);
	ck_assert_ptr_nonnull(longp = malloc(100000));
	memset(longp, 'x', 99999);
	longp[99999] = '\0';
	ck_assert_int_ne(store_open(&st, longp, 0, err, sizeof err), 0);
	ck_assert_msg(strlen(err) < 300 && strstr(err, "...") != NULL, "%s",
	    err);
	free(longp);
	/* A store says its path quoted too. */
	ck_assert_int_eq(mkdir(path, 0770), 0);
	ck_assert_msg(store_open(&st, path, 0, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_msg(strchr(store_path(st), '\033') == NULL, "%s",
	    store_path(st));
	store_close(st);
}
END_TEST

/* A copy of data.mdb, to damage and restore. */
struct image {
	char	*buf;
	size_t	 len, psize, npages;
};

static void
image_take(struct image *im, const char *d)
{
	MDB_env		*env;
	MDB_stat	 ms;
	char		 path[FIXTURE_PATH_MAX + 64];
	struct stat	 sb;
	int		 fd;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
	ck_assert_int_eq(mdb_env_open(env, d, MDB_RDONLY, 0), 0);
	ck_assert_int_eq(mdb_env_stat(env, &ms), 0);
	mdb_env_close(env);
	im->psize = ms.ms_psize;
	ck_assert_int_ge(fd = open(fixture_path(path, d, "data.mdb"), O_RDONLY),
	    0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	im->len = (size_t)sb.st_size;
	im->npages = im->len / im->psize;
	ck_assert_ptr_nonnull(im->buf = malloc(im->len));
	ck_assert_int_eq(pread(fd, im->buf, im->len, 0), (ssize_t)im->len);
	close(fd);
}

static void
image_put(const struct image *im, const char *d)
{
	char	 path[FIXTURE_PATH_MAX + 64];
	int	 fd;

	ck_assert_int_ge(fd = open(fixture_path(path, d, "data.mdb"), O_WRONLY),
	    0);
	ck_assert_int_eq(pwrite(fd, im->buf, im->len, 0), (ssize_t)im->len);
	ck_assert_int_eq(ftruncate(fd, (off_t)im->len), 0);
	close(fd);
}

/* Zero page pg of d's data.mdb, in place. */
static void
zero_page(const struct image *im, const char *d, size_t pg)
{
	char	 path[FIXTURE_PATH_MAX + 64], *z;
	int	 fd;

	ck_assert_ptr_nonnull(z = calloc(1, im->psize));
	ck_assert_int_ge(fd = open(fixture_path(path, d, "data.mdb"), O_WRONLY),
	    0);
	ck_assert_int_eq(pwrite(fd, z, im->psize, (off_t)(pg * im->psize)),
	    (ssize_t)im->psize);
	close(fd);
	free(z);
}

static void
truncate_data(const char *d, off_t len)
{
	char	 path[FIXTURE_PATH_MAX + 64];

	ck_assert_int_eq(truncate(fixture_path(path, d, "data.mdb"), len), 0);
}

/*
 * data.mdb cut to half its pages, found by a reader and a writer opening
 * it, and by a writer and a reader that had it open: each says
 * "truncated", the live ones once damaged for good, and all live on.
 */
START_TEST(test_truncated)
{
	struct store		*w, *r, *st;
	struct store_reader	 rd;
	struct image		 im;
	char			 first[TALLY_ERRLEN];

	populate(dir, 8, 1000);
	image_take(&im, dir);
	ck_assert_uint_gt(im.npages, 16);
	ck_assert_msg(store_open(&w, dir, 0, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(write_small(w, "live", 1, err, sizeof err), 0);
	truncate_data(dir, (off_t)(im.npages / 2 * im.psize));

	/* The live writer, and a reader sharing its environment. */
	ck_assert_int_eq(write_small(w, "live", 2, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "damaged (data.mdb is truncated: ") !=
	    NULL && strstr(err, "its meta pages say at least") != NULL, "%s",
	    err);
	ck_assert(store_damaged(w));
	ck_assert_str_eq(store_damage_msg(w), err);
	snprintf(first, sizeof first, "%s", err);
	ck_assert_int_eq(write_small(w, "live", 3, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_str_eq(err, first);
	ck_assert_int_eq(store_open(&r, dir, STORE_RDONLY, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_str_eq(err, first);
	store_close(w);

	/* Opened afresh. */
	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "data.mdb is truncated: ") != NULL, "%s",
	    err);
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "data.mdb is truncated: ") != NULL, "%s",
	    err);

	/* A reader that had it open when it was cut. */
	image_put(&im, dir);
	ck_assert_msg(store_open(&r, dir, STORE_RDONLY, err, sizeof err) == 0,
	    "%s", err);
	truncate_data(dir, (off_t)(3 * im.psize));
	ck_assert_int_eq(store_reader_begin(r, &rd, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "truncated") != NULL, "%s", err);
	ck_assert(store_damaged(r));
	store_close(r);

	/* Shorter than its meta pages. */
	truncate_data(dir, (off_t)(im.psize + 100));
	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_msg(strstr(err, "data.mdb is truncated: ") != NULL, "%s",
	    err);
	free(im.buf);
}
END_TEST

/*
 * A whole file may be shorter than its meta's last page: a commit does not
 * write the pages its transaction took at the end and freed again (LMDB's
 * loose pages).  Such a file is not truncated.  Transactions that add many
 * keys and delete half of them again leave that; they are made here with
 * LMDB itself, into the counters table of a tally database.
 */
START_TEST(test_free_tail_is_whole)
{
	struct store	*st;
	MDB_env		*env;
	MDB_envinfo	 ei;
	MDB_stat	 ms;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	struct stat	 sb;
	char		 path[FIXTURE_PATH_MAX + 64], key[32], val[100];
	int		 t, i, gap = 0;

	populate(dir, 1, 10);
	memset(val, 'v', sizeof val);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
	ck_assert_int_eq(mdb_env_set_mapsize(env, 64 << 20), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0660), 0);
	for (t = 0; t < 20 && !gap; t++) {
		ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
		ck_assert_int_eq(mdb_dbi_open(txn, "counters", 0, &dbi), 0);
		for (i = 0; i < 5000; i++) {
			k.mv_size = (size_t)snprintf(key, sizeof key,
			    "x/k.%02d.%06d", t, i);
			k.mv_data = key;
			v.mv_size = sizeof val;
			v.mv_data = val;
			ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
		}
		for (i = t == 0 ? 0 : 2500; i < 5000; i++) {
			k.mv_size = (size_t)snprintf(key, sizeof key,
			    "x/k.%02d.%06d", t, i);
			k.mv_data = key;
			ck_assert_int_eq(mdb_del(txn, dbi, &k, NULL), 0);
		}
		ck_assert_int_eq(mdb_txn_commit(txn), 0);
		mdb_env_info(env, &ei);
		mdb_env_stat(env, &ms);
		ck_assert_int_eq(stat(fixture_path(path, dir, "data.mdb"), &sb),
		    0);
		gap = (size_t)sb.st_size < (ei.me_last_pgno + 1) * ms.ms_psize;
	}
	mdb_env_close(env);
	if (!gap) {
		fixture_skip("test_free_tail_is_whole", "this LMDB left no "
		    "unwritten free pages at the end of data.mdb");
		return;
	}
	/* Readers and writers take it as it is. */
	ck_assert_msg(store_open(&st, dir, STORE_RDONLY, err, sizeof err) ==
	    0, "%s", err);
	store_close(st);
	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(write_small(st, "other", 1, err, sizeof err) == 0, "%s",
	    err);
	store_close(st);
	ck_assert_int_eq(get("other", STORE_COUNTERS, "small.000019", val,
	    sizeof val), 1);
	ck_assert_int_eq(get("x", STORE_COUNTERS, "k.01.000001", val,
	    sizeof val), 1);
}
END_TEST

/* Every call a reader or a writer makes: each may fail, none may kill. */
static int	 count_n;

static int
count_cb(void *ctx, const char *k, size_t klen, const char *v, size_t vlen)
{
	size_t	 i, sum = 0;

	/* Read every byte, as a caller would. */
	for (i = 0; i < klen; i++)
		sum += (unsigned char)k[i];
	for (i = 0; i < vlen; i++)
		sum += (unsigned char)v[i];
	count_n += sum > 0;
	return 0;
}

static int
resume_cb(void *ctx, const char *name, size_t len, int64_t v)
{
	count_n++;
	return 0;
}

/* A message, if any, is a whole statsfile message. */
static void
said(int rc, const char *msg)
{
	if (rc < 0)
		ck_assert_msg(strncmp(msg, "statsfile ", 10) == 0,
		    "odd message for %d: %s", rc, msg);
}

static int
exercise(struct store *live)
{
	struct store		*st;
	struct store_reader	 r;
	MDB_val			 id, rec, v;
	char			 node[TALLY_NODE_ID_MAX + 1];
	int			 rc, errors = 0;

	if ((rc = store_open(&st, dir, STORE_RDONLY, err, sizeof err)) == 0) {
		if ((rc = store_reader_begin(st, &r, err, sizeof err)) == 0) {
			while ((rc = store_reader_next(&r, &id, &rec)) == 1) {
				snprintf(node, sizeof node, "%.*s",
				    (int)(id.mv_size > TALLY_NODE_ID_MAX ?
				    TALLY_NODE_ID_MAX : id.mv_size),
				    (const char *)id.mv_data);
				count_cb(NULL, rec.mv_data, rec.mv_size, "", 0);
				if (store_reader_scan(&r, STORE_COUNTERS, node,
				    strlen(node), count_cb, NULL) < 0)
					errors++;
				if (store_reader_get(&r, STORE_STATS, node,
				    strlen(node), "s.one", 5, &v) < 0)
					errors++;
			}
			errors += rc < 0;
			if (store_reader_walk(&r, STORE_COUNTERS, count_cb,
			    NULL) < 0 || store_reader_walk(&r, STORE_STATS,
			    count_cb, NULL) < 0)
				errors++;
			if (rc < 0 || errors > 0)
				ck_assert_msg(store_damaged(st), "a reader "
				    "call failed on a store not damaged");
			store_reader_end(&r);
		} else {
			said(rc, err);
			errors++;
		}
		store_close(st);
	} else {
		said(rc, err);
		errors++;
	}
	if (live != NULL)
		st = live;
	else if ((rc = store_open(&st, dir, 0, err, sizeof err)) != 0) {
		said(rc, err);
		return errors + 1;
	}
	rc = write_small(st, "node0", 7, err, sizeof err);
	said(rc, err);
	errors += rc != 0;
	rc = store_read_counters(st, "node1", resume_cb, NULL, err,
	    sizeof err);
	said(rc, err);
	errors += rc != 0;
	rc = store_delete_slot(st, "node2", err, sizeof err);
	said(rc, err);
	errors += rc != 0;
	rc = write_small(st, "node2", 8, err, sizeof err);
	said(rc, err);
	errors += rc != 0;
	if (live == NULL)
		store_close(st);
	return errors;
}

/*
 * Zero each page of data.mdb in turn, once before the environment is
 * opened and once under a writer that has it open: every call returns,
 * with success or an error, and the damage is found.
 */
START_TEST(test_zeroed_pages)
{
	struct store	*w;
	struct image	 im;
	size_t		 pg;
	int		 live, damaged = 0, errors;

	populate(dir, 6, 400);
	image_take(&im, dir);
	for (live = 0; live < 2; live++) {
		for (pg = 0; pg < im.npages; pg++) {
			image_put(&im, dir);
			w = NULL;
			if (live && store_open(&w, dir, 0, err,
			    sizeof err) != 0)
				ck_abort_msg("open before damage: %s", err);
			zero_page(&im, dir, pg);
			errors = exercise(w);
			if (w != NULL) {
				damaged += store_damaged(w);
				store_close(w);
			} else
				damaged += errors > 0;
		}
	}
	/* The writes of the last round must not leave the file unreadable. */
	image_put(&im, dir);
	ck_assert_int_eq(exercise(NULL), 0);
	ck_assert_msg(damaged >= (int)im.npages / 2, "damage found %d times "
	    "in %zu pages", damaged, 2 * im.npages);
	free(im.buf);
}
END_TEST

/* A zeroed page under a live writer: damaged, said the same every time. */
START_TEST(test_damaged_sticky)
{
	struct store	*w, *again;
	struct image	 im;
	char		 first[TALLY_ERRLEN];
	size_t		 pg;
	int		 rc = 0;

	populate(dir, 6, 400);
	image_take(&im, dir);
	ck_assert_msg(store_open(&w, dir, 0, err, sizeof err) == 0, "%s", err);
	/* Every page but the metas: the writer's next call trips on it. */
	for (pg = 2; pg < im.npages; pg++)
		zero_page(&im, dir, pg);
	rc = write_small(w, "node0", 9, err, sizeof err);
	ck_assert_int_eq(rc, TALLY_ESTORE);
	ck_assert_msg(strstr(err, "statsfile ") == err &&
	    strstr(err, ": damaged (") != NULL &&
	    strstr(err, "): no longer written; check it with tally check; "
	    "move it away to start afresh") != NULL, "%s", err);
	ck_assert(store_damaged(w));
	snprintf(first, sizeof first, "%s", err);
	ck_assert_int_eq(store_read_counters(w, "node1", resume_cb, NULL, err,
	    sizeof err), TALLY_ESTORE);
	ck_assert_str_eq(err, first);
	ck_assert_int_eq(store_delete_slot(w, "node1", err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_str_eq(err, first);
	/* Another open in this process shares it, so it is refused. */
	ck_assert_int_eq(store_open(&again, dir, 0, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_str_eq(err, first);
	store_close(w);
	free(im.buf);
}
END_TEST

/*
 * A map that cannot grow (an address-space limit): an error naming the
 * limit, a store that stays usable, and a write that succeeds once the
 * limit is raised.  In a child: the limit is the child's.
 */
static int	resume_cb(void *, const char *, size_t, int64_t);

static long
vm_bytes(void)
{
	char	 buf[128];
	long	 pages = 0;
	int	 fd;
	ssize_t	 n;

	if ((fd = open("/proc/self/statm", O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	pages = strtol(buf, NULL, 10);
	return pages * sysconf(_SC_PAGESIZE);
}

/* A slot of n counters with long names, to fill a map or a disk. */
static int
write_big(struct store *st, const char *node, int n, int64_t base, char *e,
    size_t elen)
{
	struct snapshot		 snap;
	struct record_node	 rn;
	int			 rc;

	snapshot_init(&snap);
	fill(&snap, "a.longish.counter.name.to.fill.the.map.or.the.disk", n,
	    base);
	snapshot_finish(&snap);
	node_rec(&rn, "big");
	rc = store_write_slot(st, node, &rn, &snap, e, elen);
	snapshot_free(&snap);
	return rc;
}

static int
grow_child(const void *arg, char *e, size_t elen)
{
	struct store	*st;
	struct rlimit	 rl, old;
	char		 node[16], want[128];
	long		 vm;
	int		 i, rc = 0;

	store_mapsize_min = 32 << 20;
	if (store_open(&st, dir, 0, e, elen) != 0)
		return 1;
	if (getrlimit(RLIMIT_AS, &old) != 0 || (vm = vm_bytes()) < 0)
		return 2;
	/*
	 * Room for the heap, and for what ASan's quarantine keeps of each
	 * environment opened again (LMDB allocates 3 MB), not for a map
	 * twice as large.
	 */
	rl.rlim_cur = (rlim_t)vm + (24 << 20);
	rl.rlim_max = old.rlim_max;
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		return 3;
	for (i = 0; i < 1000 && rc == 0; i++) {
		snprintf(node, sizeof node, "n%d", i);
		rc = write_big(st, node, 1000, i, e, elen);
	}
	if (rc == 0)
		return 4;
	snprintf(want, sizeof want, "cannot grow the map from %d to %d bytes",
	    32 << 20, 64 << 20);
	if (strstr(e, want) == NULL || strstr(e, "(address-space limit of "
	    "this process: ") == NULL || store_damaged(st))
		return rc;
	/*
	 * The next transactions, still under the limit (LMDB has no map
	 * left after a failed resize: they used to fault): the same error,
	 * and reads that work.
	 */
	for (i = 0; i < 2; i++) {
		if ((rc = write_big(st, node, 1000, i, e, elen)) == 0 ||
		    strstr(e, want) == NULL)
			return rc == 0 ? 10 : rc;
		if (store_read_counters(st, "n0", resume_cb, NULL, e,
		    elen) != 0)
			return 11;
	}
	/* The limit raised, the next write grows the map and succeeds. */
	if (setrlimit(RLIMIT_AS, &old) != 0)
		return 5;
	if (write_big(st, node, 1000, 0, e, elen) != 0 ||
	    write_small(st, "after", 1, e, elen) != 0)
		return 6;
	store_close(st);
	return 0;
}

START_TEST(test_map_cannot_grow)
{
	struct fixture_child	 c;
	char		 val[64];

	/* Under valgrind, address-space limits mean little. */
	if (fixture_under_valgrind()) {
		fixture_skip("test_map_cannot_grow", "valgrind manages the "
		    "address space itself: RLIMIT_AS means little there");
		return;
	}
	fixture_child(grow_child, NULL, 0, &c);
	ck_assert_msg(!c.hung && WIFEXITED(c.status), "the writer died of "
	    "signal %d", WIFSIGNALED(c.status) ? WTERMSIG(c.status) : 0);
	ck_assert_msg(c.rc == 0, "step %d: %s", c.rc, c.msg);
	ck_assert_int_eq(get("after", STORE_COUNTERS, "small.000000", val,
	    sizeof val), 1);
}
END_TEST

/*
 * A file-size limit: past it, write(2) raises SIGXFSZ, whose default
 * action ends the process.  The writer gets an error naming the limit,
 * lives on, and writes again once the limit is raised.  A second thread,
 * which does not block SIGXFSZ, shows the signal is not delivered there.
 */
static void *
idle_main(void *arg)
{
	char	 c;

	(void)!read(*(int *)arg, &c, 1);
	return NULL;
}

static int
fsize_child(const void *arg, char *e, size_t elen)
{
	struct store	*st;
	struct rlimit	 rl, old;
	struct stat	 sb;
	pthread_t	 t;
	char		 node[16], path[FIXTURE_PATH_MAX + 64];
	int		 i, rc = 0, fds[2];

	if (pipe(fds) != 0 || pthread_create(&t, NULL, idle_main, &fds[0]))
		return 1;
	if (store_open(&st, dir, 0, e, elen) != 0)
		return 2;
	if (write_small(st, "first", 0, e, elen) != 0 ||
	    write_small(st, "second", 0, e, elen) != 0 ||
	    stat(fixture_path(path, dir, "data.mdb"), &sb) != 0 ||
	    getrlimit(RLIMIT_FSIZE, &old) != 0)
		return 3;
	rl.rlim_cur = (rlim_t)sb.st_size + 8192;
	rl.rlim_max = old.rlim_max;
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return 4;
	for (i = 0; i < 200 && rc == 0; i++) {
		snprintf(node, sizeof node, "n%d", i);
		rc = write_small(st, node, i, e, elen);
	}
	if (rc == 0)
		return 5;
	/* The first write comes short; the next ones start past the limit. */
	for (i = 0; i < 3; i++) {
		if (strstr(e, "file too large (file-size limit of this "
		    "process: ") == NULL || store_damaged(st))
			return rc;
		rc = write_small(st, "past", i, e, elen);
	}
	/*
	 * A limit below the file's size (a writer started under a small
	 * ulimit -f): writes past it raise SIGXFSZ at once.
	 */
	rl.rlim_cur = (rlim_t)sb.st_size / 2;
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return 6;
	for (i = 0; i < 3; i++) {
		rc = write_small(st, "below", i, e, elen);
		if (rc == 0 || strstr(e, "file too large (file-size limit of "
		    "this process: ") == NULL || store_damaged(st))
			return rc == 0 ? 7 : rc;
	}
	if (setrlimit(RLIMIT_FSIZE, &old) != 0)
		return 8;
	if (write_small(st, "after", 1, e, elen) != 0)
		return 9;
	store_close(st);
	(void)!write(fds[1], "x", 1);
	pthread_join(t, NULL);
	return 0;
}

START_TEST(test_file_size_limit)
{
	struct fixture_child	 c;

	fixture_child(fsize_child, NULL, 0, &c);
	ck_assert_msg(!c.hung && WIFEXITED(c.status), "the writer died of "
	    "signal %d", WIFSIGNALED(c.status) ? WTERMSIG(c.status) : 0);
	ck_assert_msg(c.rc == 0, "step %d: %s", c.rc, c.msg);
}
END_TEST

/*
 * A full disk: a 2 MB tmpfs, mounted in a mount namespace of a child of
 * ours.  The writer says "no space left on device", and writes again once
 * the tmpfs is made larger; a statsfile made there while it is full is
 * said to be on a full file system.  Skipped where mounting is not
 * allowed.
 */
#define NOMOUNT	77

static int
disk_child(const void *arg, char *e, size_t elen)
{
	struct store	*st, *st2;
	char		 env[FIXTURE_PATH_MAX + 64], node[16], block[4096];
	char		 fresh[FIXTURE_PATH_MAX + 64];
	char		 fill[FIXTURE_PATH_MAX + 64];
	int		 i, fd, rc = 0;

	fixture_path(env, dir, "tmpfs");
	if (mkdir(env, 0770) != 0)
		return 1;
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("none", env, "tmpfs", 0, "size=2m") != 0) {
		snprintf(e, elen, "%s", strerror(errno));
		return NOMOUNT;
	}
	if (store_open(&st, env, 0, e, elen) != 0)
		return 2;
	for (i = 0; i < 1000 && rc == 0; i++) {
		snprintf(node, sizeof node, "n%d", i);
		rc = write_big(st, node, 500, i, e, elen);
	}
	if (rc == 0)
		return 3;
	if (strstr(e, "no space left on device") == NULL || store_damaged(st))
		return rc;
	/*
	 * A new statsfile there: LMDB's first write of the sparse lock.mdb
	 * is a SIGBUS, which says the file system is full, not that the
	 * statsfile is damaged and should be moved away.
	 */
	fixture_path(fresh, env, "fresh");
	fixture_path(fill, env, "fill");
	if (mkdir(fresh, 0770) != 0 || (fd = open(fill, O_WRONLY | O_CREAT,
	    0600)) < 0)
		return 6;
	memset(block, 'x', sizeof block);
	while (write(fd, block, sizeof block) > 0)
		;
	close(fd);
	if (store_open(&st2, fresh, 0, e, elen) != TALLY_ESTORE ||
	    strstr(e, "its file system is full") == NULL ||
	    strstr(e, "free space there") == NULL ||
	    strstr(e, "damaged") != NULL)
		return 7;
	if (mount("none", env, "tmpfs", MS_REMOUNT, "size=64m") != 0)
		return 4;
	if (write_small(st, "after", 1, e, elen) != 0)
		return 5;
	store_close(st);
	return 0;
}

START_TEST(test_disk_full)
{
	struct fixture_child	 c;

	fixture_child(disk_child, NULL, 0, &c);
	ck_assert_msg(!c.hung && WIFEXITED(c.status), "the writer died of "
	    "signal %d", WIFSIGNALED(c.status) ? WTERMSIG(c.status) : 0);
	if (c.rc == NOMOUNT) {
		fixture_skip("test_disk_full", "cannot mount a tmpfs here");
		return;
	}
	ck_assert_msg(c.rc == 0, "step %d: %s", c.rc, c.msg);
}
END_TEST

/*
 * Faults outside store calls are not ours: they reach the handler that
 * was there before the first store_open, or the default action.  Each
 * case runs in a new process image (this program again, with an argument)
 * so that the store is first opened there, after the host's handler.
 */
static char		 self[PATH_MAX];
static sigjmp_buf	 host_jb;
static volatile int	 host_saw;

static void
host_segv(int sig, siginfo_t *si, void *uc)
{
	host_saw = sig;
	siglongjmp(host_jb, 1);
}

/* A fault of the host's own, on a page it made inaccessible. */
static void
host_fault(void)
{
	volatile char	*p;

	p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(20);
	(void)p[0];
}

static int
fault_case(const char *which, const char *d)
{
	struct sigaction	 sa;
	struct store		*st;
	char			 e[TALLY_ERRLEN];

	if (strcmp(which, "host") == 0) {
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = host_segv;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSEGV, &sa, NULL);
	}
	if (store_open(&st, d, 0, e, sizeof e) != 0) {
		fprintf(stderr, "%s\n", e);
		return 10;
	}
	if (sigsetjmp(host_jb, 1) == 0)
		host_fault();
	store_close(st);
	/* Only the host's handler gets here. */
	return host_saw == SIGSEGV ? 0 : 11;
}

static void
run_fault_case(const char *which, int *status)
{
	pid_t	 pid;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		/* Its death is expected: no report of ASan's in the log. */
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execl(self, self, "--fault-case", which, dir, (char *)NULL);
		_exit(12);
	}
	ck_assert_int_eq(waitpid(pid, status, 0), pid);
}

START_TEST(test_fault_passed_on)
{
	int	 status;

	run_fault_case("host", &status);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the host's handler did not get its fault: status 0x%x", status);
	/* No handler: the default action, as without libtally. */
	run_fault_case("default", &status);
	ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
	    "a fault outside libtally was swallowed");
	if (WIFSIGNALED(status))
		ck_assert_int_eq(WTERMSIG(status), SIGSEGV);
}
END_TEST

/*
 * fork() while another thread is inside store_open, holding the list of
 * stores: the child must open a store of its own.  That thread is held
 * inside LMDB's open by a lock another process holds on lock.mdb (as
 * LMDB's first opener does), so the fork is timed, not left to chance.
 */
static char	 dir_a[FIXTURE_PATH_MAX + 64], dir_b[FIXTURE_PATH_MAX + 64];
static pid_t	 opener_tid, forker_tid;
static int	 forked;
static pid_t	 fork_pid;

/* The number of the system call a thread of ours waits in, or -1. */
static long
thread_syscall(pid_t tid)
{
	char	 path[64], buf[64];
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", (long)tid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static void *
opener_main(void *arg)
{
	struct store	*st;
	char		 e[TALLY_ERRLEN];

	__atomic_store_n(&opener_tid, (pid_t)syscall(SYS_gettid),
	    __ATOMIC_RELEASE);
	if (store_open(&st, dir_a, 0, e, sizeof e) != 0)
		return (void *)1;
	store_close(st);
	return NULL;
}

/*
 * The forked child's work, with nothing of check's: at the fork the test's
 * main thread may have held check's lock (every passing ck_assert takes
 * it), and a child that asserted would wait on it forever.
 */
static int
child_open_write(const char *path)
{
	struct store		*st;
	struct snapshot		 snap;
	struct record_node	 rn;
	char			 e[TALLY_ERRLEN];
	int			 rc;

	if (store_open(&st, path, 0, e, sizeof e) != 0)
		return 1;
	snapshot_init(&snap);
	rc = snapshot_add_counter(&snap, "small.000000", 12, 1) != 0;
	snapshot_finish(&snap);
	node_rec(&rn, "small");
	if (rc == 0)
		rc = store_write_slot(st, "child", &rn, &snap, e,
		    sizeof e) != 0;
	snapshot_free(&snap);
	store_close(st);
	return rc == 0 ? 0 : 2;
}

static void *
forker_main(void *arg)
{
	pid_t	 pid;

	__atomic_store_n(&forker_tid, (pid_t)syscall(SYS_gettid),
	    __ATOMIC_RELEASE);
	pid = fork();
	if (pid == 0)
		_exit(child_open_write(dir_b));
	fork_pid = pid;
	__atomic_store_n(&forked, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(test_fork_during_open)
{
	struct flock	 fl;
	pthread_t	 opener, forker;
	double		 deadline;
	pid_t		 locker;
	char		 path[FIXTURE_PATH_MAX + 128], c;
	void		*ret;
	int		 go[2], held[2], fd, status;

	fixture_path(dir_a, dir, "a");
	fixture_path(dir_b, dir, "b");
	ck_assert_int_eq(mkdir(dir_a, 0770), 0);
	ck_assert_int_eq(mkdir(dir_b, 0770), 0);
	populate(dir_a, 1, 10);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(held), 0);
	ck_assert_int_ne(locker = fork(), -1);
	if (locker == 0) {
		snprintf(path, sizeof path, "%s/lock.mdb", dir_a);
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_len = 1;
		if ((fd = open(path, O_RDWR)) < 0 || fcntl(fd, F_SETLK, &fl))
			_exit(1);
		(void)!write(held[1], "h", 1);
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	ck_assert_int_eq(read(held[0], &c, 1), 1);

	/* The opener waits in fcntl(F_SETLKW), inside store_open. */
	ck_assert_int_eq(pthread_create(&opener, NULL, opener_main, NULL), 0);
	deadline = fixture_now() + 20;
	while ((__atomic_load_n(&opener_tid, __ATOMIC_ACQUIRE) == 0 ||
	    thread_syscall(opener_tid) != SYS_fcntl) &&
	    fixture_now() < deadline)
		fixture_pause();
	ck_assert_msg(thread_syscall(opener_tid) == SYS_fcntl, "the opener "
	    "never waited on lock.mdb");

	/* The fork waits for the list (futex), or is done at once. */
	ck_assert_int_eq(pthread_create(&forker, NULL, forker_main, NULL), 0);
	while (!__atomic_load_n(&forked, __ATOMIC_ACQUIRE) &&
	    (__atomic_load_n(&forker_tid, __ATOMIC_ACQUIRE) == 0 ||
	    thread_syscall(forker_tid) != SYS_futex) &&
	    fixture_now() < deadline)
		fixture_pause();
	(void)!write(go[1], "g", 1);
	/*
	 * No call of check's until the fork is done: they lock and allocate,
	 * and the child must not find their locks held (see above).
	 */
	while (!__atomic_load_n(&forked, __ATOMIC_ACQUIRE) &&
	    fixture_now() < deadline)
		fixture_pause();
	ck_assert_int_eq(waitpid(locker, &status, 0), locker);
	pthread_join(opener, &ret);
	ck_assert_ptr_null(ret);
	pthread_join(forker, NULL);
	ck_assert_int_gt(fork_pid, 0);
	/* A child that found the list locked waits forever: a deadline. */
	deadline = fixture_now() + 20;
	while (waitpid(fork_pid, &status, WNOHANG) == 0) {
		if (fixture_now() > deadline) {
			kill(fork_pid, SIGKILL);
			waitpid(fork_pid, &status, 0);
			ck_abort_msg("the child hung opening a store of its "
			    "own");
		}
		fixture_pause();
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the child could not open a store of its own: status 0x%x",
	    status);
}
END_TEST

int
main(int argc, char **argv)
{
	const struct fixture_test	 tests[] = {
		{ "core", test_create_layout, 0, 30 },
		{ "core", test_lock_allocated, 0, 30 },
		{ "core", test_write_and_read, 0, 30 },
		{ "core", test_replace_slot, 0, 30 },
		{ "core", test_merge_sizes, 0, 30 },
		{ "core", test_duplicates_keep_last, 0, 30 },
		{ "core", test_read_counters, 0, 30 },
		{ "core", test_refcount_one_env, 0, 30 },
		{ "core", test_map_grows, 0, 30 },
		{ "core", test_map_grows_then_deletes, 0, 30 },
		{ "core", test_map_resized_by_other, 0, 30 },
		{ "core", test_fork_refused, 0, 30 },
		{ "core", test_delete_slot, 0, 30 },
		{ "core", test_walk_only_to_delete, 0, 30 },
		{ "core", test_write_keeps_key, 0, 30 },
		{ "core", test_forget_key, 0, 30 },
		{ "core", test_forget_key_refused, 0, 30 },
		{ "core", test_forget_key_keeps_lines, 0, 30 },
		{ "core", test_missing_dir, 0, 30 },
		{ "core", test_regular_file, 0, 30 },
		{ "core", test_garbage, 0, 30 },
		{ "core", test_unknown_format, 0, 30 },
		{ "core", test_foreign_env, 0, 30 },
		{ "core", test_flagged_table, 3, 30 },
		{ "core", test_reader_needs_data, 0, 30 },
		{ "core", test_empty_name_key, 0, 30 },
		{ "damage", test_fifo_data, 0, 60 },
		{ "damage", test_fifo_lock, 0, 60 },
		{ "damage", test_odd_files, 0, 60 },
		{ "damage", test_dangling_symlink, 0, 60 },
		{ "damage", test_valid_symlink, 0, 60 },
		{ "damage", test_empty_data, 0, 60 },
		{ "damage", test_unreadable_data, 0, 60 },
		{ "damage", test_unwritable_lock, 0, 60 },
		{ "damage", test_unsearchable_dir, 0, 60 },
		{ "damage", test_path_quoted, 0, 60 },
		{ "damage", test_truncated, 0, 60 },
		{ "damage", test_free_tail_is_whole, 0, 60 },
		{ "damage", test_zeroed_pages, 0, 60 },
		{ "damage", test_damaged_sticky, 0, 60 },
		{ "damage", test_map_cannot_grow, 0, 60 },
		{ "damage", test_file_size_limit, 0, 60 },
		{ "damage", test_disk_full, 0, 60 },
		{ "damage", test_fault_passed_on, 0, 60 },
		{ "damage", test_fork_during_open, 0, 60 },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "core", setup, teardown, NULL, NULL },
		{ "damage", setup, teardown, NULL, NULL },
	};

	if (argc == 4 && strcmp(argv[1], "--fault-case") == 0)
		return fault_case(argv[2], argv[3]);
	if (realpath("/proc/self/exe", self) == NULL)
		snprintf(self, sizeof self, "%s", argv[0]);
	return fixture_main("store", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
