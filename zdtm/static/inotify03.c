#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "An inotify watch on a file deleted while the task holds it open goes on the restored "
		       "(ghost) file, with its watch descriptor: writes through the fd and its close are reported "
		       "there, and no ghost is left in the directory; so does one on a directory removed while "
		       "the task holds it open (an fchmod of it is reported)";

static char *dirname = "inotify03.dir";
TEST_OPTION(dirname, string, "directory of the deleted file", 0);

static int ify, fd, wd, gdfd, gwd;

static void corrupt(void)
{
	inotify_rm_watch(ify, wd);
}

/* events reads what is queued, ORing the masks of the events of watch w. */
static uint32_t events(int w)
{
	char buf[4096] __attribute__((aligned(8)));
	uint32_t got = 0;
	ssize_t n, off;

	while ((n = read(ify, buf, sizeof(buf))) > 0)
		for (off = 0; off < n;) {
			struct inotify_event *ev = (struct inotify_event *)(buf + off);

			if (ev->wd == w)
				got |= ev->mask;
			off += sizeof(*ev) + ev->len;
		}
	return got;
}

int main(int argc, char **argv)
{
	char file[PATH_MAX], gone[PATH_MAX];
	struct dirent *de;
	uint32_t got;
	DIR *d;
	int dwd;

	test_init(argc, argv);
	/* In a container, a directory at its own root, whose path criu's
	 * mount namespace does not have: the ghost is found below the
	 * container's root. */
	if (getenv("ZDTM_FLAVOR") && !strcmp(getenv("ZDTM_FLAVOR"), "ct"))
		dirname = "/inotify03.dir";
	if (mkdir(dirname, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	snprintf(file, sizeof(file), "%s/deleted", dirname);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ify = inotify_init1(IN_NONBLOCK);
	if (fd < 0 || ify < 0) {
		pr_perror("open or inotify_init1");
		return 1;
	}
	if (write(fd, "before", 6) != 6) {
		pr_perror("write");
		return 1;
	}
	dwd = inotify_add_watch(ify, dirname, IN_CREATE | IN_DELETE);
	wd = inotify_add_watch(ify, file, IN_MODIFY | IN_CLOSE_WRITE);
	if (dwd < 0 || wd < 0 || unlink(file)) {
		pr_perror("inotify_add_watch or unlink");
		return 1;
	}
	/* A directory removed while open, watched. */
	snprintf(gone, sizeof(gone), "%s/gone", dirname);
	if (mkdir(gone, 0755) || (gdfd = open(gone, O_RDONLY | O_DIRECTORY)) < 0 ||
	    (gwd = inotify_add_watch(ify, gone, IN_ATTRIB)) < 0 || rmdir(gone)) {
		pr_perror("removed directory");
		return 1;
	}
	events(wd);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	got = events(-1);
	if (got)
		fail("events queued after restore: %#x", got);
	if (write(fd, "after", 5) != 5)
		fail("write");
	close(fd);
	/* The last close frees the inode: the watch goes (IN_IGNORED). */
	got = events(wd) & ~IN_IGNORED;
	if (got != (IN_MODIFY | IN_CLOSE_WRITE))
		fail("the deleted file's watch %d: mask %#x, want IN_MODIFY|IN_CLOSE_WRITE", wd, got);
	if (fchmod(gdfd, 0700))
		fail("fchmod of the removed directory");
	got = events(gwd) & ~IN_ISDIR;
	if (got != IN_ATTRIB)
		fail("the removed directory's watch %d: mask %#x, want IN_ATTRIB", gwd, got);
	d = opendir(dirname);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			fail("%s left in %s", de->d_name, dirname);
	if (d)
		closedir(d);
	if (!test_failed())
		pass();
	return 0;
}
