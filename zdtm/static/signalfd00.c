#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A signalfd keeps its signal mask and flags, and reads a signal sent after restore";

static int sfd;

static void corrupt(void)
{
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	signalfd(sfd, &m, 0);
}

int main(int argc, char **argv)
{
	struct signalfd_siginfo si;
	sigset_t m;

	test_init(argc, argv);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &m, NULL);
	sfd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		pr_perror("signalfd");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!(fcntl(sfd, F_GETFL) & O_NONBLOCK) || !(fcntl(sfd, F_GETFD) & FD_CLOEXEC))
		fail("flags lost");
	if (read(sfd, &si, sizeof(si)) != -1 || errno != EAGAIN)
		fail("a signal was pending");
	raise(SIGUSR2);
	if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != SIGUSR2)
		fail("SIGUSR2 not read from the signalfd");
	raise(SIGRTMIN + 3);
	if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != (uint32_t)SIGRTMIN + 3)
		fail("SIGRTMIN+3 not read from the signalfd");
	if (!test_failed())
		pass();
	return 0;
}
