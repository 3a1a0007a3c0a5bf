/*
 * cmd-index.c: tally index [--off]: make the statsfile's stat index, so
 * that a munin graph reads one stat's pages and not a page of every node,
 * or drop it, so that writers write each value once (tally(5) says what
 * each costs).  0, EXIT_FAIL, EXIT_USAGE.
 */
#include <stdio.h>

#include "tally-cmd.h"

int
cmd_index_exec(struct cmd *self)
{
	char	 err[TALLY_ERRMSG_LEN];
	int	 on = !args_has(&self->args, 'f'), rc;

	rc = tally_statsfile_index(self->path, on, err, sizeof err);
	if (rc == 0) {
		printf("%s: stat index %s\n", self->qpath, on ? "made" :
		    "dropped");
		return flush_stdout(0);
	}
	warnmsg("%s", err);
	return EXIT_FAIL;
}
