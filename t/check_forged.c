/*
 * check_forged.c: pages LMDB never writes, forged by hand.  LMDB refuses
 * a key over 511 bytes, but reads whatever length a leaf node says; a
 * damaged or hostile data.mdb can say 600.  Each of the reader's four
 * walks (a node's metrics, a stat node by node without the index, a stat
 * in the index, the index's names) meets such a key with TALLY_ESTORE
 * and a message that names it, after the keys before it, and stays
 * failed: no fault, no loop, no key cut short and read as another.  A
 * value whose forged size runs past the map, or past the end of the
 * file, is the same error, not a fault; tally check sees the forged index
 * key as a key missing and one extra.  Then a seeded campaign: 100
 * copies of a compacted statsfile, each with one to three header fields
 * of its pages forged, walked every way the reader can.
 * Real LMDB environments in temporary directories; the forging is two
 * bytes of one node (its mn_ksize), or four (its value's size), written
 * with pwrite.
 */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tally-int.h"
#include "store-int.h"
#include "fixture.h"

/* The forged length: past LMDB's 511 and the reader's 512-byte keys. */
#define FORGED_KSIZE	600
#define NODES		12

static char	 dir[FIXTURE_PATH_MAX];
static char	 err[TALLY_ERRLEN];
/* A stat name of 200 bytes, so that a node's keys fill its page. */
static char	 lname[201];

static void
setup(void)
{
	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	memset(lname, 'x', sizeof lname - 1);
	memcpy(lname, "long.", 5);
	lname[sizeof lname - 1] = '\0';
}

static void
teardown(void)
{
	fixture_rmtree(dir);
}

/*
 * NODES nodes n000.. each with the one stat lname = i + 0.5, written in
 * id order (or the reverse), one slot a transaction; with the index if
 * index is set.  LMDB adds each node below the ones before it, so the
 * last written sits lowest in its page, with room above it to forge.
 */
static void
fleet(int reverse, int index)
{
	struct store		*st;
	struct record_node	 rn;
	struct snapshot		 snap;
	char			 id[16];
	int			 i, n;

	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	if (index)
		ck_assert_msg(tally_statsfile_index(dir, 1, err, sizeof err) ==
		    0, "%s", err);
	for (i = 0; i < NODES; i++) {
		n = reverse ? NODES - 1 - i : i;
		snprintf(id, sizeof id, "n%03d", n);
		memset(&rn, 0, sizeof rn);
		snprintf(rn.nickname, sizeof rn.nickname, "nick %s", id);
		snprintf(rn.source, sizeof rn.source, "local");
		rn.time = (int64_t)time(NULL);
		snapshot_init(&snap);
		ck_assert_int_eq(snapshot_add_stat(&snap, lname, strlen(lname),
		    n + 0.5), 0);
		snapshot_finish(&snap);
		ck_assert_msg(store_write_slot(st, id, &rn, &snap, err,
		    sizeof err) == 0, "%s", err);
		snapshot_free(&snap);
	}
	store_close(st);
}

static unsigned
le16(const unsigned char *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

/* The page size of the environment in d, as LMDB says (not the OS's). */
static size_t
lmdb_psize(const char *d)
{
	MDB_env		*env;
	MDB_stat	 ms;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, STORE_MAXDBS), 0);
	ck_assert_int_eq(mdb_env_open(env, d, MDB_RDONLY, 0600), 0);
	ck_assert_int_eq(mdb_env_stat(env, &ms), 0);
	mdb_env_close(env);
	return ms.ms_psize;
}

/* Which field of a leaf node forge() writes. */
enum forge_field {
	FORGE_KSIZE,	/* mn_ksize: the key's length */
	FORGE_DSIZE,	/* mn_lo and mn_hi: the value's */
};

/*
 * Every leaf node of data.mdb whose key is key (its flags plain, its
 * mn_ksize the key's length) gets field set to val.  A longer key must
 * still end, with the value after it, inside the node's page; a value's
 * size is written as it comes.  Stale copies of the page are forged too:
 * they are free pages, read by no one.  Returns how many nodes were
 * forged.
 */
static int
forge(const char *key, enum forge_field field, uint32_t val)
{
	char		 path[FIXTURE_PATH_MAX];
	unsigned char	*buf, *p, b[4] = { val & 0xff, val >> 8 & 0xff,
			     val >> 16 & 0xff, val >> 24 };
	size_t		 klen = strlen(key), node, dsize, psize;
	struct stat	 sb;
	ssize_t		 got;
	int		 fd, n = 0;

	psize = lmdb_psize(dir);
	ck_assert_ptr_nonnull(fixture_path(path, dir, "data.mdb"));
	ck_assert_int_ge(fd = open(path, O_RDWR), 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_ptr_nonnull(buf = malloc((size_t)sb.st_size));
	got = pread(fd, buf, (size_t)sb.st_size, 0);
	ck_assert_int_eq(got, sb.st_size);
	for (p = buf; (p = memmem(p, (size_t)(buf + got - p), key, klen)) !=
	    NULL; p++) {
		/* mn_lo, mn_hi, mn_flags, mn_ksize, then the key. */
		if ((size_t)(p - buf) < 8)
			continue;
		node = (size_t)(p - buf) - 8;
		if (le16(p - 2) != klen || le16(p - 4) != 0)
			continue;
		dsize = le16(buf + node) | (size_t)le16(buf + node + 2) << 16;
		if (field == FORGE_DSIZE)
			ck_assert_int_eq(pwrite(fd, b, 4, (off_t)node), 4);
		else if (node % psize + 8 + val + dsize <= psize)
			ck_assert_int_eq(pwrite(fd, b, 2, (off_t)node + 6), 2);
		else
			continue;
		n++;
	}
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert_int_eq(close(fd), 0);
	free(buf);
	return n;
}

/* The reader's error: TALLY_ESTORE, naming the walk and the length. */
static void
assert_forged(tally_reader *r, int rc, const char *where)
{
	const char	*msg = tally_reader_errmsg(r);

	ck_assert_int_eq(rc, TALLY_ESTORE);
	ck_assert_msg(strstr(msg, where) != NULL, "%s", msg);
	ck_assert_msg(strstr(msg, ": a key of 600 bytes, longer than LMDB "
	    "writes: the statsfile is damaged") != NULL, "%s", msg);
}

/* A stat walk (index or not): the nodes before the forged one, then it. */
static void
stat_walk(int index)
{
	tally_reader	*r;
	tally_metric	 m;
	const char	*id;
	char		 want[256], where[256];
	int		 i, rc;

	fleet(0, index);
	/* Without the index the walk reads node ids; with it, stat/id. */
	if (index) {
		snprintf(want, sizeof want, "%s/n%03d", lname, NODES - 1);
		ck_assert_int_ge(forge(want, FORGE_KSIZE, FORGED_KSIZE), 1);
	} else {
		snprintf(want, sizeof want, "n%03d", NODES - 1);
		ck_assert_int_ge(forge(want, FORGE_KSIZE, FORGED_KSIZE), 1);
	}
	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_stat(r, lname, TALLY_STAT), 0);
	for (i = 0; (rc = tally_reader_next_stat(r, &id, &m)) == 1; i++) {
		snprintf(want, sizeof want, "n%03d", i);
		ck_assert_str_eq(id, want);
		ck_assert_ptr_null(m.error);
		ck_assert(m.value == i + 0.5);
	}
	ck_assert_int_eq(i, NODES - 1);
	snprintf(where, sizeof where, ": stat %s: ", lname);
	assert_forged(r, rc, where);
	/* Failed for good: the walk does not go round again. */
	ck_assert_int_eq(tally_reader_next_stat(r, &id, &m), TALLY_ESTORE);
	ck_assert_int_eq(tally_reader_stat(r, lname, TALLY_STAT),
	    TALLY_ESTORE);
	tally_reader_close(r);
}

START_TEST(test_stat_walk_index)
{
	stat_walk(1);
}
END_TEST

START_TEST(test_stat_walk_nodes)
{
	stat_walk(0);
}
END_TEST

/* A node's metrics: its stat's key is the forged one. */
START_TEST(test_metric_walk)
{
	tally_reader	*r;
	tally_metric	 m;
	tally_node	 node;
	char		 key[256];

	fleet(0, 0);
	snprintf(key, sizeof key, "n%03d/%s", NODES - 1, lname);
	ck_assert_int_ge(forge(key, FORGE_KSIZE, FORGED_KSIZE), 1);
	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	/* Another node's metrics are whole. */
	ck_assert_int_eq(tally_reader_metrics(r, "n000"), 0);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 1);
	ck_assert_str_eq(m.name, lname);
	ck_assert(m.value == 0.5);
	ck_assert_int_eq(tally_reader_next_metric(r, &m), 0);
	snprintf(key, sizeof key, "n%03d", NODES - 1);
	ck_assert_int_eq(tally_reader_metrics(r, key), 0);
	snprintf(key, sizeof key, ": node n%03d: ", NODES - 1);
	assert_forged(r, tally_reader_next_metric(r, &m), key);
	ck_assert_int_eq(tally_reader_node(r, "n000", &node), TALLY_ESTORE);
	tally_reader_close(r);
}
END_TEST

/* The index's names: its first key is the forged one. */
START_TEST(test_name_walk)
{
	tally_reader	*r;
	const char	*name;
	char		 key[256];

	fleet(1, 1);
	snprintf(key, sizeof key, "%s/n000", lname);
	ck_assert_int_ge(forge(key, FORGE_KSIZE, FORGED_KSIZE), 1);
	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_names(r, TALLY_STAT), 0);
	assert_forged(r, tally_reader_next_name(r, &name),
	    ": the stat index: ");
	ck_assert_int_eq(tally_reader_next_name(r, &name), TALLY_ESTORE);
	tally_reader_close(r);
}
END_TEST

/* tally_statsfile_check's callback: every problem, a line each. */
static void
problems_cb(void *ctx, const char *msg)
{
	char	*all = ctx;
	size_t	 n = strlen(all);

	snprintf(all + n, 4096 - n, "%s\n", msg);
}

/*
 * tally check on the forged index key: the table's key is missing from
 * the index, and the index holds one key more than the table's side
 * finds (as many keys as before: one stands for another).
 */
START_TEST(test_check_index_key)
{
	tally_check_counts	 c;
	char			 key[256], all[4096] = "";

	fleet(0, 1);
	snprintf(key, sizeof key, "%s/n%03d", lname, NODES - 1);
	ck_assert_int_ge(forge(key, FORGE_KSIZE, FORGED_KSIZE), 1);
	ck_assert_msg(tally_statsfile_check(dir, (int64_t)time(NULL),
	    problems_cb, all, &c, err, sizeof err) == 0, "%s", err);
	/* The key is quoted cut short: its node, then the rest. */
	snprintf(key, sizeof key, "stats key 'n%03d/long.xxx", NODES - 1);
	ck_assert_msg(strstr(all, key) != NULL, "%s", all);
	ck_assert_msg(strstr(all, "...': not in the stat index "
	    "(stats-by-stat)") != NULL, "%s", all);
	ck_assert_msg(strstr(all, "stats-by-stat holds 1 key that its table "
	    "does not") != NULL, "%s", all);
	ck_assert_uint_eq(c.problems, 2);
	ck_assert_uint_eq(c.nodes, NODES);
}
END_TEST

/*
 * A value's size forged: past the map (LMDB hands it out as it is), or
 * within the map but past the end of the file, where reading it would
 * be a SIGBUS.  A stat walk in the index, and a node's metrics.
 */
START_TEST(test_value_size)
{
	tally_reader	*r;
	tally_metric	 m;
	const char	*id;
	char		 key[256];
	int		 i, rc;

	fleet(0, 1);
	snprintf(key, sizeof key, "%s/n%03d", lname, NODES / 2);
	ck_assert_int_ge(forge(key, FORGE_DSIZE, 0x7fffffff), 1);
	snprintf(key, sizeof key, "n%03d/%s", NODES / 2, lname);
	ck_assert_int_ge(forge(key, FORGE_DSIZE, 1 << 20), 1);
	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_reader_stat(r, lname, TALLY_STAT), 0);
	for (i = 0; (rc = tally_reader_next_stat(r, &id, &m)) == 1; i++)
		ck_assert(m.value == i + 0.5);
	ck_assert_int_le(i, NODES / 2);
	ck_assert_int_eq(rc, TALLY_ESTORE);
	ck_assert_msg(strstr(tally_reader_errmsg(r), "larger than the map") !=
	    NULL, "%s", tally_reader_errmsg(r));
	tally_reader_close(r);

	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	snprintf(key, sizeof key, "n%03d", NODES / 2);
	rc = tally_reader_metrics(r, key);
	if (rc == 0)
		rc = tally_reader_next_metric(r, &m);
	ck_assert_int_eq(rc, TALLY_ESTORE);
	ck_assert_msg(strstr(tally_reader_errmsg(r), "bus error reading "
	    "data.mdb") != NULL, "%s", tally_reader_errmsg(r));
	tally_reader_close(r);
}
END_TEST

/*
 * A campaign of forged headers, seeded so that every run forges the same
 * files: RANDOM_FILES copies of a statsfile of RANDOM_NODES nodes (both
 * kinds of metric, with the index), each with one to three fields of its
 * leaf and branch pages (the file compacted, so that each is read) set to
 * a value LMDB never writes (a node's key or
 * value size, its flags, a page's pointer to it, a page's lower or upper
 * bound).  Every walk of the reader over each must end, each call giving
 * 1, 0 or an error: no fault, no loop, nothing read past a buffer.
 */
#define RANDOM_FILES	100
#define RANDOM_NODES	12
#define RANDOM_STEPS	100000	/* a walk longer than this is a loop */

static unsigned char	*pristine;
static size_t		 pristine_len, pristine_psize;
static char		 basedir[FIXTURE_PATH_MAX];

/*
 * The statsfile every forged copy starts from, made once for the case in
 * the runner's process and read whole: each test's process inherits it.
 */
static void
random_setup_once(void)
{
	struct store		*st;
	struct record_node	 rn;
	struct snapshot		 snap;
	char			 path[FIXTURE_PATH_MAX], id[16], name[16];
	struct stat		 sb;
	MDB_env			*env;
	int			 i, j, fd, len;

	ck_assert_ptr_nonnull(fixture_tmpdir(basedir));
	ck_assert_msg(store_open(&st, basedir, 0, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_msg(tally_statsfile_index(basedir, 1, err, sizeof err) == 0,
	    "%s", err);
	for (i = 0; i < RANDOM_NODES; i++) {
		snprintf(id, sizeof id, "n%03d", i);
		memset(&rn, 0, sizeof rn);
		snprintf(rn.nickname, sizeof rn.nickname, "nick %s", id);
		snprintf(rn.source, sizeof rn.source, "local");
		rn.time = (int64_t)time(NULL);
		snapshot_init(&snap);
		for (j = 0; j < 20; j++) {
			len = snprintf(name, sizeof name, "c.%02d", j);
			ck_assert_int_eq(snapshot_add_counter(&snap, name,
			    (size_t)len, 1000 * i + j), 0);
			len = snprintf(name, sizeof name, "s.%02d", j);
			ck_assert_int_eq(snapshot_add_stat(&snap, name,
			    (size_t)len, i + j / 8.0), 0);
		}
		snapshot_finish(&snap);
		ck_assert_msg(store_write_slot(st, id, &rn, &snap, err,
		    sizeof err) == 0, "%s", err);
		snapshot_free(&snap);
	}
	store_close(st);
	/*
	 * Compacted by LMDB (mdb_copy -c), so that every page is in a tree
	 * and no forging falls on a free page that nothing reads.
	 */
	ck_assert_ptr_nonnull(fixture_path(path, basedir, "compact"));
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, STORE_MAXDBS), 0);
	ck_assert_int_eq(mdb_env_open(env, basedir, MDB_RDONLY, 0600), 0);
	ck_assert_int_eq(mdb_env_copy2(env, path, MDB_CP_COMPACT), 0);
	mdb_env_close(env);
	ck_assert_ptr_nonnull(fixture_path(path, basedir, "compact"));
	pristine_psize = lmdb_psize(path);
	ck_assert_ptr_nonnull(fixture_path(path, basedir, "compact/data.mdb"));
	ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	pristine_len = (size_t)sb.st_size;
	ck_assert_ptr_nonnull(pristine = malloc(pristine_len));
	ck_assert_int_eq(pread(fd, pristine, pristine_len, 0),
	    (ssize_t)pristine_len);
	close(fd);
}

static void
random_teardown_once(void)
{
	free(pristine);
	pristine = NULL;
	fixture_rmtree(basedir);
}

/* A value LMDB never writes there, from a few that break things. */
static unsigned
random_pick(unsigned *seed, const unsigned *v, size_t n)
{
	return v[(size_t)rand_r(seed) % n];
}

/*
 * Forge one field of a random node of a random leaf or branch page of
 * buf; what was forged goes into what, for the failure's message.
 */
static void
random_forge(unsigned char *buf, size_t len, size_t psize, unsigned *seed,
    char *what, size_t whatlen)
{
	static const unsigned	 sizes[] = { 0, 1, 2, 8, 511, 512, 600, 4000,
				     4096, 65535, 1u << 20, 0x7fffffff,
				     0xffffffff };
	static const unsigned	 flags[] = { 1, 2, 3, 4, 7, 0x8000, 0xffff };
	size_t			 pg, off, nkeys, i, at;
	unsigned		 f, lower, node, v;
	int			 tries;

	for (tries = 0; tries < 1000; tries++) {
		pg = 2 + (size_t)rand_r(seed) % (len / psize - 2);
		off = pg * psize;
		f = le16(buf + off + 10);
		lower = le16(buf + off + 12);
		/*
		 * P_BRANCH 1, P_LEAF 2; not an overflow page (4), nor one whose
		 * lower bound an earlier forging put past the page.
		 */
		if ((f & 3) == 0 || (f & 4) != 0 || lower < 18 || lower > psize)
			continue;
		nkeys = (lower - 16) / 2;
		i = (size_t)rand_r(seed) % nkeys;
		node = le16(buf + off + 16 + 2 * i);
		if (node + 8 > psize)
			continue;
		at = off + node;
		switch (rand_r(seed) % 6) {
		case 0:		/* the key's size */
			v = random_pick(seed, sizes, FIXTURE_N(sizes)) & 0xffff;
			buf[at + 6] = v & 0xff, buf[at + 7] = v >> 8;
			snprintf(what, whatlen, "page %zu node %zu ksize %u",
			    pg, i, v);
			return;
		case 1:		/* the value's size, or a branch's page */
			v = random_pick(seed, sizes, FIXTURE_N(sizes));
			buf[at] = v & 0xff, buf[at + 1] = v >> 8 & 0xff;
			buf[at + 2] = v >> 16 & 0xff, buf[at + 3] = v >> 24;
			snprintf(what, whatlen, "page %zu node %zu size %u",
			    pg, i, v);
			return;
		case 2:		/* the node's flags */
			v = random_pick(seed, flags, FIXTURE_N(flags));
			buf[at + 4] = v & 0xff, buf[at + 5] = v >> 8;
			snprintf(what, whatlen, "page %zu node %zu flags %u",
			    pg, i, v);
			return;
		case 3:		/* the page's pointer to it */
			v = random_pick(seed, sizes, FIXTURE_N(sizes)) & 0xffff;
			buf[off + 16 + 2 * i] = v & 0xff;
			buf[off + 17 + 2 * i] = v >> 8;
			snprintf(what, whatlen, "page %zu ptr %zu = %u", pg, i,
			    v);
			return;
		default:	/* the page's lower or upper bound */
			v = random_pick(seed, sizes, FIXTURE_N(sizes)) & 0xffff;
			at = off + 12 + 2 * (size_t)(rand_r(seed) % 2);
			buf[at] = v & 0xff, buf[at + 1] = v >> 8;
			snprintf(what, whatlen, "page %zu bound %zu = %u", pg,
			    at - off, v);
			return;
		}
	}
	ck_abort_msg("no leaf or branch page to forge");
}

/* A walk's last call: 0 at its end, or an error the reader words. */
static void
random_end(tally_reader *r, int rc, const char *what, const char *walk)
{
	ck_assert_msg(rc <= 0, "%s: %s gave %d", what, walk, rc);
	if (rc < 0)
		ck_assert_msg(tally_reader_errmsg(r)[0] != '\0', "%s: %s "
		    "failed (%d) with no message", what, walk, rc);
}

/* Every walk of a reader over the forged copy; each must end. */
static void
random_walks(const char *copy, const char *what)
{
	static const char	*stats[] = { "c.05", "s.07", "s.19" };
	tally_reader		*r;
	tally_node		 n;
	tally_metric		 m;
	const char		*id, *name;
	char			 ids[RANDOM_NODES][TALLY_NODE_ID_MAX + 1];
	int			 nids = 0, i, rc, steps, k;

	if ((rc = tally_reader_open(&r, copy)) != 0) {
		ck_assert_msg(rc < 0 && r != NULL &&
		    tally_reader_errmsg(r)[0] != '\0', "%s: open gave %d "
		    "with no message", what, rc);
		tally_reader_close(r);
		return;
	}
	for (steps = 0; (rc = tally_reader_next(r, &n)) == 1; steps++) {
		ck_assert_msg(steps < RANDOM_STEPS, "%s: nodes loop", what);
		if (n.error == NULL && nids < RANDOM_NODES)
			snprintf(ids[nids++], sizeof ids[0], "%s", n.id);
	}
	random_end(r, rc, what, "the nodes");
	for (i = 0; i < nids; i++) {
		if ((rc = tally_reader_metrics(r, ids[i])) != 0) {
			random_end(r, rc, what, "a metric walk's start");
			break;
		}
		for (steps = 0; (rc = tally_reader_next_metric(r, &m)) == 1;
		    steps++)
			ck_assert_msg(steps < RANDOM_STEPS, "%s: metrics loop",
			    what);
		random_end(r, rc, what, "a node's metrics");
		rc = tally_reader_get(r, ids[i], "s.03", TALLY_STAT, &m);
		ck_assert_msg(rc <= 0, "%s: get gave %d", what, rc);
		rc = tally_reader_node(r, ids[i], &n);
		ck_assert_msg(rc <= 0, "%s: node gave %d", what, rc);
	}
	for (k = TALLY_COUNTER; k <= TALLY_STAT; k++) {
		if ((rc = tally_reader_names(r, k)) != 0) {
			random_end(r, rc, what, "a name walk's start");
			continue;
		}
		for (steps = 0; (rc = tally_reader_next_name(r, &name)) == 1;
		    steps++)
			ck_assert_msg(steps < RANDOM_STEPS, "%s: names loop",
			    what);
		random_end(r, rc, what, "the names");
	}
	for (i = 0; i < (int)FIXTURE_N(stats); i++) {
		if ((rc = tally_reader_stat(r, stats[i], stats[i][0] == 'c' ?
		    TALLY_COUNTER : TALLY_STAT)) != 0) {
			random_end(r, rc, what, "a stat walk's start");
			continue;
		}
		for (steps = 0; (rc = tally_reader_next_stat(r, &id, &m)) == 1;
		    steps++)
			ck_assert_msg(steps < RANDOM_STEPS, "%s: stat loop",
			    what);
		random_end(r, rc, what, "a stat");
	}
	tally_reader_close(r);
}

START_TEST(test_random_headers)
{
	char		 copy[FIXTURE_PATH_MAX], path[FIXTURE_PATH_MAX];
	char		 what[256], one[96];
	unsigned char	*buf;
	unsigned	 seed = 20261207u + (unsigned)_i;
	int		 fd, j, nf;

	/*
	 * Under valgrind a fault inside LMDB is an invalid read by its
	 * count before it is the guard's signal; natively and under ASan
	 * the campaign runs whole.
	 */
	if (fixture_under_valgrind()) {
		if (_i == 0)
			fixture_skip("test_random_headers", "valgrind counts "
			    "LMDB's reads of unmapped pages as errors");
		return;
	}
	ck_assert_ptr_nonnull(pristine);
	ck_assert_ptr_nonnull(buf = malloc(pristine_len));
	ck_assert_ptr_nonnull(fixture_path(copy, dir, "copy"));
	ck_assert_int_eq(mkdir(copy, 0700), 0);
	ck_assert_ptr_nonnull(fixture_path(path, copy, "data.mdb"));
	memcpy(buf, pristine, pristine_len);
	what[0] = '\0';
	nf = 1 + rand_r(&seed) % 3;
	for (j = 0; j < nf; j++) {
		random_forge(buf, pristine_len, pristine_psize, &seed, one,
		    sizeof one);
		snprintf(what + strlen(what), sizeof what - strlen(what),
		    "%s%s", j ? ", " : "file " , one);
	}
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600),
	    0);
	ck_assert_int_eq(write(fd, buf, pristine_len), (ssize_t)pristine_len);
	ck_assert_int_eq(close(fd), 0);
	random_walks(copy, what);
	free(buf);
}
END_TEST

int
main(void)
{
	const struct fixture_test	 tests[] = {
		{ "forged", test_stat_walk_index, 0, FIXTURE_TIMEOUT },
		{ "forged", test_stat_walk_nodes, 0, FIXTURE_TIMEOUT },
		{ "forged", test_metric_walk, 0, FIXTURE_TIMEOUT },
		{ "forged", test_name_walk, 0, FIXTURE_TIMEOUT },
		{ "forged", test_value_size, 0, FIXTURE_TIMEOUT },
		{ "forged", test_check_index_key, 0, FIXTURE_TIMEOUT },
		{ "random", test_random_headers, RANDOM_FILES,
		    FIXTURE_TIMEOUT },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "forged", setup, teardown, NULL, NULL },
		{ "random", setup, teardown, random_setup_once,
		    random_teardown_once },
	};

	return fixture_main("forged", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
