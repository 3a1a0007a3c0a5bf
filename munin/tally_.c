/*
 * tally_: the munin plugin of tally, one binary linked under many names.
 *
#%# family=auto
#%# capabilities=autoconf suggest
 *
 * Usage (munin runs it; operators mostly see the links):
 *	tally_<graph> [config]	config, or fetch without an argument
 *	tally_ autoconf		"yes" or "no (reason)"; always exits 0
 *	tally_ suggest		the graphs some node has data for
 *	tally_ list		every valid plugin name
 * The graph is picked by the link's name (see plugin_graph_find) and the
 * database by the environment variable statsfile, set in plugin-conf.d by
 * "env.statsfile /path".
 *
 * Exit status: 0 success, 1 a bad command or plugin name, 2 the statsfile
 * could not be read.  Messages go to stderr, prefixed "tally_: ".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin.h"

/*
 * munin-node-configure reads a plugin's file for these markers, and ours
 * is a binary: keep them in it, whatever the optimiser thinks.
 */
static const char plugin_magic[] __attribute__((used)) =
    "\n#%# family=auto\n#%# capabilities=autoconf suggest\n";

#define EXIT_USAGE 1
#define EXIT_STORE 2

enum command { CMD_FETCH, CMD_CONFIG, CMD_AUTOCONF, CMD_SUGGEST, CMD_LIST };

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

	if (strcmp(base, PLUGIN_PREFIX) == 0)
		fprintf(stderr, "%s: link me as %s<graph> to pick a graph; "
		    "'%s list' prints the valid names\n", PLUGIN_PREFIX,
		    PLUGIN_PREFIX, PLUGIN_PREFIX);
	else
		fprintf(stderr, "%s: no graph named '%s'; '%s list' prints "
		    "the valid names\n", PLUGIN_PREFIX,
		    strncmp(base, PLUGIN_PREFIX, plen) == 0 ? base + plen :
		    base, PLUGIN_PREFIX);
	return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	const struct plugin_graph	*g = NULL;
	struct store			*st;
	enum command			 cmd;
	const char			*statsfile = getenv("statsfile");
	char				 err[TALLY_ERRLEN];
	char				*buf = NULL;
	size_t				 len = 0;
	FILE				*out;
	int				 rc;

	if (parse_command(argc > 1 ? argv[1] : NULL, &cmd) != 0) {
		fprintf(stderr, "%s: unknown command '%s' (expected config, "
		    "autoconf, suggest, list, or none to fetch)\n",
		    PLUGIN_PREFIX, argv[1]);
		return EXIT_USAGE;
	}
	/* These work under any name: munin asks them of the bare tally_. */
	if (cmd == CMD_LIST) {
		plugin_list(stdout);
		return fflush(stdout) == 0 ? 0 : EXIT_STORE;
	}
	if (cmd == CMD_AUTOCONF) {
		plugin_autoconf(statsfile, stdout);
		return 0;
	}
	if (cmd != CMD_SUGGEST &&
	    (g = plugin_graph_find(argc > 0 ? argv[0] : NULL)) == NULL)
		return unknown_graph(argc > 0 ? argv[0] : NULL);

	if (statsfile == NULL || *statsfile == '\0') {
		fprintf(stderr, "%s: statsfile is not set: set env.statsfile "
		    "in this plugin's plugin-conf.d section\n", PLUGIN_PREFIX);
		return EXIT_STORE;
	}
	if ((rc = plugin_open(&st, statsfile, err, sizeof err)) != 0) {
		fprintf(stderr, "%s: %s\n", PLUGIN_PREFIX, err);
		return EXIT_STORE;
	}
	/*
	 * Build the whole answer in memory and print it only on success:
	 * munin must not take half a config or fetch for a whole one.
	 */
	if ((out = open_memstream(&buf, &len)) == NULL) {
		fprintf(stderr, "%s: open_memstream: %s\n", PLUGIN_PREFIX,
		    strerror(errno));
		store_close(st);
		return EXIT_STORE;
	}
	switch (cmd) {
	case CMD_CONFIG:
		rc = plugin_config(st, g, out, stderr, err, sizeof err);
		break;
	case CMD_SUGGEST:
		rc = plugin_suggest(st, out, stderr, err, sizeof err);
		break;
	default:
		rc = plugin_fetch(st, g, time(NULL), out, stderr, err,
		    sizeof err);
		break;
	}
	store_close(st);
	if (fclose(out) != 0 && rc == 0) {
		snprintf(err, sizeof err, "building output: %s",
		    strerror(errno));
		rc = TALLY_ESYS;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", PLUGIN_PREFIX, err);
		free(buf);
		return EXIT_STORE;
	}
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "%s: writing to stdout: %s\n", PLUGIN_PREFIX,
		    strerror(errno));
		free(buf);
		return EXIT_STORE;
	}
	free(buf);
	return 0;
}
