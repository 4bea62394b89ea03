// workers: a parent with argv[2] MiB of dirty heap forks argv[3] workers
// that share it copy-on-write and wait; "READY" goes to argv[1] when all
// run. The tree's proportional set size tells whether a restore kept the
// sharing.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
	size_t n = (size_t)atoi(argv[2]) << 20;
	int k = atoi(argv[3]);
	char *m = malloc(n);
	for (size_t i = 0; i < n; i += 4096)
		m[i] = (char)(i >> 12) | 1;
	for (int i = 0; i < k; i++)
		if (fork() == 0)
			for (;;)
				pause();
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	write(out, "READY\n", 6);
	for (;;)
		pause();
}
