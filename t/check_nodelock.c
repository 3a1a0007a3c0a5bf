/* check_nodelock.c: being written. */
#include <check.h>
#include <stdlib.h>
START_TEST(test_stub) { ck_assert_int_eq(1, 1); }
END_TEST
int
main(void)
{
	Suite *s = suite_create("nodelock");
	TCase *tc = tcase_create("stub");
	SRunner *sr;
	int nf;

	tcase_add_test(tc, test_stub);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
