#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Files of the /proc directory of a child that has exited and been reaped (its mountinfo, "
		       "the directory itself, a cwd in it) stay open on the exited task: the same paths, nothing "
		       "to open in its directory, and no task of that pid afterwards";

static int mi, dir;
static pid_t dead;
static int open_errno; /* what opening below the directory fails with */
static char mi_link[256], dir_link[256];

static void corrupt(void)
{
	close(mi);
	mi = open("/proc/self/mountinfo", O_RDONLY);
}

static int link_of(int fd, char *buf, size_t n)
{
	char p[64];
	ssize_t k;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	k = readlink(p, buf, n - 1);
	if (k < 0)
		return -1;
	buf[k] = 0;
	return 0;
}

/* gone checks that the files are on the exited task: nothing to open
 * below its directory. */
static int gone(void)
{
	char buf[64], now[256];
	int f;

	/* Opened while the task lived, it shows its mount namespace still. */
	if (pread(mi, buf, sizeof(buf), 0) <= 0) {
		fail("the mountinfo of the exited task does not read");
		return -1;
	}
	f = openat(dir, "status", O_RDONLY);
	if (f >= 0 || (open_errno && errno != open_errno)) {
		fail("the directory of the exited task opens status (%d, %m)", f);
		return -1;
	}
	open_errno = errno;
	if (link_of(mi, now, sizeof(now)) || strcmp(now, mi_link) || link_of(dir, now, sizeof(now)) || strcmp(now, dir_link)) {
		fail("the files' paths changed (%s)", now);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char p[64], cwd[256], now[256];
	pid_t kid, walker, got;
	int sync[2], ready[2], status;

	test_init(argc, argv);
	kid = fork();
	if (kid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (kid == 0) {
		pause();
		_exit(0);
	}
	dead = kid;
	snprintf(p, sizeof(p), "/proc/%d/mountinfo", kid);
	mi = open(p, O_RDONLY);
	snprintf(p, sizeof(p), "/proc/%d", kid);
	dir = open(p, O_RDONLY | O_DIRECTORY);
	if (mi < 0 || dir < 0) {
		pr_perror("open the child's /proc files");
		return 1;
	}
	/* A child of ours whose cwd is there too. */
	if (pipe(sync) || pipe(ready)) {
		pr_perror("pipe");
		return 1;
	}
	walker = fork();
	if (walker == 0) {
		char c = 'r';

		if (fchdir(dir) || write(ready[1], &c, 1) != 1)
			_exit(2);
		close(sync[1]);
		if (read(sync[0], &c, 1) != 1)
			_exit(3);
		if (getcwd(cwd, sizeof(cwd)) || errno != ENOENT)
			_exit(4);
		if (readlink("/proc/self/cwd", now, sizeof(now)) < 0)
			_exit(5);
		_exit(0);
	}
	close(sync[0]);
	if (read(ready[0], p, 1) != 1) {
		fail("the child did not go into the directory");
		return 1;
	}
	kill(kid, SIGKILL);
	if (waitpid(kid, NULL, 0) != kid) {
		pr_perror("waitpid");
		return 1;
	}
	if (link_of(mi, mi_link, sizeof(mi_link)) || link_of(dir, dir_link, sizeof(dir_link)) || gone())
		return 1;

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (gone())
		return 1;
	if (write(sync[1], "c", 1) != 1) {
		pr_perror("write to the child");
		return 1;
	}
	status = -1;
	if ((got = waitpid(walker, &status, 0)) != walker || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("the child with its cwd in the exited task's directory ended with %#x (%d, %m)", status, got);
		return 1;
	}
	if (waitpid(-1, &status, WNOHANG) != -1 || errno != ECHILD) {
		fail("a child the test did not have");
		return 1;
	}
	pass();
	return 0;
}
