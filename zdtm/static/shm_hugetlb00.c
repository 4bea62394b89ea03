#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "System V shared memory segments on huge pages (SHM_HUGETLB), one attached with a pattern "
		       "across two huge pages and one not attached, come back with their ids, keys and bytes, "
		       "still on huge pages of the same size";

#ifndef SHM_HUGETLB
#define SHM_HUGETLB 04000
#endif
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

#define HUGE (2UL << 20)
#define KEY_A 0x5a1c0011
#define KEY_B 0x5a1c0012
#define SIZE_A (HUGE + 4096 * 3) /* two huge pages, the second partly used */
#define SIZE_B (HUGE)

static int shm_a, shm_b;
static unsigned char *a;

static void corrupt(void)
{
	a[HUGE + 5] ^= 0xff;
}

static unsigned char pattern(unsigned long i)
{
	return (unsigned char)(i * 2654435761UL >> 13);
}

/* huge_size is the page size of the attach at p (by its map_files
 * link), 0 if not on huge pages. */
static long huge_size(void *p, size_t len)
{
	char link[128];
	struct statfs sfs;
	unsigned long end = ((unsigned long)p + len + HUGE - 1) & ~(HUGE - 1);

	snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx", (unsigned long)p, end);
	if (statfs(link, &sfs))
		return -1;
	return sfs.f_type == HUGETLBFS_MAGIC ? sfs.f_bsize : 0;
}

int main(int argc, char **argv)
{
	unsigned char *b;
	unsigned long i;

	test_init(argc, argv);
	shm_a = shmget(KEY_A, SIZE_A, IPC_CREAT | IPC_EXCL | SHM_HUGETLB | 0640);
	shm_b = shmget(KEY_B, SIZE_B, IPC_CREAT | IPC_EXCL | SHM_HUGETLB | 0600);
	if (shm_a < 0 || shm_b < 0) {
		pr_perror("shmget(SHM_HUGETLB)");
		return 1;
	}
	a = shmat(shm_a, NULL, 0);
	b = shmat(shm_b, NULL, 0);
	if (a == (void *)-1 || b == (void *)-1) {
		pr_perror("shmat");
		return 1;
	}
	for (i = 0; i < SIZE_A; i++)
		a[i] = pattern(i);
	memset(b, 0x5b, SIZE_B);
	shmdt(b);
	if (huge_size(a, SIZE_A) != (long)HUGE) {
		fail("the attach is not on huge pages of 2 MiB");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (huge_size(a, SIZE_A) != (long)HUGE) {
		fail("the attach is not on huge pages of 2 MiB after restore (%ld)", huge_size(a, SIZE_A));
		return 1;
	}
	for (i = 0; i < SIZE_A; i++)
		if (a[i] != pattern(i)) {
			fail("segment A: byte %#lx is %#x, want %#x", i, a[i], pattern(i));
			return 1;
		}
	if (shmget(KEY_A, 0, 0) != shm_a || shmget(KEY_B, 0, 0) != shm_b) {
		fail("the keys name other segments");
		return 1;
	}
	b = shmat(shm_b, NULL, SHM_RDONLY);
	if (b == (void *)-1) {
		pr_perror("shmat B");
		return 1;
	}
	if (huge_size(b, SIZE_B) != (long)HUGE) {
		fail("segment B is not on huge pages of 2 MiB after restore");
		return 1;
	}
	for (i = 0; i < SIZE_B; i++)
		if (b[i] != 0x5b) {
			fail("segment B: byte %#lx is %#x", i, b[i]);
			return 1;
		}
	shmdt(b);
	shmdt(a);
	shmctl(shm_a, IPC_RMID, NULL);
	shmctl(shm_b, IPC_RMID, NULL);
	pass();
	return 0;
}
