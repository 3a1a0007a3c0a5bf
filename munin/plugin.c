/*
 * plugin.c: what the tally_ munin plugin prints, as functions of an open
 * store, a graph, the time and an output stream.
 *
 * Nothing here exits, reads the environment or touches stdout, so that
 * t/check_plugin.c can run every path against real environments with a
 * fixed clock.  A run reads everything in one read transaction: the nodes
 * once, then each graph's values by key.  It makes no allocation per node
 * and builds its lines in a buffer, not a printf per line, so that a
 * multigraph run over every graph stays cheap with thousands of nodes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"


/*
 * Report a skipped node or value; the run goes on.  Untrusted parts are
 * quoted where they are formatted; the line is bounded and any control
 * character left becomes '?' all the same, so that a message is one line
 * a terminal shows as it is.
 */
static void
plugin_warn(FILE *errf, const char *fmt, ...) TALLY_PRINTF(2, 3);

static void
plugin_warn(FILE *errf, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[TALLY_ERRLEN * 2];

	if (errf == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	plugin_msg_clean(buf);
	fprintf(errf, PLUGIN_PREFIX ": %s\n", buf);
}

void
plugin_msg_clean(char *msg)
{
	for (; *msg != '\0'; msg++)
		if ((unsigned char)*msg < 0x20 || *msg == 0x7f)
			*msg = '?';
}

const char *
plugin_quote(char *buf, const char *s)
{
	if (s == NULL)
		s = "";
	return error_quote(buf, ERROR_QUOTE_LEN, s, strlen(s));
}

/*
 * An output buffer: lines are built here and written with one fwrite per
 * few kilobytes, since stdio per character or per printf call is most of
 * a run's time with thousands of nodes.  A node's config lines take less
 * than PLUGIN_BUF_NODE bytes (seven field names, a nickname, an id, a
 * source and some words), so plugin_buf_room before each node is all the
 * bounds checking the appends need.
 */
#define PLUGIN_BUF_SIZE	16384
#define PLUGIN_BUF_NODE	2048

struct plugin_buf {
	FILE	*out;
	size_t	 n;
	char	 b[PLUGIN_BUF_SIZE];
};

static void
plugin_buf_flush(struct plugin_buf *pb)
{
	if (pb->n > 0)
		fwrite(pb->b, 1, pb->n, pb->out);
	pb->n = 0;
}

static void
plugin_buf_room(struct plugin_buf *pb)
{
	if (sizeof pb->b - pb->n < PLUGIN_BUF_NODE)
		plugin_buf_flush(pb);
}

static void
plugin_buf_add(struct plugin_buf *pb, const char *s, size_t n)
{
	memcpy(pb->b + pb->n, s, n);
	pb->n += n;
}

static void
plugin_buf_str(struct plugin_buf *pb, const char *s)
{
	plugin_buf_add(pb, s, strlen(s));
}

/*
 * Append s, replacing control characters: a newline in a label would end
 * munin's line and let a node's record inject config lines.
 */
static void
plugin_buf_clean(struct plugin_buf *pb, const char *s)
{
	unsigned char	 c;

	for (; (c = (unsigned char)*s) != '\0'; s++)
		pb->b[pb->n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
}

const char *
plugin_basename(const char *argv0)
{
	const char	*slash;

	if (argv0 == NULL)
		return "";
	slash = strrchr(argv0, '/');
	return slash != NULL ? slash + 1 : argv0;
}

const struct plugin_graph *
plugin_graph_find(const struct plugin_table *t, const char *argv0)
{
	const char	*key = plugin_basename(argv0);
	size_t		 i, plen = strlen(PLUGIN_PREFIX);
	int		 prefixed = 0;

	if (strncmp(key, PLUGIN_PREFIX, plen) == 0) {
		key += plen;
		prefixed = 1;
	}
	/*
	 * Bare names are only the original system's (and the operator's),
	 * so that a link named "uptime" is never mistaken for munin's own
	 * plugin of that name.
	 */
	for (i = 0; i < t->n; i++) {
		if (strcmp(t->graphs[i].key, key) == 0 &&
		    (prefixed || t->graphs[i].compat))
			return &t->graphs[i];
	}
	return NULL;
}

int
plugin_is_multigraph(const char *argv0)
{
	const char	*base = plugin_basename(argv0);
	size_t		 plen = strlen(PLUGIN_PREFIX);

	return strncmp(base, PLUGIN_PREFIX, plen) == 0 &&
	    strcmp(base + plen, PLUGIN_ALL) == 0;
}

void
plugin_graph_name(const struct plugin_graph *g, FILE *out)
{
	if (!g->compat)
		fputs(PLUGIN_PREFIX, out);
	fputs(g->key, out);
}

size_t
plugin_field_name(const char *nick, size_t nicklen, const char *id,
    size_t idlen, char *out)
{
	char	 buf[TALLY_NICKNAME_MAX + 1 + TALLY_NODE_ID_MAX + 1];
	size_t	 budget, len, n;

	if (nicklen > TALLY_NICKNAME_MAX)
		nicklen = TALLY_NICKNAME_MAX;
	if (idlen > TALLY_NODE_ID_MAX)
		idlen = TALLY_NODE_ID_MAX;
	/*
	 * Cut the nickname, not the id, when both don't fit: the id is what
	 * makes the name unique.  name_munin_field prefixes '_' to a name
	 * starting with a digit; leave room for it.
	 */
	budget = NAME_FIELD_MAX > idlen + 1 ? NAME_FIELD_MAX - idlen - 1 : 0;
	if (nicklen > 0 && nick[0] >= '0' && nick[0] <= '9' && budget > 0)
		budget--;
	if (nicklen > budget)
		nicklen = budget;
	memcpy(buf, nick, nicklen);
	buf[nicklen] = '_';
	memcpy(buf + nicklen + 1, id, idlen);
	n = nicklen + 1 + idlen;
	name_munin_field(buf, n, out);
	len = strlen(out);

	/*
	 * If the id came through intact, the name ends with "_<id>" and
	 * differs from every other node's.  Otherwise ("-" became "_", or
	 * the id was cut) two ids may have met: add a hash of the raw id.
	 */
	if (len > idlen && out[len - idlen - 1] == '_' &&
	    memcmp(out + len - idlen, id, idlen) == 0)
		return len;
	if (len > NAME_FIELD_MAX - 9)
		len = NAME_FIELD_MAX - 9;
	snprintf(out + len, PLUGIN_FIELD_LEN - len, "_%08" PRIx32,
	    name_hash(id, idlen));
	return len + 9;
}

void
plugin_names_init(struct plugin_names *pn)
{
	memset(pn, 0, sizeof *pn);
}

void
plugin_names_free(struct plugin_names *pn)
{
	free(pn->names);
	free(pn->table);
	memset(pn, 0, sizeof *pn);
}

static const char *
plugin_names_at(const struct plugin_names *pn, size_t i)
{
	return pn->names + i * PLUGIN_FIELD_LEN;
}

static size_t
plugin_names_slot(const struct plugin_names *pn, const char *name,
    int *found)
{
	size_t	 mask = pn->tcap - 1, i;

	i = name_hash(name, strlen(name)) & mask;
	for (;; i = (i + 1) & mask) {
		if (pn->table[i] == 0) {
			*found = 0;
			return i;
		}
		if (strcmp(plugin_names_at(pn, pn->table[i] - 1), name) == 0) {
			*found = 1;
			return i;
		}
	}
}

/* Double the set; growth is geometric, so a run allocates O(log n) times. */
static int
plugin_names_grow(struct plugin_names *pn)
{
	size_t		 cap = pn->cap ? pn->cap * 2 : 256, tcap = cap * 4;
	size_t		 i, slot;
	char		*names;
	uint32_t	*table;
	int		 found;

	if (cap > UINT32_MAX / 4)
		return TALLY_ENOMEM;
	if ((names = realloc(pn->names, cap * PLUGIN_FIELD_LEN)) == NULL)
		return TALLY_ENOMEM;
	pn->names = names;
	if ((table = calloc(tcap, sizeof *table)) == NULL)
		return TALLY_ENOMEM;
	free(pn->table);
	pn->table = table;
	pn->tcap = tcap;
	pn->cap = cap;
	for (i = 0; i < pn->n; i++) {
		slot = plugin_names_slot(pn, plugin_names_at(pn, i), &found);
		pn->table[slot] = (uint32_t)(i + 1);
	}
	return 0;
}

int
plugin_names_add(struct plugin_names *pn, char *field)
{
	size_t		 base = strlen(field), slot;
	unsigned	 k = 1;
	int		 found, rc;

	if (pn->n == pn->cap && (rc = plugin_names_grow(pn)) != 0)
		return rc;
	/*
	 * Nodes come in id order, so the first of a clash keeps the plain
	 * name and the suffixes are the same on every run.  A suffixed name
	 * may itself be taken (a node nicknamed "x_2"): keep counting.
	 */
	for (;;) {
		slot = plugin_names_slot(pn, field, &found);
		if (!found)
			break;
		snprintf(field + base, PLUGIN_FIELD_LEN - base, "_%u", ++k);
	}
	memcpy(pn->names + pn->n * PLUGIN_FIELD_LEN, field, PLUGIN_FIELD_LEN);
	pn->table[slot] = (uint32_t)(++pn->n);
	return 0;
}

int
plugin_open(struct store **sp, const char *path, char *err, size_t errlen)
{
	char		 lock[PATH_MAX], gname[64], q[ERROR_QUOTE_LEN];
	char		 gq[ERROR_QUOTE_LEN];
	struct stat	 sb;
	struct group	*gr;

	*sp = NULL;
	/*
	 * LMDB reports a reader that cannot write lock.mdb as a bare
	 * EACCES; say what the operator must change instead.
	 */
	if (path == NULL || *path == '\0' ||
	    (size_t)snprintf(lock, sizeof lock, "%s/lock.mdb", path) >=
	    sizeof lock || stat(lock, &sb) != 0 ||
	    faccessat(AT_FDCWD, lock, R_OK | W_OK, AT_EACCESS) == 0 ||
	    errno != EACCES) {
		/* No path is that long; and its reason would be cut off. */
		if (path != NULL && strlen(path) >= PATH_MAX)
			return error_set(err, errlen, TALLY_ESYS, "statsfile "
			    "%s: %s", plugin_quote(q, path),
			    strerror(ENAMETOOLONG));
		/* store.c quotes the path in its messages itself. */
		return store_open(sp, path, STORE_RDONLY, err, errlen);
	}
	if ((sb.st_mode & (S_IRGRP | S_IWGRP)) != (S_IRGRP | S_IWGRP))
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: "
		    "lock.mdb has mode %04o, and LMDB readers must write it: "
		    "make it 0660", plugin_quote(q, path),
		    (unsigned)(sb.st_mode & 07777));
	if ((gr = getgrgid(sb.st_gid)) != NULL)
		snprintf(gname, sizeof gname, "%s", gr->gr_name);
	else
		snprintf(gname, sizeof gname, "%ld", (long)sb.st_gid);
	return error_set(err, errlen, TALLY_ESYS, "statsfile %s: lock.mdb is "
	    "not writable by uid %ld gid %ld, and LMDB readers must write "
	    "it: set 'group %s' in this plugin's plugin-conf.d section",
	    plugin_quote(q, path), (long)geteuid(), (long)getegid(),
	    plugin_quote(gq, gname));
}

void
plugin_autoconf(const char *argv0, const char *path, const char *graphs,
    FILE *out)
{
	struct plugin_table	 t;
	struct store		*st;
	const char		*base = plugin_basename(argv0);
	char			 err[TALLY_ERRLEN], q[ERROR_QUOTE_LEN];
	int			 rc;

	/* A bad graph table breaks every graph, so it is a "no" too. */
	if ((rc = plugin_table_load(&t, graphs, err, sizeof err)) == 0) {
		/*
		 * The bare tally_ (as munin-node-configure runs it) and
		 * tally_all stand for every graph; any other name must be
		 * one, or the link draws nothing.
		 */
		if (*base != '\0' && strcmp(base, PLUGIN_PREFIX) != 0 &&
		    !plugin_is_multigraph(argv0) &&
		    plugin_graph_find(&t, argv0) == NULL)
			rc = error_set(err, sizeof err, TALLY_EINVAL, "no graph "
			    "named '%s'; '%s list' prints the valid names",
			    plugin_quote(q, base), PLUGIN_PREFIX);
		plugin_table_free(&t);
	}
	if (rc == 0)
		rc = plugin_open(&st, path, err, sizeof err);
	if (rc == 0) {
		store_close(st);
		fputs("yes\n", out);
		return;
	}
	/* munin-node-configure wants exactly one line, and a person no
	 * escape codes. */
	plugin_msg_clean(err);
	fprintf(out, "no (%s)\n", err);
}

void
plugin_list(const struct plugin_table *t, FILE *out)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		fprintf(out, "%s%s\n", PLUGIN_PREFIX, t->graphs[i].key);
	for (i = 0; i < t->n; i++)
		if (t->graphs[i].compat)
			fprintf(out, "%s\n", t->graphs[i].key);
	fprintf(out, "%s%s\n", PLUGIN_PREFIX, PLUGIN_ALL);
}

void
plugin_no_multigraph(int config, FILE *out)
{
	if (!config) {
		fputs("multigraph.value 0\n", out);
		return;
	}
	fputs("graph_title This plugin needs multigraph support\n"
	    "multigraph.label No multigraph here\n"
	    "multigraph.info " PLUGIN_PREFIX PLUGIN_ALL " draws every tally "
	    "graph from one run, which needs a munin-node that supports "
	    "multigraph plugins (1.4.0 or later).  Link single graphs as "
	    PLUGIN_PREFIX "<graph> instead.\n", out);
}

/*
 * The nodes of one run, read once in the run's read transaction, each
 * with its unique field (the names set's i-th name is node i's); graphs
 * then look their values up by id.  Ids point into the transaction's
 * pages and stay valid until it ends.
 */
struct plugin_node {
	MDB_val			 id;
	struct record_node	 rn;
	size_t			 flen;	/* of its field name */
};

struct plugin_run {
	struct store_reader	 r;
	struct plugin_node	*nodes;
	size_t			 n, cap;
	struct plugin_names	 names;
	time_t			 now;
	FILE			*errf;
	char			*err;
	size_t			 errlen;
	struct plugin_buf	 buf;
};

static const char *
plugin_run_field(const struct plugin_run *run, size_t i)
{
	return plugin_names_at(&run->names, i);
}

static void
plugin_run_end(struct plugin_run *run)
{
	plugin_buf_flush(&run->buf);
	store_reader_end(&run->r);
	plugin_names_free(&run->names);
	free(run->nodes);
	free(run);
}

/*
 * Begin the transaction and read every node that can be shown; the
 * others are reported on errf.  The node array grows geometrically: a run
 * allocates O(log n) times, never per node.
 */
static int
plugin_run_begin(struct store *st, struct plugin_run **runp, time_t now,
    FILE *out, FILE *errf, char *err, size_t errlen)
{
	struct plugin_run	*run;
	struct plugin_node	*nodes, *node;
	MDB_val			 id, rec;
	char			 why[TALLY_ERRLEN], field[PLUGIN_FIELD_LEN];
	size_t			 cap;
	int			 rc;

	if ((*runp = run = calloc(1, sizeof *run)) == NULL)
		return error_set(err, errlen, TALLY_ENOMEM, "out of memory");
	plugin_names_init(&run->names);
	run->now = now;
	run->buf.out = out;
	run->errf = errf;
	run->err = err;
	run->errlen = errlen;
	if ((rc = store_reader_begin(st, &run->r, err, errlen)) != 0) {
		free(run);
		*runp = NULL;
		return rc;
	}
	for (;;) {
		if ((rc = store_reader_next(&run->r, &id, &rec)) <= 0)
			break;
		if (!name_node_id_valid(id.mv_data, id.mv_size)) {
			/* store_path is quoted already; the id is raw. */
			plugin_warn(errf, "statsfile %s: skipping node '%s': "
			    "not a valid node id", store_path(st),
			    error_quote(why, sizeof why, id.mv_data,
			    id.mv_size));
			continue;
		}
		if (run->n == run->cap) {
			cap = run->cap ? run->cap * 2 : 64;
			if ((nodes = realloc(run->nodes,
			    cap * sizeof *nodes)) == NULL) {
				rc = TALLY_ENOMEM;
				break;
			}
			run->nodes = nodes;
			run->cap = cap;
		}
		node = &run->nodes[run->n];
		if (record_node_parse(rec.mv_data, rec.mv_size, &node->rn,
		    why, sizeof why) != 0) {
			plugin_warn(errf, "statsfile %s: skipping node %.*s: "
			    "%s", store_path(st), (int)id.mv_size,
			    (const char *)id.mv_data, why);
			continue;
		}
		node->id = id;
		plugin_field_name(node->rn.nickname, strlen(node->rn.nickname),
		    id.mv_data, id.mv_size, field);
		if ((rc = plugin_names_add(&run->names, field)) != 0)
			break;
		node->flen = strlen(field);
		run->n++;
	}
	if (rc == 0)
		return 0;
	if (rc == TALLY_ENOMEM)
		error_set(err, errlen, rc, "out of memory");
	else if (store_damage_msg(st) != NULL)
		error_set(err, errlen, rc, "%s", store_damage_msg(st));
	else
		error_set(err, errlen, rc, "statsfile %s: reading nodes: %s",
		    store_path(st), tally_strerror(rc));
	plugin_run_end(run);
	*runp = NULL;
	return rc;
}

/* Look node i's stat of g up: 1 found, 0 not, or a TALLY_E* code. */
static int
plugin_run_get(struct plugin_run *run, const struct plugin_graph *g,
    size_t i, MDB_val *v)
{
	const MDB_val	*id = &run->nodes[i].id;
	int		 rc;

	rc = store_reader_get(&run->r, g->db, id->mv_data, id->mv_size,
	    g->statid, strlen(g->statid), v);
	/* A damaged store's message says what is wrong and what to do. */
	if (rc < 0 && store_damage_msg(run->r.st) != NULL)
		error_set(run->err, run->errlen, rc, "%s",
		    store_damage_msg(run->r.st));
	else if (rc < 0)
		error_set(run->err, run->errlen, rc, "statsfile %s: reading "
		    "%.*s/%s: %s", store_path(run->r.st), (int)id->mv_size,
		    (const char *)id->mv_data, g->statid, tally_strerror(rc));
	return rc;
}

/* 1 if some node has g's stat, 0 if none, or a TALLY_E* code. */
static int
plugin_run_present(struct plugin_run *run, const struct plugin_graph *g)
{
	MDB_val	 v;
	size_t	 i;
	int	 rc;

	for (i = 0; i < run->n; i++)
		if ((rc = plugin_run_get(run, g, i, &v)) != 0)
			return rc;
	return 0;
}

/*
 * Look every graph of t up for every node, node after node: a node's keys
 * sit together in the tree, so its lookups stay in pages the cache holds.
 * (*valsp)[k * n + i] is node i's value of graph k (mv_data NULL when
 * absent); present[k] says whether any node has graph k's stat.  The
 * matrix is smaller than the output it feeds.
 */
static int
plugin_run_collect(struct plugin_run *run, const struct plugin_table *t,
    MDB_val **valsp, unsigned char *present)
{
	MDB_val	*vals;
	size_t	 n = run->n, i, k;
	int	 rc;

	*valsp = NULL;
	if (n > 0 && t->n > SIZE_MAX / sizeof *vals / n)
		return error_set(run->err, run->errlen, TALLY_ENOMEM,
		    "out of memory");
	if ((vals = calloc(n * t->n + 1, sizeof *vals)) == NULL)
		return error_set(run->err, run->errlen, TALLY_ENOMEM,
		    "out of memory");
	for (i = 0; i < n; i++) {
		for (k = 0; k < t->n; k++) {
			rc = plugin_run_get(run, &t->graphs[k], i,
			    &vals[k * n + i]);
			if (rc < 0) {
				free(vals);
				return rc;
			}
			if (rc == 1)
				present[k] = 1;
			else
				vals[k * n + i].mv_data = NULL;
		}
	}
	*valsp = vals;
	return 0;
}

static void
plugin_run_config(struct plugin_run *run, const struct plugin_graph *g)
{
	struct plugin_buf	*pb = &run->buf;
	const char		*f;
	char			 scale[24];
	size_t			 i, fl, sl = 0;

	plugin_buf_flush(pb);
	fprintf(pb->out, "graph_title %s\ngraph_vlabel %s\ngraph_category "
	    "%s\n", g->title, g->vlabel, g->category);
	if (g->args != NULL)
		fprintf(pb->out, "graph_args %s\n", g->args);
	fprintf(pb->out, "graph_info %s Stat: %s, a line per node.\n",
	    g->info, g->statid);
	if (g->scale > 1)
		sl = (size_t)snprintf(scale, sizeof scale, ",%d,/\n",
		    g->scale);
	for (i = 0; i < run->n; i++) {
		const struct plugin_node *node = &run->nodes[i];

		f = plugin_run_field(run, i);
		fl = node->flen;
		plugin_buf_room(pb);
		plugin_buf_add(pb, f, fl);
		plugin_buf_str(pb, ".label ");
		plugin_buf_clean(pb, node->rn.nickname);
		plugin_buf_str(pb, "\n");
		plugin_buf_add(pb, f, fl);
		plugin_buf_str(pb, ".draw LINE1\n");
		if (g->derive) {
			plugin_buf_add(pb, f, fl);
			plugin_buf_str(pb, ".type DERIVE\n");
			plugin_buf_add(pb, f, fl);
			plugin_buf_str(pb, ".min 0\n");
		}
		if (g->scale > 1) {
			plugin_buf_add(pb, f, fl);
			plugin_buf_str(pb, ".cdef ");
			plugin_buf_add(pb, f, fl);
			plugin_buf_add(pb, scale, sl);
		}
		plugin_buf_add(pb, f, fl);
		plugin_buf_str(pb, ".info node ");
		plugin_buf_add(pb, node->id.mv_data, node->id.mv_size);
		plugin_buf_str(pb, ", source ");
		plugin_buf_clean(pb, node->rn.source);
		plugin_buf_str(pb, "\n");
	}
	plugin_buf_flush(pb);
}

/*
 * Format one value into num and return its length, or return 0 for U.  A
 * value that is not what its table holds is reported, since it means a
 * writer is broken.
 */
static size_t
plugin_value(const struct plugin_graph *g, const MDB_val *id,
    const MDB_val *v, char *num, FILE *errf)
{
	int64_t	 i;
	double	 d;
	char	 q[ERROR_QUOTE_LEN];

	if (g->db == STORE_COUNTERS) {
		if (record_parse_int64(v->mv_data, v->mv_size, &i) != 0)
			goto bad;
		return record_fmt_int64(num, i);
	}
	if (record_parse_double(v->mv_data, v->mv_size, &d) != 0)
		goto bad;
	if (!isfinite(d))
		return 0;		/* nan: unknown; inf: not graphable */
	if (g->derive) {
		/* rrdtool takes only integers for DERIVE. */
		d *= g->scale > 1 ? g->scale : 1;
		if (!(d > -9.2e18 && d < 9.2e18))
			return 0;
		/* Round half away from zero; no libm just for llround. */
		return record_fmt_int64(num,
		    (int64_t)(d < 0 ? d - 0.5 : d + 0.5));
	}
	return record_fmt_double(num, d);
bad:
	plugin_warn(errf, "node %.*s: %s: unreadable value '%s'",
	    (int)id->mv_size, (const char *)id->mv_data, g->statid,
	    error_quote(q, sizeof q, v->mv_data, v->mv_size));
	return 0;
}

/*
 * Print g's values: from vals (node i's at vals[i], mv_data NULL when
 * absent) if not NULL, else looked up.  A stale node reads U.
 */
static int
plugin_run_values(struct plugin_run *run, const struct plugin_graph *g,
    const MDB_val *vals)
{
	struct plugin_buf	*pb = &run->buf;
	MDB_val			 v;
	char			 num[RECORD_NUMLEN];
	size_t			 i, len;
	int			 rc;

	for (i = 0; i < run->n; i++) {
		len = 0;
		/*
		 * Fresh: a sane time (tally(5)), not older than PLUGIN_STALE.
		 * A node whose clock is in the future is not fresh for ever
		 * but stale, as is one before 2000.  Written as "older than",
		 * on a sane time, so that nothing can overflow.
		 */
		if (record_time_sane(run->nodes[i].rn.time, run->now) &&
		    run->nodes[i].rn.time >= (int64_t)run->now - PLUGIN_STALE) {
			if (vals != NULL) {
				v = vals[i];
				rc = v.mv_data != NULL;
			} else if ((rc = plugin_run_get(run, g, i, &v)) < 0)
				return rc;
			if (rc == 1)
				len = plugin_value(g, &run->nodes[i].id, &v,
				    num, run->errf);
		}
		plugin_buf_room(pb);
		plugin_buf_add(pb, plugin_run_field(run, i),
		    run->nodes[i].flen);
		plugin_buf_str(pb, ".value ");
		if (len > 0)
			plugin_buf_add(pb, num, len);
		else
			plugin_buf_str(pb, "U");
		plugin_buf_str(pb, "\n");
	}
	return 0;
}

static int
plugin_output_err(FILE *out, char *err, size_t errlen)
{
	if (fflush(out) != 0 || ferror(out))
		return error_set(err, errlen, TALLY_ESYS, "writing output: "
		    "%s", strerror(errno));
	return 0;
}

int
plugin_config(struct store *st, const struct plugin_graph *g, int flags,
    time_t now, FILE *out, FILE *errf, char *err, size_t errlen)
{
	struct plugin_run	*run;
	int			 rc;

	if ((rc = plugin_run_begin(st, &run, now, out, errf, err,
	    errlen)) != 0)
		return rc;
	plugin_run_config(run, g);
	if (flags & PLUGIN_DIRTY)
		rc = plugin_run_values(run, g, NULL);
	plugin_run_end(run);
	return rc != 0 ? rc : plugin_output_err(out, err, errlen);
}

int
plugin_fetch(struct store *st, const struct plugin_graph *g, time_t now,
    FILE *out, FILE *errf, char *err, size_t errlen)
{
	struct plugin_run	*run;
	int			 rc;

	if ((rc = plugin_run_begin(st, &run, now, out, errf, err,
	    errlen)) != 0)
		return rc;
	rc = plugin_run_values(run, g, NULL);
	plugin_run_end(run);
	return rc != 0 ? rc : plugin_output_err(out, err, errlen);
}

int
plugin_multigraph(struct store *st, const struct plugin_table *t, int flags,
    time_t now, FILE *out, FILE *errf, char *err, size_t errlen)
{
	const struct plugin_graph	*g;
	struct plugin_run		*run;
	MDB_val				*vals = NULL;
	unsigned char			*present;
	size_t				 k;
	int				 rc, values;

	values = !(flags & PLUGIN_CONFIG) || (flags & PLUGIN_DIRTY);
	if ((present = calloc(t->n + 1, 1)) == NULL)
		return error_set(err, errlen, TALLY_ENOMEM, "out of memory");
	if ((rc = plugin_run_begin(st, &run, now, out, errf, err,
	    errlen)) != 0) {
		free(present);
		return rc;
	}
	/*
	 * Values: all of them at once, node after node.  A config alone
	 * only needs to know which graphs have data: the first node with
	 * the stat answers that.
	 */
	if (values)
		rc = plugin_run_collect(run, t, &vals, present);
	else
		for (k = 0; k < t->n && rc == 0; k++)
			if ((rc = plugin_run_present(run,
			    &t->graphs[k])) >= 0) {
				present[k] = rc == 1;
				rc = 0;
			}
	/*
	 * munin-node runs every plugin's config when it starts and drops,
	 * until it restarts, one that prints nothing: with no data yet,
	 * answer the first graph, without fields.
	 */
	if (rc == 0 && t->n > 0 && memchr(present, 1, t->n) == NULL)
		present[0] = 1;
	for (k = 0; k < t->n && rc == 0; k++) {
		if (!present[k])
			continue;
		g = &t->graphs[k];
		fputs("multigraph ", out);
		plugin_graph_name(g, out);
		putc('\n', out);
		if (flags & PLUGIN_CONFIG)
			plugin_run_config(run, g);
		if (values)
			rc = plugin_run_values(run, g, vals + k * run->n);
		plugin_buf_flush(&run->buf);
	}
	plugin_run_end(run);
	free(vals);
	free(present);
	return rc != 0 ? rc : plugin_output_err(out, err, errlen);
}

int
plugin_suggest(struct store *st, const struct plugin_table *t, int flags,
    FILE *out, FILE *errf, char *err, size_t errlen)
{
	struct plugin_run	*run;
	size_t			 k;
	int			 rc;

	if ((rc = plugin_run_begin(st, &run, 0, out, errf, err,
	    errlen)) != 0)
		return rc;
	for (k = 0; k < t->n; k++) {
		if ((rc = plugin_run_present(run, &t->graphs[k])) <= 0) {
			if (rc < 0)
				break;
			continue;
		}
		rc = 0;
		if (flags & PLUGIN_MULTI) {
			fputs(PLUGIN_ALL "\n", out);
			break;
		}
		fprintf(out, "%s\n", t->graphs[k].key);
	}
	plugin_run_end(run);
	return rc != 0 ? rc : plugin_output_err(out, err, errlen);
}
