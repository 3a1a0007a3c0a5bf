/*
 * attack.c: hostile peers against tallyd, for t/dos.sh and `make bench`,
 * and a well-behaved provider to measure beside them.  The gatherer must
 * do bounded work per event, so that no peer, authenticated or not, delays
 * another's poll: each mode here is a way of asking it for unbounded work.
 *
 * usage: attack -m MODE [-c CONNECTIONS] [-b ADDR] [-d SECONDS]
 *            [-r SECONDS] [-n POLLS] [-i NODE_ID] [-q] TARGET
 *
 *   TARGET  a furl (tally+tls://FP@HOST:PORT/SECRET or tally://...), or
 *           HOST:PORT ([ADDR6]:PORT) for the modes that need no secret
 *   -m      the mode, below
 *   -c      connections (default 1; `good` takes exactly one)
 *   -b      bind this local source address before connecting
 *           (127.0.0.2, say: attackers on another loopback source)
 *   -d      stop after SECONDS (default: until SIGTERM or SIGINT)
 *   -r      wait SECONDS before reconnecting a closed attacker (0.1)
 *   -n      `good`: exit 0 after answering POLLS polls
 *   -i      the node id: `good`'s (default good), or the prefix of
 *           slow-reader's (default attacker: attacker-0, attacker-1...)
 *   -q      no progress messages on stderr
 *
 * Modes (every TLS one presents a fresh self-signed Ed25519 client
 * certificate made in memory at start, as the gatherer will require):
 *   onebyte          connect, send 0x16 (the first byte of a TLS record),
 *                    then hold the connection silent
 *   record-flood     the TLS handshake, then empty application-data
 *                    records, sealed here, as fast as the socket takes them
 *   alert-flood      the same with warning alerts user_canceled
 *   keyupdate-flood  the TLS handshake, then KeyUpdate after KeyUpdate
 *                    (update_not_requested), through OpenSSL's own API
 *   slow-reader      TLS (or plaintext for a tally:// furl), a valid HELLO
 *                    as attacker-N, then never another byte read, with a
 *                    tiny receive buffer
 *   good             one provider: HELLO, WELCOME, and a SNAPSHOT
 *                    (counter good.polls) for each POLL
 *
 * Attackers whose connection is closed (which the gatherer is expected to
 * do) reconnect after -r, so that the pressure stays.  An attacker prints
 * on stdout, flushed:
 *   attacking MODE                  once, when its first connection has
 *                                   begun its attack (flood, silence)
 *   attack MODE connections N connects C handshakes H reconnects R
 *       sent S bytes B              at exit
 * (S counts records, KeyUpdates, HELLOs or first bytes, by mode), and on
 * stderr how many connections ended for each reason.
 *
 * `good` prints, flushed, on stdout:
 *   poll SEQ at T answered          each SNAPSHOT sent in full; T is the
 *                                   monotonic clock, in seconds
 *   good polls N worst_gap_s G since_last_s S welcome_s W
 *                                   at exit: G is the largest gap between
 *                                   two consecutive POLL arrivals, S the
 *                                   time since the last one (or since
 *                                   WELCOME, or connect()), W from
 *                                   connect() to WELCOME
 *                                   (- if none came)
 * and exits 1 with a message if its connection is lost, or an ERROR frame
 * arrives (its code and message are printed), or anything but WELCOME,
 * then POLL, comes.
 *
 * Exit status: 0; 1 (`good` lost its connection); 2 (usage or setup).
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tally-int.h"

/* TLS 1.3 records (RFC 8446, 5). */
#define REC_HEADER	5		/* type, legacy version, length */
#define REC_TAG		16		/* every suite's AEAD tag */
#define REC_IV		12
#define CT_ALERT	21
#define CT_APPDATA	23
#define ALERT_WARNING	1
#define AD_USER_CANCELED 90

#define ATK_BATCH	256	/* records sealed per refill of a flood */
#define ATK_ROUNDS	16	/* refills, or KeyUpdates, per event */
#define ATK_SLOW_RCVBUF	1024	/* the kernel rounds it up to its minimum */
#define ATK_REASONS	16	/* distinct reasons counted at exit */
#define ATK_LOG_MAX	5	/* failures shown one by one */

enum atk_mode {
	M_ONEBYTE,
	M_RECORD,
	M_ALERT,
	M_KEYUPDATE,
	M_SLOW,
	M_GOOD
};

static const char *const atk_mode_names[] = {
	"onebyte", "record-flood", "alert-flood", "keyupdate-flood",
	"slow-reader", "good"
};

enum atk_state {
	S_IDLE,			/* waiting to (re)connect */
	S_CONNECTING,		/* connect() in progress */
	S_TLS,			/* the TLS handshake */
	S_HELLO,		/* HELLO sent or being sent, before WELCOME */
	S_READY,		/* good: answering polls */
	S_FLOOD,		/* sealed records, or KeyUpdates */
	S_HOLD			/* silent: onebyte, slow-reader */
};

/* TLS 1.3's three default suites, as tlsrec.c knew them. */
struct atk_suite {
	uint16_t	 id;
	const char	*cipher;
	const char	*digest;
	size_t		 keylen;
};

static const struct atk_suite atk_suites[] = {
	{ 0x1301, "AES-128-GCM",	"SHA256", 16 },
	{ 0x1302, "AES-256-GCM",	"SHA384", 32 },
	{ 0x1303, "ChaCha20-Poly1305",	"SHA256", 32 },
};
#define ATK_NSUITES	(sizeof atk_suites / sizeof atk_suites[0])

struct atk;

struct atk_conn {
	struct atk	*a;
	int		 id;
	int		 fd;
	enum atk_state	 state;
	ev_io		 io;
	ev_timer	 timer;		/* reconnect; slow-reader's liveness */
	SSL		*ssl;
	int		 want;		/* what a write waits on, EV_* */
	int		 rd_wants_write;	/* a read waits to write */
	uint32_t	 poll_seq;	/* good: the POLL being answered */
	/* The client's application traffic secret, from the key log. */
	uint8_t		 secret[EVP_MAX_MD_SIZE];
	size_t		 secretlen;
	/* Sealing, once OpenSSL has handed the socket over. */
	EVP_CIPHER_CTX	*cx;
	uint8_t		 iv[REC_IV];
	uint64_t	 seq;
	int		 ku_pending;	/* a KeyUpdate queued in OpenSSL */
	struct wire_buf	 out;		/* bytes to send, from outoff */
	size_t		 outoff;
	struct wire_buf	 in;		/* good: frames being read */
};

struct atk {
	struct ev_loop		*loop;
	enum atk_mode		 mode;
	int			 n;
	struct sockaddr_storage	 addr, baddr;
	socklen_t		 addrlen, baddrlen;
	const char		*target;
	const char		*bind;
	struct furl		 furl;
	int			 have_furl;
	int			 tls;		/* this mode's connections */
	int			 pin;		/* check the furl's pin */
	SSL_CTX			*ctx;
	EVP_KDF			*hkdf;
	const char		*node_id;
	double			 duration, delay;
	long			 maxpolls;
	int			 quiet;
	int			 status;	/* the exit status */
	int			 attacking;	/* said so on stdout */
	struct atk_conn		*conns;
	/* Figures. */
	long			 connects, handshakes, reconnects, sent;
	unsigned long long	 bytes;
	long			 polls, logged;
	double			 t_connect, t_last_poll, t_welcome, worst_gap;
	struct {
		char	 what[96];
		long	 n;
	}			 reasons[ATK_REASONS];
	int			 nreasons;
	long			 other_reasons;
	ev_signal		 sigterm, sigint;
	ev_timer		 duration_timer;
};

static int	 atk_ex_index = -1;

static void	 atk_connect(struct atk_conn *);
static void	 atk_fail(struct atk_conn *, const char *, ...)
		    TALLY_PRINTF(2, 3);
static void	 atk_send(struct atk_conn *);

/* The usage text, and exit status 2, for any mistake on the command line. */
static void
usage(void)
{
	fprintf(stderr,
	    "usage: attack -m MODE [-c CONNECTIONS] [-b ADDR] [-d SECONDS]\n"
	    "           [-r SECONDS] [-n POLLS] [-i NODE_ID] [-q] TARGET\n"
	    "\n"
	    "Hostile peers against tallyd, and one good provider to watch.\n"
	    "TARGET is a furl, or HOST:PORT for modes that need no secret.\n"
	    "\n"
	    "  -m MODE     onebyte, record-flood, alert-flood,\n"
	    "              keyupdate-flood, slow-reader (a furl), or\n"
	    "              good (a furl; one connection)\n"
	    "  -c N        connections (default 1)\n"
	    "  -b ADDR     bind this local address (e.g. 127.0.0.2)\n"
	    "  -d SECONDS  stop after SECONDS (default: at SIGTERM, SIGINT)\n"
	    "  -r SECONDS  delay before an attacker reconnects (0.1)\n"
	    "  -n POLLS    good: exit 0 after answering POLLS polls\n"
	    "  -i ID       good's node id (good), slow-reader's prefix\n"
	    "              (attacker: attacker-0, attacker-1, ...)\n"
	    "  -q          no progress messages\n");
	exit(2);
}

/* The monotonic clock, for gaps that a clock step must not bend. */
static double
atk_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An option's number from 0 to max; anything else ends the run (status 2). */
static double
atk_number(const char *s, double max)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(d >= 0) || d > max) {
		fprintf(stderr, "attack: %s: not a number from 0 to %g\n", s,
		    max);
		exit(2);
	}
	return d;
}

/*
 * Count a reason for the exit report.  Reasons are few and repeat (the
 * gatherer closes each flood the same way), so a small table does.
 */
static void
atk_count_reason(struct atk *a, const char *what)
{
	int	 i;

	for (i = 0; i < a->nreasons; i++)
		if (strcmp(a->reasons[i].what, what) == 0) {
			a->reasons[i].n++;
			return;
		}
	if (a->nreasons == ATK_REASONS) {
		a->other_reasons++;
		return;
	}
	snprintf(a->reasons[i].what, sizeof a->reasons[i].what, "%s", what);
	a->reasons[i].n = 1;
	a->nreasons++;
}

/* OpenSSL's first queued error, or errno's text, for a failure message. */
static const char *
atk_ssl_reason(char *buf, size_t len, SSL *ssl, int rc)
{
	unsigned long	 e;
	int		 err = SSL_get_error(ssl, rc);

	if ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, len);
		ERR_clear_error();
	} else if (err == SSL_ERROR_ZERO_RETURN)
		snprintf(buf, len, "close_notify");
	else if (err == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(buf, len, "%s", strerror(errno));
	else if (err == SSL_ERROR_SYSCALL)
		snprintf(buf, len, "EOF");
	else
		snprintf(buf, len, "SSL error %d", err);
	return buf;
}

/* ---- the client identity --------------------------------------------- */

/*
 * A fresh Ed25519 key and a self-signed certificate for it, in memory:
 * the gatherer will take any such certificate and bind node ids to its
 * key, so an attacker needs nothing more to pass its handshake.
 */
static int
atk_identity(SSL_CTX *ctx)
{
	EVP_PKEY	*pk;
	X509		*x = NULL;
	X509_NAME	*name;
	BIGNUM		*bn = NULL;
	int		 ok = 0;

	if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		return -1;
	if ((x = X509_new()) == NULL || (bn = BN_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) == NULL ||
	    X509_set_pubkey(x, pk) != 1)
		goto out;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"attack", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_sign(x, pk, NULL) <= 0)	/* Ed25519 has no digest */
		goto out;
	ok = SSL_CTX_use_certificate(ctx, x) == 1 &&
	    SSL_CTX_use_PrivateKey(ctx, pk) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
out:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

/*
 * OpenSSL 3.0 hands out traffic secrets only through the key log.  The
 * floods want the client's first application secret, to seal records
 * OpenSSL's API cannot send (empty ones, alerts of our choosing).
 */
static void
atk_keylog_cb(const SSL *ssl, const char *line)
{
	static const char	 label[] = "CLIENT_TRAFFIC_SECRET_0 ";
	struct atk_conn		*c = SSL_get_ex_data(ssl, atk_ex_index);
	const char		*p;
	size_t			 n = 0;
	unsigned int		 byte;

	if (c == NULL || strncmp(line, label, sizeof label - 1) != 0)
		return;
	/* The client random, then the secret, in hex. */
	if ((p = strchr(line + sizeof label - 1, ' ')) == NULL)
		return;
	for (p++; n < sizeof c->secret && sscanf(p, "%2x", &byte) == 1;
	    p += 2)
		c->secret[n++] = (uint8_t)byte;
	c->secretlen = n;
}

/*
 * The client context every TLS connection of the run shares: TLS 1.3
 * only, no tickets or resumption (each connection must pay for a full
 * handshake, as a stranger does), and the client certificate.
 */
static int
atk_ctx(struct atk *a)
{
	if ((a->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(a->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(a->ctx, TLS1_3_VERSION) != 1)
		return -1;
	/* The pin is checked by hand (good); the rest trust anything. */
	SSL_CTX_set_verify(a->ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(a->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(a->ctx, SSL_OP_NO_TICKET);
	/* good's frame buffer may move between two tries of a write. */
	SSL_CTX_set_mode(a->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (a->mode == M_RECORD || a->mode == M_ALERT)
		SSL_CTX_set_keylog_callback(a->ctx, atk_keylog_cb);
	if ((atk_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL)) < 0)
		return -1;
	return atk_identity(a->ctx);
}

/* ---- sealing records, as tallyd's own record layer did ---------------- */

/*
 * HKDF-Expand-Label(secret, label, "", len) of RFC 8446, 7.1, with
 * OpenSSL's HKDF in expand-only mode: the secret is already a PRK.
 */
static int
atk_expand_label(struct atk *a, const char *md, const uint8_t *secret,
    size_t slen, const char *label, uint8_t *out, size_t len)
{
	EVP_KDF_CTX	*k;
	OSSL_PARAM	 params[5], *p = params;
	uint8_t		 info[2 + 1 + 255 + 1];
	size_t		 ll = strlen(label), n = 0;
	int		 mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok;

	if (6 + ll > 255)
		return -1;
	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;			/* an empty context */
	if ((k = EVP_KDF_CTX_new(a->hkdf)) == NULL)
		return -1;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)md, 0);
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)secret, slen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(k, out, len, params) == 1;
	EVP_KDF_CTX_free(k);
	return ok ? 0 : -1;
}

/*
 * The write key and IV of the negotiated suite from the client's traffic
 * secret, into a cipher context kept for the connection's life: each
 * record then only sets its nonce.
 */
static int
atk_keys(struct atk_conn *c, char *err, size_t errlen)
{
	const struct atk_suite	*s = NULL;
	EVP_CIPHER		*cipher;
	uint8_t			 key[32];
	uint16_t		 id;
	size_t			 i;
	int			 ok;

	id = SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(c->ssl));
	for (i = 0; i < ATK_NSUITES; i++)
		if (atk_suites[i].id == id)
			s = &atk_suites[i];
	if (s == NULL) {
		snprintf(err, errlen, "cipher suite 0x%04x unknown", id);
		return -1;
	}
	if (c->secretlen == 0) {
		snprintf(err, errlen, "no CLIENT_TRAFFIC_SECRET_0 logged");
		return -1;
	}
	if (atk_expand_label(c->a, s->digest, c->secret, c->secretlen, "key",
	    key, s->keylen) != 0 ||
	    atk_expand_label(c->a, s->digest, c->secret, c->secretlen, "iv",
	    c->iv, sizeof c->iv) != 0) {
		snprintf(err, errlen, "HKDF-Expand-Label failed");
		return -1;
	}
	if ((cipher = EVP_CIPHER_fetch(NULL, s->cipher, NULL)) == NULL) {
		snprintf(err, errlen, "no cipher %s", s->cipher);
		return -1;
	}
	ok = (c->cx = EVP_CIPHER_CTX_new()) != NULL &&
	    EVP_EncryptInit_ex2(c->cx, cipher, key, NULL, NULL) == 1;
	EVP_CIPHER_free(cipher);
	OPENSSL_cleanse(key, sizeof key);
	c->seq = 0;
	if (!ok) {
		snprintf(err, errlen, "cannot set up %s", s->cipher);
		return -1;
	}
	return 0;
}

/*
 * Append one protected record carrying content type ct and len bytes to
 * c->out: header, inner plaintext (content, then its type), tag.  The
 * nonce is the IV with the sequence number XORed into its end (5.3).
 */
static int
atk_seal(struct atk_conn *c, uint8_t ct, const uint8_t *buf, size_t len)
{
	size_t	 inner = len + 1, total = REC_HEADER + inner + REC_TAG;
	uint8_t	 nonce[REC_IV], *rec;
	int	 i, n;

	if (wire_buf_reserve(&c->out, total) != 0)
		return -1;
	rec = c->out.data + c->out.len;
	rec[0] = CT_APPDATA;		/* every protected record says so */
	rec[1] = 0x03;
	rec[2] = 0x03;
	rec[3] = (uint8_t)((inner + REC_TAG) >> 8);
	rec[4] = (uint8_t)(inner + REC_TAG);
	if (len > 0)		/* an empty record has no buffer at all */
		memcpy(rec + REC_HEADER, buf, len);
	rec[REC_HEADER + len] = ct;
	memcpy(nonce, c->iv, sizeof nonce);
	for (i = 0; i < 8; i++)
		nonce[REC_IV - 1 - i] ^= (uint8_t)(c->seq >> (8 * i));
	if (EVP_EncryptInit_ex2(c->cx, NULL, NULL, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(c->cx, NULL, &n, rec, REC_HEADER) != 1 ||
	    EVP_EncryptUpdate(c->cx, rec + REC_HEADER, &n, rec + REC_HEADER,
	    (int)inner) != 1 ||
	    EVP_EncryptFinal_ex(c->cx, rec + REC_HEADER + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c->cx, EVP_CTRL_AEAD_GET_TAG, REC_TAG,
	    rec + REC_HEADER + inner) != 1)
		return -1;
	c->seq++;
	c->out.len += total;
	return 0;
}

/* ---- connections ----------------------------------------------------- */

/* Watch the socket for these events, and only these. */
static void
atk_watch(struct atk_conn *c, int events)
{
	struct atk	*a = c->a;

	if (ev_is_active(&c->io) && (c->io.events & (EV_READ | EV_WRITE)) ==
	    events)
		return;
	ev_io_stop(a->loop, &c->io);
	if (events == 0)
		return;
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(a->loop, &c->io);
}

/*
 * Release a connection's descriptor, TLS state, keys and buffers; it is
 * then idle, ready to connect again.
 */
static void
atk_close(struct atk_conn *c)
{
	struct atk	*a = c->a;

	ev_io_stop(a->loop, &c->io);
	ev_timer_stop(a->loop, &c->timer);
	if (c->ssl != NULL && a->mode == M_KEYUPDATE)
		a->bytes += BIO_number_written(SSL_get_wbio(c->ssl));
	SSL_free(c->ssl);
	c->ssl = NULL;
	EVP_CIPHER_CTX_free(c->cx);
	c->cx = NULL;
	OPENSSL_cleanse(c->secret, sizeof c->secret);
	c->secretlen = 0;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	wire_buf_free(&c->out);
	wire_buf_free(&c->in);
	c->outoff = 0;
	c->ku_pending = 0;
	c->state = S_IDLE;
}

/*
 * The first connection to reach its attack says so on stdout, once: a test
 * then knows the pressure is on before it starts what it measures.
 */
static void
atk_attacking(struct atk_conn *c)
{
	struct atk	*a = c->a;

	if (a->attacking)
		return;
	a->attacking = 1;
	printf("attacking %s\n", atk_mode_names[a->mode]);
	fflush(stdout);
}

/* The good provider's summary line; its exit status is a->status. */
static void
atk_good_summary(struct atk *a)
{
	double	 since = a->t_last_poll > 0 ? a->t_last_poll :
	    a->t_welcome > 0 ? a->t_welcome : a->t_connect;
	char	 welcome[32] = "-";

	if (a->t_welcome > 0)
		snprintf(welcome, sizeof welcome, "%.3f",
		    a->t_welcome - a->t_connect);
	printf("good polls %ld worst_gap_s %.3f since_last_s %.3f "
	    "welcome_s %s\n", a->polls, a->worst_gap,
	    since > 0 ? atk_mono() - since : 0.0, welcome);
	fflush(stdout);
}

/*
 * A connection failed or was closed.  An attacker counts it and connects
 * again after the delay; the good provider has lost what it measures, and
 * stops the run with status 1.
 */
static void
atk_fail(struct atk_conn *c, const char *fmt, ...)
{
	struct atk	*a = c->a;
	char		 msg[300];
	va_list		 ap;

	if (c->state == S_IDLE)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	atk_close(c);
	if (a->mode == M_GOOD) {
		fprintf(stderr, "attack: good: %s\n", msg);
		a->status = 1;
		ev_break(a->loop, EVBREAK_ALL);
		return;
	}
	atk_count_reason(a, msg);
	if (!a->quiet && a->logged++ < ATK_LOG_MAX)
		fprintf(stderr, "attack: %s %d: %s%s\n",
		    atk_mode_names[a->mode], c->id, msg,
		    a->logged == ATK_LOG_MAX ? " (further ones are counted)" :
		    "");
	a->reconnects++;
	ev_timer_set(&c->timer, a->delay, 0.);
	ev_timer_start(a->loop, &c->timer);
}

/*
 * Send c->out from outoff: through OpenSSL when it has the socket, raw
 * otherwise (plaintext, and the floods once OpenSSL has handed it over).
 * Returns 1 once all is sent, 0 to wait for c->want (the caller watches
 * for it), -1 when the connection failed (and is closed).
 */
static int
atk_flush(struct atk_conn *c)
{
	char	 why[200];
	ssize_t	 n;
	size_t	 left;
	int	 rc;

	while ((left = c->out.len - c->outoff) > 0) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			rc = SSL_write(c->ssl, c->out.data + c->outoff,
			    (int)left);
			if (rc > 0) {
				n = rc;
			} else {
				switch (SSL_get_error(c->ssl, rc)) {
				case SSL_ERROR_WANT_WRITE:
					c->want = EV_WRITE;
					return 0;
				case SSL_ERROR_WANT_READ:
					c->want = EV_READ;
					return 0;
				}
				atk_fail(c, "TLS write: %s", atk_ssl_reason(why,
				    sizeof why, c->ssl, rc));
				return -1;
			}
		} else {
			n = send(c->fd, c->out.data + c->outoff, left,
			    MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->want = EV_WRITE;
					return 0;
				}
				atk_fail(c, "send: %s", strerror(errno));
				return -1;
			}
		}
		c->outoff += (size_t)n;
		c->a->bytes += (unsigned long long)n;
	}
	c->out.len = 0;
	c->outoff = 0;
	c->want = 0;
	return 1;
}

/*
 * Read what the peer sends and throw it away: attackers do not care what
 * it says, only whether it closed.  Raw bytes; OpenSSL's records only for
 * keyupdate-flood (which must let OpenSSL see the peer's messages).
 */
static void
atk_drain(struct atk_conn *c)
{
	uint8_t	 buf[4096];
	char	 why[200];
	ssize_t	 n;
	int	 i, rc;

	for (i = 0; i < ATK_ROUNDS; i++) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			if ((rc = SSL_read(c->ssl, buf, sizeof buf)) > 0)
				continue;
			switch (SSL_get_error(c->ssl, rc)) {
			case SSL_ERROR_WANT_READ:
			case SSL_ERROR_WANT_WRITE:
				return;
			}
			atk_fail(c, "closed by the peer: %s", atk_ssl_reason(
			    why, sizeof why, c->ssl, rc));
			return;
		}
		n = recv(c->fd, buf, sizeof buf, 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		atk_fail(c, "closed by the peer: %s", n == 0 ? "EOF" :
		    strerror(errno));
		return;
	}
}

/* ---- the floods ------------------------------------------------------ */

/*
 * Seal and send records while the socket takes them, ATK_ROUNDS batches at
 * most per event, so that the other connections of this loop get their
 * turn (the same bound we ask of the gatherer).
 */
static void
atk_flood_records(struct atk_conn *c)
{
	static const uint8_t	 alert[2] = { ALERT_WARNING, AD_USER_CANCELED };
	int			 i, k, rc;

	for (k = 0; k < ATK_ROUNDS; k++) {
		if (c->out.len == 0) {
			for (i = 0; i < ATK_BATCH; i++) {
				rc = c->a->mode == M_ALERT ?
				    atk_seal(c, CT_ALERT, alert, sizeof alert) :
				    atk_seal(c, CT_APPDATA, NULL, 0);
				if (rc != 0) {
					atk_fail(c, "cannot seal a record");
					return;
				}
			}
			c->a->sent += ATK_BATCH;
		}
		if ((rc = atk_flush(c)) < 0)
			return;
		if (rc == 0)
			break;
	}
	atk_watch(c, EV_READ | EV_WRITE);
}

/*
 * KeyUpdate after KeyUpdate, through OpenSSL: SSL_key_update queues one,
 * SSL_do_handshake writes it; a write the socket did not take is finished
 * by the next SSL_do_handshake before another is queued.
 */
static void
atk_flood_keyupdates(struct atk_conn *c)
{
	char	 why[200];
	int	 k, rc;

	for (k = 0; k < ATK_ROUNDS * 16; k++) {
		if (!c->ku_pending) {
			ERR_clear_error();
			if (SSL_key_update(c->ssl,
			    SSL_KEY_UPDATE_NOT_REQUESTED) != 1) {
				atk_fail(c, "SSL_key_update: %s",
				    atk_ssl_reason(why, sizeof why, c->ssl, 0));
				return;
			}
			c->ku_pending = 1;
		}
		ERR_clear_error();
		rc = SSL_do_handshake(c->ssl);
		if (rc == 1) {
			c->ku_pending = 0;
			c->a->sent++;
			continue;
		}
		switch (SSL_get_error(c->ssl, rc)) {
		case SSL_ERROR_WANT_WRITE:
		case SSL_ERROR_WANT_READ:
			/* Read events come anyway; writable is the wait. */
			atk_watch(c, EV_READ | EV_WRITE);
			return;
		}
		atk_fail(c, "KeyUpdate: %s", atk_ssl_reason(why, sizeof why,
		    c->ssl, rc));
		return;
	}
	atk_watch(c, EV_READ | EV_WRITE);
}

/*
 * Take the socket over from OpenSSL after its handshake: nothing of its
 * may be left to send, and the records that follow are ours, sealed with
 * the client's traffic key from sequence number 0.
 */
static void
atk_flood_start(struct atk_conn *c)
{
	char	 err[200];

	if (BIO_wpending(SSL_get_wbio(c->ssl)) != 0) {
		atk_fail(c, "OpenSSL still holds bytes to send");
		return;
	}
	if (atk_keys(c, err, sizeof err) != 0) {
		atk_fail(c, "%s", err);
		return;
	}
	/* The SSL's socket BIO does not close the descriptor. */
	SSL_free(c->ssl);
	c->ssl = NULL;
	OPENSSL_cleanse(c->secret, sizeof c->secret);
	c->state = S_FLOOD;
	atk_attacking(c);
	atk_flood_records(c);
}

/* ---- HELLO and the good provider ------------------------------------- */

/*
 * Queue HELLO and send it: the good provider's node id, or attacker-N for
 * a slow reader, whose node id must be valid to get past the gatherer's
 * checks and be polled.
 */
static void
atk_hello(struct atk_conn *c)
{
	struct atk		*a = c->a;
	struct wire_hello	 h;
	char			 id[80], nick[80];

	if (a->mode == M_GOOD) {
		snprintf(id, sizeof id, "%s", a->node_id);
		snprintf(nick, sizeof nick, "good provider");
	} else {
		snprintf(id, sizeof id, "%s-%d", a->node_id, c->id);
		snprintf(nick, sizeof nick, "slow reader %d", c->id);
	}
	memset(&h, 0, sizeof h);
	h.version = TALLY_PROTOCOL_VERSION;
	h.secret = a->furl.secret;
	h.secret_len = strlen(a->furl.secret);
	h.node_id = id;
	h.node_len = strlen(id);
	h.nickname = nick;
	h.nick_len = strlen(nick);
	if (wire_put_hello(&c->out, &h) != 0) {
		atk_fail(c, "cannot encode HELLO (node id %s)", id);
		return;
	}
	c->state = S_HELLO;
	a->sent++;
	atk_send(c);
}

/* Answer POLL seq with a SNAPSHOT: good.polls, the polls answered. */
static void
atk_answer(struct atk_conn *c, uint32_t seq)
{
	struct atk	*a = c->a;
	struct snapshot	 s;
	static const char name[] = "good.polls";
	int		 rc;

	snapshot_init(&s);
	rc = snapshot_add_counter(&s, name, sizeof name - 1, a->polls + 1);
	if (rc == 0) {
		snapshot_finish(&s);
		rc = wire_put_snapshot(&c->out, seq, (int64_t)time(NULL), &s);
	}
	snapshot_free(&s);
	if (rc != 0) {
		atk_fail(c, "cannot encode a SNAPSHOT");
		return;
	}
	c->poll_seq = seq;
	atk_send(c);
}

/* A whole frame reached the good provider (or the slow reader: never). */
static void
atk_frame(struct atk_conn *c, uint8_t type, const uint8_t *p, size_t len)
{
	struct atk	*a = c->a;
	const char	*msg;
	char		 err[200], shown[WIRE_ERRMSG_MAX + 1];
	uint32_t	 seq;
	uint16_t	 code;
	size_t		 mlen, i;
	double		 now = atk_mono();

	if (type == WIRE_ERROR) {
		if (wire_get_error(p, len, &code, &msg, &mlen, err,
		    sizeof err) != 0) {
			atk_fail(c, "a malformed ERROR frame: %s", err);
			return;
		}
		if (mlen > WIRE_ERRMSG_MAX)
			mlen = WIRE_ERRMSG_MAX;
		for (i = 0; i < mlen; i++)
			shown[i] = msg[i] < 0x20 || msg[i] == 0x7f ? '?' :
			    msg[i];
		shown[mlen] = '\0';
		atk_fail(c, "ERROR %u from the gatherer: %s", code, shown);
		return;
	}
	if (c->state == S_HELLO) {
		/* The layout of WELCOME may grow; its type says enough. */
		if (type != WIRE_WELCOME) {
			atk_fail(c, "frame type %u in answer to HELLO", type);
			return;
		}
		c->state = S_READY;
		a->t_welcome = now;
		return;
	}
	if (type != WIRE_POLL) {
		atk_fail(c, "unexpected frame type %u", type);
		return;
	}
	if (wire_get_poll(p, len, &seq, err, sizeof err) != 0) {
		atk_fail(c, "a malformed POLL: %s", err);
		return;
	}
	if (c->out.len > 0) {
		atk_fail(c, "POLL %u while the last SNAPSHOT is unsent", seq);
		return;
	}
	if (a->t_last_poll > 0 && now - a->t_last_poll > a->worst_gap)
		a->worst_gap = now - a->t_last_poll;
	a->t_last_poll = now;
	atk_answer(c, seq);
}

/*
 * The good provider's reads: into c->in, then every whole frame in it,
 * until the socket is empty: bytes left inside OpenSSL would show no event.
 * A frame of any size the protocol allows is taken (WELCOME may carry the
 * node's stored counters).
 */
static void
atk_good_read(struct atk_conn *c)
{
	const uint8_t	*payload;
	char		 why[200];
	size_t		 plen;
	ssize_t		 n;
	long		 fl;
	uint8_t		 type;
	int		 rc;

	c->rd_wants_write = 0;
	while (c->state != S_IDLE) {
		if (wire_buf_reserve(&c->in, 16384) != 0) {
			atk_fail(c, "out of memory");
			return;
		}
		if (c->ssl != NULL) {
			ERR_clear_error();
			rc = SSL_read(c->ssl, c->in.data + c->in.len, 16384);
			if (rc <= 0) {
				switch (SSL_get_error(c->ssl, rc)) {
				case SSL_ERROR_WANT_READ:
					return;
				case SSL_ERROR_WANT_WRITE:
					c->rd_wants_write = 1;
					return;
				}
				atk_fail(c, "connection lost: %s",
				    atk_ssl_reason(why, sizeof why, c->ssl,
				    rc));
				return;
			}
			n = rc;
		} else {
			n = recv(c->fd, c->in.data + c->in.len, 16384, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (n <= 0) {
				atk_fail(c, "connection lost: %s", n == 0 ?
				    "EOF" : strerror(errno));
				return;
			}
		}
		c->in.len += (size_t)n;
		while (c->state != S_IDLE && (fl = wire_frame(c->in.data,
		    c->in.len, &type, &payload, &plen)) != 0) {
			if (fl < 0) {
				atk_fail(c, "a frame of bad length from the "
				    "gatherer");
				return;
			}
			atk_frame(c, type, payload, plen);
			if (c->state == S_IDLE)
				return;
			wire_buf_consume(&c->in, (size_t)fl);
		}
	}
}

/* Send c->out; a SNAPSHOT sent in full is a poll answered. */
static void
atk_send(struct atk_conn *c)
{
	struct atk	*a = c->a;
	int		 rc, snap = c->state == S_READY && c->out.len > 0;

	if ((rc = atk_flush(c)) < 0)
		return;
	if (rc == 1 && a->mode == M_SLOW && c->state == S_HELLO) {
		/* HELLO is out: read nothing more, ever. */
		c->state = S_HOLD;
		atk_attacking(c);
		atk_watch(c, 0);
		ev_timer_set(&c->timer, 0.5, 0.5);
		ev_timer_start(a->loop, &c->timer);
		return;
	}
	if (a->mode == M_SLOW) {	/* HELLO still going out */
		atk_watch(c, c->want != 0 ? c->want : EV_WRITE);
		return;
	}
	if (rc == 1 && snap) {
		a->polls++;
		printf("poll %u at %.3f answered\n", (unsigned)c->poll_seq,
		    atk_mono());
		fflush(stdout);
		if (a->maxpolls > 0 && a->polls >= a->maxpolls) {
			ev_break(a->loop, EVBREAK_ALL);
			return;
		}
	}
	atk_watch(c, EV_READ | (c->want == EV_WRITE ? EV_WRITE : 0));
}

/* The pin, as a provider checks it: SHA-256 of the certificate's DER. */
static int
atk_pin_ok(struct atk_conn *c, char *err, size_t errlen)
{
	X509		*x = SSL_get0_peer_certificate(c->ssl);
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		 fp[FURL_FP_LEN + 1];
	int		 len;

	if (x == NULL || (len = i2d_X509(x, &der)) <= 0) {
		snprintf(err, errlen, "the gatherer sent no certificate");
		return 0;
	}
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) !=
	    1 || furl_b32_encode(md, mdlen, fp, sizeof fp) < 0) {
		OPENSSL_free(der);
		snprintf(err, errlen, "cannot hash the certificate");
		return 0;
	}
	OPENSSL_free(der);
	if (strcmp(fp, c->a->furl.fingerprint) != 0) {
		snprintf(err, errlen, "certificate fingerprint mismatch "
		    "(expected %s, got %s)", c->a->furl.fingerprint, fp);
		return 0;
	}
	return 1;
}

/* ---- connecting and the handshake ------------------------------------ */

/* The TLS handshake done: what each mode does with its connection. */
static void
atk_established(struct atk_conn *c)
{
	struct atk	*a = c->a;
	char		 err[300];

	a->handshakes++;
	switch (a->mode) {
	case M_RECORD:
	case M_ALERT:
		atk_flood_start(c);
		break;
	case M_KEYUPDATE:
		c->state = S_FLOOD;
		atk_attacking(c);
		atk_flood_keyupdates(c);
		break;
	case M_GOOD:
	case M_SLOW:
		if (a->pin && !atk_pin_ok(c, err, sizeof err)) {
			atk_fail(c, "%s", err);
			return;
		}
		atk_hello(c);
		break;
	default:
		atk_fail(c, "no TLS in this mode");
	}
}

/* One step of the client handshake; the watcher follows what OpenSSL wants. */
static void
atk_tls_step(struct atk_conn *c)
{
	char	 why[200];
	int	 rc;

	ERR_clear_error();
	if ((rc = SSL_do_handshake(c->ssl)) == 1) {
		atk_established(c);
		return;
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		atk_watch(c, EV_READ);
		return;
	case SSL_ERROR_WANT_WRITE:
		atk_watch(c, EV_WRITE);
		return;
	}
	atk_fail(c, "TLS handshake: %s", atk_ssl_reason(why, sizeof why,
	    c->ssl, rc));
}

/* connect() completed: the mode's first move. */
static void
atk_connected(struct atk_conn *c)
{
	struct atk	*a = c->a;
	int		 one = 1;

	a->connects++;
	if (a->mode == M_GOOD)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (a->mode == M_ONEBYTE) {
		if (wire_buf_reserve(&c->out, 1) != 0) {
			atk_fail(c, "out of memory");
			return;
		}
		c->out.data[c->out.len++] = 0x16;
		c->state = S_HOLD;
		if (atk_flush(c) < 0)
			return;
		a->sent++;
		atk_attacking(c);
		atk_watch(c, EV_READ | (c->want == EV_WRITE ? EV_WRITE : 0));
		return;
	}
	if (!a->tls) {
		atk_hello(c);
		return;
	}
	if ((c->ssl = SSL_new(a->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_ex_data(c->ssl, atk_ex_index, c) != 1) {
		atk_fail(c, "cannot set up TLS");
		return;
	}
	SSL_set_connect_state(c->ssl);
	c->state = S_TLS;
	atk_tls_step(c);
}

/* Socket events, dispatched by the connection's state. */
static void
atk_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct atk_conn	*c = w->data;
	socklen_t	 len = sizeof(int);
	int		 soerr = 0;

	(void)loop;
	switch (c->state) {
	case S_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			soerr = errno;
		if (soerr != 0)
			atk_fail(c, "connect: %s", strerror(soerr));
		else
			atk_connected(c);
		return;
	case S_TLS:
		atk_tls_step(c);
		return;
	case S_FLOOD:
		if (revents & EV_READ)
			atk_drain(c);
		if (c->state != S_FLOOD || !(revents & EV_WRITE))
			return;
		if (c->a->mode == M_KEYUPDATE)
			atk_flood_keyupdates(c);
		else
			atk_flood_records(c);
		return;
	case S_HOLD:
		/* onebyte: its byte, then only the peer's close matters. */
		if (c->out.len > 0 && atk_flush(c) < 0)
			return;
		if (revents & EV_READ)
			atk_drain(c);
		if (c->state == S_HOLD)
			atk_watch(c, EV_READ | (c->want == EV_WRITE ?
			    EV_WRITE : 0));
		return;
	case S_HELLO:
	case S_READY:
		/* OpenSSL may need either event for either direction. */
		if (c->out.len > 0) {
			atk_send(c);
			if (c->state == S_IDLE || c->state == S_HOLD)
				return;
		}
		/* A slow reader reads no byte after its handshake. */
		if (c->a->mode == M_SLOW)
			return;
		atk_good_read(c);
		if (c->state == S_HELLO || c->state == S_READY)
			atk_watch(c, EV_READ | ((c->out.len > 0 &&
			    c->want == EV_WRITE) || c->rd_wants_write ?
			    EV_WRITE : 0));
		return;
	case S_IDLE:
		return;
	}
}

/*
 * The connection's timer: when idle, time to connect again; when a slow
 * reader holds, a look at whether the peer has closed, from the kernel's
 * TCP state (reading would defeat the point of it).
 */
static void
atk_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct atk_conn	*c = w->data;
	struct tcp_info	 ti;
	socklen_t	 len = sizeof ti;

	(void)loop;
	(void)revents;
	if (c->state == S_IDLE) {
		atk_connect(c);
		return;
	}
	if (c->state != S_HOLD)
		return;
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
		atk_fail(c, "TCP_INFO: %s", strerror(errno));
		return;
	}
	if (ti.tcpi_state != TCP_ESTABLISHED)
		atk_fail(c, "closed by the peer (TCP state %u)",
		    (unsigned)ti.tcpi_state);
}

/*
 * Start a non-blocking connect from the -b address, if any.  Failures of
 * any kind go through atk_fail, which schedules the next try.
 */
static void
atk_connect(struct atk_conn *c)
{
	struct atk	*a = c->a;
	int		 fd, rcvbuf = ATK_SLOW_RCVBUF, one = 1;

	c->state = S_CONNECTING;
	if (a->t_connect == 0)
		a->t_connect = atk_mono();
	fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if ((c->fd = fd) < 0) {
		atk_fail(c, "socket: %s", strerror(errno));
		return;
	}
	/* Before connect: the window offered in the SYN follows it. */
	if (a->mode == M_SLOW && setsockopt(fd, SOL_SOCKET, SO_RCVBUF,
	    &rcvbuf, sizeof rcvbuf) != 0) {
		atk_fail(c, "SO_RCVBUF: %s", strerror(errno));
		return;
	}
	/*
	 * Thousands of reconnects a minute from one source address: let the
	 * kernel pick the port at connect(), against the whole 4-tuple, not
	 * at bind(), where every port in TIME_WAIT would be taken.
	 */
	if (a->bind != NULL)
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof one);
	if (a->bind != NULL && bind(fd, (struct sockaddr *)&a->baddr,
	    a->baddrlen) != 0) {
		atk_fail(c, "bind %s: %s", a->bind, strerror(errno));
		return;
	}
	ev_io_init(&c->io, atk_io_cb, fd, EV_WRITE);
	c->io.data = c;
	if (connect(fd, (struct sockaddr *)&a->addr, a->addrlen) != 0 &&
	    errno != EINPROGRESS) {
		atk_fail(c, "connect: %s", strerror(errno));
		return;
	}
	ev_io_start(a->loop, &c->io);
}

/* ---- setup ---------------------------------------------------------- */

/*
 * TARGET: a furl, parsed as providers parse it, or HOST:PORT, with an
 * IPv6 address in brackets.  Resolves it into a->addr.
 */
static int
atk_target(struct atk *a)
{
	struct addrinfo	 hints, *ai;
	char		 err[256], host[256];
	const char	*t = a->target, *port, *end;
	int		 rc;

	if (strncmp(t, "tally://", 8) == 0 ||
	    strncmp(t, "tally+tls://", 12) == 0) {
		if (furl_parse(t, &a->furl, err, sizeof err) != 0) {
			fprintf(stderr, "attack: furl: %s\n", err);
			return -1;
		}
		a->have_furl = 1;
	} else {
		if (t[0] == '[') {
			if ((end = strchr(t, ']')) == NULL || end[1] != ':')
				goto bad;
			t++;
			port = end + 2;
		} else {
			if ((end = strchr(t, ':')) == NULL ||
			    strchr(end + 1, ':') != NULL)
				goto bad;
			port = end + 1;
		}
		if (end == t || (size_t)(end - t) >= sizeof a->furl.host ||
		    *port == '\0' || strlen(port) >= sizeof a->furl.port)
			goto bad;
		memcpy(a->furl.host, t, (size_t)(end - t));
		a->furl.host[end - t] = '\0';
		snprintf(a->furl.port, sizeof a->furl.port, "%s", port);
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(a->furl.host, a->furl.port, &hints, &ai)) != 0) {
		fprintf(stderr, "attack: %s: %s\n", a->furl.host,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(&a->addr, ai->ai_addr, ai->ai_addrlen);
	a->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	/* The secret of a tally:// furl crosses loopback only. */
	if (a->have_furl && a->furl.fingerprint[0] == '\0' &&
	    !furl_addr_loopback((struct sockaddr *)&a->addr)) {
		fprintf(stderr, "attack: %s does not resolve to a loopback "
		    "address: refused for a tally:// furl\n", a->furl.host);
		return -1;
	}
	if (a->bind == NULL)
		return 0;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = a->addr.ss_family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	snprintf(host, sizeof host, "%s", a->bind);
	if (host[0] == '[' && (end = strchr(host, ']')) != NULL) {
		memmove(host, host + 1, (size_t)(end - host - 1));
		host[end - host - 1] = '\0';
	}
	if ((rc = getaddrinfo(host, "0", &hints, &ai)) != 0) {
		fprintf(stderr, "attack: -b %s: %s (an address of the "
		    "target's family)\n", a->bind, gai_strerror(rc));
		return -1;
	}
	memcpy(&a->baddr, ai->ai_addr, ai->ai_addrlen);
	a->baddrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
bad:
	fprintf(stderr, "attack: %s: neither a furl nor HOST:PORT\n",
	    a->target);
	return -1;
}

/* Raise the descriptor limit to the hard one; enough for N connections? */
static int
atk_nofile(int need)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("attack: getrlimit");
		return -1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
		fprintf(stderr, "attack: need %d descriptors, the limit is "
		    "%llu\n", need, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

/* -d: the run's time is up. */
static void
atk_stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* SIGTERM, SIGINT: stop, and report as at the end of -d. */
static void
atk_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* The exit report: the summary line on stdout, the reasons on stderr. */
static void
atk_report(struct atk *a)
{
	int	 i;

	if (a->mode == M_GOOD) {
		atk_good_summary(a);
		return;
	}
	printf("attack %s connections %d connects %ld handshakes %ld "
	    "reconnects %ld sent %ld bytes %llu\n", atk_mode_names[a->mode],
	    a->n, a->connects, a->handshakes, a->reconnects, a->sent,
	    a->bytes);
	fflush(stdout);
	for (i = 0; i < a->nreasons; i++)
		fprintf(stderr, "attack: %s: %ld connections ended: %s\n",
		    atk_mode_names[a->mode], a->reasons[i].n,
		    a->reasons[i].what);
	if (a->other_reasons > 0)
		fprintf(stderr, "attack: %s: %ld connections ended for other "
		    "reasons\n", atk_mode_names[a->mode], a->other_reasons);
}

/*
 * Parse the options and target, set up TLS if the mode needs it, start
 * every connection at once and run until -d, -n or a signal.
 */
int
main(int argc, char **argv)
{
	struct atk	 a;
	const char	*mode = NULL;
	size_t		 m;
	int		 ch, i;

	memset(&a, 0, sizeof a);
	a.n = 1;
	a.delay = 0.1;
	while ((ch = getopt(argc, argv, "b:c:d:hi:m:n:qr:")) != -1) {
		switch (ch) {
		case 'b':
			a.bind = optarg;
			break;
		case 'c':
			a.n = (int)atk_number(optarg, 100000);
			break;
		case 'd':
			a.duration = atk_number(optarg, 86400 * 365);
			break;
		case 'i':
			a.node_id = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'n':
			a.maxpolls = (long)atk_number(optarg, 1e9);
			break;
		case 'q':
			a.quiet = 1;
			break;
		case 'r':
			a.delay = atk_number(optarg, 3600);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || mode == NULL || a.n < 1)
		usage();
	a.target = argv[optind];
	for (m = 0; m < sizeof atk_mode_names / sizeof atk_mode_names[0]; m++)
		if (strcmp(mode, atk_mode_names[m]) == 0)
			break;
	if (m == sizeof atk_mode_names / sizeof atk_mode_names[0]) {
		fprintf(stderr, "attack: unknown mode %s\n", mode);
		usage();
	}
	a.mode = (enum atk_mode)m;
	if (a.mode == M_GOOD && a.n != 1) {
		fprintf(stderr, "attack: good takes one connection (-c 1)\n");
		return 2;
	}
	if (a.node_id == NULL)
		a.node_id = a.mode == M_GOOD ? "good" : "attacker";
	if (atk_target(&a) != 0)
		return 2;
	if ((a.mode == M_GOOD || a.mode == M_SLOW) && !a.have_furl) {
		fprintf(stderr, "attack: %s needs a furl: it says HELLO with "
		    "the secret\n", mode);
		return 2;
	}
	/* The floods are TLS whatever the target; HELLO follows the furl. */
	a.tls = a.mode != M_ONEBYTE && (!a.have_furl ||
	    a.furl.fingerprint[0] != '\0' ||
	    (a.mode != M_GOOD && a.mode != M_SLOW));
	a.pin = a.have_furl && a.furl.fingerprint[0] != '\0';
	if (a.tls && atk_ctx(&a) != 0) {
		fprintf(stderr, "attack: cannot set up TLS with a client "
		    "certificate: %s\n", ERR_error_string(ERR_get_error(),
		    NULL));
		return 2;
	}
	if ((a.mode == M_RECORD || a.mode == M_ALERT) &&
	    (a.hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL) {
		fprintf(stderr, "attack: OpenSSL has no HKDF\n");
		return 2;
	}
	if (atk_nofile(a.n + 16) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((a.loop = ev_default_loop(EVFLAG_AUTO)) == NULL) {
		fprintf(stderr, "attack: cannot start libev\n");
		return 2;
	}
	if ((a.conns = calloc((size_t)a.n, sizeof *a.conns)) == NULL) {
		fprintf(stderr, "attack: out of memory\n");
		return 2;
	}
	ev_signal_init(&a.sigterm, atk_signal_cb, SIGTERM);
	ev_signal_start(a.loop, &a.sigterm);
	ev_signal_init(&a.sigint, atk_signal_cb, SIGINT);
	ev_signal_start(a.loop, &a.sigint);
	if (a.duration > 0) {
		ev_timer_init(&a.duration_timer, atk_stop_cb, a.duration, 0.);
		ev_timer_start(a.loop, &a.duration_timer);
	}
	for (i = 0; i < a.n; i++) {
		a.conns[i].a = &a;
		a.conns[i].id = i;
		a.conns[i].fd = -1;
		wire_buf_init(&a.conns[i].out);
		wire_buf_init(&a.conns[i].in);
		ev_init(&a.conns[i].timer, atk_timer_cb);
		a.conns[i].timer.data = &a.conns[i];
		atk_connect(&a.conns[i]);
	}
	if (a.status == 0)
		ev_run(a.loop, 0);
	atk_report(&a);
	for (i = 0; i < a.n; i++)
		atk_close(&a.conns[i]);
	free(a.conns);
	SSL_CTX_free(a.ctx);
	EVP_KDF_free(a.hkdf);
	ev_loop_destroy(a.loop);
	return a.status;
}
