#include <time.h>

#include "zdtmtst.h"

const char *test_doc = "A loop of nanosleep and clock reads keeps going across C/R";

static volatile int bad;

static void corrupt(void)
{
	bad = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long n = 0, eintr = 0;
	double start, prev, t;

	test_init(argc, argv);
	test_set_corrupt(corrupt);
	start = prev = now();
	test_daemon();

	/* At least one sleep, even if SIGTERM came already. */
	do {
		struct timespec ts = {0, 10 * 1000 * 1000};

		if (nanosleep(&ts, NULL)) {
			if (errno != EINTR) {
				pr_perror("nanosleep");
				break;
			}
			eintr++;
		}
		t = now();
		if (t < prev) {
			fail("CLOCK_MONOTONIC went back from %f to %f", prev, t);
			break;
		}
		prev = t;
		n++;
	} while (test_go());
	if (bad)
		fail("the sleep loop saw a bad state");
	if (n == 0)
		fail("no sleep completed");
	test_msg("%lu sleeps (%lu interrupted) over %.3fs\n", n, eintr, prev - start);
	pass();
	return 0;
}
