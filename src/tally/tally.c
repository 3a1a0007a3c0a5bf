/*
 * tally.c: tally, the command line tool, in the manner of mdb_stat.
 *
 *	tally [-s STATSFILE] show [--json] [NODE...]
 *	tally [-s STATSFILE] export [--openmetrics | --prometheus] [-o FILE]
 *	tally [-s STATSFILE] prune --older-than DURATION [--dry-run]
 *	tally [-s STATSFILE] forget NODE...
 *	tally [-s STATSFILE] check
 *
 * The statsfile comes from -s (before or after the command), else the
 * environment variable statsfile (as munin's env.statsfile), else
 * TALLY_STATSFILE_DEFAULT.  Every command reads in one read transaction
 * through store.c; only prune and forget write, through
 * store_delete_slot_before and store_forget_key.  check
 * walks the pages in a forked child, so that damage LMDB dies of takes
 * down the child only.  A snapshot time that is not sane (record_time_sane,
 * tally(5)) is shown raw, never turned into an age.  Whatever comes from
 * outside (argv, the environment, the file) is quoted in messages.
 *
 * Exit status: 0 success, 1 failure (an unreadable database, an unknown
 * node, a node with no key to forget, a bad duration, problems found by
 * check), 2 a usage error (an invalid node id for forget among them).
 * Messages go to stderr, prefixed "tally: ".
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tally-int.h"

#define PROG			"tally"
#define TALLY_STATSFILE_DEFAULT	"/var/lib/tally/stats"
#define EXIT_FAIL		1
#define EXIT_USAGE		2
#define CHECK_SHOW_MAX		20	/* problems printed by check */
#define OBUF_SIZE		(1 << 20)
#define METRIC_PREFIX		"tally_"
#define METRIC_MAX		(sizeof METRIC_PREFIX - 1 + TALLY_STAT_NAME_MAX)
#define NODE_TIME_STAT		"node_last_snapshot_timestamp_seconds"
#define MSG_MAX			1024	/* a message line, at most */
#define CHECK_ERR_MAX		65536	/* a check walk's stderr, kept */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [-s STATSFILE] show [--json] [NODE...]\n"
"       " PROG " [-s STATSFILE] export [--openmetrics | --prometheus] "
"[-o FILE]\n"
"       " PROG " [-s STATSFILE] prune --older-than DURATION [--dry-run]\n"
"       " PROG " [-s STATSFILE] forget NODE...\n"
"       " PROG " [-s STATSFILE] check\n"
"       " PROG " -h | --version\n"
"\n"
"Reads the tally statsfile (an LMDB environment directory): -s, else the\n"
"environment variable statsfile, else " TALLY_STATSFILE_DEFAULT ".\n"
"\n"
"  show      a table of the nodes and their counters and stats, sorted by\n"
"            node id; --json for one JSON document; NODE... only those\n"
"  export    every node's metrics as OpenMetrics text (--openmetrics, the\n"
"            default) or Prometheus text format 0.0.4 (--prometheus);\n"
"            -o FILE writes FILE atomically (a temporary file, then rename)\n"
"  prune     remove the slots of nodes whose last snapshot is older than\n"
"            DURATION (90s, 15m, 12h, 7d, 2w, or seconds); --dry-run lists\n"
"            them only\n"
"  forget    forget the TLS key bound to each NODE, so that its next\n"
"            connection binds a new one (a node whose key changed)\n"
"  check     verify the database: format, keys, records and values\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error.  See tally(1).\n");
}

/*
 * Write one message line.  Untrusted parts are quoted (quote()) where they
 * are formatted; this is the last wall: a message is one bounded line, and
 * a control character that came through some other way (a path in a
 * store's message) is a '?', never a terminal's escape.
 */
static void
vmsg(const char *suffix, const char *fmt, va_list ap)
{
	char	 buf[MSG_MAX], *p;

	vsnprintf(buf, sizeof buf, fmt, ap);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, PROG ": %s%s\n", buf, suffix);
}

static void
warnmsg(const char *fmt, ...) TALLY_PRINTF(1, 2);

static void
warnmsg(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

static int
usage_error(const char *fmt, ...) TALLY_PRINTF(1, 2);

static int
usage_error(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vmsg(" (try '" PROG " -h')", fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/*
 * An argument, a path or anything else from outside, for a message:
 * error_quote()'s at most ERROR_QUOTE_MAX bytes, control characters
 * escaped.  buf holds ERROR_QUOTE_LEN bytes.
 */
static const char *
quote(char *buf, const char *s)
{
	return error_quote(buf, ERROR_QUOTE_LEN, s, strlen(s));
}

/* The statsfile, quoted once for every message that names it, and raw. */
static char	 qpath[ERROR_QUOTE_LEN] = TALLY_STATSFILE_DEFAULT;
static const char *rawpath = TALLY_STATSFILE_DEFAULT;

/* getopt_long said '?' or ':' (opterr is 0: the messages are ours). */
static int
bad_option(const char *cmd, int c, char **argv)
{
	const char	*what = c == ':' ? "missing argument for" :
	    "unknown option", *arg = argv[optind - 1];
	char		 opt[3] = { '-', (char)optopt, '\0' };
	char		 q[ERROR_QUOTE_LEN];

	if (optind > 1 && strncmp(arg, "--", 2) == 0)
		return usage_error("%s%s%s '%s'", cmd, *cmd ? ": " : "",
		    what, error_quote(q, sizeof q, arg, strcspn(arg, "=")));
	return usage_error("%s%s%s '%s'", cmd, *cmd ? ": " : "", what,
	    quote(q, opt));
}

/* The statsfile: -s, else $statsfile, else the default. */
static const char *
statsfile_path(const char *opt)
{
	const char	*env, *path = TALLY_STATSFILE_DEFAULT;

	if (opt != NULL)
		path = opt;
	else if ((env = getenv("statsfile")) != NULL && *env != '\0')
		path = env;
	quote(qpath, path);
	rawpath = path;
	return path;
}

/*
 * LMDB maps data.mdb: a truncated or damaged file shows as SIGBUS when a
 * page past its end is read.  Say so instead of dying silently, and leave
 * no temporary file of export behind.
 */
static const char	*sigbus_path = "the statsfile";
static size_t		 sigbus_pathlen = sizeof "the statsfile" - 1;
static const char	*sigbus_tmp;
static int		 sigbus_set;

static void
on_sigbus(int signo)
{
	static const char m1[] = PROG ": ", m2[] = ": bus error reading "
	    "data.mdb: the database is truncated or damaged (see tally(1))\n";

	if (sigbus_tmp != NULL)
		unlink(sigbus_tmp);
	if (write(STDERR_FILENO, m1, sizeof m1 - 1) > 0 &&
	    write(STDERR_FILENO, sigbus_path, sigbus_pathlen) > 0)
		(void)!write(STDERR_FILENO, m2, sizeof m2 - 1);
	_exit(EXIT_FAIL);
}

static int
store_open_msg(const char *path, int flags, struct store **st)
{
	struct sigaction sa;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	/*
	 * The handler writes what is quoted already: it may not format.
	 * Installed once, before the first open: libtally's own handler,
	 * installed by that open, catches the faults inside LMDB and hands
	 * every other one on to this.
	 */
	sigbus_path = qpath;
	sigbus_pathlen = strlen(qpath);
	if (!sigbus_set) {
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sigbus;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, NULL);
		sigbus_set = 1;
	}
	/* No path is that long; and its reason would be cut off. */
	if (strlen(path) >= PATH_MAX) {
		warnmsg("statsfile %s: %s", qpath, strerror(ENAMETOOLONG));
		return -1;
	}
	if ((rc = store_open(st, path, flags, err, sizeof err)) != 0) {
		warnmsg("%s", err);
		return -1;
	}
	return 0;
}

/* Open read-only, or say why not. */
static int
open_rdonly(const char *path, struct store **st)
{
	return store_open_msg(path, STORE_RDONLY, st);
}

/*
 * A read of the store failed.  A damaged store's own message says what is
 * wrong and what to do (store.c: LMDB asserted or faulted, or a page is
 * corrupt); anything else gets what we were doing and rc's reason.  The
 * caller then fails with EXIT_FAIL, having shown what it could.
 */
static void
read_failed(struct store *st, int rc, const char *what)
{
	const char	*dmg = st != NULL ? store_damage_msg(st) : NULL;

	if (dmg != NULL)
		warnmsg("%s", dmg);
	else
		warnmsg("%s: %s: %s", qpath, what, rc == TALLY_ENOMEM ?
		    "out of memory" : tally_strerror(rc));
}

static int
reader_begin(struct store *st, struct store_reader *r)
{
	char	 err[TALLY_ERRLEN];

	if (store_reader_begin(st, r, err, sizeof err) != 0) {
		warnmsg("%s", err);
		return -1;
	}
	return 0;
}

/* ---- text helpers ----------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s, or 0 if there is none. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char	 c = s[0], lo = 0x80, hi = 0xbf;
	size_t		 len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Characters (not bytes) a terminal shows for s, for column widths. */
static size_t
text_width(const char *s, size_t n)
{
	size_t	 i, w = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			w++;
	return w;
}

/* Print s with control characters as '?': a record is not a terminal. */
static void
put_clean(FILE *f, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		putc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

/*
 * A printable, bounded rendering of an arbitrary key or value read from
 * the database, for messages: error_quote()'s, as for every other
 * untrusted text, cut to fit size.
 */
static const char *
esc(char *buf, size_t size, const void *data, size_t n)
{
	return error_quote(buf, size, data, n);
}

/* "12s", "3m", "2h", "4d": how long ago a snapshot was taken. */
static const char *
fmt_age(char *buf, size_t size, int64_t secs)
{
	const char	*sign = secs < 0 ? "-" : "";
	uint64_t	 a = secs < 0 ? -(uint64_t)secs : (uint64_t)secs;

	if (a < 60)
		snprintf(buf, size, "%s%" PRIu64 "s", sign, a);
	else if (a < 3600)
		snprintf(buf, size, "%s%" PRIu64 "m", sign, a / 60);
	else if (a < 86400)
		snprintf(buf, size, "%s%" PRIu64 "h", sign, a / 3600);
	else
		snprintf(buf, size, "%s%" PRIu64 "d", sign, a / 86400);
	return buf;
}

/*
 * A duration: decimal digits and an optional unit, s m h d or w.  Returns
 * 0 and the seconds, or -1.
 */
static int
parse_duration(const char *s, int64_t *out)
{
	static const struct {
		char	 unit;
		int64_t	 secs;
	} units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 7 * 86400 },
	};
	int64_t	 v = 0, mult = 1;
	size_t	 i;

	if (!(*s >= '0' && *s <= '9'))
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (*s != '\0') {
		for (i = 0; i < sizeof units / sizeof units[0]; i++)
			if (*s == units[i].unit)
				break;
		if (i == sizeof units / sizeof units[0] || s[1] != '\0')
			return -1;
		mult = units[i].secs;
	}
	/* Past a thousand years "older than" means nothing any more. */
	if (v > (INT64_C(1000) * 366 * 86400) / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* JSON's number grammar; stored doubles may be looser ("5.", "+1"). */
static int
json_number_valid(const char *s, size_t n)
{
	size_t	 i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	return i == n;
}

/* A JSON string: escapes, control characters, U+FFFD for bad UTF-8. */
static void
json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, l;

	putc('"', f);
	for (i = 0; i < n; i += l) {
		unsigned char c = p[i];

		l = 1;
		switch (c) {
		case '"':	fputs("\\\"", f); continue;
		case '\\':	fputs("\\\\", f); continue;
		case '\n':	fputs("\\n", f); continue;
		case '\r':	fputs("\\r", f); continue;
		case '\t':	fputs("\\t", f); continue;
		case '\b':	fputs("\\b", f); continue;
		case '\f':	fputs("\\f", f); continue;
		}
		if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
			continue;
		}
		if ((l = utf8_len(p + i, n - i)) == 0) {
			fputs("\\ufffd", f);
			l = 1;
			continue;
		}
		fwrite(p + i, 1, l, f);
	}
	putc('"', f);
}

/* ---- reading a node's slot -------------------------------------------- */

/* One counter or stat of a node, pointing into the read transaction. */
struct kv {
	const char	*name;
	size_t		 nlen;
	const char	*val;
	size_t		 vlen;
	int		 counter;
	int64_t		 i;
	double		 d;
};

struct slot {
	const char	*node;
	size_t		 nodelen;
	struct kv	*kv;
	size_t		 n, cap;
	size_t		 bad;		/* unreadable entries skipped */
	size_t		 badtotal;	/* over all nodes */
	int		 counter;	/* the table being scanned */
	int		 enomem;
};

static int
slot_cb(void *ctx, const char *name, size_t nlen, const char *val,
    size_t vlen)
{
	struct slot	*sl = ctx;
	struct kv	*kv;
	char		 b1[80], b2[80];
	int		 rc;

	if (sl->n == sl->cap) {
		size_t cap = sl->cap ? sl->cap * 2 : 64;
		if ((kv = realloc(sl->kv, cap * sizeof *kv)) == NULL) {
			sl->enomem = 1;
			return TALLY_ENOMEM;
		}
		sl->kv = kv;
		sl->cap = cap;
	}
	kv = &sl->kv[sl->n];
	kv->counter = sl->counter;
	rc = sl->counter ? record_parse_int64(val, vlen, &kv->i) :
	    record_parse_double(val, vlen, &kv->d);
	if (!name_stat_valid(name, nlen) || rc != 0) {
		sl->badtotal++;
		if (sl->bad++ == 0)
			warnmsg("node %.*s: skipping unreadable %s '%s' = '%s' "
			    "(run tally check)", (int)sl->nodelen, sl->node,
			    sl->counter ? "counter" : "stat",
			    esc(b1, sizeof b1, name, nlen),
			    esc(b2, sizeof b2, val, vlen));
		return 0;
	}
	kv->name = name;
	kv->nlen = nlen;
	kv->val = val;
	kv->vlen = vlen;
	sl->n++;
	return 0;
}

/* A node's counters then stats, into sl->kv. */
static int
slot_read(struct store_reader *r, struct slot *sl, const char *node,
    size_t nlen)
{
	char	 what[TALLY_NODE_ID_MAX + 32];
	int	 rc;

	sl->node = node;
	sl->nodelen = nlen;
	sl->n = 0;
	sl->bad = 0;
	sl->counter = 1;
	if ((rc = store_reader_scan(r, STORE_COUNTERS, node, nlen, slot_cb,
	    sl)) == 0) {
		sl->counter = 0;
		rc = store_reader_scan(r, STORE_STATS, node, nlen, slot_cb,
		    sl);
	}
	if (rc != 0) {
		snprintf(what, sizeof what, "reading node %.*s", (int)nlen,
		    node);
		read_failed(r->st, sl->enomem ? TALLY_ENOMEM : rc, what);
	}
	return rc;
}

/* A node of the nodes table: its key and parsed record. */
struct node {
	const char		*id;
	size_t			 idlen;
	struct record_node	 rec;
};

/*
 * Read the nodes table: every node with a valid id and record into *out
 * (in id order), each other one reported.  With want, only the nodes
 * named there, marking found[] for each name matched.
 */
static int
nodes_read(struct store_reader *r, struct node **out, size_t *nout,
    char **want, int nwant, char *found, size_t *skipped)
{
	struct node	*nodes = NULL, *nn;
	size_t		 n = 0, cap = 0;
	MDB_val		 k, v;
	char		 err[128], b[80];
	int		 rc, i, match;

	while ((rc = store_reader_next(r, &k, &v)) == 1) {
		match = nwant == 0;
		for (i = 0; i < nwant; i++) {
			if (strlen(want[i]) == k.mv_size &&
			    memcmp(want[i], k.mv_data, k.mv_size) == 0) {
				found[i] = 1;
				match = 1;
			}
		}
		if (!match)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nn = realloc(nodes, cap * sizeof *nn)) == NULL) {
				warnmsg("out of memory");
				free(nodes);
				return -1;
			}
			nodes = nn;
		}
		if (!name_node_id_valid(k.mv_data, k.mv_size)) {
			warnmsg("%s: skipping node '%s': not a valid node id "
			    "(run tally check)", qpath,
			    esc(b, sizeof b, k.mv_data, k.mv_size));
			(*skipped)++;
			continue;
		}
		if (record_node_parse(v.mv_data, v.mv_size, &nodes[n].rec, err,
		    sizeof err) != 0) {
			(*skipped)++;
			warnmsg("%s: skipping node %.*s: %s (run tally check)",
			    qpath, (int)k.mv_size,
			    (const char *)k.mv_data, err);
			continue;
		}
		nodes[n].id = k.mv_data;
		nodes[n].idlen = k.mv_size;
		n++;
	}
	if (rc < 0) {
		read_failed(r->st, rc, "reading the nodes table");
		free(nodes);
		return -1;
	}
	*out = nodes;
	*nout = n;
	return 0;
}

/* ---- show ------------------------------------------------------------- */

/*
 * The AGE column: the age of a sane time (tally(5)), else the raw time
 * and why no age is given, for an age of INT64_MIN or of 2100 means
 * nothing.
 */
static const char *
node_age(char *buf, size_t size, const struct record_node *rec, time_t now)
{
	if (!record_time_sane(rec->time, now)) {
		snprintf(buf, size, "time %" PRId64 " out of range", rec->time);
		return buf;
	}
	return fmt_age(buf, size, record_time_age(now, rec->time));
}

/* The table; 0, or -1 if a slot could not be read. */
static int
show_table(struct store_reader *r, const struct node *nodes, size_t n,
    struct slot *sl, time_t now)
{
	size_t	 i, j, wid = 4, wnick = 8, wage = 3, w, wname, wval;
	char	 age[64];

	if (n == 0) {
		printf("no nodes in %s\n", qpath);
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct node *nd = &nodes[i];
		if (nd->idlen > wid)
			wid = nd->idlen;
		w = text_width(nd->rec.nickname, strlen(nd->rec.nickname));
		if (w > wnick)
			wnick = w;
		w = strlen(node_age(age, sizeof age, &nd->rec, now));
		if (w > wage)
			wage = w;
	}
	printf("%-*s  %-*s  %-*s  %s\n", (int)wid, "NODE", (int)wnick,
	    "NICKNAME", (int)wage, "AGE", "SOURCE");
	for (i = 0; i < n; i++) {
		const struct node *nd = &nodes[i];
		const char *nick = nd->rec.nickname;
		size_t nlen = strlen(nick);

		printf("%-*.*s  ", (int)wid, (int)nd->idlen, nd->id);
		put_clean(stdout, nick, nlen);
		printf("%*s  %-*s  ", (int)(wnick - text_width(nick, nlen)),
		    "", (int)wage, node_age(age, sizeof age, &nd->rec, now));
		put_clean(stdout, nd->rec.source, strlen(nd->rec.source));
		putchar('\n');
	}
	for (i = 0; i < n; i++) {
		const struct node *nd = &nodes[i];

		if (slot_read(r, sl, nd->id, nd->idlen) != 0)
			return -1;
		printf("\n%.*s (", (int)nd->idlen, nd->id);
		put_clean(stdout, nd->rec.nickname, strlen(nd->rec.nickname));
		printf(")\n");
		/* Its own line: a fingerprint would make the table too wide. */
		printf("  %-7s  %s\n", "key", nd->rec.key[0] != '\0' ?
		    nd->rec.key : "-");
		if (sl->n == 0)
			printf("  no counters or stats\n");
		wname = wval = 1;
		for (j = 0; j < sl->n; j++) {
			if (sl->kv[j].nlen > wname)
				wname = sl->kv[j].nlen;
			if (sl->kv[j].vlen > wval)
				wval = sl->kv[j].vlen;
		}
		for (j = 0; j < sl->n; j++) {
			const struct kv *kv = &sl->kv[j];
			printf("  %-7s  %-*.*s  %*.*s\n", kv->counter ?
			    "counter" : "stat", (int)wname, (int)kv->nlen,
			    kv->name, (int)wval, (int)kv->vlen, kv->val);
		}
	}
	return 0;
}

/* A "counters" or "stats" object: numbers, null for NaN and Inf. */
static void
json_kvs(const struct slot *sl, int counter)
{
	char	 num[RECORD_NUMLEN];
	size_t	 j, k = 0, len;

	printf("{");
	for (j = 0; j < sl->n; j++) {
		const struct kv *kv = &sl->kv[j];
		if (kv->counter != counter)
			continue;
		printf(k++ ? ",\n        " : "\n        ");
		json_str(stdout, kv->name, kv->nlen);
		printf(": ");
		if (counter) {
			len = record_fmt_int64(num, kv->i);
			fwrite(num, 1, len, stdout);
		} else if (!isfinite(kv->d))
			printf("null");
		else if (json_number_valid(kv->val, kv->vlen))
			fwrite(kv->val, 1, kv->vlen, stdout);
		else {
			len = record_fmt_double(num, kv->d);
			fwrite(num, 1, len, stdout);
		}
	}
	printf(k ? "\n      }" : "}");
}

/* One JSON document; 0, or -1 if a slot could not be read. */
static int
show_json(struct store_reader *r, const struct node *nodes, size_t n,
    struct slot *sl, time_t now)
{
	const char	*path = rawpath;	/* JSON escapes it itself */
	char		 num[RECORD_NUMLEN];
	size_t		 i;

	printf("{\n  \"statsfile\": ");
	json_str(stdout, path, strlen(path));
	printf(",\n  \"format\": %d,\n  \"time\": %lld,\n  \"nodes\": [",
	    TALLY_DB_FORMAT, (long long)now);
	for (i = 0; i < n; i++) {
		const struct node *nd = &nodes[i];

		if (slot_read(r, sl, nd->id, nd->idlen) != 0)
			return -1;
		printf("%s\n    {\n      \"id\": ", i ? "," : "");
		json_str(stdout, nd->id, nd->idlen);
		printf(",\n      \"nickname\": ");
		json_str(stdout, nd->rec.nickname, strlen(nd->rec.nickname));
		/* An insane time has no age: null, and the raw time. */
		printf(",\n      \"time\": %" PRId64 ",\n      \"age\": ",
		    nd->rec.time);
		if (record_time_sane(nd->rec.time, now))
			printf("%" PRId64, record_time_age(now, nd->rec.time));
		else
			printf("null");
		printf(",\n      \"source\": ");
		json_str(stdout, nd->rec.source, strlen(nd->rec.source));
		if (nd->rec.interval > 0 && isfinite(nd->rec.interval)) {
			record_fmt_double(num, nd->rec.interval);
			printf(",\n      \"interval\": %s", num);
		}
		/* A parsed key is base32: no escaping needed, nor harmful. */
		printf(",\n      \"key\": ");
		if (nd->rec.key[0] != '\0')
			json_str(stdout, nd->rec.key, strlen(nd->rec.key));
		else
			printf("null");
		printf(",\n      \"counters\": ");
		json_kvs(sl, 1);
		printf(",\n      \"stats\": ");
		json_kvs(sl, 0);
		printf("\n    }");
	}
	printf(n ? "\n  ]\n}\n" : "]\n}\n");
	return 0;
}

static const struct option show_longopts[] = {
	{ "json",	no_argument,		NULL, 'j' },
	{ "statsfile",	required_argument,	NULL, 's' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
cmd_show(int argc, char **argv, const char *statsfile)
{
	struct store		*st;
	struct store_reader	 r;
	struct slot		 sl;
	struct node		*nodes = NULL;
	size_t			 n = 0, skipped = 0;
	char			*found = NULL, q[ERROR_QUOTE_LEN];
	time_t			 now = time(NULL);
	int			 c, i, json = 0, status = EXIT_FAIL, nwant;

	while ((c = getopt_long(argc, argv, ":js:h", show_longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 's':
			statsfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("show", c, argv);
		}
	}
	nwant = argc - optind;
	if (nwant > 0 && (found = calloc((size_t)nwant, 1)) == NULL) {
		warnmsg("out of memory");
		return EXIT_FAIL;
	}
	memset(&sl, 0, sizeof sl);
	statsfile = statsfile_path(statsfile);
	if (open_rdonly(statsfile, &st) != 0)
		goto out;
	if (reader_begin(st, &r) != 0)
		goto close;
	if (nodes_read(&r, &nodes, &n, argv + optind, nwant, found,
	    &skipped) != 0)
		goto end;
	if ((json ? show_json : show_table)(&r, nodes, n, &sl, now) != 0) {
		fflush(stdout);
		goto free;
	}
	/* Say so if something could not be shown. */
	status = sl.badtotal + skipped > 0 ? EXIT_FAIL : 0;
	for (i = 0; i < nwant; i++) {
		if (found[i])
			continue;
		warnmsg("no node '%s' in %s", quote(q, argv[optind + i]),
		    qpath);
		status = EXIT_FAIL;
	}
	if (fflush(stdout) != 0) {
		warnmsg("writing to stdout: %s", strerror(errno));
		status = EXIT_FAIL;
	}
free:
	free(nodes);
end:
	store_reader_end(&r);
close:
	store_close(st);
out:
	free(sl.kv);
	free(found);
	return status;
}

/* ---- export ----------------------------------------------------------- */

/*
 * Large buffered output straight to a file descriptor: an export is tens
 * of megabytes for a big fleet, and stdio's locking per call shows.
 */
struct obuf {
	int	 fd;
	int	 err;		/* errno of the first failed write */
	char	*buf;
	size_t	 len;
};

static void
obuf_write(struct obuf *o, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0 && o->err == 0) {
		if ((w = write(o->fd, p, n)) < 0) {
			if (errno != EINTR)
				o->err = errno;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
obuf_flush(struct obuf *o)
{
	obuf_write(o, o->buf, o->len);
	o->len = 0;
}

static inline void
obuf_put(struct obuf *o, const char *s, size_t n)
{
	if (TALLY_UNLIKELY(n > OBUF_SIZE - o->len)) {
		obuf_flush(o);
		if (n > OBUF_SIZE) {
			obuf_write(o, s, n);
			return;
		}
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static inline void
obuf_str(struct obuf *o, const char *s)
{
	obuf_put(o, s, strlen(s));
}

/*
 * Stats are gauges, except those whose metric name ends in "_total": that
 * suffix promises a counter, which tally cannot vouch for a stat, so they
 * go without a TYPE line: "unknown" to OpenMetrics, "untyped" to the
 * Prometheus text format (whose parsers, promtool's and node_exporter's
 * textfile collector's, know no type "unknown").  cpu_monitor.total is one.
 */
enum fam_kind { FAM_GAUGE, FAM_COUNTER, FAM_UNKNOWN };
static const char *const fam_kind_name[] = { "gauge", "counter", "unknown" };

/* Why a family warned already: warn once per family and reason. */
#define WARN_KIND	0x1	/* a counter and a gauge met */
#define WARN_DUP	0x2	/* two stats of one node met */
#define WARN_NEG	0x4	/* a negative counter */

/* A metric family; its name and the first stat's live in the arena. */
struct fam {
	size_t		 name, nlen;
	size_t		 stat, slen;
	uint32_t	 last_node;	/* UINT32_MAX: no sample yet */
	uint32_t	 count;
	uint8_t		 kind;
	uint8_t		 warned;
};

/* A sample.  val points into the read transaction; NULL: node's time. */
struct ent {
	const char	*val;
	uint32_t	 vlen;
	uint32_t	 node;
	uint32_t	 fam;
};

struct xnode {
	int64_t		 time;
	size_t		 label, llen;	/* {node="..",nickname=".."} */
};

struct export {
	int		 prom;		/* Prometheus text format 0.0.4 */
	struct fam	*fams;
	size_t		 nfams, fcap;
	uint32_t	*hash;		/* 0 empty, else (fam << 1 | alias) + 1 */
	size_t		 hcap, hused;
	struct ent	*ents;
	size_t		 nents, ecap;
	struct xnode	*nodes;
	size_t		 nnodes, ncap;
	char		*arena;
	size_t		 alen, acap;
	uint32_t	 cur;		/* the node being scanned */
	const char	*id;		/* its id */
	size_t		 idlen;
	int		 counter;	/* the table being scanned */
	size_t		 skipped;
	int		 enomem;
};

static int
grow(void *pp, size_t *cap, size_t need, size_t size)
{
	size_t	 c = *cap ? *cap : 64;
	void	*p;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if ((p = realloc(*(void **)pp, c * size)) == NULL)
		return TALLY_ENOMEM;
	*(void **)pp = p;
	*cap = c;
	return 0;
}

/* Append n bytes and a NUL to the arena; its offset in *off. */
static int
arena_put(struct export *ex, const char *s, size_t n, size_t *off)
{
	if (grow(&ex->arena, &ex->acap, ex->alen + n + 1, 1) != 0)
		return TALLY_ENOMEM;
	*off = ex->alen;
	memcpy(ex->arena + ex->alen, s, n);
	ex->arena[ex->alen + n] = '\0';
	ex->alen += n + 1;
	return 0;
}

/* Append n bytes, no NUL. */
static int
arena_raw(struct export *ex, const char *s, size_t n)
{
	if (grow(&ex->arena, &ex->acap, ex->alen + n + 1, 1) != 0)
		return TALLY_ENOMEM;
	memcpy(ex->arena + ex->alen, s, n);
	ex->alen += n;
	return 0;
}

/* Append a label value: \\, \" and \n escaped, bad UTF-8 as U+FFFD. */
static int
arena_label(struct export *ex, const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, l;

	if (grow(&ex->arena, &ex->acap, ex->alen + 3 * n + 1, 1) != 0)
		return TALLY_ENOMEM;
	for (i = 0; i < n; i += l) {
		char *o = ex->arena + ex->alen;
		l = 1;
		if (p[i] == '\\' || p[i] == '"' || p[i] == '\n') {
			o[0] = '\\';
			o[1] = p[i] == '\n' ? 'n' : (char)p[i];
			ex->alen += 2;
		} else if ((l = utf8_len(p + i, n - i)) == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			ex->alen += 3;
			l = 1;
		} else {
			memcpy(o, p + i, l);
			ex->alen += l;
		}
	}
	return 0;
}

/* Does hash entry e name (s, n)?  An alias is its family's name_total. */
static int
hash_match(const struct export *ex, uint32_t e, const char *s, size_t n)
{
	const struct fam	*f = &ex->fams[(e - 1) >> 1];
	size_t			 len = f->nlen + ((e - 1) & 1 ? 6 : 0);

	if (len != n || memcmp(ex->arena + f->name, s, f->nlen) != 0)
		return 0;
	return !((e - 1) & 1) || memcmp(s + f->nlen, "_total", 6) == 0;
}

/* The slot of (s, n): its entry, or the empty slot where it would go. */
static size_t
hash_slot(const struct export *ex, const char *s, size_t n)
{
	size_t	 mask = ex->hcap - 1, i = name_hash(s, n) & mask;

	while (ex->hash[i] != 0 && !hash_match(ex, ex->hash[i], s, n))
		i = (i + 1) & mask;
	return i;
}

/* Insert entry e under (s, n), which is absent; the table stays half empty. */
static int
hash_insert(struct export *ex, const char *s, size_t n, uint32_t e)
{
	uint32_t	*old = ex->hash;
	size_t		 ocap = ex->hcap, i, len;
	char		 name[METRIC_MAX + 8];

	if ((ex->hused + 1) * 2 > ex->hcap) {
		ex->hcap = ocap ? ocap * 2 : 1024;
		if ((ex->hash = calloc(ex->hcap, sizeof *ex->hash)) == NULL) {
			ex->hash = old;
			ex->hcap = ocap;
			return TALLY_ENOMEM;
		}
		for (i = 0; i < ocap; i++) {
			const struct fam *f;

			if (old[i] == 0)
				continue;
			f = &ex->fams[(old[i] - 1) >> 1];
			memcpy(name, ex->arena + f->name, f->nlen);
			len = f->nlen;
			if ((old[i] - 1) & 1) {
				memcpy(name + len, "_total", 6);
				len += 6;
			}
			ex->hash[hash_slot(ex, name, len)] = old[i];
		}
		free(old);
	}
	ex->hash[hash_slot(ex, s, n)] = e;
	ex->hused++;
	return 0;
}

static int
fam_new(struct export *ex, const char *name, size_t nlen, const char *stat,
    size_t slen, int kind, uint32_t *out)
{
	struct fam	*f;
	uint32_t	 idx = (uint32_t)ex->nfams;
	char		 total[METRIC_MAX + 8];

	if (grow(&ex->fams, &ex->fcap, ex->nfams + 1, sizeof *f) != 0)
		return TALLY_ENOMEM;
	f = &ex->fams[idx];
	memset(f, 0, sizeof *f);
	if (arena_put(ex, name, nlen, &f->name) != 0 ||
	    arena_put(ex, stat, slen, &f->stat) != 0)
		return TALLY_ENOMEM;
	f->nlen = nlen;
	f->slen = slen;
	f->kind = (uint8_t)kind;
	f->last_node = UINT32_MAX;
	ex->nfams++;
	if (hash_insert(ex, name, nlen, (idx << 1) + 1) != 0)
		return TALLY_ENOMEM;
	if (kind == FAM_COUNTER) {
		memcpy(total, name, nlen);
		memcpy(total + nlen, "_total", 6);
		if (hash_insert(ex, total, nlen + 6, (idx << 1 | 1) + 1) != 0)
			return TALLY_ENOMEM;
	}
	*out = idx;
	return 0;
}

/*
 * The family of a stat: "tally_" and the name with every character outside
 * [a-zA-Z0-9_] as '_' (colons are for recording rules); a counter's
 * "_total" comes off, as client libraries do, since it is the sample's
 * suffix.  Returns 1 and the family, 0 and the family it clashes with (a
 * family of another kind, or a counter's sample name), or a TALLY_E* code.
 */
static int
fam_find(struct export *ex, const char *stat, size_t slen, uint32_t *out)
{
	char		 name[METRIC_MAX + 8];
	size_t		 n = sizeof METRIC_PREFIX - 1, i;
	int		 kind, total;
	uint32_t	 e1, e2;

	memcpy(name, METRIC_PREFIX, n);
	for (i = 0; i < slen; i++) {
		char c = stat[i];
		name[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') ? c : '_';
	}
	total = n > sizeof METRIC_PREFIX - 1 + 6 &&
	    memcmp(name + n - 6, "_total", 6) == 0;
	kind = ex->counter ? FAM_COUNTER : total ? FAM_UNKNOWN : FAM_GAUGE;
	if (kind == FAM_COUNTER && total)
		n -= 6;
	if (ex->hcap == 0) {
		if ((ex->hash = calloc(1024, sizeof *ex->hash)) == NULL)
			return TALLY_ENOMEM;
		ex->hcap = 1024;
	}
	e1 = ex->hash[hash_slot(ex, name, n)];
	if (kind != FAM_COUNTER) {
		if (e1 == 0)
			return fam_new(ex, name, n, stat, slen, kind, out) == 0 ?
			    1 : TALLY_ENOMEM;
		*out = (e1 - 1) >> 1;
		return !((e1 - 1) & 1) && ex->fams[*out].kind == kind;
	}
	memcpy(name + n, "_total", 6);
	e2 = ex->hash[hash_slot(ex, name, n + 6)];
	if (e1 == 0 && e2 == 0)
		return fam_new(ex, name, n, stat, slen, kind, out) == 0 ? 1 :
		    TALLY_ENOMEM;
	/* Ours only if both names are this counter family's. */
	*out = ((e1 ? e1 : e2) - 1) >> 1;
	return e1 != 0 && e2 != 0 && !((e1 - 1) & 1) && ((e2 - 1) & 1) &&
	    (e1 - 1) >> 1 == (e2 - 1) >> 1;
}

static int
export_add(struct export *ex, uint32_t fam, const char *val, size_t vlen)
{
	struct ent	*e;

	if (grow(&ex->ents, &ex->ecap, ex->nents + 1, sizeof *e) != 0)
		return TALLY_ENOMEM;
	e = &ex->ents[ex->nents++];
	e->val = val;
	e->vlen = (uint32_t)vlen;
	e->node = ex->cur;
	e->fam = fam;
	ex->fams[fam].count++;
	ex->fams[fam].last_node = ex->cur;
	return 0;
}

/* Skip a sample, warning once per family and reason. */
static void
export_skip(struct export *ex, uint32_t fam, int why, const char *stat,
    size_t slen)
{
	struct fam	*f = &ex->fams[fam];
	const char	*what = ex->counter ? "counter" : "stat";
	int		 il = (int)ex->idlen;

	ex->skipped++;
	if (f->warned & why)
		return;
	f->warned |= why;
	if (fam == 0)			/* see export_collect */
		warnmsg("%s '%.*s' of node %.*s: metric %s is tally's own: "
		    "skipped", what, (int)slen, stat, il, ex->id,
		    ex->arena + f->name);
	else if (why == WARN_KIND)
		warnmsg("%s '%.*s' of node %.*s clashes with %s metric %s "
		    "(from '%.*s'): skipped", what, (int)slen, stat, il, ex->id,
		    fam_kind_name[f->kind], ex->arena + f->name, (int)f->slen,
		    ex->arena + f->stat);
	else if (why == WARN_DUP)
		warnmsg("%s '%.*s' of node %.*s: another of the node's names "
		    "gives metric %s already: skipped", what, (int)slen, stat,
		    il, ex->id, ex->arena + f->name);
	else
		warnmsg("counter '%.*s' of node %.*s is negative, which an "
		    "OpenMetrics counter may not be: skipped", (int)slen, stat,
		    il, ex->id);
}

static int
export_cb(void *ctx, const char *stat, size_t slen, const char *val,
    size_t vlen)
{
	struct export	*ex = ctx;
	uint32_t	 fam;
	int64_t		 i;
	double		 d;
	char		 b1[80], b2[80];
	int		 rc;

	if (!name_stat_valid(stat, slen) || (ex->counter ?
	    record_parse_int64(val, vlen, &i) :
	    record_parse_double(val, vlen, &d)) != 0) {
		if (ex->skipped++ < 10)
			warnmsg("node %.*s: skipping unreadable %s '%s' = '%s' "
			    "(run tally check)", (int)ex->idlen, ex->id,
			    ex->counter ? "counter" : "stat",
			    esc(b1, sizeof b1, stat, slen),
			    esc(b2, sizeof b2, val, vlen));
		return 0;
	}
	if ((rc = fam_find(ex, stat, slen, &fam)) < 0)
		return rc;
	if (rc == 0) {
		export_skip(ex, fam, WARN_KIND, stat, slen);
		return 0;
	}
	if (ex->fams[fam].last_node == ex->cur) {
		export_skip(ex, fam, WARN_DUP, stat, slen);
		return 0;
	}
	if (ex->counter && i < 0) {
		export_skip(ex, fam, WARN_NEG, stat, slen);
		return 0;
	}
	/* Stored stats are decimal already; only NaN and Inf change. */
	if (!ex->counter && !isfinite(d)) {
		val = isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf";
		vlen = strlen(val);
	}
	return export_add(ex, fam, val, vlen);
}

/* Read every node's slot into ex: nodes, families and samples. */
static int
export_collect(struct store_reader *r, struct export *ex)
{
	struct xnode	*xn;
	MDB_val		 k, v;
	struct record_node rec;
	uint32_t	 tfam;
	char		 err[128], b[80];
	int		 rc;

	/* The node's own gauge first: a stat of that name clashes. */
	ex->counter = 0;
	if ((rc = fam_find(ex, NODE_TIME_STAT, strlen(NODE_TIME_STAT),
	    &tfam)) < 0)
		return rc;
	while ((rc = store_reader_next(r, &k, &v)) == 1) {
		if (!name_node_id_valid(k.mv_data, k.mv_size)) {
			warnmsg("skipping node '%s': not a valid node id (run "
			    "tally check)", esc(b, sizeof b, k.mv_data,
			    k.mv_size));
			continue;
		}
		if (record_node_parse(v.mv_data, v.mv_size, &rec, err,
		    sizeof err) != 0) {
			warnmsg("skipping node %.*s: %s (run tally check)",
			    (int)k.mv_size, (const char *)k.mv_data, err);
			continue;
		}
		if (ex->nnodes >= UINT32_MAX - 1 || grow(&ex->nodes, &ex->ncap,
		    ex->nnodes + 1, sizeof *xn) != 0)
			return TALLY_ENOMEM;
		ex->cur = (uint32_t)ex->nnodes++;
		ex->id = k.mv_data;
		ex->idlen = k.mv_size;
		xn = &ex->nodes[ex->cur];
		xn->time = rec.time;
		xn->label = ex->alen;
		if (arena_raw(ex, "{node=\"", 7) != 0 ||
		    arena_label(ex, k.mv_data, k.mv_size) != 0 ||
		    arena_raw(ex, "\",nickname=\"", 12) != 0 ||
		    arena_label(ex, rec.nickname, strlen(rec.nickname)) != 0 ||
		    arena_raw(ex, "\"} ", 3) != 0)
			return TALLY_ENOMEM;
		xn->llen = ex->alen - xn->label;
		if ((rc = export_add(ex, tfam, NULL, 0)) != 0)
			return rc;

		ex->counter = 1;
		if ((rc = store_reader_scan(r, STORE_COUNTERS, k.mv_data,
		    k.mv_size, export_cb, ex)) != 0)
			return rc;
		ex->counter = 0;
		if ((rc = store_reader_scan(r, STORE_STATS, k.mv_data,
		    k.mv_size, export_cb, ex)) != 0)
			return rc;
	}
	return rc < 0 ? rc : 0;
}

static struct export *fam_sort_ex;	/* qsort has no context argument */

static int
fam_cmp(const void *a, const void *b)
{
	const struct fam *fa = &fam_sort_ex->fams[*(const uint32_t *)a];
	const struct fam *fb = &fam_sort_ex->fams[*(const uint32_t *)b];

	return strcmp(fam_sort_ex->arena + fa->name,
	    fam_sort_ex->arena + fb->name);
}

/*
 * Write the families in name order, each with all its samples together
 * (OpenMetrics wants families contiguous), samples in node order.  A
 * counting sort by family keeps the scan's node order: one pass, no
 * comparison per sample.
 */
static int
export_write(struct export *ex, struct obuf *o)
{
	uint32_t	*order = NULL, *pos = NULL, *sorted = NULL;
	size_t		 i, j, at = 0;
	char		 num[RECORD_NUMLEN];

	if ((sorted = malloc((ex->nfams + 1) * sizeof *sorted)) == NULL ||
	    (pos = malloc((ex->nfams + 1) * sizeof *pos)) == NULL ||
	    (order = malloc((ex->nents + 1) * sizeof *order)) == NULL) {
		free(sorted);
		free(pos);
		return TALLY_ENOMEM;
	}
	for (i = 0; i < ex->nfams; i++)
		sorted[i] = (uint32_t)i;
	fam_sort_ex = ex;
	qsort(sorted, ex->nfams, sizeof *sorted, fam_cmp);
	for (i = 0; i < ex->nfams; i++) {
		pos[sorted[i]] = (uint32_t)at;
		at += ex->fams[sorted[i]].count;
	}
	for (i = 0; i < ex->nents; i++)
		order[pos[ex->ents[i].fam]++] = (uint32_t)i;

	at = 0;
	for (i = 0; i < ex->nfams; i++) {
		const struct fam *f = &ex->fams[sorted[i]];
		const char *name = ex->arena + f->name;
		const char *total = f->kind == FAM_COUNTER ? "_total" : "";
		const char *ftotal = ex->prom ? total : "";
		size_t tlen = strlen(total);

		if (f->count == 0)
			continue;
		obuf_str(o, "# HELP ");
		obuf_put(o, name, f->nlen);
		obuf_str(o, ftotal);
		if (sorted[i] == 0)		/* the first: see export_collect */
			obuf_str(o, " UNIX time of the node's last snapshot in "
			    "the tally statsfile\n");
		else {
			obuf_str(o, f->kind == FAM_COUNTER ? " tally counter " :
			    " tally stat ");
			obuf_put(o, ex->arena + f->stat, f->slen);
			obuf_put(o, "\n", 1);
		}
		if (f->kind != FAM_UNKNOWN) {
			obuf_str(o, "# TYPE ");
			obuf_put(o, name, f->nlen);
			obuf_str(o, ftotal);
			obuf_put(o, " ", 1);
			obuf_str(o, fam_kind_name[f->kind]);
			obuf_put(o, "\n", 1);
		}
		for (j = 0; j < f->count; j++, at++) {
			const struct ent *e = &ex->ents[order[at]];
			const struct xnode *xn = &ex->nodes[e->node];

			obuf_put(o, name, f->nlen);
			obuf_put(o, total, tlen);
			obuf_put(o, ex->arena + xn->label, xn->llen);
			if (e->val != NULL)
				obuf_put(o, e->val, e->vlen);
			else
				obuf_put(o, num, record_fmt_int64(num,
				    xn->time));
			obuf_put(o, "\n", 1);
		}
	}
	if (!ex->prom)
		obuf_str(o, "# EOF\n");
	obuf_flush(o);
	free(order);
	free(pos);
	free(sorted);
	return 0;
}

/* Make sure a rename is on disk; a directory that refuses is no error. */
static void
fsync_dir(const char *file)
{
	char	*dir, *slash;
	int	 fd;

	if ((dir = strdup(file)) == NULL)
		return;
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

static const struct option export_longopts[] = {
	{ "openmetrics",	no_argument,		NULL, 'O' },
	{ "prometheus",		no_argument,		NULL, 'P' },
	{ "output",		required_argument,	NULL, 'o' },
	{ "statsfile",		required_argument,	NULL, 's' },
	{ "help",		no_argument,		NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
cmd_export(int argc, char **argv, const char *statsfile)
{
	struct store		*st;
	struct store_reader	 r;
	struct export		 ex;
	struct obuf		 o;
	const char		*file = NULL;
	char			*tmp = NULL;
	char			 q1[ERROR_QUOTE_LEN], q2[ERROR_QUOTE_LEN];
	size_t			 tmplen;
	int			 c, rc, status = EXIT_FAIL, prom = 0;

	while ((c = getopt_long(argc, argv, ":o:s:h", export_longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'O':
			prom = 0;
			break;
		case 'P':
			prom = 1;
			break;
		case 'o':
			file = optarg;
			break;
		case 's':
			statsfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("export", c, argv);
		}
	}
	if (optind != argc)
		return usage_error("export: unexpected argument '%s'",
		    quote(q1, argv[optind]));
	if (file != NULL && *file == '\0')
		return usage_error("export: -o needs a file name");
	memset(&ex, 0, sizeof ex);
	memset(&o, 0, sizeof o);
	o.fd = -1;
	ex.prom = prom;
	statsfile = statsfile_path(statsfile);
	if ((o.buf = malloc(OBUF_SIZE)) == NULL) {
		warnmsg("out of memory");
		return EXIT_FAIL;
	}
	if (open_rdonly(statsfile, &st) != 0)
		goto out;
	if (reader_begin(st, &r) != 0)
		goto close;
	if ((rc = export_collect(&r, &ex)) != 0) {
		read_failed(st, rc, "export");
		goto end;
	}
	if (ex.skipped > 0)
		warnmsg("%s: %zu samples skipped", qpath, ex.skipped);

	if (file == NULL)
		o.fd = STDOUT_FILENO;
	else {
		/*
		 * Write a temporary file beside FILE and rename it over FILE:
		 * node_exporter's textfile collector reads only "*.prom", so
		 * it never sees the temporary file, nor half of FILE.
		 */
		struct stat	 fsb;

		/*
		 * Renaming over FILE replaces whatever it is: only ever a
		 * regular file, never a device (/dev/full), a FIFO a reader
		 * waits on, or a symlink, which would be replaced, not
		 * followed.
		 */
		if (lstat(file, &fsb) == 0 && !S_ISREG(fsb.st_mode)) {
			warnmsg("%s: is %s, not a regular file: -o writes a "
			    "new file and renames it over FILE", quote(q1,
			    file), S_ISLNK(fsb.st_mode) ? "a symlink" :
			    S_ISFIFO(fsb.st_mode) ? "a FIFO" :
			    S_ISDIR(fsb.st_mode) ? "a directory" :
			    S_ISCHR(fsb.st_mode) || S_ISBLK(fsb.st_mode) ?
			    "a device" : S_ISSOCK(fsb.st_mode) ? "a socket" :
			    "not a file");
			goto end;
		}
		tmplen = strlen(file) + 32;
		if ((tmp = malloc(tmplen)) == NULL) {
			warnmsg("out of memory");
			goto end;
		}
		snprintf(tmp, tmplen, "%s.tmp.%ld", file, (long)getpid());
		o.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644);
		if (o.fd < 0) {
			warnmsg("%s: %s", quote(q1, tmp), strerror(errno));
			goto end;
		}
		sigbus_tmp = tmp;
		/* 0644 whatever the umask: a collector reads it. */
		if (fchmod(o.fd, 0644) != 0) {
			warnmsg("%s: chmod: %s", quote(q1, tmp),
			    strerror(errno));
			goto unlink;
		}
	}
	if ((rc = export_write(&ex, &o)) != 0) {
		warnmsg("out of memory");
		goto unlink;
	}
	if (o.err != 0) {
		warnmsg("writing %s: %s", file ? quote(q1, tmp) : "to stdout",
		    strerror(o.err));
		goto unlink;
	}
	if (file != NULL) {
		if (fsync(o.fd) != 0) {
			warnmsg("%s: fsync: %s", quote(q1, tmp),
			    strerror(errno));
			goto unlink;
		}
		rc = close(o.fd);
		o.fd = -1;
		if (rc != 0) {
			warnmsg("%s: close: %s", quote(q1, tmp),
			    strerror(errno));
			goto unlink;
		}
		if (rename(tmp, file) != 0) {
			warnmsg("rename %s to %s: %s", quote(q1, tmp),
			    quote(q2, file),
			    strerror(errno));
			goto unlink;
		}
		fsync_dir(file);
	}
	status = 0;
unlink:
	if (file != NULL && o.fd >= 0)
		close(o.fd);
	if (status != 0 && tmp != NULL)
		unlink(tmp);
	sigbus_tmp = NULL;
end:
	store_reader_end(&r);
close:
	store_close(st);
out:
	free(tmp);
	free(o.buf);
	free(ex.fams);
	free(ex.hash);
	free(ex.ents);
	free(ex.nodes);
	free(ex.arena);
	return status;
}

/* ---- prune ------------------------------------------------------------ */

struct victim {
	char		 id[TALLY_NODE_ID_MAX + 1];
	char		 nickname[TALLY_NICKNAME_MAX + 1];
	int64_t		 time;
	int		 sane;		/* record_time_sane() at the look */
};

/*
 * The nodes whose snapshot is older than cutoff, or whose time is not sane
 * (tally(5)): a node in the future would otherwise never be old enough,
 * and one before 2000 is no snapshot of ours.  Copied out of the txn.
 */
static int
prune_find(struct store *st, int64_t now, int64_t cutoff,
    struct victim **out, size_t *nout)
{
	struct store_reader	 r;
	struct node		*nodes;
	struct victim		*v = NULL;
	size_t			 n, i, nv = 0, skipped = 0;
	int			 sane;

	*out = NULL;
	*nout = 0;
	if (reader_begin(st, &r) != 0)
		return -1;
	/* A node whose record is unreadable has no known age: kept. */
	if (nodes_read(&r, &nodes, &n, NULL, 0, NULL, &skipped) != 0) {
		store_reader_end(&r);
		return -1;
	}
	if (n > 0 && (v = calloc(n, sizeof *v)) == NULL) {
		warnmsg("out of memory");
		free(nodes);
		store_reader_end(&r);
		return -1;
	}
	for (i = 0; i < n; i++) {
		sane = record_time_sane(nodes[i].rec.time, now);
		if (sane && nodes[i].rec.time >= cutoff)
			continue;
		memcpy(v[nv].id, nodes[i].id, nodes[i].idlen);
		snprintf(v[nv].nickname, sizeof v[nv].nickname, "%s",
		    nodes[i].rec.nickname);
		v[nv].time = nodes[i].rec.time;
		v[nv].sane = sane;
		nv++;
	}
	free(nodes);
	store_reader_end(&r);
	*out = v;
	*nout = nv;
	return 0;
}

/*
 * Remove a victim's slot, checking its time again in the deleting
 * transaction: 0 removed, TALLY_ESTATE kept (it wrote a newer snapshot
 * since the look), or another TALLY_E* code.  A time that is not sane
 * counts as older than any cutoff there too.
 */
static int
prune_remove(struct store *st, const struct victim *v, int64_t cutoff,
    char *err, size_t errlen)
{
	return store_delete_slot_before(st, v->id, cutoff, err, errlen);
}

/* "3d ago", or the raw time of a record whose time is not sane. */
static const char *
prune_when(char *buf, size_t size, const struct victim *v, int64_t now)
{
	char	 age[32];

	if (!v->sane)
		snprintf(buf, size, "time %" PRId64 " out of range", v->time);
	else
		snprintf(buf, size, "%s ago", fmt_age(age, sizeof age,
		    record_time_age(now, v->time)));
	return buf;
}

static const struct option prune_longopts[] = {
	{ "older-than",	required_argument,	NULL, 'o' },
	{ "dry-run",	no_argument,		NULL, 'n' },
	{ "statsfile",	required_argument,	NULL, 's' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
cmd_prune(int argc, char **argv, const char *statsfile)
{
	struct store	*st = NULL;
	struct victim	*v = NULL;
	const char	*older = NULL;
	char		 err[TALLY_ERRLEN], when[64], q[ERROR_QUOTE_LEN];
	size_t		 nv = 0, i, removed = 0;
	int64_t		 secs, now, cutoff;
	int		 c, rc, status = EXIT_FAIL, dry = 0;

	while ((c = getopt_long(argc, argv, ":o:ns:h", prune_longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'o':
			older = optarg;
			break;
		case 'n':
			dry = 1;
			break;
		case 's':
			statsfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("prune", c, argv);
		}
	}
	if (optind != argc)
		return usage_error("prune: unexpected argument '%s'",
		    quote(q, argv[optind]));
	if (older == NULL)
		return usage_error("prune: --older-than DURATION is required");
	if (parse_duration(older, &secs) != 0) {
		warnmsg("bad duration '%s' (use e.g. 30m, 12h, 7d)",
		    quote(q, older));
		return EXIT_FAIL;
	}
	statsfile = statsfile_path(statsfile);
	now = (int64_t)time(NULL);
	/* secs is at most a thousand years: saturated for a wild clock. */
	cutoff = record_time_age(now, secs);

	/*
	 * Look first through a read-only open, which refuses a directory
	 * that holds no database: a writer would create one there.
	 */
	if (open_rdonly(statsfile, &st) != 0)
		return EXIT_FAIL;
	rc = prune_find(st, now, cutoff, &v, &nv);
	store_close(st);
	st = NULL;
	if (rc != 0)
		goto out;
	if (nv == 0) {
		printf("no node in %s is older than %s\n", qpath,
		    quote(q, older));
		status = 0;
		goto out;
	}
	if (!dry) {
		if (store_open_msg(statsfile, 0, &st) != 0)
			goto out;
		/*
		 * Look again, now: a node may have written since.  The
		 * cutoff stays, and the deleting transaction checks it
		 * again, so a node is never removed younger than asked.
		 */
		free(v);
		if (prune_find(st, now, cutoff, &v, &nv) != 0)
			goto close;
	}
	status = 0;
	for (i = 0; i < nv; i++) {
		prune_when(when, sizeof when, &v[i], now);
		if (dry) {
			printf("would remove %s (", v[i].id);
			put_clean(stdout, v[i].nickname,
			    strlen(v[i].nickname));
			printf("), last snapshot %s\n", when);
			continue;
		}
		/* The time is checked again in the deleting transaction. */
		rc = prune_remove(st, &v[i], cutoff, err, sizeof err);
		if (rc == TALLY_ESTATE)
			continue;	/* it wrote since we looked: kept */
		if (rc == TALLY_ENOTFOUND)
			continue;	/* pruned meanwhile by another */
		if (rc != 0) {
			warnmsg("%s", err);
			status = EXIT_FAIL;
			continue;
		}
		removed++;
		printf("removed %s (", v[i].id);
		put_clean(stdout, v[i].nickname, strlen(v[i].nickname));
		printf("), last snapshot %s\n", when);
	}
	if (!dry && removed == 0 && status == 0)
		printf("no node in %s is older than %s\n", qpath,
		    quote(q, older));
close:
	store_close(st);
out:
	if (fflush(stdout) != 0) {
		warnmsg("writing to stdout: %s", strerror(errno));
		status = EXIT_FAIL;
	}
	free(v);
	return status;
}

/* ---- forget ----------------------------------------------------------- */

static const struct option forget_longopts[] = {
	{ "statsfile",	required_argument,	NULL, 's' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/*
 * tally forget NODE...: unbind each node's key (store_forget_key), so
 * that its next TLS connection binds whatever key it comes with: what an
 * operator does once a node's key changed on purpose (a reinstall) and
 * tallyd refuses it.  Every node id is checked before anything is opened;
 * a node that is unknown or has no key is reported and the others are
 * still done.  0, EXIT_FAIL if any node failed, EXIT_USAGE.
 */
static int
cmd_forget(int argc, char **argv, const char *statsfile)
{
	struct store	*st = NULL;
	char		 err[TALLY_ERRLEN], q[ERROR_QUOTE_LEN];
	const char	*node;
	int		 c, i, rc, status = 0;

	while ((c = getopt_long(argc, argv, ":s:h", forget_longopts,
	    NULL)) != -1) {
		switch (c) {
		case 's':
			statsfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("forget", c, argv);
		}
	}
	if (optind == argc)
		return usage_error("forget: NODE is required");
	for (i = optind; i < argc; i++)
		if (!name_node_id_valid(argv[i], strlen(argv[i])))
			return usage_error("forget: invalid node id '%s'",
			    quote(q, argv[i]));
	statsfile = statsfile_path(statsfile);

	/*
	 * A read-only open first, as prune does: it refuses a directory
	 * that holds no database, where a writer would create one.
	 */
	if (open_rdonly(statsfile, &st) != 0)
		return EXIT_FAIL;
	store_close(st);
	if (store_open_msg(statsfile, 0, &st) != 0)
		return EXIT_FAIL;
	for (i = optind; i < argc; i++) {
		node = argv[i];
		rc = store_forget_key(st, node, err, sizeof err);
		if (rc == 0) {
			printf("node %s: key forgotten; its next connection "
			    "binds a new key\n", node);
			continue;
		}
		status = EXIT_FAIL;
		if (rc == TALLY_ENOTFOUND)
			warnmsg("node %s: no such node", node);
		else if (rc == TALLY_ESTATE)
			warnmsg("node %s: no key bound", node);
		else {
			warnmsg("%s", err);
			/* Every later call would say the same. */
			if (store_damaged(st))
				break;
		}
	}
	store_close(st);
	if (fflush(stdout) != 0) {
		warnmsg("writing to stdout: %s", strerror(errno));
		status = EXIT_FAIL;
	}
	return status;
}

/* ---- check ------------------------------------------------------------ */

struct check {
	const char	*path;
	size_t		 problems;
	size_t		 nodes, counters, stats;
	int		 counter;	/* the table being checked */
	const char	*node;		/* the node being scanned, or NULL */
	size_t		 nodelen;
	MDB_val		*ids;		/* every key of nodes, for orphans */
	size_t		 nids;
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

/* A stat's name and value; the key's node part was checked already. */
static void
check_entry(struct check *ck, const char *key, size_t klen, size_t plen,
    const char *val, size_t vlen)
{
	const char	*table = ck->counter ? "counters" : "stats";
	char		 b1[160], b2[80];
	int64_t		 i;
	double		 d;

	if (ck->counter)
		ck->counters++;
	else
		ck->stats++;
	if (!name_stat_valid(key + plen, klen - plen))
		check_problem(ck, "%s key '%s': not a valid stat name", table,
		    esc(b1, sizeof b1, key, klen));
	else if (ck->counter && record_parse_int64(val, vlen, &i) != 0)
		check_problem(ck, "%s key '%s': value '%s' is not a 64-bit "
		    "integer", table, esc(b1, sizeof b1, key, klen),
		    esc(b2, sizeof b2, val, vlen));
	else if (!ck->counter && record_parse_double(val, vlen, &d) != 0)
		check_problem(ck, "%s key '%s': value '%s' is not a number",
		    table, esc(b1, sizeof b1, key, klen),
		    esc(b2, sizeof b2, val, vlen));
}

static int
check_id_cmp(const void *a, const void *b)
{
	const MDB_val	*x = a, *y = b;
	size_t		 m = x->mv_size < y->mv_size ? x->mv_size : y->mv_size;
	int		 c = memcmp(x->mv_data, y->mv_data, m);

	if (c != 0)
		return c;
	return x->mv_size < y->mv_size ? -1 : x->mv_size > y->mv_size;
}

/* store_reader_walk's callback: any key of counters or stats. */
static int
check_walk_cb(void *ctx, const char *key, size_t klen, const char *val,
    size_t vlen)
{
	struct check	*ck = ctx;
	const char	*slash = memchr(key, '/', klen);
	const char	*table = ck->counter ? "counters" : "stats";
	size_t		 plen;
	MDB_val		 id;
	char		 b[160];

	if (slash == NULL || !name_node_id_valid(key, (size_t)(slash -
	    key))) {
		if (ck->counter)
			ck->counters++;
		else
			ck->stats++;
		check_problem(ck, "%s key '%s': not <node id>/<stat name>",
		    table, esc(b, sizeof b, key, klen));
		return 0;
	}
	plen = (size_t)(slash - key) + 1;
	/* Keys come sorted: look a node up once, report an orphan once. */
	if (ck->last == NULL || ck->lastlen != plen - 1 ||
	    memcmp(ck->last, key, plen - 1) != 0) {
		id.mv_data = (void *)key;
		id.mv_size = plen - 1;
		ck->last = key;
		ck->lastlen = plen - 1;
		if (bsearch(&id, ck->ids, ck->nids, sizeof *ck->ids,
		    check_id_cmp) == NULL)
			check_problem(ck, "%s key '%s': node %.*s is not in "
			    "the nodes table (an orphan; its other keys are "
			    "not listed)", table, esc(b, sizeof b, key, klen),
			    (int)plen - 1, key);
	}
	check_entry(ck, key, klen, plen, val, vlen);
	return 0;
}

/* Every key of both tables: malformed keys and orphans too. */
static int
check_slots(struct store_reader *r, struct check *ck)
{
	int	 rc;

	ck->counter = 1;
	ck->last = NULL;
	if ((rc = store_reader_walk(r, STORE_COUNTERS, check_walk_cb,
	    ck)) != 0)
		return rc;
	ck->counter = 0;
	ck->last = NULL;
	return store_reader_walk(r, STORE_STATS, check_walk_cb, ck);
}

static int
check_nodes(struct store_reader *r, struct check *ck)
{
	MDB_val		 k, v, *ids;
	struct record_node rec;
	char		 err[128], b[160];
	size_t		 cap = 0;
	int		 rc;

	while ((rc = store_reader_next(r, &k, &v)) == 1) {
		ck->nodes++;
		if (ck->nids == cap) {
			cap = cap ? cap * 2 : 64;
			if ((ids = realloc(ck->ids, cap * sizeof *ids)) ==
			    NULL)
				return TALLY_ENOMEM;
			ck->ids = ids;
		}
		ck->ids[ck->nids++] = k;
		if (!name_node_id_valid(k.mv_data, k.mv_size)) {
			check_problem(ck, "nodes key '%s': not a valid node id",
			    esc(b, sizeof b, k.mv_data, k.mv_size));
			continue;
		}
		if (record_node_parse(v.mv_data, v.mv_size, &rec, err,
		    sizeof err) != 0)
			check_problem(ck, "node %.*s: %s: '%s'",
			    (int)k.mv_size, (const char *)k.mv_data, err,
			    esc(b, sizeof b, v.mv_data, v.mv_size));
		else if (!record_time_sane(rec.time, ck->now))
			check_problem(ck, "node %.*s: time %" PRId64 " out of "
			    "range (before 2000-01-01 or more than a day "
			    "ahead): a wrong clock", (int)k.mv_size,
			    (const char *)k.mv_data, rec.time);
	}
	return rc < 0 ? rc : 0;
}

/* The walk, in check's child: its exit status. */
static int
check_walk(const char *statsfile)
{
	struct store		*st;
	struct store_reader	 r;
	struct check		 ck;
	int			 rc, status = EXIT_FAIL;

	memset(&ck, 0, sizeof ck);
	ck.path = qpath;
	ck.now = (int64_t)time(NULL);
	/* store_open checks the environment, the tables and the format. */
	if (open_rdonly(statsfile, &st) != 0)
		return EXIT_FAIL;
	if (reader_begin(st, &r) != 0)
		goto close;
	if ((rc = check_nodes(&r, &ck)) != 0)
		goto failed;
	if ((rc = check_slots(&r, &ck)) != 0)
		goto failed;
	if (ck.problems == 0) {
		printf("%s: ok (%zu nodes, %zu counters, %zu stats)\n",
		    qpath, ck.nodes, ck.counters, ck.stats);
		status = 0;
	} else {
		if (ck.problems > CHECK_SHOW_MAX)
			printf("%s: ... and %zu more problems\n", qpath,
			    ck.problems - CHECK_SHOW_MAX);
		printf("%s: %zu problem%s (%zu nodes, %zu counters, %zu "
		    "stats)\n", qpath, ck.problems, ck.problems == 1 ? "" :
		    "s", ck.nodes, ck.counters, ck.stats);
		fflush(stdout);
		warnmsg("%s: check failed: %zu problem%s found", qpath,
		    ck.problems, ck.problems == 1 ? "" : "s");
	}
	goto end;
failed:
	fflush(stdout);
	read_failed(st, rc, "check failed: reading the database");
end:
	store_reader_end(&r);
close:
	store_close(st);
	free(ck.ids);
	if (fflush(stdout) != 0) {
		warnmsg("writing to stdout: %s", strerror(errno));
		status = EXIT_FAIL;
	}
	return status;
}

/* "SIGABRT" and the like, for the verdict on a walk that died. */
static const char *
signal_name(int sig, char *buf, size_t size)
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
read_all(int fd, char *buf, size_t size)
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

static const struct option check_longopts[] = {
	{ "statsfile",	required_argument,	NULL, 's' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/*
 * check reads every page of a database that may be damaged, and LMDB
 * asserts (abort) or faults on some damage.  store.c catches what it can;
 * the walk runs in a child all the same, so that whatever gets past that
 * takes down only the child, and the parent can still say what is wrong
 * and exit 1.  The child opens the statsfile itself (an environment is
 * never used across fork()) and writes its report to our stdout; its
 * stderr comes through a pipe, so that its last words (LMDB's assertion)
 * make the verdict if it dies.
 */
static int
cmd_check(int argc, char **argv, const char *statsfile)
{
	char	*buf, *last, *end, sig[32], q[ERROR_QUOTE_LEN];
	size_t	 len;
	pid_t	 pid;
	int	 c, fds[2], ws;

	while ((c = getopt_long(argc, argv, ":s:h", check_longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 's':
			statsfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("check", c, argv);
		}
	}
	if (optind != argc)
		return usage_error("check: unexpected argument '%s'",
		    quote(q, argv[optind]));
	statsfile = statsfile_path(statsfile);

	if ((buf = malloc(CHECK_ERR_MAX + 1)) == NULL) {
		warnmsg("out of memory");
		return EXIT_FAIL;
	}
	if (pipe(fds) != 0) {
		warnmsg("pipe: %s", strerror(errno));
		free(buf);
		return EXIT_FAIL;
	}
	/* Nothing buffered may be written twice. */
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		warnmsg("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(buf);
		return EXIT_FAIL;
	}
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], STDERR_FILENO) == -1)
			_exit(EXIT_FAIL);
		close(fds[1]);
		free(buf);
		exit(check_walk(statsfile));
	}
	close(fds[1]);
	len = read_all(fds[0], buf, CHECK_ERR_MAX);
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
		free(buf);
		return WEXITSTATUS(ws) == 0 ? 0 : EXIT_FAIL;
	}

	/*
	 * It died.  The last line it wrote says why (LMDB's "mdb.c:N:
	 * Assertion '...' failed"); the lines before it are passed on.
	 */
	end = buf + len;
	while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*end = '\0';
	last = memrchr(buf, '\n', (size_t)(end - buf));
	last = last != NULL ? last + 1 : buf;
	if (last > buf)
		fwrite(buf, 1, (size_t)(last - buf), stderr);
	warnmsg("statsfile %s: damaged: the walk died of %s (LMDB assertion "
	    "or bad page): %s", qpath, signal_name(WIFSIGNALED(ws) ?
	    WTERMSIG(ws) : 0, sig, sizeof sig), *last != '\0' ?
	    error_quote(q, sizeof q, last, (size_t)(end - last)) :
	    "it printed nothing");
	free(buf);
	return EXIT_FAIL;
}

/* ---- main ------------------------------------------------------------- */

static const struct {
	const char	*name;
	int		(*fn)(int, char **, const char *);
} commands[] = {
	{ "show",	cmd_show },
	{ "export",	cmd_export },
	{ "prune",	cmd_prune },
	{ "forget",	cmd_forget },
	{ "check",	cmd_check },
};

static const struct option main_longopts[] = {
	{ "statsfile",	required_argument,	NULL, 's' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char **argv)
{
	const char	*statsfile = NULL;
	char		 q[ERROR_QUOTE_LEN];
	size_t		 i;
	int		 c;

	/* '+': stop at the command, whose options are its own. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:hV", main_longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 's':
			statsfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s (database format %d)\n",
			    tally_version(NULL, NULL, NULL), TALLY_DB_FORMAT);
			return 0;
		default:
			return bad_option("", c, argv);
		}
	}
	if (optind >= argc)
		return usage_error("no command");
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		argc -= optind;
		argv += optind;
		/* Start getopt afresh on the command's arguments. */
#ifdef __GLIBC__
		optind = 0;
#else
		optind = 1;
		optreset = 1;
#endif
		return commands[i].fn(argc, argv, statsfile);
	}
	return usage_error("unknown command '%s'", quote(q, argv[optind]));
}
