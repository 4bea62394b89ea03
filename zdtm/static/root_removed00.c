#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A task whose root (chroot, then chdir to /) was removed keeps it: / and . are one "
		       "removed directory of its mode, in which nothing can be made";

static char *dirname = "root_removed00.dir";
TEST_OPTION(dirname, string, "directory to chroot into and remove", 0);

static int top;

static void corrupt(void)
{
	/* Out to the directory above it, as a restore that lost the root. */
	fchdir(top);
	chroot(".");
}

int main(int argc, char **argv)
{
	struct stat st, cwd;

	test_init(argc, argv);
	top = open(".", O_RDONLY | O_DIRECTORY); /* kept, for corrupt */
	if (top < 0 || mkdir(dirname, 0710) || chroot(dirname) || chdir("/")) {
		pr_perror("make %s and chroot into it", dirname);
		return 1;
	}
	if (unlinkat(top, dirname, AT_REMOVEDIR)) {
		pr_perror("remove %s", dirname);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (stat("/", &st) || stat(".", &cwd))
		fail("stat / and .: %m");
	else if (!S_ISDIR(st.st_mode) || st.st_nlink != 0 || (st.st_mode & 07777) != 0710)
		fail("/ is no removed directory of mode 710 (mode %o, %lu links)", st.st_mode,
		     (unsigned long)st.st_nlink);
	else if (st.st_dev != cwd.st_dev || st.st_ino != cwd.st_ino)
		fail("/ and . are two directories");
	if (mkdir("/sub", 0700) == 0 || errno != ENOENT)
		fail("a directory can be made in the removed root");
	pass();
	return 0;
}
