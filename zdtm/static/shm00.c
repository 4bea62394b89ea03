#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "System V shared memory keeps its shmid, key, size, mode and bytes; a removed segment stays removed";

#define SIZE_A (3 * 4096 + 100)
#define SIZE_B 8192

static int ida, idb;
static unsigned char *a, *b_rw, *b_ro;

static void corrupt(void)
{
	a[SIZE_A - 1] ^= 0xff;
}

int main(int argc, char **argv)
{
	struct shmid_ds ds;
	key_t key;
	int i;

	test_init(argc, argv);
	key = 0x5a000000 | (getpid() & 0xffffff);
	ida = shmget(IPC_PRIVATE, SIZE_A, IPC_CREAT | 0600);
	idb = shmget(key, SIZE_B, IPC_CREAT | IPC_EXCL | 0640);
	if (ida < 0 || idb < 0) {
		pr_perror("shmget");
		return 1;
	}
	a = shmat(ida, NULL, 0);
	b_rw = shmat(idb, NULL, 0);
	b_ro = shmat(idb, NULL, SHM_RDONLY);
	if (a == (void *)-1 || b_rw == (void *)-1 || b_ro == (void *)-1) {
		pr_perror("shmat");
		shmctl(idb, IPC_RMID, NULL);
		return 1;
	}
	/* a lives on only while attached. */
	shmctl(ida, IPC_RMID, NULL);
	for (i = 0; i < SIZE_A; i++)
		a[i] = i * 7;
	for (i = 0; i < SIZE_B; i++)
		b_rw[i] = i * 13;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < SIZE_A; i++)
		if (a[i] != (unsigned char)(i * 7)) {
			fail("a[%d] = %d", i, a[i]);
			break;
		}
	for (i = 0; i < SIZE_B; i++)
		if (b_ro[i] != (unsigned char)(i * 13)) {
			fail("b[%d] = %d", i, b_ro[i]);
			break;
		}
	/* The two attaches of b are one segment. */
	b_rw[5] = 0xee;
	if (b_ro[5] != 0xee)
		fail("a write through one attach of b is not seen through the other");
	if (shmctl(ida, IPC_STAT, &ds))
		fail("segment a (%d) is gone", ida);
	else if (ds.shm_segsz != SIZE_A || ds.shm_perm.__key != IPC_PRIVATE || (ds.shm_perm.mode & 0777) != 0600 ||
		 !(ds.shm_perm.mode & SHM_DEST) || ds.shm_nattch != 1)
		fail("a: size %zu key %#x mode %#o nattch %lu", ds.shm_segsz, ds.shm_perm.__key, ds.shm_perm.mode,
		     (unsigned long)ds.shm_nattch);
	if (shmctl(idb, IPC_STAT, &ds))
		fail("segment b (%d) is gone", idb);
	else if (ds.shm_segsz != SIZE_B || ds.shm_perm.__key != key || (ds.shm_perm.mode & 0777) != 0640 ||
		 (ds.shm_perm.mode & SHM_DEST) || ds.shm_nattch != 2)
		fail("b: size %zu key %#x mode %#o nattch %lu", ds.shm_segsz, ds.shm_perm.__key, ds.shm_perm.mode,
		     (unsigned long)ds.shm_nattch);
	if (shmget(key, 0, 0) != idb)
		fail("key %#x does not lead to b", key);
	/* The read-only attach stays read-only. */
	{
		char line[512], want[32];
		FILE *f = fopen("/proc/self/maps", "r");
		int found = 0;

		snprintf(want, sizeof(want), "%lx-", (unsigned long)b_ro);
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, want, strlen(want))) {
				found = 1;
				if (strncmp(strchr(line, ' ') + 1, "r--s", 4))
					fail("read-only attach is mapped %.4s", strchr(line, ' ') + 1);
			}
		if (f)
			fclose(f);
		if (!found)
			fail("read-only attach at %p is gone", b_ro);
	}
	shmctl(idb, IPC_RMID, NULL);
	if (!test_failed())
		pass();
	return 0;
}
