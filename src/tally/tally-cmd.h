/*
 * tally-cmd.h: the tally tool's own header, in tmux's manner: the command
 * table's types, and each file's exports under its name.  It serves the
 * tool only.  No file here but statsfile.c touches the store: the others
 * read the statsfile through statsfile_*, which hands out nodes and
 * metrics, not LMDB's types.
 */
#ifndef TALLY_CMD_H
#define TALLY_CMD_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "tally-int.h"

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
	char			 qpath[ERROR_QUOTE_LEN];	/* ... quoted */
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
void	 warnmsg(const char *, ...) TALLY_PRINTF(1, 2);
int	 usage_error(const char *, ...) TALLY_PRINTF(1, 2);
/* s for a message: error_quote()d into buf, of ERROR_QUOTE_LEN bytes. */
const char *quote(char *, const char *);
/* fflush(stdout), saying so if it failed: status, or EXIT_FAIL. */
int	 flush_stdout(int);

/* cmd-*.c */
int	 cmd_show_exec(struct cmd *);
int	 cmd_export_exec(struct cmd *);
int	 cmd_prune_exec(struct cmd *);
int	 cmd_forget_exec(struct cmd *);
int	 cmd_check_exec(struct cmd *);

/* text.c: text for a terminal, ages and durations. */
size_t	 text_utf8_len(const unsigned char *, size_t);
size_t	 text_width(const char *, size_t);
void	 text_put_clean(FILE *, const char *, size_t);
const char *text_esc(char *, size_t, const void *, size_t);
const char *text_age(char *, size_t, int64_t);
const char *text_snapshot_age(char *, size_t, int64_t, int64_t,
	     const char *);
int	 text_duration(const char *, int64_t *);

/* json.c */
int	 json_number_valid(const char *, size_t);
void	 json_str(FILE *, const char *, size_t);

/* statsfile.c: every access to the statsfile. */
#define STATSFILE_WRITE	0x1
struct statsfile;
/*
 * A node of the nodes table.  id and the raw record point into the read
 * transaction and stay valid until statsfile_end.
 */
enum statsfile_node_state { STATSFILE_OK, STATSFILE_BADID, STATSFILE_BADREC };
struct statsfile_node {
	const char			*id;
	size_t				 idlen;
	const char			*raw;		/* the record as stored */
	size_t				 rawlen;
	enum statsfile_node_state	 state;
	char				 err[128];	/* BADREC: why */
	struct record_node		 rec;		/* OK: parsed */
};
/*
 * A counter or stat, pointing into the read transaction.  ok: the name is
 * a valid stat name and the value parses (statsfile_metrics), or the value
 * parses (statsfile_keys, whose name is the whole key).
 */
struct statsfile_metric {
	int		 counter;	/* from counters, else from stats */
	const char	*name;
	size_t		 nlen;
	const char	*val;
	size_t		 vlen;
	int		 ok;
	int64_t		 i;		/* a counter's value */
	double		 d;		/* a stat's */
};
typedef int (*statsfile_node_cb)(void *, const struct statsfile_node *);
typedef int (*statsfile_metric_cb)(void *, const struct statsfile_metric *);
int	 statsfile_open(struct statsfile **, const char *, int);
void	 statsfile_close(struct statsfile *);
int	 statsfile_begin(struct statsfile *);
void	 statsfile_end(struct statsfile *);
void	 statsfile_failed(struct statsfile *, int, const char *);
void	 statsfile_unlink_on_sigbus(const char *);
int	 statsfile_nodes(struct statsfile *, statsfile_node_cb, void *);
int	 statsfile_nodes_list(struct statsfile *, char **, int, char *,
	     struct statsfile_node **, size_t *, size_t *);
void	 statsfile_warn_node(const struct statsfile *,
	     const struct statsfile_node *, int);
int	 statsfile_metrics(struct statsfile *, const char *, size_t,
	     statsfile_metric_cb, void *);
void	 statsfile_warn_metric(const char *, size_t,
	     const struct statsfile_metric *);
int	 statsfile_keys(struct statsfile *, int, statsfile_metric_cb, void *);
int	 statsfile_delete_before(struct statsfile *, const char *, int64_t,
	     char *, size_t);
int	 statsfile_forget_key(struct statsfile *, const char *, char *,
	     size_t);
int	 statsfile_damaged(const struct statsfile *);

/* export.c: OpenMetrics and Prometheus text from the whole statsfile. */
struct export;
struct export *export_new(int);
void	 export_free(struct export *);
int	 export_collect(struct export *, struct statsfile *);
size_t	 export_skipped(const struct export *);
int	 export_write(struct export *, int, int *);

#endif
