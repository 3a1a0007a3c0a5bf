/*
 * tally-int.h: internals shared by libtally's files, tallyd, the CLI and the
 * munin plugin.  Nothing here is public or stable.  Sectioned by file, as
 * tmux does; a function's prefix is its file's name.
 */
#ifndef TALLY_INT_H
#define TALLY_INT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tally.h"
#include "tally-protocol.h"

#if defined(__GNUC__)
#define TALLY_LIKELY(x)   __builtin_expect(!!(x), 1)
#define TALLY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TALLY_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TALLY_LIKELY(x)   (x)
#define TALLY_UNLIKELY(x) (x)
#define TALLY_PRINTF(f, a)
#endif

/* A caller-supplied buffer for a human message, as redis' anet does. */
#define TALLY_ERRLEN 512

/* error.c */
/* Format a message into (err, errlen), if err is not NULL; return code. */
int	 error_set(char *, size_t, int, const char *, ...) TALLY_PRINTF(4, 5);
/*
 * Quote untrusted bytes for a message into buf: at most ERROR_QUOTE_MAX
 * bytes, control and non-ASCII bytes and backslashes as \xNN, "..." when
 * cut.  Returns buf.  ERROR_QUOTE_LEN is the buffer size that holds it all.
 */
#define ERROR_QUOTE_MAX	200
#define ERROR_QUOTE_LEN	(ERROR_QUOTE_MAX + 1)
_Static_assert(ERROR_QUOTE_LEN == TALLY_QUOTE_LEN, "tally_quote is error_quote");
const char *error_quote(char *, size_t, const char *, size_t);
/* A line with every byte a terminal would not show as text made '?'. */
char	*error_shown(char *);
/* What a file of mode m is, for "P is a FIFO, not a regular file". */
const char *error_ftype(mode_t);

/* name.c */
int	 name_node_id_valid(const char *, size_t);
int	 name_stat_valid(const char *, size_t);
int	 name_nickname_valid(const char *, size_t);
/*
 * FNV-1a, 32 bits, of a name: for hash tables and poll phases.  (The munin
 * plugin has its own, munin/fields.c, for its field names.)
 */
uint32_t name_hash(const char *, size_t);

/* record.c: the text encoding of every database value. */
#define RECORD_NUMLEN 32	/* enough for any int64 or double text */
size_t	 record_fmt_int64(char *, int64_t);
size_t	 record_fmt_double(char *, double);
int	 record_parse_int64(const char *, size_t, int64_t *);
int	 record_parse_double(const char *, size_t, double *);
/*
 * The nodes record: "nickname=..\ntime=..\nsource=..\n", one field a line,
 * then "interval=..\n" and, for a node bound to a TLS key, "key=..\n".
 * The key is the fingerprint of the node's own key, bound on its first TLS
 * contact: unpadded base32 of a SHA-256, as FURL_FP_LEN (record.c asserts
 * that they are equal; the furl section comes later).
 */
#define RECORD_KEY_LEN	52
struct record_node {
	char	 nickname[TALLY_NICKNAME_MAX + 1];
	int64_t	 time;
	char	 source[128];
	double	 interval;	/* 0 when absent */
	char	 key[RECORD_KEY_LEN + 1];	/* "": no key bound */
};
/* 1 if (s, len) is a key fingerprint as record_node_parse takes one. */
int	 record_key_valid(const char *, size_t);
int	 record_node_fmt(char *, size_t, const struct record_node *);
int	 record_node_parse(const char *, size_t, struct record_node *,
	     char *, size_t);
/*
 * The one rule for a snapshot time (tally(5), "time"): sane when it is no
 * earlier than RECORD_TIME_MIN (2000-01-01T00:00:00Z) and no later than
 * now + RECORD_TIME_AHEAD (a day ahead of the reader's clock).  Readers
 * show an insane time raw, take its node as stale and let prune remove it;
 * the gatherer does not let one from the wire into the file.  1 sane, 0
 * not; never overflows, whatever the two int64s.
 */
#define RECORD_TIME_MIN		INT64_C(946684800)
#define RECORD_TIME_AHEAD	INT64_C(86400)
int	 record_time_sane(int64_t, int64_t);
/* now - t, saturated at INT64_MIN and INT64_MAX: an age that never wraps. */
int64_t	 record_time_age(int64_t, int64_t);

/* snapshot.c: one node's counters and stats, built at each flush. */
struct snapshot_ent {
	size_t	 name;		/* offset of the NUL-terminated name in arena */
	uint16_t nlen;
	uint32_t seq;		/* insertion order, so the last put wins */
	union {
		int64_t	 i;
		double	 d;
	} v;
};
struct snapshot {
	struct snapshot_ent	*counters;
	size_t			 ncounters, ccap;
	struct snapshot_ent	*stats;
	size_t			 nstats, scap;
	char			*arena;
	size_t			 alen, acap;
	uint32_t		 seq;
};
void	 snapshot_init(struct snapshot *);
void	 snapshot_reset(struct snapshot *);
void	 snapshot_free(struct snapshot *);
int	 snapshot_add_counter(struct snapshot *, const char *, size_t, int64_t);
int	 snapshot_add_stat(struct snapshot *, const char *, size_t, double);
void	 snapshot_truncate_stats(struct snapshot *, size_t);
/* Sort both arrays by name and drop duplicates, keeping the last put. */
void	 snapshot_finish(struct snapshot *);
static inline const char *
snapshot_name(const struct snapshot *s, const struct snapshot_ent *e)
{
	return s->arena + e->name;
}

/* wire.c: frames of tally-protocol.h, built and parsed from (buf, len). */
struct wire_buf {
	uint8_t	*data;
	size_t	 len, cap;
};
void	 wire_buf_init(struct wire_buf *);
void	 wire_buf_free(struct wire_buf *);
/* Drop the first n bytes (sent or consumed). */
void	 wire_buf_consume(struct wire_buf *, size_t);
/* Make room for n more bytes; 0 or TALLY_ENOMEM. */
int	 wire_buf_reserve(struct wire_buf *, size_t);
/* The same, growing no further than want bytes if they hold the n more. */
int	 wire_buf_reserve_upto(struct wire_buf *, size_t, size_t);

struct wire_hello {
	uint16_t	 version;
	const char	*secret;	/* not NUL-terminated */
	size_t		 secret_len;
	const char	*node_id;
	size_t		 node_len;
	const char	*nickname;
	size_t		 nick_len;
};
/*
 * Append one whole frame to b; 0, TALLY_ENOMEM, TALLY_EINVAL (a name over
 * 255 bytes), or TALLY_ELIMIT (a frame over WIRE_FRAME_MAX).
 */
int	 wire_put_hello(struct wire_buf *, const struct wire_hello *);
/* WELCOME carries the node's stored counters (NULL: none). */
int	 wire_put_welcome(struct wire_buf *, uint16_t, uint32_t,
	     const struct snapshot *);
int	 wire_put_poll(struct wire_buf *, uint32_t);
int	 wire_put_snapshot(struct wire_buf *, uint32_t, int64_t,
	     const struct snapshot *);
int	 wire_put_error(struct wire_buf *, uint16_t, const char *);
/*
 * Find the first frame in (buf, len): returns its total size (length
 * field included) with *type and the payload set, 0 if more bytes are
 * needed, or TALLY_EINVAL for a length of 0 and TALLY_ELIMIT for one over
 * WIRE_FRAME_MAX (both fatal to the connection).
 */
long	 wire_frame(const uint8_t *, size_t, uint8_t *, const uint8_t **,
	     size_t *);
/*
 * Judge the header of the frame that begins (buf, len), whole or not,
 * without taking it: the frame's total size (length field included) once
 * its length and type are in and good, however much of the rest is; 0
 * while more bytes are needed to judge it; TALLY_EINVAL for a length of 0
 * or an unknown type, TALLY_ELIMIT for a length over WIRE_FRAME_MAX.  A
 * length is judged as soon as its four bytes are in, so that a receiver
 * never waits for the body of a frame it will refuse.  *flen (type and
 * payload bytes, a bad length too) is set once the length is in, *type
 * once its byte is; each is 0 before.
 */
long	 wire_peek(const uint8_t *, size_t, uint8_t *, uint32_t *);
/* "HELLO" ... "ERROR", or "?" for a type no frame has. */
const char *wire_type_name(uint8_t);
/*
 * The fields a payload leads with, read before the rest is parsed.  The
 * version of a HELLO or WELCOME (another version's may be laid out
 * anew): 0, or TALLY_EINVAL if its two bytes are not in.  The seq and the
 * count of counters of a SNAPSHOT, so that a stale or oversized one costs
 * no decoding: how many of the two are in (0, 1 or 2); those missing are 0.
 */
int	 wire_peek_version(const uint8_t *, size_t, uint16_t *);
int	 wire_peek_snapshot(const uint8_t *, size_t, uint32_t *, uint32_t *);
/*
 * Parse a payload; 0 or TALLY_EINVAL with a reason in err.  Names are
 * checked where they are copied (wire_get_snapshot, which may also return
 * TALLY_ENOMEM); wire_get_hello only checks lengths.
 */
int	 wire_get_hello(const uint8_t *, size_t, struct wire_hello *, char *,
	     size_t);
/* Appends WELCOME's counters to snap (reset by the caller; NULL: checked
 * and dropped); an invalid name gives WIRE_EBADNAME, as below. */
int	 wire_get_welcome(const uint8_t *, size_t, uint16_t *, uint32_t *,
	     struct snapshot *, char *, size_t);
int	 wire_get_poll(const uint8_t *, size_t, uint32_t *, char *, size_t);
/*
 * Appends the counters and stats to snap, which the caller reset; an
 * invalid stat name gives WIRE_EBADNAME, so a gatherer can say ERROR name.
 */
#define WIRE_EBADNAME (-3100)
int	 wire_get_snapshot(const uint8_t *, size_t, uint32_t *, int64_t *,
	     struct snapshot *, char *, size_t);
/* msg points into the payload, not NUL-terminated. */
int	 wire_get_error(const uint8_t *, size_t, uint16_t *, const char **,
	     size_t *, char *, size_t);

/*
 * furl.c: the gatherer's address, identity and secret:
 * tally+tls://FINGERPRINT@HOST:PORT/SECRET, or tally://HOST:PORT/SECRET on
 * loopback only (PROTOCOL.md, "The furl").
 */
#define FURL_FP_BYTES	32	/* SHA-256 of the gatherer's certificate */
#define FURL_FP_LEN	52	/* its unpadded base32 text */
struct furl {
	char	 host[256];	/* without the brackets of an IPv6 address */
	char	 port[8];
	char	 secret[WIRE_SECRET_MAX + 1];
	char	 fingerprint[FURL_FP_LEN + 1];	/* "": plaintext tally:// */
};
/*
 * 0, or TALLY_EINVAL with the reason in err; *f is untouched then.  A
 * tally:// furl must name a loopback host (furl_host_loopback) unless
 * flags has FURL_F_ANYHOST (tallyd reading a furl it wrote itself).
 */
#define FURL_F_ANYHOST	0x1
int	 furl_parse(const char *, struct furl *, char *, size_t);
int	 furl_parse_flags(const char *, int, struct furl *, char *, size_t);
/* Writes the text form (TLS if fingerprint is set); length or TALLY_ELIMIT. */
int	 furl_fmt(char *, size_t, const struct furl *);
/* A new secret: WIRE_SECRET_MIN..MAX chars of lowercase base32. */
int	 furl_secret_new(char *, size_t);
/* Lowercase unpadded RFC 4648 base32: the text's length or TALLY_ELIMIT. */
int	 furl_b32_encode(const uint8_t *, size_t, char *, size_t);
/* Its inverse: the bytes written, or -1 (bad char, nonzero pad bits, room). */
int	 furl_b32_decode(const char *, size_t, uint8_t *, size_t);
/* 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 or localhost; 1 or 0. */
struct sockaddr;
int	 furl_host_loopback(const char *);
int	 furl_addr_loopback(const struct sockaddr *);

/* store*.c: the LMDB environment (its layout: tally(5)). */
#define STORE_RDONLY 0x1
#define STORE_CHECK 0x2	/* tally_statsfile_check's: no advice to run it */
#define STORE_MAPSIZE_MIN	(64UL << 20)
#define STORE_MAPSIZE_MAX	(1UL << 40)
#define STORE_MAXDBS		8
#define STORE_MAXREADERS	510
/* LMDB 0.9's lock.mdb for them: a 192-byte header, 64 bytes a slot. */
#define STORE_LOCKSIZE		((STORE_MAXREADERS - 1) * 64 + 192)
/*
 * The tables; the last two are the stat index of format 2 (store-index.c):
 * each is its node-major table two places before, keyed stat first.
 */
enum store_db { STORE_META, STORE_NODES, STORE_COUNTERS, STORE_STATS,
	STORE_COUNTERS_IDX, STORE_STATS_IDX, STORE_NDB };
#define STORE_IDX(db)	((enum store_db)((db) + 2))
struct store;
/* The smallest map a store opens with; tests lower it to exercise growth. */
extern size_t store_mapsize_min;
/*
 * Open (or share, reference-counted, within this process) the environment
 * at path.  Writers pre-create lock.mdb and data.mdb 0660 and set the
 * format on a new environment; readers need an existing one.  data.mdb and
 * lock.mdb must be regular files (symlinks are refused), and data.mdb must
 * hold the pages its meta pages say are used.  Returns 0 or a TALLY_E*
 * code with a message in err.  The first open installs the SIGBUS/SIGSEGV
 * handler (libtally(3)) and the fork handlers.
 */
int	 store_open(struct store **, const char *, int, char *, size_t);
void	 store_close(struct store *);
/* The path as messages show it: error_quote()d. */
const char *store_path(const struct store *);
/*
 * A store is damaged, for good, once LMDB asserted or faulted inside one
 * of its calls, reported a corrupted page, or data.mdb turned out shorter
 * than its meta pages say.  Every later call returns TALLY_ESTORE with the
 * same message, "statsfile P: damaged (WHY): no longer written; check it
 * with tally check; move it away to start afresh", without entering LMDB;
 * store_damage_msg returns it (NULL while not damaged).  Thread-safe.
 */
int	 store_damaged(const struct store *);
/* TALLY_ESTATE, the message set, if this thread has a reader open on it. */
int	 store_reader_here(struct store *, char *, size_t);
const char *store_damage_msg(const struct store *);
/*
 * Replace a node's whole slot in one transaction; grows the map as needed.
 * A map that cannot grow is an error that names the limit; the store stays
 * usable, and a later write succeeds once the limit allows.
 */
int	 store_write_slot(struct store *, const char *,
	     const struct record_node *, const struct snapshot *,
	     char *, size_t);
/* Write several slots in one transaction (the gatherer's batches). */
struct store_slot {
	const char			*node_id;
	const struct record_node	*rn;
	const struct snapshot		*snap;
};
int	 store_write_slots(struct store *, const struct store_slot *, size_t,
	     char *, size_t);
/* How many stats this thread's writes have formatted: a stat whose stored
 * text already says its value is not (for tests and tallyd -v). */
size_t	 store_formatted(void);
/* How many node ranges this thread's writes have walked before writing
 * (store_prewalk): a write that deletes nothing walks none (for tests). */
size_t	 store_walked(void);
/* Call cb for each counter of node's slot. */
int	 store_read_counters(struct store *, const char *,
	     int (*)(void *, const char *, size_t, int64_t), void *,
	     char *, size_t);
/*
 * A node's record, parsed, into rn (zeroed when there is none), and the
 * number of nodes in the statsfile into *count if count is not NULL: 1
 * found, 0 no such node, or a TALLY_E* code (TALLY_EFORMAT: the record
 * does not parse).
 */
int	 store_read_node(struct store *, const char *, struct record_node *,
	     size_t *, char *, size_t);
/* Delete a node's slot entirely. */
int	 store_delete_slot(struct store *, const char *, char *, size_t);
/*
 * Delete a node's slot if its snapshot time is before the given UNIX time,
 * checked in the deleting transaction, so that a node that wrote since the
 * caller looked is kept (tally prune).  0 deleted, TALLY_ENOTFOUND no such
 * node, TALLY_ESTATE kept (not that old, or its record unreadable).
 */
int	 store_delete_slot_before(struct store *, const char *, int64_t,
	     char *, size_t);
/*
 * Forget a node's key (tally forget): rewrite its nodes record without its
 * key= line in one write transaction, every other line, its counters and
 * its stats untouched, so that its next TLS contact binds a key anew.  0,
 * TALLY_ENOTFOUND no such node, TALLY_ESTATE no key bound (or a read-only
 * store), TALLY_EINVAL a bad node id, or the store's errors.
 */
int	 store_forget_key(struct store *, const char *, char *, size_t);


/* counter.c: per-thread cells and the per-provider name table. */
struct counter_set;
int	 counter_set_new(struct counter_set **);
void	 counter_set_free(struct counter_set *);
/* Look up or create; NULL with *err set on failure. */
tally_counter *counter_set_get(struct counter_set *, const char *, int *);
/* Add value to a counter's base, creating it if needed (resume). */
int	 counter_set_resume(struct counter_set *, const char *, size_t,
	     int64_t);
/* Append every counter's current value to a snapshot. */
int	 counter_set_collect(struct counter_set *, struct snapshot *);
size_t	 counter_set_count(struct counter_set *);
/* The value of counter (name, len) if the set has one: 1, else 0. */
int	 counter_set_peek(struct counter_set *, const char *, size_t,
	     int64_t *);
/* How many counter_set_resume calls the set has taken. */
unsigned long counter_set_resumes(struct counter_set *);

/*
 * histogram.c: a provider's histograms (tally_histogram, tally.h); their
 * parts in a snapshot are ordinary counters and stats (tally(5)).  Buckets
 * as Prometheus's schema 3: bucket i holds 2^((i-1)/8) < x <= 2^(i/8).
 */
#define HISTOGRAM_IMIN		(-240)	/* 2^-30 s, and everything below */
#define HISTOGRAM_IMAX		112	/* 2^14 s, and everything above */
#define HISTOGRAM_NB		(HISTOGRAM_IMAX - HISTOGRAM_IMIN + 1)
/* A name leaves room for its longest part, ".01_0_percentile". */
#define HISTOGRAM_NAME_MAX	(TALLY_STAT_NAME_MAX - 16)
/* The destinations whose intervals are kept apart: flush and poll. */
#define HISTOGRAM_LOCAL		0
#define HISTOGRAM_REMOTE	1
#define HISTOGRAM_NDEST		2
/* The bucket of an observation x >= 0 (not NaN). */
int	 histogram_index(double);
/* The value a percentile in bucket i reads: its geometric middle. */
double	 histogram_value(int);
struct histogram_set;
int	 histogram_set_new(struct histogram_set **, struct counter_set *);
void	 histogram_set_free(struct histogram_set *);
/* Look up or create; NULL with *err set (TALLY_EINVAL, _ENOMEM, _ELIMIT). */
tally_histogram *histogram_set_get(struct histogram_set *, const char *,
	     int *);
/*
 * Append every histogram's parts to snap: the cumulative counters, and
 * the stats of the interval since dest's previous collect.
 */
int	 histogram_set_collect(struct histogram_set *, int, struct snapshot *);
/* dest's last collect was written (or sent): the next interval starts
 * there.  Until then, a collect covers the interval since the last one
 * committed. */
void	 histogram_set_commit(struct histogram_set *, int);

/*
 * log.c: the one way libtally logs.  A log_hook is a host's
 * tally_options.log and log_ctx; a NULL hook, or one without fn, writes
 * "tally: message" to stderr.  Lines are cut at LOG_LINE_MAX - 1 bytes.
 */
#define LOG_LINE_MAX	1024
struct log_hook {
	void	(*fn)(void *, int, const char *);
	void	*ctx;
};
void	 log_msg(const struct log_hook *, int, const char *, ...)
	     TALLY_PRINTF(3, 4);
/*
 * A failure that repeats is said once: a retry loop, or a flush every
 * second into a damaged statsfile, fails the same way until someone acts.
 * log_once_fail notes a failure and returns 1 when its message differs
 * from the last one noted (log it), 0 when it repeats; log_once_ok notes
 * a success and returns how many failures came since the last.  A zeroed
 * struct log_once is ready.
 */
struct log_once {
	char		 last[TALLY_ERRLEN];
	unsigned long	 nfailed;	/* since the last success */
};
int	 log_once_fail(struct log_once *, const char *);
unsigned long log_once_ok(struct log_once *);

/*
 * producer.c: a provider's producers (tally_producer, tally.h) and the
 * sink they report through.  The set is thread-safe; changing it from
 * inside one of its producers is refused with TALLY_ESTATE.  The log hook
 * is copied.
 */
struct producer_set;
int	 producer_set_new(struct producer_set **, const struct log_hook *);
void	 producer_set_free(struct producer_set *);
/* 0, TALLY_EINVAL (one of the same get_stats and ctx is in the set),
 * TALLY_ENOMEM or TALLY_ESTATE. */
int	 producer_set_add(struct producer_set *, const tally_producer *);
/* 0, TALLY_ENOTFOUND or TALLY_ESTATE; the producer has stopped running
 * when it returns. */
int	 producer_set_remove(struct producer_set *, const tally_producer *);
/* Whether the calling thread is inside one of the set's producers. */
int	 producer_set_inside(struct producer_set *);
/*
 * Run every producer, in the order they were added, putting their stats
 * into snap; a producer that fails has its stats of this run dropped, and
 * a line logged.
 */
void	 producer_set_run(struct producer_set *, struct snapshot *);

/*
 * monitor.c: the built-in producers (load_monitor.*, cpu_monitor.*,
 * node.uptime), one ordinary producer, for the provider to register
 * through tally_register_producer; their timers run on the provider's
 * loop from monitor_start to monitor_stop.  The log hook is copied.
 */
struct monitor;
struct ev_loop;
int	 monitor_new(struct monitor **, const struct log_hook *);
/* The producer: valid until monitor_free. */
const tally_producer *monitor_producer(const struct monitor *);
void	 monitor_start(struct monitor *, struct ev_loop *);
void	 monitor_stop(struct monitor *, struct ev_loop *);
void	 monitor_free(struct monitor *);

/*
 * remote.c: remote mode, a node's connection to the gatherer.  It knows
 * nothing of the provider: all it needs of it comes through the hooks,
 * which it calls on the loop it was started on.
 */
struct remote_hooks {
	/* Build the node's snapshot into an empty one: 0 or a TALLY_E* code. */
	int		(*snapshot)(void *, struct snapshot *);
	/* The counters the gatherer holds for the node, from each WELCOME. */
	void		(*resume)(void *, const struct snapshot *);
	void		*ctx;
	struct log_hook	 log;
};
struct remote;
/*
 * The node id, nickname (for HELLO) and key file (the node's key for a
 * tally+tls:// furl, or NULL) are kept, not copied; the hooks are copied.
 */
int	 remote_new(struct remote **, const struct furl *, const char *,
	     const char *, const char *, const struct remote_hooks *);
/* Connect (and reconnect, with backoff) on the loop until stopped. */
void	 remote_start(struct remote *, struct ev_loop *);
void	 remote_stop(struct remote *);
void	 remote_free(struct remote *);
/* 1 once the handshake is done, until the connection is lost. */
int	 remote_ready(const struct remote *);

/*
 * tls.c: TLS 1.3 with OpenSSL, non-blocking, for both ends; OpenSSL's SSL
 * does every record of a connection, for its whole life.  The gatherer
 * has a self-signed certificate; the provider pins its fingerprint (the
 * furl's FINGERPRINT) and checks nothing else.  A node is known by its
 * public key, which it presents as a TLS client certificate (a self-signed
 * wrapper made in memory: only the key counts).  A connection is a struct
 * tls; the context is OpenSSL's SSL_CTX, opaque here.  The gatherer's
 * side (tls_server_ctx and below) is tls-server.c's, in tallyd only.
 */
struct evp_pkey_st;
struct ssl_ctx_st;
struct ssl_st;
struct tls;
#define TLS_WANT_READ	(-1)	/* call again when the fd is readable */
#define TLS_WANT_WRITE	(-2)	/* call again when the fd is writable */
#define TLS_ERROR	(-3)	/* fatal; the reason is in err */
/*
 * OpenSSL's locks do not survive fork(): a child whose parent had a thread
 * inside OpenSSL at the fork (a provider answering a poll) waits for ever
 * at its own first OpenSSL call.  A provider makes each of its OpenSSL
 * calls between these two, and fork() takes the same lock first
 * (pthread_atfork), so it happens between two calls.  Nothing else is done
 * under it.  tallyd, threaded and never forking, does not take it.
 */
void	 tls_fork_lock(void);
void	 tls_fork_unlock(void);
/*
 * The node key at path: an Ed25519 private key in PEM, loaded, or made on
 * first use (mode 0600, linked into place, so that of two creators at
 * once the loser loads the winner's key).  A file that is not a regular
 * file of the caller's euid with no mode bit beyond 0600, a symbolic
 * link, a key of another type or not a key at all is refused with
 * TALLY_EINVAL and a message naming path and the problem ("key file P:
 * mode 0644 is wider than 0600; chmod 600 P"), never mended.  fp, if not
 * NULL (FURL_FP_LEN + 1 bytes), receives the key's fingerprint: the
 * unpadded base32 of the SHA-256 of its DER SubjectPublicKeyInfo, which
 * is what the gatherer knows the node by.  0 or TALLY_E*.
 */
int	 tls_node_key(const char *, char *, size_t, char *, size_t);
/* That fingerprint of any key: 0, or TALLY_EINVAL. */
int	 tls_key_fingerprint(struct evp_pkey_st *, char *, size_t);
/*
 * A provider's context: TLS 1.3, the peer checked by its pin alone.  With
 * keypath, the node key there (made on first use, as tls_node_key()) is
 * its client certificate; NULL: none (tests only: a gatherer refuses it).
 */
int	 tls_client_ctx(struct ssl_ctx_st **, const char *, char *, size_t);
void	 tls_ctx_free(struct ssl_ctx_st *);
/*
 * A connection on a connected non-blocking socket, which stays the
 * caller's: a client if fingerprint (the furl's text) is given, which the
 * peer's certificate must match, else a server.  0 or a TALLY_E* code.
 */
int	 tls_new(struct tls **, struct ssl_ctx_st *, int, const char *,
	     char *, size_t);
void	 tls_free(struct tls *);
/* 0 once the handshake is done (and the pin checked), or TLS_WANT_*, or
 * TLS_ERROR with the reason ("certificate fingerprint mismatch (expected
 * X, got Y)", "the peer presented no certificate (...)", say). */
int	 tls_handshake(struct tls *, char *, size_t);
/* Bytes (> 0), 0 at EOF (read only), TLS_WANT_* or TLS_ERROR.  A write
 * that says TLS_WANT_* is repeated with the same bytes, or more.  On a
 * server, a read says TLS_WANT_READ after each record that carried no
 * data (a KeyUpdate), even if more wait in the socket.  Once a call has
 * said TLS_ERROR, every later one does. */
long	 tls_read(struct tls *, void *, size_t, char *, size_t);
long	 tls_write(struct tls *, const void *, size_t, char *, size_t);
/* Whether bytes wait inside the connection, where no fd event shows them. */
int	 tls_pending(struct tls *);
/* Send close_notify if the connection is healthy; never waits. */
void	 tls_close_notify(struct tls *);
int	 tls_established(struct tls *);
/* Whether the handshake failed because the certificate was not the pin's. */
int	 tls_pin_failed(struct tls *);
const char *tls_version(struct tls *);
/*
 * Resumption, a client's: the sessions the gatherer sends (a ticket each,
 * after a handshake) go into *slot, each replacing the one before, which
 * is freed; and *slot's session, if any, is offered in this handshake,
 * if it was made with the pinned certificate (else it is freed and
 * *slot emptied).  Call before the first tls_handshake().  The slot is the
 * caller's (one per gatherer, so per pin), as is freeing it at the end
 * (tls_session_free()).
 */
struct ssl_session_st;
void	 tls_session_keep(struct tls *, struct ssl_session_st **);
void	 tls_session_free(struct ssl_session_st *);
/* Whether the handshake resumed a session (no certificate was sent). */
int	 tls_resumed(struct tls *);
/* OpenSSL's SSL under a connection, for tests and diagnostics. */
struct ssl_st *tls_ssl(struct tls *);
/*
 * tls-server.c, tallyd's (not in libtally).  Make an Ed25519 key and a
 * self-signed certificate as two new PEM files, mode 0600 (an existing
 * file is never replaced: TALLY_ESYS then), and the certificate's
 * fingerprint into fp (FURL_FP_LEN + 1 bytes), if fp.
 */
int	 tls_identity_create(const char *, const char *, char *, size_t,
	     char *, size_t);
/* The gatherer's context from its key and certificate; fp as above.  It
 * requires a client certificate, any self-signed one. */
int	 tls_server_ctx(struct ssl_ctx_st **, const char *, const char *,
	     char *, size_t, char *, size_t);
/*
 * Session tickets for the gatherer's context, their keys from path (made
 * there, mode 0600, if missing, unreadable, damaged or too old; NULL: in
 * memory only).  0, with a line for the log in msg if the keys were made
 * anew or could not be saved (else msg is empty); TALLY_E* and why if
 * there are no tickets.
 */
int	 tls_server_tickets(struct ssl_ctx_st *, const char *, char *, size_t);
/* 0 and the fingerprint of the key in the peer's certificate (as
 * tls_node_key's), or TALLY_ENOTFOUND if it presented none. */
int	 tls_peer_key(struct tls *, char *, size_t);
/* Whether a server connection has read a whole ClientHello. */
int	 tls_hello_seen(struct tls *);

/* nodedir.c: the files of a node directory. */
/* Read the first line of dir/name into a malloc'd string; 0, or
 * TALLY_ENOTFOUND if absent, or TALLY_ESYS with a message. */
int	 nodedir_read_line(const char *, const char *, char **, char *,
	     size_t);
/* Read dir/node.id, creating it with a random id on first use. */
int	 nodedir_node_id(const char *, char *, char *, size_t);

/*
 * nodelock.c: one live writer per node id.  A writer takes a node id's
 * lock before it resumes or writes the node's slot; the lock is a Linux
 * open file description lock on one byte of <statsfile>/nodes.lock, so it
 * dies with its holder.  Every struct nodelock is its own description:
 * two in one process conflict too.  Thread-safe (one mutex in the
 * process; no call waits for another process), but for nodelock_close,
 * which must not race other calls on the same nodelock.  A fork handler
 * closes a child's copies of the fds, so that a parent's locks never
 * outlive it; in a child, a parent's nodelock refuses (TALLY_EFORK).
 */
struct nodelock;
/*
 * Open, or first create (mode 0660), <statsfile>/nodes.lock for a writer.
 * 0, or TALLY_EINVAL, TALLY_ENOMEM, TALLY_ESTORE (nodes.lock is not a
 * regular file: "statsfile P: nodes.lock is a FIFO, not a regular file")
 * or TALLY_ESYS (cannot create or write it), with a message in err.
 */
int	 nodelock_open(struct nodelock **, const char *, char *, size_t);
/*
 * Take node_id's lock: 0, also when this nodelock holds it already (takes
 * are counted; each is undone by one release).  TALLY_ESTATE when another
 * nodelock, in this process or another live one, holds it: "statsfile P:
 * node N is being written by another live process; one writer per node
 * id".  TALLY_EINVAL (invalid id), TALLY_EFORK (in a child of fork),
 * TALLY_ENOMEM, or TALLY_ESYS on other errors.
 */
int	 nodelock_take(struct nodelock *, const char *, char *, size_t);
/* Undo one take; the lock goes at the last.  Unheld ids are ignored. */
void	 nodelock_release(struct nodelock *, const char *);
/* Close, releasing every lock it holds; NULL is ignored. */
void	 nodelock_close(struct nodelock *);

#endif /* TALLY_INT_H */
