/*
 * check_furl.c: tally+tls://FINGERPRINT@HOST:PORT/SECRET and, on loopback,
 * tally://HOST:PORT/SECRET: parsed, formatted, every malformed form
 * refused with a message that names the fault; the secrets and the base32
 * that go into them.
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
/* A SHA-256 fingerprint: 52 chars, the last of them 'a' or 'q'. */
#define FP		"cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5fzq"
#define FP51		"cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5fz"
#define FPU		"CPDYQGM72CRRBX6T6CWHUASI4N2YJBVWYXSVNROILTKUL32Q5FZQ"
#define TLS		"tally+tls://" FP "@"

struct good_furl {
	const char	*furl;
	const char	*host;
	const char	*port;
	const char	*secret;
	const char	*fp;		/* "" for plaintext */
};

static const struct good_furl good[] = {
	/* TLS: any host */
	{ TLS "127.0.0.1:5000/" S32, "127.0.0.1", "5000", S32, FP },
	{ TLS "gatherer.example.org:1/" S16, "gatherer.example.org", "1",
	    S16, FP },
	{ TLS "localhost:65535/" S64, "localhost", "65535", S64, FP },
	{ TLS "[::1]:4000/" S32, "::1", "4000", S32, FP },
	{ TLS "[2001:db8::42]:80/" S32, "2001:db8::42", "80", S32, FP },
	{ TLS "[::ffff:10.0.0.1]:80/" S32, "::ffff:10.0.0.1", "80", S32, FP },
	{ TLS "Stats-1.EXAMPLE.org.:9/" S16, "Stats-1.EXAMPLE.org.", "9",
	    S16, FP },
	{ TLS "a:10/" S16, "a", "10", S16, FP },
	{ TLS "10.1.2.3:22/" S16, "10.1.2.3", "22", S16, FP },
	{ "tally+tls://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@"
	    "h:1/" S16, "h", "1", S16,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
	{ "tally+tls://777777777777777777777777777777777777777777777777777q@"
	    "h:1/" S16, "h", "1", S16,
	    "777777777777777777777777777777777777777777777777777q" },
	/* plaintext: loopback only */
	{ "tally://127.0.0.1:5000/" S32, "127.0.0.1", "5000", S32, "" },
	{ "tally://127.200.3.4:5000/" S32, "127.200.3.4", "5000", S32, "" },
	{ "tally://localhost:65535/" S64, "localhost", "65535", S64, "" },
	{ "tally://LocalHost.:1/" S16, "LocalHost.", "1", S16, "" },
	{ "tally://[::1]:4000/" S32, "::1", "4000", S32, "" },
	{ "tally://[0:0:0:0:0:0:0:1]:4000/" S32, "0:0:0:0:0:0:0:1", "4000",
	    S32, "" },
	{ "tally://[::ffff:127.0.0.1]:80/" S32, "::ffff:127.0.0.1", "80", S32,
	    "" },
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
	ck_assert_str_eq(f.fingerprint, c->fp);
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
	{ "", "expected tally+tls://FINGERPRINT@HOST:PORT/SECRET" },
	{ "127.0.0.1:5000/" S16, "expected tally+tls://" },
	{ S32, "expected tally+tls://" },
	{ "://h:1/" S16, "expected tally+tls://" },
	{ "tally:/h:1/" S16, "expected tally+tls://" },
	{ "tally//h:1/" S16, "expected tally+tls://" },
	{ "tally:h:1/" S16, "expected tally+tls://" },
	{ " tally://h:1/" S16, "expected tally+tls://" },
	{ "tally+tls:/" FP "@h:1/" S16, "expected tally+tls://" },
	{ "tally+tls:" FP "@h:1/" S16, "expected tally+tls://" },
	{ "http://h:1/" S16, "unknown scheme 'http'" },
	{ "TALLY://h:1/" S16, "unknown scheme 'TALLY'" },
	{ "tallyx://h:1/" S16, "unknown scheme" },
	{ "pb://h:1/" S16, "unknown scheme 'pb'" },
	{ "TALLY+TLS://" FP "@h:1/" S16, "unknown scheme 'TALLY+TLS'" },
	{ "tally+ssl://" FP "@h:1/" S16, "unknown scheme 'tally+ssl'" },
	{ "tally+tcp://h:1/" S16, "unknown scheme 'tally+tcp'" },
	{ "tls://" FP "@h:1/" S16, "unknown scheme 'tls'" },
	/* plaintext: loopback only */
	{ "tally://h:1/" S16, "loopback only" },
	{ "tally://gatherer.example.org:1/" S16, "not 'gatherer.example.org'" },
	{ "tally://10.0.0.1:1/" S16, "loopback only" },
	{ "tally://128.0.0.1:1/" S16, "loopback only" },
	{ "tally://0.0.0.0:1/" S16, "loopback only" },
	{ "tally://[2001:db8::1]:1/" S16, "loopback only" },
	{ "tally://[::]:1/" S16, "loopback only" },
	{ "tally://[::2]:1/" S16, "loopback only" },
	{ "tally://[::ffff:10.0.0.1]:1/" S16, "loopback only" },
	{ "tally://localhost.example.org:1/" S16, "loopback only" },
	{ "tally://localhostx:1/" S16, "loopback only" },
	{ "tally://" FP "@127.0.0.1:1/" S16, "belongs in tally+tls://" },
	/* the fingerprint */
	{ "tally+tls://127.0.0.1:1/" S16, "missing 'FINGERPRINT@'" },
	{ "tally+tls://h:1/" S16, "missing 'FINGERPRINT@'" },
	{ "tally+tls://" FP "h:1/" S16, "missing 'FINGERPRINT@'" },
	{ "tally+tls://" FP ":1/" S16, "missing 'FINGERPRINT@'" },
	{ "tally+tls://@h:1/" S16, "missing fingerprint" },
	{ "tally+tls://" FP51 "@h:1/" S16, "fingerprint of 51 chars" },
	{ "tally+tls://" FP "a@h:1/" S16, "fingerprint of 53 chars" },
	{ "tally+tls://" FP FP "@h:1/" S16, "fingerprint of 104 chars" },
	{ "tally+tls://abc@h:1/" S16, "fingerprint of 3 chars" },
	{ "tally+tls://" FPU "@h:1/" S16, "uppercase 'C'" },
	{ "tally+tls://cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5fzQ"
	    "@h:1/" S16, "uppercase 'Q'" },
	{ "tally+tls://" FP51 "====@h:1/" S16, "padding" },
	{ "tally+tls://" FP "====@h:1/" S16, "padding" },
	{ "tally+tls://cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5fz1"
	    "@h:1/" S16, "bad character '1'" },
	{ "tally+tls://cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5fz8"
	    "@h:1/" S16, "bad character '8'" },
	{ "tally+tls://0pdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5fzq"
	    "@h:1/" S16, "bad character '0'" },
	{ "tally+tls://sha256-abcd@h:1/" S16, "bad character '-'" },
	{ "tally+tls://sha256:" FP "@h:1/" S16, "bad character ':'" },
	{ "tally+tls:// " FP "@h:1/" S16, "bad character ' '" },
	{ "tally+tls://" FP " @h:1/" S16, "bad character ' '" },
	{ "tally+tls://" FP "\n@h:1/" S16, "bad character '?'" },
	{ "tally+tls://cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5f\xc3"
	    "\xa9@h:1/" S16, "bad character '?'" },
	/* 64 hex digits, the usual way to write a SHA-256, is not base32 */
	{ "tally+tls://3f9a8c0e2d4b6f8a1c3e5d7f9b0a2c4e6d8f0a1b3c5d7e9f0a2b4c6d"
	    "8e0f1a2b@h:1/" S16, "bad character '9'" },
	/* the last char holds 1 bit and 4 zero bits: 'a' or 'q' only */
	{ "tally+tls://cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5fzb"
	    "@h:1/" S16, "not canonical" },
	{ "tally+tls://cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5fz7"
	    "@h:1/" S16, "not canonical" },
	{ "tally+tls://cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltkul32q5fzr"
	    "@h:1/" S16, "not canonical" },
	/* the rest of a TLS furl */
	{ TLS "/" S16, "missing host" },
	{ TLS ":1/" S16, "missing host" },
	{ TLS "h/" S16, "missing ':PORT'" },
	{ TLS "h:/" S16, "missing port" },
	{ TLS "h:0/" S16, "bad port '0'" },
	{ TLS "h:65536/" S16, "bad port '65536'" },
	{ TLS "h:1", "missing '/SECRET'" },
	{ "tally+tls://" FP, "missing '/SECRET'" },
	{ TLS "h:1/", "missing secret" },
	{ TLS "h:1/" SECRET_MARK "ijklmno", "secret must be 16-64" },
	{ TLS "h:1/" S16 "/x", "extra path" },
	{ TLS "h:1/" S16 "?x=1", "[a-z2-7]" },
	{ TLS FP "@h:1/" S16, "bad character '@' in host" },
	{ TLS "user@h:1/" S16, "bad character '@' in host" },
	{ TLS "h_x:1/" S16, "bad character '_'" },
	{ TLS "::1:5000/" S16, "brackets" },
	{ TLS "[::1:5000/" S16, "unclosed '['" },
	{ TLS "[::1]/" S16, "missing ':PORT'" },
	{ TLS "[fe80::1%eth0]:5000/" S16, "bad IPv6" },
	{ TLS "300.1.1.1:1/" S16, "bad IPv4" },
	/* the host */
	{ "tally:///" S16, "missing host" },
	{ "tally://:5000/" S16, "missing host" },
	{ "tally://h/" S16, "missing ':PORT'" },
	{ "tally://h :1/" S16, "bad character ' '" },
	{ "tally://h\t:1/" S16, "bad character '?'" },
	{ "tally://h\033[31m:1/" S16, "bad character '?'" },
	{ "tally://user@h:1/" S16, "bad character '@'" },
	{ "tally://user@127.0.0.1:1/" S16, "belongs in tally+tls://" },
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
	snprintf(furl, sizeof furl, TLS "%s:1/%s", host, S16);
	ck_assert_msg(furl_parse(furl, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(f.host, host);

	host[253] = 'x';
	host[254] = '\0';
	snprintf(furl, sizeof furl, TLS "%s:1/%s", host, S16);
	ck_assert_int_eq(furl_parse(furl, &f, err, sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "too long") != NULL, "%s", err);

	memset(host, 'a', 64);
	host[64] = '\0';
	snprintf(furl, sizeof furl, TLS "%s:1/%s", host, S16);
	ck_assert_int_eq(furl_parse(furl, &f, err, sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "label") != NULL, "%s", err);
	host[63] = '\0';
	snprintf(furl, sizeof furl, TLS "%s:1/%s", host, S16);
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

/* tallyd reads back the furl it wrote, whatever its host. */
START_TEST(test_anyhost)
{
	struct furl	 f;
	char		 err[TALLY_ERRLEN] = "", buf[512];
	const char	*s = "tally://gatherer.example.org:9/" S16;

	ck_assert_int_eq(furl_parse(s, &f, err, sizeof err), TALLY_EINVAL);
	ck_assert_int_eq(furl_parse_flags(s, FURL_F_ANYHOST, &f, err,
	    sizeof err), 0);
	ck_assert_str_eq(f.host, "gatherer.example.org");
	ck_assert_str_eq(f.fingerprint, "");
	ck_assert_int_eq(furl_fmt(buf, sizeof buf, &f), (int)strlen(s));
	ck_assert_str_eq(buf, s);
	/* Only the loopback rule is waived, nothing else. */
	ck_assert_int_eq(furl_parse_flags("tally://h:0/" S16, FURL_F_ANYHOST,
	    &f, err, sizeof err), TALLY_EINVAL);
	ck_assert_int_eq(furl_parse_flags(TLS "h:1/x", FURL_F_ANYHOST, &f,
	    err, sizeof err), TALLY_EINVAL);
}
END_TEST

/* RFC 4648's test vectors, in lowercase and without padding. */
static const struct {
	const char	*in, *out;
} b32_vectors[] = {
	{ "", "" },
	{ "f", "my" },
	{ "fo", "mzxq" },
	{ "foo", "mzxw6" },
	{ "foob", "mzxw6yq" },
	{ "fooba", "mzxw6ytb" },
	{ "foobar", "mzxw6ytboi" },
};

START_TEST(test_b32)
{
	uint8_t		 bin[FURL_FP_BYTES], back[FURL_FP_BYTES + 1];
	char		 txt[128];
	size_t		 i, n;

	for (i = 0; i < sizeof b32_vectors / sizeof b32_vectors[0]; i++) {
		n = strlen(b32_vectors[i].in);
		ck_assert_int_eq(furl_b32_encode((const uint8_t *)
		    b32_vectors[i].in, n, txt, sizeof txt),
		    (int)strlen(b32_vectors[i].out));
		ck_assert_str_eq(txt, b32_vectors[i].out);
		ck_assert_int_eq(furl_b32_decode(txt, strlen(txt), back,
		    sizeof back), (int)n);
		ck_assert(memcmp(back, b32_vectors[i].in, n) == 0);
	}
	/* Nonzero padding bits, a bad char, an impossible length: refused. */
	ck_assert_int_eq(furl_b32_decode("mz", 2, back, sizeof back), -1);
	ck_assert_int_eq(furl_b32_decode("mzxr", 4, back, sizeof back), -1);
	ck_assert_int_eq(furl_b32_decode("MY", 2, back, sizeof back), -1);
	ck_assert_int_eq(furl_b32_decode("m", 1, back, sizeof back), -1);
	ck_assert_int_eq(furl_b32_decode("my=", 3, back, sizeof back), -1);
	/* No room is no room. */
	ck_assert_int_eq(furl_b32_decode("mzxw6", 5, back, 2), -1);
	ck_assert_int_eq(furl_b32_encode((const uint8_t *)"foo", 3, txt, 5),
	    TALLY_ELIMIT);
	ck_assert_int_eq(furl_b32_encode((const uint8_t *)"foo", 3, txt, 6),
	    5);
	/* A digest: 52 chars, and back again. */
	for (i = 0; i < sizeof bin; i++)
		bin[i] = (uint8_t)(i * 37 + 11);
	ck_assert_int_eq(furl_b32_encode(bin, sizeof bin, txt, sizeof txt),
	    FURL_FP_LEN);
	ck_assert_int_eq(furl_b32_decode(txt, FURL_FP_LEN, back,
	    sizeof back), FURL_FP_BYTES);
	ck_assert(memcmp(back, bin, sizeof bin) == 0);
	ck_assert(txt[FURL_FP_LEN - 1] == 'a' || txt[FURL_FP_LEN - 1] == 'q');
}
END_TEST

START_TEST(test_loopback)
{
	static const char *yes[] = { "127.0.0.1", "127.255.255.254",
	    "localhost", "LOCALHOST", "localhost.", "::1", "0::1",
	    "::ffff:127.0.0.1" };
	static const char *no[] = { "128.0.0.1", "10.0.0.1", "0.0.0.0", "::",
	    "::2", "::ffff:10.0.0.1", "fe80::1", "localhost.localdomain",
	    "my-localhost", "", "127.0.0.1 ", "h" };
	size_t	 i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		ck_assert_msg(furl_host_loopback(yes[i]), "%s", yes[i]);
	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!furl_host_loopback(no[i]), "%s", no[i]);
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

	s = TLS "[2001:db8::1]:5000/" S16;
	n = (int)strlen(s);
	ck_assert_int_eq(furl_parse(s, &f, err, sizeof err), 0);
	ck_assert_int_eq(furl_fmt(buf, (size_t)n, &f), TALLY_ELIMIT);
	ck_assert_int_eq(furl_fmt(buf, (size_t)n + 1, &f), n);
	ck_assert_str_eq(buf, s);
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
		/* A flag, not a count: a char counting 200-odd could wrap. */
		for (k = 0; k < 32; k++)
			if (!seen[(unsigned char)sec[i][k]]) {
				seen[(unsigned char)sec[i][k]] = 1;
				nseen++;
			}
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
	const struct fixture_test	 tests[] = {
		{ "core", test_parse_good, FIXTURE_N(good), FIXTURE_TIMEOUT },
		{ "core", test_parse_bad, FIXTURE_N(bad), FIXTURE_TIMEOUT },
		{ "core", test_host_lengths, 0, FIXTURE_TIMEOUT },
		{ "core", test_huge, 0, FIXTURE_TIMEOUT },
		{ "core", test_err_buffers, 0, FIXTURE_TIMEOUT },
		{ "core", test_fmt_limits, 0, FIXTURE_TIMEOUT },
		{ "core", test_anyhost, 0, FIXTURE_TIMEOUT },
		{ "core", test_b32, 0, FIXTURE_TIMEOUT },
		{ "core", test_loopback, 0, FIXTURE_TIMEOUT },
		{ "core", test_secret_new, 0, FIXTURE_TIMEOUT },
		{ "core", test_secret_new_small, 0, FIXTURE_TIMEOUT },
	};

	return fixture_main("furl", tests, FIXTURE_N(tests), NULL, 0);
}
