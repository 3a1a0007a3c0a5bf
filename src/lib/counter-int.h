/*
 * counter-int.h: the cells under counters, for counter.c and for
 * histogram.c, whose buckets are cells too (a range of slots in one
 * chunk).  Nothing here leaves libtally.
 */
#ifndef COUNTER_INT_H
#define COUNTER_INT_H

#include <stdint.h>

#define CELL_SHIFT	10
#define CELL_CHUNK	(1U << CELL_SHIFT)	/* 8 KiB of cells */
#define CELL_MASK	(CELL_CHUNK - 1)
#define CELL_NCHUNKS	1024			/* 1M counters a process */
#define CELL_MAX	(CELL_CHUNK * CELL_NCHUNKS)

/*
 * Counters a thread found by name (counter_set_get), in slots chosen by
 * the address of the name, the last one found there kept: a call with a
 * literal finds its counter without a strlen or a hash.  An entry counts
 * only for the set of its generation (a set freed and another made at
 * its address has a new one), and only if the name there still reads
 * the same: a buffer reused for another name misses.
 */
#define SHARD_NAMES	16

struct shard_name {
	const char		*name;
	uint64_t		 gen;
	struct tally_counter	*c;
};

/* A thread's cells: chunks indexed by slot >> CELL_SHIFT. */
struct shard {
	int64_t			*chunk[CELL_NCHUNKS];
	struct shard_name	 names[SHARD_NAMES];
	struct shard		*next;
	struct shard		**prevp;
};

/* This thread's shard, or NULL before its first add. */
extern __thread struct shard *counter_tls
    __attribute__((tls_model("initial-exec")));

/*
 * The slow path of an add to cell slot: a thread's first add to the
 * slot's chunk allocates its cells (or, out of memory, adds to the shared
 * base, so that nothing is lost).
 */
void	 counter_cell_add_slow(uint32_t, int64_t);

/*
 * n slots in one chunk, so that one chunk pointer serves them all: 0 and
 * the first slot, TALLY_ELIMIT or TALLY_ENOMEM.  The slots of the chunk
 * skipped to find room go to the free list, for single counters.
 */
int	 counter_range_alloc(uint32_t, uint32_t *);
/* Zero n slots from slot everywhere and free them for reuse. */
void	 counter_range_release(uint32_t, uint32_t);
/* The sums (bases and every thread's cells) of n slots from slot. */
void	 counter_range_sum(uint32_t, uint32_t, int64_t *);

#endif /* COUNTER_INT_H */
