#include <stdlib.h>

#include "zdtmtst.h"

const char *test_doc = "256 MiB of malloc'ed memory and many small chunks keep their contents";

#define BIG (256L << 20)
#define NSMALL 1000

static uint8_t *big;
static uint8_t *small[NSMALL];

static void corrupt(void)
{
	big[BIG - 1] ^= 1;
}

int main(int argc, char **argv)
{
	long bad;
	int i;

	test_init(argc, argv);
	big = malloc(BIG);
	if (!big) {
		pr_perror("malloc");
		return 1;
	}
	fill_pattern(big, BIG, 256);
	for (i = 0; i < NSMALL; i++) {
		small[i] = malloc(16 + i);
		fill_pattern(small[i], 16 + i, i);
	}
	for (i = 0; i < NSMALL; i += 2) {
		free(small[i]);
		small[i] = NULL;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if ((bad = check_pattern(big, BIG, 256)) >= 0)
		fail("the big block differs at offset %ld", bad);
	for (i = 1; i < NSMALL; i += 2)
		if ((bad = check_pattern(small[i], 16 + i, i)) >= 0)
			fail("small chunk %d differs at offset %ld", i, bad);
	/* The allocator still works on the restored heap. */
	for (i = 0; i < NSMALL; i += 2)
		small[i] = malloc(100);
	for (i = 0; i < NSMALL; i++)
		free(small[i]);
	pass();
	return 0;
}
