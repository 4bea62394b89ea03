// counter: appends "i handled" lines to argv[1] every 10ms; SIGUSR1 bumps
// a counter in a handler; SIGUSR2 makes it check its heap and write PASS
// or FAIL. The line numbers must continue without a gap across dump/restore.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static volatile sig_atomic_t got, check;
static void h1(int s) { got++; }
static void h2(int s) { check = 1; }
int main(int argc, char **argv) {
	struct sigaction sa = {0};
	sa.sa_handler = h1;
	sigaction(SIGUSR1, &sa, 0);
	sa.sa_handler = h2;
	sigaction(SIGUSR2, &sa, 0);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	char *heap = malloc(1 << 20);
	memset(heap, 7, 1 << 20);
	for (long i = 0;; i++) {
		char buf[64];
		if (check) {
			check = 0;
			int ok = 1;
			for (int k = 0; k < (1 << 20); k++)
				if (heap[k] != 7) ok = 0;
			write(fd, ok ? "PASS\n" : "FAIL\n", 5);
		}
		int n = snprintf(buf, sizeof buf, "%ld %d\n", i, (int)got);
		write(fd, buf, n);
		usleep(10000);
	}
}
