// execchild: the program execparent's child runs. argv[1] is the output
// fd. It fills a heap with a pattern, writes "CHILDREADY", counts until
// SIGUSR2, then checks its heap, counter and /proc/self/exe (which must
// still be this program) and exits 0 if all is well, writing "FAIL child
// ..." lines otherwise.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	int out = atoi(argv[1]);
	char exe0[4096], exe1[4096];
	ssize_t n = readlink("/proc/self/exe", exe0, sizeof exe0 - 1);
	if (n < 0)
		return 2;
	exe0[n] = 0;
	char *heap = malloc(1 << 16);
	memset(heap, 0x3c, 1 << 16);
	signal(SIGUSR2, h2);
	long counter = 0;
	while (!check) {
		/* Ready once the loop has run twice (the check wants 2). */
		if (++counter == 2)
			dprintf(out, "CHILDREADY\n");
		usleep(1000);
	}
	int ok = 1;
	for (int k = 0; k < (1 << 16); k++)
		if (heap[k] != 0x3c) {
			dprintf(out, "FAIL child: heap\n");
			ok = 0;
			break;
		}
	if (counter < 2) {
		dprintf(out, "FAIL child: counter %ld\n", counter);
		ok = 0;
	}
	n = readlink("/proc/self/exe", exe1, sizeof exe1 - 1);
	exe1[n < 0 ? 0 : n] = 0;
	if (strcmp(exe0, exe1) != 0) {
		dprintf(out, "FAIL child: exe %s, want %s\n", exe1, exe0);
		ok = 0;
	}
	return ok ? 0 : 1;
}
