#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Files of shared anonymous memory opened through /proc/self/map_files: one still mapped "
		       "(shared with the fd, a private mapping of the fd with a page of its own), one whose memory "
		       "was unmapped (its size, position and O_APPEND), a read-only second description; all read "
		       "as /dev/zero (deleted) after restore, with their bytes, sizes and sharing";

#define PG 4096UL
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static char *a, *priv;
static int fd_a, fd_ro, fd_b;

static void corrupt(void)
{
	a[2 * PG] = 'Z';
}

static int open_map(void *p, unsigned long len, int flags)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p, (unsigned long)p + len);
	return open(path, flags);
}

static int check_link(int fd)
{
	char path[64], buf[256];
	ssize_t n;
	struct statfs sfs;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return -1;
	buf[n] = 0;
	if (strcmp(buf, "/dev/zero (deleted)")) {
		fail("fd %d reads as %s", fd, buf);
		return -1;
	}
	if (fstatfs(fd, &sfs) || sfs.f_type != TMPFS_MAGIC) {
		fail("fd %d is not on shmem", fd);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char buf[16];
	struct stat st;
	void *b;
	int i;

	test_init(argc, argv);
	a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	for (i = 0; i < 4; i++)
		memset(a + i * PG, 'a' + i, PG);
	fd_a = open_map(a, 4 * PG, O_RDWR);
	fd_ro = open_map(a, 4 * PG, O_RDONLY);
	fd_b = open_map(b, PG, O_RDWR);
	if (fd_a < 0 || fd_ro < 0 || fd_b < 0) {
		pr_perror("open map_files");
		return 1;
	}
	/* A private mapping of the fd, from its second page: its first
	 * page becomes its own, the others stay the object's. */
	priv = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_a, PG);
	if (priv == MAP_FAILED) {
		pr_perror("mmap the fd privately");
		return 1;
	}
	priv[0] = 'P';
	lseek(fd_a, 100, SEEK_SET);
	lseek(fd_ro, 2 * PG + 7, SEEK_SET);
	/* The second object lives on as its fd only. */
	munmap(b, PG);
	if (ftruncate(fd_b, 0) || fcntl(fd_b, F_SETFL, O_APPEND) || write(fd_b, "hello", 5) != 5) {
		pr_perror("fd_b");
		return 1;
	}
	lseek(fd_b, 3, SEEK_SET);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (check_link(fd_a) || check_link(fd_ro) || check_link(fd_b))
		return 1;
	if (lseek(fd_a, 0, SEEK_CUR) != 100 || lseek(fd_ro, 0, SEEK_CUR) != (off_t)(2 * PG + 7) ||
	    lseek(fd_b, 0, SEEK_CUR) != 3) {
		fail("a position changed");
		return 1;
	}
	if (!(fcntl(fd_b, F_GETFL) & O_APPEND) || (fcntl(fd_ro, F_GETFL) & O_ACCMODE) != O_RDONLY) {
		fail("file flags changed");
		return 1;
	}
	if (fstat(fd_b, &st) || st.st_size != 5 || pread(fd_b, buf, 5, 0) != 5 || memcmp(buf, "hello", 5)) {
		fail("the unmapped object's file is not as it was");
		return 1;
	}
	if (fstat(fd_a, &st) || st.st_size != (off_t)(4 * PG)) {
		fail("the mapped object's size changed");
		return 1;
	}
	for (i = 0; i < 4; i++)
		if (a[i * PG] != 'a' + i || a[i * PG + PG - 1] != 'a' + i) {
			fail("page %d of the shared memory is %c", i, a[i * PG]);
			return 1;
		}
	if (priv[0] != 'P' || priv[PG] != 'c') {
		fail("the private mapping is not as it was");
		return 1;
	}
	/* Still one object: the fd, the shared memory and the private
	 * mapping's pages of its own not. */
	if (pwrite(fd_a, "W", 1, 2 * PG) != 1 || a[2 * PG] != 'W' || priv[PG] != 'W') {
		fail("the fd's write is not in the shared memory or the private mapping's shared page");
		return 1;
	}
	a[PG] = 'S';
	if (priv[0] != 'P' || pread(fd_ro, buf, 1, PG) != 1 || buf[0] != 'S') {
		fail("the private page of its own changed, or the read-only fd does not see the memory");
		return 1;
	}
	pass();
	return 0;
}
