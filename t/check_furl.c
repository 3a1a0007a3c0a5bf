/*
 * check_furl.c: tally://HOST:PORT/SECRET, parsed, formatted, and the
 * secrets that go into it.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tally-int.h"
#include "fixture.h"

/*
 * Every secret below starts with SECRET_MARK, so one search proves that no
 * message quotes it (a furl is a capability; its text goes into logs).
 */
#define SECRET_MARK	"abcdefgh"
#define S16		SECRET_MARK "ijklmnop"
#define S32		SECRET_MARK "ijklmnopqrstuvwxyz234567"
#define S64		S32 "zyxwvutsrqponmlkjihgfedcba765432"

struct good_furl {
	const char	*furl;
	const char	*host;
	const char	*port;
	const char	*secret;
};

static const struct good_furl good[] = {
	{ "tally://127.0.0.1:5000/" S32, "127.0.0.1", "5000", S32 },
	{ "tally://gatherer.example.org:1/" S16, "gatherer.example.org", "1",
	    S16 },
	{ "tally://localhost:65535/" S64, "localhost", "65535", S64 },
	{ "tally://[::1]:4000/" S32, "::1", "4000", S32 },
	{ "tally://[2001:db8::42]:80/" S32, "2001:db8::42", "80", S32 },
	{ "tally://[::ffff:10.0.0.1]:80/" S32, "::ffff:10.0.0.1", "80", S32 },
	{ "tally://Stats-1.EXAMPLE.org.:9/" S16, "Stats-1.EXAMPLE.org.", "9",
	    S16 },
	{ "tally://a:10/" S16, "a", "10", S16 },
	{ "tally://0.0.0.0:22/" S16, "0.0.0.0", "22", S16 },
};

START_TEST(test_parse_good)
{
	const struct good_furl	*c = &good[_i];
	struct furl		 f;
	char			 err[TALLY_ERRLEN] = "", buf[512];

	ck_assert_msg(furl_parse(c->furl, &f, err, sizeof err) == 0,
	    "%s: %s", c->furl, err);
	ck_assert_str_eq(f.host, c->host);
	ck_assert_str_eq(f.port, c->port);
	ck_assert_str_eq(f.secret, c->secret);
	ck_assert_int_eq(furl_fmt(buf, sizeof buf, &f), (int)strlen(c->furl));
	ck_assert_str_eq(buf, c->furl);
}
END_TEST

struct bad_furl {
	const char	*furl;
	const char	*word;	/* the message must name the problem */
};

static const struct bad_furl bad[] = {
	/* the form and the scheme */
	{ "", "expected tally://" },
	{ "127.0.0.1:5000/" S16, "expected tally://" },
	{ S32, "expected tally://" },
	{ "://h:1/" S16, "expected tally://" },
	{ "tally:/h:1/" S16, "expected tally://" },
	{ "tally//h:1/" S16, "expected tally://" },
	{ "tally:h:1/" S16, "expected tally://" },
	{ " tally://h:1/" S16, "expected tally://" },
	{ "http://h:1/" S16, "unknown scheme 'http'" },
	{ "TALLY://h:1/" S16, "unknown scheme 'TALLY'" },
	{ "tallyx://h:1/" S16, "unknown scheme" },
	{ "pb://h:1/" S16, "unknown scheme 'pb'" },
	{ "tally+tls://sha256-abcd@h:1/" S16, "TLS furls are not supported" },
	{ "tally+tls://h:1/" S16, "TLS" },
	/* the host */
	{ "tally:///" S16, "missing host" },
	{ "tally://:5000/" S16, "missing host" },
	{ "tally://h/" S16, "missing ':PORT'" },
	{ "tally://h :1/" S16, "bad character ' '" },
	{ "tally://h\t:1/" S16, "bad character '?'" },
	{ "tally://h\033[31m:1/" S16, "bad character '?'" },
	{ "tally://user@h:1/" S16, "bad character '@'" },
	{ "tally://h_x:1/" S16, "bad character '_'" },
	{ "tally://h\xc3\xa9:1/" S16, "bad character" },
	{ "tally://a..b:1/" S16, "label" },
	{ "tally://.a:1/" S16, "label" },
	{ "tally://.:1/" S16, "label" },
	{ "tally://300.1.1.1:1/" S16, "bad IPv4" },
	{ "tally://1.2.3:1/" S16, "bad IPv4" },
	{ "tally://1.2.3.4.5:1/" S16, "bad IPv4" },
	{ "tally://::1:5000/" S16, "brackets" },
	{ "tally://2001:db8::1:5000/" S16, "brackets" },
	{ "tally://h:1:2/" S16, "brackets" },
	{ "tally://[::1:5000/" S16, "unclosed '['" },
	{ "tally://[::1/" S16, "unclosed '['" },
	{ "tally://[]:5000/" S16, "bad IPv6" },
	{ "tally://[::g]:5000/" S16, "bad IPv6" },
	{ "tally://[1:2:3:4:5:6:7:8:9]:5000/" S16, "bad IPv6" },
	{ "tally://[127.0.0.1]:5000/" S16, "bad IPv6" },
	{ "tally://[fe80::1%eth0]:5000/" S16, "bad IPv6" },
	{ "tally://[::1]5000/" S16, "missing ':PORT'" },
	{ "tally://[::1]/" S16, "missing ':PORT'" },
	{ "tally://[::1]]:5000/" S16, "missing ':PORT'" },
	/* the port */
	{ "tally://h:/" S16, "missing port" },
	{ "tally://[::1]:/" S16, "missing port" },
	{ "tally://h:0/" S16, "bad port '0'" },
	{ "tally://h:65536/" S16, "bad port '65536'" },
	{ "tally://h:70000/" S16, "bad port '70000'" },
	{ "tally://h:99999999999999999999/" S16, "bad port" },
	{ "tally://h:-1/" S16, "bad port '-1'" },
	{ "tally://h:+1/" S16, "bad port '+1'" },
	{ "tally://h:12a/" S16, "bad port '12a'" },
	{ "tally://h: 1/" S16, "bad port ' 1'" },
	{ "tally://h:05000/" S16, "bad port '05000'" },
	{ "tally://h:0x50/" S16, "bad port" },
	{ "tally://h:http/" S16, "bad port 'http'" },
	/* the secret, and the path it is */
	{ "tally://h:1", "missing '/SECRET'" },
	{ "tally://h:1/", "missing secret" },
	{ "tally://h:1/" SECRET_MARK "ijklmno", "secret must be 16-64" },
	{ "tally://h:1/" S64 "a", "secret must be 16-64" },
	{ "tally://h:1/" "ABCDEFGHIJKLMNOP", "[a-z2-7]" },
	{ "tally://h:1/" SECRET_MARK "ijklmnoP", "[a-z2-7]" },
	{ "tally://h:1/" SECRET_MARK "ijklmno8", "[a-z2-7]" },
	{ "tally://h:1/" SECRET_MARK "ijklmno1", "[a-z2-7]" },
	{ "tally://h:1/" SECRET_MARK "ijklmno0", "[a-z2-7]" },
	{ "tally://h:1/" S16 "======", "[a-z2-7]" },
	{ "tally://h:1/" S16 "?x=1", "[a-z2-7]" },
	{ "tally://h:1/" S16 "#top", "[a-z2-7]" },
	{ "tally://h:1/" S16 "\n", "[a-z2-7]" },
	{ "tally://h:1/" S16 "\r\n", "[a-z2-7]" },
	{ "tally://h:1/" S16 " ", "[a-z2-7]" },
	{ "tally://h:1/ " S16, "[a-z2-7]" },
	{ "tally://h:1/" S16 "/", "extra path" },
	{ "tally://h:1/" S16 "/extra", "extra path" },
	{ "tally://h:1//" S16, "extra path" },
	{ "tally://h:1/a/" S16, "extra path" },
};

START_TEST(test_parse_bad)
{
	const struct bad_furl	*c = &bad[_i];
	struct furl		 f, before;
	char			 err[TALLY_ERRLEN] = "";

	memset(&f, 0x5a, sizeof f);
	before = f;
	ck_assert_int_eq(furl_parse(c->furl, &f, err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_msg(strstr(err, c->word) != NULL, "'%s': '%s' lacks '%s'",
	    c->furl, err, c->word);
	ck_assert_msg(strcasestr(err, SECRET_MARK) == NULL,
	    "'%s' quotes the secret", err);
	/* A failed parse leaves nothing half-written behind. */
	ck_assert(memcmp(&f, &before, sizeof f) == 0);
}
END_TEST

/* Hosts at and past the limits: 253 chars, labels of 63. */
START_TEST(test_host_lengths)
{
	struct furl	 f;
	char		 host[300], furl[512], err[TALLY_ERRLEN] = "";
	size_t		 i;

	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	for (i = 0; i < 253; i++)
		host[i] = (i + 1) % 64 == 0 ? '.' : 'a' + i % 26;
	host[253] = '\0';
	snprintf(furl, sizeof furl, "tally://%s:1/%s", host, S16);
	ck_assert_msg(furl_parse(furl, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(f.host, host);

	host[253] = 'x';
	host[254] = '\0';
	snprintf(furl, sizeof furl, "tally://%s:1/%s", host, S16);
	ck_assert_int_eq(furl_parse(furl, &f, err, sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "too long") != NULL, "%s", err);

	memset(host, 'a', 64);
	host[64] = '\0';
	snprintf(furl, sizeof furl, "tally://%s:1/%s", host, S16);
	ck_assert_int_eq(furl_parse(furl, &f, err, sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "label") != NULL, "%s", err);
	host[63] = '\0';
	snprintf(furl, sizeof furl, "tally://%s:1/%s", host, S16);
	ck_assert_int_eq(furl_parse(furl, &f, err, sizeof err), 0);
}
END_TEST

/* A host of a megabyte is refused, not copied anywhere. */
START_TEST(test_huge)
{
	struct furl	 f;
	char		 err[TALLY_ERRLEN] = "", *s;
	size_t		 n = 1 << 20;

	ck_assert_ptr_nonnull(s = malloc(n + 64));
	memcpy(s, "tally://", 8);
	memset(s + 8, 'a', n);
	snprintf(s + 8 + n, 56, ":1/%s", S16);
	ck_assert_int_eq(furl_parse(s, &f, err, sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "too long") != NULL, "%s", err);
	free(s);
}
END_TEST

/* A caller may not want the message, or give a tiny buffer. */
START_TEST(test_err_buffers)
{
	struct furl	 f;
	char		 err[8];

	ck_assert_int_eq(furl_parse("x", &f, NULL, 0), TALLY_EINVAL);
	ck_assert_int_eq(furl_parse(NULL, &f, NULL, 0), TALLY_EINVAL);
	memset(err, 'x', sizeof err);
	ck_assert_int_eq(furl_parse("tally://h:0/" S16, &f, err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_uint_eq(strlen(err), sizeof err - 1);
}
END_TEST

START_TEST(test_fmt_limits)
{
	struct furl	 f;
	char		 buf[128], err[TALLY_ERRLEN];
	const char	*s = "tally://[::1]:5000/" S16;
	int		 n = (int)strlen(s);

	ck_assert_int_eq(furl_parse(s, &f, err, sizeof err), 0);
	ck_assert_int_eq(furl_fmt(buf, (size_t)n, &f), TALLY_ELIMIT);
	ck_assert_int_eq(furl_fmt(buf, (size_t)n + 1, &f), n);
	ck_assert_str_eq(buf, s);
	ck_assert_int_eq(furl_fmt(NULL, 0, &f), TALLY_ELIMIT);
}
END_TEST

#define NSECRETS 200

START_TEST(test_secret_new)
{
	static char	 sec[NSECRETS][WIRE_SECRET_MAX + 1];
	char		 furl[128], err[TALLY_ERRLEN], seen[256] = { 0 };
	struct furl	 f;
	size_t		 i, j, k, nseen = 0;

	for (i = 0; i < NSECRETS; i++) {
		ck_assert_int_eq(furl_secret_new(sec[i], sizeof sec[i]), 0);
		ck_assert_uint_eq(strlen(sec[i]), 32);
		snprintf(furl, sizeof furl, "tally://localhost:1/%s", sec[i]);
		ck_assert_msg(furl_parse(furl, &f, err, sizeof err) == 0,
		    "%s", err);
		ck_assert_str_eq(f.secret, sec[i]);
		for (k = 0; k < 32; k++)
			if (!seen[(unsigned char)sec[i][k]]++)
				nseen++;
		for (j = 0; j < i; j++)
			ck_assert_str_ne(sec[i], sec[j]);
	}
	/* 6,400 characters that miss a letter of 32 would be a broken encoder. */
	ck_assert_uint_eq(nseen, 32);
}
END_TEST

START_TEST(test_secret_new_small)
{
	char	 buf[33];

	memset(buf, 'x', sizeof buf);
	ck_assert_int_eq(furl_secret_new(buf, 32), TALLY_ELIMIT);
	ck_assert_int_eq(furl_secret_new(NULL, 0), TALLY_ELIMIT);
	ck_assert_int_eq(furl_secret_new(buf, sizeof buf), 0);
	ck_assert_uint_eq(strlen(buf), 32);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("furl");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse_good, 0,
	    sizeof good / sizeof good[0]);
	tcase_add_loop_test(tc, test_parse_bad, 0, sizeof bad / sizeof bad[0]);
	tcase_add_test(tc, test_host_lengths);
	tcase_add_test(tc, test_huge);
	tcase_add_test(tc, test_err_buffers);
	tcase_add_test(tc, test_fmt_limits);
	tcase_add_test(tc, test_secret_new);
	tcase_add_test(tc, test_secret_new_small);
	suite_add_tcase(s, tc);
	return fixture_run(s);
}
