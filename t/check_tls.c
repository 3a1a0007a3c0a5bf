/*
 * check_tls.c: tls.c on its own.  The identity (an Ed25519 key and a
 * self-signed certificate, PEM, mode 0600, never replaced, fingerprinted
 * as the SHA-256 of the DER); the contexts and their errors; and both
 * ends of connections over a socketpair, driven non-blocking in one
 * thread: the pin accepted and refused (with both fingerprints), TLS 1.3
 * only, peers that do not speak TLS, megabytes through partial writes,
 * the two kinds of EOF, and a reset peer that must not raise SIGPIPE.
 * Then the node keys (made 0600, loaded again, refused with a message
 * when their file is not the node's alone, or not an Ed25519 key), the
 * client certificate the gatherer requires and the fingerprint it knows
 * a node by; and the server's OpenSSL, which does every record for the
 * whole connection: its close_notify, the client's KeyUpdates (one record
 * per read, however many come), empty records, each of the three suites,
 * records tampered with on a relay between the two ends, and a write the
 * socket cannot take.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tally-int.h"
#include "fixture.h"

static char		 dir[FIXTURE_PATH_MAX];
static char		 key[FIXTURE_PATH_MAX + 32], crt[FIXTURE_PATH_MAX + 32];
static char		 key2[FIXTURE_PATH_MAX + 32], crt2[FIXTURE_PATH_MAX + 32];
static char		 fp[FURL_FP_LEN + 1], fp2[FURL_FP_LEN + 1];
static char		 nkey[FIXTURE_PATH_MAX + 32], nfp[FURL_FP_LEN + 1];
static struct ssl_ctx_st *srv, *srv2, *cli, *cli_nokey;

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
	snprintf(nkey, sizeof nkey, "%s/node.key", dir);
	ck_assert_msg(tls_node_key(nkey, nfp, sizeof nfp, err, sizeof err) ==
	    0, "%s", err);
	ck_assert_msg(tls_client_ctx(&cli, nkey, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_msg(tls_client_ctx(&cli_nokey, NULL, err, sizeof err) == 0,
	    "%s", err);
}

static void
teardown(void)
{
	tls_ctx_free(srv);
	tls_ctx_free(srv2);
	tls_ctx_free(cli);
	tls_ctx_free(cli_nokey);
	srv = srv2 = cli = cli_nokey = NULL;
	fixture_rmtree(dir);
}

/* ---- the identity ------------------------------------------------------- */

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
	fixture_cert_fingerprint(crt, d, sizeof d);
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
	fixture_cert_fingerprint(crt, d, sizeof d);
	ck_assert_str_eq(d, fp);

	/* The key is new but the certificate exists: neither is kept. */
	snprintf(other, sizeof other, "%s/c.key", dir);
	ck_assert_int_eq(tls_identity_create(other, crt, NULL, 0, err,
	    sizeof err), TALLY_ESYS);
	ck_assert_int_ne(access(other, F_OK), 0);
	fixture_cert_fingerprint(crt, d, sizeof d);
	ck_assert_str_eq(d, fp);

	/* No temporary file: a.key a.crt b.key b.crt, and node.key. */
	ck_assert_ptr_nonnull(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	ck_assert_int_eq(n, 5);

	/* A directory that is not there. */
	snprintf(other, sizeof other, "%s/none/x.key", dir);
	ck_assert_int_eq(tls_identity_create(other, crt, NULL, 0, err,
	    sizeof err), TALLY_ESYS);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);

	/*
	 * A path of nearly PATH_MAX: quoted and cut in the message, so that
	 * the reason shows (it was cut off the end).
	 */
	{
		char	 longp[PATH_MAX];
		size_t	 len;

		len = (size_t)snprintf(longp, sizeof longp, "%s/", dir);
		memset(longp + len, 'k', sizeof longp - len - 8);
		longp[sizeof longp - 8] = '\0';
		ck_assert_int_ne(tls_identity_create(longp, crt, NULL, 0, err,
		    sizeof err), 0);
		ck_assert_msg(strstr(err, "...: path too long") != NULL, "%s",
		    err);
	}
}
END_TEST

/* tls_server_ctx(kp, cp) is refused with a message holding want. */
static void
server_ctx_refused(const char *kp, const char *cp, const char *want)
{
	struct ssl_ctx_st *ctx = (void *)1;
	char		 err[TALLY_ERRLEN] = "";

	ck_assert_int_eq(tls_server_ctx(&ctx, kp, cp, NULL, 0, err,
	    sizeof err), TALLY_EINVAL);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(err, want) != NULL, "want '%s': %s", want, err);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

/*
 * tallyd's own files, read before OpenSSL sees them: what is wrong with
 * each is said (OpenSSL says "PEM lib" for most), a FIFO is not waited
 * on, a link, a certificate others may write or whose signature does
 * not verify (one bit of it flipped: before, a new fingerprint, so a new
 * furl) is refused.  scratch is a path to use.
 */
static void
server_ctx_files(const char *scratch)
{
	unsigned char	*der = NULL;
	const unsigned char *p;
	X509		*x;
	FILE		*f;
	int		 len;

	ck_assert_int_eq(unlink(scratch), 0);
	ck_assert_int_eq(mkfifo(scratch, 0600), 0);
	server_ctx_refused(key, scratch, "is a FIFO, not a regular file");
	server_ctx_refused(scratch, crt, "is a FIFO, not a regular file");
	ck_assert_int_eq(unlink(scratch), 0);

	ck_assert_ptr_nonnull(f = fopen(scratch, "w"));
	fclose(f);
	ck_assert_int_eq(chmod(scratch, 0600), 0);
	server_ctx_refused(key, scratch, "empty");
	server_ctx_refused(scratch, crt, "empty");

	ck_assert_ptr_nonnull(f = fopen(crt, "r"));
	ck_assert_ptr_nonnull(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	ck_assert_int_gt(len = i2d_X509(x, &der), 0);
	X509_free(x);
	der[len - 1] ^= 1;		/* the signature's last byte */
	p = der;
	ck_assert_ptr_nonnull(x = d2i_X509(NULL, &p, len));
	OPENSSL_free(der);
	ck_assert_ptr_nonnull(f = fopen(scratch, "w"));
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
	X509_free(x);
	server_ctx_refused(key, scratch, "signature does not verify");

	/* A link to the good certificate: the file itself must be there. */
	ck_assert_int_eq(unlink(scratch), 0);
	ck_assert_int_eq(symlink(crt, scratch), 0);
	server_ctx_refused(key, scratch, "a symbolic link");
	ck_assert_int_eq(unlink(scratch), 0);

	ck_assert_int_eq(chmod(crt, 0620), 0);
	server_ctx_refused(key, crt, "lets others write it");
	ck_assert_int_eq(chmod(crt, 0600), 0);
	ck_assert_int_eq(chmod(key, 0640), 0);
	server_ctx_refused(key, crt, "lets others at it");
	ck_assert_int_eq(chmod(key, 0600), 0);
}

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
	server_ctx_files(junk);
}
END_TEST

/* ---- node keys ------------------------------------------------------------ */

/* A node key is made 0600, Ed25519, and the same fingerprint comes back. */
START_TEST(test_node_key_made)
{
	struct stat	 sb;
	char		 again[FURL_FP_LEN + 1], err[TALLY_ERRLEN];
	EVP_PKEY	*pk;
	FILE		*f;

	ck_assert_int_eq(lstat(nkey, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	ck_assert_uint_eq(strlen(nfp), FURL_FP_LEN);
	ck_assert_msg(tls_node_key(nkey, again, sizeof again, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_str_eq(again, nfp);
	ck_assert_msg(tls_node_key(nkey, NULL, 0, err, sizeof err) == 0, "%s",
	    err);

	/* The fingerprint is the SHA-256 of the DER public key, base32. */
	ck_assert_ptr_nonnull(f = fopen(nkey, "r"));
	ck_assert_ptr_nonnull(pk = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	ck_assert_int_eq(EVP_PKEY_get_id(pk), EVP_PKEY_ED25519);
	ck_assert_int_eq(tls_key_fingerprint(pk, again, sizeof again), 0);
	ck_assert_str_eq(again, nfp);
	ck_assert_int_eq(tls_key_fingerprint(pk, again, FURL_FP_LEN),
	    TALLY_EINVAL);
	EVP_PKEY_free(pk);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}
END_TEST

/* A key file of path p is refused, with words that include want. */
static void
key_refused(const char *p, const char *want)
{
	struct ssl_ctx_st	*ctx = (void *)1;
	char			 err[TALLY_ERRLEN] = "";
	char			 got[FURL_FP_LEN + 1] = "";

	ck_assert_int_ne(tls_node_key(p, got, sizeof got, err, sizeof err),
	    0);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert_msg(strstr(err, p) != NULL, "%s", err);
	ck_assert_str_eq(got, "");
	err[0] = '\0';
	ck_assert_int_ne(tls_client_ctx(&ctx, p, err, sizeof err), 0);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

static void
write_file(const char *p, const char *text, mode_t mode)
{
	int	 fd;

	unlink(p);
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)),
	    (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/*
 * What is not the node's alone, or not an Ed25519 key, is refused with a
 * message naming the file and the problem, and left as it is.
 */
START_TEST(test_node_key_refused)
{
	char		 p[FIXTURE_PATH_MAX + 32], want[3 * sizeof p];
	char		 pem[4096];
	struct stat	 sb;
	EVP_PKEY	*rsa;
	BIO		*b;
	FILE		*f;
	size_t		 n;
	int		 fd;

	/* The node's key with group and other bits, or an x bit. */
	snprintf(p, sizeof p, "%s/wide.key", dir);
	ck_assert_ptr_nonnull(f = fopen(nkey, "r"));
	n = fread(pem, 1, sizeof pem - 1, f);
	fclose(f);
	pem[n] = '\0';
	write_file(p, pem, 0644);
	snprintf(want, sizeof want, "key file %s: mode 0644 is wider than "
	    "0600; chmod 600 %s", p, p);
	key_refused(p, want);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0644);
	ck_assert_int_eq(chmod(p, 0700), 0);
	key_refused(p, "mode 0700 is wider than 0600");
	ck_assert_int_eq(chmod(p, 0400), 0);
	ck_assert_int_eq(tls_node_key(p, want, sizeof want, pem, sizeof pem),
	    0);
	ck_assert_str_eq(want, nfp);

	/* A symbolic link, even to the right file; a directory. */
	snprintf(p, sizeof p, "%s/link.key", dir);
	ck_assert_int_eq(symlink(nkey, p), 0);
	key_refused(p, "symbolic link");
	snprintf(p, sizeof p, "%s/dir.key", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	key_refused(p, "not a regular file");

	/* Not a key; an empty file (not made into one). */
	snprintf(p, sizeof p, "%s/junk.key", dir);
	write_file(p, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
	    "-----END PRIVATE KEY-----\n", 0600);
	key_refused(p, "not an unencrypted PEM private key");
	write_file(p, "", 0600);
	key_refused(p, "not an unencrypted PEM private key");
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);

	/* A key, but RSA. */
	snprintf(p, sizeof p, "%s/rsa.key", dir);
	ck_assert_ptr_nonnull(rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048));
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
	ck_assert_ptr_nonnull(b = BIO_new_fd(fd, BIO_CLOSE));
	ck_assert_int_eq(PEM_write_bio_PrivateKey(b, rsa, NULL, NULL, 0, NULL,
	    NULL), 1);
	BIO_free(b);
	EVP_PKEY_free(rsa);
	key_refused(p, "RSA key, not Ed25519");

	/* Another user's, which only root can make. */
	if (geteuid() == 0) {
		snprintf(p, sizeof p, "%s/theirs.key", dir);
		write_file(p, pem, 0600);
		ck_assert_int_eq(chown(p, 65534, 65534), 0);
		key_refused(p, "owned by uid 65534, not by uid 0");
	}

	/* A directory that is not there: nothing made. */
	snprintf(p, sizeof p, "%s/none/node.key", dir);
	key_refused(p, "No such file");
}
END_TEST

struct race {
	pthread_barrier_t	*start;
	const char		*path;
	char			 fp[FURL_FP_LEN + 1];
	char			 err[TALLY_ERRLEN];
	int			 rc;
};

static void *
race_one(void *arg)
{
	struct race	*r = arg;

	pthread_barrier_wait(r->start);
	r->rc = tls_node_key(r->path, r->fp, sizeof r->fp, r->err,
	    sizeof r->err);
	return NULL;
}

/*
 * Creators at once: each one's key is made, one is linked into place, and
 * every creator ends with that one, the file's.
 */
START_TEST(test_node_key_race)
{
	enum { RACERS = 4, ROUNDS = 20 };
	pthread_barrier_t	 start;
	pthread_t		 tid[RACERS];
	struct race		 r[RACERS];
	char			 p[FIXTURE_PATH_MAX + 32];
	char			 file[FURL_FP_LEN + 1], err[TALLY_ERRLEN];
	DIR			*dp;
	struct dirent		*de;
	int			 i, round, n;

	for (round = 0; round < ROUNDS; round++) {
		snprintf(p, sizeof p, "%s/race%d.key", dir, round);
		ck_assert_int_eq(pthread_barrier_init(&start, NULL, RACERS), 0);
		for (i = 0; i < RACERS; i++) {
			memset(&r[i], 0, sizeof r[i]);
			r[i].start = &start;
			r[i].path = p;
			ck_assert_int_eq(pthread_create(&tid[i], NULL,
			    race_one, &r[i]), 0);
		}
		for (i = 0; i < RACERS; i++)
			ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
		pthread_barrier_destroy(&start);
		ck_assert_msg(tls_node_key(p, file, sizeof file, err,
		    sizeof err) == 0, "%s", err);
		for (i = 0; i < RACERS; i++) {
			ck_assert_msg(r[i].rc == 0, "%s", r[i].err);
			ck_assert_str_eq(r[i].fp, file);
		}
	}
	/* No temporary file is left behind. */
	ck_assert_ptr_nonnull(dp = opendir(dir));
	n = 0;
	while ((de = readdir(dp)) != NULL)
		if (strstr(de->d_name, ".new.") != NULL)
			n++;
	closedir(dp);
	ck_assert_int_eq(n, 0);
}
END_TEST

/* ---- connections over a socketpair ---------------------------------------- */

struct relay;

struct pair {
	int		 fd[2];		/* client, server */
	struct tls	*ssl[2];
	int		 rc[2];		/* last handshake result */
	char		 err[2][TALLY_ERRLEN];
	struct relay	*relay;		/* between the two, if any */
};

/*
 * A relay between the two ends, for a test to tamper with: the client's
 * socket is paired with fd[0], the server's with fd[1], and relay_pump()
 * copies what it can each way, non-blocking.
 */
struct relay {
	int		 fd[2];		/* facing the client, the server */
	uint8_t		 buf[2][32768];	/* client to server, and back */
	size_t		 len[2];
	size_t		 got[2];	/* bytes taken in, each way */
	size_t		 flip;		/* client to server: the byte to flip */
};
static struct relay	 relay;

/* One pass each way; the bytes taken in and sent on. */
static size_t
relay_pump(struct relay *r)
{
	size_t	 moved = 0, at;
	ssize_t	 n;
	int	 d, src, dst;

	for (d = 0; d < 2; d++) {
		src = r->fd[d];
		dst = r->fd[!d];
		if (src >= 0 && r->len[d] < sizeof r->buf[d]) {
			n = recv(src, r->buf[d] + r->len[d],
			    sizeof r->buf[d] - r->len[d], 0);
			ck_assert_msg(n >= 0 || errno == EAGAIN, "relay: %s",
			    strerror(errno));
			if (n > 0) {
				at = r->flip - r->got[d];
				if (d == 0 && r->flip >= r->got[d] &&
				    at < (size_t)n)
					r->buf[d][r->len[d] + at] ^= 0x10;
				r->got[d] += (size_t)n;
				r->len[d] += (size_t)n;
				moved += (size_t)n;
			}
		}
		if (dst >= 0 && r->len[d] > 0) {
			n = send(dst, r->buf[d], r->len[d], MSG_NOSIGNAL);
			ck_assert_msg(n >= 0 || errno == EAGAIN, "relay: %s",
			    strerror(errno));
			if (n > 0) {
				r->len[d] -= (size_t)n;
				memmove(r->buf[d], r->buf[d] + n, r->len[d]);
				moved += (size_t)n;
			}
		}
	}
	return moved;
}

static void
relay_drain(struct relay *r)
{
	while (relay_pump(r) > 0)
		continue;
}

/* Bytes of the test's own, sent on way d after what came before. */
static void
relay_inject(struct relay *r, int d, const void *buf, size_t len)
{
	relay_drain(r);
	ck_assert_uint_le(len, sizeof r->buf[d] - r->len[d]);
	memcpy(r->buf[d] + r->len[d], buf, len);
	r->len[d] += len;
	relay_drain(r);
}

/* Close the relay's end facing the client (0) or the server (1). */
static void
relay_cut(struct relay *r, int end)
{
	ck_assert_int_ge(r->fd[end], 0);
	close(r->fd[end]);
	r->fd[end] = -1;
}

/* A pair of ends, the client's of ctx client, through r if not NULL. */
static void
pair_open_via(struct pair *p, struct ssl_ctx_st *client,
    struct ssl_ctx_st *server, const char *pin, struct relay *r)
{
	char	 err[TALLY_ERRLEN];
	int	 sp[2][2], i;

	memset(p, 0, sizeof *p);
	for (i = 0; i < (r != NULL ? 2 : 1); i++)
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp[i]), 0);
	p->fd[0] = sp[0][0];
	if (r == NULL)
		p->fd[1] = sp[0][1];
	else {
		memset(r, 0, sizeof *r);
		r->flip = SIZE_MAX;
		r->fd[0] = sp[0][1];
		r->fd[1] = sp[1][0];
		p->fd[1] = sp[1][1];
		p->relay = r;
	}
	ck_assert_msg(tls_new(&p->ssl[0], client, p->fd[0], pin, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_msg(tls_new(&p->ssl[1], server, p->fd[1], NULL, err,
	    sizeof err) == 0, "%s", err);
	for (i = 0; i < 2; i++)
		p->rc[i] = TLS_WANT_READ;
}

static void
pair_open(struct pair *p, struct ssl_ctx_st *server, const char *pin)
{
	pair_open_via(p, cli, server, pin, NULL);
}

static void
pair_close(struct pair *p)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		tls_free(p->ssl[i]);
		if (p->fd[i] >= 0)
			close(p->fd[i]);
		if (p->relay != NULL && p->relay->fd[i] >= 0)
			close(p->relay->fd[i]);
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
		if (p->relay != NULL)
			relay_pump(p->relay);
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
		if (p->relay != NULL)
			relay_pump(p->relay);
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

/* ---- the server's OpenSSL, for the whole connection --------------------- */

/*
 * tls_read() at end e until it gives bytes (or EOF or an error): the
 * bytes, and in *wants (if not NULL) the calls that said TLS_WANT_READ
 * first, each of them having handled a record of no data.
 */
static long
read_some(struct pair *p, int e, uint8_t *buf, size_t len, int *wants)
{
	char	 err[TALLY_ERRLEN];
	long	 n;
	int	 calls = 0;

	while ((n = tls_read(p->ssl[e], buf, len, err, sizeof err)) ==
	    TLS_WANT_READ) {
		if (p->relay != NULL)
			relay_drain(p->relay);
		ck_assert_int_lt(++calls, 100000);
	}
	ck_assert_msg(n != TLS_ERROR, "read: %s", err);
	if (wants != NULL)
		*wants = calls;
	return n;
}

/*
 * The server keeps its SSL once the handshake is done, as the client
 * does, and data moves both ways after; a handshake that is done stays
 * done.
 */
START_TEST(test_server_keeps_ssl)
{
	struct pair	 p;
	uint8_t		 in[64];

	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_msg(p.rc[0] == 0 && p.rc[1] == 0, "%s / %s", p.err[0],
	    p.err[1]);
	ck_assert_ptr_nonnull(tls_ssl(p.ssl[1]));
	ck_assert_ptr_nonnull(tls_ssl(p.ssl[0]));
	ck_assert(SSL_is_init_finished(tls_ssl(p.ssl[1])));
	ck_assert(tls_established(p.ssl[0]) && tls_established(p.ssl[1]));
	ck_assert_str_eq(tls_version(p.ssl[1]), "TLSv1.3");
	pair_move(&p, 0, (const uint8_t *)"to the server", in, 13);
	ck_assert(memcmp(in, "to the server", 13) == 0);
	pair_move(&p, 1, (const uint8_t *)"from it", in, 7);
	ck_assert(memcmp(in, "from it", 7) == 0);
	ck_assert_int_eq(tls_handshake(p.ssl[1], p.err[1], sizeof p.err[1]),
	    0);
	ck_assert_ptr_nonnull(tls_ssl(p.ssl[1]));
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

/*
 * A node without a key: the server refuses it and says why, and the
 * client hears that a certificate was required.
 */
START_TEST(test_no_client_key)
{
	struct pair	 p;
	uint8_t		 in[16];

	pair_open_via(&p, cli_nokey, srv, fp, NULL);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[1], TLS_ERROR);
	ck_assert_str_eq(p.err[1], "the peer presented no certificate (a "
	    "provider older than protocol 2?)");
	/* The client may think itself done before the alert comes. */
	if (p.rc[0] == 0)
		ck_assert_int_eq(tls_read(p.ssl[0], in, sizeof in, p.err[0],
		    sizeof p.err[0]), TLS_ERROR);
	ck_assert_msg(strstr(p.err[0], "certificate required") != NULL,
	    "%s", p.err[0]);
	ck_assert_int_eq(tls_peer_key(p.ssl[1], p.err[1], sizeof p.err[1]),
	    TALLY_ENOTFOUND);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

/* The server knows the node by its key's fingerprint, tls_node_key's. */
START_TEST(test_peer_key)
{
	struct pair		 p;
	struct ssl_ctx_st	*ctx;
	char			 got[FURL_FP_LEN + 1], err[TALLY_ERRLEN];
	char			 other[FIXTURE_PATH_MAX + 32];
	char			 ofp[FURL_FP_LEN + 1];

	pair_open(&p, srv, fp);
	ck_assert_int_eq(tls_peer_key(p.ssl[1], got, sizeof got),
	    TALLY_ENOTFOUND);
	pair_handshake(&p);
	ck_assert_msg(p.rc[0] == 0 && p.rc[1] == 0, "%s / %s", p.err[0],
	    p.err[1]);
	ck_assert_int_eq(tls_peer_key(p.ssl[1], got, sizeof got), 0);
	ck_assert_str_eq(got, nfp);
	ck_assert_uint_eq(strlen(got), FURL_FP_LEN);
	/* Not the certificate's fingerprint: the key's. */
	ck_assert_str_ne(got, fp);
	ck_assert_int_eq(tls_peer_key(p.ssl[1], got, FURL_FP_LEN),
	    TALLY_EINVAL);
	pair_close(&p);

	/* Another context of the same key: a new wrapper, the same node. */
	ck_assert_msg(tls_client_ctx(&ctx, nkey, err, sizeof err) == 0, "%s",
	    err);
	pair_open_via(&p, ctx, srv, fp, NULL);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	ck_assert_int_eq(tls_peer_key(p.ssl[1], got, sizeof got), 0);
	ck_assert_str_eq(got, nfp);
	pair_close(&p);
	tls_ctx_free(ctx);

	/* Another key: another node. */
	snprintf(other, sizeof other, "%s/other.key", dir);
	ck_assert_msg(tls_client_ctx(&ctx, other, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_int_eq(tls_node_key(other, ofp, sizeof ofp, err,
	    sizeof err), 0);
	pair_open_via(&p, ctx, srv, fp, NULL);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	ck_assert_int_eq(tls_peer_key(p.ssl[1], got, sizeof got), 0);
	ck_assert_str_eq(got, ofp);
	ck_assert_str_ne(got, nfp);
	pair_close(&p);
	tls_ctx_free(ctx);
}
END_TEST

/* KeyUpdates an OpenSSL end sends and receives, and the last one's ask. */
struct kucount {
	int	 sent, rcvd, requested;
};

static void
kucount_cb(int write_p, int version, int type, const void *buf, size_t len,
    SSL *ssl, void *arg)
{
	struct kucount	*k = arg;
	const uint8_t	*m = buf;

	if (type != SSL3_RT_HANDSHAKE || len < 5 || m[0] != SSL3_MT_KEY_UPDATE)
		return;
	if (write_p)
		k->sent++;
	else {
		k->rcvd++;
		k->requested = m[4];
	}
}

static void
kucount_watch(struct pair *p, struct kucount *k)
{
	SSL	*c;

	memset(k, 0, sizeof *k);
	k->requested = -1;
	ck_assert_ptr_nonnull(c = tls_ssl(p->ssl[0]));
	SSL_set_msg_callback(c, kucount_cb);
	SSL_set_msg_callback_arg(c, k);
}

/*
 * Records sent and queued before the server has read the client's
 * Finished wait in the socket, not inside the handshake, and reach the
 * server's reads after it: data, and a KeyUpdate ahead of it, which one
 * read handles alone.
 */
START_TEST(test_queued_at_finish)
{
	struct pair	 p;
	struct kucount	 k;
	char		 err[TALLY_ERRLEN];
	uint8_t		 in[64];
	int		 i, wants;

	pair_open(&p, srv, fp);
	for (i = 0; i < 100 && p.rc[0] != 0; i++) {
		p.rc[0] = tls_handshake(p.ssl[0], p.err[0], sizeof p.err[0]);
		ck_assert_msg(p.rc[0] != TLS_ERROR, "%s", p.err[0]);
		if (p.rc[0] == 0)
			break;
		p.rc[1] = tls_handshake(p.ssl[1], p.err[1], sizeof p.err[1]);
		ck_assert_msg(p.rc[1] != TLS_ERROR, "%s", p.err[1]);
	}
	ck_assert_int_eq(p.rc[0], 0);
	ck_assert_int_ne(p.rc[1], 0);
	kucount_watch(&p, &k);
	ck_assert_int_eq(SSL_key_update(tls_ssl(p.ssl[0]),
	    SSL_KEY_UPDATE_REQUESTED), 1);
	ck_assert_int_eq(tls_write(p.ssl[0], "queued", 6, err, sizeof err),
	    6);
	ck_assert_int_eq(k.sent, 1);

	pair_handshake(&p);
	ck_assert_msg(p.rc[1] == 0, "%s", p.err[1]);
	ck_assert_ptr_nonnull(tls_ssl(p.ssl[1]));
	ck_assert_int_eq(read_some(&p, 1, in, sizeof in, &wants), 6);
	ck_assert_int_eq(wants, 1);
	ck_assert(memcmp(in, "queued", 6) == 0);
	pair_move(&p, 1, (const uint8_t *)"answer", in, 6);
	ck_assert(memcmp(in, "answer", 6) == 0);
	ck_assert_int_eq(k.rcvd, 1);
	pair_close(&p);
}
END_TEST

/* The server's close_notify, after its data, reads as EOF at the client. */
START_TEST(test_server_close_notify)
{
	struct pair	 p;
	char		 err[TALLY_ERRLEN];
	uint8_t		 in[64];

	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	ck_assert_ptr_nonnull(tls_ssl(p.ssl[1]));
	pair_move(&p, 0, (const uint8_t *)"bye?", in, 4);
	ck_assert_int_eq(tls_write(p.ssl[1], "bye", 3, err, sizeof err), 3);
	tls_close_notify(p.ssl[1]);
	ck_assert_int_eq(tls_read(p.ssl[0], in, sizeof in, err, sizeof err),
	    3);
	ck_assert(memcmp(in, "bye", 3) == 0);
	ck_assert_msg(tls_read(p.ssl[0], in, sizeof in, err, sizeof err) == 0,
	    "%s", err);
	ck_assert_int_eq(tls_read(p.ssl[0], in, sizeof in, err, sizeof err),
	    0);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

/*
 * KeyUpdate from the client: the server's read key moves on, and when
 * asked, its write key too, after a KeyUpdate of its own (not asking)
 * ahead of its next record; when not asked, it sends none.
 */
START_TEST(test_key_update)
{
	struct pair	 p;
	struct kucount	 k;
	uint8_t		 in[64];
	SSL		*c;
	int		 i;

	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	kucount_watch(&p, &k);
	c = tls_ssl(p.ssl[0]);

	ck_assert_int_eq(SSL_key_update(c, SSL_KEY_UPDATE_REQUESTED), 1);
	pair_move(&p, 0, (const uint8_t *)"after the update", in, 16);
	ck_assert(memcmp(in, "after the update", 16) == 0);
	ck_assert_int_eq(k.sent, 1);
	ck_assert_int_eq(k.rcvd, 0);
	pair_move(&p, 1, (const uint8_t *)"and back", in, 8);
	ck_assert(memcmp(in, "and back", 8) == 0);
	ck_assert_int_eq(k.rcvd, 1);
	ck_assert_int_eq(k.requested, SSL_KEY_UPDATE_NOT_REQUESTED);

	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(SSL_key_update(c,
		    SSL_KEY_UPDATE_NOT_REQUESTED), 1);
		pair_move(&p, 0, (const uint8_t *)"unasked", in, 7);
		ck_assert(memcmp(in, "unasked", 7) == 0);
		pair_move(&p, 1, (const uint8_t *)"unanswered", in, 10);
		ck_assert(memcmp(in, "unanswered", 10) == 0);
		ck_assert_int_eq(k.sent, 2 + i);
		ck_assert_int_eq(k.rcvd, 1);
	}

	/*
	 * Two requests before the server reads: OpenSSL answers each as it
	 * reads it (RFC 8446 4.6.3 allows one answer for both, or two).
	 */
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(SSL_key_update(c, SSL_KEY_UPDATE_REQUESTED),
		    1);
		ck_assert_int_eq(SSL_do_handshake(c), 1);
	}
	ck_assert_int_eq(k.sent, 6);
	pair_move(&p, 0, (const uint8_t *)"twice", in, 5);
	ck_assert(memcmp(in, "twice", 5) == 0);
	pair_move(&p, 1, (const uint8_t *)"once", in, 4);
	ck_assert(memcmp(in, "once", 4) == 0);
	ck_assert_int_eq(k.rcvd, 3);
	ck_assert_int_eq(k.requested, SSL_KEY_UPDATE_NOT_REQUESTED);
	pair_move(&p, 1, (const uint8_t *)"again", in, 5);
	ck_assert_int_eq(k.rcvd, 3);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

/*
 * Each of TLS 1.3's three suites, as the client asks for it alone: the
 * server's OpenSSL seals and opens 100 KB each way with it, and updates
 * its keys.
 */
START_TEST(test_suites)
{
	static const char	*suites[] = { "TLS_AES_128_GCM_SHA256",
	    "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256" };
	struct ssl_ctx_st	*ctx;
	struct pair		 p;
	struct kucount		 k;
	char			 err[TALLY_ERRLEN];
	size_t			 len = 100 * 1024, i, s;
	uint8_t			*src, *dst;

	ck_assert_ptr_nonnull(src = malloc(len));
	ck_assert_ptr_nonnull(dst = malloc(len));
	for (i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 11));
	for (s = 0; s < sizeof suites / sizeof suites[0]; s++) {
		ck_assert_msg(tls_client_ctx(&ctx, nkey, err, sizeof err) == 0,
		    "%s", err);
		ck_assert_int_eq(SSL_CTX_set_ciphersuites(ctx, suites[s]), 1);
		pair_open_via(&p, ctx, srv, fp, NULL);
		pair_handshake(&p);
		ck_assert_msg(p.rc[0] == 0 && p.rc[1] == 0, "%s: %s / %s",
		    suites[s], p.err[0], p.err[1]);
		ck_assert_ptr_nonnull(tls_ssl(p.ssl[1]));
		ck_assert_str_eq(SSL_CIPHER_get_name(SSL_get_current_cipher(
		    tls_ssl(p.ssl[0]))), suites[s]);
		memset(dst, 0, len);
		pair_move(&p, 0, src, dst, len);
		ck_assert_msg(memcmp(src, dst, len) == 0, "%s", suites[s]);
		memset(dst, 0, len);
		pair_move(&p, 1, src, dst, len);
		ck_assert_msg(memcmp(src, dst, len) == 0, "%s", suites[s]);

		kucount_watch(&p, &k);
		ck_assert_int_eq(SSL_key_update(tls_ssl(p.ssl[0]),
		    SSL_KEY_UPDATE_REQUESTED), 1);
		pair_move(&p, 0, src, dst, 1000);
		ck_assert(memcmp(src, dst, 1000) == 0);
		pair_move(&p, 1, src + 1000, dst, 1000);
		ck_assert(memcmp(src + 1000, dst, 1000) == 0);
		ck_assert_int_eq(k.rcvd, 1);
		pair_close(&p);
		tls_ctx_free(ctx);
	}
	free(src);
	free(dst);
}
END_TEST

/* A connection through the relay, the relay shown to be transparent. */
static void
relay_open(struct pair *p)
{
	uint8_t	 in[64];

	pair_open_via(p, cli, srv, fp, &relay);
	pair_handshake(p);
	ck_assert_msg(p->rc[0] == 0 && p->rc[1] == 0, "%s / %s", p->err[0],
	    p->err[1]);
	ck_assert_ptr_nonnull(tls_ssl(p->ssl[1]));
	pair_move(p, 0, (const uint8_t *)"through", in, 7);
	ck_assert(memcmp(in, "through", 7) == 0);
	pair_move(p, 1, (const uint8_t *)"the relay", in, 9);
	ck_assert(memcmp(in, "the relay", 9) == 0);
	relay_drain(&relay);
	ck_assert_uint_eq(relay.len[0] + relay.len[1], 0);
}

/*
 * One bit flipped in a record to the server: it fails the record, says
 * why, sends one fatal alert (the client names it) and nothing after.
 */
START_TEST(test_relay_bad_mac)
{
	struct pair	 p;
	char		 err[TALLY_ERRLEN];
	uint8_t		 in[64];
	size_t		 back;

	relay_open(&p);
	/* A byte of the next record's ciphertext, past its header. */
	relay.flip = relay.got[0] + 5 + 3;
	ck_assert_int_eq(tls_write(p.ssl[0], "flipped", 7, err, sizeof err),
	    7);
	relay_drain(&relay);
	ck_assert_uint_gt(relay.got[0], relay.flip);
	back = relay.got[1];
	ck_assert_int_eq(tls_read(p.ssl[1], in, sizeof in, err, sizeof err),
	    TLS_ERROR);
	ck_assert_msg(strcasestr(err, "bad record mac") != NULL, "%s", err);
	ck_assert_int_eq(tls_write(p.ssl[1], "after", 5, err, sizeof err),
	    TLS_ERROR);
	ck_assert_int_eq(tls_read(p.ssl[1], in, sizeof in, err, sizeof err),
	    TLS_ERROR);
	tls_close_notify(p.ssl[1]);
	relay_drain(&relay);
	/* One record: the alert's 2 bytes, its content type, the tag. */
	ck_assert_uint_eq(relay.got[1] - back, 5 + 2 + 1 + 16);
	ck_assert_int_eq(tls_read(p.ssl[0], in, sizeof in, err, sizeof err),
	    TLS_ERROR);
	ck_assert_msg(strcasestr(err, "bad record mac") != NULL, "%s", err);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

/*
 * The server refuses what the relay brought, its error naming why, and the
 * client then reads the alert the server sent back, named by OpenSSL.
 */
static void
relay_refused(struct pair *p, const char *why, const char *alert)
{
	char	 err[TALLY_ERRLEN];
	uint8_t	 in[64];

	ck_assert_int_eq(tls_read(p->ssl[1], in, sizeof in, err, sizeof err),
	    TLS_ERROR);
	ck_assert_msg(strstr(err, why) != NULL, "%s", err);
	relay_drain(&relay);
	ck_assert_int_eq(tls_read(p->ssl[0], in, sizeof in, err, sizeof err),
	    TLS_ERROR);
	ck_assert_msg(strcasestr(err, alert) != NULL, "%s", err);
	ck_assert_uint_eq(ERR_peek_error(), 0);
}

/*
 * A header that claims more than 2^14 + 256 bytes is refused at once; one
 * that claims exactly that much is waited for.
 */
START_TEST(test_relay_overflow)
{
	struct pair	 p;
	char		 err[TALLY_ERRLEN];
	uint8_t		 in[64];

	relay_open(&p);
	relay_inject(&relay, 0, "\x17\x03\x03\x41\x00", 5);
	ck_assert_int_eq(tls_read(p.ssl[1], in, sizeof in, err, sizeof err),
	    TLS_WANT_READ);
	pair_close(&p);

	relay_open(&p);
	relay_inject(&relay, 0, "\x17\x03\x03\x41\x01", 5);
	ck_assert_int_eq(tls_read(p.ssl[1], in, sizeof in, err, sizeof err),
	    TLS_ERROR);
	ck_assert_msg(strstr(err, "length too long") != NULL, "%s", err);
	pair_close(&p);

	relay_open(&p);
	relay_inject(&relay, 0, "\x17\x03\x03\xff\xff", 5);
	relay_refused(&p, "length too long", "record overflow");
	pair_close(&p);
}
END_TEST

/* A plaintext alert after the handshake is refused, and told so. */
START_TEST(test_relay_unprotected)
{
	struct pair	 p;

	relay_open(&p);
	relay_inject(&relay, 0, "\x15\x03\x03\x00\x02\x01\x00", 7);
	relay_refused(&p, "bad record type", "unexpected message");
	pair_close(&p);
}
END_TEST

/*
 * Half a record, which the server waits for the rest of, then EOF: an EOF
 * like any other (the frames carry their own lengths, so a truncated
 * frame shows there), and nothing can be written after.
 */
START_TEST(test_relay_truncated)
{
	struct pair	 p;
	char		 err[TALLY_ERRLEN];
	uint8_t		 rec[256], in[64];
	ssize_t		 n;

	relay_open(&p);
	memset(rec, 'h', 64);
	ck_assert_int_eq(tls_write(p.ssl[0], rec, 64, err, sizeof err), 64);
	/* The relay takes the record in itself, and passes half of it on. */
	n = recv(relay.fd[0], rec, sizeof rec, 0);
	ck_assert_int_gt(n, 5 + 64);
	relay_inject(&relay, 0, rec, (size_t)n / 2);
	ck_assert_int_eq(tls_read(p.ssl[1], in, sizeof in, err, sizeof err),
	    TLS_WANT_READ);
	relay_cut(&relay, 1);
	ck_assert_int_eq(tls_read(p.ssl[1], in, sizeof in, err, sizeof err),
	    0);
	ck_assert_int_eq(tls_write(p.ssl[1], "x", 1, err, sizeof err),
	    TLS_ERROR);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

/*
 * A bare EOF between records, after the last data, is an EOF at the
 * server as it is at the client (SSL_OP_IGNORE_UNEXPECTED_EOF).
 */
START_TEST(test_relay_bare_eof)
{
	struct pair	 p;
	char		 err[TALLY_ERRLEN];
	uint8_t		 in[64];

	relay_open(&p);
	ck_assert_int_eq(tls_write(p.ssl[0], "last", 4, err, sizeof err), 4);
	relay_drain(&relay);
	relay_cut(&relay, 1);
	ck_assert_int_eq(tls_read(p.ssl[1], in, sizeof in, err, sizeof err),
	    4);
	ck_assert(memcmp(in, "last", 4) == 0);
	ck_assert_msg(tls_read(p.ssl[1], in, sizeof in, err, sizeof err) == 0,
	    "%s", err);
	ck_assert_int_eq(tls_read(p.ssl[1], in, sizeof in, err, sizeof err),
	    0);

	relay_cut(&relay, 0);
	ck_assert_msg(tls_read(p.ssl[0], in, sizeof in, err, sizeof err) == 0,
	    "%s", err);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

/* What the client can read now, appended at dst + *got; TLS_WANT_READ. */
static long
drain_client(struct pair *p, uint8_t *dst, size_t *got, size_t len)
{
	char	 err[TALLY_ERRLEN];
	long	 n;

	while ((n = tls_read(p->ssl[0], dst + *got, len - *got, err,
	    sizeof err)) > 0)
		*got += (size_t)n;
	ck_assert_msg(n != TLS_ERROR, "%s", err);
	return n;
}

/*
 * A server write the socket cannot take whole says TLS_WANT_WRITE, seals
 * nothing more while it waits, and once the client has read, the same
 * call reports the bytes of its record and of those that fit after it;
 * the stream arrives whole, in order.
 */
START_TEST(test_write_blocked)
{
	struct pair	 p;
	char		 err[TALLY_ERRLEN];
	size_t		 len = 4 << 20, sent = 0, got = 0, i;
	uint8_t		*src, *dst;
	long		 n;

	ck_assert_ptr_nonnull(src = malloc(len));
	ck_assert_ptr_nonnull(dst = malloc(len));
	for (i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 251 + (i >> 14));
	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	for (;;) {
		ck_assert_uint_lt(sent, len - 16384);
		n = tls_write(p.ssl[1], src + sent, len - sent, err,
		    sizeof err);
		if (n == TLS_WANT_WRITE)
			break;
		ck_assert_msg(n > 0, "%s", n == TLS_ERROR ? err : "?");
		ck_assert_int_le(n, 16384);
		sent += (size_t)n;
	}
	ck_assert_int_eq(tls_write(p.ssl[1], src + sent, len - sent, err,
	    sizeof err), TLS_WANT_WRITE);

	ck_assert_int_eq(drain_client(&p, dst, &got, len), TLS_WANT_READ);
	ck_assert_uint_eq(got, sent);
	/* The record under way, and as many more as fit (one, here). */
	n = tls_write(p.ssl[1], src + sent, len - sent, err, sizeof err);
	ck_assert_int_ge(n, 16384);
	ck_assert_int_eq(n % 16384, 0);
	sent += (size_t)n;
	ck_assert_int_eq(drain_client(&p, dst, &got, len), TLS_WANT_READ);
	ck_assert_uint_eq(got, sent);
	ck_assert(memcmp(src, dst, got) == 0);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
	free(src);
	free(dst);
}
END_TEST

/*
 * A KeyUpdate asked for while the server's write waits: the record under
 * way goes out under the old key, the answer before the next record.
 */
START_TEST(test_key_update_while_blocked)
{
	struct pair	 p;
	struct kucount	 k;
	char		 err[TALLY_ERRLEN];
	size_t		 len = 4 << 20, sent = 0, got = 0, i;
	uint8_t		*src, *dst, in[16];
	long		 n;

	ck_assert_ptr_nonnull(src = malloc(len));
	ck_assert_ptr_nonnull(dst = malloc(len));
	for (i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 13 + (i >> 10));
	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	kucount_watch(&p, &k);
	while ((n = tls_write(p.ssl[1], src + sent, len - sent, err,
	    sizeof err)) > 0) {
		ck_assert_uint_lt(sent, len - 2 * 16384);
		sent += (size_t)n;
	}
	ck_assert_int_eq(n, TLS_WANT_WRITE);

	ck_assert_int_eq(SSL_key_update(tls_ssl(p.ssl[0]),
	    SSL_KEY_UPDATE_REQUESTED), 1);
	ck_assert_int_eq(tls_write(p.ssl[0], "ku", 2, err, sizeof err), 2);
	ck_assert_int_eq(read_some(&p, 1, in, sizeof in, NULL), 2);
	ck_assert(memcmp(in, "ku", 2) == 0);

	ck_assert_int_eq(drain_client(&p, dst, &got, len), TLS_WANT_READ);
	n = tls_write(p.ssl[1], src + sent, len - sent, err, sizeof err);
	ck_assert_int_ge(n, 16384);
	ck_assert_int_eq(n % 16384, 0);
	sent += (size_t)n;
	ck_assert_int_eq(drain_client(&p, dst, &got, len), TLS_WANT_READ);
	ck_assert_uint_eq(got, sent);
	ck_assert_int_eq(k.rcvd, 0);
	ck_assert_int_eq(tls_write(p.ssl[1], src + sent, 1000, err,
	    sizeof err), 1000);
	sent += 1000;
	ck_assert_int_eq(drain_client(&p, dst, &got, len), TLS_WANT_READ);
	ck_assert_uint_eq(got, sent);
	ck_assert_int_eq(k.rcvd, 1);
	ck_assert(memcmp(src, dst, got) == 0);
	pair_close(&p);
	free(src);
	free(dst);
}
END_TEST

/* ---- what a peer can make the server's OpenSSL do ------------------------ */

/*
 * Records of the test's own making, in the client's name: its traffic
 * secret comes from the key log of a context of the test's, with
 * TLS_AES_128_GCM_SHA256 alone, and records are sealed here
 * (RFC 8446 5.2, 7.1, 7.3).
 */
static uint8_t	 ksecret[32];
static int	 ksecret_ok;

static void
keylog_cb(const SSL *ssl, const char *line)
{
	static const char	 label[] = "CLIENT_TRAFFIC_SECRET_0 ";
	const char		*hex;
	unsigned		 v;
	size_t			 i;

	if (strncmp(line, label, sizeof label - 1) != 0 ||
	    (hex = strchr(line + sizeof label - 1, ' ')) == NULL)
		return;
	for (i = 0, hex++; i < sizeof ksecret; i++, hex += 2) {
		ck_assert_int_eq(sscanf(hex, "%2x", &v), 1);
		ksecret[i] = (uint8_t)v;
	}
	ksecret_ok = 1;
}

/* HKDF-Expand-Label(secret, label, "", len) with SHA-256. */
static void
expand_label(const char *label, uint8_t *out, size_t len)
{
	EVP_KDF		*kdf;
	EVP_KDF_CTX	*kctx;
	OSSL_PARAM	 params[5];
	uint8_t		 info[64];
	size_t		 n = 0, ll = strlen(label);
	int		 mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;

	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;
	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    ksecret, sizeof ksecret);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    info, n);
	params[4] = OSSL_PARAM_construct_end();
	ck_assert_ptr_nonnull(kdf = EVP_KDF_fetch(NULL, "HKDF", NULL));
	ck_assert_ptr_nonnull(kctx = EVP_KDF_CTX_new(kdf));
	ck_assert_int_eq(EVP_KDF_derive(kctx, out, len, params), 1);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
}

/* One record of inner type type and len bytes, sealed at seq, sent. */
static void
send_sealed(int fd, uint64_t seq, uint8_t type, const void *data,
    size_t len)
{
	uint8_t		 wkey[16], iv[12], rec[5 + 64 + 1 + 16], inner[65];
	EVP_CIPHER_CTX	*c;
	int		 n, i, clen = (int)len + 1;

	ck_assert(ksecret_ok);
	ck_assert_uint_le(len, 64);
	expand_label("key", wkey, sizeof wkey);
	expand_label("iv", iv, sizeof iv);
	for (i = 0; i < 8; i++)
		iv[11 - i] ^= (uint8_t)(seq >> (8 * i));
	memcpy(inner, data, len);
	inner[len] = type;
	rec[0] = 0x17;
	rec[1] = rec[2] = 0x03;
	rec[3] = (uint8_t)((clen + 16) >> 8);
	rec[4] = (uint8_t)(clen + 16);
	ck_assert_ptr_nonnull(c = EVP_CIPHER_CTX_new());
	ck_assert_int_eq(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, wkey,
	    iv), 1);
	ck_assert_int_eq(EVP_EncryptUpdate(c, NULL, &n, rec, 5), 1);
	ck_assert_int_eq(EVP_EncryptUpdate(c, rec + 5, &n, inner, clen), 1);
	ck_assert_int_eq(n, clen);
	ck_assert_int_eq(EVP_EncryptFinal_ex(c, rec + 5 + clen, &n), 1);
	ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16,
	    rec + 5 + clen), 1);
	EVP_CIPHER_CTX_free(c);
	ck_assert_int_eq(send(fd, rec, (size_t)(5 + clen + 16), 0),
	    5 + clen + 16);
}

/* A pair whose client's records the test may forge from now on. */
static struct ssl_ctx_st *
forge_open(struct pair *p)
{
	struct ssl_ctx_st	*ctx;
	char			 err[TALLY_ERRLEN];

	ksecret_ok = 0;
	ck_assert_msg(tls_client_ctx(&ctx, nkey, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_int_eq(SSL_CTX_set_ciphersuites(ctx,
	    "TLS_AES_128_GCM_SHA256"), 1);
	SSL_CTX_set_keylog_callback(ctx, keylog_cb);
	pair_open_via(p, ctx, srv, fp, NULL);
	pair_handshake(p);
	ck_assert_msg(p->rc[0] == 0 && p->rc[1] == 0, "%s / %s", p->err[0],
	    p->err[1]);
	return ctx;
}

/*
 * Empty records of application data: ten are nothing, and the data after
 * them comes through; 33 in a row fail the connection (OpenSSL 3.0's
 * MAX_EMPTY_RECORDS is 32), so that nobody keeps a read busy with them.
 */
START_TEST(test_empty_records)
{
	struct pair		 p;
	struct ssl_ctx_st	*ctx;
	char			 err[TALLY_ERRLEN];
	uint8_t			 in[16];
	uint64_t		 seq;
	long			 n;
	int			 calls;

	ctx = forge_open(&p);
	for (seq = 0; seq < 10; seq++)
		send_sealed(p.fd[0], seq, 0x17, "", 0);
	send_sealed(p.fd[0], seq++, 0x17, "after", 5);
	ck_assert_int_eq(read_some(&p, 1, in, sizeof in, &calls), 5);
	ck_assert(memcmp(in, "after", 5) == 0);
	ck_assert_int_le(calls, 10);
	pair_move(&p, 1, (const uint8_t *)"still", in, 5);
	ck_assert(memcmp(in, "still", 5) == 0);
	pair_close(&p);
	tls_ctx_free(ctx);

	ctx = forge_open(&p);
	for (seq = 0; seq < 33; seq++)
		send_sealed(p.fd[0], seq, 0x17, "", 0);
	while ((n = tls_read(p.ssl[1], in, sizeof in, err, sizeof err)) ==
	    TLS_WANT_READ)
		continue;
	ck_assert_int_eq(n, TLS_ERROR);
	ck_assert_msg(strstr(err, "record too small") != NULL, "%s", err);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
	tls_ctx_free(ctx);
}
END_TEST

/*
 * A stream of KeyUpdates: each tls_read() on the server handles one and
 * returns, so the gatherer's bound on reads per event holds however many
 * are waiting; the data after them comes through under the last key.
 */
START_TEST(test_key_update_flood)
{
	struct pair	 p;
	char		 err[TALLY_ERRLEN];
	uint8_t		 in[16];
	SSL		*c;
	int		 i, calls;

	pair_open(&p, srv, fp);
	pair_handshake(&p);
	ck_assert_int_eq(p.rc[0] | p.rc[1], 0);
	c = tls_ssl(p.ssl[0]);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(SSL_key_update(c,
		    SSL_KEY_UPDATE_NOT_REQUESTED), 1);
		ck_assert_int_eq(SSL_do_handshake(c), 1);
	}
	ck_assert_int_eq(tls_write(p.ssl[0], "x", 1, err, sizeof err), 1);
	ck_assert_int_eq(read_some(&p, 1, in, sizeof in, &calls), 1);
	ck_assert_int_eq(in[0], 'x');
	ck_assert_int_eq(calls, 100);
	ck_assert(!tls_pending(p.ssl[1]));
	pair_move(&p, 1, (const uint8_t *)"back", in, 4);
	ck_assert(memcmp(in, "back", 4) == 0);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	pair_close(&p);
}
END_TEST

/*
 * fork() while a provider's thread is inside OpenSSL: the child's own
 * OpenSSL calls must not wait for the parent's thread.  A thread of the
 * test holds the provider's OpenSSL lock, as a provider does around each
 * call, and lets it go a moment after the main thread is told to fork;
 * the child then takes the lock itself.  Without the lock's fork handler
 * the child inherits it held whenever the fork falls in that moment, and
 * hangs (a child of a flooded provider once hung in BIO_new_fd).  A child
 * uses nothing of check's: the main thread may hold check's lock.
 */
struct fork_holder {
	int	 held, go;
};

static void *
fork_holder_main(void *arg)
{
	struct fork_holder	*h = arg;
	volatile unsigned	 spin;

	tls_fork_lock();
	__atomic_store_n(&h->held, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&h->go, __ATOMIC_ACQUIRE))
		;
	for (spin = 0; spin < 200000; spin++)
		;
	tls_fork_unlock();
	return NULL;
}

START_TEST(test_fork_inside_openssl)
{
	struct fork_holder	 h;
	pthread_t		 t;
	pid_t			 pid;
	double			 end;
	int			 i, status, hung = 0;

	for (i = 0; i < 50 && !hung; i++) {
		memset(&h, 0, sizeof h);
		ck_assert_int_eq(pthread_create(&t, NULL, fork_holder_main, &h),
		    0);
		while (!__atomic_load_n(&h.held, __ATOMIC_ACQUIRE))
			;
		__atomic_store_n(&h.go, 1, __ATOMIC_RELEASE);
		if ((pid = fork()) == 0) {
			tls_fork_lock();
			tls_fork_unlock();
			_exit(0);
		}
		pthread_join(t, NULL);
		ck_assert_int_gt(pid, 0);
		end = fixture_now() + 10.0;
		while (waitpid(pid, &status, WNOHANG) == 0) {
			if (fixture_now() > end) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				hung = 1;
				break;
			}
			poll(NULL, 0, 5);
		}
		ck_assert_msg(!hung, "fork %d: the child hung taking the lock "
		    "its parent's thread held at the fork", i);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}
END_TEST

int
main(void)
{
	/* Over 10x test_bulk's 1.6 s under ASan on a loaded machine. */
	const struct fixture_test	 tests[] = {
		{ "core", test_identity_files, 0, 60 },
		{ "core", test_identity_kept, 0, 60 },
		{ "core", test_server_ctx_errors, 0, 60 },
		{ "core", test_node_key_made, 0, 60 },
		{ "core", test_node_key_refused, 0, 60 },
		{ "core", test_node_key_race, 0, 60 },
		{ "core", test_pin_ok, 0, 60 },
		{ "core", test_pin_mismatch, 0, 60 },
		{ "core", test_bad_pin, 0, 60 },
		{ "core", test_tls12_refused, 0, 60 },
		{ "core", test_not_tls, 0, 60 },
		{ "core", test_bulk, 0, 60 },
		{ "core", test_eof_and_reset, 0, 60 },
		{ "core", test_server_keeps_ssl, 0, 60 },
		{ "core", test_no_client_key, 0, 60 },
		{ "core", test_peer_key, 0, 60 },
		{ "core", test_queued_at_finish, 0, 60 },
		{ "core", test_server_close_notify, 0, 60 },
		{ "core", test_key_update, 0, 60 },
		{ "core", test_suites, 0, 60 },
		{ "core", test_relay_bad_mac, 0, 60 },
		{ "core", test_relay_overflow, 0, 60 },
		{ "core", test_relay_unprotected, 0, 60 },
		{ "core", test_relay_truncated, 0, 60 },
		{ "core", test_relay_bare_eof, 0, 60 },
		{ "core", test_write_blocked, 0, 60 },
		{ "core", test_key_update_while_blocked, 0, 60 },
		{ "core", test_empty_records, 0, 60 },
		{ "core", test_key_update_flood, 0, 60 },
		{ "core", test_fork_inside_openssl, 0, 60 },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "core", setup, teardown, NULL, NULL },
	};

	return fixture_main("tls", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
