#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A pidfd of a child that has exited and is not reaped (a zombie): after restore "
		       "poll reports it exited and waitid(P_PIDFD) reaps it with its exit code";

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int zfd;
static pid_t zombie;

static void corrupt(void)
{
	waitpid(zombie, NULL, 0);
}

int main(int argc, char **argv)
{
	struct pollfd pfd;
	siginfo_t si;

	test_init(argc, argv);
	zombie = fork();
	if (zombie < 0) {
		pr_perror("fork");
		return 1;
	}
	if (zombie == 0)
		_exit(9);
	zfd = syscall(SYS_pidfd_open, zombie, 0);
	if (zfd < 0) {
		pr_perror("pidfd_open");
		return 1;
	}
	/* Wait until it is a zombie. */
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, zombie, &si, WEXITED | WNOWAIT)) {
		pr_perror("waitid(WNOWAIT)");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	pfd = (struct pollfd){ .fd = zfd, .events = POLLIN };
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
		fail("poll does not report the zombie exited");
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, zfd, &si, WEXITED)) {
		fail("waitid(P_PIDFD): %s", strerror(errno));
	} else if (si.si_pid != zombie || si.si_code != CLD_EXITED || si.si_status != 9)
		fail("waitid(P_PIDFD): pid %d code %d status %d, want %d exited 9", si.si_pid, si.si_code,
		     si.si_status, zombie);
	if (syscall(SYS_pidfd_send_signal, zfd, 0, NULL, 0) != -1 || errno != ESRCH)
		fail("pidfd_send_signal after reaping did not give ESRCH");
	if (!test_failed())
		pass();
	return 0;
}
