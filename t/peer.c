/*
 * peer.c: the other end of a connection, for the check programs (see
 * peer.h).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"
#include "fixture.h"
#include "peer.h"

void
peer_wait(int fd, short events, double end)
{
	struct pollfd	 pfd = { fd, events, 0 };
	double		 left;

	for (;;) {
		left = end - fixture_now();
		ck_assert_msg(left > 0, "fd %d not ready by the deadline", fd);
		if (poll(&pfd, 1, (int)(left * 1000) + 1) > 0)
			return;
	}
}

int
peer_listen(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

int
peer_connect(int port, uint16_t *local)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0,
	    "connect: %s", strerror(errno));
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*local = ntohs(sin.sin_port);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

int
peer_tls_accept(int fd, struct ssl_ctx_st *ctx, struct tls **sslp,
    char *err, size_t errlen)
{
	int	 rc;

	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(tls_new(sslp, ctx, fd, NULL, err, errlen), 0);
	while ((rc = tls_handshake(*sslp, err, errlen)) != 0) {
		if (rc == TLS_ERROR)
			return rc;
		peer_wait(fd, rc == TLS_WANT_READ ? POLLIN : POLLOUT,
		    fixture_now() + PEER_DEADLINE);
	}
	return 0;
}

/* Read what comes into b, inside ssl: bytes read, 0 at EOF. */
static long
peer_read_tls(int fd, struct tls *ssl, struct wire_buf *b)
{
	char	 err[TALLY_ERRLEN];
	long	 n;

	for (;;) {
		n = tls_read(ssl, b->data + b->len, b->cap - b->len, err,
		    sizeof err);
		if (n != TLS_WANT_READ && n != TLS_WANT_WRITE)
			break;
		peer_wait(fd, n == TLS_WANT_READ ? POLLIN : POLLOUT,
		    fixture_now() + PEER_DEADLINE);
	}
	ck_assert_msg(n >= 0, "TLS read: %s", err);
	return n;
}

int
peer_read_frame(int fd, struct tls *ssl, struct wire_buf *b,
    const uint8_t **pl, size_t *plen)
{
	uint8_t		 type;
	long		 fl, n;

	b->len = 0;
	for (;;) {
		fl = wire_frame(b->data, b->len, &type, pl, plen);
		if (fl > 0)
			return type;
		ck_assert_int_eq(fl, 0);
		if (ssl == NULL)
			peer_wait(fd, POLLIN, fixture_now() + PEER_DEADLINE);
		ck_assert_int_eq(wire_buf_reserve(b, 65536), 0);
		if (ssl != NULL)
			n = peer_read_tls(fd, ssl, b);
		else {
			n = read(fd, b->data + b->len, b->cap - b->len);
			ck_assert_int_ge(n, 0);
		}
		if (n == 0)
			return -1;	/* closed */
		b->len += (size_t)n;
	}
}

void
peer_send_buf(int fd, struct tls *ssl, struct wire_buf *b)
{
	char		 err[TALLY_ERRLEN];
	size_t		 off = 0;
	long		 n;

	if (ssl == NULL)
		ck_assert_int_eq(write(fd, b->data, b->len), (ssize_t)b->len);
	while (ssl != NULL && off < b->len) {
		n = tls_write(ssl, b->data + off, b->len - off, err,
		    sizeof err);
		if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
			peer_wait(fd, n == TLS_WANT_READ ? POLLIN : POLLOUT,
			    fixture_now() + PEER_DEADLINE);
			continue;
		}
		ck_assert_msg(n > 0, "TLS write: %s", err);
		off += (size_t)n;
	}
	b->len = 0;
}

int
peer_snapshot_counter(const struct snapshot *s, const char *name,
    int64_t *v)
{
	size_t	 i;

	for (i = 0; i < s->ncounters; i++) {
		if (strcmp(snapshot_name(s, &s->counters[i]), name) == 0) {
			*v = s->counters[i].v.i;
			return 1;
		}
	}
	return 0;
}
