/*
 * peer.h: the other end of a connection, for the check programs that talk
 * to a provider or a gatherer: a fake gatherer's listening socket and a
 * fake provider's connection on loopback, the server's side of TLS, and
 * frames read and written whole.  Every wait has a deadline and fails the
 * test when it passes; peer.c includes tally-int.h for the types.
 */
#ifndef PEER_H
#define PEER_H

#include <stddef.h>
#include <stdint.h>

struct snapshot;
struct ssl_ctx_st;
struct tls;
struct wire_buf;

/* Seconds any single wait may take: 10x the longest thing awaited. */
#define PEER_DEADLINE	10.0

/*
 * Wait until fd is ready for events (POLLIN, POLLOUT); fails the test if
 * it is not by end (fixture_now's clock).
 */
void	 peer_wait(int fd, short events, double end);

/* A TCP socket listening on 127.0.0.1, on a port of the kernel's: *port. */
int	 peer_listen(int *port);

/*
 * A TCP connection to 127.0.0.1:port, made non-blocking once connected;
 * *local is its own port, the one a gatherer sees.
 */
int	 peer_connect(int port, uint16_t *local);

/*
 * The server's TLS handshake, with ctx, on an accepted fd (then made
 * non-blocking): 0 and *sslp, or TLS_ERROR with the reason in err.
 */
int	 peer_tls_accept(int fd, struct ssl_ctx_st *ctx, struct tls **sslp,
	    char *err, size_t errlen);

/*
 * Read one whole frame from fd, inside ssl unless it is NULL, into b
 * (emptied first), each wait up to PEER_DEADLINE: returns the frame's type
 * with its payload at *pl, *plen, or -1 at EOF.
 */
int	 peer_read_frame(int fd, struct tls *ssl, struct wire_buf *b,
	    const uint8_t **pl, size_t *plen);

/* Send all of b on fd, inside ssl unless it is NULL; b is then empty. */
void	 peer_send_buf(int fd, struct tls *ssl, struct wire_buf *b);

/* Counter name of a snapshot: 1 with its value in *v, or 0. */
int	 peer_snapshot_counter(const struct snapshot *s, const char *name,
	    int64_t *v);

#endif /* PEER_H */
