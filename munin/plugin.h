/*
 * plugin.h: the munin plugin (tally_), split so that tests can drive it.
 *
 * graph.c holds the compiled-in table of graphs; plugin.c the pure
 * functions that look a graph up by plugin name, derive field names and
 * write munin's config, fetch, suggest and list output to a stream.  Only
 * tally_.c (the main) touches argv, the environment, stdout and exit codes.
 */
#ifndef PLUGIN_H
#define PLUGIN_H

#include <stdio.h>
#include <time.h>

#include "tally-int.h"

/* Where a graph's stat lives and how munin should treat it. */
struct plugin_graph {
	const char	*key;		/* plugin name after "tally_" */
	const char	*statid;	/* stat name within a node's slot */
	enum store_db	 db;		/* STORE_COUNTERS or STORE_STATS */
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

extern const struct plugin_graph plugin_graphs[];
extern const size_t plugin_ngraphs;

/* A node whose snapshot is older than this many seconds prints U. */
#define PLUGIN_STALE 300

/* The prefix of the wildcard plugin's links, and its own name. */
#define PLUGIN_PREFIX "tally_"

/*
 * A field name: name_munin_field's result (at most NAME_FIELD_MAX bytes,
 * hash suffix included) plus room for a de-duplicating "_<n>".
 */
#define PLUGIN_FIELD_LEN (NAME_FIELD_MAX + 24)

/* plugin.c */
/* The basename of argv0 (after its last '/'). */
const char *plugin_basename(const char *);
/*
 * The graph that plugin name argv0 selects, or NULL.  "tally_<key>" finds
 * any graph; a bare "<key>" finds only the original system's names.
 */
const struct plugin_graph *plugin_graph_find(const char *);
/*
 * The field name of a node, before de-duplication: nickname "_" node id
 * made a valid munin name, with "_" and 8 hex digits of a hash of the id
 * appended when the id itself had to be changed or cut.  out must hold
 * PLUGIN_FIELD_LEN bytes.  Returns the length.
 */
size_t	 plugin_field_name(const char *, size_t, const char *, size_t,
	     char *);
uint32_t plugin_hash(const char *, size_t);

/* The set of field names given out in one run, to make them unique. */
struct plugin_names {
	char		*names;		/* cap slots of PLUGIN_FIELD_LEN */
	size_t		 n, cap;
	uint32_t	*table;		/* open addressing, 1 + index; 0 free */
	size_t		 tcap;		/* a power of two, > 2 * cap */
};
void	 plugin_names_init(struct plugin_names *);
void	 plugin_names_free(struct plugin_names *);
/*
 * Make field (PLUGIN_FIELD_LEN bytes) unique within the set by appending
 * "_2", "_3", ... and add it.  Returns 0 or TALLY_ENOMEM.
 */
int	 plugin_names_add(struct plugin_names *, char *);

/*
 * Open statsfile read-only.  Returns 0, or a TALLY_E* code with a
 * one-line message such as "statsfile /x: No such file or directory" in
 * err; a lock.mdb this process may not write gets the plugin-conf.d
 * change that fixes it.
 */
int	 plugin_open(struct store **, const char *, char *, size_t);

/*
 * Each writes its output to out and returns 0, or a TALLY_E* code with a
 * message in err; out may then hold partial output, which the caller
 * discards.  Nodes that cannot be shown (a bad record) are reported on
 * errf (if not NULL) and skipped.
 */
int	 plugin_config(struct store *, const struct plugin_graph *, FILE *,
	     FILE *, char *, size_t);
int	 plugin_fetch(struct store *, const struct plugin_graph *, time_t,
	     FILE *, FILE *, char *, size_t);
int	 plugin_suggest(struct store *, FILE *, FILE *, char *, size_t);
/* Always prints one line: "yes" or "no (reason)". */
void	 plugin_autoconf(const char *, FILE *);
/* Every valid plugin name, one a line. */
void	 plugin_list(FILE *);

#endif /* PLUGIN_H */
