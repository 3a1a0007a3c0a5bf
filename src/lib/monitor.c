/*
 * monitor.c: the built-in producers, as in the original system.
 *
 *  load_monitor.avg_load, load_monitor.max_load: how late a 1 s timer
 *	fires, averaged and maximised over the last 60 samples; a delay over
 *	1 s is logged, since it means the loop (or the machine) is starved.
 *  cpu_monitor.1min_avg, 5min_avg, 15min_avg: CPU seconds per wall second,
 *	sampled every 60 s, 16 samples kept; each is absent until enough
 *	samples exist.  cpu_monitor.total: CPU seconds used so far.
 *  node.uptime: seconds since the provider was created.
 *
 * They are one ordinary producer (monitor_producer), which the provider
 * registers through tally_register_producer as a host does; nothing here
 * calls the provider.  Everything here runs on the provider's loop, so
 * nothing needs a lock.
 */
#include <stdlib.h>
#include <time.h>

#include <ev.h>

#include "tally-int.h"

#define LOAD_SAMPLES	60
#define CPU_SAMPLES	16
#define CPU_PERIOD	60.0

struct monitor {
	tally_producer	 prod;
	struct log_hook	 log;
	double		 born;
	ev_timer	 load;
	double		 due;
	double		 lateness[LOAD_SAMPLES];
	int		 nload, iload;
	ev_timer	 cpu;
	double		 cpu_s[CPU_SAMPLES], wall[CPU_SAMPLES];
	int		 ncpu, icpu;
};

static double
monitor_cpu_seconds(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
monitor_load_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct monitor	*m = w->data;
	double		 late = ev_time() - m->due;

	if (late < 0)
		late = 0;
	if (late > 1.0)
		log_msg(&m->log, TALLY_LOG_WARN, "load_monitor: the loop was "
		    "%.3f s late", late);
	m->lateness[m->iload] = late;
	m->iload = (m->iload + 1) % LOAD_SAMPLES;
	if (m->nload < LOAD_SAMPLES)
		m->nload++;
	ev_now_update(loop);
	m->due = ev_now(loop) + 1.0;
	ev_timer_set(w, 1.0, 0.);
	ev_timer_start(loop, w);
}

static void
monitor_cpu_sample(struct monitor *m)
{
	m->cpu_s[m->icpu] = monitor_cpu_seconds();
	m->wall[m->icpu] = ev_time();
	m->icpu = (m->icpu + 1) % CPU_SAMPLES;
	if (m->ncpu < CPU_SAMPLES)
		m->ncpu++;
}

static void
monitor_cpu_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	monitor_cpu_sample(w->data);
}

/* CPU use over the last `back` periods, if that many samples exist. */
static int
monitor_cpu_avg(const struct monitor *m, int back, double *out)
{
	int	 last, first;
	double	 dt;

	if (m->ncpu <= back)
		return 0;
	last = (m->icpu + CPU_SAMPLES - 1) % CPU_SAMPLES;
	first = (last + CPU_SAMPLES - back) % CPU_SAMPLES;
	dt = m->wall[last] - m->wall[first];
	if (dt <= 0)
		return 0;
	*out = (m->cpu_s[last] - m->cpu_s[first]) / dt;
	return 1;
}

/* The producer's get_stats: every name the table above lists. */
static int
monitor_get_stats(void *arg, tally_sink *sink)
{
	struct monitor	*m = arg;
	double		 sum = 0, max = 0, v;
	int		 i;

	if (m->nload > 0) {
		for (i = 0; i < m->nload; i++) {
			sum += m->lateness[i];
			if (m->lateness[i] > max)
				max = m->lateness[i];
		}
		tally_sink_put(sink, "load_monitor.avg_load", sum / m->nload);
		tally_sink_put(sink, "load_monitor.max_load", max);
	}
	if (monitor_cpu_avg(m, 1, &v))
		tally_sink_put(sink, "cpu_monitor.1min_avg", v);
	if (monitor_cpu_avg(m, 5, &v))
		tally_sink_put(sink, "cpu_monitor.5min_avg", v);
	if (monitor_cpu_avg(m, 15, &v))
		tally_sink_put(sink, "cpu_monitor.15min_avg", v);
	tally_sink_put(sink, "cpu_monitor.total", monitor_cpu_seconds());
	tally_sink_put(sink, "node.uptime", ev_time() - m->born);
	return 0;
}

int
monitor_new(struct monitor **mp, const struct log_hook *lh)
{
	struct monitor	*m;

	if ((m = calloc(1, sizeof *m)) == NULL)
		return TALLY_ENOMEM;
	m->log = *lh;
	m->prod.name = "built-in monitors";
	m->prod.get_stats = monitor_get_stats;
	m->prod.ctx = m;
	m->born = ev_time();
	ev_timer_init(&m->load, monitor_load_cb, 1.0, 0.);
	m->load.data = m;
	ev_timer_init(&m->cpu, monitor_cpu_cb, CPU_PERIOD, CPU_PERIOD);
	m->cpu.data = m;
	*mp = m;
	return 0;
}

const tally_producer *
monitor_producer(const struct monitor *m)
{
	return &m->prod;
}

void
monitor_start(struct monitor *m, struct ev_loop *loop)
{
	m->due = ev_now(loop) + 1.0;
	ev_timer_set(&m->load, 1.0, 0.);
	ev_timer_start(loop, &m->load);
	if (m->ncpu == 0)
		monitor_cpu_sample(m);
	ev_timer_start(loop, &m->cpu);
}

void
monitor_stop(struct monitor *m, struct ev_loop *loop)
{
	ev_timer_stop(loop, &m->load);
	ev_timer_stop(loop, &m->cpu);
}

void
monitor_free(struct monitor *m)
{
	free(m);
}
