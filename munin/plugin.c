/*
 * plugin.c: the tally_ munin plugin's names and messages: which graph a
 * link's name selects, the statsfile's opening (with what to change when
 * munin may not read it), autoconf, list, and the multigraph refusal.
 * What a run prints is run.c's; the field names are fields.c's.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

int
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

void
plugin_msg_clean(char *msg)
{
	for (; *msg != '\0'; msg++)
		if ((unsigned char)*msg < 0x20 || *msg == 0x7f)
			*msg = '?';
}

const char *
plugin_quote(char *buf, const char *s)
{
	if (s == NULL)
		s = "";
	return tally_quote(buf, TALLY_QUOTE_LEN, s, strlen(s));
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
plugin_graph_find(const struct plugin_table *t, const char *argv0)
{
	const char	*key = plugin_basename(argv0);
	size_t		 i, plen = strlen(PLUGIN_PREFIX);
	int		 prefixed = 0;

	if (strncmp(key, PLUGIN_PREFIX, plen) == 0) {
		key += plen;
		prefixed = 1;
	}
	/*
	 * Bare names are only the original system's (and the operator's),
	 * so that a link named "uptime" is never mistaken for munin's own
	 * plugin of that name.
	 */
	for (i = 0; i < t->n; i++) {
		if (strcmp(t->graphs[i].key, key) == 0 &&
		    (prefixed || t->graphs[i].compat))
			return &t->graphs[i];
	}
	return NULL;
}

int
plugin_is_multigraph(const char *argv0)
{
	const char	*base = plugin_basename(argv0);
	size_t		 plen = strlen(PLUGIN_PREFIX);

	return strncmp(base, PLUGIN_PREFIX, plen) == 0 &&
	    strcmp(base + plen, PLUGIN_ALL) == 0;
}

void
plugin_graph_name(const struct plugin_graph *g, FILE *out)
{
	if (!g->compat)
		fputs(PLUGIN_PREFIX, out);
	fputs(g->key, out);
}

/* The reader's message, or "out of memory" for no reader, into err. */
static int
plugin_open_failed(tally_reader **rp, int rc, char *err, size_t errlen)
{
	plugin_err(err, errlen, rc, "%s", tally_reader_errmsg(*rp));
	tally_reader_close(*rp);
	*rp = NULL;
	return rc;
}

/*
 * The name of group gid, from /etc/group, into buf; else its number.  Read
 * with fgetgrent, not getgrgid: the plugin may be linked statically
 * (configure.ac), and a static getgrgid loads NSS modules that must match
 * the C library it was built with.  The name only makes a message clearer.
 */
static void
plugin_group_name(gid_t gid, char *buf, size_t len)
{
	struct group	*gr;
	FILE		*f;

	snprintf(buf, len, "%ld", (long)gid);
	if ((f = fopen("/etc/group", "re")) == NULL)
		return;
	while ((gr = fgetgrent(f)) != NULL) {
		if (gr->gr_gid == gid && gr->gr_name != NULL &&
		    *gr->gr_name != '\0') {
			snprintf(buf, len, "%s", gr->gr_name);
			break;
		}
	}
	fclose(f);
}

int
plugin_open(tally_reader **rp, const char *path, char *err, size_t errlen)
{
	char		 lock[PATH_MAX], gname[64], q[TALLY_QUOTE_LEN];
	char		 gq[TALLY_QUOTE_LEN];
	struct stat	 sb;
	int		 rc;

	*rp = NULL;
	/*
	 * LMDB reports a reader that cannot write lock.mdb as a bare
	 * EACCES, and libtally says to join the statsfile's group; say
	 * what the operator must change for munin instead.
	 */
	if (path == NULL || *path == '\0' ||
	    (size_t)snprintf(lock, sizeof lock, "%s/lock.mdb", path) >=
	    sizeof lock || stat(lock, &sb) != 0 ||
	    faccessat(AT_FDCWD, lock, R_OK | W_OK, AT_EACCESS) == 0 ||
	    errno != EACCES) {
		/* No path is that long; and its reason would be cut off. */
		if (path != NULL && strlen(path) >= PATH_MAX)
			return plugin_err(err, errlen, TALLY_ESYS, "statsfile "
			    "%s: %s", plugin_quote(q, path),
			    strerror(ENAMETOOLONG));
		/* libtally quotes the path in its messages itself. */
		if ((rc = tally_reader_open(rp, path)) != 0)
			return plugin_open_failed(rp, rc, err, errlen);
		return 0;
	}
	if ((sb.st_mode & (S_IRGRP | S_IWGRP)) != (S_IRGRP | S_IWGRP))
		return plugin_err(err, errlen, TALLY_ESYS, "statsfile %s: "
		    "lock.mdb has mode %04o, and LMDB readers must write it: "
		    "make it 0660", plugin_quote(q, path),
		    (unsigned)(sb.st_mode & 07777));
	plugin_group_name(sb.st_gid, gname, sizeof gname);
	return plugin_err(err, errlen, TALLY_ESYS, "statsfile %s: lock.mdb is "
	    "not writable by uid %ld gid %ld, and LMDB readers must write "
	    "it: set 'group %s' in this plugin's plugin-conf.d section",
	    plugin_quote(q, path), (long)geteuid(), (long)getegid(),
	    plugin_quote(gq, gname));
}

void
plugin_autoconf(const char *argv0, const char *path, const char *graphs,
    FILE *out)
{
	struct plugin_table	 t;
	struct plugin_hist	 hg;
	tally_reader		*r;
	const char		*base = plugin_basename(argv0);
	char			 err[TALLY_ERRMSG_LEN], q[TALLY_QUOTE_LEN];
	int			 rc;

	/* A bad graph table breaks every graph, so it is a "no" too. */
	if ((rc = plugin_table_load(&t, graphs, err, sizeof err)) == 0) {
		/*
		 * The bare tally_ (as munin-node-configure runs it) and
		 * tally_all stand for every graph; any other name must be
		 * one, or the link draws nothing.
		 */
		if (*base != '\0' && strcmp(base, PLUGIN_PREFIX) != 0 &&
		    !plugin_is_multigraph(argv0) &&
		    plugin_graph_find(&t, argv0) == NULL &&
		    (rc = plugin_hist_find(argv0, &hg, err, sizeof err)) == 0)
			rc = plugin_err(err, sizeof err, TALLY_EINVAL, "no graph "
			    "named '%s'; '%s list' prints the valid names",
			    plugin_quote(q, base), PLUGIN_PREFIX);
		if (rc == 1)
			rc = 0;		/* a histogram's graph */
		plugin_table_free(&t);
	}
	if (rc == 0)
		rc = plugin_open(&r, path, err, sizeof err);
	if (rc == 0) {
		tally_reader_close(r);
		fputs("yes\n", out);
		return;
	}
	/* munin-node-configure wants exactly one line, and a person no
	 * escape codes. */
	plugin_msg_clean(err);
	fprintf(out, "no (%s)\n", err);
}

void
plugin_list(const struct plugin_table *t, FILE *out)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		fprintf(out, "%s%s\n", PLUGIN_PREFIX, t->graphs[i].key);
	for (i = 0; i < t->n; i++)
		if (t->graphs[i].compat)
			fprintf(out, "%s\n", t->graphs[i].key);
	fprintf(out, "%s%s\n", PLUGIN_PREFIX, PLUGIN_ALL);
}

void
plugin_no_multigraph(int config, FILE *out)
{
	if (!config) {
		fputs("multigraph.value 0\n", out);
		return;
	}
	fputs("graph_title This plugin needs multigraph support\n"
	    "multigraph.label No multigraph here\n"
	    "multigraph.info " PLUGIN_PREFIX PLUGIN_ALL " draws every tally "
	    "graph from one run, which needs a munin-node that supports "
	    "multigraph plugins (1.4.0 or later).  Link single graphs as "
	    PLUGIN_PREFIX "<graph> instead.\n", out);
}
