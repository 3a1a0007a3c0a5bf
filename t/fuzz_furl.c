/*
 * fuzz_furl.c: libFuzzer target for the furl parser:
 * tally+tls://FINGERPRINT@HOST:PORT/SECRET and tally://HOST:PORT/SECRET.
 *
 * The input is the text an operator pasted (a C string: it ends at its
 * first NUL), parsed as a provider does (furl_parse: plaintext on loopback
 * only) and as tallyd does (FURL_F_ANYHOST).  A furl that parses must have
 * a host, a port of 1-65535 in one text form, a secret of [a-z2-7] and, for
 * TLS, a canonical 52-char fingerprint; furl_fmt must write back the input
 * itself, which parses to the same struct.  A furl that does not parse
 * must leave the struct alone and say why in one printable line that never
 * quotes the secret.  The input is also fed to furl_b32_decode and
 * furl_b32_encode, which must be each other's inverse, one text per value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "fuzzer.h"

static int
fuzz_secret(const char *s)
{
	size_t	 n = strlen(s);

	if (n < WIRE_SECRET_MIN || n > WIRE_SECRET_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '2' && *s <= '7')))
			return 0;
	return 1;
}

static int
fuzz_port(const char *s)
{
	unsigned long	 v = 0;
	size_t		 n = strlen(s);

	if (n == 0 || n > 5 || s[0] == '0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v >= 1 && v <= 65535;
}

/* Characters a host may hold: a name, IPv4, or IPv6 without brackets. */
static int
fuzz_host(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		    *s == ':' || *s == '%'))
			return 0;
	return 1;
}

/* A fingerprint: 52 chars of base32, the canonical text of 32 bytes. */
static int
fuzz_fp(const char *fp)
{
	uint8_t	 d[FURL_FP_BYTES];
	char	 text[FURL_FP_LEN + 1];

	if (strlen(fp) != FURL_FP_LEN)
		return 0;
	if (furl_b32_decode(fp, FURL_FP_LEN, d, sizeof d) != FURL_FP_BYTES)
		return 0;
	if (furl_b32_encode(d, sizeof d, text, sizeof text) != FURL_FP_LEN)
		return 0;
	return strcmp(text, fp) == 0;
}

/*
 * The message of a refused furl: one printable line, and no secret-like
 * text from after the first '/' of the authority unless the same text
 * also stands before it (the host, port or scheme may be quoted).
 */
static void
fuzz_check_err(const char *s, const char *err, size_t errlen)
{
	const char	*auth, *slash, *secret;
	size_t		 n = strnlen(err, errlen), i;
	char		*before;

	FUZZ_CHECK(n > 0 && n < errlen);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(err[i] >= 0x20 && err[i] < 0x7f);

	if ((auth = strstr(s, "://")) == NULL)
		return;
	if ((slash = strchr(auth + 3, '/')) == NULL)
		return;
	secret = slash + 1;
	if (strlen(secret) < WIRE_SECRET_MIN)
		return;
	for (i = 0; secret[i] != '\0'; i++)
		if (!((secret[i] >= 'a' && secret[i] <= 'z') ||
		    (secret[i] >= '2' && secret[i] <= '7')))
			return;
	if ((before = strndup(s, (size_t)(slash - s))) == NULL)
		abort();
	if (strstr(before, secret) == NULL)
		FUZZ_CHECK(strstr(err, secret) == NULL);
	free(before);
}

/* A furl that parsed with flags. */
static void
fuzz_check_furl(const char *s, const struct furl *f, int flags)
{
	struct furl	 g;
	char		 err[TALLY_ERRLEN], text[512], again[512];
	int		 n, m, tls = f->fingerprint[0] != '\0';

	FUZZ_CHECK(strnlen(f->host, sizeof f->host) < sizeof f->host);
	FUZZ_CHECK(strnlen(f->port, sizeof f->port) < sizeof f->port);
	FUZZ_CHECK(strnlen(f->secret, sizeof f->secret) < sizeof f->secret);
	FUZZ_CHECK(strnlen(f->fingerprint, sizeof f->fingerprint) <
	    sizeof f->fingerprint);
	FUZZ_CHECK(fuzz_host(f->host));
	FUZZ_CHECK(fuzz_port(f->port));
	FUZZ_CHECK(fuzz_secret(f->secret));
	FUZZ_CHECK(!tls || fuzz_fp(f->fingerprint));
	FUZZ_CHECK(strncmp(s, tls ? "tally+tls://" : "tally://",
	    tls ? 12 : 8) == 0);
	/* Plaintext goes nowhere but loopback, unless tallyd asked. */
	if (!tls && !(flags & FURL_F_ANYHOST))
		FUZZ_CHECK(furl_host_loopback(f->host));
	/* The secret is the input's tail, whole. */
	FUZZ_CHECK(strlen(s) >= strlen(f->secret) &&
	    strcmp(s + strlen(s) - strlen(f->secret), f->secret) == 0);

	n = furl_fmt(text, sizeof text, f);
	FUZZ_CHECK(n > 0 && (size_t)n == strlen(text));
	/* One text per furl: what parses is what furl_fmt writes. */
	FUZZ_CHECK(strcmp(text, s) == 0);
	memset(&g, 0, sizeof g);
	FUZZ_CHECK(furl_parse_flags(text, flags, &g, err, sizeof err) == 0);
	FUZZ_CHECK(memcmp(f, &g, sizeof g) == 0);
	m = furl_fmt(again, sizeof again, &g);
	FUZZ_CHECK(m == n && strcmp(text, again) == 0);
	/* Too small a buffer is refused, never overrun. */
	FUZZ_CHECK(furl_fmt(again, (size_t)n, &g) == TALLY_ELIMIT);
	explicit_bzero(&g, sizeof g);
}

/* One parse; 0 or TALLY_EINVAL, and *f untouched on failure. */
static int
fuzz_parse(const char *s, int flags, struct furl *f)
{
	struct furl	 before;
	char		 err[TALLY_ERRLEN];
	int		 rc;

	memset(f, 0xa5, sizeof *f);
	memcpy(&before, f, sizeof before);
	err[0] = '\0';
	rc = flags ? furl_parse_flags(s, flags, f, err, sizeof err) :
	    furl_parse(s, f, err, sizeof err);
	if (rc == 0) {
		fuzz_check_furl(s, f, flags);
		return 0;
	}
	FUZZ_CHECK(rc == TALLY_EINVAL);
	/* "*f is untouched then." */
	FUZZ_CHECK(memcmp(f, &before, sizeof before) == 0);
	fuzz_check_err(s, err, sizeof err);
	return rc;
}

/* Base32 both ways: decode then encode gives the text back, and back. */
static void
fuzz_b32_both(const uint8_t *data, size_t size)
{
	uint8_t	*bytes, *back;
	char	*text, *again;
	size_t	 max = size * 5 / 8, tlen = (size * 8 + 4) / 5;
	int	 n;

	bytes = malloc(max ? max : 1);
	again = malloc(size + 1);
	text = malloc(tlen + 1);
	back = malloc(size ? size : 1);
	if (bytes == NULL || again == NULL || text == NULL || back == NULL)
		abort();
	n = furl_b32_decode((const char *)data, size, bytes, max);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n == max);
		FUZZ_CHECK(furl_b32_encode(bytes, (size_t)n, again,
		    size + 1) == (int)size);
		FUZZ_CHECK(memcmp(again, data, size) == 0 &&
		    again[size] == '\0');
	}
	n = furl_b32_encode(data, size, text, tlen + 1);
	FUZZ_CHECK(n == (int)tlen && strlen(text) == tlen);
	FUZZ_CHECK(furl_b32_decode(text, tlen, back, size) == (int)size);
	FUZZ_CHECK(size == 0 || memcmp(back, data, size) == 0);
	FUZZ_CHECK(furl_b32_encode(data, size, text, tlen) == TALLY_ELIMIT);
	free(bytes);
	free(again);
	free(text);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct furl	 f, fa;
	char		*s;
	uint8_t		*copy;
	int		 rc, rc_any;

	/* An exact-size C string, so ASan sees a read past its NUL. */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';

	rc = fuzz_parse(s, 0, &f);
	rc_any = fuzz_parse(s, FURL_F_ANYHOST, &fa);
	/* FURL_F_ANYHOST lifts the loopback rule and nothing else. */
	if (rc == 0)
		FUZZ_CHECK(rc_any == 0 && memcmp(&f, &fa, sizeof f) == 0);
	else if (rc_any == 0)
		FUZZ_CHECK(fa.fingerprint[0] == '\0' &&
		    !furl_host_loopback(fa.host));
	explicit_bzero(&f, sizeof f);
	explicit_bzero(&fa, sizeof fa);
	free(s);

	if ((copy = malloc(size ? size : 1)) == NULL)
		abort();
	if (size)
		memcpy(copy, data, size);
	fuzz_b32_both(copy, size);
	free(copy);
	return 0;
}
