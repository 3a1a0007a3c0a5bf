/*
 * http.c: tallyd --http: libmicrohttpd's daemon on a thread of its own,
 * the requests it hands over, /metrics (tally export, run by
 * http-reader.c) and the answers' headers.  The plan is in http.h.
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "http.h"

/* ---- the log -------------------------------------------------------------- */

/*
 * libmicrohttpd's lines and the readers' failures go to tallyd's log, each
 * kind HTTP_LOG_BURST lines and then one a minute: a hostile client must
 * not fill the log, nor spend the budget of the other kind.
 */
void
http_log(struct log_limit *l, const char *fmt, ...) TALLY_PRINTF(2, 3);
void
http_log(struct log_limit *l, const char *fmt, ...)
{
	char		 line[512];
	unsigned long	 quiet;
	va_list		 ap;

	if (!gatherer_log_quota(l, HTTP_LOG_BURST, HTTP_LOG_EVERY, &quiet))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (quiet > 0)
		gatherer_log("http: %s (and %lu lines not logged)", line,
		    quiet);
	else
		gatherer_log("http: %s", line);
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
enum MHD_Result
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

enum MHD_Result
http_text(struct MHD_Connection *mc, unsigned status, const char *text)
{
	struct hbuf	 b = { NULL, 0, 0, 0 };

	hbuf_str(&b, text);
	hbuf_str(&b, "\n");
	return http_send(mc, status, "text/plain; charset=utf-8", &b, 0, 0);
}

/* What could not be read: said in the log (limited) and answered 503. */
enum MHD_Result
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
