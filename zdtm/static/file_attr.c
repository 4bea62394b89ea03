#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A file written to, given odd attributes and deleted while open keeps its bytes, "
		       "mode (set-id bits too), owner and modification time";

static char *filename = "file_attr.file";
TEST_OPTION(filename, string, "file to make and unlink", 0);

#define PERMS 06604 /* -rwS--Sr-- */
#define MTIME 123456
#define SIZE (1 << 20)
#define UID 4242
#define GID 4343

static int fd;

static void corrupt(void)
{
	fchmod(fd, 0644);
}

int main(int argc, char **argv)
{
	struct timeval tv[2] = { { 1000, 0 }, { MTIME, 250000 } };
	unsigned char *buf = malloc(SIZE), *got = malloc(SIZE);
	struct stat st;

	test_init(argc, argv);
	fill_pattern(buf, SIZE, 7);
	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, SIZE) != SIZE) {
		pr_perror("make %s", filename);
		return 1;
	}
	if (fchown(fd, UID, GID) || fchmod(fd, PERMS) || utimes(filename, tv) || unlink(filename)) {
		pr_perror("set the attributes of %s and unlink it", filename);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (pread(fd, got, SIZE, 0) != SIZE || memcmp(got, buf, SIZE))
		fail("the bytes changed");
	if (fstat(fd, &st)) {
		fail("fstat: %m");
	} else {
		if ((st.st_mode & 07777) != PERMS)
			fail("mode %o, want %o", st.st_mode & 07777, PERMS);
		if (st.st_uid != UID || st.st_gid != GID)
			fail("owner %u:%u, want %u:%u", st.st_uid, st.st_gid, UID, GID);
		if (st.st_mtime != MTIME || st.st_mtim.tv_nsec / 1000 != 250000)
			fail("mtime %ld.%09ld, want %d.250000000", (long)st.st_mtime, st.st_mtim.tv_nsec, MTIME);
		if (st.st_nlink != 0)
			fail("%lu links, want 0", (unsigned long)st.st_nlink);
	}
	pass();
	return 0;
}
