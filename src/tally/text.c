/*
 * text.c: text for a terminal and for messages: UTF-8 lengths and widths,
 * control characters made harmless, ages of snapshots and durations.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tally-cmd.h"

/*
 * The length of the valid UTF-8 sequence at s, or 0 if there is none: as
 * tally_char_shown() says, but controls are valid UTF-8 too.
 */
size_t
text_utf8_len(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	/* U+0080-U+009F, the C1 controls: two bytes, c2 80 to c2 9f. */
	if (s[0] == 0xc2 && n >= 2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2;
	return tally_char_shown((const char *)s, n);
}

/* Characters (not bytes) a terminal shows for s, for column widths. */
size_t
text_width(const char *s, size_t n)
{
	size_t	 i, k, w = 0;

	for (i = 0; i < n; i += k ? k : 1, w++)
		k = tally_char_shown(s + i, n - i);
	return w;
}

/*
 * Print s with what a terminal would not show as text as '?' (text_width
 * counts it so): controls, C1 controls among them, and bytes that are not
 * whole UTF-8 characters.  A record is not a terminal.
 */
void
text_put_clean(FILE *f, const char *s, size_t n)
{
	size_t	 i, k;

	for (i = 0; i < n; i += k ? k : 1) {
		if ((k = tally_char_shown(s + i, n - i)) == 0)
			putc('?', f);
		else
			fwrite(s + i, 1, k, f);
	}
}

/*
 * A printable, bounded rendering of an arbitrary key or value read from
 * the database, for messages: tally_quote()'s, as for every other
 * untrusted text, cut to fit size.
 */
const char *
text_esc(char *buf, size_t size, const void *data, size_t n)
{
	return tally_quote(buf, size, data, n);
}

/*
 * Text quoted already by tally_quote() (a reader's name or value that
 * cannot be read, quoted to TALLY_QUOTE_LEN), cut again to fit size as
 * text_esc() would have cut the bytes themselves: an escape (\xNN, the
 * only use of '\' in quoted text) is never split, and "..." says more
 * followed.  Exact up to RECUT_MAX bytes, where the new cut falls before
 * tally_quote()'s own "..." (at 194 bytes or later); past that, q whole.
 */
#define RECUT_MAX	194
const char *
text_recut(char *buf, size_t size, const char *q)
{
	size_t	 len = strlen(q), room, o = 0, i = 0, need;

	if (size == 0)
		return "";
	if (size > RECUT_MAX) {
		snprintf(buf, size, "%s", q);
		return buf;
	}
	room = size - 1;
	while (i < len) {
		need = q[i] == '\\' && len - i >= 4 ? 4 : 1;
		if (o + need > room - 3 && i + need < len) {
			if (o + 3 <= room) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (o + need > room)
			break;
		memcpy(buf + o, q + i, need);
		o += need;
		i += need;
	}
	buf[o] = '\0';
	return buf;
}

/*
 * The one rule for a snapshot time (tally(5), "time"): sane when it is no
 * earlier than 2000-01-01T00:00:00Z and no later than a day ahead of now.
 * An insane time is shown raw, never turned into an age.  Never overflows.
 */
#define TEXT_TIME_MIN		INT64_C(946684800)
#define TEXT_TIME_AHEAD		INT64_C(86400)
int
text_time_sane(int64_t t, int64_t now)
{
	/* A day past now, saturated: now + a day may overflow. */
	int64_t	 latest = now > INT64_MAX - TEXT_TIME_AHEAD ? INT64_MAX :
	    now + TEXT_TIME_AHEAD;

	return t >= TEXT_TIME_MIN && t <= latest;
}

/* now - t, saturated at the ends of int64: never a signed overflow. */
int64_t
text_time_age(int64_t now, int64_t t)
{
	if (t < 0 ? now > INT64_MAX + t : now < INT64_MIN + t)
		return t < 0 ? INT64_MAX : INT64_MIN;
	return now - t;
}

/* "12s", "3m", "2h", "4d": how long ago a snapshot was taken. */
const char *
text_age(char *buf, size_t size, int64_t secs)
{
	const char	*sign = secs < 0 ? "-" : "";
	uint64_t	 a = secs < 0 ? -(uint64_t)secs : (uint64_t)secs;

	if (a < 60)
		snprintf(buf, size, "%s%" PRIu64 "s", sign, a);
	else if (a < 3600)
		snprintf(buf, size, "%s%" PRIu64 "m", sign, a / 60);
	else if (a < 86400)
		snprintf(buf, size, "%s%" PRIu64 "h", sign, a / 3600);
	else
		snprintf(buf, size, "%s%" PRIu64 "d", sign, a / 86400);
	return buf;
}

/*
 * The age of a snapshot taken at time, and suffix ("3d ago"); or, for a
 * time that is not sane (tally(5)), the raw time and why no age is given,
 * for an age of INT64_MIN or of 2100 means nothing.
 */
const char *
text_snapshot_age(char *buf, size_t size, int64_t time, int64_t now,
    const char *suffix)
{
	char	 age[32];

	if (!text_time_sane(time, now))
		snprintf(buf, size, "time %" PRId64 " out of range", time);
	else
		snprintf(buf, size, "%s%s", text_age(age, sizeof age,
		    text_time_age(now, time)), suffix);
	return buf;
}

/*
 * A duration: decimal digits and an optional unit, s m h d or w.  Returns
 * 0 and the seconds, or -1.
 */
int
text_duration(const char *s, int64_t *out)
{
	static const struct {
		char	 unit;
		int64_t	 secs;
	} units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 7 * 86400 },
	};
	int64_t	 v = 0, mult = 1;
	size_t	 i;

	if (!(*s >= '0' && *s <= '9'))
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (*s != '\0') {
		for (i = 0; i < sizeof units / sizeof units[0]; i++)
			if (*s == units[i].unit)
				break;
		if (i == sizeof units / sizeof units[0] || s[1] != '\0')
			return -1;
		mult = units[i].secs;
	}
	/* Past a thousand years "older than" means nothing any more. */
	if (v > (INT64_C(1000) * 366 * 86400) / mult)
		return -1;
	*out = v * mult;
	return 0;
}
