/*
 * name.c: what names are valid, and the hash of names.
 */
#include <string.h>

#include "tally-int.h"

/* The bytes each kind of name may hold. */
static inline int
name_id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '-';
}

static inline int
name_stat_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
	    c == '-';
}

/* Any byte but controls and DEL; UTF-8 passes through untouched. */
static inline int
name_nickname_char(unsigned char c)
{
	return c >= 0x20 && c != 0x7f;
}

/* 1 if (s, len) is 1 to max bytes, each of which ok() takes. */
static inline int
name_all(const char *s, size_t len, size_t max, int (*ok)(unsigned char))
{
	size_t	i;

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if (!ok((unsigned char)s[i]))
			return 0;
	return 1;
}

int
name_node_id_valid(const char *s, size_t len)
{
	return name_all(s, len, TALLY_NODE_ID_MAX, name_id_char);
}

int
name_stat_valid(const char *s, size_t len)
{
	return name_all(s, len, TALLY_STAT_NAME_MAX, name_stat_char);
}

int
name_nickname_valid(const char *s, size_t len)
{
	return name_all(s, len, TALLY_NICKNAME_MAX, name_nickname_char);
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
