/*
 * snapshot.c: one node's counters and stats, as built at each flush.  Names
 * live in one arena so a snapshot of 10,000 metrics costs a few
 * allocations, reused from flush to flush.
 */
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"

void
snapshot_init(struct snapshot *s)
{
	memset(s, 0, sizeof *s);
}

void
snapshot_reset(struct snapshot *s)
{
	s->ncounters = 0;
	s->nstats = 0;
	s->alen = 0;
	s->seq = 0;
}

void
snapshot_free(struct snapshot *s)
{
	free(s->counters);
	free(s->stats);
	free(s->arena);
	snapshot_init(s);
}

static int
snapshot_add(struct snapshot *s, struct snapshot_ent **arr, size_t *n,
    size_t *cap, const char *name, size_t nlen, struct snapshot_ent **out)
{
	struct snapshot_ent	*e;

	if (*n == *cap) {
		size_t	 ncap = *cap ? *cap * 2 : 64;
		void	*na = realloc(*arr, ncap * sizeof **arr);
		if (na == NULL)
			return TALLY_ENOMEM;
		*arr = na;
		*cap = ncap;
	}
	if (s->alen + nlen + 1 > s->acap) {
		size_t	 ncap = s->acap ? s->acap : 4096;
		char	*na;
		while (ncap < s->alen + nlen + 1)
			ncap *= 2;
		if ((na = realloc(s->arena, ncap)) == NULL)
			return TALLY_ENOMEM;
		s->arena = na;
		s->acap = ncap;
	}
	e = &(*arr)[(*n)++];
	e->name = s->alen;
	e->nlen = (uint16_t)nlen;
	e->seq = s->seq++;
	memcpy(s->arena + s->alen, name, nlen);
	s->arena[s->alen + nlen] = '\0';
	s->alen += nlen + 1;
	*out = e;
	return 0;
}

int
snapshot_add_counter(struct snapshot *s, const char *name, size_t nlen,
    int64_t v)
{
	struct snapshot_ent	*e;
	int			 rc;

	rc = snapshot_add(s, &s->counters, &s->ncounters, &s->ccap, name, nlen,
	    &e);
	if (rc == 0)
		e->v.i = v;
	return rc;
}

int
snapshot_add_stat(struct snapshot *s, const char *name, size_t nlen,
    double v)
{
	struct snapshot_ent	*e;
	int			 rc;

	rc = snapshot_add(s, &s->stats, &s->nstats, &s->scap, name, nlen, &e);
	if (rc == 0)
		e->v.d = v;
	return rc;
}

/* Dropping a producer's values: the arena keeps their names, harmlessly. */
void
snapshot_truncate_stats(struct snapshot *s, size_t n)
{
	if (n < s->nstats)
		s->nstats = n;
}

static int
snapshot_cmp(const void *a, const void *b, void *arena)
{
	const struct snapshot_ent *x = a, *y = b;
	int c = strcmp((const char *)arena + x->name,
	    (const char *)arena + y->name);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static size_t
snapshot_sort(const char *arena, struct snapshot_ent *arr, size_t n)
{
	size_t	 i, o;

	if (n < 2)
		return n;
	/* Providers send their names sorted: then there is nothing to do. */
	for (i = 1; i < n; i++)
		if (strcmp(arena + arr[i - 1].name, arena + arr[i].name) >= 0)
			break;
	if (i == n)
		return n;
	qsort_r(arr, n, sizeof *arr, snapshot_cmp, (void *)arena);
	/* Equal names are adjacent, in insertion order: keep the last. */
	for (i = 1, o = 0; i < n; i++) {
		if (strcmp(arena + arr[i].name, arena + arr[o].name) != 0)
			o++;
		arr[o] = arr[i];
	}
	return o + 1;
}

void
snapshot_finish(struct snapshot *s)
{
	s->ncounters = snapshot_sort(s->arena, s->counters, s->ncounters);
	s->nstats = snapshot_sort(s->arena, s->stats, s->nstats);
}
