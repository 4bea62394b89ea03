#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Memory on huge pages (hugetlb) keeps its contents and stays on huge pages: a private "
		       "and a shared anonymous mapping (MAP_HUGETLB), a memfd of MFD_HUGETLB mapped and one "
		       "only open";

#define HUGE (2UL << 20)

static char *priv, *shared, *mapped;
static int mapped_fd, open_fd;

static void fill(char *p, int seed)
{
	for (unsigned long i = 0; i < HUGE; i += 4096)
		p[i] = (char)(seed + i / 4096);
}

static int same(const char *p, int seed)
{
	for (unsigned long i = 0; i < HUGE; i += 4096)
		if (p[i] != (char)(seed + i / 4096))
			return 0;
	return 1;
}

/* huge reports whether the mapping at p is on 2 MiB pages (smaps). */
static int huge(void *p)
{
	char line[512];
	unsigned long start, end;
	int in = 0, ret = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start == (unsigned long)p;
		else if (in && !strncmp(line, "KernelPageSize:", 15)) {
			ret = strstr(line, " 2048 kB") != NULL;
			break;
		}
	}
	fclose(f);
	return ret;
}

static void corrupt(void)
{
	shared[4096] ^= 1;
}

int main(int argc, char **argv)
{
	char buf[16];

	test_init(argc, argv);
	priv = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	shared = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	mapped_fd = memfd_create("huge-mapped", MFD_HUGETLB);
	open_fd = memfd_create("huge-open", MFD_HUGETLB);
	if (priv == MAP_FAILED || shared == MAP_FAILED || mapped_fd < 0 || open_fd < 0) {
		pr_perror("huge pages");
		return 1;
	}
	if (ftruncate(mapped_fd, HUGE) || ftruncate(open_fd, HUGE)) {
		pr_perror("ftruncate");
		return 1;
	}
	mapped = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, mapped_fd, 0);
	if (mapped == MAP_FAILED) {
		pr_perror("mmap memfd");
		return 1;
	}
	{
		char *o = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, open_fd, 0);

		if (o == MAP_FAILED) {
			pr_perror("mmap the open memfd");
			return 1;
		}
		fill(o, 7);
		munmap(o, HUGE);
	}
	fill(priv, 1);
	fill(shared, 3);
	fill(mapped, 5);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!same(priv, 1))
		fail("the private mapping's contents differ");
	if (!same(shared, 3))
		fail("the shared mapping's contents differ");
	if (!same(mapped, 5))
		fail("the mapped memfd's contents differ");
	if (!huge(priv) || !huge(shared) || !huge(mapped))
		fail("a mapping is no longer on 2 MiB pages (%d %d %d)", huge(priv), huge(shared), huge(mapped));
	if (pread(open_fd, buf, 1, 4096 * 3) != 1 || buf[0] != (char)(7 + 3))
		fail("the open memfd's contents differ");
	{
		char *o = mmap(NULL, HUGE, PROT_READ, MAP_SHARED, open_fd, 0);

		if (o == MAP_FAILED || !same(o, 7))
			fail("the open memfd's contents differ, or it is not on huge pages any more");
	}
	if (!test_failed())
		pass();
	return 0;
}
