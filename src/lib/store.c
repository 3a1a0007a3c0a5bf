/*
 * store.c: the LMDB environment that holds every node's slot: opening,
 * sharing and closing it, its map, its transactions, and its damage.
 *
 * The layout (tally(5)) is a contract read by munin, the CLI and
 * mdb_dump: named databases meta, nodes, counters and stats, with text
 * keys and values.  The store's files are the only ones that write it:
 *  - store.c (this file): open, close, the map, transactions, damage;
 *  - store-guard.c: the guard around calls into LMDB, and SIGXFSZ;
 *  - store-check.c: the checks of data.mdb and lock.mdb, the messages;
 *  - store-write.c: writing and deleting slots;
 *  - store-read.c: reading counters, and the readers' transactions;
 * and store-int.h, what they share with each other only.
 *
 * LMDB's rules, and how the store keeps them:
 *  - an environment must be opened once per process: environments are
 *    shared through a reference-counted list keyed by the directory's
 *    device and inode;
 *  - the map size may change only with no transaction active in the
 *    process: every transaction runs under the store's mutex, so a writer
 *    that hits MDB_MAP_FULL aborts, grows the map and retries, and a
 *    MDB_MAP_RESIZED from another process is adopted the same way;
 *  - an environment must not be used across fork(): the store remembers
 *    its pid and refuses (TALLY_EFORK) in a child, never closing there,
 *    since closing would clear the parent's reader slots;
 *  - readers need write access to lock.mdb: writers pre-create lock.mdb
 *    and data.mdb with mode 0660 so that a setgid directory lets a group
 *    (the munin plugin's) read.
 *
 * LMDB trusts data.mdb: it maps the file and follows its page numbers, so
 * a truncated file is a SIGBUS, a bad page number a SIGSEGV, and a page of
 * the wrong kind an assertion that calls abort().  None of these may take
 * down the host of libtally, nor tallyd or a reader.  So:
 *  - before mapping, data.mdb and lock.mdb must be regular files (never a
 *    FIFO that would hang open(), never a symlink whose target LMDB would
 *    create), and data.mdb must hold the pages its meta pages say are used
 *    (store-check.c);
 *  - that size check is repeated before each transaction (one fstat);
 *  - every call into LMDB runs under a guard (store_run, store-guard.c):
 *    LMDB's assertion callback, and a SIGBUS or SIGSEGV raised while the
 *    thread is inside LMDB for us, jump back to the guard, which ends the
 *    transaction and marks the store damaged.  A damaged store never
 *    enters LMDB again: every call returns the same message.  Faults
 *    anywhere else go to the handler that was there before ours;
 *  - LMDB does not check the pages a delete rebalances with, so no key is
 *    deleted before a read-only walk over them (store_prewalk,
 *    store-write.c); a write that only puts skips it;
 *  - a map that cannot grow leaves LMDB without a map: the environment is
 *    closed and opened again at the next call; SIGXFSZ is held back while
 *    writing, so that a file-size limit fails the write, not the process.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-int.h"

size_t			 store_mapsize_min = STORE_MAPSIZE_MIN;

static pthread_mutex_t	 store_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store	*store_list;
static pthread_once_t	 store_once = PTHREAD_ONCE_INIT;

static const char *store_db_names[STORE_NDB] = {
	"meta", "nodes", "counters", "stats", "counters-by-stat",
	"stats-by-stat"
};

const char *
store_db_name(enum store_db db)
{
	return store_db_names[db];
}

static int	store_open_env(struct store *, char *, size_t);

const char *
store_path(const struct store *s)
{
	return s->qpath;
}

int
store_damaged(const struct store *s)
{
	return __atomic_load_n(&s->damaged, __ATOMIC_ACQUIRE);
}

const char *
store_damage_msg(const struct store *s)
{
	return store_damaged(s) ? s->damage : NULL;
}

/* Make the store damaged, once; returns the message every call gives. */
int
store_set_damaged(struct store *s, const char *why, char *err, size_t errlen)
{
	if (!store_damaged(s) && s->fault_full)
		snprintf(s->damage, sizeof s->damage, "statsfile %s: %s: not "
		    "used further by this process; free space there, then "
		    "start it again", s->qpath, why);
	else if (!store_damaged(s))
		snprintf(s->damage, sizeof s->damage, "statsfile %s: damaged "
		    "(%s): %s; %smove it away to start afresh", s->qpath, why,
		    (s->flags & STORE_RDONLY) ? "not read further" :
		    "no longer written", (s->flags & STORE_CHECK) ? "" :
		    "check it with tally check; ");
	if (!store_damaged(s))
		__atomic_store_n(&s->damaged, 1, __ATOMIC_RELEASE);
	return error_set(err, errlen, TALLY_ESTORE, "%s", s->damage);
}

/*
 * A child of fork() gets store_list_lock unlocked, whatever another
 * thread of its parent was doing, so that it may open its own stores.
 */
void
store_atfork_prepare(void)
{
	pthread_mutex_lock(&store_list_lock);
}

void
store_atfork_release(void)
{
	pthread_mutex_unlock(&store_list_lock);
}

/*
 * mdb_cursor_open allocates the cursor, then reads the table's record in
 * the main database if the transaction has not yet: an assertion there
 * loses the cursor.  mdb_stat reads it with a cursor on the stack.
 */
int
store_cursor(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur)
{
	MDB_stat	 ms;
	int		 rc;

	if ((rc = mdb_stat(txn, dbi, &ms)) != 0)
		return rc;
	return mdb_cursor_open(txn, dbi, cur);
}

/* ---- opening and the map ------------------------------------------------ */

/*
 * Set the map size with no transaction active.  LMDB unmaps the old map
 * before it maps the new one, and when that fails it keeps no map at all:
 * the next mdb_txn_begin would fault.  So the environment is closed, and
 * the next call opens it again (store_ready) at the size that worked; the
 * error names the limit.
 */
static int
store_set_mapsize(struct store *s, size_t size, char *err, size_t errlen)
{
	MDB_envinfo	 info;
	char		 lim[32];
	const char	*as;
	size_t		 old = s->mapsize;
	int		 e;

	if ((e = mdb_env_set_mapsize(s->env, size)) == 0) {
		mdb_env_info(s->env, &info);
		s->mapsize = info.me_mapsize;
		s->mapaddr = info.me_mapaddr;
		return 0;
	}
	/* Closing reads no page: it unmaps, closes, frees reader slots. */
	mdb_env_close(s->env);
	s->env = NULL;
	as = store_limit(lim, sizeof lim, RLIMIT_AS);
	if (size == 0)
		return error_set(err, errlen, e == ENOMEM ? TALLY_ENOMEM :
		    TALLY_ESTORE, "statsfile %s: cannot map data.mdb at the "
		    "size another process gave it: %s%s%s%s", s->qpath,
		    mdb_strerror(e), as != NULL ? " (address-space limit of "
		    "this process: " : "", as != NULL ? as : "", as != NULL ?
		    " bytes)" : "");
	return error_set(err, errlen, e == ENOMEM ? TALLY_ENOMEM :
	    TALLY_ESTORE, "statsfile %s: cannot grow the map from %zu to %zu "
	    "bytes: %s%s%s%s", s->qpath, old, size, mdb_strerror(e),
	    as != NULL ? " (address-space limit of this process: " : "",
	    as != NULL ? as : "", as != NULL ? " bytes)" : "");
}

int
store_grow(struct store *s, char *err, size_t errlen)
{
	MDB_envinfo	 info;
	size_t		 size;

	mdb_env_info(s->env, &info);
	size = info.me_mapsize * 2;
	if (size > STORE_MAPSIZE_MAX)
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "map is full at its limit of %zu bytes", s->qpath,
		    info.me_mapsize);
	return store_set_mapsize(s, size, err, errlen);
}

/*
 * Begin a transaction, after the size check; the caller holds s->lock.
 * 0, or an error with its message (the store may be damaged then).
 */
int
store_begin(struct store *s, unsigned flags, MDB_txn **txn, char *err,
    size_t errlen)
{
	int	 rc, tries;

	*txn = NULL;
	if ((rc = store_check_live(s, err, errlen)) != 0)
		return rc;
	for (tries = 0; tries < 4; tries++) {
		/*
		 * Readers too: a fault inside begin may leave LMDB's reader
		 * table lock taken.  The environment then stays mapped, so
		 * that at exit the kernel marks that robust mutex's owner
		 * dead and the next process recovers it; unmapped, it would
		 * stay taken for every process, for good.
		 */
		s->wbegin = 1;
		rc = mdb_txn_begin(s->env, NULL, flags, txn);
		s->wbegin = 0;
		if (rc == 0) {
			s->txn = *txn;
			return 0;
		}
		if (rc != MDB_MAP_RESIZED)
			break;
		/* Another process grew the map: adopt its size. */
		if ((rc = store_set_mapsize(s, 0, err, errlen)) != 0)
			return rc;
	}
	*txn = NULL;
	return store_lmdb_err(s, rc, err, errlen, "begin");
}

/* End the transaction of store_begin. */
int
store_commit(struct store *s, MDB_txn *txn)
{
	s->txn = NULL;
	return mdb_txn_commit(txn);
}

void
store_abort(struct store *s, MDB_txn *txn)
{
	s->txn = NULL;
	mdb_txn_abort(txn);
}

/*
 * The format in meta: 1, or TALLY_DB_FORMAT (2: with the stat index,
 * store-index.c).  A writer sets 1 in a new environment.  *fmt: the
 * format found or set.
 */
static int
store_check_format(struct store *s, MDB_txn *txn, int create, int *fmt,
    char *err, size_t errlen)
{
	MDB_val	 k = { 6, (void *)"format" }, v;
	char	 want[8], q[ERROR_QUOTE_LEN];
	int	 rc, n;

	n = snprintf(want, sizeof want, "%d", TALLY_DB_FORMAT);
	rc = mdb_get(txn, s->dbi[STORE_META], &k, &v);
	if (rc == MDB_NOTFOUND && create) {
		/* A new statsfile has no stat index until tally index. */
		v.mv_data = (void *)"1";
		v.mv_size = 1;
		rc = mdb_put(txn, s->dbi[STORE_META], &k, &v, 0);
		if (rc != 0)
			return store_lmdb_err(s, rc, err, errlen, "set format");
		*fmt = 1;
		return 0;
	}
	if (rc == MDB_NOTFOUND)
		return error_set(err, errlen, TALLY_EFORMAT, "statsfile %s: "
		    "not a tally database (meta has no format key)", s->qpath);
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "read format");
	if (v.mv_size == 1 && *(const char *)v.mv_data == '1') {
		*fmt = 1;
		return 0;
	}
	if (v.mv_size != (size_t)n || memcmp(v.mv_data, want, n) != 0)
		return error_set(err, errlen, TALLY_EFORMAT, "statsfile %s: "
		    "database format '%s' is not supported (this tally "
		    "reads formats 1 and %d)", s->qpath, error_quote(q, 40,
		    v.mv_data, v.mv_size > 32 ? 32 : v.mv_size),
		    TALLY_DB_FORMAT);
	*fmt = TALLY_DB_FORMAT;
	return 0;
}

/*
 * A table's flags come from the file, not from mdb_dbi_open's (LMDB does
 * not compare them): a table made with MDB_DUPSORT, MDB_INTEGERKEY or
 * MDB_REVERSEKEY would take tally's keys with another order or meaning.
 * 0 if dbi is a plain table, else its flags.
 */
int
store_dbi_plain(MDB_txn *txn, MDB_dbi dbi)
{
	unsigned	 f = 0;

	if (mdb_dbi_flags(txn, dbi, &f) != 0)
		return -1;
	return (int)f;		/* LMDB's persistent flags only */
}

/*
 * Open the named databases.  A writer creates them in a new environment,
 * but refuses an environment that holds something else: its main
 * database's keys would then not be exactly our tables.  The stat index
 * is opened in a statsfile of format 2; one of format 1 has none (until
 * tally index makes it, store-index.c), and its readers do without.
 */
static int
store_open_dbs(struct store *s, char *err, size_t errlen)
{
	MDB_txn		*txn;
	MDB_dbi		 main;
	MDB_stat	 ms;
	int		 rc, i, fmt = 1, rdonly = s->flags & STORE_RDONLY;
	unsigned	 flags = rdonly ? 0 : MDB_CREATE;

	if ((rc = store_begin(s, rdonly ? MDB_RDONLY : 0, &txn, err,
	    errlen)) != 0)
		return rc;
	if (!rdonly) {
		MDB_val k = { 4, (void *)"meta" }, v;
		if ((rc = mdb_dbi_open(txn, NULL, 0, &main)) != 0 ||
		    (rc = mdb_stat(txn, main, &ms)) != 0)
			goto lmdb;
		if (ms.ms_entries > 0 && mdb_get(txn, main, &k, &v) ==
		    MDB_NOTFOUND) {
			store_abort(s, txn);
			return error_set(err, errlen, TALLY_EFORMAT,
			    "statsfile %s: an LMDB environment, but not a "
			    "tally database (no meta table)", s->qpath);
		}
	}
	s->idx = STORE_IDX_NONE;
	for (i = 0; i < STORE_NDB; i++) {
		/* Meta first: an unknown format is refused by its name. */
		if (i == STORE_NODES && (rc = store_check_format(s, txn,
		    !rdonly, &fmt, err, errlen)) != 0) {
			store_abort(s, txn);
			return rc;
		}
		if (i >= STORE_COUNTERS_IDX && fmt == 1)
			break;
		/* The index is made by tally index (store_index_set) only. */
		rc = mdb_dbi_open(txn, store_db_names[i], i >=
		    STORE_COUNTERS_IDX ? 0 : flags, &s->dbi[i]);
		if (rc == MDB_NOTFOUND) {
			store_abort(s, txn);
			return error_set(err, errlen, TALLY_EFORMAT,
			    "statsfile %s: not a tally database (no %s table)",
			    s->qpath, store_db_names[i]);
		}
		if (rc == MDB_INCOMPATIBLE) {
			store_abort(s, txn);
			return error_set(err, errlen, TALLY_EFORMAT,
			    "statsfile %s: not a tally database (%s is not a "
			    "table)", s->qpath, store_db_names[i]);
		}
		if (rc != 0)
			goto lmdb;
		if ((rc = store_dbi_plain(txn, s->dbi[i])) != 0) {
			store_abort(s, txn);
			return error_set(err, errlen, TALLY_EFORMAT,
			    "statsfile %s: not a tally database (%s is not a "
			    "plain table: LMDB flags %#x)", s->qpath,
			    store_db_names[i], (unsigned)rc);
		}
		if (i == STORE_STATS_IDX)
			s->idx = STORE_IDX_READY;
	}
	/* Committing, even read-only, keeps the handles for later txns. */
	if ((rc = store_commit(s, txn)) != 0) {
		s->idx = STORE_IDX_NONE;
		return store_lmdb_err(s, rc, err, errlen, "commit");
	}
	return 0;
lmdb:
	store_abort(s, txn);
	s->idx = STORE_IDX_NONE;
	return store_lmdb_err(s, rc, err, errlen, "open tables");
}

/*
 * Open the environment: the checks, then LMDB, then its figures and the
 * size check, then the tables.  Inside a guard (store_open_fn, or a
 * store call that opens it again).  On failure s->env is NULL, unless
 * a jump left it stuck.
 */
static int
store_open_env(struct store *s, char *err, size_t errlen)
{
	struct stat	 sb, fsb;
	MDB_env		*env;
	MDB_stat	 ms;
	MDB_envinfo	 info;
	char		 why[160];
	unsigned	 flags = MDB_NOTLS | MDB_NOMETASYNC;
	int		 rc, dead;

	if ((rc = store_check_files(s, &sb, err, errlen)) != 0)
		return rc;
	if (s->flags & STORE_RDONLY)
		flags |= MDB_RDONLY;
	if ((rc = mdb_env_create(&env)) != 0)
		return store_lmdb_err(s, rc, err, errlen, "create");
	s->env = env;
	mdb_env_set_assert(env, store_assert);
	if ((rc = mdb_env_set_maxdbs(env, STORE_MAXDBS)) != 0 ||
	    (rc = mdb_env_set_maxreaders(env, STORE_MAXREADERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, s->mapsize)) != 0)
		goto lmdb;
	/* Opening and the reader check take lock.mdb's mutexes too. */
	s->wbegin = 1;
	rc = mdb_env_open(env, s->path, flags, 0660);
	s->wbegin = 0;
	if (rc != 0) {
		/* Shorter than a meta page: LMDB says "invalid". */
		if (rc == MDB_INVALID && store_truncated(why, sizeof why,
		    sb.st_size, 2 * (uint64_t)sysconf(_SC_PAGESIZE))) {
			rc = error_set(err, errlen, TALLY_ESTORE, "statsfile "
			    "%s: %s", s->qpath, why);
			goto fail;
		}
		goto lmdb;
	}
	/* LMDB opened what was checked, or someone swapped it since. */
	if (mdb_env_get_fd(env, &s->fd) != 0 || fstat(s->fd, &fsb) != 0 ||
	    fsb.st_ino != sb.st_ino || fsb.st_dev != sb.st_dev) {
		rc = error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "data.mdb changed while it was opened; try again",
		    s->qpath);
		goto fail;
	}
	/* Free the reader slots of processes that died holding them. */
	s->wbegin = 1;
	mdb_reader_check(env, &dead);
	s->wbegin = 0;
	/* The page size is in the meta pages, which the file holds. */
	if (fsb.st_size < (off_t)sysconf(_SC_PAGESIZE)) {
		store_truncated(why, sizeof why, fsb.st_size,
		    2 * (uint64_t)sysconf(_SC_PAGESIZE));
		rc = error_set(err, errlen, TALLY_ESTORE, "statsfile %s: %s",
		    s->qpath, why);
		goto fail;
	}
	mdb_env_stat(env, &ms);
	mdb_env_info(env, &info);
	s->psize = ms.ms_psize;
	s->mapsize = info.me_mapsize;
	s->mapaddr = info.me_mapaddr;
	s->ok_size = 0;
	s->ok_last = 0;
	if (store_check_size(s, why, sizeof why)) {
		rc = error_set(err, errlen, TALLY_ESTORE, "statsfile %s: %s",
		    s->qpath, why);
		goto fail;
	}
	if ((rc = store_open_dbs(s, err, errlen)) != 0)
		goto fail;
	return 0;
lmdb:
	rc = store_lmdb_err(s, rc, err, errlen, "open");
fail:
	/* Unless a map that could not be resized closed it already. */
	if (s->env == env) {
		s->env = NULL;
		mdb_env_close(env);
	}
	return rc;
}

static int
store_open_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	return store_open_env(s, err, errlen);
}

/*
 * May a call go into LMDB?  Not in a child of fork, not once damaged
 * (the same message every time, LMDB untouched), and, after a map that
 * could not grow left the environment closed, only once it opens again.
 * Inside a guard, under s->lock.
 */
int
store_ready(struct store *s, char *err, size_t errlen)
{
	if (store_damaged(s))
		return error_set(err, errlen, TALLY_ESTORE, "%s", s->damage);
	if (s->env == NULL)
		return store_open_env(s, err, errlen);
	return 0;
}

int
store_forked(const struct store *s, char *err, size_t errlen)
{
	if (TALLY_LIKELY(s->pid == getpid()))
		return 0;
	return error_set(err, errlen, TALLY_EFORK, "statsfile %s: opened in "
	    "process %ld, used in its child %ld after fork", s->qpath,
	    (long)s->pid, (long)getpid());
}

/* Close what store_open_env opened; damaged or stuck stores leak it. */
static int
store_close_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	MDB_env	*env = s->env;

	s->env = NULL;
	if (env != NULL)
		mdb_env_close(env);
	return 0;
}

static void
store_free(struct store *s)
{
	if (s->env != NULL && !s->stuck)
		store_run(s, store_close_fn, NULL, NULL, 0);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

int
store_open(struct store **sp, const char *path, int flags, char *err,
    size_t errlen)
{
	struct store		*s;
	struct store_xfsz	 x;
	struct stat		 sb;
	char			 q[ERROR_QUOTE_LEN];
	int			 rc;

	*sp = NULL;
	if (path == NULL || *path == '\0')
		return error_set(err, errlen, TALLY_EINVAL,
		    "statsfile is not set");
	pthread_once(&store_once, store_init);
	error_quote(q, sizeof q, path, strlen(path));
	if (stat(path, &sb) != 0)
		return error_set(err, errlen, errno == ENOENT ? TALLY_ESTORE :
		    TALLY_ESYS, "statsfile %s: %s%s", q, strerror(errno),
		    errno == ENOENT ? " (it must be an existing directory)" :
		    errno == EACCES ? " (a directory above it is not "
		    "searchable)" : "");
	if (!S_ISDIR(sb.st_mode))
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "not a directory (a statsfile is an LMDB environment "
		    "directory)", q);

	pthread_mutex_lock(&store_list_lock);
	for (s = store_list; s != NULL; s = s->next) {
		if (s->dev != sb.st_dev || s->ino != sb.st_ino ||
		    s->pid != getpid())
			continue;
		if ((s->flags & STORE_RDONLY) && !(flags & STORE_RDONLY)) {
			pthread_mutex_unlock(&store_list_lock);
			return error_set(err, errlen, TALLY_ESTATE,
			    "statsfile %s: already open read-only in this "
			    "process", q);
		}
		if (store_damaged(s)) {
			pthread_mutex_unlock(&store_list_lock);
			return error_set(err, errlen, TALLY_ESTORE, "%s",
			    s->damage);
		}
		s->refs++;
		pthread_mutex_unlock(&store_list_lock);
		*sp = s;
		return 0;
	}
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		pthread_mutex_unlock(&store_list_lock);
		return error_set(err, errlen, TALLY_ENOMEM, "out of memory");
	}
	memcpy(s->qpath, q, sizeof s->qpath);
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->flags = flags;
	s->refs = 1;
	s->pid = getpid();
	s->fd = -1;
	s->mapsize = store_mapsize_min;
	pthread_mutex_init(&s->lock, NULL);
	if (!(flags & STORE_RDONLY))
		store_xfsz_block(&x);
	rc = store_run(s, store_open_fn, NULL, err, errlen);
	if (!(flags & STORE_RDONLY))
		store_xfsz_unblock(&x);
	if (rc != 0) {
		pthread_mutex_unlock(&store_list_lock);
		store_free(s);
		return rc;
	}
	s->next = store_list;
	store_list = s;
	pthread_mutex_unlock(&store_list_lock);
	*sp = s;
	return 0;
}

void
store_close(struct store *s)
{
	struct store	**pp;

	if (s == NULL)
		return;
	pthread_mutex_lock(&store_list_lock);
	if (--s->refs > 0 || s->pid != getpid()) {
		/*
		 * In a child of fork() the parent's environment is neither
		 * closed (that would free the parent's reader slots) nor
		 * freed: it stays on the list, invisible to this process.
		 */
		pthread_mutex_unlock(&store_list_lock);
		return;
	}
	for (pp = &store_list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	pthread_mutex_unlock(&store_list_lock);
	store_free(s);
}
