/*
 * conn-frame.c: what a connection's frames mean to tallyd.  libtally's
 * wire.c decodes every byte of them (wire_peek() the header, wire_get_*()
 * the payloads); here their headers are checked against the connection's
 * state and limits before their bodies are buffered, a HELLO is checked
 * and answered with WELCOME and the first POLL, a SNAPSHOT goes to the
 * batch, and a peer's ERROR ends the connection.
 *
 * A snapshot is decoded straight from the read buffer into a slot of the
 * batch, which owns copies of everything it commits: closing or replacing a
 * connection never leaves the batch pointing at freed memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "tallyd.h"

static void	 conn_frame_admit(struct conn *);

/*
 * Trust on first use, as ssh's known_hosts: the key a node id is bound to
 * is its live connection's, else its record's in the statsfile (or in the
 * batch, newer).  None bound: a TLS connection binds its key with its
 * first snapshot; a plaintext one stays unbound.  Bound: only that key's
 * holder may speak for the node, never a plaintext peer.  A new node
 * counts against max_nodes.  0, or -1 with the connection closed.
 */
static int
conn_frame_key(struct conn *c)
{
	struct gatherer		*g = c->g;
	struct record_node	 rn;
	struct batch_ent	*e;
	struct conn		*old;
	const char		*bound;
	char			 err[TALLY_ERRLEN];
	size_t			 nodes = 0;
	int			 rc;

	if ((old = gatherer_find(g, c->node_id)) != NULL)
		bound = old->key;
	else if ((e = batch_find(g, c->node_id)) != NULL)
		bound = e->rn.key;
	else {
		rc = store_read_node(g->store, c->node_id, &rn, &nodes, err,
		    sizeof err);
		if (rc < 0) {
			conn_log(c, "node %s: cannot read its record: %s",
			    c->node_id, err);
			conn_fail(c, WIRE_E_BUSY, "the gatherer cannot read "
			    "node %s's record now: try later", c->node_id);
			return -1;
		}
		/* New nodes still on their way to the statsfile count too. */
		if (rc == 0 && nodes + g->nnew >= g->cfg.max_nodes) {
			conn_fail(c, WIRE_E_LIMIT, "tallyd's limit of %u nodes "
			    "is reached (tallyd --max-nodes; %zu in the "
			    "statsfile, %u new one%s connected): new node %s "
			    "refused", g->cfg.max_nodes, nodes, g->nnew,
			    g->nnew == 1 ? "" : "s", c->node_id);
			return -1;
		}
		if (rc == 0) {
			c->is_new = 1;
			g->nnew++;
		}
		bound = rn.key;
	}
	if (bound[0] == '\0' || strcmp(bound, c->key) == 0)
		return 0;
	stats_count(g, STATS_ERRORS, 1);
	if (c->key[0] == '\0') {
		conn_fail(c, WIRE_E_KEY, "node id %s is bound to key %s: it "
		    "connects over TLS with that key only", c->node_id, bound);
		return -1;
	}
	gatherer_log("node %s: key %s from %s does not match the key %s "
	    "bound to it; refused (tally forget %s accepts the new key)",
	    c->node_id, c->key, c->addr, bound, c->node_id);
	snprintf(c->reason, sizeof c->reason, "key refused");
	/* Within WIRE_ERRMSG_MAX for any node id. */
	snprintf(err, sizeof err, "node id %s is bound to another key (%s): "
	    "refused; the gatherer's operator accepts a new key with tally "
	    "forget", c->node_id, bound);
	conn_close(c, WIRE_E_KEY, err);
	return -1;
}

static int
conn_frame_counter_cb(void *ctx, const char *name, size_t len, int64_t v)
{
	return snapshot_add_counter(ctx, name, len, v);
}

/*
 * WELCOME, with the node's counters as the statsfile holds them, so that
 * a restarted node resumes them.  A snapshot of the node still in the
 * batch is committed first: it is newer.  0, or -1 with c closed.
 */
static int
conn_frame_welcome(struct conn *c)
{
	struct gatherer	*g = c->g;
	struct snapshot	 counters;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	if (batch_find(g, c->node_id) != NULL)
		batch_commit(g);
	snapshot_init(&counters);
	err[0] = '\0';
	rc = store_read_counters(g->store, c->node_id, conn_frame_counter_cb,
	    &counters, err, sizeof err);
	if (rc != 0) {
		snapshot_free(&counters);
		conn_log(c, "node %s: cannot read its counters: %s",
		    c->node_id, err);
		conn_fail(c, WIRE_E_BUSY, "the gatherer cannot read node %s's "
		    "counters now: try later", c->node_id);
		return -1;
	}
	if (err[0] != '\0')
		conn_log(c, "%s", err);
	rc = wire_put_welcome(&c->out, TALLY_PROTOCOL_VERSION, g->interval_ms,
	    &counters);
	snapshot_free(&counters);
	if (rc != 0) {
		conn_fail(c, WIRE_E_LIMIT, "node %s's counters do not fit a "
		    "WELCOME: %s", c->node_id, tally_strerror(rc));
		return -1;
	}
	return 0;
}

static void
conn_frame_hello(struct conn *c, const uint8_t *p, size_t len)
{
	struct gatherer		*g = c->g;
	struct wire_hello	 h;
	char			 err[TALLY_ERRLEN];
	uint16_t		 version;

	/* Before parsing: another version's HELLO may be laid out anew. */
	if (wire_peek_version(p, len, &version) == 0 &&
	    version != TALLY_PROTOCOL_VERSION) {
		conn_fail(c, WIRE_E_VERSION, "protocol version %u is not "
		    "spoken here: this gatherer speaks version %d only (%s)",
		    version, TALLY_PROTOCOL_VERSION,
		    version < TALLY_PROTOCOL_VERSION ? "upgrade the node's "
		    "libtally" : "upgrade tallyd");
		return;
	}
	if (wire_get_hello(p, len, &h, err, sizeof err) != 0) {
		conn_fail(c, WIRE_E_MALFORMED, "%s", err);
		return;
	}
	if (!gatherer_secret_ok(g, h.secret, h.secret_len)) {
		/* Which node holds a stale furl, if it says so readably. */
		if (name_node_id_valid(h.node_id, h.node_len))
			conn_fail(c, WIRE_E_AUTH, "wrong secret (from node "
			    "%.*s)", (int)h.node_len, h.node_id);
		else
			conn_fail(c, WIRE_E_AUTH, "wrong secret");
		return;
	}
	/* Authenticated from here on; the names are still the peer's. */
	if (!name_node_id_valid(h.node_id, h.node_len)) {
		conn_fail(c, WIRE_E_NAME, "invalid node id (1-64 of "
		    "[a-z0-9_-])");
		return;
	}
	if (!name_nickname_valid(h.nickname, h.nick_len)) {
		conn_fail(c, WIRE_E_NAME, "invalid nickname (1-128 printable "
		    "characters)");
		return;
	}
	if (h.node_len == strlen(stats_node_id(g)) &&
	    memcmp(h.node_id, stats_node_id(g), h.node_len) == 0) {
		conn_fail(c, WIRE_E_NAME, "node id %.*s is the gatherer's own",
		    (int)h.node_len, h.node_id);
		return;
	}
	memcpy(c->node_id, h.node_id, h.node_len);
	c->node_id[h.node_len] = '\0';
	memcpy(c->nickname, h.nickname, h.nick_len);
	c->nickname[h.nick_len] = '\0';
	/*
	 * The handshake made sure there is a certificate.  On a TLS
	 * gatherer, no HELLO counts unless it came over TLS with a key.
	 */
	if (g->tls != NULL && (c->tls != CONN_TLS_UP ||
	    tls_peer_key(c->ssl, c->key, sizeof c->key) != 0)) {
		conn_fail(c, WIRE_E_KEY, "no client key in the TLS handshake");
		return;
	}
	conn_frame_admit(c);
}

/*
 * A HELLO that passed: the node's key, its node lock, the older
 * connection it replaces, WELCOME, and the first POLL at once.
 */
static void
conn_frame_admit(struct conn *c)
{
	struct gatherer	*g = c->g;
	struct conn	*old;
	char		 err[TALLY_ERRLEN], nick[TALLY_NICKNAME_MAX + 1];
	double		 now, wait;

	if (conn_frame_key(c) != 0)
		return;
	/* Each WELCOME costs the loop: one a node id per interval. */
	if ((wait = hello_wait(g, c->node_id, gatherer_mono())) > 0) {
		conn_fail(c, WIRE_E_BUSY, "node %s was welcomed less than %g s "
		    "ago (tallyd --hello-interval): retry in %.3g s",
		    c->node_id, g->cfg.hello_interval, wait);
		return;
	}
	/*
	 * One live writer per node id, local providers included.  Taken
	 * before an older connection lets go, so that the lock never lapses.
	 */
	if (batch_lock(c, err, sizeof err) != 0) {
		conn_log(c, "%s", err);
		conn_fail(c, WIRE_E_LOCKED, "node id %s is written by another "
		    "live process on the gatherer's machine (one writer per "
		    "node id)", c->node_id);
		return;
	}
	if ((old = gatherer_find(g, c->node_id)) != NULL) {
		conn_log(old, "replaced by a newer connection from %s",
		    c->addr);
		snprintf(old->reason, sizeof old->reason, "replaced by a "
		    "newer connection from %s", c->addr);
		/*
		 * A new node's place in max_nodes goes with it, unless its
		 * record is written: commit the batch's snapshot of it while
		 * old still holds the node id, so the commit clears is_new.
		 */
		if (batch_find(g, c->node_id) != NULL)
			batch_commit(g);
		c->is_new = old->is_new;
		old->is_new = 0;
		conn_close(old, WIRE_E_REPLACED, "replaced by a newer "
		    "connection");
	}
	if (gatherer_hash_add(g, c) != 0) {
		conn_log(c, "out of memory");
		conn_kill(c, "out of memory");
		return;
	}
	if (conn_frame_welcome(c) != 0)
		return;
	hello_note(g, c->node_id, gatherer_mono());
	listener_addr_release(c);
	c->state = CONN_READY;
	c->connected = 1;
	http_node_up(g, c);
	c->phase = gatherer_phase(g, c->node_id, strlen(c->node_id));
	if (c->key[0] != '\0')
		gatherer_log("connected node %s (%s) from %s, key %s",
		    c->node_id, conn_nick(c, nick), c->addr, c->key);
	else
		gatherer_log("connected node %s (%s) from %s", c->node_id,
		    conn_nick(c, nick), c->addr);
	now = gatherer_mono();
	conn_poll(c, now);
	if (c->state == CONN_READY)
		conn_timer_arm(c, now);
}

static void
conn_frame_snapshot(struct conn *c, const uint8_t *p, size_t len)
{
	struct gatherer		*g = c->g;
	struct batch_ent	*e;
	char			 err[TALLY_ERRLEN];
	uint32_t		 seq, ncounters;
	int64_t			 t, now;
	size_t			 n;
	int			 rc, lead;

	/* The seq comes first: a stale answer costs no decoding. */
	lead = wire_peek_snapshot(p, len, &seq, &ncounters);
	if (lead >= 1 && seq != c->seq) {
		conn_fail(c, WIRE_E_UNEXPECTED, "SNAPSHOT answers poll %u, "
		    "not the outstanding poll %u", seq, c->seq);
		return;
	}
	/* So do too many counters (after seq and time): none is decoded. */
	if (lead >= 2 && ncounters > g->cfg.max_metrics) {
		conn_fail(c, WIRE_E_LIMIT, "SNAPSHOT of %u counters is over "
		    "tallyd's limit of %u metrics a node (tallyd "
		    "--max-metrics)", ncounters, g->cfg.max_metrics);
		return;
	}
	e = batch_next(g);
	err[0] = '\0';
	rc = wire_get_snapshot(p, len, &seq, &t, &e->snap, err, sizeof err);
	if (rc != 0)
		batch_spill(e);
	if (rc == TALLY_ENOMEM) {
		conn_kill(c, "out of memory decoding a SNAPSHOT");
		return;
	}
	if (rc != 0) {
		conn_fail(c, rc == WIRE_EBADNAME ? WIRE_E_NAME :
		    WIRE_E_MALFORMED, "%s", err);
		return;
	}
	if (e->snap.ncounters + e->snap.nstats > g->cfg.max_metrics) {
		conn_fail(c, WIRE_E_LIMIT, "SNAPSHOT of %zu metrics is over "
		    "tallyd's limit of %u a node (tallyd --max-metrics)",
		    e->snap.ncounters + e->snap.nstats, g->cfg.max_metrics);
		batch_spill(e);
		return;
	}
	snapshot_finish(&e->snap);
	memcpy(e->node_id, c->node_id, sizeof e->node_id);
	memset(&e->rn, 0, sizeof e->rn);
	memcpy(e->rn.nickname, c->nickname, sizeof e->rn.nickname);
	memcpy(e->rn.key, c->key, sizeof e->rn.key);
	/*
	 * The node's own clock dates its snapshot, unless it is outside
	 * the sane window (before 2000, or more than a day ahead of ours):
	 * then tallyd's clock does, so that no hostile time reaches the
	 * statsfile, and a node from the future can still go stale and be
	 * pruned.  Said once per connection.
	 */
	now = (int64_t)time(NULL);
	if (!record_time_sane(t, now)) {
		if (!c->clock_logged)
			conn_log(c, "snapshot time %lld is out of range (before "
			    "2000 or over a day ahead of this clock); dated "
			    "%lld instead", (long long)t, (long long)now);
		c->clock_logged = 1;
		t = now;
	}
	e->rn.time = t;
	snprintf(e->rn.source, sizeof e->rn.source, "remote %s", c->addr);
	e->rn.interval = g->cfg.interval;
	n = e->snap.ncounters + e->snap.nstats;
	c->polling = 0;
	stats_count(g, STATS_SNAPSHOTS, 1);
	http_snapshot(g);
	stats_count(g, STATS_SAMPLES, (int64_t)n);
	if (g->cfg.verbose)
		conn_log(c, "snapshot %u: %zu counters, %zu stats, %zu bytes",
		    seq, e->snap.ncounters, e->snap.nstats, len + 1 +
		    WIRE_LENGTH);
	batch_add(g, n);
	conn_timer_arm(c, gatherer_mono());
}

static void
conn_frame_error(struct conn *c, const uint8_t *p, size_t len)
{
	const char	*msg;
	char		 shown[WIRE_ERRMSG_MAX + 1], err[128];
	size_t		 mlen, i;
	uint16_t	 code;

	if (wire_get_error(p, len, &code, &msg, &mlen, err,
	    sizeof err) != 0) {
		conn_kill(c, "sent a malformed ERROR: %s", err);
		return;
	}
	if (mlen > WIRE_ERRMSG_MAX)
		mlen = WIRE_ERRMSG_MAX;
	for (i = 0; i < mlen; i++)
		shown[i] = msg[i] >= 0x20 && msg[i] < 0x7f ? msg[i] : '?';
	shown[mlen] = '\0';
	conn_kill(c, "peer sent ERROR %u: %s", code, shown);
}

/*
 * Refuse a frame from its header alone, before its body is buffered: the
 * type must fit the state, and before the handshake no frame may be bigger
 * than a HELLO.  rc, type and flen are wire_peek()'s.  Returns 0 or the
 * ERROR code sent.
 */
static int
conn_frame_header(struct conn *c, long rc, uint8_t type, uint32_t flen)
{
	if (flen == 0) {
		conn_fail(c, WIRE_E_MALFORMED, "frame of length 0");
		return WIRE_E_MALFORMED;
	}
	if (c->state == CONN_HANDSHAKE && c->tls == CONN_TLS_NONE &&
	    (flen >> 16) == 0x1603) {
		/* 16 03: a TLS handshake record, where a length should be. */
		conn_fail(c, WIRE_E_TOO_BIG, "a TLS handshake to a plaintext "
		    "gatherer (tallyd --plaintext): the node needs this "
		    "gatherer's tally:// furl");
		return WIRE_E_TOO_BIG;
	}
	if (flen > c->g->cfg.max_frame) {
		conn_fail(c, WIRE_E_TOO_BIG, "frame of %u bytes is over tallyd's "
		    "limit of %zu (tallyd --max-frame)", flen,
		    c->g->cfg.max_frame);
		return WIRE_E_TOO_BIG;
	}
	if (c->state == CONN_HANDSHAKE && flen > GATHERER_HELLO_MAX) {
		conn_fail(c, WIRE_E_TOO_BIG, "frame of %u bytes before the "
		    "handshake (at most %u)", flen, GATHERER_HELLO_MAX);
		return WIRE_E_TOO_BIG;
	}
	if (rc == 0)	/* the type is not in yet */
		return 0;
	if (rc < 0) {	/* the length is good: the type is unknown */
		conn_fail(c, WIRE_E_MALFORMED, "unknown frame type %u", type);
		return WIRE_E_MALFORMED;
	}
	if (type == WIRE_ERROR)
		return 0;
	if (c->state == CONN_HANDSHAKE && type != WIRE_HELLO) {
		conn_fail(c, WIRE_E_UNEXPECTED, "%s before HELLO",
		    wire_type_name(type));
		return WIRE_E_UNEXPECTED;
	}
	if (c->state == CONN_READY && type != WIRE_SNAPSHOT) {
		conn_fail(c, WIRE_E_UNEXPECTED, "%s after the handshake",
		    wire_type_name(type));
		return WIRE_E_UNEXPECTED;
	}
	if (c->state == CONN_READY && !c->polling) {
		conn_fail(c, WIRE_E_UNEXPECTED, "SNAPSHOT without a POLL");
		return WIRE_E_UNEXPECTED;
	}
	return 0;
}

/*
 * Handle the whole frames at the start of (buf, len).  Returns the bytes
 * consumed, or -1 when the connection is closing and the rest is moot.
 */
long
conn_frame_parse(struct conn *c, const uint8_t *buf, size_t len)
{
	const uint8_t	*payload;
	size_t		 off = 0, plen;
	uint32_t	 flen;
	uint8_t		 type;
	long		 n;

	while (len - off >= WIRE_LENGTH) {
		n = wire_peek(buf + off, len - off, &type, &flen);
		if (conn_frame_header(c, n, type, flen) != 0)
			return -1;
		n = wire_frame(buf + off, len - off, &type, &payload, &plen);
		if (n == 0)
			break;
		if (n < 0) {	/* conn_frame_header saw to these */
			conn_fail(c, WIRE_E_MALFORMED, "bad frame");
			return -1;
		}
		switch (type) {
		case WIRE_HELLO:
			conn_frame_hello(c, payload, plen);
			break;
		case WIRE_SNAPSHOT:
			conn_frame_snapshot(c, payload, plen);
			break;
		case WIRE_ERROR:
			conn_frame_error(c, payload, plen);
			break;
		}
		if (c->state == CONN_CLOSING || c->state == CONN_DEAD)
			return -1;
		off += (size_t)n;
	}
	return (long)off;
}

