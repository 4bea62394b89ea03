#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "flock and POSIX locks are held again after restore, by the same task, with their ranges";

static char *filename = "file_locks00.data";
TEST_OPTION(filename, string, "file to lock", 0);

static int fl_ex, fl_sh, posix;
static char shname[PATH_MAX];

static void corrupt(void)
{
	flock(fl_ex, LOCK_UN);
}

static int setlk(int fd, short type, off_t start, off_t len)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return fcntl(fd, F_SETLK, &l);
}

/* getlk asks which lock would stop a lock of type on [start, start+len). */
static struct flock getlk(int fd, short type, off_t start, off_t len)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, F_GETLK, &l))
		l.l_type = -1;
	return l;
}

/* check runs in a child: another process sees the parent's locks. */
static int check(pid_t owner)
{
	int fd = open(filename, O_RDWR), sh = open(shname, O_RDWR), bad = 0;
	struct flock l;

	if (fd < 0 || sh < 0)
		return 1 << 0;
	/* flock: LOCK_EX held on filename, LOCK_SH on shname. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		bad |= 1 << 1;
	if (flock(sh, LOCK_SH | LOCK_NB))
		bad |= 1 << 2;
	if (flock(sh, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		bad |= 1 << 3;
	/* POSIX: write lock on [0, 10), read lock on [20, EOF). */
	l = getlk(fd, F_RDLCK, 0, 1);
	if (l.l_type != F_WRLCK || l.l_pid != owner || l.l_start != 0 || l.l_len != 10)
		bad |= 1 << 4;
	l = getlk(fd, F_WRLCK, 10, 10);
	if (l.l_type != F_UNLCK)
		bad |= 1 << 5;
	l = getlk(fd, F_WRLCK, 1000, 1);
	if (l.l_type != F_RDLCK || l.l_pid != owner || l.l_start != 20 || l.l_len != 0)
		bad |= 1 << 6;
	l = getlk(fd, F_RDLCK, 1000, 1);
	if (l.l_type != F_UNLCK)
		bad |= 1 << 7;
	return bad;
}

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	test_init(argc, argv);
	snprintf(shname, sizeof(shname), "%s.sh", filename);
	fl_ex = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0644);
	fl_sh = open(shname, O_RDONLY | O_CREAT | O_TRUNC, 0644);
	posix = open(filename, O_RDWR);
	if (fl_ex < 0 || fl_sh < 0 || posix < 0) {
		pr_perror("open");
		return 1;
	}
	if (flock(fl_ex, LOCK_EX) || flock(fl_sh, LOCK_SH)) {
		pr_perror("flock");
		return 1;
	}
	if (setlk(posix, F_WRLCK, 0, 10) || setlk(posix, F_RDLCK, 20, 0)) {
		pr_perror("fcntl(F_SETLK)");
		return 1;
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
		_exit(check(getppid()));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		fail("checker did not exit");
		return 1;
	}
	if (WEXITSTATUS(status))
		fail("locks not as taken: checker mask %#x (1 open, 2 flock EX, 4-8 flock SH, 16 POSIX write, 32 gap, 64-128 POSIX read)",
		     WEXITSTATUS(status));
	else
		pass();
	return 0;
}
