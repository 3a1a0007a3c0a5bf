/*
 * check_producer.c: a provider's producer set (order, failures, changes
 * from inside a producer) and the built-in monitors as one of its
 * producers.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "store-int.h"
#include "fixture.h"

static char	 dir[FIXTURE_PATH_MAX];
static char	 logged[1024];

static void
setup(void)
{
	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	logged[0] = '\0';
}

static void
teardown(void)
{
	fixture_rmtree(dir);
}

static void
log_cb(void *ctx, int level, const char *msg)
{
	strncat(logged, msg, sizeof logged - strlen(logged) - 2);
	strcat(logged, "\n");
}

static const struct log_hook	 hook = { log_cb, NULL };

/* The value of stat name in a finished snapshot, or NAN if absent. */
static double
stat_of(const struct snapshot *snap, const char *name)
{
	size_t	 i;

	for (i = 0; i < snap->nstats; i++)
		if (strcmp(snapshot_name(snap, &snap->stats[i]), name) == 0)
			return snap->stats[i].v.d;
	return NAN;
}

/* A producer that puts "shared" = its ctx's value. */
static int
put_shared(void *ctx, tally_sink *sink)
{
	return tally_sink_put(sink, "shared", *(double *)ctx);
}

static int
put_then_fail(void *ctx, tally_sink *sink)
{
	tally_sink_put(sink, "broken.partial", 1);
	return -7;
}

/* Producers run in the order they came: the last put of a name wins. */
START_TEST(test_order)
{
	struct producer_set	*s;
	struct snapshot		 snap;
	double			 one = 1, two = 2;
	tally_producer		 a = { "a", put_shared, &one };
	tally_producer		 b = { "b", put_shared, &two };
	tally_producer		 bad = { "bad", put_then_fail, NULL };

	ck_assert_int_eq(producer_set_new(&s, &hook), 0);
	snapshot_init(&snap);
	ck_assert_int_eq(producer_set_add(s, &a), 0);
	ck_assert_int_eq(producer_set_add(s, &bad), 0);
	ck_assert_int_eq(producer_set_add(s, &b), 0);
	ck_assert_int_eq(producer_set_add(s, &b), TALLY_EINVAL);
	producer_set_run(s, &snap);
	snapshot_finish(&snap);
	ck_assert(stat_of(&snap, "shared") == 2);
	/* The failing producer's values are dropped, and said. */
	ck_assert(isnan(stat_of(&snap, "broken.partial")));
	ck_assert_ptr_nonnull(strstr(logged, "producer bad returned -7"));
	/* Without b, a has the last word. */
	ck_assert_int_eq(producer_set_remove(s, &b), 0);
	ck_assert_int_eq(producer_set_remove(s, &b), TALLY_ENOTFOUND);
	snapshot_reset(&snap);
	producer_set_run(s, &snap);
	snapshot_finish(&snap);
	ck_assert(stat_of(&snap, "shared") == 1);
	snapshot_free(&snap);
	producer_set_free(s);
}
END_TEST

struct inside {
	struct producer_set	*s;
	tally_producer		 other;
	int			 add_rc, remove_rc, inside;
};

static int
change_inside(void *ctx, tally_sink *sink)
{
	struct inside	*in = ctx;

	in->inside = producer_set_inside(in->s);
	in->add_rc = producer_set_add(in->s, &in->other);
	in->remove_rc = producer_set_remove(in->s, &in->other);
	return 0;
}

/* From inside a producer, the set is not to be changed: it would wait. */
START_TEST(test_inside_refused)
{
	struct inside	 in;
	struct snapshot	 snap;
	double		 v = 1;
	tally_producer	 self = { "self", change_inside, &in };

	memset(&in, 0, sizeof in);
	in.other.get_stats = put_shared;
	in.other.ctx = &v;
	ck_assert_int_eq(producer_set_new(&in.s, &hook), 0);
	ck_assert_int_eq(producer_set_add(in.s, &self), 0);
	ck_assert_int_eq(producer_set_inside(in.s), 0);
	snapshot_init(&snap);
	producer_set_run(in.s, &snap);
	ck_assert_int_eq(in.inside, 1);
	ck_assert_int_eq(in.add_rc, TALLY_ESTATE);
	ck_assert_int_eq(in.remove_rc, TALLY_ESTATE);
	ck_assert_int_eq(producer_set_inside(in.s), 0);
	snapshot_free(&snap);
	producer_set_free(in.s);
}
END_TEST

/* The text of node/stat in the statsfile's stats, into out; 1 or 0. */
static int
stored_stat(const char *node, const char *stat, char *out, size_t outlen)
{
	struct store		*st;
	struct store_reader	 r;
	char			 err[TALLY_ERRLEN];
	MDB_val			 v;
	int			 rc;

	ck_assert_msg(store_open(&st, dir, STORE_RDONLY, err, sizeof err) ==
	    0, "%s", err);
	ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err), 0);
	rc = store_reader_get(&r, STORE_STATS, node, strlen(node), stat,
	    strlen(stat), &v);
	if (rc == 1)
		snprintf(out, outlen, "%.*s", (int)v.mv_size,
		    (const char *)v.mv_data);
	store_reader_end(&r);
	store_close(st);
	return rc == 1;
}

static int
put_uptime(void *ctx, tally_sink *sink)
{
	return tally_sink_put(sink, "node.uptime", 42);
}

/*
 * The built-in monitors are the provider's first producer: a host's
 * producer that puts one of their names has the last word, as before
 * they were producers.
 */
START_TEST(test_monitors_first)
{
	tally_options	 opt;
	tally_provider	*p;
	tally_producer	 up = { "uptime", put_uptime, NULL };
	char		 v[64];

	memset(&opt, 0, sizeof opt);
	opt.node_id = "monitored";
	opt.statsfile = dir;
	opt.flush_interval = 3600;
	opt.log = log_cb;
	ck_assert_int_eq(tally_provider_new(&p, &opt), 0);
	/* Registered before start, and still after the monitors. */
	ck_assert_int_eq(tally_register_producer(p, &up), 0);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert(stored_stat("monitored", "node.uptime", v, sizeof v));
	ck_assert_str_eq(v, "42");
	ck_assert(stored_stat("monitored", "cpu_monitor.total", v,
	    sizeof v));
	/* Without it, the monitors' own uptime. */
	ck_assert_int_eq(tally_unregister_producer(p, &up), 0);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert(stored_stat("monitored", "node.uptime", v, sizeof v));
	ck_assert_str_ne(v, "42");
	tally_provider_free(p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("producer");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, FIXTURE_TIMEOUT);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_inside_refused);
	tcase_add_test(tc, test_monitors_first);
	suite_add_tcase(s, tc);
	return fixture_run(s);
}
