/*
 * store-write.c: writing and deleting nodes' slots.
 *
 * Replacing a node's slot is one transaction that writes only what
 * changed (store_merge); a batch of slots is one transaction too.  A
 * write that finds the map full grows it, with no transaction active,
 * and tries again.  LMDB does not check the pages a delete rebalances
 * with, so no key is deleted before a read-only walk over them
 * (store_prewalk), where LMDB's checks fire, under the guard, before
 * anything is changed.  A write of slots walks them only when it must
 * delete (store_write_fn): a put touches no page that its own search has
 * not checked.  Writers hold s->lock, run under the guard, and hold
 * SIGXFSZ back (store_run_writer).  Forgetting a node's key rewrites its
 * record alone, in a transaction of its own.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store-int.h"

#define STORE_RECMAX 1024	/* a nodes record: nickname, source, numbers */

/* ---- writing ------------------------------------------------------------ */

/* Compare an existing key's stat part with a new name, as LMDB orders. */
static int
store_keycmp(const MDB_val *k, size_t plen, const char *name, size_t nlen)
{
	size_t	 klen = k->mv_size - plen, m = klen < nlen ? klen : nlen;
	int	 c = memcmp((const char *)k->mv_data + plen, name, m);

	if (c != 0)
		return c;
	return klen < nlen ? -1 : klen > nlen;
}

static _Thread_local size_t store_nformatted, store_nwalked;

size_t
store_formatted(void)
{
	return store_nformatted;
}

size_t
store_walked(void)
{
	return store_nwalked;
}

/* An entry's value as its text, in num (RECORD_NUMLEN); into nv. */
static void
store_text(enum store_db db, const struct snapshot_ent *e, char *num,
    MDB_val *nv)
{
	nv->mv_data = num;
	if (db == STORE_COUNTERS)
		nv->mv_size = record_fmt_int64(num, e->v.i);
	else {
		store_nformatted++;
		nv->mv_size = record_fmt_double(num, e->v.d);
	}
}

/*
 * Whether the stored text v already says entry e, else its text in nv.  A
 * stat's old text is read back and compared as a double (NaN with NaN), so
 * a value that did not change is never formatted: reading a short decimal
 * back costs a few nanoseconds (record_parse_double), formatting a double
 * that is not one costs printf's search (record_fmt_double).
 */
static int
store_same(enum store_db db, const MDB_val *v, const struct snapshot_ent *e,
    char *num, MDB_val *nv)
{
	double	 old;

	if (db == STORE_STATS && record_parse_double(v->mv_data, v->mv_size,
	    &old) == 0) {
		if (old == e->v.d ? signbit(old) == signbit(e->v.d) :
		    isnan(old) && isnan(e->v.d))
			return 1;
		/*
		 * Another value: its text reads back as itself
		 * (record_fmt_double), so it cannot be the old text, which
		 * reads as old.  No compare.
		 */
		store_text(db, e, num, nv);
		return 0;
	}
	store_text(db, e, num, nv);
	return v->mv_size == nv->mv_size &&
	    memcmp(v->mv_data, nv->mv_data, nv->mv_size) == 0;
}

/*
 * Make db's keys under "<node>/" exactly the snapshot's entries: one pass
 * over both sorted sequences, writing only what changed, so a flush of an
 * idle node costs reads, not writes.  A key to delete when dels is 0 (the
 * range not walked yet) stops the pass with STORE_NEEDWALK.  Cursors of a
 * write transaction are freed by its abort, so a jump needs nothing more.
 */
static int
store_merge(struct store *s, MDB_txn *txn, enum store_db db,
    const char *node, size_t plen, const struct snapshot *snap,
    const struct snapshot_ent *ents, size_t n, int dels)
{
	MDB_cursor	*cur;
	MDB_val		 k, v, nk, nv;
	char		 key[STORE_KEYMAX], num[RECORD_NUMLEN];
	size_t		 i = 0;
	int		 rc, cmp, have;

	memcpy(key, node, plen - 1);
	key[plen - 1] = '/';
	if ((rc = store_cursor(txn, s->dbi[db], &cur)) != 0)
		return rc;
	k.mv_data = key;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (;;) {
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		/* <node>/ alone, an empty name, is first and goes. */
		have = rc == 0 && k.mv_size >= plen &&
		    memcmp(k.mv_data, key, plen) == 0;
		if (!have && i == n) {
			rc = 0;
			break;
		}
		if (i < n) {
			const char *name = snapshot_name(snap, &ents[i]);
			cmp = !have ? 1 : store_keycmp(&k, plen, name,
			    ents[i].nlen);
			memcpy(key + plen, name, ents[i].nlen);
			nk.mv_data = key;
			nk.mv_size = plen + ents[i].nlen;
		} else
			cmp = -1;
		if (cmp < 0) {		/* gone from the snapshot */
			if (!dels) {
				rc = STORE_NEEDWALK;
				break;
			}
			s->deleted = 1;
			if ((rc = store_index_del(s, txn, db, node, plen - 1,
			    (const char *)k.mv_data + plen, k.mv_size -
			    plen)) != 0 || (rc = mdb_cursor_del(cur, 0)) != 0)
				break;
		} else if (cmp == 0) {
			/*
			 * Kept: write only if changed.  A text of the old size
			 * is written over the old one where the cursor stands,
			 * with no search: MDB_CURRENT as lmdb.h intends it.  A
			 * text of another size is put by its key, a delete and
			 * an insert either way.
			 */
			if (store_same(db, &v, &ents[i++], num, &nv))
				;
			else if ((rc = mdb_cursor_put(cur, &nk, &nv,
			    nv.mv_size == v.mv_size ? MDB_CURRENT : 0)) != 0 ||
			    (rc = store_index_put(s, txn, db, node, plen - 1,
			    key + plen, nk.mv_size - plen, &nv)) != 0)
				break;
		} else {		/* new in the snapshot */
			store_text(db, &ents[i++], num, &nv);
			if ((rc = mdb_cursor_put(cur, &nk, &nv, 0)) != 0 ||
			    (rc = store_index_put(s, txn, db, node, plen - 1,
			    key + plen, nk.mv_size - plen, &nv)) != 0)
				break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc;
}

static int
store_write_txn(struct store *s, MDB_txn *txn, const char *node,
    size_t nlen, const struct record_node *rn, const struct snapshot *snap,
    int dels)
{
	struct record_node	 old, keep;
	char			 rec[STORE_RECMAX], why[64];
	MDB_val			 k, v;
	int			 n, rc;

	k.mv_data = (void *)node;
	k.mv_size = nlen;
	/*
	 * A writer that knows no key (a local provider, a plaintext node)
	 * keeps the one bound to the node: only tally forget unbinds it.
	 */
	if (rn->key[0] == '\0' && mdb_get(txn, s->dbi[STORE_NODES], &k,
	    &v) == 0 && record_node_parse(v.mv_data, v.mv_size, &old, why,
	    sizeof why) == 0 && old.key[0] != '\0') {
		keep = *rn;
		memcpy(keep.key, old.key, sizeof keep.key);
		rn = &keep;
	}
	if ((n = record_node_fmt(rec, sizeof rec, rn)) < 0)
		return EINVAL;	/* checked by store_write_slots already */
	v.mv_data = rec;
	v.mv_size = (size_t)n;
	if ((rc = mdb_put(txn, s->dbi[STORE_NODES], &k, &v, 0)) != 0)
		return rc;
	if ((rc = store_merge(s, txn, STORE_COUNTERS, node, nlen + 1, snap,
	    snap->counters, snap->ncounters, dels)) != 0)
		return rc;
	return store_merge(s, txn, STORE_STATS, node, nlen + 1, snap,
	    snap->stats, snap->nstats, dels);
}

/*
 * LMDB checks the kind of a page where it descends the tree and where a
 * cursor steps onto the next leaf, but not where a delete rebalances a
 * leaf with its neighbour: a damaged neighbour (a zeroed page, say) is
 * then merged into a heap copy, out of its bounds, and the heap of the
 * host is corrupt before anything is said.  So before a write that
 * deletes, a read-only walk visits the pages it may merge: all of the
 * main and free databases (a few pages; every write walks these, as its
 * commit deletes from the free database), and in each table the keys
 * under a prefix, with the leaf before and the leaf after them.  LMDB's
 * checks then fire in the walk (an assertion, caught), and the write
 * never starts.
 * A key's page is its address rounded down to the page size: mapped pages
 * are aligned, as the map is.
 */
int
store_walk_range(MDB_cursor *cur, const char *prefix, size_t plen,
    size_t psize)
{
	MDB_val		 k, v;
	uintptr_t	 mask = ~(uintptr_t)(psize - 1), page;
	int		 rc;

	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	/* Back, into the leaf before. */
	page = (uintptr_t)k.mv_data & mask;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) == 0 &&
	    ((uintptr_t)k.mv_data & mask) == page)
		;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	/* Forward, over the prefix and into the leaf after. */
	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	page = (uintptr_t)k.mv_data & mask;
	while (rc == 0 && ((k.mv_size >= plen && memcmp(k.mv_data, prefix,
	    plen) == 0) || ((uintptr_t)k.mv_data & mask) == page)) {
		page = (uintptr_t)k.mv_data & mask;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
store_walk_all(MDB_cursor *cur)
{
	MDB_val	 k, v;
	int	 rc;

	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
		;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Walk what a write of these nodes' slots may merge: the free and main
 * databases and meta, and if ranges, the nodes' keys in each table.  0 or
 * an error.
 */
static int
store_prewalk(struct store *s, const char *const *nodes, size_t n,
    int ranges, char *err, size_t errlen)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_dbi		 main;
	char		 key[TALLY_NODE_ID_MAX + 1];
	size_t		 i, nlen;
	int		 rc, db;

	if ((rc = store_begin(s, MDB_RDONLY, &txn, err, errlen)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &main)) != 0)
		goto out;
	for (db = -2; db <= (ranges ? STORE_STATS : STORE_META) && rc == 0;
	    db++) {
		/*
		 * The free database, the main one, then ours; the index's
		 * deletes walk their own pages (store_index_del).
		 */
		if ((rc = store_cursor(txn, db == -2 ? 0 : db == -1 ? main :
		    s->dbi[db], &cur)) != 0)
			break;
		s->rcur[0] = cur;
		if (db < 0 || db == STORE_META)
			rc = store_walk_all(cur);
		for (i = 0; i < n && rc == 0 && db >= STORE_NODES; i++) {
			store_nwalked++;
			nlen = strlen(nodes[i]);
			memcpy(key, nodes[i], nlen);
			key[nlen] = '/';
			rc = store_walk_range(cur, key, db == STORE_NODES ?
			    nlen : nlen + 1, s->psize);
		}
		s->rcur[0] = NULL;
		mdb_cursor_close(cur);
	}
out:
	store_abort(s, txn);
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "check before write");
	return 0;
}

struct store_write_arg {
	const struct store_slot	*slots;
	const char		**nodes;
	size_t			 n;
};

/*
 * End one try of a write transaction: commit it if *rcp is 0, else abort
 * it.  On MDB_MAP_FULL the map grows, now that no transaction is active,
 * and 1 says try again.  0: done, *rcp the outcome (0 or LMDB's code).
 * -1: the map could not grow, *rcp its TALLY_E* code, the message set.
 */
int
store_retry(struct store *s, MDB_txn *txn, int *rcp, char *err,
    size_t errlen)
{
	int	 rc = *rcp;

	if (rc == 0)
		rc = store_commit(s, txn);
	else
		store_abort(s, txn);
	*rcp = rc;
	if (rc != MDB_MAP_FULL)
		return 0;
	if ((rc = store_grow(s, err, errlen)) != 0) {
		*rcp = rc;
		return -1;
	}
	return 1;
}

/*
 * Write the slots in one transaction.  Most writes only put (a steady
 * node sends the stats it sent before): they skip the walk of their
 * ranges.  One that must delete (a stat gone from a snapshot) is undone,
 * the ranges are walked, and it is done again, deletes and all.  After a
 * write that deleted, the next walks first: a fleet whose stats come and
 * go deletes in every batch, and would otherwise write each one twice.
 */
static int
store_write_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_write_arg	*w = arg;
	MDB_txn			*txn;
	size_t			 i, formatted;
	int			 rc = 0, tries, again, dels = s->deleted;

	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_prewalk(s, w->nodes, w->n, dels, err, errlen)) != 0)
		return rc;
	for (tries = 0; tries < 16; tries++) {
		if ((rc = store_begin(s, 0, &txn, err, errlen)) != 0)
			return rc;
		s->deleted = 0;
		formatted = store_nformatted;
		rc = store_index_ready(s, txn);
		for (i = 0; i < w->n && rc == 0; i++)
			rc = store_write_txn(s, txn, w->slots[i].node_id,
			    strlen(w->slots[i].node_id), w->slots[i].rn,
			    w->slots[i].snap, dels);
		if (rc == STORE_NEEDWALK) {
			store_abort(s, txn);
			store_index_end(s, 0);
			store_nformatted = formatted;	/* none written */
			if ((rc = store_prewalk(s, w->nodes, w->n, 1, err,
			    errlen)) != 0)
				return rc;
			/*
			 * Not a try: only a full map counts.  Once at most, as
			 * dels is set: the last try must end in a commit or
			 * in its error, never with nothing written.
			 */
			dels = 1;
			tries--;
			continue;
		}
		again = store_retry(s, txn, &rc, err, errlen);
		store_index_end(s, again == 0 && rc == 0);
		if (again < 0)
			return rc;
		if (!again)
			break;
	}
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "write slot");
	return 0;
}

/* Run a writer's fn: under s->lock, with SIGXFSZ held back. */
int
store_run_writer(struct store *s, store_fn fn, void *arg, char *err,
    size_t errlen)
{
	struct store_xfsz	 x;
	int			 rc;

	if ((rc = store_lock(s, err, errlen)) != 0)
		return rc;
	store_xfsz_block(&x);
	rc = store_run(s, fn, arg, err, errlen);
	store_xfsz_unblock(&x);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int
store_write_slots(struct store *s, const struct store_slot *slots, size_t n,
    char *err, size_t errlen)
{
	struct store_write_arg	 w = { slots, NULL, n };
	const char		*one[1];
	size_t			 i;
	int			 rc;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (s->flags & STORE_RDONLY)
		return error_set(err, errlen, TALLY_ESTATE, "statsfile %s: "
		    "opened read-only", s->qpath);
	/* Refuse a bad slot before the batch's transaction, not inside it. */
	for (i = 0; i < n; i++) {
		char	 rec[STORE_RECMAX];

		if (!name_node_id_valid(slots[i].node_id,
		    strlen(slots[i].node_id)))
			return error_set(err, errlen, TALLY_EINVAL,
			    "invalid node id");
		if ((rc = record_node_fmt(rec, sizeof rec, slots[i].rn)) < 0)
			return error_set(err, errlen, TALLY_EINVAL,
			    "node %s: %s", slots[i].node_id,
			    rc == TALLY_ELIMIT ? "record too long" :
			    "key is not a key fingerprint");
	}
	if (n == 1) {
		one[0] = slots[0].node_id;
		w.nodes = one;
	} else if ((w.nodes = calloc(n, sizeof *w.nodes)) == NULL)
		return error_set(err, errlen, TALLY_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		w.nodes[i] = slots[i].node_id;
	rc = store_run_writer(s, store_write_fn, &w, err, errlen);
	if (n > 1)
		free(w.nodes);
	return rc;
}

int
store_write_slot(struct store *s, const char *node,
    const struct record_node *rn, const struct snapshot *snap, char *err,
    size_t errlen)
{
	struct store_slot	 slot = { node, rn, snap };

	return store_write_slots(s, &slot, 1, err, errlen);
}

/* ---- deleting ----------------------------------------------------------- */

/* Delete db's keys under key (<node>/), and their index entries. */
static int
store_delete_prefix(struct store *s, MDB_txn *txn, enum store_db db,
    const char *key, size_t plen)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 rc;

	if ((rc = store_cursor(txn, s->dbi[db], &cur)) != 0)
		return rc;
	k.mv_data = (void *)key;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, key,
	    plen) == 0) {
		if ((rc = store_index_del(s, txn, db, key, plen - 1,
		    (const char *)k.mv_data + plen, k.mv_size - plen)) != 0 ||
		    (rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct store_delete_arg {
	const char	*node;
	int64_t		 before;
};

static int
store_delete_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_delete_arg	*a = arg;
	struct record_node	 rn;
	MDB_txn			*txn;
	MDB_val			 k, v;
	char			 key[TALLY_NODE_ID_MAX + 1], why[64];
	const char		*kept = NULL;
	size_t			 nlen = strlen(a->node);
	int			 rc;

	memcpy(key, a->node, nlen);
	key[nlen] = '/';
	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_prewalk(s, &a->node, 1, 1, err, errlen)) != 0 ||
	    (rc = store_begin(s, 0, &txn, err, errlen)) != 0)
		return rc;
	if ((rc = store_index_ready(s, txn)) != 0) {
		store_abort(s, txn);
		store_index_end(s, 0);
		return store_lmdb_err(s, rc, err, errlen, "delete slot");
	}
	k.mv_data = (void *)a->node;
	k.mv_size = nlen;
	if (a->before > INT64_MIN && (rc = mdb_get(txn, s->dbi[STORE_NODES],
	    &k, &v)) == 0) {
		if (record_node_parse(v.mv_data, v.mv_size, &rn, why,
		    sizeof why) != 0)
			kept = why;
		else if (rn.time >= a->before &&
		    record_time_sane(rn.time, (int64_t)time(NULL)))
			/* An insane time is older than any cutoff (prune). */
			kept = "its snapshot is not that old";
		if (kept != NULL) {
			store_abort(s, txn);
			store_index_end(s, 0);
			return error_set(err, errlen, TALLY_ESTATE, "statsfile "
			    "%s: node %s kept: %s", s->qpath, a->node, kept);
		}
	}
	if (rc == 0)
		rc = mdb_del(txn, s->dbi[STORE_NODES], &k, NULL);
	if (rc == MDB_NOTFOUND) {
		store_abort(s, txn);
		store_index_end(s, 0);
		return error_set(err, errlen, TALLY_ENOTFOUND, "statsfile %s: "
		    "no node %s", s->qpath, a->node);
	}
	if (rc == 0)
		rc = store_delete_prefix(s, txn, STORE_COUNTERS, key,
		    nlen + 1);
	if (rc == 0)
		rc = store_delete_prefix(s, txn, STORE_STATS, key, nlen + 1);
	if (rc == 0)
		rc = store_commit(s, txn);
	else
		store_abort(s, txn);
	store_index_end(s, rc == 0);
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "delete slot");
	return 0;
}

/* May this process write node's slot in s: 0, or why not. */
static int
store_node_writable(struct store *s, const char *node, char *err,
    size_t errlen)
{
	int	 rc;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (!name_node_id_valid(node, strlen(node)))
		return error_set(err, errlen, TALLY_EINVAL, "invalid node id");
	if (s->flags & STORE_RDONLY)
		return error_set(err, errlen, TALLY_ESTATE, "statsfile %s: "
		    "opened read-only", s->qpath);
	return 0;
}

/* Delete node's slot; with before > INT64_MIN, only if older than that. */
static int
store_delete(struct store *s, const char *node, int64_t before, char *err,
    size_t errlen)
{
	struct store_delete_arg	 a = { node, before };
	int			 rc;

	if ((rc = store_node_writable(s, node, err, errlen)) != 0)
		return rc;
	return store_run_writer(s, store_delete_fn, &a, err, errlen);
}

int
store_delete_slot(struct store *s, const char *node, char *err,
    size_t errlen)
{
	return store_delete(s, node, INT64_MIN, err, errlen);
}

int
store_delete_slot_before(struct store *s, const char *node, int64_t before,
    char *err, size_t errlen)
{
	return store_delete(s, node, before, err, errlen);
}

/* ---- forgetting a node's key -------------------------------------------- */

/*
 * Copy the record (rec, len) into out (len bytes) without its key= lines:
 * the new length, or -1 if it has none.  Every other line, known or not,
 * is kept byte for byte, so that a field a later version added survives
 * and nothing but the binding changes.
 */
static long
store_drop_key(const char *rec, size_t len, char *out)
{
	const char	*p = rec, *end = rec + len, *nl;
	size_t		 o = 0, l;
	int		 found = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		l = nl == NULL ? (size_t)(end - p) : (size_t)(nl - p) + 1;
		if (l >= 4 && memcmp(p, "key=", 4) == 0)
			found = 1;
		else {
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
	}
	return found ? (long)o : -1;
}

/*
 * Rewrite the node's record without its key in one write transaction,
 * growing the map as store_write_fn does.  The copy is s->scratch while
 * LMDB runs, so that a jump out of it frees it (store_end_fn).
 */
static int
store_forget_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	const char	*node = arg;
	MDB_txn		*txn;
	MDB_val		 k, v;
	size_t		 nlen = strlen(node);
	long		 n;
	int		 rc, tries, again;

	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_prewalk(s, &node, 1, 1, err, errlen)) != 0)
		return rc;
	for (tries = 0; tries < 16; tries++) {
		if ((rc = store_begin(s, 0, &txn, err, errlen)) != 0)
			return rc;
		k.mv_data = (void *)node;
		k.mv_size = nlen;
		if ((rc = mdb_get(txn, s->dbi[STORE_NODES], &k, &v)) ==
		    MDB_NOTFOUND) {
			store_abort(s, txn);
			return error_set(err, errlen, TALLY_ENOTFOUND,
			    "statsfile %s: no node %s", s->qpath, node);
		}
		if (rc == 0) {
			if ((s->scratch = malloc(v.mv_size + 1)) == NULL) {
				store_abort(s, txn);
				return error_set(err, errlen, TALLY_ENOMEM,
				    "out of memory");
			}
			if ((n = store_drop_key(v.mv_data, v.mv_size,
			    s->scratch)) < 0) {
				free(s->scratch);
				s->scratch = NULL;
				store_abort(s, txn);
				return error_set(err, errlen, TALLY_ESTATE,
				    "statsfile %s: node %s: no key bound",
				    s->qpath, node);
			}
			v.mv_data = s->scratch;
			v.mv_size = (size_t)n;
			rc = mdb_put(txn, s->dbi[STORE_NODES], &k, &v, 0);
			free(s->scratch);
			s->scratch = NULL;
		}
		if ((again = store_retry(s, txn, &rc, err, errlen)) < 0)
			return rc;
		if (!again)
			break;
	}
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "forget key");
	return 0;
}

int
store_forget_key(struct store *s, const char *node, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = store_node_writable(s, node, err, errlen)) != 0)
		return rc;
	return store_run_writer(s, store_forget_fn, (void *)node, err,
	    errlen);
}
