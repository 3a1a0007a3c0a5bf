/*
 * tally.c: tally, the command line tool, in the manner of mdb_stat; its
 * commands in tmux's manner, one cmd-<name>.c each around the table here.
 *
 *	tally [-s STATSFILE] show [--json] [NODE...]
 *	tally [-s STATSFILE] export [--openmetrics | --prometheus] [-o FILE]
 *	tally [-s STATSFILE] prune --older-than DURATION [--dry-run]
 *	tally [-s STATSFILE] forget NODE...
 *	tally [-s STATSFILE] index [--off]
 *	tally [-s STATSFILE] check
 *
 * The statsfile comes from -s (before or after the command), else the
 * environment variable statsfile (as munin's env.statsfile), else
 * TALLY_STATSFILE_DEFAULT.  Every command goes through libtally's public
 * interface: show and export read in one read transaction, a reader
 * (tally_reader_*, with statsfile.c's bits on top); prune and forget write
 * with tally_statsfile_remove and tally_statsfile_forget; check is
 * tally_statsfile_check, in a forked child, so that damage LMDB dies of
 * takes down the child only.  A snapshot time that is not sane
 * (text_time_sane, tally(5)) is shown raw, never turned into an age.
 * Whatever comes from outside (argv, the environment, the file) is quoted
 * in messages.
 *
 * Exit status: 0 success, 1 failure (an unreadable database, an unknown
 * node, a node with no key to forget, a bad duration, problems found by
 * check), 2 a usage error (an invalid node id for forget among them).
 * Messages go to stderr, prefixed "tally: ".
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-cmd.h"

#define TALLY_STATSFILE_DEFAULT	"/var/lib/tally/stats"
#define MSG_MAX			1024	/* a message line, at most */
#define LONGOPTS_MAX		8	/* a command's own long options */

static const struct option show_longopts[] = {
	{ "json",		no_argument,		NULL, 'j' },
	{ NULL, 0, NULL, 0 }
};
static const struct option export_longopts[] = {
	{ "openmetrics",	no_argument,		NULL, 'O' },
	{ "prometheus",		no_argument,		NULL, 'P' },
	{ "output",		required_argument,	NULL, 'o' },
	{ NULL, 0, NULL, 0 }
};
static const struct option prune_longopts[] = {
	{ "older-than",		required_argument,	NULL, 'o' },
	{ "dry-run",		no_argument,		NULL, 'n' },
	{ NULL, 0, NULL, 0 }
};
static const struct option index_longopts[] = {
	{ "off",		no_argument,		NULL, 'f' },
	{ NULL, 0, NULL, 0 }
};
static const struct option no_longopts[] = {
	{ NULL, 0, NULL, 0 }
};
static const struct option main_longopts[] = {
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/*
 * The commands.  Every one takes -s/--statsfile and -h/--help besides its
 * own options, which the shared parser (cmd_parse) hands it in its args.
 */
static const struct cmd_entry cmd_table[] = {
	{ "show", "[--json] [NODE...]",
	  "a table of the nodes and their counters and stats, sorted by\n"
	  "node id; --json for one JSON document; NODE... only those",
	  "j", show_longopts, 0, -1, NULL, cmd_show_exec },
	{ "export", "[--openmetrics | --prometheus] [-o FILE]",
	  "every node's metrics as OpenMetrics text (--openmetrics, the\n"
	  "default) or Prometheus text format 0.0.4 (--prometheus);\n"
	  "-o FILE writes FILE atomically (a temporary file, then rename)",
	  "o:", export_longopts, 0, 0, NULL, cmd_export_exec },
	{ "prune", "--older-than DURATION [--dry-run]",
	  "remove the slots of nodes whose last snapshot is older than\n"
	  "DURATION (90s, 15m, 12h, 7d, 2w, or seconds); --dry-run lists\n"
	  "them only",
	  "o:n", prune_longopts, 0, 0, NULL, cmd_prune_exec },
	{ "forget", "NODE...",
	  "forget the TLS key bound to each NODE, so that its next\n"
	  "connection binds a new one (a node whose key changed)",
	  "", no_longopts, 1, -1, "NODE", cmd_forget_exec },
	{ "check", "",
	  "verify the database: format, keys, records and values",
	  "", no_longopts, 0, 0, NULL, cmd_check_exec },
	{ "index", "[--off]",
	  "make the stat index, so that a munin graph reads its own stat's\n"
	  "values only (writers then write each value twice); --off drops it",
	  "f", index_longopts, 0, 0, NULL, cmd_index_exec },
};
#define NCOMMANDS	(sizeof cmd_table / sizeof cmd_table[0])

/* tally's own options, before the command: '+' stops at the command. */
static const struct cmd_entry cmd_main = {
	"", NULL, NULL, "+V", main_longopts, 0, -1, NULL, NULL
};

static void
usage(FILE *f)
{
	const struct cmd_entry	*ce;
	const char		*p;
	size_t			 i;

	for (i = 0; i < NCOMMANDS; i++) {
		ce = &cmd_table[i];
		fprintf(f, "%s" PROG " [-s STATSFILE] %s%s%s\n", i == 0 ?
		    "usage: " : "       ", ce->name, *ce->usage ? " " : "",
		    ce->usage);
	}
	fprintf(f, "       " PROG " -h | --version\n"
	    "\n"
	    "Reads the tally statsfile (an LMDB environment directory): -s, "
	    "else the\nenvironment variable statsfile, else "
	    TALLY_STATSFILE_DEFAULT ".\n\n");
	for (i = 0; i < NCOMMANDS; i++) {
		ce = &cmd_table[i];
		fprintf(f, "  %-8s  ", ce->name);
		for (p = ce->help; *p != '\0'; p++) {
			putc(*p, f);
			if (*p == '\n')
				fprintf(f, "%12s", "");
		}
		putc('\n', f);
	}
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error.  "
	    "See tally(1).\n");
}

/*
 * Write one message line.  Untrusted parts are quoted (quote()) where they
 * are formatted; this is the last wall: a message is one bounded line, and
 * a control character that came through some other way (a path in one
 * of libtally's messages) is a '?', never a terminal's escape.
 */
static void
vmsg(const char *suffix, const char *fmt, va_list ap)
{
	char	 buf[MSG_MAX], *p;

	vsnprintf(buf, sizeof buf, fmt, ap);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, PROG ": %s%s\n", buf, suffix);
}

void
warnmsg(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

int
usage_error(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vmsg(" (try '" PROG " -h')", fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/*
 * An argument, a path or anything else from outside, for a message:
 * tally_quote()'s at most TALLY_QUOTE_LEN - 1 bytes, control characters
 * escaped.  buf holds TALLY_QUOTE_LEN bytes.
 */
const char *
quote(char *buf, const char *s)
{
	return tally_quote(buf, TALLY_QUOTE_LEN, s, strlen(s));
}

int
flush_stdout(int status)
{
	/* ferror too: a failed write earlier may leave nothing to flush. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnmsg("writing to stdout: %s", strerror(errno));
		return EXIT_FAIL;
	}
	return status;
}

int
args_has(const struct args *a, int c)
{
	return c >= 0 && c < ARGS_OPTMAX ? a->last[c] : 0;
}

const char *
args_get(const struct args *a, int c)
{
	return c >= 0 && c < ARGS_OPTMAX ? a->value[c] : NULL;
}

/* getopt_long said '?' or ':' (opterr is 0: the messages are ours). */
static int
cmd_bad_option(const char *cmd, int c, char **argv)
{
	const char	*what = c == ':' ? "missing argument for" :
	    "unknown option", *arg = argv[optind - 1];
	char		 opt[3] = { '-', (char)optopt, '\0' };
	char		 q[TALLY_QUOTE_LEN];

	if (optind > 1 && strncmp(arg, "--", 2) == 0)
		return usage_error("%s%s%s '%s'", cmd, *cmd ? ": " : "",
		    what, tally_quote(q, sizeof q, arg, strcspn(arg, "=")));
	return usage_error("%s%s%s '%s'", cmd, *cmd ? ": " : "", what,
	    quote(q, opt));
}

/*
 * Parse argv (argv[0] the program or the command) by ce's options and the
 * common ones: -s into *statsfile, -h (and tally's own -V) answered at
 * once, the rest into a.  -1 to go on, else the exit status.
 */
static int
cmd_parse(const struct cmd_entry *ce, int argc, char **argv, struct args *a,
    const char **statsfile)
{
	struct option	 lo[LONGOPTS_MAX + 3];
	char		 so[32];
	const char	*own = ce->shortopts;
	size_t		 n;
	int		 c, seq = 0;

	snprintf(so, sizeof so, "%s:%ss:h", *own == '+' ? "+" : "",
	    own + (*own == '+'));
	for (n = 0; ce->longopts[n].name != NULL && n < LONGOPTS_MAX; n++)
		lo[n] = ce->longopts[n];
	lo[n++] = (struct option){ "statsfile", required_argument, NULL, 's' };
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };

	/* Start getopt afresh on these arguments. */
	opterr = 0;
#ifdef __GLIBC__
	optind = 0;
#else
	optind = 1;
	optreset = 1;
#endif
	memset(a, 0, sizeof *a);
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		switch (c) {
		case 's':
			*statsfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return flush_stdout(0);
		case 'V':
			printf("%s (database format %d)\n",
			    tally_version(NULL, NULL, NULL), TALLY_DB_FORMAT);
			return flush_stdout(0);
		case '?':
		case ':':
			return cmd_bad_option(ce->name, c, argv);
		default:
			if (c > 0 && c < ARGS_OPTMAX) {
				a->last[c] = ++seq;
				a->value[c] = optarg;
			}
			break;
		}
	}
	a->argc = argc - optind;
	a->argv = argv + optind;
	return -1;
}

/* Run a command: its options, its operands, the statsfile, then exec. */
static int
cmd_run(const struct cmd_entry *ce, int argc, char **argv,
    const char *statsfile)
{
	struct cmd	 cmd;
	const char	*env;
	char		 q[TALLY_QUOTE_LEN];
	int		 rc;

	memset(&cmd, 0, sizeof cmd);
	cmd.entry = ce;
	if ((rc = cmd_parse(ce, argc, argv, &cmd.args, &statsfile)) != -1)
		return rc;
	if (ce->upper >= 0 && cmd.args.argc > ce->upper)
		return usage_error("%s: unexpected argument '%s'", ce->name,
		    quote(q, cmd.args.argv[ce->upper]));
	if (cmd.args.argc < ce->lower)
		return usage_error("%s: %s is required", ce->name,
		    ce->operand);

	/* The statsfile: -s, else $statsfile, else the default. */
	cmd.path = TALLY_STATSFILE_DEFAULT;
	if (statsfile != NULL)
		cmd.path = statsfile;
	else if ((env = getenv("statsfile")) != NULL && *env != '\0')
		cmd.path = env;
	quote(cmd.qpath, cmd.path);
	return ce->exec(&cmd);
}

int
main(int argc, char **argv)
{
	struct args	 a;
	const char	*statsfile = NULL;
	char		 q[TALLY_QUOTE_LEN];
	size_t		 i;
	int		 rc;

	if ((rc = cmd_parse(&cmd_main, argc, argv, &a, &statsfile)) != -1)
		return rc;
	if (a.argc == 0)
		return usage_error("no command");
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(a.argv[0], cmd_table[i].name) == 0)
			return cmd_run(&cmd_table[i], a.argc, a.argv,
			    statsfile);
	}
	return usage_error("unknown command '%s'", quote(q, a.argv[0]));
}
