/*
 * check_log.c: libtally's one logger: the host's hook, the stderr
 * default, and failures said once until they change.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally-int.h"
#include "fixture.h"

static char	 heard[LOG_LINE_MAX + 16];
static int	 heard_level, heard_n;

static void
hook_cb(void *ctx, int level, const char *msg)
{
	ck_assert_ptr_eq(ctx, &heard_n);
	snprintf(heard, sizeof heard, "%s", msg);
	heard_level = level;
	heard_n++;
}

START_TEST(test_hook)
{
	struct log_hook	 h = { hook_cb, &heard_n };
	char		 big[2 * LOG_LINE_MAX];

	heard_n = 0;
	log_msg(&h, TALLY_LOG_WARN, "gatherer %s: %d", "x", 7);
	ck_assert_int_eq(heard_n, 1);
	ck_assert_int_eq(heard_level, TALLY_LOG_WARN);
	ck_assert_str_eq(heard, "gatherer x: 7");
	/* A long line is cut, not refused. */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_msg(&h, TALLY_LOG_ERR, "%s", big);
	ck_assert_int_eq(heard_n, 2);
	ck_assert_uint_eq(strlen(heard), LOG_LINE_MAX - 1);
}
END_TEST

/*
 * A line holds paths, names and file contents: whatever a terminal would
 * not show as text (a newline that would forge a second line, ESC, a C1
 * control, a byte of no whole UTF-8 character) reaches the hook, and
 * stderr, as '?'; UTF-8 text stays.
 */
START_TEST(test_hook_shown)
{
	struct log_hook	 h = { hook_cb, &heard_n };

	heard_n = 0;
	log_msg(&h, TALLY_LOG_ERR, "%s: empty", "/srv/n\nfake: line");
	ck_assert_str_eq(heard, "/srv/n?fake: line: empty");
	log_msg(&h, TALLY_LOG_ERR, "%s", "a\033[31mb\177c\302\233d\377");
	ck_assert_str_eq(heard, "a?[31mb?c??d?");
	log_msg(&h, TALLY_LOG_ERR, "%s", "caf\303\251 \342\202\254");
	ck_assert_str_eq(heard, "caf\303\251 \342\202\254");
	ck_assert_int_eq(heard_n, 3);
}
END_TEST

/* No hook, or a hook without fn: "tally: message" on stderr. */
START_TEST(test_stderr_default)
{
	struct log_hook	 none = { NULL, NULL };
	char		 path[FIXTURE_PATH_MAX], buf[256];
	FILE		*f;
	int		 fd, saved;
	size_t		 n;

	ck_assert_ptr_nonnull(fixture_tmpdir(path));
	strcat(path, "/err");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	log_msg(NULL, TALLY_LOG_INFO, "one %d", 1);
	log_msg(&none, TALLY_LOG_ERR, "two");
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_assert_str_eq(buf, "tally: one 1\ntally: two\n");
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
}
END_TEST

/* What log_once says to each step: a failure's message, or NULL for OK. */
static const struct {
	const char	*fail;
	int		 said;		/* log_once_fail's answer */
	unsigned long	 failed;	/* log_once_ok's */
} once_steps[] = {
	{ "statsfile: damaged", 1, 0 },
	{ "statsfile: damaged", 0, 0 },
	{ "statsfile: damaged", 0, 0 },
	{ "map full", 1, 0 },		/* a different failure is said */
	{ "statsfile: damaged", 1, 0 },
	{ NULL, 0, 5 },			/* recovery: after five */
	{ NULL, 0, 0 },
	{ "statsfile: damaged", 1, 0 },	/* said again after a success */
	{ NULL, 0, 1 },
};

START_TEST(test_once)
{
	struct log_once	 o;
	size_t		 i;

	memset(&o, 0, sizeof o);
	for (i = 0; i < sizeof once_steps / sizeof once_steps[0]; i++) {
		if (once_steps[i].fail != NULL)
			ck_assert_msg(log_once_fail(&o, once_steps[i].fail) ==
			    once_steps[i].said, "step %zu", i);
		else
			ck_assert_msg(log_once_ok(&o) ==
			    once_steps[i].failed, "step %zu", i);
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_hook);
	tcase_add_test(tc, test_hook_shown);
	tcase_add_test(tc, test_stderr_default);
	tcase_add_test(tc, test_once);
	suite_add_tcase(s, tc);
	return fixture_run(s);
}
