/* A task holding an eventfd in semaphore mode (EFD_SEMAPHORE) with a
 * counter of 2. Writes "ready" to argv[1], and on SIGUSR2 checks that the
 * eventfd still counts as a semaphore (two reads of 1, then EAGAIN) and
 * writes PASS or FAIL. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr2(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	uint64_t v;
	FILE *out;
	int efd, i;

	if (argc < 2 || !(out = fopen(argv[1], "w")))
		return 1;
	setvbuf(out, NULL, _IONBF, 0);
	signal(SIGUSR2, on_usr2);
	efd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	if (efd < 0) {
		fprintf(out, "FAIL: eventfd: %m\n");
		return 1;
	}
	fprintf(out, "ready\n");
	while (!go)
		pause();
	for (i = 0; i < 2; i++)
		if (read(efd, &v, sizeof(v)) != sizeof(v) || v != 1) {
			fprintf(out, "FAIL: read %d of the semaphore gave %llu (%m)\n", i, (unsigned long long)v);
			return 1;
		}
	if (read(efd, &v, sizeof(v)) != -1 || errno != EAGAIN) {
		fprintf(out, "FAIL: the semaphore counted more than 2\n");
		return 1;
	}
	fprintf(out, "PASS\n");
	return 0;
}
