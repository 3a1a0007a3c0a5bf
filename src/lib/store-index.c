/*
 * store-index.c: the stat index (format 2, tally(5)).
 *
 * The tables counters-by-stat and stats-by-stat hold every value of
 * counters and stats once more, keyed <stat name>/<node id>: a reader of
 * one stat across the fleet (a munin graph) then touches that stat's
 * pages only, not a page of every node.  Every change to a node-major
 * table is mirrored here in the same write transaction (store-write.c),
 * so a reader sees both or neither.  The index is the operator's choice,
 * since it costs writers dearly: a batch of snapshots from many nodes
 * dirties pages all over it.  A statsfile of format 1 has none; tally
 * index (store_index_set) makes one from the node-major tables and sets
 * format 2, in one transaction, and --off drops it.  Writers look at the
 * format in each write transaction, so one that opened the file before
 * either keeps step.  A delete here is preceded by a read-only walk of
 * the pages it may merge, as every delete of the store is
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
 * The format of the statsfile, as this transaction sees it: 1, 2, or 0
 * for anything else; or LMDB's code.
 */
static int
store_index_format(struct store *s, MDB_txn *txn, int *fmt)
{
	MDB_val	 k = { 6, (void *)"format" }, v;
	int	 rc;

	*fmt = 0;
	if ((rc = mdb_get(txn, s->dbi[STORE_META], &k, &v)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (v.mv_size == 1 && (*(const char *)v.mv_data == '1' ||
	    *(const char *)v.mv_data == '2'))
		*fmt = *(const char *)v.mv_data - '0';
	return 0;
}

/*
 * Make the index ready for a write transaction: in a statsfile of format
 * 2, open it if this store has not (another process made it since), and
 * in one of format 1, forget it (another process dropped it).  The
 * handles are this transaction's until store_index_end says it committed.
 * (A transaction that a fault ended left them pending, and closed: they
 * are opened again.)  0 or LMDB's code (MDB_INCOMPATIBLE: a format this
 * store does not know was set meanwhile).
 */
int
store_index_ready(struct store *s, MDB_txn *txn)
{
	int	 rc, db, fmt;

	if ((rc = store_index_format(s, txn, &fmt)) != 0)
		return rc;
	if (fmt == 1) {
		s->idx = STORE_IDX_NONE;
		return 0;
	}
	if (fmt != 2)
		return MDB_INCOMPATIBLE;
	if (s->idx == STORE_IDX_READY)
		return 0;
	for (db = STORE_COUNTERS_IDX; db <= STORE_STATS_IDX; db++) {
		if ((rc = mdb_dbi_open(txn, store_db_name(db), 0,
		    &s->dbi[db])) != 0)
			return rc == MDB_NOTFOUND ? MDB_INCOMPATIBLE : rc;
		if (store_dbi_plain(txn, s->dbi[db]) != 0)
			return MDB_INCOMPATIBLE;
	}
	s->idx = STORE_IDX_PENDING;
	return 0;
}

/*
 * A reader's transaction: an index that another process dropped since
 * this store looked (tally index --off) is not used, here or after, until
 * a write finds it again (store_index_ready).  One made since is not used
 * either: readers do without it until then.  0 or LMDB's code.
 */
int
store_index_reader(struct store *s, MDB_txn *txn)
{
	int	 rc, fmt;

	if (s->idx != STORE_IDX_READY)
		return 0;
	if ((rc = store_index_format(s, txn, &fmt)) != 0)
		return rc;
	if (fmt != 2)
		s->idx = STORE_IDX_NONE;
	return 0;
}

/* Make (on) or drop the index in txn; 1 if it was so already. */
static int
store_index_switch(struct store *s, MDB_txn *txn, int on)
{
	MDB_val	 k = { 6, (void *)"format" }, v;
	int	 rc, db, fmt;

	if ((rc = store_index_format(s, txn, &fmt)) != 0)
		return rc;
	if (fmt == 0)
		return MDB_INCOMPATIBLE;
	if (fmt == (on ? 2 : 1))
		return 1;
	for (db = STORE_COUNTERS_IDX; db <= STORE_STATS_IDX; db++) {
		if ((rc = mdb_dbi_open(txn, store_db_name(db), on ?
		    MDB_CREATE : 0, &s->dbi[db])) != 0)
			return rc;
		/* One made with other flags (store_dbi_plain) goes whole. */
		if (on && store_dbi_plain(txn, s->dbi[db]) != 0 &&
		    ((rc = mdb_drop(txn, s->dbi[db], 1)) != 0 ||
		    (rc = mdb_dbi_open(txn, store_db_name(db), MDB_CREATE,
		    &s->dbi[db])) != 0))
			return rc;
		/*
		 * Dropped, or emptied before it is filled: a format-1 file
		 * may hold a table of that name already (a half-done tool, a
		 * hostile file), whose keys would outlive their values.
		 */
		if ((rc = mdb_drop(txn, s->dbi[db], !on)) != 0)
			return rc;
	}
	if (on && ((rc = store_index_fill(s, txn, STORE_COUNTERS)) != 0 ||
	    (rc = store_index_fill(s, txn, STORE_STATS)) != 0))
		return rc;
	v.mv_data = (void *)(on ? "2" : "1");
	v.mv_size = 1;
	return mdb_put(txn, s->dbi[STORE_META], &k, &v, 0);
}

struct store_index_arg {
	int	 on;
	int	 already;
};

static int
store_index_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_index_arg	*a = arg;
	MDB_txn			*txn;
	int			 rc, tries, again;

	if ((rc = store_ready(s, err, errlen)) != 0)
		return rc;
	for (tries = 0; tries < 16; tries++) {
		if ((rc = store_begin(s, 0, &txn, err, errlen)) != 0)
			return rc;
		rc = store_index_switch(s, txn, a->on);
		a->already = rc == 1;
		if (rc == 1)
			rc = 0;
		if ((again = store_retry(s, txn, &rc, err, errlen)) < 0) {
			s->idx = STORE_IDX_NONE;
			return rc;
		}
		if (!again)
			break;
	}
	/* Handles made or dropped in an aborted txn are gone: look again. */
	s->idx = rc == 0 && a->on && !a->already ? STORE_IDX_READY :
	    STORE_IDX_NONE;
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, a->on ? "make the "
		    "stat index" : "drop the stat index");
	if (a->already)
		return error_set(err, errlen, TALLY_ESTATE, "statsfile %s: "
		    "the stat index is %s already", store_path(s), a->on ?
		    "there" : "off");
	return 0;
}

/*
 * tally index: make the stat index (on) or drop it, in one transaction
 * that grows the map as a write does.  0, TALLY_ESTATE if it was so
 * already, or an error with its message.
 */
int
store_index_set(struct store *s, int on, char *err, size_t errlen)
{
	struct store_index_arg	 a = { on, 0 };

	if (s->flags & STORE_RDONLY)
		return error_set(err, errlen, TALLY_ESTATE, "statsfile %s: "
		    "opened read-only", store_path(s));
	return store_run_writer(s, store_index_fn, &a, err, errlen);
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

/* Mirror a put of <node>/<stat> = v in db (counters or stats), if indexed. */
int
store_index_put(struct store *s, MDB_txn *txn, enum store_db db,
    const char *node, size_t nlen, const char *stat, size_t slen,
    const MDB_val *v)
{
	MDB_val	 k, val = *v;
	char	 key[STORE_KEYMAX];

	if (s->idx == STORE_IDX_NONE)
		return 0;
	k.mv_data = key;
	k.mv_size = store_index_key(key, node, nlen, stat, slen);
	return mdb_put(txn, s->dbi[STORE_IDX(db)], &k, &val, 0);
}

/*
 * Mirror a delete of <node>/<stat> in db, if indexed.  A key the index
 * lacks is no error: the index is only ever short of what tally check reports.
 */
int
store_index_del(struct store *s, MDB_txn *txn, enum store_db db,
    const char *node, size_t nlen, const char *stat, size_t slen)
{
	MDB_cursor	*cur;
	MDB_val		 k;
	char		 key[STORE_KEYMAX];
	int		 rc;

	if (s->idx == STORE_IDX_NONE)
		return 0;
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
