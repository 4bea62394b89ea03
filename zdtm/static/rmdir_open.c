#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A removed directory still open (its parent removed too) stays an open removed directory, "
		       "and an inotify watch on it still sees it opened";

static char *dirname = "rmdir_open.dir";
TEST_OPTION(dirname, string, "directory to make and remove", 0);

static int ifd, wd;

static void corrupt(void)
{
	char buf[256];

	inotify_rm_watch(ifd, wd);
	while (read(ifd, buf, sizeof(buf)) > 0)
		; /* the IN_IGNORED */
}

int main(int argc, char **argv)
{
	char subdir[PATH_MAX], buf[4096] __attribute__((aligned(8)));
	struct inotify_event *ev;
	struct stat st;
	int fd, d, n, seen = 0;

	test_init(argc, argv);
	snprintf(subdir, sizeof(subdir), "%s/subdir", dirname);
	if (mkdir(dirname, 0700) || mkdir(subdir, 0750)) {
		pr_perror("mkdir %s", subdir);
		return 1;
	}
	fd = open(subdir, O_RDONLY | O_DIRECTORY);
	ifd = inotify_init1(IN_NONBLOCK);
	if (fd < 0 || ifd < 0) {
		pr_perror("open %s, inotify_init1", subdir);
		return 1;
	}
	wd = inotify_add_watch(ifd, subdir, IN_OPEN | IN_DELETE_SELF);
	if (wd < 0) {
		pr_perror("inotify_add_watch %s", subdir);
		return 1;
	}
	if (rmdir(subdir) || rmdir(dirname)) {
		pr_perror("rmdir %s", subdir);
		return 1;
	}
	while (read(ifd, buf, sizeof(buf)) > 0)
		; /* its IN_DELETE_SELF */
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (fstat(fd, &st))
		fail("fstat the removed directory: %m");
	else if (!S_ISDIR(st.st_mode) || st.st_nlink != 0)
		fail("fd %d is no removed directory any more (mode %o, %lu links)", fd, st.st_mode,
		     (unsigned long)st.st_nlink);
	else if ((st.st_mode & 07777) != 0750)
		fail("the removed directory has mode %o, want 750", st.st_mode & 07777);
	if (read(ifd, buf, sizeof(buf)) >= 0)
		fail("events queued after restore (want none)");
	/* Open the removed directory: its watch must see it. */
	d = openat(fd, ".", O_RDONLY | O_DIRECTORY);
	if (d < 0)
		fail("open the removed directory again: %m");
	close(d);
	n = read(ifd, buf, sizeof(buf));
	for (int off = 0; n > 0 && off < n; off += sizeof(*ev) + ev->len) {
		ev = (struct inotify_event *)(buf + off);
		if (ev->wd == wd && (ev->mask & IN_OPEN))
			seen = 1;
	}
	if (!seen)
		fail("the watch %d on the removed directory saw no IN_OPEN (read %d)", wd, n);
	pass();
	return 0;
}
