/*
 * tally_: the munin plugin of tally, one binary linked under many names.
 *
#%# family=auto
#%# capabilities=autoconf suggest
 *
 * Usage (munin runs it; operators mostly see the links):
 *	tally_<graph> [config]	config, or fetch without an argument
 *	tally_all [config]	every graph with data, as a multigraph plugin
 *	tally_hist_<H>_<stat> [config]
 *				histogram H's mean or a percentile (hist.c)
 *	tally_ autoconf		"yes" or "no (reason)"; always exits 0
 *	tally_ suggest		the graphs some node has data for, or "all"
 *				when munin-node announces multigraph
 *	tally_ list		every valid plugin name
 * The graph is picked by the link's name (see plugin_graph_find), the
 * database by the environment variable statsfile, and an operator's graph
 * table by graphs, both set in plugin-conf.d ("env.statsfile /path").
 * MUNIN_CAP_MULTIGRAPH=1 lets tally_all answer; MUNIN_CAP_DIRTYCONFIG=1
 * makes config print the values too.  tally_(8) says more.
 *
 * Exit status: 0 success, 1 a bad command or plugin name, 2 the statsfile
 * could not be read, 3 the graph table (env.graphs) is bad.  Messages go
 * to stderr, prefixed "tally_: ".
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin.h"

/*
 * munin-node-configure reads a plugin's file for these markers, and ours
 * is a binary: keep them in it, whatever the optimiser thinks.
 */
static const char plugin_magic[] __attribute__((used)) =
    "\n#%# family=auto\n#%# capabilities=autoconf suggest\n";

/*
 * The whole answer, built in memory: a stdio stream (fopencookie) over a
 * buffer of our own that doubles.  glibc's open_memstream zeroes and
 * copies what it grows, and page by page the first touch of new memory
 * traps into the kernel: a fifth of a fetch over 10,000 nodes, more of
 * tally_all.  The buffer is mapped here, grown with mremap (no copy), and
 * each new part is populated in one call (MADV_POPULATE_WRITE, Linux 5.14;
 * elsewhere the pages just fault in as before).
 */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif
#define OUTBUF_MIN		(64 * 1024)

struct outbuf {
	char	*b;
	size_t	 n, cap;
};

static ssize_t
outbuf_write(void *cookie, const char *p, size_t n)
{
	struct outbuf	*ob = cookie;
	size_t		 cap;
	void		*b;

	if (n > SIZE_MAX / 4 - ob->n) {
		errno = ENOMEM;
		return -1;
	}
	if (ob->n + n > ob->cap) {
		for (cap = ob->cap ? ob->cap : OUTBUF_MIN; cap < ob->n + n;
		    cap *= 2)
			;
		b = ob->b == NULL ? mmap(NULL, cap, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) :
		    mremap(ob->b, ob->cap, cap, MREMAP_MAYMOVE);
		if (b == MAP_FAILED)
			return -1;
		(void)madvise((char *)b + ob->cap, cap - ob->cap,
		    MADV_POPULATE_WRITE);
		ob->b = b;
		ob->cap = cap;
	}
	memcpy(ob->b + ob->n, p, n);
	ob->n += n;
	return (ssize_t)n;
}

static void
outbuf_free(struct outbuf *ob)
{
	if (ob->b != NULL)
		munmap(ob->b, ob->cap);
}

#define EXIT_USAGE 1
#define EXIT_STORE 2
#define EXIT_GRAPHS 3

enum command { CMD_FETCH, CMD_CONFIG, CMD_AUTOCONF, CMD_SUGGEST, CMD_LIST };

/*
 * A message on stderr: "tally_: " and one line.  Its untrusted parts
 * (argv, the environment's paths) are quoted where they are formatted;
 * here the line is bounded and any control character left (a path inside
 * a libtally message) becomes '?', so that no escape reaches a terminal.
 */
static void
msg(const char *fmt, ...) PLUGIN_PRINTF(1, 2);

static void
msg(const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[TALLY_ERRMSG_LEN * 2];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	plugin_msg_clean(buf);
	fprintf(stderr, "%s: %s\n", PLUGIN_PREFIX, buf);
}

static int
parse_command(const char *arg, enum command *cmd)
{
	static const struct {
		const char	*name;
		enum command	 cmd;
	} cmds[] = {
		{ "fetch", CMD_FETCH },		/* as munin-run accepts */
		{ "config", CMD_CONFIG },
		{ "autoconf", CMD_AUTOCONF },
		{ "suggest", CMD_SUGGEST },
		{ "list", CMD_LIST },
	};
	size_t	 i;

	if (arg == NULL) {
		*cmd = CMD_FETCH;
		return 0;
	}
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(arg, cmds[i].name) == 0) {
			*cmd = cmds[i].cmd;
			return 0;
		}
	}
	return -1;
}

static int
unknown_graph(const char *argv0)
{
	const char	*base = plugin_basename(argv0);
	size_t		 plen = strlen(PLUGIN_PREFIX);
	char		 q[TALLY_QUOTE_LEN];

	if (strcmp(base, PLUGIN_PREFIX) == 0)
		msg("link me as %s<graph> to pick a graph, or as %s%s for all "
		    "of them; '%s list' prints the valid names", PLUGIN_PREFIX,
		    PLUGIN_PREFIX, PLUGIN_ALL, PLUGIN_PREFIX);
	else
		/* argv[0] is anyone's: 100 KB of escape codes, say. */
		msg("no graph named '%s'; '%s list' prints the valid names",
		    plugin_quote(q, strncmp(base, PLUGIN_PREFIX, plen) == 0 ?
		    base + plen : base), PLUGIN_PREFIX);
	return EXIT_USAGE;
}

/*
 * The graph argv0 names: the table's, or else a histogram's, spelled in
 * the name itself (no table and no walk of the statsfile tell which).
 * NULL, said on stderr, for none.
 */
static const struct plugin_graph *
find_graph(const struct plugin_table *t, const char *argv0,
    struct plugin_hist *hist)
{
	const struct plugin_graph	*g;
	char				 err[TALLY_ERRMSG_LEN];
	int				 rc;

	if ((g = plugin_graph_find(t, argv0)) != NULL)
		return g;
	if ((rc = plugin_hist_find(argv0, hist, err, sizeof err)) == 1)
		return &hist->g;
	if (rc == 0)
		unknown_graph(argv0);
	else
		msg("%s", err);
	return NULL;
}

/* munin-node sets its capabilities to 1 in the plugin's environment. */
static int
env_flag(const char *name)
{
	const char	*v = getenv(name);

	return v != NULL && strcmp(v, "1") == 0;
}

/*
 * tally_all run by a munin-node without multigraph, or by hand: what
 * munin's own multigraph plugins do (Munin::Plugin's need_multigraph).
 * A person at a terminal gets a message and a failure; an old munin-node
 * gets a graph that says what is wrong, and exit 0.
 */
static int
no_multigraph(const char *base, enum command cmd)
{
	if (isatty(STDIN_FILENO)) {
		msg("%s is a multigraph plugin, and MUNIN_CAP_MULTIGRAPH is "
		    "not set: run it with munin-run (munin-run %s%s), or link "
		    "single graphs as %s<graph>", base, base,
		    cmd == CMD_CONFIG ? " config" : "", PLUGIN_PREFIX);
		return EXIT_USAGE;
	}
	msg("%s: munin-node did not announce multigraph "
	    "(MUNIN_CAP_MULTIGRAPH=1): link single graphs as %s<graph>, or "
	    "upgrade munin-node", base, PLUGIN_PREFIX);
	plugin_no_multigraph(cmd == CMD_CONFIG, stdout);
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	msg("writing to stdout: %s", strerror(errno));
	return EXIT_STORE;
}

/* autoconf exits 0 always (munin's rule); an answer lost is said. */
static int
autoconf(const char *argv0, const char *statsfile, const char *graphs)
{
	plugin_autoconf(argv0, statsfile, graphs, stdout);
	if (fflush(stdout) != 0 || ferror(stdout))
		msg("writing to stdout: %s", strerror(errno));
	return 0;
}

int
main(int argc, char **argv)
{
	const struct plugin_graph	*g = NULL;
	struct plugin_table		 table;
	struct plugin_hist		 hist;
	enum command			 cmd;
	const char			*argv0 = argc > 0 ? argv[0] : NULL;
	const char			*statsfile = getenv("statsfile");
	const char			*graphs = getenv("graphs");
	char				 err[TALLY_ERRMSG_LEN];
	char				 q[TALLY_QUOTE_LEN];
	struct outbuf			 ob = { NULL, 0, 0 };
	cookie_io_functions_t		 io = { NULL, outbuf_write, NULL,
					     NULL };
	FILE				*out;
	int				 rc, multi, dirty, flags;

	if (parse_command(argc > 1 ? argv[1] : NULL, &cmd) != 0) {
		msg("unknown command '%s' (expected config, autoconf, "
		    "suggest, list, or none to fetch)", plugin_quote(q,
		    argv[1]));
		return EXIT_USAGE;
	}
	/*
	 * munin-node-configure asks the bare tally_; a link must be named
	 * after a graph.
	 */
	if (cmd == CMD_AUTOCONF)
		return autoconf(argv0, statsfile, graphs);
	multi = plugin_is_multigraph(argv0);
	dirty = env_flag("MUNIN_CAP_DIRTYCONFIG");
	if (multi && (cmd == CMD_CONFIG || cmd == CMD_FETCH) &&
	    !env_flag("MUNIN_CAP_MULTIGRAPH"))
		return no_multigraph(plugin_basename(argv0), cmd);

	if (plugin_table_load(&table, graphs, err, sizeof err) != 0) {
		msg("%s", err);
		return EXIT_GRAPHS;
	}
	if (cmd == CMD_LIST) {
		plugin_list(&table, stdout);
		plugin_table_free(&table);
		if (fflush(stdout) == 0 && !ferror(stdout))
			return 0;
		msg("writing to stdout: %s", strerror(errno));
		return EXIT_STORE;
	}
	if (cmd != CMD_SUGGEST && !multi &&
	    (g = find_graph(&table, argv0, &hist)) == NULL) {
		plugin_table_free(&table);
		return EXIT_USAGE;
	}

	if (statsfile == NULL || *statsfile == '\0') {
		msg("statsfile is not set: set env.statsfile in this plugin's "
		    "plugin-conf.d section");
		plugin_table_free(&table);
		return EXIT_STORE;
	}
	/*
	 * Build the whole answer in memory and print it only on success:
	 * munin must not take half a config or fetch for a whole one.
	 */
	if ((out = fopencookie(&ob, "w", io)) == NULL) {
		msg("fopencookie: %s", strerror(errno));
		plugin_table_free(&table);
		return EXIT_STORE;
	}
	switch (cmd) {
	case CMD_CONFIG:
		flags = PLUGIN_CONFIG | (dirty ? PLUGIN_DIRTY : 0);
		if (multi)
			rc = plugin_multigraph(statsfile, &table, flags, time(NULL),
			    out, stderr, err, sizeof err);
		else
			rc = plugin_config(statsfile, g, flags, time(NULL), out,
			    stderr, err, sizeof err);
		break;
	case CMD_SUGGEST:
		/*
		 * munin-node-configure announces multigraph: then the one
		 * tally_all link is the answer, not a link per graph.
		 */
		rc = plugin_suggest(statsfile, &table,
		    env_flag("MUNIN_CAP_MULTIGRAPH") ? PLUGIN_MULTI : 0, out,
		    stderr, err, sizeof err);
		break;
	default:
		if (multi)
			rc = plugin_multigraph(statsfile, &table, 0, time(NULL), out,
			    stderr, err, sizeof err);
		else
			rc = plugin_fetch(statsfile, g, time(NULL), out, stderr, err,
			    sizeof err);
		break;
	}
	plugin_table_free(&table);
	if (fclose(out) != 0 && rc == 0) {
		snprintf(err, sizeof err, "building output: %s",
		    strerror(errno));
		rc = TALLY_ESYS;
	}
	if (rc != 0) {
		msg("%s", err);
		outbuf_free(&ob);
		return EXIT_STORE;
	}
	/* Nothing to say (no node has the stat yet) is no write at all. */
	if ((ob.n > 0 && fwrite(ob.b, 1, ob.n, stdout) != ob.n) ||
	    fflush(stdout) != 0) {
		msg("writing to stdout: %s", strerror(errno));
		outbuf_free(&ob);
		return EXIT_STORE;
	}
	outbuf_free(&ob);
	return 0;
}
