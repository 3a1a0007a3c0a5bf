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

/* One node's counters then stats, pointing into the read transaction. */
struct show_slot {
	struct statsfile	*sf;
	const char		*node;
	size_t			 nodelen;
	struct statsfile_metric	*m;
	size_t			 n, cap;
	size_t			 bad;		/* unreadable entries skipped */
	size_t			 badtotal;	/* over all nodes */
	int			 enomem;
};

static int
show_slot_cb(void *ctx, const struct statsfile_metric *m)
{
	struct show_slot	*sl = ctx;
	struct statsfile_metric	*mm;

	if (sl->n == sl->cap) {
		size_t cap = sl->cap ? sl->cap * 2 : 64;
		if ((mm = realloc(sl->m, cap * sizeof *mm)) == NULL) {
			sl->enomem = 1;
			return TALLY_ENOMEM;
		}
		sl->m = mm;
		sl->cap = cap;
	}
	if (!m->ok) {
		sl->badtotal++;
		if (sl->bad++ == 0)
			statsfile_warn_metric(sl->node, sl->nodelen, m);
		return 0;
	}
	sl->m[sl->n++] = *m;
	return 0;
}

/* A node's counters then stats, into sl->m; 0, or said why not. */
static int
show_slot_read(struct show_slot *sl, const struct statsfile_node *nd)
{
	char	 what[TALLY_NODE_ID_MAX + 32];
	int	 rc;

	sl->node = nd->id;
	sl->nodelen = nd->idlen;
	sl->n = 0;
	sl->bad = 0;
	if ((rc = statsfile_metrics(sl->sf, nd->id, nd->idlen, show_slot_cb,
	    sl)) != 0) {
		snprintf(what, sizeof what, "reading node %.*s",
		    (int)nd->idlen, nd->id);
		statsfile_failed(sl->sf, sl->enomem ? TALLY_ENOMEM : rc, what);
	}
	return rc;
}

/* The AGE column: see text_snapshot_age. */
static const char *
show_age(char *buf, size_t size, const struct record_node *rec, time_t now)
{
	return text_snapshot_age(buf, size, rec->time, now, "");
}

/* The table of the nodes, one line each. */
static void
show_nodes(const struct statsfile_node *nodes, size_t n, time_t now)
{
	size_t	 i, wid = 4, wnick = 8, wage = 3, w;
	char	 age[64];

	for (i = 0; i < n; i++) {
		const struct statsfile_node *nd = &nodes[i];
		if (nd->idlen > wid)
			wid = nd->idlen;
		w = text_width(nd->rec.nickname, strlen(nd->rec.nickname));
		if (w > wnick)
			wnick = w;
		w = strlen(show_age(age, sizeof age, &nd->rec, now));
		if (w > wage)
			wage = w;
	}
	printf("%-*s  %-*s  %-*s  %s\n", (int)wid, "NODE", (int)wnick,
	    "NICKNAME", (int)wage, "AGE", "SOURCE");
	for (i = 0; i < n; i++) {
		const struct statsfile_node *nd = &nodes[i];
		const char *nick = nd->rec.nickname;
		size_t nlen = strlen(nick);

		printf("%-*.*s  ", (int)wid, (int)nd->idlen, nd->id);
		text_put_clean(stdout, nick, nlen);
		printf("%*s  %-*s  ", (int)(wnick - text_width(nick, nlen)),
		    "", (int)wage, show_age(age, sizeof age, &nd->rec, now));
		text_put_clean(stdout, nd->rec.source,
		    strlen(nd->rec.source));
		putchar('\n');
	}
}

/* The table; 0, or -1 if a slot could not be read. */
static int
show_table(struct cmd *self, struct show_slot *sl,
    const struct statsfile_node *nodes, size_t n, time_t now)
{
	size_t	 i, j, wname, wval;

	if (n == 0) {
		printf("no nodes in %s\n", self->qpath);
		return 0;
	}
	show_nodes(nodes, n, now);
	for (i = 0; i < n; i++) {
		const struct statsfile_node *nd = &nodes[i];

		if (show_slot_read(sl, nd) != 0)
			return -1;
		printf("\n%.*s (", (int)nd->idlen, nd->id);
		text_put_clean(stdout, nd->rec.nickname,
		    strlen(nd->rec.nickname));
		printf(")\n");
		/* Its own line: a fingerprint would make the table too wide. */
		printf("  %-7s  %s\n", "key", nd->rec.key[0] != '\0' ?
		    nd->rec.key : "-");
		if (sl->n == 0)
			printf("  no counters or stats\n");
		wname = wval = 1;
		for (j = 0; j < sl->n; j++) {
			if (sl->m[j].nlen > wname)
				wname = sl->m[j].nlen;
			if (sl->m[j].vlen > wval)
				wval = sl->m[j].vlen;
		}
		for (j = 0; j < sl->n; j++) {
			const struct statsfile_metric *m = &sl->m[j];
			printf("  %-7s  %-*.*s  %*.*s\n", m->counter ?
			    "counter" : "stat", (int)wname, (int)m->nlen,
			    m->name, (int)wval, (int)m->vlen, m->val);
		}
	}
	return 0;
}

/* A "counters" or "stats" object: numbers, null for NaN and Inf. */
static void
show_json_metrics(const struct show_slot *sl, int counter)
{
	char	 num[RECORD_NUMLEN];
	size_t	 j, k = 0, len;

	printf("{");
	for (j = 0; j < sl->n; j++) {
		const struct statsfile_metric *m = &sl->m[j];
		if (m->counter != counter)
			continue;
		printf(k++ ? ",\n        " : "\n        ");
		json_str(stdout, m->name, m->nlen);
		printf(": ");
		if (counter) {
			len = record_fmt_int64(num, m->i);
			fwrite(num, 1, len, stdout);
		} else if (!isfinite(m->d))
			printf("null");
		else if (json_number_valid(m->val, m->vlen))
			fwrite(m->val, 1, m->vlen, stdout);
		else {
			len = record_fmt_double(num, m->d);
			fwrite(num, 1, len, stdout);
		}
	}
	printf(k ? "\n      }" : "}");
}

/* A node's object, but for its counters and stats. */
static void
show_json_node(const struct statsfile_node *nd, time_t now)
{
	char	 num[RECORD_NUMLEN];

	printf("\n    {\n      \"id\": ");
	json_str(stdout, nd->id, nd->idlen);
	printf(",\n      \"nickname\": ");
	json_str(stdout, nd->rec.nickname, strlen(nd->rec.nickname));
	/* An insane time has no age: null, and the raw time. */
	printf(",\n      \"time\": %" PRId64 ",\n      \"age\": ",
	    nd->rec.time);
	if (record_time_sane(nd->rec.time, now))
		printf("%" PRId64, record_time_age(now, nd->rec.time));
	else
		printf("null");
	printf(",\n      \"source\": ");
	json_str(stdout, nd->rec.source, strlen(nd->rec.source));
	if (nd->rec.interval > 0 && isfinite(nd->rec.interval)) {
		record_fmt_double(num, nd->rec.interval);
		printf(",\n      \"interval\": %s", num);
	}
	/* A parsed key is base32: no escaping needed, nor harmful. */
	printf(",\n      \"key\": ");
	if (nd->rec.key[0] != '\0')
		json_str(stdout, nd->rec.key, strlen(nd->rec.key));
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
	    TALLY_DB_FORMAT, (long long)now);
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
		printf("\n    }");
	}
	printf(n ? "\n  ]\n}\n" : "]\n}\n");
	return 0;
}

int
cmd_show_exec(struct cmd *self)
{
	struct args		*a = &self->args;
	struct statsfile	*sf = NULL;
	struct show_slot	 sl;
	struct statsfile_node	*nodes = NULL;
	size_t			 n = 0, skipped = 0;
	char			*found = NULL, q[ERROR_QUOTE_LEN];
	time_t			 now = time(NULL);
	int			 i, status = EXIT_FAIL, nwant = a->argc;

	if (nwant > 0 && (found = calloc((size_t)nwant, 1)) == NULL) {
		warnmsg("out of memory");
		return EXIT_FAIL;
	}
	memset(&sl, 0, sizeof sl);
	if (statsfile_open(&sf, self->path, 0) != 0 ||
	    statsfile_begin(sf) != 0)
		goto out;
	sl.sf = sf;
	if (statsfile_nodes_list(sf, a->argv, nwant, found, &nodes, &n,
	    &skipped) != 0)
		goto out;
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
	free(nodes);
	statsfile_close(sf);
	free(sl.m);
	free(found);
	return status;
}
