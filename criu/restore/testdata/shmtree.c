/*
 * shmtree NTASKS MB OUT: a tree of NTASKS processes sharing MB MiB of
 * anonymous shared memory inherited over fork. The root fills the memory,
 * forks the others, which wait, and then writes "READY <addr>" to OUT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s NTASKS MB OUT\n", argv[0]);
		return 2;
	}
	int n = atoi(argv[1]);
	size_t size = (size_t)atoi(argv[2]) << 20;
	unsigned char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t i = 0; i < size; i += 4096)
		memset(m + i, (int)(i >> 12) & 0xff, 4096);
	for (int i = 1; i < n; i++) {
		pid_t p = fork();
		if (p < 0) {
			perror("fork");
			return 1;
		}
		if (p == 0)
			for (;;)
				pause();
	}
	FILE *f = fopen(argv[3], "w");
	if (!f)
		return 1;
	fprintf(f, "READY %p\n", (void *)m);
	fclose(f);
	for (;;)
		pause();
}
