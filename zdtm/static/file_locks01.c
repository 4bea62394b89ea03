#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "OFD locks (F_OFD_SETLK) are held again after restore by the same open "
		       "file description, with their ranges and types; a description shared "
		       "with a child holds them once";

static char *filename = "file_locks01.data";
TEST_OPTION(filename, string, "file to lock", 0);

static int a, b;

static int ofd_setlk(int fd, short type, off_t start, off_t len)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return fcntl(fd, F_OFD_SETLK, &l);
}

static struct flock ofd_getlk(int fd, short type, off_t start, off_t len)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, F_OFD_GETLK, &l))
		l.l_type = -1;
	return l;
}

static void corrupt(void)
{
	ofd_setlk(a, F_UNLCK, 0, 10);
}

/* A new open file description of the file sees a's and b's locks. */
static int check(void)
{
	int fd = open(filename, O_RDWR), bad = 0;
	struct flock l;

	if (fd < 0)
		return 1 << 0;
	/* a: write lock on [0, 10); b: read lock on [100, EOF). */
	l = ofd_getlk(fd, F_RDLCK, 5, 1);
	if (l.l_type != F_WRLCK || l.l_pid != -1 || l.l_start != 0 || l.l_len != 10)
		bad |= 1 << 1;
	l = ofd_getlk(fd, F_WRLCK, 10, 90);
	if (l.l_type != F_UNLCK)
		bad |= 1 << 2;
	l = ofd_getlk(fd, F_WRLCK, 200, 1);
	if (l.l_type != F_RDLCK || l.l_start != 100 || l.l_len != 0)
		bad |= 1 << 3;
	if (ofd_setlk(fd, F_RDLCK, 200, 1))
		bad |= 1 << 4;
	/* The owner's own description takes its range again freely. */
	if (ofd_setlk(a, F_WRLCK, 0, 10))
		bad |= 1 << 5;
	if (ofd_setlk(b, F_WRLCK, 0, 1) == 0 || (errno != EAGAIN && errno != EACCES))
		bad |= 1 << 6;
	return bad;
}

int main(int argc, char **argv)
{
	int status;
	pid_t pid, keeper;

	test_init(argc, argv);
	a = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0644);
	b = open(filename, O_RDWR);
	if (a < 0 || b < 0) {
		pr_perror("open");
		return 1;
	}
	if (ofd_setlk(a, F_WRLCK, 0, 10) || ofd_setlk(b, F_RDLCK, 100, 0)) {
		pr_perror("fcntl(F_OFD_SETLK)");
		return 1;
	}
	/* A child shares both descriptions (and so their locks). */
	keeper = fork();
	if (keeper < 0) {
		pr_perror("fork");
		return 1;
	}
	if (keeper == 0) {
		for (;;)
			pause();
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (pid == 0)
		_exit(check());
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		fail("checker did not exit");
		return 1;
	}
	kill(keeper, SIGKILL);
	waitpid(keeper, NULL, 0);
	if (WEXITSTATUS(status))
		fail("OFD locks not as taken: checker mask %#x (1 open, 2 write lock, 4 gap, 8-16 read lock, 32-64 owners)",
		     WEXITSTATUS(status));
	else
		pass();
	return 0;
}
