/*
 * check_nodelock.c: one live writer per node id, on real lock files in
 * temporary directories, with real processes for the other writers.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"
#include "fixture.h"

#define MANY	10000

static char	 dir[FIXTURE_PATH_MAX];
static char	 err[TALLY_ERRLEN];

static void
setup(void)
{
	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	err[0] = '\0';
}

static void
teardown(void)
{
	fixture_rmtree(dir);
}

static struct nodelock *
open_ok(const char *statsfile)
{
	struct nodelock	*nl;

	ck_assert_msg(nodelock_open(&nl, statsfile, err, sizeof err) == 0,
	    "%s", err);
	ck_assert_ptr_nonnull(nl);
	return nl;
}

static void
take_ok(struct nodelock *nl, const char *id)
{
	ck_assert_msg(nodelock_take(nl, id, err, sizeof err) == 0, "%s: %s",
	    id, err);
}

/* Refused as held by another writer, with the message that says so. */
static void
take_busy(struct nodelock *nl, const char *id)
{
	ck_assert_int_eq(nodelock_take(nl, id, err, sizeof err),
	    TALLY_ESTATE);
	ck_assert_msg(strstr(err, "is being written by another live process")
	    != NULL, "%s", err);
}

/* The i-th of the MANY ids: "n00000".."n09999", neighbours differ in one
 * char. */
static const char *
many_id(char *buf, size_t len, int i)
{
	snprintf(buf, len, "n%05d", i);
	return buf;
}

/* Block until the other end of fd closes (its process died). */
static void
wait_eof(int fd)
{
	char	 c;
	ssize_t	 n;

	while ((n = read(fd, &c, 1)) > 0 || (n < 0 && errno == EINTR))
		;
}

/* One byte from fd, from a process that reports it is ready. */
static char
read_byte(int fd)
{
	char	 c = 0;
	ssize_t	 n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	ck_assert_int_eq(n, 1);
	return c;
}

static void
kill_wait(pid_t pid, int *status)
{
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, status, 0), pid);
}

START_TEST(test_take_release_retake)
{
	struct nodelock	*a, *b;
	char		 path[FIXTURE_PATH_MAX + 64];
	struct stat	 sb;

	a = open_ok(dir);
	b = open_ok(dir);
	ck_assert_int_eq(lstat(fixture_path(path, dir, "nodes.lock"), &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	take_ok(a, "alpha");
	take_busy(b, "alpha");
	nodelock_release(a, "alpha");
	take_ok(b, "alpha");
	take_busy(a, "alpha");
	nodelock_release(b, "alpha");
	take_ok(a, "alpha");

	/* Takes are counted: the lock goes at the last release. */
	take_ok(a, "alpha");
	nodelock_release(a, "alpha");
	take_busy(b, "alpha");
	nodelock_release(a, "alpha");
	take_ok(b, "alpha");

	/* Releasing what is not held changes nothing. */
	nodelock_release(a, "alpha");
	nodelock_release(a, "never-taken");
	nodelock_release(a, "Not Valid");
	nodelock_release(a, NULL);
	nodelock_release(NULL, "alpha");
	take_busy(a, "alpha");
	nodelock_close(a);
	nodelock_close(b);
	nodelock_close(NULL);
}
END_TEST

START_TEST(test_same_process)
{
	struct nodelock	*a, *b;

	a = open_ok(dir);
	b = open_ok(dir);
	take_ok(a, "alpha");
	take_busy(b, "alpha");
	take_ok(b, "beta");
	take_busy(a, "beta");
	take_ok(a, "gamma");
	take_busy(b, "gamma");
	nodelock_close(a);
	nodelock_close(b);
}
END_TEST

START_TEST(test_message)
{
	struct nodelock	*a, *b;
	char		 want[FIXTURE_PATH_MAX + 256];

	a = open_ok(dir);
	b = open_ok(dir);
	take_ok(a, "node-7_x");
	snprintf(want, sizeof want, "statsfile %s: node node-7_x is being "
	    "written by another live process; one writer per node id", dir);
	ck_assert_int_eq(nodelock_take(b, "node-7_x", err, sizeof err),
	    TALLY_ESTATE);
	ck_assert_str_eq(err, want);

	/* Invalid ids are refused, quoted, and lock nothing. */
	ck_assert_int_eq(nodelock_take(a, "Bad\033[31m", err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_msg(strstr(err, "invalid node id Bad\\x1b[31m") != NULL,
	    "%s", err);
	ck_assert_int_eq(nodelock_take(a, "", err, sizeof err), TALLY_EINVAL);
	ck_assert_int_eq(nodelock_take(a, NULL, err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_int_eq(nodelock_take(NULL, "alpha", err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_int_eq(nodelock_open(&b, NULL, err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(nodelock_open(&b, "", err, sizeof err),
	    TALLY_EINVAL);
	nodelock_close(a);
}
END_TEST

/* Two paths to one directory are one statsfile: the locks conflict. */
START_TEST(test_two_paths)
{
	struct nodelock	*a, *b;
	char		 env[FIXTURE_PATH_MAX + 64], link[FIXTURE_PATH_MAX + 64];

	ck_assert_int_eq(mkdir(fixture_path(env, dir, "env"), 0777), 0);
	ck_assert_int_eq(symlink(env, fixture_path(link, dir, "link")), 0);
	a = open_ok(env);
	b = open_ok(link);
	take_ok(a, "alpha");
	take_busy(b, "alpha");
	nodelock_close(a);
	take_ok(b, "alpha");
	nodelock_close(b);
}
END_TEST

/*
 * Another process holds it: refused until that process dies, however it
 * dies.  waitpid is the condition: the kernel drops a dead process's
 * locks before its parent can reap it.
 */
START_TEST(test_child_holds)
{
	struct nodelock	*a;
	pid_t		 pid;
	int		 rdy[2], hold[2], status;

	ck_assert_int_eq(pipe(rdy), 0);
	ck_assert_int_eq(pipe(hold), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		struct nodelock	*c;
		char		 m[TALLY_ERRLEN];

		close(rdy[0]);
		close(hold[1]);
		if (nodelock_open(&c, dir, m, sizeof m) != 0 ||
		    nodelock_take(c, "alpha", m, sizeof m) != 0)
			_exit(write(rdy[1], "e", 1) == 1 ? 1 : 2);
		if (write(rdy[1], "x", 1) != 1)
			_exit(3);
		wait_eof(hold[0]);	/* until killed, or the test dies */
		_exit(0);
	}
	close(rdy[1]);
	close(hold[0]);
	ck_assert_int_eq(read_byte(rdy[0]), 'x');
	a = open_ok(dir);
	take_busy(a, "alpha");
	take_ok(a, "beta");
	kill_wait(pid, &status);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	take_ok(a, "alpha");
	nodelock_close(a);
	close(rdy[0]);
	close(hold[1]);
}
END_TEST

/*
 * A node that forks a child that never execs, then dies: its lock dies
 * with it, not with the child, whose copy of the fd was closed at the
 * fork.  And the child cannot use its parent's nodelock.
 */
START_TEST(test_fork_child_outlives)
{
	struct nodelock	*a;
	pid_t		 pid, gpid;
	int		 rdy[2], grdy[2], hold[2], status;

	ck_assert_int_eq(pipe(rdy), 0);
	ck_assert_int_eq(pipe(grdy), 0);
	ck_assert_int_eq(pipe(hold), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		struct nodelock	*c;
		char		 m[TALLY_ERRLEN];
		pid_t		 g;

		close(rdy[0]);
		close(grdy[0]);
		close(hold[1]);
		if (nodelock_open(&c, dir, m, sizeof m) != 0 ||
		    nodelock_take(c, "alpha", m, sizeof m) != 0)
			_exit(1);
		if ((g = fork()) == -1)
			_exit(4);
		if (g == 0) {
			/* The grandchild: its parent's nodelock refuses. */
			int rc = nodelock_take(c, "beta", m, sizeof m);
			nodelock_release(c, "alpha");	/* ignored */
			/* Not closed: a host's child knows nothing of it. */
			if (write(grdy[1], rc == TALLY_EFORK &&
			    strstr(m, "used in its child") != NULL ? "g" : "f",
			    1) != 1)
				_exit(3);
			wait_eof(hold[0]);
			_exit(0);
		}
		if (write(rdy[1], &g, sizeof g) != sizeof g)
			_exit(3);
		wait_eof(hold[0]);
		_exit(0);
	}
	close(rdy[1]);
	close(grdy[1]);
	close(hold[0]);
	ck_assert_int_eq(read(rdy[0], &gpid, sizeof gpid), sizeof gpid);
	ck_assert_int_eq(read_byte(grdy[0]), 'g');
	a = open_ok(dir);
	/* The grandchild's release did not drop its parent's lock. */
	take_busy(a, "alpha");
	kill_wait(pid, &status);
	/* The grandchild lives on, never exec'd: the lock is gone anyway. */
	ck_assert_int_eq(kill(gpid, 0), 0);
	take_ok(a, "alpha");
	close(hold[1]);		/* the grandchild sees EOF and exits */
	close(rdy[0]);
	close(grdy[0]);
	nodelock_close(a);
}
END_TEST

/* A child's copy of the fd, closed at the fork, leaves the parent's
 * locks held. */
START_TEST(test_fork_parent_keeps)
{
	struct nodelock	*a, *b;
	pid_t		 pid;
	int		 rdy[2], hold[2], status;

	a = open_ok(dir);
	b = open_ok(dir);
	take_ok(a, "alpha");
	ck_assert_int_eq(pipe(rdy), 0);
	ck_assert_int_eq(pipe(hold), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		char	 m[TALLY_ERRLEN];
		int	 rc;

		close(rdy[0]);
		close(hold[1]);
		rc = nodelock_take(a, "gamma", m, sizeof m);
		nodelock_close(a);
		nodelock_close(b);
		if (write(rdy[1], rc == TALLY_EFORK ? "x" : "f", 1) != 1)
			_exit(3);
		wait_eof(hold[0]);
		_exit(0);
	}
	close(rdy[1]);
	close(hold[0]);
	ck_assert_int_eq(read_byte(rdy[0]), 'x');
	take_busy(b, "alpha");
	take_ok(a, "beta");
	kill_wait(pid, &status);
	take_busy(b, "alpha");
	take_busy(b, "beta");
	nodelock_close(a);
	take_ok(b, "alpha");
	nodelock_close(b);
	close(rdy[0]);
	close(hold[1]);
}
END_TEST

/* nodes.lock made as something else than a regular file. */
static void
odd_refused(const char *want)
{
	struct nodelock	*nl = (struct nodelock *)1;

	ck_assert_int_eq(nodelock_open(&nl, dir, err, sizeof err),
	    TALLY_ESTORE);
	ck_assert_ptr_null(nl);
	ck_assert_msg(strstr(err, want) != NULL, "want \"%s\", got: %s", want,
	    err);
	ck_assert_msg(strncmp(err, "statsfile ", 10) == 0 &&
	    strstr(err, dir) != NULL, "%s", err);
}

START_TEST(test_fifo)
{
	char	 path[FIXTURE_PATH_MAX + 64];

	ck_assert_int_eq(mkfifo(fixture_path(path, dir, "nodes.lock"), 0660),
	    0);
	odd_refused("nodes.lock is a FIFO, not a regular file");
}
END_TEST

START_TEST(test_directory)
{
	char	 path[FIXTURE_PATH_MAX + 64];

	ck_assert_int_eq(mkdir(fixture_path(path, dir, "nodes.lock"), 0770), 0);
	odd_refused("nodes.lock is a directory, not a regular file");
}
END_TEST

START_TEST(test_socket)
{
	struct sockaddr_un	 sun;
	int			 s;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof sun.sun_path,
	    "%s/nodes.lock", dir) >= sizeof sun.sun_path) {
		fixture_skip("test_socket", "temporary directory too long for "
		    "a socket path");
		return;
	}
	ck_assert_int_ge(s = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sun, sizeof sun), 0);
	odd_refused("nodes.lock is a socket, not a regular file");
	close(s);
}
END_TEST

START_TEST(test_symlink)
{
	char		 path[FIXTURE_PATH_MAX + 64];
	char		 target[FIXTURE_PATH_MAX + 64];
	struct stat	 sb;

	/* Valid: refused, the target untouched. */
	fixture_path(target, dir, "elsewhere");
	ck_assert_int_eq(close(open(target, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_eq(symlink(target, fixture_path(path, dir, "nodes.lock")),
	    0);
	odd_refused("nodes.lock is a symlink (to ");
	ck_assert_int_eq(stat(target, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0600);

	/* Dangling: refused, the target not created. */
	ck_assert_int_eq(unlink(target), 0);
	odd_refused("nodes.lock is a dangling symlink (to ");
	ck_assert_int_eq(lstat(target, &sb), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* Created 0660 whatever the umask, in a setgid directory's group. */
START_TEST(test_mode_and_group)
{
	struct nodelock	*nl;
	char		 env[FIXTURE_PATH_MAX + 64], path[FIXTURE_PATH_MAX + 128];
	struct stat	 sb;
	mode_t		 old;
	gid_t		 gid = 0;
	int		 setgid_ok;

	ck_assert_int_eq(mkdir(fixture_path(env, dir, "env"), 0777), 0);
	/* A group other than ours, if we may give one (root may). */
	if (geteuid() == 0)
		gid = 4321;
	else if (getgroups(0, NULL) > 0) {
		gid_t	 gs[64];
		int	 n = getgroups(64, gs), i;

		for (i = 0; i < n; i++)
			if (gs[i] != getegid())
				gid = gs[i];
	}
	setgid_ok = gid != 0 && chown(env, (uid_t)-1, gid) == 0 &&
	    chmod(env, 02777) == 0;
	old = umask(077);
	nl = open_ok(env);
	umask(old);
	snprintf(path, sizeof path, "%s/nodes.lock", env);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 07777, 0660);
	if (setgid_ok)
		ck_assert_int_eq(sb.st_gid, gid);
	else
		fixture_skip("test_mode_and_group", "no second group to give "
		    "the directory: its group not checked");
	take_ok(nl, "alpha");
	nodelock_close(nl);

	/* An existing file keeps its mode. */
	ck_assert_int_eq(chmod(path, 0666), 0);
	nl = open_ok(env);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0666);
	nodelock_close(nl);
}
END_TEST

/*
 * Run fn in a child, as nobody when root (root bypasses permissions);
 * its return code and message come back.  0 if it ran, -1 if it could
 * not drop root.
 */
static int
as_nobody(fixture_child_fn fn, const char *arg, int *rc, char *m,
    size_t mlen)
{
	struct fixture_child	 c;

	fixture_child(fn, arg, 1, &c);
	if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 90)
		return -1;
	ck_assert_msg(!c.hung && WIFEXITED(c.status) &&
	    WEXITSTATUS(c.status) == 0, "child status %d", c.status);
	*rc = c.rc;
	snprintf(m, mlen, "%s", c.msg);
	return 0;
}

static int
open_take(const void *statsfile, char *m, size_t mlen)
{
	struct nodelock	*nl;
	int		 rc;

	if ((rc = nodelock_open(&nl, statsfile, m, mlen)) != 0)
		return rc;
	rc = nodelock_take(nl, "alpha", m, mlen);
	nodelock_close(nl);
	return rc;
}

/* A directory the writer may not write: nodes.lock cannot be created. */
START_TEST(test_readonly_dir)
{
	char	 env[FIXTURE_PATH_MAX + 64], want[FIXTURE_PATH_MAX + 128];
	char	 m[TALLY_ERRLEN];
	int	 rc;

	ck_assert_int_eq(chmod(dir, 0711), 0);
	ck_assert_int_eq(mkdir(fixture_path(env, dir, "env"), 0755), 0);
	ck_assert_int_eq(chmod(env, geteuid() == 0 ? 0755 : 0555), 0);
	if (as_nobody(open_take, env, &rc, m, sizeof m) != 0) {
		fixture_skip("test_readonly_dir", "cannot drop root to nobody "
		    "here");
		return;
	}
	snprintf(want, sizeof want, "statsfile %s: cannot create nodes.lock: "
	    "Permission denied", env);
	ck_assert_int_eq(rc, TALLY_ESYS);
	ck_assert_msg(strncmp(m, want, strlen(want)) == 0, "%s", m);
	chmod(env, 0755);
}
END_TEST

/* An existing nodes.lock the writer may not write. */
START_TEST(test_unwritable_file)
{
	char	 env[FIXTURE_PATH_MAX + 64], path[FIXTURE_PATH_MAX + 128];
	char	 m[TALLY_ERRLEN];
	int	 rc;

	ck_assert_int_eq(chmod(dir, 0711), 0);
	ck_assert_int_eq(mkdir(fixture_path(env, dir, "env"), 0777), 0);
	ck_assert_int_eq(chmod(env, 0777), 0);
	snprintf(path, sizeof path, "%s/nodes.lock", env);
	ck_assert_int_eq(close(open(path, O_CREAT | O_WRONLY, 0644)), 0);
	ck_assert_int_eq(chmod(path, geteuid() == 0 ? 0644 : 0444), 0);
	if (as_nobody(open_take, env, &rc, m, sizeof m) != 0) {
		fixture_skip("test_unwritable_file", "cannot drop root to "
		    "nobody here");
		return;
	}
	ck_assert_int_eq(rc, TALLY_ESYS);
	ck_assert_msg(strstr(m, "cannot write nodes.lock: Permission denied "
	    "(writers need write access to nodes.lock; put the writer in "
	    "the statsfile's group)") != NULL, "%s", m);
}
END_TEST

/* Works as root too: the statsfile is a regular file, so ENOTDIR. */
START_TEST(test_not_a_directory)
{
	struct nodelock	*nl;
	char		 file[FIXTURE_PATH_MAX + 64], missing[FIXTURE_PATH_MAX + 64];

	ck_assert_int_eq(close(open(fixture_path(file, dir, "file"),
	    O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_eq(nodelock_open(&nl, file, err, sizeof err),
	    TALLY_ESYS);
	ck_assert_ptr_null(nl);
	ck_assert_msg(strstr(err, file) != NULL && strstr(err, "nodes.lock: "
	    "Not a directory") != NULL, "%s", err);

	ck_assert_int_eq(nodelock_open(&nl, fixture_path(missing, dir,
	    "missing"), err, sizeof err), TALLY_ESYS);
	ck_assert_msg(strstr(err, "cannot create nodes.lock: No such file or "
	    "directory") != NULL, "%s", err);
}
END_TEST

/* Count the OFD locks in /proc/locks on path's inode; -1 if unreadable. */
static int
proc_locks(const char *path)
{
	struct stat	 sb;
	FILE		*f;
	char		 line[256], want[64];
	int		 n = 0;

	if (stat(path, &sb) != 0 || (f = fopen("/proc/locks", "r")) == NULL)
		return -1;
	snprintf(want, sizeof want, " %02x:%02x:%lu ", major(sb.st_dev),
	    minor(sb.st_dev), (unsigned long)sb.st_ino);
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, "OFDLCK") != NULL && strstr(line, want) !=
		    NULL)
			n++;
	fclose(f);
	return n;
}

/*
 * Whether /proc/locks shows exactly n OFD locks on path's inode (-1: it
 * cannot be read).  The kernel lists the locks a page per read, and other
 * processes taking or dropping locks between two pages (make -j check
 * runs tests side by side) shift the list under the reader, which then
 * sees some twice or not at all: a count that is off is read again, a
 * few times, before it counts as off.
 */
static int
proc_locks_are(const char *path, int n)
{
	int	 i, got = -1;

	for (i = 0; i < 20; i++)
		if ((got = proc_locks(path)) == n || got < 0)
			break;
	return got < 0 ? -1 : got == n;
}

/* Many ids on one nodelock, as the gatherer holds them. */
START_TEST(test_many)
{
	struct nodelock	*a, *b;
	char		 id[16], path[FIXTURE_PATH_MAX + 64];
	int		 i, n;

	a = open_ok(dir);
	b = open_ok(dir);
	for (i = 0; i < MANY; i++)
		take_ok(a, many_id(id, sizeof id, i));
	/* Again: counted, still 0. */
	for (i = 0; i < MANY; i += 7)
		take_ok(a, many_id(id, sizeof id, i));
	/* MANY distinct bytes: no two ids share one (adjacent ones would be
	 * merged, at odds of about 1e-11). */
	if ((n = proc_locks_are(fixture_path(path, dir, "nodes.lock"),
	    MANY)) < 0)
		fixture_skip("test_many", "no /proc/locks: the locks not "
		    "counted");
	else
		ck_assert_msg(n == 1, "/proc/locks shows %d locks, not %d",
		    proc_locks(path), MANY);
	for (i = 0; i < MANY; i += 97)
		take_busy(b, many_id(id, sizeof id, i));
	for (i = 0; i < MANY; i++)
		nodelock_release(a, many_id(id, sizeof id, i));
	/* The twice-taken ones are still held. */
	for (i = 0; i < MANY; i += 7 * 13)
		take_busy(b, many_id(id, sizeof id, i));
	for (i = 0; i < MANY; i += 7)
		nodelock_release(a, many_id(id, sizeof id, i));
	if (n >= 0)
		ck_assert_msg(proc_locks_are(path, 0) == 1, "/proc/locks shows "
		    "%d locks left", proc_locks(path));
	/* All free (sampled: each take walks the kernel's list of locks). */
	for (i = 0; i < MANY; i += 97)
		take_ok(b, many_id(id, sizeof id, i));
	nodelock_close(a);
	nodelock_close(b);
}
END_TEST

START_TEST(test_close_releases)
{
	struct nodelock	*a, *b;
	char		 id[16];
	int		 i;

	a = open_ok(dir);
	b = open_ok(dir);
	for (i = 0; i < 1000; i++)
		take_ok(a, many_id(id, sizeof id, i));
	take_busy(b, many_id(id, sizeof id, 500));
	nodelock_close(a);
	for (i = 0; i < 1000; i++)
		take_ok(b, many_id(id, sizeof id, i));
	nodelock_close(b);
}
END_TEST

/*
 * Ids one char apart never share a lock: every one of MANY ids taken by
 * two nodelocks in turn, and every one-char change of a 64-char id.
 */
START_TEST(test_no_collisions)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789_-";
	struct nodelock	*nl[2];
	char		 id[TALLY_NODE_ID_MAX + 1];
	int		 i, k;
	size_t		 pos, c;

	nl[0] = open_ok(dir);
	nl[1] = open_ok(dir);
	for (i = 0; i < MANY; i++)
		take_ok(nl[i % 2], many_id(id, sizeof id, i));
	nodelock_close(nl[0]);
	nodelock_close(nl[1]);

	nl[0] = open_ok(dir);
	nl[1] = open_ok(dir);
	memset(id, 'a', TALLY_NODE_ID_MAX);
	id[TALLY_NODE_ID_MAX] = '\0';
	take_ok(nl[0], id);
	k = 1;
	for (pos = 0; pos < TALLY_NODE_ID_MAX; pos++) {
		for (c = 1; c < sizeof alpha - 1; c++) {
			id[pos] = alpha[c];
			take_ok(nl[k], id);
			k ^= 1;
		}
		id[pos] = 'a';
	}
	nodelock_close(nl[0]);
	nodelock_close(nl[1]);
}
END_TEST

int
main(void)
{
	/*
	 * many: the kernel walks a file's whole list of locks at each lock
	 * and unlock, so 10,000 takes cost seconds of system time.
	 */
	const struct fixture_test	 tests[] = {
		{ "core", test_take_release_retake, 0, FIXTURE_TIMEOUT },
		{ "core", test_same_process, 0, FIXTURE_TIMEOUT },
		{ "core", test_message, 0, FIXTURE_TIMEOUT },
		{ "core", test_two_paths, 0, FIXTURE_TIMEOUT },
		{ "core", test_child_holds, 0, FIXTURE_TIMEOUT },
		{ "core", test_fork_child_outlives, 0, FIXTURE_TIMEOUT },
		{ "core", test_fork_parent_keeps, 0, FIXTURE_TIMEOUT },
		{ "core", test_fifo, 0, FIXTURE_TIMEOUT },
		{ "core", test_directory, 0, FIXTURE_TIMEOUT },
		{ "core", test_socket, 0, FIXTURE_TIMEOUT },
		{ "core", test_symlink, 0, FIXTURE_TIMEOUT },
		{ "core", test_mode_and_group, 0, FIXTURE_TIMEOUT },
		{ "core", test_readonly_dir, 0, FIXTURE_TIMEOUT },
		{ "core", test_unwritable_file, 0, FIXTURE_TIMEOUT },
		{ "core", test_not_a_directory, 0, FIXTURE_TIMEOUT },
		{ "core", test_close_releases, 0, FIXTURE_TIMEOUT },
		{ "many", test_many, 0, 4 * FIXTURE_TIMEOUT },
		{ "many", test_no_collisions, 0, 4 * FIXTURE_TIMEOUT },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "core", setup, teardown, NULL, NULL },
		{ "many", setup, teardown, NULL, NULL },
	};

	return fixture_main("nodelock", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
