#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A sparse file deleted while open, 256 MiB long with 12 KiB of data, is under the "
		       "default --ghost-limit (its data counts, not its size) and keeps its size, data and holes";

static char *filename = "ghost_sparse00.file";
TEST_OPTION(filename, string, "file to make and unlink", 0);

#define SIZE (256LL << 20)
#define BLK 4096

static const off_t at[] = { 0, 100LL << 20, SIZE - BLK };
static int fd;

static void corrupt(void)
{
	ftruncate(fd, SIZE / 2);
}

static void block(char *b, int i)
{
	memset(b, 'k' + i, BLK);
}

int main(int argc, char **argv)
{
	char b[BLK], got[BLK];
	struct stat st;

	test_init(argc, argv);
	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, SIZE)) {
		pr_perror("make %s", filename);
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		block(b, i);
		if (pwrite(fd, b, BLK, at[i]) != BLK) {
			pr_perror("write block %d", i);
			return 1;
		}
	}
	if (unlink(filename)) {
		pr_perror("unlink %s", filename);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (fstat(fd, &st) || st.st_size != SIZE)
		fail("size %lld, want %lld", (long long)st.st_size, SIZE);
	for (int i = 0; i < 3; i++) {
		block(b, i);
		if (pread(fd, got, BLK, at[i]) != BLK || memcmp(got, b, BLK))
			fail("block %d at %lld changed", i, (long long)at[i]);
	}
	/* Holes where they were: the data after block 0 starts at block 1. */
	if (lseek(fd, BLK, SEEK_DATA) != at[1])
		fail("the hole after block 0 is not kept (SEEK_DATA %lld)", (long long)lseek(fd, BLK, SEEK_DATA));
	if (st.st_blocks * 512 > 1 << 20)
		fail("%lld bytes allocated: the holes were filled", (long long)st.st_blocks * 512);
	pass();
	return 0;
}
