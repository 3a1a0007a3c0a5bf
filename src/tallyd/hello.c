/*
 * hello.c: one HELLO a node id per --hello-interval.
 *
 * Each HELLO admitted costs tallyd a read of the node's counters and a
 * WELCOME of up to a frame (8 MiB of them), built on the loop.  A furl
 * holder saying HELLO again and again for a node with many counters, each
 * new connection replacing the last, would stall every other node's
 * polls.  So tallyd keeps, for each node id welcomed within the last
 * interval, when it was (noted once its WELCOME is out: a HELLO refused
 * for another reason is not), and refuses another HELLO for it within
 * the interval with ERROR busy ("try later"); a provider retries with
 * its backoff.  The table is swept of older entries whenever it would grow,
 * so it holds at most the ids welcomed within one interval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "tallyd.h"

#define HELLO_TABLE_MIN		256

struct hello_ent {
	struct hello_ent	*next;
	double			 at;		/* monotonic seconds */
	char			 id[TALLY_NODE_ID_MAX + 1];
};

static struct hello_ent **
hello_bucket(struct hello_ent **table, size_t size, const char *id)
{
	return &table[name_hash(id, strlen(id)) & (size - 1)];
}

/* Drop the entries older than the interval; rehash into nsize buckets. */
static int
hello_sweep(struct gatherer *g, double now, size_t nsize)
{
	struct hello_ent	**nt, *e, *next, **b;
	size_t			  i;

	if ((nt = calloc(nsize, sizeof *nt)) == NULL)
		return -1;
	for (i = 0; i < g->hello_size; i++) {
		for (e = g->hello[i]; e != NULL; e = next) {
			next = e->next;
			if (now - e->at >= g->cfg.hello_interval) {
				free(e);
				g->hello_count--;
				continue;
			}
			b = hello_bucket(nt, nsize, e->id);
			e->next = *b;
			*b = e;
		}
	}
	free(g->hello);
	g->hello = nt;
	g->hello_size = nsize;
	return 0;
}

static struct hello_ent *
hello_find(struct gatherer *g, const char *id)
{
	struct hello_ent	*e;

	if (g->hello == NULL)
		return NULL;
	for (e = *hello_bucket(g->hello, g->hello_size, id); e != NULL;
	    e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

/* 0 if node id may be welcomed now, else the seconds it must wait. */
double
hello_wait(struct gatherer *g, const char *id, double now)
{
	struct hello_ent	*e;

	if ((e = hello_find(g, id)) == NULL ||
	    now - e->at >= g->cfg.hello_interval)
		return 0;
	return g->cfg.hello_interval - (now - e->at);
}

/*
 * Node id was welcomed now.  Out of memory, or with more ids noted than
 * nodes and connections could make (a day's interval, new ids that come
 * and go), it is not: the limit is a defence, not a gate that fails
 * closed on the nodes.
 */
void
hello_note(struct gatherer *g, const char *id, double now)
{
	struct hello_ent	*e, **b;
	size_t			 nsize;

	if ((e = hello_find(g, id)) != NULL) {
		e->at = now;
		return;
	}
	if (g->hello_count >= g->hello_size) {
		/* Sweep at a load of 1; grow if half is still recent. */
		nsize = g->hello_size < HELLO_TABLE_MIN ? HELLO_TABLE_MIN :
		    g->hello_size;
		if (hello_sweep(g, now, nsize) != 0)
			return;
		if (g->hello_count >= nsize / 2 &&
		    hello_sweep(g, now, nsize * 2) != 0)
			return;
	}
	if (g->hello_count >= (size_t)g->cfg.max_nodes +
	    g->cfg.max_connections || (e = calloc(1, sizeof *e)) == NULL)
		return;
	snprintf(e->id, sizeof e->id, "%s", id);
	e->at = now;
	b = hello_bucket(g->hello, g->hello_size, id);
	e->next = *b;
	*b = e;
	g->hello_count++;
}

void
hello_free(struct gatherer *g)
{
	struct hello_ent	*e, *next;
	size_t			 i;

	for (i = 0; i < g->hello_size; i++)
		for (e = g->hello[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(g->hello);
	g->hello = NULL;
	g->hello_size = g->hello_count = 0;
}
