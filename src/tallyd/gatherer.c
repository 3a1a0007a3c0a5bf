/*
 * gatherer.c: tallyd's listener, its connections, the polls and the
 * batched commits, on one libev loop in one thread.
 *
 * A connection is a small state machine:
 *
 *	HANDSHAKE --HELLO ok--> READY --error, timeout, EOF--> CLOSING --> freed
 *	    |                                                    ^
 *	    +------------- bad HELLO, timeout, EOF --------------+
 *
 * In HANDSHAKE only a HELLO (or a peer's ERROR) is accepted, and no frame
 * may be bigger than a HELLO can be, so an unauthenticated peer costs at
 * most a few hundred bytes of buffer.  In READY the gatherer sends POLL
 * seq and accepts only the SNAPSHOT that answers it.  CLOSING means an
 * ERROR frame is being sent (or there is nothing left to say): the write
 * side is shut once the output is flushed, and the connection lingers until
 * the peer closes or GATHERER_LINGER passes, so that the peer reads the
 * ERROR instead of a reset.
 *
 * A connection is only ever freed from its own timer's callback, at the top
 * of the loop: every other path marks it and arms the timer for "now".  No
 * callback can therefore free a connection that a caller further up the
 * stack still uses, and a conn replaced by a newer one from inside the
 * newer one's read callback simply lingers.
 *
 * Each connection has one timer, armed for its earliest deadline (handshake,
 * idle, poll answer, next poll, linger).  A read does not re-arm it: the
 * timer fires at the old idle deadline, sees the newer last byte and
 * re-arms, as ev.pod's "Be smart about timeouts" advises.
 *
 * A snapshot is decoded straight from the read buffer into a slot of the
 * batch, which owns copies of everything it commits: closing or replacing a
 * connection never leaves the batch pointing at freed memory.  The batch is
 * committed in one write transaction when it holds GATHERER_BATCH_MAX
 * snapshots or GATHERER_BATCH_SAMPLES samples, GATHERER_BATCH_DELAY after
 * its first snapshot, and at shutdown.
 *
 * Polls: the first right after the handshake, later ones at k * interval
 * plus the node's phase, a hash of its node id, so that a herd of nodes
 * that reconnect together is spread over the interval from its second
 * round on, and a restarted gatherer keeps each node's place.
 *
 * Limits: over max_connections a connection is accepted, told ERROR busy
 * and closed; on EMFILE and its kin the listener pauses for a second
 * instead of spinning on a backlog it cannot drain.
 *
 * TLS (tls.c) sits under the frames.  A connection's first byte decides:
 * 0x16 begins a TLS handshake record, anything else is a plaintext peer,
 * told so in a plaintext ERROR and closed.  The handshake runs in
 * HANDSHAKE, within the handshake timeout, before HELLO can be read, on
 * one of the handshake threads (handshake.c): meanwhile the loop leaves
 * the connection alone (no watcher, no timer; c->job says where it is)
 * until the job comes back.  An ERROR is only ever sent where the peer
 * can read it (plaintext, or TLS once established), so a connection that
 * times out in the middle of the TLS handshake is just closed.  With TLS a read may wait for the socket
 * to be writable and a write for it to be readable: rd_wants_write and
 * wr_wants_read note that, and each watcher's callback serves the other
 * direction when asked.  A CLOSING connection reads raw bytes, since it
 * only waits for the peer's EOF.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "tally-int.h"
#include "gatherer.h"
#include "handshake.h"

#define GATHERER_RBUF		(64 * 1024)	/* the shared read buffer */
#define GATHERER_READS		8	/* reads per wakeup, for fairness */
#define GATHERER_ACCEPTS	64	/* accepts per wakeup */
#define GATHERER_BACKLOG	4096
/* A HELLO is at most 2 + 3 * (1 + 255) bytes of payload. */
#define GATHERER_HELLO_MAX	(1 + 2 + 3 * 256)
#define GATHERER_GROW_MAX	(1024 * 1024)	/* buffer growth per read */
/*
 * A batch is committed at 256 snapshots or 32k samples.  LMDB keeps the
 * dirty pages of its biggest write transaction for reuse until the
 * environment closes, so the sample bound is what bounds tallyd's memory
 * after a round.  Measured with 1,000 nodes x 1,000 metrics (no trim):
 * 256k samples a transaction left tallyd at 60 MiB after the round, 64k at
 * 16 MiB, 32k at 11 MiB; every round took 0.5-0.8 s.
 */
#define GATHERER_BATCH_MAX	256
#define GATHERER_BATCH_SAMPLES	(32 * 1024)
#define GATHERER_BATCH_DELAY	0.05	/* seconds after the first snapshot */
/* After a commit, a batch slot keeps up to this much memory for reuse. */
#define GATHERER_SLOT_KEEP	(16 * 1024)
/* Seconds without a commit after which freed memory goes back (glibc). */
#define GATHERER_TRIM_QUIET	0.25
#define GATHERER_LINGER		2.0
#define GATHERER_ACCEPT_PAUSE	1.0
#define GATHERER_EPSILON	0.001	/* timers may fire this early */
#define GATHERER_HASH_MIN	256
#define GATHERER_TLS_THREADS_MAX 8	/* handshake threads */
/* The limits' defaults (tallyd(8), "LIMITS"). */
#define GATHERER_FIRST_FLIGHT	3.0	/* seconds for a ClientHello */
#define GATHERER_HS_PER_ADDR	64	/* TLS handshakes from one address */
#define GATHERER_MAX_NODES	100000	/* nodes in the statsfile */
#define GATHERER_MAX_METRICS	100000	/* metrics in a snapshot */
#define GATHERER_MAX_INPUT	(256UL << 20)	/* buffered, all connections */
#define GATHERER_ADDR_HASH	1024	/* buckets of the address table */
/* A numeric address, with an IPv6 scope such as %eth0. */
#define GATHERER_HOSTLEN	(INET6_ADDRSTRLEN + IF_NAMESIZE)
#define GATHERER_ADDRLEN	(GATHERER_HOSTLEN + 10)	/* [host]:port */

enum conn_state {
	CONN_HANDSHAKE,
	CONN_READY,
	CONN_CLOSING,		/* sending a last ERROR, then lingering */
	CONN_DEAD		/* to be freed by its timer */
};

enum conn_tls {
	CONN_TLS_NONE,		/* plaintext */
	CONN_TLS_FIRST,		/* waiting for the first byte */
	CONN_TLS_SHAKE,		/* in the TLS handshake */
	CONN_TLS_UP		/* established: frames flow inside */
};

/* conn_send() and conn_recv(), beside a byte count. */
#define CONN_IO_WAIT	(-1)	/* the watchers are set; try later */
#define CONN_IO_DEAD	(-2)	/* the connection was killed */

struct conn {
	struct gatherer		*g;
	struct conn		*prev, *next;	/* every connection */
	struct conn		*hnext;		/* the node id hash chain */
	int			 fd;
	enum conn_state		 state;
	int			 hashed;	/* in g->table under node_id */
	int			 polling;	/* POLL seq is unanswered */
	int			 wr_shut;
	int			 clock_logged;	/* its time was refused */
	int			 addr_counted;	/* in its address's handshakes */
	int			 locked;	/* holds node_id's node lock */
	int			 is_new;	/* no record yet: counts in nnew */
	enum conn_tls		 tls;
	struct tls		*ssl;
	struct handshake_job	*job;		/* with a handshake thread */
	int			 rd_wants_write; /* a TLS read waits to write */
	int			 wr_wants_read;	/* a TLS write waits to read */
	uint32_t		 seq;
	ev_io			 rio, wio;
	ev_timer		 timer;
	struct wire_buf		 in, out;
	double			 last_rx;	/* monotonic seconds */
	double			 hs_deadline;
	double			 first_deadline;	/* TLS: the first byte */
	double			 poll_sent;
	double			 next_poll;	/* 0: not polled yet */
	double			 phase;		/* of the polls in the interval */
	double			 close_deadline;
	char			 addr[GATHERER_ADDRLEN];
	char			 node_id[TALLY_NODE_ID_MAX + 1];
	char			 nickname[TALLY_NICKNAME_MAX + 1];
	char			 key[FURL_FP_LEN + 1];	/* its key's, TLS */
	char			 reason[128];	/* why it closed */
};

/* Handshakes in flight from one address (the host part of conn.addr). */
struct gatherer_addr {
	struct gatherer_addr	*next;
	unsigned		 n;
	char			 host[GATHERER_ADDRLEN];
};

/* A snapshot waiting for the next commit; owns copies of everything. */
struct batch_ent {
	char			 node_id[TALLY_NODE_ID_MAX + 1];
	struct record_node	 rn;
	struct snapshot		 snap;
};

/* The gatherer's own counters, in the order of gatherer_stat_names. */
enum gatherer_stat {
	GS_CONNECTIONS,
	GS_DISCONNECTIONS,
	GS_SNAPSHOTS,
	GS_SAMPLES,
	GS_BYTES_IN,
	GS_BYTES_OUT,
	GS_ERRORS,
	GS_COMMITS,
	GS_COMMIT_FAILURES,
	GS_N
};

static const char *gatherer_stat_names[GS_N] = {
	"tallyd.connections",
	"tallyd.disconnections",
	"tallyd.snapshots",
	"tallyd.samples",
	"tallyd.bytes_in",
	"tallyd.bytes_out",
	"tallyd.errors",
	"tallyd.commits",
	"tallyd.commit_failures"
};

struct gatherer {
	struct ev_loop		*loop;
	struct gatherer_config	 cfg;
	char			*secret;
	size_t			 secret_len;
	char			*statsfile;
	char			*basedir;
	char			*listen_host;
	char			*listen_port;
	uint32_t		 interval_ms;

	struct store		*store;
	struct ssl_ctx_st	*tls;		/* NULL: plaintext */
	struct handshake_pool	*hs;		/* TLS: the handshake threads */
	char			 fingerprint[FURL_FP_LEN + 1];
	int			 lfd;
	ev_io			 accept_w;
	ev_timer		 accept_pause;
	char			 host[NI_MAXHOST];
	char			 port[NI_MAXSERV];
	unsigned long		 busy_refused;	/* since the last log line */
	double			 busy_logged;
	struct gatherer_addr	*addrs[GATHERER_ADDR_HASH];
	unsigned long		 addr_refused;	/* since the last log line */
	double			 addr_logged;
	size_t			 input;		/* bytes of every conn's in */
	struct nodelock		*locks;		/* remote nodes' node locks */
	unsigned		 nnew;		/* connected nodes with no record */

	struct conn		*conns;
	unsigned		 nconns;
	struct conn		**table;	/* node id -> READY conn */
	size_t			 tsize, tcount;

	struct batch_ent	*batch;
	struct store_slot	*slots;
	size_t			 nbatch, nsamples;
	ev_timer		 batch_timer;
	ev_timer		 trim_timer;

	uint8_t			*rbuf;

	tally_provider		*self;
	tally_counter		*stat[GS_N];
	tally_producer		 producer;
	double			 commit_sec, commit_max_sec;
	unsigned long		 commits_failed;	/* in a row */
	char			 commit_err[TALLY_ERRLEN];
	int			 self_attached;
	int			 stopped;
};

static void	 conn_timer_arm(struct conn *, double);
static void	 conn_tls_first(struct conn *);
static void	 conn_read(struct conn *);

static void gatherer_log(const char *, ...) TALLY_PRINTF(1, 2);
static void conn_log(const struct conn *, const char *, ...)
    TALLY_PRINTF(2, 3);
static void conn_fail(struct conn *, uint16_t, const char *, ...)
    TALLY_PRINTF(3, 4);
static void conn_kill(struct conn *, const char *, ...) TALLY_PRINTF(2, 3);

/* One line on stderr; systemd's journal adds the time. */
static void
gatherer_log(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "tallyd: %s\n", line);
}

/* A line about a connection: who it is, if known, and where from. */
static void
conn_log(const struct conn *c, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (c->node_id[0] != '\0')
		fprintf(stderr, "tallyd: node %s (%s) from %s: %s\n",
		    c->node_id, c->nickname, c->addr, line);
	else
		fprintf(stderr, "tallyd: %s: %s\n", c->addr, line);
}

static void
gatherer_count(struct gatherer *g, enum gatherer_stat s, int64_t n)
{
	tally_counter_add(g->stat[s], n);
}

/*
 * Deadlines use the monotonic clock: ev_now() is wall time, and a clock
 * step must not time out every connection at once.
 */
static double
gatherer_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* No libm for these: tallyd links without it. */
static double
gatherer_min(double a, double b)
{
	return a < b ? a : b;
}

static uint32_t
gatherer_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* node id -> READY connection: a duplicate is found without a scan. */
static struct conn **
gatherer_bucket(struct gatherer *g, const char *id)
{
	return &g->table[name_hash(id, strlen(id)) & (g->tsize - 1)];
}

static struct conn *
gatherer_find(struct gatherer *g, const char *id)
{
	struct conn	*c;

	for (c = *gatherer_bucket(g, id); c != NULL; c = c->hnext)
		if (strcmp(c->node_id, id) == 0)
			return c;
	return NULL;
}

static int
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

static void
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

/* "1.2.3.4:5" or "[::1]:5"; an IPv4-mapped address reads as IPv4. */
static void
gatherer_fmt_addr(const struct sockaddr *sa, socklen_t len, char *out,
    size_t outlen)
{
	char		 host[GATHERER_HOSTLEN], serv[8];
	const char	*h = host;

	if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, outlen, "(unknown)");
		return;
	}
	if (strncmp(h, "::ffff:", 7) == 0 && strchr(h + 7, '.') != NULL)
		h += 7;
	if (strchr(h, ':') != NULL)
		snprintf(out, outlen, "[%s]:%s", h, serv);
	else
		snprintf(out, outlen, "%s:%s", h, serv);
}

/*
 * The secret is compared in constant time.  Its length is no secret (every
 * furl_secret_new() secret has the same), so a length mismatch fails early.
 */
static int
gatherer_secret_ok(const struct gatherer *g, const char *s, size_t len)
{
	volatile unsigned char	 d = 0;
	size_t			 i;

	if (len != g->secret_len)
		return 0;
	for (i = 0; i < len; i++)
		d |= (unsigned char)s[i] ^ (unsigned char)g->secret[i];
	return d == 0;
}

/* ---- TLS handshakes per address ------------------------------------------ */

/*
 * A TLS handshake costs the gatherer a key exchange and a signature, and
 * an SSL object while it lasts: so one address may have only so many in
 * flight (max_handshakes_per_addr), from accept() until its HELLO is
 * accepted or it goes.  Over the cap a connection is closed at once.  The
 * table holds the addresses with handshakes in flight, no others.
 */

/*
 * Whom a connection counts against: the host part of "1.2.3.4:5", or for
 * "[2001:db8::1]:5" its /64, since one IPv6 host has a /64 of addresses
 * to connect from.
 */
static void
gatherer_host(const char *addr, char *host, size_t len)
{
	const char	*colon = strrchr(addr, ':');
	struct in6_addr	 a6;
	char		 buf[GATHERER_ADDRLEN];
	size_t		 n = colon != NULL ? (size_t)(colon - addr) :
			     strlen(addr);

	if (n >= len)
		n = len - 1;
	memcpy(host, addr, n);
	host[n] = '\0';
	if (n < 3 || host[0] != '[' || host[n - 1] != ']')
		return;
	memcpy(buf, host + 1, n - 2);
	buf[n - 2] = '\0';
	if (inet_pton(AF_INET6, buf, &a6) != 1)
		return;
	memset(&a6.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &a6, buf, sizeof buf) != NULL)
		snprintf(host, len, "[%s]/64", buf);
}

static struct gatherer_addr **
gatherer_addr_slot(struct gatherer *g, const char *host)
{
	struct gatherer_addr	**pp;

	pp = &g->addrs[name_hash(host, strlen(host)) % GATHERER_ADDR_HASH];
	while (*pp != NULL && strcmp((*pp)->host, host) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* Count c among its address's handshakes: 0, or -1 over the cap. */
static int
conn_addr_take(struct conn *c)
{
	struct gatherer		*g = c->g;
	struct gatherer_addr	**pp, *a;
	char			 host[GATHERER_ADDRLEN];

	gatherer_host(c->addr, host, sizeof host);
	pp = gatherer_addr_slot(g, host);
	if ((a = *pp) == NULL) {
		if ((a = calloc(1, sizeof *a)) == NULL)
			return -1;
		snprintf(a->host, sizeof a->host, "%s", host);
		*pp = a;
	}
	if (a->n >= g->cfg.max_handshakes_per_addr)
		return -1;
	a->n++;
	c->addr_counted = 1;
	return 0;
}

static void
conn_addr_release(struct conn *c)
{
	struct gatherer_addr	**pp, *a;
	char			 host[GATHERER_ADDRLEN];

	if (!c->addr_counted)
		return;
	c->addr_counted = 0;
	gatherer_host(c->addr, host, sizeof host);
	pp = gatherer_addr_slot(c->g, host);
	if ((a = *pp) == NULL)
		return;
	if (--a->n == 0) {
		*pp = a->next;
		free(a);
	}
}

/* ---- buffered input ------------------------------------------------------ */

/*
 * Room for n more bytes in c->in, within max_input across every
 * connection: 0, or -1 with the connection closed (ERROR limit) or killed.
 */
static int
conn_in_reserve(struct conn *c, size_t n)
{
	struct gatherer	*g = c->g;
	size_t		 before = c->in.cap;

	if (c->in.cap - c->in.len < n &&
	    g->input - before + c->in.len + n > g->cfg.max_input) {
		conn_fail(c, WIRE_E_LIMIT, "tallyd's input buffers are full "
		    "(%zu bytes across its connections; its limit is %zu, "
		    "tallyd --max-input): try later", g->input,
		    g->cfg.max_input);
		return -1;
	}
	if (wire_buf_reserve(&c->in, n) != 0) {
		conn_kill(c, "out of memory for a frame");
		return -1;
	}
	g->input += c->in.cap - before;
	return 0;
}

static void
conn_in_free(struct conn *c)
{
	c->g->input -= c->in.cap;
	wire_buf_free(&c->in);
}

/* ---- batches ---------------------------------------------------------- */

/* Where a node's newest state is: the batch, if a snapshot waits there. */
static struct batch_ent *
gatherer_batched(struct gatherer *g, const char *id)
{
	size_t	 i;

	for (i = g->nbatch; i-- > 0;)
		if (strcmp(g->batch[i].node_id, id) == 0)
			return &g->batch[i];
	return NULL;
}


static size_t
gatherer_snap_size(const struct snapshot *s)
{
	return (s->ccap + s->scap) * sizeof(struct snapshot_ent) + s->acap;
}

/* Write every queued snapshot in one transaction. */
static void
gatherer_commit(struct gatherer *g)
{
	struct conn	*c;
	char		 err[TALLY_ERRLEN];
	double		 t0, sec;
	size_t		 i, n = g->nbatch;
	int		 rc;

	ev_timer_stop(g->loop, &g->batch_timer);
	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		g->slots[i].node_id = g->batch[i].node_id;
		g->slots[i].rn = &g->batch[i].rn;
		g->slots[i].snap = &g->batch[i].snap;
	}
	err[0] = '\0';
	t0 = gatherer_mono();
	rc = store_write_slots(g->store, g->slots, n, err, sizeof err);
	sec = gatherer_mono() - t0;
	g->commit_sec = sec;
	if (sec > g->commit_max_sec)
		g->commit_max_sec = sec;
	if (rc != 0) {
		/*
		 * The snapshots are lost; the next round brings new ones.
		 * A store that fails keeps failing the same way (damaged,
		 * map at its limit, disk full): say it once, not per batch,
		 * and keep serving the connections.
		 */
		gatherer_count(g, GS_ERRORS, 1);
		gatherer_count(g, GS_COMMIT_FAILURES, 1);
		if (g->commits_failed++ == 0 ||
		    strcmp(g->commit_err, err) != 0)
			gatherer_log("commit of %zu snapshots failed: %s%s", n,
			    err, g->commits_failed > 1 ? "" : " (logged once "
			    "until it changes; connections are kept)");
		snprintf(g->commit_err, sizeof g->commit_err, "%s", err);
	} else {
		if (g->commits_failed > 0)
			gatherer_log("the statsfile is written again, after "
			    "%lu failed commits", g->commits_failed);
		g->commits_failed = 0;
		g->commit_err[0] = '\0';
		gatherer_count(g, GS_COMMITS, 1);
		/* New nodes have their record now: they count as nodes. */
		for (i = 0; i < n && g->nnew > 0; i++)
			if ((c = gatherer_find(g, g->batch[i].node_id)) !=
			    NULL && c->is_new) {
				c->is_new = 0;
				g->nnew--;
			}
		if (g->cfg.verbose)
			gatherer_log("committed %zu snapshots (%zu samples) in "
			    "%.1f ms", n, g->nsamples, sec * 1000.0);
	}
	/* Keep the slots' memory for the next batch, unless it was huge. */
	for (i = 0; i < n; i++) {
		if (gatherer_snap_size(&g->batch[i].snap) > GATHERER_SLOT_KEEP)
			snapshot_free(&g->batch[i].snap);
		else
			snapshot_reset(&g->batch[i].snap);
	}
	g->nbatch = 0;
	g->nsamples = 0;
	/* The loop stood still during the commit. */
	ev_now_update(g->loop);
	ev_timer_again(g->loop, &g->trim_timer);
}

static void
gatherer_batch_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	gatherer_commit(w->data);
}

/*
 * A round leaves the heap full of freed frame buffers and snapshot arrays
 * between live ones; once commits pause, free the batch's spare memory and
 * hand the free pages back, so that idle connections cost what they hold,
 * not what the burst left behind.
 */
static void
gatherer_trim_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gatherer	*g = w->data;
	size_t		 i;

	ev_timer_stop(loop, w);
	/* The free batch slots' memory too: a burst is what reuses it. */
	for (i = g->nbatch; i < GATHERER_BATCH_MAX; i++)
		snapshot_free(&g->batch[i].snap);
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}

/* ---- connections -------------------------------------------------------- */

/* Arm the timer for the connection's earliest deadline. */
static void
conn_timer_arm(struct conn *c, double now)
{
	struct gatherer	*g = c->g;
	double		 d;

	switch (c->state) {
	case CONN_DEAD:
		d = now;
		break;
	case CONN_CLOSING:
		d = c->close_deadline;
		break;
	case CONN_HANDSHAKE:
		d = gatherer_min(c->hs_deadline, c->last_rx +
		    g->cfg.idle_timeout);
		if (c->tls == CONN_TLS_FIRST)
			d = gatherer_min(d, c->first_deadline);
		break;
	case CONN_READY:
	default:
		d = c->polling ? c->poll_sent + g->cfg.poll_timeout :
		    c->next_poll;
		d = gatherer_min(d, c->last_rx + g->cfg.idle_timeout);
		break;
	}
	ev_timer_stop(g->loop, &c->timer);
	ev_timer_set(&c->timer, d > now ? d - now : 0., 0.);
	ev_timer_start(g->loop, &c->timer);
}

/*
 * Send what is queued.  On a hard error the connection is killed; on a
 * short write the write watcher takes over.  Once a CLOSING connection has
 * said everything, its write side is shut so the peer sees our EOF.
 */
/* Whether the peer can read a frame of ours: plaintext, or TLS that is up. */
static int
conn_speaks(const struct conn *c)
{
	return c->tls == CONN_TLS_NONE || c->tls == CONN_TLS_UP;
}

/*
 * send() or SSL_write(): the bytes sent, CONN_IO_WAIT with the watchers
 * set for the retry, or CONN_IO_DEAD.
 */
static long
conn_send(struct conn *c, const void *buf, size_t len)
{
	struct gatherer	*g = c->g;
	char		 err[200];
	ssize_t		 n;
	long		 t;

	if (c->ssl != NULL) {
		t = tls_write(c->ssl, buf, len, err, sizeof err);
		if (t > 0)
			return t;
		if (t == TLS_WANT_WRITE) {
			ev_io_start(g->loop, &c->wio);
			return CONN_IO_WAIT;
		}
		if (t == TLS_WANT_READ) {
			c->wr_wants_read = 1;	/* rio is on */
			return CONN_IO_WAIT;
		}
		conn_kill(c, "TLS write: %s", err);
		return CONN_IO_DEAD;
	}
	for (;;) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
			ev_io_start(g->loop, &c->wio);
			return CONN_IO_WAIT;
		}
		conn_kill(c, "write: %s", strerror(errno));
		return CONN_IO_DEAD;
	}
}

/*
 * recv() or SSL_read(): the bytes read, 0 at EOF, CONN_IO_WAIT or
 * CONN_IO_DEAD.  A CLOSING connection reads raw: it only waits for EOF.
 */
static long
conn_recv(struct conn *c, void *buf, size_t len)
{
	struct gatherer	*g = c->g;
	char		 err[200];
	ssize_t		 n;
	long		 t;

	if (c->ssl != NULL && c->state != CONN_CLOSING) {
		t = tls_read(c->ssl, buf, len, err, sizeof err);
		if (t >= 0)
			return t;
		if (t == TLS_WANT_READ)
			return CONN_IO_WAIT;
		if (t == TLS_WANT_WRITE) {
			/* Reading waits on writability, not on more input. */
			c->rd_wants_write = 1;
			ev_io_stop(g->loop, &c->rio);
			ev_io_start(g->loop, &c->wio);
			return CONN_IO_WAIT;
		}
		conn_log(c, "TLS read: %s", err);
		gatherer_count(g, GS_ERRORS, 1);
		conn_kill(c, "TLS read: %s", err);
		return CONN_IO_DEAD;
	}
	for (;;) {
		n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return CONN_IO_WAIT;
		conn_kill(c, "read: %s", strerror(errno));
		return CONN_IO_DEAD;
	}
}

static void
conn_flush(struct conn *c)
{
	struct gatherer	*g = c->g;
	long		 n;

	if (c->state == CONN_DEAD)
		return;
	while (c->out.len > 0) {
		if ((n = conn_send(c, c->out.data, c->out.len)) < 0)
			return;
		gatherer_count(g, GS_BYTES_OUT, n);
		wire_buf_consume(&c->out, (size_t)n);
	}
	c->wr_wants_read = 0;
	if (!c->rd_wants_write)
		ev_io_stop(g->loop, &c->wio);
	/* Idle connections keep no buffer. */
	wire_buf_free(&c->out);
	if (c->state == CONN_CLOSING && !c->wr_shut) {
		if (c->ssl != NULL && c->tls == CONN_TLS_UP)
			tls_close_notify(c->ssl);
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = 1;
	}
}

/* Leave the node id table: a closing connection is no longer the node's. */
static void
conn_unhash(struct conn *c)
{
	struct gatherer	*g = c->g;

	gatherer_hash_del(g, c);
	c->polling = 0;
	conn_addr_release(c);
	/*
	 * Takes are counted: the lock goes with the node's last connection,
	 * and only once its last snapshot is written: a local writer that
	 * takes the lock next must resume from it, not be overwritten by it.
	 */
	if (c->locked) {
		if (gatherer_batched(g, c->node_id) != NULL)
			gatherer_commit(g);
		nodelock_release(g->locks, c->node_id);
	}
	c->locked = 0;
	if (c->is_new) {
		g->nnew--;
		c->is_new = 0;
	}
}

/* Close at once, without a word: the peer is gone or unwritable. */
static void
conn_kill(struct conn *c, const char *fmt, ...)
{
	struct gatherer	*g = c->g;
	va_list		 ap;

	if (c->state == CONN_DEAD)
		return;
	if (c->reason[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(c->reason, sizeof c->reason, fmt, ap);
		va_end(ap);
	}
	conn_unhash(c);
	c->state = CONN_DEAD;
	ev_io_stop(g->loop, &c->rio);
	ev_io_stop(g->loop, &c->wio);
	conn_timer_arm(c, gatherer_mono());
}

/*
 * Send ERROR code (0: none), then close gracefully.  The message goes to
 * the peer, so it never holds the secret or anything else of ours.
 */
static void
conn_close(struct conn *c, uint16_t code, const char *msg)
{
	if (c->state == CONN_CLOSING || c->state == CONN_DEAD)
		return;
	if (c->reason[0] == '\0')
		snprintf(c->reason, sizeof c->reason, "%s", msg);
	conn_unhash(c);
	c->state = CONN_CLOSING;
	c->close_deadline = gatherer_mono() + GATHERER_LINGER;
	/* From now on only the peer's EOF is awaited, whatever TLS wanted. */
	c->rd_wants_write = 0;
	ev_io_start(c->g->loop, &c->rio);
	/*
	 * c->in is left alone: the caller may be parsing from it.  From now
	 * on reads go to the shared buffer, and conn_free() releases it.  A
	 * peer in the middle of the TLS handshake cannot read an ERROR.
	 */
	if (code != 0 && conn_speaks(c) &&
	    wire_put_error(&c->out, code, msg) != 0) {
		conn_kill(c, "out of memory");
		return;
	}
	conn_flush(c);
	if (c->state == CONN_CLOSING)
		conn_timer_arm(c, gatherer_mono());
}

/* A protocol error: log it, count it, tell the peer, close. */
static void
conn_fail(struct conn *c, uint16_t code, const char *fmt, ...)
{
	char	 msg[WIRE_ERRMSG_MAX];
	va_list	 ap;

	if (c->state == CONN_CLOSING || c->state == CONN_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	conn_log(c, "%s", msg);
	gatherer_count(c->g, GS_ERRORS, 1);
	conn_close(c, code, msg);
}

/* Release everything; only from the timer callback or at shutdown. */
static void
conn_free(struct conn *c)
{
	struct gatherer	*g = c->g;

	if (c->node_id[0] != '\0')
		gatherer_log("disconnected node %s (%s) from %s: %s",
		    c->node_id, c->nickname, c->addr, c->reason);
	else if (g->cfg.verbose)
		gatherer_log("%s: closed before the handshake: %s", c->addr,
		    c->reason);
	conn_unhash(c);
	ev_io_stop(g->loop, &c->rio);
	ev_io_stop(g->loop, &c->wio);
	ev_timer_stop(g->loop, &c->timer);
	tls_free(c->ssl);
	if (c->job != NULL) {	/* only after the threads stopped */
		tls_free(c->job->tls);
		free(c->job);
	}
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		g->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	g->nconns--;
	gatherer_count(g, GS_DISCONNECTIONS, 1);
	conn_in_free(c);
	wire_buf_free(&c->out);
	free(c);
}

/* The first poll time at least `after', in this node's phase. */
static double
conn_next_slot(const struct conn *c, double after)
{
	double	 iv = c->g->cfg.interval, t;

	t = (double)(int64_t)((after - c->phase) / iv) * iv + c->phase;
	while (t < after)
		t += iv;
	return t;
}

static void
conn_poll(struct conn *c, double now)
{
	struct gatherer	*g = c->g;
	double		 iv = g->cfg.interval;

	c->seq++;
	if (wire_put_poll(&c->out, c->seq) != 0) {
		conn_kill(c, "out of memory");
		return;
	}
	c->polling = 1;
	c->poll_sent = now;
	/*
	 * The first poll goes out right after the handshake; later ones keep
	 * to the node's phase, a hash of its id, so that a herd of nodes
	 * reconnecting at once is spread over the interval from the second
	 * round on.  Half an interval at least separates the first two.
	 */
	if (c->next_poll == 0)
		c->next_poll = conn_next_slot(c, now + iv / 2);
	else {
		c->next_poll += iv;
		if (c->next_poll <= now)	/* late: skip missed rounds */
			c->next_poll = conn_next_slot(c, now + iv / 2);
	}
	conn_flush(c);
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;
	struct gatherer	*g = c->g;
	double		 now = gatherer_mono(), slack = now + GATHERER_EPSILON;

	switch (c->state) {
	case CONN_DEAD:
		conn_free(c);
		return;
	case CONN_CLOSING:
		if (slack >= c->close_deadline) {
			if (c->reason[0] == '\0')
				snprintf(c->reason, sizeof c->reason,
				    "closed");
			conn_free(c);
			return;
		}
		break;
	case CONN_HANDSHAKE:
		/*
		 * A TLS peer's first flight is due within first_flight_timeout
		 * of the accept, its first byte included; one that came in
		 * time but is still unread is taken first.
		 */
		if (c->tls == CONN_TLS_FIRST && slack >= c->first_deadline) {
			conn_tls_first(c);
			if (c->tls == CONN_TLS_SHAKE)
				return;		/* with a thread now */
			if (c->state == CONN_HANDSHAKE &&
			    c->tls == CONN_TLS_FIRST)
				conn_fail(c, WIRE_E_TIMEOUT, "no ClientHello "
				    "within %g s", g->cfg.first_flight_timeout);
			break;
		}
		if (slack >= c->hs_deadline) {
			conn_fail(c, WIRE_E_TIMEOUT, "no %s within %g s",
			    conn_speaks(c) ? "HELLO" : "TLS handshake",
			    g->cfg.handshake_timeout);
			break;
		}
		/* FALLTHROUGH */
	case CONN_READY:
		/*
		 * A deadline passed: read what the socket holds first.  A
		 * late loop runs its timers before the I/O of the same
		 * iteration, or before it polled the socket at all (a wait
		 * cut short by a stop and continue), so an answer that came
		 * in time may still be unread.
		 */
		if (c->state == CONN_READY && ev_is_active(&c->rio) &&
		    ((c->polling && slack >= c->poll_sent +
		    g->cfg.poll_timeout) ||
		    slack >= c->last_rx + g->cfg.idle_timeout)) {
			conn_read(c);
			if (c->state != CONN_READY)
				break;
		}
		/* The poll's timeout first: it says more than "idle". */
		if (c->state == CONN_READY && c->polling &&
		    slack >= c->poll_sent + g->cfg.poll_timeout) {
			conn_fail(c, WIRE_E_TIMEOUT, "poll %u unanswered after "
			    "%g s", c->seq, g->cfg.poll_timeout);
			break;
		}
		if (slack >= c->last_rx + g->cfg.idle_timeout) {
			conn_fail(c, WIRE_E_TIMEOUT, "idle for %g s",
			    g->cfg.idle_timeout);
			break;
		}
		if (c->state == CONN_READY && !c->polling &&
		    slack >= c->next_poll)
			conn_poll(c, now);
		break;
	}
	if (c->state == CONN_DEAD) {
		conn_free(c);
		return;
	}
	conn_timer_arm(c, now);
}

/*
 * The first byte of a connection to a TLS gatherer, peeked at before
 * OpenSSL sees anything: a plaintext provider (an old furl) is told in
 * words it can read, not in a TLS alert.  A TLS peer goes to a handshake
 * thread, and the loop forgets the connection until it comes back.
 */
static void
conn_tls_first(struct conn *c)
{
	struct gatherer		*g = c->g;
	struct handshake_job	*j;
	uint8_t			 b;
	ssize_t			 n;

	n = recv(c->fd, &b, 1, MSG_PEEK);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_kill(c, "read: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		conn_kill(c, "closed before the TLS handshake");
		return;
	}
	if (b != 0x16) {	/* a TLS record of type handshake */
		c->tls = CONN_TLS_NONE;
		conn_fail(c, WIRE_E_UNEXPECTED, "this gatherer speaks TLS only: "
		    "plaintext refused (use its tally+tls:// furl)");
		return;
	}
	if ((j = calloc(1, sizeof *j)) == NULL) {
		gatherer_count(g, GS_ERRORS, 1);
		conn_kill(c, "out of memory");
		return;
	}
	j->fd = c->fd;
	j->timeout = c->hs_deadline - gatherer_mono();
	j->first_timeout = g->cfg.first_flight_timeout;
	j->arg = c;
	c->job = j;
	c->tls = CONN_TLS_SHAKE;
	ev_io_stop(g->loop, &c->rio);
	ev_io_stop(g->loop, &c->wio);
	ev_timer_stop(g->loop, &c->timer);
	handshake_submit(g->hs, j);
}

/* A handshake back from its thread, in the loop. */
static void
gatherer_handshake_done(void *arg, struct handshake_job *j)
{
	struct gatherer	*g = arg;
	struct conn	*c = j->arg;
	char		 err[sizeof j->err];

	c->job = NULL;
	c->ssl = j->tls;
	memcpy(err, j->err, sizeof err);
	switch (j->rc) {
	case HANDSHAKE_OK:
		free(j);
		c->tls = CONN_TLS_UP;
		ev_io_start(g->loop, &c->rio);
		conn_timer_arm(c, gatherer_mono());
		/* HELLO may have come with the client's last flight. */
		conn_read(c);
		return;
	case HANDSHAKE_TIMEOUT:
		free(j);
		/* The thread says which deadline: the first flight's or all. */
		if (err[0] != '\0')
			conn_fail(c, WIRE_E_TIMEOUT, "%s", err);
		else
			conn_fail(c, WIRE_E_TIMEOUT, "no TLS handshake within "
			    "%g s", g->cfg.handshake_timeout);
		return;
	case HANDSHAKE_CANCELLED:	/* the gatherer is stopping */
		free(j);
		return;
	default:
		free(j);
		conn_log(c, "TLS handshake failed: %s", err);
		gatherer_count(g, GS_ERRORS, 1);
		conn_kill(c, "TLS handshake failed: %s", err);
		return;
	}
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;

	if (c->state == CONN_HANDSHAKE && c->tls == CONN_TLS_FIRST) {
		conn_tls_first(c);
		return;
	}
	if (c->wr_wants_read) {
		c->wr_wants_read = 0;
		conn_flush(c);
	}
	conn_read(c);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;

	if (c->rd_wants_write) {
		c->rd_wants_write = 0;
		ev_io_start(c->g->loop, &c->rio);
		conn_flush(c);
		conn_read(c);
		return;
	}
	conn_flush(c);
}

/*
 * Trust on first use, as ssh's known_hosts: the key a node id is bound to
 * is its live connection's, else its record's in the statsfile (or in the
 * batch, newer).  None bound: a TLS connection binds its key with its
 * first snapshot; a plaintext one stays unbound.  Bound: only that key's
 * holder may speak for the node, never a plaintext peer.  A new node
 * counts against max_nodes.  0, or -1 with the connection closed.
 */
static int
conn_check_key(struct conn *c)
{
	struct gatherer		*g = c->g;
	struct record_node	 rn;
	struct batch_ent	*e;
	struct conn		*old;
	const char		*bound;
	char			 err[TALLY_ERRLEN];
	size_t			 nodes = 0;
	int			 rc;

	if ((old = gatherer_find(g, c->node_id)) != NULL)
		bound = old->key;
	else if ((e = gatherer_batched(g, c->node_id)) != NULL)
		bound = e->rn.key;
	else {
		rc = store_read_node(g->store, c->node_id, &rn, &nodes, err,
		    sizeof err);
		if (rc < 0) {
			conn_log(c, "node %s: cannot read its record: %s",
			    c->node_id, err);
			conn_fail(c, WIRE_E_BUSY, "the gatherer cannot read "
			    "node %s's record now: try later", c->node_id);
			return -1;
		}
		/* New nodes still on their way to the statsfile count too. */
		if (rc == 0 && nodes + g->nnew >= g->cfg.max_nodes) {
			conn_fail(c, WIRE_E_LIMIT, "the statsfile holds %zu "
			    "nodes, tallyd's limit (tallyd --max-nodes %u): "
			    "new node %s refused", nodes + g->nnew,
			    g->cfg.max_nodes, c->node_id);
			return -1;
		}
		if (rc == 0) {
			c->is_new = 1;
			g->nnew++;
		}
		bound = rn.key;
	}
	if (bound[0] == '\0' || strcmp(bound, c->key) == 0)
		return 0;
	gatherer_count(g, GS_ERRORS, 1);
	if (c->key[0] == '\0') {
		conn_fail(c, WIRE_E_KEY, "node id %s is bound to key %s: it "
		    "connects over TLS with that key only", c->node_id, bound);
		return -1;
	}
	gatherer_log("node %s: key %s from %s does not match the key %s "
	    "bound to it; refused (tally forget %s accepts the new key)",
	    c->node_id, c->key, c->addr, bound, c->node_id);
	snprintf(c->reason, sizeof c->reason, "key refused");
	/* Within WIRE_ERRMSG_MAX for any node id. */
	snprintf(err, sizeof err, "node id %s is bound to another key (%s): "
	    "refused; the gatherer's operator accepts a new key with tally "
	    "forget", c->node_id, bound);
	conn_close(c, WIRE_E_KEY, err);
	return -1;
}

static int
gatherer_counter_cb(void *ctx, const char *name, size_t len, int64_t v)
{
	return snapshot_add_counter(ctx, name, len, v);
}

/*
 * WELCOME, with the node's counters as the statsfile holds them, so that
 * a restarted node resumes them.  A snapshot of the node still in the
 * batch is committed first: it is newer.  0, or -1 with c closed.
 */
static int
conn_welcome(struct conn *c)
{
	struct gatherer	*g = c->g;
	struct snapshot	 counters;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	if (gatherer_batched(g, c->node_id) != NULL)
		gatherer_commit(g);
	snapshot_init(&counters);
	err[0] = '\0';
	rc = store_read_counters(g->store, c->node_id, gatherer_counter_cb,
	    &counters, err, sizeof err);
	if (rc != 0) {
		snapshot_free(&counters);
		conn_log(c, "node %s: cannot read its counters: %s",
		    c->node_id, err);
		conn_fail(c, WIRE_E_BUSY, "the gatherer cannot read node %s's "
		    "counters now: try later", c->node_id);
		return -1;
	}
	if (err[0] != '\0')
		conn_log(c, "%s", err);
	rc = wire_put_welcome(&c->out, TALLY_PROTOCOL_VERSION, g->interval_ms,
	    &counters);
	snapshot_free(&counters);
	if (rc != 0) {
		conn_fail(c, WIRE_E_LIMIT, "node %s's counters do not fit a "
		    "WELCOME: %s", c->node_id, tally_strerror(rc));
		return -1;
	}
	return 0;
}

static void
conn_hello(struct conn *c, const uint8_t *p, size_t len)
{
	struct gatherer		*g = c->g;
	struct wire_hello	 h;
	struct conn		*old;
	char			 err[TALLY_ERRLEN];
	uint16_t		 version;
	double			 now;

	/* Before parsing: another version's HELLO may be laid out anew. */
	if (len >= 2 && (version = (uint16_t)(p[0] << 8 | p[1])) !=
	    TALLY_PROTOCOL_VERSION) {
		conn_fail(c, WIRE_E_VERSION, "protocol version %u is not "
		    "spoken here: this gatherer speaks version %d only (%s)",
		    version, TALLY_PROTOCOL_VERSION,
		    version < TALLY_PROTOCOL_VERSION ? "upgrade the node's "
		    "libtally" : "upgrade tallyd");
		return;
	}
	if (wire_get_hello(p, len, &h, err, sizeof err) != 0) {
		conn_fail(c, WIRE_E_MALFORMED, "%s", err);
		return;
	}
	if (!gatherer_secret_ok(g, h.secret, h.secret_len)) {
		/* Which node holds a stale furl, if it says so readably. */
		if (name_node_id_valid(h.node_id, h.node_len))
			conn_fail(c, WIRE_E_AUTH, "wrong secret (from node "
			    "%.*s)", (int)h.node_len, h.node_id);
		else
			conn_fail(c, WIRE_E_AUTH, "wrong secret");
		return;
	}
	/* Authenticated from here on; the names are still the peer's. */
	if (!name_node_id_valid(h.node_id, h.node_len)) {
		conn_fail(c, WIRE_E_NAME, "invalid node id (1-64 of "
		    "[a-z0-9_-])");
		return;
	}
	if (!name_nickname_valid(h.nickname, h.nick_len)) {
		conn_fail(c, WIRE_E_NAME, "invalid nickname (1-128 printable "
		    "characters)");
		return;
	}
	if (h.node_len == strlen(tally_provider_node_id(g->self)) &&
	    memcmp(h.node_id, tally_provider_node_id(g->self),
	    h.node_len) == 0) {
		conn_fail(c, WIRE_E_NAME, "node id %.*s is the gatherer's own",
		    (int)h.node_len, h.node_id);
		return;
	}
	memcpy(c->node_id, h.node_id, h.node_len);
	c->node_id[h.node_len] = '\0';
	memcpy(c->nickname, h.nickname, h.nick_len);
	c->nickname[h.nick_len] = '\0';
	/*
	 * The handshake made sure there is a certificate.  On a TLS
	 * gatherer, no HELLO counts unless it came over TLS with a key.
	 */
	if (g->tls != NULL && (c->tls != CONN_TLS_UP ||
	    tls_peer_key(c->ssl, c->key, sizeof c->key) != 0)) {
		conn_fail(c, WIRE_E_KEY, "no client key in the TLS handshake");
		return;
	}
	if (conn_check_key(c) != 0)
		return;

	/*
	 * One live writer per node id, local providers included.  Taken
	 * before an older connection lets go, so that the lock never lapses.
	 */
	if (nodelock_take(g->locks, c->node_id, err, sizeof err) != 0) {
		conn_log(c, "%s", err);
		conn_fail(c, WIRE_E_LOCKED, "node id %s is written by another "
		    "live process on the gatherer's machine (one writer per "
		    "node id)", c->node_id);
		return;
	}
	c->locked = 1;
	if ((old = gatherer_find(g, c->node_id)) != NULL) {
		conn_log(old, "replaced by a newer connection from %s",
		    c->addr);
		snprintf(old->reason, sizeof old->reason, "replaced by a "
		    "newer connection from %s", c->addr);
		conn_close(old, WIRE_E_REPLACED, "replaced by a newer "
		    "connection");
	}
	if (gatherer_hash_add(g, c) != 0) {
		conn_kill(c, "out of memory");
		return;
	}
	if (conn_welcome(c) != 0)
		return;
	conn_addr_release(c);
	c->state = CONN_READY;
	c->phase = (double)(name_hash(c->node_id, h.node_len) %
	    1000003) / 1000003.0 * g->cfg.interval;
	if (c->key[0] != '\0')
		gatherer_log("connected node %s (%s) from %s, key %s",
		    c->node_id, c->nickname, c->addr, c->key);
	else
		gatherer_log("connected node %s (%s) from %s", c->node_id,
		    c->nickname, c->addr);
	now = gatherer_mono();
	conn_poll(c, now);
	if (c->state == CONN_READY)
		conn_timer_arm(c, now);
}

static void
conn_snapshot(struct conn *c, const uint8_t *p, size_t len)
{
	struct gatherer		*g = c->g;
	struct batch_ent	*e;
	char			 err[TALLY_ERRLEN];
	uint32_t		 seq;
	int64_t			 t, now;
	size_t			 n;
	int			 rc;

	/* The seq comes first: a stale answer costs no decoding. */
	if (len >= 4 && (seq = gatherer_be32(p)) != c->seq) {
		conn_fail(c, WIRE_E_UNEXPECTED, "SNAPSHOT answers poll %u, "
		    "not the outstanding poll %u", seq, c->seq);
		return;
	}
	/* So do too many counters (after seq and time): none is decoded. */
	if (len >= 16 && gatherer_be32(p + 12) > g->cfg.max_metrics) {
		conn_fail(c, WIRE_E_LIMIT, "SNAPSHOT of %u counters is over "
		    "tallyd's limit of %u metrics a node (tallyd "
		    "--max-metrics)", gatherer_be32(p + 12),
		    g->cfg.max_metrics);
		return;
	}
	e = &g->batch[g->nbatch];
	snapshot_reset(&e->snap);
	err[0] = '\0';
	rc = wire_get_snapshot(p, len, &seq, &t, &e->snap, err, sizeof err);
	if (rc != 0 && gatherer_snap_size(&e->snap) > GATHERER_SLOT_KEEP)
		snapshot_free(&e->snap);
	if (rc == TALLY_ENOMEM) {
		conn_kill(c, "out of memory decoding a SNAPSHOT");
		return;
	}
	if (rc != 0) {
		conn_fail(c, rc == WIRE_EBADNAME ? WIRE_E_NAME :
		    WIRE_E_MALFORMED, "%s", err);
		return;
	}
	if (e->snap.ncounters + e->snap.nstats > g->cfg.max_metrics) {
		conn_fail(c, WIRE_E_LIMIT, "SNAPSHOT of %zu metrics is over "
		    "tallyd's limit of %u a node (tallyd --max-metrics)",
		    e->snap.ncounters + e->snap.nstats, g->cfg.max_metrics);
		if (gatherer_snap_size(&e->snap) > GATHERER_SLOT_KEEP)
			snapshot_free(&e->snap);
		return;
	}
	snapshot_finish(&e->snap);
	memcpy(e->node_id, c->node_id, sizeof e->node_id);
	memset(&e->rn, 0, sizeof e->rn);
	memcpy(e->rn.nickname, c->nickname, sizeof e->rn.nickname);
	memcpy(e->rn.key, c->key, sizeof e->rn.key);
	/*
	 * The node's own clock dates its snapshot, unless it is outside
	 * the sane window (before 2000, or more than a day ahead of ours):
	 * then tallyd's clock does, so that no hostile time reaches the
	 * statsfile, and a node from the future can still go stale and be
	 * pruned.  Said once per connection.
	 */
	now = (int64_t)time(NULL);
	if (!record_time_sane(t, now)) {
		if (!c->clock_logged)
			conn_log(c, "snapshot time %lld is out of range (before "
			    "2000 or over a day ahead of this clock); dated "
			    "%lld instead", (long long)t, (long long)now);
		c->clock_logged = 1;
		t = now;
	}
	e->rn.time = t;
	snprintf(e->rn.source, sizeof e->rn.source, "remote %s", c->addr);
	e->rn.interval = g->cfg.interval;
	n = e->snap.ncounters + e->snap.nstats;
	c->polling = 0;
	gatherer_count(g, GS_SNAPSHOTS, 1);
	gatherer_count(g, GS_SAMPLES, (int64_t)n);
	if (g->cfg.verbose)
		conn_log(c, "snapshot %u: %zu counters, %zu stats, %zu bytes",
		    seq, e->snap.ncounters, e->snap.nstats, len + 1 +
		    WIRE_LENGTH);
	if (g->nbatch++ == 0) {
		/* Set anew: a stopped timer keeps what was left of its wait. */
		ev_timer_set(&g->batch_timer, GATHERER_BATCH_DELAY, 0.);
		ev_timer_start(g->loop, &g->batch_timer);
	}
	g->nsamples += n;
	if (g->nbatch >= GATHERER_BATCH_MAX ||
	    g->nsamples >= GATHERER_BATCH_SAMPLES)
		gatherer_commit(g);
	conn_timer_arm(c, gatherer_mono());
}

static void
conn_peer_error(struct conn *c, const uint8_t *p, size_t len)
{
	const char	*msg;
	char		 shown[WIRE_ERRMSG_MAX + 1], err[128];
	size_t		 mlen, i;
	uint16_t	 code;

	if (wire_get_error(p, len, &code, &msg, &mlen, err,
	    sizeof err) != 0) {
		conn_kill(c, "sent a malformed ERROR: %s", err);
		return;
	}
	if (mlen > WIRE_ERRMSG_MAX)
		mlen = WIRE_ERRMSG_MAX;
	for (i = 0; i < mlen; i++)
		shown[i] = msg[i] >= 0x20 && msg[i] < 0x7f ? msg[i] : '?';
	shown[mlen] = '\0';
	conn_kill(c, "peer sent ERROR %u: %s", code, shown);
}

/*
 * Refuse a frame from its header alone, before its body is buffered: the
 * type must fit the state, and before the handshake no frame may be bigger
 * than a HELLO.  Returns 0 or the ERROR code sent.
 */
static int
conn_check_header(struct conn *c, uint32_t flen, const uint8_t *typep)
{
	static const char *names[] = { "?", "HELLO", "WELCOME", "POLL",
	    "SNAPSHOT", "ERROR" };
	uint8_t	 type;

	if (flen == 0) {
		conn_fail(c, WIRE_E_MALFORMED, "frame of length 0");
		return WIRE_E_MALFORMED;
	}
	if (c->state == CONN_HANDSHAKE && c->tls == CONN_TLS_NONE &&
	    (flen >> 16) == 0x1603) {
		/* 16 03: a TLS handshake record, where a length should be. */
		conn_fail(c, WIRE_E_TOO_BIG, "a TLS handshake to a plaintext "
		    "gatherer (tallyd --plaintext): the node needs this "
		    "gatherer's tally:// furl");
		return WIRE_E_TOO_BIG;
	}
	if (flen > c->g->cfg.max_frame) {
		conn_fail(c, WIRE_E_TOO_BIG, "frame of %u bytes is over tallyd's "
		    "limit of %zu (tallyd --max-frame)", flen,
		    c->g->cfg.max_frame);
		return WIRE_E_TOO_BIG;
	}
	if (c->state == CONN_HANDSHAKE && flen > GATHERER_HELLO_MAX) {
		conn_fail(c, WIRE_E_TOO_BIG, "frame of %u bytes before the "
		    "handshake (at most %u)", flen, GATHERER_HELLO_MAX);
		return WIRE_E_TOO_BIG;
	}
	if (typep == NULL)
		return 0;
	type = *typep;
	if (type < WIRE_HELLO || type > WIRE_ERROR) {
		conn_fail(c, WIRE_E_MALFORMED, "unknown frame type %u", type);
		return WIRE_E_MALFORMED;
	}
	if (type == WIRE_ERROR)
		return 0;
	if (c->state == CONN_HANDSHAKE && type != WIRE_HELLO) {
		conn_fail(c, WIRE_E_UNEXPECTED, "%s before HELLO",
		    names[type]);
		return WIRE_E_UNEXPECTED;
	}
	if (c->state == CONN_READY && type != WIRE_SNAPSHOT) {
		conn_fail(c, WIRE_E_UNEXPECTED, "%s after the handshake",
		    names[type]);
		return WIRE_E_UNEXPECTED;
	}
	if (c->state == CONN_READY && !c->polling) {
		conn_fail(c, WIRE_E_UNEXPECTED, "SNAPSHOT without a POLL");
		return WIRE_E_UNEXPECTED;
	}
	return 0;
}

/*
 * Handle the whole frames at the start of (buf, len).  Returns the bytes
 * consumed, or -1 when the connection is closing and the rest is moot.
 */
static long
conn_parse(struct conn *c, const uint8_t *buf, size_t len)
{
	const uint8_t	*payload;
	size_t		 off = 0, plen;
	uint8_t		 type;
	long		 n;

	while (len - off >= WIRE_LENGTH) {
		if (conn_check_header(c, gatherer_be32(buf + off),
		    len - off > WIRE_LENGTH ? buf + off + WIRE_LENGTH :
		    NULL) != 0)
			return -1;
		n = wire_frame(buf + off, len - off, &type, &payload, &plen);
		if (n == 0)
			break;
		if (n < 0) {	/* conn_check_header saw to these */
			conn_fail(c, WIRE_E_MALFORMED, "bad frame");
			return -1;
		}
		switch (type) {
		case WIRE_HELLO:
			conn_hello(c, payload, plen);
			break;
		case WIRE_SNAPSHOT:
			conn_snapshot(c, payload, plen);
			break;
		case WIRE_ERROR:
			conn_peer_error(c, payload, plen);
			break;
		}
		if (c->state == CONN_CLOSING || c->state == CONN_DEAD)
			return -1;
		off += (size_t)n;
	}
	return (long)off;
}

/* Bytes still missing from the frame begun in c->in, if its size is known. */
static size_t
conn_missing(const struct conn *c)
{
	size_t	 total;

	/* A header first: no more than a HELLO's worth on a guess. */
	if (c->in.len < WIRE_LENGTH)
		return 256 - c->in.len;
	total = WIRE_LENGTH + (size_t)gatherer_be32(c->in.data);
	return total > c->in.len ? total - c->in.len : 256;
}

/* Read whatever the peer sent and act on each whole frame. */
static void
conn_read(struct conn *c)
{
	struct gatherer	*g = c->g;
	uint8_t		*buf;
	size_t		 room, want, rest;
	long		 n, used;
	int		 i, shared, tls;

	for (i = 0;; i++) {
		if (c->state == CONN_DEAD)
			return;
		tls = c->ssl != NULL && c->state != CONN_CLOSING;
		/*
		 * Fair to the others: a few reads per wakeup, and the socket
		 * stays readable for the rest.  OpenSSL returns after each
		 * record that carries no data (the server clears
		 * SSL_MODE_AUTO_RETRY), so a flood of KeyUpdates or alerts
		 * costs a read each.  Bytes that TLS decrypted already (one
		 * record at most, which the shared buffer holds whole) are
		 * not in the socket: one more read takes them, or no event
		 * would.
		 */
		if (i >= GATHERER_READS && !(tls && i == GATHERER_READS &&
		    tls_pending(c->ssl)))
			return;
		/*
		 * With nothing pending, read into the shared buffer and parse
		 * from there: most frames come whole and need no copy.  A
		 * frame begun earlier is completed in the connection's own
		 * buffer, grown to what the frame still needs.
		 */
		shared = c->in.len == 0 || c->state == CONN_CLOSING;
		if (shared) {
			buf = g->rbuf;
			room = GATHERER_RBUF;
		} else {
			want = conn_missing(c);
			if (want > GATHERER_GROW_MAX)
				want = GATHERER_GROW_MAX;
			if (conn_in_reserve(c, want) != 0)
				return;
			buf = c->in.data + c->in.len;
			room = c->in.cap - c->in.len;
		}
		n = conn_recv(c, buf, room);
		if (n < 0)
			return;
		if (n == 0) {
			if (c->state == CONN_CLOSING)
				conn_kill(c, "closed");
			else if (c->in.len > 0) {
				conn_log(c, "closed in the middle of a frame "
				    "(%zu bytes of it)", c->in.len);
				gatherer_count(g, GS_ERRORS, 1);
				conn_kill(c, "truncated frame");
			} else
				conn_kill(c, "closed by the peer");
			return;
		}
		gatherer_count(g, GS_BYTES_IN, n);
		/* A closing connection only waits for the peer's EOF. */
		if (c->state == CONN_CLOSING)
			continue;
		c->last_rx = gatherer_mono();
		if (shared) {
			if ((used = conn_parse(c, buf, (size_t)n)) < 0)
				return;
			if ((rest = (size_t)n - (size_t)used) > 0) {
				if (conn_in_reserve(c, rest) != 0)
					return;
				memcpy(c->in.data, buf + used, rest);
				c->in.len = rest;
			}
		} else {
			c->in.len += (size_t)n;
			if ((used = conn_parse(c, c->in.data, c->in.len)) < 0)
				return;
			wire_buf_consume(&c->in, (size_t)used);
			/* Big frames leave no big buffer behind. */
			if (c->in.len == 0)
				conn_in_free(c);
		}
		/* A short read drained the socket; TLS reads a record. */
		if (!tls && (size_t)n < room)
			return;
	}
}

static struct conn *
conn_new(struct gatherer *g, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	struct conn	*c;
	double		 now = gatherer_mono();
	int		 one = 1;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->g = g;
	c->fd = fd;
	c->state = CONN_HANDSHAKE;
	c->tls = g->tls != NULL ? CONN_TLS_FIRST : CONN_TLS_NONE;
	wire_buf_init(&c->in);
	wire_buf_init(&c->out);
	gatherer_fmt_addr(sa, salen, c->addr, sizeof c->addr);
	/* Polls are tiny and must not wait for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->last_rx = now;
	c->hs_deadline = now + g->cfg.handshake_timeout;
	c->first_deadline = now + g->cfg.first_flight_timeout;
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	ev_init(&c->timer, conn_timer_cb);
	c->rio.data = c->wio.data = c->timer.data = c;
	c->next = g->conns;
	if (g->conns != NULL)
		g->conns->prev = c;
	g->conns = c;
	g->nconns++;
	ev_io_start(g->loop, &c->rio);
	conn_timer_arm(c, now);
	return c;
}

/* ---- the listener ------------------------------------------------------- */

/*
 * Over the connection limit: say so and close.  What the peer already sent
 * is read first, so that the close is a FIN after our ERROR, not a reset.
 * A TLS peer could only read an ERROR after a TLS handshake, the costly
 * part of a connection that the limit is there to refuse: it is closed
 * without a word, and the log says why.
 */
static void
gatherer_busy(struct gatherer *g, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	struct wire_buf	 b;
	char		 addr[GATHERER_ADDRLEN];
	double		 now;
	ssize_t		 n;

	while (recv(fd, g->rbuf, GATHERER_RBUF, 0) > 0)
		;
	wire_buf_init(&b);
	if (g->tls == NULL &&
	    wire_put_error(&b, WIRE_E_BUSY, "too many connections") == 0 &&
	    (n = send(fd, b.data, b.len, MSG_NOSIGNAL)) > 0)
		gatherer_count(g, GS_BYTES_OUT, n);
	wire_buf_free(&b);
	shutdown(fd, SHUT_WR);
	close(fd);
	gatherer_count(g, GS_DISCONNECTIONS, 1);
	gatherer_count(g, GS_ERRORS, 1);
	/* One line a second at most: a flood must not flood the log. */
	g->busy_refused++;
	now = gatherer_mono();
	if (now - g->busy_logged >= 1.0) {
		gatherer_fmt_addr(sa, salen, addr, sizeof addr);
		gatherer_log("%s: refused: %u connections is the limit (%lu "
		    "refused since the last such line)", addr,
		    g->cfg.max_connections, g->busy_refused);
		g->busy_refused = 0;
		g->busy_logged = now;
	}
}

/*
 * Over the cap of TLS handshakes from one address: closed at once, as
 * over the connection limit, and said once a second at most.
 */
static void
gatherer_addr_refuse(struct conn *c)
{
	struct gatherer	*g = c->g;
	double		 now = gatherer_mono();

	gatherer_count(g, GS_ERRORS, 1);
	conn_kill(c, "over the limit of TLS handshakes in flight from its "
	    "address");
	g->addr_refused++;
	if (now - g->addr_logged >= 1.0) {
		gatherer_log("%s: refused: %u TLS handshakes in flight from "
		    "one address is the limit (tallyd "
		    "--max-handshakes-per-addr; %lu refused since the last "
		    "such line)", c->addr, g->cfg.max_handshakes_per_addr,
		    g->addr_refused);
		g->addr_refused = 0;
		g->addr_logged = now;
	}
}

static void
gatherer_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gatherer		*g = w->data;
	struct sockaddr_storage	 ss;
	struct conn		*c;
	socklen_t		 slen;
	int			 i, fd;

	for (i = 0; i < GATHERER_ACCEPTS; i++) {
		slen = sizeof ss;
		fd = accept4(g->lfd, (struct sockaddr *)&ss, &slen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EAGAIN:
#if EAGAIN != EWOULDBLOCK
			case EWOULDBLOCK:
#endif
				return;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				/*
				 * The pending connection stays in the backlog
				 * and the listener stays readable: retrying
				 * now would spin.  Pause instead (ev.pod, "The
				 * special problem of accept()ing when you
				 * can't").
				 */
				gatherer_log("accept: %s: pausing accepts for "
				    "%g s (%u connections open)",
				    strerror(errno), GATHERER_ACCEPT_PAUSE,
				    g->nconns);
				gatherer_count(g, GS_ERRORS, 1);
				ev_io_stop(loop, &g->accept_w);
				ev_timer_set(&g->accept_pause,
				    GATHERER_ACCEPT_PAUSE, 0.);
				ev_timer_start(loop, &g->accept_pause);
				return;
			default:
				gatherer_log("accept: %s", strerror(errno));
				gatherer_count(g, GS_ERRORS, 1);
				return;
			}
		}
		gatherer_count(g, GS_CONNECTIONS, 1);
		if (g->nconns >= g->cfg.max_connections) {
			gatherer_busy(g, fd, (struct sockaddr *)&ss, slen);
			continue;
		}
		if ((c = conn_new(g, fd, (struct sockaddr *)&ss, slen)) ==
		    NULL) {
			gatherer_log("accept: out of memory");
			gatherer_count(g, GS_ERRORS, 1);
			gatherer_count(g, GS_DISCONNECTIONS, 1);
			close(fd);
			continue;
		}
		if (g->tls != NULL && conn_addr_take(c) != 0)
			gatherer_addr_refuse(c);
	}
}

static void
gatherer_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gatherer	*g = w->data;

	if (!g->stopped)
		ev_io_start(loop, &g->accept_w);
}

static int
gatherer_listen(struct gatherer *g, char *err, size_t errlen)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 slen;
	int			 rc, fd = -1, one = 1, e = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(g->listen_host, g->listen_port, &hints,
	    &res)) != 0) {
		snprintf(err, errlen, "cannot listen on %s:%s: %s",
		    g->listen_host, g->listen_port, gai_strerror(rc));
		return TALLY_EINVAL;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, GATHERER_BACKLOG) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s:%s: %s",
		    g->listen_host, g->listen_port, strerror(e));
		return TALLY_ESYS;
	}
	slen = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &slen) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, slen, g->host, sizeof g->host,
	    g->port, sizeof g->port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(err, errlen, "getsockname: %s", strerror(errno));
		close(fd);
		return TALLY_ESYS;
	}
	g->lfd = fd;
	return 0;
}

/* ---- the gatherer's own stats ------------------------------------------- */

/*
 * tallyd.connected: nodes connected now; tallyd.commit_latency_seconds:
 * the last commit; tallyd.commit_latency_max_seconds: the slowest commit
 * since the previous report, so each sample covers one interval.  Base
 * units (seconds), as Prometheus's naming conventions ask.
 */
static int
gatherer_get_stats(void *ctx, tally_sink *sink)
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
gatherer_provider_log(void *ctx, int level, const char *msg)
{
	gatherer_log("%s", msg);
}

static int
gatherer_self_new(struct gatherer *g, char *err, size_t errlen)
{
	tally_options	 opt;
	int		 rc, i;

	memset(&opt, 0, sizeof opt);
	opt.nodedir = g->basedir;
	opt.nickname = "tallyd";
	opt.statsfile = g->statsfile;
	opt.flush_interval = g->cfg.interval;
	opt.log = gatherer_provider_log;
	if ((rc = tally_provider_new(&g->self, &opt)) != 0) {
		snprintf(err, errlen, "own stats: %s", tally_strerror(rc));
		return rc;
	}
	for (i = 0; i < GS_N; i++) {
		if ((g->stat[i] = tally_counter_get(g->self,
		    gatherer_stat_names[i])) == NULL) {
			snprintf(err, errlen, "own stats: out of memory");
			return TALLY_ENOMEM;
		}
	}
	g->producer.name = "tallyd";
	g->producer.get_stats = gatherer_get_stats;
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

/* ---- the interface ------------------------------------------------------ */

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
	if (g->cfg.first_flight_timeout <= 0)
		g->cfg.first_flight_timeout = GATHERER_FIRST_FLIGHT;
	if (g->cfg.max_handshakes_per_addr == 0)
		g->cfg.max_handshakes_per_addr = GATHERER_HS_PER_ADDR;
	if (g->cfg.max_nodes == 0)
		g->cfg.max_nodes = GATHERER_MAX_NODES;
	if (g->cfg.max_metrics == 0)
		g->cfg.max_metrics = GATHERER_MAX_METRICS;
	if (g->cfg.max_frame == 0)
		g->cfg.max_frame = WIRE_FRAME_MAX;
	if (g->cfg.max_input == 0)
		g->cfg.max_input = GATHERER_MAX_INPUT;
	g->interval_ms = cfg->interval * 1000 > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)(cfg->interval * 1000);
	if ((g->secret = strdup(cfg->secret)) == NULL ||
	    (g->statsfile = strdup(cfg->statsfile)) == NULL ||
	    (g->basedir = strdup(cfg->basedir)) == NULL ||
	    (g->listen_host = strdup(cfg->listen_host)) == NULL ||
	    (g->listen_port = strdup(cfg->listen_port)) == NULL ||
	    (g->rbuf = malloc(GATHERER_RBUF)) == NULL ||
	    (g->table = calloc(GATHERER_HASH_MIN, sizeof *g->table)) == NULL ||
	    (g->batch = calloc(GATHERER_BATCH_MAX, sizeof *g->batch)) ==
	    NULL ||
	    (g->slots = calloc(GATHERER_BATCH_MAX, sizeof *g->slots)) == NULL)
		goto nomem;
	g->secret_len = strlen(g->secret);
	g->tsize = GATHERER_HASH_MIN;
	/* The strings are ours now; the caller's may go. */
	g->cfg.secret = g->secret;
	g->cfg.statsfile = g->statsfile;
	g->cfg.basedir = g->basedir;
	g->cfg.listen_host = g->listen_host;
	g->cfg.listen_port = g->listen_port;
	ev_init(&g->batch_timer, gatherer_batch_cb);
	g->batch_timer.data = g;
	ev_init(&g->trim_timer, gatherer_trim_cb);
	g->trim_timer.repeat = GATHERER_TRIM_QUIET;
	g->trim_timer.data = g;
	ev_init(&g->accept_pause, gatherer_pause_cb);
	g->accept_pause.data = g;

	if (cfg->tls_key != NULL && (rc = tls_server_ctx(&g->tls,
	    cfg->tls_key, cfg->tls_cert, g->fingerprint, sizeof g->fingerprint,
	    err, errlen)) != 0)
		goto fail;
	/* The paths were only needed to load the identity. */
	g->cfg.tls_key = g->cfg.tls_cert = NULL;
	if (g->tls != NULL && (rc = handshake_pool_new(&g->hs, loop, g->tls,
	    gatherer_tls_threads(cfg->tls_threads), gatherer_handshake_done, g,
	    err, errlen)) != 0)
		goto fail;
	if ((rc = store_open(&g->store, g->statsfile, 0, err, errlen)) != 0)
		goto fail;
	if ((rc = nodelock_open(&g->locks, g->statsfile, err, errlen)) != 0)
		goto fail;
	if ((rc = gatherer_listen(g, err, errlen)) != 0)
		goto fail;
	if ((rc = gatherer_self_new(g, err, errlen)) != 0)
		goto fail;
	ev_io_init(&g->accept_w, gatherer_accept_cb, g->lfd, EV_READ);
	g->accept_w.data = g;
	ev_io_start(loop, &g->accept_w);
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
	char		 err[64];
	long		 n;
	int		 rc;

	if (g == NULL || g->stopped)
		return;
	g->stopped = 1;
	ev_io_stop(g->loop, &g->accept_w);
	ev_timer_stop(g->loop, &g->accept_pause);
	/* Handshakes in flight are dropped: their peers will retry. */
	handshake_pool_free(g->hs);
	g->hs = NULL;
	if (g->lfd >= 0) {
		close(g->lfd);
		g->lfd = -1;
	}
	/* What the peers sent before the signal counts: read it first. */
	for (c = g->conns; c != NULL; c = c->next)
		if (c->state == CONN_READY && c->polling)
			conn_read(c);
	gatherer_commit(g);
	wire_buf_init(&b);
	if (wire_put_error(&b, WIRE_E_SHUTDOWN, "the gatherer is stopping") !=
	    0)
		b.len = 0;
	for (c = g->conns; c != NULL; c = next) {
		next = c->next;
		/* One try each, without waiting: the loop is ending. */
		if ((c->state == CONN_READY || c->state == CONN_HANDSHAKE) &&
		    c->out.len == 0 && b.len > 0 && conn_speaks(c)) {
			if (c->ssl != NULL) {
				n = tls_write(c->ssl, b.data, b.len, err,
				    sizeof err);
				tls_close_notify(c->ssl);
			} else
				n = send(c->fd, b.data, b.len, MSG_NOSIGNAL);
			if (n > 0)
				gatherer_count(g, GS_BYTES_OUT, n);
		}
		if (c->reason[0] == '\0')
			snprintf(c->reason, sizeof c->reason, "the gatherer "
			    "is stopping");
		shutdown(c->fd, SHUT_WR);
		conn_free(c);
	}
	wire_buf_free(&b);
	if (g->self_attached) {
		/* The own slot's last flush sees the final counts. */
		if ((rc = tally_provider_stop(g->self)) != 0)
			gatherer_log("own stats: %s",
			    tally_provider_errmsg(g->self));
		g->self_attached = 0;
	}
	ev_break(g->loop, EVBREAK_ALL);
}

void
gatherer_free(struct gatherer *g)
{
	size_t	 i;

	if (g == NULL)
		return;
	if (!g->stopped && g->lfd >= 0 && g->self_attached)
		gatherer_shutdown(g);
	if (g->self_attached) {
		tally_provider_stop(g->self);
		g->self_attached = 0;
	}
	handshake_pool_free(g->hs);	/* before the conns it may hold */
	g->hs = NULL;
	while (g->conns != NULL)
		conn_free(g->conns);
	ev_io_stop(g->loop, &g->accept_w);
	ev_timer_stop(g->loop, &g->accept_pause);
	ev_timer_stop(g->loop, &g->batch_timer);
	ev_timer_stop(g->loop, &g->trim_timer);
	if (g->lfd >= 0)
		close(g->lfd);
	tally_provider_free(g->self);
	tls_ctx_free(g->tls);
	if (g->batch != NULL)
		for (i = 0; i < GATHERER_BATCH_MAX; i++)
			snapshot_free(&g->batch[i].snap);
	nodelock_close(g->locks);
	store_close(g->store);
	free(g->slots);
	free(g->batch);
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
