/*
 * tallyd.c: the gatherer's main: options, the base directory and its furl,
 * signals.  The gatherer itself is gatherer.c.
 *
 * BASEDIR holds:
 *	stats_gatherer.furl	tally+tls://FINGERPRINT@HOST:PORT/SECRET (or
 *				tally://HOST:PORT/SECRET with --plaintext),
 *				mode 0600: the capability that nodes need to
 *				provide stats
 *	tallyd.key		the gatherer's private key (Ed25519, PEM), 0600
 *	tallyd.crt		its self-signed certificate (PEM), 0600, whose
 *				SHA-256 is the furl's FINGERPRINT; both are
 *				made on the first TLS run and kept after
 *	node.id			the gatherer's own node id (its own stats)
 *	listen			ADDR:PORT, only when the furl's host is not
 *				the bound address (a wildcard listen, where
 *				the furl names this machine instead)
 *	stats/			the default statsfile, setgid 02770
 *
 * tallyd runs in the foreground and logs to stderr, as systemd wants.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
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
#define TALLYD_FURL		"stats_gatherer.furl"
#define TALLYD_KEY		"tallyd.key"
#define TALLYD_CERT		"tallyd.crt"
#define TALLYD_LISTEN		"listen"
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
	OPT_MAX_INPUT
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
	{ NULL, 0, NULL, 0 }
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
"              [--max-handshakes-per-addr N] [--max-nodes N]\n"
"              [--max-metrics N] [--max-frame BYTES] [--max-input BYTES]\n"
"              BASEDIR\n"
"\n"
"The tally gatherer: polls the nodes that connect with it and writes their\n"
"snapshots into STATSFILE.  It prints its furl once, when it makes it, and\n"
"keeps it in BASEDIR/" TALLYD_FURL ".  Nodes connect over TLS 1.3, check\n"
"the gatherer's certificate (BASEDIR/" TALLYD_CERT ") against the furl's\n"
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
"  -h, --help                  this text\n"
"  -V, --version               the version\n",
	    TALLYD_INTERVAL, TALLYD_MAX_CONNECTIONS, TALLYD_HANDSHAKE,
	    TALLYD_POLL_MAX);
}

static void
tallyd_die(const char *fmt, ...) TALLY_PRINTF(1, 2);

/* Start-up errors only: once serving, tallyd logs and carries on. */
static void
tallyd_die(const char *fmt, ...)
{
	char	 line[2048];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "tallyd: %s\n", line);
	exit(1);
}

/* Seconds: positive and finite, at most a day. */
static double
tallyd_seconds(const char *what, const char *s)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 ||
	    !(d > 0 && d <= 86400))
		tallyd_die("bad %s '%s' (seconds, more than 0, at most 86400)",
		    what, s);
	return d;
}

static unsigned
tallyd_count(const char *what, const char *s)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n == 0 ||
	    n > 1000000 || s[0] == '-')
		tallyd_die("bad %s '%s' (1 to 1000000)", what, s);
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
	if (*s == '\0' || s[0] == '-' || *end != '\0' || errno != 0 ||
	    n == 0 || n > (1UL << 40) >> shift)
		tallyd_die("bad %s '%s' (bytes, 1 to 2^40, with K, M or G)",
		    what, s);
	return (size_t)n << shift;
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
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p > 65535 ||
	    colon[1] == '-' || colon[1] == '+' || strlen(colon + 1) >= portlen)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, portlen, "%lu", p);
	return 0;
}

/* Create the last component of path with mode, if it is missing. */
static void
tallyd_mkdir(const char *what, const char *path, mode_t mode)
{
	struct stat	 sb;

	if (mkdir(path, mode) == 0) {
		/* mkdir() drops the setgid bit and obeys the umask. */
		if (chmod(path, mode) != 0)
			tallyd_die("%s %s: chmod: %s", what, path,
			    strerror(errno));
		return;
	}
	if (errno != EEXIST)
		tallyd_die("%s %s: cannot create it: %s", what, path,
		    strerror(errno));
	if (stat(path, &sb) != 0)
		tallyd_die("%s %s: %s", what, path, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		tallyd_die("%s %s: not a directory", what, path);
}

/* Write dir/name as one line, mode 0600, atomically. */
static void
tallyd_write_file(const char *dir, const char *name, const char *line)
{
	char	 path[4096], tmp[4096];
	size_t	 len = strlen(line);
	int	 fd, dfd;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
	    sizeof path ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.%ld", dir, name,
	    (long)getpid()) >= sizeof tmp)
		tallyd_die("%s/%s: path too long", dir, name);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0)
		tallyd_die("%s: %s", tmp, strerror(errno));
	if (fchmod(fd, 0600) != 0 ||
	    write(fd, line, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		tallyd_die("%s: %s", tmp, strerror(e));
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		tallyd_die("%s: %s", path, strerror(e));
	}
	/* The rename itself must survive a crash. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

/* The first line of dir/name, or NULL if there is no such file. */
static char *
tallyd_read_file(const char *dir, const char *name)
{
	char	 err[TALLY_ERRLEN], *line;
	int	 rc;

	rc = nodedir_read_line(dir, name, &line, err, sizeof err);
	if (rc == TALLY_ENOTFOUND)
		return NULL;
	if (rc == TALLY_ENOMEM)
		tallyd_die("out of memory");
	if (rc != 0)
		tallyd_die("%s", err);
	return line;
}

/*
 * The furl is a capability, and the key an identity: each must be a
 * regular file of tallyd's own user, mode 0600 or narrower.  Anything
 * else is refused, not fixed: a key that others could read may have been
 * read, and only the operator can say whether to make a new one.
 */
static void
tallyd_private(const char *dir, const char *name)
{
	char		 path[4096];
	struct stat	 sb;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT)
			return;
		tallyd_die("%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		tallyd_die("%s is not a regular file (a symlink, say): "
		    "refused", path);
	if (sb.st_uid != geteuid())
		tallyd_die("%s is owned by uid %lu, not by tallyd's user (uid "
		    "%lu): refused; chown it, or run tallyd as its owner",
		    path, (unsigned long)sb.st_uid, (unsigned long)geteuid());
	if ((sb.st_mode & 07177) != 0)
		tallyd_die("%s has mode %04o, wider than 0600: refused, since "
		    "others may have read it; chmod 600 it if they cannot "
		    "have, else make a new %s", path,
		    (unsigned)(sb.st_mode & 07777), strcmp(name, TALLYD_KEY)
		    == 0 ? "identity (remove " TALLYD_KEY " and " TALLYD_CERT
		    ")" : "secret (remove the furl file)");
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

/* Whether dir/name exists; dies on anything but "no such file". */
static int
tallyd_exists(const char *dir, const char *name)
{
	char		 path[4096];
	struct stat	 sb;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (stat(path, &sb) == 0)
		return 1;
	if (errno != ENOENT)
		tallyd_die("%s: %s", path, strerror(errno));
	return 0;
}

/*
 * The gatherer's TLS identity: made on the first run, kept after.  Half
 * of one is refused rather than completed: a new key or certificate is a
 * new fingerprint, hence a new furl for every node, which is the
 * operator's call (remove both files to rotate).
 */
static void
tallyd_identity(const char *basedir, char *key, size_t keylen, char *cert,
    size_t certlen)
{
	char	 fp[FURL_FP_LEN + 1], err[TALLY_ERRLEN];
	int	 have_key, have_cert;

	if ((size_t)snprintf(key, keylen, "%s/%s", basedir, TALLYD_KEY) >=
	    keylen || (size_t)snprintf(cert, certlen, "%s/%s", basedir,
	    TALLYD_CERT) >= certlen)
		tallyd_die("BASEDIR %s: path too long", basedir);
	have_key = tallyd_exists(basedir, TALLYD_KEY);
	have_cert = tallyd_exists(basedir, TALLYD_CERT);
	if (have_key && have_cert) {
		tallyd_private(basedir, TALLYD_KEY);
		return;
	}
	if (have_key || have_cert)
		tallyd_die("%s exists but %s does not: restore it, or remove "
		    "%s too for a new identity (and a new furl, which every "
		    "node then needs)", have_key ? key : cert,
		    have_key ? cert : key, have_key ? key : cert);
	if (tls_identity_create(key, cert, fp, sizeof fp, err,
	    sizeof err) != 0)
		tallyd_die("cannot make the TLS identity: %s", err);
	fprintf(stderr, "tallyd: made a new TLS identity: %s and %s, "
	    "certificate fingerprint %s\n", key, cert, fp);
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
		fprintf(stderr, "tallyd: warning: the open files limit (%llu) "
		    "is below --max-connections %u plus %d; accepting pauses "
		    "at the limit\n", (unsigned long long)rl.rlim_cur,
		    max_connections, TALLYD_FD_SPARE);
}

static void
tallyd_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	fprintf(stderr, "tallyd: %s: stopping\n", strsignal(w->signum));
	gatherer_shutdown(tallyd_g);
}

int
main(int argc, char **argv)
{
	struct gatherer_config	 cfg;
	struct furl		 old, f;
	struct ev_loop		*loop;
	ev_signal		 sigterm, sigint, sighup;
	char			 lhost[256], lport[8], bhost[INET6_ADDRSTRLEN];
	char			 bport[8], furl[512], err[TALLY_ERRLEN];
	char			 secret[WIRE_SECRET_MAX + 1], *line, *lfile;
	char			 key[4096], cert[4096];
	char			*statsfile = NULL, *dflt = NULL;
	const char		*basedir, *listen = NULL;
	double			 interval = TALLYD_INTERVAL, poll = 0, idle = 0;
	double			 handshake = TALLYD_HANDSHAKE;
	unsigned		 maxconn = TALLYD_MAX_CONNECTIONS;
	unsigned		 tls_threads = 0;	/* gatherer.c decides */
	unsigned		 hs_per_addr = 0, max_nodes = 0;
	unsigned		 max_metrics = 0;
	size_t			 max_frame = 0, max_input = 0;
	double			 first_flight = 0;
	int			 ch, verbose = 0, have_furl = 0, rc;
	int			 plaintext = 0;

	while ((ch = getopt_long(argc, argv, "l:i:s:vhV", tallyd_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'i':
			interval = tallyd_seconds("interval", optarg);
			break;
		case 's':
			statsfile = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("tallyd (%s)\n", tally_version(NULL, NULL,
			    NULL));
			return 0;
		case OPT_MAX_CONNECTIONS:
			maxconn = tallyd_count("max-connections", optarg);
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			handshake = tallyd_seconds("handshake timeout", optarg);
			break;
		case OPT_POLL_TIMEOUT:
			poll = tallyd_seconds("poll timeout", optarg);
			break;
		case OPT_IDLE_TIMEOUT:
			idle = tallyd_seconds("idle timeout", optarg);
			break;
		case OPT_PLAINTEXT:
			plaintext = 1;
			break;
		case OPT_TLS_THREADS:
			if ((tls_threads = tallyd_count("tls-threads",
			    optarg)) > 8)
				tallyd_die("bad tls-threads '%s' (1 to 8)",
				    optarg);
			break;
		case OPT_FIRST_FLIGHT:
			first_flight = tallyd_seconds("first flight timeout",
			    optarg);
			break;
		case OPT_MAX_HS_PER_ADDR:
			hs_per_addr = tallyd_count("max-handshakes-per-addr",
			    optarg);
			break;
		case OPT_MAX_NODES:
			max_nodes = tallyd_count("max-nodes", optarg);
			break;
		case OPT_MAX_METRICS:
			max_metrics = tallyd_count("max-metrics", optarg);
			break;
		case OPT_MAX_FRAME:
			max_frame = tallyd_bytes("max-frame", optarg);
			break;
		case OPT_MAX_INPUT:
			max_input = tallyd_bytes("max-input", optarg);
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "tallyd: %s\n", argc == optind ?
		    "BASEDIR is missing" : "too many arguments");
		usage(stderr);
		return 1;
	}
	basedir = argv[optind];
	if (*basedir == '\0')
		tallyd_die("BASEDIR is empty");
	if (poll == 0)
		poll = interval / 2 < TALLYD_POLL_MAX ? interval / 2 :
		    TALLYD_POLL_MAX;
	if (idle == 0)
		idle = 2 * interval + poll;
	if (listen != NULL && tallyd_split(listen, lhost, sizeof lhost, lport,
	    sizeof lport) != 0)
		tallyd_die("bad listen address '%s' (ADDR:PORT, or "
		    "[ADDR6]:PORT)", listen);
	if (listen != NULL && plaintext)
		tallyd_plaintext_host(lhost, "-l");

	/*
	 * 0750, not 0700: the default statsfile lives inside, and its
	 * readers (the munin plugin, group tally) must reach it.  The furl
	 * is the secret, and it is 0600 itself.
	 */
	tallyd_mkdir("BASEDIR", basedir, 0750);

	tallyd_private(basedir, TALLYD_FURL);
	/*
	 * The furl of an earlier run: its secret, and its address.  It is
	 * ours, so a plaintext furl beyond loopback (of a release before
	 * TLS) still gives them.
	 */
	if ((line = tallyd_read_file(basedir, TALLYD_FURL)) != NULL) {
		if (furl_parse_flags(line, FURL_F_ANYHOST, &old, err,
		    sizeof err) != 0)
			tallyd_die("%s/%s: %s (fix or remove it; removing it "
			    "makes a new secret, and nodes need the new furl)",
			    basedir, TALLYD_FURL, err);
		explicit_bzero(line, strlen(line));
		free(line);
		have_furl = 1;
		snprintf(secret, sizeof secret, "%s", old.secret);
	} else if ((rc = furl_secret_new(secret, sizeof secret)) != 0)
		tallyd_die("cannot make a secret: %s", tally_strerror(rc));
	lfile = tallyd_read_file(basedir, TALLYD_LISTEN);
	if (listen == NULL) {
		if (lfile != NULL) {
			if (tallyd_split(lfile, lhost, sizeof lhost, lport,
			    sizeof lport) != 0)
				tallyd_die("%s/%s: bad address '%s'", basedir,
				    TALLYD_LISTEN, lfile);
			if (plaintext)
				tallyd_plaintext_host(lhost, "the address in "
				    "BASEDIR/" TALLYD_LISTEN);
		} else if (have_furl) {
			snprintf(lhost, sizeof lhost, "%s", old.host);
			snprintf(lport, sizeof lport, "%s", old.port);
			if (plaintext)
				tallyd_plaintext_host(lhost, "the host of "
				    "BASEDIR/" TALLYD_FURL);
		} else {
			snprintf(lhost, sizeof lhost, TALLYD_DEFAULT_HOST);
			snprintf(lport, sizeof lport, TALLYD_DEFAULT_PORT);
		}
	}

	if (!plaintext)
		tallyd_identity(basedir, key, sizeof key, cert, sizeof cert);

	if (statsfile == NULL) {
		if (asprintf(&dflt, "%s/stats", basedir) < 0)
			tallyd_die("out of memory");
		statsfile = dflt;
	}
	/* Setgid, so the environment's files keep the directory's group. */
	tallyd_mkdir("statsfile", statsfile, 02770);

	signal(SIGPIPE, SIG_IGN);
	/*
	 * A statsfile that reaches a file-size limit (ulimit -f) fails its
	 * write with EFBIG, which the store reports, rather than killing
	 * the gatherer and every connection with it.
	 */
	signal(SIGXFSZ, SIG_IGN);
	tallyd_rlimit(maxconn);
	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
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

	memset(&cfg, 0, sizeof cfg);
	cfg.listen_host = strcmp(lhost, "*") == 0 ? "0.0.0.0" : lhost;
	cfg.listen_port = lport;
	cfg.secret = secret;
	cfg.tls_key = plaintext ? NULL : key;
	cfg.tls_cert = plaintext ? NULL : cert;
	cfg.statsfile = statsfile;
	cfg.basedir = basedir;
	cfg.interval = interval;
	cfg.poll_timeout = poll;
	cfg.handshake_timeout = handshake;
	cfg.idle_timeout = idle;
	cfg.max_connections = maxconn;
	cfg.tls_threads = tls_threads;
	cfg.first_flight_timeout = first_flight;
	cfg.max_handshakes_per_addr = hs_per_addr;
	cfg.max_nodes = max_nodes;
	cfg.max_metrics = max_metrics;
	cfg.max_frame = max_frame;
	cfg.max_input = max_input;
	/* A healthy node is silent between polls: that is not idleness. */
	if (idle <= 1.5 * interval + poll)
		fprintf(stderr, "tallyd: warning: --idle-timeout %g s is not "
		    "above 1.5 x the interval plus the poll timeout (%g s): "
		    "healthy nodes will be dropped between polls\n", idle,
		    1.5 * interval + poll);
	cfg.verbose = verbose;
	err[0] = '\0';
	if (gatherer_new(&tallyd_g, loop, &cfg, err, sizeof err) != 0)
		tallyd_die("%s", err);
	gatherer_address(tallyd_g, bhost, sizeof bhost, bport, sizeof bport);
	/* Nothing was accepted yet: the loop has not run. */
	if (plaintext && !furl_host_loopback(bhost))
		tallyd_die("--plaintext is for loopback only, and %s%s%s:%s is "
		    "not: leave --plaintext out for TLS", strchr(bhost, ':') ?
		    "[" : "", bhost, strchr(bhost, ':') ? "]" : "", bport);

	/*
	 * The furl names what nodes dial: the address as given (a name
	 * stays a name), with the port actually bound.  A wildcard address
	 * cannot be dialled, so this machine's name goes in the furl, and
	 * the bind address in BASEDIR/listen for later runs.
	 */
	memset(&f, 0, sizeof f);
	snprintf(f.port, sizeof f.port, "%s", bport);
	snprintf(f.secret, sizeof f.secret, "%s", secret);
	snprintf(f.fingerprint, sizeof f.fingerprint, "%s",
	    gatherer_fingerprint(tallyd_g));
	if (tallyd_wildcard(lhost)) {
		char	 name[256], lline[300];
		if (gethostname(name, sizeof name) != 0 || name[0] == '\0')
			snprintf(name, sizeof name, "%s", bhost);
		name[sizeof name - 1] = '\0';
		snprintf(f.host, sizeof f.host, "%s", name);
		snprintf(lline, sizeof lline, "%s%s%s:%s",
		    strchr(cfg.listen_host, ':') ? "[" : "", cfg.listen_host,
		    strchr(cfg.listen_host, ':') ? "]" : "", bport);
		if (lfile == NULL || strcmp(lfile, lline) != 0)
			tallyd_write_file(basedir, TALLYD_LISTEN, lline);
	} else {
		snprintf(f.host, sizeof f.host, "%s", lhost);
		if (lfile != NULL) {
			char	 lpath[4096];
			snprintf(lpath, sizeof lpath, "%s/%s", basedir,
			    TALLYD_LISTEN);
			unlink(lpath);
		}
	}
	if (furl_fmt(furl, sizeof furl, &f) < 0)
		tallyd_die("the furl is too long");
	/* Never hand out (or keep) a furl that nodes, or we, would refuse. */
	{
		struct furl	 check;
		char		 ferr[TALLY_ERRLEN];

		if (furl_parse_flags(furl, FURL_F_ANYHOST, &check, ferr,
		    sizeof ferr) != 0)
			tallyd_die("the furl for host '%s' would not parse "
			    "(%s): give -l a name or address nodes can dial",
			    f.host, ferr);
		explicit_bzero(&check, sizeof check);
	}
	if (have_furl && strcmp(old.fingerprint, f.fingerprint) != 0)
		fprintf(stderr, "tallyd: the furl changed (%s): every node "
		    "needs the new one, and one with the old furl is "
		    "refused\n", f.fingerprint[0] == '\0' ? "now plaintext" :
		    old.fingerprint[0] == '\0' ? "now TLS" :
		    "a new certificate");
	/*
	 * The furl holds the secret: it is printed once, when it is made
	 * (or changes), for whoever set tallyd up; later starts name its
	 * file and fingerprint, so that no log or journal keeps it.
	 */
	line = tallyd_read_file(basedir, TALLYD_FURL);
	if (line == NULL || strcmp(line, furl) != 0) {
		tallyd_write_file(basedir, TALLYD_FURL, furl);
		printf("%s\n", furl);
		fflush(stdout);
	} else
		fprintf(stderr, "tallyd: the furl is in %s/%s (%s%s)\n",
		    basedir, TALLYD_FURL, f.fingerprint[0] != '\0' ?
		    "certificate fingerprint " : "plaintext",
		    f.fingerprint);
	if (line != NULL)
		explicit_bzero(line, strlen(line));
	free(line);
	free(lfile);
	explicit_bzero(secret, sizeof secret);
	explicit_bzero(furl, sizeof furl);
	fprintf(stderr, "tallyd: listening on %s%s%s:%s (%s), polling every "
	    "%g s, writing %s\n", strchr(bhost, ':') ? "[" : "", bhost,
	    strchr(bhost, ':') ? "]" : "", bport, plaintext ?
	    "plaintext, loopback only" : "TLS 1.3", interval, statsfile);

	gatherer_run(tallyd_g);
	ev_signal_stop(loop, &sigterm);
	ev_signal_stop(loop, &sigint);
	ev_signal_stop(loop, &sighup);
	gatherer_free(tallyd_g);
	ev_loop_destroy(loop);
	free(dflt);
	return 0;
}
