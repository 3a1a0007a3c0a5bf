/*
 * fixednode.c: a node whose counters hold known values, for the tests of
 * tallyd's HTTP server (t/http*.sh), which check that a remote node's
 * counter reaches /metrics, Prometheus and the page with the very value
 * the node counted.  tally-demo-node counts at the pace of the clock, so
 * the value it shows at any moment is not known to a script; this one
 * counts once, before it starts, and never again.
 *
 * usage: fixednode [-s STATSFILE] [-g FURL [-k KEYFILE]] -n NODE_ID
 *            [-N NICKNAME] [NAME=VALUE...]
 *
 * Each NAME=VALUE adds VALUE (an integer) to the counter NAME.  The
 * built-in monitors are off (TALLY_F_NO_MONITORS): the snapshot holds the
 * given counters only.  The same protocol as tally-demo-node (so that
 * t/lib.sh's start_node and stop_node work with DEMO=t/fixednode): "ready
 * NODE_ID" on stdout once started, then it waits for SIGTERM or SIGINT,
 * stops the provider, prints "stopped NODE_ID" and exits 0.  Errors on
 * stderr, exit 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally.h"

#define PROG	"fixednode"

static void
usage(void)
{
	fprintf(stderr, "usage: " PROG " [-s STATSFILE] [-g FURL [-k KEYFILE]] "
	    "-n NODE_ID [-N NICKNAME] [NAME=VALUE...]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	tally_options	 opt;
	tally_provider	*p = NULL;
	sigset_t	 set;
	char		*name, *eq, *end;
	long long	 v;
	int		 c, i, rc, sig;

	memset(&opt, 0, sizeof(opt));
	opt.flags = TALLY_F_NO_MONITORS;
	while ((c = getopt(argc, argv, "s:g:k:n:N:")) != -1) {
		switch (c) {
		case 's': opt.statsfile = optarg; break;
		case 'g': opt.gatherer_furl = optarg; break;
		case 'k': opt.key_file = optarg; break;
		case 'n': opt.node_id = optarg; break;
		case 'N': opt.nickname = optarg; break;
		default: usage();
		}
	}
	if (opt.node_id == NULL ||
	    (opt.statsfile == NULL && opt.gatherer_furl == NULL))
		usage();

	/* Signals are blocked in every thread, and taken by sigwait below. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if ((rc = tally_provider_new(&p, &opt)) != 0) {
		fprintf(stderr, PROG ": %s\n", tally_strerror(rc));
		return 1;
	}
	for (i = optind; i < argc; i++) {
		if ((eq = strchr(argv[i], '=')) == NULL || eq == argv[i]) {
			fprintf(stderr, PROG ": not NAME=VALUE: %s\n", argv[i]);
			return 1;
		}
		errno = 0;
		v = strtoll(eq + 1, &end, 10);
		if (errno != 0 || end == eq + 1 || *end != '\0') {
			fprintf(stderr, PROG ": not an integer: %s\n", argv[i]);
			return 1;
		}
		if ((name = strndup(argv[i], (size_t)(eq - argv[i]))) == NULL) {
			fprintf(stderr, PROG ": %s\n",
			    tally_strerror(TALLY_ENOMEM));
			return 1;
		}
		if ((rc = tally_count(p, name, (int64_t)v)) != 0) {
			fprintf(stderr, PROG ": counter %s: %s\n", name,
			    tally_strerror(rc));
			return 1;
		}
		free(name);
	}
	if ((rc = tally_provider_start(p)) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", tally_strerror(rc),
		    tally_provider_errmsg(p));
		tally_provider_free(p);
		return 1;
	}
	printf("ready %s\n", tally_provider_node_id(p));
	fflush(stdout);

	if (sigwait(&set, &sig) != 0)
		sig = 0;
	rc = tally_provider_stop(p);
	if (rc != 0)
		fprintf(stderr, PROG ": %s: %s\n", tally_strerror(rc),
		    tally_provider_errmsg(p));
	printf("stopped %s\n", tally_provider_node_id(p));
	fflush(stdout);
	tally_provider_free(p);
	return rc != 0;
}
