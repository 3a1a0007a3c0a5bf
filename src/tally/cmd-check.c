/*
 * cmd-check.c: tally check: verify the database with libtally's
 * tally_statsfile_check: the format, every node's id and record, every
 * key and value of counters and stats, and orphans (keys of a node the
 * nodes table lacks).  Problems go to stdout, at most CHECK_SHOW_MAX of
 * them, and make the exit status 1.
 *
 * check reads every page of a database that may be damaged, and LMDB
 * asserts (abort) or faults on some damage.  libtally catches what it
 * can; the walk runs in a child all the same, so that whatever gets past
 * that takes down only the child, and the parent can still say what is
 * wrong and exit 1.  The child opens the statsfile itself (an environment is
 * never used across fork()) and writes its report to our stdout; its
 * stderr comes through a pipe, so that its last words (LMDB's assertion)
 * make the verdict if it dies.
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tally-cmd.h"

#define CHECK_SHOW_MAX		20	/* problems printed by check */
#define CHECK_ERR_MAX		65536	/* a check walk's stderr, kept */

/* What check's walk prints: the path, and how many problems it showed. */
struct check {
	const char	*path;
	size_t		 shown;
};

/* tally_statsfile_check's callback: the first CHECK_SHOW_MAX problems. */
static void
check_problem(void *ctx, const char *msg)
{
	struct check	*ck = ctx;

	if (++ck->shown > CHECK_SHOW_MAX)
		return;
	printf("%s: %s\n", ck->path, msg);
}

/* The report's last lines: ok, or how many problems.  Exit status. */
static int
check_report(const char *path, const tally_check_counts *c)
{
	if (c->problems == 0) {
		printf("%s: ok (%zu nodes, %zu counters, %zu stats)\n",
		    path, c->nodes, c->counters, c->stats);
		return 0;
	}
	if (c->problems > CHECK_SHOW_MAX)
		printf("%s: ... and %zu more problems\n", path,
		    c->problems - CHECK_SHOW_MAX);
	printf("%s: %zu problem%s (%zu nodes, %zu counters, %zu stats)\n",
	    path, c->problems, c->problems == 1 ? "" : "s", c->nodes,
	    c->counters, c->stats);
	fflush(stdout);
	warnmsg("%s: check failed: %zu problem%s found", path, c->problems,
	    c->problems == 1 ? "" : "s");
	return EXIT_FAIL;
}

/*
 * The walk, in check's child: tally_statsfile_check, which opens the
 * statsfile itself (checking the environment, the tables and the format)
 * and walks every key.  Its exit status.
 */
static int
check_walk(struct cmd *self)
{
	struct check		 ck = { self->qpath, 0 };
	tally_check_counts	 c;
	char			 err[TALLY_ERRMSG_LEN];

	if (statsfile_prepare(self->path, self->qpath) != 0)
		return EXIT_FAIL;
	if (tally_statsfile_check(self->path, (int64_t)time(NULL),
	    check_problem, &ck, &c, err, sizeof err) != 0) {
		fflush(stdout);
		warnmsg("%s", err);
		return flush_stdout(EXIT_FAIL);
	}
	return flush_stdout(check_report(self->qpath, &c));
}

/* "SIGABRT" and the like, for the verdict on a walk that died. */
static const char *
check_signal_name(int sig, char *buf, size_t size)
{
	static const struct {
		int		 sig;
		const char	*name;
	} names[] = {
		{ SIGABRT, "SIGABRT" }, { SIGSEGV, "SIGSEGV" },
		{ SIGBUS, "SIGBUS" }, { SIGILL, "SIGILL" },
		{ SIGFPE, "SIGFPE" }, { SIGKILL, "SIGKILL" },
		{ SIGTERM, "SIGTERM" }, { SIGINT, "SIGINT" },
		{ SIGPIPE, "SIGPIPE" }, { SIGXFSZ, "SIGXFSZ" },
		{ SIGXCPU, "SIGXCPU" }, { SIGSYS, "SIGSYS" },
		{ SIGTRAP, "SIGTRAP" },
	};
	size_t	 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].sig == sig)
			return names[i].name;
	snprintf(buf, size, "signal %d", sig);
	return buf;
}

/* Read all of fd, keeping the first size bytes; the length kept. */
static size_t
check_read_all(int fd, char *buf, size_t size)
{
	char	 sink[4096];
	size_t	 len = 0;
	ssize_t	 n;

	for (;;) {
		if (len < size)
			n = read(fd, buf + len, size - len);
		else
			n = read(fd, sink, sizeof sink);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < size)
			len += (size_t)n;
	}
	return len;
}

/*
 * The walk died of a signal (ws).  The last line it wrote (buf, len) says
 * why (LMDB's "mdb.c:N: Assertion '...' failed"); the lines before it are
 * passed on.
 */
static void
check_died(struct cmd *self, int ws, char *buf, size_t len)
{
	char	*last, *end = buf + len, sig[32], q[TALLY_QUOTE_LEN];
	int	 signo;

	while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*end = '\0';
	last = memrchr(buf, '\n', (size_t)(end - buf));
	last = last != NULL ? last + 1 : buf;
	if (last > buf)
		fwrite(buf, 1, (size_t)(last - buf), stderr);
	signo = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
	/*
	 * Only a fault or an assertion says the file is damaged; a walk
	 * killed from outside (SIGKILL of the OOM killer, say) says nothing
	 * of it.
	 */
	if (signo != SIGABRT && signo != SIGSEGV && signo != SIGBUS &&
	    signo != SIGILL && signo != SIGFPE && signo != SIGTRAP) {
		warnmsg("statsfile %s: not checked: the walk was ended by %s, "
		    "not by a fault in the file; run tally check again",
		    self->qpath, check_signal_name(signo, sig, sizeof sig));
		return;
	}
	warnmsg("statsfile %s: damaged: the walk died of %s (LMDB assertion "
	    "or bad page): %s", self->qpath, check_signal_name(signo, sig,
	    sizeof sig), *last != '\0' ?
	    tally_quote(q, sizeof q, last, (size_t)(end - last)) :
	    "it printed nothing");
}

/*
 * Fork the walk, its stderr into the pipe fds; its pid, or -1 said why.
 * The child has no use for buf.
 */
static pid_t
check_fork(struct cmd *self, int fds[2], char *buf)
{
	pid_t	 pid;

	if (pipe(fds) != 0) {
		warnmsg("pipe: %s", strerror(errno));
		return -1;
	}
	/* Nothing buffered may be written twice. */
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		warnmsg("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], STDERR_FILENO) == -1)
			_exit(EXIT_FAIL);
		close(fds[1]);
		free(buf);
		exit(check_walk(self));
	}
	close(fds[1]);
	return pid;
}

int
cmd_check_exec(struct cmd *self)
{
	char	*buf;
	size_t	 len;
	pid_t	 pid;
	int	 fds[2], ws, status = EXIT_FAIL;

	if ((buf = malloc(CHECK_ERR_MAX + 1)) == NULL) {
		warnmsg("out of memory");
		return EXIT_FAIL;
	}
	if ((pid = check_fork(self, fds, buf)) == -1) {
		free(buf);
		return EXIT_FAIL;
	}
	len = check_read_all(fds[0], buf, CHECK_ERR_MAX);
	close(fds[0]);
	buf[len] = '\0';
	while (waitpid(pid, &ws, 0) == -1) {
		if (errno != EINTR) {
			warnmsg("waitpid: %s", strerror(errno));
			free(buf);
			return EXIT_FAIL;
		}
	}
	if (WIFEXITED(ws)) {
		/* Its messages are ours, written as they would have been. */
		fwrite(buf, 1, len, stderr);
		status = WEXITSTATUS(ws) == 0 ? 0 : EXIT_FAIL;
	} else
		check_died(self, ws, buf, len);
	free(buf);
	return status;
}
