/*
 * The demo workload: counts, and every 200 ms appends "tick N pid P host H"
 * to the file named on its command line. Its state (the counter in memory,
 * the file position) must carry on after a migration without a gap. With
 * a second argument it first sets that host name (in the container scene,
 * where it runs as pid 1 of namespaces of its own).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char host[65] = "";

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: %s FILE [HOSTNAME]\n", argv[0]);
		return 2;
	}
	if (argc == 3 && sethostname(argv[2], strlen(argv[2])) < 0) {
		perror("sethostname");
		return 1;
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
		/* Asked every time: after a migration it is the new host's
		 * answer that counts. */
		gethostname(host, sizeof host - 1);
		fprintf(f, "tick %lu pid %d host %s\n", n, getpid(), host);
		nanosleep(&ts, NULL);
	}
}
