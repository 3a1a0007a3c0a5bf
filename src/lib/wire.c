/*
 * wire.c: frames of tally-protocol.h, built into a growable buffer and
 * parsed from (buf, len).  Every read is preceded by a check of what is
 * left, as collectd's parse_part_* do; nothing here trusts a length it has
 * not compared with the bytes it holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"

void
wire_buf_init(struct wire_buf *b)
{
	memset(b, 0, sizeof *b);
}

void
wire_buf_free(struct wire_buf *b)
{
	free(b->data);
	wire_buf_init(b);
}

void
wire_buf_consume(struct wire_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

int
wire_buf_reserve(struct wire_buf *b, size_t n)
{
	return wire_buf_reserve_upto(b, n, 0);
}

/*
 * Room for n more bytes, the capacity doubling as it grows, but not past
 * want if want is at least what must fit (the whole frame being read, say):
 * a buffer grown for one frame holds that frame, not up to twice it.
 */
int
wire_buf_reserve_upto(struct wire_buf *b, size_t n, size_t want)
{
	size_t	 cap;
	uint8_t	*d;

	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return TALLY_ENOMEM;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	if (want >= b->len + n && cap > want)
		cap = want;
	if ((d = realloc(b->data, cap)) == NULL)
		return TALLY_ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

/* Writers: the caller reserved the room. */
static uint8_t *
wire_u8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *
wire_u16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
	return p + 2;
}

static uint8_t *
wire_u32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	return p + 4;
}

static uint8_t *
wire_u64(uint8_t *p, uint64_t v)
{
	p = wire_u32(p, (uint32_t)(v >> 32));
	return wire_u32(p, (uint32_t)v);
}

static uint8_t *
wire_bytes(uint8_t *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* Open a frame of up to max payload bytes; returns where payload goes. */
static uint8_t *
wire_begin(struct wire_buf *b, uint8_t type, size_t max)
{
	uint8_t	*p;

	if (max + 1 > WIRE_FRAME_MAX ||
	    wire_buf_reserve(b, WIRE_LENGTH + 1 + max) != 0)
		return NULL;
	p = b->data + b->len;
	return wire_u8(p + WIRE_LENGTH, type);
}

/* Close the frame begun at b->len and ending at end. */
static void
wire_end(struct wire_buf *b, uint8_t *end)
{
	size_t	 total = (size_t)(end - (b->data + b->len));

	wire_u32(b->data + b->len, (uint32_t)(total - WIRE_LENGTH));
	b->len += total;
}

int
wire_put_hello(struct wire_buf *b, const struct wire_hello *h)
{
	uint8_t	*p;

	if (h->secret_len > 255 || h->node_len > 255 || h->nick_len > 255)
		return TALLY_EINVAL;
	if ((p = wire_begin(b, WIRE_HELLO, 2 + 3 + h->secret_len +
	    h->node_len + h->nick_len)) == NULL)
		return TALLY_ENOMEM;
	p = wire_u16(p, h->version);
	p = wire_u8(p, (uint8_t)h->secret_len);
	p = wire_bytes(p, h->secret, h->secret_len);
	p = wire_u8(p, (uint8_t)h->node_len);
	p = wire_bytes(p, h->node_id, h->node_len);
	p = wire_u8(p, (uint8_t)h->nick_len);
	p = wire_bytes(p, h->nickname, h->nick_len);
	wire_end(b, p);
	return 0;
}

/* The counters of a WELCOME or a SNAPSHOT: | n u32 | n x (name, i64) |. */
static size_t
wire_counters_size(const struct snapshot *s)
{
	size_t	 i, n = 4;

	for (i = 0; s != NULL && i < s->ncounters; i++)
		n += 1 + s->counters[i].nlen + 8;
	return n;
}

static uint8_t *
wire_counters(uint8_t *p, const struct snapshot *s)
{
	size_t	 i, n = s != NULL ? s->ncounters : 0;

	p = wire_u32(p, (uint32_t)n);
	for (i = 0; i < n; i++) {
		p = wire_u8(p, (uint8_t)s->counters[i].nlen);
		p = wire_bytes(p, snapshot_name(s, &s->counters[i]),
		    s->counters[i].nlen);
		p = wire_u64(p, (uint64_t)s->counters[i].v.i);
	}
	return p;
}

/* Whether every name of s fits its length byte. */
static int
wire_names_fit(const struct snapshot *s)
{
	size_t	 i;

	for (i = 0; s != NULL && i < s->ncounters; i++)
		if (s->counters[i].nlen > TALLY_STAT_NAME_MAX)
			return 0;
	for (i = 0; s != NULL && i < s->nstats; i++)
		if (s->stats[i].nlen > TALLY_STAT_NAME_MAX)
			return 0;
	return 1;
}

int
wire_put_welcome(struct wire_buf *b, uint16_t version, uint32_t interval_ms,
    const struct snapshot *counters)
{
	uint8_t	*p;
	size_t	 max = 2 + 4 + wire_counters_size(counters);

	if (!wire_names_fit(counters))
		return TALLY_EINVAL;
	if (max + 1 > WIRE_FRAME_MAX)
		return TALLY_ELIMIT;
	if ((p = wire_begin(b, WIRE_WELCOME, max)) == NULL)
		return TALLY_ENOMEM;
	p = wire_u16(p, version);
	p = wire_u32(p, interval_ms);
	p = wire_counters(p, counters);
	wire_end(b, p);
	return 0;
}

int
wire_put_poll(struct wire_buf *b, uint32_t seq)
{
	uint8_t	*p;

	if ((p = wire_begin(b, WIRE_POLL, 4)) == NULL)
		return TALLY_ENOMEM;
	p = wire_u32(p, seq);
	wire_end(b, p);
	return 0;
}

int
wire_put_snapshot(struct wire_buf *b, uint32_t seq, int64_t time,
    const struct snapshot *s)
{
	uint8_t	*p;
	size_t	 i, max = 4 + 8 + wire_counters_size(s) + 4;
	uint64_t bits;

	if (!wire_names_fit(s))
		return TALLY_EINVAL;
	for (i = 0; i < s->nstats; i++)
		max += 1 + s->stats[i].nlen + 8;
	if (max + 1 > WIRE_FRAME_MAX)
		return TALLY_ELIMIT;
	if ((p = wire_begin(b, WIRE_SNAPSHOT, max)) == NULL)
		return TALLY_ENOMEM;
	p = wire_u32(p, seq);
	p = wire_u64(p, (uint64_t)time);
	p = wire_counters(p, s);
	p = wire_u32(p, (uint32_t)s->nstats);
	for (i = 0; i < s->nstats; i++) {
		p = wire_u8(p, (uint8_t)s->stats[i].nlen);
		p = wire_bytes(p, snapshot_name(s, &s->stats[i]),
		    s->stats[i].nlen);
		memcpy(&bits, &s->stats[i].v.d, sizeof bits);
		p = wire_u64(p, bits);
	}
	wire_end(b, p);
	return 0;
}

int
wire_put_error(struct wire_buf *b, uint16_t code, const char *msg)
{
	size_t	 n = strnlen(msg, WIRE_ERRMSG_MAX);
	uint8_t	*p;

	if ((p = wire_begin(b, WIRE_ERROR, 4 + n)) == NULL)
		return TALLY_ENOMEM;
	p = wire_u16(p, code);
	p = wire_u16(p, (uint16_t)n);
	p = wire_bytes(p, msg, n);
	wire_end(b, p);
	return 0;
}

static uint32_t
wire_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

long
wire_frame(const uint8_t *buf, size_t len, uint8_t *type,
    const uint8_t **payload, size_t *plen)
{
	uint32_t	 flen;

	if (len < WIRE_LENGTH)
		return 0;
	flen = wire_get_u32(buf);
	if (flen == 0)
		return TALLY_EINVAL;
	if (flen > WIRE_FRAME_MAX)
		return TALLY_ELIMIT;
	if (len - WIRE_LENGTH < flen)
		return 0;
	*type = buf[WIRE_LENGTH];
	*payload = buf + WIRE_LENGTH + 1;
	*plen = flen - 1;
	return (long)(WIRE_LENGTH + flen);
}

static const char *wire_type_names[] = {
	NULL, "HELLO", "WELCOME", "POLL", "SNAPSHOT", "ERROR"
};

const char *
wire_type_name(uint8_t type)
{
	if (type < WIRE_HELLO || type > WIRE_ERROR)
		return "?";
	return wire_type_names[type];
}

long
wire_peek(const uint8_t *buf, size_t len, uint8_t *type, uint32_t *flen)
{
	*type = 0;
	*flen = 0;
	if (len < WIRE_LENGTH)
		return 0;
	*flen = wire_get_u32(buf);
	if (*flen == 0)
		return TALLY_EINVAL;
	if (*flen > WIRE_FRAME_MAX)
		return TALLY_ELIMIT;
	if (len == WIRE_LENGTH)
		return 0;
	*type = buf[WIRE_LENGTH];
	if (*type < WIRE_HELLO || *type > WIRE_ERROR)
		return TALLY_EINVAL;
	return (long)(WIRE_LENGTH + *flen);
}

int
wire_peek_version(const uint8_t *p, size_t len, uint16_t *version)
{
	*version = 0;
	if (len < 2)
		return TALLY_EINVAL;
	*version = (uint16_t)(p[0] << 8 | p[1]);
	return 0;
}

int
wire_peek_snapshot(const uint8_t *p, size_t len, uint32_t *seq,
    uint32_t *ncounters)
{
	*seq = 0;
	*ncounters = 0;
	if (len < 4)
		return 0;
	*seq = wire_get_u32(p);
	/* After seq u32 and time i64. */
	if (len < 4 + 8 + 4)
		return 1;
	*ncounters = wire_get_u32(p + 4 + 8);
	return 2;
}

/* A cursor over a payload: every take checks what is left first. */
struct wire_cur {
	const uint8_t	*p;
	size_t		 left;
	int		 bad;
};

static const uint8_t *
wire_take(struct wire_cur *c, size_t n)
{
	const uint8_t	*p;

	if (c->bad || c->left < n) {
		c->bad = 1;
		return NULL;
	}
	p = c->p;
	c->p += n;
	c->left -= n;
	return p;
}

static uint8_t
wire_take_u8(struct wire_cur *c)
{
	const uint8_t	*p = wire_take(c, 1);

	return p != NULL ? p[0] : 0;
}

static uint16_t
wire_take_u16(struct wire_cur *c)
{
	const uint8_t	*p = wire_take(c, 2);

	return p != NULL ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static uint32_t
wire_take_u32(struct wire_cur *c)
{
	const uint8_t	*p = wire_take(c, 4);

	return p != NULL ? wire_get_u32(p) : 0;
}

static uint64_t
wire_take_u64(struct wire_cur *c)
{
	const uint8_t	*p = wire_take(c, 8);

	return p != NULL ? (uint64_t)wire_get_u32(p) << 32 |
	    wire_get_u32(p + 4) : 0;
}

/* A u8-prefixed string. */
static const char *
wire_take_str(struct wire_cur *c, size_t *n)
{
	*n = wire_take_u8(c);
	return (const char *)wire_take(c, *n);
}

static int
wire_done(struct wire_cur *c, const char *what, char *err, size_t errlen)
{
	if (c->bad) {
		snprintf(err, errlen, "%s frame truncated", what);
		return TALLY_EINVAL;
	}
	if (c->left != 0) {
		snprintf(err, errlen, "%s frame has %zu trailing byte%s",
		    what, c->left, c->left == 1 ? "" : "s");
		return TALLY_EINVAL;
	}
	return 0;
}

int
wire_get_hello(const uint8_t *p, size_t len, struct wire_hello *h,
    char *err, size_t errlen)
{
	struct wire_cur	 c = { p, len, 0 };

	memset(h, 0, sizeof *h);
	h->version = wire_take_u16(&c);
	h->secret = wire_take_str(&c, &h->secret_len);
	h->node_id = wire_take_str(&c, &h->node_len);
	h->nickname = wire_take_str(&c, &h->nick_len);
	return wire_done(&c, "HELLO", err, errlen);
}

int
wire_get_poll(const uint8_t *p, size_t len, uint32_t *seq, char *err,
    size_t errlen)
{
	struct wire_cur	 c = { p, len, 0 };

	*seq = wire_take_u32(&c);
	return wire_done(&c, "POLL", err, errlen);
}

/* A peer's bytes, made safe for a log line: at most 64, printable. */
static void
wire_printable(char *out, const char *s, size_t n)
{
	size_t	 i;

	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[n] = '\0';
}

/*
 * The counters (stats 0) or stats (1) of a frame, appended to snap, which
 * may be NULL to check them only.  0, or an error with err set.
 */
static int
wire_take_entries(struct wire_cur *c, const char *what, int stats,
    struct snapshot *snap, char *err, size_t errlen)
{
	const char	*name;
	uint32_t	 n, i;
	uint64_t	 bits;
	size_t		 nlen;
	double		 d;
	char		 shown[65];
	int		 rc;

	n = wire_take_u32(c);
	/* Each entry takes at least 10 bytes: refuse lies early. */
	if (!c->bad && n > c->left / 10) {
		snprintf(err, errlen, "%s claims %u %s%s in %zu bytes", what,
		    n, stats ? "stat" : "counter", n == 1 ? "" : "s", c->left);
		return TALLY_EINVAL;
	}
	for (i = 0; i < n && !c->bad; i++) {
		name = wire_take_str(c, &nlen);
		bits = wire_take_u64(c);
		if (c->bad)
			break;
		if (!name_stat_valid(name, nlen)) {
			wire_printable(shown, name, nlen);
			snprintf(err, errlen, "%s has an invalid stat name "
			    "'%s'", what, shown);
			return WIRE_EBADNAME;
		}
		if (snap == NULL)
			continue;
		if (!stats)
			rc = snapshot_add_counter(snap, name, nlen,
			    (int64_t)bits);
		else {
			memcpy(&d, &bits, sizeof d);
			rc = snapshot_add_stat(snap, name, nlen, d);
		}
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", what,
			    tally_strerror(rc));
			return rc;
		}
	}
	return 0;
}

int
wire_get_welcome(const uint8_t *p, size_t len, uint16_t *version,
    uint32_t *interval_ms, struct snapshot *counters, char *err,
    size_t errlen)
{
	struct wire_cur	 c = { p, len, 0 };
	int		 rc;

	*version = wire_take_u16(&c);
	*interval_ms = wire_take_u32(&c);
	if ((rc = wire_take_entries(&c, "WELCOME", 0, counters, err,
	    errlen)) != 0)
		return rc;
	return wire_done(&c, "WELCOME", err, errlen);
}

int
wire_get_snapshot(const uint8_t *p, size_t len, uint32_t *seq,
    int64_t *time, struct snapshot *snap, char *err, size_t errlen)
{
	struct wire_cur	 c = { p, len, 0 };
	int		 rc;

	*seq = wire_take_u32(&c);
	*time = (int64_t)wire_take_u64(&c);
	if ((rc = wire_take_entries(&c, "SNAPSHOT", 0, snap, err,
	    errlen)) != 0 ||
	    (rc = wire_take_entries(&c, "SNAPSHOT", 1, snap, err,
	    errlen)) != 0)
		return rc;
	return wire_done(&c, "SNAPSHOT", err, errlen);
}

int
wire_get_error(const uint8_t *p, size_t len, uint16_t *code,
    const char **msg, size_t *msglen, char *err, size_t errlen)
{
	struct wire_cur	 c = { p, len, 0 };

	*code = wire_take_u16(&c);
	*msglen = wire_take_u16(&c);
	*msg = (const char *)wire_take(&c, *msglen);
	return wire_done(&c, "ERROR", err, errlen);
}
