/*
 * hist.c: the histograms among a node's counters, for show and export.
 * libtally stores a histogram H as ordinary counters and stats (tally(5)):
 * H.count, H.sum_ns, H.bucket.<i> for each non-empty bucket i in
 * [-240, 112] (bucket i holds 2^((i-1)/8) < x <= 2^(i/8) seconds),
 * H.refused once non-zero, and the last interval's H.mean and
 * H.<p>_percentile stats.  A reader knows H by H.count and H.sum_ns.
 *
 * hist_scan finds them and checks that the parts add up.  One that does
 * not (a negative count, a bucket name that is not an index in range, a
 * bucket sum other than H.count) is left as the counters it is made of,
 * with the reason: a damaged or hostile statsfile shows what it holds,
 * never a histogram that lies.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-cmd.h"

#define HIST_BUCKET_MIN		(-240)
#define HIST_BUCKET_MAX		112

/* The interval's stats of H: H.<suffix>, and what show calls them. */
const char *const hist_stat_suffix[HIST_NSTATS] = {
	"mean", "01_0_percentile", "10_0_percentile", "50_0_percentile",
	"90_0_percentile", "95_0_percentile", "99_0_percentile",
	"99_9_percentile"
};
const char *const hist_stat_label[HIST_NSTATS] = {
	"mean", "p1", "p10", "p50", "p90", "p95", "p99", "p99.9"
};

static int
hist_namecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	 c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static const struct hist_part	*sort_parts;	/* for qsort's comparison */

static int
hist_idxcmp(const void *a, const void *b)
{
	const struct hist_part	*pa = &sort_parts[*(const size_t *)a];
	const struct hist_part	*pb = &sort_parts[*(const size_t *)b];

	return hist_namecmp(pa->name, pa->nlen, pb->name, pb->nlen);
}

static int
hist_cmp(const void *a, const void *b)
{
	const struct hist	*ha = a, *hb = b;

	return hist_namecmp(ha->name, ha->nlen, hb->name, hb->nlen);
}

/* The first of the sorted parts not below (key, klen). */
static size_t
hist_lower(const struct hist_part *p, const size_t *idx, size_t n,
    const char *key, size_t klen)
{
	size_t	 lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (hist_namecmp(p[idx[mid]].name, p[idx[mid]].nlen, key,
		    klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The part named base + suffix, or SIZE_MAX. */
static size_t
hist_lookup(const struct hist_part *p, const size_t *idx, size_t n,
    const char *base, size_t blen, const char *suffix)
{
	char	 key[TALLY_STAT_NAME_MAX + 16];
	size_t	 slen = strlen(suffix), at;

	if (blen + slen > TALLY_STAT_NAME_MAX)
		return SIZE_MAX;
	memcpy(key, base, blen);
	memcpy(key + blen, suffix, slen);
	at = hist_lower(p, idx, n, key, blen + slen);
	if (at < n && hist_namecmp(p[idx[at]].name, p[idx[at]].nlen, key,
	    blen + slen) == 0)
		return idx[at];
	return SIZE_MAX;
}

/*
 * A bucket index as the spec writes it: decimal, '-' for a negative one,
 * no '+', no leading zero, no "-0", in [-240, 112].  0, or -1.
 */
static int
hist_index(const char *s, size_t n, int *out)
{
	size_t	 i = 0;
	int	 neg = 0, v = 0;

	if (i < n && s[i] == '-') {
		neg = 1;
		i++;
	}
	if (i == n || n - i > 3 || (s[i] == '0' && (n - i > 1 || neg)))
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	v = neg ? -v : v;
	if (v < HIST_BUCKET_MIN || v > HIST_BUCKET_MAX)
		return -1;
	*out = v;
	return 0;
}

/*
 * Check histogram h, whose H.count and H.sum_ns are parts c and s, and
 * sum its buckets into h->le: NULL, or why it is not a histogram (*why
 * the part at fault).
 */
static const char *
hist_check(struct hist *h, const struct hist_part *p, const size_t *idx,
    size_t n, size_t c, size_t s, size_t *why)
{
	char	 prefix[TALLY_STAT_NAME_MAX + 16];
	size_t	 plen = h->nlen + 8, at, k;
	int64_t	 total = 0;
	int	 i, le;

	*why = c;
	if (p[c].value < 0)
		return "negative count";
	*why = s;
	if (p[s].value < 0)
		return "negative sum";
	memset(h->le, 0, sizeof h->le);
	memcpy(prefix, h->name, h->nlen);
	memcpy(prefix + h->nlen, ".bucket.", 8);
	for (at = hist_lower(p, idx, n, prefix, plen); at < n; at++) {
		const struct hist_part *b = &p[idx[at]];

		if (b->nlen < plen || memcmp(b->name, prefix, plen) != 0)
			break;
		*why = idx[at];
		if (hist_index(b->name + plen, b->nlen - plen, &i) != 0)
			return "bucket name without an index in [-240, 112]";
		if (b->value < 0)
			return "negative bucket";
		if (b->value > INT64_MAX - total)
			return "buckets add up past 2^63";
		total += b->value;
		/* The first le = 2^k with 8k >= i: ceil(i / 8). */
		le = i >= 0 ? (i + 7) / 8 : -(-i / 8);
		if (le < HIST_LE_MIN)
			le = HIST_LE_MIN;
		if (le <= HIST_LE_MAX)
			h->le[le - HIST_LE_MIN] += b->value;
	}
	for (k = 1; k < HIST_NLE; k++)
		h->le[k] += h->le[k - 1];
	*why = c;
	if (total != p[c].value)
		return "buckets that do not add up to its count";
	h->count = p[c].value;
	h->sum_ns = p[s].value;
	return NULL;
}

/* Mark the parts of good histogram h, the hi-th. */
static void
hist_mark(struct hist *h, struct hist_part *p, const size_t *idx, size_t n,
    size_t c, size_t s, uint32_t hi)
{
	char	 prefix[TALLY_STAT_NAME_MAX + 16];
	size_t	 plen = h->nlen + 8, at, r;

	p[c].hist = p[s].hist = hi;
	p[c].role = p[s].role = HIST_PART;
	memcpy(prefix, h->name, h->nlen);
	memcpy(prefix + h->nlen, ".bucket.", 8);
	for (at = hist_lower(p, idx, n, prefix, plen); at < n; at++) {
		struct hist_part *b = &p[idx[at]];

		if (b->nlen < plen || memcmp(b->name, prefix, plen) != 0)
			break;
		b->hist = hi;
		b->role = HIST_PART;
	}
	if ((r = hist_lookup(p, idx, n, h->name, h->nlen, ".refused")) !=
	    SIZE_MAX) {
		p[r].hist = hi;
		p[r].role = HIST_REFUSED;
	}
}

/*
 * Find the histograms among a node's n counters p, mark their parts, and
 * put them in *hp (grown as needed, *cap its room), sorted by name, *nh
 * of them; a damaged one has bad set, and its parts stay unmarked.  The
 * histograms point into p's names.  0, or -1: out of memory.
 */
int
hist_scan(struct hist_part *p, size_t n, struct hist **hp, size_t *nh,
    size_t *cap)
{
	struct hist	*h;
	size_t		*idx, i, c, s;

	*nh = 0;
	if (n == 0)
		return 0;
	if ((idx = malloc(n * sizeof *idx)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		idx[i] = i;
		p[i].hist = HIST_NONE;
		p[i].role = 0;
	}
	sort_parts = p;
	qsort(idx, n, sizeof *idx, hist_idxcmp);
	for (i = 0; i < n; i++) {
		c = idx[i];
		if (p[c].nlen <= 6 ||
		    memcmp(p[c].name + p[c].nlen - 6, ".count", 6) != 0 ||
		    (s = hist_lookup(p, idx, n, p[c].name, p[c].nlen - 6,
		    ".sum_ns")) == SIZE_MAX)
			continue;
		if (*nh == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			if ((h = realloc(*hp, ncap * sizeof *h)) == NULL) {
				free(idx);
				return -1;
			}
			*hp = h;
			*cap = ncap;
		}
		h = &(*hp)[(*nh)++];
		h->name = p[c].name;
		h->nlen = p[c].nlen - 6;
		h->bad = hist_check(h, p, idx, n, c, s, &h->why);
	}
	/* Sorted, then marked: a part names its histogram's final place. */
	if (*nh > 1)
		qsort(*hp, *nh, sizeof **hp, hist_cmp);
	for (i = 0; i < *nh; i++) {
		h = &(*hp)[i];
		if (h->bad != NULL)
			continue;
		c = hist_lookup(p, idx, n, h->name, h->nlen, ".count");
		s = hist_lookup(p, idx, n, h->name, h->nlen, ".sum_ns");
		hist_mark(h, p, idx, n, c, s, (uint32_t)i);
	}
	free(idx);
	return 0;
}

/*
 * The good histogram named (name, nlen) among hists, or NULL: for a stat
 * H.mean, say.
 */
const struct hist *
hist_find(const struct hist *hists, size_t nh, const char *name,
    size_t nlen)
{
	size_t	 lo = 0, hi = nh, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = hist_namecmp(hists[mid].name, hists[mid].nlen, name, nlen);
		if (c == 0)
			return hists[mid].bad == NULL ? &hists[mid] : NULL;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * The histogram stat that name is (an index into hist_stat_suffix) and
 * its histogram in *hp, or -1.
 */
int
hist_stat(const struct hist *hists, size_t nh, const char *name,
    size_t nlen, const struct hist **hp)
{
	size_t	 slen;
	int	 j;

	for (j = 0; j < HIST_NSTATS; j++) {
		slen = strlen(hist_stat_suffix[j]);
		if (nlen <= slen + 1 || name[nlen - slen - 1] != '.' ||
		    memcmp(name + nlen - slen, hist_stat_suffix[j], slen) != 0)
			continue;
		if ((*hp = hist_find(hists, nh, name, nlen - slen - 1)) != NULL)
			return j;
	}
	return -1;
}

/*
 * Nanoseconds as seconds, in decimal, exactly (no double between):
 * 12345678901 is "12.345678901", 1500000000 "1.5".  ns >= 0.
 */
size_t
hist_seconds(char *buf, size_t size, int64_t ns)
{
	char	 frac[16];
	size_t	 n;

	snprintf(frac, sizeof frac, "%09" PRId64, ns % 1000000000);
	for (n = 9; n > 0 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	return (size_t)snprintf(buf, size, "%" PRId64 "%s%s", ns / 1000000000,
	    n > 0 ? "." : "", frac);
}
