/*
 * cowtree NKIDS MB OUT: the parent fills MB MiB of private anonymous
 * memory and forks NKIDS children; child j rewrites pages 8j..8j+7 and
 * zaps page 100+j (MADV_DONTNEED), and after the forks the parent
 * rewrites pages 500..509, which the children keep as they were; child 0
 * also grows the mapping in place by 16 pages of 0x33 (mremap). The
 * parent also grows its heap by HEAPPAGES pages and fills them; child j
 * rewrites heap page j and grows the heap by 16 pages of 0x40+j. Each
 * task then writes "READY <addr>" (the parent, once all are set up) and,
 * on SIGUSR1, checks every page of the region and appends "OK <pid>" or
 * "BAD <pid> page <n>" to OUT.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PS 4096
#define HEAPPAGES 1024
static unsigned char *m, *heap;
static size_t npages;
static int me = -1; /* -1: the parent, else the child's index */
static const char *out;
static volatile sig_atomic_t check;

static int want(size_t p)
{
	if (me >= 0 && p >= (size_t)me * 8 && p < (size_t)me * 8 + 8)
		return 0x80 + me;
	if (me >= 0 && p == (size_t)100 + me)
		return 0;
	if (me < 0 && p >= 500 && p < 510)
		return 0xee;
	if (me == 0 && p >= npages - 16)
		return 0x33;
	return (int)(p & 0x7f);
}

static int want_heap(size_t p)
{
	if (me >= 0 && p == (size_t)me)
		return 0x90 + me;
	if (me >= 0 && p >= HEAPPAGES)
		return 0x40 + me;
	return (int)((p * 3) & 0x7f);
}

static void report(void)
{
	char line[128];
	size_t p, i;
	int fd;

	snprintf(line, sizeof(line), "OK %d\n", getpid());
	for (p = 0; p < npages; p++)
		for (i = 0; i < PS; i += 512)
			if (m[p * PS + i] != want(p)) {
				snprintf(line, sizeof(line), "BAD %d page %zu: %#x, want %#x\n", getpid(), p, m[p * PS + i], want(p));
				p = npages;
				break;
			}
	for (p = 0; p < HEAPPAGES + (me >= 0 ? 16 : 0); p++)
		if (heap[p * PS] != want_heap(p) || heap[p * PS + PS - 1] != want_heap(p)) {
			snprintf(line, sizeof(line), "BAD %d heap page %zu: %#x, want %#x\n", getpid(), p, heap[p * PS], want_heap(p));
			break;
		}
	fd = open(out, O_WRONLY | O_APPEND);
	write(fd, line, strlen(line));
	close(fd);
}

static void onusr1(int s)
{
	(void)s;
	check = 1;
}

int main(int argc, char **argv)
{
	int n, j, pfd[2];
	size_t p;
	sigset_t usr1, none;
	FILE *f;
	char c;

	if (argc != 4) {
		fprintf(stderr, "usage: %s NKIDS MB OUT\n", argv[0]);
		return 2;
	}
	n = atoi(argv[1]);
	npages = ((size_t)atoi(argv[2]) << 20) / PS;
	out = argv[3];
	signal(SIGUSR1, onusr1);
	sigemptyset(&none);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	if (pipe(pfd))
		return 1;
	/* Room after the mapping, for child 0 to grow it into. */
	m = mmap(NULL, npages * PS + (1 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || npages < 510) {
		perror("mmap");
		return 1;
	}
	munmap(m + npages * PS, 1 << 20);
	for (p = 0; p < npages; p++)
		memset(m + p * PS, (int)(p & 0x7f), PS);
	heap = sbrk(0);
	if (sbrk(PS - ((uintptr_t)heap % PS)) == (void *)-1 || (heap = sbrk(HEAPPAGES * PS)) == (void *)-1) {
		perror("sbrk");
		return 1;
	}
	for (p = 0; p < HEAPPAGES; p++)
		memset(heap + p * PS, (int)((p * 3) & 0x7f), PS);
	for (j = 0; j < n; j++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			me = j;
			memset(m + (size_t)j * 8 * PS, 0x80 + j, 8 * PS);
			madvise(m + (size_t)(100 + j) * PS, PS, MADV_DONTNEED);
			memset(heap + (size_t)j * PS, 0x90 + j, PS);
			if (sbrk(16 * PS) != heap + HEAPPAGES * PS) {
				perror("sbrk");
				return 1;
			}
			memset(heap + HEAPPAGES * PS, 0x40 + j, 16 * PS);
			if (j == 0) {
				if (mremap(m, npages * PS, (npages + 16) * PS, 0) != m) {
					perror("mremap");
					return 1;
				}
				memset(m + npages * PS, 0x33, 16 * PS);
				npages += 16;
			}
			write(pfd[1], "x", 1);
			break;
		}
	}
	close(pfd[1]);
	if (me < 0) {
		memset(m + 500 * PS, 0xee, 10 * PS);
		for (j = 0; j < n; j++)
			if (read(pfd[0], &c, 1) != 1)
				return 1;
		f = fopen(out, "w");
		if (!f)
			return 1;
		fprintf(f, "READY %p\n", (void *)m);
		fclose(f);
	}
	close(pfd[0]);
	for (;;) {
		sigsuspend(&none);
		if (check) {
			check = 0;
			report();
		}
	}
}
