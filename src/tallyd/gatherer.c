/*
 * gatherer.c: the gatherer object: its configuration, start and stop,
 * the table of connected nodes by node id, and when each node is polled.
 * tallyd.h lists the files that do the rest, on one libev loop in one
 * thread.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/crypto.h>

#include "tallyd.h"

#define GATHERER_HASH_MIN	256
#define GATHERER_TLS_THREADS_MAX 8	/* handshake threads */
/* The limits' defaults (tallyd(8), "LIMITS"). */
#define GATHERER_FIRST_FLIGHT	3.0	/* seconds for a ClientHello */
#define GATHERER_HS_PER_ADDR	64	/* TLS handshakes from one address */
#define GATHERER_MAX_NODES	100000	/* nodes in the statsfile */
#define GATHERER_MAX_METRICS	100000	/* metrics in a snapshot */
#define GATHERER_MAX_INPUT	(256UL << 20)	/* buffered, all connections */
#define GATHERER_HELLO_INTERVAL	1.0	/* seconds between a node's HELLOs */

/*
 * One line on stderr; systemd's journal adds the time.  What a peer, a
 * file or an argument put in it is shown as text (error_shown).
 */
void
gatherer_log(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "tallyd: %s\n", error_shown(line));
}

/*
 * A bucket of burst lines, refilled with one every `every' seconds: a peer
 * that makes tallyd log at will (a flood of connections that never
 * authenticate) gets a few lines through, then one now and then, each
 * saying how many went unlogged, and never fills the disk.
 */
int
gatherer_log_quota(struct log_limit *l, double burst, double every,
    unsigned long *quiet)
{
	double	 now = gatherer_mono();

	if (!l->started) {
		l->started = 1;
		l->tokens = burst;
	} else if (now > l->at)
		l->tokens = gatherer_min(burst, l->tokens + (now - l->at) /
		    every);
	l->at = now;
	if (l->tokens < 1.0) {
		l->quiet++;
		return 0;
	}
	l->tokens -= 1.0;
	*quiet = l->quiet;
	l->quiet = 0;
	return 1;
}

/*
 * Deadlines use the monotonic clock: ev_now() is wall time, and a clock
 * step must not time out every connection at once.
 */
double
gatherer_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* No libm for these: tallyd links without it. */
double
gatherer_min(double a, double b)
{
	return a < b ? a : b;
}

/* node id -> READY connection: a duplicate is found without a scan. */
static struct conn **
gatherer_bucket(struct gatherer *g, const char *id)
{
	return &g->table[name_hash(id, strlen(id)) & (g->tsize - 1)];
}

struct conn *
gatherer_find(struct gatherer *g, const char *id)
{
	struct conn	*c;

	for (c = *gatherer_bucket(g, id); c != NULL; c = c->hnext)
		if (strcmp(c->node_id, id) == 0)
			return c;
	return NULL;
}

int
gatherer_hash_add(struct gatherer *g, struct conn *c)
{
	struct conn	**nt, **b, *e, *next;
	size_t		  nsize, i;

	if (g->tcount >= g->tsize) {
		/* Grow at a load of 1; the chains stay short. */
		nsize = g->tsize * 2;
		if ((nt = calloc(nsize, sizeof *nt)) == NULL)
			return TALLY_ENOMEM;
		for (i = 0; i < g->tsize; i++) {
			for (e = g->table[i]; e != NULL; e = next) {
				next = e->hnext;
				b = &nt[name_hash(e->node_id,
				    strlen(e->node_id)) & (nsize - 1)];
				e->hnext = *b;
				*b = e;
			}
		}
		free(g->table);
		g->table = nt;
		g->tsize = nsize;
	}
	b = gatherer_bucket(g, c->node_id);
	c->hnext = *b;
	*b = c;
	c->hashed = 1;
	g->tcount++;
	return 0;
}

void
gatherer_hash_del(struct gatherer *g, struct conn *c)
{
	struct conn	**pp;

	if (!c->hashed)
		return;
	for (pp = gatherer_bucket(g, c->node_id); *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	c->hnext = NULL;
	c->hashed = 0;
	g->tcount--;
}

/*
 * The secret is compared in constant time, by OpenSSL's CRYPTO_memcmp.
 * Its length is no secret (every furl_secret_new() secret has the same),
 * so a length mismatch fails early.
 */
int
gatherer_secret_ok(const struct gatherer *g, const char *s, size_t len)
{
	if (len != g->secret_len)
		return 0;
	return CRYPTO_memcmp(s, g->secret, len) == 0;
}

/*
 * Polls: the first right after the handshake, later ones at k * interval
 * plus the node's phase, a hash of its node id, so that a herd of nodes
 * that reconnect together is spread over the interval from its second
 * round on, and a restarted gatherer keeps each node's place.
 */
double
gatherer_phase(const struct gatherer *g, const char *id, size_t len)
{
	return (double)(name_hash(id, len) % 1000003) / 1000003.0 *
	    g->cfg.interval;
}

/* The first poll time at least `after', in this node's phase. */
static double
gatherer_next_slot(const struct conn *c, double after)
{
	double	 iv = c->g->cfg.interval, t;

	t = (double)(int64_t)((after - c->phase) / iv) * iv + c->phase;
	while (t < after)
		t += iv;
	return t;
}

void
gatherer_schedule(struct conn *c, double now)
{
	double	 iv = c->g->cfg.interval;

	/*
	 * The first poll goes out right after the handshake; later ones keep
	 * to the node's phase, a hash of its id, so that a herd of nodes
	 * reconnecting at once is spread over the interval from the second
	 * round on.  Half an interval at least separates the first two.
	 */
	if (c->next_poll == 0)
		c->next_poll = gatherer_next_slot(c, now + iv / 2);
	else {
		c->next_poll += iv;
		if (c->next_poll <= now)	/* late: skip missed rounds */
			c->next_poll = gatherer_next_slot(c, now + iv / 2);
	}
}

/*
 * Handshake threads: as asked, or one for each CPU beside the loop's own,
 * within 1 to GATHERER_TLS_THREADS_MAX.
 */
static unsigned
gatherer_tls_threads(unsigned asked)
{
	long	 ncpu;

	if (asked != 0)
		return asked < GATHERER_TLS_THREADS_MAX ? asked :
		    GATHERER_TLS_THREADS_MAX;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu <= 2)
		return 1;
	return ncpu - 1 < GATHERER_TLS_THREADS_MAX ? (unsigned)(ncpu - 1) :
	    GATHERER_TLS_THREADS_MAX;
}

/* The limits left at 0 get their defaults (tallyd(8), "LIMITS"). */
static void
gatherer_defaults(struct gatherer_config *cfg)
{
	if (cfg->first_flight_timeout <= 0)
		cfg->first_flight_timeout = GATHERER_FIRST_FLIGHT;
	if (cfg->max_handshakes_per_addr == 0)
		cfg->max_handshakes_per_addr = GATHERER_HS_PER_ADDR;
	if (cfg->max_nodes == 0)
		cfg->max_nodes = GATHERER_MAX_NODES;
	if (cfg->max_metrics == 0)
		cfg->max_metrics = GATHERER_MAX_METRICS;
	if (cfg->max_frame == 0)
		cfg->max_frame = WIRE_FRAME_MAX;
	if (cfg->max_input == 0)
		cfg->max_input = GATHERER_MAX_INPUT;
	if (cfg->hello_interval <= 0)
		cfg->hello_interval = GATHERER_HELLO_INTERVAL;
}

/*
 * Session tickets, their keys in BASEDIR, so that nodes resume their
 * sessions across a restart of tallyd: a ticket-key file that cannot
 * serve is replaced, with a line in the log, and costs one full
 * handshake per node; only a failure of OpenSSL itself stops tallyd.
 */
static int
gatherer_tickets(struct gatherer *g, char *err, size_t errlen)
{
	char	 path[4096], msg[TALLY_ERRLEN];
	int	 rc;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", g->basedir,
	    BASEDIR_TICKETS) >= sizeof path) {
		snprintf(err, errlen, "%s/%s: path too long", g->basedir,
		    BASEDIR_TICKETS);
		return TALLY_EINVAL;
	}
	if ((rc = tls_server_tickets(g->tls, path, msg, sizeof msg)) != 0) {
		snprintf(err, errlen, "%s", msg);
		return rc;
	}
	if (msg[0] != '\0')
		gatherer_log("%s", msg);
	return 0;
}

int
gatherer_new(struct gatherer **gp, struct ev_loop *loop,
    const struct gatherer_config *cfg, char *err, size_t errlen)
{
	struct gatherer	*g;
	int		 rc;

	*gp = NULL;
	if (cfg->interval <= 0 || cfg->poll_timeout <= 0 ||
	    cfg->handshake_timeout <= 0 || cfg->idle_timeout <= 0 ||
	    cfg->max_connections == 0 || cfg->secret == NULL ||
	    (cfg->tls_key == NULL) != (cfg->tls_cert == NULL)) {
		snprintf(err, errlen, "invalid gatherer configuration");
		return TALLY_EINVAL;
	}
	if (cfg->max_frame > WIRE_FRAME_MAX ||
	    (cfg->max_frame != 0 && cfg->max_frame < GATHERER_HELLO_MAX)) {
		snprintf(err, errlen, "frame limit %zu is out of range (%u to "
		    "%u bytes)", cfg->max_frame, GATHERER_HELLO_MAX,
		    WIRE_FRAME_MAX);
		return TALLY_EINVAL;
	}
	if ((g = calloc(1, sizeof *g)) == NULL)
		goto nomem;
	g->loop = loop;
	g->cfg = *cfg;
	g->lfd = -1;
	gatherer_defaults(&g->cfg);
	g->interval_ms = cfg->interval * 1000 > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)(cfg->interval * 1000);
	if ((g->secret = strdup(cfg->secret)) == NULL ||
	    (g->statsfile = strdup(cfg->statsfile)) == NULL ||
	    (g->basedir = strdup(cfg->basedir)) == NULL ||
	    (g->listen_host = strdup(cfg->listen_host)) == NULL ||
	    (g->listen_port = strdup(cfg->listen_port)) == NULL ||
	    (g->rbuf = malloc(GATHERER_RBUF)) == NULL ||
	    (g->table = calloc(GATHERER_HASH_MIN, sizeof *g->table)) == NULL ||
	    batch_new(g) != 0)
		goto nomem;
	g->secret_len = strlen(g->secret);
	g->tsize = GATHERER_HASH_MIN;
	/* The strings are ours now; the caller's may go. */
	g->cfg.secret = g->secret;
	g->cfg.statsfile = g->statsfile;
	g->cfg.basedir = g->basedir;
	g->cfg.listen_host = g->listen_host;
	g->cfg.listen_port = g->listen_port;

	if (cfg->tls_key != NULL && (rc = tls_server_ctx(&g->tls,
	    cfg->tls_key, cfg->tls_cert, g->fingerprint, sizeof g->fingerprint,
	    err, errlen)) != 0)
		goto fail;
	if (g->tls != NULL && (rc = gatherer_tickets(g, err, errlen)) != 0)
		goto fail;
	/* The paths were only needed to load the identity. */
	g->cfg.tls_key = g->cfg.tls_cert = NULL;
	if (g->tls != NULL && (rc = handshake_pool_new(&g->hs, loop, g->tls,
	    gatherer_tls_threads(cfg->tls_threads), conn_handshake_done, g,
	    err, errlen)) != 0)
		goto fail;
	if ((rc = batch_open(g, err, errlen)) != 0)
		goto fail;
	if ((rc = listener_open(g, err, errlen)) != 0)
		goto fail;
	if ((rc = stats_new(g, err, errlen)) != 0)
		goto fail;
	listener_start(g);
	*gp = g;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	rc = TALLY_ENOMEM;
fail:
	gatherer_free(g);
	return rc;
}

void
gatherer_address(const struct gatherer *g, char *host, size_t hostlen,
    char *port, size_t portlen)
{
	snprintf(host, hostlen, "%s", g->host);
	snprintf(port, portlen, "%s", g->port);
}

const char *
gatherer_fingerprint(const struct gatherer *g)
{
	return g->fingerprint;
}

int
gatherer_run(struct gatherer *g)
{
	ev_run(g->loop, 0);
	return 0;
}

void
gatherer_shutdown(struct gatherer *g)
{
	struct conn	*c, *next;
	struct wire_buf	 b;

	if (g == NULL || g->stopped)
		return;
	g->stopped = 1;
	ev_io_stop(g->loop, &g->accept_w);
	ev_timer_stop(g->loop, &g->accept_pause);
	/* Handshakes in flight are dropped: their peers will retry. */
	handshake_pool_free(g->hs);
	g->hs = NULL;
	listener_close(g);
	/* What the peers sent before the signal counts: read it first. */
	for (c = g->conns; c != NULL; c = c->next)
		if (c->state == CONN_READY && c->polling)
			conn_io_read(c);
	batch_commit(g);
	wire_buf_init(&b);
	if (wire_put_error(&b, WIRE_E_SHUTDOWN, "the gatherer is stopping") !=
	    0)
		b.len = 0;
	for (c = g->conns; c != NULL; c = next) {
		next = c->next;
		conn_stop(c, &b);
	}
	wire_buf_free(&b);
	stats_stop(g);
	ev_break(g->loop, EVBREAK_ALL);
}

void
gatherer_free(struct gatherer *g)
{
	if (g == NULL)
		return;
	/* No request reads the loop's state from here on. */
	http_free(g->http);
	g->http = NULL;
	if (!g->stopped && g->lfd >= 0 && g->self_attached)
		gatherer_shutdown(g);
	stats_stop(g);
	handshake_pool_free(g->hs);	/* before the conns it may hold */
	g->hs = NULL;
	while (g->conns != NULL)
		conn_free(g->conns);
	listener_close(g);
	stats_free(g);
	tls_ctx_free(g->tls);
	batch_free(g);
	hello_free(g);
	free(g->table);
	free(g->rbuf);
	free(g->listen_port);
	free(g->listen_host);
	free(g->basedir);
	free(g->statsfile);
	if (g->secret != NULL) {
		explicit_bzero(g->secret, g->secret_len);
		free(g->secret);
	}
	free(g);
}
