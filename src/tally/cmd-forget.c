/*
 * cmd-forget.c: tally forget NODE...: unbind each node's key, so that its
 * next TLS connection binds whatever key it comes with: what an operator
 * does once a node's key changed on purpose (a reinstall) and tallyd
 * refuses it.  Every node id is checked before anything is opened; a node
 * that is unknown or has no key is reported and the others are still
 * done.  0, EXIT_FAIL if any node failed, EXIT_USAGE.
 */
#include <stdio.h>
#include <string.h>

#include "tally-cmd.h"

int
cmd_forget_exec(struct cmd *self)
{
	struct args	*a = &self->args;
	tally_reader	*r;
	char		 err[TALLY_ERRMSG_LEN], q[TALLY_QUOTE_LEN];
	const char	*node;
	int		 i, rc, status = 0;

	for (i = 0; i < a->argc; i++)
		if (!tally_node_id_valid(a->argv[i]))
			return usage_error("forget: invalid node id '%s'",
			    quote(q, a->argv[i]));

	/*
	 * A look first, as prune does: a statsfile that cannot be read is
	 * said once, before any node.  (tally_statsfile_forget refuses a
	 * directory that holds no database itself.)
	 */
	if (statsfile_open(&r, self->path, self->qpath) != 0)
		return EXIT_FAIL;
	tally_reader_close(r);
	for (i = 0; i < a->argc; i++) {
		node = a->argv[i];
		rc = tally_statsfile_forget(self->path, node, err, sizeof err);
		if (rc == 0) {
			printf("node %s: key forgotten; its next connection "
			    "binds a new key\n", node);
			continue;
		}
		status = EXIT_FAIL;
		if (rc == TALLY_ENOTFOUND)
			warnmsg("node %s: no such node", node);
		else if (rc == TALLY_ESTATE)
			warnmsg("node %s: no key bound", node);
		else {
			/*
			 * The statsfile could not be opened or written: the
			 * next node would fail the same way.
			 */
			warnmsg("%s", err);
			break;
		}
	}
	return flush_stdout(status);
}
