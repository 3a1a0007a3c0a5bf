/*
 * histogram.c: latency distributions that cost about two counter adds.
 *
 * Buckets are those of Prometheus's native histograms at schema 3: eight a
 * power of two, bucket i counting the observations x with
 * 2^((i-1)/8) < x <= 2^(i/8) seconds.  Buckets -240 (2^-30 s, under a
 * nanosecond) to 112 (2^14 s, four and a half hours) are kept; the first
 * also counts everything smaller, 0 included, the last everything larger.
 * A percentile is read as the geometric middle of its bucket, 2^((i-1/2)/8),
 * at most 2^(1/16) - 1 = 4.43% from the true value (libtally(3)).
 *
 * A histogram's buckets and its sum (integer nanoseconds) are cells of
 * counter.c, a range of slots in one chunk: an observation is two
 * thread-local adds, with no lock, no atomic read-modify-write and no
 * allocation after the thread's first.  A thread's exit folds its cells
 * into the bases as a counter's.
 *
 * In a snapshot, a histogram H is ordinary counters and stats (tally(5)):
 * the cumulative H.count, H.sum_ns and H.bucket.<i> (non-zero ones only),
 * which resume as counters do, and, over the interval since the previous
 * snapshot for the same destination (the statsfile or the gatherer),
 * H.mean and the original system's percentiles H.50_0_percentile and so
 * on, nan for an interval without observation.  Resumed parts come back
 * as counters of the provider's counter set; a histogram adds their values
 * to its own, and its parts, put after the counters, win the snapshot's
 * de-duplication.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"
#include "counter-int.h"

#define HIST_NB		HISTOGRAM_NB
#define HIST_SUM	HIST_NB			/* the cell of the sum */
#define HIST_NCELLS	(HIST_NB + 1)

/* The interval stats: suffix and quantile (0: the mean). */
static const struct {
	const char	*suffix;
	double		 q;
} hist_stats[] = {
	{ "mean",		0 },
	{ "01_0_percentile",	0.01 },
	{ "10_0_percentile",	0.10 },
	{ "50_0_percentile",	0.50 },
	{ "90_0_percentile",	0.90 },
	{ "95_0_percentile",	0.95 },
	{ "99_0_percentile",	0.99 },
	{ "99_9_percentile",	0.999 },
};
#define HIST_NSTATS	(sizeof hist_stats / sizeof hist_stats[0])

struct tally_histogram {
	uint32_t	 slot;		/* first of HIST_NCELLS cells */
	uint64_t	 refused;	/* atomic: negative, NaN, infinite */
	/* Collect's, on the provider's loop only (under the set's lock). */
	unsigned long	 rgen;		/* the counter set's resumes, seen */
	int64_t		 rrefused;		/* resumed H.refused */
	int64_t		 resumed[HIST_NCELLS];	/* resumed buckets and sum */
	/* Cells at dest's last snapshot that was written, and at its last. */
	int64_t		 prev[HISTOGRAM_NDEST][HIST_NCELLS];
	int64_t		 pend[HISTOGRAM_NDEST][HIST_NCELLS];
	int		 pending[HISTOGRAM_NDEST];
	uint16_t	 nlen;
	char		 name[];
};

struct histogram_set {
	pthread_mutex_t		  lock;
	struct counter_set	 *cs;
	struct tally_histogram	**all;
	size_t			  n, cap;
	pid_t			  pid;	/* the process that made it */
};

/*
 * The fraction bits of 2^(j/8), j = 1..7: x = 1.f * 2^e falls in
 * sub-bucket k of its power of two where k thresholds are below f.
 * Filled once, before the first histogram exists.
 */
static uint64_t		 hist_thresh[7];
static pthread_once_t	 hist_once = PTHREAD_ONCE_INIT;

#define HIST_FRAC_MASK	((UINT64_C(1) << 52) - 1)

static void
hist_init(void)
{
	uint64_t	 b;
	double		 t;
	int		 j;

	for (j = 1; j <= 7; j++) {
		t = exp2(j / 8.0);
		memcpy(&b, &t, sizeof b);
		hist_thresh[j - 1] = b & HIST_FRAC_MASK;
	}
}

/* Inlined into the hot path; histogram_index() is its name elsewhere. */
static inline int
hist_index(double x)
{
	uint64_t	 b, f;
	int		 e, i;

	memcpy(&b, &x, sizeof b);
	e = (int)((b >> 52) & 0x7ff) - 1023;
	f = b & HIST_FRAC_MASK;
	/* One test for both ends: e below -30 wraps to a large unsigned. */
	if (TALLY_UNLIKELY((unsigned)(e - HISTOGRAM_IMIN / 8) >=
	    (unsigned)(HISTOGRAM_IMAX / 8 - HISTOGRAM_IMIN / 8)))
		return e < 0 ? HISTOGRAM_IMIN : HISTOGRAM_IMAX;
	/* 2^e itself ends bucket 8e; above it, one more per threshold. */
	i = 8 * e + (f != 0) + (f > hist_thresh[0]) + (f > hist_thresh[1]) +
	    (f > hist_thresh[2]) + (f > hist_thresh[3]) +
	    (f > hist_thresh[4]) + (f > hist_thresh[5]) +
	    (f > hist_thresh[6]);
	return i;
}

int
histogram_index(double x)
{
	return hist_index(x);
}

double
histogram_value(int i)
{
	if (i <= HISTOGRAM_IMIN)
		return exp2(HISTOGRAM_IMIN / 8.0);
	return exp2((i - 0.5) / 8.0);
}

void
tally_histogram_observe(tally_histogram *h, double seconds)
{
	struct shard	*s = counter_tls;
	int64_t		*ch, *c, ns;
	int		 i;

	if (TALLY_UNLIKELY(h == NULL))
		return;
	/* NaN fails the first test, +inf the second. */
	if (TALLY_UNLIKELY(!(seconds >= 0.0) || seconds > DBL_MAX)) {
		__atomic_fetch_add(&h->refused, 1, __ATOMIC_RELAXED);
		return;
	}
	i = hist_index(seconds) - HISTOGRAM_IMIN;
	/* At most 10^9 s (31 years) an observation: no overflow in the sum. */
	ns = TALLY_LIKELY(seconds < 1e9) ? (int64_t)(seconds * 1e9 + 0.5) :
	    INT64_C(1000000000000000000);
	if (TALLY_LIKELY(s != NULL) &&
	    TALLY_LIKELY((ch = s->chunk[h->slot >> CELL_SHIFT]) != NULL)) {
		c = ch + (h->slot & CELL_MASK);
		/* Only this thread writes its cells; readers load them whole. */
		__atomic_store_n(&c[i], (int64_t)((uint64_t)__atomic_load_n(
		    &c[i], __ATOMIC_RELAXED) + 1), __ATOMIC_RELAXED);
		__atomic_store_n(&c[HIST_SUM], (int64_t)((uint64_t)
		    __atomic_load_n(&c[HIST_SUM], __ATOMIC_RELAXED) +
		    (uint64_t)ns), __ATOMIC_RELAXED);
		return;
	}
	counter_cell_add_slow(h->slot + (uint32_t)i, 1);
	counter_cell_add_slow(h->slot + HIST_SUM, ns);
}

int
histogram_set_new(struct histogram_set **hsp, struct counter_set *cs)
{
	struct histogram_set	*hs;

	pthread_once(&hist_once, hist_init);
	if ((hs = calloc(1, sizeof *hs)) == NULL)
		return TALLY_ENOMEM;
	pthread_mutex_init(&hs->lock, NULL);
	hs->pid = getpid();
	hs->cs = cs;
	*hsp = hs;
	return 0;
}

void
histogram_set_free(struct histogram_set *hs)
{
	size_t	 i;

	if (hs == NULL)
		return;
	for (i = 0; i < hs->n; i++) {
		counter_range_release(hs->all[i]->slot, HIST_NCELLS);
		free(hs->all[i]);
	}
	free(hs->all);
	/*
	 * A child of fork() may hold a copy that a thread of its parent held
	 * locked: destroying that is undefined, so only its maker does.
	 */
	if (hs->pid == getpid())
		pthread_mutex_destroy(&hs->lock);
	free(hs);
}

tally_histogram *
histogram_set_get(struct histogram_set *hs, const char *name, int *err)
{
	tally_histogram	*h = NULL;
	size_t		 len, i;
	void		*n;

	*err = 0;
	len = strlen(name);
	if (len > HISTOGRAM_NAME_MAX || !name_stat_valid(name, len)) {
		*err = TALLY_EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&hs->lock);
	for (i = 0; i < hs->n; i++) {
		if (hs->all[i]->nlen == len &&
		    memcmp(hs->all[i]->name, name, len) == 0) {
			h = hs->all[i];
			goto out;
		}
	}
	if (hs->n == hs->cap) {
		size_t	 ncap = hs->cap ? hs->cap * 2 : 8;
		if ((n = realloc(hs->all, ncap * sizeof *hs->all)) == NULL) {
			*err = TALLY_ENOMEM;
			goto out;
		}
		hs->all = n;
		hs->cap = ncap;
	}
	if ((h = calloc(1, sizeof *h + len + 1)) == NULL) {
		*err = TALLY_ENOMEM;
		goto out;
	}
	if ((*err = counter_range_alloc(HIST_NCELLS, &h->slot)) != 0) {
		free(h);
		h = NULL;
		goto out;
	}
	h->rgen = (unsigned long)-1;	/* read the resumed parts first */
	h->nlen = (uint16_t)len;
	memcpy(h->name, name, len);
	hs->all[hs->n++] = h;
out:
	pthread_mutex_unlock(&hs->lock);
	return h;
}

/* "H.<suffix>" into buf (TALLY_STAT_NAME_MAX + 1 bytes): its length. */
static size_t
hist_part(const tally_histogram *h, char *buf, const char *fmt, int i)
{
	int	 n;

	memcpy(buf, h->name, h->nlen);
	n = snprintf(buf + h->nlen, TALLY_STAT_NAME_MAX + 1 - h->nlen, fmt, i);
	return h->nlen + (size_t)(n > 0 ? n : 0);
}

/* "H.<suffix>" for an interval stat. */
static size_t
hist_stat_name(const tally_histogram *h, char *buf, const char *suffix)
{
	size_t	 slen = strlen(suffix);

	memcpy(buf, h->name, h->nlen);
	buf[h->nlen] = '.';
	memcpy(buf + h->nlen + 1, suffix, slen + 1);
	return h->nlen + 1 + slen;
}

static int64_t
hist_peek(struct counter_set *cs, const tally_histogram *h, const char *fmt,
    int i)
{
	char	 buf[TALLY_STAT_NAME_MAX + 1];
	int64_t	 v;
	size_t	 len = hist_part(h, buf, fmt, i);

	return counter_set_peek(cs, buf, len, &v) ? v : 0;
}

/* The parts a statsfile or a gatherer gave back, once per resume. */
static void
hist_resumed(struct histogram_set *hs, tally_histogram *h)
{
	unsigned long	 gen = counter_set_resumes(hs->cs);
	int		 i;

	if (gen == h->rgen)
		return;
	h->rgen = gen;
	if (gen == 0)
		return;	/* nothing resumed: all zero already */
	for (i = HISTOGRAM_IMIN; i <= HISTOGRAM_IMAX; i++)
		h->resumed[i - HISTOGRAM_IMIN] = hist_peek(hs->cs, h,
		    ".bucket.%d", i);
	h->resumed[HIST_SUM] = hist_peek(hs->cs, h, ".sum_ns", 0);
	h->rrefused = hist_peek(hs->cs, h, ".refused", 0);
}

static inline int64_t
hist_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* The interval's mean and percentiles from its bucket counts d. */
static void
hist_interval(const int64_t *d, double *out)
{
	int64_t		 n = 0, cum = 0, rank;
	size_t		 k = 1;
	int		 i;

	for (i = 0; i < HIST_NB; i++)
		n += d[i] > 0 ? d[i] : 0;
	if (n <= 0) {
		for (k = 0; k < HIST_NSTATS; k++)
			out[k] = NAN;
		return;
	}
	/* An interval's sum is never negative: one that reads so wrapped. */
	out[0] = (double)(uint64_t)d[HIST_SUM] / 1e9 / (double)n;
	/* Nearest rank: the smallest bucket holding ceil(q n) samples. */
	for (i = 0; i < HIST_NB && k < HIST_NSTATS; i++) {
		cum += d[i] > 0 ? d[i] : 0;
		while (k < HIST_NSTATS) {
			rank = (int64_t)ceil(hist_stats[k].q * (double)n);
			if (rank < 1)
				rank = 1;
			if (cum < rank)
				break;
			out[k++] = histogram_value(i + HISTOGRAM_IMIN);
		}
	}
	for (; k < HIST_NSTATS; k++)
		out[k] = histogram_value(HISTOGRAM_IMAX);
}

static int
hist_collect(struct histogram_set *hs, tally_histogram *h, int dest,
    struct snapshot *snap)
{
	char		 buf[TALLY_STAT_NAME_MAX + 1];
	int64_t		 live[HIST_NCELLS], d[HIST_NCELLS], count, v;
	double		 st[HIST_NSTATS];
	uint64_t	 refused;
	size_t		 k;
	int		 i, rc;

	counter_range_sum(h->slot, HIST_NCELLS, live);
	hist_resumed(hs, h);
	/*
	 * The count is the buckets' sum, whatever a resumed H.count said: the
	 * two always agree in a snapshot.  A bucket resumed non-zero is put
	 * even at 0, so that its resumed counter never outlives it.
	 */
	count = 0;
	for (i = 0; i < HIST_NB; i++) {
		v = hist_add(h->resumed[i], live[i]);
		count = hist_add(count, v);
		if (v == 0 && h->resumed[i] == 0)
			continue;
		if ((rc = snapshot_add_counter(snap, buf, hist_part(h, buf,
		    ".bucket.%d", i + HISTOGRAM_IMIN), v)) != 0)
			return rc;
	}
	if ((rc = snapshot_add_counter(snap, buf, hist_part(h, buf,
	    ".count", 0), count)) != 0 ||
	    (rc = snapshot_add_counter(snap, buf, hist_part(h, buf,
	    ".sum_ns", 0), hist_add(h->resumed[HIST_SUM],
	    live[HIST_SUM]))) != 0)
		return rc;
	refused = __atomic_load_n(&h->refused, __ATOMIC_RELAXED);
	if ((v = hist_add(h->rrefused, (int64_t)refused)) != 0 &&
	    (rc = snapshot_add_counter(snap, buf, hist_part(h, buf,
	    ".refused", 0), v)) != 0)
		return rc;

	/*
	 * The interval: this process's own cells since dest's last snapshot
	 * that was written; they become its start once this one is
	 * (histogram_set_commit), so that a failed flush loses no interval.
	 */
	for (i = 0; i < HIST_NCELLS; i++) {
		d[i] = (int64_t)((uint64_t)live[i] -
		    (uint64_t)h->prev[dest][i]);
		h->pend[dest][i] = live[i];
	}
	h->pending[dest] = 1;
	hist_interval(d, st);
	for (k = 0; k < HIST_NSTATS; k++) {
		if ((rc = snapshot_add_stat(snap, buf, hist_stat_name(h, buf,
		    hist_stats[k].suffix), st[k])) != 0)
			return rc;
	}
	return 0;
}

int
histogram_set_collect(struct histogram_set *hs, int dest,
    struct snapshot *snap)
{
	size_t	 i;
	int	 rc = 0;

	if (dest < 0 || dest >= HISTOGRAM_NDEST)
		return TALLY_EINVAL;
	pthread_mutex_lock(&hs->lock);
	for (i = 0; i < hs->n && rc == 0; i++)
		rc = hist_collect(hs, hs->all[i], dest, snap);
	pthread_mutex_unlock(&hs->lock);
	return rc;
}

void
histogram_set_commit(struct histogram_set *hs, int dest)
{
	tally_histogram	*h;
	size_t		 i;

	if (dest < 0 || dest >= HISTOGRAM_NDEST)
		return;
	pthread_mutex_lock(&hs->lock);
	for (i = 0; i < hs->n; i++) {
		h = hs->all[i];
		if (!h->pending[dest])
			continue;
		memcpy(h->prev[dest], h->pend[dest], sizeof h->prev[dest]);
		h->pending[dest] = 0;
	}
	pthread_mutex_unlock(&hs->lock);
}
