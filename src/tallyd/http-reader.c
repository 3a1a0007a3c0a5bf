/*
 * http-reader.c: the statsfile, read for tallyd --http in a process of
 * its own: both sides.  tallyd --http-reader nodes STATSFILE (main, below)
 * prints the nodes of the statsfile for the status page; http_reader()
 * runs it, or tally export for /metrics, for each request.
 *
 * The store runs one transaction at a time in a process (store.c: LMDB's
 * map may change only with none active), so a reader inside tallyd would
 * hold the store's lock for a whole request and stop the loop's commits,
 * and with them its polls.  http.c runs this instead, tallyd's own binary
 * again: read-only transactions of another process, which LMDB runs
 * beside the writer.  A damaged statsfile that faults here ends this
 * process, never tallyd.  (/metrics runs tally export the same way.)
 *
 * On stdout, each node's record: six NUL-terminated fields a node (id,
 * nickname, source, key or "", time, interval), in id order.  Messages
 * on stderr; exit 0 only when all was written.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"

int
http_reader_main(int argc, char **argv)
{
	tally_reader	*r = NULL;
	tally_node	 nd;
	int		 rc;

	if (argc != 4 || strcmp(argv[2], "nodes") != 0) {
		fprintf(stderr, "usage: tallyd --http-reader nodes "
		    "STATSFILE\n");
		return 2;
	}
	if ((rc = tally_reader_open(&r, argv[3])) != 0) {
		fprintf(stderr, "%s\n", tally_reader_errmsg(r));
		tally_reader_close(r);
		return 1;
	}
	while ((rc = tally_reader_next(r, &nd)) == 1) {
		if (nd.error != NULL)
			continue;	/* tally check says why */
		printf("%s%c%s%c%s%c%s%c%" PRId64 "%c%.17g%c", nd.id, 0,
		    nd.nickname, 0, nd.source, 0, nd.key != NULL ? nd.key :
		    "", 0, nd.time, 0, nd.interval, 0);
	}
	if (rc != 0)
		fprintf(stderr, "%s\n", tally_reader_errmsg(r));
	tally_reader_close(r);
	if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "writing the nodes: %s\n", strerror(errno));
		rc = 1;
	}
	return rc == 0 ? 0 : 1;
}

/* ---- tallyd's side: running a reader ------------------------------------- */

/*
 * Start argv with its stdout on out and its stderr on a pipe, whose read
 * end goes to *errfd.  The pid, or -1 (msg says why).  Its descriptors
 * are 0 to 2 only (/dev/null, out, the pipe), its signal mask empty, its
 * environment empty.
 */
static pid_t
http_reader_spawn(char *const argv[], int out, int *errfd, struct hbuf *msg)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 sa;
	sigset_t			 none;
	char				*envp[] = { NULL };
	int				 pe[2], rc;
	pid_t				 pid;

	if (pipe2(pe, O_CLOEXEC) != 0) {
		hbuf_printf(msg, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&sa);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&pid, argv[0], &fa, &sa, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(pe[1]);
	if (rc != 0) {
		hbuf_printf(msg, "cannot run %s: %s", argv[0], strerror(rc));
		close(pe[0]);
		return -1;
	}
	*errfd = pe[0];
	return pid;
}

/*
 * Read pid's messages from errfd into msg (HTTP_MSG_MAX bytes of them)
 * until it closes it, then reap it: 0 with its status in *st, or -1 (msg
 * says why: the deadline passed, tallyd stops, a system call failed) with
 * pid still to be killed and reaped.
 */
static int
http_reader_wait(struct http *h, pid_t pid, int errfd, double deadline,
    int *st, struct hbuf *msg)
{
	struct pollfd	 pf[2] = { { errfd, POLLIN, 0 },
			     { h->stop[0], POLLIN, 0 } };
	char		 buf[4096];
	double		 left;
	size_t		 take;
	ssize_t		 r;

	/* Its messages until it closes stderr, that is, until it ends. */
	while (pf[0].fd >= 0) {
		if ((left = deadline - gatherer_mono()) <= 0)
			goto late;
		if (poll(pf, 2, (int)(left * 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			hbuf_printf(msg, "poll: %s", strerror(errno));
			return -1;
		}
		if (pf[1].revents != 0)
			goto stop;
		if (pf[0].revents == 0)
			continue;
		r = read(errfd, buf, sizeof buf);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			pf[0].fd = -1;
			continue;
		}
		take = msg->n < HTTP_MSG_MAX ? HTTP_MSG_MAX - msg->n : 0;
		hbuf_put(msg, buf, (size_t)r < take ? (size_t)r : take);
	}
	/* Its stderr closed: its end, unless it closed it early. */
	while ((r = waitpid(pid, st, WNOHANG)) != pid) {
		if (r < 0 && errno != EINTR) {
			hbuf_printf(msg, "waitpid: %s", strerror(errno));
			return -1;
		}
		if (gatherer_mono() >= deadline)
			goto late;
		if (poll(&pf[1], 1, 10) > 0)
			goto stop;
	}
	return 0;
late:
	hbuf_printf(msg, "reading the statsfile took over %g s: given up",
	    HTTP_READER_MAX);
	return -1;
stop:
	hbuf_str(msg, "tallyd is stopping");
	return -1;
}

/*
 * Run argv (tally export, or tallyd --http-reader), its stdout a memfd:
 * *fdp (the caller's to close) of *sizep bytes, sent with sendfile() or
 * mapped, never copied through tallyd's heap; its messages into msg
 * (NUL-terminated).  0 when it exited 0, else -1 (msg says why).  One
 * that takes over HTTP_READER_MAX seconds, or runs when http_free() stops
 * the server, is killed.  tallyd's loop is libev's own, not its default
 * loop, which would reap every child: the pid is ours to signal until
 * waitpid() here, and its exit status ours to read.
 */
int
http_reader(struct http *h, char *const argv[], int *fdp, size_t *sizep,
    struct hbuf *msg)
{
	struct stat	 sb;
	int		 out, errfd = -1, rc = -1, st = 0;
	pid_t		 pid;

	*fdp = -1;
	*sizep = 0;
	if ((out = memfd_create("tallyd-http", MFD_CLOEXEC)) < 0)
		hbuf_printf(msg, "memfd_create: %s", strerror(errno));
	else if ((pid = http_reader_spawn(argv, out, &errfd, msg)) > 0) {
		rc = http_reader_wait(h, pid, errfd, gatherer_mono() +
		    HTTP_READER_MAX, &st, msg);
		if (rc != 0) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			rc = -1;
			if (msg->n == 0 && WIFSIGNALED(st))
				hbuf_printf(msg, "%s died of signal %d",
				    argv[0], WTERMSIG(st));
			else if (msg->n == 0)
				hbuf_printf(msg, "%s exited %d", argv[0],
				    WEXITSTATUS(st));
		}
		close(errfd);
	}
	if (rc == 0 && fstat(out, &sb) != 0) {
		hbuf_printf(msg, "fstat: %s", strerror(errno));
		rc = -1;
	}
	if (rc == 0) {
		*fdp = out;
		*sizep = (size_t)sb.st_size;
	} else if (out >= 0)
		close(out);
	/* The last newline goes; several lines stay several. */
	while (msg->n > 0 && msg->b[msg->n - 1] == '\n')
		msg->n--;
	hbuf_put(msg, "", 1);
	if (msg->oom) {
		free(msg->b);
		*msg = (struct hbuf){ NULL, 0, 0, 0 };
		hbuf_put(msg, "out of memory", 14);
	}
	return rc;
}
