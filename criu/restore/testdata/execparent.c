// execparent: a parent whose child runs another program. argv[1] is the
// output file (opened O_APPEND, inherited), argv[2] the child's program
// (execchild), run as "execchild <fd>". The parent writes "READY <child>"
// once the child is started and its own loop has run twice; on SIGUSR2 it signals the child, reaps it
// (it must exit 0), checks its own heap, counter and /proc/self/exe, and
// writes "ALLPASS" or "FAIL ...".
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (out < 0)
		return 2;
	char exe0[4096], exe1[4096];
	ssize_t n = readlink("/proc/self/exe", exe0, sizeof exe0 - 1);
	if (n < 0)
		return 2;
	exe0[n] = 0;
	char *heap = malloc(1 << 16);
	memset(heap, 0x5a, 1 << 16);
	signal(SIGUSR2, h2);
	pid_t kid = fork();
	if (kid == 0) {
		char fd[16];
		snprintf(fd, sizeof fd, "%d", out);
		execl(argv[2], argv[2], fd, (char *)NULL);
		_exit(3);
	}
	long counter = 0;
	while (!check) {
		/* READY once the loop has run twice, so that a dump right
		 * after it cannot catch a counter below the check's 2 on a
		 * loaded machine. */
		if (++counter == 2)
			dprintf(out, "READY %d\n", kid);
		usleep(1000);
	}
	int ok = 1;
	kill(kid, SIGUSR2);
	int st;
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		dprintf(out, "FAIL parent: child status %#x\n", st);
		ok = 0;
	}
	for (int k = 0; k < (1 << 16); k++)
		if (heap[k] != 0x5a) {
			dprintf(out, "FAIL parent: heap\n");
			ok = 0;
			break;
		}
	if (counter < 2) {
		dprintf(out, "FAIL parent: counter %ld\n", counter);
		ok = 0;
	}
	n = readlink("/proc/self/exe", exe1, sizeof exe1 - 1);
	exe1[n < 0 ? 0 : n] = 0;
	if (strcmp(exe0, exe1) != 0) {
		dprintf(out, "FAIL parent: exe %s, want %s\n", exe1, exe0);
		ok = 0;
	}
	dprintf(out, ok ? "ALLPASS\n" : "FAIL parent\n");
	return ok ? 0 : 1;
}
