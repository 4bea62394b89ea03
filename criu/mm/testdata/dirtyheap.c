/* dirtyheap OUTFILE MIB DIRTY_PERCENT: a big private heap whose first
 * DIRTY_PERCENT keeps being rewritten. Each page holds its generation in
 * word 0 and a pattern derived from (page, generation) in the others.
 * Prints "ready" to OUTFILE once filled; on SIGUSR2 checks every page
 * between two page writes, pattern and generation (which follows from
 * where the sweep is), and appends "PASS sweeps N" or "FAIL ...". */
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
#define WORDS (PAGE / 8)

static volatile sig_atomic_t check;
static const char *out;

static void on_usr2(int sig) { (void)sig; check = 1; }

static void say(const char *s) {
	int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		exit(2);
	if (write(fd, s, strlen(s)) < 0)
		exit(2);
	close(fd);
}

static inline uint64_t pat(uint64_t page, uint64_t gen, uint64_t j) {
	return (page * 0x9E3779B97F4A7C15ull ^ (gen << 20)) + j;
}

static void fill(uint64_t *p, uint64_t page, uint64_t gen) {
	for (uint64_t j = 1; j < WORDS; j++)
		p[j] = pat(page, gen, j);
	p[0] = gen;
}

int main(int argc, char **argv) {
	if (argc != 4)
		return 1;
	out = argv[1];
	size_t npages = (size_t)atol(argv[2]) * (1 << 20) / PAGE;
	size_t ndirty = npages * (size_t)atol(argv[3]) / 100;
	if (ndirty == 0)
		ndirty = 1;
	signal(SIGUSR2, on_usr2);
	char *heap = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (heap == MAP_FAILED)
		return 3;
	for (size_t k = 0; k < npages; k++)
		fill((uint64_t *)(heap + k * PAGE), k, 0);
	say("ready\n");
	unsigned long sweeps = 0;
	for (size_t k = 0;; k++) {
		if (k == ndirty) {
			k = 0;
			sweeps++;
		}
		uint64_t *p = (uint64_t *)(heap + k * PAGE);
		fill(p, k, p[0] + 1);
		if (k % 64 == 0)
			usleep(200);
		if (check) {
			check = 0;
			char msg[128];
			for (size_t i = 0; i < npages; i++) {
				uint64_t *q = (uint64_t *)(heap + i * PAGE);
				for (uint64_t j = 1; j < WORDS; j++) {
					if (q[j] != pat(i, q[0], j)) {
						snprintf(msg, sizeof msg, "FAIL page %zu word %lu gen %lu\n", i, (unsigned long)j, (unsigned long)q[0]);
						say(msg);
						return 4;
					}
				}
				/* Pages 0..k are in sweep+1, the rest of the
				 * dirty part in sweep, the others never written:
				 * a stale page has an older generation. */
				uint64_t want = i >= ndirty ? 0 : sweeps + (i <= k ? 1 : 0);
				if (q[0] != want) {
					snprintf(msg, sizeof msg, "FAIL page %zu has gen %lu, want %lu\n", i, (unsigned long)q[0], (unsigned long)want);
					say(msg);
					return 4;
				}
			}
			snprintf(msg, sizeof msg, "PASS sweeps %lu\n", sweeps);
			say(msg);
		}
	}
}
