/*
 * tls-key.c: keys and self-signed certificates, in files and in memory,
 * for both ends: the gatherer's identity (tls_identity_create() in
 * tls-server.c writes one) and each node's own key (tls_node_key(), made
 * on first use).
 *
 * A key file is a secret: it is made mode 0600, written to a file of its
 * own and linked into place, never replaced, and read back only if it is
 * a regular file of the caller's own user with no bit beyond 0600.  A
 * file that fails any of that is refused with the reason, never fixed:
 * a key that others could read may have been read, and only its owner
 * can say whether to make a new one.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/*
 * RFC 5280 4.1.2.5: "99991231235959Z" means a certificate has no
 * well-defined expiration date.  A pinned certificate needs none: it is
 * replaced by making a new identity, which makes a new furl.  A node's
 * needs none either: only its key counts.
 */
#define TLS_NOT_AFTER	"99991231235959Z"
#define TLS_SERIAL_LEN	16		/* random, positive, per RFC 5280 */
/* A PEM Ed25519 key is 119 bytes; anything this large is something else. */
#define TLS_KEY_FILE_MAX	16384

/* ---- keys and certificates -------------------------------------------- */

/* Directory entries are durable once the directory is synced. */
static void
tls_sync_dir(const char *path)
{
	char		 dir[PATH_MAX];
	const char	*slash;
	int		 fd;

	if ((slash = strrchr(path, '/')) == NULL ||
	    (size_t)(slash - path) >= sizeof dir)
		return;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if ((fd = open(slash == path ? "/" : dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

int
tls_write_pem(const char *path, EVP_PKEY *pk, X509 *x, int *exists,
    char *err, size_t errlen)
{
	char		 tmp[PATH_MAX];
	char		 qp[ERROR_QUOTE_LEN], qt[ERROR_QUOTE_LEN];
	unsigned char	 r[4];
	unsigned long	 ee;
	BIO		*b;
	int		 fd, ok, e;

	if (exists != NULL)
		*exists = 0;
	/* Paths in messages quoted, and cut: the reason always shows. */
	error_quote(qp, sizeof qp, path, strlen(path));
	/*
	 * A name of our own (the pid alone would be shared by two threads),
	 * so that nobody else's file is ever written or linked.
	 */
	if (RAND_bytes(r, sizeof r) != 1) {
		error_set(err, errlen, 0, "%s: %s", qp, tls_reason());
		return TALLY_ESYS;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.new.%ld.%02x%02x%02x%02x",
	    path, (long)getpid(), r[0], r[1], r[2], r[3]) >= sizeof tmp) {
		error_set(err, errlen, 0, "%s: path too long", qp);
		return TALLY_ELIMIT;
	}
	error_quote(qt, sizeof qt, tmp, strlen(tmp));
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		error_set(err, errlen, 0, "%s: %s", qt, strerror(errno));
		return TALLY_ESYS;
	}
	if (fchmod(fd, 0600) != 0 ||
	    (b = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL) {
		e = errno;
		close(fd);
		unlink(tmp);
		error_set(err, errlen, 0, "%s: %s", qt, strerror(e));
		return TALLY_ESYS;
	}
	errno = 0;
	ok = pk != NULL ? PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0,
	    NULL, NULL) : PEM_write_bio_X509(b, x);
	ok = ok && BIO_flush(b) == 1;
	BIO_free(b);
	if (!ok || fsync(fd) != 0) {
		/*
		 * A write that failed (a full disk) is errno's: OpenSSL says
		 * only "BUF lib" or a system error of its own.
		 */
		e = errno;
		ee = ERR_peek_last_error();
		close(fd);
		unlink(tmp);
		error_set(err, errlen, 0, "%s: cannot write: %s", qt, ok ||
		    (e != 0 && (ee == 0 || ERR_GET_LIB(ee) == ERR_LIB_SYS ||
		    ERR_GET_LIB(ee) == ERR_LIB_BUF)) ? strerror(e) :
		    tls_reason());
		return TALLY_ESYS;
	}
	close(fd);
	/* link(), not rename(): a key is never replaced under anyone. */
	if (link(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		if (e == EEXIST && exists != NULL)
			*exists = 1;
		error_set(err, errlen, 0, "%s: %s", qp, e == EEXIST ?
		    "exists already (not replaced)" : strerror(e));
		return TALLY_ESYS;
	}
	unlink(tmp);
	tls_sync_dir(path);
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

int
tls_make_cert(EVP_PKEY **pkp, X509 **xp, const char *cn)
{
	EVP_PKEY	*pk = *pkp;
	X509		*x = NULL;
	X509_NAME	*name;
	BIGNUM		*bn = NULL;
	unsigned char	 serial[TLS_SERIAL_LEN];
	int		 ok = 0;

	if (pk == NULL && (pk = EVP_PKEY_Q_keygen(NULL, NULL,
	    "ED25519")) == NULL)
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
	    (const unsigned char *)cn, -1, -1, 0) ||
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
		if (*pkp == NULL)
			EVP_PKEY_free(pk);
		return -1;
	}
	*pkp = pk;
	*xp = x;
	return 0;
}

/* ---- node keys -------------------------------------------------------- */

/* A key file is never encrypted: never ask anyone for a passphrase. */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

/*
 * Load the key at path, an Ed25519 private key in PEM, from a regular
 * file of ours that nobody else may read.  A file that is not is refused
 * with what is wrong and how to mend it, never mended here: the operator
 * may have had reasons, and a key others could read is no secret anymore.
 * TALLY_ENOTFOUND (and no message) if there is none.
 */
static int
tls_key_load(const char *path, EVP_PKEY **pkp, char *err, size_t errlen)
{
	struct stat	 sb;
	EVP_PKEY	*pk;
	BIO		*b;
	mode_t		 mode;
	char		 q[ERROR_QUOTE_LEN];
	const char	*shown = error_quote(q, sizeof q, path, strlen(path));
	int		 fd, e;

	*pkp = NULL;
	/* O_NONBLOCK: a FIFO must not hang us at open. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC)) < 0) {
		e = errno;
		if (e == ENOENT)
			return TALLY_ENOTFOUND;
		if (e == ELOOP)
			return error_set(err, errlen, TALLY_EINVAL, "key file "
			    "%s: is a symbolic link; name the file itself",
			    shown);
		return error_set(err, errlen, TALLY_ESYS, "key file %s: %s",
		    shown, strerror(e));
	}
	if (fstat(fd, &sb) != 0) {
		e = errno;
		close(fd);
		return error_set(err, errlen, TALLY_ESYS, "key file %s: %s",
		    shown, strerror(e));
	}
	mode = sb.st_mode & 07777;
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return error_set(err, errlen, TALLY_EINVAL, "key file %s: not "
		    "a regular file", shown);
	}
	if (sb.st_uid != geteuid()) {
		close(fd);
		return error_set(err, errlen, TALLY_EINVAL, "key file %s: "
		    "owned by uid %lu, not by uid %lu", shown,
		    (unsigned long)sb.st_uid, (unsigned long)geteuid());
	}
	if ((mode & ~(mode_t)0600) != 0) {
		close(fd);
		return error_set(err, errlen, TALLY_EINVAL, "key file %s: "
		    "mode %04o is wider than 0600; chmod 600 %s", shown,
		    (unsigned)mode, shown);
	}
	if (sb.st_size > TLS_KEY_FILE_MAX) {
		close(fd);
		return error_set(err, errlen, TALLY_EINVAL, "key file %s: "
		    "%lld bytes, too large to be a key", shown,
		    (long long)sb.st_size);
	}
	ERR_clear_error();
	if ((b = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL) {
		close(fd);
		return error_set(err, errlen, TALLY_ENOMEM, "key file %s: %s",
		    shown, tls_reason());
	}
	pk = PEM_read_bio_PrivateKey(b, NULL, tls_no_passphrase, NULL);
	e = errno;
	BIO_free(b);
	close(fd);
	if (pk == NULL) {
		if (ERR_peek_last_error() == 0)
			return error_set(err, errlen, TALLY_ESYS, "key file "
			    "%s: %s", shown, strerror(e));
		return error_set(err, errlen, TALLY_EINVAL, "key file %s: not "
		    "an unencrypted PEM private key (%s)", shown, tls_reason());
	}
	if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		error_set(err, errlen, 0, "key file %s: a %s key, not Ed25519",
		    shown, EVP_PKEY_get0_type_name(pk) != NULL ?
		    EVP_PKEY_get0_type_name(pk) : "non-Ed25519");
		EVP_PKEY_free(pk);
		ERR_clear_error();
		return TALLY_EINVAL;
	}
	*pkp = pk;
	return 0;
}

/*
 * The node key at path, made first if there is none.  The new key goes to
 * a file of its own and is linked into place, so that two creators at
 * once (two processes of one node) never see each other's half-written
 * file: the loser finds the winner's key there, and loads it.
 */
int
tls_node_pkey(const char *path, EVP_PKEY **pkp, char *err, size_t errlen)
{
	EVP_PKEY	*pk;
	int		 rc, tries, exists;

	*pkp = NULL;
	if (path == NULL || *path == '\0')
		return error_set(err, errlen, TALLY_EINVAL, "no key file");
	for (tries = 0; tries < 3; tries++) {
		if ((rc = tls_key_load(path, pkp, err, errlen)) !=
		    TALLY_ENOTFOUND)
			return rc;
		ERR_clear_error();
		if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
			return error_set(err, errlen, TALLY_ENOMEM, "key file "
			    "%s: cannot make a key: %s", path, tls_reason());
		rc = tls_write_pem(path, pk, NULL, &exists, err, errlen);
		if (rc == 0) {
			*pkp = pk;
			return 0;
		}
		EVP_PKEY_free(pk);
		if (!exists)
			return rc;
	}
	/* Made and removed under us, over and over. */
	return error_set(err, errlen, TALLY_ESYS, "key file %s: keeps "
	    "changing; is another program removing it?", path);
}

int
tls_node_key(const char *path, char *fp, size_t fplen, char *err,
    size_t errlen)
{
	EVP_PKEY	*pk;
	int		 rc;

	/* A provider's call (tally_provider_start): see tls_fork_lock(). */
	tls_fork_lock();
	if ((rc = tls_node_pkey(path, &pk, err, errlen)) == 0) {
		if (fp != NULL && tls_key_fingerprint(pk, fp, fplen) != 0)
			rc = error_set(err, errlen, TALLY_EINVAL, "key file "
			    "%s: cannot fingerprint the key", path);
		EVP_PKEY_free(pk);
	}
	ERR_clear_error();
	tls_fork_unlock();
	return rc;
}
