/*
 * log.c: libtally's one way to say something.  A line goes to the host's
 * tally_options.log, or, without one, to stderr as "tally: message"; never
 * to stdout.  Every file of the library that logs comes through here, so
 * that a host that sets a log hook hears all of it, and every line is one
 * line of text a terminal shows as text (error_shown).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tally-int.h"

void
log_msg(const struct log_hook *h, int level, const char *fmt, ...)
{
	char	 buf[LOG_LINE_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	error_shown(buf);	/* paths, names and file contents inside */
	if (h != NULL && h->fn != NULL)
		h->fn(h->ctx, level, buf);
	else
		fprintf(stderr, "tally: %s\n", buf);
}

int
log_once_fail(struct log_once *o, const char *msg)
{
	o->nfailed++;
	if (strcmp(o->last, msg) == 0)
		return 0;
	snprintf(o->last, sizeof o->last, "%s", msg);
	return 1;
}

unsigned long
log_once_ok(struct log_once *o)
{
	unsigned long	 n = o->nfailed;

	o->nfailed = 0;
	o->last[0] = '\0';
	return n;
}
