/*
 * check_provider.c: the provider's lifecycle, producers and flushes, on
 * real LMDB environments in temporary directories.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"
#include "store-int.h"
#include "fixture.h"

static char	 dir[FIXTURE_PATH_MAX];

static void
setup(void)
{
	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	fixture_log_clear();
}

static void
teardown(void)
{
	fixture_rmtree(dir);
}

static tally_provider *
mk(const char *node, unsigned flags)
{
	tally_options	 opt;
	tally_provider	*p;

	memset(&opt, 0, sizeof opt);
	opt.node_id = node;
	opt.nickname = "nick";
	opt.statsfile = dir;
	opt.flags = flags;
	opt.flush_interval = 3600;	/* tests flush by hand */
	opt.log = fixture_log;
	ck_assert_int_eq(tally_provider_new(&p, &opt), 0);
	return p;
}

/* The text of node/stat in db, or NULL. */
static const char *
get(const char *node, enum store_db db, const char *stat)
{
	static char		 out[128];
	struct store		*st;
	struct store_reader	 r;
	char			 err[TALLY_ERRLEN];
	MDB_val			 v;
	int			 rc;

	ck_assert_msg(store_open(&st, dir, STORE_RDONLY, err, sizeof err) ==
	    0, "%s", err);
	ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err), 0);
	rc = store_reader_get(&r, db, node, strlen(node), stat, strlen(stat),
	    &v);
	if (rc == 1)
		snprintf(out, sizeof out, "%.*s", (int)v.mv_size,
		    (const char *)v.mv_data);
	store_reader_end(&r);
	store_close(st);
	return rc == 1 ? out : NULL;
}

static const char *
counter(const char *node, const char *stat)
{
	return get(node, STORE_COUNTERS, stat);
}

static int
good_stats(void *ctx, tally_sink *sink)
{
	ck_assert_int_eq(tally_sink_put(sink, "space.used", 1.5), 0);
	ck_assert_int_eq(tally_sink_put(sink, "space.unknown", NAN), 0);
	ck_assert_int_eq(tally_sink_put(sink, "bad name", 1), TALLY_EINVAL);
	return 0;
}

static int
failing_stats(void *ctx, tally_sink *sink)
{
	tally_sink_put(sink, "broken.partial", 1);
	return -1;
}

START_TEST(test_start_flush_stop)
{
	tally_provider	*p = mk("node-a", TALLY_F_NO_MONITORS);
	tally_producer	 good = { "good", good_stats, NULL };
	tally_producer	 bad = { "bad", failing_stats, NULL };

	ck_assert_int_eq(tally_register_producer(p, &good), 0);
	ck_assert_int_eq(tally_register_producer(p, &bad), 0);
	ck_assert_int_eq(tally_count(p, "ops.get", 3), 0);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert_str_eq(counter("node-a", "ops.get"), "3");
	ck_assert_str_eq(get("node-a", STORE_STATS, "space.used"), "1.5");
	ck_assert_str_eq(get("node-a", STORE_STATS, "space.unknown"), "nan");
	/* A failing producer's values are skipped, and said so. */
	ck_assert_ptr_null(get("node-a", STORE_STATS, "broken.partial"));
	ck_assert_ptr_null(get("node-a", STORE_STATS, "bad name"));
	ck_assert_msg(fixture_log_has("producer bad returned -1"), "%s",
	    fixture_log_text());
	tally_count(p, "ops.get", 1);
	ck_assert_int_eq(tally_provider_stop(p), 0);
	/* The final flush at stop. */
	ck_assert_str_eq(counter("node-a", "ops.get"), "4");
	ck_assert_int_eq(tally_provider_flush(p), TALLY_ESTATE);
	ck_assert_int_eq(tally_provider_stop(p), TALLY_ESTATE);
	tally_provider_free(p);
}
END_TEST

/*
 * A flush or stop of a started provider waits for its thread, whose write
 * waits for the store's lock, which a reader of the calling thread holds:
 * TALLY_ESTATE at once, nothing done; a free only logs.  Once the reader
 * is closed the same provider flushes, stops and frees as ever.
 */
START_TEST(test_reader_in_calling_thread)
{
	tally_provider	*p = mk("node-r", TALLY_F_NO_MONITORS);
	tally_reader	*r;

	ck_assert_int_eq(tally_count(p, "ops.get", 1), 0);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_reader_open(&r, dir), 0);
	ck_assert_int_eq(tally_provider_flush(p), TALLY_ESTATE);
	ck_assert_msg(strstr(tally_provider_errmsg(p), "has a reader open") !=
	    NULL, "%s", tally_provider_errmsg(p));
	ck_assert_int_eq(tally_provider_stop(p), TALLY_ESTATE);
	tally_provider_free(p);		/* left running, and said so */
	ck_assert_msg(fixture_log_has("tally_provider_free: "), "%s",
	    fixture_log_text());
	tally_reader_close(r);
	ck_assert_int_eq(tally_count(p, "ops.get", 1), 0);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert_str_eq(counter("node-r", "ops.get"), "2");
	ck_assert_int_eq(tally_provider_stop(p), 0);
	tally_provider_free(p);
}
END_TEST

START_TEST(test_node_record)
{
	tally_provider		*p = mk("node-r", TALLY_F_NO_MONITORS);
	struct store		*st;
	struct store_reader	 r;
	struct record_node	 rn;
	MDB_val			 id, rec;
	char			 err[TALLY_ERRLEN];
	int64_t			 before = (int64_t)time(NULL);

	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	tally_provider_free(p);
	ck_assert_int_eq(store_open(&st, dir, STORE_RDONLY, err, sizeof err),
	    0);
	ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err), 0);
	ck_assert_int_eq(store_reader_next(&r, &id, &rec), 1);
	ck_assert_int_eq(record_node_parse(rec.mv_data, rec.mv_size, &rn, err,
	    sizeof err), 0);
	ck_assert_str_eq(rn.nickname, "nick");
	ck_assert_str_eq(rn.source, "local");
	/* The time of the last flush, however long the test took. */
	ck_assert(rn.time >= before && rn.time <= (int64_t)time(NULL));
	store_reader_end(&r);
	store_close(st);
}
END_TEST

START_TEST(test_counts_before_start_kept)
{
	tally_provider	*p = mk("early", TALLY_F_NO_MONITORS);

	tally_count(p, "early.bird", 7);
	ck_assert_int_eq(tally_provider_start(p), 0);
	tally_provider_free(p);		/* stops: final flush */
	ck_assert_str_eq(counter("early", "early.bird"), "7");
}
END_TEST

/* Counters resume from the slot, and a restart never double counts. */
START_TEST(test_resume)
{
	tally_provider	*p = mk("resumer", TALLY_F_NO_MONITORS);

	tally_count(p, "c", 5);
	ck_assert_int_eq(tally_provider_start(p), 0);
	tally_provider_free(p);
	ck_assert_str_eq(counter("resumer", "c"), "5");

	p = mk("resumer", TALLY_F_NO_MONITORS);
	tally_count(p, "c", 3);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_stop(p), 0);
	ck_assert_str_eq(counter("resumer", "c"), "8");
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_stop(p), 0);
	ck_assert_str_eq(counter("resumer", "c"), "8");
	ck_assert(tally_counter_value(tally_counter_get(p, "c")) == 8);
	tally_provider_free(p);
}
END_TEST

START_TEST(test_builtin_monitors)
{
	tally_provider	*p = mk("monitored", 0);

	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert_ptr_nonnull(get("monitored", STORE_STATS, "node.uptime"));
	ck_assert_ptr_nonnull(get("monitored", STORE_STATS,
	    "cpu_monitor.total"));
	/* Absent until enough samples exist. */
	ck_assert_ptr_null(get("monitored", STORE_STATS,
	    "cpu_monitor.1min_avg"));
	tally_provider_free(p);
}
END_TEST

static int
count_calls(void *ctx, tally_sink *sink)
{
	(*(int *)ctx)++;
	return 0;
}

START_TEST(test_producers_register)
{
	tally_provider	*p = mk("prod", TALLY_F_NO_MONITORS);
	int		 calls = 0;
	tally_producer	 prod = { "counted", count_calls, &calls };
	tally_producer	 none = { "none", NULL, NULL };

	ck_assert_int_eq(tally_register_producer(p, NULL), TALLY_EINVAL);
	ck_assert_int_eq(tally_register_producer(p, &none), TALLY_EINVAL);
	ck_assert_int_eq(tally_register_producer(NULL, &prod), TALLY_EINVAL);
	ck_assert_int_eq(tally_register_producer(p, &prod), 0);
	ck_assert_int_eq(tally_register_producer(p, &prod), TALLY_EINVAL);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert_int_ge(calls, 1);
	ck_assert_int_eq(tally_unregister_producer(p, &prod), 0);
	ck_assert_int_eq(tally_unregister_producer(p, &prod),
	    TALLY_ENOTFOUND);
	calls = 0;
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert_int_eq(calls, 0);
	tally_provider_free(p);
}
END_TEST

struct options_case {
	const char	*node_id;
	const char	*nickname;
	const char	*statsfile;
	const char	*furl;
	double		 interval;
	const char	*msg;
};

static const struct options_case bad_options[] = {
	{ "Bad Id", NULL, "/tmp", NULL, 0, "node id" },
	{ NULL, NULL, "/tmp", NULL, 0, "no node id" },
	{ "ok", "bad\nnick", "/tmp", NULL, 0, "nickname" },
	{ "ok", NULL, "/tmp", "tally://127.0.0.1:1/s", 0, "secret" },
	{ "ok", NULL, "/tmp", "http://127.0.0.1:1/abcdefghijklmnop", 0,
	  "scheme" },
	{ "ok", NULL, NULL, NULL, 0, "no statsfile and no gatherer" },
	{ "ok", NULL, "/tmp", NULL, -1, "interval" },
	{ "ok", NULL, "/tmp", NULL, 1e-300, "flush interval 1e-300 is out of "
	  "range (0, or 0.001 to 86400 s)" },
	/* What the host passed is quoted, not sent to a terminal as is. */
	{ "Bad\033Id", NULL, "/tmp", NULL, 0, "node id 'Bad\\x1bId'" },
	{ "ok", "bad\033[2Jnick", "/tmp", NULL, 0,
	  "nickname 'bad\\x1b[2Jnick'" },
	{ "ok", NULL, "/tmp", NULL, 0, NULL },	/* nodedir "" below */
};

START_TEST(test_bad_options)
{
	const struct options_case *c = &bad_options[_i];
	tally_options	 opt;
	tally_provider	*p = (void *)1;

	memset(&opt, 0, sizeof opt);
	opt.node_id = c->node_id;
	opt.nickname = c->nickname;
	opt.statsfile = c->statsfile;
	opt.gatherer_furl = c->furl;
	opt.flush_interval = c->interval;
	opt.log = fixture_log;
	if (c->msg == NULL)
		opt.nodedir = "";
	ck_assert_int_eq(tally_provider_new(&p, &opt), TALLY_EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_msg(fixture_log_has(c->msg != NULL ? c->msg :
	    "nodedir is empty"), "'%s' lacks '%s'", fixture_log_text(),
	    c->msg != NULL ? c->msg : "nodedir is empty");
	ck_assert_int_eq(tally_provider_new(&p, NULL), TALLY_EINVAL);
}
END_TEST

static tally_provider *
mk_at(const char *statsfile)
{
	tally_options	 opt;
	tally_provider	*p;

	memset(&opt, 0, sizeof opt);
	opt.node_id = "n";
	opt.statsfile = statsfile;
	opt.flags = TALLY_F_NO_MONITORS;
	opt.log = fixture_log;
	ck_assert_int_eq(tally_provider_new(&p, &opt), 0);
	return p;
}

START_TEST(test_start_missing_statsfile)
{
	char		 path[FIXTURE_PATH_MAX + 16];
	tally_provider	*p;

	snprintf(path, sizeof path, "%s/missing", dir);
	p = mk_at(path);
	ck_assert_int_eq(tally_provider_start(p), TALLY_ESTORE);
	ck_assert_msg(strstr(tally_provider_errmsg(p), "No such file") !=
	    NULL, "%s", tally_provider_errmsg(p));
	/* Fix the problem; the same provider starts. */
	ck_assert_int_eq(mkdir(path, 0770), 0);
	tally_count(p, "after", 1);
	ck_assert_int_eq(tally_provider_start(p), 0);
	tally_provider_free(p);
}
END_TEST

START_TEST(test_start_not_lmdb)
{
	char		 path[FIXTURE_PATH_MAX + 16];
	tally_provider	*p;
	int		 fd;

	snprintf(path, sizeof path, "%s/data.mdb", dir);
	ck_assert_int_ge(fd = open(path, O_CREAT | O_WRONLY, 0600), 0);
	ck_assert_int_eq(write(fd, "this is not lmdb, padded to a page...",
	    37), 37);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	close(fd);
	p = mk_at(dir);
	ck_assert_int_eq(tally_provider_start(p), TALLY_ESTORE);
	ck_assert_msg(strstr(tally_provider_errmsg(p),
	    "not an LMDB environment") != NULL, "%s",
	    tally_provider_errmsg(p));
	tally_provider_free(p);
}
END_TEST

static void
write_file(const char *name, const char *text)
{
	char	 path[FIXTURE_PATH_MAX + 32];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

START_TEST(test_open_nodedir)
{
	tally_provider	*p;
	char		 id[TALLY_NODE_ID_MAX + 1], sf[FIXTURE_PATH_MAX + 16];

	ck_assert_int_eq(tally_provider_open(&p, dir), TALLY_ENOTCONFIGURED);
	ck_assert_ptr_null(p);
	snprintf(sf, sizeof sf, "%s/stats", dir);
	ck_assert_int_eq(mkdir(sf, 0770), 0);
	write_file("statsfile", "stats\n");	/* relative to nodedir */
	write_file("nickname", "storage one  \n");
	ck_assert_int_eq(tally_provider_open(&p, dir), 0);
	snprintf(id, sizeof id, "%s", tally_provider_node_id(p));
	ck_assert(tally_node_id_valid(id));
	ck_assert_uint_eq(strlen(id), 26);
	ck_assert_int_eq(tally_provider_start(p), 0);
	tally_provider_free(p);
	/* node.id is reused. */
	ck_assert_int_eq(tally_provider_open(&p, dir), 0);
	ck_assert_str_eq(tally_provider_node_id(p), id);
	tally_provider_free(p);
	/* A bad node.id is refused, not replaced. */
	write_file("node.id", "NOT VALID\n");
	ck_assert_int_eq(tally_provider_open(&p, dir), TALLY_EINVAL);
}
END_TEST

/*
 * The files of a node directory that are not what they should be are
 * refused with TALLY_EINVAL, without waiting: a FIFO (its open blocked
 * for good), a directory, a line with a NUL byte (what followed it was
 * lost unseen); and so is an empty nodedir ("/statsfile" was read).
 */
START_TEST(test_open_nodedir_odd)
{
	static const char *const files[] = { "statsfile", "nickname",
	    "node.id" };
	tally_provider	*p = (void *)1;
	char		 path[FIXTURE_PATH_MAX + 32];
	size_t		 i;
	FILE		*f;

	ck_assert_int_eq(tally_provider_open(&p, ""), TALLY_EINVAL);
	ck_assert_ptr_null(p);
	snprintf(path, sizeof path, "%s/stats", dir);
	ck_assert_int_eq(mkdir(path, 0770), 0);
	for (i = 0; i < FIXTURE_N(files); i++) {
		if (i > 0)
			write_file("statsfile", "stats\n");
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		ck_assert_int_eq(mkfifo(path, 0600), 0);
		ck_assert_int_eq(tally_provider_open(&p, dir), TALLY_EINVAL);
		ck_assert_ptr_null(p);
		ck_assert_int_eq(unlink(path), 0);
		ck_assert_int_eq(mkdir(path, 0700), 0);
		ck_assert_int_eq(tally_provider_open(&p, dir), TALLY_EINVAL);
		ck_assert_int_eq(rmdir(path), 0);
		ck_assert_ptr_nonnull(f = fopen(path, "w"));
		ck_assert_uint_eq(fwrite("ab\0cd\n", 1, 6, f), 6);
		fclose(f);
		ck_assert_int_eq(tally_provider_open(&p, dir), TALLY_EINVAL);
		ck_assert_int_eq(unlink(path), 0);
	}
	/* All well again. */
	ck_assert_int_eq(tally_provider_open(&p, dir), 0);
	tally_provider_free(p);
}
END_TEST

/* Entries of dir whose name starts with prefix. */
static int
count_prefix(const char *prefix)
{
	DIR		*dp;
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(dp);
	return n;
}

#define ID_THREADS	8

static char		 id_seen[ID_THREADS][TALLY_NODE_ID_MAX + 1];
static int		 id_rc[ID_THREADS];

static void *
id_main(void *arg)
{
	tally_provider	*p;
	size_t		 i = (size_t)(uintptr_t)arg;

	if ((id_rc[i] = tally_provider_open(&p, dir)) == 0) {
		snprintf(id_seen[i], sizeof id_seen[i], "%s",
		    tally_provider_node_id(p));
		tally_provider_free(p);
	}
	return NULL;
}

/*
 * Threads of one process that open one fresh node directory at once all
 * get the one id that node.id then holds (they shared a temporary file
 * named by the pid, and half of them failed), and nothing is left over;
 * a file planted under that old name is not followed.
 */
START_TEST(test_node_id_threads)
{
	pthread_t	 t[ID_THREADS];
	char		 path[FIXTURE_PATH_MAX + 64];
	char		 victim[FIXTURE_PATH_MAX + 32];
	char		 line[128];
	FILE		*f;
	size_t		 i;

	write_file("statsfile", "stats\n");
	snprintf(path, sizeof path, "%s/stats", dir);
	ck_assert_int_eq(mkdir(path, 0770), 0);
	snprintf(victim, sizeof victim, "%s/victim", dir);
	write_file("victim", "precious\n");
	snprintf(path, sizeof path, "%s/.node.id.%ld", dir, (long)getpid());
	ck_assert_int_eq(symlink(victim, path), 0);
	for (i = 0; i < ID_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, id_main,
		    (void *)(uintptr_t)i), 0);
	for (i = 0; i < ID_THREADS; i++)
		pthread_join(t[i], NULL);
	snprintf(path, sizeof path, "%s/node.id", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	for (i = 0; i < ID_THREADS; i++) {
		ck_assert_msg(id_rc[i] == 0, "thread %zu: %s", i,
		    tally_strerror(id_rc[i]));
		ck_assert_str_eq(id_seen[i], line);
	}
	ck_assert_ptr_nonnull(f = fopen(victim, "r"));
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	fclose(f);
	ck_assert_str_eq(line, "precious\n");
	/* Only the planted link is left beside node.id. */
	ck_assert_int_eq(count_prefix(".node.id."), 1);
}
END_TEST

/* A node directory with only a furl: remote mode, no statsfile. */
START_TEST(test_open_nodedir_furl)
{
	tally_provider	*p;

	write_file("stats_gatherer.furl", "tally://127.0.0.1:9/"
	    "abcdefghijklmnopqrstuvwxyz234567\n");
	ck_assert_int_eq(tally_provider_open(&p, dir), 0);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_flush(p), TALLY_ESTATE);
	ck_assert_int_eq(tally_provider_stop(p), 0);
	tally_provider_free(p);
	/* A malformed furl is refused, with its reason. */
	write_file("stats_gatherer.furl", "tally://127.0.0.1/x\n");
	ck_assert_int_eq(tally_provider_open(&p, dir), TALLY_EINVAL);
	ck_assert_ptr_null(p);
}
END_TEST

static void
stop_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Attached to the host's loop: flushes run there, on this thread. */
START_TEST(test_attach)
{
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	tally_provider	*p = mk("attached", TALLY_F_NO_MONITORS);
	ev_timer	 t;

	tally_count(p, "host.loop", 2);
	ck_assert_int_eq(tally_provider_attach(p, loop), 0);
	ck_assert_int_eq(tally_provider_attach(p, loop), TALLY_ESTATE);
	ck_assert_int_eq(tally_provider_start(p), TALLY_ESTATE);
	ev_timer_init(&t, stop_soon, 0.05, 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);		/* runs the first flush */
	ck_assert_str_eq(counter("attached", "host.loop"), "2");
	tally_count(p, "host.loop", 1);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert_str_eq(counter("attached", "host.loop"), "3");
	ck_assert_int_eq(tally_provider_stop(p), 0);
	tally_provider_free(p);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_two_providers_one_env)
{
	tally_provider	*a = mk("one", TALLY_F_NO_MONITORS);
	tally_provider	*b = mk("two", TALLY_F_NO_MONITORS);

	tally_count(a, "x", 1);
	tally_count(b, "x", 2);
	ck_assert_int_eq(tally_provider_start(a), 0);
	ck_assert_int_eq(tally_provider_start(b), 0);
	ck_assert_int_eq(tally_provider_flush(a), 0);
	ck_assert_int_eq(tally_provider_flush(b), 0);
	ck_assert_str_eq(counter("one", "x"), "1");
	ck_assert_str_eq(counter("two", "x"), "2");
	tally_provider_free(a);
	tally_provider_free(b);
}
END_TEST

/*
 * One live writer per node id: a second provider of the same id on the
 * same statsfile is refused while the first runs, in this process as in
 * another, and starts once the first has stopped.
 */
START_TEST(test_one_writer_per_node)
{
	tally_provider	*a = mk("same", TALLY_F_NO_MONITORS);
	tally_provider	*b = mk("same", TALLY_F_NO_MONITORS);

	tally_count(a, "x", 5);
	tally_count(b, "x", 7);
	ck_assert_int_eq(tally_provider_start(a), 0);
	ck_assert_int_eq(tally_provider_start(b), TALLY_ESTATE);
	ck_assert_msg(strstr(tally_provider_errmsg(b), "node same is being "
	    "written by another live process; one writer per node id") !=
	    NULL, "%s", tally_provider_errmsg(b));
	ck_assert_int_eq(tally_provider_flush(a), 0);
	ck_assert_str_eq(counter("same", "x"), "5");
	ck_assert_int_eq(tally_provider_stop(a), 0);
	/* The lock went with the stop: b resumes from a's slot. */
	ck_assert_int_eq(tally_provider_start(b), 0);
	ck_assert_int_eq(tally_provider_flush(b), 0);
	ck_assert_str_eq(counter("same", "x"), "12");
	tally_provider_free(a);
	tally_provider_free(b);
}
END_TEST

#define TLS_FURL "tally+tls://" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@127.0.0.1:9/" \
	"abcdefghijklmnopqrstuvwxyz234567"

/* A TLS furl needs the node's own key: key_file, or a node directory. */
START_TEST(test_tls_needs_key)
{
	tally_options	 opt;
	tally_provider	*p = (void *)1;

	memset(&opt, 0, sizeof opt);
	opt.node_id = "k";
	opt.gatherer_furl = TLS_FURL;
	opt.log = fixture_log;
	ck_assert_int_eq(tally_provider_new(&p, &opt), TALLY_EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_msg(fixture_log_has(
	    "a tally+tls:// furl needs the node's own key"),
	    "%s", fixture_log_text());
	/* A plaintext furl presents no key, and needs none. */
	opt.gatherer_furl = "tally://127.0.0.1:9/abcdefghijklmnopqrstuvwxyz234567";
	ck_assert_int_eq(tally_provider_new(&p, &opt), 0);
	tally_provider_free(p);
}
END_TEST

/*
 * The key is made on first use, 0600, in the node directory, and kept; a
 * key file others may read, or that is not a key, stops the start with
 * the reason, untouched.
 */
START_TEST(test_node_key_file)
{
	tally_provider	*p;
	struct stat	 sb;
	char		 key[FIXTURE_PATH_MAX + 16];

	write_file("stats_gatherer.furl", TLS_FURL "\n");
	ck_assert_int_eq(tally_provider_open(&p, dir), 0);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_provider_stop(p), 0);
	tally_provider_free(p);
	snprintf(key, sizeof key, "%s/node.key", dir);
	ck_assert_int_eq(lstat(key, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	/* Wider than 0600: refused, and left as it is. */
	ck_assert_int_eq(chmod(key, 0644), 0);
	ck_assert_int_eq(tally_provider_open(&p, dir), 0);
	ck_assert_int_ne(tally_provider_start(p), 0);
	ck_assert_msg(strstr(tally_provider_errmsg(p), "node.key") != NULL &&
	    strstr(tally_provider_errmsg(p), "0644") != NULL, "%s",
	    tally_provider_errmsg(p));
	tally_provider_free(p);
	ck_assert_int_eq(lstat(key, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0644);
	/* Not a key at all. */
	ck_assert_int_eq(unlink(key), 0);
	write_file("node.key", "not a key\n");
	ck_assert_int_eq(chmod(key, 0600), 0);
	ck_assert_int_eq(tally_provider_open(&p, dir), 0);
	ck_assert_int_ne(tally_provider_start(p), 0);
	ck_assert_msg(strstr(tally_provider_errmsg(p), "node.key") != NULL,
	    "%s", tally_provider_errmsg(p));
	tally_provider_free(p);
}
END_TEST

/* In a child of fork(), calls fail at once instead of waiting forever. */
START_TEST(test_fork_child)
{
	tally_provider	*p = mk("forker", TALLY_F_NO_MONITORS);
	pid_t		 pid;
	int		 status;

	ck_assert_int_eq(tally_provider_start(p), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		int ok = tally_provider_flush(p) == TALLY_EFORK &&
		    strstr(tally_provider_errmsg(p), "fork") != NULL &&
		    tally_count(p, "in.child", 1) == 0;
		tally_provider_free(p);
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* The parent's provider is unharmed. */
	tally_count(p, "in.parent", 1);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert_str_eq(counter("forker", "in.parent"), "1");
	tally_provider_free(p);
}
END_TEST

/*
 * The host's LIBEV_FLAGS (libev reads it when a loop is made without
 * EVFLAG_NOENV) does not reach the provider's own loop: a backend this
 * system lacks made tally_provider_start fail.
 */
START_TEST(test_libev_flags_ignored)
{
	tally_provider	*p = mk("evflags", TALLY_F_NO_MONITORS);

	ck_assert_int_eq(setenv("LIBEV_FLAGS", "16", 1), 0);	/* ports */
	ck_assert_msg(tally_provider_start(p) == 0, "%s",
	    tally_provider_errmsg(p));
	unsetenv("LIBEV_FLAGS");
	ck_assert_int_eq(tally_provider_stop(p), 0);
	tally_provider_free(p);
}
END_TEST

static pthread_mutex_t	 gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 gate_cond = PTHREAD_COND_INITIALIZER;
static int		 gate_armed, gate_in, gate_open, flusher_rc = -1;
static pid_t		 flusher_tid;

/* A producer that, once armed, holds its flush until the gate opens. */
static int
gate_stats(void *ctx, tally_sink *sink)
{
	pthread_mutex_lock(&gate_lock);
	if (gate_armed) {
		gate_in = 1;
		pthread_cond_broadcast(&gate_cond);
		while (!gate_open)
			pthread_cond_wait(&gate_cond, &gate_lock);
	}
	pthread_mutex_unlock(&gate_lock);
	return 0;
}

static void *
flusher_main(void *arg)
{
	__atomic_store_n(&flusher_tid, (pid_t)syscall(SYS_gettid),
	    __ATOMIC_RELEASE);
	flusher_rc = tally_provider_flush(arg);
	return NULL;
}

/* Is thread tid of this process inside futex(2)? */
static int
in_futex(pid_t tid)
{
	char	 path[64], buf[64], want[16];
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", (long)tid);
	snprintf(want, sizeof want, "%d ", SYS_futex);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n > 0 && strncmp(buf, want, strlen(want)) == 0;
}

/*
 * A child forked while one of the parent's threads waits in
 * tally_provider_flush (on the provider's condition: the provider's
 * thread is inside a producer) may free its copy of the provider.  It
 * used to wait for good, in pthread_cond_destroy, for that waiter.
 */
START_TEST(test_free_in_child_during_flush)
{
	tally_producer	 gate = { "gate", gate_stats, NULL };
	tally_provider	*p = mk("childfree", TALLY_F_NO_MONITORS);
	pthread_t	 t;
	double		 deadline;
	pid_t		 pid, tid = 0, r = 0;
	int		 status, rc;

	ck_assert_int_eq(tally_register_producer(p, &gate), 0);
	ck_assert_int_eq(tally_provider_start(p), 0);
	pthread_mutex_lock(&gate_lock);
	gate_armed = 1;
	pthread_mutex_unlock(&gate_lock);
	ck_assert_int_eq(pthread_create(&t, NULL, flusher_main, p), 0);
	/* The producer is held, and the flusher waits on the condition. */
	deadline = fixture_now() + 10;
	for (;;) {
		pthread_mutex_lock(&gate_lock);
		rc = gate_in;
		pthread_mutex_unlock(&gate_lock);
		tid = __atomic_load_n(&flusher_tid, __ATOMIC_ACQUIRE);
		if (rc && tid != 0 && in_futex(tid))
			break;
		ck_assert_msg(fixture_now() < deadline, "the flusher never "
		    "waited");
		fixture_pause();
	}
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		rc = tally_provider_stop(p);
		tally_provider_free(p);
		_exit(rc == TALLY_EFORK ? 0 : 1);
	}
	deadline = fixture_now() + 10;
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
	    fixture_now() < deadline)
		fixture_pause();
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	pthread_join(t, NULL);
	ck_assert_msg(r == pid, "the child hung in tally_provider_free");
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(flusher_rc, 0);
	tally_provider_free(p);
}
END_TEST

/* Write node's slot with two counters, as anyone who can write it may. */
static void
put_counters(const char *node, const char *a, int64_t va, const char *b,
    int64_t vb)
{
	struct store		*st;
	struct snapshot		 snap;
	struct record_node	 rn;
	char			 err[TALLY_ERRLEN];

	ck_assert_msg(store_open(&st, dir, 0, err, sizeof err) == 0, "%s",
	    err);
	snapshot_init(&snap);
	ck_assert_int_eq(snapshot_add_counter(&snap, a, strlen(a), va), 0);
	ck_assert_int_eq(snapshot_add_counter(&snap, b, strlen(b), vb), 0);
	snapshot_finish(&snap);
	memset(&rn, 0, sizeof rn);
	snprintf(rn.nickname, sizeof rn.nickname, "nick");
	snprintf(rn.source, sizeof rn.source, "local");
	rn.time = (int64_t)time(NULL);
	ck_assert_msg(store_write_slot(st, node, &rn, &snap, err,
	    sizeof err) == 0, "%s", err);
	snapshot_free(&snap);
	store_close(st);
}

/*
 * Counters resumed near the limits of int64 wrap modulo 2^64 as they are
 * added to (libtally(3)): the sum of a thread's cell and the resumed base
 * is never undefined behaviour, which the CI build's UBSan aborts on.
 */
START_TEST(test_resume_wrap)
{
	tally_provider	*p;
	tally_counter	*big, *small;

	put_counters("wrapper", "big", INT64_MAX - 1, "small", INT64_MIN + 1);
	p = mk("wrapper", TALLY_F_NO_MONITORS);
	ck_assert_ptr_nonnull(big = tally_counter_get(p, "big"));
	ck_assert_ptr_nonnull(small = tally_counter_get(p, "small"));
	tally_counter_add(big, 1);	/* before start: this thread's cell */
	tally_counter_add(small, -1);
	ck_assert_int_eq(tally_provider_start(p), 0);	/* resumes */
	ck_assert(tally_counter_value(big) == INT64_MAX);
	ck_assert(tally_counter_value(small) == INT64_MIN);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert_str_eq(counter("wrapper", "big"), "9223372036854775807");
	ck_assert_str_eq(counter("wrapper", "small"), "-9223372036854775808");
	tally_counter_add(big, 2);
	tally_counter_add(small, -2);
	ck_assert(tally_counter_value(big) == INT64_MIN + 1);
	ck_assert(tally_counter_value(small) == INT64_MAX - 1);
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert_str_eq(counter("wrapper", "big"), "-9223372036854775807");
	ck_assert_str_eq(counter("wrapper", "small"), "9223372036854775806");
	tally_provider_free(p);

	/* A wrapped value resumes as it was written, and wraps back. */
	p = mk("wrapper", TALLY_F_NO_MONITORS);
	ck_assert_ptr_nonnull(big = tally_counter_get(p, "big"));
	tally_counter_add(big, INT64_MAX);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert(tally_counter_value(big) == 0);
	tally_provider_free(p);
	ck_assert_str_eq(counter("wrapper", "big"), "0");
	ck_assert_str_eq(counter("wrapper", "small"), "9223372036854775806");
}
END_TEST

/*
 * fork() while the parent's provider thread is summing its counters, in
 * the middle of a flush: a child that makes a provider of its own, as
 * libtally(3) tells it to, must not find the parent's process-wide locks
 * held by a thread it has not got.
 *
 * The fork is timed, not left to chance, because GCC 12's ASan allocator
 * is not fork-safe: a child may wait forever on a lock of it that one of
 * the parent's threads held, which says nothing of libtally.  So the
 * parent forks only while every other thread of it is away from the
 * allocator: the flush thread inside fork_gate_stats(), a producer that
 * sums counters (taking counter_lock on and off, as a flush's collect
 * does) until the fork is done, the counting threads asleep.  For the
 * same reason the child starts no thread of its own.
 */
#define FORK_COUNTERS	5000
#define FORK_THREADS	4	/* shards to sum, beside the test's */
#define FORK_CHILDREN	200
#define FORK_BATCH	10	/* children forked during one flush */
#define FORK_DEADLINE	10.0	/* seconds a batch may take */

static tally_counter	*fork_ctr[FORK_COUNTERS];
static pthread_mutex_t	 fork_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 fork_cond = PTHREAD_COND_INITIALIZER;
static int		 fork_ready, fork_done;	/* counting threads */
static int		 fork_want, fork_summing;	/* the flush thread */

/* Count into every counter, then keep the shard alive until the end. */
static void *
fork_counter_main(void *arg)
{
	int	 i;

	for (i = 0; i < FORK_COUNTERS; i++)
		tally_counter_add(fork_ctr[i], 1);
	pthread_mutex_lock(&fork_lock);
	fork_ready++;
	pthread_cond_broadcast(&fork_cond);
	while (!fork_done)
		pthread_cond_wait(&fork_cond, &fork_lock);
	pthread_mutex_unlock(&fork_lock);
	return NULL;
}

/* A producer: while a fork is wanted, sum counters on the flush thread. */
static int
fork_gate_stats(void *ctx, tally_sink *sink)
{
	int	 i = 0;

	pthread_mutex_lock(&fork_lock);
	if (!fork_want) {
		pthread_mutex_unlock(&fork_lock);
		return 0;
	}
	fork_summing = 1;
	pthread_cond_broadcast(&fork_cond);
	pthread_mutex_unlock(&fork_lock);
	while (__atomic_load_n(&fork_want, __ATOMIC_ACQUIRE))
		(void)tally_counter_value(fork_ctr[i++ % FORK_COUNTERS]);
	pthread_mutex_lock(&fork_lock);
	fork_summing = 0;
	pthread_cond_broadcast(&fork_cond);
	pthread_mutex_unlock(&fork_lock);
	return 0;
}

static void
fork_quiet(void *ctx, int level, const char *msg)
{
}

/* A child takes milliseconds: poll for it more often than fixture_pause. */
static void
fork_pause(void)
{
	struct timespec	 ts = { 0, 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* In the child: a provider of its own, counted into, some flushed. */
static void __attribute__((noreturn))
fork_child(int n)
{
	tally_options	 opt;
	tally_provider	*q;
	tally_counter	*c;
	struct ev_loop	*loop = NULL;
	char		 name[32];
	int		 i;

	memset(&opt, 0, sizeof opt);
	opt.node_id = "child";
	opt.statsfile = dir;
	opt.flags = TALLY_F_NO_MONITORS;
	opt.flush_interval = 3600;
	opt.log = fork_quiet;
	if (tally_provider_new(&q, &opt) != 0)
		_exit(2);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "child.%d", i);
		if (tally_count(q, name, i) != 0)
			_exit(3);
	}
	if ((c = tally_counter_get(q, "child.c")) == NULL)
		_exit(4);
	tally_counter_add(c, 5);
	/* The parent's threads' shards are summed too: they hold 0 here. */
	if (tally_counter_value(c) != 5)
		_exit(5);
	/* Some flush, on this thread: attached to a loop that never runs. */
	if (n % 20 == 0 && ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL ||
	    tally_provider_attach(q, loop) != 0 ||
	    tally_provider_flush(q) != 0 || tally_provider_stop(q) != 0))
		_exit(6);
	tally_provider_free(q);
	if (loop != NULL)
		ev_loop_destroy(loop);
	_exit(0);
}

START_TEST(test_fork_while_flushing)
{
	tally_options	 opt;
	tally_provider	*p;
	tally_producer	 gate = { "fork-gate", fork_gate_stats, NULL };
	pthread_t	 t[FORK_THREADS];
	char		 name[32];
	double		 deadline;
	pid_t		 pid[FORK_BATCH], r;
	int		 i, j, k, left, status, hung = -1, bad = -1;
	int		 bad_status = 0, fork_errno = 0;

	memset(&opt, 0, sizeof opt);
	opt.node_id = "forking";
	opt.statsfile = dir;
	opt.flags = TALLY_F_NO_MONITORS;
	opt.flush_interval = 0.001;	/* flush after flush */
	opt.log = fixture_log;
	ck_assert_int_eq(tally_provider_new(&p, &opt), 0);
	for (i = 0; i < FORK_COUNTERS; i++) {
		snprintf(name, sizeof name, "fork.%d", i);
		ck_assert_ptr_nonnull(fork_ctr[i] = tally_counter_get(p, name));
	}
	for (i = 0; i < FORK_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, fork_counter_main,
		    NULL), 0);
	pthread_mutex_lock(&fork_lock);
	while (fork_ready < FORK_THREADS)
		pthread_cond_wait(&fork_cond, &fork_lock);
	pthread_mutex_unlock(&fork_lock);
	ck_assert_int_eq(tally_register_producer(p, &gate), 0);
	ck_assert_int_eq(tally_provider_start(p), 0);

	for (i = 0; i < FORK_CHILDREN && hung == -1 && bad == -1;
	    i += FORK_BATCH) {
		tally_counter_add(fork_ctr[i], 1);
		/* The next flush's producer sums until the forks are done. */
		pthread_mutex_lock(&fork_lock);
		__atomic_store_n(&fork_want, 1, __ATOMIC_RELEASE);
		while (!fork_summing)
			pthread_cond_wait(&fork_cond, &fork_lock);
		pthread_mutex_unlock(&fork_lock);
		for (j = 0; j < FORK_BATCH; j++) {
			if ((pid[j] = fork()) == 0)
				fork_child(i + j);
			if (pid[j] == -1) {
				fork_errno = errno;
				break;
			}
		}
		pthread_mutex_lock(&fork_lock);
		__atomic_store_n(&fork_want, 0, __ATOMIC_RELEASE);
		while (fork_summing)
			pthread_cond_wait(&fork_cond, &fork_lock);
		pthread_mutex_unlock(&fork_lock);

		/* Reap the batch; kill what is still there at the deadline. */
		deadline = fixture_now() + FORK_DEADLINE;
		for (left = j; left > 0; ) {
			for (k = 0; k < j; k++) {
				if (pid[k] == 0 || (r = waitpid(pid[k], &status,
				    WNOHANG)) == 0)
					continue;
				ck_assert_int_eq(r, pid[k]);
				if (bad == -1 && (!WIFEXITED(status) ||
				    WEXITSTATUS(status) != 0)) {
					bad = i + k;
					bad_status = status;
				}
				pid[k] = 0;
				left--;
			}
			if (left == 0)
				break;
			if (fixture_now() > deadline) {
				for (k = 0; k < j; k++) {
					if (pid[k] == 0)
						continue;
					kill(pid[k], SIGKILL);
					waitpid(pid[k], &status, 0);
					if (hung == -1)
						hung = i + k;
				}
				break;
			}
			fork_pause();
		}
		ck_assert_msg(j == FORK_BATCH, "fork: %s",
		    strerror(fork_errno));
	}

	pthread_mutex_lock(&fork_lock);
	fork_done = 1;
	pthread_cond_broadcast(&fork_cond);
	pthread_mutex_unlock(&fork_lock);
	for (i = 0; i < FORK_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(hung == -1, "child %d of %d hung", hung, FORK_CHILDREN);
	ck_assert_msg(bad == -1, "child %d failed: status 0x%x", bad,
	    bad_status);
	/* The parent's provider is unharmed. */
	ck_assert_int_eq(tally_provider_flush(p), 0);
	ck_assert(tally_counter_value(fork_ctr[0]) == FORK_THREADS + 1);
	ck_assert_str_eq(counter("forking", "fork.0"), "5");
	/* Each child that flushed resumed what the one before wrote. */
	snprintf(name, sizeof name, "%d", 5 * ((FORK_CHILDREN + 19) / 20));
	ck_assert_str_eq(counter("child", "child.c"), name);
	tally_provider_free(p);
}
END_TEST

static tally_provider *reentered;
static int reentry_rc[3];

static int
reentrant_stats(void *ctx, tally_sink *sink)
{
	tally_producer	 other = { "other", good_stats, NULL };

	reentry_rc[0] = tally_register_producer(reentered, &other);
	reentry_rc[1] = tally_unregister_producer(reentered, ctx);
	reentry_rc[2] = tally_provider_flush(reentered);
	return 0;
}

/* A producer calling back into its provider is refused, not deadlocked. */
START_TEST(test_producer_reentry)
{
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	tally_producer	 prod = { "reentrant", reentrant_stats, NULL };

	reentered = mk("reentry", TALLY_F_NO_MONITORS);
	prod.ctx = &prod;
	ck_assert_int_eq(tally_register_producer(reentered, &prod), 0);
	ck_assert_int_eq(tally_provider_attach(reentered, loop), 0);
	ck_assert_int_eq(tally_provider_flush(reentered), 0);
	ck_assert_int_eq(reentry_rc[0], TALLY_ESTATE);
	ck_assert_int_eq(reentry_rc[1], TALLY_ESTATE);
	ck_assert_int_eq(reentry_rc[2], TALLY_ESTATE);
	tally_provider_free(reentered);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_strerror)
{
	ck_assert_str_eq(tally_strerror(0), "success");
	ck_assert_str_eq(tally_strerror(TALLY_EFORMAT),
	    "unknown database format");
	ck_assert_str_eq(tally_strerror(12345), "unknown tally error");
	ck_assert_str_eq(tally_version(NULL, NULL, NULL),
	    "tally " TALLY_VERSION_STRING);
}
END_TEST

int
main(void)
{
	/* fork: hundreds of children of a busy parent, ASan, 2 CPUs. */
	const struct fixture_test	 tests[] = {
		{ "core", test_start_flush_stop, 0, 20 },
		{ "core", test_reader_in_calling_thread, 0, 20 },
		{ "core", test_node_record, 0, 20 },
		{ "core", test_counts_before_start_kept, 0, 20 },
		{ "core", test_resume, 0, 20 },
		{ "core", test_resume_wrap, 0, 20 },
		{ "core", test_builtin_monitors, 0, 20 },
		{ "core", test_producers_register, 0, 20 },
		{ "core", test_bad_options, FIXTURE_N(bad_options), 20 },
		{ "core", test_start_missing_statsfile, 0, 20 },
		{ "core", test_start_not_lmdb, 0, 20 },
		{ "core", test_open_nodedir, 0, 20 },
		{ "core", test_open_nodedir_furl, 0, 20 },
		{ "core", test_open_nodedir_odd, 0, 20 },
		{ "core", test_node_id_threads, 0, 20 },
		{ "core", test_free_in_child_during_flush, 0, 40 },
		{ "core", test_libev_flags_ignored, 0, 20 },
		{ "core", test_attach, 0, 20 },
		{ "core", test_two_providers_one_env, 0, 20 },
		{ "core", test_one_writer_per_node, 0, 20 },
		{ "core", test_tls_needs_key, 0, 20 },
		{ "core", test_node_key_file, 0, 20 },
		{ "core", test_fork_child, 0, 20 },
		{ "core", test_producer_reentry, 0, 20 },
		{ "core", test_strerror, 0, 20 },
		{ "fork", test_fork_while_flushing, 0, 60 },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "core", setup, teardown, NULL, NULL },
		{ "fork", setup, teardown, NULL, NULL },
	};

	return fixture_main("provider", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
