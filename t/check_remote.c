/*
 * check_remote.c: a provider in remote mode, against a listening socket
 * that speaks the protocol frame by frame, so each step is checked: the
 * HELLO it sends, its answer to POLL, its reaction to ERROR and to a lost
 * connection.  The same over TLS, the socket's end made of tls.c with an
 * identity of the test's own: HELLO comes only inside TLS, only to the
 * certificate the furl pins, and a gatherer with another certificate is
 * refused with both fingerprints in the log.  (tallyd itself is exercised
 * by check_gatherer and the shell tests.)  Every wait has a deadline,
 * DEADLINE, 10x the longest thing awaited (a reconnection's backoff, 0.5
 * to 1 s); none depends on how fast the provider's thread runs.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include "tally-int.h"
#include "fixture.h"
#include "peer.h"

#define SECRET "abcdefghijklmnopqrstuvwxyz234567"
#define DEADLINE 10.0	/* seconds any single wait may take */

static int		 lfd = -1;
static char		 tlsdir[FIXTURE_PATH_MAX];	/* TLS cases only */
static char		 keypath[FIXTURE_PATH_MAX + 16];	/* the node's */
static int		 port;
static char		 furl[128];

static void
setup(void)
{
	fixture_log_clear();
	tlsdir[0] = '\0';
	lfd = peer_listen(&port);
	snprintf(furl, sizeof furl, "tally://127.0.0.1:%d/%s", port, SECRET);
}

static void
teardown(void)
{
	close(lfd);
}

/* ---- a TLS gatherer of the test's making -------------------------------- */

/* An identity in tlsdir under name; its server context and fingerprint. */
static struct ssl_ctx_st *
tls_identity(const char *name, char *fp)
{
	struct ssl_ctx_st	*ctx;
	char			 key[FIXTURE_PATH_MAX + 64];
	char			 crt[FIXTURE_PATH_MAX + 64];
	char			 err[TALLY_ERRLEN];

	snprintf(key, sizeof key, "%s/%s.key", tlsdir, name);
	snprintf(crt, sizeof crt, "%s/%s.crt", tlsdir, name);
	ck_assert_msg(tls_identity_create(key, crt, fp, FURL_FP_LEN + 1, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_msg(tls_server_ctx(&ctx, key, crt, NULL, 0, err,
	    sizeof err) == 0, "%s", err);
	return ctx;
}

static void
setup_tls(void)
{
	setup();
	ck_assert_ptr_nonnull(fixture_tmpdir(tlsdir));
}

static void
teardown_tls(void)
{
	teardown();
	fixture_rmtree(tlsdir);
}

static tally_provider *
mk(void)
{
	tally_options	 opt;
	tally_provider	*p;

	memset(&opt, 0, sizeof opt);
	opt.node_id = "remote-1";
	opt.nickname = "far away";
	opt.gatherer_furl = furl;
	opt.flags = TALLY_F_NO_MONITORS;
	opt.log = fixture_log;
	/* The node's own key, for a TLS gatherer: made on first use. */
	if (tlsdir[0] != '\0') {
		snprintf(keypath, sizeof keypath, "%s/node.key", tlsdir);
		opt.key_file = keypath;
	}
	ck_assert_int_eq(tally_provider_new(&p, &opt), 0);
	return p;
}

/* The provider's next connection, within the deadline. */
static int
accept_next(void)
{
	peer_wait(lfd, POLLIN, fixture_now() + DEADLINE);
	return accept(lfd, NULL, NULL);
}

START_TEST(test_hello_poll_snapshot)
{
	tally_provider		*p = mk();
	struct wire_buf		 in, out;
	struct wire_hello	 h;
	struct snapshot		 snap;
	const uint8_t		*pl;
	size_t			 plen;
	uint32_t		 seq;
	int64_t			 t, v, before;
	char			 err[128];
	int			 fd;

	wire_buf_init(&in);
	wire_buf_init(&out);
	snapshot_init(&snap);
	tally_count(p, "far.ops", 42);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_ge(fd = accept_next(), 0);

	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_HELLO);
	ck_assert_int_eq(wire_get_hello(pl, plen, &h, err, sizeof err), 0);
	ck_assert_int_eq(h.version, TALLY_PROTOCOL_VERSION);
	ck_assert_uint_eq(h.secret_len, strlen(SECRET));
	ck_assert(memcmp(h.secret, SECRET, h.secret_len) == 0);
	ck_assert(h.node_len == 8 && memcmp(h.node_id, "remote-1", 8) == 0);
	ck_assert(h.nick_len == 8 && memcmp(h.nickname, "far away", 8) == 0);

	/* Nothing but the HELLO before WELCOME. */
	wire_put_welcome(&out, TALLY_PROTOCOL_VERSION, 60000, NULL);
	wire_put_poll(&out, 7);
	before = (int64_t)time(NULL);
	peer_send_buf(fd, NULL, &out);
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_SNAPSHOT);
	ck_assert_int_eq(wire_get_snapshot(pl, plen, &seq, &t, &snap, err,
	    sizeof err), 0);
	ck_assert_uint_eq(seq, 7);
	/* Taken when polled, however long that took. */
	ck_assert(t >= before && t <= (int64_t)time(NULL));
	ck_assert(peer_snapshot_counter(&snap, "far.ops", &v) && v == 42);

	/* Each poll is answered with the counters of that moment. */
	tally_count(p, "far.ops", 1);
	wire_put_poll(&out, 8);
	peer_send_buf(fd, NULL, &out);
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_SNAPSHOT);
	snapshot_reset(&snap);
	ck_assert_int_eq(wire_get_snapshot(pl, plen, &seq, &t, &snap, err,
	    sizeof err), 0);
	ck_assert_uint_eq(seq, 8);
	ck_assert(peer_snapshot_counter(&snap, "far.ops", &v) && v == 43);

	/* Remote only: flush has nothing to write. */
	ck_assert_int_eq(tally_provider_flush(p), TALLY_ESTATE);
	ck_assert_int_eq(tally_provider_stop(p), 0);
	/* Stopping closes the connection. */
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen), -1);
	close(fd);
	tally_provider_free(p);
	wire_buf_free(&in);
	wire_buf_free(&out);
	snapshot_free(&snap);
}
END_TEST

/* Refused: the reason is logged, and the provider dials again. */
START_TEST(test_refused_then_retry)
{
	tally_provider	*p = mk();
	struct wire_buf	 in, out;
	const uint8_t	*pl;
	size_t		 plen;
	int		 fd;

	wire_buf_init(&in);
	wire_buf_init(&out);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_ge(fd = accept_next(), 0);
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_HELLO);
	wire_put_error(&out, WIRE_E_AUTH, "wrong secret");
	peer_send_buf(fd, NULL, &out);
	close(fd);
	/* The first backoff is 0.5-1 s. */
	ck_assert_int_ge(fd = accept_next(), 0);
	ck_assert(fixture_log_has("refused: wrong secret (error 3)"));
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_HELLO);
	close(fd);
	tally_provider_free(p);
	wire_buf_free(&in);
	wire_buf_free(&out);
}
END_TEST

/* A gatherer that talks nonsense gets an ERROR and a new connection. */
START_TEST(test_garbage_from_gatherer)
{
	tally_provider	*p = mk();
	struct wire_buf	 in, out;
	const uint8_t	*pl;
	size_t		 plen;
	uint16_t	 code;
	const char	*msg;
	size_t		 mlen;
	char		 err[128];
	int		 fd;

	wire_buf_init(&in);
	wire_buf_init(&out);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_ge(fd = accept_next(), 0);
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_HELLO);
	wire_put_poll(&out, 1);		/* POLL before WELCOME */
	peer_send_buf(fd, NULL, &out);
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_ERROR);
	ck_assert_int_eq(wire_get_error(pl, plen, &code, &msg, &mlen, err,
	    sizeof err), 0);
	ck_assert_int_eq(code, WIRE_E_UNEXPECTED);
	close(fd);
	ck_assert_int_ge(fd = accept_next(), 0);
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_HELLO);
	close(fd);
	tally_provider_free(p);
	wire_buf_free(&in);
	wire_buf_free(&out);
}
END_TEST

/* A gatherer of another protocol version is told so, and left. */
START_TEST(test_welcome_wrong_version)
{
	tally_provider	*p = mk();
	struct wire_buf	 in, out;
	const uint8_t	*pl;
	size_t		 plen, mlen;
	uint16_t	 code;
	const char	*msg;
	char		 err[128];
	int		 fd;

	wire_buf_init(&in);
	wire_buf_init(&out);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_ge(fd = accept_next(), 0);
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_HELLO);
	wire_put_welcome(&out, 99, 1000, NULL);
	peer_send_buf(fd, NULL, &out);
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_ERROR);
	ck_assert_int_eq(wire_get_error(pl, plen, &code, &msg, &mlen, err,
	    sizeof err), 0);
	ck_assert_int_eq(code, WIRE_E_VERSION);
	ck_assert(fixture_log_has("protocol version 99"));
	close(fd);
	tally_provider_free(p);
	wire_buf_free(&in);
	wire_buf_free(&out);
}
END_TEST

/* Nothing listens: start still succeeds, and the failure is logged once. */
START_TEST(test_nobody_listening)
{
	tally_provider	*p;

	close(lfd);
	lfd = -1;
	p = mk();
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_eq(tally_count(p, "still.counting", 1), 0);
	fixture_log_wait("Connection refused", DEADLINE);
	tally_provider_free(p);
}
END_TEST

/* Over TLS: HELLO, with the secret, only inside; polls answered. */
START_TEST(test_tls_hello_poll_snapshot)
{
	struct ssl_ctx_st	*ctx;
	struct tls		*ssl;
	tally_provider		*p;
	struct wire_buf		 in, out;
	struct wire_hello	 h;
	struct snapshot		 snap;
	const uint8_t		*pl;
	char			 fp[FURL_FP_LEN + 1], err[TALLY_ERRLEN];
	size_t			 plen;
	uint32_t		 seq;
	int64_t			 t, v;
	int			 fd;

	ctx = tls_identity("gatherer", fp);
	snprintf(furl, sizeof furl, "tally+tls://%s@127.0.0.1:%d/%s", fp,
	    port, SECRET);
	wire_buf_init(&in);
	wire_buf_init(&out);
	snapshot_init(&snap);
	p = mk();
	tally_count(p, "far.ops", 42);
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_ge(fd = accept_next(), 0);
	ck_assert_msg(peer_tls_accept(fd, ctx, &ssl, err, sizeof err) == 0,
	    "%s", err);
	ck_assert_str_eq(tls_version(ssl), "TLSv1.3");
	/* The node presented its own key, made 0600 on first use. */
	{
		char		 peer[FURL_FP_LEN + 1], mine[FURL_FP_LEN + 1];
		struct stat	 sb;

		ck_assert_int_eq(tls_peer_key(ssl, peer, sizeof peer), 0);
		ck_assert_msg(tls_node_key(keypath, mine, sizeof mine, err,
		    sizeof err) == 0, "%s", err);
		ck_assert_str_eq(peer, mine);
		ck_assert_int_eq(stat(keypath, &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	}

	ck_assert_int_eq(peer_read_frame(fd, ssl, &in, &pl, &plen),
	    WIRE_HELLO);
	ck_assert_int_eq(wire_get_hello(pl, plen, &h, err, sizeof err), 0);
	ck_assert(h.secret_len == strlen(SECRET) &&
	    memcmp(h.secret, SECRET, h.secret_len) == 0);
	ck_assert(h.node_len == 8 && memcmp(h.node_id, "remote-1", 8) == 0);

	wire_put_welcome(&out, TALLY_PROTOCOL_VERSION, 60000, NULL);
	wire_put_poll(&out, 3);
	peer_send_buf(fd, ssl, &out);
	ck_assert_int_eq(peer_read_frame(fd, ssl, &in, &pl, &plen),
	    WIRE_SNAPSHOT);
	ck_assert_int_eq(wire_get_snapshot(pl, plen, &seq, &t, &snap, err,
	    sizeof err), 0);
	ck_assert_uint_eq(seq, 3);
	ck_assert(peer_snapshot_counter(&snap, "far.ops", &v) && v == 42);
	ck_assert(fixture_log_has(": connected"));

	/* Stopping says goodbye inside TLS: a clean EOF. */
	ck_assert_int_eq(tally_provider_stop(p), 0);
	ck_assert_int_eq(peer_read_frame(fd, ssl, &in, &pl, &plen), -1);
	tls_free(ssl);
	close(fd);
	tally_provider_free(p);
	tls_ctx_free(ctx);
	wire_buf_free(&in);
	wire_buf_free(&out);
	snapshot_free(&snap);
}
END_TEST

/*
 * A gatherer with another certificate (a man in the middle on the
 * address): the provider refuses it during the handshake, logs both
 * fingerprints, never says HELLO, and tries again later.
 */
START_TEST(test_tls_pin_mismatch)
{
	struct ssl_ctx_st	*real, *mitm;
	struct tls		*ssl;
	tally_provider		*p;
	char			 fp[FURL_FP_LEN + 1], fp2[FURL_FP_LEN + 1];
	char			 err[TALLY_ERRLEN], want[256];
	int			 fd;

	real = tls_identity("real", fp);
	mitm = tls_identity("mitm", fp2);
	ck_assert_str_ne(fp, fp2);
	snprintf(furl, sizeof furl, "tally+tls://%s@127.0.0.1:%d/%s", fp,
	    port, SECRET);
	p = mk();
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_ge(fd = accept_next(), 0);
	ck_assert_int_eq(peer_tls_accept(fd, mitm, &ssl, err, sizeof err),
	    TLS_ERROR);
	ck_assert_msg(strstr(err, "bad certificate") != NULL, "%s", err);
	tls_free(ssl);
	close(fd);
	snprintf(want, sizeof want, "gatherer 127.0.0.1:%d: certificate "
	    "fingerprint mismatch (expected %s, got %s)", port, fp, fp2);
	/* The alert reaches us before the provider's thread logs. */
	fixture_log_wait(want, DEADLINE);
	ck_assert(!fixture_log_has(SECRET));

	/* It comes back (0.5-1 s) and finds the real gatherer. */
	ck_assert_int_ge(fd = accept_next(), 0);
	ck_assert_msg(peer_tls_accept(fd, real, &ssl, err, sizeof err) == 0,
	    "%s", err);
	tls_free(ssl);
	close(fd);
	tally_provider_free(p);
	tls_ctx_free(real);
	tls_ctx_free(mitm);
}
END_TEST

/*
 * A plaintext listener where a TLS gatherer should be: it sees a TLS
 * ClientHello and no secret; the provider logs that the peer does not
 * speak TLS.
 */
START_TEST(test_tls_never_plaintext)
{
	tally_provider	*p;
	char		 fp[FURL_FP_LEN + 1];
	uint8_t		 buf[4096];
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	tls_ctx_free(tls_identity("real", fp));
	snprintf(furl, sizeof furl, "tally+tls://%s@127.0.0.1:%d/%s", fp,
	    port, SECRET);
	p = mk();
	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_ge(fd = accept_next(), 0);
	/* The whole first record, however many reads it takes. */
	while (got < 5 || got < 5 + (size_t)(buf[3] << 8 | buf[4])) {
		peer_wait(fd, POLLIN, fixture_now() + DEADLINE);
		ck_assert_int_gt(n = read(fd, buf + got, sizeof buf - got), 0);
		got += (size_t)n;
	}
	/* A TLS handshake record, TLS 1.x on the record layer. */
	ck_assert_uint_eq(buf[0], 0x16);
	ck_assert_uint_eq(buf[1], 0x03);
	ck_assert(memmem(buf, got, SECRET, strlen(SECRET)) == NULL);
	ck_assert(memmem(buf, got, "remote-1", 8) == NULL);
	/* A plaintext gatherer's answer: ERROR too_big. */
	ck_assert_int_eq(write(fd, "\0\0\0\x05\x05\0\x06\0\0", 9), 9);
	close(fd);
	fixture_log_wait("does not speak TLS", DEADLINE);
	tally_provider_free(p);
}
END_TEST

/*
 * WELCOME's counters: a remote-only provider adds them to what it counted,
 * once: a reconnection's WELCOME changes nothing.
 */
START_TEST(test_welcome_resumes_counters)
{
	tally_provider		*p = mk();
	struct wire_buf		 in, out;
	struct snapshot		 back, snap;
	const uint8_t		*pl;
	size_t			 plen;
	uint32_t		 seq;
	int64_t			 t, v;
	char			 err[128];
	int			 fd, round;

	wire_buf_init(&in);
	wire_buf_init(&out);
	snapshot_init(&back);
	snapshot_init(&snap);
	ck_assert_int_eq(snapshot_add_counter(&back, "far.ops", 7, 1000), 0);
	ck_assert_int_eq(snapshot_add_counter(&back, "far.kept", 8, 5), 0);
	snapshot_finish(&back);
	tally_count(p, "far.ops", 42);
	ck_assert_int_eq(tally_provider_start(p), 0);
	for (round = 0; round < 2; round++) {
		ck_assert_int_ge(fd = accept_next(), 0);
		ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
		    WIRE_HELLO);
		wire_put_welcome(&out, TALLY_PROTOCOL_VERSION, 60000, &back);
		wire_put_poll(&out, 1);
		peer_send_buf(fd, NULL, &out);
		ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
		    WIRE_SNAPSHOT);
		snapshot_reset(&snap);
		ck_assert_int_eq(wire_get_snapshot(pl, plen, &seq, &t, &snap,
		    err, sizeof err), 0);
		ck_assert(peer_snapshot_counter(&snap, "far.ops", &v));
		ck_assert_msg(v == 1042, "round %d: far.ops %lld", round,
		    (long long)v);
		ck_assert(peer_snapshot_counter(&snap, "far.kept", &v) &&
		    v == 5);
		/* Drop it: the provider reconnects, and is welcomed again. */
		close(fd);
	}
	ck_assert(fixture_log_has("resumed 2 counters from the gatherer"));
	tally_provider_free(p);
	wire_buf_free(&in);
	wire_buf_free(&out);
	snapshot_free(&back);
	snapshot_free(&snap);
}
END_TEST

/* Start p and take its connection as far as its HELLO: the fd. */
static int
started_to_hello(tally_provider *p, struct wire_buf *in)
{
	const uint8_t	*pl;
	size_t		 plen;
	int		 fd;

	ck_assert_int_eq(tally_provider_start(p), 0);
	ck_assert_int_ge(fd = accept_next(), 0);
	ck_assert_int_eq(peer_read_frame(fd, NULL, in, &pl, &plen),
	    WIRE_HELLO);
	return fd;
}

/* WELCOME with back's counters and POLL 1: the SNAPSHOT, into snap. */
static void
welcome_poll(int fd, struct wire_buf *in, struct wire_buf *out,
    const struct snapshot *back, struct snapshot *snap)
{
	const uint8_t	*pl;
	size_t		 plen;
	uint32_t	 seq;
	int64_t		 t;
	char		 err[128];

	wire_put_welcome(out, TALLY_PROTOCOL_VERSION, 60000, back);
	wire_put_poll(out, 1);
	peer_send_buf(fd, NULL, out);
	ck_assert_int_eq(peer_read_frame(fd, NULL, in, &pl, &plen),
	    WIRE_SNAPSHOT);
	snapshot_reset(snap);
	ck_assert_msg(wire_get_snapshot(pl, plen, &seq, &t, snap, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(seq, 1);
}

/*
 * SNAPSHOT frames from fd until one answers poll want: how many came.
 * Frames are parsed one after another from what each read brought.
 */
static int
read_snapshots_until(int fd, struct wire_buf *b, uint32_t want)
{
	struct snapshot	 snap;
	const uint8_t	*pl;
	size_t		 plen;
	uint32_t	 seq = 0;
	int64_t		 t;
	uint8_t		 type;
	char		 err[128];
	long		 fl, n;
	int		 count = 0;

	snapshot_init(&snap);
	b->len = 0;
	while (seq != want) {
		fl = wire_frame(b->data, b->len, &type, &pl, &plen);
		ck_assert_int_ge(fl, 0);
		if (fl == 0) {
			peer_wait(fd, POLLIN, fixture_now() + DEADLINE);
			ck_assert_int_eq(wire_buf_reserve(b, 65536), 0);
			n = read(fd, b->data + b->len, b->cap - b->len);
			ck_assert_int_gt(n, 0);
			b->len += (size_t)n;
			continue;
		}
		ck_assert_int_eq(type, WIRE_SNAPSHOT);
		snapshot_reset(&snap);
		ck_assert_msg(wire_get_snapshot(pl, plen, &seq, &t, &snap, err,
		    sizeof err) == 0, "%s", err);
		count++;
		wire_buf_consume(b, (size_t)fl);
	}
	snapshot_free(&snap);
	return count;
}

/*
 * A burst of polls gets its newest one answered, not a snapshot each (a
 * flood of POLLs that the gatherer never read grew the host without
 * bound, a snapshot queued per poll); then polls are answered as before.
 */
START_TEST(test_poll_burst)
{
	tally_provider	*p = mk();
	struct wire_buf	 in, out;
	uint32_t	 seq;
	int		 fd, n;

	wire_buf_init(&in);
	wire_buf_init(&out);
	tally_count(p, "far.ops", 1);
	fd = started_to_hello(p, &in);
	wire_put_welcome(&out, TALLY_PROTOCOL_VERSION, 60000, NULL);
	for (seq = 1; seq <= 5000; seq++)
		wire_put_poll(&out, seq);
	peer_send_buf(fd, NULL, &out);
	/* 45,000 bytes of polls, read 4 KiB at a time: an answer a read. */
	n = read_snapshots_until(fd, &in, 5000);
	ck_assert_msg(n >= 1 && n <= 100, "%d snapshots for 5000 polls", n);
	wire_put_poll(&out, 5001);
	peer_send_buf(fd, NULL, &out);
	ck_assert_int_eq(read_snapshots_until(fd, &in, 5001), 1);
	close(fd);
	tally_provider_free(p);
	wire_buf_free(&in);
	wire_buf_free(&out);
}
END_TEST

/*
 * A WELCOME's counters: a name twice resumes the later entry, as in a
 * SNAPSHOT; more than 100,000 resume none (each would be a counter of
 * the host's, out of its million).
 */
START_TEST(test_welcome_resume_hostile)
{
	tally_provider	*p;
	struct wire_buf	 in, out;
	struct snapshot	 back, snap;
	int64_t		 v;
	char		 name[32];
	int		 fd, i;

	wire_buf_init(&in);
	wire_buf_init(&out);
	snapshot_init(&back);
	snapshot_init(&snap);
	ck_assert_int_eq(snapshot_add_counter(&back, "far.ops", 7, 1000), 0);
	ck_assert_int_eq(snapshot_add_counter(&back, "far.ops", 7, 7), 0);
	p = mk();
	tally_count(p, "far.ops", 42);
	fd = started_to_hello(p, &in);
	welcome_poll(fd, &in, &out, &back, &snap);
	ck_assert(peer_snapshot_counter(&snap, "far.ops", &v));
	ck_assert_msg(v == 49, "far.ops %lld, want 42 + 7", (long long)v);
	close(fd);
	tally_provider_free(p);

	snapshot_reset(&back);
	for (i = 0; i <= 100000; i++) {
		snprintf(name, sizeof name, "far.c%06d", i);
		ck_assert_int_eq(snapshot_add_counter(&back, name,
		    strlen(name), 1), 0);
	}
	p = mk();
	fd = started_to_hello(p, &in);
	welcome_poll(fd, &in, &out, &back, &snap);
	ck_assert(!peer_snapshot_counter(&snap, "far.c000000", &v));
	ck_assert_msg(fixture_log_has("100001 counters offered, over 100000: "
	    "none resumed"), "%s", fixture_log_text());
	close(fd);
	tally_provider_free(p);
	wire_buf_free(&in);
	wire_buf_free(&out);
	snapshot_free(&back);
	snapshot_free(&snap);
}
END_TEST

/*
 * A gatherer that welcomes and then fails, again and again: a connection
 * counts as working from its first answered poll, not from WELCOME, so
 * the failure is logged once, not once a cycle (and backoff grows).
 */
START_TEST(test_welcome_then_garbage_logged_once)
{
	tally_provider	*p = mk();
	struct wire_buf	 in, out;
	static const uint8_t garbage[] = { 0, 0, 0, 0 };	/* length 0 */
	const uint8_t	*pl;
	const char	*t, *at;
	size_t		 plen;
	int		 fd, round, n;

	wire_buf_init(&in);
	wire_buf_init(&out);
	fd = started_to_hello(p, &in);
	for (round = 0; round < 2; round++) {
		wire_put_welcome(&out, TALLY_PROTOCOL_VERSION, 60000, NULL);
		peer_send_buf(fd, NULL, &out);
		ck_assert_int_eq(write(fd, garbage, sizeof garbage),
		    (ssize_t)sizeof garbage);
		close(fd);
		/* The next connection: the failure before it is handled. */
		fd = accept_next();
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
		    WIRE_HELLO);
	}
	t = fixture_log_text();
	for (n = 0, at = t; (at = strstr(at, "bad frame length")) != NULL;
	    at++)
		n++;
	ck_assert_msg(n == 1, "logged %d times: %s", n, t);
	close(fd);
	tally_provider_free(p);
	wire_buf_free(&in);
	wire_buf_free(&out);
}
END_TEST

/* A poll interval over a day (tallyd's most) is refused, and said. */
START_TEST(test_welcome_interval_over_a_day)
{
	tally_provider	*p = mk();
	struct wire_buf	 in, out;
	const uint8_t	*pl;
	const char	*msg;
	size_t		 plen, mlen;
	uint16_t	 code;
	char		 err[128];
	int		 fd;

	wire_buf_init(&in);
	wire_buf_init(&out);
	fd = started_to_hello(p, &in);
	wire_put_welcome(&out, TALLY_PROTOCOL_VERSION, 86400001, NULL);
	peer_send_buf(fd, NULL, &out);
	ck_assert_int_eq(peer_read_frame(fd, NULL, &in, &pl, &plen),
	    WIRE_ERROR);
	ck_assert_int_eq(wire_get_error(pl, plen, &code, &msg, &mlen, err,
	    sizeof err), 0);
	ck_assert_int_eq(code, WIRE_E_MALFORMED);
	ck_assert(fixture_log_has("poll interval of 86400001 ms is over a "
	    "day"));
	close(fd);
	tally_provider_free(p);
	wire_buf_free(&in);
	wire_buf_free(&out);
}
END_TEST

/* tally:// is for loopback: elsewhere the provider is not even made. */
START_TEST(test_plaintext_beyond_loopback)
{
	tally_provider	*p;

	snprintf(furl, sizeof furl, "tally://192.0.2.1:%d/%s", port, SECRET);
	{
		tally_options	 opt;

		memset(&opt, 0, sizeof opt);
		opt.node_id = "remote-1";
		opt.gatherer_furl = furl;
		opt.flags = TALLY_F_NO_MONITORS;
		opt.log = fixture_log;
		ck_assert_int_eq(tally_provider_new(&p, &opt), TALLY_EINVAL);
	}
	ck_assert_msg(fixture_log_has("loopback only"), "%s",
	    fixture_log_text());
	ck_assert(!fixture_log_has(SECRET));
}
END_TEST

int
main(void)
{
	/* Room for several waits of DEADLINE, should one be slow. */
	const struct fixture_test	 tests[] = {
		{ "core", test_hello_poll_snapshot, 0, 60 },
		{ "core", test_refused_then_retry, 0, 60 },
		{ "core", test_garbage_from_gatherer, 0, 60 },
		{ "core", test_nobody_listening, 0, 60 },
		{ "core", test_welcome_wrong_version, 0, 60 },
		{ "core", test_welcome_resumes_counters, 0, 60 },
		{ "core", test_plaintext_beyond_loopback, 0, 60 },
		{ "core", test_poll_burst, 0, 60 },
		{ "core", test_welcome_resume_hostile, 0, 60 },
		{ "core", test_welcome_interval_over_a_day, 0, 60 },
		{ "core", test_welcome_then_garbage_logged_once, 0, 60 },
		{ "tls", test_tls_hello_poll_snapshot, 0, 60 },
		{ "tls", test_tls_pin_mismatch, 0, 60 },
		{ "tls", test_tls_never_plaintext, 0, 60 },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "core", setup, teardown, NULL, NULL },
		{ "tls", setup_tls, teardown_tls, NULL, NULL },
	};

	return fixture_main("remote", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
