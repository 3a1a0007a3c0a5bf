/*
 * tallyd.c: the gatherer's main: options, the base directory and its furl,
 * signals.  BASEDIR's files are basedir.c's; the gatherer itself is
 * gatherer.c and the files tallyd.h lists.
 *
 * tallyd runs in the foreground and logs to stderr, as systemd wants.
 */
#include <sys/resource.h>

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "tally-int.h"
#include "tallyd.h"

#define TALLYD_INTERVAL		60.0
#define TALLYD_HANDSHAKE	10.0
#define TALLYD_POLL_MAX		30.0
#define TALLYD_MAX_CONNECTIONS	10000
#define TALLYD_FD_SPARE		64	/* listener, LMDB, stdio, ... */
#define TALLYD_DEFAULT_HOST	"127.0.0.1"
#define TALLYD_DEFAULT_PORT	"0"

enum {
	OPT_MAX_CONNECTIONS = 256,
	OPT_HANDSHAKE_TIMEOUT,
	OPT_POLL_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_PLAINTEXT,
	OPT_TLS_THREADS,
	OPT_FIRST_FLIGHT,
	OPT_MAX_HS_PER_ADDR,
	OPT_MAX_NODES,
	OPT_MAX_METRICS,
	OPT_MAX_FRAME,
	OPT_MAX_INPUT,
	OPT_HELLO_INTERVAL,
	OPT_HTTP
};

static const struct option tallyd_longopts[] = {
	{ "listen",		required_argument, NULL, 'l' },
	{ "interval",		required_argument, NULL, 'i' },
	{ "statsfile",		required_argument, NULL, 's' },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ "max-connections",	required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "handshake-timeout",	required_argument, NULL,
	    OPT_HANDSHAKE_TIMEOUT },
	{ "poll-timeout",	required_argument, NULL, OPT_POLL_TIMEOUT },
	{ "idle-timeout",	required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "plaintext",		no_argument,	   NULL, OPT_PLAINTEXT },
	{ "tls-threads",	required_argument, NULL, OPT_TLS_THREADS },
	{ "first-flight-timeout", required_argument, NULL, OPT_FIRST_FLIGHT },
	{ "max-handshakes-per-addr", required_argument, NULL,
	    OPT_MAX_HS_PER_ADDR },
	{ "max-nodes",		required_argument, NULL, OPT_MAX_NODES },
	{ "max-metrics",	required_argument, NULL, OPT_MAX_METRICS },
	{ "max-frame",		required_argument, NULL, OPT_MAX_FRAME },
	{ "max-input",		required_argument, NULL, OPT_MAX_INPUT },
	{ "hello-interval",	required_argument, NULL, OPT_HELLO_INTERVAL },
	{ "http",		required_argument, NULL, OPT_HTTP },
	{ NULL, 0, NULL, 0 }
};

/* What one run works with, from the command line to the furl. */
struct tallyd {
	struct gatherer_config	 cfg;		/* the options' numbers */
	const char		*basedir;
	const char		*listen;	/* -l, or NULL */
	const char		*http;		/* --http, or NULL */
	char			 hhost[256], hport[8];
	char			*statsfile;
	int			 plaintext;
	char			 lhost[256], lport[8];	/* to bind */
	char			 bhost[INET6_ADDRSTRLEN], bport[8];	/* bound */
	char			*lfile;		/* BASEDIR/listen, or NULL */
	const char		*lfrom;		/* a file lhost came from */
	struct furl		 old;		/* an earlier run's furl */
	int			 have_furl;
	char			 secret[WIRE_SECRET_MAX + 1];
	char			 key[4096], cert[4096];
};

static struct gatherer	*tallyd_g;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: tallyd [-v] [-l ADDR:PORT] [-i SECONDS] [-s STATSFILE]\n"
"              [--max-connections N] [--handshake-timeout S]\n"
"              [--poll-timeout S] [--idle-timeout S] [--plaintext]\n"
"              [--tls-threads N] [--first-flight-timeout S]\n"
"              [--http [ADDR:]PORT]\n"
"              [--max-handshakes-per-addr N] [--max-nodes N]\n"
"              [--max-metrics N] [--max-frame BYTES] [--max-input BYTES]\n"
"              [--hello-interval S]\n"
"              BASEDIR\n"
"\n"
"The tally gatherer: polls the nodes that connect with it and writes their\n"
"snapshots into STATSFILE.  It prints its furl once, when it makes it, and\n"
"keeps it in BASEDIR/" BASEDIR_FURL ".  Nodes connect over TLS 1.3, check\n"
"the gatherer's certificate (BASEDIR/" BASEDIR_CERT ") against the furl's\n"
"fingerprint, and present keys of their own, which tallyd binds to their\n"
"node ids on first contact.\n"
"\n"
"  -l, --listen ADDR:PORT      where to listen ([ADDR6]:PORT for IPv6);\n"
"                              default: the furl's address, or "
    TALLYD_DEFAULT_HOST ":0\n"
"                              (a free port) on the first run\n"
"  -i, --interval SECONDS      poll each node every SECONDS (default %g)\n"
"  -s, --statsfile DIR         the LMDB environment (default BASEDIR/stats)\n"
"  -v, --verbose               log each snapshot and commit\n"
"      --http [ADDR:]PORT      serve /metrics (Prometheus), / (a status\n"
"                              page) and /nodes.json; a port alone is\n"
"                              127.0.0.1's (default: off)\n"
"      --max-connections N     at most N connections (default %d)\n"
"      --handshake-timeout S   TLS handshake and HELLO within S seconds\n"
"                              (default %g)\n"
"      --poll-timeout S        answers within S seconds\n"
"                              (default min(%g, interval / 2))\n"
"      --idle-timeout S        close after S seconds without a byte\n"
"                              (default 2 * interval + poll timeout)\n"
"      --plaintext             no TLS: a tally:// furl, loopback only\n"
"      --tls-threads N         TLS handshakes on N threads, 1 to 8\n"
"                              (default: one per CPU beyond the first)\n"
"      --first-flight-timeout S  a TLS peer's ClientHello within S seconds\n"
"                              (default 3)\n"
"      --max-handshakes-per-addr N  TLS handshakes in flight from one\n"
"                              address (default 64)\n"
"      --max-nodes N           nodes in the statsfile; a new one is refused\n"
"                              beyond (default 100000)\n"
"      --max-metrics N         metrics in one snapshot (default 100000)\n"
"      --max-frame BYTES       bytes in one frame (default and at most\n"
"                              8388608)\n"
"      --max-input BYTES       input buffered across all connections\n"
"                              (default 268435456)\n"
"      --hello-interval S      one HELLO a node id per S seconds; another\n"
"                              is refused, to retry later (default 1)\n"
"  -h, --help                  this text\n"
"  -V, --version               the version\n",
	    TALLYD_INTERVAL, TALLYD_MAX_CONNECTIONS, TALLYD_HANDSHAKE,
	    TALLYD_POLL_MAX);
}

/* Start-up errors only: once serving, tallyd logs and carries on. */
void
tallyd_die(const char *fmt, ...)
{
	char	 line[2 * PATH_MAX + 1024];	/* two whole paths and why */
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "tallyd: %s\n", error_shown(line));
	exit(1);
}

/* After --help or --version: exit 0 if stdout took it all, else 1. */
static void
tallyd_stdout_done(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		tallyd_die("writing to stdout: %s", strerror(errno));
	exit(0);
}

/*
 * A number as the operator wrote it: decimal digits first.  strtod and
 * strtoul also take leading blanks, a sign, and strtod hexadecimal,
 * "inf" and "nan".
 */
static int
tallyd_decimal(const char *s)
{
	return (isdigit((unsigned char)s[0]) || (s[0] == '.' &&
	    isdigit((unsigned char)s[1]))) && strpbrk(s, "xX") == NULL;
}

/* Seconds: a decimal from min (a millisecond, if 0) to a day. */
static double
tallyd_seconds(const char *what, const char *s, double min)
{
	char	*end;
	double	 d;

	if (min == 0)
		min = 0.001;
	errno = 0;
	d = strtod(s, &end);
	if (!tallyd_decimal(s) || *end != '\0' || errno != 0 ||
	    !(d >= min && d <= 86400))
		tallyd_die("bad %s '%s' (seconds, %g to 86400)", what, s, min);
	return d;
}

/* A count from 1 to max. */
static unsigned
tallyd_count(const char *what, const char *s, unsigned long max)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (!tallyd_decimal(s) || *end != '\0' || errno != 0 || n == 0 ||
	    n > max)
		tallyd_die("bad %s '%s' (1 to %lu)", what, s, max);
	return (unsigned)n;
}

/* A byte count, 1 to 2^40, with an optional K, M or G (powers of 1024). */
static size_t
tallyd_bytes(const char *what, const char *s)
{
	char		*end;
	unsigned long	 n;
	unsigned	 shift = 0;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift != 0)
		end++;
	if (!tallyd_decimal(s) || *end != '\0' || errno != 0 || n == 0 ||
	    n > (1UL << 40) >> shift)
		tallyd_die("bad %s '%s' (bytes, 1 to 2^40, with K, M or G)",
		    what, s);
	return (size_t)n << shift;
}

/* The options that take a number: what each is, and where it goes. */
enum tallyd_kind {
	TALLYD_SECONDS,		/* a double, tallyd_seconds() */
	TALLYD_COUNT,		/* an unsigned, tallyd_count() */
	TALLYD_BYTES		/* a size_t, tallyd_bytes() */
};

#define TALLYD_CFG(f)	offsetof(struct gatherer_config, f)

static const struct tallyd_number {
	int			 opt;
	const char		*what;	/* for "bad WHAT 'ARG'" */
	enum tallyd_kind	 kind;
	size_t			 off;	/* in struct gatherer_config */
	unsigned		 max;	/* a count's, if below 1000000 */
	double			 min;	/* seconds', if not 0.001 */
} tallyd_numbers[] = {
	{ 'i', "interval", TALLYD_SECONDS, TALLYD_CFG(interval), 0, 0 },
	{ OPT_MAX_CONNECTIONS, "max-connections", TALLYD_COUNT,
	    TALLYD_CFG(max_connections), 0, 0 },
	{ OPT_HANDSHAKE_TIMEOUT, "handshake timeout", TALLYD_SECONDS,
	    TALLYD_CFG(handshake_timeout), 0, 0 },
	{ OPT_POLL_TIMEOUT, "poll timeout", TALLYD_SECONDS,
	    TALLYD_CFG(poll_timeout), 0, 0 },
	{ OPT_IDLE_TIMEOUT, "idle timeout", TALLYD_SECONDS,
	    TALLYD_CFG(idle_timeout), 0, 0 },
	{ OPT_TLS_THREADS, "tls-threads", TALLYD_COUNT,
	    TALLYD_CFG(tls_threads), 8, 0 },
	{ OPT_FIRST_FLIGHT, "first flight timeout", TALLYD_SECONDS,
	    TALLYD_CFG(first_flight_timeout), 0, 0 },
	{ OPT_MAX_HS_PER_ADDR, "max-handshakes-per-addr", TALLYD_COUNT,
	    TALLYD_CFG(max_handshakes_per_addr), 0, 0 },
	{ OPT_MAX_NODES, "max-nodes", TALLYD_COUNT,
	    TALLYD_CFG(max_nodes), 0, 0 },
	{ OPT_MAX_METRICS, "max-metrics", TALLYD_COUNT,
	    TALLYD_CFG(max_metrics), 0, 0 },
	{ OPT_MAX_FRAME, "max-frame", TALLYD_BYTES,
	    TALLYD_CFG(max_frame), 0, 0 },
	{ OPT_MAX_INPUT, "max-input", TALLYD_BYTES,
	    TALLYD_CFG(max_input), 0, 0 },
	{ OPT_HELLO_INTERVAL, "hello interval", TALLYD_SECONDS,
	    TALLYD_CFG(hello_interval), 0, 1e-6 }
};

/* Option ch's number into cfg, if ch takes one: 1, else 0. */
static int
tallyd_number(struct gatherer_config *cfg, int ch, const char *arg)
{
	const struct tallyd_number	*n;
	char				*p;
	size_t				 i;

	for (i = 0; i < sizeof tallyd_numbers / sizeof tallyd_numbers[0];
	    i++) {
		n = &tallyd_numbers[i];
		if (n->opt != ch)
			continue;
		p = (char *)cfg + n->off;
		switch (n->kind) {
		case TALLYD_SECONDS:
			*(double *)p = tallyd_seconds(n->what, arg, n->min);
			break;
		case TALLYD_COUNT:
			*(unsigned *)p = tallyd_count(n->what, arg,
			    n->max != 0 ? n->max : 1000000);
			break;
		case TALLYD_BYTES:
			*(size_t *)p = tallyd_bytes(n->what, arg);
			break;
		}
		return 1;
	}
	return 0;
}

/* ADDR:PORT or [ADDR6]:PORT into host and port. */
static int
tallyd_split(const char *s, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char	*colon, *h = s;
	size_t		 hlen;
	char		*end;
	unsigned long	 p;

	if (*s == '[') {
		if ((colon = strchr(s, ']')) == NULL || colon[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen) != NULL)
			return -1;	/* IPv6 needs its brackets */
	}
	if (hlen == 0 || hlen >= hostlen)
		return -1;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 ||
	    p > 65535 || strlen(colon + 1) >= portlen)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, portlen, "%lu", p);
	return 0;
}

/*
 * Plaintext serves loopback only.  Checked on the address as given,
 * before anything is created: a refused start leaves no trace.
 */
static void
tallyd_plaintext_host(const char *host, const char *from)
{
	if (!furl_host_loopback(host))
		tallyd_die("--plaintext is for loopback only (127.0.0.0/8, "
		    "[::1] or localhost), and %s '%s' is not: leave "
		    "--plaintext out for TLS", from, host);
}

static int
tallyd_wildcard(const char *host)
{
	return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
	    strcmp(host, "*") == 0;
}

/* Let every connection have its descriptor, if the hard limit allows. */
static void
tallyd_rlimit(unsigned max_connections)
{
	struct rlimit	 rl;
	rlim_t		 want = (rlim_t)max_connections + TALLYD_FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ?
	    want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		gatherer_log("warning: the open files limit (%llu) is below "
		    "--max-connections %u plus %d; accepting pauses at the "
		    "limit", (unsigned long long)rl.rlim_cur,
		    max_connections, TALLYD_FD_SPARE);
}

static void
tallyd_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	gatherer_log("%s: stopping", strsignal(w->signum));
	gatherer_shutdown(tallyd_g);
}

/*
 * --http [ADDR:]PORT: a port alone is loopback's.  Checked before anything
 * is created, as -l is.
 */
static void
tallyd_http_args(struct tallyd *t)
{
	const char	*s = t->http;
	char		*end;
	unsigned long	 p;

	if (s == NULL)
		return;
	if (strchr(s, ':') == NULL) {
		errno = 0;
		p = strtoul(s, &end, 10);
		if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
		    p > 65535)
			tallyd_die("bad --http address '%s' (PORT, ADDR:PORT "
			    "or [ADDR6]:PORT)", s);
		snprintf(t->hhost, sizeof t->hhost, "127.0.0.1");
		snprintf(t->hport, sizeof t->hport, "%lu", p);
		return;
	}
	if (tallyd_split(s, t->hhost, sizeof t->hhost, t->hport,
	    sizeof t->hport) != 0)
		tallyd_die("bad --http address '%s' (PORT, ADDR:PORT or "
		    "[ADDR6]:PORT)", s);
}

/* The command line: every option and BASEDIR; dies on a bad one. */
static void
tallyd_args(struct tallyd *t, int argc, char **argv)
{
	struct gatherer_config	*cfg = &t->cfg;
	int			 ch;

	cfg->interval = TALLYD_INTERVAL;
	cfg->handshake_timeout = TALLYD_HANDSHAKE;
	cfg->max_connections = TALLYD_MAX_CONNECTIONS;
	while ((ch = getopt_long(argc, argv, "l:i:s:vhV", tallyd_longopts,
	    NULL)) != -1) {
		if (tallyd_number(cfg, ch, optarg))
			continue;
		switch (ch) {
		case 'l':
			t->listen = optarg;
			break;
		case 's':
			if (*optarg == '\0')
				tallyd_die("-s: the statsfile's path is empty");
			t->statsfile = optarg;
			break;
		case 'v':
			cfg->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			tallyd_stdout_done();
			break;
		case 'V':
			printf("tallyd (%s)\n", tally_version(NULL, NULL,
			    NULL));
			tallyd_stdout_done();
			break;
		case OPT_PLAINTEXT:
			t->plaintext = 1;
			break;
		case OPT_HTTP:
			t->http = optarg;
			break;
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "tallyd: %s\n", argc == optind ?
		    "BASEDIR is missing" : "too many arguments");
		usage(stderr);
		exit(1);
	}
	t->basedir = argv[optind];
	if (*t->basedir == '\0')
		tallyd_die("BASEDIR is empty");
	if (cfg->poll_timeout == 0)
		cfg->poll_timeout = cfg->interval / 2 < TALLYD_POLL_MAX ?
		    cfg->interval / 2 : TALLYD_POLL_MAX;
	if (cfg->idle_timeout == 0)
		cfg->idle_timeout = 2 * cfg->interval + cfg->poll_timeout;
	if (t->listen != NULL && tallyd_split(t->listen, t->lhost,
	    sizeof t->lhost, t->lport, sizeof t->lport) != 0)
		tallyd_die("bad listen address '%s' (ADDR:PORT, or "
		    "[ADDR6]:PORT)", t->listen);
	if (t->listen != NULL && t->plaintext)
		tallyd_plaintext_host(t->lhost, "-l");
	tallyd_http_args(t);
}

/*
 * The secret and the address: those of an earlier run's furl and
 * BASEDIR/listen, else new ones.  -l wins over both.
 */
static void
tallyd_where(struct tallyd *t)
{
	char	 err[TALLY_ERRLEN], q[ERROR_QUOTE_LEN], *line;
	int	 rc;

	basedir_private(t->basedir, BASEDIR_FURL);
	/*
	 * The furl of an earlier run: its secret, and its address.  It is
	 * ours, so a plaintext furl beyond loopback (of a release before
	 * TLS) still gives them.
	 */
	if ((line = basedir_read(t->basedir, BASEDIR_FURL)) != NULL) {
		if (furl_parse_flags(line, FURL_F_ANYHOST, &t->old, err,
		    sizeof err) != 0)
			tallyd_die("%s/%s: %s (fix or remove it; removing it "
			    "makes a new secret, and nodes need the new furl)",
			    t->basedir, BASEDIR_FURL, err);
		explicit_bzero(line, strlen(line));
		free(line);
		t->have_furl = 1;
		snprintf(t->secret, sizeof t->secret, "%s", t->old.secret);
	} else if ((rc = furl_secret_new(t->secret, sizeof t->secret)) != 0)
		tallyd_die("cannot make a secret: %s", tally_strerror(rc));
	t->lfile = basedir_read(t->basedir, BASEDIR_LISTEN);
	if (t->listen != NULL)
		return;
	if (t->lfile != NULL) {
		if (tallyd_split(t->lfile, t->lhost, sizeof t->lhost, t->lport,
		    sizeof t->lport) != 0)
			tallyd_die("%s/%s: bad address '%s'", t->basedir,
			    BASEDIR_LISTEN, error_quote(q, sizeof q, t->lfile,
			    strlen(t->lfile)));
		if (t->plaintext)
			tallyd_plaintext_host(t->lhost, "the address in "
			    "BASEDIR/" BASEDIR_LISTEN);
		t->lfrom = "BASEDIR/" BASEDIR_LISTEN;
	} else if (t->have_furl) {
		snprintf(t->lhost, sizeof t->lhost, "%s", t->old.host);
		snprintf(t->lport, sizeof t->lport, "%s", t->old.port);
		t->lfrom = "the furl in BASEDIR/" BASEDIR_FURL;
		if (t->plaintext)
			tallyd_plaintext_host(t->lhost, "the host of "
			    "BASEDIR/" BASEDIR_FURL);
	} else {
		snprintf(t->lhost, sizeof t->lhost, TALLYD_DEFAULT_HOST);
		snprintf(t->lport, sizeof t->lport, TALLYD_DEFAULT_PORT);
	}
}

/* The gatherer, bound and ready (its loop not yet run); dies if not. */
static void
tallyd_start(struct tallyd *t, struct ev_loop *loop)
{
	struct gatherer_config	*cfg = &t->cfg;
	char			 err[TALLY_ERRLEN];

	cfg->listen_host = strcmp(t->lhost, "*") == 0 ? "0.0.0.0" : t->lhost;
	cfg->listen_port = t->lport;
	cfg->secret = t->secret;
	cfg->tls_key = t->plaintext ? NULL : t->key;
	cfg->tls_cert = t->plaintext ? NULL : t->cert;
	cfg->statsfile = t->statsfile;
	cfg->basedir = t->basedir;
	/* A healthy node is silent between polls: that is not idleness. */
	if (cfg->idle_timeout <= 1.5 * cfg->interval + cfg->poll_timeout)
		gatherer_log("warning: --idle-timeout %g s is not above 1.5 x "
		    "the interval plus the poll timeout (%g s): healthy nodes "
		    "will be dropped between polls",
		    cfg->idle_timeout, 1.5 * cfg->interval + cfg->poll_timeout);
	err[0] = '\0';
	if (gatherer_new(&tallyd_g, loop, cfg, err, sizeof err) != 0) {
		/* An address no -l named: say where it came from. */
		if (t->lfrom != NULL && strncmp(err, "cannot listen", 13) == 0)
			tallyd_die("%s (the address of %s: -l ADDR:PORT to "
			    "listen elsewhere)", err, t->lfrom);
		tallyd_die("%s", err);
	}
	gatherer_address(tallyd_g, t->bhost, sizeof t->bhost, t->bport,
	    sizeof t->bport);
	/* Nothing was accepted yet: the loop has not run. */
	if (t->plaintext && !furl_host_loopback(t->bhost))
		tallyd_die("--plaintext is for loopback only, and %s%s%s:%s is "
		    "not: leave --plaintext out for TLS", strchr(t->bhost,
		    ':') ? "[" : "", t->bhost, strchr(t->bhost, ':') ? "]" : "",
		    t->bport);
}

/*
 * The host the furl names: what nodes dial, the address as given (a name
 * stays a name).  A wildcard address cannot be dialled, so this machine's
 * name goes in the furl, and the bind address in BASEDIR/listen for later
 * runs.
 */
static void
tallyd_furl_host(struct tallyd *t, struct furl *f)
{
	char	 name[256], lline[300], lpath[4096];

	if (!tallyd_wildcard(t->lhost)) {
		snprintf(f->host, sizeof f->host, "%s", t->lhost);
		if (t->lfile != NULL) {
			snprintf(lpath, sizeof lpath, "%s/%s", t->basedir,
			    BASEDIR_LISTEN);
			unlink(lpath);
		}
		return;
	}
	if (gethostname(name, sizeof name) != 0 || name[0] == '\0')
		snprintf(name, sizeof name, "%s", t->bhost);
	name[sizeof name - 1] = '\0';
	snprintf(f->host, sizeof f->host, "%s", name);
	snprintf(lline, sizeof lline, "%s%s%s:%s",
	    strchr(t->cfg.listen_host, ':') ? "[" : "", t->cfg.listen_host,
	    strchr(t->cfg.listen_host, ':') ? "]" : "", t->bport);
	if (t->lfile == NULL || strcmp(t->lfile, lline) != 0)
		basedir_write(t->basedir, BASEDIR_LISTEN, lline);
}

/*
 * The furl, with the port actually bound: written and printed when it is
 * new, else named with its fingerprint only.
 */
static void
tallyd_furl(struct tallyd *t)
{
	struct furl	 f, check;
	char		 furl[512], ferr[TALLY_ERRLEN], *line;

	memset(&f, 0, sizeof f);
	snprintf(f.port, sizeof f.port, "%s", t->bport);
	snprintf(f.secret, sizeof f.secret, "%s", t->secret);
	snprintf(f.fingerprint, sizeof f.fingerprint, "%s",
	    gatherer_fingerprint(tallyd_g));
	tallyd_furl_host(t, &f);
	if (furl_fmt(furl, sizeof furl, &f) < 0)
		tallyd_die("the furl is too long");
	/* Never hand out (or keep) a furl that nodes, or we, would refuse. */
	if (furl_parse_flags(furl, FURL_F_ANYHOST, &check, ferr,
	    sizeof ferr) != 0)
		tallyd_die("the furl for host '%s' would not parse "
		    "(%s): give -l a name or address nodes can dial",
		    f.host, ferr);
	explicit_bzero(&check, sizeof check);
	if (t->have_furl && strcmp(t->old.fingerprint, f.fingerprint) != 0)
		gatherer_log("the furl changed (%s): every node needs the new "
		    "one, and one with the old furl is refused",
		    f.fingerprint[0] == '\0' ? "now plaintext" :
		    t->old.fingerprint[0] == '\0' ? "now TLS" :
		    "a new certificate");
	/*
	 * The furl holds the secret: it is printed once, when it is made
	 * (or changes), for whoever set tallyd up; later starts name its
	 * file and fingerprint, so that no log or journal keeps it.
	 */
	line = basedir_read(t->basedir, BASEDIR_FURL);
	if (line == NULL || strcmp(line, furl) != 0) {
		basedir_write(t->basedir, BASEDIR_FURL, furl);
		printf("%s\n", furl);
		fflush(stdout);
	} else
		gatherer_log("the furl is in %s/%s (%s%s)", t->basedir,
		    BASEDIR_FURL, f.fingerprint[0] != '\0' ?
		    "certificate fingerprint " : "plaintext", f.fingerprint);
	if (line != NULL)
		explicit_bzero(line, strlen(line));
	free(line);
	explicit_bzero(furl, sizeof furl);
}

int
main(int argc, char **argv)
{
	struct tallyd	 t;
	struct ev_loop	*loop;
	ev_signal	 sigterm, sigint, sighup;
	char		*dflt = NULL;

	/* http.c's reader: tallyd again, in a process of its own. */
	if (argc > 1 && strcmp(argv[1], "--http-reader") == 0)
		return http_reader_main(argc, argv);
	memset(&t, 0, sizeof t);
	tallyd_args(&t, argc, argv);
	/*
	 * 0750, not 0700: the default statsfile lives inside, and its
	 * readers (the munin plugin, group tally) must reach it.  The furl
	 * is the secret, and it is 0600 itself.
	 */
	basedir_mkdir("BASEDIR", t.basedir, 0750);
	tallyd_where(&t);
	if (!t.plaintext)
		basedir_identity(t.basedir, t.key, sizeof t.key, t.cert,
		    sizeof t.cert);
	if (t.statsfile == NULL) {
		if (asprintf(&dflt, "%s/stats", t.basedir) < 0)
			tallyd_die("out of memory");
		t.statsfile = dflt;
	}
	/* Setgid, so the environment's files keep the directory's group. */
	basedir_mkdir("statsfile", t.statsfile, 02770);

	signal(SIGPIPE, SIG_IGN);
	/*
	 * A statsfile that reaches a file-size limit (ulimit -f) fails its
	 * write with EFBIG, which the store reports, rather than killing
	 * the gatherer and every connection with it.
	 */
	signal(SIGXFSZ, SIG_IGN);
	tallyd_rlimit(t.cfg.max_connections + (t.http != NULL ? HTTP_FDS : 0));
	/*
	 * Not libev's default loop: that one reaps every child with
	 * waitpid(-1), and http.c's readers are children whose status (and
	 * pid, until reaped) must stay http.c's own.
	 */
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL)
		tallyd_die("cannot create the event loop");
	/*
	 * Before the furl is printed: whoever reads it may signal at once,
	 * and a signal caught early waits in the loop until it runs.
	 */
	ev_signal_init(&sigterm, tallyd_signal_cb, SIGTERM);
	ev_signal_init(&sigint, tallyd_signal_cb, SIGINT);
	/* No configuration to reload: a hangup stops cleanly, not abruptly. */
	ev_signal_init(&sighup, tallyd_signal_cb, SIGHUP);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sighup);

	tallyd_start(&t, loop);
	if (t.http != NULL) {
		char	 err[TALLY_ERRLEN];
		struct http *h;

		if (http_new(&h, tallyd_g, t.hhost, t.hport, err,
		    sizeof err) != 0)
			tallyd_die("%s", err);
		tallyd_g->http = h;
	}
	tallyd_furl(&t);
	free(t.lfile);
	explicit_bzero(t.secret, sizeof t.secret);
	gatherer_log("listening on %s%s%s:%s (%s), polling every %g s, "
	    "writing %s", strchr(t.bhost, ':') ? "[" : "", t.bhost,
	    strchr(t.bhost, ':') ? "]" : "", t.bport, t.plaintext ?
	    "plaintext, loopback only" : "TLS 1.3", t.cfg.interval,
	    t.statsfile);
	if (tallyd_g->http != NULL)
		gatherer_log("http: listening on %s",
		    http_where(tallyd_g->http));

	gatherer_run(tallyd_g);
	ev_signal_stop(loop, &sigterm);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sighup);
	gatherer_free(tallyd_g);
	ev_loop_destroy(loop);
	free(dflt);
	return 0;
}
