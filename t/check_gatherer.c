/*
 * check_gatherer.c: a real tallyd on loopback, spoken to over raw sockets,
 * inside TLS (the default) and again in plaintext (tallyd --plaintext):
 * the "tls" and "plain" cases run the same tests.
 *
 * Each test starts its own tallyd on a fresh BASEDIR (port 0, a 1 s
 * interval, timeouts no good client comes near) and learns port, secret
 * and fingerprint from the furl it prints.  Bad peers must get the right
 * ERROR and then an EOF; after each one a good client must still complete
 * HELLO -> WELCOME -> POLL -> SNAPSHOT and see its slot in the database,
 * while the bad peer's node id has none.  The "tls" case adds what only
 * TLS has: a man in the middle (a second tallyd with the victim's secret
 * and its own key) is refused by a real provider, a plaintext peer is
 * refused, the identity is kept across restarts and a new one makes a new
 * furl.  Waits poll a condition against a deadline; nothing sleeps to let
 * a race settle, and a state "in progress" is made so, never caught on
 * the way.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <pthread.h>

#include "tally-int.h"
#include "store-int.h"
#include "fixture.h"
#include "peer.h"

#define DEADLINE	10.0	/* seconds any single wait may take */

/*
 * tallyd's options.  The fixture's never time a good client out: a test
 * that stalls between two steps, or a machine busy with other work, must
 * not make a poll or a handshake late.  The tests of the timeouts restart
 * it with the short ones (tallyd_tighten), still over 10x what a good
 * client takes; the poll timeout is then its default, min(30, interval /
 * 2) = 0.5 s.  Tests say HELLO again for one node id at once (a duplicate,
 * a replacement, a resumed session), so the HELLO interval is 1 us here;
 * test_hello_interval restarts tallyd with one of its own.
 */
static const char *const tallyd_relaxed[] = { "-i", "1",
    "--handshake-timeout", "10", "--poll-timeout", "10", "--idle-timeout",
    "30", "--hello-interval", "0.000001", NULL };
static const char *const tallyd_tight[] = { "-i", "1",
    "--handshake-timeout", "1", "--idle-timeout", "3", "--hello-interval",
    "0.000001", NULL };
static const char *const *tallyd_opts;
static uint32_t	 interval_ms;	/* what WELCOME must say */

static char	 dir[FIXTURE_PATH_MAX];
static char	 basedir[FIXTURE_PATH_MAX + 16];
static char	 statsfile[FIXTURE_PATH_MAX + 32];
static char	 errlog[FIXTURE_PATH_MAX + 32];
static char	 furl_text[512];
static struct furl furl;
static pid_t	 tallyd_pid = -1;
static int	 good_serial;
static int	 use_tls;	/* this case's transport */
static struct ssl_ctx_st *client_ctx;

/* ---- the tallyd process -------------------------------------------------- */

/*
 * Start tallyd on base with the fixture's options plus extra
 * (NULL-terminated), its stderr appended to log; *pidp is its pid.  Returns
 * the read end of a pipe on its stdout.
 */
static int
tallyd_spawn(const char *base, const char *log, const char *const *extra,
    pid_t *pidp)
{
	const char	*bd = getenv("TALLY_BUILDDIR");
	const char	*const *o;
	const char	*argv[32];
	char		 path[FIXTURE_PATH_MAX + 16];
	size_t		 n = 0;
	int		 p[2], fd;
	pid_t		 pid;

	snprintf(path, sizeof path, "%s/tallyd", bd != NULL && *bd != '\0' ?
	    bd : ".");
	argv[n++] = path;
	for (o = tallyd_opts; *o != NULL; o++)
		argv[n++] = *o;
	if (!use_tls)
		argv[n++] = "--plaintext";
	/* Later options win: a test's own come last. */
	while (extra != NULL && *extra != NULL)
		argv[n++] = *extra++;
	argv[n++] = base;
	argv[n] = NULL;
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Die with the test, even when it fails before teardown. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], STDOUT_FILENO);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0)
			dup2(fd, STDERR_FILENO);
		close(p[0]);
		close(p[1]);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	*pidp = pid;
	return p[0];
}

/* Read the furl line from tallyd's stdout (fd, then closed) into text, f. */
static void
tallyd_read_furl(int fd, char *text, size_t size, struct furl *f)
{
	char	 err[TALLY_ERRLEN];
	size_t	 got = 0;
	double	 end = fixture_now() + DEADLINE;
	ssize_t	 r;

	text[0] = '\0';
	while (got == 0 || text[got - 1] != '\n') {
		struct pollfd pfd = { fd, POLLIN, 0 };
		double left = end - fixture_now();
		ck_assert_msg(left > 0, "tallyd printed no furl (got '%.*s')",
		    (int)got, text);
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		r = read(fd, text + got, size - 1 - got);
		ck_assert_msg(r > 0, "tallyd exited before its furl");
		got += (size_t)r;
		text[got] = '\0';
	}
	close(fd);
	text[got - 1] = '\0';
	ck_assert_msg(furl_parse(text, f, err, sizeof err) == 0, "%s: %s",
	    text, err);
}

/*
 * Start this case's tallyd with the fixture's options plus extra and read
 * the furl it prints.  Its stderr is appended to errlog.
 */
/* How many times the log (its first 256 KiB) says s. */
static int
log_count(const char *log, const char *s)
{
	static char	 buf[256 * 1024];
	const char	*p;
	ssize_t		 n;
	int		 fd, count = 0;

	if ((fd = open(log, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf; (p = strstr(p, s)) != NULL; p++)
		count++;
	return count;
}

/* How many times the log says tallyd listened: one line a start. */
static int
tallyd_starts(const char *log)
{
	return log_count(log, "tallyd: listening on ");
}

/*
 * tallyd prints its furl once, when it makes it: on a base that has one,
 * wait for it to listen and read the furl from its file instead.
 */
static void
tallyd_restarted(int fd, int before, char *text, size_t size,
    struct furl *f)
{
	char	 err[TALLY_ERRLEN], *line;
	double	 end = fixture_now() + DEADLINE;

	while (tallyd_starts(errlog) <= before) {
		ck_assert_msg(fixture_now() < end, "tallyd did not restart");
		ck_assert_msg(waitpid(tallyd_pid, NULL, WNOHANG) == 0,
		    "tallyd exited at its restart");
		fixture_pause();
	}
	close(fd);
	ck_assert_int_eq(nodedir_read_line(basedir, "stats_gatherer.furl",
	    &line, err, sizeof err), 0);
	snprintf(text, size, "%s", line);
	free(line);
	ck_assert_msg(furl_parse(text, f, err, sizeof err) == 0, "%s: %s",
	    text, err);
}

static void
tallyd_start(const char *const *extra)
{
	char	 path[FIXTURE_PATH_MAX + 64];
	int	 before = tallyd_starts(errlog), fd;

	snprintf(path, sizeof path, "%s/stats_gatherer.furl", basedir);
	if (access(path, F_OK) == 0) {
		fd = tallyd_spawn(basedir, errlog, extra, &tallyd_pid);
		tallyd_restarted(fd, before, furl_text, sizeof furl_text,
		    &furl);
	} else
		tallyd_read_furl(tallyd_spawn(basedir, errlog, extra,
		    &tallyd_pid), furl_text, sizeof furl_text, &furl);
	ck_assert_msg((furl.fingerprint[0] != '\0') == use_tls,
	    "a %s tallyd printed %s", use_tls ? "TLS" : "plaintext",
	    furl_text);
}

/* Wait for tallyd to exit; returns its wait status. */
static int
tallyd_wait(void)
{
	double	 end = fixture_now() + DEADLINE;
	int	 status;
	pid_t	 r;

	for (;;) {
		r = waitpid(tallyd_pid, &status, WNOHANG);
		if (r == tallyd_pid)
			break;
		ck_assert_msg(r == 0, "waitpid: %s", strerror(errno));
		ck_assert_msg(fixture_now() < end, "tallyd did not exit");
		fixture_pause();
	}
	tallyd_pid = -1;
	return status;
}

static void
tallyd_stop(void)
{
	int	 status;

	ck_assert_int_eq(kill(tallyd_pid, SIGTERM), 0);
	status = tallyd_wait();
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "tallyd exited with status 0x%x", status);
}

/* Restart tallyd, at the same address, with the short timeouts. */
static void
tallyd_tighten(void)
{
	tallyd_stop();
	tallyd_opts = tallyd_tight;
	tallyd_start((const char *const[]){ NULL });
}

/* Whether tallyd's stderr holds s. */
static int
logged(const char *s)
{
	struct stat	 sb;
	char		*buf;
	ssize_t		 n;
	int		 fd, found;

	/* The whole log: a long run's lines go past any fixed buffer. */
	if ((fd = open(errlog, O_RDONLY)) < 0)
		return 0;
	if (fstat(fd, &sb) != 0 || (buf = malloc((size_t)sb.st_size + 1)) ==
	    NULL) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, (size_t)sb.st_size);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	found = strstr(buf, s) != NULL;
	free(buf);
	return found;
}

/* Wait until tallyd's stderr holds s. */
static void
log_wait(const char *s)
{
	double	 end = fixture_now() + DEADLINE;

	while (!logged(s)) {
		ck_assert_msg(fixture_now() < end, "tallyd never logged '%s'",
		    s);
		fixture_pause();
	}
}

static void
setup(void)
{
	if (client_ctx == NULL) {
		char	 err[TALLY_ERRLEN], kdir[FIXTURE_PATH_MAX];
		char	 key[FIXTURE_PATH_MAX + 16];

		/* A node key, made there: the gatherer wants one. */
		ck_assert_ptr_nonnull(fixture_tmpdir(kdir));
		snprintf(key, sizeof key, "%s/node.key", kdir);
		ck_assert_msg(tls_client_ctx(&client_ctx, key, err,
		    sizeof err) == 0, "%s", err);
		fixture_rmtree(kdir);
	}
	/* Reset for each test: without fork, one process runs them all. */
	tallyd_opts = tallyd_relaxed;
	interval_ms = 1000;
	good_serial = 0;
	ck_assert_ptr_nonnull(fixture_tmpdir(dir));
	snprintf(basedir, sizeof basedir, "%s/base", dir);
	snprintf(statsfile, sizeof statsfile, "%s/stats", basedir);
	snprintf(errlog, sizeof errlog, "%s/tallyd.err", dir);
	tallyd_start((const char *const[]){ "-l", "127.0.0.1:0", NULL });
}

static void
setup_tls(void)
{
	use_tls = 1;
	setup();
}

static void
setup_plain(void)
{
	use_tls = 0;
	setup();
}

static void
teardown(void)
{
	if (tallyd_pid > 0) {
		kill(tallyd_pid, SIGKILL);
		waitpid(tallyd_pid, NULL, 0);
		tallyd_pid = -1;
	}
	fixture_rmtree(dir);
}

/* ---- the database ------------------------------------------------------- */

/* The text of the node's record (1) or of node/stat in db, or NULL. */
static const char *
db_get_in(const char *sf, enum store_db db, const char *node,
    const char *stat)
{
	static char		 out[512];
	struct store		*st;
	struct store_reader	 r;
	char			 err[TALLY_ERRLEN];
	MDB_val			 id, v;
	int			 rc = 0;

	if (store_open(&st, sf, STORE_RDONLY, err, sizeof err) != 0)
		return NULL;
	ck_assert_msg(store_reader_begin(st, &r, err, sizeof err) == 0, "%s",
	    err);
	if (db == STORE_NODES) {
		while ((rc = store_reader_next(&r, &id, &v)) == 1)
			if (id.mv_size == strlen(node) &&
			    memcmp(id.mv_data, node, id.mv_size) == 0)
				break;
	} else
		rc = store_reader_get(&r, db, node, strlen(node), stat,
		    strlen(stat), &v);
	if (rc == 1)
		snprintf(out, sizeof out, "%.*s", (int)v.mv_size,
		    (const char *)v.mv_data);
	store_reader_end(&r);
	store_close(st);
	return rc == 1 ? out : NULL;
}

static const char *
db_get(enum store_db db, const char *node, const char *stat)
{
	return db_get_in(statsfile, db, node, stat);
}

/* Wait until node/stat in db reads want. */
static void
db_wait(enum store_db db, const char *node, const char *stat,
    const char *want)
{
	double		 end = fixture_now() + DEADLINE;
	const char	*v;

	while ((v = db_get(db, node, stat)) == NULL || strcmp(v, want) != 0) {
		ck_assert_msg(fixture_now() < end, "%s/%s is '%s', not '%s'",
		    node, stat, v != NULL ? v : "(none)", want);
		fixture_pause();
	}
}

static void
assert_no_slot(const char *node)
{
	ck_assert_msg(db_get(STORE_NODES, node, NULL) == NULL,
	    "a slot was written for %s", node);
}

/* ---- a raw client ------------------------------------------------------- */

/* A client on a non-blocking socket, inside TLS if the case says so. */
struct client {
	int		 fd;
	struct tls	*ssl;
	struct wire_buf	 in;
	uint16_t	 port;		/* ours, for the source field */
};

/* A TCP connection to port; the caller then speaks plaintext or TLS. */
static void
cl_connect(struct client *c, const char *port)
{
	memset(c, 0, sizeof *c);
	wire_buf_init(&c->in);
	c->fd = peer_connect(atoi(port), &c->port);
}

/*
 * The TLS handshake, pinning fingerprint: 0, or TLS_ERROR with the reason
 * in err (the caller decides whether that is a failure).
 */
static int
cl_tls(struct client *c, const char *fingerprint, char *err, size_t errlen)
{
	double	 end = fixture_now() + DEADLINE;
	int	 rc;

	ck_assert_int_eq(tls_new(&c->ssl, client_ctx, c->fd, fingerprint, err,
	    errlen), 0);
	while ((rc = tls_handshake(c->ssl, err, errlen)) != 0) {
		if (rc == TLS_ERROR)
			return rc;
		peer_wait(c->fd, rc == TLS_WANT_READ ? POLLIN : POLLOUT, end);
	}
	return 0;
}

/* A connection in this case's transport, to this case's tallyd. */
static void
cl_open(struct client *c)
{
	char	 err[TALLY_ERRLEN];

	cl_connect(c, furl.port);
	if (use_tls)
		ck_assert_msg(cl_tls(c, furl.fingerprint, err, sizeof err) ==
		    0, "TLS handshake: %s", err);
}

/*
 * Over TLS, read the session ticket that the gatherer sends after the
 * handshake: a socket closed with bytes unread is reset, not closed, and
 * the gatherer would see a reset where a test wants it to see an EOF.
 */
static void
cl_read_ticket(struct client *c)
{
	double	 end = fixture_now() + DEADLINE;
	char	 err[TALLY_ERRLEN], buf[64];
	long	 n;

	if (c->ssl == NULL)
		return;
	peer_wait(c->fd, POLLIN, end);
	n = tls_read(c->ssl, buf, sizeof buf, err, sizeof err);
	ck_assert_msg(n == TLS_WANT_READ, "after the ticket: %ld (%s)", n,
	    err);
}

/* A plaintext connection, whatever the case. */
static void
cl_open_plain(struct client *c)
{
	cl_connect(c, furl.port);
}

static void
cl_close(struct client *c)
{
	tls_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	wire_buf_free(&c->in);
}

static void
cl_send(struct client *c, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	double		 end = fixture_now() + DEADLINE;
	char		 err[TALLY_ERRLEN];
	ssize_t		 n;
	long		 t;

	while (len > 0) {
		if (c->ssl != NULL) {
			t = tls_write(c->ssl, p, len, err, sizeof err);
			ck_assert_msg(t != TLS_ERROR, "TLS write: %s", err);
			if (t < 0) {
				peer_wait(c->fd, t == TLS_WANT_READ ? POLLIN :
				    POLLOUT, end);
				continue;
			}
			n = t;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN) {
				peer_wait(c->fd, POLLOUT, end);
				continue;
			}
			ck_assert_msg(n > 0, "send: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
cl_send_buf(struct client *c, struct wire_buf *b)
{
	cl_send(c, b->data, b->len);
	wire_buf_free(b);
}

static void
cl_hello(struct client *c, uint16_t version, const char *secret,
    const char *node, const char *nick)
{
	struct wire_buf		 b;
	struct wire_hello	 h;

	wire_buf_init(&b);
	memset(&h, 0, sizeof h);
	h.version = version;
	h.secret = secret;
	h.secret_len = strlen(secret);
	h.node_id = node;
	h.node_len = strlen(node);
	h.nickname = nick;
	h.nick_len = strlen(nick);
	ck_assert_int_eq(wire_put_hello(&b, &h), 0);
	cl_send_buf(c, &b);
}

/*
 * The next frame within the deadline: returns its type, with its payload
 * copied into payload (of size psize); -1 on EOF, -2 on a reset.
 */
static int
cl_frame(struct client *c, uint8_t *payload, size_t psize, size_t *plen,
    double seconds)
{
	const uint8_t	*p;
	double		 end = fixture_now() + seconds;
	char		 err[TALLY_ERRLEN];
	short		 want = POLLIN;
	uint8_t		 type;
	ssize_t		 n;
	long		 fl;

	for (;;) {
		fl = wire_frame(c->in.data, c->in.len, &type, &p, plen);
		ck_assert_msg(fl >= 0, "gatherer sent a bad frame");
		if (fl > 0) {
			ck_assert_uint_le(*plen, psize);
			memcpy(payload, p, *plen);
			wire_buf_consume(&c->in, (size_t)fl);
			return type;
		}
		if (c->ssl == NULL || !tls_pending(c->ssl)) {
			struct pollfd pfd = { c->fd, want, 0 };
			double left = end - fixture_now();
			ck_assert_msg(left > 0, "no frame from the gatherer "
			    "within %g s", seconds);
			if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
				continue;
		}
		ck_assert_int_eq(wire_buf_reserve(&c->in, 4096), 0);
		if (c->ssl != NULL) {
			n = tls_read(c->ssl, c->in.data + c->in.len, 4096, err,
			    sizeof err);
			if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
				want = n == TLS_WANT_READ ? POLLIN : POLLOUT;
				continue;
			}
			if (n == TLS_ERROR && strstr(err, "reset") != NULL)
				return -2;
			ck_assert_msg(n >= 0, "TLS read: %s", err);
		} else {
			n = recv(c->fd, c->in.data + c->in.len, 4096, 0);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n < 0 && errno == ECONNRESET)
				return -2;
			ck_assert_msg(n >= 0, "recv: %s", strerror(errno));
		}
		if (n == 0)
			return -1;
		want = POLLIN;
		c->in.len += (size_t)n;
	}
}

/* The gatherer closes: EOF, not a reset, and nothing more before it. */
static void
cl_expect_eof(struct client *c)
{
	uint8_t	 payload[512];
	size_t	 plen;
	int	 t;

	t = cl_frame(c, payload, sizeof payload, &plen, DEADLINE);
	ck_assert_msg(t == -1, "expected EOF, got %s",
	    t == -2 ? "a reset" : "a frame");
}

/* The next frame that is not a POLL is ERROR code, then EOF. */
static void
cl_expect_error(struct client *c, uint16_t code, double seconds)
{
	uint8_t		 payload[512];
	const char	*msg;
	char		 err[128];
	size_t		 plen, mlen;
	uint16_t	 got;
	int		 t;

	do
		t = cl_frame(c, payload, sizeof payload, &plen, seconds);
	while (t == WIRE_POLL);
	ck_assert_msg(t == WIRE_ERROR, "expected ERROR %u, got %d", code, t);
	ck_assert_msg(wire_get_error(payload, plen, &got, &msg, &mlen, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_msg(got == code, "expected ERROR %u, got %u (%.*s)", code,
	    got, (int)mlen, msg);
	cl_expect_eof(c);
}

/* HELLO, then WELCOME and the first POLL; returns the poll's seq. */
static uint32_t
cl_handshake(struct client *c, const char *node)
{
	uint8_t		 payload[512];
	const char	*msg;
	char		 err[128];
	size_t		 plen, mlen;
	uint32_t	 ms, seq;
	uint16_t	 version, code;
	int		 t;

	cl_hello(c, TALLY_PROTOCOL_VERSION, furl.secret, node, "nick");
	t = cl_frame(c, payload, sizeof payload, &plen, DEADLINE);
	if (t == WIRE_ERROR && wire_get_error(payload, plen, &code, &msg,
	    &mlen, err, sizeof err) == 0)
		ck_abort_msg("%s: ERROR %u (%.*s) instead of WELCOME", node,
		    code, (int)mlen, msg);
	ck_assert_int_eq(t, WIRE_WELCOME);
	ck_assert_int_eq(wire_get_welcome(payload, plen, &version, &ms, NULL,
	    err, sizeof err), 0);
	ck_assert_uint_eq(version, TALLY_PROTOCOL_VERSION);
	ck_assert_uint_eq(ms, interval_ms);
	/* The first poll comes right away (test_first_poll_at_once). */
	ck_assert_int_eq(cl_frame(c, payload, sizeof payload, &plen,
	    DEADLINE), WIRE_POLL);
	ck_assert_int_eq(wire_get_poll(payload, plen, &seq, err, sizeof err),
	    0);
	return seq;
}

/* A SNAPSHOT dated t, with counter x.count = value and x.load = 1.5. */
static void
cl_snapshot_at(struct client *c, uint32_t seq, int64_t value,
    const char *name, int64_t t)
{
	struct snapshot	 s;
	struct wire_buf	 b;

	snapshot_init(&s);
	wire_buf_init(&b);
	ck_assert_int_eq(snapshot_add_counter(&s, name, strlen(name), value),
	    0);
	ck_assert_int_eq(snapshot_add_stat(&s, "x.load", 6, 1.5), 0);
	ck_assert_int_eq(wire_put_snapshot(&b, seq, t, &s), 0);
	snapshot_free(&s);
	cl_send_buf(c, &b);
}

static void
cl_snapshot(struct client *c, uint32_t seq, int64_t value,
    const char *name)
{
	cl_snapshot_at(c, seq, value, name, (int64_t)time(NULL));
}

/*
 * A good client's whole round: handshake, poll, snapshot, and the slot in
 * the database with source "remote 127.0.0.1:<our port>".
 */
static void
good_round(void)
{
	struct client	 c;
	char		 node[32], want[64], value[16];
	const char	*rec;
	uint32_t	 seq;

	snprintf(node, sizeof node, "good-%d", ++good_serial);
	snprintf(value, sizeof value, "%d", 40 + good_serial);
	cl_open(&c);
	seq = cl_handshake(&c, node);
	cl_snapshot(&c, seq, 40 + good_serial, "x.count");
	db_wait(STORE_COUNTERS, node, "x.count", value);
	db_wait(STORE_STATS, node, "x.load", "1.5");
	rec = db_get(STORE_NODES, node, NULL);
	ck_assert_ptr_nonnull(rec);
	snprintf(want, sizeof want, "source=remote 127.0.0.1:%u\n", c.port);
	ck_assert_msg(strstr(rec, want) != NULL, "record '%s' lacks '%s'",
	    rec, want);
	ck_assert_msg(strstr(rec, "nickname=nick\n") != NULL, "%s", rec);
	cl_close(&c);
}

/* ---- bad first frames, table-driven ------------------------------------- */

struct bad_case {
	const char	*what;
	const char	*node;		/* the bad peer's claimed node id */
	uint16_t	 code;		/* the ERROR it must get */
	uint16_t	 version;	/* a HELLO with these ... */
	const char	*secret;	/* ... NULL: the furl's */
	const char	*nick;
	const uint8_t	*raw;		/* or these bytes */
	size_t		 rawlen;
};

static const uint8_t raw_http[] = "GET / HTTP/1.0\r\n\r\n";
static const uint8_t raw_huge[] = { 0x7f, 0xff, 0xff, 0xff, WIRE_HELLO };
static const uint8_t raw_zero[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t raw_type[] = { 0, 0, 0, 2, 0x77, 0 };
static const uint8_t raw_snap[] = { 0, 0, 0, 21, WIRE_SNAPSHOT,
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t raw_poll[] = { 0, 0, 0, 5, WIRE_POLL, 0, 0, 0, 1 };
static const uint8_t raw_short[] = { 0, 0, 0, 3, WIRE_HELLO, 0,
    TALLY_PROTOCOL_VERSION };
static const uint8_t raw_bighello[] = { 0, 0, 0x10, 0, WIRE_HELLO };

static const struct bad_case bad_cases[] = {
	{ "wrong secret", "bad-secret", WIRE_E_AUTH, TALLY_PROTOCOL_VERSION,
	    "abcdefghijklmnopqrstuvwxyz234567", "nick", NULL, 0 },
	{ "short secret", "bad-short", WIRE_E_AUTH, TALLY_PROTOCOL_VERSION,
	    "x", "nick", NULL, 0 },
	{ "version 1 (older)", "bad-version", WIRE_E_VERSION, 1, NULL, "nick",
	    NULL, 0 },
	{ "a newer version", "bad-version", WIRE_E_VERSION,
	    TALLY_PROTOCOL_VERSION + 1, NULL, "nick", NULL, 0 },
	{ "invalid node id", "Bad Node!", WIRE_E_NAME, TALLY_PROTOCOL_VERSION,
	    NULL, "nick", NULL, 0 },
	{ "invalid nickname", "bad-nick", WIRE_E_NAME, TALLY_PROTOCOL_VERSION,
	    NULL, "a\nb", NULL, 0 },
	{ "garbage", "none", WIRE_E_TOO_BIG, 0, NULL, NULL, raw_http,
	    sizeof raw_http - 1 },
	{ "oversized length", "none", WIRE_E_TOO_BIG, 0, NULL, NULL, raw_huge,
	    sizeof raw_huge },
	{ "zero length", "none", WIRE_E_MALFORMED, 0, NULL, NULL, raw_zero,
	    sizeof raw_zero },
	{ "unknown type", "none", WIRE_E_MALFORMED, 0, NULL, NULL, raw_type,
	    sizeof raw_type },
	{ "SNAPSHOT before HELLO", "none", WIRE_E_UNEXPECTED, 0, NULL, NULL,
	    raw_snap, sizeof raw_snap },
	{ "POLL from a provider", "none", WIRE_E_UNEXPECTED, 0, NULL, NULL,
	    raw_poll, sizeof raw_poll },
	{ "truncated HELLO payload", "none", WIRE_E_MALFORMED, 0, NULL, NULL,
	    raw_short, sizeof raw_short },
	{ "HELLO too big before the handshake", "none", WIRE_E_TOO_BIG, 0,
	    NULL, NULL, raw_bighello, sizeof raw_bighello },
};

START_TEST(test_bad_first_frame)
{
	const struct bad_case	*bc = &bad_cases[_i];
	struct client		 c;

	cl_open(&c);
	if (bc->raw != NULL)
		cl_send(&c, bc->raw, bc->rawlen);
	else
		cl_hello(&c, bc->version, bc->secret != NULL ? bc->secret :
		    furl.secret, bc->node, bc->nick);
	cl_expect_error(&c, bc->code, DEADLINE);
	cl_close(&c);
	good_round();
	assert_no_slot(bc->node);
	/* The secret is a capability: no log line quotes it. */
	ck_assert_msg(!logged(furl.secret), "%s: the secret was logged",
	    bc->what);
}
END_TEST

/* ---- the other failures ------------------------------------------------- */

START_TEST(test_truncated_then_close)
{
	static const uint8_t	 part[] = { 0, 0, 0, 100, WIRE_HELLO, 0, 1 };
	struct client		 c;

	cl_open(&c);
	cl_read_ticket(&c);
	cl_send(&c, part, sizeof part);
	cl_close(&c);
	log_wait("closed in the middle of a frame (7 bytes of it)");
	good_round();
}
END_TEST

START_TEST(test_invalid_stat_name)
{
	struct client	 c;
	uint32_t	 seq;

	cl_open(&c);
	seq = cl_handshake(&c, "bad-stat");
	cl_snapshot(&c, seq, 1, "bad name!");
	cl_expect_error(&c, WIRE_E_NAME, DEADLINE);
	cl_close(&c);
	good_round();
	assert_no_slot("bad-stat");
}
END_TEST

START_TEST(test_wrong_seq)
{
	struct client	 c;
	uint32_t	 seq;

	cl_open(&c);
	seq = cl_handshake(&c, "bad-seq");
	cl_snapshot(&c, seq + 1, 1, "x.count");
	cl_expect_error(&c, WIRE_E_UNEXPECTED, DEADLINE);
	cl_close(&c);
	good_round();
	assert_no_slot("bad-seq");
}
END_TEST

START_TEST(test_second_hello)
{
	struct client	 c;

	cl_open(&c);
	cl_handshake(&c, "twice");
	cl_hello(&c, TALLY_PROTOCOL_VERSION, furl.secret, "twice", "nick");
	cl_expect_error(&c, WIRE_E_UNEXPECTED, DEADLINE);
	cl_close(&c);
	good_round();
	assert_no_slot("twice");
}
END_TEST

START_TEST(test_duplicate_node)
{
	struct client	 a, b;
	uint32_t	 seq;
	char		 want[64];
	const char	*rec;

	cl_open(&a);
	cl_handshake(&a, "dup");
	cl_open(&b);
	seq = cl_handshake(&b, "dup");
	/* The newer connection wins; the older hears why and is closed. */
	cl_expect_error(&a, WIRE_E_REPLACED, DEADLINE);
	cl_close(&a);
	cl_snapshot(&b, seq, 7, "x.count");
	db_wait(STORE_COUNTERS, "dup", "x.count", "7");
	rec = db_get(STORE_NODES, "dup", NULL);
	ck_assert_ptr_nonnull(rec);
	snprintf(want, sizeof want, "source=remote 127.0.0.1:%u\n", b.port);
	ck_assert_msg(strstr(rec, want) != NULL, "%s", rec);
	ck_assert(logged("replaced by a newer connection"));
	cl_close(&b);
	good_round();
}
END_TEST

START_TEST(test_stall_mid_frame)
{
	struct client	 c;
	struct wire_buf	 b;
	struct wire_hello h = { TALLY_PROTOCOL_VERSION, NULL, 0, "stall", 5,
	    "nick", 4 };
	double		 t0;

	tallyd_tighten();
	h.secret = furl.secret;
	h.secret_len = strlen(furl.secret);
	wire_buf_init(&b);
	ck_assert_int_eq(wire_put_hello(&b, &h), 0);
	/*
	 * --handshake-timeout 1, counted from the accept: t0 comes before
	 * the connect, so no delay of ours can make the timeout look early.
	 */
	t0 = fixture_now();
	cl_open(&c);
	cl_send(&c, b.data, 10);
	wire_buf_free(&b);
	cl_expect_error(&c, WIRE_E_TIMEOUT, DEADLINE);
	ck_assert_msg(fixture_now() - t0 >= 0.9, "timed out after %g s",
	    fixture_now() - t0);
	cl_close(&c);
	good_round();
	assert_no_slot("stall");
}
END_TEST

START_TEST(test_poll_timeout)
{
	struct client	 c;
	double		 t0;

	/*
	 * The poll timeout is min(30, interval / 2) = 0.5 s, counted from
	 * the poll, which only comes after our HELLO: t0 before it.
	 */
	tallyd_tighten();
	cl_open(&c);
	t0 = fixture_now();
	cl_handshake(&c, "mute");
	cl_expect_error(&c, WIRE_E_TIMEOUT, DEADLINE);
	ck_assert_msg(fixture_now() - t0 >= 0.4, "timed out after %g s",
	    fixture_now() - t0);
	ck_assert(logged("poll 1 unanswered"));
	cl_close(&c);
	good_round();
	assert_no_slot("mute");
}
END_TEST

/*
 * An answer that waits in tallyd's socket when the poll's deadline passes
 * is read, not timed out: tallyd is stopped (SIGSTOP) before the answer
 * is sent and until the deadline is past, so that on SIGCONT both are due
 * at once, whatever the machine's load.
 */
START_TEST(test_poll_answered_late)
{
	struct client	 c;
	uint32_t	 seq;
	double		 until;

	tallyd_tighten();		/* a poll timeout of 0.5 s */
	cl_open(&c);
	seq = cl_handshake(&c, "late");
	ck_assert_int_eq(kill(tallyd_pid, SIGSTOP), 0);
	cl_snapshot(&c, seq, 7, "x.count");
	/* The poll went out before we read it: its deadline is before this. */
	until = fixture_now() + 1.0;
	while (fixture_now() < until)
		fixture_pause();
	ck_assert_int_eq(kill(tallyd_pid, SIGCONT), 0);
	db_wait(STORE_COUNTERS, "late", "x.count", "7");
	ck_assert_msg(!logged("unanswered"), "tallyd timed out an answer "
	    "waiting in its socket");
	cl_close(&c);
}
END_TEST

/*
 * A node is quiet between polls: a gatherer whose loop was late past the
 * idle timeout polls it on waking, and does not close it as idle.  tallyd
 * is stopped (SIGSTOP) right after it has read an answer, while no poll
 * is on its way, until its next poll and the idle deadline (-i 1,
 * --idle-timeout 3) are both past, whatever the machine's load.
 */
START_TEST(test_idle_after_late_loop)
{
	struct client	 c;
	struct pollfd	 pfd;
	uint8_t		 payload[64];
	char		 err[128], value[16];
	size_t		 plen;
	uint32_t	 seq;
	int		 n = 0;
	double		 until;

	tallyd_tighten();
	cl_open(&c);
	seq = cl_handshake(&c, "napping");
	for (;;) {
		cl_snapshot(&c, seq, ++n, "x.count");
		snprintf(value, sizeof value, "%d", n);
		db_wait(STORE_COUNTERS, "napping", "x.count", value);
		ck_assert_int_eq(kill(tallyd_pid, SIGSTOP), 0);
		/* No poll on its way, or the next answer would be late. */
		pfd.fd = c.fd;
		pfd.events = POLLIN;
		if ((c.ssl == NULL || !tls_pending(c.ssl)) && c.in.len == 0 &&
		    poll(&pfd, 1, 0) == 0)
			break;
		ck_assert_int_eq(kill(tallyd_pid, SIGCONT), 0);
		ck_assert_int_eq(cl_frame(&c, payload, sizeof payload, &plen,
		    DEADLINE), WIRE_POLL);
		ck_assert_int_eq(wire_get_poll(payload, plen, &seq, err,
		    sizeof err), 0);
	}
	/* Its last byte from us is before this: idle deadline and poll due. */
	until = fixture_now() + 3.5;
	while (fixture_now() < until)
		fixture_pause();
	ck_assert_int_eq(kill(tallyd_pid, SIGCONT), 0);
	ck_assert_int_eq(cl_frame(&c, payload, sizeof payload, &plen,
	    DEADLINE), WIRE_POLL);
	ck_assert_int_eq(wire_get_poll(payload, plen, &seq, err, sizeof err),
	    0);
	cl_snapshot(&c, seq, ++n, "x.count");
	snprintf(value, sizeof value, "%d", n);
	db_wait(STORE_COUNTERS, "napping", "x.count", value);
	ck_assert_msg(!logged("idle for"), "tallyd closed a node as idle "
	    "that it had not polled");
	cl_close(&c);
}
END_TEST

/* A node that stops in the middle of its SNAPSHOT is timed out too. */
START_TEST(test_stall_mid_snapshot)
{
	static const uint8_t	 part[] = { 0, 0, 1, 0, WIRE_SNAPSHOT, 0, 0 };
	struct client		 c;

	tallyd_tighten();
	cl_open(&c);
	cl_handshake(&c, "half");
	cl_send(&c, part, sizeof part);
	cl_expect_error(&c, WIRE_E_TIMEOUT, DEADLINE);
	cl_close(&c);
	good_round();
	assert_no_slot("half");
}
END_TEST

/*
 * A snapshot dated outside the sane window (before 2000, more than a day
 * ahead) is dated by tallyd's clock instead, and said once.
 */
START_TEST(test_snapshot_time_hostile)
{
	static const int64_t	 bad[] = { INT64_MAX, INT64_MIN, 4102444800LL,
				     -1, 0, 946684799LL };
	struct client		 c;
	struct record_node	 rn;
	uint8_t			 payload[64];
	char			 err[128], want[32];
	const char		*rec;
	size_t			 plen, i;
	uint32_t		 seq;
	int64_t			 t0;

	cl_open(&c);
	seq = cl_handshake(&c, "clock");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t0 = (int64_t)time(NULL);
		cl_snapshot_at(&c, seq, (int64_t)i + 1, "x.count", bad[i]);
		snprintf(want, sizeof want, "%zu", i + 1);
		db_wait(STORE_COUNTERS, "clock", "x.count", want);
		ck_assert_ptr_nonnull(rec = db_get(STORE_NODES, "clock",
		    NULL));
		ck_assert_int_eq(record_node_parse(rec, strlen(rec), &rn, err,
		    sizeof err), 0);
		ck_assert_msg(rn.time >= t0 && rn.time <= (int64_t)time(NULL),
		    "time %lld sent, %lld stored", (long long)bad[i],
		    (long long)rn.time);
		ck_assert_int_eq(cl_frame(&c, payload, sizeof payload, &plen,
		    DEADLINE), WIRE_POLL);
		ck_assert_int_eq(wire_get_poll(payload, plen, &seq, err,
		    sizeof err), 0);
	}
	/* A sane time is the node's own, even a day ahead. */
	t0 = (int64_t)time(NULL) + 86000;
	cl_snapshot_at(&c, seq, 100, "x.count", t0);
	db_wait(STORE_COUNTERS, "clock", "x.count", "100");
	ck_assert_ptr_nonnull(rec = db_get(STORE_NODES, "clock", NULL));
	ck_assert_int_eq(record_node_parse(rec, strlen(rec), &rn, err,
	    sizeof err), 0);
	ck_assert_int_eq(rn.time, t0);
	ck_assert(logged("out of range"));
	cl_close(&c);
}
END_TEST

/* Polls keep coming, one an interval, and each answer lands. */
START_TEST(test_polls_repeat)
{
	struct client	 c;
	uint8_t		 payload[64];
	char		 err[128];
	size_t		 plen;
	uint32_t	 seq, next;
	int		 i;

	cl_open(&c);
	seq = cl_handshake(&c, "steady");
	for (i = 1; i <= 3; i++) {
		cl_snapshot(&c, seq, i, "x.count");
		ck_assert_int_eq(cl_frame(&c, payload, sizeof payload, &plen,
		    DEADLINE), WIRE_POLL);
		ck_assert_int_eq(wire_get_poll(payload, plen, &next, err,
		    sizeof err), 0);
		ck_assert_uint_eq(next, seq + 1);
		seq = next;
	}
	db_wait(STORE_COUNTERS, "steady", "x.count", "3");
	cl_close(&c);
}
END_TEST

/* A SNAPSHOT of stats s.0, s.1, ... with these values; waits for its POLL. */
static uint32_t
cl_stats(struct client *c, uint32_t seq, const double *v, size_t n)
{
	struct snapshot	 s;
	struct wire_buf	 b;
	uint8_t		 payload[64];
	char		 name[32], err[128];
	size_t		 i, plen;

	snapshot_init(&s);
	wire_buf_init(&b);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "s.%zu", i);
		ck_assert_int_eq(snapshot_add_stat(&s, name, strlen(name),
		    v[i]), 0);
	}
	ck_assert_int_eq(wire_put_snapshot(&b, seq, (int64_t)time(NULL), &s),
	    0);
	snapshot_free(&s);
	cl_send_buf(c, &b);
	ck_assert_int_eq(cl_frame(c, payload, sizeof payload, &plen,
	    DEADLINE), WIRE_POLL);
	ck_assert_int_eq(wire_get_poll(payload, plen, &seq, err, sizeof err),
	    0);
	return seq;
}

/* Wait until every s.I of node reads back as v[I], bit for bit. */
static void
db_wait_stats(const char *node, const double *v, size_t n)
{
	double		 end = fixture_now() + DEADLINE, back;
	const char	*t;
	char		 name[32];
	size_t		 i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "s.%zu", i);
		while ((t = db_get(STORE_STATS, node, name)) == NULL ||
		    record_parse_double(t, strlen(t), &back) != 0 ||
		    !(memcmp(&back, &v[i], sizeof back) == 0 ||
		    (isnan(back) && isnan(v[i])))) {
			ck_assert_msg(fixture_now() < end, "%s/%s is '%s', "
			    "not %.17g", node, name, t != NULL ? t : "(none)",
			    v[i]);
			fixture_pause();
		}
	}
}

/*
 * A value a node repeats is not formatted again (tallyd -v says how many
 * stats a commit formatted), and what changed lands bit for bit: a value
 * of 17 digits, a short decimal, a NaN, the smallest subnormal.
 */
START_TEST(test_formatted_once)
{
	static const double first[] = { 0.1 + 0.2, 1.0 / 3, 2.5, NAN,
	    4.9406564584124654e-324, -1e-7 };
	static const double second[] = { 0.1 + 0.2, 2.0 / 3, 2.5, NAN,
	    -4.9406564584124654e-324, -1e-7 };
	struct client	 c;
	uint32_t	 seq, next;

	tallyd_stop();
	tallyd_start((const char *const[]){ "-v", NULL });
	cl_open(&c);
	seq = cl_handshake(&c, "texts");
	next = cl_stats(&c, seq, first, FIXTURE_N(first));
	log_wait("committed 1 snapshots (6 samples, 6 stats formatted)");
	db_wait_stats("texts", first, FIXTURE_N(first));
	seq = next;
	next = cl_stats(&c, seq, second, FIXTURE_N(second));
	log_wait("committed 1 snapshots (6 samples, 2 stats formatted)");
	db_wait_stats("texts", second, FIXTURE_N(second));
	/* Nothing changed: nothing formatted, nothing lost. */
	seq = next;
	cl_stats(&c, seq, second, FIXTURE_N(second));
	log_wait("committed 1 snapshots (6 samples, 0 stats formatted)");
	db_wait_stats("texts", second, FIXTURE_N(second));
	cl_close(&c);
}
END_TEST

/*
 * The first poll comes right after WELCOME, not an interval (nor half of
 * one) later: with an hour's interval, it comes within DEADLINE.
 */
START_TEST(test_first_poll_at_once)
{
	struct client	 c;
	uint32_t	 seq;

	tallyd_stop();
	tallyd_start((const char *const[]){ "-i", "3600", "--idle-timeout",
	    "7200", NULL });
	interval_ms = 3600 * 1000;
	cl_open(&c);
	seq = cl_handshake(&c, "prompt");
	cl_snapshot(&c, seq, 1, "x.count");
	db_wait(STORE_COUNTERS, "prompt", "x.count", "1");
	cl_close(&c);
}
END_TEST

START_TEST(test_sigterm_commits)
{
	struct client	 c;
	uint32_t	 seq;
	int		 status;

	cl_open(&c);
	seq = cl_handshake(&c, "last-words");
	cl_snapshot(&c, seq, 99, "x.count");
	ck_assert_int_eq(kill(tallyd_pid, SIGTERM), 0);
	cl_expect_error(&c, WIRE_E_SHUTDOWN, DEADLINE);
	status = tallyd_wait();
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "tallyd exited with status 0x%x", status);
	ck_assert_str_eq(db_get(STORE_COUNTERS, "last-words", "x.count"),
	    "99");
	cl_close(&c);
}
END_TEST

START_TEST(test_furl_file)
{
	static const char *const none[] = { NULL };
	struct furl	 first = furl, f;
	struct stat	 sb;
	char		 path[FIXTURE_PATH_MAX + 64], err[128], *line;

	snprintf(path, sizeof path, "%s/stats_gatherer.furl", basedir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	ck_assert_int_eq(nodedir_read_line(basedir, "stats_gatherer.furl",
	    &line, err, sizeof err), 0);
	ck_assert_str_eq(line, furl_text);
	free(line);
	ck_assert_str_eq(furl.host, "127.0.0.1");
	ck_assert_uint_ge(strlen(furl.secret), WIRE_SECRET_MIN);

	/* A restart without -l: the same secret and the same address. */
	tallyd_stop();
	tallyd_start(none);
	ck_assert_str_eq(furl.secret, first.secret);
	ck_assert_str_eq(furl.port, first.port);
	good_round();

	/* With another -l: the same secret, the new address, rewritten. */
	tallyd_stop();
	tallyd_start((const char *const[]){ "--listen", "127.0.0.1:0",
	    NULL });
	ck_assert_str_eq(furl.secret, first.secret);
	ck_assert_int_eq(nodedir_read_line(basedir, "stats_gatherer.furl",
	    &line, err, sizeof err), 0);
	ck_assert_str_eq(line, furl_text);
	ck_assert_int_eq(furl_parse(line, &f, err, sizeof err), 0);
	ck_assert_str_eq(f.port, furl.port);
	free(line);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	good_round();
}
END_TEST

START_TEST(test_busy)
{
	struct client	 a, b;
	uint32_t	 seq;

	tallyd_stop();
	tallyd_start((const char *const[]){ "-l", "127.0.0.1:0",
	    "--max-connections", "1", NULL });
	cl_open(&a);
	seq = cl_handshake(&a, "only");
	if (use_tls) {
		char	 err[TALLY_ERRLEN];

		/* Refused before the TLS handshake, its costly part. */
		cl_connect(&b, furl.port);
		ck_assert_int_eq(cl_tls(&b, furl.fingerprint, err,
		    sizeof err), TLS_ERROR);
		log_wait("connections is the limit (1 refused since the "
		    "last such line)");
	} else {
		cl_open(&b);
		cl_expect_error(&b, WIRE_E_BUSY, DEADLINE);
	}
	cl_close(&b);
	/* The connection inside is untouched. */
	cl_snapshot(&a, seq, 5, "x.count");
	db_wait(STORE_COUNTERS, "only", "x.count", "5");
	cl_close(&a);
	log_wait("disconnected node only");
	good_round();
}
END_TEST

START_TEST(test_idle_timeout)
{
	struct client	 c;

	tallyd_stop();
	tallyd_start((const char *const[]){ "-l", "127.0.0.1:0",
	    "--handshake-timeout", "30", "--idle-timeout", "0.5", NULL });
	cl_open(&c);
	cl_expect_error(&c, WIRE_E_TIMEOUT, DEADLINE);
	log_wait("idle for 0.5 s");
	cl_close(&c);
}
END_TEST

/* The gatherer's own stats land in the same database. */
START_TEST(test_own_stats)
{
	char		 err[128], *id;
	const char	*v;
	double		 end;

	good_round();
	ck_assert_int_eq(nodedir_read_line(basedir, "node.id", &id, err,
	    sizeof err), 0);
	end = fixture_now() + DEADLINE;
	while ((v = db_get(STORE_COUNTERS, id, "tallyd.snapshots")) == NULL ||
	    strcmp(v, "0") == 0) {
		ck_assert_msg(fixture_now() < end, "no tallyd.snapshots");
		fixture_pause();
	}
	ck_assert_ptr_nonnull(db_get(STORE_COUNTERS, id,
	    "tallyd.connections"));
	ck_assert_ptr_nonnull(db_get(STORE_COUNTERS, id, "tallyd.commits"));
	ck_assert_ptr_nonnull(db_get(STORE_STATS, id, "tallyd.connected"));
	ck_assert_ptr_nonnull(db_get(STORE_STATS, id,
	    "tallyd.commit_latency_seconds"));
	ck_assert_ptr_nonnull(strstr(db_get(STORE_NODES, id, NULL),
	    "nickname=tallyd\n"));
	free(id);
	log_wait("connected node good-1 (nick) from 127.0.0.1:");
	log_wait("disconnected node good-1 (nick) from 127.0.0.1:");
}
END_TEST

/* ---- TLS ---------------------------------------------------------------- */

/* A provider of libtally in this process, its log lines kept. */
static tally_provider *
provider_start(const char *node, const char *furl_line)
{
	static char	 key[FIXTURE_PATH_MAX + 96];
	tally_options	 opt;
	tally_provider	*p;

	fixture_log_clear();
	memset(&opt, 0, sizeof opt);
	opt.node_id = node;
	opt.nickname = node;
	opt.gatherer_furl = furl_line;
	opt.flags = TALLY_F_NO_MONITORS;
	opt.log = fixture_log;
	/* Each node its own key, made on first use in the case's dir. */
	snprintf(key, sizeof key, "%s/%s.key", dir, node);
	opt.key_file = key;
	ck_assert_int_eq(tally_provider_new(&p, &opt), 0);
	ck_assert_int_eq(tally_count(p, "x.count", 3), 0);
	ck_assert_int_eq(tally_provider_start(p), 0);
	return p;
}

/* A provider with the right furl lands in the database over TLS. */
START_TEST(test_provider_tls)
{
	tally_provider	*p = provider_start("prov-ok", furl_text);

	db_wait(STORE_COUNTERS, "prov-ok", "x.count", "3");
	ck_assert(fixture_log_has(": connected"));
	tally_provider_free(p);
	log_wait("disconnected node prov-ok");
}
END_TEST

/* A wrong secret over TLS: the provider says why, and nothing lands. */
START_TEST(test_provider_wrong_secret)
{
	tally_provider	*p;
	struct furl	 f = furl;
	char		 line[512];

	snprintf(f.secret, sizeof f.secret, "%s",
	    "abcdefghijklmnopqrstuvwxyz234567");
	ck_assert_int_gt(furl_fmt(line, sizeof line, &f), 0);
	p = provider_start("prov-badsecret", line);
	fixture_log_wait("refused: wrong secret", DEADLINE);
	log_wait("wrong secret (from node prov-badsecret)");
	tally_provider_free(p);
	good_round();
	assert_no_slot("prov-badsecret");
}
END_TEST

/*
 * A plaintext peer against TLS: told so in plaintext, and closed, with its
 * HELLO (and the right secret) never read.  A libtally provider with a
 * tally:// furl logs the reason.
 */
START_TEST(test_plaintext_to_tls)
{
	struct client	 c;
	tally_provider	*p;
	struct furl	 f = furl;
	char		 line[512];

	cl_open_plain(&c);
	cl_hello(&c, TALLY_PROTOCOL_VERSION, furl.secret, "plain-peer",
	    "nick");
	cl_expect_error(&c, WIRE_E_UNEXPECTED, DEADLINE);
	cl_close(&c);
	log_wait("this gatherer speaks TLS only");

	f.fingerprint[0] = '\0';
	ck_assert_int_gt(furl_fmt(line, sizeof line, &f), 0);
	p = provider_start("prov-plain", line);
	fixture_log_wait("this gatherer speaks TLS only", DEADLINE);
	tally_provider_free(p);
	good_round();
	assert_no_slot("plain-peer");
	assert_no_slot("prov-plain");
	ck_assert_msg(!logged(furl.secret), "the secret was logged");
}
END_TEST

/* A TLS peer against a plaintext gatherer: both ends say what is wrong. */
START_TEST(test_tls_to_plaintext)
{
	struct client	 c;
	char		 err[TALLY_ERRLEN];

	cl_connect(&c, furl.port);
	ck_assert_int_eq(cl_tls(&c, "cpdyqgm72crrbx6t6cwhuasi4n2yjbvwyxsvnroiltk"
	    "ul32q5fzq", err, sizeof err), TLS_ERROR);
	ck_assert_msg(strstr(err, "does not speak TLS") != NULL, "%s", err);
	cl_close(&c);
	log_wait("a TLS handshake to a plaintext gatherer");
	good_round();
}
END_TEST

/*
 * A man in the middle: a second tallyd with the victim's secret (its furl
 * file copied) but a key of its own, where a node thinks the victim is.
 * The provider refuses its certificate before saying HELLO, logs both
 * fingerprints, and neither database gets a slot.
 */
START_TEST(test_mitm)
{
	static const char *const listen[] = { "-l", "127.0.0.1:0", NULL };
	char		 mbase[FIXTURE_PATH_MAX + 16], mlog[FIXTURE_PATH_MAX + 16];
	char		 mstats[FIXTURE_PATH_MAX + 32], mtext[512], line[512];
	char		 want[256], err[TALLY_ERRLEN], path[FIXTURE_PATH_MAX + 64];
	struct furl	 mf, lure;
	struct client	 c;
	tally_provider	*p;
	FILE		*fp;
	pid_t		 mpid;

	snprintf(mbase, sizeof mbase, "%s/mitm", dir);
	snprintf(mlog, sizeof mlog, "%s/mitm.err", dir);
	snprintf(mstats, sizeof mstats, "%s/stats", mbase);
	ck_assert_int_eq(mkdir(mbase, 0700), 0);
	snprintf(path, sizeof path, "%s/stats_gatherer.furl", mbase);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fprintf(fp, "%s\n", furl_text);
	fclose(fp);
	ck_assert_int_eq(chmod(path, 0600), 0);
	tallyd_read_furl(tallyd_spawn(mbase, mlog, listen, &mpid), mtext,
	    sizeof mtext, &mf);
	/* The same secret, another certificate. */
	ck_assert_str_eq(mf.secret, furl.secret);
	ck_assert_str_ne(mf.fingerprint, furl.fingerprint);

	/* The victim's furl, the impostor's port: a hijacked address. */
	lure = furl;
	snprintf(lure.port, sizeof lure.port, "%s", mf.port);
	ck_assert_int_gt(furl_fmt(line, sizeof line, &lure), 0);
	p = provider_start("victim-node", line);
	snprintf(want, sizeof want, "gatherer 127.0.0.1:%s: certificate "
	    "fingerprint mismatch (expected %s, got %s)", mf.port,
	    furl.fingerprint, mf.fingerprint);
	fixture_log_wait(want, DEADLINE);
	tally_provider_free(p);

	/* The raw client pinning the victim fails the same way. */
	cl_connect(&c, mf.port);
	ck_assert_int_eq(cl_tls(&c, furl.fingerprint, err, sizeof err),
	    TLS_ERROR);
	ck_assert_msg(strstr(err, "fingerprint mismatch") != NULL, "%s", err);
	cl_close(&c);

	/* The impostor saw only a refused handshake: no HELLO, no slot. */
	{
		double	 end = fixture_now() + DEADLINE;
		char	 buf[8192];
		ssize_t	 n;
		int	 fd;

		for (;;) {
			buf[0] = '\0';
			if ((fd = open(mlog, O_RDONLY)) >= 0) {
				n = read(fd, buf, sizeof buf - 1);
				buf[n > 0 ? n : 0] = '\0';
				close(fd);
			}
			if (strstr(buf, "TLS handshake failed") != NULL)
				break;
			ck_assert_msg(fixture_now() < end, "the impostor never "
			    "logged a failed handshake: %s", buf);
			fixture_pause();
		}
		ck_assert_msg(strstr(buf, "bad certificate") != NULL, "%s",
		    buf);
		ck_assert_msg(strstr(buf, "victim-node") == NULL, "%s", buf);
	}
	ck_assert(db_get_in(mstats, STORE_NODES, "victim-node", NULL) ==
	    NULL);
	assert_no_slot("victim-node");
	kill(mpid, SIGKILL);
	waitpid(mpid, NULL, 0);
	good_round();
}
END_TEST

/* Run tallyd expecting it to refuse to start, saying msg. */
static void
tallyd_refuses(const char *const *extra, const char *msg)
{
	char	 text[64];
	int	 fd, status;
	ssize_t	 n;

	fd = tallyd_spawn(basedir, errlog, extra, &tallyd_pid);
	/* Its stdout ends (or says something) within the deadline. */
	peer_wait(fd, POLLIN, fixture_now() + DEADLINE);
	n = read(fd, text, sizeof text);
	ck_assert_msg(n == 0, "tallyd printed '%.*s'", (int)(n > 0 ? n : 0),
	    text);
	close(fd);
	status = tallyd_wait();
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "tallyd exited with status 0x%x", status);
	log_wait(msg);
}

/*
 * The identity: PEM files of mode 0600 whose SHA-256 is the furl's
 * fingerprint; kept across restarts; removed, a new one and a new furl
 * (the old one refused); half of one refused at start.
 */
START_TEST(test_identity)
{
	static const char *const none[] = { NULL };
	struct furl	 first = furl, f;
	struct client	 c;
	struct stat	 sb;
	char		 key[FIXTURE_PATH_MAX + 32], crt[FIXTURE_PATH_MAX + 32];
	char		 fp[FURL_FP_LEN + 1], err[TALLY_ERRLEN], *line;
	const char	*paths[2];
	int		 i;

	snprintf(key, sizeof key, "%s/tallyd.key", basedir);
	snprintf(crt, sizeof crt, "%s/tallyd.crt", basedir);
	paths[0] = key;
	paths[1] = crt;
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(stat(paths[i], &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	}
	fixture_cert_fingerprint(crt, fp, sizeof fp);
	ck_assert_str_eq(fp, furl.fingerprint);
	log_wait("made a new TLS identity");

	/* Kept: the same furl, byte for byte. */
	tallyd_stop();
	tallyd_start(none);
	ck_assert_str_eq(furl.fingerprint, first.fingerprint);
	ck_assert_str_eq(furl.secret, first.secret);
	ck_assert_str_eq(furl.port, first.port);
	good_round();

	/* Rotated: a new fingerprint, the same secret and address. */
	tallyd_stop();
	ck_assert_int_eq(unlink(key), 0);
	ck_assert_int_eq(unlink(crt), 0);
	tallyd_start(none);
	ck_assert_str_ne(furl.fingerprint, first.fingerprint);
	ck_assert_str_eq(furl.secret, first.secret);
	ck_assert_str_eq(furl.port, first.port);
	fixture_cert_fingerprint(crt, fp, sizeof fp);
	ck_assert_str_eq(fp, furl.fingerprint);
	log_wait("the furl changed (a new certificate)");
	ck_assert_int_eq(nodedir_read_line(basedir, "stats_gatherer.furl",
	    &line, err, sizeof err), 0);
	ck_assert_str_eq(line, furl_text);
	ck_assert_int_eq(furl_parse(line, &f, err, sizeof err), 0);
	free(line);
	cl_connect(&c, furl.port);
	ck_assert_int_eq(cl_tls(&c, first.fingerprint, err, sizeof err),
	    TLS_ERROR);
	ck_assert_msg(strstr(err, "fingerprint mismatch") != NULL, "%s", err);
	cl_close(&c);
	good_round();

	/* Half an identity is refused, not completed behind our back. */
	tallyd_stop();
	ck_assert_int_eq(unlink(crt), 0);
	tallyd_refuses(none, "tallyd.key exists but");
	ck_assert_int_ne(access(crt, F_OK), 0);
}
END_TEST

/* --plaintext beyond loopback is refused before anything is written. */
START_TEST(test_plaintext_beyond_loopback)
{
	char		 err[TALLY_ERRLEN], *line, saved[sizeof basedir];
	struct stat	 sb;

	tallyd_stop();
	tallyd_refuses((const char *const[]){ "--plaintext", "-l",
	    "0.0.0.0:0", NULL }, "--plaintext is for loopback only");
	ck_assert_int_eq(nodedir_read_line(basedir, "stats_gatherer.furl",
	    &line, err, sizeof err), 0);
	ck_assert_str_eq(line, furl_text);
	free(line);

	/*
	 * A first run refused leaves no trace: no BASEDIR, no secret; the
	 * message names the address as given, not a port the kernel chose.
	 */
	memcpy(saved, basedir, sizeof saved);
	ck_assert_int_lt(snprintf(basedir, sizeof basedir, "%s.fresh", saved),
	    (int)sizeof basedir);
	tallyd_refuses((const char *const[]){ "--plaintext", "-l",
	    "0.0.0.0:0", NULL }, "and -l '0.0.0.0' is not");
	ck_assert_int_ne(stat(basedir, &sb), 0);
	ck_assert_int_eq(errno, ENOENT);
	memcpy(basedir, saved, sizeof saved);
}
END_TEST

/*
 * Numbers and paths on tallyd's command line: what strtod and strtoul
 * would have taken besides a decimal (hexadecimal, blanks, a sign), an
 * interval too short to be one, an empty statsfile, are refused with the
 * range; an escape in an argument reaches the log as '?'.
 */
START_TEST(test_bad_arguments)
{
	static const struct {
		const char	*args[3];
		const char	*msg;
	} bad[] = {
		{ { "-i", "1e-300" }, "bad interval '1e-300' (seconds, 0.001 "
		    "to 86400)" },
		{ { "-i", "0x10" }, "bad interval '0x10'" },
		{ { "-i", " 5" }, "bad interval ' 5'" },
		{ { "-i", "5\033[2J" }, "bad interval '5?[2J'" },
		{ { "--poll-timeout", "1e-320" }, "bad poll timeout '1e-320' "
		    "(seconds, 0.001 to 86400)" },
		{ { "--max-connections", " 5" }, "bad max-connections ' 5' "
		    "(1 to 1000000)" },
		{ { "--tls-threads", "0" }, "bad tls-threads '0' (1 to 8)" },
		{ { "--max-frame", "+4K" }, "bad max-frame '+4K'" },
		{ { "-l", "127.0.0.1: 5" }, "bad listen address "
		    "'127.0.0.1: 5'" },
		{ { "-s", "" }, "the statsfile's path is empty" },
	};
	size_t	 i;

	tallyd_stop();
	for (i = 0; i < FIXTURE_N(bad); i++)
		tallyd_refuses(bad[i].args, bad[i].msg);
}
END_TEST

/*
 * A FIFO where tallyd reads a file of BASEDIR is refused at once, named:
 * its open blocked for good, and tallyd no longer heard SIGTERM.  The
 * session ticket keys are made anew, as for any unusable file of them.
 * An address of BASEDIR/listen that cannot be bound says so.
 */
START_TEST(test_basedir_fifo)
{
	static const char *const none[] = { NULL };
	static const char *const files[] = { "node.id", "listen",
	    "tallyd.crt" };
	char	 path[FIXTURE_PATH_MAX + 32], saved[FIXTURE_PATH_MAX + 40];
	size_t	 i;
	FILE	*f;

	tallyd_stop();
	for (i = 0; i < FIXTURE_N(files); i++) {
		snprintf(path, sizeof path, "%s/%s", basedir, files[i]);
		snprintf(saved, sizeof saved, "%s.saved", path);
		ck_assert(rename(path, saved) == 0 || errno == ENOENT);
		ck_assert_int_eq(mkfifo(path, 0600), 0);
		tallyd_refuses(none, "is a FIFO, not a regular file");
		ck_assert_int_eq(unlink(path), 0);
		ck_assert(rename(saved, path) == 0 || errno == ENOENT);
	}
	snprintf(path, sizeof path, "%s/tallyd.tickets", basedir);
	ck_assert(unlink(path) == 0 || errno == ENOENT);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	tallyd_start(none);
	log_wait("tallyd.tickets: not a regular file; made new ones");
	good_round();

	/*
	 * An address from BASEDIR/listen that this machine lacks (TEST-NET,
	 * RFC 5737): the message says where it came from, and what to do.
	 */
	tallyd_stop();
	if ((f = fopen("/proc/sys/net/ipv4/ip_nonlocal_bind", "r")) != NULL) {
		i = fgetc(f) == '1';
		fclose(f);
		if (i) {
			fixture_skip("test_basedir_fifo", "ip_nonlocal_bind is "
			    "set: any address binds");
			return;
		}
	}
	snprintf(path, sizeof path, "%s/listen", basedir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("192.0.2.1:9\n", f);
	fclose(f);
	tallyd_refuses(none, "(the address of BASEDIR/listen: -l ADDR:PORT "
	    "to listen elsewhere)");
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/*
 * Bad TLS: a handshake begun and left (timed out at --handshake-timeout,
 * closed without an ERROR, which the peer could not read), and a broken
 * ClientHello.  The gatherer serves on.
 */
START_TEST(test_tls_bad_handshake)
{
	static const uint8_t	 begun[] = { 0x16 };
	static const uint8_t	 broken[] = { 0x16, 0x03, 0x01, 0x00, 0x04,
	    0xff, 0xff, 0xff, 0xff };
	struct client		 c;
	uint8_t			 payload[64];
	size_t			 plen;
	double			 t0;

	/* --handshake-timeout 1, from the accept, after t0. */
	tallyd_tighten();
	t0 = fixture_now();
	cl_open_plain(&c);
	cl_send(&c, begun, sizeof begun);
	ck_assert_int_eq(cl_frame(&c, payload, sizeof payload, &plen,
	    DEADLINE), -1);
	ck_assert_msg(fixture_now() - t0 >= 0.9, "closed after %g s",
	    fixture_now() - t0);
	cl_close(&c);
	log_wait("no TLS handshake within 1 s");

	/* An alert may come first; then the end, whichever way. */
	cl_open_plain(&c);
	cl_send(&c, broken, sizeof broken);
	for (;;) {
		uint8_t	 buf[256];
		ssize_t	 n;

		peer_wait(c.fd, POLLIN, t0 + 2 * DEADLINE);
		if ((n = recv(c.fd, buf, sizeof buf, 0)) <= 0 &&
		    !(n < 0 && errno == EAGAIN))
			break;
	}
	cl_close(&c);
	log_wait("TLS handshake failed");
	good_round();
}
END_TEST

/*
 * A TLS handshake left half done, whatever the timing: the client's SSL
 * works on memory BIOs, so the test alone moves its bytes.  Its
 * ClientHello goes onto the socket; the server's first flight comes back
 * whole (the client checks its Finished, and its certificate is tallyd's);
 * the client's own Finished is never sent, so the server's side waits for
 * it until its handshake timeout.
 */
struct half_tls {
	int	 fd;
	SSL	*ssl;
};

static void
half_tls_open(struct half_tls *h, SSL_CTX *ctx)
{
	struct client	 c;
	uint8_t		 buf[16384];
	char		 fp[FURL_FP_LEN + 1];
	double		 end = fixture_now() + DEADLINE;
	BIO		*rb, *wb;
	ssize_t		 n;
	int		 rc;

	cl_connect(&c, furl.port);
	h->fd = c.fd;
	ck_assert_ptr_nonnull(h->ssl = SSL_new(ctx));
	ck_assert_ptr_nonnull(rb = BIO_new(BIO_s_mem()));
	ck_assert_ptr_nonnull(wb = BIO_new(BIO_s_mem()));
	SSL_set_bio(h->ssl, rb, wb);
	SSL_set_connect_state(h->ssl);
	/* Nothing in rb: the ClientHello is written, then a read waits. */
	rc = SSL_do_handshake(h->ssl);
	ck_assert_int_eq(SSL_get_error(h->ssl, rc), SSL_ERROR_WANT_READ);
	while ((n = BIO_read(wb, buf, sizeof buf)) > 0)
		cl_send(&c, buf, (size_t)n);
	wire_buf_free(&c.in);
	for (;;) {
		peer_wait(h->fd, POLLIN, end);
		if ((n = recv(h->fd, buf, sizeof buf, 0)) < 0 &&
		    errno == EAGAIN)
			continue;
		ck_assert_msg(n > 0, "tallyd closed a handshake half done: %s",
		    n == 0 ? "EOF" : strerror(errno));
		ck_assert_int_eq(BIO_write(rb, buf, (int)n), n);
		if ((rc = SSL_do_handshake(h->ssl)) == 1)
			break;
		ck_assert_msg(SSL_get_error(h->ssl, rc) == SSL_ERROR_WANT_READ,
		    "TLS: %s", ERR_reason_error_string(ERR_peek_last_error()));
	}
	fixture_x509_fingerprint(SSL_get0_peer_certificate(h->ssl), fp,
	    sizeof fp);
	ck_assert_str_eq(fp, furl.fingerprint);
}

static void
half_tls_close(struct half_tls *h)
{
	SSL_free(h->ssl);
	h->ssl = NULL;
	close(h->fd);
	h->fd = -1;
}

/*
 * Handshake threads: --tls-threads out of range is refused; with three,
 * connections handed to each of them come back and report; handshakes
 * left half done on the threads do not hold up a stop, which exits 0.
 */
START_TEST(test_tls_threads)
{
	struct client		 c[4];
	struct half_tls		 stalled[3];
	SSL_CTX			*ctx;
	uint32_t		 seq;
	uint8_t			 b;
	char			 node[16], value[16];
	int			 i, status;

	tallyd_stop();
	tallyd_refuses((const char *const[]){ "--tls-threads", "9", NULL },
	    "bad tls-threads '9' (1 to 8)");
	tallyd_refuses((const char *const[]){ "--tls-threads", "0", NULL },
	    "bad tls-threads '0'");
	tallyd_start((const char *const[]){ "--tls-threads", "3",
	    "--handshake-timeout", "30", NULL });
	for (i = 0; i < 4; i++) {
		snprintf(node, sizeof node, "thread-%d", i);
		cl_open(&c[i]);
		seq = cl_handshake(&c[i], node);
		cl_snapshot(&c[i], seq, 10 + i, "x.count");
	}
	for (i = 0; i < 4; i++) {
		snprintf(node, sizeof node, "thread-%d", i);
		snprintf(value, sizeof value, "%d", 10 + i);
		db_wait(STORE_COUNTERS, node, "x.count", value);
	}
	/*
	 * Half-done handshakes: a ClientHello, and the server's flight
	 * back, which shows a thread holds the connection; then nothing.
	 * The pin is checked by hand, so verification is OpenSSL's none.
	 */
	ck_assert_ptr_nonnull(ctx = SSL_CTX_new(TLS_client_method()));
	ck_assert(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION));
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	for (i = 0; i < 3; i++)
		half_tls_open(&stalled[i], ctx);
	/* Still held, with nothing more to say, when the signal comes. */
	for (i = 0; i < 3; i++)
		ck_assert_msg(recv(stalled[i].fd, &b, 1, MSG_DONTWAIT) < 0 &&
		    errno == EAGAIN, "handshake %d is not held", i);
	ck_assert_int_eq(kill(tallyd_pid, SIGTERM), 0);
	status = tallyd_wait();
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "tallyd exited with status 0x%x", status);
	log_wait("stopping");
	for (i = 0; i < 3; i++)
		half_tls_close(&stalled[i]);
	SSL_CTX_free(ctx);
	for (i = 0; i < 4; i++)
		cl_close(&c[i]);
}
END_TEST

/* ---- issue 12: counters back in WELCOME, and the limits --------------- */

/* HELLO; the counters WELCOME returns, into back (reset here). */
static void
cl_welcome(struct client *c, const char *node, struct snapshot *back)
{
	uint8_t		 payload[4096];
	char		 err[128];
	size_t		 plen;
	uint32_t	 ms;
	uint16_t	 version;

	cl_hello(c, TALLY_PROTOCOL_VERSION, furl.secret, node, "nick");
	ck_assert_int_eq(cl_frame(c, payload, sizeof payload, &plen,
	    DEADLINE), WIRE_WELCOME);
	snapshot_reset(back);
	ck_assert_msg(wire_get_welcome(payload, plen, &version, &ms, back,
	    err, sizeof err) == 0, "%s", err);
}

/*
 * WELCOME returns the node's stored counters, so that a restarted node
 * resumes them; a new node gets none.
 */
START_TEST(test_welcome_counters)
{
	struct client	 c;
	struct snapshot	 back;
	uint32_t	 seq;
	int64_t		 v;

	snapshot_init(&back);
	cl_open(&c);
	cl_welcome(&c, "wel-node", &back);
	ck_assert_uint_eq(back.ncounters, 0);
	cl_close(&c);
	cl_open(&c);
	seq = cl_handshake(&c, "wel-node");
	cl_snapshot(&c, seq, 77, "x.count");
	db_wait(STORE_COUNTERS, "wel-node", "x.count", "77");
	cl_close(&c);
	log_wait("disconnected node wel-node");
	cl_open(&c);
	cl_welcome(&c, "wel-node", &back);
	ck_assert_msg(peer_snapshot_counter(&back, "x.count", &v) && v == 77,
	    "WELCOME brought %zu counters", back.ncounters);
	/* Stats are not counters: they do not come back. */
	ck_assert_uint_eq(back.nstats, 0);
	cl_close(&c);
	snapshot_free(&back);
	good_round();
}
END_TEST

/* A snapshot of more metrics than --max-metrics: ERROR limit, nothing kept. */
START_TEST(test_limit_metrics)
{
	struct client	 c;
	struct snapshot	 s;
	struct wire_buf	 b;
	uint32_t	 seq;

	tallyd_stop();
	tallyd_start((const char *const[]){ "--max-metrics", "2", NULL });
	cl_open(&c);
	seq = cl_handshake(&c, "many-metrics");
	snapshot_init(&s);
	wire_buf_init(&b);
	ck_assert_int_eq(snapshot_add_counter(&s, "a", 1, 1), 0);
	ck_assert_int_eq(snapshot_add_counter(&s, "b", 1, 2), 0);
	ck_assert_int_eq(snapshot_add_stat(&s, "c", 1, 3.0), 0);
	ck_assert_int_eq(wire_put_snapshot(&b, seq, (int64_t)time(NULL), &s),
	    0);
	snapshot_free(&s);
	cl_send_buf(&c, &b);
	cl_expect_error(&c, WIRE_E_LIMIT, DEADLINE);
	cl_close(&c);
	log_wait("SNAPSHOT of 3 metrics is over tallyd's limit of 2 a node "
	    "(tallyd --max-metrics)");
	assert_no_slot("many-metrics");
	good_round();	/* two metrics: within the limit */
}
END_TEST

/* A frame over --max-frame: ERROR too_big from its header alone. */
START_TEST(test_limit_frame)
{
	static const uint8_t	 big[] = { 0, 0, 0x10, 0, WIRE_SNAPSHOT };
	struct client		 c;

	tallyd_stop();
	tallyd_start((const char *const[]){ "--max-frame", "2K", NULL });
	cl_open(&c);
	(void)cl_handshake(&c, "big-frame");
	cl_send(&c, big, sizeof big);
	cl_expect_error(&c, WIRE_E_TOO_BIG, DEADLINE);
	cl_close(&c);
	log_wait("frame of 4096 bytes is over tallyd's limit of 2048 (tallyd "
	    "--max-frame)");
	assert_no_slot("big-frame");
	good_round();
}
END_TEST

/* Input buffered beyond --max-input: ERROR limit; the others go on. */
START_TEST(test_limit_input)
{
	static uint8_t	 part[3000];
	struct client	 c;

	tallyd_stop();
	tallyd_start((const char *const[]){ "--max-input", "2048", NULL });
	cl_open(&c);
	(void)cl_handshake(&c, "hoarder");
	/* The first 3,000 bytes of a 5,000-byte SNAPSHOT, then nothing. */
	memset(part, 0, sizeof part);
	part[2] = 5000 >> 8;
	part[3] = 5000 & 0xff;
	part[4] = WIRE_SNAPSHOT;
	cl_send(&c, part, sizeof part);
	cl_expect_error(&c, WIRE_E_LIMIT, DEADLINE);
	cl_close(&c);
	log_wait("tallyd's input buffers are full");
	assert_no_slot("hoarder");
	good_round();
}
END_TEST

/*
 * --max-input counts the room frames need: a buffer grown for a frame of
 * 5,004 bytes holds 5,004, not the 8,192 that doubling would reach, so a
 * limit of 6,000 takes it whole.
 */
START_TEST(test_limit_input_frame)
{
	static uint8_t	 frame[5004];
	struct client	 c;

	tallyd_stop();
	tallyd_start((const char *const[]){ "--max-input", "6000", NULL });
	cl_open(&c);
	(void)cl_handshake(&c, "big-one");
	/* A SNAPSHOT of 5,000 bytes, sent in two parts: all zeros. */
	memset(frame, 0, sizeof frame);
	frame[2] = 5000 >> 8;
	frame[3] = 5000 & 0xff;
	frame[4] = WIRE_SNAPSHOT;
	cl_send(&c, frame, 4990);
	cl_send(&c, frame + 4990, sizeof frame - 4990);
	/* Read whole, then refused for what it says (poll 0), not its size. */
	cl_expect_error(&c, WIRE_E_UNEXPECTED, DEADLINE);
	cl_close(&c);
	ck_assert_int_eq(logged("tallyd's input buffers are full"), 0);
	good_round();
}
END_TEST

/*
 * A nickname reaches the log as text only: its C1 control (U+009B, CSI to
 * some terminals) as '?', its UTF-8 as itself; and with its parentheses
 * matched, so that "(nickname)" ends where it does.
 */
START_TEST(test_log_nickname)
{
	uint8_t		 payload[512];
	struct client	 c;
	size_t		 plen;

	cl_open(&c);
	cl_hello(&c, TALLY_PROTOCOL_VERSION, furl.secret, "c1-nick",
	    "a\xc2\x9b[31mRED \xc3\xa9");
	ck_assert_int_eq(cl_frame(&c, payload, sizeof payload, &plen,
	    DEADLINE), WIRE_WELCOME);
	log_wait("connected node c1-nick (a??[31mRED \xc3\xa9) from ");
	ck_assert_int_eq(logged("\xc2\x9b"), 0);
	cl_close(&c);
	/* A parenthesis that matches none cannot end the nickname early. */
	cl_open(&c);
	cl_hello(&c, TALLY_PROTOCOL_VERSION, furl.secret, "paren-nick",
	    "x) from 203.0.113.9: (y (z)");
	ck_assert_int_eq(cl_frame(&c, payload, sizeof payload, &plen,
	    DEADLINE), WIRE_WELCOME);
	log_wait("connected node paren-nick (x? from 203.0.113.9: ?y (z)) "
	    "from ");
	cl_close(&c);
	cl_open(&c);
	cl_hello(&c, TALLY_PROTOCOL_VERSION, furl.secret, "rack-nick",
	    "storage 7 (rack b)");
	ck_assert_int_eq(cl_frame(&c, payload, sizeof payload, &plen,
	    DEADLINE), WIRE_WELCOME);
	log_wait("connected node rack-nick (storage 7 (rack b)) from ");
	cl_close(&c);
}
END_TEST

/* How many nodes the statsfile holds now. */
static size_t
nodes_in_db(void)
{
	struct store		*st;
	struct record_node	 rn;
	char			 err[TALLY_ERRLEN];
	size_t			 n = 0;

	ck_assert_msg(store_open(&st, statsfile, STORE_RDONLY, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_int_ge(store_read_node(st, "none", &rn, &n, err,
	    sizeof err), 0);
	store_close(st);
	return n;
}

/*
 * At --max-nodes, a new node id is refused and a known one lands.  New
 * nodes count from their HELLO, before their first snapshot is written,
 * and still count once a newer connection of theirs has replaced the
 * first (the replaced one's close must not free the place).
 */
START_TEST(test_limit_nodes)
{
	struct client	 c, d, e;
	char		 n[16];

	good_round();
	snprintf(n, sizeof n, "%zu", nodes_in_db() + 1);
	tallyd_stop();
	tallyd_start((const char *const[]){ "--max-nodes", n, NULL });
	/* One place left: the first new node takes it at its HELLO. */
	cl_open(&e);
	(void)cl_handshake(&e, "last-place");
	cl_open(&d);
	(void)cl_handshake(&d, "last-place");
	cl_expect_error(&e, WIRE_E_REPLACED, DEADLINE);
	cl_close(&e);
	cl_open(&c);
	cl_hello(&c, TALLY_PROTOCOL_VERSION, furl.secret, "one-too-many",
	    "nick");
	cl_expect_error(&c, WIRE_E_LIMIT, DEADLINE);
	cl_close(&c);
	log_wait("new node one-too-many refused");
	assert_no_slot("one-too-many");
	cl_close(&d);
	/* good-1 exists: it lands again. */
	{
		uint32_t seq;

		cl_open(&c);
		seq = cl_handshake(&c, "good-1");
		cl_snapshot(&c, seq, 99, "x.count");
		db_wait(STORE_COUNTERS, "good-1", "x.count", "99");
		cl_close(&c);
	}
}
END_TEST

/*
 * Peers that never authenticate cannot fill the log: their lines go
 * through a quota (100, then one every 0.2 s, tallyd(8)), the next line
 * that goes says how many did not, and a node's lines are not held back.
 */
#define QUOTA_PEERS	600
START_TEST(test_log_quota)
{
	static const uint8_t	 zero[8];
	struct client		 c;
	double			 t0, end;
	int			 i, lines, bound;

	t0 = fixture_now();
	for (i = 0; i < QUOTA_PEERS; i++) {
		cl_open_plain(&c);
		cl_send(&c, zero, sizeof zero);
		cl_expect_error(&c, WIRE_E_MALFORMED, DEADLINE);
		cl_close(&c);
	}
	/* At most the burst, and one a 0.2 s of the flood's length. */
	lines = log_count(errlog, ": frame of length 0");
	bound = 100 + (int)((fixture_now() - t0) / 0.2) + 1;
	ck_assert_msg(lines >= 1 && lines <= bound, "%d lines of %d peers "
	    "(at most %d)", lines, QUOTA_PEERS, bound);
	/* Once the quota refills, the next line counts those left out. */
	end = fixture_now() + DEADLINE;
	while (!logged("lines about unauthenticated peers not logged)")) {
		ck_assert_msg(fixture_now() < end, "no line counted the lines "
		    "not logged (%d of %d logged)", lines, QUOTA_PEERS);
		cl_open_plain(&c);
		cl_send(&c, zero, sizeof zero);
		cl_expect_error(&c, WIRE_E_MALFORMED, DEADLINE);
		cl_close(&c);
		fixture_pause();
	}
	/* A node's lines still go, with its quota spent. */
	good_round();
	log_wait("connected node good-");
}
END_TEST

/*
 * A node id says HELLO once a --hello-interval: another HELLO within it is
 * refused as busy, and the first connection goes on (not replaced); other
 * node ids are not held back.  30 s: no wait of the test comes near it.
 */
START_TEST(test_hello_interval)
{
	struct client	 a, b;
	uint32_t	 seq;

	tallyd_stop();
	tallyd_start((const char *const[]){ "--hello-interval", "30", NULL });
	cl_open(&a);
	seq = cl_handshake(&a, "hello-twice");
	cl_open(&b);
	cl_hello(&b, TALLY_PROTOCOL_VERSION, furl.secret, "hello-twice",
	    "nick");
	cl_expect_error(&b, WIRE_E_BUSY, DEADLINE);
	cl_close(&b);
	log_wait("node hello-twice was welcomed less than 30 s ago (tallyd "
	    "--hello-interval): retry in ");
	cl_snapshot(&a, seq, 7, "x.count");
	db_wait(STORE_COUNTERS, "hello-twice", "x.count", "7");
	cl_close(&a);
	good_round();
}
END_TEST

/*
 * A new node replaced while its first snapshot may still wait in the batch
 * (sent just before, within the batch's delay): once written it counts as
 * a node of the statsfile, not also as a new one, and the last place
 * under --max-nodes is still there for another new node.
 */
START_TEST(test_limit_nodes_written)
{
	struct client	 c, d, e;
	char		 n[16];
	uint32_t	 seq;

	good_round();
	snprintf(n, sizeof n, "%zu", nodes_in_db() + 2);
	tallyd_stop();
	tallyd_start((const char *const[]){ "--max-nodes", n, NULL });
	cl_open(&e);
	seq = cl_handshake(&e, "written-first");
	cl_snapshot(&e, seq, 1, "x.count");
	cl_open(&d);
	(void)cl_handshake(&d, "written-first");
	cl_expect_error(&e, WIRE_E_REPLACED, DEADLINE);
	cl_close(&e);
	db_wait(STORE_COUNTERS, "written-first", "x.count", "1");
	cl_open(&c);
	(void)cl_handshake(&c, "last-new");
	cl_close(&c);
	cl_close(&d);
}
END_TEST

/* A TLS peer that says nothing at all is closed at the first flight's end. */
START_TEST(test_first_flight_silent)
{
	struct client	 c;

	tallyd_stop();
	tallyd_start((const char *const[]){ "--first-flight-timeout", "0.5",
	    NULL });
	cl_connect(&c, furl.port);
	cl_expect_eof(&c);
	cl_close(&c);
	log_wait("no ClientHello within 0.5 s");
	good_round();
}
END_TEST

/*
 * TLS handshakes in flight from one address beyond the cap: closed at
 * once, said once; those in flight and those done go on.
 */
START_TEST(test_limit_handshakes_per_addr)
{
	static const uint8_t	 one = 0x16;
	struct client		 a, b, c;
	char			 err[TALLY_ERRLEN];

	tallyd_stop();
	tallyd_start((const char *const[]){ "--max-handshakes-per-addr", "2",
	    NULL });
	cl_connect(&a, furl.port);
	cl_send(&a, &one, 1);
	cl_connect(&b, furl.port);
	cl_send(&b, &one, 1);
	cl_connect(&c, furl.port);
	ck_assert_int_eq(cl_tls(&c, furl.fingerprint, err, sizeof err),
	    TLS_ERROR);
	/* The first refusal is said at once, counting itself. */
	log_wait("TLS handshakes in flight from one address is the limit "
	    "(tallyd --max-handshakes-per-addr; 1 refused since the last such "
	    "line)");
	cl_close(&c);
	/* Their ends, once tallyd has seen them, free their places. */
	{
		int	 before = log_count(errlog, "TLS handshake failed");
		double	 end = fixture_now() + DEADLINE;

		cl_close(&a);
		cl_close(&b);
		while (log_count(errlog, "TLS handshake failed") < before + 2) {
			ck_assert_msg(fixture_now() < end, "tallyd never saw "
			    "the two handshakes end");
			fixture_pause();
		}
	}
	good_round();
}
END_TEST


/* ---- resumption --------------------------------------------------------- */

/* A TLS connection with ctx's key, offering *sess (kept up to date). */
static void
cl_open_ctx(struct client *c, struct ssl_ctx_st *ctx,
    struct ssl_session_st **sess)
{
	double	 end = fixture_now() + DEADLINE;
	char	 err[TALLY_ERRLEN];
	int	 rc;

	cl_connect(c, furl.port);
	ck_assert_int_eq(tls_new(&c->ssl, ctx, c->fd, furl.fingerprint, err,
	    sizeof err), 0);
	tls_session_keep(c->ssl, sess);
	while ((rc = tls_handshake(c->ssl, err, sizeof err)) != 0) {
		ck_assert_msg(rc != TLS_ERROR, "TLS handshake: %s", err);
		peer_wait(c->fd, rc == TLS_WANT_READ ? POLLIN : POLLOUT, end);
	}
}

/* A client context with a new key, and that key's fingerprint. */
static struct ssl_ctx_st *
other_key(char *fp)
{
	struct ssl_ctx_st	*ctx;
	char			 kdir[FIXTURE_PATH_MAX], err[TALLY_ERRLEN];
	char			 key[FIXTURE_PATH_MAX + 16];

	ck_assert_ptr_nonnull(fixture_tmpdir(kdir));
	snprintf(key, sizeof key, "%s/node.key", kdir);
	ck_assert_msg(tls_client_ctx(&ctx, key, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_msg(tls_node_key(key, fp, FURL_FP_LEN + 1, err,
	    sizeof err) == 0, "%s", err);
	fixture_rmtree(kdir);
	return ctx;
}

/* A node's whole visit: a session (resumed or not), HELLO to a snapshot. */
static void
visit(struct ssl_ctx_st *ctx, struct ssl_session_st **sess,
    const char *node, int resumed, int64_t value)
{
	struct client	 c;
	char		 v[24];
	uint32_t	 seq;

	cl_open_ctx(&c, ctx, sess);
	ck_assert_int_eq(tls_resumed(c.ssl), resumed);
	seq = cl_handshake(&c, node);
	cl_snapshot(&c, seq, value, "x.count");
	snprintf(v, sizeof v, "%lld", (long long)value);
	db_wait(STORE_COUNTERS, node, "x.count", v);
	/* The gatherer's ticket came before WELCOME. */
	ck_assert_ptr_nonnull(*sess);
	cl_close(&c);
}

/*
 * A node that comes back after tallyd restarts resumes its session (the
 * ticket keys are kept in BASEDIR), and the key its session was made with
 * is the one its node id is checked against: a session made with key K2
 * is refused for a node id bound to K exactly as a full handshake with K2
 * is, until tally forget, after which the session's key is bound.
 */
START_TEST(test_tls_resume)
{
	static const char *const none[] = { NULL };
	struct ssl_session_st	*s1 = NULL, *s2 = NULL, *s0 = NULL;
	struct ssl_ctx_st	*k2;
	struct client		 c;
	char			 fp2[FURL_FP_LEN + 1], want[FURL_FP_LEN + 8];
	char			 err[TALLY_ERRLEN];
	const char		*rec;

	k2 = other_key(fp2);
	visit(client_ctx, &s1, "res-a", 0, 1);		/* binds K */
	visit(k2, &s2, "res-b", 0, 2);			/* binds K2 */
	tallyd_stop();
	tallyd_start(none);
	visit(client_ctx, &s1, "res-a", 1, 3);
	visit(k2, &s2, "res-b", 1, 4);

	/* K2's session for res-a: as K2's full handshake, refused. */
	cl_open_ctx(&c, k2, &s2);
	ck_assert(tls_resumed(c.ssl));
	cl_hello(&c, TALLY_PROTOCOL_VERSION, furl.secret, "res-a", "nick");
	cl_expect_error(&c, WIRE_E_KEY, DEADLINE);
	cl_close(&c);
	cl_open_ctx(&c, k2, &s0);
	ck_assert(!tls_resumed(c.ssl));
	cl_hello(&c, TALLY_PROTOCOL_VERSION, furl.secret, "res-a", "nick");
	cl_expect_error(&c, WIRE_E_KEY, DEADLINE);
	cl_close(&c);
	ck_assert_int_eq(log_count(errlog, "node res-a: key "), 2);
	db_wait(STORE_COUNTERS, "res-a", "x.count", "3");
	/* A HELLO refused never connected: no "disconnected" line (all of
	 * them are written once tallyd has stopped). */
	tallyd_stop();
	ck_assert_int_eq(log_count(errlog, ": key refused"), 0);
	tallyd_start(none);

	/* Forgotten: the resumed session's key is the one bound now. */
	ck_assert_msg(tally_statsfile_forget(statsfile, "res-a", err,
	    sizeof err) == 0, "%s", err);
	visit(k2, &s2, "res-a", 1, 5);
	rec = db_get(STORE_NODES, "res-a", NULL);
	snprintf(want, sizeof want, "key=%s\n", fp2);
	ck_assert_msg(rec != NULL && strstr(rec, want) != NULL, "%s lacks %s",
	    rec, want);
	tls_session_free(s0);
	tls_session_free(s1);
	tls_session_free(s2);
	tls_ctx_free(k2);
}
END_TEST

/*
 * A ticket-key file that cannot serve (garbage, short, readable by
 * others, missing) is replaced by new keys, with a line in the log: tallyd starts,
 * the old sessions no longer resume, and new ones do.
 */
START_TEST(test_tls_ticket_keys_damaged)
{
	static const char *const none[] = { NULL };
	static const struct { const char *data; size_t len; mode_t mode;
	    const char *said; } cases[] = {
		{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
		  "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123"
		  "456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
		  "ef0123456789abcdef", 176, 0600, "not a key file of tallyd's" },
		{ "tallytk1", 8, 0600, "not the size of a key file" },
		{ NULL, 0, 0644, "others may have read it" },
	};
	struct ssl_session_st	*s = NULL;
	struct stat		 sb;
	char			 path[FIXTURE_PATH_MAX + 32];
	unsigned		 i;
	int			 fd;

	snprintf(path, sizeof path, "%s/tallyd.tickets", basedir);
	log_wait("tallyd.tickets: none yet: made new ones");
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	ck_assert_int_eq(sb.st_size, 176);
	visit(client_ctx, &s, "tk-node", 0, 1);
	for (i = 0; i < FIXTURE_N(cases); i++) {
		tallyd_stop();
		if (cases[i].data != NULL) {
			fd = open(path, O_WRONLY | O_TRUNC);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(write(fd, cases[i].data,
			    cases[i].len), (ssize_t)cases[i].len);
			close(fd);
		}
		ck_assert_int_eq(chmod(path, cases[i].mode), 0);
		tallyd_start(none);
		log_wait(cases[i].said);
		ck_assert_int_eq(stat(path, &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, 0600);
		ck_assert_int_eq(sb.st_size, 176);
		/* The old keys are gone: a full handshake, a new session. */
		visit(client_ctx, &s, "tk-node", 0, 2 + i);
	}
	/* Removed: new ones, said as on the first run. */
	tallyd_stop();
	ck_assert_int_eq(unlink(path), 0);
	tallyd_start(none);
	ck_assert_int_eq(log_count(errlog, "tallyd.tickets: none yet: "
	    "made new ones"), 2);
	visit(client_ctx, &s, "tk-node", 0, 9);
	/* And the new keys are kept. */
	tallyd_stop();
	tallyd_start(none);
	visit(client_ctx, &s, "tk-node", 1, 10);
	tls_session_free(s);
}
END_TEST

int
main(void)
{
	/*
	 * Each test runs in both transports but those named for one; over
	 * 10x the slowest test's 3.5 s (ASan, a loaded machine).
	 */
	const struct fixture_test	 tests[] = {
		{ "tls plain", test_bad_first_frame, FIXTURE_N(bad_cases), 60 },
		{ "tls plain", test_truncated_then_close, 0, 60 },
		{ "tls plain", test_invalid_stat_name, 0, 60 },
		{ "tls plain", test_wrong_seq, 0, 60 },
		{ "tls plain", test_second_hello, 0, 60 },
		{ "tls plain", test_duplicate_node, 0, 60 },
		{ "tls plain", test_stall_mid_frame, 0, 60 },
		{ "tls plain", test_poll_timeout, 0, 60 },
		{ "tls plain", test_poll_answered_late, 0, 60 },
		{ "tls plain", test_idle_after_late_loop, 0, 60 },
		{ "tls plain", test_stall_mid_snapshot, 0, 60 },
		{ "tls plain", test_polls_repeat, 0, 60 },
		{ "tls plain", test_formatted_once, 0, 60 },
		{ "tls plain", test_snapshot_time_hostile, 0, 60 },
		{ "tls plain", test_first_poll_at_once, 0, 60 },
		{ "tls plain", test_sigterm_commits, 0, 60 },
		{ "tls plain", test_furl_file, 0, 60 },
		{ "tls plain", test_busy, 0, 60 },
		{ "tls plain", test_idle_timeout, 0, 60 },
		{ "tls plain", test_own_stats, 0, 60 },
		{ "tls plain", test_provider_tls, 0, 60 },
		{ "tls plain", test_provider_wrong_secret, 0, 60 },
		{ "tls plain", test_welcome_counters, 0, 60 },
		{ "tls plain", test_limit_metrics, 0, 60 },
		{ "tls plain", test_limit_frame, 0, 60 },
		{ "tls plain", test_limit_input, 0, 60 },
		{ "tls plain", test_limit_input_frame, 0, 60 },
		{ "plain", test_log_nickname, 0, 60 },
		{ "tls plain", test_limit_nodes, 0, 60 },
		{ "tls", test_plaintext_to_tls, 0, 60 },
		{ "tls", test_mitm, 0, 60 },
		{ "tls", test_identity, 0, 60 },
		{ "tls", test_plaintext_beyond_loopback, 0, 60 },
		{ "tls", test_tls_bad_handshake, 0, 60 },
		{ "tls", test_tls_threads, 0, 60 },
		{ "tls", test_bad_arguments, 0, 60 },
		{ "tls", test_basedir_fifo, 0, 60 },
		{ "tls", test_limit_handshakes_per_addr, 0, 60 },
		{ "tls", test_first_flight_silent, 0, 60 },
		{ "tls", test_tls_resume, 0, 60 },
		{ "tls", test_tls_ticket_keys_damaged, 0, 60 },
		{ "plain", test_tls_to_plaintext, 0, 60 },
		{ "plain", test_log_quota, 0, 120 },
		{ "tls plain", test_hello_interval, 0, 60 },
		{ "plain", test_limit_nodes_written, 0, 60 },
	};
	const struct fixture_tcase	 tcases[] = {
		{ "tls", setup_tls, teardown, NULL, NULL },
		{ "plain", setup_plain, teardown, NULL, NULL },
	};

	return fixture_main("gatherer", tests, FIXTURE_N(tests), tcases,
	    FIXTURE_N(tcases));
}
