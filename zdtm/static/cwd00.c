#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "The current directory survives, checked by name and by inode";

static char *dirname = "cwd00.dir";
TEST_OPTION(dirname, string, "directory to change into", 0);

static char want[PATH_MAX];
static struct stat want_st;

static void corrupt(void)
{
	chdir("..");
}

int main(int argc, char **argv)
{
	char cwd[PATH_MAX];
	struct stat st;

	test_init(argc, argv);
	mkdir(dirname, 0755);
	if (chdir(dirname) || !getcwd(want, sizeof(want)) || stat(".", &want_st)) {
		pr_perror("chdir %s", dirname);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!getcwd(cwd, sizeof(cwd)))
		pr_perror("getcwd");
	else if (strcmp(cwd, want))
		fail("cwd is %s, want %s", cwd, want);
	if (stat(".", &st))
		pr_perror("stat .");
	else if (st.st_ino != want_st.st_ino || st.st_dev != want_st.st_dev)
		fail("cwd is another directory (inode %lu, want %lu)",
		     (unsigned long)st.st_ino, (unsigned long)want_st.st_ino);
	pass();
	return 0;
}
