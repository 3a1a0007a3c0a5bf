/*
 * tls-server.c: the gatherer's side of TLS, linked into tallyd (and the
 * tests that play a gatherer), never into libtally: a node's library
 * carries no server.
 *
 * The gatherer's identity is an Ed25519 key and a self-signed certificate
 * in two files, whose fingerprint its furl carries.  Its context wants a
 * client certificate from every node: any self-signed leaf will do, since
 * nothing in it counts but the key, which the gatherer binds to the node
 * id on first contact (tls_peer_key()) and checks ever after.  Trust on
 * first use, as the original system's nodes were known by their TLS
 * identities; the secret in the furl decides who may connect at all.
 *
 * OpenSSL's SSL does every record of a connection, for its whole life.
 * What a hostile peer can make it do per call is bounded as follows, in
 * OpenSSL 3.0 (ssl/record/rec_layer_s3.c and ssl3_record.c, read for
 * this; no read-ahead, which is the default and stays so):
 *
 *  - SSL_MODE_AUTO_RETRY is cleared, so an SSL_read() that meets a
 *    post-handshake message (a KeyUpdate) handles that one record and
 *    returns, TLS_WANT_READ, instead of going on to the next: the
 *    gatherer bounds its tls_read() calls per read event, so a KeyUpdate
 *    flood costs a record per call, never a loop inside OpenSSL.
 *  - Empty application-data records are skipped inside one SSL_read()
 *    whatever the mode, but after 32 of them in a row (MAX_EMPTY_RECORDS)
 *    the 33rd fails the connection ("record too small").
 *  - Alerts: in TLS 1.3 every alert but close_notify and user_canceled is
 *    fatal at once; user_canceled is skipped inside the call, and the 5th
 *    warning alert in a row (MAX_WARN_ALERT_COUNT) fails the connection
 *    ("too many warn alerts").  Either run is reset by a non-empty record
 *    of data.
 *
 * So one tls_read() handles at most 33 records, of at most 16 KiB + 256
 * bytes each, and returns.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tally-int.h"
#include "tls-int.h"

#define TLS_SERVER_CN	"tallyd"

int
tls_identity_create(const char *keypath, const char *certpath, char *fp,
    size_t fplen, char *err, size_t errlen)
{
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	int		 rc;

	ERR_clear_error();
	if (tls_make_cert(&pk, &x, TLS_SERVER_CN) != 0) {
		error_set(err, errlen, 0, "cannot make a key and certificate: %s",
		    tls_reason());
		return TALLY_ESYS;
	}
	if (fp != NULL && tls_cert_fingerprint(x, fp, fplen) != 0) {
		error_set(err, errlen, 0, "cannot fingerprint the certificate: %s",
		    tls_reason());
		rc = TALLY_ESYS;
		goto out;
	}
	if ((rc = tls_write_pem(keypath, pk, NULL, NULL, err, errlen)) != 0)
		goto out;
	if ((rc = tls_write_pem(certpath, NULL, x, NULL, err, errlen)) != 0) {
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

/*
 * The server's check of a node's certificate, in place of OpenSSL's chain
 * verification (SSL_CTX_set_cert_verify_callback): a lone self-signed
 * leaf, whatever its names, dates or signature.  Dates would only turn a
 * node with a wrong clock away; the signature proves nothing that the
 * handshake's CertificateVerify, which OpenSSL checks whatever this says,
 * does not prove better (that the node holds the key).  A chain is
 * refused: nobody vouches for a node but its key's first contact.  No
 * chain is built and no store searched, which a handshake would
 * otherwise pay for on every connection.
 */
static int
tls_server_verify_cb(X509_STORE_CTX *xs, void *arg)
{
	X509		*x = X509_STORE_CTX_get0_cert(xs);
	STACK_OF(X509)	*sent = X509_STORE_CTX_get0_untrusted(xs);

	/* By names: X509_check_issued() would want keyCertSign as well. */
	if (x == NULL || (sent != NULL && sk_X509_num(sent) > 1) ||
	    X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)) != 0) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

/*
 * A whole ClientHello has been read (OpenSSL calls this once it has
 * parsed one, before it answers): the first flight's deadline is met.
 */
static int
tls_server_hello_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls	*tc = tls_of(ssl);

	if (tc != NULL)
		tc->hello = 1;
	return SSL_CLIENT_HELLO_SUCCESS;
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
	/* See the top of the file. */
	SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, tls_server_verify_cb, NULL);
	SSL_CTX_set_client_hello_cb(ctx, tls_server_hello_cb, NULL);
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
	if (fp != NULL && tls_cert_fingerprint(SSL_CTX_get0_certificate(ctx),
	    fp, fplen) != 0) {
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

/*
 * The fingerprint of the key in the peer's certificate, the node's
 * identity.  OpenSSL keeps the certificate for the connection's life (its
 * API has no way to drop it once read); that is a few hundred bytes.
 */
int
tls_peer_key(struct tls *tc, char *fp, size_t fplen)
{
	X509	*x;

	if (tc == NULL || (x = SSL_get0_peer_certificate(tc->ssl)) == NULL)
		return TALLY_ENOTFOUND;
	return tls_key_fingerprint(X509_get0_pubkey(x), fp, fplen);
}

int
tls_hello_seen(struct tls *tc)
{
	return tc != NULL && tc->hello;
}
