/*
 * tlsrec.c: TLS 1.3 record protection (RFC 8446, section 5) for an
 * established connection, from its two application traffic secrets.
 *
 * tallyd holds thousands of connections that are idle but for one poll a
 * minute.  OpenSSL 3.0 keeps about 14 KiB per established connection (its
 * SSL object alone is 7.6 KiB, then the session, two cipher contexts, the
 * handshake digest and the ephemeral keys), which is most of an idle
 * connection's cost.  So the gatherer lets OpenSSL do the handshake, which
 * is where the cryptographic decisions are, takes the two traffic secrets
 * it logs (SSL_CTX_set_keylog_callback, the only way OpenSSL 3.0 hands
 * them out) and frees the SSL.  What stays is the record layer: AEAD
 * sealing with a per-record nonce, about 300 bytes a connection.  Linux's
 * kernel TLS takes over connections the same way; this is the same
 * hand-over, done in user space.
 *
 * What it implements, after the handshake and nothing else:
 *   - application data both ways, in records of at most 2^14 bytes;
 *   - close_notify (EOF) and user_canceled (ignored); any other alert is
 *     the peer's fatal error, reported by name;
 *   - KeyUpdate from the peer: the read key moves on, and if the peer asks,
 *     a KeyUpdate of ours goes out before our next record (4.6.3);
 *   - a fatal alert of ours, sent once, on a record that does not open,
 *     overflows or has no business here.
 * Padding is accepted and never sent.  The ciphers are TLS 1.3's three
 * default suites; tls.c offers no others.
 *
 * Records are opened in place in one buffer, allocated while a record is
 * incomplete or unread and freed otherwise, and sealed into another, held
 * only until the socket takes it: an idle connection holds no buffer.
 * Keys are wiped when replaced and when the layer is cleared.
 *
 * The write contract is OpenSSL's (tls.c's callers rely on it): a write
 * that cannot send its whole record says TLS_WANT_WRITE, and is called
 * again with the same bytes, or more, when the socket is writable; it then
 * reports the bytes the record carried.
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include "tally-int.h"

#define REC_HEADER	5			/* type, version, length */
#define REC_TAG		16			/* every suite's AEAD tag */
#define REC_PLAIN_MAX	16384			/* 2^14 */
#define REC_CIPHER_MAX	(REC_PLAIN_MAX + 256)	/* 5.2 */
#define REC_IN_MAX	(REC_HEADER + REC_CIPHER_MAX)

/* Content types (5.1), alert levels and descriptions (6). */
#define CT_ALERT	21
#define CT_HANDSHAKE	22
#define CT_APPDATA	23
#define ALERT_WARNING	1
#define ALERT_FATAL	2
#define AD_CLOSE_NOTIFY		0
#define AD_UNEXPECTED_MESSAGE	10
#define AD_BAD_RECORD_MAC	20
#define AD_RECORD_OVERFLOW	22
#define AD_ILLEGAL_PARAMETER	47
#define AD_DECODE_ERROR		50
#define AD_INTERNAL_ERROR	80
#define AD_USER_CANCELED	90
#define AD_NONE			(-1)		/* send nothing */
#define HT_KEY_UPDATE	24

struct tlsrec_suite {
	uint16_t	 id;		/* IANA's cipher suite number */
	const char	*cipher;	/* OpenSSL's fetch name */
	const char	*digest;
	size_t		 keylen;
	EVP_CIPHER	*evp;		/* fetched once */
	const EVP_MD	*md;
};

static struct tlsrec_suite tlsrec_suites[] = {
	{ 0x1301, "AES-128-GCM",	"SHA256", 16, NULL, NULL },
	{ 0x1302, "AES-256-GCM",	"SHA384", 32, NULL, NULL },
	{ 0x1303, "ChaCha20-Poly1305",	"SHA256", 32, NULL, NULL },
};
#define TLSREC_NSUITES	(sizeof tlsrec_suites / sizeof tlsrec_suites[0])

static pthread_once_t	 tlsrec_once = PTHREAD_ONCE_INIT;

/*
 * Fetching once spares OpenSSL 3.0 a method-store lookup per record, which
 * is what handing it EVP_aes_128_gcm() would cost.
 */
static void
tlsrec_init_suites(void)
{
	size_t	 i;

	for (i = 0; i < TLSREC_NSUITES; i++) {
		tlsrec_suites[i].evp = EVP_CIPHER_fetch(NULL,
		    tlsrec_suites[i].cipher, NULL);
		tlsrec_suites[i].md = EVP_get_digestbyname(
		    tlsrec_suites[i].digest);
	}
}

size_t
tlsrec_secret_len(uint16_t id)
{
	size_t	 i;

	pthread_once(&tlsrec_once, tlsrec_init_suites);
	for (i = 0; i < TLSREC_NSUITES; i++)
		if (tlsrec_suites[i].id == id && tlsrec_suites[i].evp != NULL &&
		    tlsrec_suites[i].md != NULL)
			return (size_t)EVP_MD_get_size(tlsrec_suites[i].md);
	return 0;
}

/* HKDF-Expand-Label(secret, label, "", len), for len <= the hash's size. */
static int
tlsrec_expand(const EVP_MD *md, const uint8_t *secret, size_t slen,
    const char *label, uint8_t *out, size_t len)
{
	uint8_t		 info[2 + 1 + 255 + 1 + 1], t[EVP_MAX_MD_SIZE];
	unsigned int	 tlen = 0;
	size_t		 ll = strlen(label), n = 0;

	if (6 + ll > 255 || len > (size_t)EVP_MD_get_size(md))
		return -1;
	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;			/* an empty context */
	info[n++] = 1;			/* HKDF's T(1): one block is enough */
	if (HMAC(md, secret, (int)slen, info, n, t, &tlen) == NULL ||
	    tlen < len) {
		OPENSSL_cleanse(t, sizeof t);
		return -1;
	}
	memcpy(out, t, len);
	OPENSSL_cleanse(t, sizeof t);
	return 0;
}

/* A direction's key and IV from its secret, and its sequence from 0. */
static int
tlsrec_keys(const struct tlsrec_suite *s, struct tlsrec_dir *d)
{
	d->seq = 0;
	if (tlsrec_expand(s->md, d->secret, d->secretlen, "key", d->key,
	    s->keylen) != 0 ||
	    tlsrec_expand(s->md, d->secret, d->secretlen, "iv", d->iv,
	    sizeof d->iv) != 0)
		return -1;
	return 0;
}

/* The next generation of a direction's secret (7.2), and its keys. */
static int
tlsrec_update(const struct tlsrec_suite *s, struct tlsrec_dir *d)
{
	uint8_t	 next[TLSREC_SECRET_MAX];

	if (tlsrec_expand(s->md, d->secret, d->secretlen, "traffic upd", next,
	    d->secretlen) != 0)
		return -1;
	memcpy(d->secret, next, d->secretlen);
	OPENSSL_cleanse(next, sizeof next);
	return tlsrec_keys(s, d);
}

int
tlsrec_init(struct tlsrec *r, int fd, uint16_t suite, char *err,
    size_t errlen)
{
	size_t	 i, len = tlsrec_secret_len(suite);

	r->fd = fd;
	if (len == 0 || len > TLSREC_SECRET_MAX)
		return error_set(err, errlen, TALLY_EINVAL, "TLS: cipher suite "
		    "0x%04x is not one of TLS 1.3's default three", suite);
	if (r->rd.secretlen != len || r->wr.secretlen != len)
		return error_set(err, errlen, TALLY_EINVAL, "TLS: the traffic "
		    "secrets were not handed over");
	for (i = 0; tlsrec_suites[i].id != suite; i++)
		continue;
	r->suite = &tlsrec_suites[i];
	if (tlsrec_keys(r->suite, &r->rd) != 0 ||
	    tlsrec_keys(r->suite, &r->wr) != 0)
		return error_set(err, errlen, TALLY_ENOMEM, "TLS: cannot derive "
		    "the traffic keys");
	return 0;
}

void
tlsrec_clear(struct tlsrec *r)
{
	free(r->in);
	free(r->out);
	OPENSSL_cleanse(r, sizeof *r);
	r->fd = -1;
}

/*
 * Seal or open len bytes at p, in place, as the record whose header is
 * hdr; the tag goes to or comes from tag.  The nonce is the IV with the
 * sequence number XORed into its last 8 bytes (5.3).  0 or -1.
 */
static int
tlsrec_aead(const struct tlsrec_suite *s, struct tlsrec_dir *d, int seal,
    const uint8_t *hdr, uint8_t *p, size_t len, uint8_t *tag)
{
	EVP_CIPHER_CTX	*x;
	uint8_t		 nonce[TLSREC_IV];
	int		 i, n, ok;

	if (d->seq == UINT64_MAX)	/* 2^64 records: never, but not wrap */
		return -1;
	memcpy(nonce, d->iv, sizeof nonce);
	for (i = 0; i < 8; i++)
		nonce[TLSREC_IV - 1 - i] ^= (uint8_t)(d->seq >> (8 * i));
	if ((x = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_CipherInit_ex2(x, s->evp, d->key, nonce, seal, NULL) == 1 &&
	    (seal || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, REC_TAG,
	    tag) == 1) &&
	    EVP_CipherUpdate(x, NULL, &n, hdr, REC_HEADER) == 1 &&
	    EVP_CipherUpdate(x, p, &n, p, (int)len) == 1 &&
	    EVP_CipherFinal_ex(x, p + n, &n) == 1 &&
	    (!seal || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, REC_TAG,
	    tag) == 1);
	EVP_CIPHER_CTX_free(x);
	OPENSSL_cleanse(nonce, sizeof nonce);
	if (!ok)
		return -1;
	d->seq++;
	return 0;
}

/* Seal content of type ct behind whatever r->out holds.  0 or -1. */
static int
tlsrec_seal(struct tlsrec *r, uint8_t ct, const void *buf, size_t len)
{
	size_t	 inner = len + 1, total = REC_HEADER + inner + REC_TAG;
	uint8_t	*rec, *p;

	if ((p = realloc(r->out, r->outlen + total)) == NULL)
		return -1;
	r->out = p;
	rec = r->out + r->outlen;
	rec[0] = CT_APPDATA;		/* every protected record says so */
	rec[1] = 0x03;
	rec[2] = 0x03;
	rec[3] = (uint8_t)((inner + REC_TAG) >> 8);
	rec[4] = (uint8_t)(inner + REC_TAG);
	memcpy(rec + REC_HEADER, buf, len);
	rec[REC_HEADER + len] = ct;
	if (tlsrec_aead(r->suite, &r->wr, 1, rec, rec + REC_HEADER, inner,
	    rec + REC_HEADER + inner) != 0)
		return -1;
	r->outlen += total;
	return 0;
}

/* Send what r->out holds: 0 once all is sent, TLS_WANT_WRITE or -errno. */
static int
tlsrec_flush(struct tlsrec *r)
{
	ssize_t	 n;

	while (r->outoff < r->outlen) {
		n = send(r->fd, r->out + r->outoff, r->outlen - r->outoff,
		    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return TLS_WANT_WRITE;
			return -errno;
		}
		r->outoff += (size_t)n;
	}
	free(r->out);
	r->out = NULL;
	r->outlen = r->outoff = 0;
	return 0;
}

/* One try at an alert: only between records, and only once. */
static void
tlsrec_alert(struct tlsrec *r, int level, int desc)
{
	uint8_t	 a[2];

	if (r->alerted || r->outoff < r->outlen)
		return;
	r->alerted = 1;
	a[0] = (uint8_t)level;
	a[1] = (uint8_t)desc;
	if (tlsrec_seal(r, CT_ALERT, a, sizeof a) == 0)
		(void)tlsrec_flush(r);
}

/* A fatal error: tell the peer (desc, unless AD_NONE) and the caller. */
static long
tlsrec_fail(struct tlsrec *r, int desc, char *err, size_t errlen,
    const char *what)
{
	if (desc != AD_NONE && !r->failed)
		tlsrec_alert(r, ALERT_FATAL, desc);
	r->failed = 1;
	error_set(err, errlen, 0, "%s", what);
	return TLS_ERROR;
}

long
tlsrec_write(struct tlsrec *r, const void *buf, size_t len, char *err,
    size_t errlen)
{
	static const uint8_t	 ku[] = { HT_KEY_UPDATE, 0, 0, 1, 0 };
	size_t			 n;
	int			 rc;

	if (r->failed)
		return error_set(err, errlen, TLS_ERROR, "TLS: the connection "
		    "has failed");
	if (r->closed)
		return error_set(err, errlen, TLS_ERROR, "TLS: write after "
		    "close_notify");
	for (;;) {
		if ((rc = tlsrec_flush(r)) == TLS_WANT_WRITE)
			return TLS_WANT_WRITE;
		if (rc != 0) {
			r->failed = 1;
			return error_set(err, errlen, TLS_ERROR, "%s",
			    strerror(-rc));
		}
		if (r->outplain > 0) {		/* a record went out whole */
			n = r->outplain;
			r->outplain = 0;
			return (long)n;
		}
		if (r->keyupdate_owed) {
			/* Under the old key; what follows under the new. */
			if (tlsrec_seal(r, CT_HANDSHAKE, ku, sizeof ku) != 0 ||
			    tlsrec_update(r->suite, &r->wr) != 0)
				return tlsrec_fail(r, AD_NONE, err, errlen,
				    "TLS: cannot update the write key");
			r->keyupdate_owed = 0;
			continue;
		}
		if (len == 0)
			return 0;
		n = len < REC_PLAIN_MAX ? len : REC_PLAIN_MAX;
		if (tlsrec_seal(r, CT_APPDATA, buf, n) != 0)
			return tlsrec_fail(r, AD_NONE, err, errlen,
			    "TLS: out of memory for a record");
		r->outplain = n;
	}
}

/* A post-handshake handshake message: KeyUpdate is the only one we take. */
static long
tlsrec_handshake_msg(struct tlsrec *r, const uint8_t *p, size_t len,
    char *err, size_t errlen)
{
	size_t	 mlen;

	if (len < 4 || (mlen = (size_t)p[1] << 16 | (size_t)p[2] << 8 |
	    p[3]) != len - 4)
		return tlsrec_fail(r, AD_UNEXPECTED_MESSAGE, err, errlen,
		    "TLS: a post-handshake message not alone in its record");
	if (p[0] != HT_KEY_UPDATE) {
		error_set(err, errlen, 0, "TLS: unexpected post-handshake "
		    "message (type %u)", p[0]);
		return tlsrec_fail(r, AD_UNEXPECTED_MESSAGE, NULL, 0, "");
	}
	if (mlen != 1 || p[4] > 1)
		return tlsrec_fail(r, AD_ILLEGAL_PARAMETER, err, errlen,
		    "TLS: a malformed KeyUpdate");
	if (tlsrec_update(r->suite, &r->rd) != 0)
		return tlsrec_fail(r, AD_INTERNAL_ERROR, err, errlen,
		    "TLS: cannot update the read key");
	if (p[4] == 1)
		r->keyupdate_owed = 1;
	return 0;
}

/*
 * Open the whole record at the front of r->in: application data is left
 * there for the reader (inoff, plainlen); the rest is acted upon.  0, or
 * TLS_ERROR.
 */
static long
tlsrec_open(struct tlsrec *r, size_t clen, char *err, size_t errlen)
{
	uint8_t	*p = r->in + REC_HEADER;
	size_t	 len;
	char	 msg[128];

	r->reclen = REC_HEADER + clen;
	if (clen < 1 + REC_TAG ||
	    tlsrec_aead(r->suite, &r->rd, 0, r->in, p, clen - REC_TAG,
	    p + clen - REC_TAG) != 0)
		return tlsrec_fail(r, AD_BAD_RECORD_MAC, err, errlen,
		    "TLS: a record does not decrypt (bad record MAC)");
	/* The content type is the last byte that is not padding. */
	for (len = clen - REC_TAG; len > 0 && p[len - 1] == 0; len--)
		continue;
	if (len == 0)
		return tlsrec_fail(r, AD_UNEXPECTED_MESSAGE, err, errlen,
		    "TLS: a record without a content type");
	len--;
	if (len > REC_PLAIN_MAX)
		return tlsrec_fail(r, AD_RECORD_OVERFLOW, err, errlen,
		    "TLS: a record over 16 KiB");
	switch (p[len]) {
	case CT_APPDATA:
		r->inoff = REC_HEADER;
		r->plainlen = len;
		return 0;
	case CT_ALERT:
		if (len != 2)
			return tlsrec_fail(r, AD_DECODE_ERROR, err, errlen,
			    "TLS: a malformed alert");
		if (p[1] == AD_CLOSE_NOTIFY)
			r->eof = 1;
		else if (p[1] != AD_USER_CANCELED) {
			snprintf(msg, sizeof msg, "TLS: the peer sent an "
			    "alert: %s", SSL_alert_desc_string_long(p[1]));
			return tlsrec_fail(r, AD_NONE, err, errlen, msg);
		}
		return 0;
	case CT_HANDSHAKE:
		return tlsrec_handshake_msg(r, p, len, err, errlen);
	}
	error_set(err, errlen, 0, "TLS: unexpected record content type %u",
	    p[len]);
	return tlsrec_fail(r, AD_UNEXPECTED_MESSAGE, NULL, 0, "");
}

/* Drop the record at the front of r->in, once it is used up. */
static void
tlsrec_drop(struct tlsrec *r)
{
	r->inlen -= r->reclen;
	memmove(r->in, r->in + r->reclen, r->inlen);
	r->reclen = r->inoff = r->plainlen = 0;
	if (r->inlen == 0) {	/* idle connections keep no buffer */
		free(r->in);
		r->in = NULL;
	}
}

/* Whether a whole record, good or bad, waits at the front of r->in. */
static int
tlsrec_whole(const struct tlsrec *r)
{
	size_t	 clen;

	if (r->inlen < REC_HEADER)
		return 0;
	clen = (size_t)r->in[3] << 8 | r->in[4];
	return r->inlen >= REC_HEADER + clen;
}

long
tlsrec_read(struct tlsrec *r, void *buf, size_t len, char *err,
    size_t errlen)
{
	size_t	 clen, n;
	ssize_t	 got;
	long	 rc;

	if (r->failed)
		return error_set(err, errlen, TLS_ERROR, "TLS: the connection "
		    "has failed");
	for (;;) {
		if (r->plainlen > 0) {
			n = len < r->plainlen ? len : r->plainlen;
			memcpy(buf, r->in + r->inoff, n);
			r->inoff += n;
			r->plainlen -= n;
			if (r->plainlen == 0)
				tlsrec_drop(r);
			return (long)n;
		}
		if (r->reclen > 0)		/* an alert, a KeyUpdate */
			tlsrec_drop(r);
		if (r->eof)
			return 0;
		if (r->inlen >= REC_HEADER) {
			if (r->in[0] != CT_APPDATA)
				return tlsrec_fail(r, AD_UNEXPECTED_MESSAGE,
				    err, errlen, "TLS: an unprotected record "
				    "after the handshake");
			clen = (size_t)r->in[3] << 8 | r->in[4];
			if (clen > REC_CIPHER_MAX)
				return tlsrec_fail(r, AD_RECORD_OVERFLOW, err,
				    errlen, "TLS: a record over 16 KiB");
			if (r->inlen >= REC_HEADER + clen) {
				if ((rc = tlsrec_open(r, clen, err,
				    errlen)) != 0)
					return rc;
				continue;
			}
		}
		if (r->in == NULL && (r->in = malloc(REC_IN_MAX)) == NULL)
			return tlsrec_fail(r, AD_NONE, err, errlen,
			    "TLS: out of memory for a record");
		got = recv(r->fd, r->in + r->inlen, REC_IN_MAX - r->inlen, 0);
		if (got > 0) {
			r->inlen += (size_t)got;
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (r->inlen == 0) {
				free(r->in);
				r->in = NULL;
			}
			return TLS_WANT_READ;
		}
		if (got < 0)
			return tlsrec_fail(r, AD_NONE, err, errlen,
			    strerror(errno));
		/* EOF: without close_notify it is still one (tls.c). */
		if (r->inlen > 0)
			return tlsrec_fail(r, AD_NONE, err, errlen, "TLS: "
			    "connection closed in the middle of a record");
		r->eof = 1;
	}
}

int
tlsrec_pending(const struct tlsrec *r)
{
	return r->plainlen > 0 || tlsrec_whole(r);
}

void
tlsrec_close_notify(struct tlsrec *r)
{
	if (r->failed || r->closed || r->suite == NULL)
		return;
	/* Nothing of ours may follow it, even if it has to wait. */
	r->closed = 1;
	if (tlsrec_flush(r) == 0)
		tlsrec_alert(r, ALERT_WARNING, AD_CLOSE_NOTIFY);
}
