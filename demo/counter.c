/*
 * The demo workload: counts, and every 200 ms appends "tick N" to the file
 * named on its command line. Its state (the counter in memory, the file
 * position) must carry on after a migration without a gap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	/* A service, not a shell job: its own session (dump refuses a task
	 * whose session belongs to a shell unless given --shell-job). */
	if (setsid() < 0) {
		perror("setsid");
		return 1;
	}
	FILE *f = fopen(argv[1], "a");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	for (unsigned long n = 1;; n++) {
		fprintf(f, "tick %lu pid %d\n", n, getpid());
		nanosleep(&ts, NULL);
	}
}
