/*
 * json.c: what show --json needs of JSON: strings escaped, numbers
 * checked against JSON's grammar.
 */
#include <stdio.h>

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
