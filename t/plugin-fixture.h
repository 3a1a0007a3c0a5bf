/*
 * plugin-fixture.h: what check_plugin and check_hist share: a statsfile
 * per test in a temporary directory, nodes written into it through the
 * store, and a stream whose text a test reads back.
 */
#ifndef PLUGIN_FIXTURE_H
#define PLUGIN_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "fixture.h"

struct store;

/* The suite's directory (pf_setup_base), and this test's statsfile in it
 * (pf_setup), open as st. */
extern char		 base[FIXTURE_PATH_MAX];
extern char		 dir[FIXTURE_PATH_MAX + 16];
extern struct store	*st;

void	 pf_setup_base(void);
void	 pf_teardown_base(void);
void	 pf_setup(void);
void	 pf_teardown(void);

/* A name and its value, in lists that end at a NULL name. */
struct stat_val {
	const char	*name;
	double		 v;
};
/* Write node id's slot: nickname, snapshot time, counters and stats
 * (either list may be NULL). */
void	 put_node(const char *, const char *, int64_t,
	     const struct stat_val *, const struct stat_val *);

/* An in-memory stream whose text the test reads back. */
struct capture {
	FILE	*f;
	char	*buf;
	size_t	 len;
};
FILE	*cap_open(struct capture *);
/* Close the stream: its text, to free. */
char	*cap_text(struct capture *);

struct plugin_table;

/* The plugin's clock in these tests. */
#define NOW ((time_t)1700000000)

/* Runs of the plugin at NOW over table t in dir; the caller frees the
 * text.  multi_in: a multigraph run, its stderr into *errtext if not
 * NULL. */
char	*suggest_in(const struct plugin_table *, int);
char	*multi_in(const struct plugin_table *, int, char **);

/*
 * A check program's main: tests is the whole list, in one tcase "store"
 * with the fixtures above; the compiled-in graph table is loaded into tab
 * first.
 */
int	 pf_main(const char *, const struct fixture_test *, size_t,
	     struct plugin_table *);

#endif /* PLUGIN_FIXTURE_H */
