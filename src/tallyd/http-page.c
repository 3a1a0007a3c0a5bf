/*
 * http-page.c: the status page (/) and /nodes.json: the nodes of the
 * statsfile (tallyd --http-reader nodes) merged with what the loop knows
 * (http-live.c), escaped for HTML and JSON.
 */
#include <sys/mman.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

/* ---- a growing buffer, escapes ------------------------------------------- */

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


void
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

void
hbuf_str(struct hbuf *hb, const char *s)
{
	hbuf_put(hb, s, strlen(s));
}

void
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
void
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
void
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

enum MHD_Result
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

enum MHD_Result
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

