/*
 * handshake.h: tallyd's TLS handshakes on threads of their own
 * (handshake.c).  Internal to tallyd.
 */
#ifndef HANDSHAKE_H
#define HANDSHAKE_H

#include <ev.h>

struct ssl_ctx_st;
struct tls;
struct handshake_pool;
struct handshake_thread;

enum handshake_rc {
	HANDSHAKE_PENDING,	/* with a thread */
	HANDSHAKE_OK,		/* tls is established */
	HANDSHAKE_FAILED,	/* err says why */
	HANDSHAKE_TIMEOUT,	/* the deadline passed first */
	HANDSHAKE_CANCELLED	/* the pool stopped first */
};

/* The first flight's deadline a caller gives unless it knows better. */
#define HANDSHAKE_FIRST_TIMEOUT	3.0

/*
 * One server handshake on a connected non-blocking socket.  The caller
 * fills fd, timeout (the seconds the whole handshake may take),
 * first_timeout (the seconds the peer's ClientHello may take to arrive
 * whole; 0: no deadline of its own) and arg; the job comes back through
 * the pool's done function with rc, err and tls, the connection, which is
 * the caller's to free whatever rc says (it may be NULL).
 */
struct handshake_job {
	int			 fd;
	double			 timeout;
	double			 first_timeout;
	void			*arg;

	enum handshake_rc	 rc;
	struct tls		*tls;
	char			 err[256];

	/* The pool's. */
	struct handshake_job	*next, *prev;
	struct handshake_thread	*thread;
	ev_io			 io;
	ev_timer		 timer;		/* the whole handshake */
	ev_timer		 first;		/* the ClientHello */
};

typedef void (*handshake_done_fn)(void *, struct handshake_job *);

/* nthreads threads (at least one) handshaking with ctx; done runs in loop. */
int	 handshake_pool_new(struct handshake_pool **, struct ev_loop *,
	     struct ssl_ctx_st *, unsigned, handshake_done_fn, void *, char *,
	     size_t);
void	 handshake_submit(struct handshake_pool *, struct handshake_job *);
/* Join the threads; every job still out comes back HANDSHAKE_CANCELLED. */
void	 handshake_pool_free(struct handshake_pool *);

#endif
