// thpheap: three 16 MiB private anonymous mappings with a pattern: one
// with MADV_HUGEPAGE ("hg"), one with MADV_NOHUGEPAGE ("nh"), one made
// read-only after it was written. Prints the three addresses and READY;
// SIGUSR2 checks every byte and writes PASS or FAIL to argv[1].
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define SZ (16UL << 20)
static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }
static unsigned long *area(int adv, unsigned long seed) {
	// 2 MiB aligned, so that huge pages fit.
	char *p = mmap(0, SZ + (2UL << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long a = ((unsigned long)p + (2UL << 20) - 1) & ~((2UL << 20) - 1);
	if (a > (unsigned long)p) munmap(p, a - (unsigned long)p);
	munmap((char *)a + SZ, (unsigned long)p + SZ + (2UL << 20) - a - SZ);
	unsigned long *q = (unsigned long *)a;
	if (adv >= 0) madvise(q, SZ, adv);
	for (size_t i = 0; i < SZ / 8; i++) q[i] = i * seed;
	return q;
}
int main(int argc, char **argv) {
	signal(SIGUSR2, h2);
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	unsigned long *a[3];
	unsigned long seed[3] = {2654435761u, 40503u, 2246822519u};
	a[0] = area(MADV_HUGEPAGE, seed[0]);
	a[1] = area(MADV_NOHUGEPAGE, seed[1]);
	a[2] = area(-1, seed[2]);
	mprotect(a[2], SZ, PROT_READ);
	char buf[128];
	int n = snprintf(buf, sizeof buf, "%lx %lx %lx\nREADY\n", (unsigned long)a[0], (unsigned long)a[1], (unsigned long)a[2]);
	write(out, buf, n);
	for (;;) {
		if (check) {
			check = 0;
			int ok = 1;
			for (int k = 0; k < 3; k++)
				for (size_t i = 0; i < SZ / 8; i++)
					if (a[k][i] != i * seed[k]) { ok = 0; break; }
			write(out, ok ? "PASS\n" : "FAIL\n", 5);
		}
		usleep(1000);
	}
}
