/*
 * check_name.c: what names are valid, and munin field names.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "fixture.h"

struct name_case {
	const char	*s;
	int		 valid;
};

static const struct name_case node_ids[] = {
	{ "a", 1 }, { "node-1", 1 }, { "storage_server_07", 1 },
	{ "0123456789abcdefghijklmnopqrstuvwxyz-_0123456789abcdefghijklmnop",
	  1 },				/* 64 characters */
	{ "0123456789abcdefghijklmnopqrstuvwxyz-_0123456789abcdefghijklmnopq",
	  0 },				/* 65 */
	{ "", 0 }, { "Node", 0 }, { "a/b", 0 }, { "a b", 0 }, { "a.b", 0 },
	{ "a\nb", 0 }, { "é", 0 },
};

static const struct name_case stat_names[] = {
	{ "x", 1 }, { "storage_server.add-lease", 1 },
	{ "storage_server.latencies.get.99_9_percentile", 1 },
	{ "a:b.C-d_0", 1 }, { "", 0 }, { "a/b", 0 }, { "a b", 0 },
	{ "a=b", 0 }, { "a\tb", 0 }, { "ünicode", 0 }, { "a\nb", 0 },
};

START_TEST(test_node_ids)
{
	const struct name_case *c = &node_ids[_i];

	ck_assert_msg(tally_node_id_valid(c->s) == c->valid,
	    "node id '%s' should be %s", c->s, c->valid ? "valid" : "refused");
}
END_TEST

START_TEST(test_stat_names)
{
	const struct name_case *c = &stat_names[_i];

	ck_assert_msg(tally_stat_name_valid(c->s) == c->valid,
	    "stat name '%s' should be %s", c->s, c->valid ? "valid" :
	    "refused");
}
END_TEST

START_TEST(test_stat_name_lengths)
{
	char	 buf[300];

	memset(buf, 'a', sizeof buf);
	buf[255] = '\0';
	ck_assert(tally_stat_name_valid(buf));
	buf[255] = 'a';
	buf[256] = '\0';
	ck_assert(!tally_stat_name_valid(buf));
	ck_assert(!tally_stat_name_valid(NULL));
	ck_assert(!tally_node_id_valid(NULL));
}
END_TEST

START_TEST(test_nicknames)
{
	ck_assert(name_nickname_valid("storage 1 (rack b)", 18));
	ck_assert(name_nickname_valid("h\xc3\xa9las", 6));
	ck_assert(!name_nickname_valid("", 0));
	ck_assert(!name_nickname_valid("a\nb", 3));
	ck_assert(!name_nickname_valid("a\x7f", 2));
	ck_assert(!name_nickname_valid("a\tb", 3));
}
END_TEST

/* The classes as tally(5) words them, byte by byte, for the table. */
static int
ref_id(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '-';
}

static int
ref_stat(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
	    c == '-';
}

static int
ref_nick(int c)
{
	return c >= 0x20 && c != 0x7f;
}

/*
 * Every byte, at every place of names 1 to 11 bytes long (the checks go
 * four bytes at a time, then one by one), in a name otherwise valid: the
 * name is valid exactly when the byte is of its class.
 */
START_TEST(test_every_byte_everywhere)
{
	char	 buf[16];
	size_t	 len, at;
	int	 c;

	for (len = 1; len <= 11; len++) {
		for (at = 0; at < len; at++) {
			for (c = 0; c < 256; c++) {
				memset(buf, 'a', len);
				buf[at] = (char)c;
				ck_assert_int_eq(name_node_id_valid(buf, len),
				    ref_id(c));
				ck_assert_int_eq(name_stat_valid(buf, len),
				    ref_stat(c));
				ck_assert_int_eq(name_nickname_valid(buf, len),
				    ref_nick(c));
			}
		}
	}
}
END_TEST

/* What a terminal is sent as text: one character at a time, or 0. */
START_TEST(test_char_shown)
{
	static const struct {
		const char	*s;
		size_t		 n, want;
	} cases[] = {
		{ "a", 1, 1 }, { " ", 1, 1 }, { "~", 1, 1 },
		{ "\n", 1, 0 }, { "\x1b", 1, 0 }, { "\x7f", 1, 0 },
		{ "\xc2\xa0", 2, 2 },			/* U+00A0 */
		{ "\xc3\xa9", 2, 2 },			/* e acute */
		{ "\xc2\x9b", 2, 0 },			/* U+009B, CSI */
		{ "\xc2\x80", 2, 0 },			/* U+0080 */
		{ "\x9b", 1, 0 },			/* a lone continuation */
		{ "\xc3", 1, 0 },			/* cut */
		{ "\xc0\xaf", 2, 0 },			/* overlong */
		{ "\xe2\x80\x94", 3, 3 },		/* em dash */
		{ "\xe0\x80\xaf", 3, 0 },		/* overlong */
		{ "\xed\xa0\x80", 3, 0 },		/* a surrogate */
		{ "\xe2\x80", 2, 0 },			/* cut */
		{ "\xf0\x9f\x98\x80", 4, 4 },	/* U+1F600 */
		{ "\xf4\x90\x80\x80", 4, 0 },	/* past U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xff", 1, 0 },
		{ "", 0, 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(tally_char_shown(cases[i].s, cases[i].n) ==
		    cases[i].want, "case %zu: %zu, want %zu", i,
		    tally_char_shown(cases[i].s, cases[i].n), cases[i].want);
}
END_TEST

int
main(void)
{
	const struct fixture_test	 tests[] = {
		{ "core", test_node_ids, FIXTURE_N(node_ids), FIXTURE_TIMEOUT },
		{ "core", test_stat_names, FIXTURE_N(stat_names),
		    FIXTURE_TIMEOUT },
		{ "core", test_stat_name_lengths, 0, FIXTURE_TIMEOUT },
		{ "core", test_nicknames, 0, FIXTURE_TIMEOUT },
		{ "core", test_every_byte_everywhere, 0, FIXTURE_TIMEOUT },
		{ "core", test_char_shown, 0, FIXTURE_TIMEOUT },
	};

	return fixture_main("name", tests, FIXTURE_N(tests), NULL, 0);
}
