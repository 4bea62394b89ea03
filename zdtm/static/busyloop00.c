#include <stdint.h>

#include "zdtmtst.h"

const char *test_doc = "A busy loop keeps computing a checksum sequence without a syscall";

static volatile uint64_t iters;
static volatile uint64_t state;
static volatile uint64_t shadow;

static void corrupt(void)
{
	state ^= 1;
}

static uint64_t step(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

int main(int argc, char **argv)
{
	uint64_t x = 88172645463325252ull, y = x, n = 0, i;

	test_init(argc, argv);
	state = shadow = x;
	test_set_corrupt(corrupt);
	test_daemon();

	/* state and shadow advance in lock step; the loop makes no syscall. */
	while (test_go()) {
		x = step(x);
		y = step(y);
		state = x;
		shadow = y;
		n++;
		iters = n;
	}
	/* Replaying the sequence from the seed must reach the same value. */
	x = 88172645463325252ull;
	for (i = 0; i < iters; i++)
		x = step(x);
	if (state != shadow || state != x)
		fail("state %#llx, shadow %#llx, replay %#llx after %llu iterations",
		     (unsigned long long)state, (unsigned long long)shadow,
		     (unsigned long long)x, (unsigned long long)iters);
	else
		test_msg("%llu iterations\n", (unsigned long long)iters);
	pass();
	return 0;
}
