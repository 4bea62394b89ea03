#include <sys/stat.h>

#include "zdtmtst.h"

const char *test_doc = "The umask survives";

static unsigned int mask = 0235;
TEST_OPTION(mask, uint, "umask to set (octal with a leading 0)", 0);

static void corrupt(void)
{
	umask(022);
}

int main(int argc, char **argv)
{
	mode_t m;

	test_init(argc, argv);
	umask(mask);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	m = umask(0);
	if (m != mask)
		fail("umask is %o, want %o", m, mask);
	pass();
	return 0;
}
