/*
 * statsfile.c: what the tally tool adds to libtally's reader (tally.h):
 * the open, guarded against SIGBUS, that says why it failed; the nodes
 * table copied out of the reader, for a command that reads the nodes
 * before their metrics; and the warnings for what cannot be read.  Every
 * read and write of the statsfile is libtally's (tally_reader_*,
 * tally_statsfile_*): no LMDB here.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-cmd.h"

/*
 * LMDB maps data.mdb: a truncated or damaged file shows as SIGBUS when a
 * page past its end is read.  libtally catches that inside its own calls;
 * this is the last wall for any other: say so instead of dying silently,
 * and leave no temporary file of export behind.  The handler writes what
 * is quoted already: it may not format.
 */
static char		 sigbus_path[TALLY_QUOTE_LEN] = "the statsfile";
static size_t		 sigbus_pathlen = sizeof "the statsfile" - 1;
static const char	*volatile sigbus_tmp;
static int		 sigbus_set;

static void
statsfile_sigbus(int signo)
{
	static const char m1[] = PROG ": ", m2[] = ": bus error reading "
	    "data.mdb: the database is truncated or damaged (see tally(1))\n";

	(void)signo;
	if (sigbus_tmp != NULL)
		unlink(sigbus_tmp);
	if (write(STDERR_FILENO, m1, sizeof m1 - 1) > 0 &&
	    write(STDERR_FILENO, sigbus_path, sigbus_pathlen) > 0)
		(void)!write(STDERR_FILENO, m2, sizeof m2 - 1);
	_exit(EXIT_FAIL);
}

/*
 * SIGINT, SIGTERM, SIGHUP while a temporary file is ours: remove it, then
 * die of the signal as before.
 */
static void
statsfile_sigterm(int signo)
{
	if (sigbus_tmp != NULL)
		unlink(sigbus_tmp);
	signal(signo, SIG_DFL);
	raise(signo);
}

/*
 * A file that a SIGBUS, SIGINT, SIGTERM or SIGHUP removes (export's
 * temporary file), or NULL to remove none and put back what those
 * signals did before.  A signal ignored (nohup) stays ignored.  While
 * there is one, SIGXFSZ is ignored: a write past a file-size limit
 * (ulimit -f, LimitFSIZE=) fails with EFBIG, said, and the file removed,
 * instead of ending the process with the file left.
 */
void
statsfile_unlink_on_signal(const char *tmp)
{
	static const int	 sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGXFSZ };
	static struct sigaction	 old[4];
	static int		 set[4];
	struct sigaction	 sa;
	size_t			 i;

	sigbus_tmp = tmp;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		if (tmp == NULL && set[i]) {
			sigaction(sigs[i], &old[i], NULL);
			set[i] = 0;
		} else if (tmp != NULL && !set[i] && sigaction(sigs[i], NULL,
		    &old[i]) == 0 && old[i].sa_handler != SIG_IGN) {
			sa.sa_handler = sigs[i] == SIGXFSZ ? SIG_IGN :
			    statsfile_sigterm;
			sigaction(sigs[i], &sa, NULL);
			set[i] = 1;
		}
	}
}

/*
 * Before libtally opens the statsfile at path (qpath quoted): the SIGBUS
 * handler, and a path no system takes refused.  0, or -1 said why.
 */
int
statsfile_prepare(const char *path, const char *qpath)
{
	struct sigaction	 sa;

	/*
	 * Installed once, before the first open: libtally's own handler,
	 * installed by that open, catches the faults inside LMDB and hands
	 * every other one on to this.
	 */
	snprintf(sigbus_path, sizeof sigbus_path, "%s", qpath);
	sigbus_pathlen = strlen(sigbus_path);
	if (!sigbus_set) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = statsfile_sigbus;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, NULL);
		sigbus_set = 1;
	}
	/* No path is that long; and its reason would be cut off. */
	if (strlen(path) >= PATH_MAX) {
		warnmsg("statsfile %s: %s", qpath, strerror(ENAMETOOLONG));
		return -1;
	}
	return 0;
}

/*
 * A reader of the statsfile at path (qpath quoted): its one read
 * transaction, begun here.  0, or -1 said why.
 */
int
statsfile_open(tally_reader **rp, const char *path, const char *qpath)
{
	*rp = NULL;
	if (statsfile_prepare(path, qpath) != 0)
		return -1;
	if (tally_reader_open(rp, path) != 0) {
		warnmsg("%s", tally_reader_errmsg(*rp));
		tally_reader_close(*rp);
		*rp = NULL;
		return -1;
	}
	return 0;
}

/*
 * A node that is skipped, for its bad id or record; with qpath (not NULL),
 * named with the statsfile's path.
 */
void
statsfile_warn_node(const char *qpath, const tally_node *nd)
{
	const char	*path = qpath != NULL ? qpath : "";
	const char	*sep = qpath != NULL ? ": " : "";
	char		 b[80];

	/* A bad id comes quoted, which no valid id is. */
	if (!tally_node_id_valid(nd->id))
		warnmsg("%s%sskipping node '%s': not a valid node id (run "
		    "tally check)", path, sep, text_recut(b, sizeof b, nd->id));
	else
		warnmsg("%s%sskipping node %s: %s (run tally check)", path, sep,
		    nd->id, nd->error);
}

/* A counter or stat of node id that is skipped, for its bad name or value. */
void
statsfile_warn_metric(const char *id, const tally_metric *m)
{
	char	 b1[80], b2[80];

	warnmsg("node %s: skipping unreadable %s '%s' = '%s' (run tally "
	    "check)", id, m->kind == TALLY_COUNTER ? "counter" : "stat",
	    text_recut(b1, sizeof b1, m->name),
	    text_recut(b2, sizeof b2, m->text));
}

/* A copy of nd, its strings in one allocation: 0, or TALLY_ENOMEM. */
static int
statsfile_node_copy(struct statsfile_node *dst, const tally_node *nd)
{
	const char	*src[4] = { nd->id, nd->nickname, nd->source, nd->key };
	const char	**to[4] = { &dst->id, &dst->nickname, &dst->source,
	    &dst->key };
	size_t		 len[4], total = 0, i;
	char		*p;

	for (i = 0; i < 4; i++) {
		len[i] = src[i] != NULL ? strlen(src[i]) + 1 : 0;
		total += len[i];
	}
	if ((dst->buf = p = malloc(total)) == NULL)
		return TALLY_ENOMEM;
	for (i = 0; i < 4; i++) {
		*to[i] = NULL;
		if (src[i] == NULL)
			continue;
		memcpy(p, src[i], len[i]);
		*to[i] = p;
		p += len[i];
	}
	dst->time = nd->time;
	dst->interval = nd->interval;
	return 0;
}

void
statsfile_nodes_free(struct statsfile_node *nodes, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(nodes[i].buf);
	free(nodes);
}

/* Is id one of want[], marking found[] for each match?  Any, with none. */
static int
statsfile_wanted(const char *id, char **want, int nwant, char *found)
{
	int	 i, match = nwant == 0;

	for (i = 0; i < nwant; i++) {
		if (strcmp(want[i], id) == 0) {
			found[i] = 1;
			match = 1;
		}
	}
	return match;
}

/*
 * The valid nodes, in id order, copied into *out (statsfile_nodes_free),
 * each other one reported (named with qpath) and counted in *skipped.
 * With want, only the nodes named there, marking found[] for each name
 * matched.  0, or -1 said why.
 */
int
statsfile_nodes_list(tally_reader *r, const char *qpath, char **want,
    int nwant, char *found, struct statsfile_node **out, size_t *nout,
    size_t *skipped)
{
	struct statsfile_node	*nodes = NULL, *nn;
	tally_node		 nd;
	size_t			 n = 0, cap = 0;
	int			 rc;

	while ((rc = tally_reader_next(r, &nd)) == 1) {
		if (!statsfile_wanted(nd.id, want, nwant, found))
			continue;
		if (nd.error != NULL) {
			statsfile_warn_node(qpath, &nd);
			(*skipped)++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nn = realloc(nodes, cap * sizeof *nn)) == NULL)
				break;
			nodes = nn;
		}
		if (statsfile_node_copy(&nodes[n], &nd) != 0)
			break;
		n++;
	}
	if (rc != 0) {
		if (rc == 1)
			warnmsg("out of memory");
		else
			warnmsg("%s", tally_reader_errmsg(r));
		statsfile_nodes_free(nodes, n);
		return -1;
	}
	*out = nodes;
	*nout = n;
	return 0;
}
