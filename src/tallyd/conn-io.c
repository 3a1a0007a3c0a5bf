/*
 * conn-io.c: a connection's bytes: reads into the shared buffer or the
 * connection's own, writes of what is queued, and the input buffered
 * across every connection (max_input).
 *
 * With TLS a read may wait for the socket to be writable and a write for
 * it to be readable: rd_wants_write and wr_wants_read note that, and each
 * watcher's callback (conn.c) serves the other direction when asked.  A
 * CLOSING connection reads raw bytes, since it only waits for the peer's
 * EOF.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "tallyd.h"

#define CONN_IO_READS		8	/* reads per wakeup, for fairness */
#define CONN_IO_GROW_MAX	(1024 * 1024)	/* buffer growth per read */

/* conn_io_send() and conn_io_recv(), beside a byte count. */
#define CONN_IO_WAIT	(-1)	/* the watchers are set; try later */
#define CONN_IO_DEAD	(-2)	/* the connection was killed */

/*
 * The whole size of the frame that the len bytes at p begin, or 0 while
 * its length field is not all there.
 */
static size_t
conn_io_frame_size(const uint8_t *p, size_t len)
{
	uint32_t flen;
	uint8_t	 type;

	if (len < WIRE_LENGTH)
		return 0;
	(void)wire_peek(p, len, &type, &flen);
	return WIRE_LENGTH + (size_t)flen;
}

/*
 * Room for n more bytes in c->in, within max_input across every
 * connection: 0, or -1 with the connection closed (ERROR limit) or killed.
 * frame is the size of the frame being read (0 if not known yet): the
 * buffer grows no larger, so that max_input counts what frames need, not
 * what doubling would leave spare.
 */
static int
conn_io_in_reserve(struct conn *c, size_t n, size_t frame)
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
	if (wire_buf_reserve_upto(&c->in, n, frame) != 0) {
		conn_kill(c, "out of memory for a frame");
		return -1;
	}
	g->input += c->in.cap - before;
	return 0;
}

void
conn_io_in_free(struct conn *c)
{
	c->g->input -= c->in.cap;
	wire_buf_free(&c->in);
}

/*
 * send() or SSL_write(): the bytes sent, CONN_IO_WAIT with the watchers
 * set for the retry, or CONN_IO_DEAD.
 */
static long
conn_io_send(struct conn *c, const void *buf, size_t len)
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
conn_io_recv(struct conn *c, void *buf, size_t len)
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
		stats_count(g, STATS_ERRORS, 1);
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

/*
 * Send what is queued.  On a hard error the connection is killed; on a
 * short write the write watcher takes over.  Once a CLOSING connection has
 * said everything, its write side is shut so the peer sees our EOF.
 */
void
conn_io_flush(struct conn *c)
{
	struct gatherer	*g = c->g;
	long		 n;

	if (c->state == CONN_DEAD)
		return;
	while (c->out.len > 0) {
		if ((n = conn_io_send(c, c->out.data, c->out.len)) < 0)
			return;
		stats_count(g, STATS_BYTES_OUT, n);
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

/* Bytes still missing from the frame begun in c->in, if its size is known. */
static size_t
conn_io_missing(const struct conn *c)
{
	size_t	 total;

	/* A header first: no more than a HELLO's worth on a guess. */
	if ((total = conn_io_frame_size(c->in.data, c->in.len)) == 0)
		return 256 - c->in.len;
	return total > c->in.len ? total - c->in.len : 256;
}

/* Read whatever the peer sent and act on each whole frame. */
void
conn_io_read(struct conn *c)
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
		if (i >= CONN_IO_READS && !(tls && i == CONN_IO_READS &&
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
			want = conn_io_missing(c);
			if (want > CONN_IO_GROW_MAX)
				want = CONN_IO_GROW_MAX;
			if (conn_io_in_reserve(c, want, conn_io_frame_size(
			    c->in.data, c->in.len)) != 0)
				return;
			buf = c->in.data + c->in.len;
			room = c->in.cap - c->in.len;
		}
		n = conn_io_recv(c, buf, room);
		if (n < 0)
			return;
		if (n == 0) {
			if (c->state == CONN_CLOSING)
				conn_kill(c, "closed");
			else if (c->in.len > 0) {
				conn_log(c, "closed in the middle of a frame "
				    "(%zu bytes of it)", c->in.len);
				stats_count(g, STATS_ERRORS, 1);
				conn_kill(c, "truncated frame");
			} else
				conn_kill(c, "closed by the peer");
			return;
		}
		stats_count(g, STATS_BYTES_IN, n);
		/* A closing connection only waits for the peer's EOF. */
		if (c->state == CONN_CLOSING)
			continue;
		c->last_rx = gatherer_mono();
		if (shared) {
			if ((used = conn_frame_parse(c, buf, (size_t)n)) < 0)
				return;
			if ((rest = (size_t)n - (size_t)used) > 0) {
				if (conn_io_in_reserve(c, rest,
				    conn_io_frame_size(buf + used, rest)) != 0)
					return;
				memcpy(c->in.data, buf + used, rest);
				c->in.len = rest;
			}
		} else {
			c->in.len += (size_t)n;
			if ((used = conn_frame_parse(c, c->in.data,
			    c->in.len)) < 0)
				return;
			wire_buf_consume(&c->in, (size_t)used);
			/* Big frames leave no big buffer behind. */
			if (c->in.len == 0)
				conn_io_in_free(c);
		}
		/* A short read drained the socket; TLS reads a record. */
		if (!tls && (size_t)n < room)
			return;
	}
}

