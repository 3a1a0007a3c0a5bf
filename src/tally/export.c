/*
 * export.c: every node's metrics as OpenMetrics text or the Prometheus
 * text format 0.0.4, for tally export.  One walk of a reader (tally.h)
 * collects nodes, metric families and samples; the write then sorts the
 * families by name and puts each family's samples together, in node
 * order.  Families are found by name in a hash table of their own, over an
 * arena that holds every name, label and value.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-cmd.h"

#define OBUF_SIZE		(1 << 20)
#define METRIC_PREFIX		"tally_"
#define METRIC_MAX		(sizeof METRIC_PREFIX - 1 + TALLY_STAT_NAME_MAX)
#define NODE_TIME_STAT		"node_last_snapshot_timestamp_seconds"
#define EXPORT_WARN_MAX		10	/* unreadable samples said */

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
	if (CMD_UNLIKELY(n > OBUF_SIZE - o->len)) {
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

/* A sample: its value's text in the arena, or ENT_TIME: the node's time. */
#define ENT_TIME	SIZE_MAX
struct ent {
	size_t		 val;
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

/* The hash table's hash: FNV-1a. */
static uint32_t
export_hash(const char *s, size_t n)
{
	uint32_t	 h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
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
		} else if ((l = text_utf8_len(p + i, n - i)) == 0) {
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
	size_t	 mask = ex->hcap - 1, i = export_hash(s, n) & mask;

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

/* A sample of family fam for the current node: val, or NULL: its time. */
static int
export_add(struct export *ex, uint32_t fam, const char *val, size_t vlen)
{
	struct ent	*e;
	size_t		 off = ENT_TIME;

	if (grow(&ex->ents, &ex->ecap, ex->nents + 1, sizeof *e) != 0)
		return TALLY_ENOMEM;
	if (val != NULL) {
		off = ex->alen;
		if (arena_raw(ex, val, vlen) != 0)
			return TALLY_ENOMEM;
	}
	e = &ex->ents[ex->nents++];
	e->val = off;
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

/* A counter or stat of the current node. */
static int
export_metric(struct export *ex, const tally_metric *m)
{
	const char	*val = m->text;
	size_t		 slen = strlen(m->name);
	uint32_t	 fam;
	int		 rc;

	ex->counter = m->kind == TALLY_COUNTER;
	if (m->error != NULL) {
		if (ex->skipped++ < EXPORT_WARN_MAX)
			statsfile_warn_metric(ex->id, m);
		return 0;
	}
	if ((rc = fam_find(ex, m->name, slen, &fam)) < 0)
		return rc;
	if (rc == 0) {
		export_skip(ex, fam, WARN_KIND, m->name, slen);
		return 0;
	}
	if (ex->fams[fam].last_node == ex->cur) {
		export_skip(ex, fam, WARN_DUP, m->name, slen);
		return 0;
	}
	if (ex->counter && m->counter < 0) {
		export_skip(ex, fam, WARN_NEG, m->name, slen);
		return 0;
	}
	/* Stored stats are decimal already; only NaN and Inf change. */
	if (!ex->counter && !isfinite(m->value))
		val = isnan(m->value) ? "NaN" : m->value > 0 ? "+Inf" : "-Inf";
	return export_add(ex, fam, val, strlen(val));
}

/* A node: its labels, its time's sample, then its counters and stats. */
static int
export_node(struct export *ex, tally_reader *r, const tally_node *nd)
{
	struct xnode	*xn;
	tally_metric	 m;
	int		 rc;

	if (nd->error != NULL) {
		statsfile_warn_node(NULL, nd);
		return 0;
	}
	if (ex->nnodes >= UINT32_MAX - 1 || grow(&ex->nodes, &ex->ncap,
	    ex->nnodes + 1, sizeof *xn) != 0)
		return TALLY_ENOMEM;
	ex->cur = (uint32_t)ex->nnodes++;
	ex->id = nd->id;
	ex->idlen = strlen(nd->id);
	xn = &ex->nodes[ex->cur];
	xn->time = nd->time;
	xn->label = ex->alen;
	if (arena_raw(ex, "{node=\"", 7) != 0 ||
	    arena_label(ex, nd->id, ex->idlen) != 0 ||
	    arena_raw(ex, "\",nickname=\"", 12) != 0 ||
	    arena_label(ex, nd->nickname, strlen(nd->nickname)) != 0 ||
	    arena_raw(ex, "\"} ", 3) != 0)
		return TALLY_ENOMEM;
	xn->llen = ex->alen - xn->label;
	/* The time family is the first: see export_collect. */
	if ((rc = export_add(ex, 0, NULL, 0)) != 0)
		return rc;
	if ((rc = tally_reader_metrics(r, nd->id)) != 0)
		return rc;
	while ((rc = tally_reader_next_metric(r, &m)) == 1)
		if ((rc = export_metric(ex, &m)) != 0)
			return rc;
	return rc;
}

/*
 * Read every node's slot into ex: nodes, families and samples.  0, or a
 * TALLY_E* code: the reader's failure (tally_reader_errmsg says it), or
 * TALLY_ENOMEM.
 */
int
export_collect(struct export *ex, tally_reader *r)
{
	tally_node	 nd;
	uint32_t	 tfam;
	int		 rc;

	/* The node's own gauge first, family 0: a stat of that name clashes. */
	ex->counter = 0;
	if ((rc = fam_find(ex, NODE_TIME_STAT, strlen(NODE_TIME_STAT),
	    &tfam)) < 0)
		return rc;
	while ((rc = tally_reader_next(r, &nd)) == 1)
		if ((rc = export_node(ex, r, &nd)) != 0)
			return rc;
	return rc;
}

/* Samples skipped, each said (some) on stderr. */
size_t
export_skipped(const struct export *ex)
{
	return ex->skipped;
}

/* A family for sorting by name: the key precomputed, no context needed. */
struct fam_key {
	const char	*name;
	uint32_t	 fam;
};

static int
fam_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fam_key *)a)->name,
	    ((const struct fam_key *)b)->name);
}

/* One family: HELP, TYPE and its samples, order[at..] of them. */
static void
export_fam(const struct export *ex, struct obuf *o, uint32_t fi,
    const uint32_t *order)
{
	const struct fam	*f = &ex->fams[fi];
	const char		*name = ex->arena + f->name;
	const char		*total = f->kind == FAM_COUNTER ? "_total" : "";
	const char		*ftotal = ex->prom ? total : "";
	size_t			 tlen = strlen(total), j;
	char			 num[32];

	obuf_str(o, "# HELP ");
	obuf_put(o, name, f->nlen);
	obuf_str(o, ftotal);
	if (fi == 0)			/* see export_collect */
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
	for (j = 0; j < f->count; j++) {
		const struct ent *e = &ex->ents[order[j]];
		const struct xnode *xn = &ex->nodes[e->node];

		obuf_put(o, name, f->nlen);
		obuf_put(o, total, tlen);
		obuf_put(o, ex->arena + xn->label, xn->llen);
		if (e->val != ENT_TIME)
			obuf_put(o, ex->arena + e->val, e->vlen);
		else
			obuf_put(o, num, (size_t)snprintf(num, sizeof num,
			    "%" PRId64, xn->time));
		obuf_put(o, "\n", 1);
	}
}

/*
 * Write the families in name order to fd, each with all its samples
 * together (OpenMetrics wants families contiguous), samples in node order.
 * A counting sort by family keeps the scan's node order: one pass, no
 * comparison per sample.  0, or TALLY_ENOMEM; *werr is the errno of the
 * first write that failed, or 0.
 */
int
export_write(struct export *ex, int fd, int *werr)
{
	struct obuf	 o = { fd, 0, NULL, 0 };
	struct fam_key	*sorted = NULL;
	uint32_t	*order = NULL, *pos = NULL;
	size_t		 i, at = 0;

	*werr = 0;
	if ((o.buf = malloc(OBUF_SIZE)) == NULL ||
	    (sorted = malloc((ex->nfams + 1) * sizeof *sorted)) == NULL ||
	    (pos = malloc((ex->nfams + 1) * sizeof *pos)) == NULL ||
	    (order = malloc((ex->nents + 1) * sizeof *order)) == NULL) {
		free(pos);
		free(sorted);
		free(o.buf);
		return TALLY_ENOMEM;
	}
	for (i = 0; i < ex->nfams; i++) {
		sorted[i].name = ex->arena + ex->fams[i].name;
		sorted[i].fam = (uint32_t)i;
	}
	qsort(sorted, ex->nfams, sizeof *sorted, fam_key_cmp);
	for (i = 0; i < ex->nfams; i++) {
		pos[sorted[i].fam] = (uint32_t)at;
		at += ex->fams[sorted[i].fam].count;
	}
	for (i = 0; i < ex->nents; i++)
		order[pos[ex->ents[i].fam]++] = (uint32_t)i;

	for (i = 0, at = 0; i < ex->nfams; i++) {
		if (ex->fams[sorted[i].fam].count == 0)
			continue;
		export_fam(ex, &o, sorted[i].fam, order + at);
		at += ex->fams[sorted[i].fam].count;
	}
	if (!ex->prom)
		obuf_str(&o, "# EOF\n");
	obuf_flush(&o);
	*werr = o.err;
	free(order);
	free(pos);
	free(sorted);
	free(o.buf);
	return 0;
}

/* A new exporter, for the Prometheus text format (prom) or OpenMetrics. */
struct export *
export_new(int prom)
{
	struct export	*ex;

	if ((ex = calloc(1, sizeof *ex)) != NULL)
		ex->prom = prom;
	return ex;
}

void
export_free(struct export *ex)
{
	if (ex == NULL)
		return;
	free(ex->fams);
	free(ex->hash);
	free(ex->ents);
	free(ex->nodes);
	free(ex->arena);
	free(ex);
}
