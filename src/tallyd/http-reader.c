/*
 * http-reader.c: what tallyd's HTTP server reads from the statsfile, in a
 * process of its own: tallyd --http-reader MODE STATSFILE.
 *
 * The store runs one transaction at a time in a process (store.c: LMDB's
 * map may change only with none active), so a reader inside tallyd would
 * hold the store's lock for a whole scrape and stop the loop's commits,
 * and with them its polls.  http.c runs this instead, tallyd's own binary
 * again, for each request that reads the statsfile: read-only
 * transactions of another process, which LMDB runs beside the writer.  A
 * damaged statsfile that faults here ends this process, never tallyd.
 *
 * MODE prom or om: tally export of every node (export.c), in the
 * Prometheus text format or OpenMetrics, on stdout.  MODE nodes: each
 * node's record on stdout, six NUL-terminated fields a node (id,
 * nickname, source, key or "", time, interval), for the status page.
 * Messages go to stderr.  Only when all was written does it write "ok" on
 * descriptor 3: http.c tells a whole answer from a cut one by that, not by
 * an exit status that libev's SIGCHLD handler in tallyd may reap first.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tallyd.h"
#include "tally-cmd.h"
#include "export.h"

/*
 * export.c and statsfile.c warn through this, as the tally tool does: a
 * line each on stderr, which http.c logs.
 */
void
warnmsg(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
http_reader_export(tally_reader *r, int prom)
{
	struct export	*ex;
	int		 rc, werr;

	if ((ex = export_new(prom)) == NULL) {
		warnmsg("out of memory");
		return -1;
	}
	if ((rc = export_collect(ex, r)) != 0) {
		warnmsg("%s", *tally_reader_errmsg(r) != '\0' ?
		    tally_reader_errmsg(r) : rc == TALLY_ENOMEM ?
		    "out of memory" : tally_strerror(rc));
		export_free(ex);
		return -1;
	}
	rc = export_write(ex, STDOUT_FILENO, &werr);
	export_free(ex);
	if (rc != 0 || werr != 0) {
		warnmsg("writing the export: %s", rc != 0 ? "out of memory" :
		    strerror(werr));
		return -1;
	}
	return 0;
}

static int
http_reader_nodes(tally_reader *r)
{
	tally_node	 nd;
	int		 rc;

	while ((rc = tally_reader_next(r, &nd)) == 1) {
		if (nd.error != NULL)
			continue;	/* tally check says why */
		printf("%s%c%s%c%s%c%s%c%" PRId64 "%c%.17g%c", nd.id, 0,
		    nd.nickname, 0, nd.source, 0, nd.key != NULL ? nd.key :
		    "", 0, nd.time, 0, nd.interval, 0);
	}
	if (rc != 0) {
		warnmsg("%s", tally_reader_errmsg(r));
		return -1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnmsg("writing the nodes: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
http_reader_main(int argc, char **argv)
{
	tally_reader	*r = NULL;
	const char	*mode;
	int		 rc;

	if (argc != 4) {
		warnmsg("usage: tallyd --http-reader prom|om|nodes STATSFILE");
		return 2;
	}
	mode = argv[2];
	if (strcmp(mode, "prom") != 0 && strcmp(mode, "om") != 0 &&
	    strcmp(mode, "nodes") != 0) {
		warnmsg("unknown mode '%s'", mode);
		return 2;
	}
	if ((rc = tally_reader_open(&r, argv[3])) != 0) {
		warnmsg("%s", tally_reader_errmsg(r));
		tally_reader_close(r);
		return 1;
	}
	if (strcmp(mode, "nodes") == 0)
		rc = http_reader_nodes(r);
	else
		rc = http_reader_export(r, strcmp(mode, "prom") == 0);
	tally_reader_close(r);
	if (rc != 0)
		return 1;
	if (write(3, "ok", 2) != 2)
		return 1;
	return 0;
}
