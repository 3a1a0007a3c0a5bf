/*
 * fuzz_record.c: libFuzzer target for the database record parser (record.c)
 * that the munin plugin and the tally CLI run on every value they read:
 * record_node_parse (its key= line among the fields), record_parse_int64
 * and record_parse_double.
 *
 * The whole input is a node record and a number for each parser.  A node
 * record that parses must format and parse back to the same record; a
 * number that parses must agree with a reference (strtod in the C locale,
 * exact decimal for integers) and survive formatting and parsing again.
 * The input's first 16 bytes are also an int64 and a double, which
 * record_fmt_* must write in a form that parses back bit for bit (NaN
 * payloads aside: every NaN is written "nan").
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "fuzzer.h"

/* The same double, or both NaN. */
static int
fuzz_same_double(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return memcmp(&a, &b, sizeof a) == 0;
}

/* What record_fmt_* write: printable, short, and no more than the call said. */
static void
fuzz_check_num(const char *num, size_t n)
{
	size_t	 i;

	FUZZ_CHECK(n > 0 && n < RECORD_NUMLEN && strlen(num) == n);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(num[i] > 0x20 && num[i] < 0x7f);
}

static void
fuzz_int64_value(int64_t v)
{
	char	*num;
	int64_t	 back = ~v;
	size_t	 n;

	if ((num = malloc(RECORD_NUMLEN)) == NULL)
		abort();
	n = record_fmt_int64(num, v);
	fuzz_check_num(num, n);
	FUZZ_CHECK(record_parse_int64(num, n, &back) == 0 && back == v);
	free(num);
}

static void
fuzz_double_value(double v)
{
	char	*num, *again;
	double	 back = 0;
	size_t	 n;

	if ((num = malloc(RECORD_NUMLEN)) == NULL ||
	    (again = malloc(RECORD_NUMLEN)) == NULL)
		abort();
	n = record_fmt_double(num, v);
	fuzz_check_num(num, n);
	FUZZ_CHECK(record_parse_double(num, n, &back) == 0);
	FUZZ_CHECK(fuzz_same_double(v, back));
	/* One text per value. */
	FUZZ_CHECK(record_fmt_double(again, back) == n);
	FUZZ_CHECK(memcmp(num, again, n) == 0);
	free(num);
	free(again);
}

/* ^-?[0-9]+$ within int64, computed another way. */
static int
fuzz_ref_int64(const uint8_t *s, size_t len, int64_t *out)
{
	size_t		 i = 0;
	int		 neg = 0;
	__int128	 v = 0;

	if (len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == len)
		return 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
		if (v > (__int128)INT64_MAX + 1)
			return 0;
	}
	if (neg)
		v = -v;
	if (v > INT64_MAX || v < INT64_MIN)
		return 0;
	*out = (int64_t)v;
	return 1;
}

static void
fuzz_int64_text(const uint8_t *s, size_t len)
{
	int64_t	 v = 0, ref = 0;
	int	 ok;

	ok = record_parse_int64((const char *)s, len, &v) == 0;
	FUZZ_CHECK(ok == fuzz_ref_int64(s, len, &ref));
	if (!ok)
		return;
	FUZZ_CHECK(v == ref);
	fuzz_int64_value(v);
}

static void
fuzz_double_text(const uint8_t *s, size_t len)
{
	static const char	 allowed[] = "0123456789-+.eEnaif";
	char			 z[64], *end;
	double			 v = 0, ref;
	size_t			 i;
	int			 ok, ref_ok, erange;

	ok = record_parse_double((const char *)s, len, &v) == 0;

	/* The reference: what strtod makes of text of those characters. */
	ref_ok = len > 0 && len < sizeof z;
	for (i = 0; ref_ok && i < len; i++)
		ref_ok = s[i] != '\0' && strchr(allowed, s[i]) != NULL;
	if (ref_ok) {
		memcpy(z, s, len);
		z[len] = '\0';
		errno = 0;
		ref = strtod(z, &end);
		erange = errno == ERANGE;
		/*
		 * All of it, no overflow to inf from a finite text, and no
		 * underflow to 0 (out of range too, tally(5)).
		 */
		ref_ok = end == z + len &&
		    !(erange && isinf(ref) && strstr(z, "inf") == NULL) &&
		    !(erange && ref == 0);
		if (ref_ok && ok)
			FUZZ_CHECK(fuzz_same_double(v, ref));
	}
	FUZZ_CHECK(ok == ref_ok);
	if (ok)
		fuzz_double_value(v);
}

static void
fuzz_node(const uint8_t *s, size_t len)
{
	struct record_node	 rn, back;
	char			 err[TALLY_ERRLEN], *text;
	int			 n;

	err[0] = '\0';
	if (record_node_parse((const char *)s, len, &rn, err,
	    sizeof err) != 0) {
		n = (int)strnlen(err, sizeof err);
		FUZZ_CHECK(n > 0 && (size_t)n < sizeof err);
		return;
	}
	FUZZ_CHECK(name_nickname_valid(rn.nickname, strlen(rn.nickname)));
	FUZZ_CHECK(strnlen(rn.source, sizeof rn.source) < sizeof rn.source);
	/* No key, or one as tallyd compares them: one spelling per key. */
	FUZZ_CHECK(rn.key[0] == '\0' || record_key_valid(rn.key,
	    strnlen(rn.key, sizeof rn.key)));

	/* What the parser accepted, the writer writes back the same. */
	if ((text = malloc(1024)) == NULL)
		abort();
	n = record_node_fmt(text, 1024, &rn);
	FUZZ_CHECK(n > 0 && n < 1024 && strlen(text) == (size_t)n);
	FUZZ_CHECK(record_node_fmt(text, (size_t)n, &rn) == TALLY_ELIMIT);
	FUZZ_CHECK(record_node_fmt(text, (size_t)n + 1, &rn) == n);
	err[0] = '\0';
	if (record_node_parse(text, (size_t)n, &back, err, sizeof err) != 0) {
		fprintf(stderr, "record_node_fmt wrote what record_node_parse "
		    "refuses (%s): '%.*s'\n", err, n, text);
		FUZZ_CHECK(!"record_node_fmt output parses");
	}
	FUZZ_CHECK(strcmp(rn.nickname, back.nickname) == 0);
	FUZZ_CHECK(rn.time == back.time);
	FUZZ_CHECK(strcmp(rn.source, back.source) == 0);
	FUZZ_CHECK(fuzz_same_double(rn.interval, back.interval));
	FUZZ_CHECK(strcmp(rn.key, back.key) == 0);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t	*buf;
	int64_t	 i;
	double	 d;

	/* An exact-size copy, so ASan sees a read one byte past the end. */
	if ((buf = malloc(size ? size : 1)) == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);
	fuzz_node(buf, size);
	fuzz_int64_text(buf, size);
	fuzz_double_text(buf, size);
	if (size >= sizeof i) {
		memcpy(&i, buf, sizeof i);
		fuzz_int64_value(i);
	}
	if (size >= sizeof i + sizeof d) {
		memcpy(&d, buf + sizeof i, sizeof d);
		fuzz_double_value(d);
	}
	free(buf);
	return 0;
}
