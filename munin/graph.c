/*
 * graph.c: the graphs the tally_ plugin knows, selected by plugin name.
 *
 * First the built-in monitors' graphs (every node started with libtally
 * has them), then the original system's graphs under their original
 * plugin names, with the titles, vlabels, categories, args and DERIVE
 * types of its plugins, so that existing munin history keeps its meaning.
 * Keys are also the suggest output, so they must be valid in a file name
 * and match munin's [-\w.:]+.
 *
 * Below the table, the reader of the operator's own table (env.graphs), in
 * the columns of tally_(8)'s THE GRAPH TABLE, so that a graph the compiled
 * table lacks needs no rebuild.  Every bad line is an error naming the
 * file and line: a graph dropped in silence is a graph nobody misses until
 * it is needed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

#define COUNTERS TALLY_COUNTER
#define STATS TALLY_STAT

const struct plugin_graph plugin_graphs[] = {
	/* key, statid, kind, title, vlabel, category, args, info,
	   derive, scale, compat */

	/* Built-in monitors. */
	{ "load_avg", "load_monitor.avg_load", STATS,
	  "Event Loop Load Average", "seconds", "tally", "--lower-limit 0",
	  "How late a 1 s timer fires on each node's event loop, averaged "
	  "over the last 60 samples: a busy or blocked loop shows here "
	  "first.", 0, 0, 0 },
	{ "load_peak", "load_monitor.max_load", STATS,
	  "Event Loop Load Peak", "seconds", "tally", "--lower-limit 0",
	  "The worst lateness of a 1 s timer on each node's event loop over "
	  "the last 60 samples.", 0, 0, 0 },
	{ "cpu_1min", "cpu_monitor.1min_avg", STATS,
	  "CPU Usage, 1 Minute Average", "CPU seconds per second", "tally",
	  "--lower-limit 0",
	  "CPU time used by each node's process per wall-clock second, "
	  "averaged over a minute; above 1 means more than one core.",
	  0, 0, 0 },
	{ "cpu_5min", "cpu_monitor.5min_avg", STATS,
	  "CPU Usage, 5 Minute Average", "CPU seconds per second", "tally",
	  "--lower-limit 0",
	  "CPU time used by each node's process per wall-clock second, "
	  "averaged over 5 minutes.", 0, 0, 0 },
	{ "cpu_15min", "cpu_monitor.15min_avg", STATS,
	  "CPU Usage, 15 Minute Average", "CPU seconds per second", "tally",
	  "--lower-limit 0",
	  "CPU time used by each node's process per wall-clock second, "
	  "averaged over 15 minutes.", 0, 0, 0 },
	{ "cpu_total", "cpu_monitor.total", STATS,
	  "CPU Usage", "CPU seconds per second", "tally", "--lower-limit 0",
	  "The rate of each node's total CPU time between munin runs; a "
	  "restart resets the total and leaves one unknown sample.",
	  1, 1000, 0 },
	{ "uptime", "node.uptime", STATS,
	  "Node Uptime", "seconds", "tally", "--lower-limit 0",
	  "Seconds since each node's provider started.", 0, 0, 0 },

	/* The original system's graphs. */
	{ "tahoe_runtime_load_avg", "load_monitor.avg_load", STATS,
	  "Tahoe Runtime Load Average", "load", "tahoe", NULL,
	  "Average event loop lateness of each node, in seconds.",
	  0, 0, 1 },
	{ "tahoe_runtime_load_peak", "load_monitor.max_load", STATS,
	  "Tahoe Runtime Load Peak", "load", "tahoe", NULL,
	  "Peak event loop lateness of each node, in seconds.", 0, 0, 1 },
	{ "tahoe_storage_consumed", "storage_server.consumed", STATS,
	  "Tahoe Storage Server Space Consumed", "bytes",
	  "tahoe_storage_server", "--base 1024",
	  "Disk space used by shares on each storage server.", 0, 0, 1 },
	{ "tahoe_storage_allocated", "storage_server.allocated", STATS,
	  "Tahoe Storage Server Space Allocated", "bytes",
	  "tahoe_storage_server", "--base 1024",
	  "Space promised to uploads in progress on each storage server.",
	  0, 0, 1 },
	{ "tahoe_storage_bytes_added", "storage_server.bytes_added", COUNTERS,
	  "Tahoe Storage Server Bytes Added", "bytes",
	  "tahoe_storage_server", NULL,
	  "Total bytes of shares written to each storage server.", 0, 0, 1 },
	{ "tahoe_storage_bytes_freed", "storage_server.bytes_freed", COUNTERS,
	  "Tahoe Storage Server Bytes Removed", "bytes",
	  "tahoe_storage_server", NULL,
	  "Total bytes of shares removed from each storage server.",
	  0, 0, 1 },
	{ "tahoe_storage_operations_allocate", "storage_server.allocate",
	  COUNTERS, "Tahoe Storage Server Allocate_Bucket Operations",
	  "operations per second", "tahoe_storage_server", NULL,
	  "Rate of allocate_buckets requests on each storage server.",
	  1, 0, 1 },
	{ "tahoe_storage_operations_get", "storage_server.get", COUNTERS,
	  "Tahoe Storage Server get_bucket Operations",
	  "operations per second", "tahoe_storage_server", NULL,
	  "Rate of get_buckets requests on each storage server.", 1, 0, 1 },
	{ "tahoe_storage_operations_writev", "storage_server.writev",
	  COUNTERS, "Tahoe Storage Server writev Operations",
	  "operations per second", "tahoe_storage_server", NULL,
	  "Rate of mutable share writes on each storage server.", 1, 0, 1 },
	{ "tahoe_storage_operations_readv", "storage_server.readv", COUNTERS,
	  "Tahoe Storage Server readv Operations",
	  "operations per second", "tahoe_storage_server", NULL,
	  "Rate of mutable share reads on each storage server.", 1, 0, 1 },
	{ "tahoe_helper_incoming_files", "chk_upload_helper.incoming_count",
	  STATS, "Tahoe Upload Helper Incoming File Count", "n files",
	  "tahoe_helper", NULL,
	  "Files each upload helper is still receiving ciphertext for.",
	  0, 0, 1 },
	{ "tahoe_helper_incoming_filesize", "chk_upload_helper.incoming_size",
	  STATS, "Tahoe Upload Helper Incoming File Size", "bytes",
	  "tahoe_helper", NULL,
	  "Bytes of partial ciphertext held in each helper's incoming "
	  "directory.", 0, 0, 1 },
	{ "tahoe_helper_incoming_files_old",
	  "chk_upload_helper.incoming_size_old", STATS,
	  "Tahoe Upload Helper Incoming Old Files", "bytes", "tahoe_helper",
	  NULL,
	  "Bytes of incoming files untouched for more than 48 hours: likely "
	  "abandoned uploads.", 0, 0, 1 },
	{ "tahoe_helper_encoding_files", "chk_upload_helper.encoding_count",
	  STATS, "Tahoe Upload Helper Encoding File Count", "n files",
	  "tahoe_helper", NULL,
	  "Files each upload helper is encoding and pushing to storage "
	  "servers.", 0, 0, 1 },
	{ "tahoe_helper_encoding_filesize", "chk_upload_helper.encoding_size",
	  STATS, "Tahoe Upload Helper Encoding File Size", "bytes",
	  "tahoe_helper", NULL,
	  "Bytes of ciphertext held in each helper's encoding directory.",
	  0, 0, 1 },
	{ "tahoe_helper_encoding_files_old",
	  "chk_upload_helper.encoding_size_old", STATS,
	  "Tahoe Upload Helper Encoding Old Files", "bytes", "tahoe_helper",
	  NULL,
	  "Bytes of files in encoding untouched for more than 48 hours.",
	  0, 0, 1 },
	{ "tahoe_helper_active_uploads", "chk_upload_helper.active_uploads",
	  STATS, "Tahoe Upload Helper Active Files", "n files",
	  "tahoe_helper", NULL,
	  "Uploads each helper is currently working on.", 0, 0, 1 },
	{ "tahoe_helper_upload_requests", "chk_upload_helper.upload_requests",
	  COUNTERS, "Tahoe Upload Helper Upload Requests", "requests",
	  "tahoe_helper", NULL,
	  "Rate of upload requests received by each helper.", 1, 0, 1 },
	{ "tahoe_helper_upload_already_present",
	  "chk_upload_helper.upload_already_present", COUNTERS,
	  "Tahoe Upload Helper Uploads Already Present", "requests",
	  "tahoe_helper", NULL,
	  "Rate of requests for files the grid already holds.", 1, 0, 1 },
	{ "tahoe_helper_upload_need_upload",
	  "chk_upload_helper.upload_need_upload", COUNTERS,
	  "Tahoe Upload Helper Uploads Needing Upload", "requests",
	  "tahoe_helper", NULL,
	  "Rate of requests for files the helper had to fetch and encode.",
	  1, 0, 1 },
	{ "tahoe_helper_encoded_bytes", "chk_upload_helper.encoded_bytes",
	  COUNTERS, "Tahoe Upload Helper Encoded Bytes", "bytes",
	  "tahoe_helper", NULL,
	  "Rate at which each helper encodes ciphertext into shares.",
	  1, 0, 1 },
	{ "tahoe_helper_fetched_bytes", "chk_upload_helper.fetched_bytes",
	  COUNTERS, "Tahoe Upload Helper Fetched Bytes", "bytes",
	  "tahoe_helper", NULL,
	  "Rate at which each helper fetches ciphertext from clients.",
	  1, 0, 1 },
	{ "tahoe_uploader_bytes_uploaded", "uploader.bytes_uploaded",
	  COUNTERS, "Tahoe Uploader Bytes Uploaded", "bytes",
	  "tahoe_traffic", NULL,
	  "Rate of immutable file bytes uploaded by each node.", 1, 0, 1 },
	{ "tahoe_uploader_files_uploaded", "uploader.files_uploaded",
	  COUNTERS, "Tahoe Uploader Files Uploaded", "files",
	  "tahoe_traffic", NULL,
	  "Rate of immutable files uploaded by each node.", 1, 0, 1 },
	{ "tahoe_mutable_files_published", "mutable.files_published",
	  COUNTERS, "Tahoe Mutable Files Published", "files",
	  "tahoe_traffic", NULL,
	  "Rate of mutable file versions published by each node.",
	  1, 0, 1 },
	{ "tahoe_mutable_files_retrieved", "mutable.files_retrieved",
	  COUNTERS, "Tahoe Mutable Files Retrieved", "files",
	  "tahoe_traffic", NULL,
	  "Rate of mutable file versions retrieved by each node.", 1, 0, 1 },
};

const size_t plugin_ngraphs = sizeof plugin_graphs / sizeof plugin_graphs[0];


void
plugin_table_free(struct plugin_table *t)
{
	free(t->graphs);
	free(t->text);
	free(t->info);
	memset(t, 0, sizeof *t);
}

static const char *const graph_columns[PLUGIN_TABLE_NCOLS] = {
	"plugin name", "statid", "category", "graph_title", "graph_vlabel",
	"graph_category", "graph_args", "DERIVE"
};

/* A plugin name: a munin field-like name, [A-Za-z_][A-Za-z0-9_]*. */
static int
graph_name_valid(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	    *s == '_'))
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* A graph_category: [A-Za-z0-9_-]+, as munin's own categories. */
static int
graph_category_valid(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/*
 * Parse one line of the operator's table, already cut into its columns,
 * into g.  Returns 0 or TALLY_EINVAL with the reason (no file:line) in err.
 */
static int
graph_parse_line(char **col, struct plugin_graph *g, char *err, size_t errlen)
{
	size_t	 plen = strlen(PLUGIN_PREFIX);
	char	*name = col[0], q[TALLY_QUOTE_LEN];

	/* A column may be 4 KB of anything but control characters: quoted. */
	memset(g, 0, sizeof *g);
	if (!graph_name_valid(name) || strlen(name) > PLUGIN_NAME_MAX)
		return plugin_err(err, errlen, TALLY_EINVAL, "plugin name '%s' "
		    "is not a valid munin name (letters, digits and '_', not "
		    "starting with a digit, at most %d bytes)",
		    plugin_quote(q, name), PLUGIN_NAME_MAX);
	g->key = name;
	g->compat = 1;
	if (strncmp(name, PLUGIN_PREFIX, plen) == 0) {
		g->key = name + plen;
		g->compat = 0;
	}
	if (*g->key == '\0')
		return plugin_err(err, errlen, TALLY_EINVAL, "plugin name '%s' "
		    "names no graph: write %s<graph>", name, PLUGIN_PREFIX);
	if (strcmp(g->key, PLUGIN_ALL) == 0)
		return plugin_err(err, errlen, TALLY_EINVAL, "plugin name '%s' "
		    "is reserved: %s%s is the multigraph plugin", name,
		    PLUGIN_PREFIX, PLUGIN_ALL);
	g->statid = col[1];
	if (!tally_stat_name_valid(g->statid))
		return plugin_err(err, errlen, TALLY_EINVAL, "statid '%s' is "
		    "not a valid stat name (1 to %d of A-Z a-z 0-9 _ . : -)",
		    plugin_quote(q, g->statid), TALLY_STAT_NAME_MAX);
	if (strcmp(col[2], "counters") == 0)
		g->kind = TALLY_COUNTER;
	else if (strcmp(col[2], "stats") == 0)
		g->kind = TALLY_STAT;
	else
		return plugin_err(err, errlen, TALLY_EINVAL, "category '%s' "
		    "must be counters or stats", plugin_quote(q, col[2]));
	g->title = col[3];
	g->vlabel = col[4];
	g->category = col[5];
	if (!graph_category_valid(g->category))
		return plugin_err(err, errlen, TALLY_EINVAL, "graph_category "
		    "'%s' may hold only letters, digits, '_' and '-'",
		    plugin_quote(q, g->category));
	g->args = strcmp(col[6], "-") == 0 ? NULL : col[6];
	if (strcmp(col[7], "yes") == 0)
		g->derive = 1;
	else if (strcmp(col[7], "no") != 0)
		return plugin_err(err, errlen, TALLY_EINVAL, "DERIVE '%s' must "
		    "be yes or no", plugin_quote(q, col[7]));
	return 0;
}

/*
 * Cut line (NUL terminated, at most PLUGIN_TABLE_MAXLINE bytes) at its
 * tabs into col.  Returns 0, or TALLY_EINVAL with the reason in err.
 */
static int
graph_split(char *line, char **col, char *err, size_t errlen)
{
	size_t		 n = 0, i;
	char		*p = line, *tab;
	unsigned char	 c;

	for (;;) {
		tab = strchr(p, '\t');
		if (n < PLUGIN_TABLE_NCOLS)
			col[n] = p;
		n++;
		if (tab == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	if (n != PLUGIN_TABLE_NCOLS)
		return plugin_err(err, errlen, TALLY_EINVAL, "%zu column%s, "
		    "want %d separated by tabs: plugin name, statid, counters "
		    "or stats, graph_title, graph_vlabel, graph_category, "
		    "graph_args or -, DERIVE yes or no", n, n == 1 ? "" : "s",
		    PLUGIN_TABLE_NCOLS);
	for (i = 0; i < PLUGIN_TABLE_NCOLS; i++) {
		if (*col[i] == '\0')
			return plugin_err(err, errlen, TALLY_EINVAL, "column "
			    "%zu (%s) is empty%s", i + 1, graph_columns[i],
			    i == 6 ? ": write - for no graph_args" : "");
		for (p = col[i]; *p != '\0'; p++) {
			c = (unsigned char)*p;
			if (c >= 0x20 && c != 0x7f)
				continue;
			return plugin_err(err, errlen, TALLY_EINVAL, "column "
			    "%zu (%s) holds a control character (0x%02x)%s",
			    i + 1, graph_columns[i], c, c == '\r' ? ": a "
			    "CRLF line end? Save the file with LF line ends" :
			    "");
		}
	}
	return 0;
}

static int
graph_blank(const char *line)
{
	for (; *line != '\0'; line++)
		if (*line != ' ' && *line != '\t')
			return 0;
	return 1;
}

/*
 * t's graphs: the compiled ones, each replaced by the operator's graph of
 * its key (op, nop of them), then the operator's new ones.  0, or
 * TALLY_ENOMEM said in err.
 */
static int
graph_merge(struct plugin_table *t, const struct plugin_graph *op, size_t nop,
    char *err, size_t errlen)
{
	size_t	 i, j;

	if ((t->graphs = calloc(plugin_ngraphs + nop,
	    sizeof *t->graphs)) == NULL)
		return plugin_err(err, errlen, TALLY_ENOMEM, "out of memory");
	for (i = 0; i < plugin_ngraphs; i++)
		t->graphs[t->n++] = plugin_graphs[i];
	for (j = 0; j < nop; j++) {
		for (i = 0; i < plugin_ngraphs; i++)
			if (strcmp(t->graphs[i].key, op[j].key) == 0)
				break;
		if (i < plugin_ngraphs)
			t->graphs[i] = op[j];
		else
			t->graphs[t->n++] = op[j];
	}
	t->noperator = nop;
	return 0;
}

int
plugin_table_parse(struct plugin_table *t, const char *path,
    const char *text, size_t len, char *err, size_t errlen)
{
	struct plugin_graph	*op = NULL, g;
	size_t			*opline = NULL, nop = 0, lineno = 0, i;
	size_t			 cap = 0, n;
	char			*p, *end, *line, *col[PLUGIN_TABLE_NCOLS];
	char			 why[TALLY_ERRMSG_LEN], qp[TALLY_QUOTE_LEN];
	int			 rc = 0;

	memset(t, 0, sizeof *t);
	if (path == NULL)
		path = "";
	/* Messages name the file quoted: the environment chose it. */
	plugin_quote(qp, path);
	if (text == NULL)
		len = 0;
	if ((t->text = malloc(len + 1)) == NULL)
		return plugin_err(err, errlen, TALLY_ENOMEM, "out of memory");
	if (len > 0)
		memcpy(t->text, text, len);
	t->text[len] = '\0';
	/* The entries' graph_info, with no control character of the path. */
	n = strlen(path) + 64;
	if ((t->info = malloc(n)) == NULL) {
		rc = plugin_err(err, errlen, TALLY_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(t->info, n, "From the operator's graph table %s.", path);
	for (p = t->info; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';

	for (p = t->text; p < t->text + len; p = end + 1) {
		lineno++;
		line = p;
		if ((end = memchr(p, '\n', t->text + len - p)) == NULL)
			end = t->text + len;
		*end = '\0';
		if (memchr(line, '\0', end - line) != NULL) {
			rc = plugin_err(err, errlen, TALLY_EINVAL, "graphs "
			    "%s:%zu: a NUL byte: this is not a text file",
			    qp, lineno);
			goto out;
		}
		if ((size_t)(end - line) > PLUGIN_TABLE_MAXLINE) {
			rc = plugin_err(err, errlen, TALLY_EINVAL, "graphs "
			    "%s:%zu: longer than %d bytes", qp, lineno,
			    PLUGIN_TABLE_MAXLINE);
			goto out;
		}
		if (*line == '#' || graph_blank(line))
			continue;
		if ((rc = graph_split(line, col, why, sizeof why)) != 0 ||
		    (rc = graph_parse_line(col, &g, why, sizeof why)) != 0) {
			plugin_err(err, errlen, rc, "graphs %s:%zu: %s", qp,
			    lineno, why);
			goto out;
		}
		for (i = 0; i < nop; i++) {
			if (strcmp(op[i].key, g.key) != 0)
				continue;
			rc = plugin_err(err, errlen, TALLY_EINVAL, "graphs "
			    "%s:%zu: graph '%s' is already defined at line "
			    "%zu", qp, lineno, g.key, opline[i]);
			goto out;
		}
		if (nop == PLUGIN_TABLE_MAXGRAPHS) {
			rc = plugin_err(err, errlen, TALLY_ELIMIT, "graphs "
			    "%s:%zu: more than %d graphs", qp, lineno,
			    PLUGIN_TABLE_MAXGRAPHS);
			goto out;
		}
		if (nop == cap) {
			struct plugin_graph	*ng;
			size_t			*nl;

			cap = cap ? cap * 2 : 16;
			if ((ng = realloc(op, cap * sizeof *op)) == NULL) {
				rc = plugin_err(err, errlen, TALLY_ENOMEM,
				    "out of memory");
				goto out;
			}
			op = ng;
			if ((nl = realloc(opline, cap * sizeof *nl)) == NULL) {
				rc = plugin_err(err, errlen, TALLY_ENOMEM,
				    "out of memory");
				goto out;
			}
			opline = nl;
		}
		g.info = t->info;
		opline[nop] = lineno;
		op[nop++] = g;
	}

	rc = graph_merge(t, op, nop, err, errlen);
out:
	free(op);
	free(opline);
	if (rc != 0)
		plugin_table_free(t);
	return rc;
}

/* What a file that is not a regular one is, for the message. */
static const char *
graph_file_kind(mode_t mode)
{
	static const struct {
		mode_t		 fmt;
		const char	*name;
	} kinds[] = {
		{ S_IFIFO, "a FIFO" }, { S_IFDIR, "a directory" },
		{ S_IFSOCK, "a socket" }, { S_IFCHR, "a character device" },
		{ S_IFBLK, "a block device" },
	};
	size_t	 i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if ((mode & S_IFMT) == kinds[i].fmt)
			return kinds[i].name;
	return "an unknown kind of file";
}

/*
 * The file is opened with O_NONBLOCK: opening a FIFO blocks until a writer
 * comes, and munin-node would wait for the plugin until its timeout.  Then
 * fstat on what was opened (no race with a rename) refuses anything but a
 * regular file, and one larger than the limit before reading it; the read
 * stays bounded all the same, for a file that grows meanwhile.
 */
int
plugin_table_load(struct plugin_table *t, const char *path, char *err,
    size_t errlen)
{
	struct stat	 sb;
	char		*buf, qp[TALLY_QUOTE_LEN];
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, flags, rc;

	memset(t, 0, sizeof *t);
	if (path == NULL || *path == '\0')
		return plugin_table_parse(t, NULL, NULL, 0, err, errlen);
	plugin_quote(qp, path);
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) ==
	    -1)
		return plugin_err(err, errlen, TALLY_ESYS, "graphs %s: %s", qp,
		    strerror(errno));
	if (fstat(fd, &sb) != 0) {
		rc = plugin_err(err, errlen, TALLY_ESYS, "graphs %s: fstat: %s",
		    qp, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = plugin_err(err, errlen, TALLY_ESYS, "graphs file %s is %s, "
		    "not a regular file", qp, graph_file_kind(sb.st_mode));
		close(fd);
		return rc;
	}
	if (sb.st_size > (off_t)PLUGIN_TABLE_MAXSIZE) {
		close(fd);
		return plugin_err(err, errlen, TALLY_ELIMIT, "graphs %s: "
		    "larger than %lu bytes", qp,
		    (unsigned long)PLUGIN_TABLE_MAXSIZE);
	}
	/* A regular file: reads block as they should again. */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		rc = plugin_err(err, errlen, TALLY_ESYS, "graphs %s: fcntl: %s",
		    qp, strerror(errno));
		close(fd);
		return rc;
	}
	/* One byte more than allowed tells a file too large. */
	if ((buf = malloc(PLUGIN_TABLE_MAXSIZE + 1)) == NULL) {
		close(fd);
		return plugin_err(err, errlen, TALLY_ENOMEM, "out of memory");
	}
	while (len <= PLUGIN_TABLE_MAXSIZE) {
		n = read(fd, buf + len, PLUGIN_TABLE_MAXSIZE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = plugin_err(err, errlen, TALLY_ESYS, "graphs %s: %s",
			    qp, strerror(errno));
			close(fd);
			free(buf);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > PLUGIN_TABLE_MAXSIZE) {
		free(buf);
		return plugin_err(err, errlen, TALLY_ELIMIT, "graphs %s: "
		    "larger than %lu bytes", qp,
		    (unsigned long)PLUGIN_TABLE_MAXSIZE);
	}
	rc = plugin_table_parse(t, path, buf, len, err, errlen);
	free(buf);
	return rc;
}
