/*
 * nodelock.c: one live writer per node id.
 *
 * Two processes that write one node's slot each resume the counters from
 * their own base, so the slot's counters go backwards and forwards.  So a
 * writer (a local provider, or the gatherer for each remote node from its
 * HELLO until the connection goes) takes the node id's lock first, and a
 * second writer is refused while the first one lives.  The lock must die
 * with its holder, however it dies: it is a kernel lock, not a file.
 *
 * The locks live in one file beside LMDB's, <statsfile>/nodes.lock, made
 * by the first writer with mode 0660 whatever the umask (a setgid
 * directory gives it its group, as for lock.mdb and data.mdb).  Like
 * those, it must be a regular file: a FIFO, a device, a directory or a
 * symlink is refused by name, and never opened.  Readers never touch it.
 *
 * A node id's lock is a write lock on one byte of that file, at an offset
 * that every writer of every version derives alike (so it never changes):
 * the first 8 bytes of SHA-256(node id), big-endian, shifted right by 2,
 * a 62-bit number.  Ids chosen by chance collide with odds of about n^2 /
 * 2^63 (1e-11 for 10,000 nodes), and an id chosen to collide with a given
 * node's, so as to lock it out of the gatherer, costs about 2^62 hashes:
 * FNV-1a, being invertible, would let anyone with the secret compute one.
 *
 * The locks are Linux open file description locks (F_OFD_SETLK), never
 * classic POSIX ones: a process that closes any fd of a file drops all its
 * POSIX locks on it (LMDB, or a host walking its fds, would silently free
 * ours), and POSIX locks never conflict within one process, where two
 * providers, or tallyd's own provider and a remote node, must.  An OFD
 * lock belongs to the open file description, so every struct nodelock
 * opens the file itself, and its locks conflict with every other's.  They
 * are taken with F_OFD_SETLK, which never waits: a second writer is
 * refused at once.  A lock goes when it is released, when its nodelock is
 * closed, or when the last fd of its description is closed: at the
 * latest when the holder exits or is killed.
 *
 * fork(): a child gets a copy of each fd, hence a share of the parent's
 * open file descriptions and of their locks, which would then outlive the
 * parent while a child that never exec'd lives (exec closes them:
 * O_CLOEXEC).  So every nodelock is on a list, and a fork handler closes
 * the child's copies of their fds.  Closing a copy drops the child's
 * reference only: the parent's locks stay held, and go when the parent
 * goes.  The list's mutex is held across fork() and across every open()
 * and close() of a nodelock's fd, so that no fd is ever in a child
 * without being on the list.  A child must not use its parent's nodelock
 * (nodelock_take says TALLY_EFORK); it opens its own.  A child made by a
 * raw clone(2) or syscall(SYS_fork), which skips fork handlers, shares
 * the locks until it exits or execs.
 *
 * One process may take one node id several times on one nodelock (the
 * gatherer takes a node's lock for a new connection before the one it
 * replaces is gone): takes are counted per offset, and the lock goes at
 * the last release.
 *
 * nodes.lock must never be removed or replaced while writers run: a new
 * writer would lock a new file and miss the live writers' locks.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tally-int.h"

#define NODELOCK_FILE	"nodes.lock"
#define NODELOCK_USED	(UINT64_C(1) << 63)	/* an offset is < 2^62 */

struct nodelock_ent {
	uint64_t	 key;		/* offset | NODELOCK_USED, or 0: empty */
	size_t		 takes;
};

struct nodelock {
	int			 fd;	/* -1 in a child of fork */
	pid_t			 pid;	/* the process that opened it */
	char			 qpath[ERROR_QUOTE_LEN];
	struct nodelock_ent	*tab;	/* open addressing, linear probing */
	size_t			 mask;	/* slots - 1; 0 with no table */
	size_t			 count;
	struct nodelock		*next;
};

/* Guards the list and every nodelock's fd and table. */
static pthread_mutex_t	 nodelock_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct nodelock	*nodelock_list;
static pthread_once_t	 nodelock_once = PTHREAD_ONCE_INIT;

/* Held across fork(), so that the child finds the list whole. */
static void
nodelock_atfork_prepare(void)
{
	pthread_mutex_lock(&nodelock_mtx);
}

static void
nodelock_atfork_parent(void)
{
	pthread_mutex_unlock(&nodelock_mtx);
}

/*
 * In the child, close the copies of every nodelock's fd, so that the
 * parent's locks die with the parent.  The parent's description, and its
 * locks, stay: other fds (the parent's) still refer to it.
 */
static void
nodelock_atfork_child(void)
{
	struct nodelock	*nl;

	for (nl = nodelock_list; nl != NULL; nl = nl->next) {
		if (nl->fd >= 0) {
			close(nl->fd);
			nl->fd = -1;
		}
	}
	pthread_mutex_unlock(&nodelock_mtx);
}

static void
nodelock_init(void)
{
	pthread_atfork(nodelock_atfork_prepare, nodelock_atfork_parent,
	    nodelock_atfork_child);
}

/* ---- the offsets and the table ------------------------------------------ */

/*
 * The offset of a node id's byte: SHA-256's first 8 bytes, big-endian,
 * shifted right by 2.  Part of the statsfile's contract: never change it.
 * 0, or -1 if OpenSSL fails (it allocates).
 */
static int
nodelock_offset(const char *id, size_t len, uint64_t *off)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	uint64_t	 v = 0;
	int		 i;

	if (!EVP_Digest(id, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen < 8)
		return -1;
	for (i = 0; i < 8; i++)
		v = v << 8 | md[i];
	*off = v >> 2;
	return 0;
}

/* The slot that holds key, or that it would go into (an empty one). */
static size_t
nodelock_slot(const struct nodelock *nl, uint64_t key)
{
	size_t	 i;

	/* The offset is a hash already. */
	for (i = (size_t)key & nl->mask; nl->tab[i].key != 0 &&
	    nl->tab[i].key != key; i = (i + 1) & nl->mask)
		;
	return i;
}

/* Room for one more key at a load of at most a half; 0 or -1. */
static int
nodelock_reserve(struct nodelock *nl)
{
	struct nodelock_ent	*old = nl->tab, *tab;
	size_t			 oldn = nl->tab != NULL ? nl->mask + 1 : 0;
	size_t			 n, i;

	if (old != NULL && (nl->count + 1) * 2 <= oldn)
		return 0;
	n = oldn != 0 ? oldn * 2 : 64;
	if (n > SIZE_MAX / 2 / sizeof *tab ||
	    (tab = calloc(n, sizeof *tab)) == NULL)
		return -1;
	nl->tab = tab;
	nl->mask = n - 1;
	for (i = 0; i < oldn; i++)
		if (old[i].key != 0)
			nl->tab[nodelock_slot(nl, old[i].key)] = old[i];
	free(old);
	return 0;
}

/* Empty slot i, moving back the entries that probed past it. */
static void
nodelock_remove(struct nodelock *nl, size_t i)
{
	size_t	 j = i, home;

	for (;;) {
		nl->tab[i].key = 0;
		nl->tab[i].takes = 0;
		for (;;) {
			j = (j + 1) & nl->mask;
			if (nl->tab[j].key == 0) {
				nl->count--;
				return;
			}
			home = (size_t)nl->tab[j].key & nl->mask;
			/* Stays unless i lies cyclically in [home, j). */
			if (i <= j ? (home <= i || home > j) :
			    (home <= i && home > j))
				break;
		}
		nl->tab[i] = nl->tab[j];
		i = j;
	}
}

/* One byte at off: F_WRLCK or F_UNLCK, never waiting.  0 or errno. */
static int
nodelock_fcntl(int fd, short type, uint64_t off)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof fl);	/* l_pid must be 0 for OFD locks */
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)off;
	fl.l_len = 1;
	return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

/* ---- the lock file ------------------------------------------------------ */

/* The message for a nodes.lock that is not a regular file (*sb, lstat). */
static int
nodelock_odd(const char *qpath, const char *file, const struct stat *sb,
    char *err, size_t errlen)
{
	char		 target[PATH_MAX], q[ERROR_QUOTE_LEN];
	struct stat	 tsb;
	ssize_t		 n;

	if (!S_ISLNK(sb->st_mode))
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    NODELOCK_FILE " is %s, not a regular file", qpath,
		    error_ftype(sb->st_mode));
	if ((n = readlink(file, target, sizeof target)) < 0)
		n = 0;
	error_quote(q, sizeof q, target, (size_t)n);
	if (stat(file, &tsb) != 0 && errno == ENOENT)
		return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    NODELOCK_FILE " is a dangling symlink (to %s): refused, "
		    "and its target not created", qpath, q);
	return error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
	    NODELOCK_FILE " is a symlink (to %s): refused; the files of a "
	    "statsfile must be regular files (link the directory instead)",
	    qpath, q);
}

/*
 * Open file (<statsfile>/nodes.lock) for writing, creating it 0660 if it
 * is missing, never following a symlink, never blocking on a FIFO and
 * never opening anything but a regular file.  An fd, or -1 with *rc set.
 */
static int
nodelock_open_file(const char *qpath, const char *file, int *rc, char *err,
    size_t errlen)
{
	struct stat	 sb, fsb;
	int		 fd, e;

	if (lstat(file, &sb) != 0) {
		if (errno != ENOENT) {
			e = errno;
			*rc = error_set(err, errlen, TALLY_ESYS, "statsfile "
			    "%s: " NODELOCK_FILE ": %s%s", qpath, strerror(e),
			    e == EACCES ? " (the statsfile directory is not "
			    "searchable)" : e == ENOTDIR ? " (a statsfile is "
			    "an LMDB environment directory)" : "");
			return -1;
		}
		/* O_EXCL never follows a symlink: one put there is checked. */
		fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK |
		    O_NOFOLLOW | O_CLOEXEC, 0660);
		if (fd >= 0) {
			/* Whatever the umask: the group's writers need it. */
			if (fchmod(fd, 0660) != 0) {
				e = errno;
				close(fd);
				*rc = error_set(err, errlen, TALLY_ESYS,
				    "statsfile %s: chmod " NODELOCK_FILE ": %s",
				    qpath, strerror(e));
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST || lstat(file, &sb) != 0) {
			e = errno;
			*rc = error_set(err, errlen, TALLY_ESYS, "statsfile "
			    "%s: cannot create " NODELOCK_FILE ": %s%s", qpath,
			    strerror(e), e == EACCES || e == EROFS ? " (the "
			    "first writer creates it, and needs write access "
			    "to the statsfile directory)" : e == ENOENT ?
			    " (the statsfile must be an existing directory)" :
			    "");
			return -1;
		}
		/* Another writer made it meanwhile. */
	}
	if (!S_ISREG(sb.st_mode)) {
		*rc = nodelock_odd(qpath, file, &sb, err, errlen);
		return -1;
	}
	fd = open(file, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		*rc = error_set(err, errlen, TALLY_ESYS, "statsfile %s: cannot "
		    "write " NODELOCK_FILE ": %s%s", qpath, strerror(e),
		    e == EACCES ? " (writers need write access to "
		    NODELOCK_FILE "; put the writer in the statsfile's group)" :
		    "");
		return -1;
	}
	/* Swapped since the lstat (O_NONBLOCK: a FIFO did not hang us). */
	if (fstat(fd, &fsb) != 0 || !S_ISREG(fsb.st_mode)) {
		close(fd);
		*rc = error_set(err, errlen, TALLY_ESTORE, "statsfile %s: "
		    NODELOCK_FILE " changed while it was checked; try again",
		    qpath);
		return -1;
	}
	return fd;
}

/* ---- the interface ------------------------------------------------------ */

/*
 * Open, or first create, <statsfile>/nodes.lock for one writer: its own
 * open file description, on the list for fork.  0, TALLY_EINVAL (no
 * statsfile, path too long), TALLY_ENOMEM, TALLY_ESTORE (not a regular
 * file) or TALLY_ESYS, with a message naming the statsfile.
 */
int
nodelock_open(struct nodelock **nlp, const char *statsfile, char *err,
    size_t errlen)
{
	struct nodelock	*nl;
	char		 file[PATH_MAX], q[ERROR_QUOTE_LEN];
	int		 rc = 0;

	*nlp = NULL;
	if (statsfile == NULL || *statsfile == '\0')
		return error_set(err, errlen, TALLY_EINVAL,
		    "statsfile is not set");
	error_quote(q, sizeof q, statsfile, strlen(statsfile));
	if ((size_t)snprintf(file, sizeof file, "%s/" NODELOCK_FILE,
	    statsfile) >= sizeof file)
		return error_set(err, errlen, TALLY_EINVAL, "statsfile %s: "
		    "path too long", q);
	if ((nl = calloc(1, sizeof *nl)) == NULL)
		return error_set(err, errlen, TALLY_ENOMEM, "out of memory");
	memcpy(nl->qpath, q, sizeof nl->qpath);
	nl->pid = getpid();
	pthread_once(&nodelock_once, nodelock_init);

	/* Under the mutex: a fork now would leave the fd off the list. */
	pthread_mutex_lock(&nodelock_mtx);
	if ((nl->fd = nodelock_open_file(q, file, &rc, err, errlen)) < 0) {
		pthread_mutex_unlock(&nodelock_mtx);
		free(nl);
		return rc;
	}
	nl->next = nodelock_list;
	nodelock_list = nl;
	pthread_mutex_unlock(&nodelock_mtx);
	*nlp = nl;
	return 0;
}

/*
 * Take node_id's lock for nl's writer.  0 if taken, or if nl holds it
 * already (each take is undone by one release).  TALLY_ESTATE if another
 * open description, in this process or another, holds it; TALLY_EINVAL
 * for an invalid node id; TALLY_EFORK in a child of the process that
 * opened nl; TALLY_ENOMEM; TALLY_ESYS (no locks left, a kernel without
 * OFD locks, a file system without locks).
 */
int
nodelock_take(struct nodelock *nl, const char *node_id, char *err,
    size_t errlen)
{
	char		 q[ERROR_QUOTE_LEN];
	uint64_t	 off;
	size_t		 i, len;
	int		 e;

	if (nl == NULL || node_id == NULL)
		return error_set(err, errlen, TALLY_EINVAL, "no nodelock or "
		    "no node id");
	len = strlen(node_id);
	if (!name_node_id_valid(node_id, len))
		return error_set(err, errlen, TALLY_EINVAL, "statsfile %s: "
		    "invalid node id %s (1-64 of [a-z0-9_-])", nl->qpath,
		    error_quote(q, sizeof q, node_id, len));
	if (nodelock_offset(node_id, len, &off) != 0)
		return error_set(err, errlen, TALLY_ENOMEM, "statsfile %s: "
		    "node %s: cannot hash its id (OpenSSL's SHA-256 failed)",
		    nl->qpath, node_id);

	pthread_mutex_lock(&nodelock_mtx);
	if (nl->pid != getpid()) {
		pthread_mutex_unlock(&nodelock_mtx);
		return error_set(err, errlen, TALLY_EFORK, "statsfile %s: "
		    NODELOCK_FILE " opened in process %ld, used in its child "
		    "%ld after fork", nl->qpath, (long)nl->pid,
		    (long)getpid());
	}
	if (nl->tab != NULL &&
	    nl->tab[i = nodelock_slot(nl, off | NODELOCK_USED)].key != 0) {
		nl->tab[i].takes++;
		pthread_mutex_unlock(&nodelock_mtx);
		return 0;
	}
	/* Room first, so that a lock taken is never lost for memory. */
	if (nodelock_reserve(nl) != 0) {
		pthread_mutex_unlock(&nodelock_mtx);
		return error_set(err, errlen, TALLY_ENOMEM, "out of memory");
	}
	if ((e = nodelock_fcntl(nl->fd, F_WRLCK, off)) != 0) {
		pthread_mutex_unlock(&nodelock_mtx);
		if (e == EAGAIN || e == EACCES)
			return error_set(err, errlen, TALLY_ESTATE, "statsfile "
			    "%s: node %s is being written by another live "
			    "process; one writer per node id", nl->qpath,
			    node_id);
		return error_set(err, errlen, TALLY_ESYS, "statsfile %s: "
		    "cannot lock node %s in " NODELOCK_FILE ": %s%s",
		    nl->qpath, node_id, strerror(e), e == EINVAL ? " (open "
		    "file description locks need Linux 3.15 or later)" : "");
	}
	i = nodelock_slot(nl, off | NODELOCK_USED);
	nl->tab[i].key = off | NODELOCK_USED;
	nl->tab[i].takes = 1;
	nl->count++;
	pthread_mutex_unlock(&nodelock_mtx);
	return 0;
}

/*
 * Undo one take of node_id; the lock goes with the last.  An id nl does
 * not hold, or an invalid one, is ignored, and so is a call in a child of
 * fork.  Should the kernel fail to unlock (it may need memory to split a
 * range), the lock stays held until nl is closed: never less safe.
 */
void
nodelock_release(struct nodelock *nl, const char *node_id)
{
	uint64_t	 off;
	size_t		 i, len;

	if (nl == NULL || node_id == NULL)
		return;
	len = strlen(node_id);
	if (!name_node_id_valid(node_id, len) ||
	    nodelock_offset(node_id, len, &off) != 0)
		return;
	pthread_mutex_lock(&nodelock_mtx);
	if (nl->pid == getpid() && nl->tab != NULL &&
	    nl->tab[i = nodelock_slot(nl, off | NODELOCK_USED)].key != 0 &&
	    --nl->tab[i].takes == 0) {
		nodelock_fcntl(nl->fd, F_UNLCK, off);
		nodelock_remove(nl, i);
	}
	pthread_mutex_unlock(&nodelock_mtx);
}

/*
 * Close nl: every lock it holds goes at once (the kernel drops a
 * description's locks when its last fd closes).  In a child of fork, only
 * frees the child's copy: its fd was closed at the fork.  NULL is ignored.
 */
void
nodelock_close(struct nodelock *nl)
{
	struct nodelock	**pp;

	if (nl == NULL)
		return;
	/* Closed under the mutex, as it was opened. */
	pthread_mutex_lock(&nodelock_mtx);
	for (pp = &nodelock_list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == nl) {
			*pp = nl->next;
			break;
		}
	}
	if (nl->fd >= 0)
		close(nl->fd);
	pthread_mutex_unlock(&nodelock_mtx);
	free(nl->tab);
	free(nl);
}
