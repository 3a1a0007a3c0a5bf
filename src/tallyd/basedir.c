/*
 * basedir.c: tallyd's base directory and the files in it, each written
 * whole or not at all, and refused rather than fixed when others may have
 * read it.
 *
 * BASEDIR holds:
 *	stats_gatherer.furl	tally+tls://FINGERPRINT@HOST:PORT/SECRET (or
 *				tally://HOST:PORT/SECRET with --plaintext),
 *				mode 0600: the capability that nodes need to
 *				provide stats
 *	tallyd.key		the gatherer's private key (Ed25519, PEM), 0600
 *	tallyd.crt		its self-signed certificate (PEM), 0600, whose
 *				SHA-256 is the furl's FINGERPRINT; both are
 *				made on the first TLS run and kept after
 *	tallyd.tickets		the session-ticket keys (tls-server.c), 0600,
 *				made on the first TLS run, renewed weekly
 *	node.id			the gatherer's own node id (its own stats)
 *	listen			ADDR:PORT, only when the furl's host is not
 *				the bound address (a wildcard listen, where
 *				the furl names this machine instead)
 *	stats/			the default statsfile, setgid 02770
 *
 * Start-up code: a failure here ends tallyd with a message (tallyd_die()).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tallyd.h"

/* Create the last component of path with mode, if it is missing. */
void
basedir_mkdir(const char *what, const char *path, mode_t mode)
{
	struct stat	 sb;

	if (mkdir(path, mode) == 0) {
		/* mkdir() drops the setgid bit and obeys the umask. */
		if (chmod(path, mode) != 0)
			tallyd_die("%s %s: chmod: %s", what, path,
			    strerror(errno));
		return;
	}
	if (errno != EEXIST)
		tallyd_die("%s %s: cannot create it: %s", what, path,
		    strerror(errno));
	if (stat(path, &sb) != 0)
		tallyd_die("%s %s: %s", what, path, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		tallyd_die("%s %s: not a directory", what, path);
}

/* Write dir/name as one line, mode 0600, atomically. */
void
basedir_write(const char *dir, const char *name, const char *line)
{
	char	 path[4096], tmp[4096];
	size_t	 len = strlen(line);
	int	 fd, dfd;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
	    sizeof path ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.%ld", dir, name,
	    (long)getpid()) >= sizeof tmp)
		tallyd_die("%s/%s: path too long", dir, name);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0)
		tallyd_die("%s: %s", tmp, strerror(errno));
	if (fchmod(fd, 0600) != 0 ||
	    write(fd, line, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		tallyd_die("%s: %s", tmp, strerror(e));
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		tallyd_die("%s: %s", path, strerror(e));
	}
	/* The rename itself must survive a crash. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

/* The first line of dir/name, or NULL if there is no such file. */
char *
basedir_read(const char *dir, const char *name)
{
	char	 err[TALLY_ERRLEN], *line;
	int	 rc;

	rc = nodedir_read_line(dir, name, &line, err, sizeof err);
	if (rc == TALLY_ENOTFOUND)
		return NULL;
	if (rc == TALLY_ENOMEM)
		tallyd_die("out of memory");
	if (rc != 0)
		tallyd_die("%s", err);
	return line;
}

/*
 * The furl is a capability, and the key an identity: each must be a
 * regular file of tallyd's own user, mode 0600 or narrower.  Anything
 * else is refused, not fixed: a key that others could read may have been
 * read, and only the operator can say whether to make a new one.
 */
void
basedir_private(const char *dir, const char *name)
{
	char		 path[4096];
	struct stat	 sb;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT)
			return;
		tallyd_die("%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		tallyd_die("%s is not a regular file (a symlink, say): "
		    "refused", path);
	if (sb.st_uid != geteuid())
		tallyd_die("%s is owned by uid %lu, not by tallyd's user (uid "
		    "%lu): refused; chown it, or run tallyd as its owner",
		    path, (unsigned long)sb.st_uid, (unsigned long)geteuid());
	if ((sb.st_mode & 07177) != 0)
		tallyd_die("%s has mode %04o, wider than 0600: refused, since "
		    "others may have read it; chmod 600 it if they cannot "
		    "have, else make a new %s", path,
		    (unsigned)(sb.st_mode & 07777), strcmp(name, BASEDIR_KEY)
		    == 0 ? "identity (remove " BASEDIR_KEY " and " BASEDIR_CERT
		    ")" : "secret (remove the furl file)");
}

/* Whether dir/name exists; dies on anything but "no such file". */
static int
basedir_exists(const char *dir, const char *name)
{
	char		 path[4096];
	struct stat	 sb;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (stat(path, &sb) == 0)
		return 1;
	if (errno != ENOENT)
		tallyd_die("%s: %s", path, strerror(errno));
	return 0;
}

/*
 * The gatherer's TLS identity: made on the first run, kept after.  Half
 * of one is refused rather than completed: a new key or certificate is a
 * new fingerprint, hence a new furl for every node, which is the
 * operator's call (remove both files to rotate).
 */
void
basedir_identity(const char *basedir, char *key, size_t keylen, char *cert,
    size_t certlen)
{
	char	 fp[FURL_FP_LEN + 1], err[TALLY_ERRLEN];
	int	 have_key, have_cert;

	if ((size_t)snprintf(key, keylen, "%s/%s", basedir, BASEDIR_KEY) >=
	    keylen || (size_t)snprintf(cert, certlen, "%s/%s", basedir,
	    BASEDIR_CERT) >= certlen)
		tallyd_die("BASEDIR %s: path too long", basedir);
	have_key = basedir_exists(basedir, BASEDIR_KEY);
	have_cert = basedir_exists(basedir, BASEDIR_CERT);
	if (have_key && have_cert) {
		basedir_private(basedir, BASEDIR_KEY);
		return;
	}
	if (have_key || have_cert)
		tallyd_die("%s exists but %s does not: restore it, or remove "
		    "%s too for a new identity (and a new furl, which every "
		    "node then needs)", have_key ? key : cert,
		    have_key ? cert : key, have_key ? key : cert);
	if (tls_identity_create(key, cert, fp, sizeof fp, err,
	    sizeof err) != 0)
		tallyd_die("cannot make the TLS identity: %s", err);
	gatherer_log("made a new TLS identity: %s and %s, certificate "
	    "fingerprint %s", key, cert, fp);
}
