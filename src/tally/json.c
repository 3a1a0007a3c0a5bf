/*
 * json.c: what show --json needs of JSON: strings escaped, numbers
 * checked against JSON's grammar, doubles written as the statsfile holds
 * them.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tally-cmd.h"

/* JSON's number grammar; stored doubles may be looser ("5.", "+1"). */
int
json_number_valid(const char *s, size_t n)
{
	size_t	 i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	return i == n;
}

/* A JSON string: escapes, control characters, U+FFFD for bad UTF-8. */
void
json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, l;

	putc('"', f);
	for (i = 0; i < n; i += l) {
		unsigned char c = p[i];

		l = 1;
		switch (c) {
		case '"':	fputs("\\\"", f); continue;
		case '\\':	fputs("\\\\", f); continue;
		case '\n':	fputs("\\n", f); continue;
		case '\r':	fputs("\\r", f); continue;
		case '\t':	fputs("\\t", f); continue;
		case '\b':	fputs("\\b", f); continue;
		case '\f':	fputs("\\f", f); continue;
		}
		if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
			continue;
		}
		if ((l = text_utf8_len(p + i, n - i)) == 0) {
			fputs("\\ufffd", f);
			l = 1;
			continue;
		}
		fwrite(p + i, 1, l, f);
	}
	putc('"', f);
}

/*
 * v as the statsfile writes a double (tally(5)): an integer in decimal,
 * else the shortest of %.15g, %.16g, %.17g that reads back as v, in the C
 * locale (the tool never sets another).  buf holds JSON_NUMLEN bytes;
 * returns the length.
 */
size_t
json_fmt_double(char *buf, double v)
{
	int	 prec, n = 0;

	if (isnan(v))
		return (size_t)snprintf(buf, JSON_NUMLEN, "nan");
	if (isinf(v))
		return (size_t)snprintf(buf, JSON_NUMLEN, v < 0 ? "-inf" :
		    "inf");
	/* The range check first: casting a double beyond int64 is undefined. */
	if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v &&
	    !(v == 0 && signbit(v)))
		return (size_t)snprintf(buf, JSON_NUMLEN, "%" PRId64,
		    (int64_t)v);
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, JSON_NUMLEN, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return (size_t)n;
}
