/*
 * check_wire.c: the frame codec of tally-protocol.h.  Round trips of every
 * frame, wire_frame and wire_peek on partial and back-to-back input, the
 * peeks at a payload's leading fields, and every malformed payload.  Parsers are always handed a heap copy of exactly the bytes
 * under test, so that valgrind or ASan (--enable-asan) catches a read one
 * byte past the end.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "fixture.h"

#define N(a) (sizeof (a) / sizeof (a)[0])

/* Helpers */

/* The one whole frame in b: its type and payload. */
static void
one_frame(const struct wire_buf *b, uint8_t want, const uint8_t **pl,
    size_t *plen)
{
	uint8_t	 type = 0;
	long	 n;

	n = wire_frame(b->data, b->len, &type, pl, plen);
	ck_assert_int_eq(n, (long)b->len);
	ck_assert_uint_eq(type, want);
	ck_assert_uint_eq(*plen, b->len - WIRE_LENGTH - 1);
}

/* A heap copy of exactly n bytes; malloc(0) may be NULL, so keep one. */
static uint8_t *
dup_bytes(const void *p, size_t n)
{
	uint8_t	*d = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static uint64_t
dbits(double d)
{
	uint64_t	 u;

	memcpy(&u, &d, sizeof u);
	return u;
}

static double
bitsd(uint64_t u)
{
	double	 d;

	memcpy(&d, &u, sizeof d);
	return d;
}

/* A valid stat name of exactly len chars, unique by i. */
static void
make_name(char *buf, size_t len, size_t i)
{
	static const char set[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-";
	size_t	 k;

	for (k = 0; k < len; k++)
		buf[k] = set[(i + k * 7) % (sizeof set - 1)];
	/* The first 6 chars carry i itself, so names never collide. */
	for (k = 0; k < 6 && k < len; k++)
		buf[k] = set[(i >> (6 * k)) % 64];
	buf[len] = '\0';
}

/* Payload builders for hand-made (malformed) frames. */
struct pb {
	uint8_t	 d[4096];
	size_t	 n;
};

static void
pb_u8(struct pb *b, uint8_t v)
{
	ck_assert_uint_lt(b->n, sizeof b->d);
	b->d[b->n++] = v;
}

static void
pb_u16(struct pb *b, uint16_t v)
{
	pb_u8(b, v >> 8);
	pb_u8(b, v & 0xff);
}

static void
pb_u32(struct pb *b, uint32_t v)
{
	pb_u16(b, v >> 16);
	pb_u16(b, v & 0xffff);
}

static void
pb_u64(struct pb *b, uint64_t v)
{
	pb_u32(b, (uint32_t)(v >> 32));
	pb_u32(b, (uint32_t)v);
}

static void
pb_str(struct pb *b, const char *s, size_t n)
{
	pb_u8(b, (uint8_t)n);
	ck_assert_uint_le(b->n + n, sizeof b->d);
	memcpy(b->d + b->n, s, n);
	b->n += n;
}

/* HELLO */

static char s255[256], s128[129], s64[65];

static void
fill_names(void)
{
	memset(s255, 'x', 255);
	memset(s128, 'n', 128);
	memset(s64, 'i', 64);
}

struct hello_case {
	uint16_t	 version;
	const char	*secret, *node, *nick;
};

/* NULL means "the long one of that field" (filled in at run time). */
static const struct hello_case hellos[] = {
	{ 1, "abcdefghijklmnopqrstuvwxyz234567", "node-1", "storage one" },
	{ 1, NULL, NULL, NULL },			/* 255 each */
	{ 1, "abcdefghijklmnop", "", "" },		/* empty fields */
	{ 0, "", "a", "caf\xc3\xa9" },
	{ 65535, "s", "n", "k" },
};

static void
hello_fields(const struct hello_case *c, struct wire_hello *h)
{
	memset(h, 0, sizeof *h);
	h->version = c->version;
	h->secret = c->secret ? c->secret : s255;
	h->node_id = c->node ? c->node : s255;
	h->nickname = c->nick ? c->nick : s255;
	h->secret_len = strlen(h->secret);
	h->node_len = strlen(h->node_id);
	h->nick_len = strlen(h->nickname);
}

START_TEST(test_hello_roundtrip)
{
	struct wire_buf		 b;
	struct wire_hello	 h, got;
	const uint8_t		*pl;
	uint8_t			*copy;
	size_t			 plen;
	char			 err[TALLY_ERRLEN] = "";

	fill_names();
	hello_fields(&hellos[_i], &h);
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_hello(&b, &h), 0);
	one_frame(&b, WIRE_HELLO, &pl, &plen);
	ck_assert_uint_eq(plen, 2 + 3 + h.secret_len + h.node_len +
	    h.nick_len);
	copy = dup_bytes(pl, plen);
	ck_assert_msg(wire_get_hello(copy, plen, &got, err, sizeof err) == 0,
	    "%s", err);
	ck_assert_uint_eq(got.version, h.version);
	ck_assert_uint_eq(got.secret_len, h.secret_len);
	ck_assert_uint_eq(got.node_len, h.node_len);
	ck_assert_uint_eq(got.nick_len, h.nick_len);
	ck_assert_mem_eq(got.secret, h.secret, h.secret_len);
	ck_assert_mem_eq(got.node_id, h.node_id, h.node_len);
	ck_assert_mem_eq(got.nickname, h.nickname, h.nick_len);
	/* The fields point into the payload; nothing was copied. */
	ck_assert(got.secret >= (const char *)copy &&
	    got.nickname + got.nick_len <= (const char *)copy + plen);
	free(copy);
	wire_buf_free(&b);
}
END_TEST

/* The real maxima: a 64-char node id and a 128-char nickname. */
START_TEST(test_hello_real_maxima)
{
	struct wire_buf		 b;
	struct wire_hello	 h, got;
	const uint8_t		*pl;
	size_t			 plen;
	char			 err[TALLY_ERRLEN], secret[WIRE_SECRET_MAX + 1];

	fill_names();
	memset(secret, 'z', WIRE_SECRET_MAX);
	secret[WIRE_SECRET_MAX] = '\0';
	memset(&h, 0, sizeof h);
	h.version = TALLY_PROTOCOL_VERSION;
	h.secret = secret;
	h.secret_len = WIRE_SECRET_MAX;
	h.node_id = s64;
	h.node_len = TALLY_NODE_ID_MAX;
	h.nickname = s128;
	h.nick_len = TALLY_NICKNAME_MAX;
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_hello(&b, &h), 0);
	one_frame(&b, WIRE_HELLO, &pl, &plen);
	ck_assert_int_eq(wire_get_hello(pl, plen, &got, err, sizeof err), 0);
	ck_assert(name_node_id_valid(got.node_id, got.node_len));
	ck_assert(name_nickname_valid(got.nickname, got.nick_len));
	ck_assert_uint_eq(got.secret_len, WIRE_SECRET_MAX);
	wire_buf_free(&b);
}
END_TEST

/* A field over 255 bytes cannot be encoded: refused, nothing appended. */
START_TEST(test_hello_put_too_long)
{
	static char		 big[300];
	struct wire_buf		 b;
	struct wire_hello	 h;
	int			 field;

	memset(big, 'a', sizeof big);
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_poll(&b, 7), 0);
	for (field = 0; field < 3; field++) {
		memset(&h, 0, sizeof h);
		h.version = 1;
		h.secret = h.node_id = h.nickname = big;
		h.secret_len = h.node_len = h.nick_len = 1;
		if (field == 0)
			h.secret_len = 256;
		else if (field == 1)
			h.node_len = 256;
		else
			h.nick_len = 256;
		ck_assert_int_eq(wire_put_hello(&b, &h), TALLY_EINVAL);
		ck_assert_uint_eq(b.len, WIRE_LENGTH + 1 + 4);
	}
	wire_buf_free(&b);
}
END_TEST

/*
 * The codec checks HELLO's lengths only: whether the node id, nickname and
 * secret are acceptable is the gatherer's call (WIRE_E_NAME, WIRE_E_AUTH).
 */
START_TEST(test_hello_names_not_validated)
{
	struct pb		 p = { .n = 0 };
	struct wire_hello	 got;
	char			 err[TALLY_ERRLEN];
	uint8_t			*copy;

	pb_u16(&p, 99);
	pb_str(&p, "NOT BASE32!", 11);
	pb_str(&p, "Bad/Node Id", 11);
	pb_str(&p, "tab\there\n", 9);
	copy = dup_bytes(p.d, p.n);
	ck_assert_int_eq(wire_get_hello(copy, p.n, &got, err, sizeof err), 0);
	ck_assert_uint_eq(got.version, 99);
	ck_assert(!name_node_id_valid(got.node_id, got.node_len));
	ck_assert(!name_nickname_valid(got.nickname, got.nick_len));
	free(copy);
}
END_TEST

/* WELCOME, POLL, ERROR */

static const struct {
	uint16_t	 version;
	uint32_t	 interval;
} welcomes[] = {
	{ TALLY_PROTOCOL_VERSION, 60000 }, { 0, 0 }, { 65535, UINT32_MAX },
	{ 0x0102, 0x03040506 },
};

START_TEST(test_welcome_roundtrip)
{
	struct wire_buf	 b;
	const uint8_t	*pl;
	uint8_t		*copy;
	size_t		 plen;
	uint16_t	 v;
	uint32_t	 iv;
	char		 err[TALLY_ERRLEN];

	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_welcome(&b, welcomes[_i].version,
	    welcomes[_i].interval, NULL), 0);
	one_frame(&b, WIRE_WELCOME, &pl, &plen);
	ck_assert_uint_eq(plen, 10);
	copy = dup_bytes(pl, plen);
	ck_assert_int_eq(wire_get_welcome(copy, plen, &v, &iv, NULL, err,
	    sizeof err), 0);
	ck_assert_uint_eq(v, welcomes[_i].version);
	ck_assert_uint_eq(iv, welcomes[_i].interval);
	free(copy);
	wire_buf_free(&b);
}
END_TEST

/* WELCOME carries the node's counters back, whole, in name order. */
START_TEST(test_welcome_counters)
{
	struct wire_buf	 b;
	struct snapshot	 in, out;
	const uint8_t	*pl;
	uint8_t		*copy;
	size_t		 plen;
	uint16_t	 v;
	uint32_t	 iv;
	char		 err[TALLY_ERRLEN];

	wire_buf_init(&b);
	snapshot_init(&in);
	snapshot_init(&out);
	ck_assert_int_eq(snapshot_add_counter(&in, "a.b", 3, INT64_MAX), 0);
	ck_assert_int_eq(snapshot_add_counter(&in, "z", 1, -7), 0);
	/* Stats never travel in a WELCOME. */
	ck_assert_int_eq(snapshot_add_stat(&in, "s", 1, 1.5), 0);
	ck_assert_int_eq(wire_put_welcome(&b, TALLY_PROTOCOL_VERSION, 1000,
	    &in), 0);
	one_frame(&b, WIRE_WELCOME, &pl, &plen);
	ck_assert_uint_eq(plen, 2 + 4 + 4 + (1 + 3 + 8) + (1 + 1 + 8));
	copy = dup_bytes(pl, plen);
	ck_assert_int_eq(wire_get_welcome(copy, plen, &v, &iv, &out, err,
	    sizeof err), 0);
	ck_assert_uint_eq(v, TALLY_PROTOCOL_VERSION);
	ck_assert_uint_eq(iv, 1000);
	ck_assert_uint_eq(out.ncounters, 2);
	ck_assert_uint_eq(out.nstats, 0);
	ck_assert_str_eq(snapshot_name(&out, &out.counters[0]), "a.b");
	ck_assert(out.counters[0].v.i == INT64_MAX);
	ck_assert_str_eq(snapshot_name(&out, &out.counters[1]), "z");
	ck_assert(out.counters[1].v.i == -7);
	/* A bad name is refused as in a SNAPSHOT; so is a count that lies. */
	copy[10 + 1] = '/';
	snapshot_reset(&out);
	ck_assert_int_eq(wire_get_welcome(copy, plen, &v, &iv, &out, err,
	    sizeof err), WIRE_EBADNAME);
	ck_assert_msg(strstr(err, "WELCOME has an invalid stat name") != NULL,
	    "%s", err);
	copy[6] = 0x7f;
	ck_assert_int_eq(wire_get_welcome(copy, plen, &v, &iv, NULL, err,
	    sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "WELCOME claims") != NULL, "%s", err);
	free(copy);
	snapshot_free(&in);
	snapshot_free(&out);
	wire_buf_free(&b);
}
END_TEST

/* The bytes on the wire, as PROTOCOL.md shows them: big-endian. */
START_TEST(test_byte_order)
{
	static const uint8_t welcome[] = { 0, 0, 0, 11, WIRE_WELCOME,
	    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0, 0, 0, 0 };
	static const uint8_t poll[] = { 0, 0, 0, 5, WIRE_POLL,
	    0xde, 0xad, 0xbe, 0xef };
	static const uint8_t error[] = { 0, 0, 0, 7, WIRE_ERROR,
	    0, WIRE_E_AUTH, 0, 2, 'n', 'o' };
	struct wire_buf	 b;

	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_welcome(&b, 0x0102, 0x03040506, NULL), 0);
	ck_assert_uint_eq(b.len, sizeof welcome);
	ck_assert_mem_eq(b.data, welcome, sizeof welcome);
	wire_buf_consume(&b, b.len);
	ck_assert_int_eq(wire_put_poll(&b, 0xdeadbeef), 0);
	ck_assert_uint_eq(b.len, sizeof poll);
	ck_assert_mem_eq(b.data, poll, sizeof poll);
	wire_buf_consume(&b, b.len);
	ck_assert_int_eq(wire_put_error(&b, WIRE_E_AUTH, "no"), 0);
	ck_assert_uint_eq(b.len, sizeof error);
	ck_assert_mem_eq(b.data, error, sizeof error);
	wire_buf_free(&b);
}
END_TEST

static const uint32_t seqs[] = { 0, 1, 0x80000000U, UINT32_MAX };

START_TEST(test_poll_roundtrip)
{
	struct wire_buf	 b;
	const uint8_t	*pl;
	uint8_t		*copy;
	size_t		 plen;
	uint32_t	 seq;
	char		 err[TALLY_ERRLEN];

	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_poll(&b, seqs[_i]), 0);
	one_frame(&b, WIRE_POLL, &pl, &plen);
	ck_assert_uint_eq(plen, 4);
	copy = dup_bytes(pl, plen);
	ck_assert_int_eq(wire_get_poll(copy, plen, &seq, err, sizeof err), 0);
	ck_assert_uint_eq(seq, seqs[_i]);
	free(copy);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_error_roundtrip)
{
	struct wire_buf	 b;
	const uint8_t	*pl;
	const char	*msg;
	uint8_t		*copy;
	size_t		 plen, mlen;
	uint16_t	 code, want = (uint16_t)_i;
	char		 err[TALLY_ERRLEN], text[64];

	/* Every code of enum wire_error, plus 0 and one nobody knows yet. */
	if (_i == WIRE_E_BUSY + 1)
		want = 65535;
	snprintf(text, sizeof text, "error number %u", want);
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_error(&b, want, text), 0);
	one_frame(&b, WIRE_ERROR, &pl, &plen);
	copy = dup_bytes(pl, plen);
	ck_assert_int_eq(wire_get_error(copy, plen, &code, &msg, &mlen, err,
	    sizeof err), 0);
	ck_assert_uint_eq(code, want);
	ck_assert_uint_eq(mlen, strlen(text));
	ck_assert_mem_eq(msg, text, mlen);
	free(copy);
	wire_buf_free(&b);
}
END_TEST

/* Empty messages pass; long ones are cut to WIRE_ERRMSG_MAX on sending. */
START_TEST(test_error_lengths)
{
	static char	 big[WIRE_ERRMSG_MAX + 100];
	struct wire_buf	 b;
	const uint8_t	*pl;
	const char	*msg;
	size_t		 plen, mlen;
	uint16_t	 code;
	char		 err[TALLY_ERRLEN];

	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_error(&b, WIRE_E_BUSY, ""), 0);
	one_frame(&b, WIRE_ERROR, &pl, &plen);
	ck_assert_int_eq(wire_get_error(pl, plen, &code, &msg, &mlen, err,
	    sizeof err), 0);
	ck_assert_uint_eq(mlen, 0);
	wire_buf_consume(&b, b.len);

	memset(big, 'e', sizeof big - 1);
	ck_assert_int_eq(wire_put_error(&b, WIRE_E_MALFORMED, big), 0);
	one_frame(&b, WIRE_ERROR, &pl, &plen);
	ck_assert_int_eq(wire_get_error(pl, plen, &code, &msg, &mlen, err,
	    sizeof err), 0);
	ck_assert_uint_eq(mlen, WIRE_ERRMSG_MAX);
	wire_buf_free(&b);
}
END_TEST

/*
 * A peer's ERROR longer than WIRE_ERRMSG_MAX is still accepted: msg points
 * into the payload, and the receiver bounds what it logs.
 */
START_TEST(test_error_long_from_peer)
{
	struct pb	 p = { .n = 0 };
	const char	*msg;
	uint8_t		*copy;
	size_t		 mlen;
	uint16_t	 code;
	char		 err[TALLY_ERRLEN];

	pb_u16(&p, WIRE_E_SHUTDOWN);
	pb_u16(&p, 1000);
	memset(p.d + p.n, 'm', 1000);
	p.n += 1000;
	copy = dup_bytes(p.d, p.n);
	ck_assert_int_eq(wire_get_error(copy, p.n, &code, &msg, &mlen, err,
	    sizeof err), 0);
	ck_assert_uint_eq(mlen, 1000);
	ck_assert_ptr_eq(msg, (const char *)copy + 4);
	free(copy);
}
END_TEST

/* SNAPSHOT */

static void
snap_roundtrip(const struct snapshot *s, uint32_t seq, int64_t t)
{
	struct wire_buf	 b;
	struct snapshot	 got;
	const uint8_t	*pl;
	uint8_t		*copy;
	size_t		 plen, i;
	uint32_t	 gseq;
	int64_t		 gt;
	char		 err[TALLY_ERRLEN] = "";

	wire_buf_init(&b);
	snapshot_init(&got);
	ck_assert_int_eq(wire_put_snapshot(&b, seq, t, s), 0);
	one_frame(&b, WIRE_SNAPSHOT, &pl, &plen);
	copy = dup_bytes(pl, plen);
	ck_assert_msg(wire_get_snapshot(copy, plen, &gseq, &gt, &got, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(gseq, seq);
	ck_assert(gt == t);
	ck_assert_uint_eq(got.ncounters, s->ncounters);
	ck_assert_uint_eq(got.nstats, s->nstats);
	for (i = 0; i < s->ncounters; i++) {
		ck_assert_uint_eq(got.counters[i].nlen, s->counters[i].nlen);
		ck_assert_str_eq(snapshot_name(&got, &got.counters[i]),
		    snapshot_name(s, &s->counters[i]));
		ck_assert(got.counters[i].v.i == s->counters[i].v.i);
	}
	/* Bit for bit: NaN payloads, the sign of zero, denormals. */
	for (i = 0; i < s->nstats; i++) {
		ck_assert_uint_eq(got.stats[i].nlen, s->stats[i].nlen);
		ck_assert_str_eq(snapshot_name(&got, &got.stats[i]),
		    snapshot_name(s, &s->stats[i]));
		ck_assert_msg(dbits(got.stats[i].v.d) == dbits(s->stats[i].v.d),
		    "stat %zu: %a != %a", i, got.stats[i].v.d, s->stats[i].v.d);
	}
	free(copy);
	snapshot_free(&got);
	wire_buf_free(&b);
}

START_TEST(test_snapshot_empty)
{
	struct snapshot	 s;
	struct wire_buf	 b;
	const uint8_t	*pl;
	size_t		 plen;

	snapshot_init(&s);
	snap_roundtrip(&s, 0, 0);
	snap_roundtrip(&s, UINT32_MAX, INT64_MIN);
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_snapshot(&b, 1, 2, &s), 0);
	one_frame(&b, WIRE_SNAPSHOT, &pl, &plen);
	ck_assert_uint_eq(plen, 4 + 8 + 4 + 4);
	wire_buf_free(&b);
	snapshot_free(&s);
}
END_TEST

static const int64_t ivals[] = {
	0, 1, -1, INT64_MIN, INT64_MAX, INT64_MIN + 1, 0x0102030405060708LL,
	-4294967296LL,
};

static const uint64_t dvals[] = {
	0x7ff8000000000000ULL,	/* NaN */
	0xfff8000000000123ULL,	/* -NaN with a payload */
	0x7ff0000000000000ULL,	/* inf */
	0xfff0000000000000ULL,	/* -inf */
	0x8000000000000000ULL,	/* -0.0 */
	0x0000000000000000ULL,	/* 0.0 */
	0x0000000000000001ULL,	/* the smallest denormal */
	0x0010000000000000ULL,	/* DBL_MIN */
	0x7fefffffffffffffULL,	/* DBL_MAX */
	0x3fb999999999999aULL,	/* 0.1 */
	0xbff0000000000000ULL,	/* -1 */
};

START_TEST(test_snapshot_values)
{
	struct snapshot	 s;
	char		 name[TALLY_STAT_NAME_MAX + 1];
	size_t		 i;

	snapshot_init(&s);
	for (i = 0; i < sizeof ivals / sizeof ivals[0]; i++) {
		make_name(name, 1 + i * 36 % TALLY_STAT_NAME_MAX, i);
		ck_assert_int_eq(snapshot_add_counter(&s, name, strlen(name),
		    ivals[i]), 0);
	}
	for (i = 0; i < sizeof dvals / sizeof dvals[0]; i++) {
		make_name(name, TALLY_STAT_NAME_MAX, i);
		ck_assert_int_eq(snapshot_add_stat(&s, name, strlen(name),
		    bitsd(dvals[i])), 0);
	}
	snap_roundtrip(&s, 42, 1764093000);
	snap_roundtrip(&s, 43, -1);
	snapshot_free(&s);
}
END_TEST

/* 10,000 counters and 10,000 stats, names of every length 1..255. */
START_TEST(test_snapshot_many)
{
	struct snapshot	 s;
	char		 name[TALLY_STAT_NAME_MAX + 1];
	size_t		 i;

	snapshot_init(&s);
	for (i = 0; i < 10000; i++) {
		make_name(name, 1 + i % TALLY_STAT_NAME_MAX, i);
		ck_assert_int_eq(snapshot_add_counter(&s, name, strlen(name),
		    (int64_t)(i * 2654435761U) - (int64_t)i * i), 0);
		ck_assert_int_eq(snapshot_add_stat(&s, name, strlen(name),
		    i % 7 == 0 ? NAN : (double)i / 3), 0);
	}
	snap_roundtrip(&s, 7, 1);
	snapshot_free(&s);
}
END_TEST

/*
 * Fill a snapshot whose SNAPSHOT frame (type + payload) is exactly extra
 * bytes over WIRE_FRAME_MAX (extra may be 0): 255-char names, then one
 * shorter name to land on the byte.
 */
static void
snap_of_frame_size(struct snapshot *s, size_t extra)
{
	char	 name[TALLY_STAT_NAME_MAX + 1];
	size_t	 left = WIRE_FRAME_MAX + extra - 1 - 20, i = 0, ent;

	while (left > 0) {
		if (left <= 264)
			ent = left;		/* the last one */
		else if (left - 264 < 10)
			ent = left - 10;	/* leave the last one >= 10 */
		else
			ent = 264;
		make_name(name, ent - 9, i++);
		ck_assert_int_eq(snapshot_add_counter(s, name, ent - 9,
		    (int64_t)i), 0);
		left -= ent;
	}
}

START_TEST(test_snapshot_frame_max)
{
	struct snapshot	 s, got;
	struct wire_buf	 b;
	const uint8_t	*pl;
	size_t		 plen;
	uint32_t	 seq;
	int64_t		 t;
	char		 err[TALLY_ERRLEN] = "";

	snapshot_init(&s);
	snapshot_init(&got);
	wire_buf_init(&b);
	snap_of_frame_size(&s, 0);
	ck_assert_int_eq(wire_put_snapshot(&b, 1, 2, &s), 0);
	ck_assert_uint_eq(b.len, WIRE_LENGTH + WIRE_FRAME_MAX);
	one_frame(&b, WIRE_SNAPSHOT, &pl, &plen);
	ck_assert_msg(wire_get_snapshot(pl, plen, &seq, &t, &got, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(got.ncounters, s.ncounters);

	/* One byte more: refused, and nothing appended. */
	snapshot_reset(&s);
	snap_of_frame_size(&s, 1);
	wire_buf_consume(&b, b.len);
	ck_assert_int_eq(wire_put_poll(&b, 1), 0);
	ck_assert_int_eq(wire_put_snapshot(&b, 1, 2, &s), TALLY_ELIMIT);
	ck_assert_uint_eq(b.len, WIRE_LENGTH + 5);
	snapshot_free(&s);
	snapshot_free(&got);
	wire_buf_free(&b);
}
END_TEST

/* wire_frame */

/* One frame of each type, back to back, in type order. */
static void
all_frames(struct wire_buf *b, size_t *ends)
{
	struct wire_hello	 h;
	struct snapshot		 s;
	int			 k = 0;

	snapshot_init(&s);
	ck_assert_int_eq(snapshot_add_counter(&s, "a.b", 3, -5), 0);
	ck_assert_int_eq(snapshot_add_stat(&s, "c:d", 3, 0.5), 0);
	hello_fields(&hellos[0], &h);
	ck_assert_int_eq(wire_put_hello(b, &h), 0);
	ends[k++] = b->len;
	ck_assert_int_eq(wire_put_welcome(b, 1, 60000, NULL), 0);
	ends[k++] = b->len;
	ck_assert_int_eq(wire_put_poll(b, 9), 0);
	ends[k++] = b->len;
	ck_assert_int_eq(wire_put_snapshot(b, 9, 100, &s), 0);
	ends[k++] = b->len;
	ck_assert_int_eq(wire_put_error(b, WIRE_E_SHUTDOWN, "bye"), 0);
	ends[k++] = b->len;
	snapshot_free(&s);
}

/* Every prefix of a frame is "need more"; the whole frame is its size. */
START_TEST(test_frame_prefixes)
{
	struct wire_buf	 b;
	size_t		 ends[5], start, i, plen;
	const uint8_t	*pl;
	uint8_t		 type, *copy;
	long		 n;

	wire_buf_init(&b);
	all_frames(&b, ends);
	start = _i == 0 ? 0 : ends[_i - 1];
	for (i = 0; i < ends[_i] - start; i++) {
		copy = dup_bytes(b.data + start, i);
		ck_assert_msg(wire_frame(copy, i, &type, &pl, &plen) == 0,
		    "type %d prefix %zu", _i + 1, i);
		free(copy);
	}
	copy = dup_bytes(b.data + start, ends[_i] - start);
	n = wire_frame(copy, ends[_i] - start, &type, &pl, &plen);
	ck_assert_int_eq(n, (long)(ends[_i] - start));
	ck_assert_uint_eq(type, _i + 1);
	ck_assert_ptr_eq(pl, copy + WIRE_LENGTH + 1);
	ck_assert_uint_eq(plen, ends[_i] - start - WIRE_LENGTH - 1);
	free(copy);
	wire_buf_free(&b);
}
END_TEST

/* Frames back to back are split where they end, and each one parses. */
START_TEST(test_frame_back_to_back)
{
	struct wire_buf		 b;
	struct wire_hello	 h;
	struct snapshot		 s;
	size_t			 ends[5], off = 0, plen, mlen;
	const uint8_t		*pl;
	const char		*msg;
	uint8_t			 type;
	uint16_t		 u16;
	uint32_t		 u32;
	int64_t			 t;
	int			 k;
	long			 n;
	char			 err[TALLY_ERRLEN];

	wire_buf_init(&b);
	snapshot_init(&s);
	all_frames(&b, ends);
	for (k = 0; k < 5; k++) {
		n = wire_frame(b.data + off, b.len - off, &type, &pl, &plen);
		ck_assert_int_eq(n, (long)(ends[k] - off));
		ck_assert_uint_eq(type, k + 1);
		switch (type) {
		case WIRE_HELLO:
			ck_assert_int_eq(wire_get_hello(pl, plen, &h, err,
			    sizeof err), 0);
			ck_assert_mem_eq(h.node_id, "node-1", 6);
			break;
		case WIRE_WELCOME:
			ck_assert_int_eq(wire_get_welcome(pl, plen, &u16, &u32,
			    NULL, err, sizeof err), 0);
			ck_assert_uint_eq(u32, 60000);
			break;
		case WIRE_POLL:
			ck_assert_int_eq(wire_get_poll(pl, plen, &u32, err,
			    sizeof err), 0);
			ck_assert_uint_eq(u32, 9);
			break;
		case WIRE_SNAPSHOT:
			ck_assert_int_eq(wire_get_snapshot(pl, plen, &u32, &t,
			    &s, err, sizeof err), 0);
			ck_assert_uint_eq(s.ncounters, 1);
			ck_assert_uint_eq(s.nstats, 1);
			ck_assert(s.stats[0].v.d == 0.5);
			break;
		case WIRE_ERROR:
			ck_assert_int_eq(wire_get_error(pl, plen, &u16, &msg,
			    &mlen, err, sizeof err), 0);
			ck_assert_uint_eq(mlen, 3);
			break;
		}
		off += (size_t)n;
	}
	ck_assert_uint_eq(off, b.len);
	ck_assert_int_eq(wire_frame(b.data + off, 0, &type, &pl, &plen), 0);

	/* The same, consuming from the buffer as a connection would. */
	for (k = 0; k < 5; k++) {
		n = wire_frame(b.data, b.len, &type, &pl, &plen);
		ck_assert_uint_eq(type, k + 1);
		wire_buf_consume(&b, (size_t)n);
	}
	ck_assert_uint_eq(b.len, 0);
	snapshot_free(&s);
	wire_buf_free(&b);
}
END_TEST

struct bad_len {
	uint32_t	 len;
	size_t		 have;	/* bytes of the frame on hand */
	long		 rc;
};

/*
 * A bad length is fatal as soon as its 4 bytes are in: the receiver must
 * not wait for 4 GiB that will never be a frame.
 */
static const struct bad_len bad_lens[] = {
	{ 0, 4, TALLY_EINVAL },
	{ 0, 16, TALLY_EINVAL },
	{ WIRE_FRAME_MAX + 1, 4, TALLY_ELIMIT },
	{ WIRE_FRAME_MAX + 1, 16, TALLY_ELIMIT },
	{ 0x80000000U, 4, TALLY_ELIMIT },
	{ UINT32_MAX, 4, TALLY_ELIMIT },
	{ WIRE_FRAME_MAX, 4, 0 },	/* the maximum: need more */
	{ WIRE_FRAME_MAX, 16, 0 },
	{ 1, 4, 0 },
	{ 1, 5, 5 },			/* a type byte and no payload */
};

START_TEST(test_frame_lengths)
{
	const struct bad_len	*c = &bad_lens[_i];
	uint8_t			 buf[16] = { 0 }, *copy, type;
	const uint8_t		*pl;
	size_t			 plen;

	buf[0] = c->len >> 24;
	buf[1] = c->len >> 16;
	buf[2] = c->len >> 8;
	buf[3] = c->len;
	buf[4] = WIRE_POLL;
	copy = dup_bytes(buf, c->have);
	ck_assert_int_eq(wire_frame(copy, c->have, &type, &pl, &plen), c->rc);
	if (c->rc > 0)
		ck_assert_uint_eq(plen, 0);
	free(copy);
}
END_TEST

/* wire_peek, wire_type_name, wire_peek_version, wire_peek_snapshot */

/*
 * Every prefix of a frame: nothing known before the length, the length
 * alone with four bytes, the frame's size (the one wire_frame takes) and
 * its type from five on, whole or not.
 */
START_TEST(test_peek_prefixes)
{
	struct wire_buf	 b;
	size_t		 ends[5], start, i, total;
	uint32_t	 flen;
	uint8_t		 type, *copy;
	long		 n;

	wire_buf_init(&b);
	all_frames(&b, ends);
	start = _i == 0 ? 0 : ends[_i - 1];
	total = ends[_i] - start;
	for (i = 0; i <= total; i++) {
		copy = dup_bytes(b.data + start, i);
		type = 0xee;
		flen = 0xeeeeeeee;
		n = wire_peek(copy, i, &type, &flen);
		if (i < WIRE_LENGTH) {
			ck_assert_int_eq(n, 0);
			ck_assert_uint_eq(flen, 0);
			ck_assert_uint_eq(type, 0);
		} else if (i == WIRE_LENGTH) {
			ck_assert_int_eq(n, 0);
			ck_assert_uint_eq(flen, total - WIRE_LENGTH);
			ck_assert_uint_eq(type, 0);
		} else {
			ck_assert_msg(n == (long)total, "type %d prefix %zu: "
			    "%ld", _i + 1, i, n);
			ck_assert_uint_eq(flen, total - WIRE_LENGTH);
			ck_assert_uint_eq(type, _i + 1);
		}
		free(copy);
	}
	wire_buf_free(&b);
}
END_TEST

struct peek_case {
	uint32_t	 len;
	uint8_t		 type;
	size_t		 have;	/* bytes of the frame on hand */
	long		 rc;
	uint32_t	 flen;	/* as peeked */
	uint8_t		 ptype;	/* as peeked */
};

/*
 * Bad lengths are judged from four bytes, bad types from five; a good
 * header gives the frame's size before its body is in.
 */
static const struct peek_case peek_cases[] = {
	{ 0, WIRE_POLL, 3, 0, 0, 0 },
	{ 0, WIRE_POLL, 4, TALLY_EINVAL, 0, 0 },
	{ 0, WIRE_POLL, 5, TALLY_EINVAL, 0, 0 },
	{ WIRE_FRAME_MAX + 1, WIRE_POLL, 4, TALLY_ELIMIT,
	    WIRE_FRAME_MAX + 1, 0 },
	{ WIRE_FRAME_MAX + 1, WIRE_POLL, 16, TALLY_ELIMIT,
	    WIRE_FRAME_MAX + 1, 0 },
	/* A TLS ClientHello's record header, where a length should be. */
	{ 0x16030100, 0x02, 5, TALLY_ELIMIT, 0x16030100, 0 },
	{ UINT32_MAX, WIRE_POLL, 4, TALLY_ELIMIT, UINT32_MAX, 0 },
	{ WIRE_FRAME_MAX, WIRE_SNAPSHOT, 4, 0, WIRE_FRAME_MAX, 0 },
	{ WIRE_FRAME_MAX, WIRE_SNAPSHOT, 5, WIRE_LENGTH + WIRE_FRAME_MAX,
	    WIRE_FRAME_MAX, WIRE_SNAPSHOT },
	{ 1, WIRE_HELLO, 5, 5, 1, WIRE_HELLO },
	{ 5, WIRE_POLL, 6, 9, 5, WIRE_POLL },
	{ 5, WIRE_ERROR, 16, 9, 5, WIRE_ERROR },
	{ 1, 0, 5, TALLY_EINVAL, 1, 0 },
	{ 1, WIRE_ERROR + 1, 5, TALLY_EINVAL, 1, WIRE_ERROR + 1 },
	{ 9, 0xff, 16, TALLY_EINVAL, 9, 0xff },
};

START_TEST(test_peek_headers)
{
	const struct peek_case	*c = &peek_cases[_i];
	uint8_t			 buf[16] = { 0 }, *copy, type;
	uint32_t		 flen;

	buf[0] = c->len >> 24;
	buf[1] = c->len >> 16;
	buf[2] = c->len >> 8;
	buf[3] = c->len;
	buf[4] = c->type;
	copy = dup_bytes(buf, c->have);
	ck_assert_int_eq(wire_peek(copy, c->have, &type, &flen), c->rc);
	ck_assert_uint_eq(flen, c->flen);
	ck_assert_uint_eq(type, c->ptype);
	free(copy);
}
END_TEST

START_TEST(test_type_names)
{
	static const char *want[] = { "?", "HELLO", "WELCOME", "POLL",
	    "SNAPSHOT", "ERROR" };
	unsigned	 t;

	for (t = 0; t < 256; t++)
		ck_assert_str_eq(wire_type_name((uint8_t)t),
		    t < N(want) ? want[t] : "?");
}
END_TEST

/* The version leads HELLO and WELCOME: two bytes, or nothing known. */
START_TEST(test_peek_version)
{
	struct wire_buf		 b;
	struct wire_hello	 h;
	const uint8_t		*pl;
	uint8_t			*copy;
	size_t			 plen, i;
	uint16_t		 v;

	wire_buf_init(&b);
	hello_fields(&hellos[0], &h);
	h.version = 0x1234;
	ck_assert_int_eq(wire_put_hello(&b, &h), 0);
	one_frame(&b, WIRE_HELLO, &pl, &plen);
	for (i = 0; i <= plen; i++) {
		copy = dup_bytes(pl, i);
		v = 0xeeee;
		if (i < 2) {
			ck_assert_int_eq(wire_peek_version(copy, i, &v),
			    TALLY_EINVAL);
			ck_assert_uint_eq(v, 0);
		} else {
			ck_assert_int_eq(wire_peek_version(copy, i, &v), 0);
			ck_assert_uint_eq(v, 0x1234);
		}
		free(copy);
	}
	wire_buf_free(&b);
	ck_assert_int_eq(wire_put_welcome(&b, 7, 60000, NULL), 0);
	one_frame(&b, WIRE_WELCOME, &pl, &plen);
	copy = dup_bytes(pl, plen);
	ck_assert_int_eq(wire_peek_version(copy, plen, &v), 0);
	ck_assert_uint_eq(v, 7);
	free(copy);
	wire_buf_free(&b);
}
END_TEST

/* A SNAPSHOT's seq from 4 bytes on, its count of counters from 16. */
START_TEST(test_peek_snapshot)
{
	struct wire_buf	 b;
	struct snapshot	 s;
	const uint8_t	*pl;
	uint8_t		*copy;
	size_t		 plen, i;
	uint32_t	 seq, nc;
	int		 lead;

	wire_buf_init(&b);
	snapshot_init(&s);
	ck_assert_int_eq(snapshot_add_counter(&s, "a.b", 3, -5), 0);
	ck_assert_int_eq(snapshot_add_counter(&s, "a.c", 3, 6), 0);
	ck_assert_int_eq(snapshot_add_stat(&s, "c:d", 3, 0.5), 0);
	ck_assert_int_eq(wire_put_snapshot(&b, 0xfedcba98, 100, &s), 0);
	one_frame(&b, WIRE_SNAPSHOT, &pl, &plen);
	for (i = 0; i <= plen; i++) {
		copy = dup_bytes(pl, i);
		seq = nc = 0xeeeeeeee;
		lead = wire_peek_snapshot(copy, i, &seq, &nc);
		ck_assert_int_eq(lead, i < 4 ? 0 : i < 16 ? 1 : 2);
		ck_assert_uint_eq(seq, i < 4 ? 0 : 0xfedcba98);
		ck_assert_uint_eq(nc, i < 16 ? 0 : 2);
		free(copy);
	}
	snapshot_free(&s);
	wire_buf_free(&b);
}
END_TEST

/* Malformed payloads */

/* A HELLO cut short at every byte is refused, never read past. */
START_TEST(test_hello_truncated)
{
	struct wire_buf		 b;
	struct wire_hello	 h, got;
	const uint8_t		*pl;
	uint8_t			*copy;
	size_t			 plen, i;
	char			 err[TALLY_ERRLEN];

	fill_names();
	hello_fields(&hellos[_i], &h);
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_hello(&b, &h), 0);
	one_frame(&b, WIRE_HELLO, &pl, &plen);
	for (i = 0; i < plen; i++) {
		copy = dup_bytes(pl, i);
		err[0] = '\0';
		ck_assert_msg(wire_get_hello(copy, i, &got, err, sizeof err) ==
		    TALLY_EINVAL, "prefix %zu of %zu accepted", i, plen);
		ck_assert_msg(strstr(err, "truncated") != NULL, "%s", err);
		free(copy);
	}
	wire_buf_free(&b);
}
END_TEST

/* The same for SNAPSHOT, at every byte of a frame with both kinds. */
START_TEST(test_snapshot_truncated)
{
	struct wire_buf	 b;
	struct snapshot	 s, got;
	const uint8_t	*pl;
	uint8_t		*copy;
	size_t		 plen, i;
	uint32_t	 seq;
	int64_t		 t;
	char		 err[TALLY_ERRLEN], name[TALLY_STAT_NAME_MAX + 1];
	int		 k;

	snapshot_init(&s);
	snapshot_init(&got);
	for (k = 0; k < 3; k++) {
		make_name(name, k == 2 ? TALLY_STAT_NAME_MAX : 5, (size_t)k);
		ck_assert_int_eq(snapshot_add_counter(&s, name, strlen(name),
		    k), 0);
		ck_assert_int_eq(snapshot_add_stat(&s, name, strlen(name),
		    -k), 0);
	}
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_snapshot(&b, 5, 6, &s), 0);
	one_frame(&b, WIRE_SNAPSHOT, &pl, &plen);
	for (i = 0; i < plen; i++) {
		copy = dup_bytes(pl, i);
		err[0] = '\0';
		snapshot_reset(&got);
		ck_assert_msg(wire_get_snapshot(copy, i, &seq, &t, &got, err,
		    sizeof err) == TALLY_EINVAL, "prefix %zu of %zu accepted",
		    i, plen);
		ck_assert_msg(strstr(err, "truncated") != NULL ||
		    strstr(err, "claims") != NULL, "prefix %zu: '%s'", i, err);
		free(copy);
	}
	wire_buf_free(&b);
	snapshot_free(&s);
	snapshot_free(&got);
}
END_TEST

/* WELCOME, POLL and ERROR cut short, down to nothing. */
static const uint8_t small_types[] = { WIRE_WELCOME, WIRE_POLL, WIRE_ERROR };

START_TEST(test_small_truncated)
{
	struct wire_buf	 b;
	const uint8_t	*pl;
	const char	*msg;
	uint8_t		*copy, type;
	size_t		 plen, i, ends[5], start, mlen;
	uint16_t	 u16;
	uint32_t	 u32;
	char		 err[TALLY_ERRLEN];
	int		 rc = 0;

	wire_buf_init(&b);
	all_frames(&b, ends);
	start = ends[small_types[_i] - 2];
	ck_assert_int_gt(wire_frame(b.data + start, b.len - start, &type, &pl,
	    &plen), 0);
	ck_assert_uint_eq(type, small_types[_i]);
	for (i = 0; i < plen; i++) {
		copy = dup_bytes(pl, i);
		err[0] = '\0';
		if (type == WIRE_WELCOME)
			rc = wire_get_welcome(copy, i, &u16, &u32, NULL, err,
			    sizeof err);
		else if (type == WIRE_POLL)
			rc = wire_get_poll(copy, i, &u32, err, sizeof err);
		else
			rc = wire_get_error(copy, i, &u16, &msg, &mlen, err,
			    sizeof err);
		ck_assert_msg(rc == TALLY_EINVAL, "type %u prefix %zu", type,
		    i);
		ck_assert_msg(strstr(err, "truncated") != NULL, "%s", err);
		free(copy);
	}
	wire_buf_free(&b);
}
END_TEST

/* A valid payload with one byte more is not that frame. */
START_TEST(test_trailing_junk)
{
	struct wire_buf		 b;
	struct wire_hello	 h;
	struct snapshot		 s;
	size_t			 ends[5], start, plen, mlen;
	const uint8_t		*pl;
	const char		*msg;
	uint8_t			*copy, type;
	uint16_t		 u16;
	uint32_t		 u32;
	int64_t			 t;
	char			 err[TALLY_ERRLEN] = "";
	int			 rc = 0;

	wire_buf_init(&b);
	snapshot_init(&s);
	all_frames(&b, ends);
	start = _i == 0 ? 0 : ends[_i - 1];
	ck_assert_int_gt(wire_frame(b.data + start, b.len - start, &type, &pl,
	    &plen), 0);
	copy = malloc(plen + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, pl, plen);
	copy[plen] = 0;
	switch (type) {
	case WIRE_HELLO:
		rc = wire_get_hello(copy, plen + 1, &h, err, sizeof err);
		break;
	case WIRE_WELCOME:
		rc = wire_get_welcome(copy, plen + 1, &u16, &u32, NULL, err,
		    sizeof err);
		break;
	case WIRE_POLL:
		rc = wire_get_poll(copy, plen + 1, &u32, err, sizeof err);
		break;
	case WIRE_SNAPSHOT:
		rc = wire_get_snapshot(copy, plen + 1, &u32, &t, &s, err,
		    sizeof err);
		break;
	case WIRE_ERROR:
		rc = wire_get_error(copy, plen + 1, &u16, &msg, &mlen, err,
		    sizeof err);
		break;
	}
	ck_assert_int_eq(rc, TALLY_EINVAL);
	/* One byte more: said so, in the singular. */
	ck_assert_msg(strstr(err, "frame has 1 trailing byte") != NULL &&
	    strstr(err, "bytes") == NULL, "%s", err);
	free(copy);
	snapshot_free(&s);
	wire_buf_free(&b);
}
END_TEST

/*
 * Hand-made SNAPSHOT payloads that lie: counts that claim more entries
 * than the bytes can hold, names the database would refuse.
 */
struct bad_snap {
	const char	*what;
	uint32_t	 ncounters;
	const char	*cname;		/* NULL: no counter entry written */
	size_t		 cnlen;
	uint32_t	 nstats;	/* UINT32_MAX - 1: no nstats field */
	const char	*sname;
	size_t		 snlen;
	const char	*word;
};

#define NO_NSTATS (UINT32_MAX - 1)

static const struct bad_snap bad_snaps[] = {
	{ "counters claimed, none sent", 1, NULL, 0, NO_NSTATS, NULL, 0,
	    "claims" },
	{ "4 billion counters", UINT32_MAX, "a", 1, 0, NULL, 0, "claims" },
	{ "2 counters, 1 sent", 2, "a", 1, 0, NULL, 0, "claims 2 counters" },
	{ "4 billion stats", 0, NULL, 0, UINT32_MAX, "a", 1, "claims" },
	{ "2 stats, 1 sent", 0, NULL, 0, 2, "a", 1, "claims" },
	{ "stats claimed, none sent", 0, NULL, 0, 1, NULL, 0, "claims" },
	{ "no nstats", 0, NULL, 0, NO_NSTATS, NULL, 0, "truncated" },
	{ "empty counter name", 1, "", 0, 0, NULL, 0, "invalid stat name" },
	/* 9 bytes cannot hold a valid entry: the count check sees it first */
	{ "empty stat name, last", 0, NULL, 0, 1, "", 0, "claims" },
	{ "space", 1, "a b", 3, 0, NULL, 0, "invalid stat name" },
	{ "slash", 1, "node/x", 6, 0, NULL, 0, "invalid stat name" },
	{ "slash in stat", 0, NULL, 0, 1, "../x", 4, "invalid stat name" },
	{ "non-ASCII", 1, "caf\xc3\xa9", 5, 0, NULL, 0, "invalid stat name" },
	{ "NUL", 0, NULL, 0, 1, "a\0b", 3, "invalid stat name" },
	{ "newline", 1, "a\nb", 3, 0, NULL, 0, "invalid stat name" },
	{ "DEL", 0, NULL, 0, 1, "a\x7f", 2, "invalid stat name" },
	{ "equals", 1, "a=b", 3, 0, NULL, 0, "invalid stat name" },
};

START_TEST(test_snapshot_bad)
{
	const struct bad_snap	*c = &bad_snaps[_i];
	struct pb		 p = { .n = 0 };
	struct snapshot		 s;
	uint8_t			*copy;
	uint32_t		 seq;
	int64_t			 t;
	char			 err[TALLY_ERRLEN] = "";
	size_t			 i;

	pb_u32(&p, 1);
	pb_u64(&p, 2);
	pb_u32(&p, c->ncounters);
	if (c->cname != NULL) {
		pb_str(&p, c->cname, c->cnlen);
		pb_u64(&p, 3);
	}
	if (c->nstats != NO_NSTATS)
		pb_u32(&p, c->nstats);
	if (c->sname != NULL) {
		pb_str(&p, c->sname, c->snlen);
		pb_u64(&p, 4);
	}
	snapshot_init(&s);
	copy = dup_bytes(p.d, p.n);
	/* A bad name has its own code, so a gatherer can answer ERROR name. */
	ck_assert_int_eq(wire_get_snapshot(copy, p.n, &seq, &t, &s, err,
	    sizeof err), strstr(c->word, "invalid stat name") != NULL ?
	    WIRE_EBADNAME : TALLY_EINVAL);
	ck_assert_msg(strstr(err, c->word) != NULL, "%s: '%s' lacks '%s'",
	    c->what, err, c->word);
	/* The peer's bytes reach the message only as printable ASCII. */
	for (i = 0; err[i] != '\0'; i++)
		ck_assert_msg(err[i] >= 0x20 && err[i] < 0x7f,
		    "%s: raw byte 0x%02x in '%s'", c->what,
		    (unsigned char)err[i], err);
	free(copy);
	snapshot_free(&s);
}
END_TEST

/* HELLO fields whose length byte runs past the payload. */
START_TEST(test_hello_lying_lengths)
{
	struct pb		 p;
	struct wire_hello	 h;
	uint8_t			*copy;
	char			 err[TALLY_ERRLEN] = "";
	int			 field;

	for (field = 0; field < 3; field++) {
		p.n = 0;
		pb_u16(&p, 1);
		pb_str(&p, "abcdefghijklmnop", 16);
		pb_str(&p, "node", 4);
		pb_str(&p, "nick", 4);
		/* Say one byte more than is there, in field 0, 1 or 2. */
		p.d[2 + (field > 0 ? 17 : 0) + (field > 1 ? 5 : 0)]++;
		copy = dup_bytes(p.d, p.n);
		ck_assert_int_eq(wire_get_hello(copy, p.n, &h, err,
		    sizeof err), TALLY_EINVAL);
		ck_assert_msg(strstr(err, "truncated") != NULL, "%s", err);
		free(copy);
	}
}
END_TEST

/*
 * Random and mutated payloads through every parser: only 0 or
 * TALLY_EINVAL, never a crash or a read past the end.  Seeded, so a
 * failure repeats.
 */
START_TEST(test_random_payloads)
{
	struct wire_buf		 b;
	struct wire_hello	 h;
	struct snapshot		 s;
	size_t			 ends[5], len, i, mlen;
	const char		*msg;
	uint8_t			*copy;
	uint16_t		 u16;
	uint32_t		 u32;
	int64_t			 t;
	unsigned		 seed = 20261125;
	char			 err[TALLY_ERRLEN];
	int			 round, rc;

	wire_buf_init(&b);
	snapshot_init(&s);
	all_frames(&b, ends);
	for (round = 0; round < 20000; round++) {
		if (round % 2 == 0) {
			/* A valid frame's payload with a byte or two changed. */
			size_t k = (size_t)rand_r(&seed) % 5;
			size_t start = k == 0 ? 0 : ends[k - 1];
			len = ends[k] - start - WIRE_LENGTH - 1;
			copy = dup_bytes(b.data + start + WIRE_LENGTH + 1, len);
			for (i = 0; i < 2 && len > 0; i++)
				copy[(size_t)rand_r(&seed) % len] =
				    (uint8_t)rand_r(&seed);
			if (rand_r(&seed) % 4 == 0 && len > 0)
				len = (size_t)rand_r(&seed) % len;
		} else {
			len = (size_t)rand_r(&seed) % 64;
			copy = dup_bytes(b.data, len);
			for (i = 0; i < len; i++)
				copy[i] = (uint8_t)rand_r(&seed);
		}
		rc = wire_get_hello(copy, len, &h, err, sizeof err);
		ck_assert(rc == 0 || rc == TALLY_EINVAL);
		if (rc == 0)
			ck_assert(h.nickname + h.nick_len <=
			    (const char *)copy + len);
		rc = wire_get_welcome(copy, len, &u16, &u32, NULL, err,
		    sizeof err);
		ck_assert(rc == 0 || rc == TALLY_EINVAL || rc == WIRE_EBADNAME);
		rc = wire_get_poll(copy, len, &u32, err, sizeof err);
		ck_assert(rc == 0 || rc == TALLY_EINVAL);
		snapshot_reset(&s);
		rc = wire_get_snapshot(copy, len, &u32, &t, &s, err,
		    sizeof err);
		ck_assert(rc == 0 || rc == TALLY_EINVAL ||
		    rc == WIRE_EBADNAME);
		rc = wire_get_error(copy, len, &u16, &msg, &mlen, err,
		    sizeof err);
		ck_assert(rc == 0 || rc == TALLY_EINVAL);
		if (rc == 0)
			ck_assert(msg + mlen <= (const char *)copy + len);
		free(copy);
	}
	snapshot_free(&s);
	wire_buf_free(&b);
}
END_TEST

/* wire_buf */

START_TEST(test_buf)
{
	struct wire_buf	 b;
	size_t		 i;

	wire_buf_init(&b);
	ck_assert_uint_eq(b.len, 0);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(wire_put_poll(&b, (uint32_t)i), 0);
	ck_assert_uint_eq(b.len, 1000 * 9);
	ck_assert_uint_ge(b.cap, b.len);
	wire_buf_consume(&b, 9 * 999);
	ck_assert_uint_eq(b.len, 9);
	ck_assert_uint_eq(b.data[8], 999 & 0xff);
	wire_buf_consume(&b, 100);	/* more than there is */
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(wire_buf_reserve(&b, 1 << 20), 0);
	ck_assert_uint_ge(b.cap - b.len, 1 << 20);
	ck_assert_int_eq(wire_buf_reserve(&b, SIZE_MAX - 8), TALLY_ENOMEM);
	wire_buf_free(&b);
	ck_assert_ptr_null(b.data);
	wire_buf_free(&b);		/* twice is harmless */
}
END_TEST

int
main(void)
{
	/* roundtrip, malformed: 8 MiB frames under valgrind take a while. */
	const struct fixture_test	 tests[] = {
		{ "roundtrip", test_hello_roundtrip, N(hellos), 300 },
		{ "roundtrip", test_hello_real_maxima, 0, 300 },
		{ "roundtrip", test_hello_put_too_long, 0, 300 },
		{ "roundtrip", test_hello_names_not_validated, 0, 300 },
		{ "roundtrip", test_welcome_roundtrip, N(welcomes), 300 },
		{ "roundtrip", test_welcome_counters, 0, 300 },
		{ "roundtrip", test_byte_order, 0, 300 },
		{ "roundtrip", test_poll_roundtrip, N(seqs), 300 },
		{ "roundtrip", test_error_roundtrip, WIRE_E_BUSY + 2, 300 },
		{ "roundtrip", test_error_lengths, 0, 300 },
		{ "roundtrip", test_error_long_from_peer, 0, 300 },
		{ "roundtrip", test_snapshot_empty, 0, 300 },
		{ "roundtrip", test_snapshot_values, 0, 300 },
		{ "roundtrip", test_snapshot_many, 0, 300 },
		{ "roundtrip", test_snapshot_frame_max, 0, 300 },
		{ "roundtrip", test_buf, 0, 300 },
		{ "frame", test_frame_prefixes, 5, FIXTURE_TIMEOUT },
		{ "frame", test_frame_back_to_back, 0, FIXTURE_TIMEOUT },
		{ "frame", test_frame_lengths, N(bad_lens), FIXTURE_TIMEOUT },
		{ "frame", test_peek_prefixes, 5, FIXTURE_TIMEOUT },
		{ "frame", test_peek_headers, N(peek_cases), FIXTURE_TIMEOUT },
		{ "frame", test_type_names, 0, FIXTURE_TIMEOUT },
		{ "frame", test_peek_version, 0, FIXTURE_TIMEOUT },
		{ "frame", test_peek_snapshot, 0, FIXTURE_TIMEOUT },
		{ "malformed", test_hello_truncated, N(hellos), 300 },
		{ "malformed", test_snapshot_truncated, 0, 300 },
		{ "malformed", test_small_truncated, N(small_types), 300 },
		{ "malformed", test_trailing_junk, 5, 300 },
		{ "malformed", test_snapshot_bad, N(bad_snaps), 300 },
		{ "malformed", test_hello_lying_lengths, 0, 300 },
		{ "malformed", test_random_payloads, 0, 300 },
	};

	return fixture_main("wire", tests, N(tests), NULL, 0);
}
