/*
 * check_counter.c: counters by name and by handle, across threads.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "fixture.h"

static tally_provider *p;

/* A provider that only counts: its statsfile is never opened here. */
static tally_provider *
counting(const char *id)
{
	tally_options	 opt;
	tally_provider	*q;

	memset(&opt, 0, sizeof opt);
	opt.node_id = id;
	opt.statsfile = "/nonexistent";
	opt.flags = TALLY_F_NO_MONITORS;
	ck_assert_int_eq(tally_provider_new(&q, &opt), 0);
	return q;
}

static void
setup(void)
{
	p = counting("counting");
}

static void
teardown(void)
{
	tally_provider_free(p);
	p = NULL;
}

START_TEST(test_by_handle)
{
	tally_counter	*c = tally_counter_get(p, "ops.get");

	ck_assert_ptr_nonnull(c);
	ck_assert(tally_counter_value(c) == 0);
	tally_counter_add(c, 5);
	tally_counter_add(c, -2);
	ck_assert(tally_counter_value(c) == 3);
	ck_assert_ptr_eq(tally_counter_get(p, "ops.get"), c);
}
END_TEST

START_TEST(test_by_name)
{
	int	 i;

	for (i = 0; i < 10; i++)
		ck_assert_int_eq(tally_count(p, "by.name", 2), 0);
	ck_assert(tally_counter_value(tally_counter_get(p, "by.name")) == 20);
}
END_TEST

/*
 * A thread remembers the counters it looked up by the address of the name:
 * a buffer that says another name there must find the other counter, and
 * one that says an invalid name must be refused.
 */
START_TEST(test_by_name_buffer)
{
	char	 buf[32];
	int	 i;

	for (i = 0; i < 100; i++) {
		snprintf(buf, sizeof buf, "buf.%d", i % 4);
		ck_assert_int_eq(tally_count(p, buf, i % 4 + 1), 0);
	}
	for (i = 0; i < 4; i++) {
		snprintf(buf, sizeof buf, "buf.%d", i);
		ck_assert(tally_counter_value(tally_counter_get(p, buf)) ==
		    25 * (i + 1));
	}
	strcpy(buf, "buf.0");
	ck_assert_int_eq(tally_count(p, buf, 1), 0);
	strcpy(buf, "buf 0");
	ck_assert_int_eq(tally_count(p, buf, 1), TALLY_EINVAL);
	strcpy(buf, "buf.0x");
	ck_assert_int_eq(tally_count(p, buf, 1), 0);
	ck_assert(tally_counter_value(tally_counter_get(p, "buf.0")) == 26);
	ck_assert(tally_counter_value(tally_counter_get(p, "buf.0x")) == 1);
}
END_TEST

/*
 * The same name, from the same address, for two providers in turn, then
 * for a provider made after one was freed (perhaps at its address): each
 * count lands in its own provider's counter.
 */
START_TEST(test_by_name_providers)
{
	static const char	*name = "shared.name";
	tally_provider		*q;
	int			 i, round;

	for (round = 0; round < 3; round++) {
		q = counting("other");
		/* q's first call meets the entry the freed q left. */
		for (i = 0; i < 10; i++) {
			ck_assert_int_eq(tally_count(q, name, 2), 0);
			ck_assert_int_eq(tally_count(p, name, 1), 0);
		}
		ck_assert(tally_counter_value(tally_counter_get(p, name)) ==
		    10 * (round + 1));
		ck_assert(tally_counter_value(tally_counter_get(q, name)) ==
		    20);
		tally_provider_free(q);
	}
}
END_TEST

static const char *bad[] = { "", "a b", "a/b", "é", "x\n" };

START_TEST(test_invalid_names)
{
	struct snapshot	 s;

	ck_assert_int_eq(tally_count(p, bad[_i], 1), TALLY_EINVAL);
	ck_assert_ptr_null(tally_counter_get(p, bad[_i]));
	ck_assert_int_eq(tally_count(p, NULL, 1), TALLY_EINVAL);
	ck_assert_int_eq(tally_count(NULL, "x", 1), TALLY_EINVAL);
	/* Nothing was created. */
	snapshot_init(&s);
	ck_assert_int_eq(tally_count(p, "good", 1), 0);
	ck_assert_uint_eq(tally_counter_get(p, "good") != NULL, 1);
	snapshot_free(&s);
}
END_TEST

/* Many counters: the name table grows while handles stay valid. */
START_TEST(test_many)
{
	tally_counter	*first = tally_counter_get(p, "c.0");
	char		 name[32];
	int		 i;

	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "c.%d", i);
		ck_assert_int_eq(tally_count(p, name, i), 0);
	}
	tally_counter_add(first, 7);
	for (i = 0; i < 20000; i += 997) {
		snprintf(name, sizeof name, "c.%d", i);
		ck_assert(tally_counter_value(tally_counter_get(p, name)) ==
		    i + (i == 0 ? 7 : 0));
	}
}
END_TEST

#define NTHREADS 4
#define NADDS 200000

static void *
adder(void *arg)
{
	tally_counter	*c = arg;
	int		 i;

	for (i = 0; i < NADDS; i++)
		tally_counter_add(c, 1);
	/* Some by name too, creating counters concurrently. */
	for (i = 0; i < 1000; i++) {
		char name[32];
		snprintf(name, sizeof name, "race.%d", i % 50);
		tally_count(p, name, 1);
	}
	return NULL;
}

/* Threads that exit leave their counts behind: nothing is lost. */
START_TEST(test_threads_exact)
{
	tally_counter	*c = tally_counter_get(p, "shared");
	pthread_t	 t[NTHREADS];
	int64_t		 sum = 0;
	int		 i;

	tally_counter_add(c, 1);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, adder, c), 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert(tally_counter_value(c) == 1 + (int64_t)NTHREADS * NADDS);
	for (i = 0; i < 50; i++) {
		char name[32];
		snprintf(name, sizeof name, "race.%d", i);
		sum += tally_counter_value(tally_counter_get(p, name));
	}
	ck_assert(sum == NTHREADS * 1000);
}
END_TEST

static void *
reader_while_adding(void *arg)
{
	tally_counter	*c = arg;
	int64_t		 last = 0, v;
	int		 i;

	for (i = 0; i < 2000; i++) {
		v = tally_counter_value(c);
		if (v < last)
			return (void *)1;
		last = v;
	}
	return NULL;
}

/* A reader summing while a thread adds never sees the value go back. */
START_TEST(test_monotonic_reads)
{
	tally_counter	*c = tally_counter_get(p, "mono");
	pthread_t	 a, r;
	void		*bad_read;

	ck_assert_int_eq(pthread_create(&a, NULL, adder, c), 0);
	ck_assert_int_eq(pthread_create(&r, NULL, reader_while_adding, c), 0);
	pthread_join(a, NULL);
	pthread_join(r, &bad_read);
	ck_assert_ptr_null(bad_read);
	ck_assert(tally_counter_value(c) == NADDS);
}
END_TEST

/* A freed provider's slots are reused from zero by the next one. */
START_TEST(test_slot_reuse)
{
	tally_provider	*q;
	int		 i;

	for (i = 0; i < 3; i++) {
		q = counting("again");
		ck_assert(tally_counter_value(tally_counter_get(q, "x")) == 0);
		tally_count(q, "x", 5);
		ck_assert(tally_counter_value(tally_counter_get(q, "x")) == 5);
		tally_provider_free(q);
	}
}
END_TEST

/*
 * Counters wrap modulo 2^64, on one thread's cell and in the sum over
 * threads: never undefined behaviour (UBSan aborts the CI build on it).
 */
START_TEST(test_wrap_cell)
{
	tally_counter	*c = tally_counter_get(p, "wrap.cell");

	ck_assert_ptr_nonnull(c);
	tally_counter_add(c, INT64_MAX);
	ck_assert(tally_counter_value(c) == INT64_MAX);
	tally_counter_add(c, 1);
	ck_assert(tally_counter_value(c) == INT64_MIN);
	tally_counter_add(c, -1);
	ck_assert(tally_counter_value(c) == INT64_MAX);
	tally_counter_add(c, INT64_MIN);
	ck_assert(tally_counter_value(c) == -1);
}
END_TEST

static void *
add_max(void *arg)
{
	tally_counter_add(arg, INT64_MAX);
	return NULL;
}

START_TEST(test_wrap_sum)
{
	tally_counter	*c = tally_counter_get(p, "wrap.sum");
	pthread_t	 t;

	ck_assert_ptr_nonnull(c);
	tally_counter_add(c, 2);
	/* The thread's cell goes to the base when it exits. */
	ck_assert_int_eq(pthread_create(&t, NULL, add_max, c), 0);
	pthread_join(t, NULL);
	ck_assert(tally_counter_value(c) == INT64_MIN + 1);
	ck_assert_int_eq(pthread_create(&t, NULL, add_max, c), 0);
	pthread_join(t, NULL);
	ck_assert(tally_counter_value(c) == 0);
}
END_TEST

#define LIMIT	(1 << 20)	/* counters a process holds, libtally(3) */

static int
count_nth(tally_provider *q, const char *prefix, int i)
{
	char	 name[32];

	snprintf(name, sizeof name, "%s.%d", prefix, i);
	return tally_count(q, name, 1);
}

/*
 * The process-wide limit, with the slots shared by two providers, then all
 * held by one of them through slots the other freed: the next counter is
 * refused with TALLY_ELIMIT and nothing past the limit is touched (ASan).
 */
START_TEST(test_limit)
{
	tally_provider	*q = counting("other");
	int		 i;

	for (i = 0; i < LIMIT - 3; i++) {
		if (count_nth(p, "c", i) != 0)
			ck_abort_msg("counter %d refused", i);
	}
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(count_nth(q, "q", i), 0);
	ck_assert_int_eq(tally_count(q, "q.more", 1), TALLY_ELIMIT);
	ck_assert_ptr_null(tally_counter_get(q, "q.more"));
	ck_assert_int_eq(tally_count(p, "c.more", 1), TALLY_ELIMIT);
	ck_assert_ptr_null(tally_counter_get(p, "c.more"));
	/* Counters that exist still count. */
	ck_assert_int_eq(count_nth(q, "q", 0), 0);
	ck_assert(tally_counter_value(tally_counter_get(q, "q.0")) == 2);
	tally_provider_free(q);

	/* q's slots come back, from zero: p holds them all, then no more. */
	for (i = LIMIT - 3; i < LIMIT; i++)
		ck_assert_int_eq(count_nth(p, "c", i), 0);
	ck_assert(tally_counter_value(tally_counter_get(p, "c.1048575")) ==
	    1);
	ck_assert_int_eq(tally_count(p, "c.more", 1), TALLY_ELIMIT);
	ck_assert_ptr_null(tally_counter_get(p, "c.more"));
	ck_assert_int_eq(count_nth(p, "c", 0), 0);
	ck_assert(tally_counter_value(tally_counter_get(p, "c.0")) == 2);
}
END_TEST

int
main(void)
{
	/* limit: a million counters, seconds under ASan on a busy machine. */
	const struct fixture_test	 tests[] = {
		{ "core", test_by_handle, 0, 30 },
		{ "core", test_by_name, 0, 30 },
		{ "core", test_by_name_buffer, 0, 30 },
		{ "core", test_by_name_providers, 0, 30 },
		{ "core", test_invalid_names, FIXTURE_N(bad), 30 },
		{ "core", test_many, 0, 30 },
		{ "core", test_threads_exact, 0, 30 },
		{ "core", test_monotonic_reads, 0, 30 },
		{ "core", test_slot_reuse, 0, 30 },
		{ "core", test_wrap_cell, 0, 30 },
		{ "core", test_wrap_sum, 0, 30 },
		{ "limit", test_limit, 0, 60 },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "core", setup, teardown, NULL, NULL },
		{ "limit", setup, teardown, NULL, NULL },
	};

	return fixture_main("counter", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
