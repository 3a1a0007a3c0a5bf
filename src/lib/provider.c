/*
 * provider.c: the provider's lifecycle, its producers and its flushes.
 *
 * A provider runs its watchers (the flush timer, the built-in monitors'
 * timers and remote mode's connection) either on a thread of its own with
 * its own ev loop, or on the host's loop.  Producers and flushes only ever
 * run there, so they never run concurrently.  Other threads reach the
 * provider's thread through an ev_async and a generation counter under
 * req_lock.
 *
 * The built-in monitors are a producer like any other
 * (provider_monitors_new); remote mode reaches back only through the
 * hooks it is given (provider_remote_new).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "tally-int.h"

#define PROVIDER_INTERVAL_DEFAULT 10.0
#define PROVIDER_RESUME_MAX	100000	/* of a WELCOME: tallyd --max-metrics */

enum provider_state {
	PROVIDER_IDLE,
	PROVIDER_THREAD,	/* own thread and loop */
	PROVIDER_ATTACHED	/* the host's loop */
};

struct tally_provider {
	char			 node_id[TALLY_NODE_ID_MAX + 1];
	char			*nickname;
	char			*statsfile;
	double			 interval;
	unsigned		 flags;
	struct log_hook		 log;

	struct counter_set	*counters;
	struct histogram_set	*hists;		/* cells of the counters' */
	struct monitor		*mon;
	struct furl		 furl;		/* remote mode, if has_furl */
	int			 has_furl;
	struct remote		*remote;
	char			*key_file;	/* TLS: the node's own key */
	int			 key_logged;
	int			 resumed;
	int			 remote_resumed;	/* from a WELCOME */
	struct nodelock		*lock;		/* local mode: node_id's */

	struct producer_set	*prods;

	enum provider_state	 state;
	pid_t			 pid;		/* of start or attach */
	struct store		*store;
	struct ev_loop		*loop;
	pthread_t		 thread;
	ev_timer		 flush_timer;
	ev_async		 wake;

	pthread_mutex_t		 req_lock;
	pthread_cond_t		 req_cond;
	uint64_t		 req_gen, done_gen;
	int			 req_stop, done_rc, stop_rc;

	struct snapshot		 snap;
	char			 errmsg[TALLY_ERRLEN];
	char			 flusherr[TALLY_ERRLEN]; /* provider thread's */
	struct log_once		 flushfail;	/* failed flushes, logged */
};

/* Keep msg for tally_provider_errmsg and return rc. */
static int
provider_fail(tally_provider *p, int rc, const char *msg)
{
	snprintf(p->errmsg, sizeof p->errmsg, "%s", msg);
	return rc;
}

const char *
tally_provider_errmsg(const tally_provider *p)
{
	return p != NULL ? p->errmsg : "no provider";
}

const char *
tally_provider_node_id(const tally_provider *p)
{
	return p->node_id;
}

/* Options are checked before anything is allocated, so failures are cheap. */
static int
provider_check(const tally_options *opt, struct furl *furl, char *err,
    size_t errlen)
{
	char	 q[ERROR_QUOTE_LEN];

	if (opt->node_id != NULL && !tally_node_id_valid(opt->node_id))
		return error_set(err, errlen, TALLY_EINVAL, "node id '%s' is "
		    "invalid (1-64 of [a-z0-9_-])", error_quote(q, sizeof q,
		    opt->node_id, strnlen(opt->node_id, 80)));
	if (opt->nodedir != NULL && *opt->nodedir == '\0')
		return error_set(err, errlen, TALLY_EINVAL, "nodedir is empty");
	if (opt->node_id == NULL && opt->nodedir == NULL)
		return error_set(err, errlen, TALLY_EINVAL, "no node id: set "
		    "node_id or nodedir");
	if (opt->nickname != NULL && !name_nickname_valid(opt->nickname,
	    strnlen(opt->nickname, TALLY_NICKNAME_MAX + 1)))
		return error_set(err, errlen, TALLY_EINVAL, "nickname '%s' is "
		    "invalid (1-128 printable characters)", error_quote(q,
		    sizeof q, opt->nickname, strnlen(opt->nickname, 80)));
	if (opt->gatherer_furl != NULL && furl_parse(opt->gatherer_furl, furl,
	    err, errlen) != 0)
		return TALLY_EINVAL;
	if (opt->gatherer_furl != NULL && furl->fingerprint[0] != '\0' &&
	    (opt->key_file == NULL || *opt->key_file == '\0') &&
	    opt->nodedir == NULL) {
		snprintf(err, errlen, "a tally+tls:// furl needs the node's own "
		    "key: set key_file, or nodedir (node.key is made there on "
		    "first use)");
		return TALLY_EINVAL;
	}
	if ((opt->statsfile == NULL || *opt->statsfile == '\0') &&
	    opt->gatherer_furl == NULL) {
		snprintf(err, errlen, "no statsfile and no gatherer furl: "
		    "nowhere to send stats");
		return TALLY_EINVAL;
	}
	/* Shorter than a millisecond, a flush would follow a flush. */
	if (opt->flush_interval != 0 && !(opt->flush_interval >= 0.001 &&
	    opt->flush_interval <= 86400))
		return error_set(err, errlen, TALLY_EINVAL, "flush interval %g "
		    "is out of range (0, or 0.001 to 86400 s)",
		    opt->flush_interval);
	return 0;
}

static int	provider_remote_new(tally_provider *);

/*
 * The built-in monitors: a producer like a host's, registered before the
 * host can register any, so that they run first and a host's producer
 * that puts one of their names still has the last word.  It goes with
 * the provider, unregistered by nobody: tally_provider_free takes no lock
 * that a child of fork() could find held by its parent's thread.
 */
static int
provider_monitors_new(tally_provider *p)
{
	if (monitor_new(&p->mon, &p->log) != 0)
		return TALLY_ENOMEM;
	return tally_register_producer(p, monitor_producer(p->mon));
}

int
tally_provider_new(tally_provider **pp, const tally_options *opt)
{
	tally_provider	*p;
	struct furl	 furl;
	struct log_hook	 lh = { opt != NULL ? opt->log : NULL,
			     opt != NULL ? opt->log_ctx : NULL };
	char		 err[TALLY_ERRLEN];
	int		 rc;

	if (pp == NULL)
		return TALLY_EINVAL;
	*pp = NULL;
	if (opt == NULL)
		return TALLY_EINVAL;
	if ((rc = provider_check(opt, &furl, err, sizeof err)) != 0)
		goto fail;
	if ((p = calloc(1, sizeof *p)) == NULL)
		return TALLY_ENOMEM;
	if (opt->gatherer_furl != NULL) {
		p->furl = furl;
		p->has_furl = 1;
	}
	p->log = lh;
	p->flags = opt->flags;
	p->interval = opt->flush_interval > 0 ? opt->flush_interval :
	    PROVIDER_INTERVAL_DEFAULT;
	pthread_mutex_init(&p->req_lock, NULL);
	pthread_cond_init(&p->req_cond, NULL);
	snapshot_init(&p->snap);
	if (opt->node_id != NULL)
		strcpy(p->node_id, opt->node_id);
	else if ((rc = nodedir_node_id(opt->nodedir, p->node_id, err,
	    sizeof err)) != 0) {
		tally_provider_free(p);
		goto fail;
	}
	rc = TALLY_ENOMEM;
	if (p->has_furl && p->furl.fingerprint[0] != '\0' &&
	    (opt->key_file != NULL && *opt->key_file != '\0' ?
	    (p->key_file = strdup(opt->key_file)) == NULL :
	    asprintf(&p->key_file, "%s/node.key", opt->nodedir) < 0)) {
		p->key_file = NULL;
		tally_provider_free(p);
		return TALLY_ENOMEM;
	}
	if ((p->nickname = strdup(opt->nickname != NULL ? opt->nickname :
	    p->node_id)) == NULL ||
	    (opt->statsfile != NULL && *opt->statsfile != '\0' &&
	    (p->statsfile = strdup(opt->statsfile)) == NULL) ||
	    counter_set_new(&p->counters) != 0 ||
	    histogram_set_new(&p->hists, p->counters) != 0 ||
	    producer_set_new(&p->prods, &p->log) != 0 ||
	    (!(p->flags & TALLY_F_NO_MONITORS) && provider_monitors_new(p) !=
	    0) ||
	    (p->has_furl && provider_remote_new(p) != 0)) {
		tally_provider_free(p);
		return TALLY_ENOMEM;
	}
	*pp = p;
	return 0;
fail:
	/* No provider to hold the message: log it, as a library may. */
	log_msg(&lh, TALLY_LOG_ERR, "%s", err);
	return rc;
}

/* A child of fork() has the provider's memory but not its thread. */
static int
provider_forked(tally_provider *p)
{
	if (p->state == PROVIDER_IDLE || p->pid == getpid())
		return 0;
	snprintf(p->errmsg, sizeof p->errmsg, "provider started in process "
	    "%ld, used in its child %ld after fork", (long)p->pid,
	    (long)getpid());
	return TALLY_EFORK;
}

int
tally_register_producer(tally_provider *p, const tally_producer *prod)
{
	if (p == NULL || prod == NULL || prod->get_stats == NULL)
		return TALLY_EINVAL;
	return producer_set_add(p->prods, prod);
}

int
tally_unregister_producer(tally_provider *p, const tally_producer *prod)
{
	if (p == NULL || prod == NULL)
		return TALLY_EINVAL;
	return producer_set_remove(p->prods, prod);
}

int
tally_count(tally_provider *p, const char *name, int64_t delta)
{
	tally_counter	*c;
	int		 err;

	if (TALLY_UNLIKELY(p == NULL || name == NULL))
		return TALLY_EINVAL;
	if (TALLY_UNLIKELY((c = counter_set_get(p->counters, name,
	    &err)) == NULL))
		return err;
	tally_counter_add(c, delta);
	return 0;
}

tally_histogram *
tally_histogram_get(tally_provider *p, const char *name)
{
	int	 err;

	if (p == NULL || name == NULL)
		return NULL;
	return histogram_set_get(p->hists, name, &err);
}

tally_counter *
tally_counter_get(tally_provider *p, const char *name)
{
	int	 err;

	if (p == NULL || name == NULL)
		return NULL;
	return counter_set_get(p->counters, name, &err);
}

/*
 * Build a snapshot: counters, then producers in the order they came (the
 * built-in monitors first), then histograms, whose parts win over a
 * resumed counter's or a producer's of the same name.  On the provider's
 * loop only, for a flush or a gatherer's poll (dest: whose interval the
 * histograms' stats cover).
 */
static int
provider_snapshot_to(tally_provider *p, int dest, struct snapshot *snap)
{
	int		 rc;

	if ((rc = counter_set_collect(p->counters, snap)) != 0)
		return rc;
	producer_set_run(p->prods, snap);
	if ((rc = histogram_set_collect(p->hists, dest, snap)) != 0)
		return rc;
	snapshot_finish(snap);
	return 0;
}

/*
 * Remote mode's snapshot hook: a gatherer's poll.  The snapshot is sent
 * as it is built, or the connection is lost: its interval is over.
 */
static int
provider_snapshot(void *arg, struct snapshot *snap)
{
	tally_provider	*p = arg;
	int		 rc;

	if ((rc = provider_snapshot_to(p, HISTOGRAM_REMOTE, snap)) == 0)
		histogram_set_commit(p->hists, HISTOGRAM_REMOTE);
	return rc;
}

/*
 * Log a failed flush once, not every interval: a damaged statsfile or a
 * map that cannot grow fails the same way until someone acts, and a host
 * that flushes every second must not fill its log with it.  A different
 * failure is logged again, and so is the recovery.
 */
static void
provider_flush_logged(tally_provider *p, int rc, const char *err)
{
	unsigned long	 n;

	if (rc == 0) {
		if ((n = log_once_ok(&p->flushfail)) > 0)
			log_msg(&p->log, TALLY_LOG_INFO, "flush: the statsfile "
			    "is written again, after %lu failed flushes", n);
		return;
	}
	if (log_once_fail(&p->flushfail, err))
		log_msg(&p->log, TALLY_LOG_ERR, "flush failed: %s%s", err,
		    p->flushfail.nfailed > 1 ? "" :
		    " (logged once until it changes)");
}

/* Build a snapshot and commit it to the statsfile.  On the loop only. */
static int
provider_flush_now(tally_provider *p, char *err, size_t errlen)
{
	struct record_node	 rn;
	int			 rc;

	if (p->statsfile == NULL) {
		snprintf(err, errlen, "no statsfile: flush is for local mode");
		return TALLY_ESTATE;
	}
	snapshot_reset(&p->snap);
	if ((rc = provider_snapshot_to(p, HISTOGRAM_LOCAL, &p->snap)) != 0) {
		snprintf(err, errlen, "flush: %s", tally_strerror(rc));
		return rc;
	}
	memset(&rn, 0, sizeof rn);
	snprintf(rn.nickname, sizeof rn.nickname, "%s", p->nickname);
	snprintf(rn.source, sizeof rn.source, "local");
	rn.time = (int64_t)time(NULL);
	rn.interval = p->interval;
	rc = store_write_slot(p->store, p->node_id, &rn, &p->snap, err,
	    errlen);
	if (rc == 0)
		histogram_set_commit(p->hists, HISTOGRAM_LOCAL);
	provider_flush_logged(p, rc, err);
	return rc;
}

static void
provider_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	tally_provider	*p = w->data;

	provider_flush_now(p, p->flusherr, sizeof p->flusherr);
}

static void
provider_watchers_stop(tally_provider *p)
{
	if (p->remote != NULL)
		remote_stop(p->remote);
	ev_timer_stop(p->loop, &p->flush_timer);
	if (p->mon != NULL)
		monitor_stop(p->mon, p->loop);
}

/* Requests from other threads: flushes, and the final stop. */
static void
provider_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	tally_provider	*p = w->data;
	uint64_t	 gen;
	int		 stop, rc;

	pthread_mutex_lock(&p->req_lock);
	gen = p->req_gen;
	stop = p->req_stop;
	pthread_mutex_unlock(&p->req_lock);
	if (gen != p->done_gen || (stop && p->statsfile != NULL)) {
		rc = provider_flush_now(p, p->flusherr, sizeof p->flusherr);
		pthread_mutex_lock(&p->req_lock);
		p->done_gen = gen;
		p->done_rc = rc;
		if (stop)
			p->stop_rc = rc;
		pthread_cond_broadcast(&p->req_cond);
		pthread_mutex_unlock(&p->req_lock);
	}
	if (stop) {
		provider_watchers_stop(p);
		ev_async_stop(loop, w);
		ev_break(loop, EVBREAK_ALL);
	}
}

static void *
provider_main(void *arg)
{
	tally_provider	*p = arg;

	ev_run(p->loop, 0);
	return NULL;
}

static int
provider_resume_cb(void *ctx, const char *name, size_t len, int64_t v)
{
	return counter_set_resume(ctx, name, len, v);
}

/*
 * Remote mode's resume hook: the counters of the gatherer's WELCOME,
 * resumed once per provider, and only by one without a statsfile (which
 * resumes them itself).
 */
static void
provider_resume_remote(void *arg, const struct snapshot *counters)
{
	tally_provider	*p = arg;
	size_t		 i;
	int		 rc;

	/* A local statsfile resumed them already; a reconnection has them. */
	if (p->statsfile != NULL || p->remote_resumed)
		return;
	p->remote_resumed = 1;
	if (counters->ncounters > PROVIDER_RESUME_MAX) {
		log_msg(&p->log, TALLY_LOG_WARN, "resume from the gatherer: "
		    "%zu counters offered, over %d: none resumed",
		    counters->ncounters, PROVIDER_RESUME_MAX);
		return;
	}
	for (i = 0; i < counters->ncounters; i++) {
		rc = counter_set_resume(p->counters,
		    snapshot_name(counters, &counters->counters[i]),
		    counters->counters[i].nlen, counters->counters[i].v.i);
		if (rc != 0) {
			log_msg(&p->log, TALLY_LOG_WARN, "resume from the "
			    "gatherer: %s after %zu of %zu counters",
			    tally_strerror(rc), i, counters->ncounters);
			return;
		}
	}
	if (counters->ncounters > 0)
		log_msg(&p->log, TALLY_LOG_INFO, "resumed %zu counters from the "
		    "gatherer", counters->ncounters);
}

/* Remote mode, which sees the provider only through these hooks. */
static int
provider_remote_new(tally_provider *p)
{
	struct remote_hooks	 h;

	h.snapshot = provider_snapshot;
	h.resume = provider_resume_remote;
	h.ctx = p;
	h.log = p->log;
	return remote_new(&p->remote, &p->furl, p->node_id, p->nickname,
	    p->key_file, &h);
}

static void
provider_close_store(tally_provider *p)
{
	store_close(p->store);
	p->store = NULL;
	nodelock_close(p->lock);
	p->lock = NULL;
}

/*
 * The node's key, made on first use, before anything is dialled: a key
 * that cannot be read or made stops the start with the reason.
 */
static int
provider_check_key(tally_provider *p)
{
	char	 fp[FURL_FP_LEN + 1], err[TALLY_ERRLEN];
	int	 rc;

	if (p->key_file == NULL)
		return 0;
	if ((rc = tls_node_key(p->key_file, fp, sizeof fp, err,
	    sizeof err)) != 0)
		return provider_fail(p, rc, err);
	/* What the gatherer binds the node id to, for its operator. */
	if (!p->key_logged)
		log_msg(&p->log, TALLY_LOG_INFO, "node %s: key %s, fingerprint "
		    "%s", p->node_id, p->key_file, fp);
	p->key_logged = 1;
	return 0;
}

/*
 * Open the statsfile, take the node's lock in it (one live writer per
 * node id), and, once per provider, resume the counters.
 */
static int
provider_open_store(tally_provider *p)
{
	char	 err[TALLY_ERRLEN];
	int	 rc;

	err[0] = '\0';
	if ((rc = provider_check_key(p)) != 0)
		return rc;
	if (p->statsfile == NULL)
		return 0;	/* remote mode only */
	if ((rc = store_open(&p->store, p->statsfile, 0, err,
	    sizeof err)) != 0)
		return provider_fail(p, rc, err);
	if ((rc = nodelock_open(&p->lock, p->statsfile, err,
	    sizeof err)) != 0 ||
	    (rc = nodelock_take(p->lock, p->node_id, err, sizeof err)) != 0) {
		provider_close_store(p);
		return provider_fail(p, rc, err);
	}
	if (!p->resumed) {
		rc = store_read_counters(p->store, p->node_id,
		    provider_resume_cb, p->counters, err, sizeof err);
		if (rc != 0) {
			provider_close_store(p);
			return error_set(p->errmsg, sizeof p->errmsg, rc,
			    "resume: %s", err);
		}
		if (err[0] != '\0')
			log_msg(&p->log, TALLY_LOG_WARN, "%s", err);
		p->resumed = 1;
	}
	return 0;
}

static void
provider_watchers_start(tally_provider *p)
{
	/* The first snapshot right away, so the node shows up at once. */
	ev_timer_init(&p->flush_timer, provider_timer_cb, 0., p->interval);
	p->flush_timer.data = p;
	if (p->statsfile != NULL)
		ev_timer_start(p->loop, &p->flush_timer);
	if (p->mon != NULL)
		monitor_start(p->mon, p->loop);
	/* Only now is the node's identity settled: dial the gatherer. */
	if (p->remote != NULL)
		remote_start(p->remote, p->loop);
}

int
tally_provider_start(tally_provider *p)
{
	sigset_t	 all, old;
	int		 rc;

	if (p == NULL)
		return TALLY_EINVAL;
	if (p->state != PROVIDER_IDLE)
		return provider_fail(p, TALLY_ESTATE, "already started");
	if ((rc = provider_open_store(p)) != 0)
		return rc;
	/* The host's LIBEV_FLAGS is the host's: not for our own loop. */
	if ((p->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK |
	    EVFLAG_NOENV)) == NULL) {
		provider_close_store(p);
		return provider_fail(p, TALLY_ESYS, "cannot create an ev loop");
	}
	p->req_stop = 0;
	p->stop_rc = 0;
	ev_async_init(&p->wake, provider_wake_cb);
	p->wake.data = p;
	ev_async_start(p->loop, &p->wake);
	provider_watchers_start(p);
	/* The host's signals stay with the host's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->thread, NULL, provider_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		ev_loop_destroy(p->loop);
		p->loop = NULL;
		provider_close_store(p);
		return error_set(p->errmsg, sizeof p->errmsg, TALLY_ESYS,
		    "pthread_create: %s", strerror(rc));
	}
	p->pid = getpid();
	p->state = PROVIDER_THREAD;
	return 0;
}

int
tally_provider_attach(tally_provider *p, struct ev_loop *loop)
{
	int	 rc;

	if (p == NULL || loop == NULL)
		return TALLY_EINVAL;
	if (p->state != PROVIDER_IDLE)
		return provider_fail(p, TALLY_ESTATE, "already started");
	if ((rc = provider_open_store(p)) != 0)
		return rc;
	p->loop = loop;
	provider_watchers_start(p);
	p->pid = getpid();
	p->state = PROVIDER_ATTACHED;
	return 0;
}

/*
 * A flush or stop of the thread waits for it, and its write waits for the
 * store's lock, which a reader of the calling thread holds until it is
 * closed: TALLY_ESTATE at once instead of waiting for good.
 */
static int
provider_reader_here(tally_provider *p)
{
	char	 err[TALLY_ERRLEN];
	int	 rc;

	if (p->state != PROVIDER_THREAD || p->store == NULL ||
	    (rc = store_reader_here(p->store, err, sizeof err)) == 0)
		return 0;
	return provider_fail(p, rc, err);
}

int
tally_provider_flush(tally_provider *p)
{
	uint64_t	 gen;
	int		 rc;

	if (p == NULL)
		return TALLY_EINVAL;
	if ((rc = provider_forked(p)) != 0)
		return rc;
	if (producer_set_inside(p->prods))
		return provider_fail(p, TALLY_ESTATE, "flush from inside a "
		    "producer");
	switch (p->state) {
	case PROVIDER_IDLE:
		return provider_fail(p, TALLY_ESTATE, "provider is not running");
	case PROVIDER_ATTACHED:
		if ((rc = provider_flush_now(p, p->errmsg,
		    sizeof p->errmsg)) != 0)
			return rc;
		return 0;
	case PROVIDER_THREAD:
		break;
	}
	if (pthread_equal(pthread_self(), p->thread))
		return provider_fail(p, TALLY_ESTATE, "flush from inside a "
		    "producer");
	if ((rc = provider_reader_here(p)) != 0)
		return rc;
	pthread_mutex_lock(&p->req_lock);
	gen = ++p->req_gen;
	pthread_mutex_unlock(&p->req_lock);
	ev_async_send(p->loop, &p->wake);
	pthread_mutex_lock(&p->req_lock);
	while (p->done_gen < gen)
		pthread_cond_wait(&p->req_cond, &p->req_lock);
	rc = p->done_rc;
	if (rc != 0)
		snprintf(p->errmsg, sizeof p->errmsg, "%s", p->flusherr);
	pthread_mutex_unlock(&p->req_lock);
	return rc;
}

int
tally_provider_stop(tally_provider *p)
{
	int	 rc;

	if (p == NULL)
		return TALLY_EINVAL;
	if ((rc = provider_forked(p)) != 0) {
		/*
		 * The child has no provider thread to join, and must not use
		 * the parent's environment.  Its copy of the loop is its own
		 * to free (the host's, if attached, is the host's business).
		 */
		if (p->state == PROVIDER_THREAD)
			ev_loop_destroy(p->loop);
		p->loop = NULL;
		provider_close_store(p);	/* nothing of the parent's */
		p->state = PROVIDER_IDLE;
		return rc;
	}
	if (producer_set_inside(p->prods))
		return provider_fail(p, TALLY_ESTATE, "stop from inside a "
		    "producer");
	if ((rc = provider_reader_here(p)) != 0)
		return rc;
	switch (p->state) {
	case PROVIDER_IDLE:
		return provider_fail(p, TALLY_ESTATE, "provider is not running");
	case PROVIDER_ATTACHED:
		rc = p->statsfile != NULL ? provider_flush_now(p, p->errmsg,
		    sizeof p->errmsg) : 0;
		provider_watchers_stop(p);
		break;
	case PROVIDER_THREAD:
	default:
		pthread_mutex_lock(&p->req_lock);
		p->req_stop = 1;
		pthread_mutex_unlock(&p->req_lock);
		ev_async_send(p->loop, &p->wake);
		pthread_join(p->thread, NULL);
		ev_loop_destroy(p->loop);
		rc = p->stop_rc;
		if (rc != 0)
			snprintf(p->errmsg, sizeof p->errmsg, "%s",
			    p->flusherr);
		break;
	}
	p->loop = NULL;
	provider_close_store(p);
	p->state = PROVIDER_IDLE;
	return rc;
}

void
tally_provider_free(tally_provider *p)
{
	if (p == NULL)
		return;
	if (provider_reader_here(p) != 0) {
		/* Its thread may wait for the reader: freeing it is unsafe. */
		log_msg(&p->log, TALLY_LOG_ERR, "tally_provider_free: %s: the "
		    "provider is left running; close the reader, then free "
		    "it", p->errmsg);
		return;
	}
	if (p->state != PROVIDER_IDLE)
		tally_provider_stop(p);
	histogram_set_free(p->hists);
	counter_set_free(p->counters);
	monitor_free(p->mon);
	remote_free(p->remote);
	snapshot_free(&p->snap);
	producer_set_free(p->prods);
	free(p->nickname);
	free(p->statsfile);
	free(p->key_file);
	/*
	 * A child of fork() may hold copies that a parent's thread was using
	 * (a waiter on the condition): destroying those may wait for good.
	 */
	if (p->pid == 0 || p->pid == getpid()) {
		pthread_mutex_destroy(&p->req_lock);
		pthread_cond_destroy(&p->req_cond);
	}
	free(p);
}
