/*
 * cmd-prune.c: tally prune --older-than DURATION [--dry-run]: remove the
 * slots of nodes whose last snapshot is older than DURATION, or whose time
 * is not sane.  A node is never removed younger than asked: the age is
 * checked again inside the deleting transaction.
 */
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
 * and one before 2000 is no snapshot of ours.  Copied out of the txn.
 */
static int
prune_find(struct statsfile *sf, int64_t now, int64_t cutoff,
    struct victim **out, size_t *nout)
{
	struct statsfile_node	*nodes;
	struct victim		*v = NULL;
	size_t			 n, i, nv = 0, skipped = 0;

	*out = NULL;
	*nout = 0;
	if (statsfile_begin(sf) != 0)
		return -1;
	/* A node whose record is unreadable has no known age: kept. */
	if (statsfile_nodes_list(sf, NULL, 0, NULL, &nodes, &n,
	    &skipped) != 0) {
		statsfile_end(sf);
		return -1;
	}
	if (n > 0 && (v = calloc(n, sizeof *v)) == NULL) {
		warnmsg("out of memory");
		free(nodes);
		statsfile_end(sf);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (record_time_sane(nodes[i].rec.time, now) &&
		    nodes[i].rec.time >= cutoff)
			continue;
		memcpy(v[nv].id, nodes[i].id, nodes[i].idlen);
		snprintf(v[nv].nickname, sizeof v[nv].nickname, "%s",
		    nodes[i].rec.nickname);
		v[nv].time = nodes[i].rec.time;
		nv++;
	}
	free(nodes);
	statsfile_end(sf);
	*out = v;
	*nout = nv;
	return 0;
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
 * deleting transaction: 0, or EXIT_FAIL if any failed.  *removed counts
 * those removed.
 */
static int
prune_remove(struct statsfile *sf, const struct victim *v, size_t nv,
    int64_t now, int64_t cutoff, size_t *removed)
{
	char	 err[TALLY_ERRLEN];
	size_t	 i;
	int	 rc, status = 0;

	for (i = 0; i < nv; i++) {
		rc = statsfile_delete_before(sf, v[i].id, cutoff, err,
		    sizeof err);
		if (rc == TALLY_ESTATE)
			continue;	/* it wrote since we looked: kept */
		if (rc == TALLY_ENOTFOUND)
			continue;	/* pruned meanwhile by another */
		if (rc != 0) {
			warnmsg("%s", err);
			status = EXIT_FAIL;
			continue;
		}
		(*removed)++;
		prune_say("removed", &v[i], now);
	}
	return status;
}

int
cmd_prune_exec(struct cmd *self)
{
	struct statsfile	*sf = NULL;
	struct victim		*v = NULL;
	const char		*older = args_get(&self->args, 'o');
	char			 q[ERROR_QUOTE_LEN];
	size_t			 nv = 0, i, removed = 0;
	int64_t			 secs, now, cutoff;
	int			 rc, status = EXIT_FAIL;
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
	cutoff = record_time_age(now, secs);

	/*
	 * Look first through a read-only open, which refuses a directory
	 * that holds no database: a writer would create one there.
	 */
	if (statsfile_open(&sf, self->path, 0) != 0)
		return EXIT_FAIL;
	rc = prune_find(sf, now, cutoff, &v, &nv);
	statsfile_close(sf);
	sf = NULL;
	if (rc != 0)
		goto out;
	if (nv == 0) {
		printf("no node in %s is older than %s\n", self->qpath,
		    quote(q, older));
		status = 0;
		goto out;
	}
	if (dry) {
		for (i = 0; i < nv; i++)
			prune_say("would remove", &v[i], now);
		status = 0;
		goto out;
	}
	/*
	 * Look again, now: a node may have written since.  The cutoff
	 * stays, and the deleting transaction checks it again, so a node is
	 * never removed younger than asked.
	 */
	if (statsfile_open(&sf, self->path, STATSFILE_WRITE) != 0)
		goto out;
	free(v);
	if (prune_find(sf, now, cutoff, &v, &nv) != 0)
		goto out;
	status = prune_remove(sf, v, nv, now, cutoff, &removed);
	if (removed == 0 && status == 0)
		printf("no node in %s is older than %s\n", self->qpath,
		    quote(q, older));
out:
	statsfile_close(sf);
	free(v);
	return flush_stdout(status);
}
