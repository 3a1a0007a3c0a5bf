/*
 * reader.c: the public reader of a statsfile (tally_reader_*, tally.h).
 *
 * A reader is a read-only store (store.c, shared within the process) and
 * one read transaction on it (store_reader_*, store-read.c), begun at open
 * and ended at close: one consistent view, whatever is written meanwhile.
 * Every call into LMDB runs under the store's guard, so a damaged file is
 * an error, not a fault; once the store finds damage, the transaction is
 * gone and every later call returns TALLY_ESTORE with the same message.
 *
 * What a reader hands out is copied into the reader first: no pointer into
 * the map (and no LMDB type) leaves this file, so a caller never reads a
 * page unguarded.  Nodes come from the nodes table's cursor; a walk of a
 * node's metrics seeks its first key and steps a second cursor from there
 * (store_reader_seek).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

/* LMDB's largest key (its default), plus the NUL that seeks past one. */
#define READER_KEYMAX	512

/* The keys of an indexed stat walk read under one guard, and kept. */
#define READER_BATCH	32

/* One node of a stat walk's batch: what tally_reader_next_stat gives. */
struct reader_item {
	tally_metric	 m;
	size_t		 klen;		/* its key's size */
	char		 sid[ERROR_QUOTE_LEN];
	char		 text[ERROR_QUOTE_LEN];
};

/*
 * The walk of a node's metrics (wkind: the table being walked) or of a
 * stat's nodes (READER_WALK_STAT, skind its kind).
 */
#define READER_WALK_NONE	0
#define READER_WALK_END		(-1)
#define READER_WALK_STAT	3
#define READER_WALK_STAT_END	4
#define READER_WALK_NAMES	5
#define READER_WALK_NAMES_END	6

struct tally_reader {
	struct store		*st;
	struct store_reader	 r;
	int			 failed;	/* sticky code, or 0 */
	int			 held;		/* store_faults_hold */
	int			 nodes_done;
	char			 errmsg[TALLY_ERRLEN];

	/* The last node of tally_reader_next. */
	struct record_node	 rn;
	char			 id[ERROR_QUOTE_LEN];
	char			 nerr[TALLY_ERRLEN];

	/* The last metric, and the walk of tally_reader_metrics. */
	char			 mname[TALLY_STAT_NAME_MAX + 1];
	char			 mtext[ERROR_QUOTE_LEN];
	int			 wkind;
	char			 wkey[READER_KEYMAX + 1];
	size_t			 wlen, wplen;

	/* The walk of tally_reader_stat: by the index, or node by node. */
	int			 skind;
	int			 sindex;
	int			 snext;		/* past the walk's first key */
	char			 sname[TALLY_STAT_NAME_MAX + 1];
	char			 sid[ERROR_QUOTE_LEN];
	/* By the index: a batch, items[bi..bn), and its last key. */
	struct reader_item	 items[READER_BATCH];
	size_t			 bi, bn;
	char			 bkey[READER_KEYMAX];
	size_t			 bklen;
};

static int
reader_kind_db(int kind)
{
	return kind == TALLY_COUNTER ? STORE_COUNTERS : STORE_STATS;
}

/*
 * A read failed: a damaged store's message says what is wrong and what to
 * do; anything else gets what was being done.  Once the transaction is
 * gone (damage), the reader is finished: every later call says the same.
 */
static int
reader_err(tally_reader *r, int rc, const char *fmt, ...)
	TALLY_PRINTF(3, 4);

static int
reader_err(tally_reader *r, int rc, const char *fmt, ...)
{
	va_list	 ap;
	char	 what[TALLY_NODE_ID_MAX + TALLY_STAT_NAME_MAX + 64];

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (store_damage_msg(r->st) != NULL)
		error_set(r->errmsg, sizeof r->errmsg, rc, "%s",
		    store_damage_msg(r->st));
	else
		error_set(r->errmsg, sizeof r->errmsg, rc, "statsfile %s: %s: "
		    "%s", store_path(r->st), what, tally_strerror(rc));
	if (r->r.txn == NULL)
		r->failed = rc;
	return rc;
}

/*
 * Before each call: a failed reader says the same again, and a reader
 * used in a child of fork() is refused (its transaction is the parent's).
 * The lookups of a walk (get, next_metric) skip the fork check, a system
 * call, on their many calls: in a child they read only the child's view
 * of the parent's snapshot, which the parent keeps pinned.
 */
static int
reader_ready(tally_reader *r, int fork_check)
{
	int	 rc;

	if (r->failed != 0)
		return r->failed;
	if (fork_check &&
	    (rc = store_forked(r->st, r->errmsg, sizeof r->errmsg)) != 0)
		return r->failed = rc;
	return 0;
}

/*
 * A walk's key longer than LMDB writes: a damaged page (where = "node "
 * or "stat " and its name, or the table).  The walk ends in this error:
 * a copy cut to size would seek back to that key for ever.
 */
static int
reader_longkey(tally_reader *r, const char *where, const char *name,
    size_t namelen, size_t klen)
{
	r->failed = error_set(r->errmsg, sizeof r->errmsg, TALLY_ESTORE,
	    "statsfile %s: %s%.*s: a key of %zu bytes, longer than LMDB "
	    "writes: the statsfile is damaged; see what tally check says, and "
	    "move it away to start afresh", store_path(r->st), where,
	    (int)namelen, name, klen);
	return r->failed;
}

int
tally_reader_open(tally_reader **rp, const char *statsfile)
{
	tally_reader	*r;
	int		 rc;

	if ((*rp = r = calloc(1, sizeof *r)) == NULL)
		return TALLY_ENOMEM;
	if ((rc = store_open(&r->st, statsfile, STORE_RDONLY, r->errmsg,
	    sizeof r->errmsg)) == 0 && (rc = store_reader_begin(r->st, &r->r,
	    r->errmsg, sizeof r->errmsg)) == 0) {
		store_faults_hold();
		r->held = 1;
		return 0;
	}
	if (rc == TALLY_ENOMEM) {
		tally_reader_close(r);
		*rp = NULL;
		return rc;
	}
	r->failed = rc;
	return rc;
}

const char *
tally_reader_errmsg(const tally_reader *r)
{
	return r == NULL ? "out of memory" : r->errmsg;
}

int
tally_reader_format(const tally_reader *r)
{
	if (r == NULL || r->st == NULL || !r->held)
		return 0;
	return r->st->idx == STORE_IDX_READY ? 2 : 1;
}

/*
 * Fill node from a nodes key and record; only id and error if bad.  A key
 * the caller has checked (an id looked up exactly) is not checked again.
 */
static void
reader_node(tally_reader *r, const MDB_val *k, const MDB_val *v,
    tally_node *node, int checked)
{
	memset(node, 0, sizeof *node);
	node->id = r->id;
	if (!checked && !name_node_id_valid(k->mv_data, k->mv_size)) {
		error_quote(r->id, sizeof r->id, k->mv_data, k->mv_size);
		node->error = "not a valid node id";
		return;
	}
	memcpy(r->id, k->mv_data, k->mv_size);
	r->id[k->mv_size] = '\0';
	if (record_node_parse(v->mv_data, v->mv_size, &r->rn, r->nerr,
	    sizeof r->nerr) != 0) {
		node->error = r->nerr;
		return;
	}
	node->nickname = r->rn.nickname;
	node->time = r->rn.time;
	node->source = r->rn.source;
	node->interval = r->rn.interval;
	node->key = r->rn.key[0] != '\0' ? r->rn.key : NULL;
}

int
tally_reader_next(tally_reader *r, tally_node *node)
{
	MDB_val	 k, v;
	int	 rc;

	if ((rc = reader_ready(r, 1)) != 0)
		return rc;
	if (r->nodes_done)
		return 0;
	if ((rc = store_reader_next(&r->r, &k, &v)) < 0)
		return reader_err(r, rc, "reading nodes");
	if (rc == 0) {
		r->nodes_done = 1;
		return 0;
	}
	reader_node(r, &k, &v, node, 0);
	return 1;
}

/*
 * Fill m's value from a stored text, its name already set (m->name):
 * m->error if unreadable.
 */
static void
reader_value(char *text, int kind, const MDB_val *v, tally_metric *m)
{
	int	 rc;

	if (kind == TALLY_COUNTER)
		rc = record_parse_int64(v->mv_data, v->mv_size, &m->counter);
	else
		rc = record_parse_double(v->mv_data, v->mv_size, &m->value);
	if (rc != 0) {
		m->counter = 0;
		m->value = NAN;
		error_quote(text, ERROR_QUOTE_LEN, v->mv_data, v->mv_size);
		m->error = kind == TALLY_COUNTER ? "not a 64-bit integer" :
		    "not a number";
		return;
	}
	if (kind == TALLY_COUNTER)
		m->value = (double)m->counter;
	if (v->mv_size < ERROR_QUOTE_LEN) {
		memcpy(text, v->mv_data, v->mv_size);
		text[v->mv_size] = '\0';
	} else	/* only zeros ahead of a counter make a text this long */
		record_fmt_int64(text, m->counter);
}

/* Fill m from a stat name and its stored value; m->error if unreadable. */
static void
reader_metric(tally_reader *r, int kind, const char *name, size_t nlen,
    const MDB_val *v, tally_metric *m)
{
	memset(m, 0, sizeof *m);
	m->kind = kind;
	m->value = NAN;
	m->name = r->mname;
	m->text = r->mtext;
	if (!name_stat_valid(name, nlen)) {
		error_quote(r->mname, sizeof r->mname, name, nlen);
		error_quote(r->mtext, sizeof r->mtext, v->mv_data, v->mv_size);
		m->error = "not a valid stat name";
		return;
	}
	memcpy(r->mname, name, nlen);
	r->mname[nlen] = '\0';
	reader_value(r->mtext, kind, v, m);
}

int
tally_reader_get(tally_reader *r, const char *node_id, const char *name,
    int kind, tally_metric *m)
{
	MDB_val	 v;
	size_t	 nlen, slen;
	int	 k, rc;

	if ((rc = reader_ready(r, 0)) != 0)
		return rc;
	if (!tally_node_id_valid(node_id) || !tally_stat_name_valid(name) ||
	    kind < 0 || kind > TALLY_STAT || m == NULL)
		return error_set(r->errmsg, sizeof r->errmsg, TALLY_EINVAL,
		    "tally_reader_get: invalid node id, stat name or kind");
	nlen = strlen(node_id);
	slen = strlen(name);
	for (k = TALLY_COUNTER; k <= TALLY_STAT; k++) {
		if (kind != 0 && k != kind)
			continue;
		rc = store_reader_get(&r->r, reader_kind_db(k), node_id, nlen,
		    name, slen, &v);
		if (rc < 0)
			return reader_err(r, rc, "reading %s/%s", node_id,
			    name);
		if (rc == 1) {
			reader_metric(r, k, name, slen, &v, m);
			return 0;
		}
	}
	return TALLY_ENOTFOUND;
}

int
tally_reader_metrics(tally_reader *r, const char *node_id)
{
	int	 rc;

	if ((rc = reader_ready(r, 1)) != 0)
		return rc;
	r->wkind = READER_WALK_NONE;
	if (!tally_node_id_valid(node_id))
		return error_set(r->errmsg, sizeof r->errmsg, TALLY_EINVAL,
		    "tally_reader_metrics: invalid node id");
	r->wplen = r->wlen = (size_t)snprintf(r->wkey, sizeof r->wkey, "%s/",
	    node_id);
	r->wkind = TALLY_COUNTER;
	return 0;
}

int
tally_reader_next_metric(tally_reader *r, tally_metric *m)
{
	MDB_val	 k, v;
	int	 rc;

	if ((rc = reader_ready(r, 0)) != 0)
		return rc;
	if (r->wkind == READER_WALK_NONE || r->wkind == READER_WALK_STAT ||
	    r->wkind == READER_WALK_STAT_END ||
	    r->wkind == READER_WALK_NAMES ||
	    r->wkind == READER_WALK_NAMES_END)
		return error_set(r->errmsg, sizeof r->errmsg, TALLY_ESTATE,
		    "tally_reader_next_metric: no walk started");
	while (r->wkind != READER_WALK_END) {
		rc = store_reader_seek(&r->r, reader_kind_db(r->wkind),
		    r->wkey, r->wlen, r->wplen, r->wlen != r->wplen, &k, &v);
		if (rc < 0)
			return reader_err(r, rc, "reading node %.*s",
			    (int)r->wplen - 1, r->wkey);
		if (rc == 0) {
			/* This table is done: the next one, from the top. */
			r->wkind = r->wkind == TALLY_COUNTER ? TALLY_STAT :
			    READER_WALK_END;
			r->wlen = r->wplen;
			continue;
		}
		/*
		 * The next seek starts just past this key: itself and NUL.
		 * LMDB writes no longer key; one is a damaged page, which a
		 * cut copy would seek back to forever.
		 */
		if (k.mv_size > READER_KEYMAX - 1)
			return reader_longkey(r, "node ", r->wkey,
			    r->wplen - 1, k.mv_size);
		memcpy(r->wkey, k.mv_data, k.mv_size);
		r->wkey[k.mv_size] = '\0';
		r->wlen = k.mv_size + 1;
		reader_metric(r, r->wkind, (const char *)k.mv_data + r->wplen,
		    k.mv_size - r->wplen, &v, m);
		return 1;
	}
	return 0;
}

int
tally_reader_node(tally_reader *r, const char *node_id, tally_node *node)
{
	MDB_val	 k, v;
	int	 rc;

	if ((rc = reader_ready(r, 0)) != 0)
		return rc;
	if (node_id != NULL)
		k.mv_size = strnlen(node_id, TALLY_NODE_ID_MAX + 1);
	if (node_id == NULL || node == NULL ||
	    !name_node_id_valid(node_id, k.mv_size))
		return error_set(r->errmsg, sizeof r->errmsg, TALLY_EINVAL,
		    "tally_reader_node: invalid node id");
	k.mv_data = (void *)node_id;
	rc = store_reader_node(&r->r, node_id, k.mv_size, &v);
	if (rc < 0)
		return reader_err(r, rc, "reading node %s", node_id);
	if (rc == 0)
		return TALLY_ENOTFOUND;
	/* k is node_id itself, checked above. */
	reader_node(r, &k, &v, node, 1);
	return 0;
}

int
tally_reader_stat(tally_reader *r, const char *name, int kind)
{
	int	 rc;

	if ((rc = reader_ready(r, 1)) != 0)
		return rc;
	r->wkind = READER_WALK_NONE;
	if (!tally_stat_name_valid(name) || (kind != TALLY_COUNTER &&
	    kind != TALLY_STAT))
		return error_set(r->errmsg, sizeof r->errmsg, TALLY_EINVAL,
		    "tally_reader_stat: invalid stat name or kind");
	/* name may be r->sname itself: a metric's name given back. */
	memmove(r->sname, name, strlen(name) + 1);
	r->skind = kind;
	/* Without the stat index (format 1): the nodes, one by one. */
	r->sindex = r->st->idx == STORE_IDX_READY;
	if (r->sindex) {
		r->wplen = (size_t)snprintf(r->wkey, sizeof r->wkey, "%s/",
		    name);
		r->wlen = r->wplen;
	} else {
		/* From the top: LMDB seeks no empty key, and no id is "". */
		r->wplen = 0;
		r->wkey[0] = '\0';
		r->wlen = 1;
	}
	r->snext = 0;
	r->bi = r->bn = 0;
	r->wkind = READER_WALK_STAT;
	return 0;
}

/*
 * Fill m, its text and the node's id (sid) from a key of a stat walk and
 * its value; m->error if either is unreadable.
 */
static void
reader_stat_metric(tally_reader *r, const MDB_val *k, const MDB_val *v,
    tally_metric *m, char *text, char *sid)
{
	const char	*id = (const char *)k->mv_data + r->wplen;
	size_t		 ilen = k->mv_size - r->wplen;

	memset(m, 0, sizeof *m);
	m->kind = r->skind;
	m->value = NAN;
	m->name = r->sname;	/* the walk's, checked by tally_reader_stat */
	m->text = text;
	reader_value(text, r->skind, v, m);
	if (!name_node_id_valid(id, ilen)) {
		error_quote(sid, ERROR_QUOTE_LEN, id, ilen);
		m->error = "not a valid node id";
		m->value = NAN;
		m->counter = 0;
	} else {
		memcpy(sid, id, ilen);
		sid[ilen] = '\0';
	}
}

/*
 * store_reader_seekfn's callback, under the store's guard: the batch's
 * next item, read and copied.  A key too long stops the batch; it is said
 * when the walk reaches it.
 */
static int
reader_stat_item(void *arg, const MDB_val *k, const MDB_val *v)
{
	tally_reader		*r = arg;
	struct reader_item	*it = &r->items[r->bn++];

	it->klen = k->mv_size;
	if (k->mv_size > READER_KEYMAX - 1)
		return 1;
	memcpy(r->bkey, k->mv_data, k->mv_size);
	r->bklen = k->mv_size;
	reader_stat_metric(r, k, v, &it->m, it->text, it->sid);
	return 0;
}

/*
 * The indexed walk's next node, from its batch or the next batch of
 * the index under "<stat>/", which starts just past the last one's last
 * key (as a metric walk does): 1 and *itp, 0 at the end, or an error.
 * Nothing read from the map is used outside the guard: a file cut under
 * the walk is an error at the next batch, not a fault.
 */
static int
reader_stat_next(tally_reader *r, struct reader_item **itp)
{
	struct reader_item	*it;
	int			 rc;

	if (r->bi == r->bn) {
		if (r->bn > 0) {
			memcpy(r->wkey, r->bkey, r->bklen);
			r->wkey[r->bklen] = '\0';
			r->wlen = r->bklen + 1;
			r->snext = 1;
		}
		r->bi = r->bn = 0;
		rc = store_reader_seekfn(&r->r,
		    STORE_IDX(reader_kind_db(r->skind)), r->wkey, r->wlen,
		    r->wplen, r->snext, READER_BATCH, reader_stat_item, r);
		if (rc <= 0) {
			r->bn = 0;
			if (rc < 0)
				return reader_err(r, rc, "reading stat %s",
				    r->sname);
			r->wkind = READER_WALK_STAT_END;
			return 0;
		}
	}
	it = &r->items[r->bi++];
	if (it->klen > READER_KEYMAX - 1)
		return reader_longkey(r, "stat ", r->sname,
		    strlen(r->sname), it->klen);
	*itp = it;
	return 1;
}

/*
 * The unindexed walk's next node of the nodes table (format 1): 1 and
 * its key and record, 0 at the end, or an error.
 */
static int
reader_stat_seek(tally_reader *r, MDB_val *k, MDB_val *v)
{
	int	 rc;

	rc = store_reader_seek(&r->r, STORE_NODES, r->wkey, r->wlen, r->wplen,
	    r->snext, k, v);
	if (rc < 0)
		return reader_err(r, rc, "reading stat %s", r->sname);
	if (rc == 0) {
		r->wkind = READER_WALK_STAT_END;
		return 0;
	}
	/* As in a metric walk: the next seek starts just past this key. */
	if (k->mv_size > READER_KEYMAX - 1)
		return reader_longkey(r, "stat ", r->sname,
		    strlen(r->sname), k->mv_size);
	memcpy(r->wkey, k->mv_data, k->mv_size);
	r->wkey[k->mv_size] = '\0';
	r->wlen = k->mv_size + 1;
	r->snext = 1;
	return 1;
}

int
tally_reader_next_stat(tally_reader *r, const char **node_id,
    tally_metric *m)
{
	struct reader_item	*it = NULL;
	MDB_val			 k, v;
	int			 rc;

	if ((rc = reader_ready(r, 0)) != 0)
		return rc;
	if (r->wkind != READER_WALK_STAT && r->wkind != READER_WALK_STAT_END)
		return error_set(r->errmsg, sizeof r->errmsg, TALLY_ESTATE,
		    "tally_reader_next_stat: no stat walk started");
	if (r->wkind == READER_WALK_STAT && r->sindex) {
		if ((rc = reader_stat_next(r, &it)) <= 0)
			return rc;
		*m = it->m;
		*node_id = it->sid;
		return 1;
	}
	while (r->wkind == READER_WALK_STAT) {
		if ((rc = reader_stat_seek(r, &k, &v)) <= 0)
			return rc;
		/* Node by node: this one's value, if it has one. */
		if (!name_node_id_valid(k.mv_data, k.mv_size))
			continue;
		rc = store_reader_get(&r->r, reader_kind_db(r->skind),
		    k.mv_data, k.mv_size, r->sname, strlen(r->sname), &v);
		if (rc < 0)
			return reader_err(r, rc, "reading node %.*s",
			    (int)k.mv_size, (const char *)k.mv_data);
		if (rc == 0)
			continue;
		reader_stat_metric(r, &k, &v, m, r->mtext, r->sid);
		*node_id = r->sid;
		return 1;
	}
	return 0;
}

int
tally_reader_names(tally_reader *r, int kind)
{
	int	 rc;

	if ((rc = reader_ready(r, 1)) != 0)
		return rc;
	r->wkind = READER_WALK_NONE;
	if (kind != TALLY_COUNTER && kind != TALLY_STAT)
		return error_set(r->errmsg, sizeof r->errmsg, TALLY_EINVAL,
		    "tally_reader_names: invalid kind");
	if (r->st->idx != STORE_IDX_READY)
		return error_set(r->errmsg, sizeof r->errmsg, TALLY_ENOTFOUND,
		    "statsfile %s has no stat index (tally index makes it)",
		    store_path(r->st));
	r->skind = kind;
	/* From the top: LMDB seeks no empty key. */
	r->wkey[0] = '\0';
	r->wlen = 1;
	r->wplen = 0;
	r->wkind = READER_WALK_NAMES;
	return 0;
}

/*
 * A seek per name: the index's first key from wkey on is <name>/<node>,
 * and the next name's keys begin at or after "<name>0" ('0' follows '/'),
 * past every node of this one.
 */
int
tally_reader_next_name(tally_reader *r, const char **name)
{
	MDB_val		 k, v;
	const char	*key, *slash;
	size_t		 nlen;
	int		 rc;

	if ((rc = reader_ready(r, 0)) != 0)
		return rc;
	if (r->wkind != READER_WALK_NAMES && r->wkind != READER_WALK_NAMES_END)
		return error_set(r->errmsg, sizeof r->errmsg, TALLY_ESTATE,
		    "tally_reader_next_name: no name walk started");
	while (r->wkind == READER_WALK_NAMES) {
		rc = store_reader_seek(&r->r,
		    STORE_IDX(reader_kind_db(r->skind)), r->wkey, r->wlen, 0,
		    0, &k, &v);
		if (rc < 0)
			return reader_err(r, rc, "reading the stat index");
		if (rc == 0) {
			r->wkind = READER_WALK_NAMES_END;
			return 0;
		}
		if (k.mv_size > READER_KEYMAX - 1)
			return reader_longkey(r, "the stat index", "", 0,
			    k.mv_size);
		key = k.mv_data;
		slash = memchr(key, '/', k.mv_size);
		nlen = slash != NULL ? (size_t)(slash - key) : k.mv_size;
		if (slash == NULL || !name_stat_valid(key, nlen)) {
			/* Not the index's (tally check says so): past it. */
			memcpy(r->wkey, key, k.mv_size);
			r->wkey[k.mv_size] = '\0';
			r->wlen = k.mv_size + 1;
			continue;
		}
		memcpy(r->sname, key, nlen);
		r->sname[nlen] = '\0';
		memcpy(r->wkey, key, nlen);
		r->wkey[nlen] = '/' + 1;
		r->wlen = nlen + 1;
		*name = r->sname;
		return 1;
	}
	return 0;
}

void
tally_reader_close(tally_reader *r)
{
	if (r == NULL)
		return;
	if (r->st != NULL) {
		/*
		 * In a child of fork() the transaction is the parent's: ending
		 * it here would free the parent's snapshot in lock.mdb.  Only
		 * the memory goes.
		 */
		if (store_forked(r->st, NULL, 0) == 0) {
			store_reader_end(&r->r);
			if (r->held)
				store_faults_let();
		}
		store_close(r->st);
	}
	free(r);
}
