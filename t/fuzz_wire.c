/*
 * fuzz_wire.c: libFuzzer target for the frame decoder of tally-protocol.h.
 *
 * The input is a byte stream as a peer would send it.  wire_frame cuts it
 * into frames, as the gatherer and a provider do, and every payload goes
 * through every wire_get_* (the type byte is the peer's word, so each
 * parser must survive any payload).  Whatever parses must encode back to
 * exactly the same bytes, and a parsed SNAPSHOT must survive
 * snapshot_finish, re-encoding and parsing again.  The stream is then
 * fed again in small pieces through a wire_buf, as reads deliver it, and
 * must give the same frames.  wire_peek must judge each header as
 * wire_frame does, from its first five bytes alone, and the peeks at a
 * payload's leading fields must agree with the parsers.
 *
 * Every parser gets a heap copy of exactly the bytes it may read, so that
 * ASan reports a read one byte past the end.  An invariant that fails
 * aborts with its line on stderr: this is a test program.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "fuzzer.h"

/* A heap copy of exactly n bytes (one byte kept for n == 0). */
static uint8_t *
fuzz_dup(const uint8_t *p, size_t n)
{
	uint8_t	*d = malloc(n ? n : 1);

	if (d == NULL)
		abort();
	if (n)
		memcpy(d, p, n);
	return d;
}

/* Messages are for log lines: NUL-terminated, printable ASCII only. */
static void
fuzz_check_err(const char *err, size_t errlen)
{
	size_t	 n = strnlen(err, errlen);

	FUZZ_CHECK(n > 0 && n < errlen);
	while (n-- > 0)
		FUZZ_CHECK(err[n] >= 0x20 && err[n] < 0x7f);
}

/* b holds exactly one frame of the given type around (pl, plen). */
static void
fuzz_check_frame(const struct wire_buf *b, uint8_t type, const uint8_t *pl,
    size_t plen)
{
	uint32_t	 flen = (uint32_t)(plen + 1);

	FUZZ_CHECK(b->len == WIRE_LENGTH + 1 + plen);
	FUZZ_CHECK(b->data[0] == (uint8_t)(flen >> 24) &&
	    b->data[1] == (uint8_t)(flen >> 16) &&
	    b->data[2] == (uint8_t)(flen >> 8) &&
	    b->data[3] == (uint8_t)flen);
	FUZZ_CHECK(b->data[WIRE_LENGTH] == type);
	FUZZ_CHECK(plen == 0 || memcmp(b->data + WIRE_LENGTH + 1, pl, plen) == 0);
}

static void
fuzz_hello(const uint8_t *pl, size_t plen)
{
	struct wire_hello	 h;
	struct wire_buf		 b;
	char			 err[TALLY_ERRLEN];
	uint16_t		 version;

	err[0] = '\0';
	if (wire_get_hello(pl, plen, &h, err, sizeof err) != 0) {
		fuzz_check_err(err, sizeof err);
		return;
	}
	FUZZ_CHECK(h.secret_len <= 255 && h.node_len <= 255 &&
	    h.nick_len <= 255);
	FUZZ_CHECK(plen == 2 + 3 + h.secret_len + h.node_len + h.nick_len);
	FUZZ_CHECK(wire_peek_version(pl, plen, &version) == 0 &&
	    version == h.version);
	wire_buf_init(&b);
	FUZZ_CHECK(wire_put_hello(&b, &h) == 0);
	fuzz_check_frame(&b, WIRE_HELLO, pl, plen);
	wire_buf_free(&b);
}

static void
fuzz_welcome(const uint8_t *pl, size_t plen)
{
	struct wire_buf	 b;
	struct snapshot	 s;
	uint16_t	 version;
	uint32_t	 interval;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	err[0] = '\0';
	snapshot_init(&s);
	rc = wire_get_welcome(pl, plen, &version, &interval, &s, err,
	    sizeof err);
	if (rc != 0) {
		fuzz_check_err(err, sizeof err);
		/* Ten bytes are a whole WELCOME, unless they claim counters. */
		FUZZ_CHECK(plen != 10 || (pl[6] | pl[7] | pl[8] | pl[9]) != 0);
		snapshot_free(&s);
		return;
	}
	FUZZ_CHECK(plen >= 10 && s.nstats == 0);
	/* Before snapshot_finish, entries are in wire order. */
	wire_buf_init(&b);
	FUZZ_CHECK(wire_put_welcome(&b, version, interval, &s) == 0);
	fuzz_check_frame(&b, WIRE_WELCOME, pl, plen);
	wire_buf_free(&b);
	snapshot_free(&s);
}

static void
fuzz_poll(const uint8_t *pl, size_t plen)
{
	struct wire_buf	 b;
	uint32_t	 seq;
	char		 err[TALLY_ERRLEN];

	err[0] = '\0';
	if (wire_get_poll(pl, plen, &seq, err, sizeof err) != 0) {
		fuzz_check_err(err, sizeof err);
		FUZZ_CHECK(plen != 4);
		return;
	}
	FUZZ_CHECK(plen == 4);
	wire_buf_init(&b);
	FUZZ_CHECK(wire_put_poll(&b, seq) == 0);
	fuzz_check_frame(&b, WIRE_POLL, pl, plen);
	wire_buf_free(&b);
}

static void
fuzz_error(const uint8_t *pl, size_t plen)
{
	struct wire_buf	 b;
	const uint8_t	*rpl;
	const char	*msg, *rmsg;
	char		 err[TALLY_ERRLEN], *z;
	size_t		 msglen, rmsglen, rplen, want;
	uint16_t	 code, rcode;
	uint8_t		 type;

	err[0] = '\0';
	if (wire_get_error(pl, plen, &code, &msg, &msglen, err,
	    sizeof err) != 0) {
		fuzz_check_err(err, sizeof err);
		return;
	}
	FUZZ_CHECK(plen == 4 + msglen);
	FUZZ_CHECK(msglen == 0 || msg == (const char *)pl + 4);

	/* wire_put_error takes a C string and sends at most 256 bytes. */
	if ((z = malloc(msglen + 1)) == NULL)
		abort();
	if (msglen)
		memcpy(z, msg, msglen);
	z[msglen] = '\0';
	want = strnlen(z, WIRE_ERRMSG_MAX);
	wire_buf_init(&b);
	FUZZ_CHECK(wire_put_error(&b, code, z) == 0);
	if (want == msglen)
		fuzz_check_frame(&b, WIRE_ERROR, pl, plen);
	else {
		FUZZ_CHECK(wire_frame(b.data, b.len, &type, &rpl, &rplen) ==
		    (long)b.len);
		FUZZ_CHECK(type == WIRE_ERROR);
		FUZZ_CHECK(wire_get_error(rpl, rplen, &rcode, &rmsg, &rmsglen,
		    err, sizeof err) == 0);
		FUZZ_CHECK(rcode == code && rmsglen == want);
		FUZZ_CHECK(want == 0 || memcmp(rmsg, z, want) == 0);
	}
	wire_buf_free(&b);
	free(z);
}

static int
fuzz_ent_same(const struct snapshot *a, const struct snapshot_ent *x,
    const struct snapshot *b, const struct snapshot_ent *y)
{
	return x->nlen == y->nlen && memcmp(snapshot_name(a, x),
	    snapshot_name(b, y), x->nlen) == 0 &&
	    memcmp(&x->v, &y->v, sizeof x->v) == 0;
}

/* A finished snapshot: names valid and strictly increasing. */
static void
fuzz_check_finished(const struct snapshot *s, const struct snapshot_ent *e,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		FUZZ_CHECK(name_stat_valid(snapshot_name(s, &e[i]), e[i].nlen));
		FUZZ_CHECK(strlen(snapshot_name(s, &e[i])) == e[i].nlen);
		if (i > 0)
			FUZZ_CHECK(strcmp(snapshot_name(s, &e[i - 1]),
			    snapshot_name(s, &e[i])) < 0);
	}
}

/* The entry named like e that was put last in the first n of arr. */
static const struct snapshot_ent *
fuzz_last_put(const struct snapshot *s, const struct snapshot_ent *arr,
    size_t n, const struct snapshot *fs, const struct snapshot_ent *e)
{
	const struct snapshot_ent	*last = NULL;
	size_t				 i;

	for (i = 0; i < n; i++)
		if (arr[i].nlen == e->nlen && memcmp(snapshot_name(s, &arr[i]),
		    snapshot_name(fs, e), e->nlen) == 0)
			last = &arr[i];
	return last;
}

static void
fuzz_snapshot(const uint8_t *pl, size_t plen)
{
	struct snapshot			 s, r;
	struct snapshot_ent		*orig_c = NULL, *orig_s = NULL;
	const struct snapshot_ent	*last;
	struct wire_buf			 b;
	const uint8_t			*rpl;
	char				 err[TALLY_ERRLEN];
	size_t				 i, nc, ns, rplen;
	uint32_t			 seq, rseq, pcount;
	int64_t				 time, rtime;
	uint8_t				 type;
	int				 rc;

	snapshot_init(&s);
	snapshot_init(&r);
	err[0] = '\0';
	rc = wire_get_snapshot(pl, plen, &seq, &time, &s, err, sizeof err);
	if (rc != 0) {
		FUZZ_CHECK(rc == TALLY_EINVAL || rc == WIRE_EBADNAME);
		fuzz_check_err(err, sizeof err);
		goto out;
	}

	/* What a gatherer peeks at before it decodes. */
	FUZZ_CHECK(wire_peek_snapshot(pl, plen, &rseq, &pcount) == 2);
	FUZZ_CHECK(rseq == seq && pcount == s.ncounters);

	/* Before snapshot_finish, entries are in wire order. */
	wire_buf_init(&b);
	FUZZ_CHECK(wire_put_snapshot(&b, seq, time, &s) == 0);
	fuzz_check_frame(&b, WIRE_SNAPSHOT, pl, plen);
	wire_buf_free(&b);

	/* Keep the wire order to check "the last put wins". */
	nc = s.ncounters;
	ns = s.nstats;
	orig_c = (struct snapshot_ent *)fuzz_dup((const uint8_t *)s.counters,
	    nc * sizeof *s.counters);
	orig_s = (struct snapshot_ent *)fuzz_dup((const uint8_t *)s.stats,
	    ns * sizeof *s.stats);
	snapshot_finish(&s);
	FUZZ_CHECK(s.ncounters <= nc && s.nstats <= ns);
	fuzz_check_finished(&s, s.counters, s.ncounters);
	fuzz_check_finished(&s, s.stats, s.nstats);
	for (i = 0; i < s.ncounters; i++) {
		last = fuzz_last_put(&s, orig_c, nc, &s, &s.counters[i]);
		FUZZ_CHECK(last != NULL && last->seq == s.counters[i].seq);
	}
	for (i = 0; i < s.nstats; i++) {
		last = fuzz_last_put(&s, orig_s, ns, &s, &s.stats[i]);
		FUZZ_CHECK(last != NULL && last->seq == s.stats[i].seq);
	}
	/* Every name of the frame is still there. */
	for (i = 0; i < nc; i++)
		FUZZ_CHECK(fuzz_last_put(&s, s.counters, s.ncounters, &s,
		    &orig_c[i]) != NULL);
	for (i = 0; i < ns; i++)
		FUZZ_CHECK(fuzz_last_put(&s, s.stats, s.nstats, &s,
		    &orig_s[i]) != NULL);

	/* The finished snapshot goes on the wire and back unchanged. */
	wire_buf_init(&b);
	FUZZ_CHECK(wire_put_snapshot(&b, seq, time, &s) == 0);
	FUZZ_CHECK(wire_frame(b.data, b.len, &type, &rpl, &rplen) ==
	    (long)b.len);
	FUZZ_CHECK(type == WIRE_SNAPSHOT);
	FUZZ_CHECK(wire_get_snapshot(rpl, rplen, &rseq, &rtime, &r, err,
	    sizeof err) == 0);
	FUZZ_CHECK(rseq == seq && rtime == time);
	FUZZ_CHECK(r.ncounters == s.ncounters && r.nstats == s.nstats);
	for (i = 0; i < r.ncounters; i++)
		FUZZ_CHECK(fuzz_ent_same(&r, &r.counters[i], &s,
		    &s.counters[i]));
	for (i = 0; i < r.nstats; i++)
		FUZZ_CHECK(fuzz_ent_same(&r, &r.stats[i], &s, &s.stats[i]));
	wire_buf_free(&b);

	/* A gatherer reuses its snapshot from round to round. */
	snapshot_reset(&r);
	FUZZ_CHECK(wire_get_snapshot(pl, plen, &rseq, &rtime, &r, err,
	    sizeof err) == 0);
	FUZZ_CHECK(r.ncounters == nc && r.nstats == ns);
out:
	free(orig_c);
	free(orig_s);
	snapshot_free(&s);
	snapshot_free(&r);
}

/* The peeks at any payload: each field once its bytes are in. */
static void
fuzz_peeks(const uint8_t *pl, size_t plen)
{
	uint32_t	 seq, ncounters;
	uint16_t	 version;
	int		 lead;

	FUZZ_CHECK((wire_peek_version(pl, plen, &version) == 0) ==
	    (plen >= 2));
	FUZZ_CHECK(plen >= 2 || version == 0);
	lead = wire_peek_snapshot(pl, plen, &seq, &ncounters);
	FUZZ_CHECK(lead == (plen < 4 ? 0 : plen < 16 ? 1 : 2));
	FUZZ_CHECK(lead >= 1 || seq == 0);
	FUZZ_CHECK(lead >= 2 || ncounters == 0);
}

static void
fuzz_payload(const uint8_t *pl, size_t plen)
{
	uint8_t	*copy = fuzz_dup(pl, plen);

	fuzz_peeks(copy, plen);
	fuzz_hello(copy, plen);
	fuzz_welcome(copy, plen);
	fuzz_poll(copy, plen);
	fuzz_error(copy, plen);
	fuzz_snapshot(copy, plen);
	free(copy);
}

/*
 * wire_peek on the header at buf, given its first five bytes at most:
 * the verdict of wire_frame (frc) on the length, the frame's size once
 * the type is in too, whole or not, and TALLY_EINVAL for an unknown type.
 */
static void
fuzz_peek(const uint8_t *buf, size_t left, long frc)
{
	size_t		 have = left < WIRE_LENGTH + 1 ? left : WIRE_LENGTH + 1;
	uint8_t		*copy, type;
	uint32_t	 flen;
	long		 n;

	copy = fuzz_dup(buf, have);
	n = wire_peek(copy, have, &type, &flen);
	free(copy);
	if (have < WIRE_LENGTH) {
		FUZZ_CHECK(n == 0 && flen == 0 && type == 0);
		return;
	}
	FUZZ_CHECK(flen == ((uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | buf[3]));
	if (frc < 0 || have == WIRE_LENGTH) {
		FUZZ_CHECK(n == frc && type == 0);
		return;
	}
	FUZZ_CHECK(type == buf[WIRE_LENGTH]);
	if (type < WIRE_HELLO || type > WIRE_ERROR) {
		FUZZ_CHECK(n == TALLY_EINVAL);
		FUZZ_CHECK(strcmp(wire_type_name(type), "?") == 0);
		return;
	}
	FUZZ_CHECK(n == (long)(WIRE_LENGTH + flen));
	FUZZ_CHECK(frc == 0 || frc == n);
	FUZZ_CHECK(strcmp(wire_type_name(type), "?") != 0);
}

/*
 * The same stream arriving in pieces, as reads deliver it: appended to a
 * wire_buf, whole frames taken from its front and consumed.  The frames
 * must be those of the one-shot parse (ends[0..nframes)), and the stream
 * must stop where that parse stopped, with rc its last wire_frame.
 */
static void
fuzz_pieces(const uint8_t *buf, size_t size, const size_t *ends,
    size_t nframes, long rc)
{
	struct wire_buf	 b;
	const uint8_t	*pl;
	size_t		 in = 0, taken = 0, frame = 0, piece, plen;
	uint8_t		 type;
	long		 n = 0;

	wire_buf_init(&b);
	while (in < size) {
		/* Piece sizes from the data itself: 1 to 64 bytes. */
		piece = 1 + buf[in] % 64;
		if (piece > size - in)
			piece = size - in;
		FUZZ_CHECK(wire_buf_reserve(&b, piece) == 0);
		FUZZ_CHECK(b.cap - b.len >= piece);
		memcpy(b.data + b.len, buf + in, piece);
		b.len += piece;
		in += piece;
		while ((n = wire_frame(b.data, b.len, &type, &pl, &plen)) > 0) {
			FUZZ_CHECK(frame < nframes);
			FUZZ_CHECK(taken + (size_t)n == ends[frame]);
			FUZZ_CHECK(memcmp(b.data, buf + taken, (size_t)n) == 0);
			taken += (size_t)n;
			frame++;
			wire_buf_consume(&b, (size_t)n);
		}
		if (n < 0)
			break;
	}
	FUZZ_CHECK(frame == nframes);
	FUZZ_CHECK(n == rc);
	FUZZ_CHECK(b.len == in - taken);
	wire_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*pl;
	uint8_t		*buf, type;
	size_t		 off = 0, left, plen, *ends, nframes = 0;
	uint32_t	 flen;
	long		 n = 0;

	buf = fuzz_dup(data, size);
	/* A frame takes at least 5 bytes. */
	if ((ends = malloc((size / 5 + 1) * sizeof *ends)) == NULL)
		abort();
	/* Frames back to back, as one read may hold several. */
	while (off < size) {
		left = size - off;
		n = wire_frame(buf + off, left, &type, &pl, &plen);
		fuzz_peek(buf + off, left, n);
		if (left < WIRE_LENGTH) {
			FUZZ_CHECK(n == 0);
			break;
		}
		flen = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
		    (uint32_t)buf[off + 2] << 8 | buf[off + 3];
		if (flen == 0) {
			FUZZ_CHECK(n == TALLY_EINVAL);
			break;
		}
		if (flen > WIRE_FRAME_MAX) {
			FUZZ_CHECK(n == TALLY_ELIMIT);
			break;
		}
		if (left - WIRE_LENGTH < flen) {
			/* A partial frame: wait for the rest. */
			FUZZ_CHECK(n == 0);
			break;
		}
		FUZZ_CHECK(n == (long)(WIRE_LENGTH + flen));
		FUZZ_CHECK(type == buf[off + WIRE_LENGTH]);
		FUZZ_CHECK(pl == buf + off + WIRE_LENGTH + 1);
		FUZZ_CHECK(plen == flen - 1);
		/* One byte short of the frame still waits for more. */
		FUZZ_CHECK(wire_frame(buf + off, (size_t)n - 1, &type, &pl,
		    &plen) == 0);
		fuzz_payload(buf + off + WIRE_LENGTH + 1, flen - 1);
		off += (size_t)n;
		ends[nframes++] = off;
		n = 0;
	}
	fuzz_pieces(buf, size, ends, nframes, n);
	free(ends);
	free(buf);
	return 0;
}
