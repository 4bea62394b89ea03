// bigcounter: argv[2] MiB of dirty heap with a pattern, and a counter
// line ("tick N") appended to argv[1] every 10 ms; SIGUSR2 makes it check
// the heap and write PASS or FAIL. "READY" once the heap is filled.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }
int main(int argc, char **argv) {
	struct sigaction sa = {0};
	sa.sa_handler = h2;
	sigaction(SIGUSR2, &sa, 0);
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	size_t n = (size_t)atoi(argv[2]) << 20;
	unsigned long *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < n / 8; i++) p[i] = i * 2654435761u;
	write(out, "READY\n", 6);
	for (long t = 0;; t++) {
		char buf[32];
		if (check) {
			check = 0;
			int ok = 1;
			for (size_t i = 0; i < n / 8; i++)
				if (p[i] != i * 2654435761u) { ok = 0; break; }
			write(out, ok ? "PASS\n" : "FAIL\n", 5);
		}
		int k = snprintf(buf, sizeof buf, "tick %ld\n", t);
		write(out, buf, k);
		usleep(10000);
	}
}
