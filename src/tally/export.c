/*
 * export.c: every node's metrics as OpenMetrics text or the Prometheus
 * text format 0.0.4, for tally export.  One walk of a reader (tally.h)
 * collects nodes, metric families and samples (this file); the write
 * (export-write.c) then sorts the families by name and puts each family's
 * samples together, in node order.  Families are found by name in a hash
 * table of their own, over an arena that holds every name, label and
 * value.  Histograms (hist.c) become histogram families.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-cmd.h"
#include "export.h"

#define NODE_TIME_STAT		"node_last_snapshot_timestamp_seconds"
#define EXPORT_WARN_MAX		10	/* unreadable samples said */

const char *const fam_kind_name[] = {
	"gauge", "counter", "unknown", "histogram"
};
const char *const alias_sfx[] = {
	"", "_total", "_bucket", "_count", "_sum"
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

/* Does hash entry e name (s, n)? */
static int
hash_match(const struct export *ex, uint32_t e, const char *s, size_t n)
{
	const struct fam	*f = &ex->fams[(e - 1) >> ALIAS_BITS];
	const char		*sfx = alias_sfx[(e - 1) & 7];
	size_t			 sl = strlen(sfx);

	return f->nlen + sl == n &&
	    memcmp(ex->arena + f->name, s, f->nlen) == 0 &&
	    memcmp(s + f->nlen, sfx, sl) == 0;
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
	char		 name[SAMPLE_NAME_BUF];

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
			f = &ex->fams[(old[i] - 1) >> ALIAS_BITS];
			memcpy(name, ex->arena + f->name, f->nlen);
			len = f->nlen;
			strcpy(name + len, alias_sfx[(old[i] - 1) & 7]);
			len += strlen(name + len);
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
	uint32_t	 idx = (uint32_t)ex->nfams, a, a1, a2;
	char		 alias[SAMPLE_NAME_BUF];

	if (ex->nfams >= FAM_MAX ||
	    grow(&ex->fams, &ex->fcap, ex->nfams + 1, sizeof *f) != 0)
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
	if (hash_insert(ex, name, nlen, (idx << ALIAS_BITS) + 1) != 0)
		return TALLY_ENOMEM;
	a1 = kind == FAM_COUNTER ? ALIAS_TOTAL : kind == FAM_HIST ?
	    ALIAS_BUCKET : 1;
	a2 = kind == FAM_COUNTER ? ALIAS_TOTAL + 1 : kind == FAM_HIST ?
	    ALIAS_BUCKET + 3 : 1;
	memcpy(alias, name, nlen);
	for (a = a1; a < a2; a++) {
		strcpy(alias + nlen, alias_sfx[a]);
		if (hash_insert(ex, alias, nlen + strlen(alias_sfx[a]),
		    (idx << ALIAS_BITS | a) + 1) != 0)
			return TALLY_ENOMEM;
	}
	*out = idx;
	return 0;
}

/* "tally_" and the stat name with every character outside [a-zA-Z0-9_]
 * as '_' (colons are for recording rules), in name: its length. */
static size_t
fam_mangle(char *name, const char *stat, size_t slen)
{
	size_t	 n = sizeof METRIC_PREFIX - 1, i;

	memcpy(name, METRIC_PREFIX, n);
	for (i = 0; i < slen; i++) {
		char c = stat[i];
		name[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') ? c : '_';
	}
	return n;
}

/* The hash entry of (name, n), 0 if none; the table made on first use. */
static int
fam_lookup(struct export *ex, const char *name, size_t n, uint32_t *e)
{
	if (ex->hcap == 0) {
		if ((ex->hash = calloc(1024, sizeof *ex->hash)) == NULL)
			return TALLY_ENOMEM;
		ex->hcap = 1024;
	}
	*e = ex->hash[hash_slot(ex, name, n)];
	return 0;
}

/*
 * The family of a stat: its mangled name; a counter's "_total" comes off,
 * as client libraries do, since it is the sample's suffix.  Returns 1 and
 * the family, 0 and the family it clashes with (a family of another kind,
 * or another family's sample name), or a TALLY_E* code.
 */
static int
fam_find(struct export *ex, const char *stat, size_t slen, uint32_t *out)
{
	char		 name[SAMPLE_NAME_BUF];
	size_t		 n;
	int		 kind, total;
	uint32_t	 e1, e2;

	n = fam_mangle(name, stat, slen);
	total = n > sizeof METRIC_PREFIX - 1 + 6 &&
	    memcmp(name + n - 6, "_total", 6) == 0;
	kind = ex->counter ? FAM_COUNTER : total ? FAM_UNKNOWN : FAM_GAUGE;
	if (kind == FAM_COUNTER && total)
		n -= 6;
	if (fam_lookup(ex, name, n, &e1) != 0)
		return TALLY_ENOMEM;
	if (kind != FAM_COUNTER) {
		if (e1 == 0)
			return fam_new(ex, name, n, stat, slen, kind, out) == 0 ?
			    1 : TALLY_ENOMEM;
		*out = (e1 - 1) >> ALIAS_BITS;
		return !((e1 - 1) & 7) && ex->fams[*out].kind == kind;
	}
	memcpy(name + n, "_total", 6);
	if (fam_lookup(ex, name, n + 6, &e2) != 0)
		return TALLY_ENOMEM;
	if (e1 == 0 && e2 == 0)
		return fam_new(ex, name, n, stat, slen, kind, out) == 0 ? 1 :
		    TALLY_ENOMEM;
	/* Ours only if both names are this counter family's. */
	*out = ((e1 ? e1 : e2) - 1) >> ALIAS_BITS;
	return e1 != 0 && e2 != 0 && (e1 - 1) == *out << ALIAS_BITS &&
	    (e2 - 1) == (*out << ALIAS_BITS | ALIAS_TOTAL);
}

/*
 * The family of histogram H: its mangled name with the base unit's
 * "_seconds" (unless it ends so already), as Prometheus names a latency.
 * Returns as fam_find; ours only if the family and its three sample
 * names are this histogram family's.
 */
static int
fam_find_hist(struct export *ex, const char *h, size_t hlen, uint32_t *out)
{
	char		 name[SAMPLE_NAME_BUF];
	size_t		 n, ul = sizeof HIST_UNIT - 1;
	uint32_t	 e[4], a, any = 0, ours = 1;

	n = fam_mangle(name, h, hlen);
	if (n < ul || memcmp(name + n - ul, HIST_UNIT, ul) != 0) {
		memcpy(name + n, HIST_UNIT, ul);
		n += ul;
	}
	for (a = 0; a < 4; a++) {
		strcpy(name + n, a ? alias_sfx[ALIAS_BUCKET + a - 1] : "");
		if (fam_lookup(ex, name, strlen(name), &e[a]) != 0)
			return TALLY_ENOMEM;
		if (e[a] != 0 && any == 0)
			any = e[a];
	}
	name[n] = '\0';
	if (any == 0)
		return fam_new(ex, name, n, h, hlen, FAM_HIST, out) == 0 ? 1 :
		    TALLY_ENOMEM;
	*out = (any - 1) >> ALIAS_BITS;
	for (a = 0; a < 4; a++)
		if (e[a] - 1 != (*out << ALIAS_BITS | (a ? ALIAS_BUCKET + a - 1 :
		    0)))
			ours = 0;
	return ours;
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
	const char	*what = ex->counter == 2 ? "histogram" :
			    ex->counter ? "counter" : "stat";
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

/* Keep counter m of the current node for export_counters. */
static int
export_keep(struct export *ex, const tally_metric *m)
{
	struct xpart	*x;
	size_t		 nlen = strlen(m->name), tlen = strlen(m->text);

	if (grow(&ex->xparts, &ex->xpcap, ex->nxparts + 1, sizeof *x) != 0 ||
	    grow(&ex->pbuf, &ex->pbcap, ex->pblen + nlen + tlen + 2, 1) != 0)
		return TALLY_ENOMEM;
	x = &ex->xparts[ex->nxparts++];
	x->name = ex->pblen;
	x->nlen = nlen;
	memcpy(ex->pbuf + ex->pblen, m->name, nlen + 1);
	ex->pblen += nlen + 1;
	x->text = ex->pblen;
	memcpy(ex->pbuf + ex->pblen, m->text, tlen + 1);
	ex->pblen += tlen + 1;
	x->value = m->counter;
	return 0;
}

/*
 * Histogram h of the current node: one sample holding its count, sum and
 * cumulative buckets, written out by export_hist_lines.
 */
static int
export_hist(struct export *ex, const struct hist *h)
{
	int64_t		 v[2 + HIST_NLE];
	uint32_t	 fam;
	int		 rc;

	ex->counter = 2;
	if ((rc = fam_find_hist(ex, h->name, h->nlen, &fam)) < 0)
		return rc;
	if (rc == 0) {
		export_skip(ex, fam, WARN_KIND, h->name, h->nlen);
		return 0;
	}
	if (ex->fams[fam].last_node == ex->cur) {
		export_skip(ex, fam, WARN_DUP, h->name, h->nlen);
		return 0;
	}
	v[0] = h->count;
	v[1] = h->sum_ns;
	memcpy(v + 2, h->le, sizeof h->le);
	return export_add(ex, fam, (const char *)v, sizeof v);
}

/*
 * The counters kept: the histograms among them as histograms, the rest
 * (a damaged histogram's parts too, said once) as counters.
 */
static int
export_counters(struct export *ex)
{
	tally_metric	 m;
	size_t		 i;
	int		 rc;

	if (grow(&ex->parts, &ex->pcap, ex->nxparts + 1, sizeof *ex->parts) !=
	    0)
		return TALLY_ENOMEM;
	for (i = 0; i < ex->nxparts; i++) {
		ex->parts[i].name = ex->pbuf + ex->xparts[i].name;
		ex->parts[i].nlen = ex->xparts[i].nlen;
		ex->parts[i].value = ex->xparts[i].value;
	}
	if (hist_scan(ex->parts, ex->nxparts, &ex->hists, &ex->nhists,
	    &ex->hcap2) != 0)
		return TALLY_ENOMEM;
	for (i = 0; i < ex->nhists; i++) {
		const struct hist *h = &ex->hists[i];

		if (h->bad == NULL) {
			if ((rc = export_hist(ex, h)) != 0)
				return rc;
		} else if (ex->hwarned++ < EXPORT_WARN_MAX)
			warnmsg("histogram '%.*s' of node %.*s: %s ('%s'): "
			    "exported as counters", (int)h->nlen, h->name,
			    (int)ex->idlen, ex->id, h->bad,
			    ex->parts[h->why].name);
	}
	memset(&m, 0, sizeof m);
	m.kind = TALLY_COUNTER;
	for (i = 0; i < ex->nxparts; i++) {
		if (ex->parts[i].role == HIST_PART)
			continue;
		m.name = ex->parts[i].name;
		m.counter = ex->parts[i].value;
		m.value = (double)m.counter;
		m.text = ex->pbuf + ex->xparts[i].text;
		if ((rc = export_metric(ex, &m)) != 0)
			return rc;
	}
	ex->nxparts = 0;
	ex->pblen = 0;
	return 0;
}

/* A node: its labels, its time's sample, then its counters and stats. */
static int
export_node(struct export *ex, tally_reader *r, const tally_node *nd)
{
	struct xnode	*xn;
	tally_metric	 m;
	int		 rc, kept = 0;

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
	/* Counters come first: kept until the stats, for hist_scan. */
	ex->nxparts = 0;
	ex->pblen = 0;
	while ((rc = tally_reader_next_metric(r, &m)) == 1) {
		if (m.kind == TALLY_COUNTER && m.error == NULL && !kept) {
			if ((rc = export_keep(ex, &m)) != 0)
				return rc;
			continue;
		}
		if (m.kind != TALLY_COUNTER && !kept) {
			kept = 1;
			if ((rc = export_counters(ex)) != 0)
				return rc;
		}
		if ((rc = export_metric(ex, &m)) != 0)
			return rc;
	}
	if (rc == 0 && !kept)
		rc = export_counters(ex);
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
	free(ex->xparts);
	free(ex->parts);
	free(ex->pbuf);
	free(ex->hists);
	free(ex);
}
