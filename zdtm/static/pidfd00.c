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

const char *test_doc = "pidfds of a child (PIDFD_NONBLOCK, and a dup of it) and of the test itself: after restore "
		       "pidfd_send_signal reaches the right task and poll and waitid(P_PIDFD) report the child's exit";

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int cfd, cdup, sfd;
static volatile sig_atomic_t got_usr1;

static int pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static int pidfd_send_signal(int fd, int sig)
{
	return syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	_exit(42);
}

static void corrupt(void)
{
	fcntl(cfd, F_SETFL, 0);
}

int main(int argc, char **argv)
{
	struct pollfd pfd;
	siginfo_t si;
	pid_t child;

	test_init(argc, argv);
	signal(SIGUSR1, on_usr1);
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		signal(SIGUSR2, on_usr2);
		while (1)
			pause();
	}
	cfd = pidfd_open(child, O_NONBLOCK); /* PIDFD_NONBLOCK */
	sfd = pidfd_open(getpid(), 0);
	if (cfd < 0 || sfd < 0) {
		pr_perror("pidfd_open");
		kill(child, SIGKILL);
		return 1;
	}
	cdup = dup(cfd);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!(fcntl(cfd, F_GETFL) & O_NONBLOCK) || (fcntl(sfd, F_GETFL) & O_NONBLOCK))
		fail("O_NONBLOCK (PIDFD_NONBLOCK) not as set");
	/* The dup shares the description: its flags change with the other's. */
	fcntl(cdup, F_SETFL, 0);
	if (fcntl(cfd, F_GETFL) & O_NONBLOCK)
		fail("the dup of the child's pidfd is not the same open file");
	if (pidfd_send_signal(sfd, SIGUSR1) || !got_usr1)
		fail("pidfd_send_signal to the test's own pidfd did not reach it");
	pfd = (struct pollfd){ .fd = cfd, .events = POLLIN };
	if (poll(&pfd, 1, 0) != 0)
		fail("the child's pidfd polls readable while the child runs");
	if (pidfd_send_signal(cfd, SIGUSR2))
		fail("pidfd_send_signal to the child: %s", strerror(errno));
	if (poll(&pfd, 1, 5000) != 1 || !(pfd.revents & POLLIN))
		fail("poll did not report the child's exit");
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, cfd, &si, WEXITED))
		fail("waitid(P_PIDFD): %s", strerror(errno));
	else if (si.si_pid != child || si.si_code != CLD_EXITED || si.si_status != 42)
		fail("waitid(P_PIDFD): pid %d code %d status %d, want %d exited 42", si.si_pid, si.si_code, si.si_status, child);
	if (test_failed()) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	} else
		pass();
	return 0;
}
