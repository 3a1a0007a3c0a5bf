/*
 * record.c: the text encoding of database values.  Everything in the
 * database is printable text so that mdb_dump is a usable view; numbers are
 * written and read in the C locale whatever the host program set.
 */
#include <errno.h>
#include <fenv.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"

/* The record section of tally-int.h comes before the furl section. */
_Static_assert(RECORD_KEY_LEN == FURL_FP_LEN,
    "a node's key= is a fingerprint as furl.c writes one");

static locale_t		record_c_locale;
static pthread_once_t	record_once = PTHREAD_ONCE_INIT;

static void
record_init(void)
{
	record_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

size_t
record_fmt_int64(char *buf, int64_t v)
{
	char		 tmp[24];
	size_t		 n = 0, i;
	uint64_t	 u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		tmp[n++] = '0' + (u % 10);
		u /= 10;
	} while (u != 0);
	i = 0;
	if (v < 0)
		buf[i++] = '-';
	while (n > 0)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
	return i;
}

/*
 * A non-integral v in [1e-4, 1e14) that some decimal of at most 15
 * significant digits and k <= 15 places spells exactly, written as %.15g
 * writes it, with no printf or strtod: 0 if v is no such value.
 *
 * Why it is exact: if n / 10^k (n < 10^15) reads back as v, then v * 10^k
 * computed in doubles is within 0.23 of n, so rounding finds n at the
 * smallest such k; n and 10^k are exact doubles, so n / 10^k in doubles
 * is rounded as strtod rounds the text, and comparing it with v is
 * strtod's verdict.  Such a decimal is the only one of at most 15 digits
 * within half an ulp of v, so it is what %.15g prints (trailing zeros
 * dropped, no exponent: -4 <= its exponent < 15).  Any other v, and any
 * value a fraction of 16 or 17 digits spells, takes the printf path.
 */
static size_t
record_fmt_short(char *buf, double v)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
	    1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	double		 a = fabs(v), s;
	uint64_t	 n;
	char		 dig[24];
	size_t		 nd, i, o = 0;
	int		 k;

	if (!(a >= 1e-4 && a < 1e14))
		return 0;
	for (k = 1; k <= 15; k++) {
		if ((s = a * p10[k]) >= 1e15)
			return 0;
		n = (uint64_t)(s + 0.5);
		if ((double)n / p10[k] == a)
			break;
	}
	if (k > 15)
		return 0;
	for (nd = 0; n != 0; n /= 10)
		dig[nd++] = (char)('0' + n % 10);
	if (v < 0)
		buf[o++] = '-';
	if (nd <= (size_t)k) {
		buf[o++] = '0';
		buf[o++] = '.';
		for (i = nd; i < (size_t)k; i++)
			buf[o++] = '0';
	}
	for (i = nd; i-- > 0;) {
		buf[o++] = dig[i];
		if (i == (size_t)k && nd > (size_t)k)
			buf[o++] = '.';
	}
	buf[o] = '\0';
	return o;
}

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double. */
size_t
record_fmt_double(char *buf, double v)
{
	locale_t	 old;
	double		 back;
	int		 prec, n = 0;

	if (isnan(v))
		return (size_t)snprintf(buf, RECORD_NUMLEN, "nan");
	if (isinf(v))
		return (size_t)snprintf(buf, RECORD_NUMLEN, v < 0 ? "-inf" :
		    "inf");
	/* Integers are the common case; skip printf for them. */
	/* The range check first: casting a double beyond int64 is undefined. */
	if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v &&
	    !(v == 0 && signbit(v)))
		return record_fmt_int64(buf, (int64_t)v);
	if ((n = (int)record_fmt_short(buf, v)) > 0)
		return (size_t)n;

	pthread_once(&record_once, record_init);
	old = record_c_locale ? uselocale(record_c_locale) : (locale_t)0;
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, RECORD_NUMLEN, "%.*g", prec, v);
		/* Read back as strtod reads it, mostly without strtod. */
		if (record_parse_double(buf, (size_t)n, &back) != 0)
			back = strtod(buf, NULL);
		if (back == v)
			break;
	}
	if (old)
		uselocale(old);
	return (size_t)n;
}

int
record_parse_int64(const char *s, size_t len, int64_t *out)
{
	uint64_t	 u = 0, lim;
	size_t		 i = 0;
	int		 neg = 0;

	if (len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == len)
		return TALLY_EINVAL;
	if (len - i <= 18) {
		/* At most 18 digits: below 10^18, no overflow to check. */
		for (; i < len; i++) {
			unsigned d = (unsigned char)s[i] - '0';
			if (d > 9)
				return TALLY_EINVAL;
			u = u * 10 + d;
		}
		*out = neg ? (int64_t)(0 - u) : (int64_t)u;
		return 0;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9)
			return TALLY_EINVAL;
		/* Below 10^17, u * 10 + 9 cannot pass lim: no check. */
		if (u >= UINT64_C(100000000000000000) && u > (lim - d) / 10)
			return TALLY_EINVAL;
		u = u * 10 + d;
	}
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

/* 2^e as a double, for -1022 <= e <= 1023: exact, and no libm. */
static double
record_pow2(int e)
{
	uint64_t	 bits = (uint64_t)(1023 + e) << 52;
	double		 d;

	memcpy(&d, &bits, sizeof d);
	return d;
}

#ifdef __SIZEOF_INT128__
typedef unsigned __int128 record_u128;

static int
record_bits128(record_u128 x)
{
	uint64_t	 hi = (uint64_t)(x >> 64);

	return hi != 0 ? 128 - __builtin_clzll(hi) :
	    64 - __builtin_clzll((uint64_t)x | 1);
}

/*
 * (q + f) * 2^e rounded to 53 bits, half to even, as strtod rounds: q of
 * 54 bits or more, f in [0, 1) and sticky whether f is not 0.
 */
static double
record_round(record_u128 q, int sticky, int e)
{
	int		 t = record_bits128(q) - 53;
	record_u128	 low = q & (((record_u128)1 << t) - 1);
	record_u128	 half = (record_u128)1 << (t - 1);
	uint64_t	 m = (uint64_t)(q >> t);

	if (low > half || (low == half && (sticky || (m & 1))))
		m++;			/* 2^53 at most: still exact */
	return (double)m * record_pow2(t + e);
}
#endif

/*
 * A decimal [-]digits[.digits][(e|E)[+|-]digits] read exactly as strtod
 * reads it, without strtod, where its digits make an integer n below 2^64
 * (19 digits always fit, leading zeros aside) and its value is n * 10^q
 * for -22 <= q <= 19.  Below 2^53 and 22 places, n / 10^-q in doubles is
 * rounded once, as strtod rounds (Clinger's fast path).  Otherwise, in
 * 128-bit integers: n * 10^q exactly, or the quotient of n * 2^s by
 * 10^-q with s chosen to leave it 54 bits or more and its remainder, then
 * rounded to 53 bits from those exact figures.  1 and *out set, or 0 for
 * anything else, which strtod reads.
 */
static int
record_parse_fast(const char *s, size_t len, double *out)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
	    1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
	    1e18, 1e19, 1e20, 1e21, 1e22 };
	uint64_t	 n = 0;
	size_t		 i = 0, at;
	unsigned	 d;
	int		 k = 0, q, x = 0, xneg = 0, neg = 0;
	double		 v;

	if (len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	/* n * 10 + 9 stays below 2^64 for n up to 2^64 / 10 - 1: no wrap. */
	for (at = i; i < len && (d = (unsigned char)s[i] - '0') <= 9; i++) {
		if (n > UINT64_C(1844674407370955160))
			return 0;
		n = n * 10 + d;
	}
	if (i < len && s[i] == '.') {
		/* k places; "." alone has no digit, so it is no number. */
		if (i++ == at && (i == len ||
		    (unsigned)((unsigned char)s[i] - '0') > 9))
			return 0;
		for (at = i; i < len && (d = (unsigned char)s[i] - '0') <= 9;
		    i++) {
			if (n > UINT64_C(1844674407370955160))
				return 0;
			n = n * 10 + d;
		}
		k = (int)(i - at);
	} else if (i == at)
		return 0;
	if (i < len) {
		/* An exponent: e, a sign, and at least one digit. */
		if ((s[i] != 'e' && s[i] != 'E') || ++i == len)
			return 0;
		if (s[i] == '-' || s[i] == '+')
			xneg = s[i++] == '-';
		if (i == len)
			return 0;
		for (; i < len; i++) {
			d = (unsigned char)s[i] - '0';
			if (d > 9 || x > 10000)
				return 0;
			x = x * 10 + (int)d;
		}
	}
	q = (xneg ? -x : x) - k;
	if (n == 0)
		v = 0;
	else if (n <= UINT64_C(9007199254740992) && q <= 0 && q >= -22) {
		/* Signed before the division: rounded as strtod rounds it in
		 * any mode the host set (upward, a negative value goes up). */
		*out = (neg ? -(double)n : (double)n) / p10[-q];
		return 1;
	} else {
#ifdef __SIZEOF_INT128__
		static const uint64_t p10n[] = { 1, 10, 100, 1000, 10000,
		    100000, 1000000, 10000000, 100000000, 1000000000,
		    10000000000, 100000000000, 1000000000000, 10000000000000,
		    100000000000000, 1000000000000000, 10000000000000000,
		    100000000000000000, 1000000000000000000,
		    10000000000000000000U };
		record_u128	 num, den, p;
		int		 sh, a = q < 0 ? -q : q;

		/*
		 * It rounds to nearest, as strtod does unless the host set
		 * another mode (which strtod and the division above follow):
		 * then strtod reads it.
		 */
		if (q > 19 || q < -22 || fegetround() != FE_TONEAREST)
			return 0;
		p = p10n[a > 19 ? 19 : a];
		for (x = 19; x < a; x++)
			p *= 10;
		if (q >= 0) {
			num = (record_u128)n * p;
			v = num <= ((record_u128)1 << 53) ?
			    (double)(uint64_t)num : record_round(num, 0, 0);
		} else {
			den = p;
			sh = 54 + record_bits128(den) - record_bits128(n);
			if (sh < 0)
				sh = 0;
			num = (record_u128)n << sh;
			v = record_round(num / den, num % den != 0, -sh);
		}
#else
		return 0;
#endif
	}
	*out = neg ? -v : v;
	return 1;
}

int
record_parse_double(const char *s, size_t len, double *out)
{
	char	 buf[64], *end;
	double	 v;
	size_t	 i;

	if (len == 0 || len >= sizeof buf)
		return TALLY_EINVAL;
	/* What it takes, strtod takes alike: no check first. */
	if (record_parse_fast(s, len, out))
		return 0;
	/* strtod accepts hex, leading blanks and more; we wrote none. */
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || c == '-' || c == '+' ||
		    c == '.' || c == 'e' || c == 'E' || c == 'n' || c == 'a' ||
		    c == 'i' || c == 'f'))
			return TALLY_EINVAL;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strcmp(buf, "nan") == 0) {
		*out = NAN;
		return 0;
	}
	pthread_once(&record_once, record_init);
	errno = 0;
	v = record_c_locale ? strtod_l(buf, &end, record_c_locale) :
	    strtod(buf, &end);
	/* Out of range: past the largest double, or below the least. */
	if (end != buf + len || (errno == ERANGE && ((isinf(v) &&
	    strstr(buf, "inf") == NULL) || v == 0)))
		return TALLY_EINVAL;
	*out = v;
	return 0;
}

/*
 * A key fingerprint: RECORD_KEY_LEN characters of lowercase base32 that
 * decode to exactly FURL_FP_BYTES bytes with zero pad bits, so that one
 * key has one spelling and a comparison of texts is a comparison of keys.
 */
int
record_key_valid(const char *s, size_t len)
{
	uint8_t	 fp[FURL_FP_BYTES];

	if (len != RECORD_KEY_LEN)
		return 0;
	return furl_b32_decode(s, len, fp, sizeof fp) == FURL_FP_BYTES;
}

/*
 * Write rn as its nodes record into buf: the record's length, TALLY_ELIMIT
 * if it does not fit in size, or TALLY_EINVAL for a key that is set but no
 * fingerprint, which every reader would refuse.  The key= line is written
 * only when a key is bound, so records of local and plaintext nodes stay
 * as they always were.
 */
int
record_node_fmt(char *buf, size_t size, const struct record_node *rn)
{
	char	 iv[RECORD_NUMLEN];
	size_t	 klen = strnlen(rn->key, sizeof rn->key);
	int	 n;

	if (klen > 0 && !record_key_valid(rn->key, klen))
		return TALLY_EINVAL;
	record_fmt_double(iv, rn->interval);
	n = snprintf(buf, size, "nickname=%s\ntime=%" PRId64 "\nsource=%s\n"
	    "interval=%s\n%s%s%s", rn->nickname, rn->time, rn->source, iv,
	    klen > 0 ? "key=" : "", klen > 0 ? rn->key : "",
	    klen > 0 ? "\n" : "");
	if (n < 0 || (size_t)n >= size)
		return TALLY_ELIMIT;
	return n;
}

static int
record_field(const char *v, size_t vlen, char *dst, size_t dstsize)
{
	if (vlen >= dstsize)
		return TALLY_EINVAL;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
	return 0;
}

/*
 * Parse a nodes record into rn: 0, or TALLY_EINVAL with the reason in err.
 * nickname, time and source are required; interval and key are optional
 * (a record without key= has no key bound: rn->key is ""), and fields of
 * later versions are skipped.
 */
int
record_node_parse(const char *buf, size_t len, struct record_node *rn,
    char *err, size_t errlen)
{
	const char	*p = buf, *end = buf + len, *nl, *eq;
	int		 have = 0;

	/* The fields, not the whole struct: a record is parsed per node. */
	rn->nickname[0] = '\0';
	rn->time = 0;
	rn->source[0] = '\0';
	rn->interval = 0;
	rn->key[0] = '\0';
	while (p < end) {
		size_t	 klen, vlen;
		const char *v;

		nl = memchr(p, '\n', end - p);
		if (nl == NULL)
			nl = end;
		/* The usual keys by their first bytes; any other by its '='. */
		if (nl - p > 8 && memcmp(p, "nickname=", 9) == 0)
			eq = p + 8;
		else if (nl - p > 4 && memcmp(p, "time=", 5) == 0)
			eq = p + 4;
		else if (nl - p > 6 && memcmp(p, "source=", 7) == 0)
			eq = p + 6;
		else if (nl - p > 8 && memcmp(p, "interval=", 9) == 0)
			eq = p + 8;
		else
			eq = memchr(p, '=', nl - p);
		if (eq == NULL) {
			snprintf(err, errlen, "line without '=' in node record");
			return TALLY_EINVAL;
		}
		klen = eq - p;
		v = eq + 1;
		vlen = nl - v;
		if (klen == 8 && memcmp(p, "nickname", 8) == 0) {
			if (!name_nickname_valid(v, vlen) ||
			    record_field(v, vlen, rn->nickname,
			    sizeof rn->nickname) != 0) {
				snprintf(err, errlen, "bad nickname in node "
				    "record");
				return TALLY_EINVAL;
			}
			have |= 1;
		} else if (klen == 4 && memcmp(p, "time", 4) == 0) {
			if (record_parse_int64(v, vlen, &rn->time) != 0) {
				snprintf(err, errlen, "bad time in node record");
				return TALLY_EINVAL;
			}
			have |= 2;
		} else if (klen == 6 && memcmp(p, "source", 6) == 0) {
			if (vlen == 0 || memchr(v, '\0', vlen) != NULL ||
			    record_field(v, vlen, rn->source,
			    sizeof rn->source) != 0) {
				snprintf(err, errlen, "bad source in node "
				    "record");
				return TALLY_EINVAL;
			}
			have |= 4;
		} else if (klen == 8 && memcmp(p, "interval", 8) == 0) {
			if (record_parse_double(v, vlen, &rn->interval) != 0) {
				snprintf(err, errlen, "bad interval in node "
				    "record");
				return TALLY_EINVAL;
			}
		} else if (klen == 3 && memcmp(p, "key", 3) == 0) {
			/*
			 * Refused, not skipped: a node whose binding cannot
			 * be read must not look like one without a key.
			 */
			if (!record_key_valid(v, vlen) ||
			    record_field(v, vlen, rn->key,
			    sizeof rn->key) != 0) {
				snprintf(err, errlen, "bad key in node record "
				    "(not a %d-character key fingerprint)",
				    RECORD_KEY_LEN);
				return TALLY_EINVAL;
			}
		}
		/* Unknown fields are skipped: later versions may add some. */
		p = nl + 1;
	}
	if (have != 7) {
		snprintf(err, errlen, "node record lacks %s",
		    !(have & 1) ? "nickname" : !(have & 2) ? "time" : "source");
		return TALLY_EINVAL;
	}
	return 0;
}

/*
 * A node's clock, or a hostile peer, can write any int64 as its time.
 * Bounding it here, once, lets every reader do its age arithmetic on small
 * numbers: a sane time is within 2000..now+1d, so now - t cannot overflow.
 * The day ahead allows for clocks that disagree, without letting a node in
 * the future look fresh for ever.
 */
int
record_time_sane(int64_t t, int64_t now)
{
	if (t < RECORD_TIME_MIN)
		return 0;
	/* now + a day would overflow: every t is then at most that. */
	if (now > INT64_MAX - RECORD_TIME_AHEAD)
		return 1;
	return t <= now + RECORD_TIME_AHEAD;
}

int64_t
record_time_age(int64_t now, int64_t t)
{
	/* Checked before subtracting: signed overflow is undefined. */
	if (t < 0 && now > INT64_MAX + t)
		return INT64_MAX;
	if (t > 0 && now < INT64_MIN + t)
		return INT64_MIN;
	return now - t;
}
