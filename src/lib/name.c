/*
 * name.c: what names are valid, and the hash of names.
 */
#include <string.h>

#include "tally-int.h"

int
name_node_id_valid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > TALLY_NODE_ID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
name_stat_valid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > TALLY_STAT_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

/* Any byte but controls and DEL; UTF-8 passes through untouched. */
int
name_nickname_valid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > TALLY_NICKNAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
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
