/*
 * tallyd.h: tallyd's private header, for tallyd's files only, sectioned by
 * file as tmux's is.  One libev loop in one thread runs everything:
 *
 *	tallyd.c	main: options, the furl, signals
 *	basedir.c	the base directory's files and tallyd's TLS identity
 *	gatherer.c	the gatherer object: start, stop, the node id table,
 *			poll scheduling
 *	listener.c	the listening socket, accept, EMFILE, the connection
 *			limit and the TLS handshakes in flight per address
 *	conn.c		a connection's life: states, its timer, TLS's first
 *			byte and the handshake's return, closing and freeing
 *	conn-io.c	a connection's bytes: reads, writes, buffered input
 *	conn-frame.c	a connection's frames: HELLO, WELCOME, SNAPSHOT, ERROR
 *	batch.c		snapshots batched into few commits, node locks, memory
 *			trimming
 *	stats.c		tallyd's own stats, as a libtally producer
 *	handshake.c	TLS handshakes on threads of their own (handshake.h)
 *	http.c		--http: libmicrohttpd on a thread of its own,
 *			requests, /metrics (http.h has the plan)
 *	http-live.c	what the loop tells the HTTP thread
 *	http-page.c	the status page and /nodes.json
 *	http-reader.c	the statsfile read for them in a process of its own
 *	tls-server.c	the server side of TLS (declared in tally-int.h)
 *
 * Frames are decoded by libtally's wire.c only.
 */
#ifndef TALLYD_H
#define TALLYD_H

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "tally-int.h"
#include "handshake.h"

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
	double		 hello_interval; /* between HELLOs of a node id */
	unsigned	 tls_threads;	/* handshake threads; 0: one a CPU
					   beside the loop's, 1 to 8 */
	int		 verbose;	/* log each snapshot */
};

#define GATHERER_RBUF		(64 * 1024)	/* the shared read buffer */
/* A HELLO is at most 2 + 3 * (1 + 255) bytes of payload. */
#define GATHERER_HELLO_MAX	(1 + 2 + 3 * 256)
/* A batch's slots: see batch.c for the measurement behind it. */
#define BATCH_MAX		256
#define LISTENER_ADDR_HASH	1024	/* buckets of the address table */
/* A numeric address, with an IPv6 scope such as %eth0. */
#define LISTENER_HOSTLEN	(INET6_ADDRSTRLEN + IF_NAMESIZE)
#define LISTENER_ADDRLEN	(LISTENER_HOSTLEN + 10)	/* [host]:port */

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
	int			 http_said;	/* its end told http.c */
	int			 is_new;	/* no record yet: counts in nnew */
	int			 connected;	/* its HELLO was admitted */
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
	char			 addr[LISTENER_ADDRLEN];
	char			 node_id[TALLY_NODE_ID_MAX + 1];
	char			 nickname[TALLY_NICKNAME_MAX + 1];
	char			 key[FURL_FP_LEN + 1];	/* its key's, TLS */
	char			 reason[128];	/* why it closed */
};

/* Handshakes in flight from one address (the host part of conn.addr). */
struct listener_addr {
	struct listener_addr	*next;
	unsigned		 n;
	char			 host[LISTENER_ADDRLEN];
};

/* A snapshot waiting for the next commit; owns copies of everything. */
struct batch_ent {
	char			 node_id[TALLY_NODE_ID_MAX + 1];
	struct record_node	 rn;
	struct snapshot		 snap;
};

/* The gatherer's own counters, in the order of stats.c's names. */
enum stats_counter {
	STATS_CONNECTIONS,
	STATS_DISCONNECTIONS,
	STATS_SNAPSHOTS,
	STATS_SAMPLES,
	STATS_BYTES_IN,
	STATS_BYTES_OUT,
	STATS_ERRORS,
	STATS_COMMITS,
	STATS_COMMIT_FAILURES,
	STATS_TLS_RESUMED,
	STATS_N
};

/* Lines of one kind that peers can cause: see gatherer_log_quota. */
struct log_limit {
	double		 tokens;	/* lines that may go now */
	double		 at;		/* when tokens was counted */
	unsigned long	 quiet;		/* lines not logged since */
	int		 started;
};

/* The gatherer; each group of fields belongs to the file that names it. */
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
	struct ssl_ctx_st	*tls;		/* NULL: plaintext */
	struct handshake_pool	*hs;		/* TLS: the handshake threads */
	char			 fingerprint[FURL_FP_LEN + 1];
	uint8_t			*rbuf;		/* GATHERER_RBUF, for reads */
	int			 stopped;

	/* listener.c */
	int			 lfd;
	ev_io			 accept_w;
	ev_timer		 accept_pause;
	char			 host[NI_MAXHOST];
	char			 port[NI_MAXSERV];
	struct log_limit	 busy_log;	/* over max_connections */
	struct listener_addr	*addrs[LISTENER_ADDR_HASH];
	struct log_limit	 addr_log;	/* over handshakes per addr */
	struct log_limit	 anon_log;	/* conn_log, unauthenticated */

	/* conn.c, conn-io.c; the node id table is gatherer.c's */
	size_t			 input;		/* bytes of every conn's in */
	unsigned		 nnew;		/* connected nodes with no record */
	struct conn		*conns;
	unsigned		 nconns;
	struct conn		**table;	/* node id -> READY conn */
	size_t			 tsize, tcount;

	/* hello.c: node ids welcomed within the last hello_interval */
	struct hello_ent	**hello;
	size_t			 hello_size, hello_count;

	/* batch.c */
	struct store		*store;
	struct nodelock		*locks;		/* remote nodes' node locks */
	struct batch_ent	*batch;
	struct store_slot	*slots;
	size_t			 nbatch, nsamples;
	ev_timer		 batch_timer;
	ev_timer		 trim_timer;
	double			 commit_sec, commit_max_sec;
	unsigned long		 commits_failed;	/* in a row */
	char			 commit_err[TALLY_ERRLEN];

	/* http.c: NULL without --http */
	struct http		*http;

	/* stats.c */
	tally_provider		*self;
	tally_counter		*stat[STATS_N];
	tally_producer		 producer;
	int			 self_attached;
};

/* tallyd.c */
/* Start-up errors only: a message on stderr, and exit 1. */
void	 tallyd_die(const char *, ...) TALLY_PRINTF(1, 2) __attribute__((noreturn));

/* basedir.c: BASEDIR's files; each dies with a message on failure. */
#define BASEDIR_FURL		"stats_gatherer.furl"
#define BASEDIR_KEY		"tallyd.key"
#define BASEDIR_CERT		"tallyd.crt"
#define BASEDIR_TICKETS		"tallyd.tickets"
#define BASEDIR_LISTEN		"listen"
/* Create the last component of path with mode, if it is missing. */
void	 basedir_mkdir(const char *, const char *, mode_t);
/* Write dir/name as one line, mode 0600, atomically. */
void	 basedir_write(const char *, const char *, const char *);
/* The first line of dir/name, or NULL if there is no such file. */
char	*basedir_read(const char *, const char *);
/* Refuse dir/name unless it is tallyd's own, mode 0600 or narrower. */
void	 basedir_private(const char *, const char *);
/* The TLS identity's paths into key and cert; made on the first run. */
void	 basedir_identity(const char *, char *, size_t, char *, size_t);

/* gatherer.c */
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
/* hello.c: 0 if node id may be welcomed now, else the seconds to wait;
 * hello_note once it was. */
double	 hello_wait(struct gatherer *, const char *, double);
void	 hello_note(struct gatherer *, const char *, double);
void	 hello_free(struct gatherer *);

/* One line on stderr, "tallyd: " first. */
void	 gatherer_log(const char *, ...) TALLY_PRINTF(1, 2);
/*
 * Whether one more line of a kind a peer can cause at will may go: 1 (with
 * *quiet the lines not logged since the last one that went), or 0 (counted
 * among them).  burst lines at once, then one every `every' seconds.
 */
int	 gatherer_log_quota(struct log_limit *, double burst, double every,
	    unsigned long *quiet);
/* Monotonic seconds, for every deadline. */
double	 gatherer_mono(void);
double	 gatherer_min(double, double);
/* The secret of a HELLO, compared in constant time: 1 if it is ours. */
int	 gatherer_secret_ok(const struct gatherer *, const char *, size_t);
/* The node id table: READY connections by node id. */
struct conn *gatherer_find(struct gatherer *, const char *);
int	 gatherer_hash_add(struct gatherer *, struct conn *);
void	 gatherer_hash_del(struct gatherer *, struct conn *);
/* A node's phase in the interval, from its node id. */
double	 gatherer_phase(const struct gatherer *, const char *, size_t);
/* After a POLL sent at now: when c's next one is due (c->next_poll). */
void	 gatherer_schedule(struct conn *, double);

/* listener.c */
/* Bind and listen on cfg's address (g->host, g->port: what was bound). */
int	 listener_open(struct gatherer *, char *, size_t);
void	 listener_start(struct gatherer *);
/* Stop accepting and close the socket; idempotent. */
void	 listener_close(struct gatherer *);
/* "1.2.3.4:5" or "[::1]:5"; an IPv4-mapped address reads as IPv4. */
void	 listener_fmt_addr(const struct sockaddr *, socklen_t, char *, size_t);
/* Count c among its address's TLS handshakes: 0, or -1 over the cap. */
int	 listener_addr_take(struct conn *);
void	 listener_addr_release(struct conn *);

/* conn.c */
struct conn *conn_new(struct gatherer *, int, const struct sockaddr *,
	     socklen_t);
/* Release everything; only from the timer callback or at shutdown. */
void	 conn_free(struct conn *);
void	 conn_log(const struct conn *, const char *, ...) TALLY_PRINTF(2, 3);
/* c's nickname as the log shows it, into buf (TALLY_NICKNAME_MAX + 1). */
const char *conn_nick(const struct conn *, char *);
/* Close at once, without a word: the peer is gone or unwritable. */
void	 conn_kill(struct conn *, const char *, ...) TALLY_PRINTF(2, 3);
/* Send ERROR code (0: none), then close gracefully. */
void	 conn_close(struct conn *, uint16_t, const char *);
/* A protocol error: log it, count it, tell the peer, close. */
void	 conn_fail(struct conn *, uint16_t, const char *, ...)
	     TALLY_PRINTF(3, 4);
/* Whether the peer can read a frame of ours: plaintext, or TLS that is up. */
int	 conn_speaks(const struct conn *);
/* Arm the timer for the connection's earliest deadline. */
void	 conn_timer_arm(struct conn *, double);
/* Send POLL now and schedule the next. */
void	 conn_poll(struct conn *, double);
/* A handshake back from its thread, in the loop (handshake_done_fn). */
void	 conn_handshake_done(void *, struct handshake_job *);
/* At shutdown: one try at ERROR b, without waiting, then free c. */
void	 conn_stop(struct conn *, const struct wire_buf *);

/* conn-io.c */
/* Read whatever the peer sent and act on each whole frame. */
void	 conn_io_read(struct conn *);
/* Send what is queued; a CLOSING connection then shuts its write side. */
void	 conn_io_flush(struct conn *);
void	 conn_io_in_free(struct conn *);

/* conn-frame.c */
/* The whole frames at the start of (buf, len): bytes used, or -1. */
long	 conn_frame_parse(struct conn *, const uint8_t *, size_t);

/* batch.c */
int	 batch_new(struct gatherer *);
/* Open the statsfile for writing, and its node locks. */
int	 batch_open(struct gatherer *, char *, size_t);
void	 batch_free(struct gatherer *);
/* Where a node's newest state is: the batch, if a snapshot waits there. */
struct batch_ent *batch_find(struct gatherer *, const char *);
/* The next free slot, its snapshot reset, for a SNAPSHOT to decode into. */
struct batch_ent *batch_next(struct gatherer *);
/* A slot whose snapshot was refused: it keeps no big memory. */
void	 batch_spill(struct batch_ent *);
/* Queue the slot batch_next() gave, of n samples; commits when full. */
void	 batch_add(struct gatherer *, size_t);
/* Write every queued snapshot in one transaction. */
void	 batch_commit(struct gatherer *);
/* One live writer per node id: 0, or an error with err set. */
int	 batch_lock(struct conn *, char *, size_t);
/* Let go of c's node lock, once its last snapshot is written. */
void	 batch_unlock(struct conn *);

/* http.c */
struct http;
/* Descriptors --http may hold: its connections, a reader's pipes. */
#define HTTP_CONN_MAX	128
#define HTTP_FDS	(HTTP_CONN_MAX + 16)
/*
 * Listen on host:port and serve from libmicrohttpd's thread.  0, or a
 * TALLY_E* code with a message in err.  Set g->http to it afterwards.
 */
int	 http_new(struct http **, struct gatherer *, const char *,
	     const char *, char *, size_t);
/* "http://ADDR:PORT/", as bound. */
const char *http_where(const struct http *);
/* Stop serving (waits for the request at hand) and free.  NULL ignored. */
void	 http_free(struct http *);
/* From the loop: what the status page shows; each a no-op without --http. */
void	 http_node_up(struct gatherer *, const struct conn *);
void	 http_node_down(struct gatherer *, const struct conn *, int);
void	 http_snapshot(struct gatherer *);
void	 http_conns(struct gatherer *);
void	 http_commit(struct gatherer *, double, int, const char *);

/* http-reader.c: tallyd --http-reader MODE STATSFILE; an exit status. */
int	 http_reader_main(int, char **);

/* stats.c */
int	 stats_new(struct gatherer *, char *, size_t);
void	 stats_count(struct gatherer *, enum stats_counter, int64_t);
/* The gatherer's own node id, which no peer may take. */
const char *stats_node_id(struct gatherer *);
/* Stop the own provider: its last flush sees the final counts. */
void	 stats_stop(struct gatherer *);
void	 stats_free(struct gatherer *);

#endif /* TALLYD_H */
