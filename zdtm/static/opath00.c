#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "O_PATH fds stay O_PATH fds on the same objects: on a regular file, on a directory, "
		       "on a symlink itself (O_NOFOLLOW), and on a symlink removed while held";

static char *dirname = "opath00.dir";
TEST_OPTION(dirname, string, "directory to make the files in", 0);

#define TARGET "target-of-the-link"

struct held {
	const char *what;
	int fd;
	mode_t type;
	struct stat st;
};

static struct held h[4];

static void corrupt(void)
{
	close(h[1].fd);
	open("/", O_PATH);
}

static int link_target(int fd, char *buf, size_t n)
{
	ssize_t l = readlinkat(fd, "", buf, n - 1);

	if (l < 0)
		return -1;
	buf[l] = 0;
	return 0;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], buf[PATH_MAX];
	struct stat st;
	int fd;

	test_init(argc, argv);
	if (mkdir(dirname, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/file", dirname);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd < 0 || write(fd, "data", 4) != 4 || close(fd)) {
		pr_perror("make %s", path);
		return 1;
	}
	h[0] = (struct held){ "file", open(path, O_PATH), S_IFREG };
	h[1] = (struct held){ "directory", open(dirname, O_PATH | O_DIRECTORY), S_IFDIR };
	snprintf(path, sizeof(path), "%s/link", dirname);
	unlink(path);
	if (symlink(TARGET, path)) {
		pr_perror("symlink %s", path);
		return 1;
	}
	h[2] = (struct held){ "symlink", open(path, O_PATH | O_NOFOLLOW), S_IFLNK };
	snprintf(path, sizeof(path), "%s/removed-link", dirname);
	unlink(path);
	if (symlink(TARGET "-removed", path)) {
		pr_perror("symlink %s", path);
		return 1;
	}
	h[3] = (struct held){ "removed symlink", open(path, O_PATH | O_NOFOLLOW), S_IFLNK };
	for (int i = 0; i < 4; i++) {
		if (h[i].fd < 0 || fstat(h[i].fd, &h[i].st)) {
			pr_perror("open the %s O_PATH", h[i].what);
			return 1;
		}
	}
	if (unlink(path)) {
		pr_perror("unlink %s", path);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (int i = 0; i < 4; i++) {
		int fl = fcntl(h[i].fd, F_GETFL);

		if (fl < 0 || !(fl & O_PATH)) {
			fail("the %s fd %d is not O_PATH (flags %o)", h[i].what, h[i].fd, fl);
			continue;
		}
		if (fstat(h[i].fd, &st)) {
			fail("fstat the %s: %m", h[i].what);
			continue;
		}
		if ((st.st_mode & S_IFMT) != h[i].type || (st.st_mode & 07777) != (h[i].st.st_mode & 07777))
			fail("the %s has mode %o, want %o", h[i].what, st.st_mode, h[i].type | (h[i].st.st_mode & 07777));
		if (i < 3 && (st.st_dev != h[i].st.st_dev || st.st_ino != h[i].st.st_ino))
			fail("the %s is another inode", h[i].what);
	}
	if (link_target(h[2].fd, buf, sizeof(buf)) || strcmp(buf, TARGET))
		fail("the symlink reads %s, want %s", buf, TARGET);
	if (link_target(h[3].fd, buf, sizeof(buf)) || strcmp(buf, TARGET "-removed"))
		fail("the removed symlink reads %s, want %s", buf, TARGET "-removed");
	if (fstat(h[3].fd, &st) == 0 && st.st_nlink != 0)
		fail("the removed symlink has %lu links", (unsigned long)st.st_nlink);
	fd = openat(h[1].fd, "file", O_RDONLY);
	if (fd < 0 || read(fd, buf, 4) != 4 || memcmp(buf, "data", 4))
		fail("the file is not reached through the directory's O_PATH fd");
	pass();
	return 0;
}
