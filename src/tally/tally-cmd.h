/*
 * tally-cmd.h: the tally tool's own header, in tmux's manner: the command
 * table's types, and each file's exports under its name.  It serves the
 * tool only.  The tool reads and writes the statsfile through libtally's
 * public interface only (tally.h: tally_reader_*, tally_statsfile_*), as
 * any other program would; statsfile.c is the little it adds on top.
 */
#ifndef TALLY_CMD_H
#define TALLY_CMD_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "tally.h"

#if defined(__GNUC__) || defined(__clang__)
#define CMD_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define CMD_UNLIKELY(x)		__builtin_expect(!!(x), 0)
#else
#define CMD_PRINTF(f, a)
#define CMD_UNLIKELY(x)		(x)
#endif

#define PROG			"tally"
#define EXIT_FAIL		1
#define EXIT_USAGE		2

/* tally.c */
/*
 * A command's options and operands, as the shared parser found them.
 * last[c] is 0 for an option never given, else how late it came (the
 * later, the larger), so that of two options that undo each other the
 * last wins; value[c] is its last argument.
 */
#define ARGS_OPTMAX	128
struct args {
	int		 argc;		/* the operands */
	char		**argv;
	int		 last[ARGS_OPTMAX];
	const char	*value[ARGS_OPTMAX];
};
/* One invocation of a command, handed to its exec function. */
struct cmd {
	const struct cmd_entry	*entry;
	struct args		 args;
	const char		*path;	/* the statsfile: -s, $statsfile, ... */
	char			 qpath[TALLY_QUOTE_LEN];	/* ... quoted */
};
struct cmd_entry {
	const char		*name;
	const char		*usage;		/* after "tally [-s STATSFILE] name" */
	const char		*help;		/* for -h; '\n' for a new line */
	const char		*shortopts;	/* beyond -s and -h */
	const struct option	*longopts;	/* beyond --statsfile and --help */
	int			 lower, upper;	/* operands; upper -1: any */
	const char		*operand;	/* what a missing one is called */
	int			(*exec)(struct cmd *);
};
int	 args_has(const struct args *, int);
const char *args_get(const struct args *, int);
void	 warnmsg(const char *, ...) CMD_PRINTF(1, 2);
int	 usage_error(const char *, ...) CMD_PRINTF(1, 2);
/* s for a message: tally_quote()d into buf, of TALLY_QUOTE_LEN bytes. */
const char *quote(char *, const char *);
/* fflush(stdout), saying so if it failed: status, or EXIT_FAIL. */
int	 flush_stdout(int);

/* cmd-*.c */
int	 cmd_show_exec(struct cmd *);
int	 cmd_export_exec(struct cmd *);
int	 cmd_prune_exec(struct cmd *);
int	 cmd_forget_exec(struct cmd *);
int	 cmd_index_exec(struct cmd *);
int	 cmd_check_exec(struct cmd *);

/* text.c: text for a terminal, ages and durations. */
size_t	 text_utf8_len(const unsigned char *, size_t);
size_t	 text_width(const char *, size_t);
void	 text_put_clean(FILE *, const char *, size_t);
const char *text_esc(char *, size_t, const void *, size_t);
const char *text_age(char *, size_t, int64_t);
const char *text_recut(char *, size_t, const char *);
int	 text_time_sane(int64_t, int64_t);
int64_t	 text_time_age(int64_t, int64_t);
const char *text_snapshot_age(char *, size_t, int64_t, int64_t,
	     const char *);
int	 text_duration(const char *, int64_t *);

/* json.c */
int	 json_number_valid(const char *, size_t);
void	 json_str(FILE *, const char *, size_t);
#define JSON_NUMLEN	32	/* any int64 or double */
size_t	 json_fmt_double(char *, double);

/*
 * statsfile.c: the tool's door to the statsfile, over libtally's reader:
 * open it (with the SIGBUS guard), the nodes copied out of the reader, and
 * the warnings for what cannot be read.
 */
/* A node, copied: its strings live in buf, until statsfile_nodes_free. */
struct statsfile_node {
	const char	*id;
	const char	*nickname;
	const char	*source;
	const char	*key;		/* NULL: no key bound */
	int64_t		 time;
	double		 interval;	/* as recorded; 0: none */
	char		*buf;
};
int	 statsfile_prepare(const char *, const char *);
int	 statsfile_open(tally_reader **, const char *, const char *);
void	 statsfile_unlink_on_signal(const char *);
int	 statsfile_nodes_list(tally_reader *, const char *, char **, int,
	     char *, struct statsfile_node **, size_t *, size_t *);
void	 statsfile_nodes_free(struct statsfile_node *, size_t);
void	 statsfile_warn_node(const char *, const tally_node *);
void	 statsfile_warn_metric(const char *, const tally_metric *);

/*
 * hist.c: the histograms among a node's counters (tally(5)): H.count,
 * H.sum_ns, H.bucket.<i>, H.refused, and the stats H.mean and
 * H.<p>_percentile.  le[k] counts the observations up to 2^(k + HIST_LE_MIN)
 * seconds, exactly: bucket i ends at 2^(i/8) s.
 */
#define HIST_LE_MIN	(-20)		/* 2^-20 s, about a microsecond */
#define HIST_LE_MAX	13		/* 2^13 s: bucket 112 holds overflow */
#define HIST_NLE	(HIST_LE_MAX - HIST_LE_MIN + 1)
#define HIST_NSTATS	8
#define HIST_NONE	UINT32_MAX
#define HIST_PART	1		/* H.count, H.sum_ns, H.bucket.<i> */
#define HIST_REFUSED	2		/* H.refused */
/* A counter of a node, as hist_scan reads it; hist and role are its. */
struct hist_part {
	const char	*name;
	size_t		 nlen;
	int64_t		 value;
	uint32_t	 hist;		/* HIST_NONE, or its histogram */
	int		 role;		/* 0, HIST_PART or HIST_REFUSED */
};
struct hist {
	const char	*name;		/* H, nlen bytes of its H.count's name */
	size_t		 nlen;
	int64_t		 count, sum_ns;
	int64_t		 le[HIST_NLE];	/* cumulative */
	const char	*bad;		/* NULL, or why it is left as counters */
	size_t		 why;		/* the part at fault */
};
extern const char *const hist_stat_suffix[HIST_NSTATS];
extern const char *const hist_stat_label[HIST_NSTATS];
int	 hist_scan(struct hist_part *, size_t, struct hist **, size_t *,
	     size_t *);
const struct hist *hist_find(const struct hist *, size_t, const char *,
	     size_t);
int	 hist_stat(const struct hist *, size_t, const char *, size_t,
	     const struct hist **);
size_t	 hist_seconds(char *, size_t, int64_t);

/* export.c: OpenMetrics and Prometheus text from the whole statsfile. */
struct export;
struct export *export_new(int);
void	 export_free(struct export *);
int	 export_collect(struct export *, tally_reader *);
size_t	 export_skipped(const struct export *);
int	 export_write(struct export *, int, int *);

#endif
