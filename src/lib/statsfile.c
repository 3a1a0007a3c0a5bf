/*
 * statsfile.c: an operator's calls on a statsfile (tally_statsfile_*,
 * tally.h): remove an old node's slot, forget a node's key, make or drop
 * the stat index, and check every key and value.  The tally tool's prune, forget and check are
 * these; each opens the statsfile and closes it before it returns.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

/*
 * Open for writing a statsfile that holds a tally database already: a
 * read-only open first refuses a directory with none, where a writer
 * would create one.
 */
static int
statsfile_open_rw(const char *path, const char *node_id, struct store **sp,
    char *err, size_t errlen)
{
	char	 q[ERROR_QUOTE_LEN];
	int	 rc;

	*sp = NULL;
	if (!tally_node_id_valid(node_id))
		return error_set(err, errlen, TALLY_EINVAL, "invalid node id "
		    "'%s'", node_id == NULL ? "" : error_quote(q, sizeof q,
		    node_id, strlen(node_id)));
	if ((rc = store_open(sp, path, STORE_RDONLY, err, errlen)) != 0)
		return rc;
	store_close(*sp);
	return store_open(sp, path, 0, err, errlen);
}

int
tally_statsfile_remove(const char *statsfile, const char *node_id,
    int64_t before, char *err, size_t errlen)
{
	struct store	*st;
	int		 rc;

	if ((rc = statsfile_open_rw(statsfile, node_id, &st, err,
	    errlen)) != 0)
		return rc;
	rc = store_delete_slot_before(st, node_id, before, err, errlen);
	store_close(st);
	return rc;
}

int
tally_statsfile_forget(const char *statsfile, const char *node_id,
    char *err, size_t errlen)
{
	struct store	*st;
	int		 rc;

	if ((rc = statsfile_open_rw(statsfile, node_id, &st, err,
	    errlen)) != 0)
		return rc;
	rc = store_forget_key(st, node_id, err, errlen);
	store_close(st);
	return rc;
}

int
tally_statsfile_index(const char *statsfile, int on, char *err,
    size_t errlen)
{
	struct store	*st;
	int		 rc;

	/* A read-only open first: never create a database here. */
	if ((rc = store_open(&st, statsfile, STORE_RDONLY, err, errlen)) != 0)
		return rc;
	store_close(st);
	if ((rc = store_open(&st, statsfile, 0, err, errlen)) != 0)
		return rc;
	rc = store_index_set(st, on != 0, err, errlen);
	store_close(st);
	return rc;
}

/* ---- check -------------------------------------------------------------- */

/* Quoted parts of a problem are cut as tally check always cut them. */
#define CHECK_QKEY	160
#define CHECK_QVAL	80

struct check {
	tally_check_counts	*c;
	void			(*problem)(void *, const char *);
	void			*ctx;
	int			 counter;	/* the table being checked */
	MDB_val			*ids;		/* every key of nodes */
	size_t			 nids;
	const char		*last;		/* the last node part seen */
	size_t			 lastlen;
	int64_t			 now;		/* for record_time_sane */
	struct store_reader	*r;
	size_t			 indexed;	/* table keys found in the index */
	int			 rc;		/* a failed index lookup */
};

static void
check_problem(struct check *ck, const char *fmt, ...) TALLY_PRINTF(2, 3);

static void
check_problem(struct check *ck, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[TALLY_ERRLEN * 2];

	ck->c->problems++;
	if (ck->problem == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	ck->problem(ck->ctx, buf);
}

/* A stat's name and value; the key's node part was checked already. */
static void
check_entry(struct check *ck, const char *key, size_t klen, size_t plen,
    const char *val, size_t vlen)
{
	const char	*table = ck->counter ? "counters" : "stats";
	char		 b1[CHECK_QKEY], b2[CHECK_QVAL];
	int64_t		 i;
	double		 d;

	if (!name_stat_valid(key + plen, klen - plen))
		check_problem(ck, "%s key '%s': not a valid stat name", table,
		    error_quote(b1, sizeof b1, key, klen));
	else if (ck->counter && record_parse_int64(val, vlen, &i) != 0)
		check_problem(ck, "%s key '%s': value '%s' is not a 64-bit "
		    "integer", table, error_quote(b1, sizeof b1, key, klen),
		    error_quote(b2, sizeof b2, val, vlen));
	else if (!ck->counter && record_parse_double(val, vlen, &d) != 0)
		check_problem(ck, "%s key '%s': value '%s' is not a number",
		    table, error_quote(b1, sizeof b1, key, klen),
		    error_quote(b2, sizeof b2, val, vlen));
}

static int
check_id_cmp(const void *a, const void *b)
{
	const MDB_val	*x = a, *y = b;
	size_t		 m = x->mv_size < y->mv_size ? x->mv_size : y->mv_size;
	int		 c = memcmp(x->mv_data, y->mv_data, m);

	if (c != 0)
		return c;
	return x->mv_size < y->mv_size ? -1 : x->mv_size > y->mv_size;
}

/*
 * The stat index (format 2) holds key's value under <stat>/<node>, byte
 * for byte.  A malformed key (quiet) is not reported missing, since a
 * conversion indexes it and a write never makes one.  Every key found is
 * counted, for check_index_count.  0, or a lookup's failure (the walk
 * stops).
 */
static int
check_index_entry(struct check *ck, const char *table, const char *key,
    size_t klen, size_t plen, const char *val, size_t vlen, int quiet)
{
	MDB_val	 iv;
	char	 ikey[STORE_KEYMAX], b1[CHECK_QKEY], b2[CHECK_QKEY];
	int	 rc;

	if (ck->r->st->idx != STORE_IDX_READY || klen > STORE_KEYMAX)
		return 0;
	memcpy(ikey, key + plen, klen - plen);
	ikey[klen - plen] = '/';
	memcpy(ikey + klen - plen + 1, key, plen - 1);
	rc = store_reader_get_key(ck->r, ck->counter ? STORE_COUNTERS_IDX :
	    STORE_STATS_IDX, ikey, klen, &iv);
	if (rc < 0)
		return ck->rc = rc;
	/* Only keys found: any other key of the index is counted as extra. */
	if (rc == 1)
		ck->indexed++;
	if (quiet)
		return 0;
	if (rc == 0)
		check_problem(ck, "%s key '%s': not in the stat index "
		    "(%s-by-stat): a graph would miss it", table,
		    error_quote(b1, sizeof b1, key, klen), table);
	else if (iv.mv_size != vlen || memcmp(iv.mv_data, val, vlen) != 0)
		check_problem(ck, "%s key '%s': the stat index (%s-by-stat) "
		    "holds '%s', not its value", table, error_quote(b1,
		    sizeof b1, key, klen), table, error_quote(b2, sizeof b2,
		    iv.mv_data, iv.mv_size));
	return 0;
}

/*
 * The index holds no keys but those found from its table's side (above):
 * any more is a value indexed that is gone (a graph would show it), or a
 * key damaged in place (of a length LMDB never writes, say), which one
 * walk of the table finds missing and this count finds extra.
 */
static int
check_index_count(struct store_reader *r, struct check *ck,
    enum store_db db, size_t want)
{
	MDB_stat	 ms;
	int		 rc;

	if (r->st->idx != STORE_IDX_READY)
		return 0;
	if ((rc = mdb_stat(r->txn, r->st->dbi[db], &ms)) != 0)
		return TALLY_ESTORE;
	if (ms.ms_entries > want)
		check_problem(ck, "%s holds %zu key%s that its table does "
		    "not (values a graph would show, of nodes or stats that "
		    "are gone, or a damaged key)", store_db_name(db),
		    ms.ms_entries - want, ms.ms_entries - want == 1 ? "" : "s");
	return 0;
}

/* store_reader_walk's callback: any key of counters or stats. */
static int
check_walk_cb(void *ctx, const char *key, size_t klen, const char *val,
    size_t vlen)
{
	struct check	*ck = ctx;
	const char	*slash = memchr(key, '/', klen);
	const char	*table = ck->counter ? "counters" : "stats";
	size_t		 plen;
	MDB_val		 id;
	char		 b[CHECK_QKEY];

	if (ck->counter)
		ck->c->counters++;
	else
		ck->c->stats++;
	if (slash == NULL || !name_node_id_valid(key, (size_t)(slash -
	    key))) {
		check_problem(ck, "%s key '%s': not <node id>/<stat name>",
		    table, error_quote(b, sizeof b, key, klen));
		return slash == NULL ? 0 : check_index_entry(ck, table, key,
		    klen, (size_t)(slash - key) + 1, val, vlen, 1);
	}
	plen = (size_t)(slash - key) + 1;
	/* Keys come sorted: look a node up once, report an orphan once. */
	if (ck->last == NULL || ck->lastlen != plen - 1 ||
	    memcmp(ck->last, key, plen - 1) != 0) {
		id.mv_data = (void *)key;
		id.mv_size = plen - 1;
		ck->last = key;
		ck->lastlen = plen - 1;
		if (bsearch(&id, ck->ids, ck->nids, sizeof *ck->ids,
		    check_id_cmp) == NULL)
			check_problem(ck, "%s key '%s': node %.*s is not in "
			    "the nodes table (an orphan; its other keys are "
			    "not listed)", table, error_quote(b, sizeof b, key,
			    klen), (int)plen - 1, key);
	}
	check_entry(ck, key, klen, plen, val, vlen);
	return check_index_entry(ck, table, key, klen, plen, val, vlen, 0);
}

/* Every key of both tables: malformed keys and orphans too. */
static int
check_slots(struct store_reader *r, struct check *ck)
{
	int	 rc;

	ck->r = r;
	ck->counter = 1;
	ck->last = NULL;
	if ((rc = store_reader_walk(r, STORE_COUNTERS, check_walk_cb,
	    ck)) != 0 || (rc = ck->rc) != 0 || (rc = check_index_count(r, ck,
	    STORE_COUNTERS_IDX, ck->indexed)) != 0)
		return rc;
	ck->counter = 0;
	ck->last = NULL;
	ck->indexed = 0;
	if ((rc = store_reader_walk(r, STORE_STATS, check_walk_cb, ck)) != 0 ||
	    (rc = ck->rc) != 0)
		return rc;
	return check_index_count(r, ck, STORE_STATS_IDX, ck->indexed);
}

static int
check_nodes(struct store_reader *r, struct check *ck)
{
	MDB_val			 k, v, *ids;
	struct record_node	 rec;
	char			 err[128], b[CHECK_QKEY];
	size_t			 cap = 0;
	int			 rc;

	while ((rc = store_reader_next(r, &k, &v)) == 1) {
		ck->c->nodes++;
		if (ck->nids == cap) {
			cap = cap ? cap * 2 : 64;
			if ((ids = realloc(ck->ids, cap * sizeof *ids)) ==
			    NULL)
				return TALLY_ENOMEM;
			ck->ids = ids;
		}
		ck->ids[ck->nids++] = k;
		if (!name_node_id_valid(k.mv_data, k.mv_size)) {
			check_problem(ck, "nodes key '%s': not a valid node id",
			    error_quote(b, sizeof b, k.mv_data, k.mv_size));
			continue;
		}
		if (record_node_parse(v.mv_data, v.mv_size, &rec, err,
		    sizeof err) != 0)
			check_problem(ck, "node %.*s: %s: '%s'",
			    (int)k.mv_size, (const char *)k.mv_data, err,
			    error_quote(b, sizeof b, v.mv_data, v.mv_size));
		else if (!record_time_sane(rec.time, ck->now))
			check_problem(ck, "node %.*s: time %" PRId64 " out of "
			    "range (before 2000-01-01 or more than a day "
			    "ahead): a wrong clock", (int)k.mv_size,
			    (const char *)k.mv_data, rec.time);
	}
	return rc < 0 ? rc : 0;
}

int
tally_statsfile_check(const char *statsfile, int64_t now,
    void (*problem)(void *, const char *), void *ctx,
    tally_check_counts *counts, char *err, size_t errlen)
{
	struct store		*st;
	struct store_reader	 r;
	struct check		 ck;
	tally_check_counts	 c;
	int			 rc;

	memset(&ck, 0, sizeof ck);
	memset(&c, 0, sizeof c);
	ck.c = counts != NULL ? counts : &c;
	memset(ck.c, 0, sizeof *ck.c);
	ck.problem = problem;
	ck.ctx = ctx;
	ck.now = now;
	/* store_open checks the environment, the tables and the format. */
	if ((rc = store_open(&st, statsfile, STORE_RDONLY | STORE_CHECK, err,
	    errlen)) != 0)
		return rc;
	if ((rc = store_reader_begin(st, &r, err, errlen)) != 0)
		goto close;
	if ((rc = check_nodes(&r, &ck)) == 0)
		rc = check_slots(&r, &ck);
	if (rc != 0 && store_damage_msg(st) != NULL)
		error_set(err, errlen, rc, "%s", store_damage_msg(st));
	else if (rc != 0)
		error_set(err, errlen, rc, "%s: check failed: reading the "
		    "database: %s", store_path(st), tally_strerror(rc));
	store_reader_end(&r);
close:
	store_close(st);
	free(ck.ids);
	return rc;
}
