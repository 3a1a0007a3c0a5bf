/*
 * tls.c: TLS 1.3 between providers and the gatherer, with OpenSSL: the
 * client's side, and what both sides share (tls-server.c holds the
 * gatherer's, outside libtally).
 *
 * The gatherer's identity is a key pair and a self-signed certificate of
 * its own making.  Its furl carries the SHA-256 of the certificate's DER
 * encoding, and a provider checks that digest and nothing else: no CA, no
 * host name, no dates.  Whoever holds the furl knows the certificate, so
 * a certificate authority would add a party to trust and nothing to check.
 *
 * A node is known by its public key.  Each node has an Ed25519 key of its
 * own (tls_node_key(), made on first use) and presents it as its TLS
 * client certificate; the certificate is only a wrapper, self-signed,
 * made in memory each time a context is made, and nobody reads anything
 * in it but the key.  The gatherer binds a node id to the key's
 * fingerprint (the SHA-256 of its DER SubjectPublicKeyInfo) on first
 * contact.  The handshake's CertificateVerify proves that the node holds
 * the private key, which is all the certificate's own signature could
 * have said.
 *
 * Everything here is non-blocking.  tls_handshake(), tls_read() and
 * tls_write() say TLS_WANT_READ or TLS_WANT_WRITE when the socket must
 * become readable or writable first, and the caller's event loop calls
 * again then.  Either may ask for the other direction (a read may have to
 * write, and a write read), which the callers in remote.c, tallyd's
 * conn-io.c and loadgen.c honour.  OpenSSL's SSL does every record, on both ends, for
 * the whole life of a connection: there is no record layer here.
 *
 * Sockets are wrapped in a BIO of our own that sends with MSG_NOSIGNAL:
 * libtally runs inside host programs, and OpenSSL's socket BIO write()s,
 * which raises SIGPIPE on a connection the peer has reset.
 *
 * Like the rest of libtally, nothing here prints, exits or aborts: errors
 * come back as codes with a message in a caller's buffer, and OpenSSL's
 * thread-local error queue is emptied after each call, so that one
 * connection's failure never shows up in another's message.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tally-int.h"
#include "tls-int.h"

#define TLS_NODE_CN	"tally node"

static pthread_once_t	 tls_once = PTHREAD_ONCE_INIT;
static BIO_METHOD	*tls_bio_meth;
static int		 tls_idx = -1;


const char *
tls_reason(void)
{
	static const char	 unknown[] = "unknown OpenSSL error";
	unsigned long		 e = ERR_peek_last_error();
	const char		*r;

	ERR_clear_error();
	if (e == 0 || (r = ERR_reason_error_string(e)) == NULL)
		return unknown;
	return r;
}

/* ---- the socket BIO --------------------------------------------------- */

static int
tls_bio_write(BIO *b, const char *buf, int len)
{
	struct tls	*tc = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	n = send(tc->fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_write(b);
		else
			tc->sys_errno = errno;
		return -1;
	}
	return (int)n;
}

static int
tls_bio_read(BIO *b, char *buf, int len)
{
	struct tls	*tc = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	n = recv(tc->fd, buf, (size_t)len, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_read(b);
		else
			tc->sys_errno = errno;
		return -1;
	}
	return (int)n;
}

static long
tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:	/* nothing is buffered here */
	case BIO_CTRL_DUP:
		return 1;
	}
	return 0;
}

static int
tls_bio_create(BIO *b)
{
	BIO_set_init(b, 0);
	return 1;
}

/* The fd and the struct tls belong to the caller, who frees them. */
static int
tls_bio_destroy(BIO *b)
{
	BIO_set_data(b, NULL);
	BIO_set_init(b, 0);
	return 1;
}

static void
tls_init(void)
{
	BIO_METHOD	*m;

	tls_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "tally socket");
	if (m == NULL)
		return;
	if (!BIO_meth_set_write(m, tls_bio_write) ||
	    !BIO_meth_set_read(m, tls_bio_read) ||
	    !BIO_meth_set_ctrl(m, tls_bio_ctrl) ||
	    !BIO_meth_set_create(m, tls_bio_create) ||
	    !BIO_meth_set_destroy(m, tls_bio_destroy)) {
		BIO_meth_free(m);
		return;
	}
	tls_bio_meth = m;
}

static pthread_mutex_t	tls_fork_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t	tls_fork_once = PTHREAD_ONCE_INIT;

static void
tls_fork_prepare(void)
{
	pthread_mutex_lock(&tls_fork_mutex);
}

static void
tls_fork_release(void)
{
	pthread_mutex_unlock(&tls_fork_mutex);
}

static void
tls_fork_init(void)
{
	pthread_atfork(tls_fork_prepare, tls_fork_release, tls_fork_release);
}

void
tls_fork_lock(void)
{
	pthread_once(&tls_fork_once, tls_fork_init);
	pthread_mutex_lock(&tls_fork_mutex);
}

void
tls_fork_unlock(void)
{
	pthread_mutex_unlock(&tls_fork_mutex);
}

int
tls_ready(char *err, size_t errlen)
{
	pthread_once(&tls_once, tls_init);
	if (tls_bio_meth == NULL || tls_idx < 0) {
		error_set(err, errlen, 0, "TLS: cannot set up OpenSSL: %s",
		    tls_reason());
		return TALLY_ENOMEM;
	}
	return 0;
}

struct tls *
tls_of(const SSL *ssl)
{
	return ssl != NULL && tls_idx >= 0 ? SSL_get_ex_data(ssl, tls_idx) :
	    NULL;
}

/* ---- fingerprints ----------------------------------------------------- */

/* SHA-256 of the certificate's DER encoding; 0 or -1. */
static int
tls_digest(X509 *x, uint8_t *md)
{
	unsigned char	*der = NULL;
	unsigned int	 mdlen = 0;
	int		 len, ok;

	if (x == NULL || (len = i2d_X509(x, &der)) <= 0)
		return -1;
	ok = EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return ok && mdlen == FURL_FP_BYTES ? 0 : -1;
}

int
tls_cert_fingerprint(X509 *x, char *fp, size_t fplen)
{
	uint8_t	 md[FURL_FP_BYTES];

	if (tls_digest(x, md) != 0 ||
	    furl_b32_encode(md, sizeof md, fp, fplen) != FURL_FP_LEN)
		return -1;
	return 0;
}

/*
 * A key's fingerprint hashes its SubjectPublicKeyInfo, not a certificate:
 * a node may remake its wrapper certificate at will (it does, at each
 * start) and stays the same node.
 */
int
tls_key_fingerprint(struct evp_pkey_st *pk, char *fp, size_t fplen)
{
	unsigned char	*der = NULL;
	uint8_t		 md[FURL_FP_BYTES];
	unsigned int	 mdlen = 0;
	int		 len, ok;

	if (pk == NULL || fp == NULL || fplen < FURL_FP_LEN + 1)
		return TALLY_EINVAL;
	if ((len = i2d_PUBKEY(pk, &der)) <= 0) {
		ERR_clear_error();
		return TALLY_EINVAL;
	}
	ok = EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (!ok || mdlen != FURL_FP_BYTES ||
	    furl_b32_encode(md, sizeof md, fp, fplen) != FURL_FP_LEN) {
		ERR_clear_error();
		return TALLY_EINVAL;
	}
	return 0;
}

/*
 * The client's check, during the handshake, in place of OpenSSL's chain
 * verification (SSL_CTX_set_cert_verify_callback): only the leaf counts,
 * and only its digest.  Chains, trust anchors and dates are moot, so
 * none is built or searched; a leaf with another digest fails the
 * handshake at once, so the provider never says HELLO, and the peer is
 * told by an alert.  OpenSSL checks the server's CertificateVerify (that
 * it holds the leaf's key) whatever this says.
 */
static int
tls_verify_cb(X509_STORE_CTX *xs, void *arg)
{
	SSL		*ssl;
	struct tls	*tc;
	uint8_t		 md[FURL_FP_BYTES];

	ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	tc = tls_of(ssl);
	if (tc == NULL || !tc->pinned ||
	    tls_digest(X509_STORE_CTX_get0_cert(xs), md) != 0) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	if (memcmp(md, tc->want, sizeof md) != 0) {
		tc->mismatch = 1;
		furl_b32_encode(md, sizeof md, tc->got, sizeof tc->got);
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

/* ---- contexts --------------------------------------------------------- */

static int	tls_session_cb(SSL *, SSL_SESSION *);

SSL_CTX *
tls_ctx_common(const SSL_METHOD *method)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(method)) == NULL)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/*
	 * Sessions are resumed from tickets only (tls_session_keep(), and
	 * tls_server_tickets() on the gatherer), never from a cache in the
	 * context; either side that wants tickets turns them on.  One group,
	 * X25519, at both ends: the client's key share is always the one the
	 * server takes, so there is never a HelloRetryRequest.
	 * RELEASE_BUFFERS frees the 16k+ record buffers of an idle
	 * connection, which is most of them most of the time; the output
	 * buffers may move and grow between retries of a write.  An EOF
	 * without close_notify is an EOF: the frames carry their own lengths,
	 * so a truncation shows there.  Each end sends its one self-signed
	 * certificate: NO_AUTO_CHAIN spares OpenSSL building (and verifying)
	 * a chain for it at every handshake, which is most of what a
	 * handshake costs beside the key exchange.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_set1_groups_list(ctx, "X25519") != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * A provider's context.  With keypath, the node's key (made on first use,
 * as tls_node_key() does) goes out as the client certificate, in a
 * self-signed wrapper made here, in memory: nothing but the key is kept,
 * so nothing else can go stale.
 */
int
tls_client_ctx(struct ssl_ctx_st **ctxp, const char *keypath, char *err,
    size_t errlen)
{
	SSL_CTX		*ctx;
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	int		 rc;

	*ctxp = NULL;
	if ((rc = tls_ready(err, errlen)) != 0)
		return rc;
	if (keypath != NULL &&
	    (rc = tls_node_pkey(keypath, &pk, err, errlen)) != 0)
		return rc;
	ERR_clear_error();
	if ((ctx = tls_ctx_common(TLS_client_method())) == NULL) {
		EVP_PKEY_free(pk);
		error_set(err, errlen, 0, "TLS: %s", tls_reason());
		return TALLY_ENOMEM;
	}
	/* No trust store: tls_verify_cb decides, by the pin alone. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, tls_verify_cb, NULL);
	/* Tickets, handed to tls_session_cb(), kept by whoever asked. */
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tls_session_cb);
	if (pk != NULL) {
		if (tls_make_cert(&pk, &x, TLS_NODE_CN) != 0 ||
		    SSL_CTX_use_certificate(ctx, x) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			error_set(err, errlen, 0, "key file %s: cannot make "
			    "its certificate: %s", keypath, tls_reason());
			X509_free(x);
			EVP_PKEY_free(pk);
			SSL_CTX_free(ctx);
			return TALLY_EINVAL;
		}
		/* The context holds references of its own. */
		X509_free(x);
		EVP_PKEY_free(pk);
	}
	ERR_clear_error();
	*ctxp = ctx;
	return 0;
}

void
tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

/* ---- connections ------------------------------------------------------ */

int
tls_new(struct tls **tp, struct ssl_ctx_st *ctx, int fd,
    const char *fingerprint, char *err, size_t errlen)
{
	struct tls	*tc;
	BIO		*b;
	int		 rc;

	*tp = NULL;
	if ((rc = tls_ready(err, errlen)) != 0)
		return rc;
	if ((tc = calloc(1, sizeof *tc)) == NULL) {
		error_set(err, errlen, 0, "out of memory");
		return TALLY_ENOMEM;
	}
	tc->fd = fd;
	if (fingerprint != NULL) {
		if (furl_b32_decode(fingerprint, strlen(fingerprint), tc->want,
		    sizeof tc->want) != FURL_FP_BYTES) {
			free(tc);
			error_set(err, errlen, 0, "bad fingerprint");
			return TALLY_EINVAL;
		}
		tc->pinned = 1;
	}
	ERR_clear_error();
	if ((tc->ssl = SSL_new(ctx)) == NULL) {
		free(tc);
		error_set(err, errlen, 0, "TLS: %s", tls_reason());
		return TALLY_ENOMEM;
	}
	if ((b = BIO_new(tls_bio_meth)) == NULL ||
	    !SSL_set_ex_data(tc->ssl, tls_idx, tc)) {
		BIO_free(b);
		SSL_free(tc->ssl);
		free(tc);
		error_set(err, errlen, 0, "TLS: %s", tls_reason());
		return TALLY_ENOMEM;
	}
	BIO_set_data(b, tc);
	BIO_set_init(b, 1);
	SSL_set_bio(tc->ssl, b, b);
	if (fingerprint != NULL)
		SSL_set_connect_state(tc->ssl);
	else
		SSL_set_accept_state(tc->ssl);
	*tp = tc;
	return 0;
}

void
tls_free(struct tls *tc)
{
	if (tc == NULL)
		return;
	SSL_free(tc->ssl);
	free(tc);
	ERR_clear_error();
}

/*
 * Why a call failed, in words for a log line, and the connection marked
 * as failed.  Peers that do not speak TLS at all are common enough (an
 * old furl, a scanner) to be named as such, and so are the two ends of a
 * node without a key meeting a gatherer that wants one.
 */
static int
tls_fail(SSL *ssl, struct tls *tc, int ret, char *err, size_t errlen)
{
	unsigned long	 e;
	const char	*hint = "", *r;
	char		 want[FURL_FP_LEN + 1];
	int		 se;

	se = SSL_get_error(ssl, ret);
	e = ERR_peek_last_error();
	tc->failed = 1;
	if (tc->mismatch) {
		furl_b32_encode(tc->want, sizeof tc->want, want, sizeof want);
		error_set(err, errlen, 0, "certificate fingerprint mismatch "
		    "(expected %s, got %s)", want, tc->got);
		ERR_clear_error();
		return TLS_ERROR;
	}
	if (se == SSL_ERROR_ZERO_RETURN ||
	    (se == SSL_ERROR_SYSCALL && e == 0 && tc->sys_errno == 0)) {
		error_set(err, errlen, 0, "connection closed by the peer");
		ERR_clear_error();
		return TLS_ERROR;
	}
	if (se == SSL_ERROR_SYSCALL && e == 0) {
		error_set(err, errlen, 0, "%s", strerror(tc->sys_errno));
		return TLS_ERROR;
	}
	if (ERR_GET_LIB(e) == ERR_LIB_SSL) {
		switch (ERR_GET_REASON(e)) {
		case SSL_R_WRONG_VERSION_NUMBER:
		case SSL_R_HTTP_REQUEST:
		case SSL_R_HTTPS_PROXY_REQUEST:
		case SSL_R_PACKET_LENGTH_TOO_LONG:
		case SSL_R_UNKNOWN_PROTOCOL:
		case SSL_R_RECORD_LENGTH_MISMATCH:
			hint = " (the peer does not speak TLS)";
			break;
		case SSL_R_UNSUPPORTED_PROTOCOL:
		case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
			hint = " (the peer does not speak TLS 1.3)";
			break;
		case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
			hint = " (the peer refused our certificate: its "
			    "furl names another fingerprint)";
			break;
		case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
			ERR_clear_error();
			error_set(err, errlen, 0, "the peer presented no "
			    "certificate (a provider older than protocol 2?)");
			return TLS_ERROR;
		case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
			hint = " (the gatherer wants this node's key as a "
			    "client certificate)";
			break;
		}
	}
	r = tls_reason();
	error_set(err, errlen, 0, "%s%s", r, hint);
	return TLS_ERROR;
}

int
tls_handshake(struct tls *tc, char *err, size_t errlen)
{
	SSL	*ssl = tc->ssl;
	uint8_t	 md[FURL_FP_BYTES];
	int	 rc;

	ERR_clear_error();
	tc->sys_errno = 0;
	rc = SSL_do_handshake(ssl);
	if (rc == 1) {
		if (!tc->pinned) {
			/*
			 * tls-server.c's context fails a handshake without
			 * a certificate; say so again here, where every
			 * successful one passes, should a context ever not.
			 */
			if (SSL_is_server(ssl) &&
			    SSL_get0_peer_certificate(ssl) == NULL) {
				tc->failed = 1;
				return error_set(err, errlen, TLS_ERROR, "the "
				    "peer presented no certificate (a "
				    "provider older than protocol 2?)");
			}
			return 0;
		}
		/*
		 * The callback has checked the leaf; check again here, the
		 * one place every successful handshake passes, so that no
		 * path through OpenSSL's verification can skip the pin.
		 */
		if (tls_digest(SSL_get0_peer_certificate(ssl), md) != 0)
			snprintf(tc->got, sizeof tc->got, "no certificate");
		else if (memcmp(md, tc->want, sizeof md) == 0)
			return 0;
		else
			furl_b32_encode(md, sizeof md, tc->got,
			    sizeof tc->got);
		tc->mismatch = 1;
		return tls_fail(ssl, tc, rc, err, errlen);
	}
	switch (SSL_get_error(ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	}
	return tls_fail(ssl, tc, rc, err, errlen);
}

/*
 * One SSL_read (rbuf) or SSL_write (wbuf): the bytes moved, TLS_WANT_READ
 * or TLS_WANT_WRITE, 0 at the peer's close_notify or a clean EOF (reads),
 * or a negative code with the message.
 */
static long
tls_io(struct tls *tc, void *rbuf, const void *wbuf, size_t len, char *err,
    size_t errlen)
{
	SSL	*ssl = tc->ssl;
	int	 n, ilen = len > INT_MAX ? INT_MAX : (int)len;

	if (tc->failed)
		return error_set(err, errlen, TLS_ERROR, "the connection "
		    "failed before");
	if (wbuf != NULL && len == 0)
		return 0;
	ERR_clear_error();
	tc->sys_errno = 0;
	n = wbuf != NULL ? SSL_write(ssl, wbuf, ilen) :
	    SSL_read(ssl, rbuf, ilen);
	if (n > 0)
		return n;
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		if (wbuf == NULL)
			return 0;
		break;
	case SSL_ERROR_SYSCALL:
		if (wbuf == NULL && ERR_peek_error() == 0 &&
		    tc->sys_errno == 0)
			return 0;
		break;
	}
	return tls_fail(ssl, tc, n, err, errlen);
}

long
tls_read(struct tls *tc, void *buf, size_t len, char *err, size_t errlen)
{
	return tls_io(tc, buf, NULL, len, err, errlen);
}

long
tls_write(struct tls *tc, const void *buf, size_t len, char *err,
    size_t errlen)
{
	return tls_io(tc, NULL, buf, len, err, errlen);
}

int
tls_pending(struct tls *tc)
{
	return SSL_has_pending(tc->ssl);
}

void
tls_close_notify(struct tls *tc)
{
	if (tc->failed || !SSL_is_init_finished(tc->ssl))
		return;
	ERR_clear_error();
	(void)SSL_shutdown(tc->ssl);
	ERR_clear_error();
}

int
tls_pin_failed(struct tls *tc)
{
	return tc != NULL && tc->mismatch;
}

int
tls_established(struct tls *tc)
{
	return tc != NULL && SSL_is_init_finished(tc->ssl);
}

/* ---- resumption, a client's --------------------------------------------- */

/*
 * A session from a ticket that the gatherer sent (OpenSSL calls this from
 * the SSL_read() that meets it): a copy kept in the connection's slot, if
 * it has one.  A copy, because OpenSSL marks the session it hands over
 * as not resumable should the connection end without a close_notify
 * (SSL_free() takes it for a broken one), which is how a connection ends
 * when its gatherer restarts; the session was whole before that.
 */
static int
tls_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls	*tc = tls_of(ssl);
	SSL_SESSION	*copy;

	if (tc == NULL || tc->keep == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	if ((copy = SSL_SESSION_dup(sess)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	SSL_SESSION_free(*tc->keep);
	*tc->keep = copy;
	return 0;
}

/*
 * The session is offered only to the gatherer of the same pin: the slot
 * is a provider's (one furl) or a load generator connection's, and the
 * session's peer certificate, which OpenSSL keeps in it, is checked
 * against the pin here too.  A server that resumes it must hold the
 * ticket's keys and the session's secret, that is, be the server that
 * made the session, the pinned one, which proved its certificate then;
 * tls_handshake() checks the pin again after a resumed handshake, against
 * that same certificate, as after a full one.
 */
void
tls_session_keep(struct tls *tc, struct ssl_session_st **slot)
{
	SSL_SESSION	*use = NULL;
	uint8_t		 md[FURL_FP_BYTES];

	tc->keep = slot;
	if (slot == NULL || *slot == NULL)
		return;
	if (!tc->pinned || !SSL_SESSION_is_resumable(*slot) ||
	    tls_digest(SSL_SESSION_get0_peer(*slot), md) != 0 ||
	    memcmp(md, tc->want, sizeof md) != 0) {
		SSL_SESSION_free(*slot);
		*slot = NULL;
	} else if ((use = SSL_SESSION_dup(*slot)) != NULL) {
		/* A copy again: see tls_session_cb(). */
		(void)SSL_set_session(tc->ssl, use);
		SSL_SESSION_free(use);
	}
	ERR_clear_error();
}

void
tls_session_free(struct ssl_session_st *sess)
{
	SSL_SESSION_free(sess);
}

int
tls_resumed(struct tls *tc)
{
	return tc != NULL && SSL_session_reused(tc->ssl);
}

const char *
tls_version(struct tls *tc)
{
	return SSL_get_version(tc->ssl);
}

struct ssl_st *
tls_ssl(struct tls *tc)
{
	return tc->ssl;
}
