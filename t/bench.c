/*
 * bench.c: `make bench`.  Prints each figure beside a reference measured in
 * the same run, on this machine; no figure passes or fails.  It exits 1,
 * with no figure, only when a part could not run as it says: the plugin's
 * fleets (1,000 and 10,000 nodes, or BENCH_NODES) are counted in the
 * statsfile, and a run of each plugin figure must print a value for every
 * one of their nodes.  Links the shared libtally, as a node program would.
 *
 * usage: bench PLUGIN
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tally.h"

#define ADDS	(50 * 1000 * 1000)
#define REPEAT	5

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return v[n / 2];
}

static int64_t	 raw;		/* the reference counter */

static double
bench_raw(void)
{
	double	 t = now();
	long	 i;

	for (i = 0; i < ADDS; i++)
		__atomic_fetch_add(&raw, 1, __ATOMIC_RELAXED);
	return (now() - t) / ADDS * 1e9;
}

static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static int64_t		 locked;

/* A counter behind a mutex, as many hand-rolled stats modules do. */
static double
bench_mutex(void)
{
	double	 t = now();
	long	 i, n = ADDS / 5;

	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&mtx);
		locked++;
		pthread_mutex_unlock(&mtx);
	}
	return (now() - t) / n * 1e9;
}

/* A statsd client: one "name:1|c" datagram per count, to loopback. */
static double
bench_statsd(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	static const char	 msg[] = "storage_server.get:1|c";
	int			 rx, tx, sz = 1 << 20;
	long			 i, n = 200000;
	double			 t;
	char			 drain[64];

	rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	if (rx < 0 || tx < 0)
		return NAN;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	if (bind(rx, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(rx, (struct sockaddr *)&sin, &len) != 0)
		return NAN;
	t = now();
	for (i = 0; i < n; i++) {
		sendto(tx, msg, sizeof msg - 1, 0, (struct sockaddr *)&sin,
		    sizeof sin);
		/* Keep the receiver's queue from filling: drain now and then. */
		if ((i & 63) == 63)
			while (recv(rx, drain, sizeof drain, 0) > 0)
				;
	}
	t = (now() - t) / n * 1e9;
	close(rx);
	close(tx);
	return t;
}

static long
rss_kib(void)
{
	FILE	*f = fopen("/proc/self/statm", "r");
	long	 size = 0, res = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Bytes per counter: 100,000 counters, each used once by this thread. */
static double
bench_memory(const char *dir)
{
	tally_options	 opt;
	tally_provider	*p;
	char		 name[64];
	long		 before, after;
	int		 i, n = 100000;

	memset(&opt, 0, sizeof opt);
	opt.node_id = "memory";
	opt.statsfile = dir;
	opt.flags = TALLY_F_NO_MONITORS;
	if (tally_provider_new(&p, &opt) != 0)
		return NAN;
	before = rss_kib();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "memory.counter.%06d", i);
		tally_count(p, name, 1);
	}
	after = rss_kib();
	tally_provider_free(p);
	return (after - before) * 1024.0 / n;
}

static tally_counter	*hot;

/*
 * The counter's own work without libtally: a function of this program,
 * never inlined, that adds to a cell with a plain load and store.  One
 * thread adding to one cell waits each time for its last store, so where
 * this costs about an atomic add (some CPUs), a counter behind a call
 * cannot come to half of one.  Not a strict floor: where the code lies
 * moves both by a fraction of a nanosecond, and on some CPUs
 * tally_counter_add itself comes out cheaper.
 */
static int64_t	 floor_cell;

__attribute__((noinline)) static void
floor_add(int64_t *cell, int64_t delta)
{
	__atomic_store_n(cell, __atomic_load_n(cell, __ATOMIC_RELAXED) + delta,
	    __ATOMIC_RELAXED);
}

static double
bench_floor(void)
{
	double	 t = now();
	long	 i;

	for (i = 0; i < ADDS; i++)
		floor_add(&floor_cell, 1);
	return (now() - t) / ADDS * 1e9;
}

static double
bench_add(void)
{
	double	 t = now();
	long	 i;

	for (i = 0; i < ADDS; i++)
		tally_counter_add(hot, 1);
	return (now() - t) / ADDS * 1e9;
}

static tally_histogram	*hist;
/* Latencies to observe: 100 us to 100 ms, spread over 24 buckets. */
static double		 lat[1024];

/* Observations a second, one thread, into one histogram. */
static double
bench_observe(void)
{
	double	 t = now();
	long	 i;

	for (i = 0; i < ADDS; i++)
		tally_histogram_observe(hist, lat[i & 1023]);
	return (now() - t) / ADDS * 1e9;
}

/* What a worker does: 0 a raw atomic add, 1 a counter, 2 a histogram. */
struct two {
	int	 tally;
	double	 secs;
};

static void *
two_worker(void *arg)
{
	struct two	*w = arg;
	double		 t = now();
	long		 i;

	if (w->tally == 2)
		for (i = 0; i < ADDS; i++)
			tally_histogram_observe(hist, lat[i & 1023]);
	else if (w->tally)
		for (i = 0; i < ADDS; i++)
			tally_counter_add(hot, 1);
	else
		for (i = 0; i < ADDS; i++)
			__atomic_fetch_add(&raw, 1, __ATOMIC_RELAXED);
	w->secs = now() - t;
	return NULL;
}

/* Aggregate adds per second of two threads on one counter. */
static double
bench_two(int tally)
{
	pthread_t	 th[2];
	struct two	 w[2] = { { tally, 0 }, { tally, 0 } };
	double		 t = now();
	int		 i;

	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, two_worker, &w[i]);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return 2.0 * ADDS / (now() - t);
}

static tally_provider	*prov;

static double
bench_by_name(void)
{
	static const char *names[] = {
		"storage_server.allocate", "storage_server.get",
		"storage_server.writev", "storage_server.readv",
	};
	double	 t = now();
	long	 i, n = ADDS / 5;

	for (i = 0; i < n; i++)
		tally_count(prov, names[i & 3], 1);
	return (now() - t) / n * 1e9;
}

#define FLUSH_METRICS 10000

static int
many_stats(void *ctx, tally_sink *sink)
{
	char	 name[64];
	int	 i, round = *(int *)ctx;

	for (i = 0; i < FLUSH_METRICS; i++) {
		snprintf(name, sizeof name, "bench.stat.%05d", i);
		tally_sink_put(sink, name, i * 0.5 + round);
	}
	return 0;
}

/* A flush of 10k counters and 10k stats, every value changed. */
static double
bench_flush(const char *dir, double *first)
{
	tally_options	 opt;
	tally_provider	*p;
	tally_counter	*c[FLUSH_METRICS];
	tally_producer	 prod = { "bench", many_stats, NULL };
	double		 times[REPEAT * 2], t;
	char		 name[64];
	int		 i, r, round = 0;

	memset(&opt, 0, sizeof opt);
	opt.node_id = "flusher";
	opt.statsfile = dir;
	opt.flush_interval = 3600;
	opt.flags = TALLY_F_NO_MONITORS;
	if (tally_provider_new(&p, &opt) != 0)
		return NAN;
	prod.ctx = &round;
	tally_register_producer(p, &prod);
	for (i = 0; i < FLUSH_METRICS; i++) {
		snprintf(name, sizeof name, "bench.counter.%05d", i);
		c[i] = tally_counter_get(p, name);
	}
	if (tally_provider_start(p) != 0) {
		fprintf(stderr, "bench: %s\n", tally_provider_errmsg(p));
		return NAN;
	}
	/* The start's own first flush wrote the slot: time one more. */
	tally_provider_flush(p);
	for (r = 0; r < REPEAT * 2; r++) {
		round++;
		for (i = 0; i < FLUSH_METRICS; i++)
			tally_counter_add(c[i], 1);
		t = now();
		if (tally_provider_flush(p) != 0) {
			fprintf(stderr, "bench: %s\n", tally_provider_errmsg(p));
			return NAN;
		}
		times[r] = (now() - t) * 1e3;
	}
	*first = times[0];
	tally_provider_free(p);
	return median(times, REPEAT * 2);
}

/*
 * The plugin's fleet: storage nodes of NODE_METRICS metrics each, as
 * the original system's storage nodes carried about 200.  Each node holds
 * every statid of the plugin's graph table, so that tally_all draws every
 * graph; the storage server's latency summaries under the original's
 * names; and filler up to NODE_METRICS, half counters, half stats.
 */
#define NODES_SMALL	1000
#define NODES_BIG	10000
#define NODE_METRICS	200
static int	 fleet;		/* the nodes of the fleet being measured */

static const char *const graph_counters[] = {
	"storage_server.allocate", "storage_server.get",
	"storage_server.writev", "storage_server.readv",
	"storage_server.bytes_added", "storage_server.bytes_freed",
	"chk_upload_helper.upload_requests",
	"chk_upload_helper.upload_already_present",
	"chk_upload_helper.upload_need_upload",
	"chk_upload_helper.encoded_bytes", "chk_upload_helper.fetched_bytes",
	"uploader.bytes_uploaded", "uploader.files_uploaded",
	"mutable.files_published", "mutable.files_retrieved",
};
static const char *const graph_stats[] = {
	"load_monitor.avg_load", "load_monitor.max_load",
	"cpu_monitor.1min_avg", "cpu_monitor.5min_avg",
	"cpu_monitor.15min_avg", "cpu_monitor.total", "node.uptime",
	"storage_server.allocated", "storage_server.consumed",
	"chk_upload_helper.incoming_count", "chk_upload_helper.incoming_size",
	"chk_upload_helper.incoming_size_old",
	"chk_upload_helper.encoding_count", "chk_upload_helper.encoding_size",
	"chk_upload_helper.encoding_size_old",
	"chk_upload_helper.active_uploads",
};
static const char *const latency_ops[] = {
	"allocate", "write", "close", "read", "get", "writev", "readv",
};
static const char *const latency_kinds[] = {
	"mean", "01_0_percentile", "10_0_percentile", "50_0_percentile",
	"90_0_percentile", "95_0_percentile", "99_0_percentile",
	"99_9_percentile", "samplesize",
};
#define NELEM(a)	(sizeof (a) / sizeof (a)[0])

struct node_names {
	char	 counter[NODE_METRICS][64];
	char	 stat[NODE_METRICS][64];
	int	 ncounters, nstats;
};

static void
node_names_init(struct node_names *nn)
{
	size_t	 i, j;
	int	 pad;

	nn->ncounters = nn->nstats = 0;
	for (i = 0; i < NELEM(graph_counters); i++)
		snprintf(nn->counter[nn->ncounters++], 64, "%s",
		    graph_counters[i]);
	for (i = 0; i < NELEM(graph_stats); i++)
		snprintf(nn->stat[nn->nstats++], 64, "%s", graph_stats[i]);
	for (i = 0; i < NELEM(latency_ops); i++)
		for (j = 0; j < NELEM(latency_kinds); j++)
			snprintf(nn->stat[nn->nstats++], 64,
			    "storage_server.latencies.%s.%s", latency_ops[i],
			    latency_kinds[j]);
	pad = NODE_METRICS - nn->ncounters - nn->nstats;
	for (i = 0; i < (size_t)(pad + 1) / 2; i++)
		snprintf(nn->counter[nn->ncounters++], 64,
		    "bench.filler.counter.%03zu", i);
	for (i = 0; i < (size_t)pad / 2; i++)
		snprintf(nn->stat[nn->nstats++], 64, "bench.filler.stat.%03zu",
		    i);
}

struct node_ctx {
	const struct node_names	*nn;
	int			 i;
};

static int
node_stats(void *ctx, tally_sink *sink)
{
	const struct node_ctx	*nc = ctx;
	int			 j, rc;

	for (j = 0; j < nc->nn->nstats; j++)
		if ((rc = tally_sink_put(sink, nc->nn->stat[j],
		    nc->i * 0.001 + j)) != 0)
			return rc;
	return 0;
}

/* A double as tally(5) writes it: shortest round-trip text. */
static void
fmt_double(char *buf, size_t len, double d)
{
	int	 prec;

	if (d == (double)(int64_t)d && d > -9e15 && d < 9e15) {
		snprintf(buf, len, "%lld", (long long)d);
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/*
 * Nodes from..n-1 with the stock mdb_load, laid out as tally(5) says and
 * as fill_nodes' providers write them (the same names, values and times,
 * the stat index too): 10,000 flushes, each a transaction of its own,
 * take minutes, and the first nodes would be stale before the last.
 */
static int
fill_load(const char *dir, int from, int n, const struct node_names *nn)
{
	static const char *const hdr = "VERSION=3\nformat=print\n"
	    "type=btree\nmapsize=4294967296\ndatabase=%s\nHEADER=END\n";
	char	 cmd[4200], num[64];
	FILE	*f;
	int	 i, j, t, idx;

	snprintf(cmd, sizeof cmd, "mdb_load '%s'", dir);
	if ((f = popen(cmd, "w")) == NULL)
		return -1;
	fprintf(f, hdr, "nodes");
	for (i = from; i < n; i++)
		fprintf(f, " node-%05d\n nickname=storage %d\\0atime=%lld"
		    "\\0asource=local\\0ainterval=3600\\0a\n", i, i,
		    (long long)time(NULL));
	fputs("DATA=END\n", f);
	for (t = 0; t < 2; t++) {
		for (idx = 0; idx < 2; idx++) {
			fprintf(f, hdr, t == 0 ? (idx ? "counters-by-stat" :
			    "counters") : (idx ? "stats-by-stat" : "stats"));
			for (i = from; i < n; i++)
				for (j = 0; j < (t == 0 ? nn->ncounters :
				    nn->nstats); j++) {
					if (t == 0)
						snprintf(num, sizeof num, "%lld",
						    (long long)i * 1000 + j);
					else
						fmt_double(num, sizeof num,
						    i * 0.001 + j);
					if (idx)
						fprintf(f, " %s/node-%05d\n"
						    " %s\n", t == 0 ?
						    nn->counter[j] :
						    nn->stat[j], i, num);
					else
						fprintf(f, " node-%05d/%s\n"
						    " %s\n", i, t == 0 ?
						    nn->counter[j] :
						    nn->stat[j], num);
				}
			fputs("DATA=END\n", f);
		}
	}
	return pclose(f) == 0 ? 0 : -1;
}

/* Nodes from..n-1 (node-NNNNN), each a provider's one flush. */
static int
fill_nodes(const char *dir, int from, int n, const struct node_names *nn)
{
	tally_options	 opt;
	tally_provider	*p;
	tally_producer	 prod = { "node", node_stats, NULL };
	struct node_ctx	 nc = { nn, 0 };
	char		 id[32], nick[32];
	int		 i, j;

	prod.ctx = &nc;
	for (i = from; i < n; i++) {
		snprintf(id, sizeof id, "node-%05d", i);
		snprintf(nick, sizeof nick, "storage %d", i);
		memset(&opt, 0, sizeof opt);
		opt.node_id = id;
		opt.nickname = nick;
		opt.statsfile = dir;
		opt.flush_interval = 3600;
		opt.flags = TALLY_F_NO_MONITORS;
		if (tally_provider_new(&p, &opt) != 0)
			return -1;
		nc.i = i;
		tally_register_producer(p, &prod);
		for (j = 0; j < nn->ncounters; j++)
			if (tally_count(p, nn->counter[j],
			    (int64_t)i * 1000 + j) != 0)
				return -1;
		if (tally_provider_start(p) != 0) {
			fprintf(stderr, "bench: %s: %s\n", id,
			    tally_provider_errmsg(p));
			return -1;
		}
		tally_provider_free(p);
	}
	return 0;
}

/*
 * The statsfile's entries, from the stock mdb_stat, as an operator would
 * count them: the fleet a figure claims is the fleet that was there.
 */
static int
db_entries(const char *dir, long *nodes, long *counters, long *stats)
{
	char	 cmd[4200], line[256], db[64] = "";
	FILE	*f;
	long	 v;

	*nodes = *counters = *stats = -1;
	snprintf(cmd, sizeof cmd, "mdb_stat -a '%s' 2>/dev/null", dir);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "Status of %63s", db) == 1)
			continue;
		if (sscanf(line, " Entries: %ld", &v) != 1)
			continue;
		if (strcmp(db, "nodes") == 0)
			*nodes = v;
		else if (strcmp(db, "counters") == 0)
			*counters = v;
		else if (strcmp(db, "stats") == 0)
			*stats = v;
	}
	return pclose(f) == 0 && *nodes >= 0 ? 0 : -1;
}

/*
 * Wall time of one run of argv with statsfile set, stdout discarded; the
 * run's peak RSS (KiB) goes to *rss.
 */
static double
run_once(char *const argv[], const char *statsfile, long *rss)
{
	struct rusage	 ru;
	double		 t = now();
	pid_t		 pid;
	int		 status, fd;

	if ((pid = fork()) == 0) {
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		setenv("statsfile", statsfile, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid)
		return NAN;
	t = (now() - t) * 1e3;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return NAN;
	*rss = ru.ru_maxrss;
	return t;
}

/*
 * The median of 21 runs, or NaN if any run failed; the largest peak RSS
 * of them in *rss (KiB).
 */
static double
run_median(char *const argv[], const char *statsfile, long *rss)
{
	double	 times[21];
	long	 r;
	int	 i;

	*rss = 0;
	for (i = 0; i < 21; i++) {
		if (isnan(times[i] = run_once(argv, statsfile, &r)))
			return NAN;
		if (r > *rss)
			*rss = r;
	}
	return median(times, 21);
}

/*
 * The medians of 21 runs of a and 21 of b, taken in turn (a, b, a, b...),
 * so that whatever else the machine does meanwhile falls on both; the
 * largest peak RSS of each in *rssa and *rssb (KiB).  0, or -1 if any
 * run failed.
 */
static int
run_pair(char *const a[], char *const b[], const char *statsfile,
    double *ma, double *mb, long *rssa, long *rssb)
{
	double	 ta[21], tb[21];
	long	 r;
	int	 i;

	*rssa = *rssb = 0;
	for (i = 0; i < 21; i++) {
		if (isnan(ta[i] = run_once(a, statsfile, &r)))
			return -1;
		if (r > *rssa)
			*rssa = r;
		if (isnan(tb[i] = run_once(b, statsfile, &r)))
			return -1;
		if (r > *rssb)
			*rssb = r;
	}
	*ma = median(ta, 21);
	*mb = median(tb, 21);
	return 0;
}

/* What one run printed: multigraph sections, values, and U among them. */
struct output {
	long	 graphs, values, unknown;
	long	 listed;		/* lines naming a tally_ plugin */
};

/* Run argv once with its stdout in a pipe, counting; its exit status. */
static int
run_count(char *const argv[], const char *statsfile, struct output *o)
{
	char	 line[512];
	FILE	*f;
	pid_t	 pid;
	int	 pfd[2], status;
	size_t	 len;

	memset(o, 0, sizeof *o);
	if (pipe(pfd) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		setenv("statsfile", statsfile, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	if ((f = fdopen(pfd[0], "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		len = strlen(line);
		if (strncmp(line, "tally_", 6) == 0)
			o->listed++;
		else if (strncmp(line, "multigraph ", 11) == 0)
			o->graphs++;
		else if (strstr(line, ".value ") != NULL) {
			o->values++;
			if (len >= 3 && strcmp(line + len - 3, " U\n") == 0)
				o->unknown++;
		}
	}
	fclose(f);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * Whether a run of argv printed a value, not U, for each of the fleet's
 * nodes in each of `graphs' graphs (0: a single graph, no sections).
 * Says what was missing and returns -1 if not.
 */
static int
check_fleet(const char *what, char *const argv[], const char *statsfile,
    long graphs)
{
	struct output	 o;
	long		 want = (graphs > 0 ? graphs : 1) * fleet;
	int		 rc;

	rc = run_count(argv, statsfile, &o);
	if (rc == 0 && o.graphs == graphs && o.values == want &&
	    o.unknown == 0)
		return 0;
	fprintf(stderr, "bench: %s: the plugin exited %d and printed %ld "
	    "values (%ld of them U) in %ld graphs; want %ld values of %d "
	    "nodes in %ld graphs: no figure\n", what, rc, o.values,
	    o.unknown, o.graphs, want, fleet, graphs);
	return -1;
}

static void
rm_env(const char *dir)
{
	char	 path[4096];

	snprintf(path, sizeof path, "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/nodes.lock", dir);
	unlink(path);
	rmdir(dir);
}

/*
 * The plugin's figures over the fleet in nodes: one graph, then every
 * graph (tally_all) fetched and configured, beside spawning /bin/true.
 */
static int
plugin_figures(const char *nodes, char *one_link, char *all_link)
{
	char	*pa[] = { one_link, NULL };
	char	*ta[] = { (char *)"/bin/true", NULL };
	char	*pl[] = { one_link, (char *)"list", NULL };
	char	*ma[] = { all_link, NULL };
	char	*mc[] = { all_link, (char *)"config", NULL };
	char	 what[64];
	struct output o;
	double	 fetch, spawn, mf, mcf;
	long	 en, ec, es, ngraphs, rss, trss, mrss;

	if (db_entries(nodes, &en, &ec, &es) != 0) {
		fprintf(stderr, "bench: mdb_stat -a %s failed (lmdb-utils): "
		    "cannot count the plugin's fleet\n", nodes);
		return -1;
	}
	if (en != fleet || ec + es != (long)fleet * NODE_METRICS) {
		fprintf(stderr, "bench: the statsfile holds %ld nodes and %ld "
		    "values, not %d and %d: no plugin figure\n", en, ec + es,
		    fleet, fleet * NODE_METRICS);
		return -1;
	}
	if (check_fleet("plugin fetch", pa, nodes, 0) != 0)
		return -1;
	if (run_pair(pa, ta, nodes, &fetch, &spawn, &rss, &trss) != 0) {
		fprintf(stderr, "bench: a plugin fetch or /bin/true failed\n");
		return -1;
	}
	/* Every graph of the table, since every node has every stat. */
	if (run_count(pl, nodes, &o) != 0 || o.listed < 2) {
		fprintf(stderr, "bench: %s list failed\n", one_link);
		return -1;
	}
	ngraphs = o.listed - 1;		/* less tally_all */
	snprintf(what, sizeof what, "plugin fetch, %d nodes x %d vs true",
	    fleet, NODE_METRICS);
	printf("%-44s %9.2f ms %9.2f ms %7.2fx %s\n", what, fetch, spawn,
	    fetch / spawn, fleet > NODES_SMALL ? "<= 3x" : "<= 1.5x");
	snprintf(what, sizeof what, "  its peak RSS, %d nodes", fleet);
	printf("%-44s %8.1f MiB %8.1f MiB %7.2fx %s\n", what, rss / 1024.0,
	    trss / 1024.0, (double)rss / trss, "<= 32 MiB");
	/* tally_all: every graph with data, in one run, as munin-node asks. */
	setenv("MUNIN_CAP_MULTIGRAPH", "1", 1);
	if (check_fleet("multigraph fetch", ma, nodes, ngraphs) != 0)
		return -1;
	mf = run_median(ma, nodes, &mrss);
	setenv("MUNIN_CAP_DIRTYCONFIG", "1", 1);
	if (check_fleet("multigraph dirty config", mc, nodes, ngraphs) != 0)
		return -1;
	mcf = run_median(mc, nodes, &rss);
	unsetenv("MUNIN_CAP_MULTIGRAPH");
	unsetenv("MUNIN_CAP_DIRTYCONFIG");
	if (isnan(mf) || isnan(mcf)) {
		fprintf(stderr, "bench: a multigraph run failed\n");
		return -1;
	}
	snprintf(what, sizeof what, "multigraph fetch, all graphs, %d nodes",
	    fleet);
	printf("%-44s %9.2f ms %9.2f ms %7.2fx %s\n", what, mf, spawn,
	    mf / spawn, "<= 100 ms");
	snprintf(what, sizeof what, "  its peak RSS, %d nodes", fleet);
	printf("%-44s %8.1f MiB %12s %8s %s\n", what, mrss / 1024.0, "-",
	    "-", "(context)");
	snprintf(what, sizeof what, "multigraph dirty config, %d nodes",
	    fleet);
	printf("%-44s %9.2f ms %9.2f ms %7.2fx %s\n", what, mcf, spawn,
	    mcf / spawn, "(context)");
	printf("  fleet: %d nodes x %d metrics in the statsfile (mdb_stat); "
	    "a run of each plugin figure printed a value for every node in "
	    "each of its graphs (%ld in tally_all)\n", fleet, NODE_METRICS,
	    ngraphs);
	return 0;
}

/*
 * The providers wrote format 1, as any new statsfile is: one graph's
 * fetch without the stat index, for reference, then tally index (the
 * figures after are with it; fill_load writes it too).
 */
static int
index_fleet(const char *nodes, char *one_link)
{
	char	*pa[] = { one_link, NULL };
	char	 err[TALLY_ERRMSG_LEN], what[64];
	double	 fetch;
	long	 rss;

	if (check_fleet("plugin fetch, no index", pa, nodes, 0) != 0)
		return -1;
	if (isnan(fetch = run_median(pa, nodes, &rss))) {
		fprintf(stderr, "bench: a plugin fetch failed\n");
		return -1;
	}
	snprintf(what, sizeof what, "plugin fetch, %d nodes, no stat index",
	    fleet);
	printf("%-44s %9.2f ms %12s %8s %s\n", what, fetch, "-", "-",
	    "(context: format 1)");
	if (tally_statsfile_index(nodes, 1, err, sizeof err) != 0) {
		fprintf(stderr, "bench: tally index: %s\n", err);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	tally_options	 opt;
	char		 dir[] = "/tmp/tally-bench.XXXXXX";
	char		 nodes[] = "/tmp/tally-bench-nodes.XXXXXX";
	char		 plugin[4096], one_link[4200] = "", all_link[4200] = "";
	const char	*env;
	double		 r, a, fl, one, two, tworaw, byname, flush, first;
	long		 ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	static struct node_names nn;
	int		 i, rc = 1, sizes[2], filled, small;

	if (argc != 2) {
		fprintf(stderr, "usage: bench PLUGIN\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL || mkdtemp(nodes) == NULL) {
		perror("bench: mkdtemp");
		return 1;
	}
	memset(&opt, 0, sizeof opt);
	opt.node_id = "bench";
	opt.statsfile = dir;
	opt.flags = TALLY_F_NO_MONITORS;
	if (tally_provider_new(&prov, &opt) != 0)
		return 1;
	hot = tally_counter_get(prov, "bench.hot");
	hist = tally_histogram_get(prov, "bench.latency");
	for (i = 0; i < 1024; i++)
		lat[i] = 1e-4 * exp2(10.0 * i / 1024);
	tally_count(prov, "storage_server.allocate", 0);

	printf("tally %s benchmarks, %ld CPUs; medians of %d runs\n\n",
	    TALLY_VERSION_STRING, ncpu, REPEAT);
	printf("%-44s %12s %12s %8s %s\n", "figure", "tally", "reference",
	    "ratio", "target");

	/*
	 * The plugin's figures, on fleets counted in the statsfile and in
	 * one run of each figure's command: 1,000 nodes, then 9,000 more.
	 * First, while this process is small: a child's peak RSS counts the
	 * pages it shared with its parent before its exec.
	 */
	node_names_init(&nn);
	snprintf(plugin, sizeof plugin, "%s", argv[1]);
	if (plugin[0] != '/') {
		char cwd[2048];
		if (getcwd(cwd, sizeof cwd) == NULL)
			goto out;
		snprintf(plugin, sizeof plugin, "%s/%s", cwd, argv[1]);
	}
	snprintf(one_link, sizeof one_link, "%s/tahoe_storage_allocated",
	    nodes);
	snprintf(all_link, sizeof all_link, "%s/tally_all", nodes);
	if (symlink(plugin, one_link) != 0 || symlink(plugin, all_link) != 0) {
		perror("bench: symlink");
		goto out;
	}
	sizes[0] = NODES_SMALL;
	sizes[1] = NODES_BIG;
	if ((env = getenv("BENCH_NODES")) != NULL && atoi(env) > 0) {
		sizes[0] = atoi(env);
		sizes[1] = 0;
	}
	for (i = 0, filled = 0; i < 2 && sizes[i] > 0; i++) {
		/* Providers write the first 1,000, mdb_load the rest. */
		small = sizes[i] < NODES_SMALL ? sizes[i] : NODES_SMALL;
		if ((filled < small && fill_nodes(nodes, filled, small,
		    &nn) != 0) || (sizes[i] > small && fill_load(nodes,
		    filled > small ? filled : small, sizes[i], &nn) != 0)) {
			fprintf(stderr, "bench: could not fill %d nodes\n",
			    sizes[i]);
			goto out;
		}
		filled = fleet = sizes[i];
		if (i == 0 && index_fleet(nodes, one_link) != 0)
			goto out;
		if (plugin_figures(nodes, one_link, all_link) != 0)
			goto out;
	}

	{
		double ra[REPEAT], aa[REPEAT], fa[REPEAT];
		for (i = 0; i < REPEAT; i++) {
			ra[i] = bench_raw();
			aa[i] = bench_add();
			fa[i] = bench_floor();
		}
		r = median(ra, REPEAT);
		a = median(aa, REPEAT);
		fl = median(fa, REPEAT);
	}
	printf("%-44s %9.2f ns %9.2f ns %7.2fx %s\n",
	    "counter_add vs relaxed atomic add", a, r, a / r, "<= 0.5x");
	printf("%-44s %9.2f ns %9.2f ns %7.2fx %s\n",
	    "  the same add, a plain call in the bench", fl, r, fl / r,
	    "(context: a direct call, no libtally)");
	{
		double ma[REPEAT], ua[REPEAT], m, u;
		for (i = 0; i < REPEAT; i++) {
			ma[i] = bench_mutex();
			ua[i] = bench_statsd();
		}
		m = median(ma, REPEAT);
		u = median(ua, REPEAT);
		printf("%-44s %9.2f ns %9.2f ns %7.2fx %s\n",
		    "counter_add vs mutex-protected counter", a, m, a / m,
		    "(context)");
		printf("%-44s %9.2f ns %9.0f ns %7.4fx %s\n",
		    "counter_add vs statsd UDP send, loopback", a, u, a / u,
		    "(context)");
	}

	{
		double oa[REPEAT], ta[REPEAT], tr[REPEAT];
		for (i = 0; i < REPEAT; i++) {
			oa[i] = 1e9 / bench_add();
			ta[i] = bench_two(1);
			tr[i] = bench_two(0);
		}
		one = median(oa, REPEAT);
		two = median(ta, REPEAT);
		tworaw = median(tr, REPEAT);
	}
	printf("%-44s %8.0f M/s %8.0f M/s %7.2fx %s\n",
	    "2 threads, one counter vs 1 thread", two / 1e6, one / 1e6,
	    two / one, ">= 1.5x");
	printf("%-44s %8.0f M/s %8.0f M/s %7.2fx %s\n",
	    "2 threads, one counter vs shared atomic", two / 1e6,
	    tworaw / 1e6, two / tworaw, "(context)");

	{
		double ha[REPEAT], aa[REPEAT], h2[REPEAT], c2[REPEAT], h, ca, ht,
		    ct;
		for (i = 0; i < REPEAT; i++) {
			ha[i] = bench_observe();
			aa[i] = bench_add();
			h2[i] = bench_two(2);
			c2[i] = bench_two(1);
		}
		h = median(ha, REPEAT);
		ca = median(aa, REPEAT);
		ht = median(h2, REPEAT);
		ct = median(c2, REPEAT);
		printf("%-44s %9.2f ns %9.2f ns %7.2fx %s\n",
		    "histogram_observe vs counter_add", h, ca, h / ca, "<= 3x");
		/* Time an operation, two threads on one of each. */
		printf("%-44s %9.2f ns %9.2f ns %7.2fx %s\n",
		    "2 threads, one histogram vs one counter", 1e9 / ht,
		    1e9 / ct, ct / ht, "<= 3x");
	}

	{
		double ba[REPEAT];
		for (i = 0; i < REPEAT; i++)
			ba[i] = bench_by_name();
		byname = median(ba, REPEAT);
	}
	printf("%-44s %9.2f ns %9.2f ns %7.2fx %s\n",
	    "tally_count by name vs atomic add", byname, r, byname / r,
	    "<= 30 ns");

	printf("%-44s %8.0f B %12s %8s %s\n",
	    "memory per counter (100k counters, 1 thread)", bench_memory(dir),
	    "-", "-", "(context)");

	flush = bench_flush(dir, &first);
	printf("%-44s %9.2f ms %12s %8s %s\n",
	    "flush of 10k counters + 10k stats, all new", flush, "-", "-",
	    "<= 10 ms");

	rc = 0;
out:
	tally_provider_free(prov);
	unlink(one_link);
	unlink(all_link);
	rm_env(dir);
	rm_env(nodes);
	return rc;
}
