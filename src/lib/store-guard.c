/*
 * store-guard.c: the guard around every call into LMDB, and SIGXFSZ.
 *
 * LMDB trusts data.mdb: a damaged file is a SIGBUS or SIGSEGV inside
 * LMDB, or an assertion that calls abort().  Every store call does its
 * LMDB work under store_run: LMDB's assertion callback, and a SIGBUS or
 * SIGSEGV raised while the thread is inside LMDB for us, jump back to the
 * guard, which ends the transaction and marks the store damaged (store.c
 * says why, and what else keeps LMDB from faulting).  Faults anywhere
 * else go to the handler that was there before ours.  SIGXFSZ is held
 * back while writing, so that a file-size limit fails the write, not the
 * process.  Apart from the rest because this is the one file with signal
 * handlers and sigsetjmp, where little is allowed.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store-int.h"

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

static struct sigaction	 store_sig_old[2];	/* SIGBUS's, SIGSEGV's */

static int	store_caught(struct store *, char *, size_t);

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
		g->s->fault_addr = si->si_addr;
		siglongjmp(g->jb, 1);
	}
	store_fault_pass(sig, si, uc);
}

/*
 * LMDB's assertion callback: LMDB calls abort() when it returns, so jump
 * back to the store call instead.  Outside one (never, as every LMDB call
 * is guarded) there is nowhere to go, and LMDB aborts as it would have.
 */
void
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
 * Once per process, at the first open: the fault handler (SA_NODEFER, so
 * that a jump out of it needs no signal mask restored, and sigsetjmp need
 * not save one: no system call per store call) and the fork handlers.
 */
void
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

/* The readers of this thread that keep its fault signals unblocked. */
static __thread int	 store_faults_held;
static __thread int	 store_faults_were;	/* 1 SIGBUS, 2 SIGSEGV */

/*
 * A reader unblocks SIGBUS and SIGSEGV on its thread from open to close,
 * so that the guard catches a damaged page there even if the thread
 * blocked them; store_faults_let blocks again those that were.
 */
void
store_faults_hold(void)
{
	sigset_t	 faults, old;

	if (store_faults_held++ > 0)
		return;
	sigemptyset(&faults);
	sigaddset(&faults, SIGBUS);
	sigaddset(&faults, SIGSEGV);
	if (pthread_sigmask(SIG_UNBLOCK, &faults, &old) == 0)
		store_faults_were = (sigismember(&old, SIGBUS) == 1 ? 1 : 0) |
		    (sigismember(&old, SIGSEGV) == 1 ? 2 : 0);
}

void
store_faults_let(void)
{
	sigset_t	 back;

	if (store_faults_held == 0 || --store_faults_held > 0)
		return;
	if (store_faults_were == 0)
		return;
	sigemptyset(&back);
	if (store_faults_were & 1)
		sigaddset(&back, SIGBUS);
	if (store_faults_were & 2)
		sigaddset(&back, SIGSEGV);
	pthread_sigmask(SIG_BLOCK, &back, NULL);
	store_faults_were = 0;
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
int
store_run(struct store *s, store_fn fn, void *arg, char *err, size_t errlen)
{
	struct store_guard	 g;
	sigset_t		 faults, old;
	volatile int		 blocked = 0;
	int			 rc;

	g.prev = store_guard_cur;
	g.s = s;
	/*
	 * Any thread may block every signal (a host's, or the provider's
	 * own), where a fault would kill the process whatever the handler.
	 * A reader's thread has them unblocked from open to close
	 * (store_faults_hold): its many short calls spare the system call.
	 */
	if (g.prev == NULL && store_faults_held == 0) {
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
struct store_guard *
store_guard_off(void)
{
	struct store_guard	*g = store_guard_cur;

	store_guard_cur = NULL;
	return g;
}

void
store_guard_on(struct store_guard *g)
{
	store_guard_cur = g;
}

/* Say what the fault or assertion was, from what LMDB left us. */
static void
store_fault_why(struct store *s, char *why, size_t len)
{
	char		 q[ERROR_QUOTE_LEN], t[160];
	struct stat	 sb;
	struct statvfs	 vfs;

	if (s->fault_sig == 0) {
		snprintf(why, len, "LMDB: %s", error_quote(q, sizeof q,
		    s->fault_why, strlen(s->fault_why)));
		return;
	}
	/*
	 * Outside data.mdb's map, or inside LMDB's open, reader check or
	 * begin before the map is known: most likely its lock file, whose
	 * reader table LMDB walks there and when it commits.
	 */
	if (s->mapaddr == NULL ? s->wbegin :
	    ((uintptr_t)s->fault_addr < (uintptr_t)s->mapaddr ||
	    (uintptr_t)s->fault_addr - (uintptr_t)s->mapaddr >= s->mapsize)) {
		/*
		 * lock.mdb is sparse: a page of it is made as LMDB first
		 * writes it, and on a full file system that write is a
		 * SIGBUS.  Nothing is damaged then.
		 */
		if (s->fault_sig == SIGBUS && statvfs(s->path, &vfs) == 0 &&
		    vfs.f_bavail == 0) {
			s->fault_full = 1;
			snprintf(why, len, "bus error writing lock.mdb: its "
			    "file system is full");
			return;
		}
		snprintf(why, len, "%s in lock.mdb's reader table: lock.mdb "
		    "damaged (it is rebuilt when no process has the "
		    "statsfile open)%s?", s->fault_sig == SIGBUS ? "bus error" :
		    "segmentation fault", s->fault_sig == SIGBUS ? ", or its "
		    "file system full or over a quota" : "");
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
int
store_end_fn(struct store *s, void *arg, char *err, size_t errlen)
{
	int	 i;

	for (i = 0; i < STORE_RCURS; i++) {
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
		memset(s->rcur, 0, sizeof s->rcur);
		return TALLY_ESTORE;
	}
	store_fault_why(s, why, sizeof why);
	s->checking = 0;
	if (s->wbegin) {
		s->wbegin = 0;
		s->stuck = 1;
	}
	if (s->txn != NULL || s->rcur[0] != NULL || s->rcur[1] != NULL ||
	    s->rcur[2] != NULL || s->rcur[3] != NULL || s->scratch != NULL) {
		s->ending = 1;
		store_run(s, store_end_fn, NULL, NULL, 0);
		s->ending = 0;
	}
	return store_set_damaged(s, why, err, errlen);
}

/*
 * SIGXFSZ: a write past RLIMIT_FSIZE raises it at the writing thread, and
 * its default action ends the process.  Writers block it while inside
 * LMDB, so that the write fails with EFBIG instead, and take back the
 * signal it raised, unless one was pending already.
 */
void
store_xfsz_block(struct store_xfsz *x)
{
	sigset_t	 set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &set, &x->old);
	x->pending = sigpending(&pend) == 0 && sigismember(&pend, SIGXFSZ);
}

void
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
