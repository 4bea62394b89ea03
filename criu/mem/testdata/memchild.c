// memchild: maps 16 pages, fills pages 0-3, 8-9 and 15 with page number + 1,
// maps one more page holding 0x5a and makes it read-only, prints both
// addresses and waits to be killed.
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(void) {
	unsigned char *p = mmap(0, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int touched[] = {0, 1, 2, 3, 8, 9, 15};
	for (int i = 0; i < 7; i++)
		memset(p + touched[i] * 4096, touched[i] + 1, 4096);
	unsigned char *ro = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(ro, 0x5a, 4096);
	mprotect(ro, 4096, PROT_READ);
	printf("%lx %lx\n", (unsigned long)p, (unsigned long)ro);
	fflush(stdout);
	for (;;) pause();
}
