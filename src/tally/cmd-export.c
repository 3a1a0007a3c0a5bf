/*
 * cmd-export.c: tally export [--openmetrics | --prometheus] [-o FILE]:
 * every node's metrics (export.c) to stdout, or atomically to FILE: a
 * temporary file beside it, then a rename, so that a reader never sees
 * half a file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-cmd.h"

/* The temporary file, beside FILE: not "*.prom", so no collector reads it. */
#define EXPORT_TMP	".tally-export.XXXXXX"

/* Where the export goes: stdout, or tmp, renamed to file at the end. */
struct export_out {
	const char	*file;		/* NULL: stdout */
	char		*tmp;
	int		 fd;
	int		 made;		/* tmp is ours, to remove on failure */
};

/* Make sure a rename is on disk; a directory that refuses is no error. */
static void
export_fsync_dir(const char *file)
{
	char	*dir, *slash;
	int	 fd;

	if ((dir = strdup(file)) == NULL)
		return;
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/*
 * Open the output: stdout, or a temporary file beside FILE, to be renamed
 * over FILE: node_exporter's textfile collector reads only "*.prom", so it
 * never sees the temporary file, nor half of FILE.  0, or -1 said why.
 */
static int
export_out_open(struct export_out *out)
{
	struct stat	 fsb;
	char		 q[TALLY_QUOTE_LEN];
	const char	*slash;
	sigset_t	 block, old;
	size_t		 tmplen;
	int		 e;

	if (out->file == NULL) {
		out->fd = STDOUT_FILENO;
		return 0;
	}
	/*
	 * Renaming over FILE replaces whatever it is: only ever a regular
	 * file, never a device (/dev/full), a FIFO a reader waits on, or a
	 * symlink, which would be replaced, not followed.
	 */
	if (lstat(out->file, &fsb) == 0 && !S_ISREG(fsb.st_mode)) {
		warnmsg("%s: is %s, not a regular file: -o writes a new file "
		    "and renames it over FILE", quote(q, out->file),
		    S_ISLNK(fsb.st_mode) ? "a symlink" :
		    S_ISFIFO(fsb.st_mode) ? "a FIFO" :
		    S_ISDIR(fsb.st_mode) ? "a directory" :
		    S_ISCHR(fsb.st_mode) || S_ISBLK(fsb.st_mode) ? "a device" :
		    S_ISSOCK(fsb.st_mode) ? "a socket" : "not a file");
		return -1;
	}
	/*
	 * A short name of its own beside FILE (FILE plus a suffix could pass
	 * NAME_MAX where FILE does not), made afresh (O_EXCL).
	 */
	tmplen = strlen(out->file) + sizeof EXPORT_TMP;
	if ((out->tmp = malloc(tmplen)) == NULL) {
		warnmsg("out of memory");
		return -1;
	}
	slash = strrchr(out->file, '/');
	snprintf(out->tmp, tmplen, "%.*s%s", slash == NULL ? 0 :
	    (int)(slash - out->file + 1), out->file, EXPORT_TMP);
	/* No signal between the file made and its handler knowing it. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	if ((out->fd = mkostemp(out->tmp, O_CLOEXEC)) < 0) {
		e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		warnmsg("%s: cannot make a temporary file beside it: %s",
		    quote(q, out->file), strerror(e));
		return -1;
	}
	out->made = 1;
	statsfile_unlink_on_signal(out->tmp);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* 0644 whatever the umask: a collector reads it. */
	if (fchmod(out->fd, 0644) != 0) {
		warnmsg("%s: chmod: %s", quote(q, out->tmp), strerror(errno));
		return -1;
	}
	return 0;
}

/* The temporary file is whole: on disk, then renamed.  0, or -1 said. */
static int
export_out_commit(struct export_out *out)
{
	char	 q1[TALLY_QUOTE_LEN], q2[TALLY_QUOTE_LEN];
	int	 rc;

	if (out->file == NULL)
		return 0;
	if (fsync(out->fd) != 0) {
		warnmsg("%s: fsync: %s", quote(q1, out->tmp), strerror(errno));
		return -1;
	}
	rc = close(out->fd);
	out->fd = -1;
	if (rc != 0) {
		warnmsg("%s: close: %s", quote(q1, out->tmp), strerror(errno));
		return -1;
	}
	if (rename(out->tmp, out->file) != 0) {
		warnmsg("rename %s to %s: %s", quote(q1, out->tmp),
		    quote(q2, out->file), strerror(errno));
		return -1;
	}
	export_fsync_dir(out->file);
	return 0;
}

/* Close what is open; a failed export leaves no temporary file. */
static void
export_out_close(struct export_out *out, int failed)
{
	if (out->file != NULL && out->fd >= 0)
		close(out->fd);
	if (failed && out->made)
		unlink(out->tmp);
	statsfile_unlink_on_signal(NULL);
	free(out->tmp);
}

/* Write the export to out: 0, or -1 said why. */
static int
export_out_write(struct export *ex, struct export_out *out)
{
	char	 q[TALLY_QUOTE_LEN];
	int	 werr;

	if (export_write(ex, out->fd, &werr) != 0) {
		warnmsg("out of memory");
		return -1;
	}
	if (werr != 0) {
		warnmsg("writing %s: %s", out->file != NULL ? quote(q,
		    out->tmp) : "to stdout", strerror(werr));
		return -1;
	}
	return export_out_commit(out);
}

int
cmd_export_exec(struct cmd *self)
{
	struct args		*a = &self->args;
	tally_reader		*r = NULL;
	struct export		*ex;
	struct export_out	 out = { NULL, NULL, -1, 0 };
	int			 rc, status = EXIT_FAIL;

	out.file = args_get(a, 'o');
	if (out.file != NULL && *out.file == '\0')
		return usage_error("export: -o needs a file name");
	if ((ex = export_new(args_has(a, 'P') > args_has(a, 'O'))) == NULL) {
		warnmsg("out of memory");
		return EXIT_FAIL;
	}
	if (statsfile_open(&r, self->path, self->qpath) != 0)
		goto out;
	if ((rc = export_collect(ex, r)) != 0) {
		if (*tally_reader_errmsg(r) != '\0')
			warnmsg("%s", tally_reader_errmsg(r));
		else
			warnmsg("%s: export: %s", self->qpath,
			    rc == TALLY_ENOMEM ? "out of memory" :
			    tally_strerror(rc));
		goto out;
	}
	if (export_skipped(ex) > 0)
		warnmsg("%s: %zu samples skipped", self->qpath,
		    export_skipped(ex));
	if (export_out_open(&out) == 0 && export_out_write(ex, &out) == 0)
		status = 0;
	export_out_close(&out, status != 0);
out:
	tally_reader_close(r);
	export_free(ex);
	return status;
}
