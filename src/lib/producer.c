/*
 * producer.c: a provider's producers, and the sink they report through.
 *
 * The set's lock is held while its producers run, so that a producer
 * unregistered from another thread has finished when that call returns.
 * From inside a producer the lock is that thread's already: changing the
 * set there would wait for itself, and is refused instead.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"

struct tally_sink {
	struct snapshot	*snap;
};

struct producer_set {
	pthread_mutex_t	 lock;		/* held while producers run */
	tally_producer	*prods;
	size_t		 n, cap;
	pthread_t	 runner;
	int		 running;
	struct log_hook	 log;
	pid_t		 pid;		/* the process that made it */
};

int
producer_set_new(struct producer_set **sp, const struct log_hook *lh)
{
	struct producer_set	*s;

	if ((s = calloc(1, sizeof *s)) == NULL)
		return TALLY_ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->pid = getpid();
	s->log = *lh;
	*sp = s;
	return 0;
}

void
producer_set_free(struct producer_set *s)
{
	if (s == NULL)
		return;
	free(s->prods);
	/*
	 * A child of fork() may hold a copy that a thread of its parent held
	 * locked: destroying that is undefined, so only its maker does.
	 */
	if (s->pid == getpid())
		pthread_mutex_destroy(&s->lock);
	free(s);
}

int
producer_set_inside(struct producer_set *s)
{
	return __atomic_load_n(&s->running, __ATOMIC_ACQUIRE) &&
	    pthread_equal(s->runner, pthread_self());
}

/* The index of the producer with prod's get_stats and ctx, or s->n. */
static size_t
producer_find(const struct producer_set *s, const tally_producer *prod)
{
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		if (s->prods[i].get_stats == prod->get_stats &&
		    s->prods[i].ctx == prod->ctx)
			break;
	}
	return i;
}

int
producer_set_add(struct producer_set *s, const tally_producer *prod)
{
	size_t	 ncap;
	void	*n;
	int	 rc = 0;

	if (producer_set_inside(s))
		return TALLY_ESTATE;
	pthread_mutex_lock(&s->lock);
	if (producer_find(s, prod) < s->n) {
		rc = TALLY_EINVAL;
		goto out;
	}
	if (s->n == s->cap) {
		ncap = s->cap ? s->cap * 2 : 8;
		if ((n = realloc(s->prods, ncap * sizeof *s->prods)) == NULL) {
			rc = TALLY_ENOMEM;
			goto out;
		}
		s->prods = n;
		s->cap = ncap;
	}
	s->prods[s->n++] = *prod;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int
producer_set_remove(struct producer_set *s, const tally_producer *prod)
{
	size_t	 i;
	int	 rc = TALLY_ENOTFOUND;

	if (producer_set_inside(s))
		return TALLY_ESTATE;
	pthread_mutex_lock(&s->lock);
	if ((i = producer_find(s, prod)) < s->n) {
		memmove(&s->prods[i], &s->prods[i + 1],
		    (s->n - i - 1) * sizeof *s->prods);
		s->n--;
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void
producer_set_run(struct producer_set *s, struct snapshot *snap)
{
	tally_sink	 sink;
	size_t		 i, mark;
	int		 rc;

	sink.snap = snap;
	pthread_mutex_lock(&s->lock);
	s->runner = pthread_self();
	__atomic_store_n(&s->running, 1, __ATOMIC_RELEASE);
	for (i = 0; i < s->n; i++) {
		mark = snap->nstats;
		rc = s->prods[i].get_stats(s->prods[i].ctx, &sink);
		if (rc != 0) {
			/* Skip this producer's values, keep the rest. */
			snapshot_truncate_stats(snap, mark);
			log_msg(&s->log, TALLY_LOG_WARN, "producer %s returned "
			    "%d: its stats are left out of this snapshot",
			    s->prods[i].name ? s->prods[i].name : "(unnamed)",
			    rc);
		}
	}
	__atomic_store_n(&s->running, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->lock);
}

/* Producers fill the snapshot through the sink. */
int
tally_sink_put(tally_sink *s, const char *name, double value)
{
	size_t	 len;

	if (s == NULL || name == NULL)
		return TALLY_EINVAL;
	len = strnlen(name, TALLY_STAT_NAME_MAX + 1);
	if (!name_stat_valid(name, len))
		return TALLY_EINVAL;
	return snapshot_add_stat(s->snap, name, len, value);
}
