/*
 * tls.c: TLS 1.3 between providers and the gatherer, with OpenSSL.
 *
 * The gatherer's identity is a key pair and a self-signed certificate of
 * its own making.  Its furl carries the SHA-256 of the certificate's DER
 * encoding, and a provider checks that digest and nothing else: no CA, no
 * host name, no dates.  Whoever holds the furl knows the certificate, so
 * a certificate authority would add a party to trust and nothing to check.
 *
 * Everything here is non-blocking.  tls_handshake(), tls_read() and
 * tls_write() say TLS_WANT_READ or TLS_WANT_WRITE when the socket must
 * become readable or writable first, and the caller's event loop calls
 * again then.  Either may ask for the other direction (a read may have to
 * write, and a write read), which the callers in remote.c, gatherer.c and
 * loadgen.c honour.
 *
 * Sockets are wrapped in a BIO of our own that sends with MSG_NOSIGNAL:
 * libtally runs inside host programs, and OpenSSL's socket BIO write()s,
 * which raises SIGPIPE on a connection the peer has reset.
 *
 * On the gatherer, a connection sheds OpenSSL once its handshake is done:
 * the server context logs each connection's two application traffic
 * secrets into its struct tls, tls_handshake() hands them to tlsrec.c and
 * frees the SSL, and reads and writes go to the record layer from then on.
 * An idle connection then costs a few hundred bytes instead of OpenSSL's
 * 14 KiB (tlsrec.c says why that matters, and what the layer does).
 * Clients keep OpenSSL's SSL: a provider has one connection.
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

/*
 * RFC 5280 4.1.2.5: "99991231235959Z" means a certificate has no
 * well-defined expiration date.  A pinned certificate needs none: it is
 * replaced by making a new identity, which makes a new furl.
 */
#define TLS_NOT_AFTER	"99991231235959Z"
#define TLS_SUBJECT	"tallyd"
#define TLS_SERIAL_LEN	16		/* random, positive, per RFC 5280 */

/*
 * A connection: OpenSSL's SSL, its socket and, for a client, the pin; on
 * the gatherer, once the handshake is done, the record layer instead.
 */
struct tls {
	SSL		*ssl;		/* NULL once handed over to rec */
	int		 fd;
	int		 sys_errno;	/* of the last failed send or recv */
	int		 pinned;	/* a client: want holds the fingerprint */
	int		 mismatch;	/* the verify callback refused the leaf */
	int		 failed;	/* a fatal error: no close_notify after */
	uint8_t		 want[FURL_FP_BYTES];
	char		 got[FURL_FP_LEN + 1];
	struct tlsrec	 rec;		/* a server's; its secrets come early */
};

static pthread_once_t	 tls_once = PTHREAD_ONCE_INIT;
static BIO_METHOD	*tls_bio_meth;
static int		 tls_idx = -1;


/* The reason of OpenSSL's last error, and the queue emptied. */
static const char *
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

static int
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

static int
tls_fingerprint(X509 *x, char *fp, size_t fplen)
{
	uint8_t	 md[FURL_FP_BYTES];

	if (tls_digest(x, md) != 0 ||
	    furl_b32_encode(md, sizeof md, fp, fplen) != FURL_FP_LEN)
		return -1;
	return 0;
}

/*
 * The client's check, during the handshake: only the leaf counts, and only
 * its digest.  Chain errors (self-signed, no trust anchor, dates) are moot
 * and ignored; a leaf with another digest fails the handshake at once, so
 * the provider never says HELLO, and the peer is told by an alert.
 */
static int
tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL		*ssl;
	struct tls	*tc;
	uint8_t		 md[FURL_FP_BYTES];

	if (X509_STORE_CTX_get_error_depth(xs) != 0)
		return 1;
	ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	tc = ssl != NULL ? SSL_get_ex_data(ssl, tls_idx) : NULL;
	if (tc == NULL || !tc->pinned ||
	    tls_digest(X509_STORE_CTX_get_current_cert(xs), md) != 0)
		return 0;
	if (memcmp(md, tc->want, sizeof md) != 0) {
		tc->mismatch = 1;
		furl_b32_encode(md, sizeof md, tc->got, sizeof tc->got);
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

/* ---- the gatherer's identity ------------------------------------------ */

/* Write a PEM file as path, mode 0600, never replacing one. */
static int
tls_write_pem(const char *path, EVP_PKEY *pk, X509 *x, char *err,
    size_t errlen)
{
	char		 tmp[PATH_MAX], dir[PATH_MAX];
	const char	*slash;
	BIO		*b;
	int		 fd, ok, e;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.new.%ld", path,
	    (long)getpid()) >= sizeof tmp) {
		error_set(err, errlen, 0, "%s: path too long", path);
		return TALLY_ELIMIT;
	}
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		error_set(err, errlen, 0, "%s: %s", tmp, strerror(errno));
		return TALLY_ESYS;
	}
	if (fchmod(fd, 0600) != 0 ||
	    (b = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL) {
		e = errno;
		close(fd);
		unlink(tmp);
		error_set(err, errlen, 0, "%s: %s", tmp, strerror(e));
		return TALLY_ESYS;
	}
	ok = pk != NULL ? PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0,
	    NULL, NULL) : PEM_write_bio_X509(b, x);
	ok = ok && BIO_flush(b) == 1;
	BIO_free(b);
	if (!ok || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		error_set(err, errlen, 0, "%s: cannot write: %s", tmp, ok ?
		    strerror(errno) : tls_reason());
		return TALLY_ESYS;
	}
	close(fd);
	/* link(), not rename(): an identity is never replaced under us. */
	if (link(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		error_set(err, errlen, 0, "%s: %s", path, e == EEXIST ?
		    "exists already (not replaced)" : strerror(e));
		return TALLY_ESYS;
	}
	unlink(tmp);
	if ((slash = strrchr(path, '/')) != NULL &&
	    (size_t)(slash - path) < sizeof dir) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		if ((fd = open(slash == path ? "/" : dir, O_RDONLY |
		    O_DIRECTORY | O_CLOEXEC)) >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}

static int
tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* An Ed25519 key and a self-signed certificate for it. */
static int
tls_make_cert(EVP_PKEY **pkp, X509 **xp)
{
	EVP_PKEY	*pk;
	X509		*x = NULL;
	X509_NAME	*name;
	BIGNUM		*bn = NULL;
	unsigned char	 serial[TLS_SERIAL_LEN];
	int		 ok = 0;

	if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		return -1;
	if ((x = X509_new()) == NULL ||
	    RAND_bytes(serial, sizeof serial) != 1)
		goto out;
	serial[0] &= 0x7f;	/* positive */
	serial[0] |= 0x40;	/* and of full length */
	if ((bn = BN_bin2bn(serial, sizeof serial, NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    !ASN1_TIME_set_string_X509(X509_getm_notAfter(x),
	    TLS_NOT_AFTER) ||
	    (name = X509_get_subject_name(x)) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)TLS_SUBJECT, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name) ||
	    !X509_set_pubkey(x, pk) ||
	    !tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    !tls_add_ext(x, NID_key_usage, "critical,digitalSignature") ||
	    !tls_add_ext(x, NID_subject_key_identifier, "hash") ||
	    X509_sign(x, pk, NULL) <= 0)	/* Ed25519 takes no digest */
		goto out;
	ok = 1;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		EVP_PKEY_free(pk);
		return -1;
	}
	*pkp = pk;
	*xp = x;
	return 0;
}

int
tls_identity_create(const char *keypath, const char *certpath, char *fp,
    size_t fplen, char *err, size_t errlen)
{
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	int		 rc;

	ERR_clear_error();
	if (tls_make_cert(&pk, &x) != 0) {
		error_set(err, errlen, 0, "cannot make a key and certificate: %s",
		    tls_reason());
		return TALLY_ESYS;
	}
	if (fp != NULL && tls_fingerprint(x, fp, fplen) != 0) {
		error_set(err, errlen, 0, "cannot fingerprint the certificate: %s",
		    tls_reason());
		rc = TALLY_ESYS;
		goto out;
	}
	if ((rc = tls_write_pem(keypath, pk, NULL, err, errlen)) != 0)
		goto out;
	if ((rc = tls_write_pem(certpath, NULL, x, err, errlen)) != 0) {
		/* A key without its certificate would be refused next time. */
		unlink(keypath);
		goto out;
	}
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

/* ---- contexts --------------------------------------------------------- */

static int
tls_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The gatherer's key log: of the lines OpenSSL logs for a connection
 * ("LABEL CLIENT_RANDOM SECRET", in hex), the two application traffic
 * secrets go to its record layer, the client's to read with and ours to
 * write with.  A secret that does not parse is left empty, and the hand-
 * over refuses the connection.  Nothing is written anywhere.
 */
static void
tls_keylog(const SSL *ssl, const char *line)
{
	static const char	 client[] = "CLIENT_TRAFFIC_SECRET_0 ";
	static const char	 server[] = "SERVER_TRAFFIC_SECRET_0 ";
	struct tls		*tc = SSL_get_ex_data(ssl, tls_idx);
	struct tlsrec_dir	*d;
	const char		*hex;
	size_t			 n;
	int			 hi, lo;

	if (tc == NULL)
		return;
	if (strncmp(line, client, sizeof client - 1) == 0)
		d = &tc->rec.rd;
	else if (strncmp(line, server, sizeof server - 1) == 0)
		d = &tc->rec.wr;
	else
		return;
	d->secretlen = 0;
	if ((hex = strchr(line + sizeof client - 1, ' ')) == NULL)
		return;
	for (hex++, n = 0; hex[0] != '\0' && n < sizeof d->secret; n++) {
		if ((hi = tls_hexval(hex[0])) < 0 ||
		    (lo = tls_hexval(hex[1])) < 0)
			return;
		d->secret[n] = (uint8_t)(hi << 4 | lo);
		hex += 2;
	}
	if (hex[0] == '\0')
		d->secretlen = n;
}

/* What both ends share: TLS 1.3 only, no sessions, lean buffers. */
static SSL_CTX *
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
	 * A provider keeps its connection for days: resuming sessions would
	 * save little, and tickets cost the gatherer a write per handshake.
	 * RELEASE_BUFFERS frees the 16k+ record buffers of an idle
	 * connection, which is most of them most of the time; the output
	 * buffers may move and grow between retries of a write.  An EOF
	 * without close_notify is an EOF: the frames carry their own lengths,
	 * so a truncation shows there.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	return ctx;
}

int
tls_server_ctx(struct ssl_ctx_st **ctxp, const char *keypath,
    const char *certpath, char *fp, size_t fplen, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	int	 rc;

	*ctxp = NULL;
	if ((rc = tls_ready(err, errlen)) != 0)
		return rc;
	ERR_clear_error();
	if ((ctx = tls_ctx_common(TLS_server_method())) == NULL) {
		error_set(err, errlen, 0, "TLS: %s", tls_reason());
		return TALLY_ENOMEM;
	}
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* TLS 1.3's default suites, the ones tlsrec.c takes over. */
	if (!SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384:"
	    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256")) {
		error_set(err, errlen, 0, "TLS: %s", tls_reason());
		goto fail;
	}
	SSL_CTX_set_keylog_callback(ctx, tls_keylog);
	if (SSL_CTX_use_certificate_file(ctx, certpath,
	    SSL_FILETYPE_PEM) != 1) {
		error_set(err, errlen, 0, "%s: %s", certpath, tls_reason());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, keypath, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH)
			error_set(err, errlen, 0, "%s does not belong to %s (%s)",
			    keypath, certpath, tls_reason());
		else
			error_set(err, errlen, 0, "%s: %s", keypath, tls_reason());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		error_set(err, errlen, 0, "%s does not belong to %s: %s", keypath,
		    certpath, tls_reason());
		goto fail;
	}
	if (fp != NULL &&
	    tls_fingerprint(SSL_CTX_get0_certificate(ctx), fp, fplen) != 0) {
		error_set(err, errlen, 0, "%s: cannot fingerprint it: %s", certpath,
		    tls_reason());
		goto fail;
	}
	*ctxp = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return TALLY_EINVAL;
}

int
tls_client_ctx(struct ssl_ctx_st **ctxp, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	int	 rc;

	*ctxp = NULL;
	if ((rc = tls_ready(err, errlen)) != 0)
		return rc;
	ERR_clear_error();
	if ((ctx = tls_ctx_common(TLS_client_method())) == NULL) {
		error_set(err, errlen, 0, "TLS: %s", tls_reason());
		return TALLY_ENOMEM;
	}
	/* No trust store: tls_verify_cb decides, by the pin alone. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
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
	tc->rec.fd = -1;
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
	tlsrec_clear(&tc->rec);
	free(tc);
	ERR_clear_error();
}

/*
 * Why a call failed, in words for a log line, and the connection marked
 * as failed.  Peers that do not speak TLS at all are common enough (an
 * old furl, a scanner) to be named as such.
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
		}
	}
	r = tls_reason();
	error_set(err, errlen, 0, "%s%s", r, hint);
	return TLS_ERROR;
}

/*
 * The gatherer's side of a finished handshake: the record layer takes the
 * secrets the key log gave, and the SSL goes.  Nothing may wait inside
 * OpenSSL at this point, and nothing does: it reads a record at a time
 * (no read-ahead), and the server sends no tickets.
 */
static int
tls_hand_over(struct tls *tc, char *err, size_t errlen)
{
	const SSL_CIPHER	*c = SSL_get_current_cipher(tc->ssl);
	uint16_t		 suite;

	tc->failed = 1;
	if (SSL_version(tc->ssl) != TLS1_3_VERSION || c == NULL)
		return error_set(err, errlen, TLS_ERROR, "TLS: not TLS 1.3");
	if (SSL_has_pending(tc->ssl))
		return error_set(err, errlen, TLS_ERROR, "TLS: data waits "
		    "inside OpenSSL at the end of the handshake");
	suite = (uint16_t)SSL_CIPHER_get_protocol_id(c);
	if (tlsrec_init(&tc->rec, tc->fd, suite, err, errlen) != 0)
		return TLS_ERROR;
	SSL_free(tc->ssl);
	tc->ssl = NULL;
	tc->failed = 0;
	ERR_clear_error();
	return 0;
}

int
tls_handshake(struct tls *tc, char *err, size_t errlen)
{
	SSL	*ssl = tc->ssl;
	uint8_t	 md[FURL_FP_BYTES];
	int	 rc;

	if (ssl == NULL)
		return 0;
	ERR_clear_error();
	tc->sys_errno = 0;
	rc = SSL_do_handshake(ssl);
	if (rc == 1) {
		if (!tc->pinned)
			return tls_hand_over(tc, err, errlen);
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

long
tls_read(struct tls *tc, void *buf, size_t len, char *err, size_t errlen)
{
	SSL	*ssl = tc->ssl;
	int	 n;

	if (ssl == NULL)
		return tlsrec_read(&tc->rec, buf, len, err, errlen);
	ERR_clear_error();
	tc->sys_errno = 0;
	n = SSL_read(ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0)
		return n;
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && tc->sys_errno == 0)
			return 0;
		break;
	}
	return tls_fail(ssl, tc, n, err, errlen);
}

long
tls_write(struct tls *tc, const void *buf, size_t len, char *err,
    size_t errlen)
{
	SSL	*ssl = tc->ssl;
	int	 n;

	if (ssl == NULL)
		return tlsrec_write(&tc->rec, buf, len, err, errlen);
	if (len == 0)
		return 0;
	ERR_clear_error();
	tc->sys_errno = 0;
	n = SSL_write(ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0)
		return n;
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	}
	return tls_fail(ssl, tc, n, err, errlen);
}

int
tls_pending(struct tls *tc)
{
	return tc->ssl != NULL ? SSL_has_pending(tc->ssl) :
	    tlsrec_pending(&tc->rec);
}

void
tls_close_notify(struct tls *tc)
{
	if (tc->ssl == NULL) {
		tlsrec_close_notify(&tc->rec);
		return;
	}
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
	if (tc == NULL)
		return 0;
	return tc->ssl != NULL ? SSL_is_init_finished(tc->ssl) :
	    tc->rec.suite != NULL;
}

const char *
tls_version(struct tls *tc)
{
	return tc->ssl != NULL ? SSL_get_version(tc->ssl) : "TLSv1.3";
}

struct ssl_st *
tls_ssl(struct tls *tc)
{
	return tc->ssl;
}
