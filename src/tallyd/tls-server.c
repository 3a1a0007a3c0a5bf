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
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
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

#define TLS_SERVER_FILE_MAX	65536	/* a PEM key or certificate */

/*
 * Read the PEM file at path (tallyd's key, or its certificate) into buf
 * (TLS_SERVER_FILE_MAX bytes): a regular file, not a link to one
 * (O_NONBLOCK: a FIFO must not hang the start), of tallyd's own user,
 * that nobody else may write and, if secret, read; not empty.  Its
 * length, or -1 and why in err.
 */
static ssize_t
tls_server_file(const char *path, int secret, char *buf, char *err,
    size_t errlen)
{
	struct stat	 sb;
	mode_t		 wide = secret ? 077 : 022;
	ssize_t		 n, got = 0;
	char		 q[ERROR_QUOTE_LEN];
	const char	*shown = error_quote(q, sizeof q, path, strlen(path));
	int		 fd, e, fit = 0;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC)) < 0) {
		error_set(err, errlen, 0, "%s: %s", shown, errno == ELOOP ?
		    "a symbolic link: put the file itself there" :
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0) {
		e = errno;
		close(fd);
		error_set(err, errlen, 0, "%s: %s", shown, strerror(e));
		return -1;
	}
	if (!S_ISREG(sb.st_mode))
		error_set(err, errlen, 0, "%s is %s, not a regular file", shown,
		    error_ftype(sb.st_mode));
	else if (sb.st_uid != geteuid())
		error_set(err, errlen, 0, "%s: owned by uid %lu, not by "
		    "tallyd's (uid %lu)", shown, (unsigned long)sb.st_uid,
		    (unsigned long)geteuid());
	else if ((sb.st_mode & wide) != 0)
		error_set(err, errlen, 0, "%s: mode %04o lets others %s it "
		    "(chmod %s %s)", shown, (unsigned)(sb.st_mode & 07777),
		    secret ? "at" : "write", secret ? "600" : "go-w", shown);
	else if (sb.st_size == 0 || sb.st_size >= TLS_SERVER_FILE_MAX)
		error_set(err, errlen, 0, "%s: %s", shown, sb.st_size == 0 ?
		    "empty" : "too large for a PEM key or certificate");
	else
		fit = 1;
	if (!fit) {
		close(fd);
		return -1;
	}
	while (got < sb.st_size && (n = read(fd, buf + got,
	    (size_t)(sb.st_size - got))) != 0) {
		if (n < 0 && errno != EINTR) {
			e = errno;
			close(fd);
			error_set(err, errlen, 0, "%s: %s", shown, strerror(e));
			return -1;
		}
		if (n > 0)
			got += n;
	}
	close(fd);
	return got;
}

/* A PEM file never asks anyone for a passphrase. */
static int
tls_server_no_pass(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

/*
 * tallyd's certificate and key into ctx, read by tls_server_file: the
 * certificate must be one its own key signed, so that a damaged file is
 * refused rather than taken for a new identity (a new furl for every
 * node).  0, or -1 and why in err.
 */
static int
tls_server_identity(SSL_CTX *ctx, const char *keypath, const char *certpath,
    char *err, size_t errlen)
{
	char		*buf, qc[ERROR_QUOTE_LEN], qk[ERROR_QUOTE_LEN];
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	BIO		*b = NULL;
	ssize_t		 n;
	int		 rc = -1;

	error_quote(qc, sizeof qc, certpath, strlen(certpath));
	error_quote(qk, sizeof qk, keypath, strlen(keypath));
	if ((buf = malloc(TLS_SERVER_FILE_MAX)) == NULL) {
		error_set(err, errlen, 0, "%s", strerror(ENOMEM));
		return -1;
	}
	if ((n = tls_server_file(certpath, 0, buf, err, errlen)) < 0)
		goto out;
	if ((b = BIO_new_mem_buf(buf, (int)n)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, tls_server_no_pass, NULL)) ==
	    NULL) {
		error_set(err, errlen, 0, "%s: not a PEM certificate (%s)",
		    qc, tls_reason());
		goto out;
	}
	if (X509_verify(x, X509_get0_pubkey(x)) != 1) {
		error_set(err, errlen, 0, "%s: its signature does not verify "
		    "(damaged?): restore it, or remove it and %s for a new "
		    "identity (and a new furl)", qc, qk);
		goto out;
	}
	BIO_free(b);
	b = NULL;
	OPENSSL_cleanse(buf, TLS_SERVER_FILE_MAX);
	if ((n = tls_server_file(keypath, 1, buf, err, errlen)) < 0)
		goto out;
	if ((b = BIO_new_mem_buf(buf, (int)n)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(b, NULL, tls_server_no_pass,
	    NULL)) == NULL) {
		error_set(err, errlen, 0, "%s: not an unencrypted PEM private "
		    "key (%s)", qk, tls_reason());
		goto out;
	}
	if (SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		error_set(err, errlen, 0, "%s does not belong to %s (%s)",
		    qk, qc, tls_reason());
		goto out;
	}
	rc = 0;
out:
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(pk);
	OPENSSL_cleanse(buf, TLS_SERVER_FILE_MAX);
	free(buf);
	return rc;
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
	if (tls_server_identity(ctx, keypath, certpath, err, errlen) != 0)
		goto fail;
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


/* ---- session tickets -------------------------------------------------- */

/*
 * Session tickets, so that a node that comes back (after a restart of
 * tallyd, or of its network) resumes its session: a PSK handshake with a
 * fresh X25519 exchange (psk_dhe_ke, OpenSSL's default), no certificate,
 * no signature, no chain.  The ticket is OpenSSL's own, stateless: the
 * session, the node's certificate with it, sealed under tallyd's ticket
 * key (AES-256-CBC and HMAC-SHA256, as OpenSSL seals them with keys of its
 * own), so a resumed connection's SSL_get0_peer_certificate() is the
 * certificate of the handshake that made the session, and tls_peer_key()
 * and the node id's binding check it exactly as after a full handshake.
 *
 * The keys live in BASEDIR/tallyd.tickets, so that they outlive a
 * restart: TLS_TK_FILE bytes, a magic, the current key's birth (UNIX
 * seconds, big-endian) and two keys (name, HMAC key, AES key), the
 * current one, which seals, and the previous one, which only opens.
 * Whoever reads the file can forge a ticket for any node key: it is as
 * secret as tallyd.key, mode 0600, written whole (a temporary file, then
 * rename()).  A key older than TLS_TK_ROTATE is retired at start: it
 * becomes the previous one and a new one is made.  A ticket lives at
 * most TLS_TK_ROTATE too (TLS 1.3's bound), so a ticket sealed under the
 * previous key is still good, and one under the key before it has
 * expired anyway.  A file that is missing, short, of another owner or
 * readable by others, or not ours is replaced by new keys, with a
 * message: nodes then do one full handshake each.
 */
#define TLS_TK_MAGIC	"tallytk1"
#define TLS_TK_ROTATE	(7 * 86400)
#define TLS_TK_KEY	80		/* name 16, HMAC 32, AES 32 */
#define TLS_TK_FILE	(8 + 8 + 2 * TLS_TK_KEY)

struct tls_tkey {
	unsigned char	 name[16];
	unsigned char	 hmac[32];
	unsigned char	 aes[32];
};

/* Set up once, never changed after: the handshake threads share it. */
struct tls_tickets {
	struct tls_tkey	 cur, prev;
	int		 have_prev;
	uint64_t	 born;		/* of cur */
};

static pthread_once_t	 tls_tk_once = PTHREAD_ONCE_INIT;
static int		 tls_tk_idx = -1;

static void
tls_tk_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	if (ptr != NULL)
		OPENSSL_clear_free(ptr, sizeof(struct tls_tickets));
}

static void
tls_tk_init(void)
{
	tls_tk_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_tk_free);
}

/*
 * OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb): seal
 * under the current key; open a ticket under either key, 2 (a new ticket,
 * under the current key) for the previous one, 0 (a full handshake) for
 * a key we do not have.
 */
static int
tls_tk_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	static char		 digest[] = "SHA256";
	const struct tls_tickets *tk;
	const struct tls_tkey	*k;
	OSSL_PARAM		 params[2];
	int			 ret = 1;

	tk = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_tk_idx);
	if (tk == NULL)
		return enc ? -1 : 0;
	if (enc) {
		k = &tk->cur;
		if (RAND_bytes(iv, 16) != 1)
			return -1;
		memcpy(name, k->name, sizeof k->name);
	} else if (memcmp(name, tk->cur.name, sizeof tk->cur.name) == 0)
		k = &tk->cur;
	else if (tk->have_prev &&
	    memcmp(name, tk->prev.name, sizeof tk->prev.name) == 0) {
		k = &tk->prev;
		ret = 2;
	} else
		return 0;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(hctx, k->hmac, sizeof k->hmac, params) != 1)
		return -1;
	if (enc ? EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
	    iv) != 1 : EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL,
	    k->aes, iv) != 1)
		return -1;
	return ret;
}

/* The keys of path into tk: 0, or -1 and why in msg. */
static int
tls_tk_load(const char *path, struct tls_tickets *tk, char *msg,
    size_t msglen)
{
	unsigned char	 buf[TLS_TK_FILE + 1];
	struct stat	 sb;
	ssize_t		 n;
	int		 fd, i;

	/* O_NONBLOCK: a FIFO must not hang the start. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) < 0) {
		snprintf(msg, msglen, "%s: %s", path, errno == ENOENT ?
		    "none yet" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(msg, msglen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (sb.st_uid != geteuid() || (sb.st_mode & 077) != 0) {
		snprintf(msg, msglen, "%s: mode %04o, owner %ld: others may "
		    "have read it, not used", path,
		    (unsigned)(sb.st_mode & 07777), (long)sb.st_uid);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n != TLS_TK_FILE || memcmp(buf, TLS_TK_MAGIC, 8) != 0) {
		snprintf(msg, msglen, "%s: %s", path, n < 0 ? strerror(errno) :
		    n != TLS_TK_FILE ? "not the size of a key file" :
		    "not a key file of tallyd's");
		OPENSSL_cleanse(buf, sizeof buf);
		return -1;
	}
	for (i = 0, tk->born = 0; i < 8; i++)
		tk->born = tk->born << 8 | buf[8 + i];
	memcpy(&tk->cur, buf + 16, TLS_TK_KEY);
	memcpy(&tk->prev, buf + 16 + TLS_TK_KEY, TLS_TK_KEY);
	OPENSSL_cleanse(buf, sizeof buf);
	for (i = 0; i < (int)sizeof tk->prev.name; i++)
		tk->have_prev |= tk->prev.name[i] != 0;
	return 0;
}

/* Write tk to path, mode 0600, whole or not at all: 0, or -1 and errno. */
static int
tls_tk_save(const char *path, const struct tls_tickets *tk)
{
	unsigned char	 buf[TLS_TK_FILE];
	char		 tmp[4096];
	int		 fd, i, e;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path,
	    (long)getpid()) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, TLS_TK_MAGIC, 8);
	for (i = 0; i < 8; i++)
		buf[8 + i] = (unsigned char)(tk->born >> (56 - 8 * i));
	memcpy(buf + 16, &tk->cur, TLS_TK_KEY);
	if (tk->have_prev)
		memcpy(buf + 16 + TLS_TK_KEY, &tk->prev, TLS_TK_KEY);
	else
		memset(buf + 16 + TLS_TK_KEY, 0, TLS_TK_KEY);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		OPENSSL_cleanse(buf, sizeof buf);
		return -1;
	}
	if (fchmod(fd, 0600) != 0 || write(fd, buf, sizeof buf) !=
	    (ssize_t)sizeof buf || fsync(fd) != 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		OPENSSL_cleanse(buf, sizeof buf);
		errno = e;
		return -1;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		OPENSSL_cleanse(buf, sizeof buf);
		errno = e;
		return -1;
	}
	OPENSSL_cleanse(buf, sizeof buf);
	return 0;
}

/*
 * The keys for ctx: path's, retired if old, or new ones (saved to path if
 * given); what was done, when worth a log line, in msg.
 */
static int
tls_tk_setup(struct tls_tickets *tk, const char *path, char *msg,
    size_t msglen)
{
	uint64_t	 now = (uint64_t)time(NULL);
	char		 why[512];
	int		 fresh = 1;

	msg[0] = '\0';
	why[0] = '\0';
	if (path != NULL && tls_tk_load(path, tk, why, sizeof why) == 0) {
		if (tk->born <= now && now - tk->born < TLS_TK_ROTATE)
			return 0;
		/* Retired: it opens tickets until the next rotation. */
		tk->prev = tk->cur;
		tk->have_prev = 1;
		fresh = 0;
	}
	if (RAND_bytes((unsigned char *)&tk->cur, sizeof tk->cur) != 1)
		return TALLY_ESYS;
	tk->born = now;
	if (fresh) {
		OPENSSL_cleanse(&tk->prev, sizeof tk->prev);
		tk->have_prev = 0;
	}
	if (path == NULL)
		return 0;
	if (fresh && strstr(why, ": none yet") != NULL)
		snprintf(msg, msglen, "session ticket keys %s: made new ones",
		    why);
	else if (fresh)
		snprintf(msg, msglen, "session ticket keys %s; made new ones "
		    "(returning nodes do one full handshake)", why);
	else
		snprintf(msg, msglen, "session ticket key %s is over %d days "
		    "old: retired, a new one made", path,
		    TLS_TK_ROTATE / 86400);
	if (tls_tk_save(path, tk) != 0) {
		size_t l = strlen(msg);
		snprintf(msg + l, msglen - l, "%scannot write %s: %s (the "
		    "keys last until tallyd stops)", l > 0 ? "; " : "", path,
		    strerror(errno));
	}
	return 0;
}

int
tls_server_tickets(struct ssl_ctx_st *ctx, const char *path, char *msg,
    size_t msglen)
{
	struct tls_tickets	*tk;
	void			*old;
	unsigned char		 sid[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int		 sidlen = 0;
	int			 rc, len, ok;

	msg[0] = '\0';
	/*
	 * The session context is the SHA-256 of tallyd's certificate, the
	 * furl's pin.  OpenSSL resumes only a session made under the same
	 * context, so after a new identity (a rotated key, a new furl) no
	 * session made under the old one resumes, even with the same ticket
	 * keys: a node with the old furl meets the new certificate in a full
	 * handshake, and refuses it, as it would without tickets.  (OpenSSL
	 * wants a context of a server that verifies peers anyway.)
	 */
	if ((len = i2d_X509(SSL_CTX_get0_certificate(ctx), &der)) <= 0) {
		snprintf(msg, msglen, "session tickets: no certificate: %s",
		    tls_reason());
		return TALLY_EINVAL;
	}
	ok = EVP_Digest(der, (size_t)len, sid, &sidlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (!ok || sidlen > SSL_MAX_SID_CTX_LENGTH) {
		snprintf(msg, msglen, "session tickets: %s", tls_reason());
		return TALLY_ENOMEM;
	}
	pthread_once(&tls_tk_once, tls_tk_init);
	if (tls_tk_idx < 0) {
		snprintf(msg, msglen, "session tickets: %s", tls_reason());
		return TALLY_ENOMEM;
	}
	if ((tk = OPENSSL_zalloc(sizeof *tk)) == NULL) {
		snprintf(msg, msglen, "session tickets: out of memory");
		return TALLY_ENOMEM;
	}
	if ((rc = tls_tk_setup(tk, path, msg, msglen)) != 0) {
		OPENSSL_clear_free(tk, sizeof *tk);
		snprintf(msg, msglen, "session tickets: no random bytes: %s",
		    tls_reason());
		return rc;
	}
	/*
	 * One ticket per handshake (each costs a seal), valid as long as TLS
	 * 1.3 lets one live (OpenSSL's default is two hours).
	 */
	old = SSL_CTX_get_ex_data(ctx, tls_tk_idx);
	if (!SSL_CTX_set_ex_data(ctx, tls_tk_idx, tk)) {
		OPENSSL_clear_free(tk, sizeof *tk);
		snprintf(msg, msglen, "session tickets: %s", tls_reason());
		return TALLY_ENOMEM;
	}
	tls_tk_free(NULL, old, NULL, 0, 0, NULL);
	if (!SSL_CTX_set_session_id_context(ctx, sid, sidlen) ||
	    !SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_tk_cb) ||
	    !SSL_CTX_set_num_tickets(ctx, 1)) {
		snprintf(msg, msglen, "session tickets: %s", tls_reason());
		return TALLY_ENOMEM;
	}
	SSL_CTX_set_timeout(ctx, TLS_TK_ROTATE);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	return 0;
}

/*
 * The fingerprint of the key in the peer's certificate, the node's
 * identity.  OpenSSL keeps the certificate for the connection's life (its
 * API has no way to drop it once read); that is a few hundred bytes.
 * After a resumed handshake it is the certificate of the handshake that
 * made the session, carried in the ticket: the key that proved itself
 * then.  The digest is of the SubjectPublicKeyInfo as the certificate
 * carries it, the same DER that tls_key_fingerprint() has i2d_PUBKEY()
 * make of a key: without the encoder that OpenSSL 3.0 would build for
 * that at every connection (a tenth of tallyd's work per reconnecting
 * node).
 */
int
tls_peer_key(struct tls *tc, char *fp, size_t fplen)
{
	X509		*x;
	X509_PUBKEY	*xpk;
	unsigned char	*der = NULL;
	uint8_t		 md[FURL_FP_BYTES];
	unsigned int	 mdlen = 0;
	int		 len, ok;

	if (tc == NULL || (x = SSL_get0_peer_certificate(tc->ssl)) == NULL)
		return TALLY_ENOTFOUND;
	if (fp == NULL || fplen < FURL_FP_LEN + 1)
		return TALLY_EINVAL;
	if ((xpk = X509_get_X509_PUBKEY(x)) == NULL ||
	    (len = i2d_X509_PUBKEY(xpk, &der)) <= 0) {
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

int
tls_hello_seen(struct tls *tc)
{
	return tc != NULL && tc->hello;
}
