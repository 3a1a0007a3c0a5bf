/*
 * cmd-prune.c: tally prune --older-than DURATION [--dry-run]: remove the
 * slots of nodes whose last snapshot is older than DURATION, or whose time
 * is not sane.  A node is never removed younger than asked: the age is
 * checked again inside the deleting transaction.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tally-cmd.h"

struct victim {
	char		 id[TALLY_NODE_ID_MAX + 1];
	char		 nickname[TALLY_NICKNAME_MAX + 1];
	int64_t		 time;
};

/*
 * The nodes whose snapshot is older than cutoff, or whose time is not sane
 * (tally(5)): a node in the future would otherwise never be old enough,
 * and one before 2000 is no snapshot of ours.  Read with a reader that is
 * closed before anything is removed.  0, or -1 said why.
 */
static int
prune_find(struct cmd *self, int64_t now, int64_t cutoff,
    struct victim **out, size_t *nout)
{
	tally_reader		*r;
	struct statsfile_node	*nodes = NULL;
	struct victim		*v = NULL;
	size_t			 n = 0, i, nv = 0, skipped = 0;
	int			 rc = -1;

	*out = NULL;
	*nout = 0;
	/*
	 * A read-only look first: the reader refuses a directory that holds
	 * no database, where a writer would create one.  A node whose
	 * record is unreadable has no known age: kept.
	 */
	if (statsfile_open(&r, self->path, self->qpath) != 0)
		return -1;
	if (statsfile_nodes_list(r, self->qpath, NULL, 0, NULL, &nodes, &n,
	    &skipped) != 0)
		goto out;
	if (n > 0 && (v = calloc(n, sizeof *v)) == NULL) {
		warnmsg("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (text_time_sane(nodes[i].time, now) &&
		    nodes[i].time >= cutoff)
			continue;
		snprintf(v[nv].id, sizeof v[nv].id, "%s", nodes[i].id);
		snprintf(v[nv].nickname, sizeof v[nv].nickname, "%s",
		    nodes[i].nickname);
		v[nv].time = nodes[i].time;
		nv++;
	}
	*out = v;
	*nout = nv;
	rc = 0;
out:
	statsfile_nodes_free(nodes, n);
	tally_reader_close(r);
	return rc;
}

/* "removed ID (NICKNAME), last snapshot 3d ago", or "would remove". */
static void
prune_say(const char *verb, const struct victim *v, int64_t now)
{
	char	 when[64];

	printf("%s %s (", verb, v->id);
	text_put_clean(stdout, v->nickname, strlen(v->nickname));
	printf("), last snapshot %s\n", text_snapshot_age(when, sizeof when,
	    v->time, now, " ago"));
}

/*
 * Remove the victims, each only if it is still older than cutoff in the
 * deleting transaction (tally_statsfile_remove): 0, or EXIT_FAIL if one
 * failed.  The first failure ends it: the statsfile that could not be
 * opened or written for one node would fail the next the same way (a
 * damaged one says so for every later call).  *removed counts those
 * removed.
 */
static int
prune_remove(struct cmd *self, const struct victim *v, size_t nv,
    int64_t now, int64_t cutoff, size_t *removed)
{
	char	 err[TALLY_ERRMSG_LEN];
	size_t	 i;
	int	 rc;

	for (i = 0; i < nv; i++) {
		rc = tally_statsfile_remove(self->path, v[i].id, cutoff, err,
		    sizeof err);
		if (rc == TALLY_ESTATE)
			continue;	/* it wrote since we looked: kept */
		if (rc == TALLY_ENOTFOUND)
			continue;	/* pruned meanwhile by another */
		if (rc != 0) {
			warnmsg("%s", err);
			return EXIT_FAIL;
		}
		(*removed)++;
		prune_say("removed", &v[i], now);
	}
	return 0;
}

int
cmd_prune_exec(struct cmd *self)
{
	struct victim		*v = NULL;
	const char		*older = args_get(&self->args, 'o');
	char			 q[TALLY_QUOTE_LEN];
	size_t			 nv = 0, i, removed = 0;
	int64_t			 secs, now, cutoff;
	int			 status = EXIT_FAIL;
	int			 dry = args_has(&self->args, 'n');

	if (older == NULL)
		return usage_error("prune: --older-than DURATION is required");
	if (text_duration(older, &secs) != 0) {
		warnmsg("bad duration '%s' (use e.g. 30m, 12h, 7d)",
		    quote(q, older));
		return EXIT_FAIL;
	}
	now = (int64_t)time(NULL);
	/* secs is at most a thousand years: saturated for a wild clock. */
	cutoff = text_time_age(now, secs);

	if (prune_find(self, now, cutoff, &v, &nv) != 0)
		goto out;
	if (dry) {
		for (i = 0; i < nv; i++)
			prune_say("would remove", &v[i], now);
	} else {
		/*
		 * A node may have written since the look.  The cutoff stays,
		 * and the deleting transaction checks it again, so a node is
		 * never removed younger than asked.
		 */
		status = prune_remove(self, v, nv, now, cutoff, &removed);
		if (status != 0)
			goto out;
	}
	if (nv == 0 || (!dry && removed == 0))
		printf("no node in %s is older than %s\n", self->qpath,
		    quote(q, older));
	status = 0;
out:
	free(v);
	return flush_stdout(status);
}
