/*
 * cmd-show.c: tally show [--json] [NODE...]: the nodes (id, nickname, age,
 * source, key) and each node's counters and stats, as a table sorted by
 * node id or as one JSON document.  Exit 1 if a node named is unknown or
 * something could not be shown (each said on stderr).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tally-cmd.h"

/* A metric, copied: its name and text in the slot's buffer. */
struct show_metric {
	int		 counter;	/* from counters, else from stats */
	size_t		 name, nlen;
	size_t		 text, tlen;
	int64_t		 i;		/* a counter's value */
	double		 d;		/* a stat's */
	uint32_t	 hist;		/* HIST_NONE, or the histogram it is of */
	int		 role;		/* HIST_PART, HIST_REFUSED, or a stat's
					   HIST_STAT + its index; 0: none */
};
#define HIST_STAT	16

/* A histogram's line or object: its parts, gathered. */
struct show_hist {
	int64_t		 refused;	/* -1: none */
	const struct show_metric *stat[HIST_NSTATS];
};

/* One node's counters then stats. */
struct show_slot {
	tally_reader		*r;
	const char		*qpath;
	int			 say_empty;	/* "no nodes in": none at all */
	struct show_metric	*m;
	size_t			 n, cap;
	char			*buf;		/* names and texts */
	size_t			 blen, bcap;
	size_t			 bad;		/* unreadable entries skipped */
	size_t			 badtotal;	/* over all nodes */
	struct hist_part	*parts;		/* its counters, for hist_scan */
	size_t			 pcap;
	struct hist		*hists;
	size_t			 nh, hcap;
};

/* Append n bytes and a NUL to sl's buffer: 0, or -1 (out of memory). */
static int
show_slot_put(struct show_slot *sl, const char *s, size_t n, size_t *off)
{
	size_t	 cap = sl->bcap ? sl->bcap : 4096;
	char	*b;

	while (cap < sl->blen + n + 1)
		cap *= 2;
	if (cap != sl->bcap) {
		if ((b = realloc(sl->buf, cap)) == NULL)
			return -1;
		sl->buf = b;
		sl->bcap = cap;
	}
	memcpy(sl->buf + sl->blen, s, n);
	sl->buf[sl->blen + n] = '\0';
	*off = sl->blen;
	sl->blen += n + 1;
	return 0;
}

/* Keep a copy of m: 0, or -1 (out of memory). */
static int
show_slot_add(struct show_slot *sl, const tally_metric *m)
{
	struct show_metric	*mm;
	size_t			 cap;

	if (sl->n == sl->cap) {
		cap = sl->cap ? sl->cap * 2 : 64;
		if ((mm = realloc(sl->m, cap * sizeof *mm)) == NULL)
			return -1;
		sl->m = mm;
		sl->cap = cap;
	}
	mm = &sl->m[sl->n];
	mm->counter = m->kind == TALLY_COUNTER;
	mm->nlen = strlen(m->name);
	mm->tlen = strlen(m->text);
	mm->i = m->counter;
	mm->d = m->value;
	if (show_slot_put(sl, m->name, mm->nlen, &mm->name) != 0 ||
	    show_slot_put(sl, m->text, mm->tlen, &mm->text) != 0)
		return -1;
	sl->n++;
	return 0;
}

/*
 * The histograms among the node's metrics: each part marked with its
 * histogram, a damaged one said and left as its counters.  0, or -1.
 */
static int
show_slot_hists(struct show_slot *sl, const struct statsfile_node *nd)
{
	const struct hist	*h;
	size_t			 j, np = 0;
	int			 k;

	if (sl->pcap < sl->n + 1) {
		free(sl->parts);
		sl->pcap = sl->n + 1;
		if ((sl->parts = calloc(sl->pcap, sizeof *sl->parts)) == NULL) {
			sl->pcap = 0;
			warnmsg("%s: reading node %s: out of memory",
			    sl->qpath, nd->id);
			return -1;
		}
	}
	/* The walk gives the counters first: parts[j] is m[j]. */
	for (j = 0; j < sl->n && sl->m[j].counter; j++, np++) {
		sl->parts[j].name = sl->buf + sl->m[j].name;
		sl->parts[j].nlen = sl->m[j].nlen;
		sl->parts[j].value = sl->m[j].i;
	}
	if (hist_scan(sl->parts, np, &sl->hists, &sl->nh, &sl->hcap) != 0) {
		warnmsg("%s: reading node %s: out of memory", sl->qpath,
		    nd->id);
		return -1;
	}
	for (j = 0; j < sl->n; j++) {
		struct show_metric *m = &sl->m[j];

		m->hist = HIST_NONE;
		m->role = 0;
		if (j < np) {
			m->hist = sl->parts[j].hist;
			m->role = sl->parts[j].role;
		} else if ((k = hist_stat(sl->hists, sl->nh, sl->buf + m->name,
		    m->nlen, &h)) >= 0) {
			m->hist = (uint32_t)(h - sl->hists);
			m->role = HIST_STAT + k;
		}
	}
	for (j = 0; j < sl->nh; j++) {
		h = &sl->hists[j];
		if (h->bad != NULL)
			warnmsg("histogram '%.*s' of node %s: %s ('%s'): shown "
			    "as counters", (int)h->nlen, h->name, nd->id,
			    h->bad, sl->parts[h->why].name);
	}
	return 0;
}

/* Histogram hi's refused count and stats, from the node's metrics. */
static void
show_hist_gather(const struct show_slot *sl, uint32_t hi,
    struct show_hist *sh)
{
	size_t	 j;

	memset(sh, 0, sizeof *sh);
	sh->refused = -1;
	for (j = 0; j < sl->n; j++) {
		const struct show_metric *m = &sl->m[j];

		if (m->hist != hi)
			continue;
		if (m->role == HIST_REFUSED)
			sh->refused = m->i;
		else if (m->role >= HIST_STAT)
			sh->stat[m->role - HIST_STAT] = m;
	}
}

/* A node's counters then stats, into sl->m; 0, or -1 said why not. */
static int
show_slot_read(struct show_slot *sl, const struct statsfile_node *nd)
{
	tally_metric	 m;
	int		 rc;

	sl->n = 0;
	sl->blen = 0;
	sl->bad = 0;
	if ((rc = tally_reader_metrics(sl->r, nd->id)) == 0) {
		while ((rc = tally_reader_next_metric(sl->r, &m)) == 1) {
			if (m.error != NULL) {
				sl->badtotal++;
				if (sl->bad++ == 0)
					statsfile_warn_metric(nd->id, &m);
			} else if (show_slot_add(sl, &m) != 0) {
				warnmsg("%s: reading node %s: out of memory",
				    sl->qpath, nd->id);
				return -1;
			}
		}
	}
	if (rc != 0) {
		warnmsg("%s", tally_reader_errmsg(sl->r));
		return -1;
	}
	/* The first is named; a node of many is not a flood. */
	if (sl->bad > 1)
		warnmsg("%s: node %s: %zu more unreadable values skipped",
		    sl->qpath, nd->id, sl->bad - 1);
	return show_slot_hists(sl, nd);
}

/* The AGE column: see text_snapshot_age. */
static const char *
show_age(char *buf, size_t size, const struct statsfile_node *nd, time_t now)
{
	return text_snapshot_age(buf, size, nd->time, now, "");
}

/* The table of the nodes, one line each. */
static void
show_nodes(const struct statsfile_node *nodes, size_t n, time_t now)
{
	size_t	 i, wid = 4, wnick = 8, wage = 3, w;
	char	 age[64];

	for (i = 0; i < n; i++) {
		const struct statsfile_node *nd = &nodes[i];
		if ((w = strlen(nd->id)) > wid)
			wid = w;
		w = text_width(nd->nickname, strlen(nd->nickname));
		if (w > wnick)
			wnick = w;
		w = strlen(show_age(age, sizeof age, nd, now));
		if (w > wage)
			wage = w;
	}
	printf("%-*s  %-*s  %-*s  %s\n", (int)wid, "NODE", (int)wnick,
	    "NICKNAME", (int)wage, "AGE", "SOURCE");
	for (i = 0; i < n; i++) {
		const struct statsfile_node *nd = &nodes[i];
		const char *nick = nd->nickname;
		size_t nlen = strlen(nick);

		printf("%-*s  ", (int)wid, nd->id);
		text_put_clean(stdout, nick, nlen);
		printf("%*s  %-*s  ", (int)(wnick - text_width(nick, nlen)),
		    "", (int)wage, show_age(age, sizeof age, nd, now));
		text_put_clean(stdout, nd->source, strlen(nd->source));
		putchar('\n');
	}
}

/*
 * A histogram on one line: count, sum in seconds, refused if any, then
 * the last interval's mean and percentiles that are known (stored text).
 */
static void
show_hist_line(const struct show_slot *sl, uint32_t hi, size_t wname)
{
	const struct hist	*h = &sl->hists[hi];
	struct show_hist	 sh;
	char			 sum[48];
	int			 k;

	show_hist_gather(sl, hi, &sh);
	hist_seconds(sum, sizeof sum, h->sum_ns);
	printf("  %-7s  %.*s%*s  count=%" PRId64 " sum=%ss", "hist",
	    (int)h->nlen, h->name, (int)(wname - h->nlen), "", h->count, sum);
	if (sh.refused >= 0)
		printf(" refused=%" PRId64, sh.refused);
	for (k = 0; k < HIST_NSTATS; k++)
		if (sh.stat[k] != NULL && isfinite(sh.stat[k]->d))
			printf(" %s=%s", hist_stat_label[k],
			    sl->buf + sh.stat[k]->text);
	putchar('\n');
}

/* A node's counters and stats, under its name, key and nickname. */
static void
show_slot(const struct show_slot *sl, const struct statsfile_node *nd)
{
	size_t	 j, wname = 1, wval = 1;

	printf("\n%s (", nd->id);
	text_put_clean(stdout, nd->nickname, strlen(nd->nickname));
	printf(")\n");
	/* Its own line: a fingerprint would make the table too wide. */
	printf("  %-7s  %s\n", "key", nd->key != NULL ? nd->key : "-");
	if (sl->n == 0)
		printf("  no counters or stats\n");
	for (j = 0; j < sl->n; j++) {
		if (sl->m[j].role != 0)		/* a histogram's */
			continue;
		if (sl->m[j].nlen > wname)
			wname = sl->m[j].nlen;
		if (sl->m[j].tlen > wval)
			wval = sl->m[j].tlen;
	}
	for (j = 0; j < sl->nh; j++)
		if (sl->hists[j].bad == NULL && sl->hists[j].nlen > wname)
			wname = sl->hists[j].nlen;
	for (j = 0; j < sl->n; j++) {
		const struct show_metric *m = &sl->m[j];
		if (m->role != 0)
			continue;
		printf("  %-7s  %-*s  %*s\n", m->counter ? "counter" : "stat",
		    (int)wname, sl->buf + m->name, (int)wval,
		    sl->buf + m->text);
	}
	for (j = 0; j < sl->nh; j++)
		if (sl->hists[j].bad == NULL)
			show_hist_line(sl, (uint32_t)j, wname);
}

/* The table; 0, or -1 if a slot could not be read. */
static int
show_table(struct cmd *self, struct show_slot *sl,
    const struct statsfile_node *nodes, size_t n, time_t now)
{
	size_t	 i;

	if (n == 0) {
		/* Only of the whole file: else stderr says what was not. */
		if (sl->say_empty)
			printf("no nodes in %s\n", self->qpath);
		return 0;
	}
	show_nodes(nodes, n, now);
	for (i = 0; i < n; i++) {
		if (show_slot_read(sl, &nodes[i]) != 0)
			return -1;
		show_slot(sl, &nodes[i]);
	}
	return 0;
}

/* A "counters" or "stats" object: numbers, null for NaN and Inf. */
static void
show_json_metrics(const struct show_slot *sl, int counter)
{
	char	 num[JSON_NUMLEN];
	size_t	 j, k = 0;

	printf("{");
	for (j = 0; j < sl->n; j++) {
		const struct show_metric *m = &sl->m[j];
		const char *text = sl->buf + m->text;

		if (m->counter != counter || m->role != 0)
			continue;
		printf(k++ ? ",\n        " : "\n        ");
		json_str(stdout, sl->buf + m->name, m->nlen);
		printf(": ");
		if (counter)
			printf("%" PRId64, m->i);
		else if (!isfinite(m->d))
			printf("null");
		else if (json_number_valid(text, m->tlen))
			fwrite(text, 1, m->tlen, stdout);
		else
			fwrite(num, 1, json_fmt_double(num, m->d), stdout);
	}
	printf(k ? "\n      }" : "}");
}

/* A stat's value in JSON: a number, or null for NaN and Inf. */
static void
show_json_double(const struct show_metric *m, const char *text)
{
	char	 num[JSON_NUMLEN];

	if (m == NULL || !isfinite(m->d))
		printf("null");
	else if (json_number_valid(text, m->tlen))
		fwrite(text, 1, m->tlen, stdout);
	else
		fwrite(num, 1, json_fmt_double(num, m->d), stdout);
}

/* Histogram hi as a JSON object; its buckets in index order. */
static void
show_json_hist(const struct show_slot *sl, uint32_t hi)
{
	const struct hist	*h = &sl->hists[hi];
	struct show_hist	 sh;
	int64_t			 b[353];	/* buckets -240 .. 112 */
	char			 seen[353], sum[48];
	size_t			 j, plen = h->nlen + 8;
	int			 k, n = 0;

	show_hist_gather(sl, hi, &sh);
	memset(seen, 0, sizeof seen);
	for (j = 0; j < sl->n; j++) {
		const struct show_metric *m = &sl->m[j];

		/* A good histogram's H.bucket.<i>: i is in range. */
		if (m->hist != hi || m->role != HIST_PART || m->nlen <= plen ||
		    memcmp(sl->buf + m->name + h->nlen, ".bucket.", 8) != 0)
			continue;
		k = atoi(sl->buf + m->name + plen) + 240;
		b[k] = m->i;
		seen[k] = 1;
	}
	hist_seconds(sum, sizeof sum, h->sum_ns);
	printf(": {\n          \"count\": %" PRId64 ",\n          \"sum_ns\": %"
	    PRId64 ",\n          \"sum\": %s,", h->count, h->sum_ns, sum);
	if (sh.refused >= 0)
		printf("\n          \"refused\": %" PRId64 ",", sh.refused);
	printf("\n          \"buckets\": {");
	for (k = 0; k < 353; k++)
		if (seen[k])
			printf("%s\"%d\": %" PRId64, n++ ? ", " : "", k - 240,
			    b[k]);
	printf("},\n          \"mean\": ");
	show_json_double(sh.stat[0], sh.stat[0] ? sl->buf + sh.stat[0]->text :
	    NULL);
	printf(",\n          \"percentiles\": {");
	for (k = 1; k < HIST_NSTATS; k++) {
		printf("%s\"%s\": ", k > 1 ? ", " : "", hist_stat_label[k] + 1);
		show_json_double(sh.stat[k], sh.stat[k] ?
		    sl->buf + sh.stat[k]->text : NULL);
	}
	printf("}\n        }");
}

/* The "histograms" object: the good ones, by name. */
static void
show_json_hists(const struct show_slot *sl)
{
	size_t	 j, k = 0;

	printf("{");
	for (j = 0; j < sl->nh; j++) {
		if (sl->hists[j].bad != NULL)
			continue;
		printf(k++ ? ",\n        " : "\n        ");
		json_str(stdout, sl->hists[j].name, sl->hists[j].nlen);
		show_json_hist(sl, (uint32_t)j);
	}
	printf(k ? "\n      }" : "}");
}

/* A node's object, but for its counters and stats. */
static void
show_json_node(const struct statsfile_node *nd, time_t now)
{
	char	 num[JSON_NUMLEN];

	printf("\n    {\n      \"id\": ");
	json_str(stdout, nd->id, strlen(nd->id));
	printf(",\n      \"nickname\": ");
	json_str(stdout, nd->nickname, strlen(nd->nickname));
	/* An insane time has no age: null, and the raw time. */
	printf(",\n      \"time\": %" PRId64 ",\n      \"age\": ", nd->time);
	if (text_time_sane(nd->time, now))
		printf("%" PRId64, text_time_age(now, nd->time));
	else
		printf("null");
	printf(",\n      \"source\": ");
	json_str(stdout, nd->source, strlen(nd->source));
	if (nd->interval > 0 && isfinite(nd->interval)) {
		json_fmt_double(num, nd->interval);
		printf(",\n      \"interval\": %s", num);
	}
	/* A key is base32: no escaping needed, nor harmful. */
	printf(",\n      \"key\": ");
	if (nd->key != NULL)
		json_str(stdout, nd->key, strlen(nd->key));
	else
		printf("null");
}

/* One JSON document; 0, or -1 if a slot could not be read. */
static int
show_json(struct cmd *self, struct show_slot *sl,
    const struct statsfile_node *nodes, size_t n, time_t now)
{
	size_t	 i;

	/* The raw path: JSON escapes it itself. */
	printf("{\n  \"statsfile\": ");
	json_str(stdout, self->path, strlen(self->path));
	printf(",\n  \"format\": %d,\n  \"time\": %lld,\n  \"nodes\": [",
	    tally_reader_format(sl->r), (long long)now);
	for (i = 0; i < n; i++) {
		if (show_slot_read(sl, &nodes[i]) != 0)
			return -1;
		if (i > 0)
			printf(",");
		show_json_node(&nodes[i], now);
		printf(",\n      \"counters\": ");
		show_json_metrics(sl, 1);
		printf(",\n      \"stats\": ");
		show_json_metrics(sl, 0);
		printf(",\n      \"histograms\": ");
		show_json_hists(sl);
		printf("\n    }");
	}
	printf(n ? "\n  ]\n}\n" : "]\n}\n");
	return 0;
}

int
cmd_show_exec(struct cmd *self)
{
	struct args		*a = &self->args;
	tally_reader		*r = NULL;
	struct show_slot	 sl;
	struct statsfile_node	*nodes = NULL;
	size_t			 n = 0, skipped = 0;
	char			*found = NULL, q[TALLY_QUOTE_LEN];
	time_t			 now = time(NULL);
	int			 i, status = EXIT_FAIL, nwant = a->argc;

	if (nwant > 0 && (found = calloc((size_t)nwant, 1)) == NULL) {
		warnmsg("out of memory");
		return EXIT_FAIL;
	}
	memset(&sl, 0, sizeof sl);
	if (statsfile_open(&r, self->path, self->qpath) != 0)
		goto out;
	sl.r = r;
	sl.qpath = self->qpath;
	if (statsfile_nodes_list(r, self->qpath, a->argv, nwant, found,
	    &nodes, &n, &skipped) != 0)
		goto out;
	sl.say_empty = nwant == 0 && skipped == 0;
	if ((args_has(a, 'j') ? show_json : show_table)(self, &sl, nodes, n,
	    now) != 0) {
		fflush(stdout);
		goto out;
	}
	/* Say so if something could not be shown. */
	status = sl.badtotal + skipped > 0 ? EXIT_FAIL : 0;
	for (i = 0; i < nwant; i++) {
		if (found[i])
			continue;
		warnmsg("no node '%s' in %s", quote(q, a->argv[i]),
		    self->qpath);
		status = EXIT_FAIL;
	}
	status = flush_stdout(status);
out:
	statsfile_nodes_free(nodes, n);
	tally_reader_close(r);
	free(sl.m);
	free(sl.buf);
	free(sl.parts);
	free(sl.hists);
	free(found);
	return status;
}
