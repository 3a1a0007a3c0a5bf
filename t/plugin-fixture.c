/*
 * plugin-fixture.c: the fixtures check_plugin and check_hist share.
 *
 * Each test gets a fresh environment in a directory under base.  A failed
 * assertion ends the forked test before its checked teardown, so base is
 * made and removed by the unchecked fixture, in the runner, which always
 * runs; the store itself is opened in the test's process, as LMDB wants.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "store-int.h"
#include "plugin.h"
#include "plugin-fixture.h"

char		 base[FIXTURE_PATH_MAX];
char		 dir[FIXTURE_PATH_MAX + 16];
struct store	*st;

void
pf_setup_base(void)
{
	ck_assert_ptr_nonnull(fixture_tmpdir(base));
}

void
pf_teardown_base(void)
{
	fixture_rmtree(base);
}

void
pf_setup(void)
{
	char	 err[TALLY_ERRLEN];

	snprintf(dir, sizeof dir, "%s/envXXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
}

void
pf_teardown(void)
{
	store_close(st);
	st = NULL;
	fixture_rmtree(dir);
}

void
put_node(const char *id, const char *nick, int64_t t,
    const struct stat_val *counters, const struct stat_val *stats)
{
	struct record_node	 rn;
	struct snapshot		 s;
	char			 err[TALLY_ERRLEN];

	memset(&rn, 0, sizeof rn);
	snprintf(rn.nickname, sizeof rn.nickname, "%s", nick);
	snprintf(rn.source, sizeof rn.source, "local");
	rn.time = t;
	snapshot_init(&s);
	for (; counters != NULL && counters->name != NULL; counters++)
		ck_assert_int_eq(snapshot_add_counter(&s, counters->name,
		    strlen(counters->name), (int64_t)counters->v), 0);
	for (; stats != NULL && stats->name != NULL; stats++)
		ck_assert_int_eq(snapshot_add_stat(&s, stats->name,
		    strlen(stats->name), stats->v), 0);
	snapshot_finish(&s);
	ck_assert_msg(store_write_slot(st, id, &rn, &s, err, sizeof err) == 0,
	    "%s", err);
	snapshot_free(&s);
}

FILE *
cap_open(struct capture *c)
{
	c->buf = NULL;
	c->len = 0;
	c->f = open_memstream(&c->buf, &c->len);
	ck_assert_ptr_nonnull(c->f);
	return c->f;
}

char *
cap_text(struct capture *c)
{
	ck_assert_int_eq(fclose(c->f), 0);
	c->f = NULL;
	return c->buf;
}

char *
suggest_in(const struct plugin_table *t, int flags)
{
	struct capture	 out;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	cap_open(&out);
	rc = plugin_suggest(dir, t, flags, out.f, NULL, err, sizeof err);
	ck_assert_msg(rc == 0, "suggest: %s", err);
	return cap_text(&out);
}

char *
multi_in(const struct plugin_table *t, int flags, char **errtext)
{
	struct capture	 out, errc;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	cap_open(&out);
	cap_open(&errc);
	rc = plugin_multigraph(dir, t, flags, NOW, out.f, errc.f, err,
	    sizeof err);
	ck_assert_msg(rc == 0, "multigraph: %s", err);
	if (errtext != NULL)
		*errtext = cap_text(&errc);
	else
		free(cap_text(&errc));
	return cap_text(&out);
}

int
pf_main(const char *name, const struct fixture_test *tests, size_t ntests,
    struct plugin_table *tab)
{
	const struct fixture_tcase	 tcases[] = {
		{ "store", pf_setup, pf_teardown, pf_setup_base,
		    pf_teardown_base },
	};
	char				 err[TALLY_ERRLEN];

	if (plugin_table_load(tab, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "check_%s: %s\n", name, err);
		return EXIT_FAILURE;
	}
	return fixture_main(name, tests, ntests, tcases, FIXTURE_N(tcases));
}
