/*
 * check_forged.c: pages LMDB never writes, forged by hand.  LMDB refuses
 * a key over 511 bytes, but reads whatever length a leaf node says; a
 * damaged or hostile data.mdb can say 600.  Each of the reader's four
 * walks (a node's metrics, a stat node by node without the index, a stat
 * in the index, the index's names) meets such a key with TALLY_ESTORE
 * and a message that names it, after the keys before it, and stays
 * failed: no fault, no loop, no key cut short and read as another.  A
 * value whose forged size runs past the map, or past the end of the
 * file, is the same error, not a fault.
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

	psize = (size_t)sysconf(_SC_PAGESIZE);
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
	ck_assert_msg(strstr(tally_reader_errmsg(r), "bus error reading data.mdb") != NULL, "%s",
	    tally_reader_errmsg(r));
	tally_reader_close(r);
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
	};
	const struct fixture_tcase	 tcases[] = {
		{ "forged", setup, teardown, NULL, NULL },
	};

	return fixture_main("forged", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
