/*
 * check_plugin.c: the munin plugin's functions against real LMDB
 * environments written through the store, with a fixed clock: the graph
 * tables (compiled and the operator's env.graphs, every bad line), field
 * names, config, fetch, dirtyconfig, multigraph and suggest.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The plugin through its own header; statsfiles built with the store's. */
#include "tally-int.h"
#include "store-int.h"
#include "fixture.h"
#include "plugin.h"
#include "plugin-fixture.h"


/* The compiled-in graphs, loaded once in main. */
static struct plugin_table	 tab;

/*
 * Put a raw value with LMDB itself, to write what the store never would.
 * The store is closed meanwhile (an environment is opened once a process)
 * and reopened only if reopen is set.
 */
static void
put_raw(const char *db, const char *key, const char *val, int reopen)
{
	char	 err[TALLY_ERRLEN];

	store_close(st);
	st = NULL;
	fixture_put_raw(dir, db, key, strlen(key), val);
	if (reopen)
		ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0,
		    "%s", err);
}

static const struct plugin_graph *
graph(const char *name)
{
	const struct plugin_graph *g = plugin_graph_find(&tab, name);

	ck_assert_msg(g != NULL, "no graph %s", name);
	return g;
}

/* Run fetch at NOW; the caller frees the output. */
static char *
fetch(const char *name, char **errtext)
{
	struct capture	 out, errc;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	cap_open(&out);
	cap_open(&errc);
	rc = plugin_fetch(dir, graph(name), NOW, out.f, errc.f, err,
	    sizeof err);
	ck_assert_msg(rc == 0, "fetch: %s", err);
	if (errtext != NULL)
		*errtext = cap_text(&errc);
	else
		free(cap_text(&errc));
	return cap_text(&out);
}

/* Run config (flags: PLUGIN_DIRTY or 0) at NOW. */
static char *
config_flags(const char *name, int flags)
{
	struct capture	 out;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	cap_open(&out);
	rc = plugin_config(dir, graph(name), flags, NOW, out.f, NULL, err,
	    sizeof err);
	ck_assert_msg(rc == 0, "config: %s", err);
	return cap_text(&out);
}

static char *
config(const char *name)
{
	return config_flags(name, 0);
}

static char *
suggest(void)
{
	return suggest_in(&tab, 0);
}

static char *
multi(int flags)
{
	return multi_in(&tab, flags, NULL);
}

static int
valid_field(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (; *s != '\0'; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

/* The original system's graphs, as its munin plugins drew them. */
static const struct {
	const char	*name, *statid;
	int		 kind;
	const char	*title, *vlabel, *category, *args;
	int		 derive;
} tahoe[] = {
	{ "tahoe_runtime_load_avg", "load_monitor.avg_load", TALLY_STAT,
	  "Tahoe Runtime Load Average", "load", "tahoe", NULL, 0 },
	{ "tahoe_runtime_load_peak", "load_monitor.max_load", TALLY_STAT,
	  "Tahoe Runtime Load Peak", "load", "tahoe", NULL, 0 },
	{ "tahoe_storage_consumed", "storage_server.consumed", TALLY_STAT,
	  "Tahoe Storage Server Space Consumed", "bytes",
	  "tahoe_storage_server", "--base 1024", 0 },
	{ "tahoe_storage_allocated", "storage_server.allocated", TALLY_STAT,
	  "Tahoe Storage Server Space Allocated", "bytes",
	  "tahoe_storage_server", "--base 1024", 0 },
	{ "tahoe_storage_bytes_added", "storage_server.bytes_added",
	  TALLY_COUNTER, "Tahoe Storage Server Bytes Added", "bytes",
	  "tahoe_storage_server", NULL, 0 },
	{ "tahoe_storage_bytes_freed", "storage_server.bytes_freed",
	  TALLY_COUNTER, "Tahoe Storage Server Bytes Removed", "bytes",
	  "tahoe_storage_server", NULL, 0 },
	{ "tahoe_storage_operations_allocate", "storage_server.allocate",
	  TALLY_COUNTER, "Tahoe Storage Server Allocate_Bucket Operations",
	  "operations per second", "tahoe_storage_server", NULL, 1 },
	{ "tahoe_storage_operations_get", "storage_server.get", TALLY_COUNTER,
	  "Tahoe Storage Server get_bucket Operations",
	  "operations per second", "tahoe_storage_server", NULL, 1 },
	{ "tahoe_storage_operations_writev", "storage_server.writev",
	  TALLY_COUNTER, "Tahoe Storage Server writev Operations",
	  "operations per second", "tahoe_storage_server", NULL, 1 },
	{ "tahoe_storage_operations_readv", "storage_server.readv",
	  TALLY_COUNTER, "Tahoe Storage Server readv Operations",
	  "operations per second", "tahoe_storage_server", NULL, 1 },
	{ "tahoe_helper_incoming_files", "chk_upload_helper.incoming_count",
	  TALLY_STAT, "Tahoe Upload Helper Incoming File Count", "n files",
	  "tahoe_helper", NULL, 0 },
	{ "tahoe_helper_incoming_filesize", "chk_upload_helper.incoming_size",
	  TALLY_STAT, "Tahoe Upload Helper Incoming File Size", "bytes",
	  "tahoe_helper", NULL, 0 },
	{ "tahoe_helper_incoming_files_old",
	  "chk_upload_helper.incoming_size_old", TALLY_STAT,
	  "Tahoe Upload Helper Incoming Old Files", "bytes", "tahoe_helper",
	  NULL, 0 },
	{ "tahoe_helper_encoding_files", "chk_upload_helper.encoding_count",
	  TALLY_STAT, "Tahoe Upload Helper Encoding File Count", "n files",
	  "tahoe_helper", NULL, 0 },
	{ "tahoe_helper_encoding_filesize", "chk_upload_helper.encoding_size",
	  TALLY_STAT, "Tahoe Upload Helper Encoding File Size", "bytes",
	  "tahoe_helper", NULL, 0 },
	{ "tahoe_helper_encoding_files_old",
	  "chk_upload_helper.encoding_size_old", TALLY_STAT,
	  "Tahoe Upload Helper Encoding Old Files", "bytes", "tahoe_helper",
	  NULL, 0 },
	{ "tahoe_helper_active_uploads", "chk_upload_helper.active_uploads",
	  TALLY_STAT, "Tahoe Upload Helper Active Files", "n files",
	  "tahoe_helper", NULL, 0 },
	{ "tahoe_helper_upload_requests", "chk_upload_helper.upload_requests",
	  TALLY_COUNTER, "Tahoe Upload Helper Upload Requests", "requests",
	  "tahoe_helper", NULL, 1 },
	{ "tahoe_helper_upload_already_present",
	  "chk_upload_helper.upload_already_present", TALLY_COUNTER,
	  "Tahoe Upload Helper Uploads Already Present", "requests",
	  "tahoe_helper", NULL, 1 },
	{ "tahoe_helper_upload_need_upload",
	  "chk_upload_helper.upload_need_upload", TALLY_COUNTER,
	  "Tahoe Upload Helper Uploads Needing Upload", "requests",
	  "tahoe_helper", NULL, 1 },
	{ "tahoe_helper_encoded_bytes", "chk_upload_helper.encoded_bytes",
	  TALLY_COUNTER, "Tahoe Upload Helper Encoded Bytes", "bytes",
	  "tahoe_helper", NULL, 1 },
	{ "tahoe_helper_fetched_bytes", "chk_upload_helper.fetched_bytes",
	  TALLY_COUNTER, "Tahoe Upload Helper Fetched Bytes", "bytes",
	  "tahoe_helper", NULL, 1 },
	{ "tahoe_uploader_bytes_uploaded", "uploader.bytes_uploaded",
	  TALLY_COUNTER, "Tahoe Uploader Bytes Uploaded", "bytes",
	  "tahoe_traffic", NULL, 1 },
	{ "tahoe_uploader_files_uploaded", "uploader.files_uploaded",
	  TALLY_COUNTER, "Tahoe Uploader Files Uploaded", "files",
	  "tahoe_traffic", NULL, 1 },
	{ "tahoe_mutable_files_published", "mutable.files_published",
	  TALLY_COUNTER, "Tahoe Mutable Files Published", "files",
	  "tahoe_traffic", NULL, 1 },
	{ "tahoe_mutable_files_retrieved", "mutable.files_retrieved",
	  TALLY_COUNTER, "Tahoe Mutable Files Retrieved", "files",
	  "tahoe_traffic", NULL, 1 },
};

START_TEST(test_table_tahoe)
{
	const struct plugin_graph	*g;
	size_t				 i, ncompat = 0;

	for (i = 0; i < plugin_ngraphs; i++)
		ncompat += plugin_graphs[i].compat != 0;
	ck_assert_uint_eq(ncompat, 26);
	ck_assert_uint_eq(sizeof tahoe / sizeof tahoe[0], 26);
	for (i = 0; i < sizeof tahoe / sizeof tahoe[0]; i++) {
		g = plugin_graph_find(&tab, tahoe[i].name);
		ck_assert_msg(g != NULL, "%s missing", tahoe[i].name);
		ck_assert_str_eq(g->key, tahoe[i].name);
		ck_assert_str_eq(g->statid, tahoe[i].statid);
		ck_assert_msg(g->kind == tahoe[i].kind, "%s: kind", g->key);
		ck_assert_str_eq(g->title, tahoe[i].title);
		ck_assert_str_eq(g->vlabel, tahoe[i].vlabel);
		ck_assert_str_eq(g->category, tahoe[i].category);
		if (tahoe[i].args == NULL)
			ck_assert_ptr_null(g->args);
		else
			ck_assert_str_eq(g->args, tahoe[i].args);
		ck_assert_int_eq(g->derive != 0, tahoe[i].derive);
		ck_assert_int_eq(g->scale > 1, 0);
		ck_assert_msg(g->info != NULL && strlen(g->info) > 10 &&
		    strchr(g->info, '\n') == NULL, "%s: info", g->key);
	}
}
END_TEST

/* Every entry is well-formed, and keys are unique and suggestable. */
START_TEST(test_table_sane)
{
	size_t	 i, j;

	for (i = 0; i < plugin_ngraphs; i++) {
		const struct plugin_graph *g = &plugin_graphs[i];
		ck_assert_msg(valid_field(g->key), "%s", g->key);
		ck_assert_msg(name_stat_valid(g->statid, strlen(g->statid)),
		    "%s", g->statid);
		ck_assert(g->kind == TALLY_COUNTER || g->kind == TALLY_STAT);
		ck_assert(g->title && g->vlabel && g->category && g->info);
		ck_assert_msg(g->compat == (strncmp(g->key, "tahoe_", 6) == 0),
		    "%s", g->key);
		/* A double scaled for DERIVE must be a DERIVE of a stat. */
		if (g->scale > 1)
			ck_assert(g->derive && g->kind == TALLY_STAT);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(plugin_graphs[j].key, g->key);
	}
}
END_TEST

START_TEST(test_table_builtin)
{
	static const struct {
		const char	*name, *statid;
		int		 derive;
	} cases[] = {
		{ "tally_load_avg", "load_monitor.avg_load", 0 },
		{ "tally_load_peak", "load_monitor.max_load", 0 },
		{ "tally_cpu_1min", "cpu_monitor.1min_avg", 0 },
		{ "tally_cpu_5min", "cpu_monitor.5min_avg", 0 },
		{ "tally_cpu_15min", "cpu_monitor.15min_avg", 0 },
		{ "tally_cpu_total", "cpu_monitor.total", 1 },
		{ "tally_uptime", "node.uptime", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct plugin_graph *g = graph(cases[i].name);
		ck_assert_str_eq(g->statid, cases[i].statid);
		ck_assert_int_eq(g->kind, TALLY_STAT);
		ck_assert_int_eq(g->derive != 0, cases[i].derive);
		ck_assert_int_eq(g->compat, 0);
	}
}
END_TEST

START_TEST(test_graph_find)
{
	static const struct {
		const char	*argv0;
		const char	*key;	/* NULL: not found */
	} cases[] = {
		{ "tahoe_storage_allocated", "tahoe_storage_allocated" },
		{ "tally_tahoe_storage_allocated", "tahoe_storage_allocated" },
		{ "/etc/munin/plugins/tahoe_runtime_load_avg",
		  "tahoe_runtime_load_avg" },
		{ "/etc/munin/plugins/tally_load_avg", "load_avg" },
		{ "./tally_cpu_total", "cpu_total" },
		{ "tally_uptime", "uptime" },
		{ "tally_tahoe_mutable_files_retrieved",
		  "tahoe_mutable_files_retrieved" },
		/* Bare built-in names would shadow munin's own plugins. */
		{ "load_avg", NULL },
		{ "uptime", NULL },
		{ "tally_", NULL },
		{ "/usr/share/munin/plugins/tally_", NULL },
		{ "tally_foo", NULL },
		{ "tally_tally_load_avg", NULL },
		{ "tally_tahoe_", NULL },
		{ "tahoe_storage_allocatedx", NULL },
		{ "Tally_load_avg", NULL },
		{ "tally_load_avg/", NULL },
		/* The multigraph link is no single graph. */
		{ "tally_all", NULL },
		{ "all", NULL },
		{ "", NULL },
		{ NULL, NULL },
	};
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct plugin_graph *g = plugin_graph_find(&tab,
		    cases[i].argv0);
		if (cases[i].key == NULL)
			ck_assert_msg(g == NULL, "%s found %s", cases[i].argv0,
			    g->key);
		else {
			ck_assert_msg(g != NULL, "%s not found",
			    cases[i].argv0);
			ck_assert_str_eq(g->key, cases[i].key);
		}
	}
}
END_TEST

START_TEST(test_is_multigraph)
{
	static const struct {
		const char	*argv0;
		int		 want;
	} cases[] = {
		{ "tally_all", 1 },
		{ "/etc/munin/plugins/tally_all", 1 },
		{ "./tally_all", 1 },
		{ "all", 0 },
		{ "tally_", 0 },
		{ "tally_all_", 0 },
		{ "tally_allx", 0 },
		{ "Tally_all", 0 },
		{ "tally_all/", 0 },
		{ "tally_load_avg", 0 },
		{ "", 0 },
		{ NULL, 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(plugin_is_multigraph(cases[i].argv0) ==
		    cases[i].want, "%s", cases[i].argv0);
}
END_TEST

/*
 * list prints exactly the names that plugin_graph_find accepts, and the
 * multigraph link last.
 */
START_TEST(test_list)
{
	struct capture	 c;
	char		*text, *line, *save, *last = NULL;
	size_t		 n = 0, bare = 0;

	plugin_list(&tab, cap_open(&c));
	text = cap_text(&c);
	ck_assert_ptr_nonnull(strstr(text, "tally_load_avg\n"));
	ck_assert_ptr_nonnull(strstr(text, "\ntahoe_storage_allocated\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "\ntally_tahoe_storage_allocated\n"));
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		last = line;
		n++;
		if (plugin_is_multigraph(line))
			continue;
		ck_assert_msg(plugin_graph_find(&tab, line) != NULL, "%s",
		    line);
		bare += strncmp(line, "tally_", 6) != 0;
	}
	ck_assert_str_eq(last, "tally_all");
	ck_assert_uint_eq(n, plugin_ngraphs + 26 + 1);
	ck_assert_uint_eq(bare, 26);
	free(text);
}
END_TEST

/* A graph's name for munin: the original name, or tally_<key>. */
START_TEST(test_graph_name)
{
	static const struct {
		const char	*argv0, *want;
	} cases[] = {
		{ "tally_load_avg", "tally_load_avg" },
		{ "tally_uptime", "tally_uptime" },
		{ "tahoe_storage_allocated", "tahoe_storage_allocated" },
		{ "tally_tahoe_storage_allocated", "tahoe_storage_allocated" },
	};
	struct capture	 c;
	char		*text;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		plugin_graph_name(graph(cases[i].argv0), cap_open(&c));
		text = cap_text(&c);
		ck_assert_str_eq(text, cases[i].want);
		free(text);
	}
}
END_TEST

#define A10 "aaaaaaaaaa"
#define X10 "xxxxxxxxxx"

START_TEST(test_field_name)
{
	static const struct {
		const char	*nick, *id, *want;
	} cases[] = {
		{ "alpha", "n1", "alpha_n1" },
		{ "my node", "abc", "my_node_abc" },
		{ "s3.example.org", "0f1e", "s3_example_org_0f1e" },
		/* Never a leading digit. */
		{ "1st", "abc", "_1st_abc" },
		{ "9", "0", "_9_0" },
		/* A changed id gets a hash of the raw id. */
		{ "web", "node-1", "web_node_1_54c43383" },
		{ "w", "x-y-z", "w_x_y_z_be64e846" },
		/* UTF-8 bytes become '_'; the id is intact. */
		{ "caf\xc3\xa9", "c", "caf___c" },
		/* A long nickname is cut, not the id. */
		{ X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 "xxxxxxxx",
		  "abc", X10 X10 X10 X10 X10 X10 "_abc" },
		/* A 64-byte id cannot fit after "_": cut, then hashed. */
		{ "n", A10 A10 A10 A10 A10 A10 "aaaa",
		  "_" A10 A10 A10 A10 A10 "aaaa" "_d96f0f85" },
		/* Never one of munin's settings: a '_' ahead of the nickname. */
		{ "graph", "title", "_graph_title" },
		{ "graph", "vlabel", "_graph_vlabel" },
		{ "graph x", "y", "_graph_x_y" },
		{ "graph", "n-1", "_graph_n_1_da0ed23f" },
		{ "update", "rate", "_update_rate" },
		{ "host", "name", "_host_name" },
		{ "timeout_fetch_all", "nodes", "_timeout_fetch_all_nodes" },
		/* Room for the '_' comes off the nickname, never the id. */
		{ "graph", "x" A10 A10 A10 A10 A10 "xxxxxxx",
		  "_grap_x" A10 A10 A10 A10 A10 "xxxxxxx" },
		/* Near them, unchanged. */
		{ "graphs", "title", "graphs_title" },
		{ "update", "rates", "update_rates" },
		{ "Graph", "title", "Graph_title" },
	};
	char	 out[PLUGIN_FIELD_LEN];
	size_t	 i, len;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		len = plugin_field_name(cases[i].nick, strlen(cases[i].nick),
		    cases[i].id, strlen(cases[i].id), out);
		ck_assert_str_eq(out, cases[i].want);
		ck_assert_uint_eq(len, strlen(out));
		ck_assert_uint_le(len, PLUGIN_NAME_MAX);
	}
}
END_TEST

/* Whatever the input, the name is a valid munin name of bounded length. */
struct field_case {
	const char	*in;
	const char	*out;
	int		 changed;
};

static const struct field_case fields[] = {
	{ "storage_1", "storage_1", 0 },
	{ "storage-1", "storage_1", 1 },
	{ "1node", "_1node", 1 },
	{ "a.b c", "a_b_c", 1 },
	{ "", "_", 1 },
	{ "h\xc3\xa9", "h__", 1 },
};

START_TEST(test_munin_fields)
{
	const struct field_case *c = &fields[_i];
	char	 out[PLUGIN_NAME_MAX + 1];

	ck_assert_int_eq(plugin_munin_field(c->in, strlen(c->in), out),
	    c->changed);
	ck_assert_str_eq(out, c->out);
}
END_TEST

START_TEST(test_munin_field_cut)
{
	char	 in[100], out[PLUGIN_NAME_MAX + 1];

	memset(in, 'x', sizeof in);
	ck_assert_int_eq(plugin_munin_field(in, sizeof in, out), 1);
	ck_assert_uint_eq(strlen(out), PLUGIN_NAME_MAX);
}
END_TEST

/* The hash of the field names' suffix is FNV-1a, and never changes. */
START_TEST(test_field_hash)
{
	ck_assert_uint_eq(plugin_hash("", 0), 0x811c9dc5u);
	ck_assert_uint_eq(plugin_hash("a", 1), 0xe40c292cu);
	ck_assert_uint_eq(plugin_hash("foobar", 6), 0xbf9cf968u);
}
END_TEST

START_TEST(test_field_name_valid)
{
	char	 nick[TALLY_NICKNAME_MAX + 1], id[TALLY_NODE_ID_MAX + 1];
	char	 out[PLUGIN_FIELD_LEN];
	static const char idchars[] = "abcdefghijklmnopqrstuvwxyz0123456789_-";
	unsigned seed = 12345;
	size_t	 i, j, nl, il;

	for (i = 0; i < 2000; i++) {
		nl = 1 + rand_r(&seed) % TALLY_NICKNAME_MAX;
		il = 1 + rand_r(&seed) % TALLY_NODE_ID_MAX;
		for (j = 0; j < nl; j++)
			nick[j] = (char)(0x20 + rand_r(&seed) % 0xe0);
		for (j = 0; j < il; j++)
			id[j] = idchars[rand_r(&seed) % (sizeof idchars - 1)];
		plugin_field_name(nick, nl, id, il, out);
		ck_assert_msg(valid_field(out), "'%s'", out);
		ck_assert_uint_le(strlen(out), PLUGIN_NAME_MAX);
	}
}
END_TEST

/* Ids that munin's charset would merge stay apart. */
START_TEST(test_field_name_distinct)
{
	char	 a[PLUGIN_FIELD_LEN], b[PLUGIN_FIELD_LEN];

	plugin_field_name("web", 3, "a-b", 3, a);
	plugin_field_name("web", 3, "a_b", 3, b);
	ck_assert_str_ne(a, b);
	/* Deterministic: the same input gives the same name. */
	plugin_field_name("web", 3, "a-b", 3, b);
	ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(test_names_dedup)
{
	static const char *in[] = { "x", "x", "x_2", "x", "y", "x_2" };
	static const char *want[] = { "x", "x_2", "x_2_2", "x_3", "y",
	    "x_2_3" };
	struct plugin_names	 pn;
	char			 f[PLUGIN_FIELD_LEN];
	size_t			 i;

	plugin_names_init(&pn);
	for (i = 0; i < sizeof in / sizeof in[0]; i++) {
		snprintf(f, sizeof f, "%s", in[i]);
		ck_assert_int_eq(plugin_names_add(&pn, f), 0);
		ck_assert_str_eq(f, want[i]);
	}
	plugin_names_free(&pn);
}
END_TEST

/*
 * Past the first growth of the set, names stay unique, and the ones from
 * before it are still found; a cleared set (the next graph of tally_all)
 * knows none of them.
 */
START_TEST(test_names_many)
{
	struct plugin_names	 pn;
	char			 f[PLUGIN_FIELD_LEN], want[32];
	size_t			 i, n = PLUGIN_NAMES_SLOTS;

	plugin_names_init(&pn);
	for (i = 1; i <= n; i++) {
		snprintf(f, sizeof f, "n%zu", i);
		snprintf(want, sizeof want, "n%zu", i);
		ck_assert_int_eq(plugin_names_add(&pn, f), 0);
		ck_assert_str_eq(f, want);
	}
	ck_assert_uint_eq(pn.n, n);
	ck_assert_uint_gt(pn.tcap, PLUGIN_NAMES_SLOTS);
	for (i = 1; i <= 3; i++) {
		snprintf(f, sizeof f, "n1");
		ck_assert_int_eq(plugin_names_add(&pn, f), 0);
		snprintf(want, sizeof want, "n1_%zu", i + 1);
		ck_assert_str_eq(f, want);
	}
	plugin_names_clear(&pn);
	ck_assert_uint_eq(pn.n, 0);
	snprintf(f, sizeof f, "n1");
	ck_assert_int_eq(plugin_names_add(&pn, f), 0);
	ck_assert_str_eq(f, "n1");
	plugin_names_free(&pn);
}
END_TEST

START_TEST(test_config_derive)
{
	static const struct stat_val c[] = { { "storage_server.allocate", 7 },
	    { NULL, 0 } };
	const struct plugin_graph *g;
	char	*text, want[2048];

	put_node("aaa", "alpha", NOW, c, NULL);
	g = graph("tahoe_storage_operations_allocate");
	text = config("tahoe_storage_operations_allocate");
	snprintf(want, sizeof want,
	    "graph_title Tahoe Storage Server Allocate_Bucket Operations\n"
	    "graph_vlabel operations per second\n"
	    "graph_category tahoe_storage_server\n"
	    "graph_info %s Stat: storage_server.allocate, a line per node.\n"
	    "alpha_aaa.label alpha\n"
	    "alpha_aaa.draw LINE1\n"
	    "alpha_aaa.type DERIVE\n"
	    "alpha_aaa.min 0\n"
	    "alpha_aaa.info node aaa, source local\n", g->info);
	ck_assert_str_eq(text, want);
	free(text);
}
END_TEST

START_TEST(test_config_args)
{
	static const struct stat_val s[] = {
	    { "storage_server.allocated", 1 }, { NULL, 0 } };
	char	*text;

	put_node("aaa", "alpha", NOW, NULL, s);
	put_node("bbb", "beta", NOW, NULL, s);
	put_node("ccc", "gamma", NOW, NULL, NULL);
	text = config("tally_tahoe_storage_allocated");
	ck_assert_ptr_nonnull(strstr(text, "graph_title Tahoe Storage Server "
	    "Space Allocated\ngraph_vlabel bytes\ngraph_category "
	    "tahoe_storage_server\ngraph_args --base 1024\ngraph_info "));
	/* One field per node that has the stat, in id order. */
	ck_assert_ptr_nonnull(strstr(text, "alpha_aaa.label alpha\n"
	    "alpha_aaa.draw LINE1\nalpha_aaa.info node aaa, source local\n"
	    "beta_bbb.label beta\n"));
	ck_assert_ptr_null(strstr(text, "gamma"));
	ck_assert_ptr_null(strstr(text, "DERIVE"));
	ck_assert_ptr_null(strstr(text, ".min"));
	free(text);
}
END_TEST

/* A DERIVE of a double is scaled to an integer and divided back. */
START_TEST(test_cpu_total_scaled)
{
	static const struct stat_val s[] = { { "cpu_monitor.total", 12.3456 },
	    { NULL, 0 } };
	char	*text;

	put_node("aaa", "alpha", NOW, NULL, s);
	text = config("tally_cpu_total");
	ck_assert_ptr_nonnull(strstr(text, "alpha_aaa.type DERIVE\n"
	    "alpha_aaa.min 0\nalpha_aaa.cdef alpha_aaa,1000,/\n"));
	free(text);
	text = fetch("tally_cpu_total", NULL);
	ck_assert_str_eq(text, "alpha_aaa.value 12346\n");
	free(text);
}
END_TEST

/* Colliding names get suffixes, and config and fetch agree on them. */
START_TEST(test_fields_collide)
{
	static const struct stat_val c[] = { { "storage_server.get", 5 },
	    { NULL, 0 } };
	char	*text;

	/* Both give "a_b_c"; and "x-1" must not merge with "x_1". */
	put_node("b_c", "a", NOW, c, NULL);
	put_node("c", "a_b", NOW, c, NULL);
	put_node("x-1", "n", NOW, c, NULL);
	put_node("x_1", "n", NOW, c, NULL);
	text = config("tally_tahoe_storage_operations_get");
	ck_assert_ptr_nonnull(strstr(text, "\na_b_c.label a\n"));
	ck_assert_ptr_nonnull(strstr(text, "\na_b_c_2.label a_b\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nn_x_1.label n\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nn_x_1_"));
	free(text);
	text = fetch("tally_tahoe_storage_operations_get", NULL);
	ck_assert_str_eq(text, "a_b_c.value 5\na_b_c_2.value 5\n"
	    "n_x_1_96d2347d.value 5\nn_x_1.value 5\n");
	free(text);
}
END_TEST

START_TEST(test_fetch_values)
{
	static const struct stat_val c[] = {
	    { "storage_server.allocate", 42 },
	    { "storage_server.bytes_added", -5 }, { NULL, 0 } };
	static const struct stat_val s[] = {
	    { "storage_server.allocated", 1.5 },
	    { "storage_server.consumed", 0.1 },
	    { "load_monitor.avg_load", 1e-7 },
	    { "chk_upload_helper.incoming_count", NAN },
	    { "chk_upload_helper.incoming_size", INFINITY }, { NULL, 0 } };
	static const struct {
		const char	*graph, *want;
	} cases[] = {
		{ "tahoe_storage_operations_allocate", "n_a.value 42\n" },
		{ "tahoe_storage_bytes_added", "n_a.value -5\n" },
		{ "tahoe_storage_allocated", "n_a.value 1.5\n" },
		{ "tahoe_storage_consumed", "n_a.value 0.1\n" },
		{ "tally_load_avg", "n_a.value 1e-07\n" },
		/* Unknown or unplottable: U; absent: no line. */
		{ "tahoe_helper_incoming_files", "n_a.value U\n" },
		{ "tahoe_helper_incoming_filesize", "n_a.value U\n" },
		{ "tahoe_storage_operations_get", "" },
	};
	size_t	 i;
	char	*text;

	put_node("a", "n", NOW - 1, c, s);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		text = fetch(cases[i].graph, NULL);
		ck_assert_msg(strcmp(text, cases[i].want) == 0,
		    "%s: got '%s', want '%s'", cases[i].graph, text,
		    cases[i].want);
		free(text);
	}
}
END_TEST

/*
 * Counters are printed without printf: the extremes of int64, zero, a
 * negative and texts with zeros ahead of them (or "-0") read as what
 * they are; a text already as printf writes it is printed as stored.  A
 * node id with a '-' gets the hash suffix, also written without printf,
 * as "_%08x" would.
 */
START_TEST(test_fetch_int64_text)
{
	static const struct {
		const char	*id, *text, *want;
	} nodes[] = {
		{ "amin", "-9223372036854775808", "-9223372036854775808" },
		{ "bmax", "9223372036854775807", "9223372036854775807" },
		{ "czero", "0", "0" },
		{ "dneg", "-1", "-1" },
		{ "epad", "0000000000000000000000000000000042", "42" },
		{ "f-g", "7", "7" },
		{ "gnegzero", "-0", "0" },
		{ "hpad", "007", "7" },
		{ "inegpad", "-007", "-7" },
		{ "jten", "10", "10" },
	};
	char	 rec[128], key[64], want[1024], line[128], *text;
	size_t	 i;

	want[0] = '\0';
	for (i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
		snprintf(rec, sizeof rec, "nickname=n\ntime=%lld\n"
		    "source=local\n", (long long)NOW);
		snprintf(key, sizeof key, "%s/storage_server.allocate",
		    nodes[i].id);
		put_raw("nodes", nodes[i].id, rec, 0);
		put_raw("counters", key, nodes[i].text, 1);
		if (strchr(nodes[i].id, '-') == NULL)
			snprintf(line, sizeof line, "n_%s.value %s\n",
			    nodes[i].id, nodes[i].want);
		else
			snprintf(line, sizeof line, "n_f_g_%08x.value %s\n",
			    (unsigned)plugin_hash(nodes[i].id,
			    strlen(nodes[i].id)), nodes[i].want);
		strcat(want, line);
	}
	text = fetch("tahoe_storage_operations_allocate", NULL);
	ck_assert_str_eq(text, want);
	free(text);
	ck_assert_ptr_nonnull(strstr(want, "n_f_g_"));
}
END_TEST

/* A stat written in the wrong table does not count as the graph's. */
START_TEST(test_fetch_wrong_table)
{
	static const struct stat_val s[] = {
	    { "storage_server.bytes_freed", 3 }, { NULL, 0 } };
	char	*text;

	put_node("a", "n", NOW, NULL, s);
	text = fetch("tahoe_storage_bytes_freed", NULL);
	ck_assert_str_eq(text, "");
	free(text);
}
END_TEST

/* Older than 300 s at the given now: U; 300 s exactly is still fresh. */
START_TEST(test_fetch_stale)
{
	static const struct stat_val c[] = { { "storage_server.allocate", 9 },
	    { NULL, 0 } };
	char	*text;

	put_node("fresh", "f", NOW - 300, c, NULL);
	put_node("stale", "s", NOW - 301, c, NULL);
	put_node("future", "u", NOW + 30, c, NULL);
	text = fetch("tahoe_storage_operations_allocate", NULL);
	ck_assert_str_eq(text, "f_fresh.value 9\nu_future.value 9\n"
	    "s_stale.value U\n");
	free(text);
}
END_TEST

/*
 * A time that is not sane (tally(5): before 2000-01-01, or more than a day
 * ahead of now) is stale whatever it is: a node whose clock is in 2100 is
 * not fresh for ever.  Written raw, as a hostile peer or file would have
 * it; UBSan aborts if any age arithmetic overflows on the extremes.
 */
START_TEST(test_fetch_insane_time)
{
	static const struct {
		const char	*id, *time;
	} nodes[] = {
		{ "amin", "-9223372036854775808" },
		{ "bmax", "9223372036854775807" },
		{ "c2100", "4102444800" },
		{ "dahead", "1700086401" },	/* NOW + 86401 */
		{ "eday", "1700086400" },	/* NOW + 86400: sane, fresh */
		{ "f1999", "946684799" },
		{ "g2000", "946684800" },	/* sane, but stale */
		{ "hnow", "1700000000" },
	};
	static const char want[] = "n_amin.value U\nn_bmax.value U\n"
	    "n_c2100.value U\nn_dahead.value U\nn_eday.value 9\n"
	    "n_f1999.value U\nn_g2000.value U\nn_hnow.value 9\n";
	char	 rec[128], key[64], *text;
	size_t	 i;

	for (i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
		snprintf(rec, sizeof rec, "nickname=n\ntime=%s\nsource=local\n",
		    nodes[i].time);
		snprintf(key, sizeof key, "%s/storage_server.allocate",
		    nodes[i].id);
		put_raw("nodes", nodes[i].id, rec, 0);
		put_raw("counters", key, "9", 1);
	}
	text = fetch("tahoe_storage_operations_allocate", NULL);
	ck_assert_str_eq(text, want);
	free(text);
	text = config_flags("tahoe_storage_operations_allocate", PLUGIN_DIRTY);
	ck_assert_ptr_nonnull(strstr(text, want));
	free(text);
	text = multi(0);
	ck_assert_ptr_nonnull(strstr(text, "multigraph "
	    "tahoe_storage_operations_allocate\n"));
	ck_assert_ptr_nonnull(strstr(text, want));
	free(text);
}
END_TEST

/* A node whose record cannot be read is reported and skipped. */
START_TEST(test_fetch_bad_record)
{
	static const struct stat_val c[] = { { "storage_server.allocate", 1 },
	    { NULL, 0 } };
	char	*text, *errtext, msg[TALLY_ERRLEN];

	put_node("a", "n", NOW, c, NULL);
	put_node("c", "n", NOW, c, NULL);
	put_raw("nodes", "b", "nickname=x\nsource=local\n", 1);
	put_raw("counters", "b/storage_server.allocate", "1", 1);
	put_raw("counters", "c/storage_server.allocate", "12abc", 1);
	/* Values of a node with no record: skipped too. */
	put_raw("counters", "d/storage_server.allocate", "1", 1);
	text = fetch("tahoe_storage_operations_allocate", &errtext);
	ck_assert_str_eq(text, "n_a.value 1\nn_c.value U\n");
	ck_assert_ptr_nonnull(strstr(errtext, "tally_: "));
	ck_assert_ptr_nonnull(strstr(errtext, "skipping node b: node record "
	    "lacks time"));
	ck_assert_ptr_nonnull(strstr(errtext, "node c: "
	    "storage_server.allocate: unreadable value '12abc'"));
	free(text);
	free(errtext);
	/* With the stat index, the walk meets d's value, and says so. */
	ck_assert_msg(tally_statsfile_index(dir, 1, msg, sizeof msg) == 0,
	    "%s", msg);
	text = fetch("tahoe_storage_operations_allocate", &errtext);
	ck_assert_str_eq(text, "n_a.value 1\nn_c.value U\n");
	ck_assert_ptr_nonnull(strstr(errtext, "skipping node b: node record "
	    "lacks time"));
	ck_assert_ptr_nonnull(strstr(errtext, "skipping node d: it has "
	    "storage_server.allocate but no record"));
	free(text);
	free(errtext);
}
END_TEST

/* A control character in a record cannot break munin's line format. */
START_TEST(test_config_clean)
{
	char	*text;

	put_raw("nodes", "a", "nickname=n\ntime=1700000000\n"
	    "source=remote 10.0.0.1:99\r\001x\n", 1);
	put_raw("stats", "a/node.uptime", "1", 1);
	text = config("tally_uptime");
	ck_assert_ptr_nonnull(strstr(text, "\nn_a.info node a, source remote "
	    "10.0.0.1:99??x\n"));
	ck_assert_ptr_null(strchr(text, '\r'));
	free(text);
}
END_TEST

START_TEST(test_fetch_empty)
{
	char	*text;

	text = fetch("tally_uptime", NULL);
	ck_assert_str_eq(text, "");
	free(text);
}
END_TEST

START_TEST(test_suggest)
{
	static const struct stat_val c[] = { { "storage_server.allocate", 1 },
	    { "no.such.graph", 1 }, { NULL, 0 } };
	static const struct stat_val s[] = { { "node.uptime", 10 },
	    /* Absent from the counters: the table decides where to look. */
	    { "uploader.files_uploaded", 1 }, { NULL, 0 } };
	static const struct stat_val s2[] = { { "load_monitor.max_load", 0.5 },
	    { NULL, 0 } };
	char	*text;

	text = suggest();
	ck_assert_str_eq(text, "");
	free(text);
	put_node("a", "n", NOW, c, s);
	/* A stale node's stats still exist. */
	put_node("b", "m", NOW - 10000, NULL, s2);
	text = suggest();
	ck_assert_str_eq(text, "load_peak\nuptime\ntahoe_runtime_load_peak\n"
	    "tahoe_storage_operations_allocate\n");
	free(text);
}
END_TEST

START_TEST(test_open_errors)
{
	static const struct {
		const char	*sub;	/* under dir; NULL: unset */
		int		 mkdir_it;
		const char	*want;	/* in the message */
	} cases[] = {
		{ NULL, 0, "statsfile is not set" },
		{ "", 0, "statsfile is not set" },
		{ "/missing", 0, "/missing: No such file or directory" },
		{ "/data.mdb", 0, "not a directory" },
		{ "/empty", 1, "no database yet" },
	};
	tally_reader	*rd;
	char		 path[FIXTURE_PATH_MAX + 32], err[TALLY_ERRLEN];
	struct capture	 c;
	char		*text, want[FIXTURE_PATH_MAX + 600];
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *p = NULL;
		if (cases[i].sub != NULL && *cases[i].sub == '\0')
			p = "";
		else if (cases[i].sub != NULL) {
			snprintf(path, sizeof path, "%s%s", dir,
			    cases[i].sub);
			if (cases[i].mkdir_it)
				ck_assert_int_eq(mkdir(path, 0700), 0);
			p = path;
		}
		ck_assert_int_ne(plugin_open(&rd, p, err, sizeof err), 0);
		ck_assert_ptr_null(rd);
		ck_assert_msg(strstr(err, cases[i].want) != NULL,
		    "'%s' lacks '%s'", err, cases[i].want);
		if (p != NULL && *p != '\0')
			ck_assert_msg(strstr(err, p) != NULL, "%s", err);
		/* autoconf says the same, on one line, and still "no". */
		plugin_autoconf(NULL, p, NULL, cap_open(&c));
		text = cap_text(&c);
		snprintf(want, sizeof want, "no (%s)\n", err);
		ck_assert_str_eq(text, want);
		free(text);
	}
}
END_TEST

START_TEST(test_open_format)
{
	tally_reader	*rd;
	char		 err[TALLY_ERRLEN];

	put_raw("meta", "format", "99", 0);
	ck_assert_int_eq(plugin_open(&rd, dir, err, sizeof err),
	    TALLY_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "format '99' is not supported"));
}
END_TEST

START_TEST(test_open_ok)
{
	static const struct {
		const char	*argv0, *want;
	} names[] = {
		{ "/etc/munin/plugins/tally_uptime", "yes\n" },
		{ "tally_all", "yes\n" },
		{ "tahoe_storage_allocated", "yes\n" },
		{ "/etc/munin/plugins/tally_bogus", "no (no graph named "
		    "'tally_bogus'; 'tally_ list' prints the valid names)\n" },
		{ "uptime", "no (no graph named 'uptime'; 'tally_ list' "
		    "prints the valid names)\n" },
	};
	tally_reader	*rd;
	struct capture	 c;
	char		 err[TALLY_ERRLEN], *text;
	size_t		 i;

	static const struct stat_val s[] = { { "node.uptime", 1 },
	    { NULL, 0 } };

	put_node("a", "n", NOW, NULL, s);
	store_close(st);
	st = NULL;
	plugin_autoconf("tally_", dir, NULL, cap_open(&c));
	text = cap_text(&c);
	ck_assert_str_eq(text, "yes\n");
	free(text);
	/* Under a link's name: yes for a graph, no for anything else. */
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		plugin_autoconf(names[i].argv0, dir, NULL, cap_open(&c));
		text = cap_text(&c);
		ck_assert_msg(strcmp(text, names[i].want) == 0,
		    "autoconf as %s: '%s'", names[i].argv0, text);
		free(text);
	}
	ck_assert_msg(plugin_open(&rd, dir, err, sizeof err) == 0, "%s", err);
	tally_reader_close(rd);
	/* Read-only: the plugin can never write the database. */
	text = fetch("tally_uptime", NULL);
	ck_assert_str_eq(text, "n_a.value 1\n");
	free(text);
}
END_TEST

/* dirtyconfig: the config, then exactly what a fetch prints. */
START_TEST(test_config_dirty)
{
	static const struct stat_val c[] = { { "storage_server.allocate", 7 },
	    { NULL, 0 } };
	static const char *g = "tahoe_storage_operations_allocate";
	char	*plain, *dirty, *values, *want;

	put_node("aaa", "alpha", NOW, c, NULL);
	put_node("bbb", "beta", NOW - 301, c, NULL);	/* stale: U */
	put_node("ccc", "gamma", NOW, NULL, NULL);	/* no stat: no line */
	plain = config(g);
	values = fetch(g, NULL);
	ck_assert_str_eq(values, "alpha_aaa.value 7\nbeta_bbb.value U\n");
	dirty = config_flags(g, PLUGIN_DIRTY);
	ck_assert_int_gt(asprintf(&want, "%s%s", plain, values), 0);
	ck_assert_str_eq(dirty, want);
	free(plain);
	free(values);
	free(dirty);
	free(want);
}
END_TEST

/*
 * A fleet with data for several graphs: a and b fresh, c stale with the
 * only uploader.files_uploaded.  Its graphs, in table order.
 */
static const char *const fleet_graphs[] = {
	"tally_cpu_total", "tally_uptime", "tahoe_storage_allocated",
	"tahoe_storage_operations_allocate", "tahoe_uploader_files_uploaded",
};

static void
put_fleet(void)
{
	static const struct stat_val ca[] = {
	    { "storage_server.allocate", 5 }, { NULL, 0 } };
	static const struct stat_val sa[] = { { "node.uptime", 10 },
	    { "storage_server.allocated", 1.5 }, { "no.graph", 1 },
	    { NULL, 0 } };
	static const struct stat_val sb[] = { { "node.uptime", 20 },
	    { "cpu_monitor.total", 2.5 }, { NULL, 0 } };
	static const struct stat_val cc[] = {
	    { "uploader.files_uploaded", 3 }, { NULL, 0 } };

	put_node("a", "n", NOW, ca, sa);
	put_node("b", "m", NOW - 10, NULL, sb);
	put_node("c", "s", NOW - 1000, cc, NULL);
}

START_TEST(test_multigraph_fetch)
{
	char	*text;

	put_fleet();
	text = multi(0);
	ck_assert_str_eq(text,
	    "multigraph tally_cpu_total\n"
	    "m_b.value 2500\n"
	    "multigraph tally_uptime\n"
	    "n_a.value 10\nm_b.value 20\n"
	    "multigraph tahoe_storage_allocated\n"
	    "n_a.value 1.5\n"
	    "multigraph tahoe_storage_operations_allocate\n"
	    "n_a.value 5\n"
	    "multigraph tahoe_uploader_files_uploaded\n"
	    "s_c.value U\n");
	free(text);
}
END_TEST

/*
 * Config (plain and dirty) has the same sections as fetch, each exactly
 * the single graph's config (and values): one code path, one truth.
 */
START_TEST(test_multigraph_config)
{
	static const int flags[] = { PLUGIN_CONFIG,
	    PLUGIN_CONFIG | PLUGIN_DIRTY };
	char	*text, *want, *part, *vals, *tmp;
	size_t	 i, j;

	put_fleet();
	for (j = 0; j < sizeof flags / sizeof flags[0]; j++) {
		want = strdup("");
		ck_assert_ptr_nonnull(want);
		for (i = 0; i < sizeof fleet_graphs / sizeof fleet_graphs[0];
		    i++) {
			part = config(fleet_graphs[i]);
			vals = flags[j] & PLUGIN_DIRTY ?
			    fetch(fleet_graphs[i], NULL) : strdup("");
			ck_assert_int_gt(asprintf(&tmp, "%smultigraph %s\n"
			    "%s%s", want, fleet_graphs[i], part, vals), 0);
			free(want);
			free(part);
			free(vals);
			want = tmp;
		}
		text = multi(flags[j]);
		ck_assert_str_eq(text, want);
		if (!(flags[j] & PLUGIN_DIRTY))
			ck_assert_ptr_null(strstr(text, ".value"));
		free(text);
		free(want);
	}
}
END_TEST

/*
 * No node, or no node with a graph's stat: the first graph alone, so that
 * munin-node, which drops a plugin whose config is empty, keeps tally_all.
 */
START_TEST(test_multigraph_empty)
{
	static const struct stat_val s[] = { { "no.graph", 1 },
	    { NULL, 0 } };
	char	*text, *want, *conf, *vals;
	size_t	 round;

	for (round = 0; round < 2; round++) {
		if (round == 1)
			put_node("a", "n", NOW, NULL, s);
		conf = config("tally_load_avg");
		vals = fetch("tally_load_avg", NULL);
		ck_assert_str_eq(vals, "");

		text = multi(0);
		ck_assert_int_gt(asprintf(&want, "multigraph tally_load_avg\n"
		    "%s", vals), 0);
		ck_assert_str_eq(text, want);
		free(text);
		free(want);

		text = multi(PLUGIN_CONFIG);
		ck_assert_int_gt(asprintf(&want, "multigraph tally_load_avg\n"
		    "%s", conf), 0);
		ck_assert_str_eq(text, want);
		free(text);
		free(want);

		text = multi(PLUGIN_CONFIG | PLUGIN_DIRTY);
		ck_assert_int_gt(asprintf(&want, "multigraph tally_load_avg\n"
		    "%s%s", conf, vals), 0);
		ck_assert_str_eq(text, want);
		free(text);
		free(want);
		free(conf);
		free(vals);

		/* Nothing to link, though. */
		text = suggest_in(&tab, PLUGIN_MULTI);
		ck_assert_str_eq(text, "");
		free(text);
	}
}
END_TEST

/* A node whose record cannot be read is reported once, not per graph. */
START_TEST(test_multigraph_bad_record)
{
	char	*text, *errtext, *p;
	size_t	 n = 0;

	put_fleet();
	put_raw("nodes", "bb", "nickname=x\nsource=local\n", 1);
	put_raw("stats", "bb/node.uptime", "1", 1);
	text = multi_in(&tab, PLUGIN_CONFIG, &errtext);
	ck_assert_ptr_null(strstr(text, "x_bb"));
	for (p = errtext; (p = strstr(p, "skipping node bb")) != NULL; p++)
		n++;
	ck_assert_uint_eq(n, 1);
	free(text);
	free(errtext);
}
END_TEST

START_TEST(test_suggest_multigraph)
{
	char	*text;

	text = suggest_in(&tab, PLUGIN_MULTI);
	ck_assert_str_eq(text, "");
	free(text);
	put_fleet();
	text = suggest_in(&tab, PLUGIN_MULTI);
	ck_assert_str_eq(text, "all\n");
	free(text);
	/* Without the capability, the graphs themselves. */
	text = suggest();
	ck_assert_str_eq(text, "cpu_total\nuptime\ntahoe_storage_allocated\n"
	    "tahoe_storage_operations_allocate\n"
	    "tahoe_uploader_files_uploaded\n");
	free(text);
}
END_TEST

/* Munin::Plugin's need_multigraph, word for word where it matters. */
START_TEST(test_no_multigraph)
{
	struct capture	 c;
	char		*text;

	plugin_no_multigraph(0, cap_open(&c));
	text = cap_text(&c);
	ck_assert_str_eq(text, "multigraph.value 0\n");
	free(text);
	plugin_no_multigraph(1, cap_open(&c));
	text = cap_text(&c);
	ck_assert_ptr_nonnull(strstr(text, "graph_title This plugin needs "
	    "multigraph support\nmultigraph.label No multigraph here\n"
	    "multigraph.info "));
	ck_assert_ptr_nonnull(strstr(text, "tally_all"));
	ck_assert_ptr_null(strstr(text, ".value"));
	free(text);
}
END_TEST

/* ---- the operator's graph table (env.graphs) --------------------------- */

#define TSV "/etc/munin/tally-graphs.tsv"

static int
parse(struct plugin_table *t, const char *text, char *err)
{
	return plugin_table_parse(t, TSV, text, strlen(text), err,
	    TALLY_ERRLEN);
}

static const char ops_tsv[] =
    "# the operator's graphs\n"
    "\n"
    "tally_queue_depth\tqueue.depth\tstats\tQueue Depth\tjobs\tmyapp\t"
	"--lower-limit 0\tno\n"
    "myapp_requests\tmyapp.requests\tcounters\tMyApp Requests\t"
	"requests per second\tmy-app\t-\tyes\n"
    " \t \n"
    "tally_load_avg\tload_monitor.avg_load\tstats\tLoop Lateness\t"
	"seconds\ttally\t-\tno\n";

START_TEST(test_table_operator)
{
	struct plugin_table		 t;
	const struct plugin_graph	*g;
	struct capture			 c;
	char				 err[TALLY_ERRLEN], *text;

	ck_assert_msg(parse(&t, ops_tsv, err) == 0, "%s", err);
	ck_assert_uint_eq(t.n, plugin_ngraphs + 2);
	ck_assert_uint_eq(t.noperator, 3);

	/* A tally_ name: reachable only with the prefix. */
	g = plugin_graph_find(&t, "tally_queue_depth");
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_eq(g, &t.graphs[plugin_ngraphs]);
	ck_assert_str_eq(g->key, "queue_depth");
	ck_assert_str_eq(g->statid, "queue.depth");
	ck_assert_int_eq(g->kind, TALLY_STAT);
	ck_assert_str_eq(g->title, "Queue Depth");
	ck_assert_str_eq(g->vlabel, "jobs");
	ck_assert_str_eq(g->category, "myapp");
	ck_assert_str_eq(g->args, "--lower-limit 0");
	ck_assert_int_eq(g->derive, 0);
	ck_assert_int_eq(g->compat, 0);
	ck_assert_ptr_nonnull(strstr(g->info, TSV));
	ck_assert_ptr_null(plugin_graph_find(&t, "queue_depth"));

	/* A bare name: reachable bare and prefixed, named bare. */
	g = plugin_graph_find(&t, "myapp_requests");
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_eq(g, &t.graphs[plugin_ngraphs + 1]);
	ck_assert_ptr_eq(plugin_graph_find(&t, "tally_myapp_requests"), g);
	ck_assert_int_eq(g->kind, TALLY_COUNTER);
	ck_assert_ptr_null(g->args);
	ck_assert_int_eq(g->derive, 1);
	ck_assert_int_eq(g->compat, 1);

	/* A compiled graph's key: replaced in place. */
	ck_assert_ptr_eq(plugin_graph_find(&t, "tally_load_avg"),
	    &t.graphs[0]);
	ck_assert_str_eq(t.graphs[0].title, "Loop Lateness");
	ck_assert_ptr_null(t.graphs[0].args);
	ck_assert_str_eq(t.graphs[1].key, "load_peak");

	plugin_list(&t, cap_open(&c));
	text = cap_text(&c);
	ck_assert_ptr_nonnull(strstr(text, "\ntally_queue_depth\n"
	    "tally_myapp_requests\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nmyapp_requests\ntally_all\n"));
	free(text);
	plugin_table_free(&t);
	ck_assert_ptr_null(t.graphs);
}
END_TEST

/*
 * The compiled compat graphs, written as lines of an operator's graph table
 * (with a header), read back the same: env.graphs reads the format of the
 * original system's graph list.
 */
START_TEST(test_table_tsv_roundtrip)
{
	struct plugin_table	 t;
	FILE			*f;
	char			*text, err[TALLY_ERRLEN];
	size_t			 len, i;

	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	fputs("# The original system's munin graphs\n# plugin name\tstatid"
	    "\tcategory\tgraph_title\tgraph_vlabel\tgraph_category\t"
	    "graph_args\tDERIVE+min 0\n", f);
	for (i = 0; i < plugin_ngraphs; i++) {
		const struct plugin_graph *g = &plugin_graphs[i];
		if (!g->compat)
			continue;
		fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g->key,
		    g->statid, g->kind == TALLY_COUNTER ? "counters" : "stats",
		    g->title, g->vlabel, g->category,
		    g->args != NULL ? g->args : "-", g->derive ? "yes" : "no");
	}
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(parse(&t, text, err) == 0, "%s", err);
	ck_assert_uint_eq(t.n, plugin_ngraphs);
	ck_assert_uint_eq(t.noperator, 26);
	for (i = 0; i < plugin_ngraphs; i++) {
		const struct plugin_graph *a = &plugin_graphs[i];
		const struct plugin_graph *b = &t.graphs[i];
		ck_assert_str_eq(a->key, b->key);
		ck_assert_str_eq(a->statid, b->statid);
		ck_assert_int_eq(a->kind, b->kind);
		ck_assert_str_eq(a->title, b->title);
		ck_assert_str_eq(a->vlabel, b->vlabel);
		ck_assert_str_eq(a->category, b->category);
		ck_assert_int_eq(a->args == NULL, b->args == NULL);
		if (a->args != NULL)
			ck_assert_str_eq(a->args, b->args);
		ck_assert_int_eq(a->derive != 0, b->derive != 0);
		ck_assert_int_eq(a->compat, b->compat);
	}
	plugin_table_free(&t);
	free(text);
}
END_TEST

#define GOOD8(name) name "\tst\tstats\tT\tv\tc\t-\tno\n"
#define L10 "LLLLLLLLLL"

/* Every bad line: TALLY_EINVAL, "graphs FILE:LINE: " and the reason. */
START_TEST(test_table_bad_lines)
{
	static const struct {
		const char	*text;
		size_t		 line;
		const char	*want;
	} cases[] = {
		/* Columns. */
		{ "tally_x\tst\n", 1, "2 columns, want 8 separated by tabs" },
		{ GOOD8("tally_a") "tally_x\tst\tstats\tT\tv\tc\t-\tno\tz\n",
		  2, "9 columns, want 8" },
		{ "# a comment\n\nnocolumns\n", 3, "1 column, want 8" },
		{ "  # not a comment\n", 1, "1 column, want 8" },
		{ "tally_x st stats T v c - no\n", 1, "1 column, want 8" },
		{ "\tst\tstats\tT\tv\tc\t-\tno\n", 1,
		  "column 1 (plugin name) is empty" },
		{ "tally_x\tst\tstats\t\tv\tc\t-\tno\n", 1,
		  "column 4 (graph_title) is empty" },
		{ "tally_x\tst\tstats\tT\tv\tc\t\tno\n", 1,
		  "column 7 (graph_args) is empty: write - for no graph_args" },
		{ "tally_x\tst\tstats\tT\tv\tc\t-\t\n", 1,
		  "column 8 (DERIVE) is empty" },
		/* Control characters, a CRLF file among them. */
		{ "tally_x\tst\tstats\tT\tv\tc\t-\tno\r\n", 1,
		  "column 8 (DERIVE) holds a control character (0x0d): a CRLF "
		  "line end? Save the file with LF line ends" },
		{ "tally_x\tst\tstats\tT\001\tv\tc\t-\tno\n", 1,
		  "column 4 (graph_title) holds a control character (0x01)" },
		{ "tally_x\tst\tstats\tT\tv\x7f\tc\t-\tno\n", 1,
		  "column 5 (graph_vlabel) holds a control character (0x7f)" },
		/* Names. */
		{ GOOD8("1abc"), 1, "plugin name '1abc' is not a valid munin "
		  "name" },
		{ GOOD8("my-app"), 1, "plugin name 'my-app' is not a valid" },
		{ GOOD8("my app"), 1, "plugin name 'my app' is not a valid" },
		{ GOOD8("tally_x.y"), 1, "'tally_x.y' is not a valid" },
		{ GOOD8("tally_" L10 L10 L10 L10 L10 L10 "x"), 1,
		  "at most 64 bytes" },
		{ GOOD8("tally_"), 1, "plugin name 'tally_' names no graph: "
		  "write tally_<graph>" },
		{ GOOD8("tally_all"), 1, "plugin name 'tally_all' is reserved: "
		  "tally_all is the multigraph plugin" },
		{ GOOD8("all"), 1, "plugin name 'all' is reserved" },
		{ GOOD8("tally_x") "# c\n" GOOD8("tally_x"), 3,
		  "graph 'x' is already defined at line 1" },
		{ GOOD8("tally_x") GOOD8("x"), 2,
		  "graph 'x' is already defined at line 1" },
		/* The other columns. */
		{ "tally_x\tbad stat\tstats\tT\tv\tc\t-\tno\n", 1,
		  "statid 'bad stat' is not a valid stat name" },
		{ "tally_x\tst/x\tstats\tT\tv\tc\t-\tno\n", 1,
		  "statid 'st/x' is not a valid stat name" },
		{ "tally_x\tst\tgauge\tT\tv\tc\t-\tno\n", 1,
		  "category 'gauge' must be counters or stats" },
		{ "tally_x\tst\tStats\tT\tv\tc\t-\tno\n", 1,
		  "category 'Stats' must be counters or stats" },
		{ "tally_x\tst\tstats\tT\tv\tmy app\t-\tno\n", 1,
		  "graph_category 'my app' may hold only letters, digits" },
		{ "tally_x\tst\tstats\tT\tv\tc/d\t-\tno\n", 1,
		  "graph_category 'c/d'" },
		{ "tally_x\tst\tstats\tT\tv\tc\t-\tmaybe\n", 1,
		  "DERIVE 'maybe' must be yes or no" },
		{ "tally_x\tst\tstats\tT\tv\tc\t-\tYES\n", 1,
		  "DERIVE 'YES' must be yes or no" },
		/* The last line, without its newline, counts too. */
		{ GOOD8("tally_a") "tally_x\tst\tstats\tT\tv\tc\t-\tn", 2,
		  "DERIVE 'n' must be yes or no" },
	};
	struct plugin_table	 t;
	char			 err[TALLY_ERRLEN], prefix[128];
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		rc = parse(&t, cases[i].text, err);
		ck_assert_msg(rc == TALLY_EINVAL, "case %zu: rc %d", i, rc);
		snprintf(prefix, sizeof prefix, "graphs " TSV ":%zu: ",
		    cases[i].line);
		ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
		    "case %zu: '%s' does not start '%s'", i, err, prefix);
		ck_assert_msg(strstr(err, cases[i].want) != NULL,
		    "case %zu: '%s' lacks '%s'", i, err, cases[i].want);
		ck_assert_ptr_null(t.graphs);
		ck_assert_uint_eq(t.n, 0);
		plugin_table_free(&t);
	}
}
END_TEST

/* What is no text at all: a NUL byte, an endless line, too many graphs. */
START_TEST(test_table_limits)
{
	struct plugin_table	 t;
	char			 err[TALLY_ERRLEN], *text;
	static const char	 nul[] = GOOD8("tally_a") "tally_b\tst\0\n";
	size_t			 i, len;
	FILE			*f;

	ck_assert_int_eq(plugin_table_parse(&t, TSV, nul, sizeof nul - 1, err,
	    sizeof err), TALLY_EINVAL);
	ck_assert_str_eq(err, "graphs " TSV ":2: a NUL byte: this is not a "
	    "text file");

	text = malloc(PLUGIN_TABLE_MAXLINE + 2);
	ck_assert_ptr_nonnull(text);
	memset(text, '#', PLUGIN_TABLE_MAXLINE + 1);
	text[PLUGIN_TABLE_MAXLINE + 1] = '\0';
	ck_assert_int_eq(parse(&t, text, err), TALLY_EINVAL);
	ck_assert_str_eq(err, "graphs " TSV ":1: longer than 4096 bytes");
	/* Exactly the limit is fine. */
	text[PLUGIN_TABLE_MAXLINE] = '\0';
	ck_assert_msg(parse(&t, text, err) == 0, "%s", err);
	plugin_table_free(&t);
	free(text);

	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	for (i = 0; i <= PLUGIN_TABLE_MAXGRAPHS; i++)
		fprintf(f, "tally_g%zu\tst\tstats\tT\tv\tc\t-\tno\n", i);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(parse(&t, text, err), TALLY_ELIMIT);
	ck_assert_str_eq(err, "graphs " TSV ":4097: more than 4096 graphs");
	free(text);
}
END_TEST

/* Write text into dir/name; returns the path (static). */
static const char *
write_file(const char *name, const char *text, size_t len)
{
	static char	 path[FIXTURE_PATH_MAX + 64];
	FILE		*f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

START_TEST(test_table_load)
{
	struct plugin_table	 t;
	struct capture		 c;
	char			 err[TALLY_ERRLEN], *big, *text;
	char			 want[FIXTURE_PATH_MAX + 128];
	char			 path[FIXTURE_PATH_MAX + 64];
	const char		*p;

	/* No file: the compiled graphs. */
	ck_assert_int_eq(plugin_table_load(&t, NULL, err, sizeof err), 0);
	ck_assert_uint_eq(t.n, plugin_ngraphs);
	plugin_table_free(&t);
	ck_assert_int_eq(plugin_table_load(&t, "", err, sizeof err), 0);
	ck_assert_uint_eq(t.n, plugin_ngraphs);
	plugin_table_free(&t);

	p = write_file("empty.tsv", "", 0);
	ck_assert_int_eq(plugin_table_load(&t, p, err, sizeof err), 0);
	ck_assert_uint_eq(t.n, plugin_ngraphs);
	ck_assert_uint_eq(t.noperator, 0);
	plugin_table_free(&t);

	p = write_file("ops.tsv", ops_tsv, strlen(ops_tsv));
	ck_assert_msg(plugin_table_load(&t, p, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_uint_eq(t.noperator, 3);
	ck_assert_ptr_nonnull(strstr(plugin_graph_find(&t,
	    "tally_queue_depth")->info, p));
	plugin_table_free(&t);

	p = write_file("bad.tsv", GOOD8("tally_a") "tally_b\n",
	    strlen(GOOD8("tally_a") "tally_b\n"));
	ck_assert_int_eq(plugin_table_load(&t, p, err, sizeof err),
	    TALLY_EINVAL);
	snprintf(want, sizeof want, "graphs %s:2: 1 column, want 8", p);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

	snprintf(path, sizeof path, "%s/missing.tsv", dir);
	ck_assert_int_eq(plugin_table_load(&t, path, err, sizeof err),
	    TALLY_ESYS);
	snprintf(want, sizeof want, "graphs %s: No such file or directory",
	    path);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(plugin_table_load(&t, dir, err, sizeof err),
	    TALLY_ESYS);
	snprintf(want, sizeof want, "graphs file %s is a directory, not a "
	    "regular file", dir);
	ck_assert_str_eq(err, want);

	/*
	 * A FIFO with no writer: opened for reading as a file is, it blocks
	 * for ever (the test's timeout fails it); refused at once instead.
	 */
	snprintf(path, sizeof path, "%s/graphs.fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(plugin_table_load(&t, path, err, sizeof err),
	    TALLY_ESYS);
	snprintf(want, sizeof want, "graphs file %s is a FIFO, not a regular "
	    "file", path);
	ck_assert_str_eq(err, want);
	plugin_autoconf("tally_", dir, path, cap_open(&c));
	text = cap_text(&c);
	snprintf(want, sizeof want, "no (graphs file %s is a FIFO, not a "
	    "regular file)\n", path);
	ck_assert_str_eq(text, want);
	free(text);

	big = malloc(PLUGIN_TABLE_MAXSIZE + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, '\n', PLUGIN_TABLE_MAXSIZE + 1);
	p = write_file("big.tsv", big, PLUGIN_TABLE_MAXSIZE + 1);
	free(big);
	ck_assert_int_eq(plugin_table_load(&t, p, err, sizeof err),
	    TALLY_ELIMIT);
	snprintf(want, sizeof want, "graphs %s: larger than 1048576 bytes",
	    p);
	ck_assert_str_eq(err, want);
}
END_TEST

/* autoconf says no for a bad graph table, with the file and line. */
START_TEST(test_autoconf_graphs)
{
	struct capture	 c;
	const char	*p;
	char		*text, want[FIXTURE_PATH_MAX + 256];

	put_node("a", "n", NOW, NULL, NULL);
	p = write_file("bad.tsv", GOOD8("tally_all"),
	    strlen(GOOD8("tally_all")));
	plugin_autoconf("/etc/munin/plugins/tally_x", dir, p,
	    cap_open(&c));
	text = cap_text(&c);
	snprintf(want, sizeof want, "no (graphs %s:1: plugin name "
	    "'tally_all' is reserved: tally_all is the multigraph plugin)\n",
	    p);
	ck_assert_str_eq(text, want);
	free(text);
	p = write_file("good.tsv", GOOD8("tally_x"), strlen(GOOD8("tally_x")));
	plugin_autoconf("/etc/munin/plugins/tally_x", dir, p,
	    cap_open(&c));
	text = cap_text(&c);
	ck_assert_str_eq(text, "yes\n");
	free(text);
}
END_TEST

/* A message line: short, and nothing a terminal would take for an escape. */
static void
assert_tame(const char *what, const char *line, size_t max)
{
	const char	*p;

	ck_assert_msg(strlen(line) <= max, "%s: %zu bytes: %.300s", what,
	    strlen(line), line);
	for (p = line; *p != '\0'; p++)
		ck_assert_msg(!((unsigned char)*p < 0x20 && *p != '\n') &&
		    *p != 0x7f && (unsigned char)*p < 0x80,
		    "%s: byte 0x%02x at %zu", what, (unsigned char)*p,
		    (size_t)(p - line));
}

/*
 * argv, the environment's paths and the graph table's columns are anyone's:
 * 100 KB of them, escape codes included, make a message of a few hundred
 * bytes with the escapes quoted (error_quote).
 */
START_TEST(test_messages_quoted)
{
	struct plugin_table	 t;
	struct capture		 c;
	char			*big, *text, err[TALLY_ERRLEN];
	const size_t		 n = 100000;
	size_t			 len;

	big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);

	/* argv[0], as autoconf is given it. */
	memset(big, 'x', n);
	big[n] = '\0';
	memcpy(big, "/etc/munin/plugins/tally_\033[31m", 30);
	plugin_autoconf(big, "/nonexistent", NULL, cap_open(&c));
	text = cap_text(&c);
	assert_tame("autoconf", text, 300);
	ck_assert_msg(strncmp(text, "no (no graph named 'tally_\\x1b[31mxx",
	    36) == 0, "%s", text);
	free(text);

	/* A path from env.graphs. */
	memset(big, 'x', n);
	memcpy(big, "/nonexistent/\033]0;title\007", 23);
	ck_assert_int_eq(plugin_table_load(&t, big, err, sizeof err),
	    TALLY_ESYS);
	assert_tame("graphs path", err, 300);
	ck_assert_msg(strncmp(err, "graphs /nonexistent/\\x1b]0;title\\x07x",
	    37) == 0, "%s", err);
	plugin_table_free(&t);

	/* Columns of the table: 4 KB of bytes that are no ASCII. */
	memset(big, 0xe9, 4000);
	len = 4000 + (size_t)snprintf(big + 4000, 64,
	    "\tst\tstats\tT\tv\tc\t-\tno\n");
	ck_assert_int_eq(plugin_table_parse(&t, "/x.tsv", big, len, err,
	    sizeof err), TALLY_EINVAL);
	assert_tame("a bad plugin name", err, 400);
	ck_assert_msg(strstr(err, "plugin name '\\xe9\\xe9") != NULL, "%s",
	    err);
	plugin_table_free(&t);
	memcpy(big, "tally_x\t", 8);
	len = 3000 + (size_t)snprintf(big + 3000, 64,
	    "\tstats\tT\tv\tc\t-\tno\n");
	ck_assert_int_eq(plugin_table_parse(&t, "/x.tsv", big, len, err,
	    sizeof err), TALLY_EINVAL);
	assert_tame("a bad statid", err, 400);
	ck_assert_msg(strstr(err, "statid '\\xe9\\xe9") != NULL, "%s", err);
	plugin_table_free(&t);
	free(big);
}
END_TEST

/* The operator's graphs take part in multigraph and suggest. */
START_TEST(test_multigraph_operator)
{
	static const struct stat_val c[] = { { "myapp.requests", 12 },
	    { NULL, 0 } };
	static const struct stat_val s[] = { { "queue.depth", 4 },
	    { "load_monitor.avg_load", 0.25 }, { NULL, 0 } };
	struct plugin_table	 t;
	char			 err[TALLY_ERRLEN], *text;

	ck_assert_msg(parse(&t, ops_tsv, err) == 0, "%s", err);
	put_node("a", "n", NOW, c, s);
	text = multi_in(&t, 0, NULL);
	ck_assert_str_eq(text,
	    "multigraph tally_load_avg\nn_a.value 0.25\n"
	    "multigraph tahoe_runtime_load_avg\nn_a.value 0.25\n"
	    "multigraph tally_queue_depth\nn_a.value 4\n"
	    "multigraph myapp_requests\nn_a.value 12\n");
	free(text);
	text = multi_in(&t, PLUGIN_CONFIG, NULL);
	ck_assert_ptr_nonnull(strstr(text, "multigraph tally_load_avg\n"
	    "graph_title Loop Lateness\n"));
	ck_assert_ptr_nonnull(strstr(text, "multigraph myapp_requests\n"
	    "graph_title MyApp Requests\ngraph_vlabel requests per second\n"
	    "graph_category my-app\ngraph_info From the operator's graph "
	    "table " TSV ". Stat: myapp.requests, a line per node.\n"
	    "n_a.label n\nn_a.draw LINE1\nn_a.type DERIVE\nn_a.min 0\n"));
	free(text);
	text = suggest_in(&t, 0);
	ck_assert_str_eq(text, "load_avg\ntahoe_runtime_load_avg\n"
	    "queue_depth\nmyapp_requests\n");
	free(text);
	plugin_table_free(&t);
}
END_TEST

int
main(void)
{
	const struct fixture_test	 tests[] = {
		{ "table", test_table_tahoe, 0, FIXTURE_TIMEOUT },
		{ "table", test_table_sane, 0, FIXTURE_TIMEOUT },
		{ "table", test_table_builtin, 0, FIXTURE_TIMEOUT },
		{ "table", test_graph_find, 0, FIXTURE_TIMEOUT },
		{ "table", test_is_multigraph, 0, FIXTURE_TIMEOUT },
		{ "table", test_list, 0, FIXTURE_TIMEOUT },
		{ "table", test_graph_name, 0, FIXTURE_TIMEOUT },
		{ "table", test_no_multigraph, 0, FIXTURE_TIMEOUT },
		{ "table", test_messages_quoted, 0, FIXTURE_TIMEOUT },
		{ "graphs", test_table_operator, 0, FIXTURE_TIMEOUT },
		{ "graphs", test_table_tsv_roundtrip, 0, FIXTURE_TIMEOUT },
		{ "graphs", test_table_bad_lines, 0, FIXTURE_TIMEOUT },
		{ "graphs", test_table_limits, 0, FIXTURE_TIMEOUT },
		{ "fields", test_field_name, 0, FIXTURE_TIMEOUT },
		{ "fields", test_munin_fields, FIXTURE_N(fields),
		    FIXTURE_TIMEOUT },
		{ "fields", test_munin_field_cut, 0, FIXTURE_TIMEOUT },
		{ "fields", test_field_hash, 0, FIXTURE_TIMEOUT },
		{ "fields", test_field_name_valid, 0, FIXTURE_TIMEOUT },
		{ "fields", test_field_name_distinct, 0, FIXTURE_TIMEOUT },
		{ "fields", test_names_dedup, 0, FIXTURE_TIMEOUT },
		{ "fields", test_names_many, 0, FIXTURE_TIMEOUT },
		{ "store", test_config_derive, 0, FIXTURE_TIMEOUT },
		{ "store", test_config_args, 0, FIXTURE_TIMEOUT },
		{ "store", test_cpu_total_scaled, 0, FIXTURE_TIMEOUT },
		{ "store", test_fields_collide, 0, FIXTURE_TIMEOUT },
		{ "store", test_fetch_values, 0, FIXTURE_TIMEOUT },
		{ "store", test_fetch_wrong_table, 0, FIXTURE_TIMEOUT },
		{ "store", test_fetch_stale, 0, FIXTURE_TIMEOUT },
		{ "store", test_fetch_insane_time, 0, FIXTURE_TIMEOUT },
		{ "store", test_fetch_int64_text, 0, FIXTURE_TIMEOUT },
		{ "store", test_fetch_bad_record, 0, FIXTURE_TIMEOUT },
		{ "store", test_fetch_empty, 0, FIXTURE_TIMEOUT },
		{ "store", test_config_clean, 0, FIXTURE_TIMEOUT },
		{ "store", test_suggest, 0, FIXTURE_TIMEOUT },
		{ "store", test_open_errors, 0, FIXTURE_TIMEOUT },
		{ "store", test_open_format, 0, FIXTURE_TIMEOUT },
		{ "store", test_open_ok, 0, FIXTURE_TIMEOUT },
		{ "store", test_config_dirty, 0, FIXTURE_TIMEOUT },
		{ "store", test_multigraph_fetch, 0, FIXTURE_TIMEOUT },
		{ "store", test_multigraph_config, 0, FIXTURE_TIMEOUT },
		{ "store", test_multigraph_empty, 0, FIXTURE_TIMEOUT },
		{ "store", test_multigraph_bad_record, 0, FIXTURE_TIMEOUT },
		{ "store", test_multigraph_operator, 0, FIXTURE_TIMEOUT },
		{ "store", test_suggest_multigraph, 0, FIXTURE_TIMEOUT },
		{ "store", test_table_load, 0, FIXTURE_TIMEOUT },
		{ "store", test_autoconf_graphs, 0, FIXTURE_TIMEOUT },
	};

	return pf_main("plugin", tests, FIXTURE_N(tests), &tab);
}
