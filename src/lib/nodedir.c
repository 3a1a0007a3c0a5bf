/*
 * nodedir.c: the small files of a node directory (statsfile,
 * stats_gatherer.furl, nickname, node.id), one line each, and
 * tally_provider_open, which reads them.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"

/*
 * Read the first line of <dir>/<name> into *out (malloc'd): TALLY_ENOTFOUND
 * if there is no such file.  Anything but a regular file is refused
 * without being read (a FIFO would block its open or read for good), and
 * so is a line holding a NUL byte (what follows it would be lost
 * unseen).  Messages quote the path.
 */
int
nodedir_read_line(const char *dir, const char *name, char **out, char *err,
    size_t errlen)
{
	char		 path[4096], buf[4096], q[ERROR_QUOTE_LEN];
	struct stat	 st;
	ssize_t		 n;
	size_t		 len, end;
	int		 fd;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
	    sizeof path) {
		error_quote(q, sizeof q, dir, strlen(dir));
		return error_set(err, errlen, TALLY_EINVAL, "%s/%s: path too "
		    "long", q, name);
	}
	error_quote(q, sizeof q, path, strlen(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) <
	    0) {
		if (errno == ENOENT)
			return TALLY_ENOTFOUND;
		return error_set(err, errlen, TALLY_ESYS, "%s: %s", q,
		    strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		int e = errno;

		close(fd);
		return error_set(err, errlen, TALLY_ESYS, "%s: %s", q,
		    strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(err, errlen, TALLY_EINVAL, "%s is %s, not a "
		    "regular file", q, error_ftype(st.st_mode));
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return error_set(err, errlen, TALLY_ESYS, "%s: %s", q,
		    strerror(errno));
	for (end = 0; end < (size_t)n && buf[end] != '\n' && buf[end] != '\r';
	    end++)
		if (buf[end] == '\0')
			return error_set(err, errlen, TALLY_EINVAL, "%s: its "
			    "line holds a NUL byte", q);
	buf[end] = '\0';
	/* Trailing blanks are an editor's, not the operator's intent. */
	for (len = end; len > 0 && (buf[len - 1] == ' ' ||
	    buf[len - 1] == '\t'); len--)
		;
	buf[len] = '\0';
	if (len == 0)
		return error_set(err, errlen, TALLY_EINVAL, "%s: empty", q);
	if ((*out = strdup(buf)) == NULL)
		return TALLY_ENOMEM;
	return 0;
}

/* 26 characters of lowercase base32 from 128 random bits. */
static int
nodedir_random_id(char *id)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char	 r[16];
	size_t		 got = 0, i;
	unsigned	 acc = 0, bits = 0, o = 0;

	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			got += (size_t)n;
	}
	for (i = 0; i < sizeof r; i++) {
		acc = (acc << 8) | r[i];
		bits += 8;
		while (bits >= 5) {
			id[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		id[o++] = alphabet[(acc << (5 - bits)) & 31];
	id[o] = '\0';
	return 0;
}

/*
 * Read <dir>/node.id, or create it.  Creation writes a fresh temporary
 * file named after the new id (random; O_EXCL: nothing planted there is
 * followed or reused) and link()s it into place, so that processes and
 * threads starting at once agree on one id and nobody ever reads a
 * half-written file.
 */
int
nodedir_node_id(const char *dir, char *id, char *err, size_t errlen)
{
	char	*line, path[4096], tmp[4096], fresh[TALLY_NODE_ID_MAX + 2];
	char	 q[ERROR_QUOTE_LEN];
	int	 rc, fd, tries;

	snprintf(path, sizeof path, "%s/node.id", dir);
	error_quote(q, sizeof q, path, strlen(path));
	for (tries = 0; tries < 2; tries++) {
		rc = nodedir_read_line(dir, "node.id", &line, err, errlen);
		if (rc == 0) {
			if (!tally_node_id_valid(line)) {
				char ql[ERROR_QUOTE_LEN];

				error_quote(ql, sizeof ql, line, strlen(line));
				rc = error_set(err, errlen, TALLY_EINVAL,
				    "%s: '%s' is not a valid node id "
				    "([a-z0-9_-], 1-64)", q, ql);
				free(line);
				return rc;
			}
			strcpy(id, line);
			free(line);
			return 0;
		}
		if (rc != TALLY_ENOTFOUND)
			return rc;
		if (nodedir_random_id(fresh) != 0)
			return error_set(err, errlen, TALLY_ESYS, "getrandom: "
			    "%s", strerror(errno));
		/* Named as randomly as the id; mode 0644 less the umask. */
		snprintf(tmp, sizeof tmp, "%s/.node.id.%s", dir, fresh);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644)) < 0)
			return error_set(err, errlen, TALLY_ESYS, "%s: cannot "
			    "create it: %s", q, strerror(errno));
		strcat(fresh, "\n");
		if (write(fd, fresh, strlen(fresh)) != (ssize_t)strlen(fresh) ||
		    fsync(fd) != 0) {
			rc = error_set(err, errlen, TALLY_ESYS, "%s: cannot "
			    "write it: %s", q, strerror(errno));
			close(fd);
			unlink(tmp);
			return rc;
		}
		close(fd);
		rc = link(tmp, path);
		if (rc != 0 && errno != EEXIST) {
			rc = error_set(err, errlen, TALLY_ESYS, "%s: %s", q,
			    strerror(errno));
			unlink(tmp);
			return rc;
		}
		unlink(tmp);
		/* Created, or another process won: read what is there. */
	}
	return error_set(err, errlen, TALLY_ESYS, "%s: could not be created",
	    q);
}

int
tally_provider_open(tally_provider **pp, const char *nodedir)
{
	tally_options	 opt;
	char		*statsfile = NULL, *furl = NULL, *nick = NULL, *path;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	if (pp == NULL)
		return TALLY_EINVAL;
	*pp = NULL;
	if (nodedir == NULL || *nodedir == '\0')
		return TALLY_EINVAL;
	memset(&opt, 0, sizeof opt);
	err[0] = '\0';
	rc = nodedir_read_line(nodedir, "statsfile", &statsfile, err,
	    sizeof err);
	if (rc == 0 || rc == TALLY_ENOTFOUND)
		rc = nodedir_read_line(nodedir, "stats_gatherer.furl", &furl,
		    err, sizeof err);
	if (rc == 0 || rc == TALLY_ENOTFOUND)
		rc = nodedir_read_line(nodedir, "nickname", &nick, err,
		    sizeof err);
	if (rc != 0 && rc != TALLY_ENOTFOUND) {
		log_msg(NULL, TALLY_LOG_ERR, "%s", err);
		goto out;
	}
	if (statsfile == NULL && furl == NULL) {
		rc = TALLY_ENOTCONFIGURED;
		goto out;
	}
	/* A relative statsfile is relative to the node directory. */
	if (statsfile != NULL && statsfile[0] != '/') {
		if (asprintf(&path, "%s/%s", nodedir, statsfile) < 0) {
			rc = TALLY_ENOMEM;
			goto out;
		}
		free(statsfile);
		statsfile = path;
	}
	opt.statsfile = statsfile;
	opt.gatherer_furl = furl;
	opt.nickname = nick;
	opt.nodedir = nodedir;
	rc = tally_provider_new(pp, &opt);
out:
	free(statsfile);
	free(furl);
	free(nick);
	return rc;
}
