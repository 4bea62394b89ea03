#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "inotify watches keep their mask flags (IN_EXCL_UNLINK, IN_ONESHOT) as fdinfo shows them, "
		       "and an IN_EXCL_UNLINK watch reports no event for a child unlinked while open";

static char *dirname = "inotify02.dir";
TEST_OPTION(dirname, string, "directory to watch", 0);

static int ifd, wd_excl, wd_once;

static void corrupt(void)
{
	char path[PATH_MAX];

	inotify_rm_watch(ifd, wd_excl);
	snprintf(path, sizeof(path), "%s/excl", dirname);
	wd_excl = inotify_add_watch(ifd, path, IN_MODIFY);
	while (read(ifd, path, sizeof(path)) > 0)
		; /* the IN_IGNORED */
}

/* mask_of reads the mask fdinfo shows for watch wd of fd. */
static long mask_of(int fd, int wd)
{
	char path[64], line[512];
	unsigned int m;
	long mask = -1;
	int w;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "inotify wd:");

		if (p && sscanf(p, "inotify wd:%d", &w) == 1 && w == wd && (p = strstr(line, " mask:")) &&
		    sscanf(p, " mask:%x", &m) == 1)
			mask = m;
	}
	fclose(f);
	return mask;
}

int main(int argc, char **argv)
{
	char excl[PATH_MAX], once[PATH_MAX], buf[4096] __attribute__((aligned(8)));
	long m1, m2;

	test_init(argc, argv);
	snprintf(excl, sizeof(excl), "%s/excl", dirname);
	snprintf(once, sizeof(once), "%s/once", dirname);
	if (mkdir(dirname, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	if (mkdir(excl, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", excl);
		return 1;
	}
	close(open(once, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	ifd = inotify_init1(IN_NONBLOCK);
	wd_excl = inotify_add_watch(ifd, excl, IN_MODIFY | IN_EXCL_UNLINK);
	wd_once = inotify_add_watch(ifd, once, IN_ATTRIB | IN_ONESHOT);
	if (ifd < 0 || wd_excl < 0 || wd_once < 0) {
		pr_perror("inotify");
		return 1;
	}
	m1 = mask_of(ifd, wd_excl);
	m2 = mask_of(ifd, wd_once);
	if (!(m1 & IN_EXCL_UNLINK) || !(m2 & IN_ONESHOT)) {
		fail("fdinfo masks %#lx %#lx before the dump", m1, m2);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (mask_of(ifd, wd_excl) != m1)
		fail("IN_EXCL_UNLINK watch: mask %#lx, want %#lx", mask_of(ifd, wd_excl), m1);
	if (mask_of(ifd, wd_once) != m2)
		fail("IN_ONESHOT watch: mask %#lx, want %#lx", mask_of(ifd, wd_once), m2);
	/* A child unlinked while open: its writes are not reported. */
	{
		char child[PATH_MAX + 8];
		int fd;

		snprintf(child, sizeof(child), "%s/gone", excl);
		fd = open(child, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		while (read(ifd, buf, sizeof(buf)) > 0)
			;
		unlink(child);
		if (fd < 0 || write(fd, "x", 1) != 1)
			pr_perror("write %s", child);
		close(fd);
		if (read(ifd, buf, sizeof(buf)) > 0)
			fail("an event for a child unlinked while open (IN_EXCL_UNLINK lost)");
	}
	if (!test_failed())
		pass();
	return 0;
}
