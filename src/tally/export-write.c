/*
 * export-write.c: the write of tally export: the families export.c
 * collected, in name order, each with all its samples together.
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
#include "export.h"

#define OBUF_SIZE		(1 << 20)

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

/* The le bounds, 2^k seconds exactly: shortest round-trip decimal. */
struct le_text {
	char	 s[HIST_NLE][32];
	size_t	 n[HIST_NLE];
};

static void
le_text_make(struct le_text *lt, int prom)
{
	int	 k;

	for (k = 0; k < HIST_NLE; k++) {
		lt->n[k] = (size_t)snprintf(lt->s[k], sizeof lt->s[k], "%.17g",
		    ldexp(1.0, k + HIST_LE_MIN));
		/* OpenMetrics writes a float as a float: le="1.0". */
		if (!prom && strpbrk(lt->s[k], ".e") == NULL) {
			memcpy(lt->s[k] + lt->n[k], ".0", 3);
			lt->n[k] += 2;
		}
	}
}

/* A histogram sample's lines: name_SUFFIX{labels[,le="LE"]} V */
static void
hist_line(struct obuf *o, const char *name, size_t nlen, const char *sfx,
    const struct xnode *xn, const char *arena, const char *le, size_t lelen,
    const char *v, size_t vlen)
{
	obuf_put(o, name, nlen);
	obuf_str(o, sfx);
	if (le != NULL) {
		/* The node's labels without their closing "} ". */
		obuf_put(o, arena + xn->label, xn->llen - 2);
		obuf_str(o, ",le=\"");
		obuf_put(o, le, lelen);
		obuf_str(o, "\"} ");
	} else
		obuf_put(o, arena + xn->label, xn->llen);
	obuf_put(o, v, vlen);
	obuf_put(o, "\n", 1);
}

/* A histogram's sample: its buckets, +Inf, count and sum (seconds). */
static void
export_hist_lines(const struct export *ex, struct obuf *o,
    const struct fam *f, const struct ent *e, const struct le_text *lt)
{
	const struct xnode	*xn = &ex->nodes[e->node];
	const char		*name = ex->arena + f->name;
	int64_t			 v[2 + HIST_NLE];
	char			 num[48];
	size_t			 n;
	int			 k;

	memcpy(v, ex->arena + e->val, sizeof v);
	for (k = 0; k < HIST_NLE; k++) {
		n = (size_t)snprintf(num, sizeof num, "%" PRId64, v[2 + k]);
		hist_line(o, name, f->nlen, "_bucket", xn, ex->arena,
		    lt->s[k], lt->n[k], num, n);
	}
	n = (size_t)snprintf(num, sizeof num, "%" PRId64, v[0]);
	hist_line(o, name, f->nlen, "_bucket", xn, ex->arena, "+Inf", 4, num,
	    n);
	hist_line(o, name, f->nlen, "_count", xn, ex->arena, NULL, 0, num, n);
	/* Nanoseconds to seconds in decimal, exactly: no double between. */
	n = hist_seconds(num, sizeof num, v[1]);
	hist_line(o, name, f->nlen, "_sum", xn, ex->arena, NULL, 0, num, n);
}

/* One family: HELP, TYPE and its samples, order[at..] of them. */
static void
export_fam(const struct export *ex, struct obuf *o, uint32_t fi,
    const uint32_t *order, const struct le_text *lt)
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
		    f->kind == FAM_HIST ? " tally histogram " : " tally stat ");
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

		if (f->kind == FAM_HIST) {
			export_hist_lines(ex, o, f, e, lt);
			continue;
		}
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
	struct le_text	 lt;
	uint32_t	*order = NULL, *pos = NULL;
	size_t		 i, at = 0;

	*werr = 0;
	le_text_make(&lt, ex->prom);
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
		export_fam(ex, &o, sorted[i].fam, order + at, &lt);
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

