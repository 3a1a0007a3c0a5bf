/*
 * check_histogram.c: histograms' buckets, their percentiles against exact
 * ones, threads, refused values, intervals, and resuming from a statsfile.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "tally-int.h"
#include "store-int.h"
#include "fixture.h"

/* The stated bound: a bucket's geometric middle against any value in it. */
#define REL_ERR		(exp2(1 / 16.0) - 1)

static struct counter_set	*cs;
static struct histogram_set	*hs;
static struct snapshot		 snap;
static char			 dir[FIXTURE_PATH_MAX];

static void
setup(void)
{
	ck_assert_int_eq(counter_set_new(&cs), 0);
	ck_assert_int_eq(histogram_set_new(&hs, cs), 0);
	snapshot_init(&snap);
}

static void
teardown(void)
{
	snapshot_free(&snap);
	histogram_set_free(hs);
	counter_set_free(cs);
}

/* Collect for dest into a fresh snapshot; commit it, as a written one. */
static void
collect_only(int dest)
{
	snapshot_reset(&snap);
	ck_assert_int_eq(counter_set_collect(cs, &snap), 0);
	ck_assert_int_eq(histogram_set_collect(hs, dest, &snap), 0);
	snapshot_finish(&snap);
}

static void
collect(int dest)
{
	collect_only(dest);
	histogram_set_commit(hs, dest);
}

static const struct snapshot_ent *
find(const struct snapshot_ent *e, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (strcmp(snapshot_name(&snap, &e[i]), name) == 0)
			return &e[i];
	}
	return NULL;
}

/* Counter name of the last collect; -1 if absent. */
static int64_t
ctr(const char *name)
{
	const struct snapshot_ent *e = find(snap.counters, snap.ncounters,
	    name);

	return e != NULL ? e->v.i : -1;
}

static double
st_of(const char *name)
{
	const struct snapshot_ent *e = find(snap.stats, snap.nstats, name);

	ck_assert_msg(e != NULL, "no stat %s", name);
	return e->v.d;
}

START_TEST(test_index)
{
	int	 i;
	double	 b;

	ck_assert_int_eq(histogram_index(1.0), 0);
	ck_assert_int_eq(histogram_index(2.0), 8);
	ck_assert_int_eq(histogram_index(0.5), -8);
	ck_assert_int_eq(histogram_index(nextafter(1.0, 2.0)), 1);
	ck_assert_int_eq(histogram_index(0.0), HISTOGRAM_IMIN);
	ck_assert_int_eq(histogram_index(-0.0), HISTOGRAM_IMIN);
	ck_assert_int_eq(histogram_index(DBL_MIN / 4), HISTOGRAM_IMIN);
	ck_assert_int_eq(histogram_index(1e-12), HISTOGRAM_IMIN);
	ck_assert_int_eq(histogram_index(exp2(-30)), HISTOGRAM_IMIN);
	ck_assert_int_eq(histogram_index(nextafter(exp2(-30), 1)),
	    HISTOGRAM_IMIN + 1);
	ck_assert_int_eq(histogram_index(exp2(14)), HISTOGRAM_IMAX);
	ck_assert_int_eq(histogram_index(1e9), HISTOGRAM_IMAX);
	ck_assert_int_eq(histogram_index(DBL_MAX), HISTOGRAM_IMAX);
	/* Every bound as readers compute it is its bucket's, upper-inclusive. */
	for (i = HISTOGRAM_IMIN; i <= HISTOGRAM_IMAX; i++) {
		b = exp2(i / 8.0);
		ck_assert_int_eq(histogram_index(b), i);
		if (i < HISTOGRAM_IMAX)
			ck_assert_int_eq(histogram_index(nextafter(b, INFINITY)),
			    i + 1);
		if (i > HISTOGRAM_IMIN) {
			ck_assert_int_eq(histogram_index(nextafter(b, 0)), i);
			ck_assert(fabs(histogram_value(i) / b - exp2(-1 / 16.0))
			    < 1e-12);
		}
	}
}
END_TEST

/* splitmix64: the same samples on every run. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t	 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double
unif(uint64_t *s)
{
	return ((double)(rnd(s) >> 11) + 0.5) / 9007199254740992.0;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

enum dist { D_UNIFORM, D_EXPONENTIAL, D_BIMODAL };
static const char *dist_name[] = { "uniform", "exponential", "bimodal" };

#define NSAMPLES	1000000

START_TEST(test_accuracy)
{
	static const struct { const char *n; double q; } pct[] = {
		{ "lat.01_0_percentile", 0.01 }, { "lat.10_0_percentile", 0.10 },
		{ "lat.50_0_percentile", 0.50 }, { "lat.90_0_percentile", 0.90 },
		{ "lat.95_0_percentile", 0.95 }, { "lat.99_0_percentile", 0.99 },
		{ "lat.99_9_percentile", 0.999 },
	};
	tally_histogram	*h;
	double		*x, exact, got, mean = 0;
	int64_t		 sum_ns = 0;
	uint64_t	 seed = 42 + (uint64_t)_i;
	size_t		 i, k, rank;
	int		 err;

	ck_assert_ptr_nonnull(x = malloc(NSAMPLES * sizeof *x));
	ck_assert_ptr_nonnull(h = histogram_set_get(hs, "lat", &err));
	for (i = 0; i < NSAMPLES; i++) {
		switch (_i) {
		case D_UNIFORM:		/* 0.1 ms to 100 ms */
			x[i] = 1e-4 + unif(&seed) * (0.1 - 1e-4);
			break;
		case D_EXPONENTIAL:	/* mean 10 ms */
			x[i] = -0.01 * log(unif(&seed));
			break;
		default:		/* a fast mode and a slow one */
			x[i] = unif(&seed) < 0.8 ?
			    2e-4 * exp(0.3 * (unif(&seed) - 0.5)) :
			    0.25 * exp(0.5 * (unif(&seed) - 0.5));
			break;
		}
		tally_histogram_observe(h, x[i]);
		sum_ns += (int64_t)(x[i] * 1e9 + 0.5);
		mean += x[i];
	}
	collect(HISTOGRAM_LOCAL);
	ck_assert(ctr("lat.count") == NSAMPLES);
	ck_assert(ctr("lat.sum_ns") == sum_ns);
	mean /= NSAMPLES;
	got = st_of("lat.mean");
	ck_assert_msg(fabs(got - mean) <= 1e-9 * mean + 1e-9,
	    "%s: mean %.9g, exact %.9g", dist_name[_i], got, mean);
	qsort(x, NSAMPLES, sizeof *x, cmp_double);
	for (k = 0; k < sizeof pct / sizeof pct[0]; k++) {
		/* Nearest rank, as the histogram reads it. */
		rank = (size_t)ceil(pct[k].q * NSAMPLES);
		exact = x[rank - 1];
		got = st_of(pct[k].n);
		ck_assert_msg(fabs(got - exact) <= REL_ERR * exact * (1 + 1e-12),
		    "%s: %s %.9g, exact %.9g: %.3f%% off, bound %.3f%%",
		    dist_name[_i], pct[k].n, got, exact,
		    100 * fabs(got - exact) / exact, 100 * REL_ERR);
	}
	free(x);
}
END_TEST

#define NTHREADS	4
#define PER_THREAD	250000

static void *
observer(void *arg)
{
	tally_histogram	*h = arg;
	int		 i;

	for (i = 0; i < PER_THREAD; i++)
		tally_histogram_observe(h, (i % 1000 + 1) * 1e-6);
	return NULL;
}

/* Four threads, which exit before the collect: no observation is lost. */
START_TEST(test_threads)
{
	pthread_t	 t[NTHREADS];
	tally_histogram	*h;
	int64_t		 sum_ns = 0, buckets = 0;
	int		 i, err;

	ck_assert_ptr_nonnull(h = histogram_set_get(hs, "conc", &err));
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, observer, h), 0);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (i = 0; i < PER_THREAD; i++)
		sum_ns += (int64_t)((i % 1000 + 1) * 1e-6 * 1e9 + 0.5);
	collect(HISTOGRAM_LOCAL);
	ck_assert(ctr("conc.count") == (int64_t)NTHREADS * PER_THREAD);
	ck_assert(ctr("conc.sum_ns") == NTHREADS * sum_ns);
	for (i = 0; i < (int)snap.ncounters; i++) {
		if (strncmp(snapshot_name(&snap, &snap.counters[i]),
		    "conc.bucket.", 12) == 0)
			buckets += snap.counters[i].v.i;
	}
	ck_assert(buckets == (int64_t)NTHREADS * PER_THREAD);
}
END_TEST

START_TEST(test_refused)
{
	tally_histogram	*h;
	int		 err;

	ck_assert_ptr_nonnull(h = histogram_set_get(hs, "r", &err));
	tally_histogram_observe(h, NAN);
	tally_histogram_observe(h, -1);
	tally_histogram_observe(h, -INFINITY);
	tally_histogram_observe(h, INFINITY);
	tally_histogram_observe(NULL, 1);
	collect(HISTOGRAM_LOCAL);
	ck_assert(ctr("r.count") == 0);
	ck_assert(ctr("r.refused") == 4);
	ck_assert(isnan(st_of("r.mean")));
	ck_assert(isnan(st_of("r.99_9_percentile")));
	/* Huge but finite: counted, in the last bucket, the sum capped. */
	tally_histogram_observe(h, 1e300);
	tally_histogram_observe(h, 0);
	collect(HISTOGRAM_LOCAL);
	ck_assert(ctr("r.count") == 2);
	ck_assert(ctr("r.bucket.112") == 1);
	ck_assert(ctr("r.bucket.-240") == 1);
	ck_assert(ctr("r.sum_ns") == INT64_C(1000000000000000000));
}
END_TEST

static const char *bad_names[] = { "", "a b", "a/b", "x\n", NULL };

START_TEST(test_names)
{
	char	 name[TALLY_STAT_NAME_MAX + 2];
	int	 err;

	if (bad_names[_i] != NULL) {
		ck_assert_ptr_null(histogram_set_get(hs, bad_names[_i], &err));
		ck_assert_int_eq(err, TALLY_EINVAL);
		return;
	}
	memset(name, 'a', sizeof name);
	name[HISTOGRAM_NAME_MAX] = '\0';
	ck_assert_ptr_nonnull(histogram_set_get(hs, name, &err));
	ck_assert_ptr_eq(histogram_set_get(hs, name, &err),
	    histogram_set_get(hs, name, &err));
	name[HISTOGRAM_NAME_MAX] = 'a';
	name[HISTOGRAM_NAME_MAX + 1] = '\0';
	ck_assert_ptr_null(histogram_set_get(hs, name, &err));
	ck_assert_int_eq(err, TALLY_EINVAL);
	ck_assert_ptr_null(tally_histogram_get(NULL, "x"));
}
END_TEST

/*
 * Histograms take ranges of cells within a chunk of 1,024: the third of
 * 354 skips to the next chunk, and single counters take the cells it
 * skipped.  No two share a cell.
 */
START_TEST(test_many)
{
	tally_histogram	*h[10];
	tally_counter	*c[400];
	char		 name[32];
	int		 i, j, err;

	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "h%d", i);
		ck_assert_ptr_nonnull(h[i] = histogram_set_get(hs, name, &err));
		if (i == 2) {
			for (j = 0; j < 400; j++) {
				snprintf(name, sizeof name, "c%d", j);
				ck_assert_ptr_nonnull(c[j] =
				    counter_set_get(cs, name, &err));
				tally_counter_add(c[j], j + 1);
			}
		}
	}
	for (i = 0; i < 10; i++)
		for (j = 0; j <= i; j++)
			tally_histogram_observe(h[i], exp2(i - 5));
	collect(HISTOGRAM_LOCAL);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "h%d.count", i);
		ck_assert(ctr(name) == i + 1);
		snprintf(name, sizeof name, "h%d.bucket.%d", i, 8 * (i - 5));
		ck_assert(ctr(name) == i + 1);
	}
	for (j = 0; j < 400; j++)
		ck_assert(tally_counter_value(c[j]) == j + 1);
}
END_TEST

/* An interval without observations reads nan; dests keep their own. */
START_TEST(test_intervals)
{
	tally_histogram	*h;
	int		 err, i;

	ck_assert_ptr_nonnull(h = histogram_set_get(hs, "iv", &err));
	for (i = 0; i < 100; i++)
		tally_histogram_observe(h, 0.001);
	collect(HISTOGRAM_LOCAL);
	ck_assert(fabs(st_of("iv.50_0_percentile") - 0.001) <= REL_ERR * 0.001);
	ck_assert(fabs(st_of("iv.mean") - 0.001) < 1e-12);
	collect(HISTOGRAM_LOCAL);
	ck_assert(ctr("iv.count") == 100);
	ck_assert(isnan(st_of("iv.mean")));
	ck_assert(isnan(st_of("iv.50_0_percentile")));
	for (i = 0; i < 10; i++)
		tally_histogram_observe(h, 2.0);
	collect(HISTOGRAM_LOCAL);
	ck_assert(fabs(st_of("iv.50_0_percentile") - 2) <= REL_ERR * 2);
	ck_assert(fabs(st_of("iv.mean") - 2) < 1e-12);
	/* The gatherer has not looked yet: its interval holds all 110. */
	collect(HISTOGRAM_REMOTE);
	ck_assert(ctr("iv.count") == 110);
	ck_assert(fabs(st_of("iv.50_0_percentile") - 0.001) <= REL_ERR * 0.001);
	ck_assert(fabs(st_of("iv.99_0_percentile") - 2) <= REL_ERR * 2);
	ck_assert(fabs(st_of("iv.mean") - (100 * 0.001 + 10 * 2) / 110) < 1e-12);
}
END_TEST

/* A snapshot that was not written (a failed flush) keeps its interval. */
START_TEST(test_uncommitted)
{
	tally_histogram	*h;
	int		 err;

	ck_assert_ptr_nonnull(h = histogram_set_get(hs, "u", &err));
	tally_histogram_observe(h, 1.0);
	collect_only(HISTOGRAM_LOCAL);		/* lost */
	ck_assert(fabs(st_of("u.mean") - 1) < 1e-12);
	tally_histogram_observe(h, 3.0);
	collect(HISTOGRAM_LOCAL);
	ck_assert(fabs(st_of("u.mean") - 2) < 1e-12);
	collect(HISTOGRAM_LOCAL);
	ck_assert(isnan(st_of("u.mean")));
}
END_TEST

/*
 * A resumed H.count that disagrees with the resumed buckets (a hand-made
 * or half-resumed slot) does not make a snapshot disagree: the count is the
 * buckets' sum, and a resumed bucket is put even when it comes to 0.
 */
START_TEST(test_resumed_disagree)
{
	tally_histogram	*h;
	int		 err;

	ck_assert_int_eq(counter_set_resume(cs, "a.bucket.0", 10, -1), 0);
	ck_assert_int_eq(counter_set_resume(cs, "a.bucket.8", 10, 5), 0);
	ck_assert_int_eq(counter_set_resume(cs, "a.count", 7, 1000), 0);
	ck_assert_ptr_nonnull(h = histogram_set_get(hs, "a", &err));
	tally_histogram_observe(h, 1.0);
	collect(HISTOGRAM_LOCAL);
	ck_assert(ctr("a.bucket.0") == 0);
	ck_assert(ctr("a.bucket.8") == 5);
	ck_assert(ctr("a.count") == 5);
	/* Only this process's observation makes the interval. */
	ck_assert(fabs(st_of("a.mean") - 1) < 1e-12);
}
END_TEST

/* Sums past 2^63 ns in one interval: the stats still read, not nan. */
START_TEST(test_huge_sum)
{
	tally_histogram	*h;
	int		 err, i;

	ck_assert_ptr_nonnull(h = histogram_set_get(hs, "big", &err));
	for (i = 0; i < 10; i++)
		tally_histogram_observe(h, 1e10);
	collect(HISTOGRAM_LOCAL);
	ck_assert(ctr("big.count") == 10);
	ck_assert(ctr("big.bucket.112") == 10);
	ck_assert(fabs(st_of("big.mean") - 1e9) < 1);
	ck_assert(!isnan(st_of("big.99_9_percentile")));
}
END_TEST

/* Histograms of freed sets leave their cells to new ones: no limit. */
START_TEST(test_reuse)
{
	struct counter_set	*c2;
	struct histogram_set	*h2;
	tally_histogram		*h;
	int			 i, err;

	for (i = 0; i < 4000; i++) {
		ck_assert_int_eq(counter_set_new(&c2), 0);
		ck_assert_int_eq(histogram_set_new(&h2, c2), 0);
		ck_assert_ptr_nonnull(h = histogram_set_get(h2, "lat", &err));
		/* The cells come back zeroed. */
		tally_histogram_observe(h, 1.0);
		histogram_set_free(h2);
		counter_set_free(c2);
	}
	ck_assert_ptr_nonnull(h = histogram_set_get(hs, "after", &err));
	collect(HISTOGRAM_LOCAL);
	ck_assert(ctr("after.count") == 0);
}
END_TEST

/* ---- through a provider and a statsfile ---------------------------- */

static void
setup_dir(void)
{
	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	fixture_log_clear();
}

static void
teardown_dir(void)
{
	fixture_rmtree(dir);
}

static tally_provider *
mk(void)
{
	tally_options	 opt;
	tally_provider	*p;

	memset(&opt, 0, sizeof opt);
	opt.node_id = "hist";
	opt.statsfile = dir;
	opt.flags = TALLY_F_NO_MONITORS;
	opt.flush_interval = 3600;	/* flushed by hand */
	opt.log = fixture_log;
	ck_assert_int_eq(tally_provider_new(&p, &opt), 0);
	return p;
}

/* The counter hist/name in the statsfile; -1 if absent. */
static int64_t
stored(const char *name)
{
	struct store		*st;
	struct store_reader	 r;
	char			 err[TALLY_ERRLEN];
	MDB_val			 v;
	int64_t			 x = -1;
	int			 rc;

	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    0);
	ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err), 0);
	rc = store_reader_get(&r, STORE_COUNTERS, "hist", 4, name,
	    strlen(name), &v);
	ck_assert_int_ge(rc, 0);
	if (rc == 1)
		ck_assert_int_eq(record_parse_int64(v.mv_data, v.mv_size, &x),
		    0);
	store_reader_end(&r);
	store_close(st);
	return x;
}

/*
 * A restart resumes the cumulative parts, whether the histogram is made
 * before the start (which resumes) or after it, and never counts twice.
 */
START_TEST(test_resume)
{
	tally_provider	*p = mk();
	tally_histogram	*h;
	int		 i;

	ck_assert_ptr_nonnull(h = tally_histogram_get(p, "lat.get"));
	ck_assert_int_eq(tally_provider_start(p), 0);
	for (i = 0; i < 100; i++)
		tally_histogram_observe(h, 0.001);
	tally_histogram_observe(h, -1);
	tally_provider_free(p);
	ck_assert(stored("lat.get.count") == 100);
	ck_assert(stored("lat.get.refused") == 1);
	ck_assert(stored("lat.get.sum_ns") == 100 * 1000000);

	/* Made before the start. */
	p = mk();
	ck_assert_ptr_nonnull(h = tally_histogram_get(p, "lat.get"));
	for (i = 0; i < 10; i++)
		tally_histogram_observe(h, 2.0);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert(stored("lat.get.count") == 110);
	ck_assert(stored("lat.get.sum_ns") == 100 * 1000000 + 10 * INT64_C(2000000000));
	ck_assert(stored("lat.get.bucket.8") == 10);
	/* 0.001 s: 2^(-80/8) < 0.001 <= 2^(-79/8). */
	ck_assert_int_eq(histogram_index(0.001), -79);
	ck_assert(stored("lat.get.bucket.-79") == 100);
	ck_assert(stored("lat.get.refused") == 1);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert(stored("lat.get.count") == 110);
	tally_provider_free(p);

	/* Made after it. */
	p = mk();
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_ptr_nonnull(h = tally_histogram_get(p, "lat.get"));
	tally_histogram_observe(h, 0.001);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert(stored("lat.get.count") == 111);
	ck_assert(stored("lat.get.bucket.-79") == 101);
	ck_assert(stored("lat.get.bucket.8") == 10);
	tally_provider_free(p);
	ck_assert(stored("lat.get.count") == 111);
}
END_TEST

int
main(void)
{
	const struct fixture_test	 tests[] = {
		{ "core", test_index, 0, 30 },
		{ "core", test_accuracy, 3, 60 },
		{ "core", test_threads, 0, 60 },
		{ "core", test_refused, 0, 30 },
		{ "core", test_names, FIXTURE_N(bad_names), 30 },
		{ "core", test_intervals, 0, 30 },
		{ "core", test_many, 0, 30 },
		{ "core", test_uncommitted, 0, 30 },
		{ "core", test_resumed_disagree, 0, 30 },
		{ "core", test_huge_sum, 0, 30 },
		{ "core", test_reuse, 0, 60 },
		{ "store", test_resume, 0, 30 },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "core", setup, teardown, NULL, NULL },
		{ "store", setup_dir, teardown_dir, NULL, NULL },
	};

	return fixture_main("histogram", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
