/*
 * loadgen.c: a fleet of providers on one libev loop in one process, for the
 * gatherer's figures in `make bench` and for load tests.  These are not N
 * libtally providers: each connection encodes its SNAPSHOT frame once and
 * answers every POLL by patching seq, time and the values in place, so the
 * client costs little beside the gatherer it measures.  A tally+tls://
 * furl makes every connection TLS 1.3, pinned as a provider pins it
 * (tls.c), non-blocking like the rest, and presenting one node key for
 * all of them as its client certificate.
 *
 * usage: loadgen -f FURL -n CONNECTIONS -m METRICS [-s STALLED]
 *            [-w WINDOW] [-t THREADS] [-o FIRST] [-d SECONDS] [-k KEYFILE]
 *            [-q] [-r]
 *
 *   -n  connections that say HELLO (node id load-NNNNN, nickname "load N")
 *       and answer every POLL with METRICS metrics: the first half
 *       counters load.counter.NNNN, the rest stats load.stat.NNNN
 *   -s  stalled connections: they connect, send half a HELLO, then go
 *       silent until the gatherer closes them (its handshake timeout)
 *   -w  at most WINDOW connections connecting or in the handshake at once
 *       (default 0: all at once, as a fleet does after a gatherer restart)
 *   -t  THREADS loops, each with its share of the connections (default
 *       1): a fleet's client handshakes run in parallel, and one thread
 *       doing them all in a row would make TLS look slower than it is
 *   -o  the first node number (default 0): load-FIRST and up
 *   -d  stop after SECONDS (default 0: run until SIGTERM or SIGINT)
 *   -k  the node key every TLS connection presents (made there if
 *       absent, as tls_node_key() does); default: a new one, made in a
 *       temporary file that is removed once the key is loaded
 *   -q  no progress lines on stderr
 *   -r  a connection the gatherer closes is not lost: it waits for SIGUSR1,
 *       then connects again, resuming its TLS session as a provider does
 *       (a gatherer restart: every connection waits until the new one
 *       listens, then the fleet comes back at once)
 *
 * stdout, one line per event, for scripts (SECONDS since `start`):
 *   start N S REALTIME         connecting begins; REALTIME is epoch seconds
 *   connected N SECONDS        all N connects done
 *   handshaken N SECONDS       all N WELCOMEs received (TLS, HELLO and
 *                              WELCOME: a connection's whole handshake)
 *   answered K SECONDS         K snapshots sent in full, at each multiple of N
 *   stalled-closed S SECONDS   the gatherer closed all S stalled connections
 *   down N SECONDS             (-r) the gatherer closed all N, at each N
 *   lost K SECONDS             a healthy connection failed or was closed,
 *                              the K-th of the fleet: a figure taken now
 *                              would be a smaller fleet's (one line each)
 *   gaps K WORST SECONDS       at each SIGUSR2: of the K gaps between two
 *                              consecutive POLLs of one connection that
 *                              ended since the last SIGUSR2 (or the
 *                              start), across the fleet, the longest was
 *                              WORST seconds (monotonic clock); the
 *                              interval is a gap's floor, and the rest
 *                              is how late the gatherer polled
 *                              (a gap still open at SIGUSR2 counts in
 *                              the window where its POLL comes)
 *   done key value ...         the summary, at exit
 * Exits 0, or 1 if any connection failed, or 2 on a usage or setup error.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "tally-int.h"

#define LG_IN_MAX	512	/* > any gatherer frame (ERROR: 265 bytes) */
#define LG_QUEUE	8	/* polls waiting while a snapshot is in flight */
#define LG_LOG_MAX	10	/* connection errors logged one by one */

enum lg_state {
	LG_IDLE,		/* not started yet */
	LG_CONNECTING,		/* connect() in progress */
	LG_TLS,			/* the TLS handshake */
	LG_HELLO,		/* HELLO sent (or being sent), no WELCOME yet */
	LG_READY,		/* answering polls */
	LG_STALLED,		/* half a HELLO sent, silent */
	LG_DEAD			/* closed */
};

struct lg;

/* What the threads share: the event lines count the whole fleet. */
struct lg_all {
	pthread_mutex_t		 lock;
	int			 n, nstalled;	/* the whole fleet's */
	double			 t0;
	long			 connected, handshaken, answered;
	long			 stalled_closed, polls, errors, closed;
	long			 down;
	long			 next_answered_mark;
	long			 gaps;		/* POLL to POLL, this window */
	double			 gap_max;	/* ... the longest, in s */
	double			 gap_max_all;	/* ... over the whole run */
	int			 stopping;
	struct lg		*lgs;		/* every thread's, for SIGUSR1 */
	int			 nthreads;
};

struct lg_conn {
	struct lg	*lg;
	ev_io		 io;
	int		 fd;
	int		 id;
	int		 stalled;
	enum lg_state	 state;
	double		 t_start;	/* connect() called */
	struct tls	*ssl;		/* TLS, or NULL */
	struct ssl_session_st *sess;	/* the last ticket's, to resume */
	int		 hs_want;	/* EV_READ or EV_WRITE, in LG_TLS */
	int		 rd_wants_write; /* a TLS read waits to write */
	int		 wr_wants_read;	/* a TLS write waits to read */
	struct wire_buf	 hello;
	uint8_t		*frame;		/* the SNAPSHOT, encoded once */
	const uint8_t	*out;		/* what is being sent ... */
	size_t		 outlen, sent;	/* ... and how far */
	int		 sending_snap;
	uint32_t	 queue[LG_QUEUE];
	unsigned	 nq;
	uint32_t	 polls;
	double		 t_poll;	/* the last POLL read, or 0 */
	double		 t_poll_mono;	/* the same, on the monotonic clock */
	double		 t_sent;	/* the last SNAPSHOT sent in full, or 0 */
	uint8_t		 in[LG_IN_MAX];
	size_t		 inlen;
};

struct lg {
	struct lg_all		*all;
	pthread_t		 thread;
	ev_async		 stop;		/* from the first thread */
	struct ev_loop		*loop;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	struct furl		 furl;
	struct ssl_ctx_st	*tls;		/* a tally+tls:// furl */
	int			 n, m, nstalled, window, quiet;
	int			 first;		/* load-FIRST is the first */
	int			 first_stall;	/* and stall-FIRST_STALL */
	double			 duration;
	struct lg_conn		*conns;		/* stalled first, then the rest */
	int			 next;		/* next to start */
	int			 inflight;	/* connecting or in handshake */
	/* The template frame and where its values sit. */
	uint8_t			*tmpl;
	size_t			 tlen;
	uint32_t		*voff;
	size_t			 ncounters, nstats;
	/* Figures. */
	double			 t0;
	double			 connect_max, handshake_max;
	double			 handshake_sum, tls_sum, tls_max;
	long			 connected, handshaken, answered, polls;
	long			 errors, closed, stalled_closed, dropped_polls;
	long			 resumed, down;
	int			 reconnect;	/* -r */
	ev_async		 again;		/* SIGUSR1: reconnect the fleet */
	long			 next_answered_mark;
	unsigned long long	 bytes_out, bytes_in;
	int			 stopping;
	ev_timer		 duration_timer, progress_timer;
	ev_signal		 sigterm, sigint, sigusr1, sigusr2;
};

static void	lg_start_more(struct lg *);
static void	lg_send(struct lg_conn *);

static double
lg_elapsed(struct lg *lg)
{
	return ev_time() - lg->all->t0;
}

/* The monotonic clock, for poll gaps that a clock step must not bend. */
static double
lg_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A POLL read on c: the gap since its last one counts for the fleet. */
static void
lg_poll_gap(struct lg_conn *c)
{
	struct lg_all	*a = c->lg->all;
	double		 now = lg_mono(), gap = now - c->t_poll_mono;
	int		 first = c->t_poll_mono == 0;

	c->t_poll_mono = now;
	if (first)
		return;
	pthread_mutex_lock(&a->lock);
	a->gaps++;
	if (gap > a->gap_max)
		a->gap_max = gap;
	if (gap > a->gap_max_all)
		a->gap_max_all = gap;
	pthread_mutex_unlock(&a->lock);
}

/* The number in a connection's node id: the fleet's, not the thread's. */
static int
lg_number_of(const struct lg_conn *c)
{
	return (c->stalled ? c->lg->first_stall : c->lg->first) + c->id;
}

enum lg_event { LG_EV_CONNECTED, LG_EV_HANDSHAKEN, LG_EV_ANSWERED,
    LG_EV_STALLED_CLOSED, LG_EV_POLL, LG_EV_ERROR, LG_EV_CLOSED, LG_EV_DOWN };

/*
 * Count an event for the fleet, and print its line when the fleet's count
 * reaches the mark.  Returns the fleet's count of errors and closes for
 * LG_EV_ERROR and LG_EV_CLOSED (for the log's limit), else 0.
 */
static long
lg_event(struct lg *lg, enum lg_event ev)
{
	struct lg_all	*a = lg->all;
	long		 r = 0;

	pthread_mutex_lock(&a->lock);
	switch (ev) {
	case LG_EV_CONNECTED:
		if (++a->connected % (a->n + a->nstalled) == 0)
			printf("connected %d %.3f\n", a->n + a->nstalled,
			    lg_elapsed(lg));
		break;
	case LG_EV_HANDSHAKEN:
		if (a->n > 0 && ++a->handshaken % a->n == 0)
			printf("handshaken %d %.3f\n", a->n, lg_elapsed(lg));
		break;
	case LG_EV_ANSWERED:
		if (++a->answered == a->next_answered_mark) {
			printf("answered %ld %.3f\n", a->answered,
			    lg_elapsed(lg));
			a->next_answered_mark += a->n;
		}
		break;
	case LG_EV_STALLED_CLOSED:
		if (++a->stalled_closed == a->nstalled)
			printf("stalled-closed %d %.3f\n", a->nstalled,
			    lg_elapsed(lg));
		r = a->stalled_closed;
		break;
	case LG_EV_DOWN:
		if (++a->down % a->n == 0)
			printf("down %d %.3f\n", a->n, lg_elapsed(lg));
		break;
	case LG_EV_POLL:
		a->polls++;
		break;
	case LG_EV_ERROR:
	case LG_EV_CLOSED:
		if (ev == LG_EV_ERROR)
			a->errors++;
		else
			a->closed++;
		r = a->errors + a->closed;
		printf("lost %ld %.3f\n", r, lg_elapsed(lg));
		break;
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

static void
lg_fail(struct lg_conn *c, const char *fmt, ...)
{
	struct lg	*lg = c->lg;
	char		 msg[300];
	va_list		 ap;
	long		 counted = 0;

	if (c->state == LG_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->state == LG_CONNECTING || c->state == LG_TLS ||
	    c->state == LG_HELLO)
		lg->inflight--;
	if (c->stalled && c->state == LG_STALLED) {
		/* Being closed is what a stalled connection waits for. */
		lg->stalled_closed++;
		if (lg_event(lg, LG_EV_STALLED_CLOSED) == 1)
			fprintf(stderr, "loadgen: stall-%05d: %s after "
			    "%.1f s\n", lg_number_of(c), msg,
			    ev_time() - c->t_start);
	} else if (!lg->stopping && lg->reconnect && c->state == LG_READY) {
		/* -r: the gatherer went away; back at SIGUSR1. */
		lg->down++;
		lg_event(lg, LG_EV_DOWN);
	} else if (!lg->stopping) {
		if (c->state == LG_READY) {
			lg->closed++;
			counted = lg_event(lg, LG_EV_CLOSED);
		} else {
			lg->errors++;
			counted = lg_event(lg, LG_EV_ERROR);
		}
	}
	if (counted > 0 && counted <= LG_LOG_MAX)
		fprintf(stderr, "loadgen: %s-%05d: %s\n",
		    c->stalled ? "stall" : "load", lg_number_of(c), msg);
	else if (counted == LG_LOG_MAX + 1)
		fprintf(stderr, "loadgen: further connection errors are only "
		    "counted\n");
	ev_io_stop(lg->loop, &c->io);
	tls_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	c->state = LG_DEAD;
	wire_buf_free(&c->hello);
	if (!lg->stopping)
		lg_start_more(lg);
}

/* Watch for what the connection waits on, and only that (see remote.c). */
static void
lg_update(struct lg_conn *c)
{
	int	 events;

	if (c->state == LG_CONNECTING)
		events = EV_WRITE;
	else if (c->state == LG_TLS)
		events = c->hs_want;
	else {
		events = c->rd_wants_write ? EV_WRITE : EV_READ;
		if (c->out != NULL)
			events |= c->wr_wants_read ? EV_READ : EV_WRITE;
	}
	if ((c->io.events & (EV_READ | EV_WRITE)) == events &&
	    ev_is_active(&c->io))
		return;
	ev_io_stop(c->lg->loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(c->lg->loop, &c->io);
}

static void
lg_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
lg_put_u64(uint8_t *p, uint64_t v)
{
	lg_put_u32(p, (uint32_t)(v >> 32));
	lg_put_u32(p + 4, (uint32_t)v);
}

/* Patch seq, time and every value of c's frame, then send it. */
static void
lg_answer(struct lg_conn *c, uint32_t seq)
{
	struct lg	*lg = c->lg;
	uint8_t		*f = c->frame;
	uint64_t	 bits;
	double		 d;
	size_t		 i;

	c->polls++;
	lg_put_u32(f + WIRE_LENGTH + 1, seq);
	lg_put_u64(f + WIRE_LENGTH + 1 + 4, (uint64_t)(int64_t)ev_now(lg->loop));
	for (i = 0; i < lg->ncounters; i++)
		lg_put_u64(f + lg->voff[i], (uint64_t)(lg->first + c->id) * 1000 +
		    (uint64_t)c->polls * (i % 7 + 1));
	for (; i < lg->ncounters + lg->nstats; i++) {
		d = c->polls + i * 0.5 + (lg->first + c->id) / 1000.0;
		memcpy(&bits, &d, sizeof bits);
		lg_put_u64(f + lg->voff[i], bits);
	}
	c->out = f;
	c->outlen = lg->tlen;
	c->sent = 0;
	c->sending_snap = 1;
	lg_send(c);
}

/* Send what is pending; on completion, the next queued poll. */
static void
lg_send(struct lg_conn *c)
{
	struct lg	*lg = c->lg;
	char		 err[200];
	ssize_t		 n;

	while (c->sent < c->outlen) {
		if (c->ssl != NULL) {
			n = tls_write(c->ssl, c->out + c->sent, c->outlen -
			    c->sent, err, sizeof err);
			if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
				c->wr_wants_read = n == TLS_WANT_READ;
				lg_update(c);
				return;
			}
			if (n < 0) {
				lg_fail(c, "TLS write: %s", err);
				return;
			}
		} else {
			n = send(c->fd, c->out + c->sent, c->outlen - c->sent,
			    MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					lg_update(c);
					return;
				}
				lg_fail(c, "send: %s", strerror(errno));
				return;
			}
		}
		c->sent += (size_t)n;
		lg->bytes_out += (unsigned long long)n;
	}
	c->wr_wants_read = 0;
	c->out = NULL;
	c->outlen = c->sent = 0;
	lg_update(c);
	if (c->sending_snap) {
		c->sending_snap = 0;
		c->t_sent = ev_time();
		lg->answered++;
		lg_event(lg, LG_EV_ANSWERED);
	}
	if (c->nq > 0 && c->state == LG_READY) {
		uint32_t seq = c->queue[0];

		memmove(c->queue, c->queue + 1, --c->nq * sizeof c->queue[0]);
		lg_answer(c, seq);
	}
}

/* "1.234 s ago", or "never" for a time of 0. */
static void
lg_ago(char *buf, size_t len, double t)
{
	if (t > 0)
		snprintf(buf, len, "%.3f s ago", ev_time() - t);
	else
		snprintf(buf, len, "never");
}

/* One frame from the gatherer; -1 if c was closed. */
static int
lg_frame(struct lg_conn *c, uint8_t type, const uint8_t *pl, size_t plen)
{
	struct lg	*lg = c->lg;
	char		 err[128], ago_poll[32], ago_sent[32];
	const char	*msg;
	size_t		 mlen;
	uint32_t	 seq, interval;
	uint16_t	 version, code;
	double		 t;

	if (type == WIRE_ERROR) {
		/* Which side was late: when this end last read and answered. */
		if (wire_get_error(pl, plen, &code, &msg, &mlen, err,
		    sizeof err) != 0)
			lg_fail(c, "malformed ERROR: %s", err);
		else if (c->state != LG_READY)
			lg_fail(c, "ERROR %u: %.*s", code, (int)mlen, msg);
		else {
			lg_ago(ago_poll, sizeof ago_poll, c->t_poll);
			lg_ago(ago_sent, sizeof ago_sent, c->t_sent);
			lg_fail(c, "ERROR %u: %.*s (here: last POLL read %s, "
			    "last SNAPSHOT sent %s)", code, (int)mlen, msg,
			    ago_poll, ago_sent);
		}
		return -1;
	}
	if (c->state == LG_STALLED) {
		lg_fail(c, "frame type %u to a stalled connection", type);
		return -1;
	}
	if (c->state == LG_HELLO) {
		if (type != WIRE_WELCOME) {
			lg_fail(c, "expected WELCOME, got type %u", type);
			return -1;
		}
		if (wire_get_welcome(pl, plen, &version, &interval, NULL,
		    err, sizeof err) != 0) {
			lg_fail(c, "%s", err);
			return -1;
		}
		c->state = LG_READY;
		lg->inflight--;
		if (c->out == NULL)
			wire_buf_free(&c->hello);
		t = ev_time() - c->t_start;
		if (t > lg->handshake_max)
			lg->handshake_max = t;
		lg->handshake_sum += t;
		lg->handshaken++;
		lg_event(lg, LG_EV_HANDSHAKEN);
		lg_start_more(lg);
		return 0;
	}
	if (type != WIRE_POLL) {
		lg_fail(c, "expected POLL, got type %u", type);
		return -1;
	}
	if (wire_get_poll(pl, plen, &seq, err, sizeof err) != 0) {
		lg_fail(c, "%s", err);
		return -1;
	}
	lg->polls++;
	c->t_poll = ev_time();
	lg_poll_gap(c);
	lg_event(lg, LG_EV_POLL);
	if (c->out != NULL) {
		/* A snapshot (or the HELLO) is still going out: later. */
		if (c->nq == LG_QUEUE) {
			lg->dropped_polls++;
			memmove(c->queue, c->queue + 1,
			    (LG_QUEUE - 1) * sizeof c->queue[0]);
			c->nq--;
		}
		c->queue[c->nq++] = seq;
		return 0;
	}
	lg_answer(c, seq);
	return c->state == LG_DEAD ? -1 : 0;
}

static void
lg_read(struct lg_conn *c)
{
	const uint8_t	*pl;
	char		 err[200];
	size_t		 plen, off;
	ssize_t		 n;
	uint8_t		 type;
	long		 fl;

again:
	if (c->ssl != NULL) {
		n = tls_read(c->ssl, c->in + c->inlen, sizeof c->in - c->inlen,
		    err, sizeof err);
		c->rd_wants_write = n == TLS_WANT_WRITE;
		if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
			lg_update(c);
			return;
		}
		if (n < 0) {
			lg_fail(c, "TLS read: %s", err);
			return;
		}
	} else
		n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
	if (n == 0) {
		lg_fail(c, "closed by the gatherer");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			lg_fail(c, "recv: %s", strerror(errno));
		return;
	}
	c->lg->bytes_in += (unsigned long long)n;
	c->inlen += (size_t)n;
	for (off = 0;;) {
		fl = wire_frame(c->in + off, c->inlen - off, &type, &pl, &plen);
		if (fl == 0)
			break;
		if (fl < 0) {
			lg_fail(c, "bad frame length from the gatherer");
			return;
		}
		if (lg_frame(c, type, pl, plen) != 0)
			return;
		off += (size_t)fl;
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	if (c->inlen == sizeof c->in) {
		lg_fail(c, "a frame over %d bytes from the gatherer",
		    LG_IN_MAX);
		return;
	}
	/* Decrypted bytes wait inside TLS, where no fd event shows them. */
	if (c->ssl != NULL && c->state != LG_DEAD && tls_pending(c->ssl))
		goto again;
}

/* HELLO, or half of one for a stalled connection. */
static void
lg_hello(struct lg_conn *c)
{
	struct lg		*lg = c->lg;
	struct wire_hello	 h;
	char			 id[32], nick[32];

	snprintf(id, sizeof id, "%s-%05d", c->stalled ? "stall" : "load",
	    lg_number_of(c));
	snprintf(nick, sizeof nick, "%s %d", c->stalled ? "stall" : "load",
	    lg_number_of(c));
	h.version = TALLY_PROTOCOL_VERSION;
	h.secret = lg->furl.secret;
	h.secret_len = strlen(lg->furl.secret);
	h.node_id = id;
	h.node_len = strlen(id);
	h.nickname = nick;
	h.nick_len = strlen(nick);
	if (wire_put_hello(&c->hello, &h) != 0) {
		lg_fail(c, "cannot build HELLO");
		return;
	}
	c->out = c->hello.data;
	c->outlen = c->hello.len;
	c->sent = 0;
	if (c->stalled) {
		/* Half a frame, then silence: the rest never comes. */
		c->outlen /= 2;
		c->state = LG_STALLED;
		lg->inflight--;
		lg_start_more(lg);
	} else
		c->state = LG_HELLO;
	lg_send(c);
}

static void
lg_tls_step(struct lg_conn *c)
{
	struct lg	*lg = c->lg;
	char		 err[256];
	double		 t;
	int		 rc;

	rc = tls_handshake(c->ssl, err, sizeof err);
	if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
		c->hs_want = rc == TLS_WANT_READ ? EV_READ : EV_WRITE;
		lg_update(c);
		return;
	}
	if (rc != 0) {
		lg_fail(c, "TLS handshake: %s", err);
		return;
	}
	if (tls_resumed(c->ssl))
		lg->resumed++;
	t = ev_time() - c->t_start;
	lg->tls_sum += t;
	if (t > lg->tls_max)
		lg->tls_max = t;
	lg_hello(c);
}

static void
lg_connected(struct lg_conn *c)
{
	struct lg	*lg = c->lg;
	char		 err[256];
	double		 t;
	int		 one = 1;

	t = ev_time() - c->t_start;
	if (t > lg->connect_max)
		lg->connect_max = t;
	lg->connected++;
	lg_event(lg, LG_EV_CONNECTED);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (lg->tls == NULL) {
		lg_hello(c);
		return;
	}
	if (tls_new(&c->ssl, lg->tls, c->fd, lg->furl.fingerprint, err,
	    sizeof err) != 0) {
		lg_fail(c, "%s", err);
		return;
	}
	c->state = LG_TLS;
	/* As a provider does: resume the session of the last connection. */
	tls_session_keep(c->ssl, &c->sess);
	lg_tls_step(c);
}

static void
lg_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lg_conn	*c = w->data;
	socklen_t	 len = sizeof(int);
	int		 soerr = 0;

	(void)loop;
	if (c->state == LG_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			soerr = errno;
		if (soerr != 0)
			lg_fail(c, "connect: %s", strerror(soerr));
		else
			lg_connected(c);
		return;
	}
	if (c->state == LG_TLS) {
		lg_tls_step(c);
		return;
	}
	/* Either event may serve either direction (see remote.c). */
	c->wr_wants_read = c->rd_wants_write = 0;
	if (c->out != NULL) {
		lg_send(c);
		if (c->state == LG_DEAD)
			return;
	}
	if ((revents & EV_READ) || c->ssl != NULL)
		lg_read(c);
}

static void
lg_connect(struct lg_conn *c)
{
	struct lg	*lg = c->lg;
	int		 fd;

	c->t_start = ev_time();
	lg->inflight++;
	c->state = LG_CONNECTING;
	fd = socket(lg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	c->fd = fd;
	if (fd < 0) {
		lg_fail(c, "socket: %s", strerror(errno));
		return;
	}
	ev_io_init(&c->io, lg_io_cb, fd, EV_WRITE);
	c->io.data = c;
	if (connect(fd, (struct sockaddr *)&lg->addr, lg->addrlen) != 0 &&
	    errno != EINPROGRESS) {
		lg_fail(c, "connect: %s", strerror(errno));
		return;
	}
	ev_io_start(lg->loop, &c->io);
}

static void
lg_start_more(struct lg *lg)
{
	int	 total = lg->n + lg->nstalled;

	while (lg->next < total &&
	    (lg->window == 0 || lg->inflight < lg->window))
		if (lg->conns[lg->next++].state == LG_IDLE)
			lg_connect(&lg->conns[lg->next - 1]);
}

/* Encode the SNAPSHOT once and note where each value sits. */
static int
lg_template(struct lg *lg)
{
	struct snapshot	 s;
	struct wire_buf	 b;
	char		 name[64];
	size_t		 i, off, nlen;
	int		 rc = 0;

	lg->ncounters = (size_t)(lg->m + 1) / 2;
	lg->nstats = (size_t)lg->m / 2;
	snapshot_init(&s);
	wire_buf_init(&b);
	for (i = 0; i < lg->ncounters && rc == 0; i++) {
		nlen = (size_t)snprintf(name, sizeof name,
		    "load.counter.%04zu", i);
		rc = snapshot_add_counter(&s, name, nlen, 0);
	}
	for (i = 0; i < lg->nstats && rc == 0; i++) {
		nlen = (size_t)snprintf(name, sizeof name, "load.stat.%04zu",
		    i);
		rc = snapshot_add_stat(&s, name, nlen, 0.0);
	}
	if (rc == 0)
		rc = wire_put_snapshot(&b, 0, 0, &s);
	snapshot_free(&s);
	if (rc != 0) {
		fprintf(stderr, "loadgen: cannot encode %d metrics: %s\n",
		    lg->m, tally_strerror(rc));
		wire_buf_free(&b);
		return -1;
	}
	lg->tmpl = b.data;
	lg->tlen = b.len;
	if ((lg->voff = calloc((size_t)lg->m + 1, sizeof *lg->voff)) == NULL)
		return -1;
	/* length, type, seq, time, then ncounters */
	off = WIRE_LENGTH + 1 + 4 + 8 + 4;
	for (i = 0; i < lg->ncounters; i++) {
		off += 1 + lg->tmpl[off];
		lg->voff[i] = (uint32_t)off;
		off += 8;
	}
	off += 4;		/* nstats */
	for (; i < lg->ncounters + lg->nstats; i++) {
		off += 1 + lg->tmpl[off];
		lg->voff[i] = (uint32_t)off;
		off += 8;
	}
	if (off != lg->tlen) {
		fprintf(stderr, "loadgen: template walk ends at %zu, not "
		    "%zu\n", off, lg->tlen);
		return -1;
	}
	return 0;
}

static int
lg_resolve(struct lg *lg)
{
	struct addrinfo	 hints, *ai;
	int		 rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(lg->furl.host, lg->furl.port, &hints,
	    &ai)) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", lg->furl.host,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(&lg->addr, ai->ai_addr, ai->ai_addrlen);
	lg->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Raise the descriptor limit to the hard limit; enough for the fleet? */
static int
lg_nofile(int need)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("loadgen: getrlimit");
		return -1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("loadgen: setrlimit");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
		fprintf(stderr, "loadgen: need %d descriptors, the limit is "
		    "%llu\n", need, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

static void
lg_progress(struct lg *lg, const char *what)
{
	struct lg_all	*a = lg->all;

	if (lg->quiet)
		return;
	pthread_mutex_lock(&a->lock);
	fprintf(stderr, "loadgen: %7.1f s %s: connected %ld/%d, handshaken "
	    "%ld/%d, stalled closed %ld/%d, polls %ld, answered %ld, "
	    "errors %ld, closed %ld\n", lg_elapsed(lg), what, a->connected,
	    a->n + a->nstalled, a->handshaken, a->n, a->stalled_closed,
	    a->nstalled, a->polls, a->answered, a->errors, a->closed);
	pthread_mutex_unlock(&a->lock);
}

static void
lg_progress_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	lg_progress(w->data, "");
}

static void
lg_stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void
lg_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/*
 * -r: the connections the gatherer closed start again, as a fleet does
 * once its gatherer is back (a provider after its backoff), each
 * resuming its last session.  Each thread does its own, woken by the
 * first thread's SIGUSR1.
 */
static void
lg_again_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct lg	*lg = w->data;
	struct lg_conn	*c;
	int		 i;

	(void)loop;
	(void)revents;
	for (i = 0; i < lg->n + lg->nstalled; i++) {
		c = &lg->conns[i];
		if (c->state != LG_DEAD || c->stalled)
			continue;
		c->state = LG_IDLE;
		c->out = NULL;
		c->outlen = c->sent = 0;
		c->sending_snap = 0;
		c->nq = 0;
		c->inlen = 0;
		c->rd_wants_write = c->wr_wants_read = 0;
		c->t_poll = c->t_sent = 0;
		c->t_poll_mono = 0;
	}
	lg->next = 0;
	lg_start_more(lg);
}

static void
lg_sigusr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct lg_all	*a = ((struct lg *)w->data)->all;
	int		 k;

	(void)loop;
	(void)revents;
	for (k = 0; k < a->nthreads; k++)
		ev_async_send(a->lgs[k].loop, &a->lgs[k].again);
}

/* SIGUSR2: the fleet's worst poll gap since the last one, and a new window. */
static void
lg_sigusr2_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct lg	*lg = w->data;
	struct lg_all	*a = lg->all;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&a->lock);
	printf("gaps %ld %.6f %.3f\n", a->gaps, a->gap_max, lg_elapsed(lg));
	a->gaps = 0;
	a->gap_max = 0;
	pthread_mutex_unlock(&a->lock);
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -f FURL -n CONNECTIONS -m METRICS "
	    "[-s STALLED] [-w WINDOW] [-t THREADS] [-o FIRST] [-d SECONDS] "
	    "[-k KEYFILE] [-q] [-r]\n");
	exit(2);
}

static long
lg_number(const char *s, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < 0 || v > max)
		usage();
	return v;
}

/* A thread's share of the connections, its frames and its loop. */
static int
lg_setup(struct lg *lg)
{
	struct lg_conn	*c;
	int		 i, total = lg->n + lg->nstalled;

	if (lg_template(lg) != 0)
		return -1;
	if ((lg->conns = calloc((size_t)total + 1, sizeof *lg->conns)) ==
	    NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return -1;
	}
	/* Stalled ones first, so they hold their slots during the round. */
	for (i = 0; i < total; i++) {
		c = &lg->conns[i];
		c->lg = lg;
		c->fd = -1;
		c->stalled = i < lg->nstalled;
		c->id = c->stalled ? i : i - lg->nstalled;
		wire_buf_init(&c->hello);
		if (c->stalled)
			continue;
		if ((c->frame = malloc(lg->tlen)) == NULL) {
			fprintf(stderr, "loadgen: out of memory\n");
			return -1;
		}
		memcpy(c->frame, lg->tmpl, lg->tlen);
	}
	return 0;
}

static void
lg_teardown(struct lg *lg)
{
	struct lg_conn	*c;
	int		 i;

	for (i = 0; lg->conns != NULL && i < lg->n + lg->nstalled; i++) {
		c = &lg->conns[i];
		tls_free(c->ssl);
		if (c->fd >= 0)
			close(c->fd);
		tls_session_free(c->sess);
		wire_buf_free(&c->hello);
		free(c->frame);
	}
	free(lg->conns);
	free(lg->voff);
	free(lg->tmpl);
}

static void
lg_stop_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/*
 * The TLS context, with keyfile as the node key of every connection, or
 * with a new key made in a temporary directory and removed at once: the
 * context keeps what it needs in memory.
 */
static int
lg_tls_ctx(struct ssl_ctx_st **ctxp, const char *keyfile)
{
	char		 dir[PATH_MAX], path[PATH_MAX + 16];
	char		 err[TALLY_ERRLEN];
	const char	*tmp;
	int		 rc;

	if (keyfile != NULL)
		rc = tls_client_ctx(ctxp, keyfile, err, sizeof err);
	else {
		if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
			tmp = "/tmp";
		snprintf(dir, sizeof dir, "%s/loadgen.XXXXXX", tmp);
		if (mkdtemp(dir) == NULL) {
			fprintf(stderr, "loadgen: %s: %s\n", dir,
			    strerror(errno));
			return -1;
		}
		snprintf(path, sizeof path, "%s/node.key", dir);
		rc = tls_client_ctx(ctxp, path, err, sizeof err);
		unlink(path);
		rmdir(dir);
	}
	if (rc != 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		return -1;
	}
	return 0;
}

/* The other threads: their loop until the first thread says stop. */
static void *
lg_thread(void *arg)
{
	struct lg	*lg = arg;

	lg_start_more(lg);
	ev_run(lg->loop, 0);
	lg->stopping = 1;
	return NULL;
}

int
main(int argc, char **argv)
{
	struct lg_all	 all;
	struct lg	*lgs, *lg, opt;
	const char	*furl = NULL, *keyfile = NULL;
	char		 err[TALLY_ERRLEN];
	sigset_t	 sigs, old;
	int		 ch, k, nthreads = 1, total, errors = 0;
	double		 wall;

	memset(&opt, 0, sizeof opt);
	memset(&all, 0, sizeof all);
	opt.n = -1;
	opt.m = -1;
	while ((ch = getopt(argc, argv, "d:f:k:m:n:o:qrs:t:w:")) != -1) {
		switch (ch) {
		case 'd':
			opt.duration = (double)lg_number(optarg, 1L << 30);
			break;
		case 'f':
			furl = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'm':
			opt.m = (int)lg_number(optarg, 200000);
			break;
		case 'n':
			opt.n = (int)lg_number(optarg, 99999);
			break;
		case 'o':
			opt.first = (int)lg_number(optarg, 99999);
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'r':
			opt.reconnect = 1;
			break;
		case 's':
			opt.nstalled = (int)lg_number(optarg, 99999);
			break;
		case 't':
			nthreads = (int)lg_number(optarg, 64);
			break;
		case 'w':
			opt.window = (int)lg_number(optarg, 1 << 20);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || furl == NULL || opt.n < 0 || opt.m < 0 ||
	    nthreads < 1 || opt.first + opt.n > 99999 ||
	    opt.first + opt.nstalled > 99999)
		usage();
	if (furl_parse(furl, &opt.furl, err, sizeof err) != 0) {
		fprintf(stderr, "loadgen: furl: %s\n", err);
		return 2;
	}
	if (opt.furl.fingerprint[0] != '\0' &&
	    lg_tls_ctx(&opt.tls, keyfile) != 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	total = opt.n + opt.nstalled;
	if (lg_nofile(total + 16 + 4 * nthreads) != 0 || lg_resolve(&opt) != 0)
		return 2;
	if ((lgs = calloc((size_t)nthreads, sizeof *lgs)) == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 2;
	}
	pthread_mutex_init(&all.lock, NULL);
	all.n = opt.n;
	all.nstalled = opt.nstalled;
	all.next_answered_mark = opt.n > 0 ? opt.n : -1;
	all.lgs = lgs;
	all.nthreads = nthreads;
	/* Thread k takes its share of each kind, numbered on from the last. */
	for (k = 0; k < nthreads; k++) {
		lg = &lgs[k];
		*lg = opt;
		lg->all = &all;
		lg->n = opt.n / nthreads + (k < opt.n % nthreads);
		lg->nstalled = opt.nstalled / nthreads +
		    (k < opt.nstalled % nthreads);
		lg->first = k == 0 ? opt.first :
		    lgs[k - 1].first + lgs[k - 1].n;
		lg->first_stall = k == 0 ? opt.first :
		    lgs[k - 1].first_stall + lgs[k - 1].nstalled;
		if (opt.window > 0)
			lg->window = (opt.window + nthreads - 1) / nthreads;
		if (lg_setup(lg) != 0)
			return 2;
		lg->loop = k == 0 ? ev_default_loop(EVFLAG_AUTO) :
		    ev_loop_new(EVFLAG_AUTO);
		if (lg->loop == NULL) {
			fprintf(stderr, "loadgen: cannot start libev\n");
			return 2;
		}
		ev_async_init(&lg->stop, lg_stop_async_cb);
		ev_async_start(lg->loop, &lg->stop);
		ev_async_init(&lg->again, lg_again_cb);
		lg->again.data = lg;
		ev_async_start(lg->loop, &lg->again);
	}
	lg = &lgs[0];
	ev_signal_init(&lg->sigterm, lg_signal_cb, SIGTERM);
	ev_signal_start(lg->loop, &lg->sigterm);
	ev_signal_init(&lg->sigint, lg_signal_cb, SIGINT);
	ev_signal_start(lg->loop, &lg->sigint);
	ev_signal_init(&lg->sigusr1, lg_sigusr1_cb, SIGUSR1);
	lg->sigusr1.data = lg;
	ev_signal_start(lg->loop, &lg->sigusr1);
	ev_signal_init(&lg->sigusr2, lg_sigusr2_cb, SIGUSR2);
	lg->sigusr2.data = lg;
	ev_signal_start(lg->loop, &lg->sigusr2);
	if (opt.duration > 0) {
		ev_timer_init(&lg->duration_timer, lg_stop_cb, opt.duration,
		    0.);
		ev_timer_start(lg->loop, &lg->duration_timer);
	}
	ev_timer_init(&lg->progress_timer, lg_progress_cb, 1., 1.);
	lg->progress_timer.data = lg;
	ev_timer_start(lg->loop, &lg->progress_timer);

	ev_now_update(lg->loop);
	all.t0 = ev_time();
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		printf("start %d %d %lld.%06ld\n", opt.n, opt.nstalled,
		    (long long)ts.tv_sec, ts.tv_nsec / 1000);
	}
	/* The signals are the first thread's. */
	sigfillset(&sigs);
	pthread_sigmask(SIG_SETMASK, &sigs, &old);
	for (k = 1; k < nthreads; k++)
		if (pthread_create(&lgs[k].thread, NULL, lg_thread,
		    &lgs[k]) != 0) {
			fprintf(stderr, "loadgen: cannot start a thread\n");
			return 2;
		}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	lg_start_more(lg);
	ev_run(lg->loop, 0);
	lg->stopping = 1;
	for (k = 1; k < nthreads; k++) {
		ev_async_send(lgs[k].loop, &lgs[k].stop);
		pthread_join(lgs[k].thread, NULL);
	}
	wall = lg_elapsed(lg);
	lg_progress(lg, "stopping");
	/* The fleet's summary: sums, and the worst of the maxima. */
	for (k = 1; k < nthreads; k++) {
		struct lg *o = &lgs[k];

		lg->connected += o->connected;
		lg->handshaken += o->handshaken;
		lg->resumed += o->resumed;
		lg->down += o->down;
		lg->polls += o->polls;
		lg->answered += o->answered;
		lg->dropped_polls += o->dropped_polls;
		lg->errors += o->errors;
		lg->closed += o->closed;
		lg->stalled_closed += o->stalled_closed;
		lg->handshake_sum += o->handshake_sum;
		lg->tls_sum += o->tls_sum;
		lg->bytes_out += o->bytes_out;
		lg->bytes_in += o->bytes_in;
		if (o->connect_max > lg->connect_max)
			lg->connect_max = o->connect_max;
		if (o->handshake_max > lg->handshake_max)
			lg->handshake_max = o->handshake_max;
		if (o->tls_max > lg->tls_max)
			lg->tls_max = o->tls_max;
	}
	printf("done connections %d stalled %d metrics %d seconds %.3f "
	    "connected %ld handshaken %ld polls %ld answered %ld "
	    "dropped_polls %ld errors %ld closed %ld stalled_closed %ld "
	    "connect_max %.3f handshake_max %.3f handshake_avg %.6f "
	    "tls %s tls_avg %.6f tls_max %.3f bytes_out %llu "
	    "bytes_in %llu frame_bytes %zu threads %d resumed %ld down %ld "
	    "gap_max %.6f\n", opt.n,
	    opt.nstalled, opt.m, wall, lg->connected, lg->handshaken,
	    lg->polls, lg->answered, lg->dropped_polls, lg->errors,
	    lg->closed, lg->stalled_closed, lg->connect_max,
	    lg->handshake_max, lg->handshaken > 0 ?
	    lg->handshake_sum / lg->handshaken : 0.0,
	    opt.tls != NULL ? "yes" : "no", lg->handshaken > 0 ?
	    lg->tls_sum / lg->handshaken : 0.0, lg->tls_max, lg->bytes_out,
	    lg->bytes_in, lg->tlen, nthreads, lg->resumed, lg->down,
	    all.gap_max_all);
	errors = lg->errors + lg->closed > 0;
	for (k = 0; k < nthreads; k++) {
		lg_teardown(&lgs[k]);
		ev_async_stop(lgs[k].loop, &lgs[k].stop);
		ev_async_stop(lgs[k].loop, &lgs[k].again);
		ev_loop_destroy(lgs[k].loop);
	}
	free(lgs);
	tls_ctx_free(opt.tls);
	pthread_mutex_destroy(&all.lock);
	return errors ? 1 : 0;
}
