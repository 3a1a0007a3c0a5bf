/*
 * remote.c: remote mode.  The provider dials the gatherer named by its
 * furl, completes a TLS 1.3 handshake that checks the gatherer's
 * certificate against the furl's fingerprint (a tally+tls:// furl), says
 * HELLO (version, secret, node id, nickname), and answers each POLL with a
 * SNAPSHOT built on the spot.  The secret is only ever sent inside TLS,
 * after the pin matched, or in plaintext to a loopback address (a
 * tally:// furl).  A lost connection is retried with exponential backoff
 * from 1 s to 60 s, with jitter, so that a fleet does not reconnect in
 * step after a gatherer restart.
 *
 * With TLS, a read may need the socket writable first and a write may need
 * it readable (OpenSSL's WANT_WRITE and WANT_READ); the io watcher's
 * events follow what the last call asked for (remote_io_update).
 *
 * Everything here runs on the provider's loop: counting threads never see
 * the network.  Name resolution uses getaddrinfo() on that loop, which may
 * block it briefly for a host name; furls usually carry an address.
 *
 * Of the provider, remote mode knows only its hooks (struct remote_hooks):
 * one builds the node's snapshot, one takes the counters of a WELCOME, and
 * a log hook says where lines go.
 */
#include <sys/socket.h>
#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "tally-int.h"

#define REMOTE_BACKOFF_MIN	1.0
#define REMOTE_BACKOFF_MAX	60.0
#define REMOTE_HANDSHAKE_TIMEOUT 10.0
#define REMOTE_READ_CHUNK	4096
#define REMOTE_INTERVAL_MAX	86400000u	/* ms, WELCOME's interval */

enum remote_state {
	REMOTE_IDLE,		/* stopped, or waiting to retry */
	REMOTE_CONNECTING,	/* connect() in progress */
	REMOTE_TLS,		/* the TLS handshake */
	REMOTE_HELLO,		/* HELLO sent, waiting for WELCOME */
	REMOTE_READY		/* answering polls */
};

struct remote {
	struct remote_hooks	 hooks;
	struct furl		 furl;
	const char		*node_id;	/* these three: not copied */
	const char		*nickname;
	const char		*key_file;
	struct ev_loop		*loop;
	enum remote_state	 state;
	int			 running;
	int			 fd;
	ev_io			 io;
	ev_timer		 timer;		/* retry, or handshake timeout */
	ev_timer		 watchdog;	/* a gatherer gone silent */
	struct ssl_ctx_st	*tls_ctx;	/* tally+tls://: made once */
	struct tls		*ssl;		/* this connection's, or NULL */
	struct ssl_session_st	*session;	/* the last ticket's, to resume */
	pid_t			 session_pid;	/* the process it belongs to */
	int			 hs_want;	/* EV_READ or EV_WRITE */
	int			 rd_wants_write; /* a TLS read waits to write */
	int			 wr_wants_read;	/* a TLS write waits to read */
	double			 interval;	/* from WELCOME */
	int			 poll_pending;	/* a POLL to answer: */
	uint32_t		 poll_seq;	/* the newest one's seq */
	int			 answered;	/* a POLL, on this connection */
	double			 backoff;
	uint64_t		 rng;
	struct wire_buf		 in, out;
	struct snapshot		 snap;
	char			 peer[300];
	struct log_once		 fails;		/* since the last WELCOME */
};

/* xorshift64*: jitter needs no more, and must not share state. */
static double
remote_random(struct remote *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (double)((r->rng * 0x2545f4914f6cdd1dULL) >> 11) /
	    (double)(1ULL << 53);
}

int
remote_new(struct remote **rp, const struct furl *f, const char *node_id,
    const char *nickname, const char *key_file,
    const struct remote_hooks *hooks)
{
	struct remote	*r;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return TALLY_ENOMEM;
	r->hooks = *hooks;
	r->furl = *f;
	r->node_id = node_id;
	r->nickname = nickname;
	r->key_file = key_file;
	r->fd = -1;
	r->backoff = REMOTE_BACKOFF_MIN;
	if (getrandom(&r->rng, sizeof r->rng, GRND_NONBLOCK) !=
	    (ssize_t)sizeof r->rng)
		r->rng = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	r->rng |= 1;
	wire_buf_init(&r->in);
	wire_buf_init(&r->out);
	snapshot_init(&r->snap);
	snprintf(r->peer, sizeof r->peer, strchr(f->host, ':') ? "[%s]:%s" :
	    "%s:%s", f->host, f->port);
	*rp = r;
	return 0;
}

int
remote_ready(const struct remote *r)
{
	return r != NULL && r->state == REMOTE_READY;
}

static void	remote_connect(struct remote *);
static void	remote_reschedule(struct remote *);

/* A peer's bytes, made safe for a log line. */
static void
remote_printable(char *out, size_t size, const char *s, size_t n)
{
	size_t	 i;

	if (n > size - 1)
		n = size - 1;
	for (i = 0; i < n; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[n] = '\0';
}

/*
 * Log a failure, "what: why" (or why alone), once until the next success,
 * so that retries don't flood.
 */
static void
remote_fail(struct remote *r, const char *what, const char *why)
{
	char	 msg[256];

	snprintf(msg, sizeof msg, "%s%s%s", what != NULL ? what : "",
	    what != NULL ? ": " : "", why);
	if (log_once_fail(&r->fails, msg))
		log_msg(&r->hooks.log, TALLY_LOG_WARN, "gatherer %s: %s "
		    "(retrying with backoff)", r->peer, msg);
}

static void
remote_close(struct remote *r)
{
	if (r->ssl != NULL) {
		/* A polite goodbye when stopping; never waited for. */
		tls_fork_lock();
		tls_close_notify(r->ssl);
		tls_free(r->ssl);
		tls_fork_unlock();
		r->ssl = NULL;
	}
	r->rd_wants_write = r->wr_wants_read = 0;
	if (r->fd >= 0) {
		ev_io_stop(r->loop, &r->io);
		close(r->fd);
		r->fd = -1;
	}
	ev_timer_stop(r->loop, &r->timer);
	ev_timer_stop(r->loop, &r->watchdog);
	r->in.len = 0;
	r->out.len = 0;
	r->poll_pending = r->answered = 0;
	/* A big snapshot's buffers need not outlive the connection. */
	if (r->out.cap > 65536)
		wire_buf_free(&r->out);
	r->state = REMOTE_IDLE;
}

static void
remote_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct remote	*r = w->data;
	char		 msg[64];

	if (r->state == REMOTE_IDLE)
		remote_connect(r);
	else {
		/* The handshake timer fired. */
		snprintf(msg, sizeof msg, "%s within %.0f s", r->state ==
		    REMOTE_TLS ? "no TLS handshake" : "no WELCOME",
		    REMOTE_HANDSHAKE_TIMEOUT);
		remote_fail(r, NULL, msg);
		remote_reschedule(r);
	}
}

/*
 * No poll for three intervals: the gatherer or the path to it is gone
 * without a word (a partition, a machine that died).  Start over.
 */
static void
remote_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct remote	*r = w->data;
	char		 msg[64];

	snprintf(msg, sizeof msg, "no poll for %.0f s", 3 * r->interval);
	remote_fail(r, NULL, msg);
	remote_reschedule(r);
}

static void
remote_watchdog_kick(struct remote *r)
{
	r->watchdog.repeat = 3 * r->interval + REMOTE_HANDSHAKE_TIMEOUT;
	ev_timer_again(r->loop, &r->watchdog);
}

/* Drop the connection and try again after the backoff, jittered. */
static void
remote_reschedule(struct remote *r)
{
	double	 delay;

	remote_close(r);
	if (!r->running)
		return;
	delay = r->backoff * (0.5 + 0.5 * remote_random(r));
	r->backoff *= 2;
	if (r->backoff > REMOTE_BACKOFF_MAX)
		r->backoff = REMOTE_BACKOFF_MAX;
	ev_timer_set(&r->timer, delay, 0.);
	ev_timer_start(r->loop, &r->timer);
}

/*
 * Watch for what the connection waits on.  Only that: a socket that is
 * readable while TLS waits to write would wake the loop for nothing, again
 * and again.
 */
static void
remote_io_update(struct remote *r)
{
	int	 events;

	if (r->state == REMOTE_CONNECTING)
		events = EV_WRITE;
	else if (r->state == REMOTE_TLS)
		events = r->hs_want;
	else {
		events = r->rd_wants_write ? EV_WRITE : EV_READ;
		if (r->out.len > 0)
			events |= r->wr_wants_read ? EV_READ : EV_WRITE;
	}
	if ((r->io.events & (EV_READ | EV_WRITE)) == events &&
	    ev_is_active(&r->io))
		return;
	ev_io_stop(r->loop, &r->io);
	ev_io_set(&r->io, r->fd, events);
	ev_io_start(r->loop, &r->io);
}

/*
 * send() or, with TLS, SSL_write(): the bytes sent, 0 if the socket must
 * be ready first (the wants are noted), or -1 on a failure, logged.
 */
static long
remote_send(struct remote *r, const void *buf, size_t len)
{
	char	 err[200];
	ssize_t	 n;
	long	 t;

	if (r->ssl != NULL) {
		tls_fork_lock();
		t = tls_write(r->ssl, buf, len, err, sizeof err);
		tls_fork_unlock();
		if (t == TLS_WANT_READ || t == TLS_WANT_WRITE) {
			r->wr_wants_read = t == TLS_WANT_READ;
			return 0;
		}
		r->wr_wants_read = 0;
		if (t < 0) {
			remote_fail(r, "TLS write", err);
			return -1;
		}
		return t;
	}
	for (;;) {
		n = send(r->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		remote_fail(r, "send", strerror(errno));
		return -1;
	}
}

static int
remote_flush_out(struct remote *r)
{
	long	 n;

	while (r->out.len > 0) {
		if ((n = remote_send(r, r->out.data, r->out.len)) < 0)
			return -1;
		if (n == 0)
			break;
		wire_buf_consume(&r->out, (size_t)n);
	}
	remote_io_update(r);
	return 0;
}

/* Tell the gatherer why, then drop the connection. */
static void
remote_protocol_error(struct remote *r, uint16_t code, const char *msg)
{
	char	 err[64];

	remote_fail(r, NULL, msg);
	/* One try, without waiting: the connection goes either way. */
	if (wire_put_error(&r->out, code, msg) == 0) {
		if (r->ssl != NULL) {
			tls_fork_lock();
			(void)tls_write(r->ssl, r->out.data, r->out.len, err,
			    sizeof err);
			tls_fork_unlock();
		} else
			(void)send(r->fd, r->out.data, r->out.len,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	remote_reschedule(r);
}

/*
 * Answer the newest POLL not answered, once the last answer is out: 0, or
 * -1 with the connection dropped.  Polls in a burst, or faster than the
 * gatherer reads, get one snapshot at a time, not one queued each (a POLL
 * flood grew the host by megabytes a second) nor a burst built at once.
 */
static int
remote_answer_pending(struct remote *r)
{
	int	 rc;

	if (r->state != REMOTE_READY || !r->poll_pending || r->out.len > 0)
		return 0;
	r->poll_pending = 0;
	snapshot_reset(&r->snap);
	if ((rc = r->hooks.snapshot(r->hooks.ctx, &r->snap)) != 0 ||
	    (rc = wire_put_snapshot(&r->out, r->poll_seq, (int64_t)time(NULL),
	    &r->snap)) != 0) {
		remote_protocol_error(r, rc == TALLY_ELIMIT ? WIRE_E_TOO_BIG :
		    WIRE_E_MALFORMED, tally_strerror(rc));
		return -1;
	}
	/* Working from its first answer: welcoming, then failing, is not. */
	if (!r->answered) {
		r->answered = 1;
		r->backoff = REMOTE_BACKOFF_MIN;
		log_once_ok(&r->fails);
	}
	if (remote_flush_out(r) != 0) {
		remote_reschedule(r);
		return -1;
	}
	return 0;
}

/* Handle one frame; -1 if the connection was dropped. */
static int
remote_frame(struct remote *r, uint8_t type, const uint8_t *pl, size_t plen)
{
	char		 err[128], shown[WIRE_ERRMSG_MAX + 1];
	char		 why[WIRE_ERRMSG_MAX + 32];
	const char	*msg;
	size_t		 mlen;
	uint32_t	 seq, interval;
	uint16_t	 version, code;

	if (type == WIRE_ERROR) {
		if (wire_get_error(pl, plen, &code, &msg, &mlen, err,
		    sizeof err) != 0)
			remote_fail(r, NULL, "malformed ERROR frame");
		else {
			remote_printable(shown, sizeof shown, msg, mlen);
			snprintf(why, sizeof why, "%s (error %u)", shown,
			    code);
			remote_fail(r, "refused", why);
		}
		remote_reschedule(r);
		return -1;
	}
	if (r->state == REMOTE_HELLO) {
		if (type != WIRE_WELCOME) {
			remote_protocol_error(r, WIRE_E_UNEXPECTED,
			    "expected WELCOME");
			return -1;
		}
		/* The version first: another version's WELCOME differs. */
		if (plen >= 2 && (version = (uint16_t)(pl[0] << 8 | pl[1])) !=
		    TALLY_PROTOCOL_VERSION) {
			snprintf(err, sizeof err, "gatherer speaks protocol "
			    "version %u, this node %u", version,
			    TALLY_PROTOCOL_VERSION);
			remote_protocol_error(r, WIRE_E_VERSION, err);
			return -1;
		}
		snapshot_reset(&r->snap);
		if (wire_get_welcome(pl, plen, &version, &interval, &r->snap,
		    err, sizeof err) != 0) {
			snapshot_reset(&r->snap);
			remote_protocol_error(r, WIRE_E_MALFORMED, err);
			return -1;
		}
		if (version != TALLY_PROTOCOL_VERSION) {
			snapshot_reset(&r->snap);
			snprintf(err, sizeof err, "gatherer speaks protocol "
			    "version %u, this node %u", version,
			    TALLY_PROTOCOL_VERSION);
			remote_protocol_error(r, WIRE_E_VERSION, err);
			return -1;
		}
		/* tallyd polls at most a day apart (tallyd -i). */
		if (interval > REMOTE_INTERVAL_MAX) {
			snapshot_reset(&r->snap);
			snprintf(err, sizeof err, "poll interval of %u ms is "
			    "over a day", interval);
			remote_protocol_error(r, WIRE_E_MALFORMED, err);
			return -1;
		}
		/* The gatherer's counters, resumed; a name twice: the later. */
		snapshot_finish(&r->snap);
		r->hooks.resume(r->hooks.ctx, &r->snap);
		snapshot_reset(&r->snap);
		ev_timer_stop(r->loop, &r->timer);
		r->interval = interval > 0 ? interval / 1000.0 : 60.0;
		remote_watchdog_kick(r);
		r->state = REMOTE_READY;
		log_msg(&r->hooks.log, TALLY_LOG_INFO, "gatherer %s: "
		    "connected, polled every %.0f s", r->peer,
		    interval / 1000.0);
		return 0;
	}
	if (type != WIRE_POLL) {
		remote_protocol_error(r, WIRE_E_UNEXPECTED, "expected POLL");
		return -1;
	}
	if (wire_get_poll(pl, plen, &seq, err, sizeof err) != 0) {
		remote_protocol_error(r, WIRE_E_MALFORMED, err);
		return -1;
	}
	remote_watchdog_kick(r);
	/* Answered once the frames read are handled (remote_read). */
	r->poll_seq = seq;
	r->poll_pending = 1;
	return 0;
}

/*
 * recv() or SSL_read(): bytes read, 0 if the socket must be ready first,
 * or -1 when the connection is lost (logged, not yet rescheduled).
 */
static long
remote_recv(struct remote *r)
{
	char	 err[200];
	void	*buf = r->in.data + r->in.len;
	size_t	 room = r->in.cap - r->in.len;
	ssize_t	 n;
	long	 t;

	if (r->ssl != NULL) {
		tls_fork_lock();
		t = tls_read(r->ssl, buf, room, err, sizeof err);
		tls_fork_unlock();
		r->rd_wants_write = t == TLS_WANT_WRITE;
		if (t == TLS_WANT_READ || t == TLS_WANT_WRITE)
			return 0;
		if (t == 0)
			remote_fail(r, NULL, "connection closed");
		else if (t < 0)
			remote_fail(r, "TLS read", err);
		return t > 0 ? t : -1;
	}
	n = recv(r->fd, buf, room, 0);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return 0;
	remote_fail(r, NULL, n == 0 ? "connection closed" : strerror(errno));
	return -1;
}

/* Decrypted bytes that wait inside TLS, where no fd event shows them. */
static int
remote_tls_pending(struct remote *r)
{
	int	 n;

	tls_fork_lock();
	n = tls_pending(r->ssl);
	tls_fork_unlock();
	return n;
}

static void
remote_read(struct remote *r)
{
	const uint8_t	*pl;
	size_t		 plen, off;
	uint8_t		 type;
	long		 fl, n;

	do {
		if (wire_buf_reserve(&r->in, REMOTE_READ_CHUNK) != 0) {
			remote_fail(r, NULL, "out of memory");
			remote_reschedule(r);
			return;
		}
		if ((n = remote_recv(r)) < 0) {
			remote_reschedule(r);
			return;
		}
		if (n == 0)
			break;
		r->in.len += (size_t)n;
		for (off = 0;;) {
			fl = wire_frame(r->in.data + off, r->in.len - off,
			    &type, &pl, &plen);
			if (fl == 0)
				break;
			if (fl < 0) {
				remote_protocol_error(r, fl == TALLY_ELIMIT ?
				    WIRE_E_TOO_BIG : WIRE_E_MALFORMED,
				    "bad frame length");
				return;
			}
			if (remote_frame(r, type, pl, plen) != 0)
				return;
			off += (size_t)fl;
		}
		wire_buf_consume(&r->in, off);
		/* Decrypted bytes wait inside TLS: no fd event shows them. */
	} while (r->ssl != NULL && remote_tls_pending(r));
	/* At most one answer a read, once the last one is out. */
	if (remote_answer_pending(r) != 0)
		return;
	remote_io_update(r);
}

/* HELLO: only inside TLS whose pin matched, or on loopback. */
static void
remote_hello(struct remote *r)
{
	struct wire_hello	 h;

	h.version = TALLY_PROTOCOL_VERSION;
	h.secret = r->furl.secret;
	h.secret_len = strlen(r->furl.secret);
	h.node_id = r->node_id;
	h.node_len = strlen(r->node_id);
	h.nickname = r->nickname;
	h.nick_len = strlen(r->nickname);
	if (wire_put_hello(&r->out, &h) != 0) {
		remote_fail(r, NULL, "cannot build HELLO");
		remote_reschedule(r);
		return;
	}
	r->state = REMOTE_HELLO;
	if (remote_flush_out(r) != 0)
		remote_reschedule(r);
}

/* One step of the TLS handshake; HELLO once it is done. */
static void
remote_tls_step(struct remote *r)
{
	char	 err[256];
	int	 rc;

	tls_fork_lock();
	rc = tls_handshake(r->ssl, err, sizeof err);
	tls_fork_unlock();
	if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
		r->hs_want = rc == TLS_WANT_READ ? EV_READ : EV_WRITE;
		remote_io_update(r);
		return;
	}
	if (rc != 0) {
		remote_fail(r, tls_pin_failed(r->ssl) ? NULL :
		    "TLS handshake failed", err);
		remote_reschedule(r);
		return;
	}
	remote_hello(r);
}

/*
 * Resume the last session with the gatherer, if there is one: a returning
 * node (a lost connection, a restart of tallyd) then costs the gatherer no
 * certificate, no signature and no check of either, only a key exchange.
 * The session comes from this remote's furl, so from its pinned gatherer
 * (tls_session_keep() checks the pin again), and only this process uses
 * it: a child of fork() has a copy of the parent's memory, session
 * included, and drops it rather than share it.  The tickets that follow
 * the handshake replace it.
 */
static void
remote_session(struct remote *r)
{
	tls_fork_lock();
	if (r->session != NULL && r->session_pid != getpid()) {
		tls_session_free(r->session);
		r->session = NULL;
	}
	r->session_pid = getpid();
	tls_session_keep(r->ssl, &r->session);
	tls_fork_unlock();
}

static void
remote_connected(struct remote *r)
{
	char	 err[256];
	int	 one = 1, rc;

	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(r->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	/* The TLS handshake and HELLO -> WELCOME share one deadline. */
	ev_timer_set(&r->timer, REMOTE_HANDSHAKE_TIMEOUT, 0.);
	ev_timer_start(r->loop, &r->timer);
	if (r->furl.fingerprint[0] == '\0') {
		remote_hello(r);
		return;
	}
	tls_fork_lock();
	rc = tls_new(&r->ssl, r->tls_ctx, r->fd, r->furl.fingerprint, err,
	    sizeof err);
	tls_fork_unlock();
	if (rc != 0) {
		remote_fail(r, NULL, err);
		remote_reschedule(r);
		return;
	}
	remote_session(r);
	r->state = REMOTE_TLS;
	remote_tls_step(r);
}

static void
remote_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct remote	*r = w->data;
	socklen_t	 len = sizeof(int);
	int		 soerr = 0;

	if (r->state == REMOTE_CONNECTING) {
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			soerr = errno;
		if (soerr != 0) {
			remote_fail(r, "connect", strerror(soerr));
			remote_reschedule(r);
			return;
		}
		remote_connected(r);
		return;
	}
	if (r->state == REMOTE_TLS) {
		remote_tls_step(r);
		return;
	}
	/*
	 * Either event may serve either direction (with TLS a write may wait
	 * for input, and a read for output), so both are tried: one with
	 * nothing to do returns at once, and each notes what it waits for.
	 */
	r->wr_wants_read = r->rd_wants_write = 0;
	if (r->out.len > 0 && remote_flush_out(r) != 0) {
		remote_reschedule(r);
		return;
	}
	remote_read(r);
}

static void
remote_connect(struct remote *r)
{
	struct addrinfo	 hints, *ai = NULL;
	char		 err[256];
	int		 rc, fd;

	if (r->furl.fingerprint[0] != '\0' && r->tls_ctx == NULL) {
		tls_fork_lock();
		rc = tls_client_ctx(&r->tls_ctx, r->key_file, err, sizeof err);
		tls_fork_unlock();
	} else
		rc = 0;
	if (rc != 0) {
		remote_fail(r, NULL, err);
		remote_reschedule(r);
		return;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(r->furl.host, r->furl.port, &hints, &ai)) != 0) {
		remote_fail(r, NULL, gai_strerror(rc));
		remote_reschedule(r);
		return;
	}
	/* furl_parse saw a loopback name; this sees where it leads. */
	if (r->furl.fingerprint[0] == '\0' && !furl_addr_loopback(ai->ai_addr)) {
		remote_fail(r, NULL, "plaintext tally:// furl resolves to an "
		    "address beyond loopback: refused (use the gatherer's "
		    "tally+tls:// furl)");
		freeaddrinfo(ai);
		remote_reschedule(r);
		return;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		remote_fail(r, "socket", strerror(errno));
		freeaddrinfo(ai);
		remote_reschedule(r);
		return;
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	r->fd = fd;
	if (rc != 0 && errno != EINPROGRESS) {
		remote_fail(r, "connect", strerror(errno));
		remote_reschedule(r);
		return;
	}
	r->state = REMOTE_CONNECTING;
	ev_io_init(&r->io, remote_io_cb, fd, EV_WRITE);
	r->io.data = r;
	ev_io_start(r->loop, &r->io);
}

void
remote_start(struct remote *r, struct ev_loop *loop)
{
	r->loop = loop;
	r->running = 1;
	ev_timer_init(&r->timer, remote_retry_cb, 0., 0.);
	r->timer.data = r;
	ev_init(&r->watchdog, remote_watchdog_cb);
	r->watchdog.data = r;
	remote_connect(r);
}

void
remote_stop(struct remote *r)
{
	if (r == NULL || !r->running)
		return;
	r->running = 0;
	remote_close(r);
}

void
remote_free(struct remote *r)
{
	if (r == NULL)
		return;
	wire_buf_free(&r->in);
	wire_buf_free(&r->out);
	snapshot_free(&r->snap);
	tls_fork_lock();
	tls_session_free(r->session);
	tls_ctx_free(r->tls_ctx);
	tls_fork_unlock();
	explicit_bzero(&r->furl, sizeof r->furl);
	free(r);
}
