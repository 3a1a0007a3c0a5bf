/*
 * store.c: the LMDB environment that holds every node's slot.
 *
 * The layout (tally(5)) is a contract read by munin, the CLI and
 * mdb_dump: named databases meta, nodes, counters and stats, with text
 * keys and values.  This file is the only one that writes it.
 *
 * LMDB's rules, and how this file keeps them:
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
 *    create), and data.mdb must hold the pages its meta pages say are used;
 *  - that size check is repeated before each transaction (one fstat);
 *  - every call into LMDB runs under a guard (store_run): LMDB's assertion
 *    callback, and a SIGBUS or SIGSEGV raised while the thread is inside
 *    LMDB for us, jump back to the guard, which ends the transaction and
 *    marks the store damaged.  A damaged store never enters LMDB again:
 *    every call returns the same message.  Faults anywhere else go to the
 *    handler that was there before ours;
 *  - LMDB does not check the pages a delete rebalances with, so a write is
 *    preceded by a read-only walk over them (store_prewalk);
 *  - a map that cannot grow leaves LMDB without a map: the environment is
 *    closed and opened again at the next call; SIGXFSZ is held back while
 *    writing, so that a file-size limit fails the write, not the process.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tally-int.h"

#define STORE_WHYLEN	400	/* LMDB's assertion text fits in 400 */

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
	pthread_mutex_t	 lock;	/* one transaction at a time */

	/* LMDB's figures, for the checks and messages; under lock. */
	int		 fd;		/* LMDB's descriptor of data.mdb */
	size_t		 psize;
	size_t		 mapsize;	/* the map that was last mapped */
	size_t		 last_pgno;	/* as the meta said at the last check */
	off_t		 ok_size;	/* a short file found whole: its size */
	size_t		 ok_last;	/* ... and last page */

	/* What a jump out of LMDB must end; under lock. */
	MDB_txn		*txn;
	MDB_cursor	*rcur[2];	/* cursors of a read-only txn */
	int		 wbegin;	/* inside mdb_txn_begin of a writer */
	int		 ending;	/* ending txn after a jump */
	int		 fault_sig;	/* SIGBUS, SIGSEGV, or 0: assertion */
	char		 fault_why[STORE_WHYLEN];
	void		*scratch;	/* freed after a jump */
	int		 checking;	/* in store_check_tail */

	int		 damaged;	/* sticky; atomic */
	int		 stuck;		/* a txn could not be ended */
	char		 damage[TALLY_ERRLEN];
};

/*
 * Where a fault or assertion inside LMDB returns to: the innermost
 * store_run of this thread, or NULL when the thread is not inside LMDB
 * for us (callbacks into the caller run with it NULL).  initial-exec, so
 * that reading it in a signal handler never allocates.
 */
struct store_guard {
	sigjmp_buf		 jb;
	struct store_guard	*prev;
	struct store		*s;
};
static __thread struct store_guard *volatile store_guard_cur
    __attribute__((tls_model("initial-exec")));

size_t			 store_mapsize_min = STORE_MAPSIZE_MIN;

static pthread_mutex_t	 store_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store	*store_list;
static pthread_once_t	 store_once = PTHREAD_ONCE_INIT;
static struct sigaction	 store_sig_old[2];	/* SIGBUS's, SIGSEGV's */

static const char *store_db_names[STORE_NDB] = {
	"meta", "nodes", "counters", "stats"
};

#define STORE_KEYMAX (TALLY_NODE_ID_MAX + 1 + TALLY_STAT_NAME_MAX)
#define STORE_RECMAX 1024	/* a nodes record: nickname, source, numbers */

static int	store_open_env(struct store *, char *, size_t);
static int	store_caught(struct store *, char *, size_t);

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

/* ---- faults and assertions inside LMDB -------------------------------- */

/*
 * A fault that is not ours goes where it went before libtally: to the
 * previous handler, called as the kernel would have (its mask blocked),
 * or, for the default action or SIG_IGN, to that disposition again: a
 * fault then repeats when the handler returns and ends the process as it
 * would have; a sent signal is raised again.
 */
static void
store_fault_pass(int sig, siginfo_t *si, void *uc)
{
	struct sigaction	*old = &store_sig_old[sig == SIGBUS ? 0 : 1];
	sigset_t		 mask, saved;

	if (!(old->sa_flags & SA_SIGINFO) && (old->sa_handler == SIG_DFL ||
	    old->sa_handler == SIG_IGN)) {
		int sent = si == NULL || si->si_code <= 0;

		if (old->sa_handler == SIG_IGN && sent)
			return;
		sigaction(sig, old, NULL);
		if (sent)
			raise(sig);
		return;
	}
	mask = old->sa_mask;
	if (!(old->sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	pthread_sigmask(SIG_BLOCK, &mask, &saved);
	if (old->sa_flags & SA_SIGINFO)
		old->sa_sigaction(sig, si, uc);
	else
		old->sa_handler(sig);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

/*
 * SIGBUS and SIGSEGV: a fault (si_code > 0, raised by the kernel, not
 * sent) of a thread inside LMDB for a store call jumps back to that call;
 * anything else is passed on.
 */
static void
store_fault(int sig, siginfo_t *si, void *uc)
{
	struct store_guard	*g = store_guard_cur;

	if (g != NULL && si != NULL && si->si_code > 0) {
		g->s->fault_sig = sig;
		siglongjmp(g->jb, 1);
	}
	store_fault_pass(sig, si, uc);
}

/*
 * LMDB's assertion callback: LMDB calls abort() when it returns, so jump
 * back to the store call instead.  Outside one (never, as every LMDB call
 * is guarded) there is nowhere to go, and LMDB aborts as it would have.
 */
static void
store_assert(MDB_env *env, const char *msg)
{
	struct store_guard	*g = store_guard_cur;

	if (g == NULL)
		return;
	g->s->fault_sig = 0;
	snprintf(g->s->fault_why, sizeof g->s->fault_why, "%s", msg);
	siglongjmp(g->jb, 1);
}

/*
 * A child of fork() gets store_list_lock unlocked, whatever another
 * thread of its parent was doing, so that it may open its own stores.
 */
static void
store_atfork_prepare(void)
{
	pthread_mutex_lock(&store_list_lock);
}

static void
store_atfork_release(void)
{
	pthread_mutex_unlock(&store_list_lock);
}

/*
 * Once per process, at the first open: the fault handler (SA_NODEFER, so
 * that a jump out of it needs no signal mask restored, and sigsetjmp need
 * not save one: no system call per store call) and the fork handlers.
 */
static void
store_init(void)
{
	static const int	 sigs[2] = { SIGBUS, SIGSEGV };
	struct sigaction	 sa;
	int			 i;

	pthread_atfork(store_atfork_prepare, store_atfork_release,
	    store_atfork_release);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = store_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 2; i++) {
		if (sigaction(sigs[i], NULL, &store_sig_old[i]) != 0)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

/*
 * Run fn under a guard: the one place that calls sigsetjmp, so that no
 * variable of a store function lives across it.  A jump comes back here,
 * and store_caught ends what LMDB was doing and marks the store damaged.
 *
 * A fault in a thread that blocks SIGBUS or SIGSEGV never reaches a
 * handler: the kernel kills the process.  Threads often block every
 * signal (the provider's own thread does, so that the host's signals go
 * to the host's threads), so the outermost guard unblocks the two for
 * its duration, and puts the thread's mask back after.
 */
typedef int (*store_fn)(struct store *, void *, char *, size_t);

static int
store_run(struct store *s, store_fn fn, void *arg, char *err, size_t errlen)
{
	struct store_guard	 g;
	sigset_t		 faults, old;
	volatile int		 blocked = 0;
	int			 rc;

	g.prev = store_guard_cur;
	g.s = s;
	if (g.prev == NULL) {
		sigemptyset(&faults);
		sigaddset(&faults, SIGBUS);
		sigaddset(&faults, SIGSEGV);
		if (pthread_sigmask(SIG_UNBLOCK, &faults, &old) == 0)
			blocked = sigismember(&old, SIGBUS) ||
			    sigismember(&old, SIGSEGV);
	}
	if (sigsetjmp(g.jb, 0) != 0) {
		store_guard_cur = g.prev;
		rc = store_caught(s, err, errlen);
	} else {
		store_guard_cur = &g;
		rc = fn(s, arg, err, errlen);
		store_guard_cur = g.prev;
	}
	if (blocked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Callbacks into the caller run unguarded: their faults are not ours. */
static struct store_guard *
store_guard_off(void)
{
	struct store_guard	*g = store_guard_cur;

	store_guard_cur = NULL;
	return g;
}

static void
store_guard_on(struct store_guard *g)
{
	store_guard_cur = g;
}

/* The bytes of a size for messages, such as "1048576". */
static const char *
store_limit(char *buf, size_t len, int resource)
{
	struct rlimit	 rl;

	if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return NULL;
	snprintf(buf, len, "%llu", (unsigned long long)rl.rlim_cur);
	return buf;
}

/* Make the store damaged, once; returns the message every call gives. */
static int
store_set_damaged(struct store *s, const char *why, char *err, size_t errlen)
{
	if (!store_damaged(s)) {
		snprintf(s->damage, sizeof s->damage, "statsfile %s: damaged "
		    "(%s): %s; check it with tally check; move it away to "
		    "start afresh", s->qpath, why, (s->flags & STORE_RDONLY) ?
		    "not read further" : "no longer written");
		__atomic_store_n(&s->damaged, 1, __ATOMIC_RELEASE);
	}
	return error_set(err, errlen, TALLY_ESTORE, "%s", s->damage);
}

/* "data.mdb is truncated: ...", if the file is shorter than need. */
static int
store_truncated(char *buf, size_t len, off_t size, uint64_t need)
{
	if ((uint64_t)size >= need)
		return 0;
	snprintf(buf, len, "data.mdb is truncated: %lld bytes, its meta pages "
	    "say at least %llu", (long long)size, (unsigned long long)need);
	return 1;
}

/* (last + 1) * psize, without overflow. */
static uint64_t
store_need(const struct store *s, size_t last)
{
	if (s->psize == 0 || last >= UINT64_MAX / s->psize - 1)
		return UINT64_MAX;
	return ((uint64_t)last + 1) * s->psize;
}

/* Say what the fault or assertion was, from what LMDB left us. */
static void
store_fault_why(struct store *s, char *why, size_t len)
{
	char		 q[ERROR_QUOTE_LEN], t[160];
	struct stat	 sb;

	if (s->fault_sig == 0) {
		snprintf(why, len, "LMDB: %s", error_quote(q, sizeof q,
		    s->fault_why, strlen(s->fault_why)));
		return;
	}
	/* The map is data.mdb: a page past its end is a SIGBUS. */
	if (fstat(s->fd, &sb) == 0 && store_truncated(t, sizeof t,
	    sb.st_size, store_need(s, s->last_pgno))) {
		/* Looking for what a short file lacks, and finding it. */
		if (s->checking)
			snprintf(why, len, "%s", t);
		else
			snprintf(why, len, "%s reading data.mdb: %s",
			    s->fault_sig == SIGBUS ? "bus error" :
			    "segmentation fault", t);
		return;
	}
	if (s->fault_sig == SIGBUS)
		snprintf(why, len, "bus error reading data.mdb: truncated?");
	else
		snprintf(why, len, "segmentation fault inside LMDB: a bad "
		    "page?");
}

/* End the transaction a jump left open (under a guard of its own). */
static int
store_end_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		if (s->rcur[i] != NULL) {
			MDB_cursor *c = s->rcur[i];
			s->rcur[i] = NULL;
			mdb_cursor_close(c);
		}
	}
	free(s->scratch);
	s->scratch = NULL;
	if (s->txn != NULL) {
		MDB_txn *txn = s->txn;
		s->txn = NULL;
		mdb_txn_abort(txn);
	}
	return 0;
}

/*
 * After a jump: end the transaction, which for a writer releases LMDB's
 * writer mutex in lock.mdb (other processes would wait for it forever),
 * and frees what the transaction held.  mdb_txn_abort reads no page, only
 * LMDB's own lists; if it faults all the same, the transaction is left as
 * it is and the environment is never closed (stuck).  A writer stopped
 * inside mdb_txn_begin may hold that mutex with no transaction to end: it
 * is released when this process exits.
 */
static int
store_caught(struct store *s, char *err, size_t errlen)
{
	char	 why[STORE_WHYLEN + 64];

	if (s->ending) {
		s->stuck = 1;
		s->checking = 0;
		s->txn = NULL;
		s->rcur[0] = s->rcur[1] = NULL;
		return TALLY_ESTORE;
	}
	store_fault_why(s, why, sizeof why);
	s->checking = 0;
	if (s->wbegin) {
		s->wbegin = 0;
		s->stuck = 1;
	}
	if (s->txn != NULL || s->rcur[0] != NULL || s->rcur[1] != NULL ||
	    s->scratch != NULL) {
		s->ending = 1;
		store_run(s, store_end_fn, NULL, NULL, 0);
		s->ending = 0;
	}
	return store_set_damaged(s, why, err, errlen);
}

/* ---- messages ----------------------------------------------------------- */

/*
 * LMDB's return codes, as a message.  A disk that is full, a quota or a
 * file-size limit are named as such: LMDB passes on write's errno, but a
 * short write (the disk filled up during it, or the file reached the
 * file-size limit) becomes EIO; the file system's free space and the limit
 * tell which, and the message is the same as for the errno, so that a
 * caller that logs a failure once sees one failure.
 */
static int
store_lmdb_err(struct store *s, int rc, char *err, size_t errlen,
    const char *what)
{
	struct statvfs	 vfs;
	struct stat	 sb;
	char		 lim[32];

	switch (rc) {
	case MDB_INVALID:
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "not an LMDB environment (%s)", s->qpath, mdb_strerror(rc));
	case MDB_VERSION_MISMATCH:
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "written by an incompatible LMDB (%s)", s->qpath,
		    mdb_strerror(rc));
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_PANIC:
	case MDB_BAD_TXN: {
		char why[160];
		snprintf(why, sizeof why, "LMDB: %s", mdb_strerror(rc));
		return store_set_damaged(s, why, err, errlen);
	}
	case ENOSPC:
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: %s: "
		    "no space left on device", s->qpath, what);
	case EDQUOT:
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: %s: "
		    "disk quota exceeded", s->qpath, what);
	case EFBIG:
		if (store_limit(lim, sizeof lim, RLIMIT_FSIZE) != NULL)
			return error_set(err, errlen, TALLY_ESYS, "statsfile "
			    "%s: %s: file too large (file-size limit of this "
			    "process: %s bytes)", s->qpath, what, lim);
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: %s: "
		    "file too large", s->qpath, what);
	case EIO:
		if (s->env != NULL && store_limit(lim, sizeof lim,
		    RLIMIT_FSIZE) != NULL && fstat(s->fd, &sb) == 0 &&
		    (uint64_t)sb.st_size + (1 << 20) >= strtoull(lim, NULL,
		    10))
			return error_set(err, errlen, TALLY_ESYS, "statsfile "
			    "%s: %s: file too large (file-size limit of this "
			    "process: %s bytes)", s->qpath, what, lim);
		if (s->env != NULL && fstatvfs(s->fd, &vfs) == 0 &&
		    (uint64_t)(geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail) *
		    vfs.f_frsize < (uint64_t)1 << 20)
			return error_set(err, errlen, TALLY_ESYS, "statsfile "
			    "%s: %s: no space left on device", s->qpath,
			    what);
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: %s: "
		    "%s", s->qpath, what, mdb_strerror(rc));
	case EACCES:
		if (s->flags & STORE_RDONLY)
			return error_set(err, errlen, TALLY_ESTORE, "statsfile "
			    "%s: %s: %s (readers need write access to "
			    "lock.mdb; put the reader in the statsfile's "
			    "group)", s->qpath, what, mdb_strerror(rc));
		break;
	case ENOMEM:
		if (store_limit(lim, sizeof lim, RLIMIT_AS) != NULL)
			return error_set(err, errlen, TALLY_ENOMEM, "statsfile "
			    "%s: %s: %s (address-space limit of this process: "
			    "%s bytes)", s->qpath, what, mdb_strerror(rc), lim);
		return error_set(err, errlen, TALLY_ENOMEM, "statsfile %s: "
		    "%s: %s", s->qpath, what, mdb_strerror(rc));
	}
	return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: %s: %s",
	    s->qpath, what, mdb_strerror(rc));
}

/*
 * SIGXFSZ: a write past RLIMIT_FSIZE raises it at the writing thread, and
 * its default action ends the process.  Writers block it while inside
 * LMDB, so that the write fails with EFBIG instead, and take back the
 * signal it raised, unless one was pending already.
 */
struct store_xfsz {
	sigset_t	 old;
	int		 pending;
};

static void
store_xfsz_block(struct store_xfsz *x)
{
	sigset_t	 set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &set, &x->old);
	x->pending = sigpending(&pend) == 0 && sigismember(&pend, SIGXFSZ);
}

static void
store_xfsz_unblock(struct store_xfsz *x)
{
	struct timespec	 zero = { 0, 0 };
	sigset_t	 set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	if (!x->pending && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGXFSZ))
		sigtimedwait(&set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &x->old, NULL);
}

/* ---- checks before mapping ---------------------------------------------- */

static const char *
store_ftype(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISDIR(m))
		return "a directory";
	return "of an unknown type";
}

/*
 * lstat path/name: 0 for a regular file, 1 if absent, or an error for
 * anything else.  Symlinks are refused, valid or not: LMDB would create
 * a dangling one's target, wherever it points, and a valid one lets
 * whoever may write the directory point a writer at any file it can
 * write.  Link the directory instead.
 */
static int
store_check_file(struct store *s, const char *name, struct stat *sb,
    char *err, size_t errlen)
{
	char		 file[PATH_MAX], target[PATH_MAX], q[ERROR_QUOTE_LEN];
	struct stat	 tsb;
	ssize_t		 n;

	if ((size_t)snprintf(file, sizeof file, "%s/%s", s->path, name) >=
	    sizeof file)
		return error_set(err, errlen, TALLY_EINVAL,
		    "statsfile %s: path too long", s->qpath);
	if (lstat(file, sb) != 0) {
		if (errno == ENOENT)
			return 1;
		if (errno == EACCES)
			return error_set(err, errlen, TALLY_ESYS, "statsfile "
			    "%s: cannot search %s: %s", s->qpath, s->qpath,
			    strerror(errno));
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: %s: "
		    "%s", s->qpath, name, strerror(errno));
	}
	if (S_ISLNK(sb->st_mode)) {
		if ((n = readlink(file, target, sizeof target)) < 0)
			n = 0;
		error_quote(q, sizeof q, target, (size_t)n);
		if (stat(file, &tsb) != 0 && errno == ENOENT)
			return error_set(err, errlen, TALLY_ESTORE, "statsfile "
			    "%s: %s is a dangling symlink (to %s): refused, "
			    "and its target not created", s->qpath, name, q);
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: %s "
		    "is a symlink (to %s): refused; the files of a statsfile "
		    "must be regular files (link the directory instead)",
		    s->qpath, name, q);
	}
	if (!S_ISREG(sb->st_mode))
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: %s "
		    "is %s, not a regular file", s->qpath, name,
		    store_ftype(sb->st_mode));
	return 0;
}

/*
 * Open path/name as LMDB will, but never blocking (O_NONBLOCK: a FIFO put
 * there since the lstat), never through a symlink, to name a missing
 * permission before LMDB reports it as a bare EACCES.  0 with *oerr set
 * to open's errno (0 if it opened), or an error.
 */
static int
store_try_open(struct store *s, const char *name, int mode,
    const struct stat *want, struct stat *sb, int *oerr, char *err,
    size_t errlen)
{
	char	 file[PATH_MAX];
	int	 fd, e;

	snprintf(file, sizeof file, "%s/%s", s->path, name);
	*oerr = 0;
	fd = open(file, mode | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*oerr = errno;
		return 0;
	}
	e = fstat(fd, sb) != 0 ? errno : 0;
	close(fd);
	if (e != 0)
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: %s: "
		    "%s", s->qpath, name, strerror(e));
	if (!S_ISREG(sb->st_mode) || sb->st_ino != want->st_ino ||
	    sb->st_dev != want->st_dev)
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: %s "
		    "changed while it was checked; try again", s->qpath, name);
	return 0;
}

/* Create path/name with mode 0660 whatever the umask, if it is missing. */
static int
store_precreate(struct store *s, const char *name, char *err, size_t errlen)
{
	char	 file[PATH_MAX];
	int	 fd;

	if ((size_t)snprintf(file, sizeof file, "%s/%s", s->path, name) >=
	    sizeof file)
		return error_set(err, errlen, TALLY_EINVAL,
		    "statsfile %s: path too long", s->qpath);
	/* O_EXCL never follows a symlink: an existing one is checked. */
	fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK | O_NOFOLLOW |
	    O_CLOEXEC, 0660);
	if (fd >= 0) {
		if (fchmod(fd, 0660) != 0) {
			int e = errno;
			close(fd);
			return error_set(err, errlen, TALLY_ESYS,
			    "statsfile %s: chmod %s: %s", s->qpath, name,
			    strerror(e));
		}
		close(fd);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return error_set(err, errlen, TALLY_ESYS, "statsfile %s: cannot "
	    "create %s: %s", s->qpath, name, strerror(errno));
}

/*
 * Everything that can be said about data.mdb and lock.mdb before LMDB
 * opens them; *sb is data.mdb's identity and size.
 */
static int
store_check_files(struct store *s, struct stat *sb, char *err, size_t errlen)
{
	struct stat	 lsb, osb;
	int		 rc, e, rdonly = s->flags & STORE_RDONLY;

	if (!rdonly) {
		if (access(s->path, W_OK) != 0)
			return error_set(err, errlen, TALLY_ESYS,
			    "statsfile %s: not writable: %s", s->qpath,
			    strerror(errno));
		/* Check first, so that a dangling symlink is named. */
		if ((rc = store_check_file(s, "data.mdb", sb, err,
		    errlen)) < 0 ||
		    (rc = store_check_file(s, "lock.mdb", &lsb, err,
		    errlen)) < 0)
			return rc;
		if ((rc = store_precreate(s, "lock.mdb", err, errlen)) != 0 ||
		    (rc = store_precreate(s, "data.mdb", err, errlen)) != 0)
			return rc;
	}
	if ((rc = store_check_file(s, "data.mdb", sb, err, errlen)) < 0)
		return rc;
	if (rc == 1)
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: no "
		    "database yet (no data.mdb: has any node written to it?)",
		    s->qpath);
	if ((rc = store_try_open(s, "data.mdb", rdonly ? O_RDONLY : O_RDWR,
	    sb, &osb, &e, err, errlen)) != 0)
		return rc;
	if (e != 0)
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: "
		    "cannot %s data.mdb: %s", s->qpath, rdonly ? "read" :
		    "write", strerror(e));
	*sb = osb;
	if (rdonly && sb->st_size == 0)
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: no "
		    "database yet (data.mdb is empty: has any node written "
		    "to it?)", s->qpath);

	if ((rc = store_check_file(s, "lock.mdb", &lsb, err, errlen)) < 0)
		return rc;
	if (rc == 1) {
		/* A reader creates it: it needs to write the directory. */
		if (rdonly && access(s->path, W_OK) != 0)
			return error_set(err, errlen, TALLY_ESYS, "statsfile "
			    "%s: no lock.mdb, and this reader cannot create it "
			    "(%s): a writer creates it", s->qpath,
			    strerror(errno));
		return 0;
	}
	if ((rc = store_try_open(s, "lock.mdb", O_RDWR, &lsb, &osb, &e, err,
	    errlen)) != 0)
		return rc;
	/* On a read-only file system LMDB reads without a lock file. */
	if (e == 0 || (e == EROFS && rdonly))
		return 0;
	if (rdonly)
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: "
		    "lock.mdb is not writable by uid %ld gid %ld: %s (readers "
		    "need write access to lock.mdb; put the reader in the "
		    "statsfile's group)", s->qpath, (long)geteuid(),
		    (long)getegid(), strerror(e));
	return error_set(err, errlen, TALLY_ESYS, "statsfile %s: cannot write "
	    "lock.mdb: %s", s->qpath, strerror(e));
}

/*
 * mdb_cursor_open allocates the cursor, then reads the table's record in
 * the main database if the transaction has not yet: an assertion there
 * loses the cursor.  mdb_stat reads it with a cursor on the stack.
 */
static int
store_cursor(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur)
{
	MDB_stat	 ms;
	int		 rc;

	if ((rc = mdb_stat(txn, dbi, &ms)) != 0)
		return rc;
	return mdb_cursor_open(txn, dbi, cur);
}

/* ---- the size of data.mdb ----------------------------------------------- */

/*
 * A commit may leave its last pages unwritten: pages its transaction took
 * at the end of the file and freed again (LMDB's loose pages) are counted
 * in the meta's last page but never written.  So a whole file may be
 * shorter than the meta says; it is whole if every page it lacks is in
 * the free list of the same snapshot.  Returns 1 with the reason in why
 * if a page in use is missing, else 0 (also when it cannot tell: the
 * guard still catches a fault).
 */
static int
store_check_tail(struct store *s, char *why, size_t whylen)
{
	MDB_txn		*txn = NULL;
	MDB_cursor	*cur;
	MDB_envinfo	 info;
	MDB_val		 k, v;
	struct stat	 sb;
	uint8_t		*bits;
	size_t		 first, range, i, cnt, pg, hi;
	int		 tries;

	/* A snapshot, with the meta of that same snapshot. */
	for (tries = 0; tries < 8; tries++) {
		if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
			return 0;	/* the transaction to come says why */
		s->txn = txn;
		mdb_env_info(s->env, &info);
		if (info.me_last_txnid == mdb_txn_id(txn))
			break;
		s->txn = NULL;
		mdb_txn_abort(txn);
	}
	if (tries == 8)
		return 0;
	/* After the snapshot began: every page it uses was written. */
	if (fstat(s->fd, &sb) != 0)
		goto whole;
	s->last_pgno = info.me_last_pgno;
	first = (size_t)sb.st_size / s->psize;
	if (first > info.me_last_pgno)
		goto whole;
	range = info.me_last_pgno - first + 1;
	if (range > (size_t)1 << 30 ||
	    (bits = calloc((range + 7) / 8, 1)) == NULL) {
		s->txn = NULL;
		mdb_txn_abort(txn);
		return store_truncated(why, whylen, sb.st_size,
		    store_need(s, info.me_last_pgno));
	}
	s->scratch = bits;
	/* The free list: keys are txn ids, values MDB_IDLs (count, pgnos). */
	if (store_cursor(txn, 0, &cur) == 0) {
		s->rcur[0] = cur;
		while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
			if (v.mv_size < sizeof cnt)
				break;
			memcpy(&cnt, v.mv_data, sizeof cnt);
			if (cnt > v.mv_size / sizeof pg - 1)
				break;
			for (i = 1; i <= cnt; i++) {
				memcpy(&pg, (char *)v.mv_data + i * sizeof pg,
				    sizeof pg);
				if (pg >= first && pg <= info.me_last_pgno)
					bits[(pg - first) / 8] |= 1 <<
					    ((pg - first) % 8);
			}
		}
		s->rcur[0] = NULL;
		mdb_cursor_close(cur);
	}
	/* The last page that is not free. */
	for (hi = range; hi > 0; hi--)
		if (!(bits[(hi - 1) / 8] & (1 << ((hi - 1) % 8))))
			break;
	s->scratch = NULL;
	free(bits);
	if (hi > 0) {
		s->txn = NULL;
		mdb_txn_abort(txn);
		return store_truncated(why, whylen, sb.st_size,
		    store_need(s, first + hi - 1));
	}
	s->ok_size = sb.st_size;
	s->ok_last = info.me_last_pgno;
whole:
	s->txn = NULL;
	mdb_txn_abort(txn);
	return 0;
}

/*
 * Does data.mdb hold the pages its meta says are used?  Once at open and
 * before each transaction: one fstat and a look at the meta page, so that
 * a file truncated since is refused rather than mapped past its end.
 * Inside a guard, with no transaction of ours active.  Returns 1 with
 * the reason in why, else 0.
 */
static int
store_check_size(struct store *s, char *why, size_t whylen)
{
	MDB_envinfo	 info;
	struct stat	 sb;
	int		 rc;

	if (fstat(s->fd, &sb) != 0)
		return 0;
	/* The meta pages first: mdb_env_info reads them. */
	if (store_truncated(why, whylen, sb.st_size, 2 * (uint64_t)s->psize))
		return 1;
	mdb_env_info(s->env, &info);
	s->last_pgno = info.me_last_pgno;
	if ((uint64_t)sb.st_size >= store_need(s, info.me_last_pgno))
		return 0;
	if (sb.st_size == s->ok_size && info.me_last_pgno == s->ok_last)
		return 0;
	s->checking = 1;
	rc = store_check_tail(s, why, whylen);
	s->checking = 0;
	return rc;
}

/* The same, for a live store: a truncated file makes it damaged. */
static int
store_check_live(struct store *s, char *err, size_t errlen)
{
	char	 why[160];

	if (store_check_size(s, why, sizeof why))
		return store_set_damaged(s, why, err, errlen);
	return 0;
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

static int
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
static int
store_begin(struct store *s, unsigned flags, MDB_txn **txn, char *err,
    size_t errlen)
{
	int	 rc, tries;

	*txn = NULL;
	if ((rc = store_check_live(s, err, errlen)) != 0)
		return rc;
	for (tries = 0; tries < 4; tries++) {
		s->wbegin = !(flags & MDB_RDONLY);
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
static int
store_commit(struct store *s, MDB_txn *txn)
{
	s->txn = NULL;
	return mdb_txn_commit(txn);
}

static void
store_abort(struct store *s, MDB_txn *txn)
{
	s->txn = NULL;
	mdb_txn_abort(txn);
}

static int
store_check_format(struct store *s, MDB_txn *txn, int create, char *err,
    size_t errlen)
{
	MDB_val	 k = { 6, (void *)"format" }, v;
	char	 want[8], q[ERROR_QUOTE_LEN];
	int	 rc, n;

	n = snprintf(want, sizeof want, "%d", TALLY_DB_FORMAT);
	rc = mdb_get(txn, s->dbi[STORE_META], &k, &v);
	if (rc == MDB_NOTFOUND && create) {
		v.mv_data = want;
		v.mv_size = (size_t)n;
		rc = mdb_put(txn, s->dbi[STORE_META], &k, &v, 0);
		if (rc != 0)
			return store_lmdb_err(s, rc, err, errlen, "set format");
		return 0;
	}
	if (rc == MDB_NOTFOUND)
		return error_set(err, errlen, TALLY_EFORMAT, "statsfile %s: "
		    "not a tally database (meta has no format key)", s->qpath);
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "read format");
	if (v.mv_size != (size_t)n || memcmp(v.mv_data, want, n) != 0)
		return error_set(err, errlen, TALLY_EFORMAT, "statsfile %s: "
		    "database format '%s' is not supported (this tally "
		    "reads format %d)", s->qpath, error_quote(q, 40,
		    v.mv_data, v.mv_size > 32 ? 32 : v.mv_size),
		    TALLY_DB_FORMAT);
	return 0;
}

/*
 * Open the named databases.  A writer creates them in a new environment,
 * but refuses an environment that holds something else: its main
 * database's keys would then not be exactly our four tables.
 */
static int
store_open_dbs(struct store *s, char *err, size_t errlen)
{
	MDB_txn		*txn;
	MDB_dbi		 main;
	MDB_stat	 ms;
	int		 rc, i, rdonly = s->flags & STORE_RDONLY;
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
	for (i = 0; i < STORE_NDB; i++) {
		/* Meta first: an unknown format is refused by its name. */
		if (i == STORE_NODES && (rc = store_check_format(s, txn,
		    !rdonly, err, errlen)) != 0) {
			store_abort(s, txn);
			return rc;
		}
		rc = mdb_dbi_open(txn, store_db_names[i], flags, &s->dbi[i]);
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
	}
	/* Committing, even read-only, keeps the handles for later txns. */
	if ((rc = store_commit(s, txn)) != 0)
		return store_lmdb_err(s, rc, err, errlen, "commit");
	return 0;
lmdb:
	store_abort(s, txn);
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
	if ((rc = mdb_env_open(env, s->path, flags, 0660)) != 0) {
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
	mdb_reader_check(env, &dead);
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
static int
store_ready(struct store *s, char *err, size_t errlen)
{
	if (store_damaged(s))
		return error_set(err, errlen, TALLY_ESTORE, "%s", s->damage);
	if (s->env == NULL)
		return store_open_env(s, err, errlen);
	return 0;
}

static int
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

/* ---- writing ------------------------------------------------------------ */

/* Compare an existing key's stat part with a new name, as LMDB orders. */
static int
store_keycmp(const MDB_val *k, size_t plen, const char *name, size_t nlen)
{
	size_t	 klen = k->mv_size - plen, m = klen < nlen ? klen : nlen;
	int	 c = memcmp((const char *)k->mv_data + plen, name, m);

	if (c != 0)
		return c;
	return klen < nlen ? -1 : klen > nlen;
}

/*
 * Make db's keys under "<node>/" exactly the snapshot's entries: one pass
 * over both sorted sequences, writing only what changed, so a flush of an
 * idle node costs reads, not writes.  Cursors of a write transaction are
 * freed by its abort, so a jump needs nothing more.
 */
static int
store_merge(struct store *s, MDB_txn *txn, enum store_db db,
    const char *node, size_t plen, const struct snapshot *snap,
    const struct snapshot_ent *ents, size_t n)
{
	MDB_cursor	*cur;
	MDB_val		 k, v, nk, nv;
	char		 key[STORE_KEYMAX], num[RECORD_NUMLEN];
	size_t		 i = 0;
	int		 rc, cmp, have;

	memcpy(key, node, plen - 1);
	key[plen - 1] = '/';
	if ((rc = store_cursor(txn, s->dbi[db], &cur)) != 0)
		return rc;
	k.mv_data = key;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (;;) {
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		have = rc == 0 && k.mv_size > plen &&
		    memcmp(k.mv_data, key, plen) == 0;
		if (!have && i == n) {
			rc = 0;
			break;
		}
		if (i < n) {
			const char *name = snapshot_name(snap, &ents[i]);
			nv.mv_data = num;
			nv.mv_size = db == STORE_COUNTERS ?
			    record_fmt_int64(num, ents[i].v.i) :
			    record_fmt_double(num, ents[i].v.d);
			cmp = !have ? 1 : store_keycmp(&k, plen, name,
			    ents[i].nlen);
			memcpy(key + plen, name, ents[i].nlen);
			nk.mv_data = key;
			nk.mv_size = plen + ents[i].nlen;
		} else
			cmp = -1;
		if (cmp < 0) {		/* gone from the snapshot */
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
		} else if (cmp == 0) {
			/*
			 * Kept: write only if changed.  Not MDB_CURRENT, which
			 * loses the cursor's place when the size changes.
			 */
			i++;
			if (v.mv_size == nv.mv_size &&
			    memcmp(v.mv_data, nv.mv_data, nv.mv_size) == 0)
				;
			else if ((rc = mdb_cursor_put(cur, &nk, &nv, 0)) != 0)
				break;
		} else {		/* new in the snapshot */
			i++;
			if ((rc = mdb_cursor_put(cur, &nk, &nv, 0)) != 0)
				break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc;
}

static int
store_write_txn(struct store *s, MDB_txn *txn, const char *node,
    size_t nlen, const struct record_node *rn, const struct snapshot *snap)
{
	char	 rec[STORE_RECMAX];
	MDB_val	 k, v;
	int	 n, rc;

	if ((n = record_node_fmt(rec, sizeof rec, rn)) < 0)
		return EINVAL;	/* checked by store_write_slots already */
	k.mv_data = (void *)node;
	k.mv_size = nlen;
	v.mv_data = rec;
	v.mv_size = (size_t)n;
	if ((rc = mdb_put(txn, s->dbi[STORE_NODES], &k, &v, 0)) != 0)
		return rc;
	if ((rc = store_merge(s, txn, STORE_COUNTERS, node, nlen + 1, snap,
	    snap->counters, snap->ncounters)) != 0)
		return rc;
	return store_merge(s, txn, STORE_STATS, node, nlen + 1, snap,
	    snap->stats, snap->nstats);
}

/*
 * LMDB checks the kind of a page where it descends the tree and where a
 * cursor steps onto the next leaf, but not where a delete rebalances a
 * leaf with its neighbour: a damaged neighbour (a zeroed page, say) is
 * then merged into a heap copy, out of its bounds, and the heap of the
 * host is corrupt before anything is said.  So before a write, a read-only
 * walk visits the pages the write may merge: all of the main and free
 * databases (a few pages), and in each table the keys under a prefix,
 * with the leaf before and the leaf after them.  LMDB's checks then fire
 * in the walk (an assertion, caught), and the write never starts.
 * A key's page is its address rounded down to the page size: mapped pages
 * are aligned, as the map is.
 */
static int
store_walk_range(MDB_cursor *cur, const char *prefix, size_t plen,
    size_t psize)
{
	MDB_val		 k, v;
	uintptr_t	 mask = ~(uintptr_t)(psize - 1), page;
	int		 rc;

	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	/* Back, into the leaf before. */
	page = (uintptr_t)k.mv_data & mask;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) == 0 &&
	    ((uintptr_t)k.mv_data & mask) == page)
		;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	/* Forward, over the prefix and into the leaf after. */
	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	page = (uintptr_t)k.mv_data & mask;
	while (rc == 0 && ((k.mv_size >= plen && memcmp(k.mv_data, prefix,
	    plen) == 0) || ((uintptr_t)k.mv_data & mask) == page)) {
		page = (uintptr_t)k.mv_data & mask;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
store_walk_all(MDB_cursor *cur)
{
	MDB_val	 k, v;
	int	 rc;

	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
		;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Walk what a write of these nodes' slots may merge; 0 or an error. */
static int
store_prewalk(struct store *s, const char *const *nodes, size_t n,
    char *err, size_t errlen)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_dbi		 main;
	char		 key[TALLY_NODE_ID_MAX + 1];
	size_t		 i, nlen;
	int		 rc, db;

	if ((rc = store_begin(s, MDB_RDONLY, &txn, err, errlen)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &main)) != 0)
		goto out;
	for (db = -2; db < STORE_NDB && rc == 0; db++) {
		/* The free database, the main one, then ours. */
		if ((rc = store_cursor(txn, db == -2 ? 0 : db == -1 ? main :
		    s->dbi[db], &cur)) != 0)
			break;
		s->rcur[0] = cur;
		if (db < 0 || db == STORE_META)
			rc = store_walk_all(cur);
		for (i = 0; i < n && rc == 0 && db >= STORE_NODES; i++) {
			nlen = strlen(nodes[i]);
			memcpy(key, nodes[i], nlen);
			key[nlen] = '/';
			rc = store_walk_range(cur, key, db == STORE_NODES ?
			    nlen : nlen + 1, s->psize);
		}
		s->rcur[0] = NULL;
		mdb_cursor_close(cur);
	}
out:
	store_abort(s, txn);
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "check before write");
	return 0;
}

struct store_write_arg {
	const struct store_slot	*slots;
	const char		**nodes;
	size_t			 n;
};

static int
store_write_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_write_arg	*w = arg;
	MDB_txn			*txn;
	size_t			 i;
	int			 rc = 0, tries;

	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_prewalk(s, w->nodes, w->n, err, errlen)) != 0)
		return rc;
	for (tries = 0; tries < 16; tries++) {
		if ((rc = store_begin(s, 0, &txn, err, errlen)) != 0)
			return rc;
		for (i = 0; i < w->n && rc == 0; i++)
			rc = store_write_txn(s, txn, w->slots[i].node_id,
			    strlen(w->slots[i].node_id), w->slots[i].rn,
			    w->slots[i].snap);
		if (rc == 0)
			rc = store_commit(s, txn);
		else
			store_abort(s, txn);
		if (rc != MDB_MAP_FULL)
			break;
		/* No transaction is active now: the map may grow. */
		if ((rc = store_grow(s, err, errlen)) != 0)
			return rc;
		rc = MDB_MAP_FULL;
	}
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "write slot");
	return 0;
}

/* Run a writer's fn: under s->lock, with SIGXFSZ held back. */
static int
store_run_writer(struct store *s, store_fn fn, void *arg, char *err,
    size_t errlen)
{
	struct store_xfsz	 x;
	int			 rc;

	pthread_mutex_lock(&s->lock);
	store_xfsz_block(&x);
	rc = store_run(s, fn, arg, err, errlen);
	store_xfsz_unblock(&x);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int
store_write_slots(struct store *s, const struct store_slot *slots, size_t n,
    char *err, size_t errlen)
{
	struct store_write_arg	 w = { slots, NULL, n };
	const char		*one[1];
	size_t			 i;
	int			 rc;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (s->flags & STORE_RDONLY)
		return error_set(err, errlen, TALLY_ESTATE, "statsfile %s: "
		    "opened read-only", s->qpath);
	/* Refuse a bad slot before the batch's transaction, not inside it. */
	for (i = 0; i < n; i++) {
		char	 rec[STORE_RECMAX];

		if (!name_node_id_valid(slots[i].node_id,
		    strlen(slots[i].node_id)))
			return error_set(err, errlen, TALLY_EINVAL,
			    "invalid node id");
		if (record_node_fmt(rec, sizeof rec, slots[i].rn) < 0)
			return error_set(err, errlen, TALLY_EINVAL,
			    "node %s: record too long", slots[i].node_id);
	}
	if (n == 1) {
		one[0] = slots[0].node_id;
		w.nodes = one;
	} else if ((w.nodes = calloc(n, sizeof *w.nodes)) == NULL)
		return error_set(err, errlen, TALLY_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		w.nodes[i] = slots[i].node_id;
	rc = store_run_writer(s, store_write_fn, &w, err, errlen);
	if (n > 1)
		free(w.nodes);
	return rc;
}

int
store_write_slot(struct store *s, const char *node,
    const struct record_node *rn, const struct snapshot *snap, char *err,
    size_t errlen)
{
	struct store_slot	 slot = { node, rn, snap };

	return store_write_slots(s, &slot, 1, err, errlen);
}

/* ---- reading ------------------------------------------------------------ */

/*
 * Read every page of a value LMDB handed out, inside the guard: a value
 * on a page past the end of the file then faults here, not later in the
 * caller, who reads it unguarded.  A size beyond the map is damage.
 */
static int
store_touch(struct store *s, const MDB_val *v)
{
	const volatile char	*p = v->mv_data;
	size_t			 i;

	if (v->mv_size == 0)
		return 0;
	if (v->mv_size > s->mapsize)
		return -1;
	for (i = 0; i < v->mv_size; i += 4096)
		(void)p[i];
	(void)p[v->mv_size - 1];
	return 0;
}

static int
store_bad_value(struct store *s, char *err, size_t errlen)
{
	return store_set_damaged(s, "LMDB returned a value larger than the "
	    "map: a bad page", err, errlen);
}

struct store_counters_arg {
	const char	*node;
	int		(*cb)(void *, const char *, size_t, int64_t);
	void		*ctx;
};

static int
store_counters_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_counters_arg	*a = arg;
	struct store_guard		*g;
	MDB_txn				*txn;
	MDB_cursor			*cur;
	MDB_val				 k, v;
	char				 key[TALLY_NODE_ID_MAX + 1];
	size_t				 plen = strlen(a->node) + 1;
	int64_t				 n;
	int				 rc, bad = 0;

	memcpy(key, a->node, plen - 1);
	key[plen - 1] = '/';
	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_begin(s, MDB_RDONLY, &txn, err, errlen)) != 0)
		return rc;
	if ((rc = store_cursor(txn, s->dbi[STORE_COUNTERS], &cur)) != 0)
		goto out;
	s->rcur[0] = cur;
	k.mv_data = key;
	k.mv_size = plen;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (store_touch(s, &k) != 0 || store_touch(s, &v) != 0) {
			s->rcur[0] = NULL;
			mdb_cursor_close(cur);
			store_abort(s, txn);
			return store_bad_value(s, err, errlen);
		}
		if (k.mv_size <= plen || memcmp(k.mv_data, key, plen) != 0)
			break;
		if (record_parse_int64(v.mv_data, v.mv_size, &n) != 0 ||
		    !name_stat_valid((const char *)k.mv_data + plen,
		    k.mv_size - plen)) {
			bad++;
			continue;
		}
		g = store_guard_off();
		rc = a->cb(a->ctx, (const char *)k.mv_data + plen,
		    k.mv_size - plen, n);
		store_guard_on(g);
		if (rc != 0)
			break;
	}
	s->rcur[0] = NULL;
	mdb_cursor_close(cur);
out:
	store_abort(s, txn);
	if (rc < 0 && rc > -3100 && rc <= -3000)
		return rc;	/* the callback's own TALLY_E* code */
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_lmdb_err(s, rc, err, errlen, "read counters");
	if (bad > 0)
		error_set(err, errlen, 0, "statsfile %s: skipped %d "
		    "unreadable counters of node %s", s->qpath, bad, a->node);
	return 0;
}

int
store_read_counters(struct store *s, const char *node,
    int (*cb)(void *, const char *, size_t, int64_t), void *ctx, char *err,
    size_t errlen)
{
	struct store_counters_arg	 a = { node, cb, ctx };
	int				 rc;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (strlen(node) > TALLY_NODE_ID_MAX)
		return error_set(err, errlen, TALLY_EINVAL, "invalid node id");
	pthread_mutex_lock(&s->lock);
	rc = store_run(s, store_counters_fn, &a, err, errlen);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- deleting ----------------------------------------------------------- */

static int
store_delete_prefix(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t plen)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 rc;

	if ((rc = store_cursor(txn, dbi, &cur)) != 0)
		return rc;
	k.mv_data = (void *)key;
	k.mv_size = plen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size > plen && memcmp(k.mv_data, key,
	    plen) == 0) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct store_delete_arg {
	const char	*node;
	int64_t		 before;
};

static int
store_delete_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_delete_arg	*a = arg;
	struct record_node	 rn;
	MDB_txn			*txn;
	MDB_val			 k, v;
	char			 key[TALLY_NODE_ID_MAX + 1], why[64];
	const char		*kept = NULL;
	size_t			 nlen = strlen(a->node);
	int			 rc;

	memcpy(key, a->node, nlen);
	key[nlen] = '/';
	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_prewalk(s, &a->node, 1, err, errlen)) != 0 ||
	    (rc = store_begin(s, 0, &txn, err, errlen)) != 0)
		return rc;
	k.mv_data = (void *)a->node;
	k.mv_size = nlen;
	if (a->before > INT64_MIN && (rc = mdb_get(txn, s->dbi[STORE_NODES],
	    &k, &v)) == 0) {
		if (record_node_parse(v.mv_data, v.mv_size, &rn, why,
		    sizeof why) != 0)
			kept = why;
		else if (rn.time >= a->before &&
		    record_time_sane(rn.time, (int64_t)time(NULL)))
			/* An insane time is older than any cutoff (prune). */
			kept = "its snapshot is not that old";
		if (kept != NULL) {
			store_abort(s, txn);
			return error_set(err, errlen, TALLY_ESTATE, "statsfile "
			    "%s: node %s kept: %s", s->qpath, a->node, kept);
		}
	}
	if (rc == 0)
		rc = mdb_del(txn, s->dbi[STORE_NODES], &k, NULL);
	if (rc == MDB_NOTFOUND) {
		store_abort(s, txn);
		return error_set(err, errlen, TALLY_ENOTFOUND, "statsfile %s: "
		    "no node %s", s->qpath, a->node);
	}
	if (rc == 0)
		rc = store_delete_prefix(txn, s->dbi[STORE_COUNTERS], key,
		    nlen + 1);
	if (rc == 0)
		rc = store_delete_prefix(txn, s->dbi[STORE_STATS], key,
		    nlen + 1);
	if (rc == 0)
		rc = store_commit(s, txn);
	else
		store_abort(s, txn);
	if (rc != 0)
		return store_lmdb_err(s, rc, err, errlen, "delete slot");
	return 0;
}

/* Delete node's slot; with before > INT64_MIN, only if older than that. */
static int
store_delete(struct store *s, const char *node, int64_t before, char *err,
    size_t errlen)
{
	struct store_delete_arg	 a = { node, before };
	int			 rc;

	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	if (!name_node_id_valid(node, strlen(node)))
		return error_set(err, errlen, TALLY_EINVAL, "invalid node id");
	if (s->flags & STORE_RDONLY)
		return error_set(err, errlen, TALLY_ESTATE, "statsfile %s: "
		    "opened read-only", s->qpath);
	return store_run_writer(s, store_delete_fn, &a, err, errlen);
}

int
store_delete_slot(struct store *s, const char *node, char *err,
    size_t errlen)
{
	return store_delete(s, node, INT64_MIN, err, errlen);
}

int
store_delete_slot_before(struct store *s, const char *node, int64_t before,
    char *err, size_t errlen)
{
	return store_delete(s, node, before, err, errlen);
}

/* ---- readers ------------------------------------------------------------ */

/*
 * Readers hold the store's mutex from begin to end, so no writer of this
 * process resizes the map under them.  Readers of other processes never
 * block: LMDB readers and writers don't wait for each other.  Each call
 * runs under a guard of its own; a jump ends the transaction (r->txn
 * becomes NULL) and releases the mutex, and later calls on r return
 * TALLY_ESTORE; store_damage_msg says why.
 */
static int
store_rbegin_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_reader	*r = arg;
	int			 rc;

	if ((rc = store_ready(s, err, errlen)) != 0 ||
	    (rc = store_begin(s, MDB_RDONLY, &r->txn, err, errlen)) != 0)
		return rc;
	if ((rc = store_cursor(r->txn, s->dbi[STORE_NODES],
	    &r->nodes)) != 0) {
		store_abort(s, r->txn);
		r->txn = NULL;
		return store_lmdb_err(s, rc, err, errlen, "begin read");
	}
	s->rcur[0] = r->nodes;
	return 0;
}

int
store_reader_begin(struct store *s, struct store_reader *r, char *err,
    size_t errlen)
{
	int	 rc;

	memset(r, 0, sizeof *r);
	if ((rc = store_forked(s, err, errlen)) != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	if ((rc = store_run(s, store_rbegin_fn, r, err, errlen)) != 0) {
		r->txn = NULL;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	r->st = s;
	return 0;
}

/* After a reader call: if a jump (or damage) ended the txn, let go. */
static int
store_reader_after(struct store_reader *r, int rc)
{
	struct store	*s = r->st;

	if (s->txn == NULL) {
		r->txn = NULL;
		r->nodes = NULL;
		pthread_mutex_unlock(&s->lock);
		return rc > 0 || rc == 0 ? TALLY_ESTORE : rc;
	}
	return rc;
}

/* A reader's LMDB error: damage ends the transaction, others don't. */
static int
store_reader_err(struct store *s, int rc)
{
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_PANIC ||
	    rc == MDB_BAD_TXN) {
		store_lmdb_err(s, rc, NULL, 0, "read");
		store_end_fn(s, NULL, NULL, 0);
	}
	return TALLY_ESTORE;
}

struct store_rnext_arg {
	struct store_reader	*r;
	MDB_val			*id, *rec;
};

static int
store_rnext_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_rnext_arg	*a = arg;
	int			 rc;

	rc = mdb_cursor_get(a->r->nodes, a->id, a->rec, MDB_NEXT);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_reader_err(s, rc);
	if (store_touch(s, a->id) != 0 || store_touch(s, a->rec) != 0) {
		store_bad_value(s, NULL, 0);
		store_end_fn(s, NULL, NULL, 0);
		return TALLY_ESTORE;
	}
	return 1;
}

int
store_reader_next(struct store_reader *r, MDB_val *id, MDB_val *rec)
{
	struct store_rnext_arg	 a = { r, id, rec };

	if (r->txn == NULL)
		return TALLY_ESTORE;
	return store_reader_after(r, store_run(r->st, store_rnext_fn, &a,
	    NULL, 0));
}

struct store_rget_arg {
	struct store_reader	*r;
	enum store_db		 db;
	MDB_val			 k;
	MDB_val			*val;
};

static int
store_rget_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_rget_arg	*a = arg;
	int			 rc;

	rc = mdb_get(a->r->txn, s->dbi[a->db], &a->k, a->val);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_reader_err(s, rc);
	if (store_touch(s, a->val) != 0) {
		store_bad_value(s, NULL, 0);
		store_end_fn(s, NULL, NULL, 0);
		return TALLY_ESTORE;
	}
	return 1;
}

int
store_reader_get(struct store_reader *r, enum store_db db, const char *node,
    size_t nlen, const char *stat, size_t slen, MDB_val *val)
{
	struct store_rget_arg	 a;
	char			 key[STORE_KEYMAX];

	if (r->txn == NULL)
		return TALLY_ESTORE;
	if (nlen > TALLY_NODE_ID_MAX || slen > TALLY_STAT_NAME_MAX)
		return 0;
	memcpy(key, node, nlen);
	key[nlen] = '/';
	memcpy(key + nlen + 1, stat, slen);
	a.r = r;
	a.db = db;
	a.k.mv_data = key;
	a.k.mv_size = nlen + 1 + slen;
	a.val = val;
	return store_reader_after(r, store_run(r->st, store_rget_fn, &a,
	    NULL, 0));
}

struct store_rscan_arg {
	struct store_reader	*r;
	enum store_db		 db;
	const char		*prefix;	/* NULL: every key */
	size_t			 plen;
	int			(*cb)(void *, const char *, size_t,
				    const char *, size_t);
	void			*ctx;
};

/*
 * Walk db from prefix (or its first key), calling cb for each key under
 * the prefix with the guard off.  A callback that ends the reader (by a
 * nested store call that faulted) stops the walk: its cursor is gone.
 */
static int
store_rscan_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	struct store_rscan_arg	*a = arg;
	struct store_guard	*g;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int			 rc, crc = 0;

	if ((rc = store_cursor(a->r->txn, s->dbi[a->db], &cur)) != 0)
		return store_reader_err(s, rc);
	s->rcur[1] = cur;
	k.mv_data = (void *)a->prefix;
	k.mv_size = a->plen;
	for (rc = mdb_cursor_get(cur, &k, &v, a->prefix != NULL ?
	    MDB_SET_RANGE : MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (store_touch(s, &k) != 0 || store_touch(s, &v) != 0) {
			store_bad_value(s, NULL, 0);
			store_end_fn(s, NULL, NULL, 0);
			return TALLY_ESTORE;
		}
		if (a->prefix != NULL && (k.mv_size <= a->plen ||
		    memcmp(k.mv_data, a->prefix, a->plen) != 0))
			break;
		g = store_guard_off();
		crc = a->prefix != NULL ? a->cb(a->ctx, (const char *)k.mv_data
		    + a->plen, k.mv_size - a->plen, v.mv_data, v.mv_size) :
		    a->cb(a->ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		store_guard_on(g);
		if (s->txn == NULL)
			return TALLY_ESTORE;
		if (crc != 0)
			break;
	}
	s->rcur[1] = NULL;
	mdb_cursor_close(cur);
	if (crc != 0)
		return crc;
	if (rc == 0 || rc == MDB_NOTFOUND)
		return 0;
	return store_reader_err(s, rc);
}

int
store_reader_scan(struct store_reader *r, enum store_db db, const char *node,
    size_t nlen, int (*cb)(void *, const char *, size_t, const char *,
    size_t), void *ctx)
{
	struct store_rscan_arg	 a = { r, db, NULL, nlen + 1, cb, ctx };
	char			 key[TALLY_NODE_ID_MAX + 1];

	if (r->txn == NULL)
		return TALLY_ESTORE;
	if (nlen > TALLY_NODE_ID_MAX)
		return 0;
	memcpy(key, node, nlen);
	key[nlen] = '/';
	a.prefix = key;
	return store_reader_after(r, store_run(r->st, store_rscan_fn, &a,
	    NULL, 0));
}

int
store_reader_walk(struct store_reader *r, enum store_db db,
    int (*cb)(void *, const char *, size_t, const char *, size_t), void *ctx)
{
	struct store_rscan_arg	 a = { r, db, NULL, 0, cb, ctx };

	if (r->txn == NULL)
		return TALLY_ESTORE;
	return store_reader_after(r, store_run(r->st, store_rscan_fn, &a,
	    NULL, 0));
}

static int
store_rend_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	return store_end_fn(s, NULL, NULL, 0);
}

void
store_reader_end(struct store_reader *r)
{
	struct store	*s = r->st;

	if (r->txn == NULL)
		return;
	store_run(s, store_rend_fn, NULL, NULL, 0);
	r->txn = NULL;
	r->nodes = NULL;
	pthread_mutex_unlock(&s->lock);
}
