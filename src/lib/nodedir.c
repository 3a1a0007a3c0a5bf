/*
 * nodedir.c: the small files of a node directory (statsfile,
 * stats_gatherer.furl, nickname, node.id), one line each.
 */
#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"

int
nodedir_read_line(const char *dir, const char *name, char **out, char *err,
    size_t errlen)
{
	char	 path[4096], buf[4096];
	ssize_t	 n;
	size_t	 len;
	int	 fd;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
	    sizeof path) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return TALLY_EINVAL;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return TALLY_ENOTFOUND;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return TALLY_ESYS;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return TALLY_ESYS;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	/* Trailing blanks are an editor's, not the operator's intent. */
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		snprintf(err, errlen, "%s: empty", path);
		return TALLY_EINVAL;
	}
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
 * Read <dir>/node.id, or create it.  Creation writes a private temporary
 * file and link()s it into place, so two processes starting at once agree
 * on one id and nobody ever reads a half-written file.
 */
int
nodedir_node_id(const char *dir, char *id, char *err, size_t errlen)
{
	char	*line, path[4096], tmp[4096], fresh[TALLY_NODE_ID_MAX + 2];
	int	 rc, fd, tries;

	for (tries = 0; tries < 2; tries++) {
		rc = nodedir_read_line(dir, "node.id", &line, err, errlen);
		if (rc == 0) {
			if (!tally_node_id_valid(line)) {
				snprintf(err, errlen, "%s/node.id: '%.64s' is "
				    "not a valid node id ([a-z0-9_-], 1-64)",
				    dir, line);
				free(line);
				return TALLY_EINVAL;
			}
			strcpy(id, line);
			free(line);
			return 0;
		}
		if (rc != TALLY_ENOTFOUND)
			return rc;
		if (nodedir_random_id(fresh) != 0) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return TALLY_ESYS;
		}
		snprintf(path, sizeof path, "%s/node.id", dir);
		snprintf(tmp, sizeof tmp, "%s/.node.id.%ld", dir,
		    (long)getpid());
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644)) < 0) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			return TALLY_ESYS;
		}
		strcat(fresh, "\n");
		if (write(fd, fresh, strlen(fresh)) != (ssize_t)strlen(fresh) ||
		    fsync(fd) != 0) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return TALLY_ESYS;
		}
		close(fd);
		rc = link(tmp, path);
		unlink(tmp);
		if (rc != 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return TALLY_ESYS;
		}
		/* Created, or another process won: read what is there. */
	}
	snprintf(err, errlen, "%s/node.id: could not be created", dir);
	return TALLY_ESYS;
}
