/*
 * store-check.c: the checks of data.mdb and lock.mdb, and the messages
 * that say what is wrong with them.
 *
 * LMDB opens the files it is given and trusts what it maps.  So before
 * mapping, data.mdb and lock.mdb must be regular files (never a FIFO
 * that would hang open(), never a symlink whose target LMDB would
 * create), open as a writer or a reader needs, a missing permission
 * named per file; and data.mdb must hold the pages its meta pages say
 * are used, not counting pages in the free list.  That size check is
 * repeated before each transaction (one fstat).  LMDB's return codes
 * become messages here too (store_lmdb_err), naming a full disk, a quota
 * or a limit of the process.  Whatever reads the map here runs under
 * the guard of its caller (store-guard.c).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-int.h"

/* The bytes of a size for messages, such as "1048576". */
const char *
store_limit(char *buf, size_t len, int resource)
{
	struct rlimit	 rl;

	if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return NULL;
	snprintf(buf, len, "%llu", (unsigned long long)rl.rlim_cur);
	return buf;
}

/* "data.mdb is truncated: ...", if the file is shorter than need. */
int
store_truncated(char *buf, size_t len, off_t size, uint64_t need)
{
	if ((uint64_t)size >= need)
		return 0;
	snprintf(buf, len, "data.mdb is truncated: %lld bytes, its meta pages "
	    "say at least %llu", (long long)size, (unsigned long long)need);
	return 1;
}

/* (last + 1) * psize, without overflow. */
uint64_t
store_need(const struct store *s, size_t last)
{
	if (s->psize == 0 || last >= UINT64_MAX / s->psize - 1)
		return UINT64_MAX;
	return ((uint64_t)last + 1) * s->psize;
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
int
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

/* ---- checks before mapping ---------------------------------------------- */

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
		    error_ftype(sb->st_mode));
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
 * LMDB leaves lock.mdb sparse.  A reader slot that falls in a hole of it
 * on a full file system is a SIGBUS inside LMDB's reader-table mutex,
 * which then stays held by a live thread: every process of the statsfile
 * would wait for good.  So its blocks are allocated before LMDB opens it
 * (an open and close after would drop LMDB's fcntl locks), at least as
 * many as LMDB's table of STORE_MAXREADERS slots takes.  A writer without
 * the room is refused; a reader goes on (it ends soon, and its end frees
 * the mutex).  0 or an error.
 */
static int
store_lock_alloc(struct store *s, char *err, size_t errlen)
{
	char		 file[PATH_MAX];
	struct stat	 sb;
	off_t		 len;
	int		 fd, e = 0;

	snprintf(file, sizeof file, "%s/lock.mdb", s->path);
	if ((fd = open(file, O_RDWR | O_NONBLOCK | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return 0;	/* LMDB's open says why */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		len = sb.st_size > STORE_LOCKSIZE ? sb.st_size :
		    STORE_LOCKSIZE;
		e = posix_fallocate(fd, 0, len);
	}
	close(fd);
	if ((e == ENOSPC || e == EDQUOT || e == EFBIG) &&
	    !(s->flags & STORE_RDONLY))
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    "no room for lock.mdb's reader table (%s): its file "
		    "system is full; free space there, then start it again",
		    s->qpath, strerror(e));
	return 0;
}

/*
 * Everything that can be said about data.mdb and lock.mdb before LMDB
 * opens them; *sb is data.mdb's identity and size.
 */
int
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
		/*
		 * 0660, as a writer makes it: LMDB's open would apply the
		 * umask, and a 0640 file locks the group's readers out.
		 */
		if (rdonly && (rc = store_precreate(s, "lock.mdb", err,
		    errlen)) != 0)
			return rc;
		return store_lock_alloc(s, err, errlen);
	}
	if ((rc = store_try_open(s, "lock.mdb", O_RDWR, &lsb, &osb, &e, err,
	    errlen)) != 0)
		return rc;
	if (e == 0)
		return store_lock_alloc(s, err, errlen);
	/* On a read-only file system LMDB reads without a lock file. */
	if (e == EROFS && rdonly)
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
int
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
int
store_check_live(struct store *s, char *err, size_t errlen)
{
	char	 why[160];

	if (store_check_size(s, why, sizeof why))
		return store_set_damaged(s, why, err, errlen);
	return 0;
}
