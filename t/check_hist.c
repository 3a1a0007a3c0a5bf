/*
 * check_hist.c: the munin plugin's histogram graphs (munin/hist.c): the
 * spelling of a histogram's name in a link, both ways, for every name;
 * the clear refusal of a name that spells none; and their config, fetch,
 * tally_all sections, suggest and autoconf against statsfiles whose
 * nodes carry histograms as tally(5) stores them (H.count, H.sum_ns,
 * H.bucket.<i> counters; H.mean and H.<P>_percentile stats), written
 * with the store, since libtally has no histogram of its own here yet.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tally-int.h"
#include "store-int.h"
#include "fixture.h"
#include "plugin.h"
#include "plugin-fixture.h"

#define H "storage_server.latencies.get"
#define LINK(p) PLUGIN_PREFIX PLUGIN_HIST "storage_server__latencies__get_" p

static struct plugin_table	 tab;

/*
 * The fleet: a and b have histogram H (b's interval had no observation:
 * nan), a also "x-y" (punctuation to spell); c has H.count without
 * H.sum_ns and an H2 without H2.count: no histogram; d has the original
 * system's percentile stat alone, no counters.
 */
static void
put_fleet(void)
{
	static const struct stat_val ca[] = {
	    { H ".bucket.-80", 3 }, { H ".bucket.-72", 1 },
	    { H ".count", 4 }, { H ".sum_ns", 12000000 },
	    { "x-y.count", 1 }, { "x-y.sum_ns", 5 }, { NULL, 0 } };
	static const struct stat_val sa[] = {
	    { H ".01_0_percentile", 0.001 }, { H ".10_0_percentile", 0.001 },
	    { H ".50_0_percentile", 0.001 }, { H ".90_0_percentile", 0.0045 },
	    { H ".95_0_percentile", 0.0045 }, { H ".99_0_percentile", 0.0045 },
	    { H ".99_9_percentile", 0.25 }, { H ".mean", 0.003 },
	    { "x-y.mean", 5e-9 }, { NULL, 0 } };
	static const struct stat_val cb[] = {
	    { H ".bucket.-80", 7 }, { H ".count", 7 }, { H ".sum_ns", 700 },
	    { NULL, 0 } };
	static const struct stat_val sb[] = {
	    { H ".mean", NAN }, { H ".99_9_percentile", NAN }, { NULL, 0 } };
	static const struct stat_val cc[] = {
	    { "lonely.count", 1 }, { "half.sum_ns", 1 }, { NULL, 0 } };
	static const struct stat_val sd[] = {
	    { "old.latency.99_9_percentile", 2 }, { NULL, 0 } };

	put_node("a", "n", NOW - 1, ca, sa);
	put_node("b", "m", NOW - 1, cb, sb);
	put_node("c", "s", NOW - 1, cc, NULL);
	put_node("d", "o", NOW - 1, NULL, sd);
}

/* The graph of a histogram link, as the plugin's main finds it. */
static const struct plugin_graph *
hgraph(const char *name, struct plugin_hist *hg)
{
	char	 err[TALLY_ERRLEN];
	int	 rc;

	ck_assert_ptr_null(plugin_graph_find(&tab, name));
	rc = plugin_hist_find(name, hg, err, sizeof err);
	ck_assert_msg(rc == 1, "%s: %d %s", name, rc, rc < 0 ? err : "");
	return &hg->g;
}

static char *
run_one(const char *name, int config, char **errtext)
{
	struct plugin_hist	 hg;
	struct capture		 out, errc;
	char			 err[TALLY_ERRLEN];
	int			 rc;

	cap_open(&out);
	cap_open(&errc);
	if (config)
		rc = plugin_config(dir, hgraph(name, &hg), 0, NOW, out.f,
		    errc.f, err, sizeof err);
	else
		rc = plugin_fetch(dir, hgraph(name, &hg), NOW, out.f, errc.f,
		    err, sizeof err);
	ck_assert_msg(rc == 0, "%s: %s", name, err);
	if (errtext != NULL)
		*errtext = cap_text(&errc);
	else
		free(cap_text(&errc));
	return cap_text(&out);
}

/* A histogram name and the link of its 99.9th percentile. */
static const struct {
	const char	*h, *link;
} spellings[] = {
	{ H, LINK("p99_9") },
	{ "a-b", "tally_hist_a___h_b_p99_9" },
	{ "x._y", "tally_hist_x___du_y_p99_9" },
	{ "a__b", "tally_hist_a___uu_b_p99_9" },
	{ "a:b.c", "tally_hist_a___c_b__c_p99_9" },
	{ "a.", "tally_hist_a___p99_9" },
	{ ".a", "tally_hist___a_p99_9" },
	{ "_", "tally_hist___p99_9" },
	{ "-", "tally_hist____h__p99_9" },
	{ "9", "tally_hist_9_p99_9" },
	{ "p99_9", "tally_hist_p99_9_p99_9" },
};

START_TEST(test_spell)
{
	struct plugin_hist	 hg;
	char			 err[TALLY_ERRLEN], link[PLUGIN_LINK_MAX + 8];
	size_t			 i = (size_t)_i;

	ck_assert_int_eq(plugin_hist_graph(&hg, spellings[i].h, 7), 0);
	snprintf(link, sizeof link, "%s%s", PLUGIN_PREFIX, hg.g.key);
	ck_assert_str_eq(link, spellings[i].link);
	ck_assert_int_eq(plugin_hist_find(spellings[i].link, &hg, err,
	    sizeof err), 1);
	ck_assert_int_eq(strncmp(hg.g.statid, spellings[i].h,
	    strlen(spellings[i].h)), 0);
	ck_assert_str_eq(hg.g.statid + strlen(spellings[i].h),
	    ".99_9_percentile");
}
END_TEST

/*
 * Every name spells back to itself (random names of the stat alphabet,
 * heavy on punctuation); every string that reads as a spelling is the
 * spelling of what it reads as (random strings of the spelling's
 * alphabet): a link names one histogram, a histogram has one link.
 */
START_TEST(test_spell_random)
{
	static const char hal[] = "ab9Z_.:-", sal[] = "a9_udch";
	struct plugin_hist	 hg;
	char			 h[64], s[80], link[PLUGIN_LINK_MAX + 8];
	char			 err[TALLY_ERRLEN];
	size_t			 i, k, n;
	unsigned		 seed = 15;
	int			 rc, found = 0;

	for (i = 0; i < 20000; i++) {
		n = 1 + (size_t)rand_r(&seed) % 12;
		for (k = 0; k < n; k++)
			h[k] = hal[rand_r(&seed) % (sizeof hal - 1)];
		h[n] = '\0';
		ck_assert_int_eq(plugin_hist_graph(&hg, h, i % 8), 0);
		snprintf(link, sizeof link, "%s%s", PLUGIN_PREFIX, hg.g.key);
		ck_assert_int_eq(plugin_hist_find(link, &hg, err, sizeof err),
		    1);
		ck_assert_msg(strncmp(hg.g.statid, h, n) == 0 &&
		    hg.g.statid[n] == '.', "%s -> %s -> %s", h, link,
		    hg.g.statid);

		n = 1 + (size_t)rand_r(&seed) % 14;
		for (k = 0; k < n; k++)
			s[k] = sal[rand_r(&seed) % (sizeof sal - 1)];
		s[n] = '\0';
		snprintf(link, sizeof link, "tally_hist_%s_mean", s);
		rc = plugin_hist_find(link, &hg, err, sizeof err);
		ck_assert_msg(rc == 1 || rc == TALLY_EINVAL, "%s: %d", link,
		    rc);
		if (rc != 1)
			continue;
		found++;
		ck_assert_msg(strcmp(link + strlen(PLUGIN_PREFIX),
		    hg.g.key) == 0, "%s reads as %s, spelled %s", link,
		    hg.g.statid, hg.g.key);
	}
	ck_assert_int_gt(found, 1000);
}
END_TEST

/* Names that spell no histogram's stat: each says why. */
START_TEST(test_find_bad)
{
	static const struct {
		const char	*name, *why;
	} bad[] = {
		{ "tally_hist_x_p98_0", "the stat one of mean p01_0" },
		{ "tally_hist_x", "names no histogram graph" },
		{ "tally_hist__mean", "names no histogram graph" },
		{ "tally_hist_mean", "names no histogram graph" },
		{ "tally_hist_a____b_mean", "4 '_' in a row" },
		{ "tally_hist_a___x_b_mean", "an escape is" },
		{ "tally_hist_a___h_mean", "an escape is" },
		{ "tally_hist_a___u_b_mean", "'___u_' is spelled '_'" },
		{ "tally_hist_a___d_b_mean", "'___d_' is spelled '__'" },
		{ "tally_hist_a___h___b_mean", "after an escape" },
		{ "tally_hist_a.b_mean", "byte 0x2e" },
		{ "tally_hist_a\033b_mean", "\\x1b" },
	};
	struct plugin_hist	 hg;
	char			 err[TALLY_ERRLEN], name[400];
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rc = plugin_hist_find(bad[i].name, &hg, err, sizeof err);
		ck_assert_msg(rc == TALLY_EINVAL, "%s: %d", bad[i].name, rc);
		ck_assert_msg(strstr(err, bad[i].why) != NULL,
		    "%s: '%s' lacks '%s'", bad[i].name, err, bad[i].why);
	}
	/* Not a histogram's name at all: for the caller to say. */
	ck_assert_int_eq(plugin_hist_find("tally_load_avg", &hg, err,
	    sizeof err), 0);
	ck_assert_int_eq(plugin_hist_find("hist_a_mean", &hg, err,
	    sizeof err), 0);
	/* Longer than a histogram name may be (tally(5)). */
	memset(name, 'a', sizeof name);
	memcpy(name, "tally_hist_", 11);
	snprintf(name + 11 + PLUGIN_HIST_MAX + 1, 6, "_mean");
	ck_assert_int_eq(plugin_hist_find(name, &hg, err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "at most 239 bytes"));
	name[11 + PLUGIN_HIST_MAX] = '\0';
	strcat(name, "_mean");
	ck_assert_int_eq(plugin_hist_find(name, &hg, err, sizeof err), 1);
	/* A name of 239 '-' is valid, and too long for a link. */
	memset(name, '-', PLUGIN_HIST_MAX);
	name[PLUGIN_HIST_MAX] = '\0';
	ck_assert_int_eq(plugin_hist_graph(&hg, name, 0), TALLY_ELIMIT);
}
END_TEST

START_TEST(test_config)
{
	char	*text;

	put_fleet();
	text = run_one(LINK("p99_9"), 1, NULL);
	ck_assert_str_eq(text,
	    "graph_title " H " 99.9th percentile\n"
	    "graph_vlabel seconds\n"
	    "graph_category latency\n"
	    "graph_args --base 1000 --lower-limit 0\n"
	    "graph_info The 99.9th percentile of the observations of "
	    "histogram " H ", in seconds, over each node's interval between "
	    "snapshots (unknown when it had none). Stat: " H
	    ".99_9_percentile, a line per node.\n"
	    "n_a.label n\nn_a.draw LINE1\nn_a.info node a, source local\n"
	    "m_b.label m\nm_b.draw LINE1\nm_b.info node b, source local\n");
	free(text);
	/* A stat only a has: only a's field. */
	text = run_one(LINK("p50_0"), 1, NULL);
	ck_assert_ptr_nonnull(strstr(text, "graph_title " H
	    " 50th percentile (median)\n"));
	ck_assert_ptr_nonnull(strstr(text, "n_a.label"));
	ck_assert_ptr_null(strstr(text, "m_b.label"));
	free(text);
	text = run_one(LINK("mean"), 1, NULL);
	ck_assert_ptr_nonnull(strstr(text, "graph_title " H " mean\n"));
	free(text);
}
END_TEST

START_TEST(test_fetch)
{
	char	*text;

	put_fleet();
	text = run_one(LINK("p99_9"), 0, NULL);
	ck_assert_str_eq(text, "n_a.value 0.25\nm_b.value U\n");
	free(text);
	text = run_one(LINK("mean"), 0, NULL);
	ck_assert_str_eq(text, "n_a.value 0.003\nm_b.value U\n");
	free(text);
	text = run_one("tally_hist_x___h_y_mean", 0, NULL);
	ck_assert_str_eq(text, "n_a.value 5e-09\n");
	free(text);
	/* The original system's stats need no counters for one link. */
	text = run_one("tally_hist_old__latency_p99_9", 0, NULL);
	ck_assert_str_eq(text, "o_d.value 2\n");
	free(text);
	/* No node has it: nothing, as for any graph without data. */
	text = run_one("tally_hist_nothing_p01_0", 0, NULL);
	ck_assert_str_eq(text, "");
	free(text);
}
END_TEST

/*
 * tally_all: after the table's graphs, a section per histogram stat that
 * some node has, in name and stat order, each exactly the single link's
 * output; c's half histograms and d's counterless stat have none.
 */
START_TEST(test_multigraph)
{
	static const char *const links[] = {
	    LINK("mean"), LINK("p01_0"), LINK("p10_0"), LINK("p50_0"),
	    LINK("p90_0"), LINK("p95_0"), LINK("p99_0"), LINK("p99_9"),
	    "tally_hist_x___h_y_mean" };
	static const int flags[] = { 0, PLUGIN_CONFIG };
	char	*text, *want, *part, *tmp;
	size_t	 i, j;

	put_fleet();
	/* The same found from the stat index (one seek a counter name). */
	if (_i == 1)
		ck_assert_int_eq(tally_statsfile_index(dir, 1, NULL, 0), 0);
	for (j = 0; j < 2; j++) {
		want = strdup("");
		for (i = 0; i < sizeof links / sizeof links[0]; i++) {
			part = run_one(links[i], flags[j], NULL);
			ck_assert_int_gt(asprintf(&tmp, "%smultigraph %s\n%s",
			    want, links[i], part), 0);
			free(want);
			free(part);
			want = tmp;
		}
		text = multi_in(&tab, flags[j], NULL);
		ck_assert_str_eq(text, want);
		free(text);
		free(want);
	}
	text = multi_in(&tab, PLUGIN_CONFIG | PLUGIN_DIRTY, NULL);
	ck_assert_ptr_nonnull(strstr(text, "multigraph " LINK("p99_9") "\n"
	    "graph_title"));
	ck_assert_ptr_nonnull(strstr(text, "m_b.value U\n"));
	ck_assert_ptr_null(strstr(text, "lonely"));
	ck_assert_ptr_null(strstr(text, "half"));
	ck_assert_ptr_null(strstr(text, "old"));
	free(text);
}
END_TEST

START_TEST(test_suggest)
{
	char	*text;

	text = suggest_in(&tab, PLUGIN_MULTI);
	ck_assert_str_eq(text, "");
	free(text);
	put_fleet();
	text = suggest_in(&tab, 0);
	ck_assert_str_eq(text,
	    "hist_storage_server__latencies__get_mean\n"
	    "hist_storage_server__latencies__get_p01_0\n"
	    "hist_storage_server__latencies__get_p10_0\n"
	    "hist_storage_server__latencies__get_p50_0\n"
	    "hist_storage_server__latencies__get_p90_0\n"
	    "hist_storage_server__latencies__get_p95_0\n"
	    "hist_storage_server__latencies__get_p99_0\n"
	    "hist_storage_server__latencies__get_p99_9\n"
	    "hist_x___h_y_mean\n");
	free(text);
	/* Histograms alone are data enough for tally_all. */
	text = suggest_in(&tab, PLUGIN_MULTI);
	ck_assert_str_eq(text, "all\n");
	free(text);
}
END_TEST

/* A histogram too long to link is left out of tally_all, with a word. */
START_TEST(test_multigraph_long)
{
	static struct stat_val c[3], s[2];
	static char	 h[PLUGIN_HIST_MAX + 1], cn[300], sn[300], mn[300];
	char		*text, *errtext;

	memset(h, '-', PLUGIN_HIST_MAX);
	snprintf(cn, sizeof cn, "%s.count", h);
	snprintf(sn, sizeof sn, "%s.sum_ns", h);
	snprintf(mn, sizeof mn, "%s.mean", h);
	c[0].name = cn;
	c[0].v = 1;
	c[1].name = sn;
	c[1].v = 1;
	s[0].name = mn;
	s[0].v = 1;
	put_node("a", "n", NOW, c, s);
	text = multi_in(&tab, 0, &errtext);
	ck_assert_str_eq(text, "multigraph tally_load_avg\n");
	ck_assert_ptr_nonnull(strstr(errtext, "leaving out histogram ---"));
	ck_assert_ptr_nonnull(strstr(errtext, "longer than 255 bytes"));
	free(text);
	free(errtext);
}
END_TEST

START_TEST(test_autoconf)
{
	struct capture	 c;
	char		*text;

	put_fleet();
	store_close(st);
	st = NULL;
	cap_open(&c);
	plugin_autoconf(LINK("p99_9"), dir, NULL, c.f);
	text = cap_text(&c);
	ck_assert_str_eq(text, "yes\n");
	free(text);
	cap_open(&c);
	plugin_autoconf("/etc/munin/plugins/tally_hist_x_p98", dir, NULL,
	    c.f);
	text = cap_text(&c);
	ck_assert_msg(strncmp(text, "no ('tally_hist_x_p98' names no "
	    "histogram graph", 40) == 0, "%s", text);
	free(text);
}
END_TEST

int
main(void)
{
	const struct fixture_test	 tests[] = {
		{ "spell", test_spell, FIXTURE_N(spellings),
		    FIXTURE_TIMEOUT },
		{ "spell", test_spell_random, 0, FIXTURE_TIMEOUT },
		{ "spell", test_find_bad, 0, FIXTURE_TIMEOUT },
		{ "store", test_config, 0, FIXTURE_TIMEOUT },
		{ "store", test_fetch, 0, FIXTURE_TIMEOUT },
		{ "store", test_multigraph, 2, FIXTURE_TIMEOUT },
		{ "store", test_multigraph_long, 0, FIXTURE_TIMEOUT },
		{ "store", test_suggest, 0, FIXTURE_TIMEOUT },
		{ "store", test_autoconf, 0, FIXTURE_TIMEOUT },
	};

	return pf_main("hist", tests, FIXTURE_N(tests), &tab);
}
