/*
 * conn.c: a connection's life in tallyd, from accept() to free(): its
 * states, its timer, TLS's first byte and the handshake's return, closing.
 * Its bytes are conn-io.c's, its frames conn-frame.c's.
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
 * the peer closes or CONN_LINGER passes, so that the peer reads the
 * ERROR instead of a reset.
 *
 * A connection is only ever freed from its own timer's callback, at the top
 * of the loop: every other path marks it and arms the timer for "now".  No
 * callback can therefore free a connection that a caller further up the
 * stack still uses, and a conn replaced by a newer one from inside the
 * newer one's read callback simply lingers.  (Shutdown is the exception:
 * the loop is ending, and gatherer_shutdown() frees them all itself.)
 *
 * Each connection has one timer, armed for its earliest deadline (handshake,
 * idle, poll answer, next poll, linger).  A read does not re-arm it: the
 * timer fires at the old idle deadline, sees the newer last byte and
 * re-arms, as ev.pod's "Be smart about timeouts" advises.
 *
 * TLS (tls.c) sits under the frames.  A connection's first byte decides:
 * 0x16 begins a TLS handshake record, anything else is a plaintext peer,
 * told so in a plaintext ERROR and closed.  The handshake runs in
 * HANDSHAKE, within the handshake timeout, before HELLO can be read, on
 * one of the handshake threads (handshake.c): meanwhile the loop leaves
 * the connection alone (no watcher, no timer; c->job says where it is)
 * until the job comes back.  An ERROR is only ever sent where the peer
 * can read it (plaintext, or TLS once established), so a connection that
 * times out in the middle of the TLS handshake is just closed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "tallyd.h"

#define CONN_LINGER		2.0	/* seconds a closing conn waits */
#define CONN_EPSILON		0.001	/* timers may fire this early */
#define CONN_LOG_BURST		100.0	/* lines of unauthenticated peers */
#define CONN_LOG_EVERY		0.2	/* then one every 0.2 s at most */

/*
 * The nickname as the log shows it, between parentheses: what a terminal
 * would not show as text (a C1 control such as U+009B, which xterm may
 * obey as CSI; bytes that are no whole UTF-8 character) as '?', and so a
 * parenthesis that matches none, so that the line's "(nickname)" ends
 * where the nickname does: "x) from 203.0.113.9: y" cannot pass for the
 * address.  The statsfile keeps the nickname as the node sent it.
 */
const char *
conn_nick(const struct conn *c, char *buf)
{
	const char	*s = c->nickname;
	size_t		 n = strlen(s), i, k, o = 0, open = 0;

	for (i = 0; i < n; i += k ? k : 1) {
		if ((k = tally_char_shown(s + i, n - i)) == 0)
			buf[o++] = '?';
		else {
			memcpy(buf + o, s + i, k);
			o += k;
		}
		if (buf[o - 1] == '(')
			open++;
		else if (buf[o - 1] == ')' && open-- == 0) {
			open = 0;
			buf[o - 1] = '?';	/* closes nothing */
		}
	}
	/* Opened and never closed: those a walk back finds no ')' for. */
	for (i = o, k = 0; open > 0 && i-- > 0;) {
		if (buf[i] == ')')
			k++;
		else if (buf[i] == '(' && k > 0)
			k--;
		else if (buf[i] == '(') {
			buf[i] = '?';
			open--;
		}
	}
	buf[o] = '\0';
	return buf;
}

/*
 * A line about a connection: who it is, if known, and where from.  Lines
 * about peers not yet authenticated (no node id: anyone can connect) go
 * through a quota, CONN_LOG_BURST and then a few a second.
 */
void
conn_log(const struct conn *c, const char *fmt, ...)
{
	char		 line[1024], nick[TALLY_NICKNAME_MAX + 1];
	unsigned long	 quiet;
	va_list		 ap;

	if (c->node_id[0] == '\0' && !gatherer_log_quota(&c->g->anon_log,
	    CONN_LOG_BURST, CONN_LOG_EVERY, &quiet))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	error_shown(line);
	if (c->node_id[0] != '\0')
		fprintf(stderr, "tallyd: node %s (%s) from %s: %s\n",
		    c->node_id, conn_nick(c, nick), c->addr, line);
	else if (quiet > 0)
		fprintf(stderr, "tallyd: %s: %s (and %lu lines about "
		    "unauthenticated peers not logged)\n", c->addr, line,
		    quiet);
	else
		fprintf(stderr, "tallyd: %s: %s\n", c->addr, line);
}

/*
 * Since when the peer has been quiet, for the idle timeout: its last byte,
 * or, for a node that tallyd polls, tallyd's last poll if later.  A node
 * speaks when polled, so a gatherer that was late to poll it (a loop
 * stalled past the idle timeout) must not call the node idle.
 */
static double
conn_quiet_since(const struct conn *c)
{
	if (c->state == CONN_READY && c->poll_sent > c->last_rx)
		return c->poll_sent;
	return c->last_rx;
}

/* Arm the timer for the connection's earliest deadline. */
void
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
		d = gatherer_min(d, conn_quiet_since(c) +
		    g->cfg.idle_timeout);
		break;
	}
	ev_timer_stop(g->loop, &c->timer);
	ev_timer_set(&c->timer, d > now ? d - now : 0., 0.);
	ev_timer_start(g->loop, &c->timer);
}

/* Whether the peer can read a frame of ours: plaintext, or TLS that is up. */
int
conn_speaks(const struct conn *c)
{
	return c->tls == CONN_TLS_NONE || c->tls == CONN_TLS_UP;
}

/* Leave the node id table: a closing connection is no longer the node's. */
static void
conn_unhash(struct conn *c)
{
	struct gatherer	*g = c->g;
	int		 was_up = c->hashed;

	gatherer_hash_del(g, c);
	if (!c->http_said && c->node_id[0] != '\0') {
		c->http_said = 1;
		http_node_down(g, c, was_up);
	}
	c->polling = 0;
	listener_addr_release(c);
	batch_unlock(c);
	if (c->is_new) {
		g->nnew--;
		c->is_new = 0;
	}
}

/* Close at once, without a word: the peer is gone or unwritable. */
void
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
void
conn_close(struct conn *c, uint16_t code, const char *msg)
{
	if (c->state == CONN_CLOSING || c->state == CONN_DEAD)
		return;
	if (c->reason[0] == '\0')
		snprintf(c->reason, sizeof c->reason, "%s", msg);
	conn_unhash(c);
	c->state = CONN_CLOSING;
	c->close_deadline = gatherer_mono() + CONN_LINGER;
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
	conn_io_flush(c);
	if (c->state == CONN_CLOSING)
		conn_timer_arm(c, gatherer_mono());
}

/* A protocol error: log it, count it, tell the peer, close. */
void
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
	stats_count(c->g, STATS_ERRORS, 1);
	conn_close(c, code, msg);
}

/* Release everything; only from the timer callback or at shutdown. */
void
conn_free(struct conn *c)
{
	struct gatherer	*g = c->g;
	char		 nick[TALLY_NICKNAME_MAX + 1];

	/* A HELLO refused was logged as such: it never connected. */
	if (c->connected)
		gatherer_log("disconnected node %s (%s) from %s: %s",
		    c->node_id, conn_nick(c, nick), c->addr, c->reason);
	else if (g->cfg.verbose && c->node_id[0] == '\0')
		conn_log(c, "closed before the handshake: %s", c->reason);
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
	http_conns(g);
	stats_count(g, STATS_DISCONNECTIONS, 1);
	conn_io_in_free(c);
	wire_buf_free(&c->out);
	free(c);
}

void
conn_poll(struct conn *c, double now)
{
	c->seq++;
	if (wire_put_poll(&c->out, c->seq) != 0) {
		conn_kill(c, "out of memory");
		return;
	}
	c->polling = 1;
	c->poll_sent = now;
	gatherer_schedule(c, now);
	conn_io_flush(c);
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
		stats_count(g, STATS_ERRORS, 1);
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

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;
	struct gatherer	*g = c->g;
	double		 now = gatherer_mono(), slack = now + CONN_EPSILON;

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
		    slack >= conn_quiet_since(c) + g->cfg.idle_timeout)) {
			conn_io_read(c);
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
		/*
		 * A poll that is due goes out before the idle check: a loop
		 * late past the idle timeout owes the node its poll, and the
		 * poll's timeout judges the node (test_idle_after_late_loop).
		 */
		if (c->state == CONN_READY && !c->polling &&
		    slack >= c->next_poll)
			conn_poll(c, now);
		if ((c->state == CONN_READY || c->state == CONN_HANDSHAKE) &&
		    slack >= conn_quiet_since(c) + g->cfg.idle_timeout) {
			conn_fail(c, WIRE_E_TIMEOUT, "idle for %g s",
			    g->cfg.idle_timeout);
			break;
		}
		break;
	}
	if (c->state == CONN_DEAD) {
		conn_free(c);
		return;
	}
	conn_timer_arm(c, now);
}

void
conn_handshake_done(void *arg, struct handshake_job *j)
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
		if (tls_resumed(c->ssl))
			stats_count(g, STATS_TLS_RESUMED, 1);
		ev_io_start(g->loop, &c->rio);
		conn_timer_arm(c, gatherer_mono());
		/* HELLO may have come with the client's last flight. */
		conn_io_read(c);
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
		stats_count(g, STATS_ERRORS, 1);
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
		conn_io_flush(c);
	}
	conn_io_read(c);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;

	if (c->rd_wants_write) {
		c->rd_wants_write = 0;
		ev_io_start(c->g->loop, &c->rio);
		conn_io_flush(c);
		conn_io_read(c);
		return;
	}
	conn_io_flush(c);
}

struct conn *
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
	listener_fmt_addr(sa, salen, c->addr, sizeof c->addr);
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
	http_conns(g);
	ev_io_start(g->loop, &c->rio);
	conn_timer_arm(c, now);
	return c;
}

/*
 * At shutdown: ERROR b to a peer that can read it, one try without
 * waiting (the loop is ending), then the connection goes.
 */
void
conn_stop(struct conn *c, const struct wire_buf *b)
{
	struct gatherer	*g = c->g;
	char		 err[64];
	long		 n;

	if ((c->state == CONN_READY || c->state == CONN_HANDSHAKE) &&
	    c->out.len == 0 && b->len > 0 && conn_speaks(c)) {
		if (c->ssl != NULL) {
			n = tls_write(c->ssl, b->data, b->len, err,
			    sizeof err);
			tls_close_notify(c->ssl);
		} else
			n = send(c->fd, b->data, b->len, MSG_NOSIGNAL);
		if (n > 0)
			stats_count(g, STATS_BYTES_OUT, n);
	}
	if (c->reason[0] == '\0')
		snprintf(c->reason, sizeof c->reason, "the gatherer "
		    "is stopping");
	shutdown(c->fd, SHUT_WR);
	conn_free(c);
}
