/*
 * name.c: what names are valid, and the hash of names.
 */
#include <string.h>

#include "tally-int.h"

/*
 * The bytes each kind of name may hold, a bit per kind: a table, since
 * readers check every id and name they read from a statsfile.  A
 * nickname takes any byte but controls and DEL; UTF-8 passes through
 * untouched.  Sixteen bytes a row, the row's first byte in its comment.
 */
#define NAME_ID		1	/* [a-z0-9_-] */
#define NAME_STAT	2	/* [A-Za-z0-9_.:-] */
#define NAME_NICK	4	/* 0x20 to 0xff but 0x7f */
_Static_assert(NAME_ID == 1 && NAME_STAT == 2 && NAME_NICK == 4,
    "name_all ands the classes: each must be one bit of its own");

static const unsigned char name_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x10 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 7, 6, 4,	/* 0x20 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 4, 4, 4, 4, 4,	/* 0x30 */
	4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,	/* 0x40 */
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 4, 4, 4, 4, 7,	/* 0x50 */
	4, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,	/* 0x60 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 4, 4, 4, 4, 0,	/* 0x70 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 0x80 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 0x90 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 0xa0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 0xb0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 0xc0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 0xd0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 0xe0 */
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,	/* 0xf0 */
};

/*
 * 1 if (s, len) is 1 to max bytes, each of the class (one bit).  No
 * branch per byte: the bytes' classes are and-ed, four at a time, and the
 * bit looked at once, at the end (names are short, and nearly all valid).
 */
static inline int
name_all(const char *s, size_t len, size_t max, unsigned char class)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;
	unsigned		 all = class;

	if (len == 0 || len > max)
		return 0;
	for (; end - p >= 4; p += 4)
		all &= (unsigned)name_class[p[0]] & name_class[p[1]] &
		    name_class[p[2]] & name_class[p[3]];
	while (p < end)
		all &= name_class[*p++];
	return all != 0;
}

int
name_node_id_valid(const char *s, size_t len)
{
	return name_all(s, len, TALLY_NODE_ID_MAX, NAME_ID);
}

int
name_stat_valid(const char *s, size_t len)
{
	return name_all(s, len, TALLY_STAT_NAME_MAX, NAME_STAT);
}

int
name_nickname_valid(const char *s, size_t len)
{
	return name_all(s, len, TALLY_NICKNAME_MAX, NAME_NICK);
}

int
tally_node_id_valid(const char *s)
{
	return s != NULL && name_node_id_valid(s, strnlen(s,
	    TALLY_NODE_ID_MAX + 1));
}

int
tally_stat_name_valid(const char *s)
{
	return s != NULL && name_stat_valid(s, strnlen(s,
	    TALLY_STAT_NAME_MAX + 1));
}

uint32_t
name_hash(const char *s, size_t len)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}
