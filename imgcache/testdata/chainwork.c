/* The workload of TestRemotePreDumpChain: 64 MiB of anonymous memory
 * with a known pattern. SIGUSR1 rewrites 16 scattered pages with the next
 * generation of the pattern; SIGUSR2 checks all of it. Each step reports
 * on the file named by argv[1] ("ready 0", "touched N", "ok N", "bad ..."). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 16384
#define TOUCH 16
static volatile sig_atomic_t usr1, usr2;
static void on1(int s) { (void)s; usr1 = 1; }
static void on2(int s) { (void)s; usr2 = 1; }
static uint64_t word(uint64_t page, uint64_t i, uint64_t gen) { return (page * 1000003 + i) * 2654435761u + gen; }
static void fill(uint64_t *m, uint64_t page, uint64_t gen) {
	for (uint64_t i = 0; i < 512; i++) m[page * 512 + i] = word(page, i, gen);
}
static void report(const char *path, const char *msg) {
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) return;
	write(fd, msg, strlen(msg));
	close(fd);
	rename(tmp, path);
}
int main(int argc, char **argv) {
	if (argc != 2) return 2;
	for (int fd = 3; fd < 1024; fd++) close(fd);
	const char *out = argv[1];
	int gen = 0;
	char msg[256];
	uint64_t *m = mmap(0, PAGES * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) return 1;
	for (uint64_t p = 0; p < PAGES; p++) fill(m, p, 0);
	signal(SIGUSR1, on1);
	signal(SIGUSR2, on2);
	report(out, "ready 0\n");
	for (;;) {
		pause();
		if (usr1) {
			usr1 = 0;
			gen++;
			for (uint64_t p = 0; p < TOUCH; p++) fill(m, p * 1000, gen);
			snprintf(msg, sizeof msg, "touched %d\n", gen);
			report(out, msg);
		}
		if (usr2) {
			usr2 = 0;
			snprintf(msg, sizeof msg, "ok %d\n", gen);
			for (uint64_t p = 0; p < PAGES; p++) {
				uint64_t g = (p % 1000 == 0 && p / 1000 < TOUCH) ? gen : 0;
				for (uint64_t i = 0; i < 512; i++)
					if (m[p * 512 + i] != word(p, i, g)) {
						snprintf(msg, sizeof msg, "bad page %lu word %lu\n", (unsigned long)p, (unsigned long)i);
						p = PAGES;
						break;
					}
			}
			report(out, msg);
		}
	}
}
