/*
 * stats.c: tallyd's own stats, through libtally into the statsfile it
 * writes, as the node nicknamed "tallyd": counters of connections,
 * snapshots, bytes, errors and commits, and a producer for what is read at
 * each flush (Prometheus base units).
 */
#include <stdio.h>
#include <string.h>

#include "tallyd.h"

/* The names of enum stats_counter, in its order. */
static const char *stats_names[STATS_N] = {
	"tallyd.connections",
	"tallyd.disconnections",
	"tallyd.snapshots",
	"tallyd.samples",
	"tallyd.bytes_in",
	"tallyd.bytes_out",
	"tallyd.errors",
	"tallyd.commits",
	"tallyd.commit_failures",
	"tallyd.tls_resumed"
};

void
stats_count(struct gatherer *g, enum stats_counter s, int64_t n)
{
	tally_counter_add(g->stat[s], n);
}

/*
 * tallyd.connected: nodes connected now; tallyd.commit_latency_seconds:
 * the last commit; tallyd.commit_latency_max_seconds: the slowest commit
 * since the previous report, so each sample covers one interval.  Base
 * units (seconds), as Prometheus's naming conventions ask.
 */
static int
stats_get(void *ctx, tally_sink *sink)
{
	struct gatherer	*g = ctx;

	tally_sink_put(sink, "tallyd.connected", (double)g->tcount);
	/* 1 while commits fail: what an alert on tallyd's own node reads. */
	tally_sink_put(sink, "tallyd.store_failing",
	    g->commits_failed > 0 ? 1.0 : 0.0);
	tally_sink_put(sink, "tallyd.commit_latency_seconds", g->commit_sec);
	tally_sink_put(sink, "tallyd.commit_latency_max_seconds",
	    g->commit_max_sec);
	g->commit_max_sec = 0;
	return 0;
}

static void
stats_log(void *ctx, int level, const char *msg)
{
	gatherer_log("%s", msg);
}

int
stats_new(struct gatherer *g, char *err, size_t errlen)
{
	tally_options	 opt;
	int		 rc, i;

	memset(&opt, 0, sizeof opt);
	opt.nodedir = g->basedir;
	opt.nickname = "tallyd";
	opt.statsfile = g->statsfile;
	opt.flush_interval = g->cfg.interval;
	opt.log = stats_log;
	if ((rc = tally_provider_new(&g->self, &opt)) != 0) {
		snprintf(err, errlen, "own stats: %s", tally_strerror(rc));
		return rc;
	}
	for (i = 0; i < STATS_N; i++) {
		if ((g->stat[i] = tally_counter_get(g->self,
		    stats_names[i])) == NULL) {
			snprintf(err, errlen, "own stats: out of memory");
			return TALLY_ENOMEM;
		}
	}
	g->producer.name = "tallyd";
	g->producer.get_stats = stats_get;
	g->producer.ctx = g;
	if ((rc = tally_register_producer(g->self, &g->producer)) != 0) {
		snprintf(err, errlen, "own stats: %s", tally_strerror(rc));
		return rc;
	}
	if ((rc = tally_provider_attach(g->self, g->loop)) != 0) {
		snprintf(err, errlen, "own stats: %s",
		    tally_provider_errmsg(g->self));
		return rc;
	}
	g->self_attached = 1;
	return 0;
}

const char *
stats_node_id(struct gatherer *g)
{
	return tally_provider_node_id(g->self);
}

void
stats_stop(struct gatherer *g)
{
	if (!g->self_attached)
		return;
	/* The own slot's last flush sees the final counts. */
	if (tally_provider_stop(g->self) != 0)
		gatherer_log("own stats: %s", tally_provider_errmsg(g->self));
	g->self_attached = 0;
}

void
stats_free(struct gatherer *g)
{
	if (g->self_attached) {
		tally_provider_stop(g->self);
		g->self_attached = 0;
	}
	tally_provider_free(g->self);
}
