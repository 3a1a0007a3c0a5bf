/*
 * gatherer.h: the interface between tallyd's main (tallyd.c: options, the
 * base directory, the furl, signals) and the gatherer itself (gatherer.c:
 * the listener, the connections, polling and the batched commits).
 */
#ifndef GATHERER_H
#define GATHERER_H

#include <stddef.h>

struct ev_loop;
struct gatherer;

/* Everything the gatherer needs to run; strings are copied. */
struct gatherer_config {
	const char	*listen_host;	/* a name or numeric address */
	const char	*listen_port;	/* "0": the kernel chooses */
	const char	*secret;	/* the furl's secret */
	const char	*tls_key;	/* PEM files of the gatherer's identity; */
	const char	*tls_cert;	/* both NULL: plaintext (loopback only) */
	const char	*statsfile;	/* an existing directory */
	const char	*basedir;	/* where the gatherer's own node.id lives */
	double		 interval;	/* seconds between polls of a node */
	double		 poll_timeout;	/* seconds a poll may stay unanswered */
	double		 handshake_timeout;
	double		 idle_timeout;	/* seconds without a byte from a peer */
	unsigned	 max_connections;
	/*
	 * Limits, each 0 for its default (tallyd(8) documents them all):
	 * seconds for a TLS peer's first flight (its ClientHello), TLS
	 * handshakes in flight from one address, nodes in the statsfile
	 * (a new node is refused once reached), metrics in a snapshot,
	 * bytes in a frame (at most WIRE_FRAME_MAX), and bytes of input
	 * buffered across every connection.
	 */
	double		 first_flight_timeout;
	unsigned	 max_handshakes_per_addr;
	unsigned	 max_nodes;
	unsigned	 max_metrics;
	size_t		 max_frame;
	size_t		 max_input;
	unsigned	 tls_threads;	/* handshake threads; 0: one a CPU
					   beside the loop's, 1 to 8 */
	int		 verbose;	/* log each snapshot */
};

/*
 * Open the statsfile (writer), bind and listen, and attach the gatherer's
 * own libtally provider to loop.  Nothing is accepted before the loop runs.
 * Returns 0, or a TALLY_E* code with a message in err; *gp is then NULL.
 */
int	 gatherer_new(struct gatherer **, struct ev_loop *,
	     const struct gatherer_config *, char *, size_t);

/* The address actually bound (numeric host and port, after port 0). */
void	 gatherer_address(const struct gatherer *, char *, size_t, char *,
	     size_t);

/* The certificate's fingerprint for the furl; "" when plaintext. */
const char *gatherer_fingerprint(const struct gatherer *);

/* Run the loop until gatherer_shutdown(); returns 0. */
int	 gatherer_run(struct gatherer *);

/*
 * Stop: read what the peers already sent, commit every snapshot received,
 * send ERROR shutdown to each peer, close the connections and the listener,
 * stop the own provider (its last flush) and stop the loop.  Idempotent.
 */
void	 gatherer_shutdown(struct gatherer *);

/* Shut down if needed and release everything.  NULL is ignored. */
void	 gatherer_free(struct gatherer *);

#endif /* GATHERER_H */
