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
	struct args		*a = &self->args;
	struct statsfile	*sf = NULL;
	char			 err[TALLY_ERRLEN], q[ERROR_QUOTE_LEN];
	const char		*node;
	int			 i, rc, status = 0;

	for (i = 0; i < a->argc; i++)
		if (!name_node_id_valid(a->argv[i], strlen(a->argv[i])))
			return usage_error("forget: invalid node id '%s'",
			    quote(q, a->argv[i]));

	/*
	 * A read-only open first, as prune does: it refuses a directory
	 * that holds no database, where a writer would create one.
	 */
	if (statsfile_open(&sf, self->path, 0) != 0)
		return EXIT_FAIL;
	statsfile_close(sf);
	if (statsfile_open(&sf, self->path, STATSFILE_WRITE) != 0)
		return EXIT_FAIL;
	for (i = 0; i < a->argc; i++) {
		node = a->argv[i];
		rc = statsfile_forget_key(sf, node, err, sizeof err);
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
			warnmsg("%s", err);
			/* Every later call would say the same. */
			if (statsfile_damaged(sf))
				break;
		}
	}
	statsfile_close(sf);
	return flush_stdout(status);
}
