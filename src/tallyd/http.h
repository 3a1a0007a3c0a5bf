/*
 * http.h: what the files of tallyd --http share, for them only:
 *
 *	http.c		libmicrohttpd: start, stop, requests, /metrics,
 *			answers, the log
 *	http-live.c	what the loop tells: nodes connected, commits
 *	http-page.c	the status page and /nodes.json
 *	http-reader.c	the statsfile read in a process of its own
 *
 * Two sources, neither of which the loop ever waits for:
 *  - the statsfile, read for each request in a process of its own (tally
 *    export, or tallyd --http-reader): the store's lock would otherwise
 *    be held for a whole scrape, and with it every commit;
 *  - what only the loop knows (which nodes are connected, from where,
 *    why each last went away, the commits' figures), kept in struct http
 *    under a mutex that the loop holds for a few stores per event and
 *    the HTTP thread for HTTP_COPY entries at a time.
 * Requests are answered one at a time, on libmicrohttpd's thread: a
 * scrape is what costs, and two at once would only share the CPU.  Slow
 * and idle clients are bounded by libmicrohttpd: HTTP_TIMEOUT seconds
 * without progress, HTTP_CONN_MAX connections (HTTP_PER_IP from one
 * address), HTTP_MEMORY bytes for a request's headers.
 */
#ifndef TALLYD_HTTP_H
#define TALLYD_HTTP_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

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
	struct log_limit	 mhd_log, fail_log;

	int			 stop[2];	/* http_free() ends a reader */
};

/* A growing buffer; oom once an allocation failed (nothing more added). */
struct hbuf {
	char	*b;
	size_t	 n, cap;
	int	 oom;
};

/* http.c */
void	 http_log(struct log_limit *, const char *, ...) TALLY_PRINTF(2, 3);
/* Send body (freed, whatever happens); kind 'h': a page, 'm': /metrics. */
enum MHD_Result http_send(struct MHD_Connection *, unsigned, const char *,
	     struct hbuf *, int, int);
enum MHD_Result http_text(struct MHD_Connection *, unsigned, const char *);
/* What could not be read: logged, answered 503; msg freed. */
enum MHD_Result http_unavailable(struct http *, struct MHD_Connection *,
	     const char *, struct hbuf *);

/* http-live.c */
uint32_t http_hash(const char *);

/* http-page.c */
void	 hbuf_put(struct hbuf *, const char *, size_t);
void	 hbuf_str(struct hbuf *, const char *);
void	 hbuf_printf(struct hbuf *, const char *, ...) TALLY_PRINTF(2, 3);
/* As HTML text or a quoted attribute; as a JSON string (NULL: null). */
void	 hbuf_html(struct hbuf *, const char *);
void	 hbuf_json(struct hbuf *, const char *);
enum MHD_Result http_nodes_json(struct http *, struct MHD_Connection *);
enum MHD_Result http_page(struct http *, struct MHD_Connection *);

/* http-reader.c */
/*
 * Run argv with its stdout a memfd (*fdp, *sizep bytes), its messages
 * into msg: 0 when it exited 0, else -1, msg saying why.
 */
int	 http_reader(struct http *, char *const [], int *, size_t *,
	     struct hbuf *);

#endif /* TALLYD_HTTP_H */
