/*
 * run.c: what the tally_ munin plugin prints, as functions of an open
 * reader, a graph, the time and an output stream.
 *
 * Nothing here exits, reads the environment or touches stdout, so that
 * t/check_plugin.c can run every path against real environments with a
 * fixed clock.  A run reads everything through one reader (one read
 * transaction).  A graph is the nodes that have its stat: the reader's
 * stat walk gives them and their values, from the statsfile's stat index
 * when it has one (tally index), so that a graph costs what its own
 * values cost, however big the fleet's other stats are.  One graph looks each of its nodes up; a multigraph run
 * reads every node once and merges each graph's walk with them, both in
 * id order.  A run makes no allocation per node and builds its lines in
 * a buffer, not a printf per line.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/*
 * Report a skipped node or value; the run goes on.  Untrusted parts are
 * quoted where they are formatted; the line is bounded and any control
 * character left becomes '?' all the same, so that a message is one line
 * a terminal shows as it is.
 */
static void
plugin_warn(FILE *errf, const char *fmt, ...) PLUGIN_PRINTF(2, 3);

static void
plugin_warn(FILE *errf, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[TALLY_ERRMSG_LEN * 2];

	if (errf == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	plugin_msg_clean(buf);
	fprintf(errf, PLUGIN_PREFIX ": %s\n", buf);
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

/*
 * A node's snapshot is fresh when its time is sane (tally(5): not before
 * 2000-01-01, not more than a day ahead of the plugin's clock) and not
 * older than PLUGIN_STALE.
 */
#define PLUGIN_TIME_MIN		INT64_C(946684800)
#define PLUGIN_TIME_AHEAD	INT64_C(86400)

/* A source as tally(5) bounds it, cut there if a file says more. */
#define PLUGIN_SOURCE_LEN	128

/* A value as printed: an int64 or a double's shortest text. */
#define PLUGIN_NUMLEN		32

/* A node's value of a graph, formatted before its node is looked up. */
struct plugin_val {
	size_t	 len;		/* 0: U */
	char	 num[PLUGIN_NUMLEN];
};

/*
 * A node as a run shows it: copied from the reader, with its field name,
 * unique in the run.  A multigraph run keeps every node; one graph's run
 * needs only the node at hand.
 */
struct plugin_node {
	char		 id[TALLY_NODE_ID_MAX + 1];
	char		 nickname[TALLY_NICKNAME_MAX + 1];
	char		 source[PLUGIN_SOURCE_LEN];
	char		 field[PLUGIN_FIELD_LEN];
	int64_t		 time;
	size_t		 flen;	/* of its field name */
};

/* Copy s into buf of size bytes, cut if it must be; the length copied. */
static size_t
plugin_copy(char *buf, size_t size, const char *s)
{
	size_t	 n = strlen(s);

	if (n >= size)
		n = size - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return n;
}

struct plugin_run {
	tally_reader		*r;
	char			 qpath[TALLY_QUOTE_LEN];
	struct plugin_node	*nodes;
	size_t			 n, cap;
	struct plugin_names	 names;
	struct plugin_node	 one;	/* one graph's run: the node at hand */
	time_t			 now;
	FILE			*errf;
	char			*err;
	size_t			 errlen;
	struct plugin_buf	 buf;
};

static void
plugin_run_end(struct plugin_run *run)
{
	plugin_buf_flush(&run->buf);
	tally_reader_close(run->r);
	plugin_names_free(&run->names);
	free(run->nodes);
	free(run);
}

/*
 * Copy a node that can be shown into *node, with its field name; one that
 * cannot is reported on warnf (if set): 1.  0, or TALLY_ENOMEM.
 */
static int
plugin_run_node(struct plugin_run *run, const tally_node *tn,
    struct plugin_node *node, FILE *warnf)
{
	size_t	 idlen, nicklen;

	if (tn->error != NULL) {
		/* An invalid id comes quoted, as the path. */
		plugin_warn(warnf, tally_node_id_valid(tn->id) ?
		    "statsfile %s: skipping node %s: %s" :
		    "statsfile %s: skipping node '%s': %s", run->qpath,
		    tn->id, tn->error);
		return 1;
	}
	idlen = plugin_copy(node->id, sizeof node->id, tn->id);
	nicklen = plugin_copy(node->nickname, sizeof node->nickname,
	    tn->nickname);
	plugin_copy(node->source, sizeof node->source, tn->source);
	node->time = tn->time;
	plugin_field_name(node->nickname, nicklen, node->id, idlen,
	    node->field);
	if (plugin_names_add(&run->names, node->field) != 0)
		return TALLY_ENOMEM;
	node->flen = strlen(node->field);
	return 0;
}

/*
 * Keep a node of a multigraph run.  The array grows geometrically: a run
 * allocates O(log n) times, never per node.
 */
static int
plugin_run_add(struct plugin_run *run, const tally_node *tn)
{
	struct plugin_node	*nodes;
	size_t			 cap;
	int			 rc;

	if (run->n == run->cap) {
		cap = run->cap ? run->cap * 2 : 64;
		if ((nodes = realloc(run->nodes, cap * sizeof *nodes)) == NULL)
			return TALLY_ENOMEM;
		run->nodes = nodes;
		run->cap = cap;
	}
	if ((rc = plugin_run_node(run, tn, &run->nodes[run->n],
	    run->errf)) == 0)
		run->n++;
	return rc < 0 ? rc : 0;
}

/*
 * Open the statsfile and, if all, read every node that can be shown (a
 * multigraph run); one graph's run finds its own (plugin_run_graph).
 */
static int
plugin_run_begin(const char *statsfile, struct plugin_run **runp, int all,
    time_t now, FILE *out, FILE *errf, char *err, size_t errlen)
{
	struct plugin_run	*run;
	tally_node		 tn;
	int			 rc;

	if ((*runp = run = calloc(1, sizeof *run)) == NULL)
		return plugin_err(err, errlen, TALLY_ENOMEM, "out of memory");
	plugin_names_init(&run->names);
	plugin_quote(run->qpath, statsfile);
	run->now = now;
	run->buf.out = out;
	run->errf = errf;
	run->err = err;
	run->errlen = errlen;
	if ((rc = plugin_open(&run->r, statsfile, err, errlen)) != 0) {
		free(run);
		*runp = NULL;
		return rc;
	}
	while (all && (rc = tally_reader_next(run->r, &tn)) == 1)
		if ((rc = plugin_run_add(run, &tn)) != 0)
			break;
	if (rc == 0)
		return 0;
	if (rc == TALLY_ENOMEM)
		plugin_err(err, errlen, rc, "out of memory");
	else
		plugin_err(err, errlen, rc, "%s", tally_reader_errmsg(run->r));
	plugin_run_end(run);
	*runp = NULL;
	return rc;
}

/*
 * A double as libtally writes one (tally(5)): an integer below 2^53 in
 * decimal, else the shortest of %.15g, %.16g and %.17g that reads back
 * the same.  The plugin never sets a locale: the point is a point.
 */
static size_t
plugin_fmt_double(char *num, double d)
{
	int	 prec, n = 0;

	if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d &&
	    !(d == 0 && signbit(d)))
		return plugin_fmt_int64(num, (int64_t)d);
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(num, PLUGIN_NUMLEN, "%.*g", prec, d);
		if (strtod(num, NULL) == d)
			break;
	}
	return (size_t)n;
}

/*
 * Format a metric of g into num and return its length, or return 0 for
 * U.  A value that is not what its table holds is reported on warnf (if
 * not NULL), since it means a writer is broken.
 */
static size_t
plugin_value(const struct plugin_graph *g, const char *id,
    const tally_metric *m, char *num, FILE *warnf)
{
	const char	*digits;
	double		 d;
	size_t		 len;

	if (m->error != NULL) {
		plugin_warn(warnf, "node %s: %s: unreadable value '%s'", id,
		    g->statid, m->text);
		return 0;
	}
	if (m->kind == TALLY_COUNTER) {
		/* The text the reader checked, if printf's: no 0 ahead, no -0. */
		digits = m->text + (m->text[0] == '-');
		if ((len = strlen(m->text)) < PLUGIN_NUMLEN && (*digits != '0' ||
		    len == 1))
			return (size_t)(stpcpy(num, m->text) - num);
		return plugin_fmt_int64(num, m->counter);
	}
	d = m->value;
	if (!isfinite(d))
		return 0;		/* nan: unknown; inf: not graphable */
	/*
	 * A finite stat's stored text is what libtally wrote (tally(5)), or
	 * at least what strtod read it from: digits, a sign, a point, an
	 * exponent.  Printed as it is, it costs no formatting.
	 */
	if (!g->derive && (len = strlen(m->text)) < PLUGIN_NUMLEN) {
		memcpy(num, m->text, len);
		return len;
	}
	if (g->derive) {
		/* rrdtool takes only integers for DERIVE. */
		d *= g->scale > 1 ? g->scale : 1;
		if (!(d > -9.2e18 && d < 9.2e18))
			return 0;
		/* Round half away from zero; no libm just for llround. */
		return plugin_fmt_int64(num,
		    (int64_t)(d < 0 ? d - 0.5 : d + 0.5));
	}
	return plugin_fmt_double(num, d);
}

/* Start the walk of g's nodes: 0, or a TALLY_E* code with the message. */
static int
plugin_run_walk(struct plugin_run *run, const struct plugin_graph *g)
{
	int	 rc;

	if ((rc = tally_reader_stat(run->r, g->statid, g->kind)) != 0)
		return plugin_err(run->err, run->errlen, rc, "%s",
		    tally_reader_errmsg(run->r));
	return 0;
}

/*
 * The walk's next node with g's stat: 1 (its id in *id), 0 at the end,
 * or a TALLY_E* code.  An id that is not one is reported and skipped.
 */
static int
plugin_run_next(struct plugin_run *run, const char **id, tally_metric *m)
{
	int	 rc;

	while ((rc = tally_reader_next_stat(run->r, id, m)) == 1) {
		/* The reader has checked the id of a metric without error. */
		if (m->error == NULL || tally_node_id_valid(*id))
			return 1;
		plugin_warn(run->errf, "statsfile %s: skipping node '%s': %s",
		    run->qpath, *id, "not a valid node id");
	}
	if (rc == 0)
		return 0;
	return plugin_err(run->err, run->errlen, rc, "%s",
	    tally_reader_errmsg(run->r));
}

/* 1 if some node has g's stat, 0 if none, or a TALLY_E* code. */
static int
plugin_run_present(struct plugin_run *run, const struct plugin_graph *g)
{
	tally_metric	 m;
	const char	*id;
	int		 rc;

	if ((rc = plugin_run_walk(run, g)) != 0)
		return rc;
	return plugin_run_next(run, &id, &m);
}

/* The graph_* lines of g's config. */
static void
plugin_emit_head(struct plugin_run *run, const struct plugin_graph *g)
{
	FILE	*out = run->buf.out;

	plugin_buf_flush(&run->buf);
	fprintf(out, "graph_title %s\ngraph_vlabel %s\ngraph_category %s\n",
	    g->title, g->vlabel, g->category);
	if (g->args != NULL)
		fprintf(out, "graph_args %s\n", g->args);
	fprintf(out, "graph_info %s Stat: %s, a line per node.\n", g->info,
	    g->statid);
}

/* A multigraph section's first line, and g's graph_* lines if config. */
static void
plugin_emit_section(struct plugin_run *run, const struct plugin_graph *g,
    int config)
{
	plugin_buf_flush(&run->buf);
	fputs("multigraph ", run->buf.out);
	plugin_graph_name(g, run->buf.out);
	putc('\n', run->buf.out);
	if (config)
		plugin_emit_head(run, g);
}

/* A node's field lines of g's config. */
static void
plugin_emit_config(struct plugin_run *run, const struct plugin_graph *g,
    const struct plugin_node *node)
{
	struct plugin_buf	*pb = &run->buf;
	const char		*f = node->field;
	char			 scale[24];
	size_t			 fl = node->flen, sl;

	plugin_buf_room(pb);
	plugin_buf_add(pb, f, fl);
	plugin_buf_str(pb, ".label ");
	plugin_buf_clean(pb, node->nickname);
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
		sl = (size_t)snprintf(scale, sizeof scale, ",%d,/\n",
		    g->scale);
		plugin_buf_add(pb, f, fl);
		plugin_buf_str(pb, ".cdef ");
		plugin_buf_add(pb, f, fl);
		plugin_buf_add(pb, scale, sl);
	}
	plugin_buf_add(pb, f, fl);
	plugin_buf_str(pb, ".info node ");
	plugin_buf_str(pb, node->id);
	plugin_buf_str(pb, ", source ");
	plugin_buf_clean(pb, node->source);
	plugin_buf_str(pb, "\n");
}

/* Whether a node's snapshot is fresh (PLUGIN_TIME_MIN, above). */
static int
plugin_node_fresh(const struct plugin_run *run, const struct plugin_node *n)
{
	int64_t	 t = n->time, now = (int64_t)run->now;

	/*
	 * A node whose clock is in the future is not fresh for ever but
	 * stale, as is one before 2000.  Written as "older than", on a
	 * sane time, so that nothing can overflow.
	 */
	return t >= PLUGIN_TIME_MIN && (now > INT64_MAX - PLUGIN_TIME_AHEAD ||
	    t <= now + PLUGIN_TIME_AHEAD) && t >= now - PLUGIN_STALE;
}

/* A node's value line; a stale node reads U. */
static void
plugin_emit_value(struct plugin_run *run, const struct plugin_node *node,
    const struct plugin_val *v)
{
	struct plugin_buf	*pb = &run->buf;

	plugin_buf_room(pb);
	plugin_buf_add(pb, node->field, node->flen);
	plugin_buf_str(pb, ".value ");
	if (v->len > 0 && plugin_node_fresh(run, node))
		plugin_buf_add(pb, v->num, v->len);
	else
		plugin_buf_str(pb, "U");
	plugin_buf_str(pb, "\n");
}

/*
 * A node's value line straight from its metric m (plugin_value writes
 * the number into the buffer, which plugin_buf_room left room for); a
 * stale node reads U.
 */
static void
plugin_emit_metric(struct plugin_run *run, const struct plugin_graph *g,
    const struct plugin_node *node, const char *id, const tally_metric *m)
{
	struct plugin_buf	*pb = &run->buf;
	size_t			 len;

	plugin_buf_room(pb);
	plugin_buf_add(pb, node->field, node->flen);
	plugin_buf_str(pb, ".value ");
	len = plugin_value(g, id, m, pb->b + pb->n, run->errf);
	if (len > 0 && plugin_node_fresh(run, node))
		pb->n += len;
	else
		plugin_buf_str(pb, "U");
	plugin_buf_str(pb, "\n");
}

/*
 * One graph's run, streamed: each node that has g's stat, looked up by id,
 * printed as soon as it is read: its config lines (config) or its value.
 * A config with values (dirtyconfig) walks twice, with the same names.
 * A node of the index that has no record is reported and skipped (tally
 * check says more); warn says whether this walk reports nodes.
 */
static int
plugin_run_graph(struct plugin_run *run, const struct plugin_graph *g,
    int config, int warn)
{
	struct plugin_node	*node = &run->one;
	struct plugin_val	 pv;
	tally_metric		 m;
	tally_node		 tn;
	const char		*id;
	int			 rc;

	plugin_names_clear(&run->names);
	if ((rc = plugin_run_walk(run, g)) != 0)
		return rc;
	while ((rc = plugin_run_next(run, &id, &m)) == 1) {
		if (!config)
			pv.len = plugin_value(g, id, &m, pv.num, run->errf);
		rc = tally_reader_node(run->r, id, &tn);
		if (rc == TALLY_ENOTFOUND) {
			if (warn)
				plugin_warn(run->errf, "statsfile %s: skipping "
				    "node %s: it has %s but no record",
				    run->qpath, id, g->statid);
			continue;
		}
		if (rc != 0)
			return plugin_err(run->err, run->errlen, rc, "%s",
			    tally_reader_errmsg(run->r));
		if ((rc = plugin_run_node(run, &tn, node, warn ? run->errf :
		    NULL)) < 0)
			return plugin_err(run->err, run->errlen, rc,
			    "out of memory");
		if (rc == 1)
			continue;
		if (config)
			plugin_emit_config(run, g, node);
		else
			plugin_emit_value(run, node, &pv);
	}
	return rc;
}

/*
 * A multigraph section: g's walk merged with the run's nodes (read in
 * plugin_run_begin; both in id order, byte by byte), printing each node's
 * config lines (config) or value, and, if header, the section's name (and
 * graph_* lines) before the first.  1 if some node has g's stat, 0 if
 * none, or a TALLY_E* code.
 */
static int
plugin_run_section(struct plugin_run *run, const struct plugin_graph *g,
    int config, int header)
{
	tally_metric		 m;
	const char		*id;
	size_t			 i = 0, n = run->n;
	int			 rc, c, found = 0;

	if ((rc = plugin_run_walk(run, g)) != 0)
		return rc;
	while ((rc = plugin_run_next(run, &id, &m)) == 1) {
		c = -1;
		while (i < n && (c = strcmp(run->nodes[i].id, id)) < 0)
			i++;
		if (c != 0)
			continue;	/* skipped, or no record */
		if (!found && header)
			plugin_emit_section(run, g, config);
		found = 1;
		if (config)
			plugin_emit_config(run, g, &run->nodes[i]);
		else
			plugin_emit_metric(run, g, &run->nodes[i], id, &m);
		i++;		/* the walk's next id is past this one */
	}
	return rc < 0 ? rc : found;
}

static int
plugin_output_err(FILE *out, char *err, size_t errlen)
{
	if (fflush(out) != 0 || ferror(out))
		return plugin_err(err, errlen, TALLY_ESYS, "writing output: "
		    "%s", strerror(errno));
	return 0;
}

int
plugin_config(const char *statsfile, const struct plugin_graph *g, int flags,
    time_t now, FILE *out, FILE *errf, char *err, size_t errlen)
{
	struct plugin_run	*run;
	int			 rc;

	if ((rc = plugin_run_begin(statsfile, &run, 0, now, out, errf, err,
	    errlen)) != 0)
		return rc;
	plugin_emit_head(run, g);
	rc = plugin_run_graph(run, g, 1, 1);
	if (rc == 0 && (flags & PLUGIN_DIRTY))
		rc = plugin_run_graph(run, g, 0, 0);
	plugin_run_end(run);
	return rc != 0 ? rc : plugin_output_err(out, err, errlen);
}

int
plugin_fetch(const char *statsfile, const struct plugin_graph *g, time_t now,
    FILE *out, FILE *errf, char *err, size_t errlen)
{
	struct plugin_run	*run;
	int			 rc;

	if ((rc = plugin_run_begin(statsfile, &run, 0, now, out, errf, err,
	    errlen)) != 0)
		return rc;
	rc = plugin_run_graph(run, g, 0, 1);
	plugin_run_end(run);
	return rc != 0 ? rc : plugin_output_err(out, err, errlen);
}

/*
 * The histograms some node of the run has (hist.c), into hs: a seek per
 * counter name in the stat index, or without one a walk of each node's
 * counters; only tally_all and suggest pay for it.  0, or a TALLY_E* code
 * said in the run's err.
 */
static int
plugin_run_hists(struct plugin_run *run, struct plugin_hists *hs)
{
	size_t	 i;
	int	 rc;

	rc = plugin_hists_index(hs, run->r);
	if (rc == TALLY_ENOMEM)
		return plugin_err(run->err, run->errlen, rc, "out of memory");
	if (rc != TALLY_ENOTFOUND)
		return rc == 0 ? 0 : plugin_err(run->err, run->errlen, rc,
		    "%s", tally_reader_errmsg(run->r));
	for (i = 0; i < run->n; i++) {
		rc = plugin_hists_node(hs, run->r, run->nodes[i].id);
		if (rc == TALLY_ENOMEM)
			return plugin_err(run->err, run->errlen, rc,
			    "out of memory");
		if (rc != 0)
			return plugin_err(run->err, run->errlen, rc, "%s",
			    tally_reader_errmsg(run->r));
	}
	return 0;
}

/*
 * The graph of histogram h's stat p in a run over t, into hg: 1, or 0
 * when it has none: a name too long for a link (said once, at p 0), or
 * one that a graph of t has (the link draws that graph).
 */
static int
plugin_run_hist(struct plugin_run *run, const struct plugin_table *t,
    const char *h, size_t p, struct plugin_hist *hg)
{
	char	 link[PLUGIN_LINK_MAX + 8];
	int	 rc;

	if ((rc = plugin_hist_graph(hg, h, p)) != 0) {
		if (rc == TALLY_ELIMIT && p == 0)
			plugin_warn(run->errf, "statsfile %s: leaving out "
			    "histogram %s: its graphs' names would be longer "
			    "than %d bytes", run->qpath, h, PLUGIN_LINK_MAX);
		return 0;
	}
	snprintf(link, sizeof link, "%s%s", PLUGIN_PREFIX, hg->key);
	return plugin_graph_find(t, link) == NULL;
}

int
plugin_multigraph(const char *statsfile, const struct plugin_table *t, int flags,
    time_t now, FILE *out, FILE *errf, char *err, size_t errlen)
{
	const struct plugin_graph	*g;
	struct plugin_run		*run;
	struct plugin_hists		 hs;
	struct plugin_hist		 hg;
	size_t				 k, p, ng = t->n;
	int				 rc, any = 0;

	if ((rc = plugin_run_begin(statsfile, &run, 1, now, out, errf, err,
	    errlen)) != 0)
		return rc;
	plugin_hists_init(&hs);
	if ((rc = plugin_run_hists(run, &hs)) != 0)
		goto done;
	/*
	 * Graph after graph, each a walk of its stat: its config, then its
	 * values again for a dirty config.  Nothing is kept from one graph
	 * to the next, so a run over 10,000 nodes holds the nodes only.
	 * The table's graphs come first, then the histograms', by name and
	 * stat.
	 */
	for (k = 0; k < ng + hs.n * PLUGIN_HIST_NSTATS && rc >= 0; k++) {
		if (k < ng)
			g = &t->graphs[k];
		else {
			p = (k - ng) % PLUGIN_HIST_NSTATS;
			if (!plugin_run_hist(run, t, hs.h[(k - ng) /
			    PLUGIN_HIST_NSTATS], p, &hg))
				continue;
			g = &hg.g;
		}
		rc = plugin_run_section(run, g, flags & PLUGIN_CONFIG, 1);
		if (rc == 1 && (flags & PLUGIN_CONFIG) &&
		    (flags & PLUGIN_DIRTY))
			rc = plugin_run_section(run, g, 0, 0);
		if (rc == 1)
			any = 1;
	}
	/*
	 * munin-node runs every plugin's config when it starts and drops,
	 * until it restarts, one that prints nothing: with no data yet,
	 * answer the first graph, without fields.
	 */
	if (rc >= 0 && !any && t->n > 0)
		plugin_emit_section(run, &t->graphs[0], flags & PLUGIN_CONFIG);
done:
	plugin_hists_free(&hs);
	plugin_run_end(run);
	return rc < 0 ? rc : plugin_output_err(out, err, errlen);
}

int
plugin_suggest(const char *statsfile, const struct plugin_table *t, int flags,
    FILE *out, FILE *errf, char *err, size_t errlen)
{
	const struct plugin_graph	*g;
	struct plugin_run		*run;
	struct plugin_hists		 hs;
	struct plugin_hist		 hg;
	size_t				 k, ng = t->n;
	int				 rc;

	/* Every node, for the histograms: their counters say which. */
	if ((rc = plugin_run_begin(statsfile, &run, 1, 0, out, errf, err,
	    errlen)) != 0)
		return rc;
	plugin_hists_init(&hs);
	if ((rc = plugin_run_hists(run, &hs)) != 0)
		goto done;
	for (k = 0; k < ng + hs.n * PLUGIN_HIST_NSTATS; k++) {
		if (k < ng)
			g = &t->graphs[k];
		else if (plugin_run_hist(run, t, hs.h[(k - ng) /
		    PLUGIN_HIST_NSTATS], (k - ng) % PLUGIN_HIST_NSTATS, &hg))
			g = &hg.g;
		else
			continue;
		if ((rc = plugin_run_present(run, g)) <= 0) {
			if (rc < 0)
				break;
			continue;
		}
		rc = 0;
		if (flags & PLUGIN_MULTI) {
			fputs(PLUGIN_ALL "\n", out);
			break;
		}
		fprintf(out, "%s\n", g->key);
	}
done:
	plugin_hists_free(&hs);
	plugin_run_end(run);
	return rc != 0 ? rc : plugin_output_err(out, err, errlen);
}
