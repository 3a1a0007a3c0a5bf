/*
 * check_tls.c: tls.c on its own.  The identity (an Ed25519 key and a
 * self-signed certificate, PEM, mode 0600, never replaced, fingerprinted
 * as the SHA-256 of the DER); the contexts and their errors; and both
 * ends of connections over a socketpair, driven non-blocking in one
 * thread: the pin accepted and refused (with both fingerprints), TLS 1.3
 * only, peers that do not speak TLS, megabytes through partial writes,
 * the two kinds of EOF, and a reset peer that must not raise SIGPIPE.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tally-int.h"
#include "fixture.h"

static char		 dir[FIXTURE_PATH_MAX];
static char		 key[FIXTURE_PATH_MAX + 32], crt[FIXTURE_PATH_MAX + 32];
static char		 key2[FIXTURE_PATH_MAX + 32], crt2[FIXTURE_PATH_MAX + 32];
static char		 fp[FURL_FP_LEN + 1], fp2[FURL_FP_LEN + 1];
static struct ssl_ctx_st *srv, *srv2, *cli;

static void
setup(void)
{
	char	 err[TALLY_ERRLEN];

	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	snprintf(key, sizeof key, "%s/a.key", dir);
	snprintf(crt, sizeof crt, "%s/a.crt", dir);
	snprintf(key2, sizeof key2, "%s/b.key", dir);
	snprintf(crt2, sizeof crt2, "%s/b.crt", dir);
	ck_assert_msg(tls_identity_create(key, crt, fp, sizeof fp, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_msg(tls_identity_create(key2, crt2, fp2, sizeof fp2, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_msg(tls_server_ctx(&srv, key, crt, NULL, 0, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_msg(tls_server_ctx(&srv2, key2, crt2, NULL, 0, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_msg(tls_client_ctx(&cli, err, sizeof err) == 0, "%s", err);
}

static void
teardown(void)
{
	tls_ctx_free(srv);
	tls_ctx_free(srv2);
	tls_ctx_free(cli);
	srv = srv2 = cli = NULL;
	fixture_rmtree(dir);
}

/* ---- the identity ------------------------------------------------------- */

static void
digest_of(const char *path, char *out, size_t outlen)
{
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	FILE		*f;
	X509		*x;
	int		 len;

	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	ck_assert_int_gt(len = i2d_X509(x, &der), 0);
	ck_assert(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL));
	ck_assert_int_eq(furl_b32_encode(md, mdlen, out, outlen),
	    FURL_FP_LEN);
	OPENSSL_free(der);
	X509_free(x);
}

START_TEST(test_identity_files)
{
	struct stat	 sb;
	char		 d[FURL_FP_LEN + 1], err[TALLY_ERRLEN];
	char		 again[FURL_FP_LEN + 1];
	const char	*paths[] = { key, crt };
	struct ssl_ctx_st *ctx;
	X509		*x;
	EVP_PKEY	*pk;
	FILE		*f;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(stat(paths[i], &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	}
	/* The fingerprint is the SHA-256 of the DER, in furl base32. */
	digest_of(crt, d, sizeof d);
	ck_assert_str_eq(d, fp);
	ck_assert_str_ne(fp, fp2);
	ck_assert_msg(tls_server_ctx(&ctx, key, crt, again, sizeof again, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_str_eq(again, fp);
	tls_ctx_free(ctx);

	/* Ed25519, self-signed, no expiry to speak of. */
	ck_assert_ptr_nonnull(f = fopen(key, "r"));
	ck_assert_ptr_nonnull(pk = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	ck_assert_int_eq(EVP_PKEY_get_id(pk), EVP_PKEY_ED25519);
	ck_assert_ptr_nonnull(f = fopen(crt, "r"));
	ck_assert_ptr_nonnull(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	ck_assert_int_eq(X509_verify(x, pk), 1);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)), 0);
	ck_assert_int_eq(ASN1_TIME_compare(X509_get0_notAfter(x),
	    X509_get0_notBefore(x)), 1);
	X509_free(x);
	EVP_PKEY_free(pk);
}
END_TEST

/* An identity is never replaced, and a failure leaves nothing behind. */
START_TEST(test_identity_kept)
{
	char	 err[TALLY_ERRLEN] = "", d[FURL_FP_LEN + 1];
	char	 other[FIXTURE_PATH_MAX + 32];
	DIR	*dp;
	struct dirent *de;
	int	 n = 0;

	ck_assert_int_eq(tls_identity_create(key, crt, NULL, 0, err,
	    sizeof err), TALLY_ESYS);
	ck_assert_msg(strstr(err, "exists already") != NULL, "%s", err);
	digest_of(crt, d, sizeof d);
	ck_assert_str_eq(d, fp);

	/* The key is new but the certificate exists: neither is kept. */
	snprintf(other, sizeof other, "%s/c.key", dir);
	ck_assert_int_eq(tls_identity_create(other, crt, NULL, 0, err,
	    sizeof err), TALLY_ESYS);
	ck_assert_int_ne(access(other, F_OK), 0);
	digest_of(crt, d, sizeof d);
	ck_assert_str_eq(d, fp);

	/* No temporary file is left: just a.key a.crt b.key b.crt. */
	ck_assert_ptr_nonnull(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	ck_assert_int_eq(n, 4);

	/* A directory that is not there. */
	snprintf(other, sizeof other, "%s/none/x.key", dir);
	ck_assert_int_eq(tls_identity_create(other, crt, NULL, 0, err,
	    sizeof err), TALLY_ESYS);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
}
END_TEST

START_TEST(test_server_ctx_errors)
{
	struct ssl_ctx_st *ctx = (void *)1;
	char		 err[TALLY_ERRLEN], junk[FIXTURE_PATH_MAX + 32];
	FILE		*f;

	ck_assert_int_eq(tls_server_ctx(&ctx, key, "/nonexistent/x.crt",
	    NULL, 0, err, sizeof err), TALLY_EINVAL);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(err, "/nonexistent/x.crt") != NULL, "%s", err);

	/* Another identity's key. */
	ck_assert_int_eq(tls_server_ctx(&ctx, key2, crt, NULL, 0, err,
	    sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "does not belong") != NULL, "%s", err);

	snprintf(junk, sizeof junk, "%s/junk.crt", dir);
	ck_assert_ptr_nonnull(f = fopen(junk, "w"));
	fputs("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
	    "-----END CERTIFICATE-----\n", f);
	fclose(f);
	ck_assert_int_eq(tls_server_ctx(&ctx, key, junk, NULL, 0, err,
	    sizeof err), TALLY_EINVAL);
	ck_assert_msg(strstr(err, "junk.crt") != NULL, "%s", err);
	/* Nothing of it stays in this thread's OpenSSL error queue. */
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

/* ---- connections over a socketpair ---------------------------------------- */

struct pair {
	int		 fd[2];		/* client, server */
	struct tls	*ssl[2];
	int		 rc[2];		/* last handshake result */
	char		 err[2][TALLY_ERRLEN];
};

static void
pair_open(struct pair *p, struct ssl_ctx_st *server, const char *pin)
{
	char	 err[TALLY_ERRLEN];
	int	 i;

	memset(p, 0, sizeof *p);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, p->fd), 0);
	ck_assert_msg(tls_new(&p->ssl[0], cli, p->fd[0], pin, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_msg(tls_new(&p->ssl[1], server, p->fd[1], NULL, err,
	    sizeof err) == 0, "%s", err);
	for (i = 0; i < 2; i++)
		p->rc[i] = TLS_WANT_READ;
}

static void
pair_close(struct pair *p)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		tls_free(p->ssl[i]);
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	}
}

/* Step both handshakes until each is done or failed. */
static void
pair_handshake(struct pair *p)
{
	int	 i, rounds;

	for (rounds = 0; rounds < 100; rounds++) {
		for (i = 0; i < 2; i++)
			if (p->rc[i] == TLS_WANT_READ ||
			    p->rc[i] == TLS_WANT_WRITE)
				p->rc[i] = tls_handshake(p->ssl[i], p->err[i],
				    sizeof p->err[i]);
		if (p->rc[0] == TLS_ERROR || p->rc[1] == TLS_ERROR ||
		    (p->rc[0] == 0 && p->rc[1] == 0))
			return;
	}
	ck_abort_msg("no handshake after %d rounds", rounds);
}

/* Move len bytes from end a to end b through TLS, both non-blocking. */
static void
pair_move(struct pair *p, int a, const uint8_t *src, uint8_t *dst,
    size_t len)
{
	char	 err[TALLY_ERRLEN];
	size_t	 sent = 0, got = 0;
	long	 n;
	int	 b = !a, spins = 0;

	while (got < len) {
		ck_assert_int_lt(++spins, 1000000);
		if (sent < len) {
			n = tls_write(p->ssl[a], src + sent, len - sent, err,
			    sizeof err);
			ck_assert_msg(n > 0 || n == TLS_WANT_WRITE ||
			    n == TLS_WANT_READ, "write: %s", err);
			if (n > 0)
				sent += (size_t)n;
		}
		for (;;) {
			n = tls_read(p->ssl[b], dst + got, len - got, err,
			    sizeof err);
			ck_assert_msg(n != 0 && n != TLS_ERROR, "read: %s",
			    n == 0 ? "EOF" : err);
			if (n < 0)
				break;
			got += (size_t)n;
		}
	}
	ck_assert(!tls_pending(p->ssl[b]));
}

START_TEST(test_pin_ok)
{
	struct pair	 p;
	uint8_t		 in[64];

	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_msg(p.rc[0] == 0 && p.rc[1] == 0, "%s / %s", p.err[0],
	    p.err[1]);
	ck_assert(tls_established(p.ssl[0]) && tls_established(p.ssl[1]));
	ck_assert_str_eq(tls_version(p.ssl[0]), "TLSv1.3");
	ck_assert_str_eq(tls_version(p.ssl[1]), "TLSv1.3");
	pair_move(&p, 0, (const uint8_t *)"hello, gatherer", in, 15);
	ck_assert(memcmp(in, "hello, gatherer", 15) == 0);
	pair_move(&p, 1, (const uint8_t *)"poll", in, 4);
	ck_assert(memcmp(in, "poll", 4) == 0);
	pair_close(&p);
}
END_TEST

/* Another certificate: the client says which, the server hears why. */
START_TEST(test_pin_mismatch)
{
	struct pair	 p;
	char		 want[200];

	pair_open(&p, srv2, fp);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0], TLS_ERROR);
	snprintf(want, sizeof want, "certificate fingerprint mismatch "
	    "(expected %s, got %s)", fp, fp2);
	ck_assert_str_eq(p.err[0], want);
	ck_assert_int_eq(p.rc[1], TLS_ERROR);
	ck_assert_msg(strstr(p.err[1], "bad certificate") != NULL, "%s",
	    p.err[1]);
	ck_assert(!tls_established(p.ssl[0]));
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

START_TEST(test_bad_pin)
{
	struct tls	*ssl = (void *)1;
	char		 err[TALLY_ERRLEN];

	ck_assert_int_eq(tls_new(&ssl, cli, 0, "short", err, sizeof err),
	    TALLY_EINVAL);
	ck_assert_ptr_null(ssl);
	ck_assert_int_eq(tls_new(&ssl, cli, 0, "cpdyqgm72crrbx6t6cwhuasi4n2yj"
	    "bvwyxsvnroiltkul32q5fzb", err, sizeof err), TALLY_EINVAL);
}
END_TEST

/* A TLS 1.2 client, of plain OpenSSL, finds no protocol in common. */
START_TEST(test_tls12_refused)
{
	SSL_CTX		*ctx;
	SSL		*c;
	struct tls	*s;
	char		 err[TALLY_ERRLEN] = "";
	int		 fd[2], i, rc = TLS_WANT_READ, crc = -1;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    fd), 0);
	ck_assert_ptr_nonnull(ctx = SSL_CTX_new(TLS_client_method()));
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	ck_assert_ptr_nonnull(c = SSL_new(ctx));
	SSL_set_fd(c, fd[0]);
	SSL_set_connect_state(c);
	ck_assert_int_eq(tls_new(&s, srv, fd[1], NULL, err, sizeof err), 0);
	for (i = 0; i < 50 && (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE);
	    i++) {
		crc = SSL_do_handshake(c);
		rc = tls_handshake(s, err, sizeof err);
	}
	ck_assert_int_eq(rc, TLS_ERROR);
	ck_assert_msg(strstr(err, "TLS 1.3") != NULL, "%s", err);
	ck_assert_int_ne(crc, 1);
	ERR_clear_error();
	SSL_free(c);
	SSL_CTX_free(ctx);
	tls_free(s);
	close(fd[0]);
	close(fd[1]);
}
END_TEST

/* Plaintext at either end is named as such. */
START_TEST(test_not_tls)
{
	static const uint8_t	 hello[] = { 0, 0, 0, 0x1b, 1, 0, 1, 16 };
	struct pair		 p;
	uint8_t			 buf[4096];

	/* A plaintext provider's HELLO, to the server. */
	pair_open(&p, srv, fp);
	ck_assert_int_eq(write(p.fd[0], hello, sizeof hello),
	    (ssize_t)sizeof hello);
	p.rc[0] = 0;
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[1], TLS_ERROR);
	ck_assert_msg(strstr(p.err[1], "does not speak TLS") != NULL, "%s",
	    p.err[1]);
	pair_close(&p);

	/* A plaintext gatherer's ERROR, to the client. */
	pair_open(&p, srv, fp);
	p.rc[1] = 0;
	ck_assert_int_eq(tls_handshake(p.ssl[0], p.err[0], sizeof p.err[0]),
	    TLS_WANT_READ);
	ck_assert_int_gt(read(p.fd[1], buf, sizeof buf), 0);
	ck_assert_int_eq(write(p.fd[1], "\0\0\0\x05\x05\0\x06\0\0", 9), 9);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0], TLS_ERROR);
	ck_assert_msg(strstr(p.err[0], "does not speak TLS") != NULL, "%s",
	    p.err[0]);
	pair_close(&p);
}
END_TEST

/* Megabytes each way, through full socket buffers and partial writes. */
START_TEST(test_bulk)
{
	struct pair	 p;
	size_t		 len = 3 << 20, i;
	uint8_t		*src, *dst;

	ck_assert_ptr_nonnull(src = malloc(len));
	ck_assert_ptr_nonnull(dst = malloc(len));
	for (i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 131 + (i >> 13));
	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	pair_move(&p, 0, src, dst, len);
	ck_assert(memcmp(src, dst, len) == 0);
	memset(dst, 0, len);
	pair_move(&p, 1, src, dst, len);
	ck_assert(memcmp(src, dst, len) == 0);
	pair_close(&p);
	free(src);
	free(dst);
}
END_TEST

/* close_notify and a bare close both read as EOF, and a reset peer is an
 * error, not a SIGPIPE: libtally must never kill its host. */
START_TEST(test_eof_and_reset)
{
	struct pair	 p;
	char		 err[TALLY_ERRLEN];
	uint8_t		 buf[256];
	long		 n;
	int		 i;

	ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);

	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	tls_close_notify(p.ssl[0]);
	ck_assert_int_eq(tls_read(p.ssl[1], buf, sizeof buf, err,
	    sizeof err), 0);
	pair_close(&p);

	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	close(p.fd[0]);
	p.fd[0] = -1;
	ck_assert_int_eq(tls_read(p.ssl[1], buf, sizeof buf, err,
	    sizeof err), 0);
	/* Write into the closed pair until the kernel says so. */
	memset(buf, 'x', sizeof buf);
	for (i = 0; i < 1000; i++)
		if ((n = tls_write(p.ssl[1], buf, sizeof buf, err,
		    sizeof err)) == TLS_ERROR)
			break;
	ck_assert_int_lt(i, 1000);
	ck_assert_msg(strstr(err, "pipe") != NULL ||
	    strstr(err, "reset") != NULL, "%s", err);
	/* No close_notify after a fatal error; nothing left queued. */
	tls_close_notify(p.ssl[1]);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("tls");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_identity_files);
	tcase_add_test(tc, test_identity_kept);
	tcase_add_test(tc, test_server_ctx_errors);
	tcase_add_test(tc, test_pin_ok);
	tcase_add_test(tc, test_pin_mismatch);
	tcase_add_test(tc, test_bad_pin);
	tcase_add_test(tc, test_tls12_refused);
	tcase_add_test(tc, test_not_tls);
	tcase_add_test(tc, test_bulk);
	tcase_add_test(tc, test_eof_and_reset);
	suite_add_tcase(s, tc);
	return fixture_run(s);
}
