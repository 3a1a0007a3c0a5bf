/*
 * tally.h: the public interface of libtally.
 *
 * libtally keeps runtime statistics for a long-running program (a "node"):
 * counters that any thread bumps for a few nanoseconds, and producers that
 * are asked for their current values at each flush.  A provider writes the
 * node's snapshot into its slot of an LMDB environment (local mode) and/or
 * answers a remote gatherer's polls (remote mode).
 *
 * Conventions, as in lmdb.h:
 *   - every fallible call returns 0 or a negative TALLY_E* code, which
 *     tally_strerror() explains; tally_provider_errmsg() gives the detail
 *     of a provider's last failure (paths, LMDB's own message);
 *   - handles are opaque;
 *   - the library never exits, aborts or writes to stdout.  It logs
 *     sparingly to stderr unless tally_options.log is set.
 */
#ifndef TALLY_H
#define TALLY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup version Version
 *  The library's version, at compile time and at run time. @{ */
#define TALLY_VERSION_MAJOR 0
#define TALLY_VERSION_MINOR 1
#define TALLY_VERSION_PATCH 0
#define TALLY_VERSION_NUM \
	(TALLY_VERSION_MAJOR * 10000 + TALLY_VERSION_MINOR * 100 + \
	 TALLY_VERSION_PATCH)
#define TALLY_VERSION_STRING "0.1.0"

/** The newest database format this library reads and writes (the
 *  "format" key of the "meta" database): 2, a statsfile with the stat
 *  index (tally_statsfile_index()).  Format 1 is the same without it, as
 *  a writer creates a statsfile; other formats are refused by name. */
#define TALLY_DB_FORMAT 2

/** Return the run-time version as a string such as "tally 0.1.0", and, for
 *  each non-NULL pointer, its parts.  Thread-safe. */
const char *tally_version(int *major, int *minor, int *patch);
/** @} */

/** @defgroup errors Return codes
 *  0 is success; the codes below are all negative.  @{ */
#define TALLY_OK              0
#define TALLY_EINVAL      (-3001) /**< invalid argument or name */
#define TALLY_ENOMEM      (-3002) /**< out of memory */
#define TALLY_ENOTCONFIGURED (-3003) /**< nodedir names no statsfile nor furl */
#define TALLY_ESTATE      (-3004) /**< call not valid in the provider's state */
#define TALLY_ESYS        (-3005) /**< a system call failed (see errmsg) */
#define TALLY_ESTORE      (-3006) /**< the LMDB environment failed (see errmsg) */
#define TALLY_EFORMAT     (-3007) /**< database of an unknown format */
#define TALLY_ENOTFOUND   (-3008) /**< no such producer, node or key */
#define TALLY_EFORK       (-3009) /**< used in a child after fork() */
#define TALLY_EPRODUCER   (-3010) /**< reserved: a producer's error */
#define TALLY_ELIMIT      (-3011) /**< a fixed limit was reached */

/** Return a static, human-readable description of a return code.  Unknown
 *  codes give "unknown tally error".  Thread-safe. */
const char *tally_strerror(int err);
/** @} */

/** @defgroup limits Names
 *  A node id is 1-64 characters of [a-z0-9_-].  A stat name is 1-255
 *  characters of [A-Za-z0-9_.:-].  A nickname is 1-128 printable characters
 *  (no control characters).  Anything else is refused with TALLY_EINVAL and
 *  never written. @{ */
#define TALLY_NODE_ID_MAX   64
#define TALLY_STAT_NAME_MAX 255
#define TALLY_NICKNAME_MAX  128

/** Return 1 if @p s is a valid node id, else 0.  Thread-safe. */
int tally_node_id_valid(const char *s);
/** Return 1 if @p s is a valid stat name, else 0.  Thread-safe. */
int tally_stat_name_valid(const char *s);
/** Quote untrusted bytes (a path, a name or a value from a file) for a
 *  message into @p buf of @p size bytes: printable ASCII as is, other
 *  bytes and '\' as \xNN.  A quoted text longer than 200 bytes (or than
 *  the buffer) is cut and ends with "...", within that length; one that
 *  fits is never cut.  TALLY_QUOTE_LEN holds any result.  Returns
 *  @p buf ("" if @p size is 0).  Thread-safe. */
#define TALLY_QUOTE_LEN 201
const char *tally_quote(char *buf, size_t size, const void *s, size_t len);
/** The length of the character at @p s (@p n bytes left) if a terminal
 *  shows it as text: printable ASCII, or well-formed UTF-8 that is no C1
 *  control (U+0080-U+009F, which some terminals obey as escapes).  0 for a
 *  byte to show as something else: a control, DEL, or not a whole UTF-8
 *  character.  Thread-safe. */
size_t tally_char_shown(const char *s, size_t n);
/** @} */

typedef struct tally_provider tally_provider;
typedef struct tally_counter  tally_counter;
typedef struct tally_sink     tally_sink;
typedef struct tally_histogram tally_histogram;
struct ev_loop;

/** A producer: an object asked for its current stats at each flush (the
 *  IStatsProducer of the original system).  The provider copies the struct
 *  at registration; @c name and @c ctx must stay valid until the producer is
 *  unregistered or the provider freed. */
typedef struct tally_producer {
	const char *name;	/**< for log lines; may be NULL */
	/** Required.  Called on the provider's thread (or the host's loop when
	 *  attached), never concurrently with another producer of the same
	 *  provider.  Report values with tally_sink_put().  Return 0, or
	 *  non-zero to have this producer's values of this snapshot dropped
	 *  (the rest of the snapshot is still written). */
	int  (*get_stats)(void *ctx, tally_sink *sink);
	void *ctx;		/**< passed to get_stats */
} tally_producer;

/** Log levels passed to tally_options.log. */
#define TALLY_LOG_ERR  3
#define TALLY_LOG_WARN 4
#define TALLY_LOG_INFO 6

/** Options for tally_provider_new().  Zero-initialise the struct and set
 *  what you need; strings are copied. */
typedef struct tally_options {
	/** The node's identity.  NULL: read <nodedir>/node.id, creating it with
	 *  a random id on first use; it is then an error if nodedir is NULL. */
	const char *node_id;
	/** A human name for graphs.  NULL: the node id. */
	const char *nickname;
	/** Local mode: the LMDB environment (a directory that must exist).
	 *  NULL: no local mode. */
	const char *statsfile;
	/** Remote mode: the gatherer's furl,
	 *  tally+tls://FINGERPRINT@HOST:PORT/SECRET (TLS 1.3, the gatherer's
	 *  certificate pinned by FINGERPRINT), or tally://HOST:PORT/SECRET on
	 *  loopback only.  The provider dials it after start, says who it is,
	 *  and answers the gatherer's polls; a lost connection is retried
	 *  with backoff from 1 s to 60 s.  NULL: no remote mode.  A node may
	 *  use both modes. */
	const char *gatherer_furl;
	/** Local mode: seconds between flushes, 0.001 to 86400; 0 means 10. */
	double      flush_interval;
	/** Where node.id lives when node_id is NULL.  May be NULL. */
	const char *nodedir;
	/** Log sink.  NULL: lines go to stderr as "tally: message".  Called from
	 *  any of the provider's threads; must not call back into libtally. */
	void (*log)(void *log_ctx, int level, const char *msg);
	void *log_ctx;
	/** Bitwise OR of TALLY_F_* flags. */
	unsigned    flags;
	/** Remote mode over TLS (a tally+tls:// furl): the node's own private
	 *  key (Ed25519, PEM), which it presents as its TLS client certificate
	 *  and by which the gatherer knows it: the gatherer binds the node id
	 *  to the key on first contact and refuses the id to any other key.
	 *  Made on first use, mode 0600; a file of another owner, of a wider
	 *  mode, or not a regular file is refused by tally_provider_start().
	 *  NULL: <nodedir>/node.key; with no nodedir either, a tally+tls://
	 *  furl is refused with TALLY_EINVAL. */
	const char *key_file;
} tally_options;

/** Do not start the built-in producers (load_monitor.*, cpu_monitor.*,
 *  node.uptime).  Meant for tests and benchmarks. */
#define TALLY_F_NO_MONITORS 0x1

/** @defgroup provider Provider lifecycle
 *  new/open -> [count, register] -> start or attach -> [flush] -> stop ->
 *  free.  Lifecycle calls on one provider must not run concurrently with
 *  each other. @{ */

/** Create a provider from options.
 *  @param[out] pp receives the provider; set to NULL on failure.
 *  @param[in]  opt the options; copied, so the caller may free them.
 *  @return 0, TALLY_EINVAL (bad node id, nickname or furl, no node id and
 *  no nodedir, an empty nodedir, neither statsfile nor gatherer_furl,
 *  a flush_interval neither 0 nor 0.001-86400 s), TALLY_ENOMEM, or
 *  TALLY_ESYS (node.id could not be read or created).  Nothing is opened
 *  or written to the statsfile before tally_provider_start(). */
int  tally_provider_new(tally_provider **pp, const tally_options *opt);

/** Create a provider from a node directory, as the original system did:
 *  <nodedir>/statsfile and <nodedir>/stats_gatherer.furl (one line each;
 *  a relative statsfile is relative to nodedir), <nodedir>/nickname if
 *  present, and the node id from <nodedir>/node.id, created on first use.
 *  @return as tally_provider_new(), plus TALLY_ENOTCONFIGURED when neither
 *  statsfile nor stats_gatherer.furl exists: the node then simply runs
 *  without stats; TALLY_EINVAL for a file there that is not a regular
 *  file, or whose first line is empty or holds a NUL byte.  *pp is NULL
 *  on any error. */
int  tally_provider_open(tally_provider **pp, const char *nodedir);

/** Start the provider on a thread of its own, running its own ev loop.
 *  With a tally+tls:// furl, reads the node's key (tally_options.key_file),
 *  making it on first use.  Opens the statsfile (which must be an existing
 *  directory), takes the node id's lock in it (one live writer per node
 *  id), resumes the node's counters from its slot, starts the built-in
 *  producers and the periodic flush (the first one at once), and dials the
 *  gatherer if there is a furl.  Counts made before start are kept.  A
 *  failure to reach the gatherer is not an error: it is logged and
 *  retried; a remote-only node resumes its counters from the gatherer's
 *  WELCOME, once.
 *  @return 0, TALLY_ESTATE (already started, or another live process or
 *  provider writes this node id in the statsfile), TALLY_ESTORE or
 *  TALLY_ESYS (statsfile missing, unwritable, not an LMDB environment; a
 *  key file that cannot be read or made), TALLY_EINVAL (a key file of
 *  another owner, of a mode wider than 0600, not a regular file or not an
 *  Ed25519 key: refused, never fixed), TALLY_EFORMAT (unknown database
 *  format).  tally_provider_errmsg() says which.  On failure the node's
 *  slot is untouched (an empty statsfile may have been initialised) and
 *  the provider may be freed or started again. */
int  tally_provider_start(tally_provider *p);

/** Like tally_provider_start(), but run the provider's watchers on the
 *  host's libev @p loop instead of a thread.  Call from the thread that runs
 *  @p loop; flush and stop must then also be called from that thread. */
int  tally_provider_attach(tally_provider *p, struct ev_loop *loop);

/** Write a snapshot now (local mode).  From any thread when started, from
 *  the loop's thread when attached; waits until the snapshot is committed.
 *  Not from inside a producer.
 *  @return 0, TALLY_ESTATE (not running, no statsfile, called from a
 *  producer, or from a thread that has a reader open on the statsfile:
 *  the write would wait for that reader), TALLY_ESTORE, TALLY_EFORK (in a
 *  child of fork(): a child must create its own provider). */
int  tally_provider_flush(tally_provider *p);

/** Stop: a final flush, then the thread ends (or the watchers leave the
 *  host's loop).  Counters keep their values and may still be bumped; a
 *  later start resumes from the slot without double counting.
 *  @return 0 or the final flush's error; the provider is stopped either
 *  way.  TALLY_ESTATE if it was not running, or, with nothing done, if
 *  called from a producer or from a thread that has a reader open on the
 *  statsfile (the final flush would wait for that reader). */
int  tally_provider_stop(tally_provider *p);

/** Stop if needed, then release the provider, its counters and its
 *  environment reference.  Counter handles from it become invalid.  NULL
 *  is ignored.  From a thread that has a reader open on the statsfile it
 *  does nothing but log an error: the provider's thread may be waiting for
 *  that reader, so it is left running; close the reader, then free it. */
void tally_provider_free(tally_provider *p);

/** The detail of @p p's last failure ("statsfile /x: No such file or
 *  directory"), or "" if none.  Valid until the next call on @p p. */
const char *tally_provider_errmsg(const tally_provider *p);

/** The node id in use (from the options or node.id).  Owned by @p p. */
const char *tally_provider_node_id(const tally_provider *p);
/** @} */

/*
 * The hot calls are made through the GOT, not the PLT, where the compiler
 * can (GCC's noplt): from a position-independent program, one indirect
 * jump less on every add (about a nanosecond a call on a 2-CPU EPYC, make
 * bench).  It changes how the call is made, not what is called.
 */
#if defined(__has_attribute)
#if __has_attribute(noplt)
#define TALLY_HOT_CALL __attribute__((noplt))
#endif
#endif
#ifndef TALLY_HOT_CALL
#define TALLY_HOT_CALL
#endif

/** @defgroup counting Counters
 *  Counters are signed 64-bit, summed over threads, and stay monotonic
 *  across restarts in local mode.  They wrap modulo 2^64: INT64_MAX plus 1
 *  is INT64_MIN, never undefined behaviour.  A process holds at most
 *  1,048,576 counters over all its providers.  Thread-safe from any
 *  thread.  Adding to an existing counter never blocks, does no I/O and
 *  does not allocate; creating a counter, or a thread's first add to a
 *  block of 1,024 counters, allocates and may wait briefly for a flush
 *  that is summing. @{ */

/** Add @p delta to the counter @p name, creating it at 0 on first use.
 *  Costs a hash lookup; keep a handle from tally_counter_get() on hot
 *  paths.
 *  @return 0, TALLY_EINVAL (NULL provider, invalid name: nothing counted),
 *  TALLY_ENOMEM, TALLY_ELIMIT (too many counters). */
int  tally_count(tally_provider *p, const char *name, int64_t delta);

/** Return the handle of counter @p name, creating it on first use, or NULL
 *  for an invalid name, when out of memory, or when the process holds too
 *  many counters (where tally_count() says TALLY_ELIMIT).  The handle
 *  belongs to @p p and lives until tally_provider_free(). */
tally_counter *tally_counter_get(tally_provider *p, const char *name);

/** Add @p delta to a counter.  The hot path: a thread-local add, with no
 *  lock, no atomic read-modify-write and no call into the allocator after
 *  this thread's first use of the counter.  @p c must not be NULL. */
void tally_counter_add(tally_counter *c, int64_t delta) TALLY_HOT_CALL;

/** Return the counter's current value (all threads, plus what was resumed
 *  from the slot).  Slower than add: it visits every thread. */
int64_t tally_counter_value(tally_counter *c);
/** @} */

/** @defgroup histograms Histograms: latency distributions
 *  A histogram counts observations, in seconds, into buckets of a fixed
 *  relative width: those of Prometheus's native histograms at schema 3,
 *  eight a power of two, bucket i holding 2^((i-1)/8) < x <= 2^(i/8).
 *  Buckets run from 2^-30 s (under a nanosecond; smaller values, 0
 *  included, count there) to 2^14 s (four and a half hours; larger values
 *  count there).  A percentile reads the geometric middle of its bucket:
 *  within 4.43% (2^(1/16) - 1) of the exact percentile of the same
 *  samples, for values in that range.
 *
 *  Each snapshot carries, for a histogram H, the cumulative counters
 *  H.count, H.sum_ns (the sum in nanoseconds) and H.bucket.<i> (each
 *  bucket counted so far), which resume across restarts as counters do,
 *  and, over the interval since the previous snapshot to the same place
 *  (the statsfile, the gatherer), the stats H.mean and H.01_0_percentile,
 *  H.10_0_percentile, H.50_0_percentile, H.90_0_percentile,
 *  H.95_0_percentile, H.99_0_percentile and H.99_9_percentile: nan (unknown)
 *  for an interval without observation.  Those names are H's: a counter or
 *  stat of the same name is overwritten.  tally(5) has the layout.
 *  Thread-safe from any thread, as counters are. @{ */

/** Return the handle of histogram @p name, creating it on first use, or
 *  NULL for a NULL provider, an invalid name or one longer than 239
 *  characters (its parts must be valid names), when out of memory, or when
 *  the process holds too many counters (a histogram takes 354 of the
 *  1,048,576 cells).  The handle belongs to @p p and lives until
 *  tally_provider_free().  Creating one takes a lock: keep the handle. */
tally_histogram *tally_histogram_get(tally_provider *p, const char *name);

/** Count one observation of @p seconds.  The hot path: two thread-local
 *  adds, no lock, no atomic read-modify-write and no call into the
 *  allocator after this thread's first observation in a block of 1,024
 *  cells.  A negative, NaN or infinite value is not counted: it adds to
 *  the counter H.refused instead.  A NULL @p h is ignored. */
void tally_histogram_observe(tally_histogram *h, double seconds)
    TALLY_HOT_CALL;
/** @} */

/** @defgroup producers Producers and the sink @{ */

/** Register a producer (copied).  From any thread but a producer's; it is
 *  first asked at the next flush.
 *  @return 0, TALLY_EINVAL (@p prod or prod->get_stats NULL, or already
 *  registered), TALLY_ESTATE (from inside a producer), TALLY_ENOMEM. */
int  tally_register_producer(tally_provider *p, const tally_producer *prod);

/** Unregister the producer registered with the same get_stats and ctx.
 *  When it returns, the producer is not running and will not run again.
 *  @return 0, TALLY_EINVAL, TALLY_ENOTFOUND, TALLY_ESTATE (from inside a
 *  producer, where it would wait for itself). */
int  tally_unregister_producer(tally_provider *p, const tally_producer *prod);

/** Report one value into the snapshot being built.  Only valid inside
 *  get_stats, with the sink it was given.  NaN means unknown.  A name
 *  reported twice keeps the last value.
 *  @return 0, TALLY_EINVAL (invalid name: the value is dropped),
 *  TALLY_ENOMEM. */
int  tally_sink_put(tally_sink *s, const char *name, double value);
/** @} */

/** @defgroup reader Reading a statsfile
 *  A reader opens a statsfile read-only and walks it: its nodes in id
 *  order, and each node's metrics, or one metric by name.  It never blocks
 *  a writer of another process, and sees one consistent view for its
 *  whole life: the snapshots committed when it was opened, and nothing
 *  written since (open a new reader to see them).  A damaged or truncated
 *  statsfile is an error with a message, never a crash of the caller (the
 *  faults are caught as for a provider; see libtally(3)).
 *
 *  A reader belongs to the thread that opened it, as an LMDB read
 *  transaction does: every call on it, close included, comes from that
 *  thread.  From open to close it holds the statsfile's lock of this
 *  process, and keeps SIGBUS and SIGSEGV unblocked on its thread (so that
 *  a damaged page is caught; close blocks again those that were blocked).
 *  Other threads of the process that read or write the same statsfile
 *  wait until it is closed; its own thread is refused at once with
 *  TALLY_ESTATE (a second reader, tally_statsfile_remove() or _forget(),
 *  a provider's start or flush), where it would wait for itself.  A
 *  provider that opened the statsfile read-write before is fine; a
 *  provider started while a reader holds it read-only fails with
 *  TALLY_ESTATE ("already open read-only in this process").  Readers and
 *  writers of other processes never wait for it.  In a child of fork()
 *  tally_reader_next() and tally_reader_metrics() return TALLY_EFORK, and
 *  so does every call after (a failed reader stays failed); lookups
 *  before that (get, next_metric, checked only there to spare a system
 *  call each) read the snapshot the parent keeps.  Close in a child frees
 *  only memory (the read transaction is the parent's): a child opens its
 *  own. @{ */
typedef struct tally_reader tally_reader;

/** A node as tally_reader_next() finds it.  Its strings are owned by the
 *  reader and valid until the next tally_reader_next() or
 *  tally_reader_close(). */
typedef struct tally_node {
	/** The node id.  For a node with @c error set and an invalid id,
	 *  the key quoted: printable ASCII as is, other bytes and '\\' as
	 *  \xNN, cut with "..." after 200 bytes. */
	const char *id;
	const char *nickname;	/**< a nickname (printable); NULL on error */
	int64_t     time;	/**< UNIX seconds of its last snapshot, as
				     stored: check it before taking an age */
	const char *source;	/**< "local" or "remote ADDR:PORT"; NULL on
				     error */
	/** The flush interval the node recorded, in seconds, as stored
	 *  (check that it is positive and finite before using it); 0 when
	 *  it recorded none, and on error. */
	double      interval;
	const char *key;	/**< the fingerprint of the TLS key bound to
				     it, or NULL when none is */
	/** NULL for a good node.  Else why it cannot be read ("not a valid
	 *  node id", or why its record does not parse), and only @c id is
	 *  set.  Readers usually warn and skip it; tally_statsfile_check()
	 *  reports the same. */
	const char *error;
} tally_node;

/** The kinds of a metric (the statsfile's "counters" and "stats"). */
#define TALLY_COUNTER 1
#define TALLY_STAT    2

/** A metric as tally_reader_get() or tally_reader_next_metric() finds it.
 *  Its strings are owned by the reader and valid until the next of those
 *  two calls, or tally_reader_close(). */
typedef struct tally_metric {
	const char *name;	/**< the stat name (quoted as tally_node's
				     id when @c error says it is invalid) */
	int         kind;	/**< TALLY_COUNTER or TALLY_STAT */
	int64_t     counter;	/**< TALLY_COUNTER: the value; else 0 */
	/** The value as a double: a stat's, or a counter's converted (exact
	 *  up to 2^53).  NaN: unknown, or unreadable. */
	double      value;
	/** The stored text exactly, as mdb_dump shows it ("42", "0.25",
	 *  "nan"), for a reader that only prints values (a counter stored
	 *  with zeros ahead of it past 200 bytes reads as its plain decimal).
	 *  For an unreadable value, the stored bytes quoted as tally_node's
	 *  id. */
	const char *text;
	/** NULL, or why the value or name is unreadable ("not a 64-bit
	 *  integer", "not a number", "not a valid stat name"); @c value is
	 *  then NaN and @c counter 0. */
	const char *error;
} tally_metric;

/** Open @p statsfile read-only and begin its one read transaction.
 *  The statsfile must exist and hold a tally database: a writer creates
 *  it, a reader never does.
 *  @param[out] rp receives the reader.  On success and on every failure
 *  but TALLY_ENOMEM, *rp is a reader whose tally_reader_errmsg() says
 *  why it failed (as redisConnect() does); the caller closes it either
 *  way, and every other call on a failed reader returns the same code.
 *  On TALLY_ENOMEM *rp is NULL (tally_reader_errmsg(NULL) and
 *  tally_reader_close(NULL) are fine).
 *  @return 0; TALLY_EINVAL (NULL or empty path); TALLY_ESTORE (missing,
 *  not a directory, not an LMDB environment, no database yet, damaged or
 *  truncated); TALLY_EFORMAT (an LMDB environment that is not a tally
 *  database, or a database of another format: the message names both
 *  formats); TALLY_ESYS (permissions: lock.mdb not writable, for LMDB
 *  readers write it, and the message says to put the reader in the
 *  statsfile's group, as tally(5) sets it up; data.mdb not readable; a
 *  directory above not searchable); TALLY_ESTATE (this thread has a reader open on the
 *  statsfile already: the second would wait for the first forever);
 *  TALLY_EFORK; TALLY_ENOMEM. */
int  tally_reader_open(tally_reader **rp, const char *statsfile);

/** The message of @p r's last failure, naming the statsfile ("statsfile
 *  /x: No such file or directory (it must be an existing directory)"),
 *  or "" if none.  "out of memory" for a NULL reader.  Valid until the
 *  next call on @p r.  Control characters from outside are quoted. */
const char *tally_reader_errmsg(const tally_reader *r);

/** The database format of @p r's statsfile, as its reader sees it: 1
 *  (without the stat index) or 2 (with it: tally(5)); 0 for a reader that
 *  failed to open, or NULL. */
int  tally_reader_format(const tally_reader *r);

/** The next node, in id order (byte order of the ids).
 *  @param[out] node filled in when 1 is returned.
 *  @return 1 a node (check node->error), 0 at the end (and at every later
 *  call), or TALLY_ESTORE (the statsfile turned out damaged: the reader
 *  is finished, every later call fails the same way) or another code,
 *  with tally_reader_errmsg(). */
int  tally_reader_next(tally_reader *r, tally_node *node);

/** Look up metric @p name of node @p node_id.  @p kind is TALLY_COUNTER,
 *  TALLY_STAT, or 0 for the counter and then, if there is none, the stat.
 *  Does not disturb a walk of tally_reader_next() nor of
 *  tally_reader_next_metric(), but reuses the metric strings.
 *  @return 0 found (an unreadable value too: check m->error),
 *  TALLY_ENOTFOUND (no such node or metric; a node's absence is not told
 *  apart), TALLY_EINVAL (an invalid node id, name or kind: nothing is
 *  looked up), TALLY_ESTORE (damaged, as above). */
int  tally_reader_get(tally_reader *r, const char *node_id, const char *name,
	int kind, tally_metric *m);

/** Start a walk of node @p node_id's metrics: its counters, then its stats,
 *  each in name order.  A new call starts a new walk.
 *  @return 0 (also for an unknown node, whose walk is empty),
 *  TALLY_EINVAL (an invalid node id), or the reader's failure. */
int  tally_reader_metrics(tally_reader *r, const char *node_id);

/** The walk's next metric.
 *  @return 1 a metric (check m->error), 0 at the end (and at every later
 *  call), TALLY_ESTATE (no walk started), or TALLY_ESTORE (damaged). */
int  tally_reader_next_metric(tally_reader *r, tally_metric *m);

/** Look up node @p node_id's record, as tally_reader_next() finds it
 *  (check node->error), without disturbing a walk of it; the strings
 *  are those tally_reader_next() hands out, valid until the next of the
 *  two calls.
 *  @return 0 found, TALLY_ENOTFOUND, TALLY_EINVAL (an invalid node id),
 *  or the reader's failure (TALLY_ESTORE). */
int  tally_reader_node(tally_reader *r, const char *node_id,
	tally_node *node);

/** Start a walk of the nodes that have metric @p name of @p kind
 *  (TALLY_COUNTER or TALLY_STAT), in node id order: one graph across the
 *  fleet.  It reads the statsfile's stat index (tally(5)), so it costs
 *  what those nodes' values cost, however many other nodes and metrics
 *  the statsfile holds; over a statsfile without the index (format 1: see
 *  tally_statsfile_index()), it looks the metric up in every node.  A new
 *  call starts a new walk, and ends one of tally_reader_metrics() (the
 *  two share their place).
 *  @return 0, TALLY_EINVAL (an invalid name or kind), or the reader's
 *  failure. */
int  tally_reader_stat(tally_reader *r, const char *name, int kind);

/** The stat walk's next node and its value.
 *  @param[out] node_id the node's id, owned by the reader and valid until
 *  the next call or tally_reader_close(); quoted as tally_node's id when
 *  m->error is "not a valid node id".
 *  @param[out] m the value, as tally_reader_next_metric() gives it.
 *  @return 1 (check m->error), 0 at the end (and at every later call),
 *  TALLY_ESTATE (no stat walk started), or TALLY_ESTORE (damaged). */
int  tally_reader_next_stat(tally_reader *r, const char **node_id,
	tally_metric *m);

/** Start a walk of the distinct names of metrics of @p kind (TALLY_COUNTER
 *  or TALLY_STAT) that some node has, each once, in the stat index's
 *  order (name order, but for a name that another extends: "x.y" comes
 *  before "x", as '.' sorts before '/'): what a fleet counts,
 *  at the cost of one seek in the stat index per name, however many nodes
 *  have it.  A new call starts a new walk, and ends one of
 *  tally_reader_metrics() or tally_reader_stat().
 *  @return 0, TALLY_EINVAL (an invalid kind), TALLY_ENOTFOUND (the
 *  statsfile has no stat index: walk the nodes' metrics instead), or the
 *  reader's failure. */
int  tally_reader_names(tally_reader *r, int kind);

/** The name walk's next name, owned by the reader and valid until the next
 *  call or tally_reader_close().  Keys of the index that are no stat's are
 *  passed over.
 *  @return 1, 0 at the end (and at every later call), TALLY_ESTATE (no
 *  name walk started), or TALLY_ESTORE (damaged). */
int  tally_reader_next_name(tally_reader *r, const char **name);

/** End the read transaction and free the reader.  NULL is ignored. */
void tally_reader_close(tally_reader *r);
/** @} */

/** @defgroup maintenance Maintaining a statsfile
 *  What an operator does to a statsfile (the tally tool's prune, forget
 *  and check), for other tools too.  Each call opens the statsfile itself
 *  and closes it before it returns; one that writes first checks that it
 *  holds a tally database, so that it never creates one in a wrong
 *  directory.  Errors come back as a code and a message in the caller's
 *  buffer @p err of @p errlen bytes (TALLY_ERRMSG_LEN holds any; NULL for
 *  none), which names the statsfile.  A writing call fails with
 *  TALLY_ESTATE when this thread holds a reader on the same statsfile,
 *  or when a reader of this process holds it read-only ("already open
 *  read-only in this process"); close the reader first.  A damaged
 *  statsfile is found again by each call.
 *  @{ */
#define TALLY_ERRMSG_LEN 512

/** Remove node @p node_id's slot (its record, counters and stats) if its
 *  snapshot time is before @p before (UNIX seconds), or is not sane
 *  (before 2000, or more than a day ahead of this machine's clock: no
 *  age can be trusted).  The time is checked in the deleting transaction,
 *  so a node that wrote since the caller looked is kept.
 *  @return 0 removed; TALLY_ESTATE kept (not that old, or its record does
 *  not parse: no known age); TALLY_ENOTFOUND no such node; TALLY_EINVAL
 *  an invalid node id; TALLY_ESTORE, TALLY_EFORMAT, TALLY_ESYS as
 *  tally_reader_open() (TALLY_ESTORE for a damaged statsfile). */
int  tally_statsfile_remove(const char *statsfile, const char *node_id,
	int64_t before, char *err, size_t errlen);

/** Forget the TLS key bound to node @p node_id: its record is rewritten
 *  without its key, everything else untouched, so that its next TLS
 *  contact binds whatever key it comes with (after a reinstall).
 *  @return 0; TALLY_ENOTFOUND no such node; TALLY_ESTATE no key bound;
 *  TALLY_EINVAL an invalid node id; or as tally_statsfile_remove(). */
int  tally_statsfile_forget(const char *statsfile, const char *node_id,
	char *err, size_t errlen);

/** Make the statsfile's stat index (@p on), or drop it (tally(5)): with
 *  it, tally_reader_stat() and so a munin graph read one stat's pages,
 *  not a page of every node; without it, writers write each value once,
 *  not twice.  Making it converts the file to format 2 in one
 *  transaction (time and memory once, as for a write of every value);
 *  dropping it converts back to format 1.  Writers and readers of this
 *  version that have the file open follow at their next transaction.
 *  @return 0; TALLY_ESTATE the index is there (or off) already, or the
 *  file is held read-only by this process; or as tally_statsfile_remove()
 *  (TALLY_ESTORE for a damaged statsfile, TALLY_ESYS for a full disk). */
int  tally_statsfile_index(const char *statsfile, int on, char *err,
	size_t errlen);

/** What tally_statsfile_check() counted. */
typedef struct tally_check_counts {
	size_t problems;	/**< problems reported */
	size_t nodes;		/**< keys of the nodes table */
	size_t counters;	/**< keys of the counters table */
	size_t stats;		/**< keys of the stats table */
} tally_check_counts;

/** Check every key and value of the statsfile: node ids and records (and
 *  their times against @p now), the form of every counters and stats key
 *  (<node id>/<stat name>), their values, and orphans (keys of a node
 *  that is not in the nodes table).  Each problem is passed to
 *  @p problem (may be NULL) as one line without the statsfile's name
 *  ("node a: time 5 out of range (...)"), untrusted bytes quoted, in
 *  table then key order.  A damaged statsfile may make LMDB fault or
 *  assert: that is caught like any reader's, but a checker may still
 *  prefer to run this in a child process.
 *  @param[out] counts filled in (may be NULL), also on failure.
 *  @return 0 when the walk ended (counts->problems says if all is well),
 *  else tally_reader_open()'s codes, or TALLY_ESTORE, TALLY_ENOMEM when
 *  the walk could not end, with the message in @p err. */
int  tally_statsfile_check(const char *statsfile, int64_t now,
	void (*problem)(void *ctx, const char *msg), void *ctx,
	tally_check_counts *counts, char *err, size_t errlen);
/** @} */

#ifdef __cplusplus
}
#endif
#endif /* TALLY_H */
