/*
 * text-shown.h: which bytes of untrusted text a terminal may be sent, for
 * the tally tool's output and tallyd's log: one definition, inline, since
 * the tool links only libtally's public interface.
 */
#ifndef TALLY_TEXT_SHOWN_H
#define TALLY_TEXT_SHOWN_H

#include <stddef.h>

/*
 * The length of the character at p (n bytes left) if a terminal shows it
 * as text: printable ASCII, or well-formed UTF-8 that is no C1 control
 * (U+0080-U+009F, which a terminal may obey as escapes).  0 for a byte
 * to show as something else: a control, DEL, or not a whole character.
 */
static inline size_t
text_char_shown(const char *p, size_t n)
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

#endif
