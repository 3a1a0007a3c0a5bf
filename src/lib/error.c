/*
 * error.c: return codes and the version.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "tally-int.h"

const char *
tally_version(int *major, int *minor, int *patch)
{
	if (major != NULL)
		*major = TALLY_VERSION_MAJOR;
	if (minor != NULL)
		*minor = TALLY_VERSION_MINOR;
	if (patch != NULL)
		*patch = TALLY_VERSION_PATCH;
	return "tally " TALLY_VERSION_STRING;
}

const char *
tally_strerror(int err)
{
	switch (err) {
	case TALLY_OK:
		return "success";
	case TALLY_EINVAL:
		return "invalid argument";
	case TALLY_ENOMEM:
		return "out of memory";
	case TALLY_ENOTCONFIGURED:
		return "no statsfile or gatherer furl configured";
	case TALLY_ESTATE:
		return "not valid in the provider's current state";
	case TALLY_ESYS:
		return "system call failed";
	case TALLY_ESTORE:
		return "statsfile (LMDB environment) error";
	case TALLY_EFORMAT:
		return "unknown database format";
	case TALLY_ENOTFOUND:
		return "not found";
	case TALLY_EFORK:
		return "environment used in a child process after fork";
	case TALLY_EPRODUCER:
		return "a producer returned an error";
	case TALLY_ELIMIT:
		return "limit reached";
	}
	return "unknown tally error";
}

int
error_set(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/*
 * Quote untrusted bytes (a path from the environment, a name from argv or
 * a file) for a message: printable ASCII as is, everything else as \xNN,
 * cut with "..." when the quoted text would pass ERROR_QUOTE_MAX bytes
 * (or the buffer): a text that fits is never cut.
 * A terminal never sees an escape code of ours, and a 100 KB argument
 * becomes a line.
 */
/* How many bytes c takes quoted. */
static size_t
error_quote_need(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' ? 1 : 4;
}

const char *
error_quote(char *buf, size_t buflen, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		  i, o = 0, max, room, total = 0;
	int		  cut;

	if (buflen == 0)
		return "";
	max = buflen - 1 < ERROR_QUOTE_MAX ? buflen - 1 : ERROR_QUOTE_MAX;
	/* The whole text, if it fits; else as much as leaves room for "...". */
	for (i = 0; i < len && total <= max; i++)
		total += error_quote_need((unsigned char)s[i]);
	cut = total > max;
	room = !cut ? max : max < 3 ? 0 : max - 3;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t need = error_quote_need(c);

		if (o + need > room)
			break;
		if (need == 1)
			buf[o++] = (char)c;
		else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	if (cut && o + 3 <= max) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

const char *
error_ftype(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISDIR(m))
		return "a directory";
	return "of an unknown type";
}

/*
 * A log line as a terminal or a journal may be sent it, in place: every
 * byte that is not part of a character tally_char_shown() passes (a
 * control such as a newline or ESC, a C1 control, a byte of no whole
 * UTF-8 character) becomes '?'.  A path, an argument or a file's
 * contents inside a line then can neither forge a line nor reach a
 * terminal as an escape.  Returns s.
 */
char *
error_shown(char *s)
{
	size_t	 n = strlen(s), i = 0, k;

	while (i < n) {
		if ((k = tally_char_shown(s + i, n - i)) == 0) {
			s[i++] = '?';
			continue;
		}
		i += k;
	}
	return s;
}

const char *
tally_quote(char *buf, size_t size, const void *s, size_t len)
{
	return error_quote(buf, size, s, len);
}

/*
 * What a terminal may be sent as text: the C1 controls (U+0080-U+009F)
 * are well-formed UTF-8 but some terminals obey them as escapes.
 */
size_t
tally_char_shown(const char *p, size_t n)
{
	const unsigned char	*s = (const unsigned char *)p;
	unsigned char		 lo = 0x80, hi = 0xbf;
	size_t			 len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] != 0x7f;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		if (s[0] == 0xc2)
			lo = 0xa0;	/* U+0080-U+009F: the C1 controls */
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* not overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* no surrogate */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* not overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* up to U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}
