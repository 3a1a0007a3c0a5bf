/*
 * handshake.c: tallyd's TLS handshakes, on threads of their own.
 *
 * A TLS 1.3 handshake costs the gatherer about a quarter of a millisecond
 * of CPU (an X25519 exchange, an Ed25519 signature and the check of the
 * node's, and OpenSSL 3.0's bookkeeping around them), ten times what the
 * rest of a connection's first round costs.  When a fleet reconnects at
 * once, after a restart of tallyd or of the network, a thousand handshakes
 * on the gatherer's loop would hold up the polls and the commits of every
 * connection already up.  So the loop hands each handshake to one of a
 * few threads, each with its own libev loop, and takes the connection
 * back once the handshake is done (its SSL stays with it: OpenSSL does
 * every record after, on the gatherer's loop).
 *
 * A handshake that waits for bytes holds nothing but its memory: every job
 * has its own ev_io in its thread's loop from the start, and none waits
 * for a turn, so peers that send a byte and fall silent never delay
 * anyone else's handshake.  CPU goes where bytes come in, and a thread
 * serves the handshakes under way (past their ClientHello) before new
 * ones (a higher libev priority), so that when a fleet reconnects the
 * first ones finish, and start reporting, instead of all of them finishing
 * late together.  What bounds the memory is the gatherer's: its
 * max_connections, and the cap it puts on connections per address; each
 * job here is a few KiB of OpenSSL state, and a peer in the middle of a
 * record holds a record buffer (about 17 KiB) until it is whole.
 *
 * Two deadlines bound a job's life: first_timeout for the ClientHello to
 * arrive whole, so that silent or trickling peers go soon, and timeout for
 * the whole handshake.  A peer past its ClientHello has cost us the
 * handshake's CPU already, and gets the rest of the overall timeout.
 *
 * Ownership is simple: a job belongs to its thread from handshake_submit()
 * until the thread queues it back, and to the gatherer's loop before and
 * after; the two queues are the only shared state, under one mutex each
 * way, and ev_async wakes the other side.  A thread never logs, counts or
 * touches a connection: what happened travels back in the job (rc, err),
 * and the gatherer's loop says it.
 *
 * Stopping joins the threads; jobs still in flight come back to the caller
 * as cancelled, with their connection untouched but for its TLS state.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "tally-int.h"
#include "handshake.h"

/* A list of jobs, oldest first; a job is on one list at most. */
struct handshake_list {
	struct handshake_job	*head, *tail;
	unsigned		 n;
};

struct handshake_thread {
	struct handshake_pool	*pool;
	pthread_t		 tid;
	int			 started;
	struct ev_loop		*loop;
	ev_async		 wake;		/* jobs in, or stop */
	pthread_mutex_t		 lock;
	struct handshake_list	 inbox;		/* under lock */
	int			 stopping;	/* under lock */
	struct handshake_list	 jobs;		/* in the handshake */
};

struct handshake_pool {
	struct ev_loop		*loop;		/* the gatherer's */
	struct ssl_ctx_st	*ctx;
	handshake_done_fn	 done;
	void			*arg;
	ev_async		 back;		/* jobs done */
	pthread_mutex_t		 lock;
	struct handshake_list	 outbox;	/* under lock */
	struct handshake_thread	*threads;
	unsigned		 nthreads, next;
};

static void
handshake_append(struct handshake_list *l, struct handshake_job *j)
{
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static void
handshake_remove(struct handshake_list *l, struct handshake_job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->next = j->prev = NULL;
	l->n--;
}

/* ---- in a handshake thread ---------------------------------------------- */

/* Back to the gatherer's loop, whatever the outcome. */
static void
handshake_finish(struct handshake_thread *t, struct handshake_job *j,
    enum handshake_rc rc)
{
	struct handshake_pool	*p = t->pool;

	ev_io_stop(t->loop, &j->io);
	ev_timer_stop(t->loop, &j->timer);
	ev_timer_stop(t->loop, &j->first);
	handshake_remove(&t->jobs, j);
	j->rc = rc;
	pthread_mutex_lock(&p->lock);
	handshake_append(&p->outbox, j);
	pthread_mutex_unlock(&p->lock);
	ev_async_send(p->loop, &p->back);
}

static void
handshake_step(struct handshake_thread *t, struct handshake_job *j)
{
	int	 rc, ev, pri;

	rc = tls_handshake(j->tls, j->err, sizeof j->err);
	if (rc != TLS_WANT_READ && rc != TLS_WANT_WRITE) {
		handshake_finish(t, j, rc == 0 ? HANDSHAKE_OK :
		    HANDSHAKE_FAILED);
		return;
	}
	pri = EV_MINPRI;
	if (tls_hello_seen(j->tls)) {
		ev_timer_stop(t->loop, &j->first);
		pri = EV_MAXPRI;
	}
	ev = rc == TLS_WANT_READ ? EV_READ : EV_WRITE;
	if (ev_is_active(&j->io) && (j->io.events & (EV_READ | EV_WRITE)) ==
	    ev && ev_priority(&j->io) == pri)
		return;
	ev_io_stop(t->loop, &j->io);
	ev_io_set(&j->io, j->fd, ev);
	ev_set_priority(&j->io, pri);
	ev_io_start(t->loop, &j->io);
}

static void
handshake_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct handshake_job	*j = w->data;

	handshake_step(j->thread, j);
}

static void
handshake_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct handshake_job	*j = w->data;

	/* No err: the gatherer names its own handshake timeout. */
	j->err[0] = '\0';
	handshake_finish(j->thread, j, HANDSHAKE_TIMEOUT);
}

static void
handshake_first_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct handshake_job	*j = w->data;

	if (tls_hello_seen(j->tls))
		return;
	snprintf(j->err, sizeof j->err, "no ClientHello within %g s",
	    j->first_timeout);
	handshake_finish(j->thread, j, HANDSHAKE_TIMEOUT);
}

/* A new job into the handshake at once, its deadlines running. */
static void
handshake_start(struct handshake_thread *t, struct handshake_job *j)
{
	j->thread = t;
	ev_io_init(&j->io, handshake_io_cb, j->fd, EV_READ);
	ev_set_priority(&j->io, EV_MINPRI);
	ev_timer_init(&j->timer, handshake_timer_cb,
	    j->timeout > 0 ? j->timeout : 0., 0.);
	ev_timer_init(&j->first, handshake_first_cb,
	    j->first_timeout > 0 ? j->first_timeout : 0., 0.);
	j->io.data = j->timer.data = j->first.data = j;
	handshake_append(&t->jobs, j);
	ev_timer_start(t->loop, &j->timer);
	if (j->first_timeout > 0)
		ev_timer_start(t->loop, &j->first);
	if (tls_new(&j->tls, t->pool->ctx, j->fd, NULL, j->err,
	    sizeof j->err) != 0) {
		handshake_finish(t, j, HANDSHAKE_FAILED);
		return;
	}
	handshake_step(t, j);
}

static void
handshake_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct handshake_thread	*t = w->data;
	struct handshake_list	 jobs;
	struct handshake_job	*j;
	int			 stopping;

	pthread_mutex_lock(&t->lock);
	jobs = t->inbox;
	memset(&t->inbox, 0, sizeof t->inbox);
	stopping = t->stopping;
	pthread_mutex_unlock(&t->lock);
	while ((j = jobs.head) != NULL) {
		handshake_remove(&jobs, j);
		handshake_start(t, j);
	}
	if (stopping)
		ev_break(loop, EVBREAK_ALL);
}

static void *
handshake_main(void *arg)
{
	struct handshake_thread	*t = arg;

	ev_run(t->loop, 0);
	return NULL;
}

/* ---- in the gatherer's loop --------------------------------------------- */

static void
handshake_back_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct handshake_pool	*p = w->data;
	struct handshake_list	 jobs;
	struct handshake_job	*j;

	pthread_mutex_lock(&p->lock);
	jobs = p->outbox;
	memset(&p->outbox, 0, sizeof p->outbox);
	pthread_mutex_unlock(&p->lock);
	while ((j = jobs.head) != NULL) {
		handshake_remove(&jobs, j);
		j->thread = NULL;
		p->done(p->arg, j);
	}
}

void
handshake_submit(struct handshake_pool *p, struct handshake_job *j)
{
	struct handshake_thread	*t = &p->threads[p->next++ % p->nthreads];

	j->rc = HANDSHAKE_PENDING;
	j->err[0] = '\0';
	pthread_mutex_lock(&t->lock);
	handshake_append(&t->inbox, j);
	pthread_mutex_unlock(&t->lock);
	ev_async_send(t->loop, &t->wake);
}

int
handshake_pool_new(struct handshake_pool **pp, struct ev_loop *loop,
    struct ssl_ctx_st *ctx, unsigned nthreads, handshake_done_fn done,
    void *arg, char *err, size_t errlen)
{
	struct handshake_pool	*p;
	struct handshake_thread	*t;
	sigset_t		 all, old;
	unsigned		 i;
	int			 e;

	*pp = NULL;
	if (nthreads == 0)
		nthreads = 1;
	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->threads = calloc(nthreads, sizeof *p->threads)) == NULL) {
		free(p);
		return error_set(err, errlen, TALLY_ENOMEM, "out of memory");
	}
	p->loop = loop;
	p->ctx = ctx;
	p->done = done;
	p->arg = arg;
	pthread_mutex_init(&p->lock, NULL);
	ev_async_init(&p->back, handshake_back_cb);
	p->back.data = p;
	ev_async_start(loop, &p->back);
	for (i = 0; i < nthreads; i++) {
		t = &p->threads[i];
		t->pool = p;
		pthread_mutex_init(&t->lock, NULL);
		p->nthreads++;
		if ((t->loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
			handshake_pool_free(p);
			return error_set(err, errlen, TALLY_ENOMEM, "handshake "
			    "threads: cannot make an event loop");
		}
		ev_async_init(&t->wake, handshake_wake_cb);
		t->wake.data = t;
		ev_async_start(t->loop, &t->wake);
		/* Signals are the loop's: the threads block them all. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		e = pthread_create(&t->tid, NULL, handshake_main, t);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (e != 0) {
			handshake_pool_free(p);
			return error_set(err, errlen, TALLY_ESYS, "handshake "
			    "threads: %s", strerror(e));
		}
		t->started = 1;
	}
	*pp = p;
	return 0;
}

static void
handshake_cancel(struct handshake_pool *p, struct handshake_list *l)
{
	struct handshake_job	*j;

	while ((j = l->head) != NULL) {
		handshake_remove(l, j);
		j->thread = NULL;
		j->rc = HANDSHAKE_CANCELLED;
		p->done(p->arg, j);
	}
}

/*
 * Stop and join the threads, then hand every job they held back through
 * done, as HANDSHAKE_CANCELLED, in the caller's thread.
 */
void
handshake_pool_free(struct handshake_pool *p)
{
	struct handshake_thread	*t;
	struct handshake_job	*j;
	unsigned		 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nthreads; i++) {
		t = &p->threads[i];
		if (!t->started)
			continue;
		pthread_mutex_lock(&t->lock);
		t->stopping = 1;
		pthread_mutex_unlock(&t->lock);
		ev_async_send(t->loop, &t->wake);
		pthread_join(t->tid, NULL);
	}
	/* What finished before the stop, then what did not. */
	handshake_cancel(p, &p->outbox);
	for (i = 0; i < p->nthreads; i++) {
		t = &p->threads[i];
		for (j = t->jobs.head; j != NULL; j = j->next) {
			ev_io_stop(t->loop, &j->io);
			ev_timer_stop(t->loop, &j->timer);
			ev_timer_stop(t->loop, &j->first);
		}
		handshake_cancel(p, &t->jobs);
		handshake_cancel(p, &t->inbox);
		if (t->loop != NULL)
			ev_loop_destroy(t->loop);
		pthread_mutex_destroy(&t->lock);
	}
	ev_async_stop(p->loop, &p->back);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}
