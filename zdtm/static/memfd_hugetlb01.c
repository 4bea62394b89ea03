#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A memfd on huge pages (MFD_HUGETLB) mapped shared and privately: after restore the "
		       "private mapping keeps its own copy of the huge page it wrote, and still sees the "
		       "memfd's writes in the huge page it never wrote";

#define HUGE (2UL << 20)

static char *shared, *priv;

static void corrupt(void)
{
	priv[HUGE / 2] = 'Z';
}

int main(int argc, char **argv)
{
	int fd;

	test_init(argc, argv);
	fd = memfd_create("huge-priv", MFD_HUGETLB | MFD_CLOEXEC);
	if (fd < 0) {
		pr_perror("memfd_create(MFD_HUGETLB)");
		return 1;
	}
	if (ftruncate(fd, 2 * HUGE)) {
		pr_perror("ftruncate");
		return 1;
	}
	shared = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	priv = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (shared == MAP_FAILED || priv == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	memset(shared, 'a', 2 * HUGE);
	/* The private mapping's first huge page becomes its own; the second
	 * it only reads, so it stays the memfd's. */
	memset(priv, 'p', HUGE);
	if (priv[HUGE] != 'a') {
		fail("the private mapping does not see the memfd");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (shared[0] != 'a' || shared[HUGE + 1] != 'a' || priv[HUGE + 1] != 'a') {
		fail("the memfd's contents changed");
		return 1;
	}
	for (unsigned long i = 0; i < HUGE; i += 4096)
		if (priv[i] != 'p' || priv[i + 4095] != 'p') {
			fail("the private copy lost its byte at %#lx (%c)", i, priv[i]);
			return 1;
		}
	shared[0] = 'b';
	shared[HUGE + 7] = 'b';
	if (priv[0] != 'p') {
		fail("the private copy of the first huge page sees the memfd's writes");
		return 1;
	}
	if (priv[HUGE + 7] != 'b') {
		fail("the second huge page of the private mapping is no longer the memfd's");
		return 1;
	}
	pass();
	return 0;
}
