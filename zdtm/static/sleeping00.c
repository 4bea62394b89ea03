#include "zdtmtst.h"

const char *test_doc = "The simplest test: a task asleep in futex keeps a data pattern";

static uint8_t data[3 * 4096 + 100];

static void corrupt(void)
{
	data[4096] ^= 0x80;
}

int main(int argc, char **argv)
{
	long bad;

	test_init(argc, argv);
	fill_pattern(data, sizeof(data), 99);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if ((bad = check_pattern(data, sizeof(data), 99)) >= 0)
		fail("data differs at %ld", bad);
	pass();
	return 0;
}
