#include <sys/personality.h>

#include "zdtmtst.h"

const char *test_doc = "The personality (personality(2) flags) survives";

/* By default flags that change nothing the test harness relies on. */
static unsigned int want = PER_LINUX | ADDR_NO_RANDOMIZE | SHORT_INODE | WHOLE_SECONDS;
TEST_OPTION(want, uint, "personality to set (0: check that the default survives)", 0);

static void corrupt(void)
{
	personality(want == PER_LINUX ? ADDR_NO_RANDOMIZE : PER_LINUX);
}

int main(int argc, char **argv)
{
	int p;

	test_init(argc, argv);
	if (personality(want) < 0) {
		pr_perror("personality(%#x)", want);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	p = personality(0xffffffff);
	if (p < 0)
		fail("personality query failed");
	else if ((unsigned int)p != want)
		fail("personality is %#x, want %#x", p, want);
	pass();
	return 0;
}
