/*
 * tls-int.h: what tls.c (libtally: the client, and what both ends share)
 * and tls-server.c (tallyd's side, outside libtally) share, and nobody
 * else: the connection's layout and a few helpers.  Everyone else uses
 * the tls section of tally-int.h.
 */
#ifndef TLS_INT_H
#define TLS_INT_H

#include <openssl/ssl.h>

#include "tally-int.h"

/*
 * A connection: OpenSSL's SSL, for its whole life, and its socket; for a
 * client, the pin; for a server, whether a whole ClientHello has come.
 */
struct tls {
	SSL		*ssl;
	int		 fd;
	int		 sys_errno;	/* of the last failed send or recv */
	int		 pinned;	/* a client: want holds the fingerprint */
	int		 mismatch;	/* the verify callback refused the leaf */
	int		 failed;	/* a fatal error: no close_notify after */
	int		 hello;		/* a server: a ClientHello was read */
	SSL_SESSION	**keep;		/* a client: where new sessions go */
	uint8_t		 want[FURL_FP_BYTES];
	char		 got[FURL_FP_LEN + 1];
};

/* OpenSSL set up for us once (the BIO method, the ex_data index). */
int	 tls_ready(char *, size_t);
/* The reason of OpenSSL's last error, and this thread's queue emptied. */
const char *tls_reason(void);
/* The struct tls of an SSL made by tls_new(), or NULL. */
struct tls *tls_of(const SSL *);
/* A context of either side: TLS 1.3 only, X25519 only, no session cache
 * (tickets only, where a side turns them on), lean buffers. */
SSL_CTX	*tls_ctx_common(const SSL_METHOD *);
/* SHA-256 of a certificate's DER, in furl base32; 0 or -1. */
int	 tls_cert_fingerprint(X509 *, char *, size_t);
/* A new Ed25519 key (*pkp NULL) or the given one, and a self-signed
 * certificate for it with common name cn; 0 or -1. */
int	 tls_make_cert(EVP_PKEY **, X509 **, const char *);
/*
 * Write key pk (or certificate x) as a new PEM file at path, mode 0600,
 * atomically (a temporary file, then link()), never replacing one: 0, or
 * TALLY_ESYS with a message; *exists (if not NULL) is set when another
 * file held path already.
 */
int	 tls_write_pem(const char *, EVP_PKEY *, X509 *, int *, char *,
	     size_t);
/* A node's key from path, made there on first use (tls_node_key()). */
int	 tls_node_pkey(const char *, EVP_PKEY **, char *, size_t);

#endif /* TLS_INT_H */
