/*
 * handshake.c: tallyd's TLS handshakes, on threads of their own.
 *
 * A TLS 1.3 handshake costs the gatherer about a quarter of a millisecond
 * of CPU (an X25519 exchange, an Ed25519 signature, and OpenSSL 3.0's
 * bookkeeping around them), ten times what the rest of a connection's
 * first round costs.  When a fleet reconnects at once, after a restart of
 * tallyd or of the network, a thousand handshakes on the gatherer's loop
 * would hold up the polls and the commits of every connection already up.
 * So the loop hands each handshake to one of a few threads, each with its
 * own libev loop, and takes the connection back once OpenSSL is done with
 * it (tls.c then holds only the record layer).
 *
 * Ownership is simple: a job belongs to its thread from handshake_submit()
 * until the thread queues it back, and to the gatherer's loop before and
 * after; the two queues are the only shared state, under one mutex each
 * way, and ev_async wakes the other side.  A thread never logs, counts or
 * touches a connection: what happened travels back in the job (rc, err),
 * and the gatherer's loop says it.  A job's deadline is enforced where it
 * is: the thread gives up on a handshake that outlives it.
 *
 * Stopping joins the threads; jobs still in flight come back to the caller
 * as cancelled, with their connection untouched but for its TLS state.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "tally-int.h"
#include "handshake.h"

/*
 * Handshakes under way at once on a thread.  Measured with 1,000 nodes
 * connecting at once (make bench): 16 to 128 finish the round alike, and
 * 1,000 (no limit) takes 15% longer and 50 MiB of peak RSS instead of 33.
 */
#define HANDSHAKE_ACTIVE_MAX	64

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
	struct handshake_list	 active;	/* in the handshake */
	struct handshake_list	 waiting;	/* for a place in active */
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

static void	handshake_start(struct handshake_thread *,
		    struct handshake_job *);

/* Back to the gatherer's loop, whatever the outcome; the next one in. */
static void
handshake_finish(struct handshake_thread *t, struct handshake_job *j,
    enum handshake_rc rc)
{
	struct handshake_pool	*p = t->pool;

	ev_io_stop(t->loop, &j->io);
	ev_timer_stop(t->loop, &j->timer);
	handshake_remove(j->active ? &t->active : &t->waiting, j);
	j->active = 0;
	j->rc = rc;
	pthread_mutex_lock(&p->lock);
	handshake_append(&p->outbox, j);
	pthread_mutex_unlock(&p->lock);
	ev_async_send(p->loop, &p->back);
	if (t->waiting.head != NULL && t->active.n < HANDSHAKE_ACTIVE_MAX)
		handshake_start(t, t->waiting.head);
}

static void
handshake_step(struct handshake_thread *t, struct handshake_job *j)
{
	int	 rc, ev;

	rc = tls_handshake(j->tls, j->err, sizeof j->err);
	if (rc != TLS_WANT_READ && rc != TLS_WANT_WRITE) {
		handshake_finish(t, j, rc == 0 ? HANDSHAKE_OK :
		    HANDSHAKE_FAILED);
		return;
	}
	ev = rc == TLS_WANT_READ ? EV_READ : EV_WRITE;
	if (ev_is_active(&j->io) && (j->io.events & (EV_READ | EV_WRITE)) ==
	    ev)
		return;
	ev_io_stop(t->loop, &j->io);
	ev_io_set(&j->io, j->fd, ev);
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

	handshake_finish(j->thread, j, HANDSHAKE_TIMEOUT);
}

/* A waiting job into the handshake. */
static void
handshake_start(struct handshake_thread *t, struct handshake_job *j)
{
	handshake_remove(&t->waiting, j);
	handshake_append(&t->active, j);
	j->active = 1;
	if (tls_new(&j->tls, t->pool->ctx, j->fd, NULL, j->err,
	    sizeof j->err) != 0) {
		handshake_finish(t, j, HANDSHAKE_FAILED);
		return;
	}
	handshake_step(t, j);
}

/*
 * A new job waits its turn, its deadline running: at most
 * HANDSHAKE_ACTIVE_MAX handshakes are under way on a thread, so that when
 * a fleet reconnects at once the first ones finish, and start reporting,
 * instead of all of them finishing late together; and so that OpenSSL's
 * handshake memory is that of a few dozen, not of thousands.
 */
static void
handshake_enqueue(struct handshake_thread *t, struct handshake_job *j)
{
	j->thread = t;
	j->active = 0;
	ev_io_init(&j->io, handshake_io_cb, j->fd, EV_READ);
	ev_timer_init(&j->timer, handshake_timer_cb,
	    j->timeout > 0 ? j->timeout : 0., 0.);
	j->io.data = j->timer.data = j;
	ev_timer_start(t->loop, &j->timer);
	handshake_append(&t->waiting, j);
	if (t->active.n < HANDSHAKE_ACTIVE_MAX)
		handshake_start(t, j);
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
		handshake_enqueue(t, j);
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
		j->active = 0;
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
		for (j = t->active.head; j != NULL; j = j->next) {
			ev_io_stop(t->loop, &j->io);
			ev_timer_stop(t->loop, &j->timer);
		}
		for (j = t->waiting.head; j != NULL; j = j->next)
			ev_timer_stop(t->loop, &j->timer);
		handshake_cancel(p, &t->active);
		handshake_cancel(p, &t->waiting);
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
