#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A removed current directory stays the current directory: a removed directory, "
		       "with its mode, in which nothing can be made";

static char *dirname = "cwd01.dir";
TEST_OPTION(dirname, string, "directory to change into and remove", 0);

static char top[PATH_MAX];

static void corrupt(void)
{
	chdir(top);
}

int main(int argc, char **argv)
{
	struct stat st;
	char cwd[PATH_MAX];

	test_init(argc, argv);
	char up[PATH_MAX];

	snprintf(up, sizeof(up), "../%s", dirname);
	if (!getcwd(top, sizeof(top)) || mkdir(dirname, 0710) || chdir(dirname) || rmdir(up)) {
		pr_perror("make, enter and remove %s", dirname);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (stat(".", &st))
		fail("stat .: %m");
	else if (!S_ISDIR(st.st_mode) || st.st_nlink != 0 || (st.st_mode & 07777) != 0710)
		fail("the cwd is no removed directory of mode 710 (mode %o, %lu links)", st.st_mode,
		     (unsigned long)st.st_nlink);
	if (getcwd(cwd, sizeof(cwd)) || errno != ENOENT)
		fail("getcwd works (%s): the cwd is not removed", cwd);
	if (mkdir("sub", 0700) == 0 || errno != ENOENT)
		fail("a directory can be made in the removed cwd");
	pass();
	return 0;
}
