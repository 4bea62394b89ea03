#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Open namespace files (/proc/self/ns/KIND, as setns users and container "
		       "tools keep them) come back as files of the task's own namespaces after "
		       "restore, with their close-on-exec flag, and setns() takes the network and "
		       "UTS ones";

static const char *kinds[] = {"net", "uts", "ipc", "mnt", "pid", "cgroup", "time", "pid_for_children", NULL};
static int fds[16];

static void corrupt(void)
{
	dup2(fds[1], fds[0]); /* the net file becomes the uts one */
}

int main(int argc, char **argv)
{
	char p[64];
	int i;

	test_init(argc, argv);
	for (i = 0; kinds[i]; i++) {
		snprintf(p, sizeof(p), "/proc/self/ns/%s", kinds[i]);
		fds[i] = open(p, O_RDONLY | (i % 2 ? O_CLOEXEC : 0));
		if (fds[i] < 0) {
			fail("open %s: %s", p, strerror(errno));
			return 1;
		}
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; kinds[i]; i++) {
		struct stat now, f;
		int fl;

		snprintf(p, sizeof(p), "/proc/self/ns/%s", kinds[i]);
		if (stat(p, &now) || fstat(fds[i], &f)) {
			fail("stat %s or its file: %s", p, strerror(errno));
			continue;
		}
		if (now.st_ino != f.st_ino || now.st_dev != f.st_dev)
			fail("the %s file is of namespace %lu, the task is in %lu", kinds[i], (unsigned long)f.st_ino,
			     (unsigned long)now.st_ino);
		fl = fcntl(fds[i], F_GETFD);
		if (!!(fl & FD_CLOEXEC) != i % 2)
			fail("the %s file's close-on-exec is %d", kinds[i], fl & FD_CLOEXEC);
	}
	if (setns(fds[0], CLONE_NEWNET) || setns(fds[1], CLONE_NEWUTS))
		fail("setns through the restored files: %s", strerror(errno));
	pass();
	return 0;
}
