/* A workload for the remote fault tests: fills 8 MiB with a pattern,
 * writes "ready" to argv[1], then keeps checking the pattern and
 * writes "ok N" (N = checks done) to argv[1] on SIGUSR2. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIZE (8 << 20)
static volatile sig_atomic_t report;
static void on_usr2(int s) { (void)s; report = 1; }

static void status(const char *path, const char *s) {
	FILE *f = fopen(path, "w");
	if (f) { fputs(s, f); fclose(f); }
}

int main(int argc, char **argv) {
	if (argc < 2) return 2;
	unsigned char *m = malloc(SIZE);
	for (size_t i = 0; i < SIZE; i++) m[i] = (unsigned char)(i * 7 + 3);
	signal(SIGUSR2, on_usr2);
	status(argv[1], "ready\n");
	for (unsigned long n = 0;; n++) {
		for (size_t i = 0; i < SIZE; i += 4096)
			if (m[i] != (unsigned char)(i * 7 + 3)) { status(argv[1], "FAIL memory\n"); return 1; }
		if (report) {
			char b[64];
			snprintf(b, sizeof b, "ok %lu\n", n);
			status(argv[1], b);
			report = 0;
		}
		usleep(10000);
	}
}
