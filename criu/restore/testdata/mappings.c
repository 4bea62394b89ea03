// mappings: one of each kind of mapping, filled with patterns; SIGUSR2
// makes it verify every byte and write PASS or FAIL to argv[1].
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define PG 4096
static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }
static int out;
static void fail(const char *what) {
	char b[128];
	int n = snprintf(b, sizeof b, "FAIL %s\n", what);
	write(out, b, n);
}
static int pat(unsigned char *p, size_t n, int seed, int verify) {
	for (size_t i = 0; i < n; i++) {
		unsigned char v = (unsigned char)(i * 7 + seed);
		if (verify) {
			if (p[i] != v) return 0;
		} else
			p[i] = v;
	}
	return 1;
}
int main(int argc, char **argv) {
	signal(SIGUSR2, h2);
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	const char *dir = argv[2];
	char path[512];
	// private anonymous, with a hole never touched
	unsigned char *pa = mmap(0, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pat(pa, 8 * PG, 1, 0);
	// read-only private anonymous with data (mprotected after fill)
	unsigned char *ro = mmap(0, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pat(ro, 4 * PG, 2, 0);
	mprotect(ro, 4 * PG, PROT_READ);
	// guard pages around a region
	unsigned char *gd = mmap(0, 6 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(gd + PG, 4 * PG, PROT_READ | PROT_WRITE);
	pat(gd + PG, 4 * PG, 3, 0);
	// shared anonymous
	unsigned char *sa = mmap(0, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pat(sa, 8 * PG, 4, 0);
	// private file mapping, some pages written (COW)
	snprintf(path, sizeof path, "%s/private.dat", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	unsigned char fb[8 * PG];
	pat(fb, sizeof fb, 5, 0);
	write(fd, fb, sizeof fb);
	unsigned char *pf = mmap(0, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	pat(pf + 2 * PG, 2 * PG, 6, 0);
	// shared file mapping, written through the mapping
	snprintf(path, sizeof path, "%s/shared.dat", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ftruncate(fd, 4 * PG);
	unsigned char *sf = mmap(0, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	pat(sf, 4 * PG, 7, 0);
	// grows-down region
	unsigned char *gdn = mmap(0, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
	pat(gdn, 4 * PG, 8, 0);
	// madvise flags
	unsigned char *mv = mmap(0, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(mv, 2 * PG, MADV_DONTFORK);
	madvise(mv + 2 * PG, 2 * PG, MADV_DONTDUMP);
	madvise(mv + 4 * PG, 2 * PG, MADV_NOHUGEPAGE);
	pat(mv, 8 * PG, 9, 0);
	// a file deleted while open and mapped
	snprintf(path, sizeof path, "%s/deleted.dat", dir);
	int dfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unsigned char db[3 * PG];
	pat(db, sizeof db, 10, 0);
	write(dfd, db, sizeof db);
	unsigned char *df = mmap(0, 3 * PG, PROT_READ, MAP_SHARED, dfd, 0);
	unlink(path);
	lseek(dfd, 100, SEEK_SET);
	// /dev/null
	int nfd = open("/dev/null", O_WRONLY);
	// heap
	unsigned char *hp = malloc(64 * PG);
	pat(hp, 64 * PG, 11, 0);
	write(out, "READY\n", 6);
	for (;;) {
		if (check) {
			check = 0;
			int ok = 1;
#define V(p, n, s, name) if (!pat(p, n, s, 1)) { fail(name); ok = 0; }
			V(pa, 8 * PG, 1, "private anon");
			for (int i = 8 * PG; i < 16 * PG; i++) if (pa[i]) { fail("anon hole"); ok = 0; break; }
			V(ro, 4 * PG, 2, "read-only anon");
			V(gd + PG, 4 * PG, 3, "guarded");
			V(sa, 8 * PG, 4, "shared anon");
			V(pf, 2 * PG, 5, "private file head");
			V(pf + 2 * PG, 2 * PG, 6, "private file cow");
			V(pf + 4 * PG, 4 * PG, 5 + 4 * PG * 7 % 256, "private file tail");
			V(sf, 4 * PG, 7, "shared file");
			V(gdn, 4 * PG, 8, "growsdown");
			V(mv, 8 * PG, 9, "madvised");
			V(df, 3 * PG, 10, "deleted file map");
			V(hp, 64 * PG, 11, "heap");
			if (lseek(dfd, 0, SEEK_CUR) != 100) { fail("deleted fd pos"); ok = 0; }
			if (write(nfd, "x", 1) != 1) { fail("/dev/null"); ok = 0; }
			if (ok) write(out, "PASS\n", 5);
		}
		usleep(1000);
	}
}
