/*
 * store-index.c: the stat index (format 2, tally(5)).
 *
 * The tables counters-by-stat and stats-by-stat hold every value of
 * counters and stats once more, keyed <stat name>/<node id>: a reader of
 * one stat across the fleet (a munin graph) then touches that stat's
 * pages only, not a page of every node.  Every change to a node-major
 * table is mirrored here in the same write transaction (store-write.c),
 * so a reader sees both or neither.  A statsfile of format 1 has no index;
 * its first write makes one from the node-major tables and sets format 2,
 * in that write's transaction.  A delete here is preceded by a read-only
 * walk of the pages it may merge, as every delete of the store is
 * (store_walk_range in store-write.c).
 */
#include <stdio.h>
#include <string.h>

#include "store-int.h"

/* Build <stat>/<node> into key (STORE_KEYMAX bytes); its length. */
static size_t
store_index_key(char *key, const char *node, size_t nlen, const char *stat,
    size_t slen)
{
	memcpy(key, stat, slen);
	key[slen] = '/';
	memcpy(key + slen + 1, node, nlen);
	return slen + 1 + nlen;
}

/*
 * Fill db's index from db (a node-major table): every key <node>/<stat>
 * once more as <stat>/<node>, with its value.  A key without a '/' is
 * left out: tally check reports it.
 */
int
store_index_fill(struct store *s, MDB_txn *txn, enum store_db db)
{
	MDB_cursor	*cur;
	MDB_val		 k, v, ik;
	const char	*key, *slash;
	char		 ikey[STORE_KEYMAX];
	size_t		 nlen;
	int		 rc;

	if ((rc = store_cursor(txn, s->dbi[db], &cur)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		key = k.mv_data;
		if (k.mv_size > STORE_KEYMAX || (slash = memchr(key, '/',
		    k.mv_size)) == NULL)
			continue;
		nlen = (size_t)(slash - key);
		ik.mv_data = ikey;
		ik.mv_size = store_index_key(ikey, key, nlen, slash + 1,
		    k.mv_size - nlen - 1);
		if ((rc = mdb_put(txn, s->dbi[STORE_IDX(db)], &ik, &v, 0)) !=
		    0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Make the index ready for a write transaction: nothing if it is open;
 * open it if another process converted the statsfile since this one
 * opened it; else (format 1) make it, fill it and set format 2.  The
 * handles are this transaction's until store_index_end says it
 * committed.  (A transaction that a fault ended left them pending, and
 * closed: they are opened again.)  0 or LMDB's code (MDB_INCOMPATIBLE: a format this store
 * does not know was set meanwhile).
 */
int
store_index_ready(struct store *s, MDB_txn *txn)
{
	MDB_val		 k = { 6, (void *)"format" }, v;
	char		 want[8];
	unsigned	 flags;
	int		 rc, n, db, convert;

	if (s->idx == STORE_IDX_READY)
		return 0;
	if ((rc = mdb_get(txn, s->dbi[STORE_META], &k, &v)) != 0)
		return rc == MDB_NOTFOUND ? MDB_INCOMPATIBLE : rc;
	n = snprintf(want, sizeof want, "%d", TALLY_DB_FORMAT);
	convert = v.mv_size == 1 && *(const char *)v.mv_data == '1';
	if (!convert && (v.mv_size != (size_t)n || memcmp(v.mv_data, want,
	    (size_t)n) != 0))
		return MDB_INCOMPATIBLE;
	flags = convert ? MDB_CREATE : 0;
	for (db = STORE_COUNTERS_IDX; db <= STORE_STATS_IDX; db++)
		if ((rc = mdb_dbi_open(txn, store_db_name(db), flags,
		    &s->dbi[db])) != 0)
			return rc == MDB_NOTFOUND ? MDB_INCOMPATIBLE : rc;
	if (convert) {
		if ((rc = store_index_fill(s, txn, STORE_COUNTERS)) != 0 ||
		    (rc = store_index_fill(s, txn, STORE_STATS)) != 0)
			return rc;
		v.mv_data = want;
		v.mv_size = (size_t)n;
		if ((rc = mdb_put(txn, s->dbi[STORE_META], &k, &v, 0)) != 0)
			return rc;
	}
	s->idx = STORE_IDX_PENDING;
	return 0;
}

/*
 * The write transaction that store_index_ready ran in is over: its
 * handles stay if it committed, and LMDB closed them if not.
 */
void
store_index_end(struct store *s, int committed)
{
	if (s->idx == STORE_IDX_PENDING)
		s->idx = committed ? STORE_IDX_READY : STORE_IDX_NONE;
}

/* Mirror a put of <node>/<stat> = v in db (counters or stats). */
int
store_index_put(struct store *s, MDB_txn *txn, enum store_db db,
    const char *node, size_t nlen, const char *stat, size_t slen,
    const MDB_val *v)
{
	MDB_val	 k, val = *v;
	char	 key[STORE_KEYMAX];

	k.mv_data = key;
	k.mv_size = store_index_key(key, node, nlen, stat, slen);
	return mdb_put(txn, s->dbi[STORE_IDX(db)], &k, &val, 0);
}

/*
 * Mirror a delete of <node>/<stat> in db.  A key the index lacks is no
 * error: the index is only ever short of what tally check reports.
 */
int
store_index_del(struct store *s, MDB_txn *txn, enum store_db db,
    const char *node, size_t nlen, const char *stat, size_t slen)
{
	MDB_cursor	*cur;
	MDB_val		 k;
	char		 key[STORE_KEYMAX];
	int		 rc;

	k.mv_data = key;
	k.mv_size = store_index_key(key, node, nlen, stat, slen);
	if ((rc = store_cursor(txn, s->dbi[STORE_IDX(db)], &cur)) != 0)
		return rc;
	rc = store_walk_range(cur, key, k.mv_size, s->psize);
	mdb_cursor_close(cur);
	if (rc == 0)
		rc = mdb_del(txn, s->dbi[STORE_IDX(db)], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}
