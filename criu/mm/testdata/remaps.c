/* remaps OUTFILE: memory that changes in the ways write tracking must
 * see. After "ready", SIGUSR1 makes it: unmap region B and map a new one
 * at the same address with other data; zap (MADV_DONTNEED) the first
 * half of region A and read a quarter of it back (zero pages); have the
 * kernel write A's last page (read from a pipe); fork a child that sleeps. Then "mutated". SIGUSR2 checks everything and
 * appends PASS or FAIL. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define N 64

static volatile sig_atomic_t mutate, check;
static const char *out;
static void on_usr1(int s) { (void)s; mutate = 1; }
static void on_usr2(int s) { (void)s; check = 1; }

static void say(const char *s) {
	int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		exit(2);
	close(fd);
}

static void fill(char *p, int seed) {
	for (int k = 0; k < N; k++)
		memset(p + k * PAGE, seed + k, PAGE);
}

int main(int argc, char **argv) {
	out = argv[1];
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	/* A and B with a hole between, so that the two never merge. */
	char *a = mmap(NULL, 3 * N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return 3;
	char *b = a + 2 * N * PAGE;
	munmap(a + N * PAGE, N * PAGE);
	fill(a, 1);
	fill(b, 100);
	say("ready\n");
	int mutated = 0;
	volatile char sink = 0;
	for (;;) {
		if (mutate) {
			mutate = 0;
			munmap(b, N * PAGE);
			if (mmap(b, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != b)
				return 3;
			fill(b, 50);
			madvise(a, N / 2 * PAGE, MADV_DONTNEED);
			for (int k = 0; k < N / 4; k++)
				sink += a[k * PAGE];
			/* The kernel writes the last page of A (read(2)):
			 * a write from kernel mode must be seen too. */
			int pf[2];
			char buf[PAGE];
			memset(buf, 77, PAGE);
			if (pipe(pf) || write(pf[1], buf, PAGE) != PAGE || read(pf[0], a + (N - 1) * PAGE, PAGE) != PAGE)
				return 3;
			close(pf[0]);
			close(pf[1]);
			if (fork() == 0) {
				for (;;)
					pause();
			}
			mutated = 1;
			say("mutated\n");
		}
		if (check) {
			check = 0;
			for (int k = 0; k < N; k++) {
				char wa = k < N / 2 ? 0 : (char)(1 + k);
				if (k == N - 1 && mutated)
					wa = 77;
				char wb = (char)((mutated ? 50 : 100) + k);
				for (int i = 0; i < PAGE; i++) {
					if (a[k * PAGE + i] != wa || b[k * PAGE + i] != wb) {
						char msg[96];
						snprintf(msg, sizeof msg, "FAIL page %d byte %d: a %d b %d\n", k, i, a[k * PAGE + i], b[k * PAGE + i]);
						say(msg);
						return 4;
					}
				}
			}
			say("PASS\n");
		}
		usleep(1000);
	}
}
