/*
 * cmd-check.c: tally check: verify the database: the format (statsfile
 * open), every node's id and record, every key and value of counters and
 * stats, and orphans (keys of a node the nodes table lacks).  Problems go
 * to stdout, at most CHECK_SHOW_MAX of them, and make the exit status 1.
 *
 * check reads every page of a database that may be damaged, and LMDB
 * asserts (abort) or faults on some damage.  store.c catches what it can;
 * the walk runs in a child all the same, so that whatever gets past that
 * takes down only the child, and the parent can still say what is wrong
 * and exit 1.  The child opens the statsfile itself (an environment is
 * never used across fork()) and writes its report to our stdout; its
 * stderr comes through a pipe, so that its last words (LMDB's assertion)
 * make the verdict if it dies.
 */
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tally-cmd.h"

#define CHECK_SHOW_MAX		20	/* problems printed by check */
#define CHECK_ERR_MAX		65536	/* a check walk's stderr, kept */

/* A key of the nodes table, for orphans. */
struct check_id {
	const char	*id;
	size_t		 len;
};

struct check {
	const char	*path;
	size_t		 problems;
	size_t		 nodes, counters, stats;
	struct check_id	*ids;		/* every key of nodes, in order */
	size_t		 nids, cap;
	const char	*last;		/* the last node part found in ids */
	size_t		 lastlen;
	int64_t		 now;		/* for record_time_sane */
};

static void
check_problem(struct check *ck, const char *fmt, ...) TALLY_PRINTF(2, 3);

static void
check_problem(struct check *ck, const char *fmt, ...)
{
	va_list	 ap;

	if (++ck->problems > CHECK_SHOW_MAX)
		return;
	printf("%s: ", ck->path);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A node of the nodes table: its id, its record, its time. */
static int
check_node_cb(void *ctx, const struct statsfile_node *nd)
{
	struct check	*ck = ctx;
	struct check_id	*ids;
	char		 b[160];

	ck->nodes++;
	if (ck->nids == ck->cap) {
		ck->cap = ck->cap ? ck->cap * 2 : 64;
		if ((ids = realloc(ck->ids, ck->cap * sizeof *ids)) == NULL)
			return TALLY_ENOMEM;
		ck->ids = ids;
	}
	ck->ids[ck->nids].id = nd->id;
	ck->ids[ck->nids++].len = nd->idlen;
	if (nd->state == STATSFILE_BADID)
		check_problem(ck, "nodes key '%s': not a valid node id",
		    text_esc(b, sizeof b, nd->id, nd->idlen));
	else if (nd->state == STATSFILE_BADREC)
		check_problem(ck, "node %.*s: %s: '%s'", (int)nd->idlen,
		    nd->id, nd->err, text_esc(b, sizeof b, nd->raw,
		    nd->rawlen));
	else if (!record_time_sane(nd->rec.time, ck->now))
		check_problem(ck, "node %.*s: time %" PRId64 " out of range "
		    "(before 2000-01-01 or more than a day ahead): a wrong "
		    "clock", (int)nd->idlen, nd->id, nd->rec.time);
	return 0;
}

static int
check_id_cmp(const void *a, const void *b)
{
	const struct check_id	*x = a, *y = b;
	size_t			 m = x->len < y->len ? x->len : y->len;
	int			 c = memcmp(x->id, y->id, m);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* A key's node part, of len bytes: reported once if the nodes table lacks it. */
static void
check_orphan(struct check *ck, const struct statsfile_metric *m, size_t len)
{
	struct check_id	 id = { m->name, len };
	char		 b[160];

	/* Keys come sorted: look a node up once, report an orphan once. */
	if (ck->last != NULL && ck->lastlen == len &&
	    memcmp(ck->last, m->name, len) == 0)
		return;
	ck->last = m->name;
	ck->lastlen = len;
	if (bsearch(&id, ck->ids, ck->nids, sizeof *ck->ids,
	    check_id_cmp) == NULL)
		check_problem(ck, "%s key '%s': node %.*s is not in the nodes "
		    "table (an orphan; its other keys are not listed)",
		    m->counter ? "counters" : "stats", text_esc(b, sizeof b,
		    m->name, m->nlen), (int)len, m->name);
}

/* Any key of counters or stats, whole: <node id>/<stat name> and a value. */
static int
check_key_cb(void *ctx, const struct statsfile_metric *m)
{
	struct check	*ck = ctx;
	const char	*slash = memchr(m->name, '/', m->nlen);
	const char	*table = m->counter ? "counters" : "stats";
	size_t		 plen;
	char		 b1[160], b2[80];

	if (m->counter)
		ck->counters++;
	else
		ck->stats++;
	if (slash == NULL || !name_node_id_valid(m->name, (size_t)(slash -
	    m->name))) {
		check_problem(ck, "%s key '%s': not <node id>/<stat name>",
		    table, text_esc(b1, sizeof b1, m->name, m->nlen));
		return 0;
	}
	plen = (size_t)(slash - m->name) + 1;
	check_orphan(ck, m, plen - 1);
	if (!name_stat_valid(m->name + plen, m->nlen - plen))
		check_problem(ck, "%s key '%s': not a valid stat name", table,
		    text_esc(b1, sizeof b1, m->name, m->nlen));
	else if (!m->ok)
		check_problem(ck, "%s key '%s': value '%s' is not a %s", table,
		    text_esc(b1, sizeof b1, m->name, m->nlen),
		    text_esc(b2, sizeof b2, m->val, m->vlen),
		    m->counter ? "64-bit integer" : "number");
	return 0;
}

/* Every table, every key: malformed keys and orphans too. */
static int
check_tables(struct statsfile *sf, struct check *ck)
{
	int	 rc;

	if ((rc = statsfile_nodes(sf, check_node_cb, ck)) != 0)
		return rc;
	ck->last = NULL;
	if ((rc = statsfile_keys(sf, 1, check_key_cb, ck)) != 0)
		return rc;
	ck->last = NULL;
	return statsfile_keys(sf, 0, check_key_cb, ck);
}

/* The report's last lines: ok, or how many problems.  Exit status. */
static int
check_report(const struct check *ck)
{
	if (ck->problems == 0) {
		printf("%s: ok (%zu nodes, %zu counters, %zu stats)\n",
		    ck->path, ck->nodes, ck->counters, ck->stats);
		return 0;
	}
	if (ck->problems > CHECK_SHOW_MAX)
		printf("%s: ... and %zu more problems\n", ck->path,
		    ck->problems - CHECK_SHOW_MAX);
	printf("%s: %zu problem%s (%zu nodes, %zu counters, %zu stats)\n",
	    ck->path, ck->problems, ck->problems == 1 ? "" : "s", ck->nodes,
	    ck->counters, ck->stats);
	fflush(stdout);
	warnmsg("%s: check failed: %zu problem%s found", ck->path,
	    ck->problems, ck->problems == 1 ? "" : "s");
	return EXIT_FAIL;
}

/* The walk, in check's child: its exit status. */
static int
check_walk(struct cmd *self)
{
	struct statsfile	*sf = NULL;
	struct check		 ck;
	int			 rc, status = EXIT_FAIL;

	memset(&ck, 0, sizeof ck);
	ck.path = self->qpath;
	ck.now = (int64_t)time(NULL);
	/* statsfile_open checks the environment, the tables and the format. */
	if (statsfile_open(&sf, self->path, 0) != 0)
		return EXIT_FAIL;
	if (statsfile_begin(sf) == 0) {
		if ((rc = check_tables(sf, &ck)) != 0) {
			fflush(stdout);
			statsfile_failed(sf, rc, "check failed: reading the "
			    "database");
		} else
			status = check_report(&ck);
	}
	statsfile_close(sf);
	free(ck.ids);
	return flush_stdout(status);
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
	char	*last, *end = buf + len, sig[32], q[ERROR_QUOTE_LEN];

	while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*end = '\0';
	last = memrchr(buf, '\n', (size_t)(end - buf));
	last = last != NULL ? last + 1 : buf;
	if (last > buf)
		fwrite(buf, 1, (size_t)(last - buf), stderr);
	warnmsg("statsfile %s: damaged: the walk died of %s (LMDB assertion "
	    "or bad page): %s", self->qpath, check_signal_name(WIFSIGNALED(ws) ?
	    WTERMSIG(ws) : 0, sig, sizeof sig), *last != '\0' ?
	    error_quote(q, sizeof q, last, (size_t)(end - last)) :
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
