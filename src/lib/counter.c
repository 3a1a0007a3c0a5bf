/*
 * counter.c: counters that cost a thread-local add.
 *
 * Every counter owns a slot, a process-wide index.  Each thread that counts
 * has a shard: chunks of int64 cells indexed by slot, allocated on the
 * thread's first use of a chunk.  A thread only ever writes its own cells,
 * with a plain load and a relaxed atomic store: no lock, no read-modify-write
 * on a shared cache line, so two threads on one counter scale.  A flush
 * sums a counter's cells over all shards, plus its base: what exited
 * threads left behind and what was resumed from the statsfile.  A
 * histogram (histogram.c) owns a range of slots within one chunk, its
 * buckets and its sum; a released range is kept for the next histogram.
 *
 * Names map to counters through an open-addressing table per provider that
 * readers walk without a lock: entries are only ever added, and a grown
 * table is published whole while the old one stays valid until the
 * provider is freed.
 *
 * Counters are 64-bit and wrap modulo 2^64 (libtally(3)): every add and
 * every sum is done in uint64_t and converted back to int64_t, which GCC
 * and Clang define as modulo 2^64.  The total is then the same whatever
 * the order of the adds and however they are spread over threads, and it
 * is never undefined behaviour, even for a value near INT64_MAX resumed
 * from a statsfile that anyone may have written.  The bases' atomic adds
 * are unsigned too (counter_base_add).
 *
 * fork(): counter_lock is taken before the fork and released on both
 * sides (counter_atfork_*), so that a child never finds it held by a
 * thread it has not got.  The child keeps the parent's other threads'
 * shards on counter_shards: their memory stays valid and nothing writes
 * it any more, their cells hold what those threads had counted for the
 * parent's providers' slots, and a slot the child allocates is either new
 * (its cells were never written) or was zeroed in every shard when it was
 * released, under the lock.  Summing them is therefore safe; they are
 * only not freed.  A provider's own cs->lock is not handled: a child must
 * not use its parent's providers (tally.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"
#include "counter-int.h"

struct tally_counter {
	uint64_t	 hash;
	uint32_t	 slot;
	uint16_t	 nlen;
	char		 name[];
};

struct ctable {
	struct ctable	*retired;	/* older tables, freed with the set */
	size_t		 mask;
	tally_counter	*slot[];
};

struct counter_set {
	uint64_t	  gen;		/* unique in the process, never 0 */
	pthread_mutex_t	  lock;		/* serialises creation */
	pid_t		  pid;		/* the process that made it */
	unsigned long	  resumes;	/* atomic: counter_set_resume calls */
	struct ctable	 *tab;		/* read with acquire, no lock */
	size_t		  n;		/* published with release */
	tally_counter	**all[CELL_NCHUNKS];
};

/* Process-wide: slots, shards and bases, under counter_lock. */
static pthread_mutex_t	 counter_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shard	*counter_shards;
static int64_t		*counter_base[CELL_NCHUNKS];
static uint32_t		 counter_nslots;
static uint32_t		*counter_freeslots;
static size_t		 counter_nfree, counter_freecap;
/* Released ranges (histograms'), for ranges of the same size. */
static struct { uint32_t slot, n; } *counter_freeranges;
static size_t		 counter_nfreer, counter_freercap;
static pthread_key_t	 counter_key;
static pthread_once_t	 counter_once = PTHREAD_ONCE_INIT;
static int		 counter_key_ok;
static uint64_t		 counter_gens;	/* atomic: sets made so far */

/* Adds modulo 2^64, so that no add or sum is undefined behaviour. */
static inline int64_t
counter_wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* The same, atomically, into a base that other threads add to. */
static inline void
counter_base_add(int64_t *base, int64_t v)
{
	__atomic_fetch_add((uint64_t *)base, (uint64_t)v, __ATOMIC_RELAXED);
}

/* initial-exec: no __tls_get_addr call on the hot path. */
__thread struct shard *counter_tls __attribute__((tls_model("initial-exec")));

/* A thread exits: fold its cells into the bases so nothing is lost. */
static void
counter_shard_exit(void *arg)
{
	struct shard	*s = arg;
	uint32_t	 ci, j;

	pthread_mutex_lock(&counter_lock);
	for (ci = 0; ci < CELL_NCHUNKS; ci++) {
		if (s->chunk[ci] == NULL)
			continue;
		for (j = 0; j < CELL_CHUNK; j++) {
			if (s->chunk[ci][j] != 0 && counter_base[ci] != NULL)
				counter_base_add(&counter_base[ci][j],
				    s->chunk[ci][j]);
		}
		free(s->chunk[ci]);
	}
	*s->prevp = s->next;
	if (s->next != NULL)
		s->next->prevp = s->prevp;
	pthread_mutex_unlock(&counter_lock);
	free(s);
	counter_tls = NULL;
}

/* fork(): hold counter_lock across it, so that both sides find it free. */
static void
counter_atfork_prepare(void)
{
	pthread_mutex_lock(&counter_lock);
}

static void
counter_atfork_release(void)
{
	pthread_mutex_unlock(&counter_lock);
}

/*
 * Once a process, before anything takes counter_lock: every path to it
 * goes through counter_set_new() or counter_shard_new().
 */
static void
counter_init(void)
{
	counter_key_ok = pthread_key_create(&counter_key,
	    counter_shard_exit) == 0;
	pthread_atfork(counter_atfork_prepare, counter_atfork_release,
	    counter_atfork_release);
}

static struct shard *
counter_shard_new(void)
{
	struct shard	*s;

	pthread_once(&counter_once, counter_init);
	if (!counter_key_ok || (s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	pthread_mutex_lock(&counter_lock);
	s->next = counter_shards;
	if (s->next != NULL)
		s->next->prevp = &s->next;
	s->prevp = &counter_shards;
	counter_shards = s;
	pthread_mutex_unlock(&counter_lock);
	pthread_setspecific(counter_key, s);
	counter_tls = s;
	return s;
}

/* A thread's first add to a slot's chunk: allocate its cells. */
void __attribute__((noinline))
counter_cell_add_slow(uint32_t slot, int64_t delta)
{
	struct shard	*s = counter_tls;
	uint32_t	 ci = slot >> CELL_SHIFT;
	int64_t		*ch;

	if (s == NULL && (s = counter_shard_new()) == NULL)
		goto fallback;
	if ((ch = s->chunk[ci]) == NULL) {
		if ((ch = calloc(CELL_CHUNK, sizeof *ch)) == NULL)
			goto fallback;
		__atomic_store_n(&s->chunk[ci], ch, __ATOMIC_RELEASE);
	}
	/* The chunk is published: a flush may be reading this cell. */
	__atomic_store_n(&ch[slot & CELL_MASK], counter_wrap_add(
	    __atomic_load_n(&ch[slot & CELL_MASK], __ATOMIC_RELAXED), delta),
	    __ATOMIC_RELAXED);
	return;
fallback:
	/* Out of memory: count on the shared base rather than lose it. */
	counter_base_add(&counter_base[ci][slot & CELL_MASK], delta);
}

void
tally_counter_add(tally_counter *c, int64_t delta)
{
	struct shard	*s = counter_tls;
	int64_t		*ch, *cell;

	if (TALLY_LIKELY(s != NULL) &&
	    TALLY_LIKELY((ch = s->chunk[c->slot >> CELL_SHIFT]) != NULL)) {
		cell = &ch[c->slot & CELL_MASK];
		/* Only this thread writes the cell; readers load it whole. */
		__atomic_store_n(cell, counter_wrap_add(__atomic_load_n(cell,
		    __ATOMIC_RELAXED), delta), __ATOMIC_RELAXED);
		return;
	}
	counter_cell_add_slow(c->slot, delta);
}

/* The caller holds counter_lock. */
static int64_t
counter_sum(uint32_t slot)
{
	struct shard	*s;
	uint32_t	 ci = slot >> CELL_SHIFT, j = slot & CELL_MASK;
	int64_t		 v, *ch;

	v = __atomic_load_n(&counter_base[ci][j], __ATOMIC_RELAXED);
	for (s = counter_shards; s != NULL; s = s->next) {
		ch = __atomic_load_n(&s->chunk[ci], __ATOMIC_ACQUIRE);
		if (ch != NULL)
			v = counter_wrap_add(v, __atomic_load_n(&ch[j],
			    __ATOMIC_RELAXED));
	}
	return v;
}

int64_t
tally_counter_value(tally_counter *c)
{
	int64_t	 v;

	pthread_mutex_lock(&counter_lock);
	v = counter_sum(c->slot);
	pthread_mutex_unlock(&counter_lock);
	return v;
}

/* Chunk ci's bases, allocated on its first slot; the caller holds the lock. */
static int
counter_base_chunk(uint32_t ci)
{
	if (counter_base[ci] == NULL &&
	    (counter_base[ci] = calloc(CELL_CHUNK, sizeof(int64_t))) == NULL)
		return TALLY_ENOMEM;
	return 0;
}

static int
counter_slot_alloc(uint32_t *slot)
{
	int		 rc = 0;

	pthread_mutex_lock(&counter_lock);
	if (counter_nfree > 0) {
		*slot = counter_freeslots[--counter_nfree];
		goto out;
	}
	if (counter_nslots >= CELL_MAX) {
		rc = TALLY_ELIMIT;
		goto out;
	}
	if ((rc = counter_base_chunk(counter_nslots >> CELL_SHIFT)) != 0)
		goto out;
	*slot = counter_nslots++;
out:
	pthread_mutex_unlock(&counter_lock);
	return rc;
}

/*
 * Zero n cells from slot in the bases and every shard; the caller holds
 * the lock.  A thread's first add may publish its chunk meanwhile, without
 * the lock: the chunk pointer is loaded atomically, and a chunk published
 * after the load is new, all zeros.
 */
static void
counter_cells_zero(uint32_t slot, uint32_t n)
{
	struct shard	*s;
	uint32_t	 ci = slot >> CELL_SHIFT, j = slot & CELL_MASK, i;
	int64_t		*ch;

	for (i = 0; i < n; i++)
		__atomic_store_n(&counter_base[ci][j + i], 0, __ATOMIC_RELAXED);
	for (s = counter_shards; s != NULL; s = s->next) {
		ch = __atomic_load_n(&s->chunk[ci], __ATOMIC_ACQUIRE);
		if (ch == NULL)
			continue;
		for (i = 0; i < n; i++)
			__atomic_store_n(&ch[j + i], 0, __ATOMIC_RELAXED);
	}
}

/* Zero a slot everywhere and keep it for reuse; caller holds the lock. */
static void
counter_slot_release(uint32_t slot)
{
	counter_cells_zero(slot, 1);
	if (counter_nfree == counter_freecap) {
		size_t	 ncap = counter_freecap ? counter_freecap * 2 : 256;
		void	*n = realloc(counter_freeslots, ncap * sizeof(uint32_t));
		if (n == NULL)
			return;	/* the slot is leaked, not corrupted */
		counter_freeslots = n;
		counter_freecap = ncap;
	}
	counter_freeslots[counter_nfree++] = slot;
}

int
counter_range_alloc(uint32_t n, uint32_t *slot)
{
	uint32_t	 end;
	size_t		 i;
	int		 rc = 0;

	if (n == 0 || n > CELL_CHUNK)
		return TALLY_EINVAL;
	pthread_once(&counter_once, counter_init);
	pthread_mutex_lock(&counter_lock);
	/* A range released before, zeroed then, of this size. */
	for (i = counter_nfreer; i-- > 0;) {
		if (counter_freeranges[i].n == n) {
			*slot = counter_freeranges[i].slot;
			counter_freeranges[i] = counter_freeranges[--counter_nfreer];
			goto out;
		}
	}
	/* Past the end of this chunk: its rest goes to single counters. */
	if ((counter_nslots & CELL_MASK) + n > CELL_CHUNK) {
		end = (counter_nslots | CELL_MASK) + 1;
		if (end > CELL_MAX) {
			rc = TALLY_ELIMIT;
			goto out;
		}
		if ((rc = counter_base_chunk(counter_nslots >> CELL_SHIFT)) != 0)
			goto out;
		while (counter_nslots < end)
			counter_slot_release(counter_nslots++);
	}
	if (counter_nslots + n > CELL_MAX) {
		rc = TALLY_ELIMIT;
		goto out;
	}
	if ((rc = counter_base_chunk(counter_nslots >> CELL_SHIFT)) != 0)
		goto out;
	*slot = counter_nslots;
	counter_nslots += n;
out:
	pthread_mutex_unlock(&counter_lock);
	return rc;
}

void
counter_range_release(uint32_t slot, uint32_t n)
{
	uint32_t	 i;
	void		*nr;

	pthread_mutex_lock(&counter_lock);
	counter_cells_zero(slot, n);
	if (counter_nfreer == counter_freercap) {
		size_t	 ncap = counter_freercap ? counter_freercap * 2 : 16;
		if ((nr = realloc(counter_freeranges,
		    ncap * sizeof *counter_freeranges)) == NULL) {
			/* Out of memory: the cells serve single counters. */
			for (i = 0; i < n; i++)
				counter_slot_release(slot + i);
			goto out;
		}
		counter_freeranges = nr;
		counter_freercap = ncap;
	}
	counter_freeranges[counter_nfreer].slot = slot;
	counter_freeranges[counter_nfreer].n = n;
	counter_nfreer++;
out:
	pthread_mutex_unlock(&counter_lock);
}

void
counter_range_sum(uint32_t slot, uint32_t n, int64_t *out)
{
	struct shard	*s;
	uint32_t	 ci = slot >> CELL_SHIFT, j = slot & CELL_MASK, i;
	int64_t		*ch;

	pthread_mutex_lock(&counter_lock);
	for (i = 0; i < n; i++)
		out[i] = __atomic_load_n(&counter_base[ci][j + i],
		    __ATOMIC_RELAXED);
	for (s = counter_shards; s != NULL; s = s->next) {
		ch = __atomic_load_n(&s->chunk[ci], __ATOMIC_ACQUIRE);
		if (ch == NULL)
			continue;
		for (i = 0; i < n; i++)
			out[i] = counter_wrap_add(out[i],
			    __atomic_load_n(&ch[j + i], __ATOMIC_RELAXED));
	}
	pthread_mutex_unlock(&counter_lock);
}

/* A fast hash of short strings, eight bytes at a time. */
static inline uint64_t
counter_hash(const char *s, size_t len)
{
	uint64_t	 h = 0x9e3779b97f4a7c15ULL ^ len, w;

	while (len >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
		s += 8;
		len -= 8;
	}
	if (len > 0) {
		w = 0;
		memcpy(&w, s, len);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	}
	h ^= h >> 29;
	return h;
}

static struct ctable *
counter_table_new(size_t size)
{
	struct ctable	*t;

	t = calloc(1, sizeof *t + size * sizeof t->slot[0]);
	if (t != NULL)
		t->mask = size - 1;
	return t;
}

static tally_counter *
counter_find(struct ctable *t, const char *name, size_t len, uint64_t h)
{
	tally_counter	*c;
	size_t		 i;

	for (i = h & t->mask;; i = (i + 1) & t->mask) {
		c = __atomic_load_n(&t->slot[i], __ATOMIC_ACQUIRE);
		if (c == NULL)
			return NULL;
		if (c->hash == h && c->nlen == len &&
		    memcmp(c->name, name, len) == 0)
			return c;
	}
}

static void
counter_table_insert(struct ctable *t, tally_counter *c)
{
	size_t	 i;

	for (i = c->hash & t->mask; t->slot[i] != NULL; i = (i + 1) & t->mask)
		;
	__atomic_store_n(&t->slot[i], c, __ATOMIC_RELEASE);
}

int
counter_set_new(struct counter_set **csp)
{
	struct counter_set	*cs;

	pthread_once(&counter_once, counter_init);
	if ((cs = calloc(1, sizeof *cs)) == NULL)
		return TALLY_ENOMEM;
	if ((cs->tab = counter_table_new(256)) == NULL) {
		free(cs);
		return TALLY_ENOMEM;
	}
	pthread_mutex_init(&cs->lock, NULL);
	cs->pid = getpid();
	cs->gen = __atomic_add_fetch(&counter_gens, 1, __ATOMIC_RELAXED);
	*csp = cs;
	return 0;
}

static tally_counter *
counter_at(struct counter_set *cs, size_t i)
{
	return cs->all[i >> CELL_SHIFT][i & CELL_MASK];
}

void
counter_set_free(struct counter_set *cs)
{
	struct ctable	*t, *next;
	size_t		 i;

	if (cs == NULL)
		return;
	pthread_mutex_lock(&counter_lock);
	for (i = 0; i < cs->n; i++)
		counter_slot_release(counter_at(cs, i)->slot);
	pthread_mutex_unlock(&counter_lock);
	for (i = 0; i < cs->n; i++)
		free(counter_at(cs, i));
	for (i = 0; i < CELL_NCHUNKS && cs->all[i] != NULL; i++)
		free(cs->all[i]);
	for (t = cs->tab; t != NULL; t = next) {
		next = t->retired;
		free(t);
	}
	/*
	 * A child of fork() may hold a copy that a thread of its parent held
	 * locked: destroying that is undefined, so only its maker does.
	 */
	if (cs->pid == getpid())
		pthread_mutex_destroy(&cs->lock);
	free(cs);
}

static tally_counter *
counter_create(struct counter_set *cs, const char *name, size_t len,
    uint64_t h, int *err)
{
	struct ctable	*t, *nt;
	tally_counter	*c;
	size_t		 i, n;

	pthread_mutex_lock(&cs->lock);
	t = cs->tab;
	if ((c = counter_find(t, name, len, h)) != NULL)
		goto out;
	if (!name_stat_valid(name, len)) {
		*err = TALLY_EINVAL;
		goto out;
	}
	/*
	 * A set holding every slot of the process is full: say so before
	 * cs->all is indexed past its end.  Other sets hold slots too, so
	 * counter_slot_alloc() checks the process-wide limit below.
	 */
	if ((n = cs->n) >= CELL_MAX) {
		*err = TALLY_ELIMIT;
		goto out;
	}
	if (cs->all[n >> CELL_SHIFT] == NULL &&
	    (cs->all[n >> CELL_SHIFT] = calloc(CELL_CHUNK,
	    sizeof(tally_counter *))) == NULL) {
		*err = TALLY_ENOMEM;
		goto out;
	}
	/* Keep the table at most half full; publish a grown one whole. */
	if ((n + 1) * 2 > t->mask + 1) {
		if ((nt = counter_table_new((t->mask + 1) * 2)) == NULL) {
			*err = TALLY_ENOMEM;
			goto out;
		}
		for (i = 0; i < n; i++)
			counter_table_insert(nt, counter_at(cs, i));
		nt->retired = t;
		__atomic_store_n(&cs->tab, nt, __ATOMIC_RELEASE);
		t = nt;
	}
	if ((c = malloc(sizeof *c + len + 1)) == NULL) {
		*err = TALLY_ENOMEM;
		goto out;
	}
	if ((*err = counter_slot_alloc(&c->slot)) != 0) {
		free(c);
		c = NULL;
		goto out;
	}
	c->hash = h;
	c->nlen = (uint16_t)len;
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	cs->all[n >> CELL_SHIFT][n & CELL_MASK] = c;
	__atomic_store_n(&cs->n, n + 1, __ATOMIC_RELEASE);
	counter_table_insert(t, c);
out:
	pthread_mutex_unlock(&cs->lock);
	return c;
}

tally_counter *
counter_set_get(struct counter_set *cs, const char *name, int *err)
{
	struct shard		*s = counter_tls;
	struct shard_name	*e = NULL;
	struct ctable		*t;
	tally_counter		*c;
	size_t			 len;
	uint64_t		 h;

	*err = 0;
	/*
	 * An entry of this set's generation holds one of its counters,
	 * alive as long as the set (entries are never removed).
	 */
	if (TALLY_LIKELY(s != NULL)) {
		e = &s->names[((uintptr_t)name ^ (uintptr_t)name >> 5) &
		    (SHARD_NAMES - 1)];
		if (e->name == name && e->gen == cs->gen &&
		    strcmp(e->c->name, name) == 0)
			return e->c;
	}
	len = strlen(name);
	h = counter_hash(name, len);
	t = __atomic_load_n(&cs->tab, __ATOMIC_ACQUIRE);
	if (TALLY_UNLIKELY((c = counter_find(t, name, len, h)) == NULL) &&
	    (c = counter_create(cs, name, len, h, err)) == NULL)
		return NULL;
	if (s != NULL) {
		e->name = name;
		e->gen = cs->gen;
		e->c = c;
	}
	return c;
}

int
counter_set_resume(struct counter_set *cs, const char *name, size_t len,
    int64_t v)
{
	tally_counter	*c;
	char		 buf[TALLY_STAT_NAME_MAX + 1];
	int		 err;

	if (len > TALLY_STAT_NAME_MAX)
		return TALLY_EINVAL;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if ((c = counter_set_get(cs, buf, &err)) == NULL)
		return err;
	counter_base_add(&counter_base[c->slot >> CELL_SHIFT]
	    [c->slot & CELL_MASK], v);
	__atomic_fetch_add(&cs->resumes, 1, __ATOMIC_RELEASE);
	return 0;
}

unsigned long
counter_set_resumes(struct counter_set *cs)
{
	return __atomic_load_n(&cs->resumes, __ATOMIC_ACQUIRE);
}

int
counter_set_peek(struct counter_set *cs, const char *name, size_t len,
    int64_t *v)
{
	tally_counter	*c;

	c = counter_find(__atomic_load_n(&cs->tab, __ATOMIC_ACQUIRE), name,
	    len, counter_hash(name, len));
	if (c == NULL)
		return 0;
	pthread_mutex_lock(&counter_lock);
	*v = counter_sum(c->slot);
	pthread_mutex_unlock(&counter_lock);
	return 1;
}

int
counter_set_collect(struct counter_set *cs, struct snapshot *snap)
{
	tally_counter	*c;
	size_t		 i, n = __atomic_load_n(&cs->n, __ATOMIC_ACQUIRE);
	int		 rc = 0;

	pthread_mutex_lock(&counter_lock);
	for (i = 0; i < n && rc == 0; i++) {
		c = counter_at(cs, i);
		rc = snapshot_add_counter(snap, c->name, c->nlen,
		    counter_sum(c->slot));
	}
	pthread_mutex_unlock(&counter_lock);
	return rc;
}

size_t
counter_set_count(struct counter_set *cs)
{
	return __atomic_load_n(&cs->n, __ATOMIC_ACQUIRE);
}
