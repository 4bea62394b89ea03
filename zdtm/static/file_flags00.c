#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "The file status flags O_APPEND, O_NOATIME, O_DIRECT, O_SYNC and O_DSYNC stay on their "
		       "fds, and append-only, immutable and no-atime files (FS_IOC_SETFLAGS) open across the "
		       "restore keep their inode flags";

static char *filename = "file_flags00.file";
TEST_OPTION(filename, string, "prefix of the files to make", 0);

struct held {
	const char *what;
	int oflags, iflags, fd;
	char name[256];
};

static struct held h[] = {
	{ "O_APPEND", O_WRONLY | O_APPEND, 0 },
	{ "O_NOATIME", O_RDONLY | O_NOATIME, 0 },
	{ "O_DIRECT", O_RDWR | O_DIRECT, 0 },
	{ "O_SYNC", O_WRONLY | O_SYNC, 0 },
	{ "O_DSYNC", O_WRONLY | O_DSYNC, 0 },
	{ "append-only", O_WRONLY | O_APPEND, FS_APPEND_FL },
	{ "immutable", O_RDONLY, FS_IMMUTABLE_FL },
	{ "no-atime", O_RDWR, FS_NOATIME_FL },
};

#define N (int)(sizeof(h) / sizeof(h[0]))
#define WANT (O_APPEND | O_NOATIME | O_DIRECT | O_SYNC | O_DSYNC | O_ACCMODE)

static void corrupt(void)
{
	fcntl(h[0].fd, F_SETFL, 0);
}

int main(int argc, char **argv)
{
	int fl, direct_ok = 1;

	test_init(argc, argv);
	for (int i = 0; i < N; i++) {
		int fd, f;

		snprintf(h[i].name, sizeof(h[i].name), "%s.%d", filename, i);
		fd = open(h[i].name, O_RDWR | O_CREAT, 0644);
		if (fd >= 0 && h[i].iflags) {
			f = 0;
			ioctl(fd, FS_IOC_GETFLAGS, &f);
			f &= ~(FS_APPEND_FL | FS_IMMUTABLE_FL | FS_NOATIME_FL);
			ioctl(fd, FS_IOC_SETFLAGS, &f);
		}
		if (fd < 0 || ftruncate(fd, 4096) || close(fd)) {
			pr_perror("make %s", h[i].name);
			return 1;
		}
		h[i].fd = open(h[i].name, h[i].oflags);
		if (h[i].fd < 0 && (h[i].oflags & O_DIRECT) && errno == EINVAL) {
			/* A file system without O_DIRECT: keep the fd without it. */
			direct_ok = 0;
			h[i].oflags &= ~O_DIRECT;
			h[i].fd = open(h[i].name, h[i].oflags);
		}
		if (h[i].fd < 0) {
			pr_perror("open %s (%s)", h[i].name, h[i].what);
			return 1;
		}
		if (h[i].iflags) {
			f = 0;
			if (ioctl(h[i].fd, FS_IOC_GETFLAGS, &f))
				f = 0;
			f |= h[i].iflags;
			if (ioctl(h[i].fd, FS_IOC_SETFLAGS, &f)) {
				pr_perror("FS_IOC_SETFLAGS %s on %s", h[i].what, h[i].name);
				return 1;
			}
		}
	}
	if (!direct_ok)
		test_msg("no O_DIRECT on this file system: that fd is checked without it\n");
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (int i = 0; i < N; i++) {
		int f = 0;

		fl = fcntl(h[i].fd, F_GETFL);
		if (fl < 0 || (fl & WANT) != h[i].oflags)
			fail("%s: the fd's flags are %o, want %o", h[i].what, fl & WANT, h[i].oflags);
		if (h[i].iflags) {
			if (ioctl(h[i].fd, FS_IOC_GETFLAGS, &f) || !(f & h[i].iflags))
				fail("%s: the inode's flags are %x, want %x set", h[i].what, f, h[i].iflags);
			f &= ~h[i].iflags;
			ioctl(h[i].fd, FS_IOC_SETFLAGS, &f);
		}
	}
	if (write(h[5].fd, "x", 1) != 1)
		fail("the append-only file takes no append: %m");
	for (int i = 0; i < N; i++)
		unlink(h[i].name);
	pass();
	return 0;
}
