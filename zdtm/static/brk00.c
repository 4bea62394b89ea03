#define _DEFAULT_SOURCE
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "The program break and the memory below it survive, and brk still grows";

#define GROW (1L << 20)

static uint8_t *start, *end;

static void corrupt(void)
{
	sbrk(4096);
}

int main(int argc, char **argv)
{
	uint8_t *now, *more;
	long bad;

	test_init(argc, argv);
	start = sbrk(GROW);
	if (start == (void *)-1) {
		pr_perror("sbrk");
		return 1;
	}
	fill_pattern(start, GROW, 9);
	test_set_corrupt(corrupt);
	test_daemon();
	/* After test_daemon: its stdio may have moved the break. */
	end = sbrk(0);
	test_waitsig();

	now = sbrk(0);
	if (now != end)
		fail("brk is %p, want %p", (void *)now, (void *)end);
	if ((bad = check_pattern(start, GROW, 9)) >= 0)
		fail("the brk area differs at %ld", bad);
	more = sbrk(GROW);
	if (more == (void *)-1)
		pr_perror("sbrk after restore");
	else {
		memset(more, 0x5a, GROW);
		if (sbrk(0) != now + GROW)
			fail("brk did not grow");
	}
	pass();
	return 0;
}
