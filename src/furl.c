/*
 * furl.c: tally://HOST:PORT/SECRET, the gatherer's address and the secret
 * that lets a provider in.  The secret is a capability, so no message here
 * ever quotes it, nor any part of the text that might be it.
 */
#include <sys/random.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tally-int.h"

#define FURL_SCHEME		"tally"
#define FURL_SCHEME_TLS		"tally+tls"	/* issue 5 */
#define FURL_SCHEME_MAX		32
#define FURL_HOST_MAX		253		/* a DNS name's text form */
#define FURL_LABEL_MAX		63
#define FURL_PORT_DIGITS	5
#define FURL_QUOTE_MAX		32		/* of a bad field, in messages */
#define FURL_FORM		"expected tally://HOST:PORT/SECRET"

/* RFC 4648 base32, lowercase: what the secret is made of. */
static const char furl_b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static void furl_err(char *, size_t, const char *, ...) TALLY_PRINTF(3, 4);

static void
furl_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

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
		furl_err(err, errlen, "furl: host too long (%zu chars, at most "
		    "%d)", len, FURL_HOST_MAX);
		return TALLY_EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = h[i];
		if (!furl_host_char(c)) {
			furl_err(err, errlen, "furl: bad character '%s' in host "
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
		furl_err(err, errlen, "furl: bad host '%s': empty label or one "
		    "over %d chars", furl_quote(q, sizeof q, h, len),
		    FURL_LABEL_MAX);
		return TALLY_EINVAL;
	}
	if (numeric) {
		char	 tmp[FURL_HOST_MAX + 1];

		memcpy(tmp, h, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET, tmp, &a4) != 1) {
			furl_err(err, errlen, "furl: bad IPv4 address '%s'",
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
		furl_err(err, errlen, "furl: bad IPv6 address '%s'",
		    furl_quote(q, sizeof q, h, len));
		return TALLY_EINVAL;
	}
	memcpy(tmp, h, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET6, tmp, &a6) != 1) {
		furl_err(err, errlen, "furl: bad IPv6 address '%s'",
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
		furl_err(err, errlen, "furl: missing port after ':' (%s)",
		    FURL_FORM);
		return TALLY_EINVAL;
	}
	for (i = 0; i < len && i <= FURL_PORT_DIGITS; i++) {
		if (p[i] < '0' || p[i] > '9')
			break;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (i < len || v == 0 || v > 65535 || p[0] == '0') {
		furl_err(err, errlen, "furl: bad port '%s' (1-65535)",
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

int
furl_parse(const char *s, struct furl *f, char *err, size_t errlen)
{
	struct furl	 tmp;
	char		 q[FURL_QUOTE_MAX + 1];
	const char	*p, *auth, *slash, *colon, *host, *port, *secret;
	size_t		 slen, hlen, plen, seclen;
	int		 rc;

	if (s == NULL || f == NULL) {
		furl_err(err, errlen, "furl: none given");
		return TALLY_EINVAL;
	}
	/* scheme "://" */
	for (p = s; furl_scheme_char((unsigned char)*p) &&
	    p - s <= FURL_SCHEME_MAX; p++)
		;
	slen = (size_t)(p - s);
	if (slen == 0 || slen > FURL_SCHEME_MAX || strncmp(p, "://", 3) != 0) {
		furl_err(err, errlen, "furl: %s", FURL_FORM);
		return TALLY_EINVAL;
	}
	if (slen == strlen(FURL_SCHEME_TLS) &&
	    memcmp(s, FURL_SCHEME_TLS, slen) == 0) {
		furl_err(err, errlen, "furl: TLS furls are not supported by "
		    "this build");
		return TALLY_EINVAL;
	}
	if (slen != strlen(FURL_SCHEME) || memcmp(s, FURL_SCHEME, slen) != 0) {
		furl_err(err, errlen, "furl: unknown scheme '%s' (%s)",
		    furl_quote(q, sizeof q, s, slen), FURL_FORM);
		return TALLY_EINVAL;
	}
	auth = p + 3;

	/* HOST:PORT, up to the first '/' */
	if ((slash = strchr(auth, '/')) == NULL) {
		furl_err(err, errlen, "furl: missing '/SECRET' (%s)",
		    FURL_FORM);
		return TALLY_EINVAL;
	}
	if (slash == auth) {
		furl_err(err, errlen, "furl: missing host (%s)", FURL_FORM);
		return TALLY_EINVAL;
	}
	if (*auth == '[') {
		const char *rb = memchr(auth, ']', (size_t)(slash - auth));

		if (rb == NULL) {
			furl_err(err, errlen, "furl: unclosed '[' in host");
			return TALLY_EINVAL;
		}
		host = auth + 1;
		hlen = (size_t)(rb - host);
		if ((rc = furl_host_v6(host, hlen, err, errlen)) != 0)
			return rc;
		colon = rb + 1;
		if (colon == slash || *colon != ':') {
			furl_err(err, errlen, "furl: missing ':PORT' after "
			    "'[%s]' (%s)", furl_quote(q, sizeof q, host, hlen),
			    FURL_FORM);
			return TALLY_EINVAL;
		}
	} else {
		host = auth;
		colon = memchr(auth, ':', (size_t)(slash - auth));
		if (colon == NULL) {
			furl_err(err, errlen, "furl: missing ':PORT' (%s)",
			    FURL_FORM);
			return TALLY_EINVAL;
		}
		if (memchr(colon + 1, ':', (size_t)(slash - colon - 1)) !=
		    NULL) {
			furl_err(err, errlen, "furl: more than one ':' in "
			    "HOST:PORT (an IPv6 host goes in brackets, as in "
			    "tally://[::1]:PORT/SECRET)");
			return TALLY_EINVAL;
		}
		hlen = (size_t)(colon - host);
		if (hlen == 0) {
			furl_err(err, errlen, "furl: missing host (%s)",
			    FURL_FORM);
			return TALLY_EINVAL;
		}
		if ((rc = furl_host_name(host, hlen, err, errlen)) != 0)
			return rc;
	}
	port = colon + 1;
	plen = (size_t)(slash - port);
	if ((rc = furl_port(port, plen, err, errlen)) != 0)
		return rc;

	/* SECRET, the whole rest */
	secret = slash + 1;
	if (*secret == '\0') {
		furl_err(err, errlen, "furl: missing secret after '/' (%s)",
		    FURL_FORM);
		return TALLY_EINVAL;
	}
	seclen = strlen(secret);
	if (memchr(secret, '/', seclen) != NULL) {
		furl_err(err, errlen, "furl: extra path segment: the path is "
		    "exactly one '/SECRET'");
		return TALLY_EINVAL;
	}
	if (!furl_secret_valid(secret, seclen)) {
		furl_err(err, errlen, "furl: secret must be %d-%d chars of "
		    "[a-z2-7]", WIRE_SECRET_MIN, WIRE_SECRET_MAX);
		return TALLY_EINVAL;
	}

	memset(&tmp, 0, sizeof tmp);
	memcpy(tmp.host, host, hlen);
	memcpy(tmp.port, port, plen);
	memcpy(tmp.secret, secret, seclen);
	*f = tmp;
	explicit_bzero(&tmp, sizeof tmp);
	return 0;
}

int
furl_fmt(char *buf, size_t size, const struct furl *f)
{
	int	 v6 = strchr(f->host, ':') != NULL, n;

	n = snprintf(buf, size, "%s://%s%s%s:%s/%s", FURL_SCHEME,
	    v6 ? "[" : "", f->host, v6 ? "]" : "", f->port, f->secret);
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
	size_t		 got = 0, i;
	unsigned	 acc = 0, bits = 0, o = 0;
	ssize_t		 n;

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
	for (i = 0; i < sizeof r; i++) {
		acc = (acc << 8 | r[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			buf[o++] = furl_b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	buf[o] = '\0';
	explicit_bzero(r, sizeof r);
	return 0;
}
