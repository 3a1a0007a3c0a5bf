/*
 * floor.c: the floor of tallyd's steady round, for `make bench`: a plain
 * LMDB program, linked with liblmdb only, that writes what tallyd's round
 * wrote, in as many write transactions, and nothing else.  tallyd's round
 * is compared with it (t/bench-gatherer.sh).
 *
 * usage: floor PREV CUR COMMITS
 *
 *   PREV     a copy of tallyd's statsfile taken before the measured rounds
 *            (mdb_copy, into a temporary directory): the state the round
 *            starts from.  It is written in place, and is of no use after.
 *   CUR      tallyd's statsfile after the rounds, tallyd stopped; opened
 *            read-only.
 *   COMMITS  how many write transactions tallyd committed in one round.
 *
 * It knows nothing of tally's layout: it walks every named database of CUR
 * (the names in its main database), pairs its entries with PREV's in
 * LMDB's own order (mdb_cmp, and mdb_dcmp for MDB_DUPSORT), and writes into
 * PREV every entry that is new or changed, and deletes every one that is
 * gone.  A database added to the statsfile (an index, say) is then
 * written as tallyd writes it, with no change here.
 *
 * What makes the comparison fair, and where it leans:
 *   - The same environment: PREV is a page-for-page copy of tallyd's file
 *     (free pages included), opened with the store's flags (MDB_NOTLS |
 *     MDB_NOMETASYNC: each commit fdatasyncs the data pages, not the meta
 *     page) and the map size tallyd's file has now.  Overwriting keys that
 *     exist dirties and copies the pages tallyd's round dirtied, and
 *     grows no tree; writing into an empty environment would be cheaper,
 *     appending to an empty tree cheaper still.  The copy must be of a
 *     file in its steady state (t/bench-gatherer.sh takes it after round
 *     4): LMDB gives a write the pages that earlier transactions freed,
 *     and after round 1 there are hardly any, so a floor starting there
 *     writes new pages at the end of the file, in long runs (a tenth of
 *     the write calls, two thirds of the CPU).
 *   - The same values, as text: CUR's bytes, so nothing is formatted.
 *     What changed between PREV and CUR is written once, as one round of
 *     tallyd writes it when every value changed (t/loadgen changes every
 *     value at every poll).  A value that changed and came back between
 *     the copy and the end is not written here; tallyd wrote it.
 *   - The same number of commits, each with an equal share of every
 *     database's changes, in key order.  tallyd's batches are nodes in the
 *     order their polls fell, so its transactions touch more of each tree
 *     than these contiguous ranges do: that favours the floor.
 *   - Only the write is timed: wall and CPU (user + system) from the first
 *     transaction's begin to the last commit.  Reading CUR and PREV and
 *     pairing them come before, untimed, as tallyd's receiving and
 *     decoding do not count in a floor of its writes.
 *
 * stdout, one line: floor wall SECONDS cpu SECONDS puts N dels N txns N
 * dbs N
 * Exits 0, 1 on an LMDB error, 2 on a usage error.
 */
#include <sys/resource.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#define FLOOR_MAXDBS	64

struct op {
	MDB_val	 k, v;
	int	 del;
};

struct fdb {
	char		*name;
	MDB_dbi		 cur, prev;
	unsigned	 flags;
	struct op	*ops;
	size_t		 nops, cap;
};

static struct fdb	 dbs[FLOOR_MAXDBS];
static size_t		 ndbs;

static void
die(const char *what, int rc)
{
	fprintf(stderr, "floor: %s: %s\n", what, mdb_strerror(rc));
	exit(1);
}

static void
check(const char *what, int rc)
{
	if (rc != 0)
		die(what, rc);
}

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "floor: out of memory\n");
		exit(1);
	}
	return p;
}

/* A copy of v, for what PREV's read transaction will not keep mapped. */
static MDB_val
dup_val(const MDB_val *v)
{
	MDB_val	 d;

	d.mv_size = v->mv_size;
	d.mv_data = xmalloc(v->mv_size);
	memcpy(d.mv_data, v->mv_data, v->mv_size);
	return d;
}

static void
add_op(struct fdb *d, const MDB_val *k, const MDB_val *v, int del)
{
	if (d->nops == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 4096;
		if ((d->ops = realloc(d->ops, d->cap * sizeof *d->ops)) ==
		    NULL) {
			fprintf(stderr, "floor: out of memory\n");
			exit(1);
		}
	}
	/* A delete's key (and data) are PREV's: copied.  A put's are CUR's,
	 * mapped as long as CUR's read transaction stays open. */
	d->ops[d->nops].k = del ? dup_val(k) : *k;
	d->ops[d->nops].v = del ? dup_val(v) : *v;
	d->ops[d->nops].del = del;
	d->nops++;
}

/* The named databases of CUR: the keys of its main database that open. */
static void
list_dbs(MDB_txn *ct)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	MDB_dbi		 main, dbi;
	char		*name;
	int		 rc;

	check("open main database", mdb_dbi_open(ct, NULL, 0, &main));
	check("cursor", mdb_cursor_open(ct, main, &c));
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		name = xmalloc(k.mv_size + 1);
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if (strlen(name) != k.mv_size ||
		    mdb_dbi_open(ct, name, 0, &dbi) != 0) {
			free(name);	/* a plain key, not a database */
			continue;
		}
		if (ndbs == FLOOR_MAXDBS) {
			fprintf(stderr, "floor: over %d databases\n",
			    FLOOR_MAXDBS);
			exit(1);
		}
		dbs[ndbs].name = name;
		dbs[ndbs].cur = dbi;
		check("flags", mdb_dbi_flags(ct, dbi, &dbs[ndbs].flags));
		ndbs++;
	}
	if (rc != MDB_NOTFOUND)
		die("walk main database", rc);
	mdb_cursor_close(c);
}

/*
 * Pair d's entries in PREV (pt; empty for a database new in CUR) with
 * CUR's (ct), in LMDB's order, and note what the round changed.
 */
static void
pair_db(struct fdb *d, MDB_txn *pt, MDB_txn *ct)
{
	MDB_cursor	*pc, *cc;
	MDB_val		 pk, pv, ck, cv;
	int		 prc, crc, cmp;
	int		 dup = (d->flags & MDB_DUPSORT) != 0;

	check("cursor", mdb_cursor_open(ct, d->cur, &cc));
	crc = mdb_cursor_get(cc, &ck, &cv, MDB_FIRST);
	check("cursor", mdb_cursor_open(pt, d->prev, &pc));
	prc = mdb_cursor_get(pc, &pk, &pv, MDB_FIRST);
	while (prc == 0 || crc == 0) {
		if (prc != 0)
			cmp = 1;
		else if (crc != 0)
			cmp = -1;
		else if ((cmp = mdb_cmp(ct, d->cur, &pk, &ck)) == 0 && dup)
			cmp = mdb_dcmp(ct, d->cur, &pv, &cv);
		if (cmp < 0)		/* gone in the round */
			add_op(d, &pk, &pv, 1);
		else if (cmp > 0)	/* new in the round */
			add_op(d, &ck, &cv, 0);
		else if (!dup && (pv.mv_size != cv.mv_size ||
		    memcmp(pv.mv_data, cv.mv_data, cv.mv_size) != 0))
			add_op(d, &ck, &cv, 0);	/* changed */
		if (cmp <= 0)
			prc = mdb_cursor_get(pc, &pk, &pv, MDB_NEXT);
		if (cmp >= 0)
			crc = mdb_cursor_get(cc, &ck, &cv, MDB_NEXT);
	}
	if ((prc != 0 && prc != MDB_NOTFOUND) ||
	    (crc != 0 && crc != MDB_NOTFOUND))
		die("walk", prc != 0 && prc != MDB_NOTFOUND ? prc : crc);
	mdb_cursor_close(pc);
	mdb_cursor_close(cc);
}

/* Transaction j of n: an equal share of every database's changes. */
static void
write_txn(MDB_env *env, size_t j, size_t n)
{
	MDB_txn		*txn;
	MDB_cursor	*c;
	size_t		 i, a, b;
	struct fdb	*d;
	struct op	*o;

	check("begin", mdb_txn_begin(env, NULL, 0, &txn));
	for (i = 0; i < ndbs; i++) {
		d = &dbs[i];
		a = d->nops * j / n;
		b = d->nops * (j + 1) / n;
		if (a == b)
			continue;
		check("cursor", mdb_cursor_open(txn, d->prev, &c));
		for (o = d->ops + a; o < d->ops + b; o++) {
			if (!o->del)
				check("put", mdb_cursor_put(c, &o->k, &o->v,
				    0));
			else
				check("del", mdb_del(txn, d->prev, &o->k,
				    (d->flags & MDB_DUPSORT) ? &o->v : NULL));
		}
		mdb_cursor_close(c);
	}
	check("commit", mdb_txn_commit(txn));
}

int
main(int argc, char **argv)
{
	MDB_env		*penv, *cenv;
	MDB_txn		*pt, *ct;
	MDB_envinfo	 info;
	size_t		 i, j, ntx, puts = 0, dels = 0;
	double		 w0, c0, wall, cpus;
	char		*end;
	int		 rc;

	if (argc != 4 || (ntx = strtoul(argv[3], &end, 10)) == 0 ||
	    *end != '\0') {
		fprintf(stderr, "usage: floor PREV CUR COMMITS (COMMITS >= 1)\n");
		return 2;
	}
	/* CUR, read-only, its read transaction open to the end. */
	check("create", mdb_env_create(&cenv));
	check("maxdbs", mdb_env_set_maxdbs(cenv, FLOOR_MAXDBS));
	if ((rc = mdb_env_open(cenv, argv[2], MDB_RDONLY | MDB_NOTLS, 0)) != 0)
		die(argv[2], rc);
	check("begin", mdb_txn_begin(cenv, NULL, MDB_RDONLY, &ct));
	mdb_env_info(cenv, &info);
	list_dbs(ct);

	/* PREV, as the store opens a statsfile, at CUR's map size. */
	check("create", mdb_env_create(&penv));
	check("maxdbs", mdb_env_set_maxdbs(penv, FLOOR_MAXDBS));
	check("mapsize", mdb_env_set_mapsize(penv, info.me_mapsize));
	if ((rc = mdb_env_open(penv, argv[1], MDB_NOTLS | MDB_NOMETASYNC,
	    0660)) != 0)
		die(argv[1], rc);
	/* The databases new in CUR are made first, untimed. */
	check("begin", mdb_txn_begin(penv, NULL, 0, &pt));
	for (i = 0; i < ndbs; i++)
		check(dbs[i].name, mdb_dbi_open(pt, dbs[i].name,
		    dbs[i].flags | MDB_CREATE, &dbs[i].prev));
	check("commit", mdb_txn_commit(pt));
	check("begin", mdb_txn_begin(penv, NULL, MDB_RDONLY, &pt));
	for (i = 0; i < ndbs; i++) {
		pair_db(&dbs[i], pt, ct);
		for (j = 0; j < dbs[i].nops; j++)
			dbs[i].ops[j].del ? dels++ : puts++;
	}
	mdb_txn_abort(pt);

	w0 = mono();
	c0 = cpu();
	for (j = 0; j < ntx; j++)
		write_txn(penv, j, ntx);
	cpus = cpu() - c0;
	wall = mono() - w0;

	mdb_txn_abort(ct);
	mdb_env_close(cenv);
	mdb_env_close(penv);
	printf("floor wall %.6f cpu %.6f puts %zu dels %zu txns %zu dbs %zu\n",
	    wall, cpus, puts, dels, ntx, ndbs);
	return 0;
}
