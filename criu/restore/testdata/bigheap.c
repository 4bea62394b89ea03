// bigheap: argv[2] MiB of dirty heap with a pattern; SIGUSR2 verifies it
// and writes PASS or FAIL to argv[1].
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }
int main(int argc, char **argv) {
	signal(SIGUSR2, h2);
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	size_t n = (size_t)atoi(argv[2]) << 20;
	// Populated in bulk: faulting 1 GiB page by page takes seconds here.
	unsigned long *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	for (size_t i = 0; i < n / 8; i++) p[i] = i * 2654435761u;
	write(out, "READY\n", 6);
	for (;;) {
		if (check) {
			check = 0;
			int ok = 1;
			for (size_t i = 0; i < n / 8; i++)
				if (p[i] != i * 2654435761u) { ok = 0; break; }
			write(out, ok ? "PASS\n" : "FAIL\n", 5);
		}
		usleep(1000);
	}
}
