// droppable: a MAP_DROPPABLE mapping of 32 MiB and a MADV_WIPEONFORK one
// of three pages, both written with a pattern. Prints the two addresses and
// READY to argv[1] (or NODROP and exits when the kernel has no
// MAP_DROPPABLE), then sleeps until killed.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#define DLEN (32UL << 20)
#define LEN (3 * 4096UL)
int main(int argc, char **argv) {
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	unsigned char *d = mmap(0, DLEN, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
	if (d == MAP_FAILED) {
		write(out, "NODROP\n", 7);
		return 0;
	}
	unsigned char *w = mmap(0, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(w, LEN, MADV_WIPEONFORK);
	for (unsigned long i = 0; i < DLEN; i++)
		d[i] = (unsigned char)(i * 7 + 1);
	for (unsigned long i = 0; i < LEN; i++)
		w[i] = (unsigned char)(i * 13 + 5);
	char buf[64];
	int n = snprintf(buf, sizeof buf, "%lx %lx\nREADY\n", (unsigned long)d, (unsigned long)w);
	write(out, buf, n);
	for (;;)
		pause();
}
