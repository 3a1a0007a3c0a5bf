/*
 * statsfile.c: every access of the tally tool to the statsfile: open it
 * (read-only, with the SIGBUS guard, or to write), a read transaction, the
 * walk of the nodes table, a node's metrics, every key for check, and
 * prune's and forget's writes.  The only file of the tool that knows the
 * store and LMDB's types; the commands see nodes and metrics.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-cmd.h"

struct statsfile {
	struct store		*st;
	struct store_reader	 r;
	int			 reading;	/* r is begun */
	char			 qpath[ERROR_QUOTE_LEN];
};

/* What a scan of counters or stats hands on to a statsfile_metric_cb. */
struct statsfile_scan {
	statsfile_metric_cb	 cb;
	void			*ctx;
	int			 counter;
	int			 whole;		/* keys, not a node's names */
};

/* statsfile_nodes_list's collection. */
struct statsfile_list {
	const struct statsfile	*sf;
	char			**want;
	int			 nwant;
	char			*found;
	struct statsfile_node	*nodes;
	size_t			 n, cap;
	size_t			*skipped;
	int			 enomem;
};

/*
 * LMDB maps data.mdb: a truncated or damaged file shows as SIGBUS when a
 * page past its end is read.  Say so instead of dying silently, and leave
 * no temporary file of export behind.  The handler writes what is quoted
 * already: it may not format.
 */
static char		 sigbus_path[ERROR_QUOTE_LEN] = "the statsfile";
static size_t		 sigbus_pathlen = sizeof "the statsfile" - 1;
static const char	*sigbus_tmp;
static int		 sigbus_set;

static void
statsfile_sigbus(int signo)
{
	static const char m1[] = PROG ": ", m2[] = ": bus error reading "
	    "data.mdb: the database is truncated or damaged (see tally(1))\n";

	(void)signo;
	if (sigbus_tmp != NULL)
		unlink(sigbus_tmp);
	if (write(STDERR_FILENO, m1, sizeof m1 - 1) > 0 &&
	    write(STDERR_FILENO, sigbus_path, sigbus_pathlen) > 0)
		(void)!write(STDERR_FILENO, m2, sizeof m2 - 1);
	_exit(EXIT_FAIL);
}

/* A file the SIGBUS handler removes (export's temporary file), or NULL. */
void
statsfile_unlink_on_sigbus(const char *tmp)
{
	sigbus_tmp = tmp;
}

/*
 * Open the statsfile at path, read-only or (STATSFILE_WRITE) to write, or
 * say why not: 0 or -1.
 */
int
statsfile_open(struct statsfile **sfp, const char *path, int flags)
{
	struct statsfile	*sf;
	struct sigaction	 sa;
	char			 err[TALLY_ERRLEN];

	*sfp = NULL;
	if ((sf = calloc(1, sizeof *sf)) == NULL) {
		warnmsg("out of memory");
		return -1;
	}
	quote(sf->qpath, path);
	/*
	 * Installed once, before the first open: libtally's own handler,
	 * installed by that open, catches the faults inside LMDB and hands
	 * every other one on to this.
	 */
	memcpy(sigbus_path, sf->qpath, sizeof sigbus_path);
	sigbus_pathlen = strlen(sigbus_path);
	if (!sigbus_set) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = statsfile_sigbus;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, NULL);
		sigbus_set = 1;
	}
	/* No path is that long; and its reason would be cut off. */
	if (strlen(path) >= PATH_MAX) {
		warnmsg("statsfile %s: %s", sf->qpath, strerror(ENAMETOOLONG));
		free(sf);
		return -1;
	}
	if (store_open(&sf->st, path, flags & STATSFILE_WRITE ? 0 :
	    STORE_RDONLY, err, sizeof err) != 0) {
		warnmsg("%s", err);
		free(sf);
		return -1;
	}
	*sfp = sf;
	return 0;
}

/* End the read transaction if one is open, and close; NULL is no error. */
void
statsfile_close(struct statsfile *sf)
{
	if (sf == NULL)
		return;
	statsfile_end(sf);
	store_close(sf->st);
	free(sf);
}

/* Begin the read transaction everything read goes through: 0 or -1. */
int
statsfile_begin(struct statsfile *sf)
{
	char	 err[TALLY_ERRLEN];

	if (store_reader_begin(sf->st, &sf->r, err, sizeof err) != 0) {
		warnmsg("%s", err);
		return -1;
	}
	sf->reading = 1;
	return 0;
}

/* End it: what was read from it is gone. */
void
statsfile_end(struct statsfile *sf)
{
	if (sf->reading)
		store_reader_end(&sf->r);
	sf->reading = 0;
}

/*
 * A read failed with rc.  A damaged store's own message says what is
 * wrong and what to do (store.c: LMDB asserted or faulted, or a page is
 * corrupt); anything else gets what we were doing and rc's reason.  The
 * caller then fails with EXIT_FAIL, having shown what it could.
 */
void
statsfile_failed(struct statsfile *sf, int rc, const char *what)
{
	const char	*dmg = store_damage_msg(sf->st);

	if (dmg != NULL)
		warnmsg("%s", dmg);
	else
		warnmsg("%s: %s: %s", sf->qpath, what, rc == TALLY_ENOMEM ?
		    "out of memory" : tally_strerror(rc));
}

/*
 * The walk of the nodes table, in id order: cb for every node, its id
 * checked and its record parsed (see struct statsfile_node).  Stops at
 * cb's non-zero return, which it returns; else 0 or a TALLY_E* code.
 */
int
statsfile_nodes(struct statsfile *sf, statsfile_node_cb cb, void *ctx)
{
	struct statsfile_node	 nd;
	MDB_val			 k, v;
	int			 rc;

	while ((rc = store_reader_next(&sf->r, &k, &v)) == 1) {
		nd.id = k.mv_data;
		nd.idlen = k.mv_size;
		nd.raw = v.mv_data;
		nd.rawlen = v.mv_size;
		if (!name_node_id_valid(nd.id, nd.idlen))
			nd.state = STATSFILE_BADID;
		else if (record_node_parse(nd.raw, nd.rawlen, &nd.rec, nd.err,
		    sizeof nd.err) != 0)
			nd.state = STATSFILE_BADREC;
		else
			nd.state = STATSFILE_OK;
		if ((rc = cb(ctx, &nd)) != 0)
			return rc;
	}
	return rc < 0 ? rc : 0;
}

/* A node that is skipped, for its bad id or record; named: with the path. */
void
statsfile_warn_node(const struct statsfile *sf,
    const struct statsfile_node *nd, int named)
{
	const char	*path = named ? sf->qpath : "", *sep = named ? ": " : "";
	char		 b[80];

	if (nd->state == STATSFILE_BADID)
		warnmsg("%s%sskipping node '%s': not a valid node id (run "
		    "tally check)", path, sep, text_esc(b, sizeof b, nd->id,
		    nd->idlen));
	else if (nd->state == STATSFILE_BADREC)
		warnmsg("%s%sskipping node %.*s: %s (run tally check)", path,
		    sep, (int)nd->idlen, nd->id, nd->err);
}

static int
statsfile_list_cb(void *ctx, const struct statsfile_node *nd)
{
	struct statsfile_list	*l = ctx;
	struct statsfile_node	*nn;
	int			 i, match = l->nwant == 0;

	for (i = 0; i < l->nwant; i++) {
		if (strlen(l->want[i]) == nd->idlen &&
		    memcmp(l->want[i], nd->id, nd->idlen) == 0) {
			l->found[i] = 1;
			match = 1;
		}
	}
	if (!match)
		return 0;
	if (nd->state != STATSFILE_OK) {
		statsfile_warn_node(l->sf, nd, 1);
		(*l->skipped)++;
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		if ((nn = realloc(l->nodes, l->cap * sizeof *nn)) == NULL) {
			l->enomem = 1;
			return TALLY_ENOMEM;
		}
		l->nodes = nn;
	}
	l->nodes[l->n++] = *nd;
	return 0;
}

/*
 * The valid nodes, in id order, into *out (free it), each other one
 * reported and counted in *skipped.  With want, only the nodes named
 * there, marking found[] for each name matched.  0, or -1 said why.
 */
int
statsfile_nodes_list(struct statsfile *sf, char **want, int nwant,
    char *found, struct statsfile_node **out, size_t *nout, size_t *skipped)
{
	struct statsfile_list	 l;
	int			 rc;

	memset(&l, 0, sizeof l);
	l.sf = sf;
	l.want = want;
	l.nwant = nwant;
	l.found = found;
	l.skipped = skipped;
	if ((rc = statsfile_nodes(sf, statsfile_list_cb, &l)) != 0) {
		if (l.enomem)
			warnmsg("out of memory");
		else
			statsfile_failed(sf, rc, "reading the nodes table");
		free(l.nodes);
		return -1;
	}
	*out = l.nodes;
	*nout = l.n;
	return 0;
}

static int
statsfile_scan_cb(void *ctx, const char *name, size_t nlen, const char *val,
    size_t vlen)
{
	struct statsfile_scan	*s = ctx;
	struct statsfile_metric	 m;
	int			 rc;

	m.counter = s->counter;
	m.name = name;
	m.nlen = nlen;
	m.val = val;
	m.vlen = vlen;
	m.i = 0;
	m.d = 0;
	rc = s->counter ? record_parse_int64(val, vlen, &m.i) :
	    record_parse_double(val, vlen, &m.d);
	m.ok = rc == 0 && (s->whole || name_stat_valid(name, nlen));
	return s->cb(s->ctx, &m);
}

/*
 * A node's counters, then its stats, each in name order: cb for each.
 * Stops at cb's non-zero return, which it returns; else 0 or a TALLY_E*
 * code.
 */
int
statsfile_metrics(struct statsfile *sf, const char *id, size_t idlen,
    statsfile_metric_cb cb, void *ctx)
{
	struct statsfile_scan	 s = { cb, ctx, 1, 0 };
	int			 rc;

	if ((rc = store_reader_scan(&sf->r, STORE_COUNTERS, id, idlen,
	    statsfile_scan_cb, &s)) != 0)
		return rc;
	s.counter = 0;
	return store_reader_scan(&sf->r, STORE_STATS, id, idlen,
	    statsfile_scan_cb, &s);
}

/* A counter or stat that is skipped, for its bad name or value. */
void
statsfile_warn_metric(const char *id, size_t idlen,
    const struct statsfile_metric *m)
{
	char	 b1[80], b2[80];

	warnmsg("node %.*s: skipping unreadable %s '%s' = '%s' (run tally "
	    "check)", (int)idlen, id, m->counter ? "counter" : "stat",
	    text_esc(b1, sizeof b1, m->name, m->nlen),
	    text_esc(b2, sizeof b2, m->val, m->vlen));
}

/*
 * Every key of the counters table (counters) or the stats table, whole,
 * in key order, whatever its form: check's walk.  As statsfile_metrics.
 */
int
statsfile_keys(struct statsfile *sf, int counters, statsfile_metric_cb cb,
    void *ctx)
{
	struct statsfile_scan	 s = { cb, ctx, counters, 1 };

	return store_reader_walk(&sf->r, counters ? STORE_COUNTERS :
	    STORE_STATS, statsfile_scan_cb, &s);
}

/*
 * Remove a node's slot if its snapshot is older than cutoff, checked in
 * the deleting transaction: 0 removed, TALLY_ESTATE kept (it wrote a newer
 * snapshot since the look), TALLY_ENOTFOUND gone already, or another
 * TALLY_E* code with a message in err.
 */
int
statsfile_delete_before(struct statsfile *sf, const char *id,
    int64_t cutoff, char *err, size_t errlen)
{
	return store_delete_slot_before(sf->st, id, cutoff, err, errlen);
}

/*
 * Unbind a node's key: 0, TALLY_ENOTFOUND no such node, TALLY_ESTATE no
 * key bound, or another TALLY_E* code with a message in err.
 */
int
statsfile_forget_key(struct statsfile *sf, const char *id, char *err,
    size_t errlen)
{
	return store_forget_key(sf->st, id, err, errlen);
}

/* 1 once the statsfile turned out damaged: every later call fails too. */
int
statsfile_damaged(const struct statsfile *sf)
{
	return store_damaged(sf->st);
}
