/*
 * http-live.c: what tallyd's loop tells the HTTP thread (http.h): each
 * node it saw this run (connected or not, from where, with which key,
 * why it last went away) and the commits, under struct http's mutex.
 * Called from the loop; each a no-op without --http.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

uint32_t
http_hash(const char *s)
{
	uint32_t	 h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The slot of id in h->hash: where it is, or the empty one to take. */
static size_t
http_slot(const struct http *h, const char *id)
{
	size_t	 i, mask = h->hcap - 1;

	for (i = http_hash(id) & mask; h->hash[i] != 0; i = (i + 1) & mask)
		if (strcmp(h->nodes[h->hash[i] - 1].id, id) == 0)
			break;
	return i;
}

/* id's entry, made if new; NULL when out of memory.  Under h->mu. */
static struct http_node *
http_node_get(struct http *h, const char *id)
{
	struct http_node	*nodes;
	uint32_t		*hash;
	size_t			 i, cap, hcap;

	if (h->hcap > 0 && h->hash[i = http_slot(h, id)] != 0)
		return &h->nodes[h->hash[i] - 1];
	if (h->n >= HTTP_NODES_MAX)
		return NULL;
	if (h->n == h->cap) {
		cap = h->cap ? h->cap * 2 : 256;
		if ((nodes = realloc(h->nodes, cap * sizeof *nodes)) == NULL)
			return NULL;
		h->nodes = nodes;
		h->cap = cap;
	}
	if (2 * (h->n + 1) > h->hcap) {
		hcap = h->hcap ? h->hcap * 2 : 512;
		if ((hash = calloc(hcap, sizeof *hash)) == NULL)
			return NULL;
		free(h->hash);
		h->hash = hash;
		h->hcap = hcap;
		for (i = 0; i < h->n; i++)
			h->hash[http_slot(h, h->nodes[i].id)] = (uint32_t)i + 1;
	}
	memset(&h->nodes[h->n], 0, sizeof h->nodes[h->n]);
	snprintf(h->nodes[h->n].id, sizeof h->nodes[h->n].id, "%s", id);
	h->hash[http_slot(h, id)] = (uint32_t)h->n + 1;
	return &h->nodes[h->n++];
}

static void
http_counts(struct http *h, const struct gatherer *g)
{
	h->nconns = g->nconns;
	h->nready = (unsigned)g->tcount;
}

void
http_node_up(struct gatherer *g, const struct conn *c)
{
	struct http		*h = g->http;
	struct http_node	*n;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	if ((n = http_node_get(h, c->node_id)) != NULL) {
		snprintf(n->addr, sizeof n->addr, "%s", c->addr);
		snprintf(n->key, sizeof n->key, "%s", c->key);
		n->connected = 1;
		n->since = (int64_t)time(NULL);
	}
	http_counts(h, g);
	pthread_mutex_unlock(&h->mu);
}

void
http_node_down(struct gatherer *g, const struct conn *c, int was_up)
{
	struct http		*h = g->http;
	struct http_node	*n;

	if (h == NULL || c->node_id[0] == '\0')
		return;
	pthread_mutex_lock(&h->mu);
	if ((n = http_node_get(h, c->node_id)) != NULL) {
		if (was_up) {
			n->connected = 0;
			n->since = (int64_t)time(NULL);
			snprintf(n->error, sizeof n->error, "%s", c->reason);
		} else		/* a connection that claimed it, refused */
			snprintf(n->error, sizeof n->error, "refused from %s: "
			    "%s", c->addr, c->reason);
	}
	http_counts(h, g);
	pthread_mutex_unlock(&h->mu);
}

/* The ring slot of this second, emptied if it held an older one. */
static size_t
http_second(struct http *h, int64_t now)
{
	size_t	 i = (size_t)(now % HTTP_MINUTE);

	if (h->stamp[i] != now) {
		h->stamp[i] = now;
		h->snaps[i] = 0;
		h->cmax[i] = 0;
	}
	return i;
}

/* A connection opened or freed. */
void
http_conns(struct gatherer *g)
{
	struct http	*h = g->http;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	http_counts(h, g);
	pthread_mutex_unlock(&h->mu);
}

void
http_snapshot(struct gatherer *g)
{
	struct http	*h = g->http;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->snaps[http_second(h, (int64_t)time(NULL))]++;
	http_counts(h, g);
	pthread_mutex_unlock(&h->mu);
}

void
http_commit(struct gatherer *g, double sec, int ok, const char *err)
{
	struct http	*h = g->http;
	size_t		 i;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	i = http_second(h, (int64_t)time(NULL));
	if (sec > h->cmax[i])
		h->cmax[i] = sec;
	h->commit_last = sec;
	if (ok) {
		h->commit_failures = 0;
		h->commit_err[0] = '\0';
	} else {
		h->commit_failures++;
		snprintf(h->commit_err, sizeof h->commit_err, "%s", err);
	}
	pthread_mutex_unlock(&h->mu);
}

