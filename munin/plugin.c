/*
 * plugin.c: what the tally_ munin plugin prints, as functions of an open
 * store, a graph, the time and an output stream.
 *
 * Nothing here exits, reads the environment or touches stdout, so that
 * t/check_plugin.c can run every path against real environments with a
 * fixed clock.  A run reads everything in one read transaction and makes
 * no allocation per node, so fetch stays cheap with thousands of nodes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

static int
plugin_err(char *err, size_t errlen, int code, const char *fmt, ...)
    TALLY_PRINTF(4, 5);

static int
plugin_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Report a skipped node or value; the run goes on. */
static void
plugin_warn(FILE *errf, const char *fmt, ...) TALLY_PRINTF(2, 3);

static void
plugin_warn(FILE *errf, const char *fmt, ...)
{
	va_list	 ap;

	if (errf == NULL)
		return;
	fputs(PLUGIN_PREFIX ": ", errf);
	va_start(ap, fmt);
	vfprintf(errf, fmt, ap);
	va_end(ap);
	fputc('\n', errf);
}

/*
 * Write n bytes, replacing control characters: a newline in a label would
 * end munin's line and let a node's record inject config lines.
 */
static void
plugin_put_clean(FILE *out, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		putc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
}

const char *
plugin_basename(const char *argv0)
{
	const char	*slash;

	if (argv0 == NULL)
		return "";
	slash = strrchr(argv0, '/');
	return slash != NULL ? slash + 1 : argv0;
}

const struct plugin_graph *
plugin_graph_find(const char *argv0)
{
	const char	*key = plugin_basename(argv0);
	size_t		 i, plen = strlen(PLUGIN_PREFIX);
	int		 prefixed = 0;

	if (strncmp(key, PLUGIN_PREFIX, plen) == 0) {
		key += plen;
		prefixed = 1;
	}
	/*
	 * Bare names are only the original system's, so that a link named
	 * "uptime" is never mistaken for munin's own plugin of that name.
	 */
	for (i = 0; i < plugin_ngraphs; i++) {
		if (strcmp(plugin_graphs[i].key, key) == 0 &&
		    (prefixed || plugin_graphs[i].compat))
			return &plugin_graphs[i];
	}
	return NULL;
}

/* FNV-1a, 32 bits: tiny, and fixed forever since field names depend on it. */
uint32_t
plugin_hash(const char *s, size_t n)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

size_t
plugin_field_name(const char *nick, size_t nicklen, const char *id,
    size_t idlen, char *out)
{
	char	 buf[TALLY_NICKNAME_MAX + 1 + TALLY_NODE_ID_MAX + 1];
	size_t	 budget, len, n;

	if (nicklen > TALLY_NICKNAME_MAX)
		nicklen = TALLY_NICKNAME_MAX;
	if (idlen > TALLY_NODE_ID_MAX)
		idlen = TALLY_NODE_ID_MAX;
	/*
	 * Cut the nickname, not the id, when both don't fit: the id is what
	 * makes the name unique.  name_munin_field prefixes '_' to a name
	 * starting with a digit; leave room for it.
	 */
	budget = NAME_FIELD_MAX > idlen + 1 ? NAME_FIELD_MAX - idlen - 1 : 0;
	if (nicklen > 0 && nick[0] >= '0' && nick[0] <= '9' && budget > 0)
		budget--;
	if (nicklen > budget)
		nicklen = budget;
	memcpy(buf, nick, nicklen);
	buf[nicklen] = '_';
	memcpy(buf + nicklen + 1, id, idlen);
	n = nicklen + 1 + idlen;
	name_munin_field(buf, n, out);
	len = strlen(out);

	/*
	 * If the id came through intact, the name ends with "_<id>" and
	 * differs from every other node's.  Otherwise ("-" became "_", or
	 * the id was cut) two ids may have met: add a hash of the raw id.
	 */
	if (len > idlen && out[len - idlen - 1] == '_' &&
	    memcmp(out + len - idlen, id, idlen) == 0)
		return len;
	if (len > NAME_FIELD_MAX - 9)
		len = NAME_FIELD_MAX - 9;
	snprintf(out + len, PLUGIN_FIELD_LEN - len, "_%08" PRIx32,
	    plugin_hash(id, idlen));
	return len + 9;
}

void
plugin_names_init(struct plugin_names *pn)
{
	memset(pn, 0, sizeof *pn);
}

void
plugin_names_free(struct plugin_names *pn)
{
	free(pn->names);
	free(pn->table);
	memset(pn, 0, sizeof *pn);
}

static const char *
plugin_names_at(const struct plugin_names *pn, size_t i)
{
	return pn->names + i * PLUGIN_FIELD_LEN;
}

static size_t
plugin_names_slot(const struct plugin_names *pn, const char *name,
    int *found)
{
	size_t	 mask = pn->tcap - 1, i;

	i = plugin_hash(name, strlen(name)) & mask;
	for (;; i = (i + 1) & mask) {
		if (pn->table[i] == 0) {
			*found = 0;
			return i;
		}
		if (strcmp(plugin_names_at(pn, pn->table[i] - 1), name) == 0) {
			*found = 1;
			return i;
		}
	}
}

/* Double the set; growth is geometric, so a run allocates O(log n) times. */
static int
plugin_names_grow(struct plugin_names *pn)
{
	size_t		 cap = pn->cap ? pn->cap * 2 : 256, tcap = cap * 4;
	size_t		 i, slot;
	char		*names;
	uint32_t	*table;
	int		 found;

	if (cap > UINT32_MAX / 4)
		return TALLY_ENOMEM;
	if ((names = realloc(pn->names, cap * PLUGIN_FIELD_LEN)) == NULL)
		return TALLY_ENOMEM;
	pn->names = names;
	if ((table = calloc(tcap, sizeof *table)) == NULL)
		return TALLY_ENOMEM;
	free(pn->table);
	pn->table = table;
	pn->tcap = tcap;
	pn->cap = cap;
	for (i = 0; i < pn->n; i++) {
		slot = plugin_names_slot(pn, plugin_names_at(pn, i), &found);
		pn->table[slot] = (uint32_t)(i + 1);
	}
	return 0;
}

int
plugin_names_add(struct plugin_names *pn, char *field)
{
	size_t		 base = strlen(field), slot;
	unsigned	 k = 1;
	int		 found, rc;

	if (pn->n == pn->cap && (rc = plugin_names_grow(pn)) != 0)
		return rc;
	/*
	 * Nodes come in id order, so the first of a clash keeps the plain
	 * name and the suffixes are the same on every run.  A suffixed name
	 * may itself be taken (a node nicknamed "x_2"): keep counting.
	 */
	for (;;) {
		slot = plugin_names_slot(pn, field, &found);
		if (!found)
			break;
		snprintf(field + base, PLUGIN_FIELD_LEN - base, "_%u", ++k);
	}
	memcpy(pn->names + pn->n * PLUGIN_FIELD_LEN, field, PLUGIN_FIELD_LEN);
	pn->table[slot] = (uint32_t)(++pn->n);
	return 0;
}

int
plugin_open(struct store **sp, const char *path, char *err, size_t errlen)
{
	char		 lock[PATH_MAX], gname[64];
	struct stat	 sb;
	struct group	*gr;

	*sp = NULL;
	/*
	 * LMDB reports a reader that cannot write lock.mdb as a bare
	 * EACCES; say what the operator must change instead.
	 */
	if (path == NULL || *path == '\0' ||
	    (size_t)snprintf(lock, sizeof lock, "%s/lock.mdb", path) >=
	    sizeof lock || stat(lock, &sb) != 0 ||
	    faccessat(AT_FDCWD, lock, R_OK | W_OK, AT_EACCESS) == 0 ||
	    errno != EACCES)
		return store_open(sp, path, STORE_RDONLY, err, errlen);
	if ((sb.st_mode & (S_IRGRP | S_IWGRP)) != (S_IRGRP | S_IWGRP))
		return plugin_err(err, errlen, TALLY_ESYS, "statsfile %s: "
		    "lock.mdb has mode %04o, and LMDB readers must write it: "
		    "make it 0660", path, (unsigned)(sb.st_mode & 07777));
	if ((gr = getgrgid(sb.st_gid)) != NULL)
		snprintf(gname, sizeof gname, "%s", gr->gr_name);
	else
		snprintf(gname, sizeof gname, "%ld", (long)sb.st_gid);
	return plugin_err(err, errlen, TALLY_ESYS, "statsfile %s: lock.mdb is "
	    "not writable by uid %ld gid %ld, and LMDB readers must write "
	    "it: set 'group %s' in this plugin's plugin-conf.d section", path,
	    (long)geteuid(), (long)getegid(), gname);
}

void
plugin_autoconf(const char *path, FILE *out)
{
	struct store	*st;
	char		 err[TALLY_ERRLEN], *p;

	if (plugin_open(&st, path, err, sizeof err) == 0) {
		store_close(st);
		fputs("yes\n", out);
		return;
	}
	/* munin-node-configure wants exactly one line. */
	for (p = err; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(out, "no (%s)\n", err);
}

void
plugin_list(FILE *out)
{
	size_t	 i;

	for (i = 0; i < plugin_ngraphs; i++)
		fprintf(out, "%s%s\n", PLUGIN_PREFIX, plugin_graphs[i].key);
	for (i = 0; i < plugin_ngraphs; i++)
		if (plugin_graphs[i].compat)
			fprintf(out, "%s\n", plugin_graphs[i].key);
}

/* A walk over the nodes that can be shown, each with its unique field. */
struct plugin_walk {
	struct store_reader	 r;
	struct plugin_names	 names;
	MDB_val			 id, rec;
	struct record_node	 node;
	char			 field[PLUGIN_FIELD_LEN];
};

static int
plugin_walk_begin(struct store *st, struct plugin_walk *w, char *err,
    size_t errlen)
{
	plugin_names_init(&w->names);
	return store_reader_begin(st, &w->r, err, errlen);
}

static void
plugin_walk_end(struct plugin_walk *w)
{
	store_reader_end(&w->r);
	plugin_names_free(&w->names);
}

/* 1 and the next node in w, 0 at the end, or a TALLY_E* code. */
static int
plugin_walk_next(struct plugin_walk *w, FILE *errf, char *err,
    size_t errlen)
{
	char	 why[TALLY_ERRLEN];
	int	 rc;

	for (;;) {
		rc = store_reader_next(&w->r, &w->id, &w->rec);
		if (rc < 0)
			return plugin_err(err, errlen, rc, "statsfile %s: "
			    "reading nodes: %s", store_path(w->r.st),
			    tally_strerror(rc));
		if (rc == 0)
			return 0;
		if (!name_node_id_valid(w->id.mv_data, w->id.mv_size)) {
			plugin_warn(errf, "statsfile %s: skipping a node with "
			    "an invalid id", store_path(w->r.st));
			continue;
		}
		if (record_node_parse(w->rec.mv_data, w->rec.mv_size,
		    &w->node, why, sizeof why) != 0) {
			plugin_warn(errf, "statsfile %s: skipping node %.*s: "
			    "%s", store_path(w->r.st), (int)w->id.mv_size,
			    (const char *)w->id.mv_data, why);
			continue;
		}
		plugin_field_name(w->node.nickname, strlen(w->node.nickname),
		    w->id.mv_data, w->id.mv_size, w->field);
		if ((rc = plugin_names_add(&w->names, w->field)) != 0)
			return plugin_err(err, errlen, rc, "out of memory");
		return 1;
	}
}

static int
plugin_output_err(FILE *out, char *err, size_t errlen)
{
	if (fflush(out) != 0 || ferror(out))
		return plugin_err(err, errlen, TALLY_ESYS, "writing output: "
		    "%s", strerror(errno));
	return 0;
}

int
plugin_config(struct store *st, const struct plugin_graph *g, FILE *out,
    FILE *errf, char *err, size_t errlen)
{
	struct plugin_walk	 w;
	const char		*f;
	int			 rc;

	if ((rc = plugin_walk_begin(st, &w, err, errlen)) != 0)
		return rc;
	fprintf(out, "graph_title %s\ngraph_vlabel %s\ngraph_category %s\n",
	    g->title, g->vlabel, g->category);
	if (g->args != NULL)
		fprintf(out, "graph_args %s\n", g->args);
	fprintf(out, "graph_info %s Stat: %s, a line per node.\n", g->info,
	    g->statid);
	while ((rc = plugin_walk_next(&w, errf, err, errlen)) == 1) {
		f = w.field;
		fprintf(out, "%s.label ", f);
		plugin_put_clean(out, w.node.nickname,
		    strlen(w.node.nickname));
		fprintf(out, "\n%s.draw LINE1\n", f);
		if (g->derive)
			fprintf(out, "%s.type DERIVE\n%s.min 0\n", f, f);
		if (g->scale > 1)
			fprintf(out, "%s.cdef %s,%d,/\n", f, f, g->scale);
		fprintf(out, "%s.info node %.*s, source ", f,
		    (int)w.id.mv_size, (const char *)w.id.mv_data);
		plugin_put_clean(out, w.node.source, strlen(w.node.source));
		putc('\n', out);
	}
	plugin_walk_end(&w);
	if (rc < 0)
		return rc;
	return plugin_output_err(out, err, errlen);
}

/*
 * Format one value into num, or return 0 for U.  A value that is not what
 * its table holds is reported, since it means a writer is broken.
 */
static int
plugin_value(const struct plugin_graph *g, const struct plugin_walk *w,
    const MDB_val *v, char *num, FILE *errf)
{
	int64_t	 i;
	double	 d;

	if (g->db == STORE_COUNTERS) {
		if (record_parse_int64(v->mv_data, v->mv_size, &i) != 0)
			goto bad;
		record_fmt_int64(num, i);
		return 1;
	}
	if (record_parse_double(v->mv_data, v->mv_size, &d) != 0)
		goto bad;
	if (!isfinite(d))
		return 0;		/* nan: unknown; inf: not graphable */
	if (g->derive) {
		/* rrdtool takes only integers for DERIVE. */
		d *= g->scale > 1 ? g->scale : 1;
		if (!(d > -9.2e18 && d < 9.2e18))
			return 0;
		/* Round half away from zero; no libm just for llround. */
		record_fmt_int64(num, (int64_t)(d < 0 ? d - 0.5 : d + 0.5));
		return 1;
	}
	record_fmt_double(num, d);
	return 1;
bad:
	plugin_warn(errf, "node %.*s: %s: unreadable value '%.*s'",
	    (int)w->id.mv_size, (const char *)w->id.mv_data, g->statid,
	    (int)(v->mv_size > 40 ? 40 : v->mv_size),
	    (const char *)v->mv_data);
	return 0;
}

int
plugin_fetch(struct store *st, const struct plugin_graph *g, time_t now,
    FILE *out, FILE *errf, char *err, size_t errlen)
{
	struct plugin_walk	 w;
	MDB_val			 v;
	char			 num[RECORD_NUMLEN];
	size_t			 slen = strlen(g->statid);
	int			 rc, have;

	if ((rc = plugin_walk_begin(st, &w, err, errlen)) != 0)
		return rc;
	while ((rc = plugin_walk_next(&w, errf, err, errlen)) == 1) {
		have = 0;
		/* Written as "older than" so a wild time cannot overflow. */
		if (w.node.time >= (int64_t)now - PLUGIN_STALE) {
			rc = store_reader_get(&w.r, g->db, w.id.mv_data,
			    w.id.mv_size, g->statid, slen, &v);
			if (rc < 0) {
				plugin_err(err, errlen, rc, "statsfile %s: "
				    "reading %.*s/%s: %s", store_path(st),
				    (int)w.id.mv_size,
				    (const char *)w.id.mv_data, g->statid,
				    tally_strerror(rc));
				break;
			}
			if (rc == 1)
				have = plugin_value(g, &w, &v, num, errf);
		}
		fprintf(out, "%s.value %s\n", w.field, have ? num : "U");
	}
	plugin_walk_end(&w);
	if (rc < 0)
		return rc;
	return plugin_output_err(out, err, errlen);
}

int
plugin_suggest(struct store *st, FILE *out, FILE *errf, char *err,
    size_t errlen)
{
	struct store_reader	 r;
	MDB_val			 id, rec, v;
	unsigned char		*found;
	size_t			 i, left = plugin_ngraphs;
	int			 rc;

	if ((found = calloc(plugin_ngraphs, 1)) == NULL)
		return plugin_err(err, errlen, TALLY_ENOMEM, "out of memory");
	if ((rc = store_reader_begin(st, &r, err, errlen)) != 0) {
		free(found);
		return rc;
	}
	/* Stop as soon as every graph has a node: fleets share stats. */
	while (left > 0 && (rc = store_reader_next(&r, &id, &rec)) == 1) {
		if (!name_node_id_valid(id.mv_data, id.mv_size))
			continue;
		for (i = 0; i < plugin_ngraphs; i++) {
			const struct plugin_graph *g = &plugin_graphs[i];
			if (found[i])
				continue;
			rc = store_reader_get(&r, g->db, id.mv_data,
			    id.mv_size, g->statid, strlen(g->statid), &v);
			if (rc < 0)
				break;
			if (rc == 1) {
				found[i] = 1;
				left--;
			}
		}
		if (rc < 0)
			break;
	}
	store_reader_end(&r);
	if (rc < 0) {
		free(found);
		return plugin_err(err, errlen, rc, "statsfile %s: reading: %s",
		    store_path(st), tally_strerror(rc));
	}
	for (i = 0; i < plugin_ngraphs; i++)
		if (found[i])
			fprintf(out, "%s\n", plugin_graphs[i].key);
	free(found);
	return plugin_output_err(out, err, errlen);
}
