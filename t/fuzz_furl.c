/*
 * fuzz_furl.c: libFuzzer target for furl_parse, tally://HOST:PORT/SECRET.
 *
 * The input is the text an operator pasted (a C string: it ends at its
 * first NUL).  A furl that parses must have a host, a port of 1-65535 in
 * one text form and a secret of [a-z2-7]; furl_fmt must write back the
 * input itself, which parses to the same struct.  A furl that does not
 * parse must leave the struct alone and say why in one printable line
 * that never quotes the secret.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(c) do {						\
	if (!(c))							\
		fuzz_fail(__FILE__, __LINE__, #c);			\
} while (0)

static void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
	abort();
}

static int
fuzz_b32(const char *s)
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct furl	 f, g;
	char		*s, err[TALLY_ERRLEN], text[512], again[512];
	int		 rc, n, m;

	/* An exact-size C string, so ASan sees a read past its NUL. */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';

	memset(&f, 0xa5, sizeof f);
	memcpy(&g, &f, sizeof g);
	err[0] = '\0';
	rc = furl_parse(s, &f, err, sizeof err);
	if (rc != 0) {
		FUZZ_CHECK(rc == TALLY_EINVAL);
		/* "*f is untouched then." */
		FUZZ_CHECK(memcmp(&f, &g, sizeof f) == 0);
		fuzz_check_err(s, err, sizeof err);
		goto out;
	}

	FUZZ_CHECK(strnlen(f.host, sizeof f.host) < sizeof f.host);
	FUZZ_CHECK(strnlen(f.port, sizeof f.port) < sizeof f.port);
	FUZZ_CHECK(strnlen(f.secret, sizeof f.secret) < sizeof f.secret);
	FUZZ_CHECK(fuzz_host(f.host));
	FUZZ_CHECK(fuzz_port(f.port));
	FUZZ_CHECK(fuzz_b32(f.secret));
	/* The secret is the input's tail, whole. */
	FUZZ_CHECK(strlen(s) >= strlen(f.secret) &&
	    strcmp(s + strlen(s) - strlen(f.secret), f.secret) == 0);

	n = furl_fmt(text, sizeof text, &f);
	FUZZ_CHECK(n > 0 && (size_t)n == strlen(text));
	/* One text per furl: what parses is what furl_fmt writes. */
	FUZZ_CHECK(strcmp(text, s) == 0);
	memset(&g, 0, sizeof g);
	FUZZ_CHECK(furl_parse(text, &g, err, sizeof err) == 0);
	FUZZ_CHECK(memcmp(&f, &g, sizeof f) == 0);
	m = furl_fmt(again, sizeof again, &g);
	FUZZ_CHECK(m == n && strcmp(text, again) == 0);

	/* Too small a buffer is refused, never overrun. */
	FUZZ_CHECK(furl_fmt(again, (size_t)n, &g) == TALLY_ELIMIT);
out:
	explicit_bzero(&f, sizeof f);
	free(s);
	return 0;
}
