#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A task that chroot()ed into a directory keeps that root: / is the directory, "
		       "/proc/self/root leads to it, and paths (absolute and relative) resolve inside it";

static char *dirname = "chroot.dir";
TEST_OPTION(dirname, string, "directory to chroot into", 0);

#define MSG "inside the new root"

static struct stat root_st;

static void corrupt(void)
{
	/* A root one level down: a restore that lost the root looks so. */
	mkdir("/sub", 0700);
	chroot("/sub");
}

static int same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static void check_file(const char *what, int fd)
{
	char buf[sizeof(MSG)];

	if (fd < 0) {
		fail("%s: open: %m", what);
		return;
	}
	if (pread(fd, buf, sizeof(buf), 0) != sizeof(buf) || memcmp(buf, MSG, sizeof(buf)))
		fail("%s: not the file made inside the root", what);
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	struct stat st;
	int procfd, fd, kept;

	test_init(argc, argv);
	if (mkdir(dirname, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/file", dirname);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, MSG, sizeof(MSG)) != sizeof(MSG) || close(fd)) {
		pr_perror("make %s", path);
		return 1;
	}
	if (stat(dirname, &root_st)) {
		pr_perror("stat %s", dirname);
		return 1;
	}
	/* /proc is not inside the new root: keep a way to it. */
	procfd = open("/proc", O_RDONLY | O_DIRECTORY);
	if (procfd < 0) {
		pr_perror("open /proc");
		return 1;
	}
	if (chroot(dirname) || chdir("/")) {
		pr_perror("chroot %s", dirname);
		return 1;
	}
	kept = open("/file", O_RDONLY);
	if (kept < 0) {
		pr_perror("open /file in the new root");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (stat("/", &st))
		fail("stat /: %m");
	else if (!same(&st, &root_st))
		fail("/ is inode %lu, want the directory %s (inode %lu)", (unsigned long)st.st_ino, dirname,
		     (unsigned long)root_st.st_ino);
	if (fstatat(procfd, "self/root", &st, 0))
		fail("stat /proc/self/root: %m");
	else if (!same(&st, &root_st))
		fail("/proc/self/root is inode %lu, want the directory %s (inode %lu)", (unsigned long)st.st_ino,
		     dirname, (unsigned long)root_st.st_ino);
	if (stat(".", &st) || !same(&st, &root_st))
		fail("the cwd is not the root any more");
	check_file("the fd opened inside the root", kept);
	check_file("/file", open("/file", O_RDONLY));
	check_file("file (relative)", open("file", O_RDONLY));
	pass();
	return 0;
}
