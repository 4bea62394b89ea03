#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Leases (F_SETLEASE) are held again after restore: a read lease and a "
		       "write lease on two files, each still broken by a conflicting open, "
		       "which signals the task (SIGIO)";

static char *filename = "file_lease00.data";
TEST_OPTION(filename, string, "file to lease", 0);

static char wname[PATH_MAX];
static int rd, wr;
static volatile sig_atomic_t sigio;

static void on_sigio(int sig)
{
	(void)sig;
	sigio++;
}

static void corrupt(void)
{
	fcntl(rd, F_SETLEASE, F_UNLCK);
}

/* breaks opens path with flags in a child, which blocks until the
 * lease is given up (the parent does, on SIGIO). */
static int breaks(const char *path, int flags, int fd)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int f = open(path, flags);
		_exit(f < 0 ? 1 : 0);
	}
	for (int i = 0; i < 5000 && !sigio; i++)
		usleep(1000);
	if (!sigio) {
		fail("%s: no SIGIO for a conflicting open", path);
		kill(pid, SIGKILL);
	}
	fcntl(fd, F_SETLEASE, F_UNLCK);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	sigio = 0;
	return 0;
}

int main(int argc, char **argv)
{
	int fd;

	test_init(argc, argv);
	snprintf(wname, sizeof(wname), "%s.w", filename);
	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || close(fd)) {
		pr_perror("create %s", filename);
		return 1;
	}
	rd = open(filename, O_RDONLY);
	wr = open(wname, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (rd < 0 || wr < 0) {
		pr_perror("open");
		return 1;
	}
	signal(SIGIO, on_sigio);
	if (fcntl(rd, F_SETLEASE, F_RDLCK) || fcntl(wr, F_SETLEASE, F_WRLCK)) {
		pr_perror("fcntl(F_SETLEASE)");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (fcntl(rd, F_GETLEASE) != F_RDLCK)
		fail("read lease: F_GETLEASE is %d", fcntl(rd, F_GETLEASE));
	if (fcntl(wr, F_GETLEASE) != F_WRLCK)
		fail("write lease: F_GETLEASE is %d", fcntl(wr, F_GETLEASE));
	if (test_failed())
		return 0;
	if (breaks(filename, O_WRONLY, rd) || breaks(wname, O_RDONLY, wr)) {
		fail("breaking the leases");
		return 0;
	}
	pass();
	return 0;
}
