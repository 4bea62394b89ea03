#include <sys/prctl.h>

#include "zdtmtst.h"

const char *test_doc = "The child-subreaper flag (PR_SET_CHILD_SUBREAPER) survives";

static void corrupt(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
	int v = 0;

	test_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		pr_perror("PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&v, 0, 0, 0))
		fail("PR_GET_CHILD_SUBREAPER failed");
	else if (v != 1)
		fail("child subreaper is %d, want 1", v);
	pass();
	return 0;
}
