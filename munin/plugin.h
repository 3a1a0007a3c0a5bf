/*
 * plugin.h: the munin plugin (tally_), split so that tests can drive it.
 *
 * graph.c holds the compiled-in table of graphs and reads the operator's
 * (env.graphs); plugin.c looks a graph up by plugin name, opens the
 * statsfile and answers autoconf and list; fields.c derives the field
 * names; hist.c makes histograms' graphs from a link's name and finds
 * which histograms nodes have; run.c writes munin's config, fetch,
 * multigraph and suggest
 * output to a stream.  Only tally_.c (the main) touches argv, the
 * environment, stdout and exit codes.  The plugin reads the statsfile
 * through libtally's public interface only (tally.h, tally_reader_*).
 */
#ifndef PLUGIN_H
#define PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "tally.h"

#if defined(__GNUC__)
#define PLUGIN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PLUGIN_PRINTF(f, a)
#endif

/* Where a graph's stat lives and how munin should treat it. */
struct plugin_graph {
	/*
	 * The plugin name after "tally_".  A compat graph is also reachable
	 * by the bare key, which is then its name for munin (its multigraph
	 * section); any other graph's name is "tally_<key>".
	 */
	const char	*key;
	const char	*statid;	/* stat name within a node's slot */
	int		 kind;		/* TALLY_COUNTER or TALLY_STAT */
	const char	*title;
	const char	*vlabel;
	const char	*category;
	const char	*args;		/* graph_args, or NULL */
	const char	*info;		/* graph_info */
	int		 derive;	/* FIELD.type DERIVE, FIELD.min 0 */
	/*
	 * DERIVE needs integers (rrdtool refuses "1.5" for a DERIVE data
	 * source), so a DERIVE graph of a double stat prints the value times
	 * scale, rounded, and a cdef divides it back.  0 means 1, no cdef.
	 */
	int		 scale;
	/* An original plugin name, also valid without the "tally_" prefix. */
	int		 compat;
};

/* graph.c */
/* The compiled-in graphs. */
extern const struct plugin_graph plugin_graphs[];
extern const size_t plugin_ngraphs;

/*
 * The graphs of one run: the compiled-in ones, with the operator's table
 * (env.graphs) over them.  An operator's entry whose key is a compiled
 * graph's replaces it in place (so a title or args can be fixed without a
 * rebuild, and a graph added to a later tally never breaks an operator's
 * file); the others follow, in the file's order.
 */
struct plugin_table {
	struct plugin_graph	*graphs;
	size_t			 n;
	size_t			 noperator;	/* entries from the file */
	char			*text;		/* the file; entries point in */
	char			*info;		/* their graph_info */
};

/* The operator's file: at most this many bytes, lines and entries. */
#define PLUGIN_TABLE_MAXSIZE	(1UL << 20)
#define PLUGIN_TABLE_MAXLINE	4096
#define PLUGIN_TABLE_MAXGRAPHS	4096
/* The columns of a line, tab separated (tally_(8), THE GRAPH TABLE). */
#define PLUGIN_TABLE_NCOLS	8

/*
 * Fill t with the compiled-in graphs and, if path is neither NULL nor
 * empty, the operator's table in the file at path.  Returns 0, or
 * TALLY_ESYS (unreadable: "graphs PATH: reason"; not a regular file, a
 * FIFO say, which is never waited on: "graphs file PATH is a FIFO, not a
 * regular file"), TALLY_EINVAL (a bad
 * line: "graphs PATH:LINE: reason"), TALLY_ELIMIT (too large a file, too
 * many graphs) or TALLY_ENOMEM with a message in err; t is then empty but
 * may still be freed.  Every bad line is an error: none is skipped.
 */
int	 plugin_table_load(struct plugin_table *, const char *, char *,
	     size_t);
/*
 * The same for a table already in memory: len bytes of text, named by
 * path in messages and in the entries' graph_info.
 */
int	 plugin_table_parse(struct plugin_table *, const char *, const char *,
	     size_t, char *, size_t);
void	 plugin_table_free(struct plugin_table *);

/*
 * A node whose snapshot is older than this many seconds prints U, as does
 * one whose time is not sane (tally(5): before 2000, or more than a day
 * ahead of the plugin's clock).
 */
#define PLUGIN_STALE 300

/* The prefix of the wildcard plugin's links, and its own name. */
#define PLUGIN_PREFIX "tally_"
/*
 * The key of the multigraph link, tally_all: reserved, so no graph may
 * have it.
 */
#define PLUGIN_ALL "all"

/*
 * A field name: plugin_munin_field's result (at most PLUGIN_NAME_MAX
 * bytes, hash suffix included) plus room for a de-duplicating "_<n>".
 */
#define PLUGIN_NAME_MAX 64
#define PLUGIN_FIELD_LEN (PLUGIN_NAME_MAX + 24)

/* What a run prints (plugin_config, plugin_multigraph). */
#define PLUGIN_CONFIG	0x1	/* the config; without it, the values */
#define PLUGIN_DIRTY	0x2	/* with PLUGIN_CONFIG: values too */
#define PLUGIN_MULTI	0x4	/* plugin_suggest: the multigraph link */

/* plugin.c */
/* Format a message into (err, errlen), if err is not NULL; return code. */
int	 plugin_err(char *, size_t, int, const char *, ...) PLUGIN_PRINTF(4, 5);
/*
 * tally_quote() of a NUL-terminated string (NULL reads ""), into buf of
 * TALLY_QUOTE_LEN bytes: what every message does with argv, a path from
 * the environment, or a name from a file.  Returns buf.
 */
const char *plugin_quote(char *, const char *);
/* Make a message one line without escapes: control characters as '?'. */
void	 plugin_msg_clean(char *);
/* The basename of argv0 (after its last '/'). */
const char *plugin_basename(const char *);
/*
 * The graph of t that plugin name argv0 selects, or NULL.  "tally_<key>"
 * finds any graph; a bare "<key>" finds only compat graphs (the original
 * system's names, and the operator's bare names).
 */
const struct plugin_graph *plugin_graph_find(const struct plugin_table *,
	     const char *);
/* Whether argv0 names the multigraph link, tally_all. */
int	 plugin_is_multigraph(const char *);
/* Write g's name for munin: its key if compat, else "tally_<key>". */
void	 plugin_graph_name(const struct plugin_graph *, FILE *);
/*
 * Open a reader of statsfile (tally_reader_open).  Returns 0, or a
 * TALLY_E* code with a one-line message such as "statsfile /x: No such
 * file or directory" in err and *rp NULL; a lock.mdb this process may not
 * write gets the plugin-conf.d change that fixes it.
 */
int	 plugin_open(tally_reader **, const char *, char *, size_t);

/* fields.c */
/*
 * Turn an arbitrary string into a valid munin field name: [A-Za-z0-9_],
 * never starting with a digit, at most PLUGIN_NAME_MAX bytes.  Writes a
 * NUL terminated result into out (size >= PLUGIN_NAME_MAX + 1) and
 * returns 1 if the result differs from the input (characters replaced or
 * cut), else 0.
 */
int	 plugin_munin_field(const char *, size_t, char *);
/* v in decimal into num (24 bytes), as printf writes it; its length. */
size_t	 plugin_fmt_int64(char *, int64_t);
/* FNV-1a, 32 bits: the suffix that keeps field names apart; fixed. */
uint32_t plugin_hash(const char *, size_t);
/*
 * The field name of a node, before de-duplication: nickname "_" node id
 * made a valid munin name, with "_" and 8 hex digits of a hash of the id
 * appended when the id itself had to be changed or cut; never the name
 * of one of munin's settings (graph_*, update_rate...): the nickname then
 * gets a '_' ahead.  out must hold PLUGIN_FIELD_LEN bytes.  Returns the
 * length.
 */
size_t	 plugin_field_name(const char *, size_t, const char *, size_t,
	     char *);

/*
 * The set of field names given out in one graph, to make them unique: the
 * 64-bit hashes of the names, not the names, so that a run over 10,000
 * nodes touches a few pages, not a megabyte.  Two names whose hashes are
 * equal count as one (a suffix follows): at 10,000 names the odds are
 * about one in 10^11, and a run still gives the same answer every time.
 */
#define PLUGIN_NAMES_SLOTS	16384	/* the first table's */
struct plugin_names {
	uint64_t	*table;		/* open addressing; 0 free */
	size_t		 n;		/* names in it */
	size_t		 tcap;		/* a power of two, >= 4/3 n */
};
void	 plugin_names_init(struct plugin_names *);
void	 plugin_names_free(struct plugin_names *);
void	 plugin_names_clear(struct plugin_names *);
/*
 * Make field (PLUGIN_FIELD_LEN bytes) unique within the set by appending
 * "_2", "_3", ... and add it.  Returns 0 or TALLY_ENOMEM.
 */
int	 plugin_names_add(struct plugin_names *, char *);

/* hist.c */
/*
 * The histogram graphs: tally_hist_<spelling of H>_<stat>, one per
 * histogram H and stat of it (mean, p01_0, p10_0, p50_0, p90_0, p95_0,
 * p99_0, p99_9), H spelled reversibly in [A-Za-z0-9_] (hist.c says how).
 */
#define PLUGIN_HIST		"hist_"		/* their keys' start */
#define PLUGIN_HIST_CATEGORY	"latency"
#define PLUGIN_HIST_NSTATS	8
/* A histogram name leaves room for ".99_9_percentile" (tally(5)). */
#define PLUGIN_HIST_MAX		(TALLY_STAT_NAME_MAX - 16)
/* A link's name is a file name: at most NAME_MAX bytes. */
#define PLUGIN_LINK_MAX		255

/* A histogram graph: a plugin_graph and the strings it points to. */
struct plugin_hist {
	struct plugin_graph	 g;
	char			 key[PLUGIN_LINK_MAX + 1];
	char			 statid[TALLY_STAT_NAME_MAX + 1];
	char			 title[PLUGIN_HIST_MAX + 64];
	char			 info[PLUGIN_HIST_MAX + 256];
};

/*
 * Spell histogram name h for a link into out (size bytes): its length,
 * or 0 if it does not fit.
 */
size_t	 plugin_hist_spell(const char *, char *, size_t);
/*
 * Make hg the graph of histogram h's stat p (0 the mean, then the
 * percentiles in increasing order).  0, TALLY_EINVAL (h.<stat> is no
 * valid stat name) or TALLY_ELIMIT (its link would be longer than
 * PLUGIN_LINK_MAX bytes).
 */
int	 plugin_hist_graph(struct plugin_hist *, const char *, size_t);
/*
 * The histogram graph that plugin name argv0 selects, into hg: 1; 0 when
 * argv0 does not start with tally_hist_; TALLY_EINVAL, with why in err,
 * for a name that does but names no histogram's stat.
 */
int	 plugin_hist_find(const char *, struct plugin_hist *, char *, size_t);

/* The histograms found in some nodes, sorted, each once. */
struct plugin_hists {
	char		**h;
	size_t		 n, cap;
};
void	 plugin_hists_init(struct plugin_hists *);
void	 plugin_hists_free(struct plugin_hists *);
/*
 * Add the histograms of the statsfile to hs from its stat index: each H
 * whose counters H.count and H.sum_ns some node has, a seek per counter
 * name.  0, TALLY_ENOTFOUND (no stat index: walk the nodes below),
 * TALLY_ENOMEM, or the reader's failure.
 */
int	 plugin_hists_index(struct plugin_hists *, tally_reader *);
/*
 * Add the histograms of node id (each H whose counters H.count and
 * H.sum_ns it has) to hs: a walk of the node's counters.  0, TALLY_ENOMEM,
 * or the reader's failure (tally_reader_errmsg).
 */
int	 plugin_hists_node(struct plugin_hists *, tally_reader *,
	     const char *);

/* run.c */
/*
 * Each opens statsfile (plugin_open), writes its output to out and
 * returns 0, or a TALLY_E* code with a message in err; out may then hold
 * partial output, which the caller discards.  Nodes that cannot be shown
 * (a bad record) and unreadable values are reported on errf (if not NULL)
 * and skipped.  Each reads through one reader, one read transaction, so
 * values printed with a config (PLUGIN_DIRTY) belong to the same fields,
 * and a multigraph run sees one state of the database.
 */
/* One graph's config; with PLUGIN_DIRTY also its values at now. */
int	 plugin_config(const char *, const struct plugin_graph *, int,
	     time_t, FILE *, FILE *, char *, size_t);
/* One graph's values at now. */
int	 plugin_fetch(const char *, const struct plugin_graph *, time_t,
	     FILE *, FILE *, char *, size_t);
/*
 * The multigraph run: a "multigraph NAME" section for every graph of t
 * some node has the stat of (stale nodes included, so that a graph does
 * not come and go with its nodes), in t's order, each with its config
 * (PLUGIN_CONFIG, and its values too with PLUGIN_DIRTY) or its values.
 * With no such graph, the first graph of t: never nothing, which
 * munin-node would take for a broken plugin.
 */
int	 plugin_multigraph(const char *, const struct plugin_table *, int,
	     time_t, FILE *, FILE *, char *, size_t);
/*
 * The keys of the graphs some node has the stat of, one a line; with
 * PLUGIN_MULTI, only "all" (the multigraph link) if there is any.
 */
int	 plugin_suggest(const char *, const struct plugin_table *, int,
	     FILE *, FILE *, char *, size_t);

/*
 * autoconf of the plugin run as argv0 (NULL or the bare tally_: every
 * graph), for statsfile and graph table (either may be NULL): always
 * prints one line, "yes" or "no (reason)"; an unknown link name is a no.
 */
void	 plugin_autoconf(const char *, const char *, const char *, FILE *);
/*
 * Every valid plugin name, one a line: "tally_<key>" for each graph, the
 * bare names of compat graphs, then "tally_all".
 */
void	 plugin_list(const struct plugin_table *, FILE *);
/*
 * What the multigraph link prints when munin-node did not announce
 * multigraph (MUNIN_CAP_MULTIGRAPH), as munin's own multigraph plugins
 * do (Munin::Plugin's need_multigraph): for config, a graph that says
 * so; for a fetch, "multigraph.value 0".
 */
void	 plugin_no_multigraph(int, FILE *);

#endif /* PLUGIN_H */
