/*
 * http.c: tallyd --http: /metrics for Prometheus, a status page and
 * /nodes.json, served by libmicrohttpd from a thread of its own.
 *
 * Two sources, neither of which the loop ever waits for:
 *  - the statsfile, read by tallyd --http-reader (http-reader.c), a
 *    process of its own per request: the store's lock would otherwise be
 *    held for a whole scrape, and with it every commit;
 *  - what only the loop knows (which nodes are connected, from where,
 *    why each last went away, the commits' figures), kept here under a
 *    mutex that the loop holds for a few stores per event and this
 *    thread for one copy per request.
 * Requests are answered one at a time, on libmicrohttpd's thread: a
 * scrape is what costs, and two at once would only share the CPU.  Slow
 * and idle clients are bounded by libmicrohttpd: HTTP_TIMEOUT seconds
 * without progress, HTTP_CONN_MAX connections (HTTP_PER_IP from one
 * address), HTTP_MEMORY bytes for a request's headers.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "tallyd.h"

#define HTTP_TIMEOUT	10		/* seconds without progress */
#define HTTP_PER_IP	16
#define HTTP_MEMORY	(32 * 1024)	/* a request's headers and more */
#define HTTP_READER_MAX	20.0		/* seconds a reader may take */
#define HTTP_COPY	512		/* live entries copied per lock */
#define HTTP_MSG_MAX	4096		/* bytes of a reader's messages */
#define HTTP_WARN_LINES	5		/* of them logged, at a change */
#define HTTP_REFRESH	10		/* the page reloads itself */
#define HTTP_MINUTE	60
#define HTTP_NODES_MAX	200000		/* nodes tracked; then no more */
#define HTTP_LOG_BURST	5		/* libmicrohttpd's lines, then ... */
#define HTTP_LOG_EVERY	60.0		/* ... one a minute, with a count */

/* Log lines of one kind: HTTP_LOG_BURST, then one a minute. */
struct http_limit {
	unsigned long	 logged, quiet;
	double		 at;
};

/* What the loop knows of a node, this run. */
struct http_node {
	char	 id[TALLY_NODE_ID_MAX + 1];
	char	 addr[LISTENER_ADDRLEN];
	char	 key[FURL_FP_LEN + 1];
	char	 error[LISTENER_ADDRLEN + 160];	/* why it last went away */
	int64_t	 since;			/* connected, or went away, at */
	int	 connected;
};

struct http {
	struct MHD_Daemon	*d;
	int			 fd;
	char			*statsfile;
	char			 tally[4096];	/* the tally tool beside us */
	char			 node_id[TALLY_NODE_ID_MAX + 1];
	double			 interval;
	int64_t			 started;
	char			 where[LISTENER_ADDRLEN + 16];

	pthread_mutex_t		 mu;	/* everything below */
	struct http_node	*nodes;
	size_t			 n, cap;
	uint32_t		*hash;	/* 0 empty, else index + 1 */
	size_t			 hcap;
	unsigned		 nconns, nready;
	uint32_t		 snaps[HTTP_MINUTE];	/* per second */
	double			 cmax[HTTP_MINUTE];	/* slowest commit */
	int64_t			 stamp[HTTP_MINUTE];	/* second of a slot */
	double			 commit_last;
	unsigned long		 commit_failures;	/* in a row */
	char			 commit_err[TALLY_ERRLEN];

	/* libmicrohttpd's thread only */
	uint64_t		 warned;	/* the reader's last warnings */
	struct http_limit	 mhd_log, fail_log;

	int			 stop[2];	/* http_free() ends a reader */
};

/* ---- a growing buffer --------------------------------------------------- */

/*
 * The length of the valid UTF-8 sequence at s (n bytes left), or 0: no
 * overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t
http_utf8_len(const unsigned char *s, size_t n)
{
	static const struct {
		unsigned char	 first_lo, first_hi, lo, hi;
		size_t		 len;
	} forms[] = {
		{ 0xc2, 0xdf, 0x80, 0xbf, 2 },
		{ 0xe0, 0xe0, 0xa0, 0xbf, 3 }, { 0xe1, 0xec, 0x80, 0xbf, 3 },
		{ 0xed, 0xed, 0x80, 0x9f, 3 }, { 0xee, 0xef, 0x80, 0xbf, 3 },
		{ 0xf0, 0xf0, 0x90, 0xbf, 4 }, { 0xf1, 0xf3, 0x80, 0xbf, 4 },
		{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};
	size_t	 f, i;

	if (s[0] < 0x80)
		return 1;
	for (f = 0; f < sizeof forms / sizeof forms[0]; f++) {
		if (s[0] < forms[f].first_lo || s[0] > forms[f].first_hi)
			continue;
		if (n < forms[f].len || s[1] < forms[f].lo ||
		    s[1] > forms[f].hi)
			return 0;
		for (i = 2; i < forms[f].len; i++)
			if (s[i] < 0x80 || s[i] > 0xbf)
				return 0;
		return forms[f].len;
	}
	return 0;
}

struct hbuf {
	char	*b;
	size_t	 n, cap;
	int	 oom;
};

static void
hbuf_put(struct hbuf *hb, const char *s, size_t n)
{
	size_t	 cap;
	char	*b;

	if (hb->oom)
		return;
	if (n > hb->cap - hb->n) {
		for (cap = hb->cap ? hb->cap : 16384; cap - hb->n < n; cap *= 2)
			if (cap > SIZE_MAX / 4) {
				hb->oom = 1;
				return;
			}
		if ((b = realloc(hb->b, cap)) == NULL) {
			hb->oom = 1;
			return;
		}
		hb->b = b;
		hb->cap = cap;
	}
	memcpy(hb->b + hb->n, s, n);
	hb->n += n;
}

static void
hbuf_str(struct hbuf *hb, const char *s)
{
	hbuf_put(hb, s, strlen(s));
}

static void hbuf_printf(struct hbuf *, const char *, ...) TALLY_PRINTF(2, 3);
static void
hbuf_printf(struct hbuf *hb, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		hbuf_put(hb, line, (size_t)n < sizeof line ? (size_t)n :
		    sizeof line - 1);
}

/*
 * s for HTML text or a quoted attribute.  Nicknames may be UTF-8; a byte
 * that is not part of a valid sequence becomes U+FFFD, as does a control
 * character.
 */
static void
hbuf_html(struct hbuf *hb, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strlen(s), i, k;

	for (i = 0; i < n; i += k) {
		const char *e = p[i] == '&' ? "&amp;" : p[i] == '<' ? "&lt;" :
		    p[i] == '>' ? "&gt;" : p[i] == '"' ? "&quot;" :
		    p[i] == '\'' ? "&#39;" : NULL;
		k = http_utf8_len(p + i, n - i);
		if (e != NULL)
			hbuf_str(hb, e);
		else if (k == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			hbuf_str(hb, "\xef\xbf\xbd");
			k = 1;
		} else
			hbuf_put(hb, s + i, k);
	}
}

/*
 * s as a JSON string, quotes included; NULL as null.  UTF-8 passes; a
 * byte that is not part of a valid sequence becomes U+FFFD.
 */
static void
hbuf_json(struct hbuf *hb, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 esc[8];
	size_t			 n, i, k;

	if (s == NULL) {
		hbuf_str(hb, "null");
		return;
	}
	n = strlen(s);
	hbuf_put(hb, "\"", 1);
	for (i = 0; i < n; i += k) {
		unsigned char c = p[i];
		k = http_utf8_len(p + i, n - i);
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			hbuf_put(hb, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			hbuf_put(hb, esc, 6);
		} else if (k == 0) {	/* not UTF-8: the replacement */
			hbuf_str(hb, "\\ufffd");
			k = 1;
		} else
			hbuf_put(hb, s + i, k);
	}
	hbuf_put(hb, "\"", 1);
}

/* ---- what the loop tells ------------------------------------------------ */

static uint32_t
http_hash(const char *s)
{
	uint32_t	 h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The slot of id in h->hash: where it is, or the empty one to take. */
static size_t
http_slot(const struct http *h, const char *id)
{
	size_t	 i, mask = h->hcap - 1;

	for (i = http_hash(id) & mask; h->hash[i] != 0; i = (i + 1) & mask)
		if (strcmp(h->nodes[h->hash[i] - 1].id, id) == 0)
			break;
	return i;
}

/* id's entry, made if new; NULL when out of memory.  Under h->mu. */
static struct http_node *
http_node_get(struct http *h, const char *id)
{
	struct http_node	*nodes;
	uint32_t		*hash;
	size_t			 i, cap, hcap;

	if (h->hcap > 0 && h->hash[i = http_slot(h, id)] != 0)
		return &h->nodes[h->hash[i] - 1];
	if (h->n >= HTTP_NODES_MAX)
		return NULL;
	if (h->n == h->cap) {
		cap = h->cap ? h->cap * 2 : 256;
		if ((nodes = realloc(h->nodes, cap * sizeof *nodes)) == NULL)
			return NULL;
		h->nodes = nodes;
		h->cap = cap;
	}
	if (2 * (h->n + 1) > h->hcap) {
		hcap = h->hcap ? h->hcap * 2 : 512;
		if ((hash = calloc(hcap, sizeof *hash)) == NULL)
			return NULL;
		free(h->hash);
		h->hash = hash;
		h->hcap = hcap;
		for (i = 0; i < h->n; i++)
			h->hash[http_slot(h, h->nodes[i].id)] = (uint32_t)i + 1;
	}
	memset(&h->nodes[h->n], 0, sizeof h->nodes[h->n]);
	snprintf(h->nodes[h->n].id, sizeof h->nodes[h->n].id, "%s", id);
	h->hash[http_slot(h, id)] = (uint32_t)h->n + 1;
	return &h->nodes[h->n++];
}

static void
http_counts(struct http *h, const struct gatherer *g)
{
	h->nconns = g->nconns;
	h->nready = (unsigned)g->tcount;
}

void
http_node_up(struct gatherer *g, const struct conn *c)
{
	struct http		*h = g->http;
	struct http_node	*n;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	if ((n = http_node_get(h, c->node_id)) != NULL) {
		snprintf(n->addr, sizeof n->addr, "%s", c->addr);
		snprintf(n->key, sizeof n->key, "%s", c->key);
		n->connected = 1;
		n->since = (int64_t)time(NULL);
	}
	http_counts(h, g);
	pthread_mutex_unlock(&h->mu);
}

void
http_node_down(struct gatherer *g, const struct conn *c, int was_up)
{
	struct http		*h = g->http;
	struct http_node	*n;

	if (h == NULL || c->node_id[0] == '\0')
		return;
	pthread_mutex_lock(&h->mu);
	if ((n = http_node_get(h, c->node_id)) != NULL) {
		if (was_up) {
			n->connected = 0;
			n->since = (int64_t)time(NULL);
			snprintf(n->error, sizeof n->error, "%s", c->reason);
		} else		/* a connection that claimed it, refused */
			snprintf(n->error, sizeof n->error, "refused from %s: "
			    "%s", c->addr, c->reason);
	}
	http_counts(h, g);
	pthread_mutex_unlock(&h->mu);
}

/* The ring slot of this second, emptied if it held an older one. */
static size_t
http_second(struct http *h, int64_t now)
{
	size_t	 i = (size_t)(now % HTTP_MINUTE);

	if (h->stamp[i] != now) {
		h->stamp[i] = now;
		h->snaps[i] = 0;
		h->cmax[i] = 0;
	}
	return i;
}

/* A connection opened or freed. */
void
http_conns(struct gatherer *g)
{
	struct http	*h = g->http;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	http_counts(h, g);
	pthread_mutex_unlock(&h->mu);
}

void
http_snapshot(struct gatherer *g)
{
	struct http	*h = g->http;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->snaps[http_second(h, (int64_t)time(NULL))]++;
	http_counts(h, g);
	pthread_mutex_unlock(&h->mu);
}

void
http_commit(struct gatherer *g, double sec, int ok, const char *err)
{
	struct http	*h = g->http;
	size_t		 i;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	i = http_second(h, (int64_t)time(NULL));
	if (sec > h->cmax[i])
		h->cmax[i] = sec;
	h->commit_last = sec;
	if (ok) {
		h->commit_failures = 0;
		h->commit_err[0] = '\0';
	} else {
		h->commit_failures++;
		snprintf(h->commit_err, sizeof h->commit_err, "%s", err);
	}
	pthread_mutex_unlock(&h->mu);
}

/* ---- the statsfile, through tallyd --http-reader ------------------------- */

/*
 * libmicrohttpd's lines and the readers' failures go to tallyd's log, each
 * kind HTTP_LOG_BURST lines and then one a minute: a hostile client must
 * not fill the log, nor spend the budget of the other kind.
 */
static void
http_log(struct http_limit *l, const char *fmt, ...) TALLY_PRINTF(2, 3);
static void
http_log(struct http_limit *l, const char *fmt, ...)
{
	char	 line[512];
	double	 now = gatherer_mono();
	va_list	 ap;

	if (l->logged >= HTTP_LOG_BURST && now - l->at < HTTP_LOG_EVERY) {
		l->quiet++;
		return;
	}
	if (l->logged >= HTTP_LOG_BURST)
		l->at = now;
	l->logged++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (l->quiet > 0)
		gatherer_log("http: %s (and %lu lines not logged)", line,
		    l->quiet);
	else
		gatherer_log("http: %s", line);
	l->quiet = 0;
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	 line[256];
	size_t	 n;

	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	http_log(&((struct http *)cls)->mhd_log, "%s", line);
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
static int
http_reader(struct http *h, char *const argv[], int *fdp, size_t *sizep,
    struct hbuf *msg)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 sa;
	sigset_t			 none;
	struct pollfd			 pf[2];
	struct stat			 sb;
	char				*envp[] = { NULL };
	char				 buf[4096];
	int				 out = -1, pe[2] = { -1, -1 }, rc = -1,
					 st = 0, done = 0;
	size_t				 take;
	double				 deadline, left;
	ssize_t				 r;
	pid_t				 pid = -1;

	*fdp = -1;
	*sizep = 0;
	if ((out = memfd_create("tallyd-http", MFD_CLOEXEC)) < 0) {
		hbuf_printf(msg, "memfd_create: %s", strerror(errno));
		goto out;
	}
	if (pipe2(pe, O_CLOEXEC) != 0) {
		hbuf_printf(msg, "pipe: %s", strerror(errno));
		goto out;
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
	if (rc != 0) {
		hbuf_printf(msg, "cannot run %s: %s", argv[0], strerror(rc));
		pid = -1;
		rc = -1;
		goto out;
	}
	rc = -1;
	close(pe[1]);
	pe[1] = -1;
	pf[0].fd = pe[0];
	pf[1].fd = h->stop[0];
	deadline = gatherer_mono() + HTTP_READER_MAX;
	/* Its messages until it closes stderr, that is, until it ends. */
	while (!done) {
		pf[0].events = pf[1].events = POLLIN;
		if ((left = deadline - gatherer_mono()) <= 0) {
			hbuf_printf(msg, "reading the statsfile took over %g "
			    "s: given up", HTTP_READER_MAX);
			goto out;
		}
		if (poll(pf, 2, (int)(left * 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			hbuf_printf(msg, "poll: %s", strerror(errno));
			goto out;
		}
		if (pf[1].revents != 0) {
			hbuf_str(msg, "tallyd is stopping");
			goto out;
		}
		if (pf[0].revents == 0)
			continue;
		r = read(pe[0], buf, sizeof buf);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			done = 1;
			continue;
		}
		take = msg->n < HTTP_MSG_MAX ? HTTP_MSG_MAX - msg->n : 0;
		hbuf_put(msg, buf, (size_t)r < take ? (size_t)r : take);
	}
	/* Its stderr closed: its end, unless it closed it early. */
	while ((r = waitpid(pid, &st, WNOHANG)) != pid) {
		if (r < 0 && errno != EINTR) {
			hbuf_printf(msg, "waitpid: %s", strerror(errno));
			goto out;
		}
		if (gatherer_mono() >= deadline) {
			hbuf_printf(msg, "reading the statsfile took over %g "
			    "s: given up", HTTP_READER_MAX);
			goto out;
		}
		if (poll(&pf[1], 1, 10) > 0) {
			hbuf_str(msg, "tallyd is stopping");
			goto out;
		}
	}
	pid = -1;	/* reaped: st is its status */
	rc = 0;
out:
	if (pid > 0) {
		if (rc != 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (pid > 0 || rc == 0) {
		if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			rc = -1;
			if (msg->n == 0 && WIFSIGNALED(st))
				hbuf_printf(msg, "%s died of signal %d",
				    argv[0], WTERMSIG(st));
			else if (msg->n == 0)
				hbuf_printf(msg, "%s exited %d", argv[0],
				    WEXITSTATUS(st));
		}
	}
	if (pe[0] >= 0)
		close(pe[0]);
	if (pe[1] >= 0)
		close(pe[1]);
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

/* ---- answers ------------------------------------------------------------- */

/* The headers of every answer; kind 'h': a page, 'm': negotiated. */
static void
http_headers(struct MHD_Response *resp, unsigned status, const char *type,
    int gzip, int kind)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (kind == 'h')
		MHD_add_response_header(resp, "Content-Security-Policy",
		    "default-src 'none'; style-src 'unsafe-inline'");
	if (kind == 'm')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY,
		    "Accept, Accept-Encoding");
	if (gzip)
		MHD_add_response_header(resp,
		    MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    "GET, HEAD");
}

/* Send body (freed here, whatever happens). */
static enum MHD_Result
http_send(struct MHD_Connection *mc, unsigned status, const char *type,
    struct hbuf *body, int gzip, int kind)
{
	static const char	 oom[] = "out of memory\n";
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	if (body->oom) {
		free(body->b);
		*body = (struct hbuf){ NULL, 0, 0, 0 };
		resp = MHD_create_response_from_buffer(sizeof oom - 1,
		    (void *)oom, MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		type = "text/plain; charset=utf-8";
		gzip = 0;
		kind = 0;
	} else {
		resp = MHD_create_response_from_buffer_with_free_callback(
		    body->n, body->b, free);
		if (resp == NULL)
			free(body->b);
		body->b = NULL;
	}
	if (resp == NULL)
		return MHD_NO;
	http_headers(resp, status, type, gzip, kind);
	ret = MHD_queue_response(mc, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
http_text(struct MHD_Connection *mc, unsigned status, const char *text)
{
	struct hbuf	 b = { NULL, 0, 0, 0 };

	hbuf_str(&b, text);
	hbuf_str(&b, "\n");
	return http_send(mc, status, "text/plain; charset=utf-8", &b, 0, 0);
}

/* What could not be read: said in the log (limited) and answered 503. */
static enum MHD_Result
http_unavailable(struct http *h, struct MHD_Connection *mc,
    const char *path, struct hbuf *msg)
{
	enum MHD_Result	 ret;

	http_log(&h->fail_log, "%s: %s", path, msg->b);
	ret = http_text(mc, MHD_HTTP_SERVICE_UNAVAILABLE, msg->b);
	free(msg->b);
	return ret;
}

/*
 * The q of a media range or coding named in an Accept-style header: -1
 * when it is not named (nor by "*" when star), else 0 to 1.
 */
static double
http_q(const char *hdr, const char *name, const char *star)
{
	const char	*p = hdr, *end, *semi, *q;
	size_t		 len, nlen = strlen(name);
	double		 best = -1, v;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		semi = memchr(p, ';', (size_t)(end - p));
		len = (size_t)((semi != NULL ? semi : end) - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if ((len == nlen && strncasecmp(p, name, len) == 0) ||
		    (star != NULL && len == strlen(star) &&
		    strncasecmp(p, star, len) == 0)) {
			v = 1;
			for (q = semi; q != NULL && q < end;
			    q = memchr(q + 1, ';', (size_t)(end - q - 1))) {
				const char *t = q + 1;
				while (*t == ' ')
					t++;
				if ((t[0] == 'q' || t[0] == 'Q') &&
				    t[1] == '=') {
					v = strtod(t + 2, NULL);
					if (!(v >= 0 && v <= 1))
						v = 0;
				}
			}
			/* The name itself wins over the star. */
			if (len == nlen && strncasecmp(p, name, len) == 0)
				return v;
			best = v;
		}
		p = *end == ',' ? end + 1 : end;
	}
	return best;
}

/* Deflate (p, n) in gzip's format into out: 0, or -1. */
static int
http_gzip(const char *p, size_t n, struct hbuf *out)
{
	z_stream	 z;
	uLong		 bound;

	memset(&z, 0, sizeof z);
	if (n > UINT32_MAX || deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	bound = deflateBound(&z, (uLong)n);
	if ((out->b = malloc(bound)) == NULL) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out->b;
	z.avail_out = (uInt)bound;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out->b);
		out->b = NULL;
		return -1;
	}
	out->n = z.total_out;
	out->cap = bound;
	deflateEnd(&z);
	return 0;
}

/*
 * The reader's warnings (samples skipped, said on every scrape), logged
 * when they change: HTTP_WARN_LINES of them and a count.
 */
static void
http_warnings(struct http *h, char *msg)
{
	char		*line, *save = NULL;
	uint64_t	 sum = http_hash(msg);
	unsigned	 n = 0;

	if (msg[0] != '\0' && sum != h->warned) {
		for (line = strtok_r(msg, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			if (n++ < HTTP_WARN_LINES)
				gatherer_log("http: /metrics: %s", line);
		if (n > HTTP_WARN_LINES)
			gatherer_log("http: /metrics: and %u more warnings "
			    "(tally export says them all)",
			    n - HTTP_WARN_LINES);
	}
	h->warned = msg[0] != '\0' ? sum : 0;
}

static enum MHD_Result
http_metrics(struct http *h, struct MHD_Connection *mc)
{
	struct hbuf		 msg = { NULL, 0, 0, 0 }, gz = { NULL, 0, 0, 0 };
	struct MHD_Response	*resp = NULL;
	char			*argv[] = { NULL, (char *)"-s", h->statsfile,
				     (char *)"export", NULL, NULL };
	const char		*accept, *enc, *type;
	double			 qom, qtext;
	size_t			 size;
	void			*map;
	int			 om, fd;
	enum MHD_Result		 ret;

	accept = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT);
	enc = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT_ENCODING);
	qom = accept != NULL ? http_q(accept, "application/openmetrics-text",
	    NULL) : -1;
	qtext = accept != NULL ? http_q(accept, "text/plain", "*/*") : -1;
	om = qom > 0 && qom >= qtext;
	type = om ? "application/openmetrics-text; version=1.0.0; "
	    "charset=utf-8" : "text/plain; version=0.0.4; charset=utf-8";
	argv[0] = h->tally;
	argv[4] = om ? (char *)"--openmetrics" : (char *)"--prometheus";
	if (http_reader(h, argv, &fd, &size, &msg) != 0)
		return http_unavailable(h, mc, "/metrics", &msg);
	http_warnings(h, msg.b);
	free(msg.b);
	/* gzip from the mapped answer; else the memfd goes by sendfile(). */
	if (size > 0 && enc != NULL && http_q(enc, "gzip", "*") > 0 &&
	    (map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0)) !=
	    MAP_FAILED) {
		if (http_gzip(map, size, &gz) == 0) {
			close(fd);
			fd = -1;
		}
		munmap(map, size);
		if (fd < 0)
			return http_send(mc, MHD_HTTP_OK, type, &gz, 1, 'm');
	}
	if ((resp = MHD_create_response_from_fd(size, fd)) == NULL) {
		close(fd);
		return http_text(mc, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
	}
	http_headers(resp, MHD_HTTP_OK, type, 0, 'm');
	ret = MHD_queue_response(mc, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A node as a page or nodes.json shows it. */
struct http_row {
	const char		*id, *nickname, *source, *key;
	int64_t			 time;
	double			 interval;
	const struct http_node	*live;	/* NULL: not seen this run */
};

/* What a request shows: rows by id, and the loop's figures. */
struct http_view {
	struct http_row		*rows;
	size_t			 n, cap;
	struct http_node	*live;	/* a copy of the loop's table */
	size_t			 nlive;
	unsigned		 nconns, nready;
	uint32_t		 per_minute;
	double			 commit_last, commit_max;
	unsigned long		 commit_failures;
	char			 commit_err[TALLY_ERRLEN];
	int64_t			 now;
	char			*map;	/* the reader's output, mapped */
	size_t			 mapn;
};

static int
http_live_cmp(const void *a, const void *b)
{
	return strcmp(((const struct http_node *)a)->id,
	    ((const struct http_node *)b)->id);
}

static void
http_view_free(struct http_view *v)
{
	free(v->rows);
	free(v->live);
	if (v->map != NULL)
		munmap(v->map, v->mapn);
}

/* msg says only what: a failure of our own, after the reader's text. */
static void
http_msg_set(struct hbuf *msg, const char *what)
{
	free(msg->b);
	*msg = (struct hbuf){ NULL, 0, 0, 0 };
	hbuf_put(msg, what, strlen(what) + 1);
}

static int
http_row_add(struct http_view *v, const struct http_row *r)
{
	struct http_row	*rows;
	size_t		 cap;

	if (v->n == v->cap) {
		cap = v->cap ? 2 * v->cap : 256;
		if ((rows = reallocarray(v->rows, cap, sizeof *rows)) == NULL)
			return -1;
		v->rows = rows;
		v->cap = cap;
	}
	v->rows[v->n++] = *r;
	return 0;
}

/*
 * Copy the loop's table into v->live, HTTP_COPY entries per hold of the
 * mutex, so that the loop never waits for more than a short memcpy; the
 * figures with the last hold.  Entries change in place and are only ever
 * appended, so the copy is each entry as it was at some moment of the
 * request.  0, or -1 out of memory.
 */
static int
http_live_copy(struct http *h, struct http_view *v)
{
	struct http_node	*live;
	size_t			 n, cap = 0, i, k;

	for (;;) {
		pthread_mutex_lock(&h->mu);
		n = h->n;
		if (v->nlive < n && v->nlive < cap) {
			k = n - v->nlive < HTTP_COPY ? n - v->nlive : HTTP_COPY;
			if (k > cap - v->nlive)
				k = cap - v->nlive;
			memcpy(v->live + v->nlive, h->nodes + v->nlive,
			    k * sizeof *live);
			v->nlive += k;
		}
		if (v->nlive == n) {
			v->nconns = h->nconns;
			v->nready = h->nready;
			for (i = 0; i < HTTP_MINUTE; i++)
				if (h->stamp[i] > v->now - HTTP_MINUTE &&
				    h->stamp[i] <= v->now) {
					v->per_minute += h->snaps[i];
					if (h->cmax[i] > v->commit_max)
						v->commit_max = h->cmax[i];
				}
			v->commit_last = h->commit_last;
			v->commit_failures = h->commit_failures;
			snprintf(v->commit_err, sizeof v->commit_err, "%s",
			    h->commit_err);
			pthread_mutex_unlock(&h->mu);
			return 0;
		}
		pthread_mutex_unlock(&h->mu);
		if (n > cap) {	/* allocated outside the lock */
			cap = n + n / 8 + 16;
			if ((live = reallocarray(v->live, cap,
			    sizeof *live)) == NULL)
				return -1;
			v->live = live;
		}
	}
}

/* Fill v: 0, or -1 with the message in msg. */
static int
http_view(struct http *h, struct http_view *v, struct hbuf *msg)
{
	struct http_row	 r;
	const char	*p, *end, *f[6];
	char		*argv[] = { (char *)"/proc/self/exe",
			     (char *)"--http-reader", (char *)"nodes",
			     h->statsfile, NULL };
	size_t		 j, k, size;
	int		 c = 0, fd;

	memset(v, 0, sizeof *v);
	if (http_reader(h, argv, &fd, &size, msg) != 0)
		return -1;
	if (size > 0) {
		v->map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (v->map == MAP_FAILED) {
			v->map = NULL;
			close(fd);
			http_msg_set(msg, "mapping the reader's answer failed");
			return -1;
		}
		v->mapn = size;
	}
	close(fd);
	v->now = (int64_t)time(NULL);
	if (http_live_copy(h, v) != 0) {
		http_msg_set(msg, "out of memory");
		return -1;
	}
	if (v->nlive > 1)	/* never qsort(NULL, 0): UBSan says so */
		qsort(v->live, v->nlive, sizeof *v->live, http_live_cmp);

	/*
	 * The reader's records, in id order, merged with the live table.  A
	 * node of the table without a record shows while it is connected
	 * (it has sent no snapshot yet); once gone (pruned, forgotten, or
	 * refused before its first), it is no node of the statsfile.
	 */
	p = v->map;
	end = p + v->mapn;
	for (j = 0;; ) {
		memset(&r, 0, sizeof r);
		for (k = 0; k < 6 && p < end; k++) {
			const char *z = memchr(p, '\0', (size_t)(end - p));
			if (z == NULL)
				break;
			f[k] = p;
			p = z + 1;
		}
		if (k == 6) {
			r.id = f[0];
			r.nickname = f[1];
			r.source = f[2];
			r.key = *f[3] != '\0' ? f[3] : NULL;
			r.time = strtoll(f[4], NULL, 10);
			r.interval = strtod(f[5], NULL);
		}
		while (j < v->nlive && (r.id == NULL ||
		    (c = strcmp(v->live[j].id, r.id)) <= 0)) {
			struct http_row lr;

			if (r.id != NULL && c == 0) {
				r.live = &v->live[j++];
				break;
			}
			if (!v->live[j].connected) {
				j++;
				continue;
			}
			memset(&lr, 0, sizeof lr);
			lr.id = v->live[j].id;
			lr.live = &v->live[j++];
			if (http_row_add(v, &lr) != 0)
				goto oom;
		}
		if (r.id == NULL)
			break;
		if (http_row_add(v, &r) != 0)
			goto oom;
	}
	return 0;
oom:
	http_msg_set(msg, "out of memory");
	return -1;
}

/* A row's state: connected, local (writes its own slot) or disconnected. */
static const char *
http_state(const struct http_row *r)
{
	if (r->live != NULL && r->live->connected)
		return "connected";
	if (r->source != NULL && strcmp(r->source, "local") == 0)
		return "local";
	return "disconnected";
}

/*
 * Its snapshot's age in seconds, or -1 when it has none or its time is
 * not sane; stale when older than three intervals and ten seconds.
 */
static int64_t
http_age(const struct http *h, const struct http_row *r, int64_t now,
    int *stale)
{
	double	 iv = r->interval > 0 && isfinite(r->interval) &&
		     r->interval < 1e6 ? r->interval : h->interval;
	int64_t	 age;

	/* Connected, no snapshot written yet: young, not stale. */
	*stale = !(r->source == NULL && r->live != NULL &&
	    r->live->connected);
	if (r->source == NULL || r->time < 946684800 ||
	    r->time > now + 86400)
		return -1;
	age = now > r->time ? now - r->time : 0;
	*stale = (double)age > 3 * iv + 10;
	return age;
}

static void
http_fmt_age(char *buf, size_t len, int64_t age)
{
	if (age < 0)
		snprintf(buf, len, "none");
	else if (age < 120)
		snprintf(buf, len, "%" PRId64 " s", age);
	else if (age < 7200)
		snprintf(buf, len, "%" PRId64 " min", age / 60);
	else if (age < 2 * 86400)
		snprintf(buf, len, "%" PRId64 " h", age / 3600);
	else
		snprintf(buf, len, "%" PRId64 " d", age / 86400);
}

static enum MHD_Result
http_nodes_json(struct http *h, struct MHD_Connection *mc)
{
	struct http_view	 v;
	struct hbuf		 b = { NULL, 0, 0, 0 }, msg = { NULL, 0, 0, 0 };
	size_t			 i;
	int64_t			 age;
	int			 stale;

	if (http_view(h, &v, &msg) != 0) {
		http_view_free(&v);
		return http_unavailable(h, mc, "/nodes.json", &msg);
	}
	free(msg.b);
	hbuf_str(&b, "{\"tallyd\":{\"version\":");
	hbuf_json(&b, tally_version(NULL, NULL, NULL));
	hbuf_str(&b, ",\"node_id\":");
	hbuf_json(&b, h->node_id);
	hbuf_printf(&b, ",\"uptime_seconds\":%" PRId64 ",\"connections\":%u,"
	    "\"nodes_connected\":%u,\"snapshots_per_minute\":%" PRIu32
	    ",\"commit_seconds_last\":%.6f,\"commit_seconds_max\":%.6f,"
	    "\"commit_failures\":%lu,\"commit_error\":", v.now - h->started,
	    v.nconns, v.nready, v.per_minute, v.commit_last, v.commit_max,
	    v.commit_failures);
	hbuf_json(&b, v.commit_err[0] != '\0' ? v.commit_err : NULL);
	hbuf_str(&b, "},\"nodes\":[");
	for (i = 0; i < v.n; i++) {
		const struct http_row *r = &v.rows[i];
		const struct http_node *l = r->live;

		age = http_age(h, r, v.now, &stale);
		hbuf_str(&b, i > 0 ? ",\n{\"id\":" : "\n{\"id\":");
		hbuf_json(&b, r->id);
		hbuf_str(&b, ",\"nickname\":");
		hbuf_json(&b, r->nickname);
		hbuf_str(&b, ",\"source\":");
		hbuf_json(&b, r->source);
		hbuf_str(&b, ",\"key\":");
		hbuf_json(&b, r->key != NULL ? r->key : l != NULL &&
		    l->key[0] != '\0' ? l->key : NULL);
		hbuf_printf(&b, ",\"connected\":%s,\"address\":",
		    l != NULL && l->connected ? "true" : "false");
		hbuf_json(&b, l != NULL && l->connected ? l->addr : NULL);
		if (age >= 0)
			hbuf_printf(&b, ",\"snapshot_time\":%" PRId64
			    ",\"snapshot_age_seconds\":%" PRId64, r->time, age);
		else
			hbuf_str(&b, ",\"snapshot_time\":null,"
			    "\"snapshot_age_seconds\":null");
		hbuf_printf(&b, ",\"stale\":%s,\"state\":\"%s\",\"last_error\":",
		    stale ? "true" : "false", http_state(r));
		hbuf_json(&b, l != NULL && l->error[0] != '\0' ? l->error :
		    NULL);
		hbuf_str(&b, "}");
	}
	hbuf_str(&b, "\n]}\n");
	http_view_free(&v);
	return http_send(mc, MHD_HTTP_OK, "application/json", &b, 0, 0);
}

static const char http_style[] =
"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
"h1{font-size:1.3em;margin:0 0 .6em}"
"#tallyd dl{display:grid;grid-template-columns:max-content auto;"
"gap:.2em 1.2em;margin:0 0 1.2em}"
"#tallyd dt{color:#666}#tallyd dd{margin:0}"
"table{border-collapse:collapse;width:100%}"
"th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;"
"vertical-align:top}"
"th{background:#f4f4f4}"
"td.key,td.id{font-family:monospace;font-size:.9em;word-break:break-all}"
"td.nickname{max-width:24em;overflow-wrap:anywhere}"
"td.error{max-width:28em}"
"tr[data-state=connected] td.state{color:#0a7d2c;font-weight:600}"
"tr[data-state=disconnected] td.state{color:#b3261e;font-weight:600}"
"tr[data-state=local] td.state{color:#245fa8;font-weight:600}"
"tr[data-stale=\"1\"]{background:#fff4e0}"
"tr[data-stale=\"1\"] td.age{color:#b3261e;font-weight:600}"
"td.error{color:#b3261e}"
".muted{color:#888}";

static enum MHD_Result
http_page(struct http *h, struct MHD_Connection *mc)
{
	struct http_view	 v;
	struct hbuf		 b = { NULL, 0, 0, 0 }, msg = { NULL, 0, 0, 0 };
	char			 age[32], when[64];
	size_t			 i, nstale = 0, nup = 0;
	int64_t			 a;
	int			 stale;
	struct tm		 tm;
	time_t			 t;

	if (http_view(h, &v, &msg) != 0) {
		http_view_free(&v);
		return http_unavailable(h, mc, "/", &msg);
	}
	free(msg.b);
	for (i = 0; i < v.n; i++) {
		(void)http_age(h, &v.rows[i], v.now, &stale);
		nstale += stale;
		nup += strcmp(http_state(&v.rows[i]), "disconnected") != 0;
	}
	t = (time_t)v.now;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	hbuf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
	    "content=\"%d\"><title>tallyd: %zu nodes</title><style>",
	    HTTP_REFRESH, v.n);
	hbuf_str(&b, http_style);
	hbuf_printf(&b, "</style></head><body>\n<h1>tallyd: %zu nodes, %zu "
	    "connected or local, %zu stale</h1>\n<section id=\"tallyd\"><dl>\n",
	    v.n, nup, nstale);
	hbuf_str(&b, "<dt>version</dt><dd>");
	hbuf_html(&b, tally_version(NULL, NULL, NULL));
	hbuf_str(&b, "</dd>\n<dt>node id</dt><dd class=\"id\">");
	hbuf_html(&b, h->node_id);
	hbuf_printf(&b, "</dd>\n<dt>up for</dt><dd>%" PRId64 " s</dd>\n"
	    "<dt>connections</dt><dd id=\"connections\">%u (%u nodes)</dd>\n"
	    "<dt>snapshots in the last minute</dt><dd id=\"snapshots\">%"
	    PRIu32 "</dd>\n<dt>commit latency</dt><dd id=\"commit\">"
	    "last %.1f ms, slowest in the last minute %.1f ms</dd>\n",
	    v.now - h->started, v.nconns, v.nready, v.per_minute,
	    v.commit_last * 1e3, v.commit_max * 1e3);
	if (v.commit_failures > 0) {
		hbuf_printf(&b, "<dt>commits failing</dt><dd class=\"error\">"
		    "%lu in a row: ", v.commit_failures);
		hbuf_html(&b, v.commit_err);
		hbuf_str(&b, "</dd>\n");
	}
	hbuf_printf(&b, "<dt>as of</dt><dd>%s, refreshed every %d s</dd>\n"
	    "</dl></section>\n", when, HTTP_REFRESH);
	hbuf_str(&b, "<table id=\"nodes\"><thead><tr><th>nickname</th>"
	    "<th>node id</th><th>source</th><th>key fingerprint</th>"
	    "<th>state</th><th>last snapshot</th><th>last error</th></tr>"
	    "</thead><tbody>\n");
	for (i = 0; i < v.n; i++) {
		const struct http_row *r = &v.rows[i];
		const struct http_node *l = r->live;
		const char *key = r->key != NULL ? r->key : l != NULL &&
		    l->key[0] != '\0' ? l->key : NULL;

		a = http_age(h, r, v.now, &stale);
		http_fmt_age(age, sizeof age, a);
		hbuf_str(&b, "<tr class=\"node\" data-id=\"");
		hbuf_html(&b, r->id);
		hbuf_printf(&b, "\" data-state=\"%s\" data-stale=\"%d\">"
		    "<td class=\"nickname\">", http_state(r), stale);
		hbuf_html(&b, r->nickname != NULL ? r->nickname : "");
		hbuf_str(&b, "</td><td class=\"id\">");
		hbuf_html(&b, r->id);
		hbuf_str(&b, "</td><td class=\"source\">");
		if (r->source != NULL)
			hbuf_html(&b, r->source);
		else
			hbuf_str(&b, "<span class=\"muted\">no record "
			    "yet</span>");
		hbuf_str(&b, "</td><td class=\"key\">");
		if (key != NULL)
			hbuf_html(&b, key);
		else
			hbuf_str(&b, "<span class=\"muted\">none</span>");
		hbuf_printf(&b, "</td><td class=\"state\">%s", http_state(r));
		if (l != NULL && l->connected) {
			hbuf_str(&b, " <span class=\"muted\">from ");
			hbuf_html(&b, l->addr);
			hbuf_str(&b, "</span>");
		}
		hbuf_printf(&b, "</td><td class=\"age\">%s%s</td>"
		    "<td class=\"error\">", age, stale && a >= 0 ?
		    " (stale)" : "");
		if (l != NULL)
			hbuf_html(&b, l->error);
		hbuf_str(&b, "</td></tr>\n");
	}
	hbuf_str(&b, "</tbody></table>\n<p class=\"muted\">Also: "
	    "<a href=\"/metrics\">/metrics</a>, "
	    "<a href=\"/nodes.json\">/nodes.json</a>.</p>\n</body></html>\n");
	http_view_free(&v);
	return http_send(mc, MHD_HTTP_OK, "text/html; charset=utf-8", &b, 0, 'h');
}

static enum MHD_Result
http_answer(void *cls, struct MHD_Connection *mc, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **req)
{
	static int	 seen, body;
	struct http	*h = cls;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return http_text(mc, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed: GET or HEAD");
	/*
	 * Answer once the whole request is in (the second call), so that
	 * libmicrohttpd can keep the connection for the next scrape.  A
	 * GET with a body is refused: nothing here reads one.
	 */
	if (*req == NULL) {
		*req = &seen;
		return MHD_YES;
	}
	if (*upload_size != 0) {	/* read and dropped, then refused */
		*upload_size = 0;
		*req = &body;
		return MHD_YES;
	}
	if (*req == &body)
		return http_text(mc, MHD_HTTP_BAD_REQUEST, "a GET or HEAD "
		    "takes no body");
	if (strcmp(url, "/metrics") == 0)
		return http_metrics(h, mc);
	if (strcmp(url, "/nodes.json") == 0)
		return http_nodes_json(h, mc);
	if (strcmp(url, "/") == 0)
		return http_page(h, mc);
	return http_text(mc, MHD_HTTP_NOT_FOUND, "not found: try /, /metrics "
	    "or /nodes.json");
}

/* ---- start and stop ------------------------------------------------------- */

/*
 * /metrics is tally export itself: the tally tool installed beside tallyd
 * (make install puts both in bindir; a build tree has both at its top).
 */
static void
http_tally_path(struct http *h)
{
	char	 exe[4000], *slash;
	ssize_t	 n;

	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0 || (size_t)n >= sizeof exe - 1) {
		snprintf(h->tally, sizeof h->tally, "%s", "tally");
		return;
	}
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';
	snprintf(h->tally, sizeof h->tally, "%s/tally", exe);
}

int
http_new(struct http **hp, struct gatherer *g, const char *host,
    const char *port, char *err, size_t errlen)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof ss;
	struct http		*h;
	char			 addr[LISTENER_ADDRLEN];
	int			 rc, one = 1, e = 0;

	*hp = NULL;
	if ((h = calloc(1, sizeof *h)) == NULL ||
	    (h->statsfile = strdup(g->statsfile)) == NULL) {
		free(h);
		snprintf(err, errlen, "http: out of memory");
		return TALLY_ENOMEM;
	}
	h->fd = -1;
	h->stop[0] = h->stop[1] = -1;
	h->interval = g->cfg.interval;
	h->started = (int64_t)time(NULL);
	snprintf(h->node_id, sizeof h->node_id, "%s", stats_node_id(g));
	http_tally_path(h);
	if (access(h->tally, X_OK) != 0)
		gatherer_log("http: warning: /metrics runs %s (tally export), "
		    "which is not there: %s; install the tally tool beside "
		    "tallyd", h->tally, strerror(errno));
	pthread_mutex_init(&h->mu, NULL);
	if (pipe2(h->stop, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "http: pipe: %s", strerror(errno));
		http_free(h);
		return TALLY_ESYS;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "http: address %s: %s", host,
		    gai_strerror(rc));
		http_free(h);
		return TALLY_EINVAL;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		h->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (h->fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(h->fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(h->fd, 64) == 0)
			break;
		e = errno;
		close(h->fd);
		h->fd = -1;
	}
	freeaddrinfo(res);
	if (h->fd < 0) {
		snprintf(err, errlen, "http: cannot listen on %s%s%s:%s: %s",
		    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ?
		    "]" : "", port, strerror(e));
		http_free(h);
		return TALLY_ESYS;
	}
	if (getsockname(h->fd, (struct sockaddr *)&ss, &sl) == 0)
		listener_fmt_addr((struct sockaddr *)&ss, sl, addr,
		    sizeof addr);
	else
		snprintf(addr, sizeof addr, "%s:%s", host, port);
	snprintf(h->where, sizeof h->where, "http://%s/", addr);
	h->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, http_answer, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
	    MHD_OPTION_LISTEN_SOCKET, h->fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY,
	    MHD_OPTION_END);
	/* libmicrohttpd owns the socket now, and closes it. */
	h->fd = -1;
	if (h->d == NULL) {
		snprintf(err, errlen, "http: libmicrohttpd did not start on "
		    "%s", addr);
		http_free(h);
		return TALLY_ESYS;
	}
	*hp = h;
	return 0;
}

const char *
http_where(const struct http *h)
{
	return h->where;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	/* A reader at work is killed at once: stopping waits for no scrape. */
	if (h->stop[1] >= 0)
		(void)write(h->stop[1], "x", 1);
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	if (h->stop[0] >= 0)
		close(h->stop[0]);
	if (h->stop[1] >= 0)
		close(h->stop[1]);
	if (h->fd >= 0)		/* not yet given to libmicrohttpd */
		close(h->fd);
	pthread_mutex_destroy(&h->mu);
	free(h->nodes);
	free(h->hash);
	free(h->statsfile);
	free(h);
}
