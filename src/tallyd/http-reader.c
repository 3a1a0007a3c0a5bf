/*
 * http-reader.c: the nodes of the statsfile for tallyd's status page, in a
 * process of its own: tallyd --http-reader nodes STATSFILE.
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
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tallyd.h"

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
