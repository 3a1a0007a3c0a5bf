/*
 * store-read.c: reading: a node's counters (store_read_counters), and
 * the read transactions of readers, the plugin and the CLI
 * (store_reader_*).
 *
 * A value LMDB hands out points into the map, and the caller reads it
 * outside the guard; so each page of a value is read here first, inside
 * the guard (store_touch), where a fault is caught.  Callbacks into the
 * caller run with the guard off: their faults are not ours.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "store-int.h"

/* ---- reading ------------------------------------------------------------ */

/*
 * Read every page of a value LMDB handed out, inside the guard: a value
 * on a page past the end of the file then faults here, not later in the
 * caller, who reads it unguarded.  A size beyond the map is damage.  The
 * bytes read are stored: a load whose value goes nowhere may be dropped
 * below C (valgrind's translator drops it), and the fault with it.
 */
static int
store_touch(struct store *s, const MDB_val *v)
{
	const volatile unsigned char	*p = v->mv_data;
	volatile unsigned char		 sink;
	unsigned char			 sum = 0;
	size_t				 i;

	if (v->mv_size == 0)
		return 0;
	if (v->mv_size > s->mapsize)
		return -1;
	for (i = 0; i < v->mv_size; i += 4096)
		sum ^= p[i];
	sink = sum ^ p[v->mv_size - 1];
	(void)sink;
	return 0;
}

static int
store_bad_value(struct store *s, char *err, size_t errlen)
{
	return store_set_damaged(s, "LMDB returned a value larger than the "
	    "map: a bad page", err, errlen);
}

struct store_counters_arg {
	const char	*node;
	int		(*cb)(void *, const char *, size_t, int64_t);
	void		*ctx;
};

static int
store_counters_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_counters_arg	*a = arg;
	struct store_guard		*g;
	MDB_txn				*txn;
	MDB_cursor			*cur;
	MDB_val				 k, v;
	char				 key[TALLY_NODE_ID_MAX + 1];
	size_t				 plen = strlen(a->node) + 1;
	int64_t				 n;
	int				 rc, bad = 0;

	memcpy(key, a->node, plen - 1);
	key[plen - 1] = '/';
	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_begin(s, MDB_RDONLY, &txn, err, errlen)) != 0)
		return rc;
	if ((rc = store_cursor(txn, s->dbi[STORE_COUNTERS], &cur)) != 0)
		goto out;
	s->rcur[0] = cur;
	k.mv_data = key;
	k.mv_size = plen;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (store_touch(s, &k) != 0 || store_touch(s, &v) != 0) {
			s->rcur[0] = NULL;
			mdb_cursor_close(cur);
			store_abort(s, txn);
			return store_bad_value(s, err, errlen);
		}
		/* <node>/ alone sorts first: an empty name, unreadable. */
		if (k.mv_size < plen || memcmp(k.mv_data, key, plen) != 0)
			break;
		if (record_parse_int64(v.mv_data, v.mv_size, &n) != 0 ||
		    !name_stat_valid((const char *)k.mv_data + plen,
		    k.mv_size - plen)) {
			bad++;
			continue;
		}
		g = store_guard_off();
		rc = a->cb(a->ctx, (const char *)k.mv_data + plen,
		    k.mv_size - plen, n);
		store_guard_on(g);
		if (rc != 0)
			break;
	}
	s->rcur[0] = NULL;
	mdb_cursor_close(cur);
out:
	store_abort(s, txn);
	if (rc < 0 && rc > -3100 && rc <= -3000)
		return rc;	/* the callback's own TALLY_E* code */
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_lmdb_err(s, rc, err, errlen, "read counters");
	if (bad > 0)
		error_set(err, errlen, 0, "statsfile %s: skipped %d "
		    "unreadable counters of node %s", s->qpath, bad, a->node);
	return 0;
}

int
store_read_counters(struct store *s, const char *node,
    int (*cb)(void *, const char *, size_t, int64_t), void *ctx, char *err,
    size_t errlen)
{
	struct store_counters_arg	 a = { node, cb, ctx };
	int				 rc;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (strlen(node) > TALLY_NODE_ID_MAX)
		return error_set(err, errlen, TALLY_EINVAL, "invalid node id");
	if ((rc = store_lock(s, err, errlen)) != 0)
		return rc;
	rc = store_run(s, store_counters_fn, &a, err, errlen);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

struct store_node_arg {
	const char		*node;
	struct record_node	*rn;
	size_t			*count;
	int			 found;
};

static int
store_node_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_node_arg	*a = arg;
	MDB_txn			*txn;
	MDB_stat		 st;
	MDB_val			 k, v;
	char			 why[200];
	int			 rc;

	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_begin(s, MDB_RDONLY, &txn, err, errlen)) != 0)
		return rc;
	if (a->count != NULL) {
		if ((rc = mdb_stat(txn, s->dbi[STORE_NODES], &st)) != 0)
			goto out;
		*a->count = st.ms_entries;
	}
	k.mv_data = (void *)a->node;
	k.mv_size = strlen(a->node);
	if ((rc = mdb_get(txn, s->dbi[STORE_NODES], &k, &v)) != 0)
		goto out;
	if (store_touch(s, &v) != 0) {
		store_abort(s, txn);
		return store_bad_value(s, err, errlen);
	}
	if (record_node_parse(v.mv_data, v.mv_size, a->rn, why,
	    sizeof why) != 0) {
		store_abort(s, txn);
		return error_set(err, errlen, TALLY_EFORMAT, "statsfile %s: "
		    "the record of node %s does not parse: %s", s->qpath,
		    a->node, why);
	}
	a->found = 1;
out:
	store_abort(s, txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_lmdb_err(s, rc, err, errlen, "read a node");
	return 0;
}

int
store_read_node(struct store *s, const char *node, struct record_node *rn,
    size_t *count, char *err, size_t errlen)
{
	struct store_node_arg	 a = { node, rn, count, 0 };
	int			 rc;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (strlen(node) > TALLY_NODE_ID_MAX)
		return error_set(err, errlen, TALLY_EINVAL, "invalid node id");
	memset(rn, 0, sizeof *rn);
	if ((rc = store_lock(s, err, errlen)) != 0)
		return rc;
	rc = store_run(s, store_node_fn, &a, err, errlen);
	pthread_mutex_unlock(&s->lock);
	return rc != 0 ? rc : a.found;
}

/* ---- readers ------------------------------------------------------------ */

/*
 * Readers hold the store's mutex from begin to end, so no writer of this
 * process resizes the map under them.  Readers of other processes never
 * block: LMDB readers and writers don't wait for each other.  Each call
 * runs under a guard of its own; a jump ends the transaction (r->txn
 * becomes NULL) and releases the mutex, and later calls on r return
 * TALLY_ESTORE; store_damage_msg says why.
 */
static int
store_rbegin_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_reader	*r = arg;
	int			 rc;

	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_begin(s, MDB_RDONLY, &r->txn, err, errlen)) != 0)
		return rc;
	if ((rc = store_index_reader(s, r->txn)) != 0 ||
	    (rc = store_cursor(r->txn, s->dbi[STORE_NODES],
	    &r->nodes)) != 0) {
		store_abort(s, r->txn);
		r->txn = NULL;
		return store_lmdb_err(s, rc, err, errlen, "begin read");
	}
	s->rcur[0] = r->nodes;
	return 0;
}

/*
 * Take the store's lock for a call of this thread.  A reader holds it from
 * begin to end, so a call of the reader's own thread would wait for
 * itself forever: TALLY_ESTATE at once instead.
 */
int
store_lock(struct store *s, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = store_reader_here(s, err, errlen)) != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	return 0;
}

/* TALLY_ESTATE, the message set, if this thread has a reader open on s. */
int
store_reader_here(struct store *s, char *err, size_t errlen)
{
	if (__atomic_load_n(&s->rheld, __ATOMIC_ACQUIRE) &&
	    pthread_equal(s->rowner, pthread_self()))
		return error_set(err, errlen, TALLY_ESTATE, "statsfile %s: "
		    "this thread has a reader open on it already; close it "
		    "first (one at a time)", s->qpath);
	return 0;
}

int
store_reader_begin(struct store *s, struct store_reader *r, char *err,
    size_t errlen)
{
	int	 rc;

	memset(r, 0, sizeof *r);
	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if ((rc = store_lock(s, err, errlen)) != 0)
		return rc;
	if ((rc = store_run(s, store_rbegin_fn, r, err, errlen)) != 0) {
		r->txn = NULL;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	r->st = s;
	s->rowner = pthread_self();
	__atomic_store_n(&s->rheld, 1, __ATOMIC_RELEASE);
	return 0;
}

/* The reader lets go of the store's lock. */
static void
store_reader_unlock(struct store *s)
{
	__atomic_store_n(&s->rheld, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->lock);
}

/* After a reader call: if a jump (or damage) ended the txn, let go. */
static int
store_reader_after(struct store_reader *r, int rc)
{
	struct store	*s = r->st;

	if (s->txn == NULL) {
		r->txn = NULL;
		r->nodes = NULL;
		r->walk = NULL;
		r->look = NULL;
		store_reader_unlock(s);
		return rc > 0 || rc == 0 ? TALLY_ESTORE : rc;
	}
	return rc;
}

/* A reader's LMDB error: damage ends the transaction, others don't. */
static int
store_reader_err(struct store *s, int rc)
{
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_PANIC ||
	    rc == MDB_BAD_TXN) {
		store_lmdb_err(s, rc, NULL, 0, "read");
		store_end_fn(s, NULL, NULL, 0);
	}
	return TALLY_ESTORE;
}

struct store_rnext_arg {
	struct store_reader	*r;
	MDB_val			*id, *rec;
};

static int
store_rnext_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_rnext_arg	*a = arg;
	int			 rc;

	rc = mdb_cursor_get(a->r->nodes, a->id, a->rec, MDB_NEXT);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_reader_err(s, rc);
	if (store_touch(s, a->id) != 0 || store_touch(s, a->rec) != 0) {
		store_bad_value(s, NULL, 0);
		store_end_fn(s, NULL, NULL, 0);
		return TALLY_ESTORE;
	}
	return 1;
}

int
store_reader_next(struct store_reader *r, MDB_val *id, MDB_val *rec)
{
	struct store_rnext_arg	 a = { r, id, rec };

	if (r->txn == NULL)
		return TALLY_ESTORE;
	return store_reader_after(r, store_run(r->st, store_rnext_fn, &a,
	    NULL, 0));
}

struct store_rget_arg {
	struct store_reader	*r;
	enum store_db		 db;
	MDB_val			 k;
	MDB_val			*val;
};

static int
store_rget_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_rget_arg	*a = arg;
	int			 rc;

	rc = mdb_get(a->r->txn, s->dbi[a->db], &a->k, a->val);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_reader_err(s, rc);
	if (store_touch(s, a->val) != 0) {
		store_bad_value(s, NULL, 0);
		store_end_fn(s, NULL, NULL, 0);
		return TALLY_ESTORE;
	}
	return 1;
}

/* Run fn, a lookup of key in db into *val, under the reader's guard. */
static int
store_reader_lookup(struct store_reader *r, store_fn fn, enum store_db db,
    const char *key, size_t klen, MDB_val *val)
{
	struct store_rget_arg	 a;

	if (r->txn == NULL)
		return TALLY_ESTORE;
	a.r = r;
	a.db = db;
	a.k.mv_data = (void *)key;
	a.k.mv_size = klen;
	a.val = val;
	return store_reader_after(r, store_run(r->st, fn, &a, NULL, 0));
}

int
store_reader_get_key(struct store_reader *r, enum store_db db,
    const char *key, size_t klen, MDB_val *val)
{
	return store_reader_lookup(r, store_rget_fn, db, key, klen, val);
}

/*
 * A node's record by a cursor kept from call to call: where the cursor
 * stands before the id, one step forward finds it, or shows it is not
 * there; anything else is a search from the root.  A graph asks for its
 * nodes in id order, so a fetch steps through the nodes table once.
 */
static int
store_rnode_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_rget_arg	*a = arg;
	struct store_reader	*r = a->r;
	MDB_dbi			 dbi = s->dbi[STORE_NODES];
	MDB_val			 k, v;
	int			 rc, c = 1, stepped = 0;

	if (r->look == NULL) {
		if ((rc = store_cursor(r->txn, dbi, &r->look)) != 0) {
			r->look = NULL;
			return store_reader_err(s, rc);
		}
		s->rcur[3] = r->look;
		r->lookat = 0;
	}
	/* Settled by standing on it, or by one step to it or past it. */
	if (r->lookat && (rc = mdb_cursor_get(r->look, &k, &v,
	    MDB_GET_CURRENT)) == 0) {
		if ((c = mdb_cmp(r->txn, dbi, &k, &a->k)) == 0)
			stepped = 1;
		else if (c < 0 && (rc = mdb_cursor_get(r->look, &k, &v,
		    MDB_NEXT)) == 0 &&
		    (c = mdb_cmp(r->txn, dbi, &k, &a->k)) >= 0)
			stepped = 1;
	}
	if (!stepped) {
		k = a->k;
		rc = mdb_cursor_get(r->look, &k, &v, MDB_SET_RANGE);
		c = rc == 0 ? mdb_cmp(r->txn, dbi, &k, &a->k) : 1;
	}
	r->lookat = rc == 0;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_reader_err(s, rc);
	if (rc != 0 || c != 0)
		return 0;
	if (store_touch(s, &v) != 0) {
		store_bad_value(s, NULL, 0);
		store_end_fn(s, NULL, NULL, 0);
		return TALLY_ESTORE;
	}
	*a->val = v;
	return 1;
}

int
store_reader_node(struct store_reader *r, const char *id, size_t len,
    MDB_val *val)
{
	return store_reader_lookup(r, store_rnode_fn, STORE_NODES, id, len,
	    val);
}

int
store_reader_get(struct store_reader *r, enum store_db db, const char *node,
    size_t nlen, const char *stat, size_t slen, MDB_val *val)
{
	char	 key[STORE_KEYMAX];

	if (r->txn == NULL)
		return TALLY_ESTORE;
	if (nlen > TALLY_NODE_ID_MAX || slen > TALLY_STAT_NAME_MAX)
		return 0;
	memcpy(key, node, nlen);
	key[nlen] = '/';
	memcpy(key + nlen + 1, stat, slen);
	return store_reader_get_key(r, db, key, nlen + 1 + slen, val);
}

struct store_rseek_arg {
	struct store_reader	*r;
	enum store_db		 db;
	MDB_val			 from;
	size_t			 plen;
	int			 next;
	MDB_val			*key, *val;	/* cb NULL: the one key */
	size_t			 n;
	int			(*cb)(void *, const MDB_val *, const MDB_val *);
	void			*ctx;
};

/*
 * The reader's walk cursor on db, kept from call to call (opening one
 * allocates): a walk of a node's metrics steps it with MDB_NEXT, not a
 * search from the root for each key.  A stat walk takes its keys a batch
 * at a time, each handed to a->cb under this guard, so that the guard's
 * sigsetjmp is paid once a batch, not once a key.
 */
static int
store_rseek_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_rseek_arg	*a = arg;
	struct store_reader	*r = a->r;
	MDB_val			 k, v;
	size_t			 got = 0;
	int			 rc;

	if (r->walk != NULL && r->walkdb != a->db) {
		s->rcur[2] = NULL;
		mdb_cursor_close(r->walk);
		r->walk = NULL;
	}
	if (r->walk == NULL) {
		if ((rc = store_cursor(r->txn, s->dbi[a->db], &r->walk)) != 0) {
			r->walk = NULL;
			return store_reader_err(s, rc);
		}
		s->rcur[2] = r->walk;
		r->walkdb = a->db;
		r->walkat = 0;
	}
	k = a->from;
	rc = mdb_cursor_get(r->walk, &k, &v, a->next && r->walkat ?
	    MDB_NEXT : MDB_SET_RANGE);
	while (rc == 0) {
		r->walkat = 1;
		/*
		 * A key lies whole in the leaf page LMDB just read; a value
		 * given to cb is read under this guard.  What leaves it is
		 * touched here first, every page of it.
		 */
		if ((a->cb == NULL && (store_touch(s, &k) != 0 ||
		    store_touch(s, &v) != 0)) || v.mv_size > s->mapsize) {
			store_bad_value(s, NULL, 0);
			store_end_fn(s, NULL, NULL, 0);
			return TALLY_ESTORE;
		}
		if (k.mv_size < a->plen ||
		    memcmp(k.mv_data, a->from.mv_data, a->plen) != 0)
			return (int)got;
		got++;
		if (a->cb == NULL) {
			*a->key = k;
			*a->val = v;
			return 1;
		}
		if (a->cb(a->ctx, &k, &v) != 0 || got == a->n)
			return (int)got;
		rc = mdb_cursor_get(r->walk, &k, &v, MDB_NEXT);
	}
	r->walkat = 0;
	if (rc == MDB_NOTFOUND)
		return (int)got;
	rc = store_reader_err(s, rc);
	/* What came before an error is given; the next call meets it. */
	return got > 0 && s->txn != NULL ? (int)got : rc;
}

static int
store_reader_seek_run(struct store_reader *r, struct store_rseek_arg *a)
{
	if (r->txn == NULL)
		return TALLY_ESTORE;
	return store_reader_after(r, store_run(r->st, store_rseek_fn, a,
	    NULL, 0));
}

int
store_reader_seek(struct store_reader *r, enum store_db db, const char *from,
    size_t flen, size_t plen, int next, MDB_val *key, MDB_val *val)
{
	struct store_rseek_arg	 a = { r, db, { flen, (void *)from }, plen,
				     next, key, val, 1, NULL, NULL };

	return store_reader_seek_run(r, &a);
}

int
store_reader_seekfn(struct store_reader *r, enum store_db db,
    const char *from, size_t flen, size_t plen, int next, size_t n,
    int (*cb)(void *, const MDB_val *, const MDB_val *), void *ctx)
{
	struct store_rseek_arg	 a = { r, db, { flen, (void *)from }, plen,
				     next, NULL, NULL, n, cb, ctx };

	if (n == 0 || n > INT_MAX || cb == NULL)
		return TALLY_EINVAL;
	return store_reader_seek_run(r, &a);
}

struct store_rscan_arg {
	struct store_reader	*r;
	enum store_db		 db;
	const char		*prefix;	/* NULL: every key */
	size_t			 plen;
	int			(*cb)(void *, const char *, size_t,
				    const char *, size_t);
	void			*ctx;
};

/*
 * Walk db from prefix (or its first key), calling cb for each key under
 * the prefix with the guard off.  A callback that ends the reader (by a
 * nested store call that faulted) stops the walk: its cursor is gone.
 */
static int
store_rscan_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_rscan_arg	*a = arg;
	struct store_guard	*g;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int			 rc, crc = 0;

	if ((rc = store_cursor(a->r->txn, s->dbi[a->db], &cur)) != 0)
		return store_reader_err(s, rc);
	s->rcur[1] = cur;
	k.mv_data = (void *)a->prefix;
	k.mv_size = a->plen;
	for (rc = mdb_cursor_get(cur, &k, &v, a->prefix != NULL ?
	    MDB_SET_RANGE : MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (store_touch(s, &k) != 0 || store_touch(s, &v) != 0) {
			store_bad_value(s, NULL, 0);
			store_end_fn(s, NULL, NULL, 0);
			return TALLY_ESTORE;
		}
		if (a->prefix != NULL && (k.mv_size < a->plen ||
		    memcmp(k.mv_data, a->prefix, a->plen) != 0))
			break;
		if (a->prefix != NULL && k.mv_size == a->plen)
			continue;	/* <node>/ alone: no name, first */
		g = store_guard_off();
		crc = a->prefix != NULL ? a->cb(a->ctx, (const char *)k.mv_data
		    + a->plen, k.mv_size - a->plen, v.mv_data, v.mv_size) :
		    a->cb(a->ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		store_guard_on(g);
		if (s->txn == NULL)
			return TALLY_ESTORE;
		if (crc != 0)
			break;
	}
	s->rcur[1] = NULL;
	mdb_cursor_close(cur);
	if (crc != 0)
		return crc;
	if (rc == 0 || rc == MDB_NOTFOUND)
		return 0;
	return store_reader_err(s, rc);
}

int
store_reader_scan(struct store_reader *r, enum store_db db, const char *node,
    size_t nlen, int (*cb)(void *, const char *, size_t, const char *,
    size_t), void *ctx)
{
	struct store_rscan_arg	 a = { r, db, NULL, nlen + 1, cb, ctx };
	char			 key[TALLY_NODE_ID_MAX + 1];

	if (r->txn == NULL)
		return TALLY_ESTORE;
	if (nlen > TALLY_NODE_ID_MAX)
		return 0;
	memcpy(key, node, nlen);
	key[nlen] = '/';
	a.prefix = key;
	return store_reader_after(r, store_run(r->st, store_rscan_fn, &a,
	    NULL, 0));
}

int
store_reader_walk(struct store_reader *r, enum store_db db,
    int (*cb)(void *, const char *, size_t, const char *, size_t), void *ctx)
{
	struct store_rscan_arg	 a = { r, db, NULL, 0, cb, ctx };

	if (r->txn == NULL)
		return TALLY_ESTORE;
	return store_reader_after(r, store_run(r->st, store_rscan_fn, &a,
	    NULL, 0));
}

static int
store_rend_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	return store_end_fn(s, NULL, NULL, 0);
}

void
store_reader_end(struct store_reader *r)
{
	struct store	*s = r->st;

	if (r->txn == NULL)
		return;
	store_run(s, store_rend_fn, NULL, NULL, 0);
	r->txn = NULL;
	r->nodes = NULL;
	r->walk = NULL;
	r->look = NULL;
	store_reader_unlock(s);
}
