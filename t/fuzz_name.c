/*
 * fuzz_name.c: libFuzzer target for the name validators (name.c) and the
 * munin field-name cleaner (plugin_munin_field, and plugin_field_name and
 * plugin_names_add of munin/fields.c, which build a node's field from its
 * nickname and id and make it unique in a run).
 *
 * The whole input is a name for the validators, which must agree with a
 * reference character-class check, and for plugin_munin_field, which must
 * agree with a reference cleaner.  Its first byte then splits the rest
 * into a nickname and an id for plugin_field_name.  Finally its lines,
 * "nickname/id" each, are the nodes of one plugin run: every field must
 * match ^[A-Za-z_][A-Za-z0-9_]*$ and be unique.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "plugin.h"
#include "fuzzer.h"

/* Nodes of one run at most: past the set's first two growths (256, 512). */
#define FUZZ_NODES 1024

static int
fuzz_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static int
fuzz_alpha(unsigned char c)
{
	return fuzz_lower(c) || (c >= 'A' && c <= 'Z');
}

static int
fuzz_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* The references, written from the contracts, not from name.c. */
static int
fuzz_ref_valid(const uint8_t *s, size_t len, size_t max, int which)
{
	size_t	 i;

	if (len < 1 || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		int ok;

		switch (which) {
		case 0:		/* node id: [a-z0-9_-] */
			ok = fuzz_lower(c) || fuzz_digit(c) || c == '_' ||
			    c == '-';
			break;
		case 1:		/* stat: [A-Za-z0-9_.:-] */
			ok = fuzz_alpha(c) || fuzz_digit(c) || c == '_' ||
			    c == '.' || c == ':' || c == '-';
			break;
		default:	/* nickname: no control characters, no DEL */
			ok = c >= 0x20 && c != 0x7f;
			break;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

/* ^[A-Za-z_][A-Za-z0-9_]*$ */
static int
fuzz_munin_name(const char *s)
{
	if (!(fuzz_alpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (s++; *s != '\0'; s++)
		if (!(fuzz_alpha((unsigned char)*s) ||
		    fuzz_digit((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

static void
fuzz_validators(const uint8_t *s, size_t len)
{
	const char	*cs = (const char *)s;

	FUZZ_CHECK(name_node_id_valid(cs, len) ==
	    fuzz_ref_valid(s, len, TALLY_NODE_ID_MAX, 0));
	FUZZ_CHECK(name_stat_valid(cs, len) ==
	    fuzz_ref_valid(s, len, TALLY_STAT_NAME_MAX, 1));
	FUZZ_CHECK(name_nickname_valid(cs, len) ==
	    fuzz_ref_valid(s, len, TALLY_NICKNAME_MAX, 2));
	/* A node id is always a valid stat name and nickname. */
	if (name_node_id_valid(cs, len))
		FUZZ_CHECK(name_stat_valid(cs, len) &&
		    name_nickname_valid(cs, len));
}

static void
fuzz_munin_field(const uint8_t *s, size_t len)
{
	char	*out, *again, ref[PLUGIN_NAME_MAX + 1];
	size_t	 i, o = 0;
	int	 changed = 0, rc;

	/* Exactly the room the contract asks for. */
	if ((out = malloc(PLUGIN_NAME_MAX + 1)) == NULL ||
	    (again = malloc(PLUGIN_NAME_MAX + 1)) == NULL)
		abort();
	rc = plugin_munin_field((const char *)s, len, out);

	if (len == 0 || fuzz_digit(s[0])) {
		ref[o++] = '_';
		changed = 1;
	}
	for (i = 0; i < len && o < PLUGIN_NAME_MAX; i++) {
		if (fuzz_alpha(s[i]) || fuzz_digit(s[i]) || s[i] == '_')
			ref[o++] = (char)s[i];
		else {
			ref[o++] = '_';
			changed = 1;
		}
	}
	if (i < len)
		changed = 1;
	ref[o] = '\0';

	FUZZ_CHECK(strlen(out) <= PLUGIN_NAME_MAX);
	FUZZ_CHECK(fuzz_munin_name(out));
	FUZZ_CHECK(strcmp(out, ref) == 0);
	FUZZ_CHECK(rc == changed);
	/* 0 means the input was already a field name, kept as is. */
	FUZZ_CHECK(rc != 0 || (strlen(out) == len &&
	    memcmp(out, s, len) == 0));
	/* Cleaning is idempotent. */
	FUZZ_CHECK(plugin_munin_field(out, strlen(out), again) == 0);
	FUZZ_CHECK(strcmp(out, again) == 0);
	free(out);
	free(again);
}

/* A field of plugin_field_name, before de-duplication. */
static void
fuzz_check_field(const char *field, size_t n, const char *id, size_t idlen)
{
	char	 hash[16];
	size_t	 cut = idlen > TALLY_NODE_ID_MAX ? TALLY_NODE_ID_MAX : idlen;

	FUZZ_CHECK(n == strlen(field));
	FUZZ_CHECK(n <= PLUGIN_NAME_MAX);
	FUZZ_CHECK(fuzz_munin_name(field));
	/* It ends with "_<id>", or with "_<hash of the id>". */
	snprintf(hash, sizeof hash, "_%08x", (unsigned)plugin_hash(id, cut));
	FUZZ_CHECK((n > cut && field[n - cut - 1] == '_' &&
	    memcmp(field + n - cut, id, cut) == 0) ||
	    (n >= 9 && strcmp(field + n - 9, hash) == 0));
	/* An id that munin accepts as is and that fits is kept whole. */
	if (idlen <= PLUGIN_NAME_MAX - 1 &&
	    name_node_id_valid(id, idlen) && memchr(id, '-', idlen) == NULL)
		FUZZ_CHECK(n > idlen && field[n - idlen - 1] == '_' &&
		    memcmp(field + n - idlen, id, idlen) == 0);
}

static void
fuzz_field_name(const uint8_t *data, size_t size)
{
	char	*nick, *id, *out, *again;
	size_t	 nicklen, idlen, n;

	if (size < 1)
		return;
	nicklen = data[0];
	if (nicklen > size - 1)
		nicklen = size - 1;
	idlen = size - 1 - nicklen;
	nick = (char *)malloc(nicklen ? nicklen : 1);
	id = (char *)malloc(idlen ? idlen : 1);
	out = malloc(PLUGIN_FIELD_LEN);
	again = malloc(PLUGIN_FIELD_LEN);
	if (nick == NULL || id == NULL || out == NULL || again == NULL)
		abort();
	if (nicklen)
		memcpy(nick, data + 1, nicklen);
	if (idlen)
		memcpy(id, data + 1 + nicklen, idlen);

	n = plugin_field_name(nick, nicklen, id, idlen, out);
	fuzz_check_field(out, n, id, idlen);
	/* Fixed forever: the same node gets the same field every run. */
	FUZZ_CHECK(plugin_field_name(nick, nicklen, id, idlen, again) == n);
	FUZZ_CHECK(strcmp(out, again) == 0);
	free(nick);
	free(id);
	free(out);
	free(again);
}

static int
fuzz_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One plugin run: a node a line, "nickname/id". */
static void
fuzz_names(const uint8_t *data, size_t size)
{
	struct plugin_names	 pn;
	const uint8_t		*p = data, *end = data + size, *nl, *slash, *id;
	char			*fields[FUZZ_NODES], *sorted[FUZZ_NODES];
	size_t			 n = 0, i, nicklen;
	int			 rc;

	plugin_names_init(&pn);
	while (p < end && n < FUZZ_NODES) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		/* No '/': an empty nickname. */
		slash = memchr(p, '/', (size_t)(nl - p));
		nicklen = slash != NULL ? (size_t)(slash - p) : 0;
		id = slash != NULL ? slash + 1 : p;
		if ((fields[n] = malloc(PLUGIN_FIELD_LEN)) == NULL)
			abort();
		plugin_field_name((const char *)p, nicklen, (const char *)id,
		    (size_t)(nl - id), fields[n]);
		rc = plugin_names_add(&pn, fields[n]);
		FUZZ_CHECK(rc == 0);
		FUZZ_CHECK(strlen(fields[n]) < PLUGIN_FIELD_LEN);
		FUZZ_CHECK(fuzz_munin_name(fields[n]));
		FUZZ_CHECK(pn.n == n + 1);
		n++;
		if (nl == end)
			break;
		p = nl + 1;
	}
	/* Unique within the run. */
	memcpy(sorted, fields, n * sizeof *fields);
	qsort(sorted, n, sizeof *sorted, fuzz_strcmp);
	for (i = 1; i < n; i++)
		FUZZ_CHECK(strcmp(sorted[i - 1], sorted[i]) != 0);
	for (i = 0; i < n; i++)
		free(fields[i]);
	plugin_names_free(&pn);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t	*buf;

	/* An exact-size copy, so ASan sees a read one byte past the end. */
	if ((buf = malloc(size ? size : 1)) == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);
	fuzz_validators(buf, size);
	fuzz_munin_field(buf, size);
	fuzz_field_name(buf, size);
	fuzz_names(buf, size);
	free(buf);
	return 0;
}
