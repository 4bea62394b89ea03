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

const char *test_doc = "pidfds of leader threads (PIDFD_THREAD) of the test and of a child stay thread pidfds: "
		       "a signal sent through one reaches the thread, poll reports the child's exit";

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static int cfd, sfd;
static volatile sig_atomic_t got_usr1;

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
	int fd = syscall(SYS_pidfd_open, getpid(), 0);

	dup2(fd, sfd);
	close(fd);
}

int main(int argc, char **argv)
{
	struct pollfd pfd;
	int status;
	pid_t child;

	test_init(argc, argv);
	signal(SIGUSR1, on_usr1);
	/* Before the fork: a SIGUSR2 sent before the child set it would kill it. */
	signal(SIGUSR2, on_usr2);
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		while (1)
			pause();
	}
	cfd = syscall(SYS_pidfd_open, child, PIDFD_THREAD | O_NONBLOCK);
	sfd = syscall(SYS_pidfd_open, getpid(), PIDFD_THREAD);
	if (cfd < 0 || sfd < 0) {
		pr_perror("pidfd_open(PIDFD_THREAD)");
		kill(child, SIGKILL);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!(fcntl(cfd, F_GETFL) & PIDFD_THREAD) || !(fcntl(sfd, F_GETFL) & PIDFD_THREAD))
		fail("PIDFD_THREAD lost (flags %#x %#x)", fcntl(cfd, F_GETFL), fcntl(sfd, F_GETFL));
	if (!(fcntl(cfd, F_GETFL) & O_NONBLOCK))
		fail("PIDFD_NONBLOCK lost");
	if (syscall(SYS_pidfd_send_signal, sfd, SIGUSR1, NULL, 0) || !got_usr1)
		fail("pidfd_send_signal to the test's own thread pidfd did not reach it");
	pfd = (struct pollfd){ .fd = cfd, .events = POLLIN };
	if (poll(&pfd, 1, 0) != 0)
		fail("the child's pidfd polls readable while the child runs");
	if (syscall(SYS_pidfd_send_signal, cfd, SIGUSR2, NULL, 0))
		fail("pidfd_send_signal to the child: %s", strerror(errno));
	if (poll(&pfd, 1, 5000) != 1 || !(pfd.revents & POLLIN))
		fail("poll did not report the child's exit");
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 42)
		fail("child status %#x, want exit 42", status);
	if (!test_failed())
		pass();
	return 0;
}
