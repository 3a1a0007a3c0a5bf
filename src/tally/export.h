/*
 * export.h: what export.c (the walk that collects) and export-write.c (the
 * write) share: the exporter's state.  For the tally tool's export only.
 */
#ifndef TALLY_EXPORT_H
#define TALLY_EXPORT_H

#include <stdint.h>
#include <stddef.h>

#define METRIC_PREFIX		"tally_"
#define METRIC_MAX		(sizeof METRIC_PREFIX - 1 + TALLY_STAT_NAME_MAX)

/*
 * Stats are gauges, except those whose metric name ends in "_total": that
 * suffix promises a counter, which tally cannot vouch for a stat, so they
 * go without a TYPE line: "unknown" to OpenMetrics, "untyped" to the
 * Prometheus text format (whose parsers, promtool's and node_exporter's
 * textfile collector's, know no type "unknown").  cpu_monitor.total is one.
 */
enum fam_kind { FAM_GAUGE, FAM_COUNTER, FAM_UNKNOWN, FAM_HIST };
extern const char *const fam_kind_name[];

/*
 * The hash table finds a family by its name and by its samples' names, so
 * that no two families write one sample name: a counter's name_total, a
 * histogram's name_bucket, name_count and name_sum.  An entry is
 * (fam << 3 | alias) + 1, alias an index into alias_sfx.
 */
#define ALIAS_BITS	3
#define ALIAS_TOTAL	1
#define ALIAS_BUCKET	2
#define FAM_MAX		(UINT32_MAX >> ALIAS_BITS)
extern const char *const alias_sfx[];
#define HIST_UNIT	"_seconds"
/*
 * The longest name a family or one of its samples can have: a histogram's
 * mangled stat with HIST_UNIT, then the longest of alias_sfx; and a buffer
 * that holds one with its NUL.
 */
#define FAM_NAME_MAX	(METRIC_MAX + sizeof HIST_UNIT - 1)
#define SAMPLE_NAME_MAX	(FAM_NAME_MAX + sizeof "_bucket" - 1)
#define SAMPLE_NAME_BUF	(SAMPLE_NAME_MAX + 1)

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
	uint32_t	*hash;		/* 0 empty, else (fam << 3 | alias) + 1 */
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
	int		 counter;	/* the table being scanned; 2: a histogram */
	size_t		 skipped;
	/* The current node's counters, kept for hist_scan. */
	struct xpart	*xparts;
	size_t		 nxparts, xpcap;
	struct hist_part *parts;
	size_t		 pcap;
	char		*pbuf;
	size_t		 pblen, pbcap;
	struct hist	*hists;
	size_t		 nhists, hcap2;
	size_t		 hwarned;	/* damaged histograms said */
};

/* A counter kept: its name and text in pbuf. */
struct xpart {
	size_t		 name, nlen, text;
	int64_t		 value;
};

#endif
