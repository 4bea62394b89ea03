#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A file unlinked while open whose directory was removed too, its data kept by a hard link "
		       "elsewhere (dumped with --link-remap), is the same file after restore: its data, offset and "
		       "one link; the directory is not made again";

static char *dirname = "link_remap_rmdir00.dir";
TEST_OPTION(dirname, string, "directory to make, holding the file, then removed", 0);

static int fd;

static void corrupt(void)
{
	pwrite(fd, "X", 1, 0);
}

int main(int argc, char **argv)
{
	char file[PATH_MAX], keep[PATH_MAX], buf[32];
	struct stat st, was;

	test_init(argc, argv);
	snprintf(file, sizeof(file), "%s/file", dirname);
	snprintf(keep, sizeof(keep), "%s.keep", dirname);
	if (mkdir(dirname, 0700)) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0640);
	if (fd < 0 || write(fd, "linked data\n", 12) != 12 || lseek(fd, 7, SEEK_SET) != 7) {
		pr_perror("write %s", file);
		return 1;
	}
	if (link(file, keep) || unlink(file) || rmdir(dirname) || fstat(fd, &was)) {
		pr_perror("link %s to %s, unlink it, rmdir %s", file, keep, dirname);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (fstat(fd, &st)) {
		pr_perror("fstat");
	} else {
		if (st.st_nlink != 1)
			fail("%d links, want 1 (%s)", (int)st.st_nlink, keep);
		if (st.st_ino != was.st_ino || st.st_dev != was.st_dev)
			fail("another file: inode %lu, was %lu", (unsigned long)st.st_ino, (unsigned long)was.st_ino);
	}
	if (lseek(fd, 0, SEEK_CUR) != 7)
		fail("offset %ld, want 7", (long)lseek(fd, 0, SEEK_CUR));
	memset(buf, 0, sizeof(buf));
	if (pread(fd, buf, sizeof(buf) - 1, 0) != 12 || strcmp(buf, "linked data\n"))
		fail("reads %s", buf);
	if (access(dirname, F_OK) == 0)
		fail("%s is there again", dirname);
	unlink(keep);
	pass();
	return 0;
}
