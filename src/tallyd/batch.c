/*
 * batch.c: tallyd's writes to the statsfile.  Snapshots wait in a batch,
 * committed in one write transaction when it holds BATCH_MAX snapshots or
 * BATCH_SAMPLES samples, BATCH_DELAY after its first snapshot, and at
 * shutdown.  Also here: the node locks (one live writer per node id) and
 * the memory a burst of snapshots leaves behind.
 *
 * A snapshot is decoded straight from the read buffer into a slot of the
 * batch (batch_next()), which owns copies of everything it commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "tallyd.h"

/*
 * A batch is committed at 256 snapshots (BATCH_MAX) or 32k samples.  LMDB
 * keeps the dirty pages of its biggest write transaction for reuse until
 * the environment closes, so the sample bound is what bounds tallyd's
 * memory after a round.  Measured with 1,000 nodes x 1,000 metrics (no
 * trim): 256k samples a transaction left tallyd at 60 MiB after the round,
 * 64k at 16 MiB, 32k at 11 MiB; every round took 0.5-0.8 s.
 *
 * Between bursts, polls are spread over the interval and a batch is
 * committed by its delay: each commit costs about 1 ms of tallyd's CPU
 * however little it holds (an fdatasync, the meta page, the free list,
 * the check before it).  A steady round of 1,000 nodes x 10 metrics at
 * -i 5 took 91 commits and 210 ms of CPU at 0.05 s, 20 commits and
 * 125-170 ms at 0.25 s; of 1,000 x 1,000 metrics, 83 commits at 0.05 s,
 * 31 at 0.25 s (the sample bound then closes the batch).  The memory bound
 * is the sample bound, unchanged; a snapshot waits at most 0.25 s longer
 * before readers see it.
 */
#define BATCH_SAMPLES		(32 * 1024)
#define BATCH_DELAY		0.25	/* seconds after the first snapshot */
/* After a commit, a batch slot keeps up to this much memory for reuse. */
#define BATCH_SLOT_KEEP		(16 * 1024)
/* Seconds without a commit after which freed memory goes back (glibc). */
#define BATCH_TRIM_QUIET	0.5	/* twice BATCH_DELAY: not between batches */

struct batch_ent *
batch_find(struct gatherer *g, const char *id)
{
	size_t	 i;

	for (i = g->nbatch; i-- > 0;)
		if (strcmp(g->batch[i].node_id, id) == 0)
			return &g->batch[i];
	return NULL;
}

static size_t
batch_snap_size(const struct snapshot *s)
{
	return (s->ccap + s->scap) * sizeof(struct snapshot_ent) + s->acap;
}

void
batch_commit(struct gatherer *g)
{
	struct conn	*c;
	char		 err[TALLY_ERRLEN];
	double		 t0, sec;
	size_t		 i, n = g->nbatch, formatted;
	int		 rc;

	ev_timer_stop(g->loop, &g->batch_timer);
	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		g->slots[i].node_id = g->batch[i].node_id;
		g->slots[i].rn = &g->batch[i].rn;
		g->slots[i].snap = &g->batch[i].snap;
	}
	err[0] = '\0';
	formatted = store_formatted();
	t0 = gatherer_mono();
	rc = store_write_slots(g->store, g->slots, n, err, sizeof err);
	sec = gatherer_mono() - t0;
	g->commit_sec = sec;
	if (sec > g->commit_max_sec)
		g->commit_max_sec = sec;
	http_commit(g, sec, rc == 0, err);
	if (rc != 0) {
		/*
		 * The snapshots are lost; the next round brings new ones.
		 * A store that fails keeps failing the same way (damaged,
		 * map at its limit, disk full): say it once, not per batch,
		 * and keep serving the connections.
		 */
		stats_count(g, STATS_ERRORS, 1);
		stats_count(g, STATS_COMMIT_FAILURES, 1);
		if (g->commits_failed++ == 0 ||
		    strcmp(g->commit_err, err) != 0)
			gatherer_log("commit of %zu snapshots failed: %s%s", n,
			    err, g->commits_failed > 1 ? "" : " (logged once "
			    "until it changes; connections are kept)");
		snprintf(g->commit_err, sizeof g->commit_err, "%s", err);
	} else {
		if (g->commits_failed > 0)
			gatherer_log("the statsfile is written again, after "
			    "%lu failed commits", g->commits_failed);
		g->commits_failed = 0;
		g->commit_err[0] = '\0';
		stats_count(g, STATS_COMMITS, 1);
		/* New nodes have their record now: they count as nodes. */
		for (i = 0; i < n && g->nnew > 0; i++)
			if ((c = gatherer_find(g, g->batch[i].node_id)) !=
			    NULL && c->is_new) {
				c->is_new = 0;
				g->nnew--;
			}
		if (g->cfg.verbose)
			gatherer_log("committed %zu snapshots (%zu samples, "
			    "%zu stats formatted) in %.1f ms", n, g->nsamples,
			    store_formatted() - formatted, sec * 1000.0);
	}
	/* Keep the slots' memory for the next batch, unless it was huge. */
	for (i = 0; i < n; i++) {
		if (batch_snap_size(&g->batch[i].snap) > BATCH_SLOT_KEEP)
			snapshot_free(&g->batch[i].snap);
		else
			snapshot_reset(&g->batch[i].snap);
	}
	g->nbatch = 0;
	g->nsamples = 0;
	/* The loop stood still during the commit. */
	ev_now_update(g->loop);
	ev_timer_again(g->loop, &g->trim_timer);
}

static void
batch_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	batch_commit(w->data);
}

/*
 * A round leaves the heap full of freed frame buffers and snapshot arrays
 * between live ones; once commits pause, free the batch's spare memory and
 * hand the free pages back, so that idle connections cost what they hold,
 * not what the burst left behind.
 */
static void
batch_trim_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gatherer	*g = w->data;
	size_t		 i;

	ev_timer_stop(loop, w);
	/* The free batch slots' memory too: a burst is what reuses it. */
	for (i = g->nbatch; i < BATCH_MAX; i++)
		snapshot_free(&g->batch[i].snap);
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}

int
batch_new(struct gatherer *g)
{
	if ((g->batch = calloc(BATCH_MAX, sizeof *g->batch)) == NULL ||
	    (g->slots = calloc(BATCH_MAX, sizeof *g->slots)) == NULL)
		return TALLY_ENOMEM;
	ev_init(&g->batch_timer, batch_cb);
	g->batch_timer.data = g;
	ev_init(&g->trim_timer, batch_trim_cb);
	g->trim_timer.repeat = BATCH_TRIM_QUIET;
	g->trim_timer.data = g;
	return 0;
}

int
batch_open(struct gatherer *g, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = store_open(&g->store, g->statsfile, 0, err, errlen)) != 0)
		return rc;
	return nodelock_open(&g->locks, g->statsfile, err, errlen);
}

void
batch_free(struct gatherer *g)
{
	size_t	 i;

	ev_timer_stop(g->loop, &g->batch_timer);
	ev_timer_stop(g->loop, &g->trim_timer);
	if (g->batch != NULL)
		for (i = 0; i < BATCH_MAX; i++)
			snapshot_free(&g->batch[i].snap);
	nodelock_close(g->locks);
	store_close(g->store);
	free(g->slots);
	free(g->batch);
}

struct batch_ent *
batch_next(struct gatherer *g)
{
	struct batch_ent	*e = &g->batch[g->nbatch];

	snapshot_reset(&e->snap);
	return e;
}

void
batch_spill(struct batch_ent *e)
{
	if (batch_snap_size(&e->snap) > BATCH_SLOT_KEEP)
		snapshot_free(&e->snap);
}

void
batch_add(struct gatherer *g, size_t n)
{
	if (g->nbatch++ == 0) {
		/* Set anew: a stopped timer keeps what was left of its wait. */
		ev_timer_set(&g->batch_timer, BATCH_DELAY, 0.);
		ev_timer_start(g->loop, &g->batch_timer);
	}
	g->nsamples += n;
	if (g->nbatch >= BATCH_MAX ||
	    g->nsamples >= BATCH_SAMPLES)
		batch_commit(g);
}

int
batch_lock(struct conn *c, char *err, size_t errlen)
{
	if (nodelock_take(c->g->locks, c->node_id, err, errlen) != 0)
		return -1;
	c->locked = 1;
	return 0;
}

void
batch_unlock(struct conn *c)
{
	struct gatherer	*g = c->g;

	/*
	 * Takes are counted: the lock goes with the node's last connection,
	 * and only once its last snapshot is written: a local writer that
	 * takes the lock next must resume from it, not be overwritten by it.
	 */
	if (c->locked) {
		if (batch_find(g, c->node_id) != NULL)
			batch_commit(g);
		nodelock_release(g->locks, c->node_id);
	}
	c->locked = 0;
}
