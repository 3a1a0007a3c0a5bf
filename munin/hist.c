/*
 * hist.c: the tally_ plugin's histogram graphs: one graph per histogram H
 * and per stat of it (its mean and percentiles, tally(5)), across nodes,
 * named by a link tally_hist_<spelling of H>_<P>.
 *
 * A histogram travels as ordinary counters and stats of its node: H.count
 * and H.sum_ns (counters) say it is one, and H.mean, H.01_0_percentile,
 * ... H.99_9_percentile (stats, seconds) are what munin draws.  So a
 * histogram graph is an ordinary graph of one stat, built here from the
 * link's name instead of read from a table, and run.c draws it as any
 * other: one graph's run reads only the stat H.<P>.  Only tally_all and
 * suggest walk nodes' counters to find which histograms there are.
 *
 * munin cleans a service name to [A-Za-z0-9_] (Munin::Master::Node), and
 * a stat name holds '.', ':' and '-' too, so H is spelled reversibly in
 * those characters: the link alone gives H, with no walk of the file to
 * find which stat a mangled name meant.  Letters and digits stand for
 * themselves; each maximal run of the punctuation [_.:-] is spelled
 *	"_"	for a lone '_'
 *	"__"	for a lone '.'
 *	"___" CODES "_"	for any other run, a code letter per character:
 *		u '_', d '.', c ':', h '-'
 * so that storage_server.latencies.get reads storage_server__latencies__get
 * and a-b reads a___h_b.  In a spelling, one '_' is '_', two are '.', three
 * open an escape closed by one '_'; only the spelling this gives is
 * accepted, so a histogram has one link name and a link name one
 * histogram.  t/check_hist.c checks both ways.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* The stats of a histogram, in graph order. */
static const struct {
	const char	*tok;		/* in the link's name */
	const char	*suffix;	/* of the stat name, after "H." */
	const char	*what;		/* in the title and graph_info */
} hist_stats[PLUGIN_HIST_NSTATS] = {
	{ "mean", "mean", "mean" },
	{ "p01_0", "01_0_percentile", "1st percentile" },
	{ "p10_0", "10_0_percentile", "10th percentile" },
	{ "p50_0", "50_0_percentile", "50th percentile (median)" },
	{ "p90_0", "90_0_percentile", "90th percentile" },
	{ "p95_0", "95_0_percentile", "95th percentile" },
	{ "p99_0", "99_0_percentile", "99th percentile" },
	{ "p99_9", "99_9_percentile", "99.9th percentile" },
};

/* The counters that make H a histogram (tally(5)). */
#define HIST_COUNT	".count"
#define HIST_SUM	".sum_ns"

static int
hist_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
hist_punct(char c)
{
	return c == '_' || c == '.' || c == ':' || c == '-';
}

static char
hist_code(char c)
{
	switch (c) {
	case '_':
		return 'u';
	case '.':
		return 'd';
	case ':':
		return 'c';
	default:
		return 'h';
	}
}

static char
hist_uncode(char c)
{
	switch (c) {
	case 'u':
		return '_';
	case 'd':
		return '.';
	case 'c':
		return ':';
	case 'h':
		return '-';
	default:
		return '\0';
	}
}

size_t
plugin_hist_spell(const char *h, char *out, size_t size)
{
	size_t	 i = 0, j, k, o = 0, n = strlen(h);

/* Every byte is checked for room, a NUL's included. */
#define HIST_PUT(c) do {						\
	if (o + 1 >= size)						\
		return 0;						\
	out[o++] = (c);							\
} while (0)
	while (i < n) {
		if (!hist_punct(h[i])) {
			HIST_PUT(h[i]);
			i++;
			continue;
		}
		for (j = i; j < n && hist_punct(h[j]); j++)
			;
		if (j - i == 1 && h[i] == '_')
			HIST_PUT('_');
		else if (j - i == 1 && h[i] == '.') {
			HIST_PUT('_');
			HIST_PUT('_');
		} else {
			HIST_PUT('_');
			HIST_PUT('_');
			HIST_PUT('_');
			for (k = i; k < j; k++)
				HIST_PUT(hist_code(h[k]));
			HIST_PUT('_');
		}
		i = j;
	}
#undef HIST_PUT
	if (size == 0)
		return 0;
	out[o] = '\0';
	return o;
}

/*
 * The histogram name spelled by s (len bytes) into h (PLUGIN_HIST_MAX + 1
 * bytes): 0, or -1 with why it is no spelling in why.
 */
static int
hist_unspell(const char *s, size_t len, char *h, char *why, size_t whylen)
{
	size_t	 i = 0, o = 0, run, start;
	char	 c;

	while (i < len) {
		if (o + 1 > PLUGIN_HIST_MAX)
			goto long_name;
		if (hist_alnum(s[i])) {
			h[o++] = s[i++];
			continue;
		}
		if (s[i] != '_')
			return plugin_err(why, whylen, -1, "byte 0x%02x is no "
			    "letter, digit or '_'", (unsigned char)s[i]);
		for (run = 0; i + run < len && s[i + run] == '_'; run++)
			;
		i += run;
		if (run == 1) {
			h[o++] = '_';
			continue;
		}
		if (run == 2) {
			h[o++] = '.';
			continue;
		}
		if (run > 3)
			return plugin_err(why, whylen, -1, "%zu '_' in a row "
			    "(at most 3: '___' opens an escape)", run);
		for (start = i; i < len && (c = hist_uncode(s[i])) != '\0';
		    i++) {
			if (o + 1 > PLUGIN_HIST_MAX)
				goto long_name;
			h[o++] = c;
		}
		if (i == start || i >= len || s[i] != '_')
			return plugin_err(why, whylen, -1, "an escape is '___', "
			    "letters u, d, c or h, and '_'");
		if (i - start == 1 && (s[start] == 'u' || s[start] == 'd'))
			return plugin_err(why, whylen, -1, "'___%c_' is spelled "
			    "'%s'", s[start], s[start] == 'u' ? "_" : "__");
		if (++i < len && s[i] == '_')
			return plugin_err(why, whylen, -1, "'_' after an "
			    "escape's closing '_' (an escape spells the whole "
			    "run)");
	}
	if (o == 0)
		return plugin_err(why, whylen, -1, "no histogram name");
	h[o] = '\0';
	return 0;
long_name:
	return plugin_err(why, whylen, -1, "a histogram name is at most %d "
	    "bytes", PLUGIN_HIST_MAX);
}

int
plugin_hist_graph(struct plugin_hist *hg, const char *h, size_t p)
{
	char	 spelled[PLUGIN_LINK_MAX + 1];
	size_t	 plen = strlen(PLUGIN_PREFIX);
	int	 n;

	memset(hg, 0, sizeof *hg);
	if (p >= PLUGIN_HIST_NSTATS || strlen(h) > PLUGIN_HIST_MAX)
		return TALLY_EINVAL;
	snprintf(hg->statid, sizeof hg->statid, "%s.%s", h,
	    hist_stats[p].suffix);
	if (!tally_stat_name_valid(hg->statid))
		return TALLY_EINVAL;
	/* The link is a file name: NAME_MAX, "tally_" included. */
	if (plugin_hist_spell(h, spelled, sizeof spelled) == 0)
		return TALLY_ELIMIT;
	n = snprintf(hg->key, sizeof hg->key, "%s%s_%s", PLUGIN_HIST,
	    spelled, hist_stats[p].tok);
	if (n < 0 || (size_t)n + plen > PLUGIN_LINK_MAX)
		return TALLY_ELIMIT;
	snprintf(hg->title, sizeof hg->title, "%s %s", h, hist_stats[p].what);
	snprintf(hg->info, sizeof hg->info, "The %s of the observations of "
	    "histogram %s, in seconds, over each node's interval between "
	    "snapshots (unknown when it had none).", hist_stats[p].what, h);
	hg->g.key = hg->key;
	hg->g.statid = hg->statid;
	hg->g.kind = TALLY_STAT;
	hg->g.title = hg->title;
	hg->g.vlabel = "seconds";
	hg->g.category = PLUGIN_HIST_CATEGORY;
	/*
	 * Linear, from 0: a log axis would flatten the rise munin graphs
	 * are watched for, and rrdtool draws no 0 on one.
	 */
	hg->g.args = "--base 1000 --lower-limit 0";
	hg->g.info = hg->info;
	return 0;
}

int
plugin_hist_find(const char *argv0, struct plugin_hist *hg, char *err,
    size_t errlen)
{
	const char	*base = plugin_basename(argv0), *rest;
	char		 h[PLUGIN_HIST_MAX + 1], why[TALLY_ERRMSG_LEN];
	char		 q[TALLY_QUOTE_LEN];
	size_t		 plen = strlen(PLUGIN_PREFIX), hl = strlen(PLUGIN_HIST);
	size_t		 len, tl, p;
	int		 rc;

	if (strncmp(base, PLUGIN_PREFIX, plen) != 0 ||
	    strncmp(base + plen, PLUGIN_HIST, hl) != 0)
		return 0;
	rest = base + plen + hl;
	len = strlen(rest);
	for (p = 0; p < PLUGIN_HIST_NSTATS; p++) {
		tl = strlen(hist_stats[p].tok);
		if (len > tl + 1 && rest[len - tl - 1] == '_' &&
		    strcmp(rest + len - tl, hist_stats[p].tok) == 0)
			break;
	}
	if (p == PLUGIN_HIST_NSTATS)
		return plugin_err(err, errlen, TALLY_EINVAL, "'%s' names no "
		    "histogram graph: it must be %s%s<histogram>_<stat>, the "
		    "stat one of mean p01_0 p10_0 p50_0 p90_0 p95_0 p99_0 "
		    "p99_9; '%s suggest' prints those with data",
		    plugin_quote(q, base), PLUGIN_PREFIX, PLUGIN_HIST,
		    PLUGIN_PREFIX);
	if (hist_unspell(rest, len - tl - 1, h, why, sizeof why) != 0)
		return plugin_err(err, errlen, TALLY_EINVAL, "'%s' spells no "
		    "histogram name: %s (tally_(8), HISTOGRAMS)",
		    plugin_quote(q, base), why);
	if ((rc = plugin_hist_graph(hg, h, p)) != 0)
		return plugin_err(err, errlen, TALLY_EINVAL, "'%s': %s.%s is "
		    "no valid stat name", plugin_quote(q, base), h,
		    hist_stats[p].suffix);
	return 1;
}

void
plugin_hists_init(struct plugin_hists *hs)
{
	memset(hs, 0, sizeof *hs);
}

void
plugin_hists_free(struct plugin_hists *hs)
{
	size_t	 i;

	for (i = 0; i < hs->n; i++)
		free(hs->h[i]);
	free(hs->h);
	memset(hs, 0, sizeof *hs);
}

/* Whether h is in the set; *at, where it is or would go. */
static int
hists_find(const struct plugin_hists *hs, const char *h, size_t *at)
{
	size_t	 lo = 0, hi = hs->n, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(hs->h[mid], h)) == 0) {
			*at = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

/*
 * Add h to the set, kept sorted: a binary search and an insert, since a
 * fleet has a few distinct histograms and each node repeats them.
 */
static int
hists_add(struct plugin_hists *hs, const char *h)
{
	size_t	 lo, cap;
	char	**v;

	if (hists_find(hs, h, &lo))
		return 0;
	if (hs->n == hs->cap) {
		cap = hs->cap ? hs->cap * 2 : 16;
		if ((v = realloc(hs->h, cap * sizeof *v)) == NULL)
			return TALLY_ENOMEM;
		hs->h = v;
		hs->cap = cap;
	}
	memmove(hs->h + lo + 1, hs->h + lo, (hs->n - lo) * sizeof *hs->h);
	if ((hs->h[lo] = strdup(h)) == NULL) {
		memmove(hs->h + lo, hs->h + lo + 1,
		    (hs->n - lo) * sizeof *hs->h);
		return TALLY_ENOMEM;
	}
	hs->n++;
	return 0;
}

/* If name is <H><suffix> with H a histogram's name, add H to hs. */
static int
hists_add_suffixed(struct plugin_hists *hs, const char *name,
    const char *suffix)
{
	char	 h[TALLY_STAT_NAME_MAX + 1];
	size_t	 n = strlen(name), sl = strlen(suffix);

	if (n <= sl || n - sl > PLUGIN_HIST_MAX ||
	    strcmp(name + n - sl, suffix) != 0)
		return 0;
	memcpy(h, name, n - sl);
	h[n - sl] = '\0';
	return hists_add(hs, h);
}

int
plugin_hists_index(struct plugin_hists *hs, tally_reader *r)
{
	struct plugin_hists	 counts, sums;
	const char		*name;
	size_t			 i, at;
	int			 rc;

	if ((rc = tally_reader_names(r, TALLY_COUNTER)) != 0)
		return rc;
	plugin_hists_init(&counts);
	plugin_hists_init(&sums);
	while ((rc = tally_reader_next_name(r, &name)) == 1) {
		if ((rc = hists_add_suffixed(&counts, name, HIST_COUNT)) != 0 ||
		    (rc = hists_add_suffixed(&sums, name, HIST_SUM)) != 0)
			break;
	}
	for (i = 0; rc == 0 && i < sums.n; i++) {
		if (hists_find(&counts, sums.h[i], &at))
			rc = hists_add(hs, sums.h[i]);
	}
	plugin_hists_free(&counts);
	plugin_hists_free(&sums);
	return rc;
}

int
plugin_hists_node(struct plugin_hists *hs, tally_reader *r, const char *id)
{
	tally_metric	 m;
	char		 name[TALLY_STAT_NAME_MAX + 1];
	size_t		 n, sl = strlen(HIST_SUM);
	int		 rc;

	if ((rc = tally_reader_metrics(r, id)) != 0)
		return rc;
	/*
	 * A node's counters come first, in name order, and H.count sorts
	 * before H.sum_ns; but other names fall between, so each H.sum_ns
	 * looks its H.count up (which leaves the walk where it is).
	 */
	while ((rc = tally_reader_next_metric(r, &m)) == 1) {
		if (m.kind != TALLY_COUNTER)
			return 0;		/* the stats: done */
		n = strlen(m.name);
		if (n <= sl || n - sl > PLUGIN_HIST_MAX ||
		    strcmp(m.name + n - sl, HIST_SUM) != 0 ||
		    !tally_stat_name_valid(m.name))
			continue;
		memcpy(name, m.name, n - sl);
		memcpy(name + n - sl, HIST_COUNT, sizeof HIST_COUNT);
		rc = tally_reader_get(r, id, name, TALLY_COUNTER, &m);
		if (rc == TALLY_ENOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		name[n - sl] = '\0';
		if ((rc = hists_add(hs, name)) != 0)
			return rc;
	}
	return rc;
}
