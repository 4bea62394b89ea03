#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A removed current directory that an fd holds open too stays one directory: "
		       "the cwd and the fd are the same removed inode";

static char *dirname = "cwd02.dir";
TEST_OPTION(dirname, string, "directory to change into, open and remove", 0);

static char top[PATH_MAX];

static void corrupt(void)
{
	chdir(top);
}

int main(int argc, char **argv)
{
	struct stat cwd, fdst;
	char up[PATH_MAX];
	int fd;

	test_init(argc, argv);
	snprintf(up, sizeof(up), "../%s", dirname);
	if (!getcwd(top, sizeof(top)) || mkdir(dirname, 0750) || chdir(dirname)) {
		pr_perror("make and enter %s", dirname);
		return 1;
	}
	fd = open(".", O_RDONLY | O_DIRECTORY);
	if (fd < 0 || rmdir(up)) {
		pr_perror("open and remove %s", dirname);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (stat(".", &cwd) || fstat(fd, &fdst)) {
		fail("stat the cwd and fd %d: %m", fd);
	} else {
		if (!S_ISDIR(cwd.st_mode) || cwd.st_nlink != 0 || (cwd.st_mode & 07777) != 0750)
			fail("the cwd is no removed directory of mode 750 (mode %o, %lu links)", cwd.st_mode,
			     (unsigned long)cwd.st_nlink);
		if (cwd.st_dev != fdst.st_dev || cwd.st_ino != fdst.st_ino)
			fail("the cwd (inode %lu) and fd %d (inode %lu) are two directories",
			     (unsigned long)cwd.st_ino, fd, (unsigned long)fdst.st_ino);
	}
	pass();
	return 0;
}
