#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Every kind of mapping (private and shared, anonymous and file, "
		       "executable) with mprotect'ed pieces and PROT_NONE guards keeps its "
		       "contents, protections and layout";

static char *filename = "maps00.data";
TEST_OPTION(filename, string, "file to map", 0);

#define PS 4096L
#define NPAGES 16

struct area {
	const char *name;
	uint8_t *addr;
	long len;
	uint64_t seed; /* pattern of the contents, 0: not checked by pattern */
};

enum { PRIV_ANON, SHARED_ANON, PRIV_FILE, SHARED_FILE, RO_FILE, SPARSE, NR_AREAS };
static struct area areas[NR_AREAS];
static uint8_t *reserve, *code;
static char maps_before[NR_AREAS + 2][4096];
static sigjmp_buf jb;

static void segv(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

/* faults says whether touching p (reading or writing) faults. */
static int faults(volatile uint8_t *p, int write)
{
	struct sigaction sa = {.sa_handler = segv, .sa_flags = SA_NODEFER}, old;
	int ret = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(jb, 1) == 0) {
		if (write)
			*p = *p;
		else
			(void)*p;
	} else
		ret = 1;
	sigaction(SIGSEGV, &old, NULL);
	return ret;
}

/* maps_of writes the /proc/self/maps lines that overlap [a, a+len). */
static void maps_of(void *a, long len, char *out, size_t outlen)
{
	unsigned long s, e, lo = (unsigned long)a, hi = lo + len;
	char line[512];
	unsigned long shm_inos[16];
	int nshm = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char perms[8], offs[32], dev[32], path[256] = "";
		unsigned long ino;

		if (sscanf(line, "%lx-%lx", &s, &e) != 2 || e <= lo || s >= hi)
			continue;
		/*
		 * A shared anonymous area is a new shmem object after restore:
		 * its inode number may change, so name it by order of
		 * appearance; pieces of one object must still share one.
		 */
		if (sscanf(line, "%*s %7s %31s %31s %lu %255[^\n]", perms, offs, dev, &ino, path) >= 4 &&
		    !strncmp(path, "/dev/zero", 9)) {
			int k;

			for (k = 0; k < nshm && shm_inos[k] != ino; k++)
				;
			if (k == nshm && nshm < 16)
				shm_inos[nshm++] = ino;
			snprintf(line, sizeof(line), "%lx-%lx %s %s shmem#%d %s\n", s, e, perms, offs, k, path);
		}
		if (strlen(out) + strlen(line) < outlen)
			strcat(out, line);
	}
	fclose(f);
}

static void *map(long len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED) {
		pr_perror("mmap");
		exit(1);
	}
	return p;
}

static void corrupt(void)
{
	areas[PRIV_ANON].addr[PS * 3 + 5] ^= 0xff;
}

int main(int argc, char **argv)
{
	static const uint8_t ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov $42, %eax; ret */
	uint8_t filebuf[NPAGES * PS], *guarded;
	char now[4096];
	long bad;
	int fd, i;

	test_init(argc, argv);

	/* Private anonymous, between two PROT_NONE guards, middle read-only. */
	guarded = map((NPAGES + 2) * PS, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	areas[PRIV_ANON] = (struct area){"private anon", guarded + PS, NPAGES * PS, 1};
	mprotect(areas[PRIV_ANON].addr, NPAGES * PS, PROT_READ | PROT_WRITE);
	fill_pattern(areas[PRIV_ANON].addr, NPAGES * PS, 1);
	mprotect(areas[PRIV_ANON].addr + 4 * PS, 4 * PS, PROT_READ);

	/* Shared anonymous, one page read-only. */
	areas[SHARED_ANON] = (struct area){"shared anon", map(NPAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1), NPAGES * PS, 2};
	fill_pattern(areas[SHARED_ANON].addr, NPAGES * PS, 2);
	mprotect(areas[SHARED_ANON].addr + 2 * PS, PS, PROT_READ);

	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		pr_perror("open %s", filename);
		return 1;
	}
	fill_pattern(filebuf, sizeof(filebuf), 3);
	if (write(fd, filebuf, sizeof(filebuf)) != (ssize_t)sizeof(filebuf)) {
		pr_perror("write %s", filename);
		return 1;
	}
	/* Private file mapping: some pages written (copied), the rest the file's. */
	areas[PRIV_FILE] = (struct area){"private file", map(NPAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd), NPAGES * PS, 0};
	for (i = 0; i < NPAGES; i += 3)
		memset(areas[PRIV_FILE].addr + i * PS + 100, 0xa0 + i, 200);
	mprotect(areas[PRIV_FILE].addr + 10 * PS, 2 * PS, PROT_READ);
	/* Shared file mapping: writes reach the file. */
	areas[SHARED_FILE] = (struct area){"shared file", map(NPAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd), NPAGES * PS, 0};
	memcpy(areas[SHARED_FILE].addr + 6 * PS, "shared write", 12);
	/* Read-only private file mapping. */
	areas[RO_FILE] = (struct area){"read-only file", map(NPAGES * PS, PROT_READ, MAP_PRIVATE, fd), NPAGES * PS, 0};
	/* A large sparse area: two pages touched, the rest never. */
	areas[SPARSE] = (struct area){"sparse", map(1024 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1), 1024 * PS, 0};
	areas[SPARSE].addr[7 * PS] = 0x77;
	areas[SPARSE].addr[900 * PS + 5] = 0x99;
	/* A PROT_NONE reservation and an executable page. */
	reserve = map(256 * PS, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	code = map(PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	memcpy(code, ret42, sizeof(ret42));
	mprotect(code, PS, PROT_READ | PROT_EXEC);

	for (i = 0; i < NR_AREAS; i++)
		maps_of(areas[i].addr, areas[i].len, maps_before[i], sizeof(maps_before[i]));
	maps_of(guarded, PS, maps_before[NR_AREAS], sizeof(maps_before[0]));
	maps_of(code, PS, maps_before[NR_AREAS + 1], sizeof(maps_before[0]));

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < NR_AREAS; i++) {
		maps_of(areas[i].addr, areas[i].len, now, sizeof(now));
		if (strcmp(now, maps_before[i]))
			fail("%s: the maps changed\nbefore:\n%safter:\n%s", areas[i].name, maps_before[i], now);
	}
	maps_of(guarded, PS, now, sizeof(now));
	if (strcmp(now, maps_before[NR_AREAS]))
		fail("guard: the maps changed\nbefore:\n%safter:\n%s", maps_before[NR_AREAS], now);
	maps_of(code, PS, now, sizeof(now));
	if (strcmp(now, maps_before[NR_AREAS + 1]))
		fail("code: the maps changed\nbefore:\n%safter:\n%s", maps_before[NR_AREAS + 1], now);

	if ((bad = check_pattern(areas[PRIV_ANON].addr, NPAGES * PS, 1)) >= 0)
		fail("private anon differs at offset %ld", bad);
	if ((bad = check_pattern(areas[SHARED_ANON].addr, NPAGES * PS, 2)) >= 0)
		fail("shared anon differs at offset %ld", bad);
	for (i = 0; i < NPAGES; i++) {
		uint8_t want[PS];

		memcpy(want, filebuf + i * PS, PS);
		if (i % 3 == 0)
			memset(want + 100, 0xa0 + i, 200);
		if (memcmp(areas[PRIV_FILE].addr + i * PS, want, PS))
			fail("private file page %d differs", i);
	}
	if (memcmp(areas[SHARED_FILE].addr + 6 * PS, "shared write", 12))
		fail("the shared file mapping lost its write");
	if (pread(fd, filebuf, 12, 6 * PS) != 12 || memcmp(filebuf, "shared write", 12))
		fail("the file does not have the shared write");
	if (memcmp(areas[RO_FILE].addr + 6 * PS, "shared write", 12))
		fail("the read-only private mapping does not see the file");
	for (i = 0; i < 1024; i++) {
		uint8_t *p = areas[SPARSE].addr + i * PS;
		uint8_t want0 = i == 7 ? 0x77 : 0;

		if (p[0] != want0 || (i == 900 && p[5] != 0x99))
			fail("sparse page %d differs", i);
	}

	if (!faults(guarded, 0) || !faults(guarded + (NPAGES + 1) * PS, 0))
		fail("a PROT_NONE guard page is readable");
	if (!faults(reserve + 100 * PS, 0))
		fail("the PROT_NONE reservation is readable");
	if (!faults(areas[PRIV_ANON].addr + 6 * PS, 1))
		fail("the read-only piece of the private anon area is writable");
	if (faults(areas[PRIV_ANON].addr + 9 * PS, 1))
		fail("the writable piece of the private anon area is not writable");
	if (!faults(areas[SHARED_ANON].addr + 2 * PS, 1))
		fail("the read-only page of the shared anon area is writable");
	if (!faults(areas[RO_FILE].addr, 1))
		fail("the read-only file mapping is writable");
	if (((int (*)(void))code)() != 42)
		fail("the code page does not return 42");
	/* Shared anonymous memory is still shared: a child sees our write. */
	areas[SHARED_ANON].addr[0] = 0x11;
	if (fork() == 0) {
		areas[SHARED_ANON].addr[1] = areas[SHARED_ANON].addr[0] + 1;
		_exit(0);
	}
	wait(NULL);
	if (areas[SHARED_ANON].addr[1] != 0x12)
		fail("the shared anon area is not shared with a child");
	pass();
	return 0;
}
