/*
 * check_record.c: the text encoding of database values.
 */
#include <check.h>
#include <errno.h>
#include <fenv.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "tally-int.h"
#include "store-int.h"
#include "fixture.h"

static const int64_t ints[] = {
	0, 1, -1, 42, 1000000007, INT64_MAX, INT64_MIN, INT64_MIN + 1,
};

START_TEST(test_int64_roundtrip)
{
	char	 buf[RECORD_NUMLEN];
	size_t	 n = record_fmt_int64(buf, ints[_i]);
	int64_t	 back;

	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_int_eq(record_parse_int64(buf, n, &back), 0);
	ck_assert(back == ints[_i]);
}
END_TEST

static const char *bad_ints[] = {
	"", "-", "1a", " 1", "1 ", "+1", "9223372036854775808",
	"-9223372036854775809", "0x10", "1.0", "10000000000000000000",
	"18446744073709551616", "99999999999999999999", "-99999999999999999999",
};

/* The next of a xorshift64 sequence: the random tests' numbers. */
static uint64_t
next_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * A random decimal into buf: a sign half the time, 1 to max digits,
 * mostly nines and zeros (near the limits, and zeros ahead), and, if
 * point, a point before one of them now and then.  Its length.
 */
static size_t
random_decimal(char *buf, uint64_t *x, size_t max, int point)
{
	uint64_t	 r = next_random(x);
	size_t		 n = 0, nd = 1 + (r >> 8) % max, j;
	size_t		 at = point ? (r >> 16) % (nd + 2) : nd;

	if (r & 1)
		buf[n++] = '-';
	for (j = 0; j < nd; j++) {
		if (j == at)
			buf[n++] = '.';
		r = next_random(x);
		buf[n++] = (r & 3) == 0 ? '9' : (r & 3) == 1 ? '0' :
		    (char)('0' + (r >> 4) % 10);
	}
	buf[n] = '\0';
	return n;
}

/*
 * Random decimals of 1 to 21 digits, some signed, some with leading
 * zeros, across the 19th digit where the overflow check starts: read as
 * strtoll reads them, and refused where strtoll says ERANGE.
 */
START_TEST(test_int64_random)
{
	char		 buf[32];
	uint64_t	 x = 88172645463325252ULL;
	long long	 want;
	int64_t		 got;
	size_t		 n, i;
	int		 rc;

	for (i = 0; i < 200000; i++) {
		n = random_decimal(buf, &x, 21, 0);
		errno = 0;
		want = strtoll(buf, NULL, 10);
		rc = record_parse_int64(buf, n, &got);
		if (errno == ERANGE)
			ck_assert_msg(rc == TALLY_EINVAL, "%s: taken", buf);
		else
			ck_assert_msg(rc == 0 && got == want, "%s: %d %" PRId64
			    ", strtoll says %lld", buf, rc, got, want);
	}
}
END_TEST

START_TEST(test_int64_bad)
{
	int64_t	 v;

	ck_assert_int_eq(record_parse_int64(bad_ints[_i],
	    strlen(bad_ints[_i]), &v), TALLY_EINVAL);
}
END_TEST

static const double dbls[] = {
	0, 1, -1, 0.1, 0.1 + 0.2, 1.0 / 3, 1e300, -1e-300, 123456.789,
	4.9e-324, 1.7976931348623157e308, 9007199254740993.0, 2.5,
	1e19, -1e19, 9223372036854775808.0,	/* fuzz: beyond int64 */
};

START_TEST(test_double_roundtrip)
{
	char	 buf[RECORD_NUMLEN];
	size_t	 n = record_fmt_double(buf, dbls[_i]);
	double	 back;

	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_int_eq(record_parse_double(buf, n, &back), 0);
	ck_assert_msg(back == dbls[_i], "%s did not read back", buf);
}
END_TEST

START_TEST(test_double_shortest)
{
	char	 buf[RECORD_NUMLEN];

	record_fmt_double(buf, 0.1);
	ck_assert_str_eq(buf, "0.1");
	record_fmt_double(buf, 42.0);
	ck_assert_str_eq(buf, "42");
	record_fmt_double(buf, 0.1 + 0.2);
	ck_assert_str_eq(buf, "0.30000000000000004");
	record_fmt_double(buf, NAN);
	ck_assert_str_eq(buf, "nan");
	record_fmt_double(buf, -INFINITY);
	ck_assert_str_eq(buf, "-inf");
}
END_TEST

/* The text record_fmt_double wrote before its fast paths: the reference. */
static size_t
ref_fmt_double(char *buf, double v)
{
	int	 prec, n = 0;

	if (isnan(v))
		return (size_t)snprintf(buf, RECORD_NUMLEN, "nan");
	if (isinf(v))
		return (size_t)snprintf(buf, RECORD_NUMLEN, v < 0 ? "-inf" :
		    "inf");
	/* Integers as record_fmt_int64 writes them, as before. */
	if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v &&
	    !(v == 0 && signbit(v)))
		return (size_t)snprintf(buf, RECORD_NUMLEN, "%" PRId64,
		    (int64_t)v);
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, RECORD_NUMLEN, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return (size_t)n;
}

static void
same_text(double v)
{
	char	 got[RECORD_NUMLEN], want[RECORD_NUMLEN];
	size_t	 n = record_fmt_double(got, v);
	double	 back;

	ref_fmt_double(want, v);
	ck_assert_msg(strcmp(got, want) == 0, "%.17g: \"%s\", printf says "
	    "\"%s\"", v, got, want);
	ck_assert_uint_eq(n, strlen(got));
	ck_assert_int_eq(record_parse_double(got, n, &back), 0);
	ck_assert_msg(memcmp(&back, &v, sizeof v) == 0 || isnan(v),
	    "%s does not read back bit for bit", got);
}

/*
 * The fast paths (integers, short decimals) write what printf's search
 * writes, byte for byte, and every text reads back bit for bit: short
 * decimals of each length, t/loadgen's values, the edges of the fast
 * path's range (1e-4, 1e14, 15 digits), and doubles of random bits.
 */
START_TEST(test_double_fast_paths)
{
	static const double edges[] = { 1e-4, 0.00009999999999999999,
	    0.00010000000000000002, 1e14, 99999999999999.9,
	    99999999999999.98, 0.1 + 0.2, 1.0 / 3, 2.0 / 3, 0.1, 0.7, 1.005,
	    123456789012345.6, 12345678901234.5, 1234567890.12345,
	    0.123456789012345, 0.1234567890123456, 5e-324, 1.7976931348623157e308,
	    -0.0, 4503599627370495.5, 9007199254740993.0, 1e15 + 0.5 };
	uint64_t	 x = 88172645463325252ULL, bits;
	double		 v, p;
	int		 i, k;

	for (i = 0; i < (int)(sizeof edges / sizeof edges[0]); i++) {
		same_text(edges[i]);
		same_text(-edges[i]);
	}
	for (i = 0; i < 50000; i++) {
		/* xorshift64: the same values on every run */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (k = 0, p = 1; k < (int)(x % 16); k++)
			p *= 10;
		same_text((double)(int64_t)(x >> 14) / p);
		same_text((double)(x % 100000) / p);
		same_text(i % 7 + i * 0.5 + (i % 1000) / 1000.0);
		bits = x;
		memcpy(&v, &bits, sizeof v);
		same_text(v);
	}
}
END_TEST

/*
 * A stat whose stored text already says its value is not formatted again:
 * a first write formats every stat, a second formats only those that
 * changed (a NaN is the same NaN), a third none; what is stored reads
 * back bit for bit each time.
 */
START_TEST(test_unchanged_not_formatted)
{
	static const double first[] = { 0.5, 1.0 / 3, NAN, 1e300 / 7, -2.25,
	    4.9406564584124654e-324, 0.0 };
	static const double second[] = { 0.5, 2.0 / 3, NAN, 1e300 / 7, -2.5,
	    -4.9406564584124654e-324, -0.0 };
	static const size_t want_formatted[] = { 7, 4, 0 };
	struct snapshot		 s;
	struct store		*st;
	struct store_reader	 r;
	struct record_node	 rn;
	char			 dir[FIXTURE_PATH_MAX], err[TALLY_ERRLEN];
	char			 name[8];
	size_t			 i, before;
	const double		*want;
	int			 round;
	MDB_val			 v;
	double			 back;

	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	ck_assert_int_eq(store_open(&st, dir, 0, err, sizeof err), 0);
	memset(&rn, 0, sizeof rn);
	snprintf(rn.nickname, sizeof rn.nickname, "n");
	snprintf(rn.source, sizeof rn.source, "local");
	rn.time = RECORD_TIME_MIN;
	snapshot_init(&s);
	for (round = 0; round < 3; round++) {
		want = round == 0 ? first : second;
		snapshot_reset(&s);
		for (i = 0; i < FIXTURE_N(first); i++) {
			snprintf(name, sizeof name, "s.%zu", i);
			ck_assert_int_eq(snapshot_add_stat(&s, name,
			    strlen(name), want[i]), 0);
		}
		snapshot_finish(&s);
		before = store_formatted();
		ck_assert_int_eq(store_write_slot(st, "n", &rn, &s, err,
		    sizeof err), 0);
		ck_assert_uint_eq(store_formatted() - before,
		    want_formatted[round]);
		ck_assert_int_eq(store_reader_begin(st, &r, err, sizeof err),
		    0);
		for (i = 0; i < FIXTURE_N(first); i++) {
			snprintf(name, sizeof name, "s.%zu", i);
			ck_assert_int_eq(store_reader_get(&r, STORE_STATS, "n",
			    1, name, strlen(name), &v), 1);
			ck_assert_int_eq(record_parse_double(v.mv_data,
			    v.mv_size, &back), 0);
			ck_assert_msg(memcmp(&back, &want[i], sizeof back) ==
			    0 || (isnan(back) && isnan(want[i])),
			    "%s: %.*s is not %.17g", name, (int)v.mv_size,
			    (const char *)v.mv_data, want[i]);
		}
		store_reader_end(&r);
	}
	snapshot_free(&s);
	store_close(st);
	fixture_rmtree(dir);
}
END_TEST

/* Plain decimals are read as strtod reads them, bit for bit. */
static const char *const parse_texts[] = { "0", "-0", "5.", ".5", "-.5",
    "0.1", "0.30000000000000004", "123456789012345", "1234567890123456",
    "0.000000000000001", "0.0000000000000001", "999999999999999.9",
    "1.7976931348623157e308", "4.9406564584124654e-324", "1e+20",
    "2.5e-05", "-12.75", "007.25", "9007199254740992", "9007199254740993",
    "-9007199254740993", "0.009000000000000001", "90071992547409.93",
    "0.0000000000000000000001", "0.00000000000000000000001",
    "1.0000000000000000000000", "12345678901234567890",
    "000000000000000000000000000000000000000000000000000000000000.5" };

/*
 * Random plain decimals, [-]digits[.digits] of 1 to 26 digits with the
 * point anywhere, many zeros and nines: each read as strtod reads it,
 * bit for bit, whether the fast path takes it (2^53, 22 places) or not.
 */
START_TEST(test_double_parse_random)
{
	char		 buf[40];
	uint64_t	 x = 0x9e3779b97f4a7c15ULL;
	double		 got, want;
	size_t		 n, i;

	for (i = 0; i < 200000; i++) {
		n = random_decimal(buf, &x, 26, 1);
		want = strtod(buf, NULL);
		ck_assert_msg(record_parse_double(buf, n, &got) == 0,
		    "%s: refused", buf);
		ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%s: "
		    "%.17g, strtod says %.17g", buf, got, want);
	}
}
END_TEST

/* One text, read by record_parse_double and by strtod: the same bits. */
static void
parse_as_strtod(const char *buf)
{
	double	 got, want = strtod(buf, NULL);

	ck_assert_msg(record_parse_double(buf, strlen(buf), &got) == 0,
	    "%s: refused", buf);
	ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%s: %.17g, "
	    "strtod says %.17g", buf, got, want);
}

/*
 * Random decimals of 1 to 22 digits with an exponent of -45 to 45 (e or
 * E, a sign or none, zeros ahead or none): the exact path's n * 10^q on
 * both sides of its bounds (-22, 19, 2^64), as strtod reads them.
 */
START_TEST(test_double_parse_exponent)
{
	char		 buf[64];
	uint64_t	 x = 0x2545f4914f6cdd1dULL, r;
	size_t		 n, i;
	int		 e;

	for (i = 0; i < 50000; i++) {
		n = random_decimal(buf, &x, 22, 1);
		r = next_random(&x);
		e = (int)(r % 91) - 45;
		snprintf(buf + n, sizeof buf - n, "%c%s%s%d",
		    (r >> 8) & 1 ? 'e' : 'E', e >= 0 && (r >> 9) & 1 ? "+" : "",
		    (r >> 10) & 1 ? "0" : "", e);
		/* "-0" for 0 with a zero ahead: what %d cannot spell. */
		if (e < 0 && (r >> 10) & 1) {
			char *z = strrchr(buf, '-');

			z[-1] = '-';
			z[0] = '0';
		}
		parse_as_strtod(buf);
	}
}
END_TEST

/*
 * Exact halves between two doubles, where rounding to even decides, and
 * their neighbours a unit of the last digit away: o * 2^-j (o odd, 54
 * bits) is a decimal of j places, o * 2^i an integer of up to 19 digits.
 * Written plain and with an exponent.
 */
START_TEST(test_double_parse_ties)
{
	char		 buf[64], dig[32];
	uint64_t	 x = 0x853c49e6748fea9bULL, o, n;
	size_t		 i, len;
	int		 j, d;

	for (i = 0; i < 1000; i++) {
		o = (next_random(&x) >> 11) | (UINT64_C(1) << 53) | 1;
		for (j = -3; j <= 10; j++) {
			if (j < 0) {
				for (n = o, d = 0; d < -j; d++)
					n *= 5;
			} else if ((n = o << j) >> j != o ||
			    n >= UINT64_C(10000000000000000000))
				continue;
			for (d = -1; d <= 1; d++) {
				snprintf(dig, sizeof dig, "%" PRIu64, n + d);
				len = strlen(dig);
				if (j < 0)
					snprintf(buf, sizeof buf, "%.*s.%s",
					    (int)(len - (size_t)-j), dig,
					    dig + len - (size_t)-j);
				else
					snprintf(buf, sizeof buf, "%s", dig);
				parse_as_strtod(buf);
				snprintf(buf, sizeof buf, "%se%d", dig,
				    j < 0 ? j : 0);
				parse_as_strtod(buf);
			}
		}
	}
}
END_TEST

/* 1/3 in the current mode, computed where the call is made. */
static double __attribute__((noinline))
third(void)
{
	volatile double	 one = 1, three = 3;

	return one / three;
}

/*
 * A host may set another rounding mode; strtod follows it, and so must
 * what reads as strtod does: the exact path steps aside for strtod.
 */
START_TEST(test_double_parse_rounding)
{
	static const char *const texts[] = { "9007199254740993",
	    "1.2345678901234567891", "123456789012345678e-3",
	    "15.274000000000001", "0.1", "-7.001" };
	static const int modes[] = { FE_TONEAREST, FE_UPWARD, FE_DOWNWARD,
	    FE_TOWARDZERO };
	double		 up, down;
	size_t		 i, j, n = FIXTURE_N(modes);

	/*
	 * An emulated FPU may ignore the mode (valgrind's does, where glibc's
	 * strtod still rounds by it): then only the default mode is tested.
	 */
	fesetround(FE_UPWARD);
	up = third();
	fesetround(FE_DOWNWARD);
	down = third();
	if (up == down)
		n = 1;
	for (j = 0; j < n; j++) {
		ck_assert_int_eq(fesetround(modes[j]), 0);
		for (i = 0; i < FIXTURE_N(texts); i++)
			parse_as_strtod(texts[i]);
	}
	ck_assert_int_eq(fesetround(FE_TONEAREST), 0);
}
END_TEST

START_TEST(test_double_parse_plain)
{
	const char	*t = parse_texts[_i];
	double		 got, want = strtod(t, NULL);

	ck_assert_int_eq(record_parse_double(t, strlen(t), &got), 0);
	ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%s: %.17g, "
	    "strtod says %.17g", t, got, want);
}
END_TEST

START_TEST(test_double_nan_and_bad)
{
	double	 v;

	ck_assert_int_eq(record_parse_double("nan", 3, &v), 0);
	ck_assert(isnan(v));
	ck_assert_int_eq(record_parse_double("inf", 3, &v), 0);
	ck_assert(isinf(v));
	ck_assert_int_eq(record_parse_double("", 0, &v), TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double("1,5", 3, &v), TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double("0x10", 4, &v), TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double(" 1", 2, &v), TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double("1e", 2, &v), TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double(".", 1, &v), TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double("-", 1, &v), TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double("1.2.3", 5, &v), TALLY_EINVAL);
	/* Below the least double, as past the largest: out of range. */
	ck_assert_int_eq(record_parse_double("1e-400", 6, &v), TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double("-1e-99999", 9, &v),
	    TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double("1e400", 5, &v), TALLY_EINVAL);
	ck_assert_int_eq(record_parse_double("0e-400", 6, &v), 0);
	ck_assert(v == 0);
	ck_assert_int_eq(record_parse_double("4.9e-324", 8, &v), 0);
	ck_assert(v > 0);
	ck_assert_int_eq(record_parse_double("--1", 3, &v), TALLY_EINVAL);
}
END_TEST

/* A host program's locale must not turn "0.5" into "0,5" in the file. */
START_TEST(test_double_locale)
{
	char	 buf[RECORD_NUMLEN];
	double	 v;

	if (setlocale(LC_NUMERIC, "de_DE.UTF-8") == NULL &&
	    setlocale(LC_NUMERIC, "fr_FR.UTF-8") == NULL)
		return;		/* no such locale here: nothing to prove */
	record_fmt_double(buf, 0.5);
	ck_assert_str_eq(buf, "0.5");
	ck_assert_int_eq(record_parse_double("0.25", 4, &v), 0);
	ck_assert(v == 0.25);
	setlocale(LC_NUMERIC, "C");
}
END_TEST

START_TEST(test_node_record)
{
	struct record_node	 rn, back;
	char			 buf[512], err[128];
	int			 n;

	memset(&rn, 0, sizeof rn);
	strcpy(rn.nickname, "storage one");
	strcpy(rn.source, "local");
	rn.time = 1764093000;
	rn.interval = 10;
	n = record_node_fmt(buf, sizeof buf, &rn);
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf, "nickname=storage one\ntime=1764093000\n"
	    "source=local\ninterval=10\n");
	ck_assert_int_eq(record_node_parse(buf, (size_t)n, &back, err,
	    sizeof err), 0);
	ck_assert_str_eq(back.nickname, "storage one");
	ck_assert_str_eq(back.source, "local");
	ck_assert(back.time == 1764093000);
	ck_assert(back.interval == 10);
}
END_TEST

/* Two real fingerprints: base32 of the SHA-256 of "node key one", "two". */
#define FP1 "jp6carkyxellvxjfu7fn4eggy4vydkzflcjqbgkmzug65tboe7pq"
#define FP2 "farcxg7nqma7npwngh3zuayibu7lgebg6kfjdjgjllq4hsot4w6a"

/* A bound key is written last, and only when there is one. */
START_TEST(test_node_record_key)
{
	struct record_node	 rn, back;
	char			 buf[512], err[128];
	int			 n;

	memset(&rn, 0, sizeof rn);
	strcpy(rn.nickname, "far");
	strcpy(rn.source, "remote 192.0.2.7:40312");
	rn.time = 1764093000;
	rn.interval = 60;
	strcpy(rn.key, FP1);
	n = record_node_fmt(buf, sizeof buf, &rn);
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf, "nickname=far\ntime=1764093000\n"
	    "source=remote 192.0.2.7:40312\ninterval=60\nkey=" FP1 "\n");
	ck_assert_int_eq(record_node_parse(buf, (size_t)n, &back, err,
	    sizeof err), 0);
	ck_assert_str_eq(back.key, FP1);
	ck_assert_str_eq(back.source, "remote 192.0.2.7:40312");
	/* The record ends at the key: one byte short does not fit. */
	ck_assert_int_eq(record_node_fmt(buf, (size_t)n, &rn), TALLY_ELIMIT);
	/* No key, no line. */
	rn.key[0] = '\0';
	n = record_node_fmt(buf, sizeof buf, &rn);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_null(strstr(buf, "key="));
	/* A key that is set but no fingerprint is never written. */
	strcpy(rn.key, "not-a-fingerprint");
	ck_assert_int_eq(record_node_fmt(buf, sizeof buf, &rn), TALLY_EINVAL);
	strcpy(rn.key, FP1);
	rn.key[RECORD_KEY_LEN - 1] = 'b';	/* a pad bit set */
	ck_assert_int_eq(record_node_fmt(buf, sizeof buf, &rn), TALLY_EINVAL);
}
END_TEST

struct key_record {
	const char	*rec;
	const char	*key;		/* what rn.key holds after the parse */
};

static const struct key_record key_records[] = {
	/* Older records, without key=: no key bound. */
	{ "nickname=a\ntime=1\nsource=local\n", "" },
	{ "nickname=a\ntime=1\nsource=local\ninterval=10\n", "" },
	{ "nickname=a\ntime=1\nsource=remote 10.0.0.1:5\ninterval=10\n"
	    "key=" FP1 "\n", FP1 },
	/* Anywhere in the record, and without a final newline. */
	{ "key=" FP2 "\nnickname=a\ntime=1\nsource=local\n", FP2 },
	{ "nickname=a\ntime=1\nsource=local\nkey=" FP2, FP2 },
	/* The all-zero key is a key. */
	{ "nickname=a\ntime=1\nsource=local\nkey="
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
	/* Not key=: a field of some later version, skipped. */
	{ "nickname=a\ntime=1\nsource=local\nkeys=x\n", "" },
};

START_TEST(test_node_record_keys)
{
	struct record_node	 rn;
	char			 err[128] = "";
	const struct key_record	*c = &key_records[_i];

	ck_assert_msg(record_node_parse(c->rec, strlen(c->rec), &rn, err,
	    sizeof err) == 0, "'%s': %s", c->rec, err);
	ck_assert_str_eq(rn.key, c->key);
	ck_assert_int_eq(record_key_valid(rn.key, strlen(rn.key)),
	    c->key[0] != '\0');
}
END_TEST

struct bad_record {
	const char	*rec;
	const char	*err;
};

static const struct bad_record bad_records[] = {
	{ "time=1\nsource=local\n", "lacks nickname" },
	{ "nickname=a\nsource=local\n", "lacks time" },
	{ "nickname=a\ntime=1\n", "lacks source" },
	{ "nickname=a\ntime=x\nsource=local\n", "bad time" },
	{ "nickname=a\ntime=1\nsource=local\njunk\n", "without '='" },
	{ "nickname=\ntime=1\nsource=local\n", "bad nickname" },
	{ "nickname=a\ntime=1\nsource=\n", "bad source" },
	{ "", "lacks nickname" },
	/* key=: exactly a fingerprint, or the record is refused. */
	{ "nickname=a\ntime=1\nsource=local\nkey=\n", "bad key" },
	{ "nickname=a\ntime=1\nsource=local\nkey=x\n", "bad key" },
	/* One short, one long. */
	{ "nickname=a\ntime=1\nsource=local\n"
	    "key=jp6carkyxellvxjfu7fn4eggy4vydkzflcjqbgkmzug65tboe7p\n",
	    "bad key" },
	{ "nickname=a\ntime=1\nsource=local\nkey=" FP1 "a\n", "bad key" },
	/* Uppercase, padding, a digit outside base32, a blank. */
	{ "nickname=a\ntime=1\nsource=local\n"
	    "key=JP6CARKYXELLVXJFU7FN4EGGY4VYDKZFLCJQBGKMZUG65TBOE7PQ\n",
	    "bad key" },
	{ "nickname=a\ntime=1\nsource=local\n"
	    "key=jp6carkyxellvxjfu7fn4eggy4vydkzflcjqbgkmzug65tboe7p=\n",
	    "bad key" },
	{ "nickname=a\ntime=1\nsource=local\n"
	    "key=jp6carkyxellvxjfu7fn4eggy4vydkzflcjqbgkmzug65tboe7p1\n",
	    "bad key" },
	{ "nickname=a\ntime=1\nsource=local\nkey= " FP1 "\n", "bad key" },
	/* Nonzero pad bits: a second spelling of some key. */
	{ "nickname=a\ntime=1\nsource=local\n"
	    "key=jp6carkyxellvxjfu7fn4eggy4vydkzflcjqbgkmzug65tboe7pr\n",
	    "bad key" },
	/* A bad key after a good one. */
	{ "nickname=a\ntime=1\nsource=local\nkey=" FP1 "\nkey=x\n",
	    "bad key" },
};

START_TEST(test_node_record_bad)
{
	struct record_node	 rn;
	char			 err[128] = "";
	const struct bad_record	*c = &bad_records[_i];

	ck_assert_int_eq(record_node_parse(c->rec, strlen(c->rec), &rn, err,
	    sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, c->err) != NULL, "'%s' lacks '%s'", err,
	    c->err);
}
END_TEST

/* Found by fuzz_record: a NUL in source parsed, then could not be written. */
START_TEST(test_node_record_nul_source)
{
	static const char	 rec[] = "nickname=a\ntime=0\nsource=\0";
	struct record_node	 rn;
	char			 err[128] = "";

	ck_assert_int_eq(record_node_parse(rec, sizeof rec - 1, &rn, err,
	    sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "bad source") != NULL, "%s", err);
}
END_TEST

START_TEST(test_node_record_unknown_fields)
{
	struct record_node	 rn;
	char			 err[128];
	const char		*rec = "nickname=a\nfuture=1\ntime=5\n"
	    "source=remote 10.0.0.1:5000";

	ck_assert_int_eq(record_node_parse(rec, strlen(rec), &rn, err,
	    sizeof err), 0);
	ck_assert_str_eq(rn.source, "remote 10.0.0.1:5000");
	ck_assert(rn.time == 5);
}
END_TEST

/*
 * The rule for a snapshot time: from 2000-01-01T00:00:00Z to a day past
 * the reader's now, both ends included; whatever the int64 and the now.
 */
START_TEST(test_time_sane)
{
	const int64_t	 now = 1700000000;

	ck_assert_int_eq(record_time_sane(now, now), 1);
	ck_assert_int_eq(record_time_sane(now - 10 * 365 * 86400, now), 1);
	ck_assert_int_eq(record_time_sane(946684800, now), 1);
	ck_assert_int_eq(record_time_sane(946684799, now), 0);
	ck_assert_int_eq(record_time_sane(now + 86400, now), 1);
	ck_assert_int_eq(record_time_sane(now + 86401, now), 0);
	ck_assert_int_eq(record_time_sane(0, now), 0);
	ck_assert_int_eq(record_time_sane(-1, now), 0);
	ck_assert_int_eq(record_time_sane(INT64_MIN, now), 0);
	ck_assert_int_eq(record_time_sane(INT64_MAX, now), 0);
	/* 2100-01-01: a node's clock a lifetime ahead. */
	ck_assert_int_eq(record_time_sane(4102444800, now), 0);
	/* Wild clocks of the reader: no overflow, and still one rule. */
	ck_assert_int_eq(record_time_sane(INT64_MAX, INT64_MAX), 1);
	ck_assert_int_eq(record_time_sane(INT64_MAX, INT64_MAX - 86400), 1);
	ck_assert_int_eq(record_time_sane(INT64_MAX, INT64_MAX - 86401), 0);
	ck_assert_int_eq(record_time_sane(now, INT64_MIN), 0);
	ck_assert_int_eq(record_time_sane(INT64_MIN, INT64_MIN), 0);
}
END_TEST

START_TEST(test_time_age)
{
	ck_assert(record_time_age(100, 40) == 60);
	ck_assert(record_time_age(40, 100) == -60);
	ck_assert(record_time_age(1700000000, INT64_MIN) == INT64_MAX);
	ck_assert(record_time_age(1700000000, INT64_MAX) ==
	    1700000000 - INT64_MAX);
	ck_assert(record_time_age(-1700000000, INT64_MAX) == INT64_MIN);
	ck_assert(record_time_age(INT64_MAX, -1) == INT64_MAX);
	ck_assert(record_time_age(INT64_MIN, 1) == INT64_MIN);
	ck_assert(record_time_age(INT64_MIN, INT64_MIN) == 0);
	ck_assert(record_time_age(-1, INT64_MIN) == INT64_MAX);
	ck_assert(record_time_age(0, INT64_MIN) == INT64_MAX);
	ck_assert(record_time_age(-2, INT64_MAX) == INT64_MIN);
	ck_assert(record_time_age(-1, INT64_MAX) == INT64_MIN);
}
END_TEST

int
main(void)
{
	const struct fixture_test	 tests[] = {
		{ "core", test_int64_roundtrip, FIXTURE_N(ints),
		    FIXTURE_TIMEOUT },
		{ "core", test_int64_bad, FIXTURE_N(bad_ints),
		    FIXTURE_TIMEOUT },
		{ "core", test_int64_random, 0, FIXTURE_TIMEOUT },
		{ "core", test_double_roundtrip, FIXTURE_N(dbls),
		    FIXTURE_TIMEOUT },
		{ "core", test_double_shortest, 0, FIXTURE_TIMEOUT },
		{ "core", test_double_nan_and_bad, 0, FIXTURE_TIMEOUT },
		{ "core", test_double_fast_paths, 0, FIXTURE_TIMEOUT },
		{ "core", test_unchanged_not_formatted, 0, FIXTURE_TIMEOUT },
		{ "core", test_double_parse_plain, FIXTURE_N(parse_texts),
		    FIXTURE_TIMEOUT },
		{ "core", test_double_parse_random, 0, FIXTURE_TIMEOUT },
		{ "core", test_double_parse_exponent, 0, FIXTURE_TIMEOUT },
		{ "core", test_double_parse_ties, 0, FIXTURE_TIMEOUT },
		{ "core", test_double_parse_rounding, 0, FIXTURE_TIMEOUT },
		{ "core", test_double_locale, 0, FIXTURE_TIMEOUT },
		{ "core", test_node_record, 0, FIXTURE_TIMEOUT },
		{ "core", test_node_record_bad, FIXTURE_N(bad_records),
		    FIXTURE_TIMEOUT },
		{ "core", test_node_record_nul_source, 0, FIXTURE_TIMEOUT },
		{ "core", test_node_record_unknown_fields, 0,
		    FIXTURE_TIMEOUT },
		{ "core", test_node_record_key, 0, FIXTURE_TIMEOUT },
		{ "core", test_node_record_keys, FIXTURE_N(key_records),
		    FIXTURE_TIMEOUT },
		{ "core", test_time_sane, 0, FIXTURE_TIMEOUT },
		{ "core", test_time_age, 0, FIXTURE_TIMEOUT },
	};

	return fixture_main("record", tests, FIXTURE_N(tests), NULL, 0);
}
