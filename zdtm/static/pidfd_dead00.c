#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef PIDFD_DEAD_EXIT
const char *test_doc = "pidfds of children that have exited and been reaped (two of one child, a dup, "
		       "one with PIDFD_NONBLOCK): after restore pidfd_send_signal gives ESRCH, poll reports "
		       "them exited, waitid(P_PIDFD) gives ECHILD, and the pidfds of one child are of one pid";
#endif

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* struct pidfd_info of linux/pidfd.h up to exit_code (PIDFD_INFO_SIZE_VER0). */
struct pidfd_info0 {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
};
#define PIDFD_GET_INFO0 _IOWR(0xFF, 11, struct pidfd_info0)
#define PIDFD_INFO_EXIT0 (1UL << 3)

static int a1, a2, adup, b, self;

static int pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static void corrupt(void)
{
	dup2(self, a2);
}

/* dead forks a child that dies with exit code code (or by signal sig)
 * and is reaped; *fd (and *fd2 unless NULL) get pidfds of it. */
static int dead(int code, int sig, int flags, int *fd, int *fd2)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (sig) /* a signal of default action terminate, no handler */
			while (1)
				pause();
		_exit(code);
	}
	*fd = pidfd_open(pid, flags);
	if (fd2)
		*fd2 = pidfd_open(pid, 0);
	if (*fd < 0 || (fd2 && *fd2 < 0))
		return -1;
	if (sig)
		kill(pid, sig);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return 0;
}

static ino_t ino(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return 0;
	return st.st_ino;
}

static void check_dead(const char *name, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	siginfo_t si;

	if (syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) != -1 || errno != ESRCH)
		fail("%s: pidfd_send_signal did not give ESRCH: %s", name, strerror(errno));
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
		fail("%s: poll does not report the task exited (revents %#x)", name, pfd.revents);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG) != -1 || errno != ECHILD)
		fail("%s: waitid(P_PIDFD) did not give ECHILD: %s", name, strerror(errno));
}

#ifdef PIDFD_DEAD_EXIT
/* The exit status pidfs keeps of a reaped task (Linux 6.15). */
static void check_exit(const char *name, int fd, int want)
{
	struct pidfd_info0 info = { .mask = PIDFD_INFO_EXIT0 };

	if (ioctl(fd, PIDFD_GET_INFO0, &info)) {
		fail("%s: PIDFD_GET_INFO: %s", name, strerror(errno));
		return;
	}
	if (!(info.mask & PIDFD_INFO_EXIT0) || info.exit_code != want)
		fail("%s: exit status %#x (mask %#llx), want %#x", name, info.exit_code, (unsigned long long)info.mask,
		     want);
}
#endif

int main(int argc, char **argv)
{
	test_init(argc, argv);
	self = pidfd_open(getpid(), 0);
	if (self < 0 || dead(7, 0, O_NONBLOCK, &a1, &a2) || dead(0, SIGUSR1, 0, &b, NULL)) {
		pr_perror("setup");
		return 1;
	}
	adup = dup(a1);
#ifdef PIDFD_DEAD_EXIT
	{
		struct pidfd_info0 info = { .mask = PIDFD_INFO_EXIT0 };

		if (ioctl(b, PIDFD_GET_INFO0, &info) || !(info.mask & PIDFD_INFO_EXIT0)) {
			pr_perror("PIDFD_GET_INFO (PIDFD_INFO_EXIT, Linux 6.15) before the dump");
			return 1;
		}
	}
#endif
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check_dead("a1", a1);
	check_dead("a2", a2);
	check_dead("b", b);
	if (!(fcntl(a1, F_GETFL) & O_NONBLOCK) || (fcntl(a2, F_GETFL) & O_NONBLOCK))
		fail("O_NONBLOCK (PIDFD_NONBLOCK) not as set");
	fcntl(adup, F_SETFL, 0);
	if (fcntl(a1, F_GETFL) & O_NONBLOCK)
		fail("the dup is not the same open file");
	if (ino(a1) != ino(a2))
		fail("the two pidfds of one child are of two pids (inodes %lu %lu)", (unsigned long)ino(a1),
		     (unsigned long)ino(a2));
	if (ino(a1) == ino(b) || ino(a1) == ino(self))
		fail("pidfds of different tasks are of one pid");
#ifdef PIDFD_DEAD_EXIT
	check_exit("a1", a1, 7 << 8);
	check_exit("b", b, SIGUSR1);
#endif
	if (!test_failed())
		pass();
	return 0;
}
