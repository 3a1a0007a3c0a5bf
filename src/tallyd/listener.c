/*
 * listener.c: tallyd's listening socket and what happens at accept():
 * the connection limit, EMFILE and its kin, and the cap of TLS handshakes
 * in flight per address.
 *
 * Limits: over max_connections a connection is accepted, told ERROR busy
 * and closed; on EMFILE and its kin the listener pauses for a second
 * instead of spinning on a backlog it cannot drain.
 *
 * A TLS handshake costs the gatherer a key exchange and a signature, and
 * an SSL object while it lasts: so one address may have only so many in
 * flight (max_handshakes_per_addr), from accept() until its HELLO is
 * accepted or it goes.  Over the cap a connection is closed at once.  The
 * table holds the addresses with handshakes in flight, no others.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "tallyd.h"

#define LISTENER_ACCEPTS	64	/* accepts per wakeup */
#define LISTENER_BACKLOG	4096
#define LISTENER_PAUSE		1.0	/* seconds without accepts, EMFILE */

void
listener_fmt_addr(const struct sockaddr *sa, socklen_t len, char *out,
    size_t outlen)
{
	char		 host[LISTENER_HOSTLEN], serv[8];
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
 * Whom a connection counts against: the host part of "1.2.3.4:5", or for
 * "[2001:db8::1]:5" its /64, since one IPv6 host has a /64 of addresses
 * to connect from.
 */
static void
listener_host(const char *addr, char *host, size_t len)
{
	const char	*colon = strrchr(addr, ':');
	struct in6_addr	 a6;
	char		 buf[LISTENER_ADDRLEN];
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

static struct listener_addr **
listener_addr_slot(struct gatherer *g, const char *host)
{
	struct listener_addr	**pp;

	pp = &g->addrs[name_hash(host, strlen(host)) % LISTENER_ADDR_HASH];
	while (*pp != NULL && strcmp((*pp)->host, host) != 0)
		pp = &(*pp)->next;
	return pp;
}

int
listener_addr_take(struct conn *c)
{
	struct gatherer		*g = c->g;
	struct listener_addr	**pp, *a;
	char			 host[LISTENER_ADDRLEN];

	listener_host(c->addr, host, sizeof host);
	pp = listener_addr_slot(g, host);
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

void
listener_addr_release(struct conn *c)
{
	struct listener_addr	**pp, *a;
	char			 host[LISTENER_ADDRLEN];

	if (!c->addr_counted)
		return;
	c->addr_counted = 0;
	listener_host(c->addr, host, sizeof host);
	pp = listener_addr_slot(c->g, host);
	if ((a = *pp) == NULL)
		return;
	if (--a->n == 0) {
		*pp = a->next;
		free(a);
	}
}

/*
 * Over the connection limit: say so and close.  What the peer already sent
 * is read first, so that the close is a FIN after our ERROR, not a reset.
 * A TLS peer could only read an ERROR after a TLS handshake, the costly
 * part of a connection that the limit is there to refuse: it is closed
 * without a word, and the log says why.
 */
static void
listener_busy(struct gatherer *g, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	struct wire_buf	 b;
	char		 addr[LISTENER_ADDRLEN];
	unsigned long	 quiet;
	ssize_t		 n;

	while (recv(fd, g->rbuf, GATHERER_RBUF, 0) > 0)
		;
	wire_buf_init(&b);
	if (g->tls == NULL &&
	    wire_put_error(&b, WIRE_E_BUSY, "too many connections") == 0 &&
	    (n = send(fd, b.data, b.len, MSG_NOSIGNAL)) > 0)
		stats_count(g, STATS_BYTES_OUT, n);
	wire_buf_free(&b);
	shutdown(fd, SHUT_WR);
	close(fd);
	stats_count(g, STATS_DISCONNECTIONS, 1);
	stats_count(g, STATS_ERRORS, 1);
	/* One line a second at most: a flood must not flood the log. */
	if (gatherer_log_quota(&g->busy_log, 1.0, 1.0, &quiet)) {
		listener_fmt_addr(sa, salen, addr, sizeof addr);
		gatherer_log("%s: refused: %u connections is the limit (%lu "
		    "refused since the last such line)", addr,
		    g->cfg.max_connections, quiet + 1);
	}
}

/*
 * Over the cap of TLS handshakes from one address: closed at once, as
 * over the connection limit, and said once a second at most.
 */
static void
listener_addr_refuse(struct conn *c)
{
	struct gatherer	*g = c->g;
	unsigned long	 quiet;

	stats_count(g, STATS_ERRORS, 1);
	conn_kill(c, "over the limit of TLS handshakes in flight from its "
	    "address");
	if (gatherer_log_quota(&g->addr_log, 1.0, 1.0, &quiet))
		gatherer_log("%s: refused: %u TLS handshakes in flight from "
		    "one address is the limit (tallyd "
		    "--max-handshakes-per-addr; %lu refused since the last "
		    "such line)", c->addr, g->cfg.max_handshakes_per_addr,
		    quiet + 1);
}

static void
listener_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gatherer		*g = w->data;
	struct sockaddr_storage	 ss;
	struct conn		*c;
	socklen_t		 slen;
	int			 i, fd;

	for (i = 0; i < LISTENER_ACCEPTS; i++) {
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
				    strerror(errno), LISTENER_PAUSE,
				    g->nconns);
				stats_count(g, STATS_ERRORS, 1);
				ev_io_stop(loop, &g->accept_w);
				ev_timer_set(&g->accept_pause,
				    LISTENER_PAUSE, 0.);
				ev_timer_start(loop, &g->accept_pause);
				return;
			default:
				gatherer_log("accept: %s", strerror(errno));
				stats_count(g, STATS_ERRORS, 1);
				return;
			}
		}
		stats_count(g, STATS_CONNECTIONS, 1);
		if (g->nconns >= g->cfg.max_connections) {
			listener_busy(g, fd, (struct sockaddr *)&ss, slen);
			continue;
		}
		if ((c = conn_new(g, fd, (struct sockaddr *)&ss, slen)) ==
		    NULL) {
			gatherer_log("accept: out of memory");
			stats_count(g, STATS_ERRORS, 1);
			stats_count(g, STATS_DISCONNECTIONS, 1);
			close(fd);
			continue;
		}
		if (g->tls != NULL && listener_addr_take(c) != 0)
			listener_addr_refuse(c);
	}
}

static void
listener_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gatherer	*g = w->data;

	if (!g->stopped)
		ev_io_start(loop, &g->accept_w);
}

int
listener_open(struct gatherer *g, char *err, size_t errlen)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 slen;
	int			 rc, fd = -1, one = 1, e = 0;

	ev_init(&g->accept_pause, listener_pause_cb);
	g->accept_pause.data = g;
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
		    listen(fd, LISTENER_BACKLOG) == 0)
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

void
listener_start(struct gatherer *g)
{
	ev_io_init(&g->accept_w, listener_accept_cb, g->lfd, EV_READ);
	g->accept_w.data = g;
	ev_io_start(g->loop, &g->accept_w);
}

void
listener_close(struct gatherer *g)
{
	ev_io_stop(g->loop, &g->accept_w);
	ev_timer_stop(g->loop, &g->accept_pause);
	if (g->lfd >= 0) {
		close(g->lfd);
		g->lfd = -1;
	}
}
