/*
 * furl.c: the gatherer's address, identity and secret in one line:
 *
 *	tally+tls://FINGERPRINT@HOST:PORT/SECRET	TLS 1.3, the gatherer's
 *							certificate pinned
 *	tally://HOST:PORT/SECRET			plaintext, loopback only
 *
 * The secret is a capability, so no message here ever quotes it, nor any
 * part of the text that might be it.  The fingerprint is public: messages
 * may quote it.
 */
#include <sys/random.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tally-int.h"

#define FURL_SCHEME		"tally"
#define FURL_SCHEME_TLS		"tally+tls"
#define FURL_SCHEME_MAX		32
#define FURL_HOST_MAX		253		/* a DNS name's text form */
#define FURL_LABEL_MAX		63
#define FURL_PORT_DIGITS	5
#define FURL_QUOTE_MAX		32		/* of a bad field, in messages */
#define FURL_FORM		"expected tally+tls://FINGERPRINT@HOST:PORT/" \
				"SECRET, or tally://HOST:PORT/SECRET on loopback"
#define FURL_FORM_TLS		"expected tally+tls://FINGERPRINT@HOST:PORT/" \
				"SECRET"

/* RFC 4648 base32, lowercase: secrets and fingerprints are made of it. */
static const char furl_b32[] = "abcdefghijklmnopqrstuvwxyz234567";


/*
 * Copy a bad field into dst for a message: bounded, and with anything but
 * printable ASCII as '?', so a stray control character or a pasted
 * terminal escape never reaches a log line.
 */
static const char *
furl_quote(char *dst, size_t size, const char *s, size_t len)
{
	size_t	 i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
	return dst;
}

static int
furl_scheme_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

static int
furl_host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/*
 * A DNS name or dotted IPv4 address: labels of 1-63 characters, and an
 * optional final dot (a fully qualified name).  All digits and dots must be
 * an IPv4 address, since getaddrinfo would otherwise look "300.1.1.1" up as
 * a name and fail much later with a less helpful message.
 */
static int
furl_host_name(const char *h, size_t len, char *err, size_t errlen)
{
	struct in_addr	 a4;
	char		 q[FURL_QUOTE_MAX + 1];
	size_t		 i, label = 0;
	int		 numeric = 1;

	if (len > FURL_HOST_MAX) {
		error_set(err, errlen, 0, "furl: host too long (%zu chars, at most "
		    "%d)", len, FURL_HOST_MAX);
		return TALLY_EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = h[i];
		if (!furl_host_char(c)) {
			error_set(err, errlen, 0, "furl: bad character '%s' in host "
			    "(a name, an IPv4 address or [IPv6])",
			    furl_quote(q, sizeof q, h + i, 1));
			return TALLY_EINVAL;
		}
		if (c == '.') {
			if (label == 0)
				break;
			label = 0;
			continue;
		}
		if (++label > FURL_LABEL_MAX)
			break;
		if (c < '0' || c > '9')
			numeric = 0;
	}
	if (i < len) {
		error_set(err, errlen, 0, "furl: bad host '%s': empty label or one "
		    "over %d chars", furl_quote(q, sizeof q, h, len),
		    FURL_LABEL_MAX);
		return TALLY_EINVAL;
	}
	if (numeric) {
		char	 tmp[FURL_HOST_MAX + 1];

		memcpy(tmp, h, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET, tmp, &a4) != 1) {
			error_set(err, errlen, 0, "furl: bad IPv4 address '%s'",
			    furl_quote(q, sizeof q, h, len));
			return TALLY_EINVAL;
		}
	}
	return 0;
}

static int
furl_host_v6(const char *h, size_t len, char *err, size_t errlen)
{
	struct in6_addr	 a6;
	char		 tmp[INET6_ADDRSTRLEN], q[FURL_QUOTE_MAX + 1];

	if (len == 0 || len >= sizeof tmp) {
		error_set(err, errlen, 0, "furl: bad IPv6 address '%s'",
		    furl_quote(q, sizeof q, h, len));
		return TALLY_EINVAL;
	}
	memcpy(tmp, h, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET6, tmp, &a6) != 1) {
		error_set(err, errlen, 0, "furl: bad IPv6 address '%s'",
		    furl_quote(q, sizeof q, h, len));
		return TALLY_EINVAL;
	}
	return 0;
}

/* Decimal 1-65535 without sign or leading zero: one text per port. */
static int
furl_port(const char *p, size_t len, char *err, size_t errlen)
{
	char		 q[FURL_QUOTE_MAX + 1];
	unsigned long	 v = 0;
	size_t		 i;

	if (len == 0) {
		error_set(err, errlen, 0, "furl: missing port after ':' (%s)",
		    FURL_FORM);
		return TALLY_EINVAL;
	}
	for (i = 0; i < len && i <= FURL_PORT_DIGITS; i++) {
		if (p[i] < '0' || p[i] > '9')
			break;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (i < len || v == 0 || v > 65535 || p[0] == '0') {
		error_set(err, errlen, 0, "furl: bad port '%s' (1-65535)",
		    furl_quote(q, sizeof q, p, len));
		return TALLY_EINVAL;
	}
	return 0;
}

static int
furl_secret_valid(const char *s, size_t len)
{
	size_t	 i;

	if (len < WIRE_SECRET_MIN || len > WIRE_SECRET_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '2' && s[i] <= '7')))
			return 0;
	return 1;
}

/* One base32 character's value, or -1. */
static int
furl_b32_value(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int
furl_b32_encode(const uint8_t *in, size_t n, char *out, size_t size)
{
	size_t		 i, o = 0, need = (n * 8 + 4) / 5;
	unsigned	 acc = 0, bits = 0;

	if (out == NULL || size < need + 1)
		return TALLY_ELIMIT;
	for (i = 0; i < n; i++) {
		acc = (acc << 8 | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			out[o++] = furl_b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = furl_b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return (int)o;
}

int
furl_b32_decode(const char *s, size_t len, uint8_t *out, size_t size)
{
	size_t		 i, o = 0;
	unsigned	 acc = 0, bits = 0;
	int		 v;

	for (i = 0; i < len; i++) {
		if ((v = furl_b32_value((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 5 | (unsigned)v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			if (o == size)
				return -1;
			out[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	/*
	 * The bits left over are padding and must be zero: one text per
	 * value, so two spellings of a fingerprint cannot both pass.
	 */
	if (bits >= 5 || (acc & ((1U << bits) - 1)) != 0)
		return -1;
	return (int)o;
}

/*
 * A fingerprint: exactly FURL_FP_LEN characters of lowercase base32 that
 * decode to the FURL_FP_BYTES of a SHA-256 digest.  Each way to be wrong
 * has its own message, since a fingerprint is typed or pasted by hand.
 */
static int
furl_fingerprint(const char *fp, size_t len, char *err, size_t errlen)
{
	uint8_t		 d[FURL_FP_BYTES];
	char		 q[FURL_QUOTE_MAX + 1];
	size_t		 i;

	if (len == 0) {
		error_set(err, errlen, 0, "furl: missing fingerprint before '@' "
		    "(%s)", FURL_FORM_TLS);
		return TALLY_EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = fp[i];
		if (furl_b32_value(c) >= 0)
			continue;
		if (c == '=')
			error_set(err, errlen, 0, "furl: padding '=' in the "
			    "fingerprint (it is unpadded base32)");
		else if (c >= 'A' && c <= 'Z')
			error_set(err, errlen, 0, "furl: uppercase '%c' in the "
			    "fingerprint (it is lowercase base32, [a-z2-7])",
			    c);
		else
			error_set(err, errlen, 0, "furl: bad character '%s' in "
			    "the fingerprint (lowercase base32, [a-z2-7])",
			    furl_quote(q, sizeof q, fp + i, 1));
		return TALLY_EINVAL;
	}
	if (len != FURL_FP_LEN) {
		error_set(err, errlen, 0, "furl: fingerprint of %zu chars; a "
		    "SHA-256 fingerprint is %d chars of base32", len,
		    FURL_FP_LEN);
		return TALLY_EINVAL;
	}
	if (furl_b32_decode(fp, len, d, sizeof d) != FURL_FP_BYTES) {
		error_set(err, errlen, 0, "furl: fingerprint '%s...' is not "
		    "canonical base32 (its last char must be 'a' or 'q')",
		    furl_quote(q, sizeof q, fp, 16));
		return TALLY_EINVAL;
	}
	return 0;
}

int
furl_host_loopback(const char *host)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (strcasecmp(host, "localhost") == 0 ||
	    strcasecmp(host, "localhost.") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}

int
furl_addr_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;

	switch (sa->sa_family) {
	case AF_INET:
		s4 = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		    s6->sin6_addr.s6_addr[12] == 127);
	}
	return 0;
}

/*
 * HOST:PORT of a furl, from auth up to slash: "[v6]:PORT" or "NAME:PORT",
 * each part checked.  0 and the parts, or TALLY_EINVAL with a message.
 */
static int
furl_hostport(const char *auth, const char *slash, int tls,
    const char **hostp, size_t *hlenp, const char **portp, size_t *plenp,
    char *err, size_t errlen)
{
	char		 q[FURL_QUOTE_MAX + 1];
	const char	*host, *colon;
	size_t		 hlen;
	int		 rc;

	if (*auth == '[') {
		const char *rb = memchr(auth, ']', (size_t)(slash - auth));

		if (rb == NULL) {
			error_set(err, errlen, 0, "furl: unclosed '[' in host");
			return TALLY_EINVAL;
		}
		*hostp = host = auth + 1;
		*hlenp = hlen = (size_t)(rb - host);
		if ((rc = furl_host_v6(host, hlen, err, errlen)) != 0)
			return rc;
		colon = rb + 1;
		if (colon == slash || *colon != ':') {
			error_set(err, errlen, 0, "furl: missing ':PORT' after "
			    "'[%s]' (%s)", furl_quote(q, sizeof q, host, hlen),
			    tls ? FURL_FORM_TLS : FURL_FORM);
			return TALLY_EINVAL;
		}
	} else {
		*hostp = host = auth;
		colon = memchr(auth, ':', (size_t)(slash - auth));
		if (colon == NULL) {
			error_set(err, errlen, 0, "furl: missing ':PORT' (%s)",
			    tls ? FURL_FORM_TLS : FURL_FORM);
			return TALLY_EINVAL;
		}
		if (memchr(colon + 1, ':', (size_t)(slash - colon - 1)) !=
		    NULL) {
			error_set(err, errlen, 0, "furl: more than one ':' in "
			    "HOST:PORT (an IPv6 host goes in brackets, as in "
			    "tally+tls://FINGERPRINT@[::1]:PORT/SECRET)");
			return TALLY_EINVAL;
		}
		*hlenp = hlen = (size_t)(colon - host);
		if (hlen == 0) {
			error_set(err, errlen, 0, "furl: missing host (%s)",
			    tls ? FURL_FORM_TLS : FURL_FORM);
			return TALLY_EINVAL;
		}
		if ((rc = furl_host_name(host, hlen, err, errlen)) != 0)
			return rc;
	}
	*portp = colon + 1;
	*plenp = (size_t)(slash - *portp);
	return furl_port(*portp, *plenp, err, errlen);
}

int
furl_parse(const char *s, struct furl *f, char *err, size_t errlen)
{
	return furl_parse_flags(s, 0, f, err, errlen);
}

int
furl_parse_flags(const char *s, int flags, struct furl *f, char *err,
    size_t errlen)
{
	struct furl	 tmp;
	char		 q[FURL_QUOTE_MAX + 1];
	const char	*p, *auth, *slash, *host, *port, *secret;
	const char	*fp = NULL, *at;
	size_t		 slen, hlen, plen, seclen, fplen = 0;
	int		 rc, tls;

	if (s == NULL || f == NULL) {
		error_set(err, errlen, 0, "furl: none given");
		return TALLY_EINVAL;
	}
	/* scheme "://" */
	for (p = s; furl_scheme_char((unsigned char)*p) &&
	    p - s <= FURL_SCHEME_MAX; p++)
		;
	slen = (size_t)(p - s);
	if (slen == 0 || slen > FURL_SCHEME_MAX || strncmp(p, "://", 3) != 0) {
		error_set(err, errlen, 0, "furl: %s", FURL_FORM);
		return TALLY_EINVAL;
	}
	tls = slen == strlen(FURL_SCHEME_TLS) &&
	    memcmp(s, FURL_SCHEME_TLS, slen) == 0;
	if (!tls && (slen != strlen(FURL_SCHEME) ||
	    memcmp(s, FURL_SCHEME, slen) != 0)) {
		error_set(err, errlen, 0, "furl: unknown scheme '%s' (%s)",
		    furl_quote(q, sizeof q, s, slen), FURL_FORM);
		return TALLY_EINVAL;
	}
	auth = p + 3;

	/* [FINGERPRINT@]HOST:PORT, up to the first '/' */
	if ((slash = strchr(auth, '/')) == NULL) {
		error_set(err, errlen, 0, "furl: missing '/SECRET' (%s)",
		    tls ? FURL_FORM_TLS : FURL_FORM);
		return TALLY_EINVAL;
	}
	at = memchr(auth, '@', (size_t)(slash - auth));
	if (tls) {
		if (at == NULL) {
			error_set(err, errlen, 0, "furl: missing 'FINGERPRINT@' "
			    "before the host (%s)", FURL_FORM_TLS);
			return TALLY_EINVAL;
		}
		fp = auth;
		fplen = (size_t)(at - auth);
		if ((rc = furl_fingerprint(fp, fplen, err, errlen)) != 0)
			return rc;
		auth = at + 1;
	} else if (at != NULL) {
		error_set(err, errlen, 0, "furl: bad character '@' in host (a "
		    "FINGERPRINT@ belongs in tally+tls:// furls)");
		return TALLY_EINVAL;
	}
	if (slash == auth) {
		error_set(err, errlen, 0, "furl: missing host (%s)",
		    tls ? FURL_FORM_TLS : FURL_FORM);
		return TALLY_EINVAL;
	}
	if ((rc = furl_hostport(auth, slash, tls, &host, &hlen, &port,
	    &plen, err, errlen)) != 0)
		return rc;

	/* SECRET, the whole rest */
	secret = slash + 1;
	if (*secret == '\0') {
		error_set(err, errlen, 0, "furl: missing secret after '/' (%s)",
		    tls ? FURL_FORM_TLS : FURL_FORM);
		return TALLY_EINVAL;
	}
	seclen = strlen(secret);
	if (memchr(secret, '/', seclen) != NULL) {
		error_set(err, errlen, 0, "furl: extra path segment: the path is "
		    "exactly one '/SECRET'");
		return TALLY_EINVAL;
	}
	if (!furl_secret_valid(secret, seclen)) {
		error_set(err, errlen, 0, "furl: secret must be %d-%d chars of "
		    "[a-z2-7]", WIRE_SECRET_MIN, WIRE_SECRET_MAX);
		return TALLY_EINVAL;
	}

	memset(&tmp, 0, sizeof tmp);
	memcpy(tmp.host, host, hlen);
	memcpy(tmp.port, port, plen);
	memcpy(tmp.secret, secret, seclen);
	if (tls)
		memcpy(tmp.fingerprint, fp, fplen);
	/*
	 * The secret of a plaintext furl crosses the wire in clear text:
	 * only where no wire is, on this machine.  (remote.c checks the
	 * address that a name such as localhost resolves to as well.)
	 */
	if (!tls && !(flags & FURL_F_ANYHOST) &&
	    !furl_host_loopback(tmp.host)) {
		error_set(err, errlen, 0, "furl: plaintext tally:// is for "
		    "loopback only (127.0.0.0/8, [::1] or localhost), not "
		    "'%s'; a gatherer elsewhere has a tally+tls:// furl",
		    furl_quote(q, sizeof q, host, hlen));
		explicit_bzero(&tmp, sizeof tmp);
		return TALLY_EINVAL;
	}
	*f = tmp;
	explicit_bzero(&tmp, sizeof tmp);
	return 0;
}

int
furl_fmt(char *buf, size_t size, const struct furl *f)
{
	int	 v6 = strchr(f->host, ':') != NULL, tls, n;

	if (buf == NULL)
		return TALLY_ELIMIT;
	tls = f->fingerprint[0] != '\0';
	n = snprintf(buf, size, "%s://%s%s%s%s%s:%s/%s",
	    tls ? FURL_SCHEME_TLS : FURL_SCHEME, tls ? f->fingerprint : "",
	    tls ? "@" : "", v6 ? "[" : "", f->host, v6 ? "]" : "", f->port,
	    f->secret);
	if (n < 0 || (size_t)n >= size)
		return TALLY_ELIMIT;
	return n;
}

/*
 * 160 bits from getrandom() as 32 base32 characters: 20 bytes are exactly
 * 32 five-bit groups, so every character carries full entropy and there is
 * no padding.
 */
int
furl_secret_new(char *buf, size_t size)
{
	unsigned char	 r[20];
	size_t		 got = 0;
	ssize_t		 n;
	int		 rc;

	if (buf == NULL || size < sizeof r * 8 / 5 + 1)
		return TALLY_ELIMIT;
	while (got < sizeof r) {
		n = getrandom(r + got, sizeof r - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return TALLY_ESYS;
		}
		got += (size_t)n;
	}
	rc = furl_b32_encode(r, sizeof r, buf, size);
	explicit_bzero(r, sizeof r);
	return rc < 0 ? rc : 0;
}
