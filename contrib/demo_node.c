/*
 * demo_node.c: tally-demo-node, a simulated storage server.
 *
 * A small program that uses libtally the way a real node would, through
 * include/tally.h only: a producer reports the storage server's gauges
 * (space allocated and consumed, get latencies), and the simulated
 * operations bump counters through handles on the hot path.  The shell
 * tests and contrib/demo.sh run it against throw-away statsfiles, in local
 * mode (-s: the node writes its own slot), remote mode (-g: the node dials
 * a tallyd gatherer and answers its polls) or both at once.
 *
 * The sequence of operations is fixed for a given node id (a PRNG seeded
 * from it; only their pace follows the clock), and counters only ever grow,
 * so tests may check monotonicity across restarts.
 *
 * Every snapshot also carries the stat demo.start_id: a random integer
 * below 2^52 (exact in a double), drawn once per run of the program.  It is
 * in the same snapshot as the counters, so a reader that sees a node's
 * counters drop can tell a restart (a new start id) from a counter that
 * went backwards (the same one), which neither the wall clock nor
 * node.uptime can do: a run killed a few milliseconds after its start
 * and restarted at once may show a larger uptime than the one before.
 *
 * Protocol with scripts: after a successful start it prints "ready NODE_ID"
 * on stdout; on SIGTERM or SIGINT it stops the provider (a final flush),
 * prints "stopped NODE_ID" and exits 0.  Errors go to stderr as
 * "tally-demo-node: <tally_strerror>: <tally_provider_errmsg>" with exit
 * status 1.  With -f and a node directory that configures neither a
 * statsfile nor a gatherer furl, it runs without stats, as nodes of the
 * original system did ("ready -").  In remote mode "ready" means started,
 * not connected: the provider dials the gatherer, and keeps retrying with
 * backoff, on its own thread (its log lines go to stderr).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

#include "tally.h"

#define PROG		"tally-demo-node"
#define TICK_NS		10000000L	/* 10 ms between simulation steps */
#define EXTRA_MAX	99999		/* demo.extra.NNNNN */
#define DEFAULT_RATE	50.0
#define RATE_MAX	1e6		/* operations per second */
#define START_ID_BITS	52		/* demo.start_id < 2^52: exact in a double */

/* The simulated operations' counters, in this order. */
enum { C_ALLOCATE, C_GET, C_WRITEV, C_READV, C_BYTES_ADDED, C_BYTES_FREED,
	C_NCOUNTERS };
static const char *const counter_names[C_NCOUNTERS] = {
	"storage_server.allocate",
	"storage_server.get",
	"storage_server.writev",
	"storage_server.readv",
	"storage_server.bytes_added",
	"storage_server.bytes_freed",
};

/* The simulated operations' latencies: histograms, in this order. */
enum { H_GET, H_ALLOCATE, H_NHISTS };
static const char *const hist_names[H_NHISTS] = {
	"storage_server.latencies.get",
	"storage_server.latencies.allocate",
};

/*
 * The simulated server.  The main thread runs the operations; the producer
 * runs on the provider's thread and only reads the atomics.  Latencies go
 * into histograms, whose percentiles libtally computes at each snapshot
 * under the original system's names (storage_server.latencies.get.mean,
 * ...99_9_percentile).
 */
struct sim {
	uint64_t	 rng;			/* main thread only */
	int64_t		 pending;		/* main thread only */
	_Atomic int64_t	 allocated;		/* bytes in open buckets */
	_Atomic int64_t	 consumed;		/* bytes stored */
	tally_counter	*c[C_NCOUNTERS];	/* NULL: running without stats */
	tally_histogram	*h[H_NHISTS];		/* NULL: the same */
	tally_counter	**extra;
	unsigned	 nextra;
	double		 start_id;		/* demo.start_id, fixed at start */
};

static volatile sig_atomic_t stop_requested;

static void
on_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

/* The synopsis; with full, the options too. */
static void
usage(FILE *f, int full)
{
	fprintf(f,
	    "usage: " PROG " [-s STATSFILE] [-g FURL [-k KEYFILE]] -n NODE_ID "
	    "[-N NICKNAME]\n"
	    "                       [-i FLUSH_SECONDS] [-d DURATION_SECONDS] "
	    "[-r OPS_PER_SEC]\n"
	    "                       [-c EXTRA_COUNTERS]\n"
	    "       " PROG " -f NODEDIR [-d DURATION_SECONDS] "
	    "[-r OPS_PER_SEC] [-c EXTRA_COUNTERS]\n");
	if (!full)
		return;
	fprintf(f,
	    "\n"
	    "A simulated storage server that reports its statistics through "
	    "libtally.\n"
	    "  -s STATSFILE  local mode: the LMDB environment (an existing "
	    "directory)\n"
	    "  -g FURL       remote mode: the gatherer's furl, "
	    "tally+tls://FINGERPRINT@HOST:PORT/SECRET\n"
	    "                (as printed by tallyd); at least one of -s and -g,"
	    " or both\n"
	    "  -k KEYFILE    with a tally+tls:// furl: the node's own key, made "
	    "there\n"
	    "                on first use (mode 0600); the gatherer knows the "
	    "node by it\n"
	    "  -n NODE_ID    the node id ([a-z0-9_-], 1-64 characters)\n"
	    "  -N NICKNAME   a human name for graphs (default: the node id)\n"
	    "  -i SECONDS    local mode: seconds between flushes, may be "
	    "fractional\n"
	    "                (default 10; the gatherer sets the pace of polls)\n"
	    "  -d SECONDS    run time, then stop cleanly; 0 = until SIGTERM/SIGINT"
	    " (default)\n"
	    "  -r RATE       simulated operations per second (default %g, "
	    "at most %g)\n"
	    "  -c N          also bump N counters demo.extra.NNNNN every 10 ms "
	    "(0-%d)\n"
	    "  -f NODEDIR    configure from a node directory "
	    "(tally_provider_open)\n"
	    "Every snapshot carries demo.start_id, a random integer below 2^%d "
	    "drawn\n"
	    "once per run: a new value tells a restart from a counter going "
	    "back.\n"
	    "Prints \"ready NODE_ID\" once started; exits 0 after a clean stop.\n",
	    DEFAULT_RATE, RATE_MAX, EXTRA_MAX, START_ID_BITS);
}

static void
die_usage(const char *msg, const char *arg)
{
	fprintf(stderr, PROG ": %s%s%s\n", msg, arg ? ": " : "",
	    arg ? arg : "");
	usage(stderr, 0);
	exit(1);
}

/* Report a libtally failure as "tally-demo-node: <strerror>: <errmsg>". */
static void
report(int rc, const tally_provider *p)
{
	const char *detail = p != NULL ? tally_provider_errmsg(p) : "";

	if (detail != NULL && *detail != '\0')
		fprintf(stderr, PROG ": %s: %s\n", tally_strerror(rc), detail);
	else
		fprintf(stderr, PROG ": %s\n", tally_strerror(rc));
}

static double
parse_seconds(const char *arg, int opt)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(v) || v < 0) {
		char	 what[] = "invalid value for -?";

		what[sizeof(what) - 2] = (char)opt;
		die_usage(what, arg);
	}
	return v;
}

/* splitmix64: small, fast, and good enough for a simulation. */
static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t
sim_rand(struct sim *s)
{
	return splitmix64(&s->rng);
}

/*
 * This run's demo.start_id: random, so that no two runs share one but by
 * a chance of 2^-52.  Should getrandom() fail, the pid and both clocks,
 * mixed, still differ from one run to the next.
 */
static double
start_id_new(void)
{
	struct timespec	 rt, mt;
	uint64_t	 v, mix;

	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_MONOTONIC, &mt);
		mix = ((uint64_t)getpid() << 32) ^ (uint64_t)rt.tv_sec ^
		    ((uint64_t)rt.tv_nsec << 20) ^ (uint64_t)mt.tv_nsec;
		v = splitmix64(&mix);
	}
	return (double)(v >> (64 - START_ID_BITS));
}

/* A uniform double in [0, 1). */
static double
sim_unit(struct sim *s)
{
	return (double)(sim_rand(s) >> 11) * 0x1.0p-53;
}

/* FNV-1a of the node id: each node gets its own, fixed, sequence. */
static uint64_t
seed_of(const char *id)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * UINT64_C(0x100000001b3);
	return h;
}

static inline void
bump(tally_counter *c, int64_t delta)
{
	if (c != NULL)
		tally_counter_add(c, delta);
}

/* tally_histogram_observe ignores a NULL histogram: no stats, no cost. */
static inline void
sim_latency(struct sim *s, int which, double seconds)
{
	tally_histogram_observe(s->h[which], seconds);
}
/* One simulated client request. */
static void
sim_op(struct sim *s)
{
	unsigned r = (unsigned)(sim_rand(s) % 100);
	int64_t	 size;
	double	 u;

	if (r < 15) {
		/* allocate_buckets: reserve space, written over later ticks */
		size = 4096 + (int64_t)(sim_rand(s) % (1024 * 1024));
		bump(s->c[C_ALLOCATE], 1);
		bump(s->c[C_WRITEV], 1);
		sim_latency(s, H_ALLOCATE, 0.002 + 0.001 * sim_unit(s));
		s->pending += size;
		atomic_store(&s->allocated, s->pending);
	} else if (r < 55) {
		/* get_buckets, then a read; latency with a long tail */
		u = sim_unit(s);
		bump(s->c[C_GET], 1);
		bump(s->c[C_READV], 1);
		sim_latency(s, H_GET, 0.0005 + 0.02 * u * u * u * u);
	} else if (r < 80) {
		bump(s->c[C_READV], 1);
	} else if (r < 95) {
		/* a small mutable write */
		size = 1 + (int64_t)(sim_rand(s) % 65536);
		bump(s->c[C_WRITEV], 1);
		bump(s->c[C_BYTES_ADDED], size);
		atomic_fetch_add(&s->consumed, size);
	} else {
		/* a lease expired: free a share */
		int64_t have = atomic_load(&s->consumed);

		size = 1 + (int64_t)(sim_rand(s) % (256 * 1024));
		if (size > have)
			size = have;
		bump(s->c[C_BYTES_FREED], size);
		atomic_fetch_sub(&s->consumed, size);
	}
}

/* Once per tick: part of the pending uploads completes. */
static void
sim_tick(struct sim *s)
{
	int64_t	 done;
	unsigned i;

	if (s->pending > 0) {
		done = s->pending < 65536 ? s->pending : s->pending / 8;
		s->pending -= done;
		bump(s->c[C_BYTES_ADDED], done);
		atomic_fetch_add(&s->consumed, done);
		atomic_store(&s->allocated, s->pending);
	}
	for (i = 0; i < s->nextra; i++)
		tally_counter_add(s->extra[i], 1);
}

/* The producer: the storage server's gauges, on the provider's thread. */
static int
sim_get_stats(void *ctx, tally_sink *sink)
{
	struct sim *s = ctx;
	int	 rc;

	if ((rc = tally_sink_put(sink, "storage_server.allocated",
	    (double)atomic_load(&s->allocated))) != 0 ||
	    (rc = tally_sink_put(sink, "storage_server.consumed",
	    (double)atomic_load(&s->consumed))) != 0 ||
	    (rc = tally_sink_put(sink, "demo.start_id", s->start_id)) != 0)
		return rc;
	return 0;
}

static double
elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	    (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/* Run the simulation until a signal or the end of the duration. */
static void
simulate(struct sim *s, double rate, double duration)
{
	struct timespec	 start, next;
	double		 t;
	uint64_t	 ops = 0, due;

	clock_gettime(CLOCK_MONOTONIC, &start);
	next = start;
	while (!stop_requested) {
		t = elapsed(&start);
		if (duration > 0 && t >= duration)
			break;
		due = (uint64_t)(rate * t);
		for (; ops < due && !stop_requested; ops++)
			sim_op(s);
		sim_tick(s);

		next.tv_nsec += TICK_NS;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		/* EINTR is fine: the loop looks at stop_requested first. */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		/* Fell far behind (stopped, overloaded): do not catch up. */
		if (elapsed(&next) > 1.0)
			clock_gettime(CLOCK_MONOTONIC, &next);
	}
}

int
main(int argc, char *argv[])
{
	tally_options	 opt;
	tally_producer	 prod;
	tally_provider	*p = NULL;
	struct sim	*s = NULL;
	struct sigaction sa;
	sigset_t	 block, old;
	const char	*nodedir = NULL, *node_id;
	double		 rate = DEFAULT_RATE, duration = 0, v;
	unsigned	 i, nextra = 0;
	int		 c, rc, status = 1, registered = 0;
	char		 name[32];

	memset(&opt, 0, sizeof(opt));
	while ((c = getopt(argc, argv, "s:g:k:n:N:i:d:r:c:f:h")) != -1) {
		switch (c) {
		case 's':
			opt.statsfile = optarg;
			break;
		case 'g':
			opt.gatherer_furl = optarg;
			break;
		case 'k':
			opt.key_file = optarg;
			break;
		case 'n':
			opt.node_id = optarg;
			break;
		case 'N':
			opt.nickname = optarg;
			break;
		case 'i':
			opt.flush_interval = parse_seconds(optarg, c);
			break;
		case 'd':
			duration = parse_seconds(optarg, c);
			break;
		case 'r':
			rate = parse_seconds(optarg, c);
			if (rate > RATE_MAX)
				die_usage("invalid value for -r", optarg);
			break;
		case 'c':
			v = parse_seconds(optarg, c);
			if (v > EXTRA_MAX || v != (double)(unsigned)v)
				die_usage("invalid value for -c", optarg);
			nextra = (unsigned)v;
			break;
		case 'f':
			nodedir = optarg;
			break;
		case 'h':
			usage(stdout, 1);
			return 0;
		default:
			usage(stderr, 0);
			return 1;
		}
	}
	if (optind != argc)
		die_usage("unexpected argument", argv[optind]);
	if (nodedir != NULL && (opt.statsfile != NULL ||
	    opt.gatherer_furl != NULL || opt.node_id != NULL ||
	    opt.key_file != NULL ||
	    opt.nickname != NULL || opt.flush_interval != 0))
		die_usage("-f excludes -s, -g, -k, -n, -N and -i", NULL);
	if (nodedir == NULL && ((opt.statsfile == NULL &&
	    opt.gatherer_furl == NULL) || opt.node_id == NULL))
		die_usage("-n and at least one of -s and -g are required "
		    "(or -f)", NULL);
	if (opt.node_id != NULL && !tally_node_id_valid(opt.node_id))
		die_usage("invalid node id (1-64 of [a-z0-9_-])", opt.node_id);

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		report(TALLY_ENOMEM, NULL);
		return 1;
	}
	s->start_id = start_id_new();

	if (nodedir != NULL)
		rc = tally_provider_open(&p, nodedir);
	else
		rc = tally_provider_new(&p, &opt);
	if (rc == TALLY_ENOTCONFIGURED) {
		/* As in the original system, a node without stats still runs. */
		fprintf(stderr, PROG ": %s: %s: running without stats\n",
		    tally_strerror(rc), nodedir);
		p = NULL;
	} else if (rc != 0) {
		report(rc, p);
		goto out;
	}
	node_id = p != NULL ? tally_provider_node_id(p) : "-";
	s->rng = seed_of(node_id);

	/* Counter handles first: the simulation never looks a name up. */
	if (p != NULL) {
		for (i = 0; i < C_NCOUNTERS; i++)
			if ((s->c[i] = tally_counter_get(p,
			    counter_names[i])) == NULL) {
				fprintf(stderr, PROG ": counter %s: %s\n",
				    counter_names[i],
				    tally_strerror(TALLY_ENOMEM));
				goto out;
			}
		for (i = 0; i < H_NHISTS; i++)
			if ((s->h[i] = tally_histogram_get(p,
			    hist_names[i])) == NULL) {
				fprintf(stderr, PROG ": histogram %s: %s\n",
				    hist_names[i],
				    tally_strerror(TALLY_ENOMEM));
				goto out;
			}
		if (nextra > 0 && (s->extra = calloc(nextra,
		    sizeof(*s->extra))) == NULL) {
			report(TALLY_ENOMEM, NULL);
			goto out;
		}
		for (i = 0; i < nextra; i++) {
			snprintf(name, sizeof(name), "demo.extra.%05u", i);
			if ((s->extra[i] = tally_counter_get(p, name)) == NULL) {
				fprintf(stderr, PROG ": counter %s: %s\n",
				    name, tally_strerror(TALLY_ENOMEM));
				goto out;
			}
		}
		s->nextra = nextra;

		memset(&prod, 0, sizeof(prod));
		prod.name = "storage_server";
		prod.get_stats = sim_get_stats;
		prod.ctx = s;
		if ((rc = tally_register_producer(p, &prod)) != 0) {
			report(rc, p);
			goto out;
		}
		registered = 1;
	}

	/*
	 * Signals: block them while the provider's thread is created, so that
	 * it inherits the mask and only this thread ever runs the handler;
	 * one that arrives meanwhile is delivered when unblocked below.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = p != NULL ? tally_provider_start(p) : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		report(rc, p);
		goto out;
	}

	printf("ready %s\n", node_id);
	fflush(stdout);

	simulate(s, rate, duration);

	status = 0;
	if (p != NULL && (rc = tally_provider_stop(p)) != 0) {
		report(rc, p);
		status = 1;
	}
	printf("stopped %s\n", node_id);
	fflush(stdout);
out:
	if (registered)
		tally_unregister_producer(p, &prod);
	tally_provider_free(p);
	free(s->extra);
	free(s);
	return status;
}
