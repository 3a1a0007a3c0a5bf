/*
 * store-int.h: what the store's files (store.c, store-guard.c,
 * store-check.c, store-write.c, store-read.c) share, and the LMDB read
 * transaction that the public reader (reader.c, statsfile.c) walks; no
 * file outside libtally includes it, and no other header of libtally
 * includes <lmdb.h>.  The store's API for the rest of the project is in
 * tally-int.h; the structure of a store is known to these files only.
 * Sectioned by file; each function's contract is above its definition.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <sys/types.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include <lmdb.h>

#include "tally-int.h"

#define STORE_WHYLEN	400	/* LMDB's assertion text fits in 400 */
#define STORE_KEYMAX (TALLY_NODE_ID_MAX + 1 + TALLY_STAT_NAME_MAX)
#define STORE_RCURS	4	/* a reader's cursors: see store_reader */
/* store_merge met a key to delete in a range not walked (store-write.c) */
#define STORE_NEEDWALK	(-3900)

struct store {
	struct store	*next;
	char		*path;
	char		 qpath[ERROR_QUOTE_LEN];	/* for messages */
	dev_t		 dev;
	ino_t		 ino;
	int		 flags;
	int		 refs;
	pid_t		 pid;
	MDB_env		*env;		/* NULL: to be opened again */
	MDB_dbi		 dbi[STORE_NDB];
	int		 idx;		/* STORE_IDX_*: the index tables' state */
	pthread_mutex_t	 lock;	/* one transaction at a time */
	int		 deleted;	/* the last write of slots deleted; lock */

	/* LMDB's figures, for the checks and messages; under lock. */
	int		 fd;		/* LMDB's descriptor of data.mdb */
	size_t		 psize;
	size_t		 mapsize;	/* the map that was last mapped */
	size_t		 last_pgno;	/* as the meta said at the last check */
	off_t		 ok_size;	/* a short file found whole: its size */
	size_t		 ok_last;	/* ... and last page */

	/* What a jump out of LMDB must end; under lock. */
	MDB_txn		*txn;
	MDB_cursor	*rcur[STORE_RCURS];	/* cursors of a read-only txn */
	int		 wbegin;	/* inside mdb_txn_begin */
	int		 ending;	/* ending txn after a jump */
	int		 fault_sig;	/* SIGBUS, SIGSEGV, or 0: assertion */
	int		 fault_full;	/* its file system was full */
	void		*fault_addr;	/* the fault's si_addr */
	void		*mapaddr;	/* data.mdb's map, for fault_addr */
	char		 fault_why[STORE_WHYLEN];
	void		*scratch;	/* freed after a jump */
	int		 checking;	/* in store_check_tail */

	/* The thread of the live reader (store_reader_begin), if rheld. */
	pthread_t	 rowner;
	int		 rheld;		/* atomic */

	int		 damaged;	/* sticky; atomic */
	int		 stuck;		/* a txn could not be ended */
	char		 damage[TALLY_ERRLEN];
};

/* store->idx: no index open; opened in the live write txn; open. */
#define STORE_IDX_NONE		0
#define STORE_IDX_PENDING	1
#define STORE_IDX_READY		2

/* A function run under the guard (store_run), with the store's lock held. */
typedef int (*store_fn)(struct store *, void *, char *, size_t);

/* store.c */
const char *store_db_name(enum store_db);
int	 store_set_damaged(struct store *, const char *, char *, size_t);
void	 store_atfork_prepare(void);
void	 store_atfork_release(void);
int	 store_cursor(MDB_txn *, MDB_dbi, MDB_cursor **);
int	 store_dbi_plain(MDB_txn *, MDB_dbi);
int	 store_grow(struct store *, char *, size_t);
int	 store_begin(struct store *, unsigned, MDB_txn **, char *, size_t);
int	 store_commit(struct store *, MDB_txn *);
void	 store_abort(struct store *, MDB_txn *);
int	 store_ready(struct store *, char *, size_t);
int	 store_forked(const struct store *, char *, size_t);

/* store-guard.c */
struct store_guard;
void	 store_init(void);
void	 store_assert(MDB_env *, const char *);
int	 store_run(struct store *, store_fn, void *, char *, size_t);
void	 store_faults_hold(void);
void	 store_faults_let(void);
struct store_guard *store_guard_off(void);
void	 store_guard_on(struct store_guard *);
int	 store_end_fn(struct store *, void *, char *, size_t);
struct store_xfsz {
	sigset_t	 old;
	int		 pending;
};
void	 store_xfsz_block(struct store_xfsz *);
void	 store_xfsz_unblock(struct store_xfsz *);

/* store-check.c */
struct stat;
const char *store_limit(char *, size_t, int);
int	 store_truncated(char *, size_t, off_t, uint64_t);
uint64_t store_need(const struct store *, size_t);
int	 store_lmdb_err(struct store *, int, char *, size_t, const char *);
int	 store_check_files(struct store *, struct stat *, char *, size_t);
int	 store_check_size(struct store *, char *, size_t);
int	 store_check_live(struct store *, char *, size_t);

/* store-index.c */
int	 store_index_ready(struct store *, MDB_txn *);
int	 store_index_reader(struct store *, MDB_txn *);
void	 store_index_end(struct store *, int);
int	 store_index_set(struct store *, int, char *, size_t);
int	 store_index_put(struct store *, MDB_txn *, enum store_db,
	     const char *, size_t, const char *, size_t, const MDB_val *);
int	 store_index_del(struct store *, MDB_txn *, enum store_db,
	     const char *, size_t, const char *, size_t);
int	 store_index_fill(struct store *, MDB_txn *, enum store_db);

/* store-write.c */
int	 store_walk_range(MDB_cursor *, const char *, size_t, size_t);
int	 store_retry(struct store *, MDB_txn *, int *, char *, size_t);
int	 store_run_writer(struct store *, store_fn, void *, char *, size_t);

/* store-read.c */
int	 store_lock(struct store *, char *, size_t);
/*
 * A read transaction for the readers of reader.c and statsfile.c (and
 * tests): begin, walk, end.  The
 * store's mutex is held from begin to end.  Values handed out point into
 * the map and stay valid until end; their pages were read inside the
 * guard.  If a call finds the store damaged, it ends the transaction
 * itself: that call and every later one on r return TALLY_ESTORE (see
 * store_damage_msg), and store_reader_end does nothing more.
 */
struct store_reader {
	struct store	*st;
	MDB_txn		*txn;
	MDB_cursor	*nodes;
	MDB_cursor	*walk;		/* store_reader_seek's, on walkdb */
	enum store_db	 walkdb;
	int		 walkat;	/* walk stands on the key it gave last */
	MDB_cursor	*look;		/* store_reader_node's, on nodes */
	int		 lookat;	/* look stands on a key */
};
int	 store_reader_begin(struct store *, struct store_reader *,
	     char *, size_t);
/* Next node: 1 and its id/record, 0 at the end, or a TALLY_E* code. */
int	 store_reader_next(struct store_reader *, MDB_val *, MDB_val *);
/*
 * Look up a node's record; 1 found, 0 not, or a TALLY_E* code.  Ids asked
 * in order cost a step each, not a search from the root.
 */
int	 store_reader_node(struct store_reader *, const char *, size_t,
	     MDB_val *);
/* Look up key in db; 1 found, 0 not, or a TALLY_E* code. */
int	 store_reader_get_key(struct store_reader *, enum store_db,
	     const char *, size_t, MDB_val *);
/* Look up <node>/<stat> in db; 1 found, 0 not, or a TALLY_E* code. */
int	 store_reader_get(struct store_reader *, enum store_db,
	     const char *, size_t, const char *, size_t, MDB_val *);
/* Call cb for each <node>/<stat> of db, in name order; stops at cb's
 * non-zero return, which it returns. */
int	 store_reader_scan(struct store_reader *, enum store_db,
	     const char *, size_t,
	     int (*)(void *, const char *, size_t, const char *, size_t),
	     void *);
/*
 * The first key of db at or after (from, flen) that starts with from's
 * first plen bytes: 1 and its key and value, 0 none, or a TALLY_E* code.
 * (A walk resumes after key k by seeking k with a NUL byte appended.)
 */
int	 store_reader_seek(struct store_reader *, enum store_db,
	     const char *, size_t, size_t, int, MDB_val *, MDB_val *);
/*
 * The same for up to n keys, each handed to cb under the store's guard
 * until cb returns non-zero: cb may read the key and value (the guard
 * catches a fault) and copies what it keeps.  How many keys cb was given,
 * or a TALLY_E* code.  Fewer than n when the prefix's keys end, cb stops
 * or an error stops the batch: the next call says which.
 */
int	 store_reader_seekfn(struct store_reader *, enum store_db,
	     const char *, size_t, size_t, int, size_t,
	     int (*)(void *, const MDB_val *, const MDB_val *), void *);
/* Call cb for every key of db (whole keys, in key order), whatever their
 * form: tally check's walk.  Stops at cb's non-zero return, which it
 * returns. */
int	 store_reader_walk(struct store_reader *, enum store_db,
	     int (*)(void *, const char *, size_t, const char *, size_t),
	     void *);
void	 store_reader_end(struct store_reader *);

#endif
