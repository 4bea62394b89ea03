#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A signalfd whose mask was changed after it was made (signalfd(fd, mask)) keeps the new mask";

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
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sfd = signalfd(-1, &m, SFD_NONBLOCK);
	if (sfd < 0) {
		pr_perror("signalfd");
		return 1;
	}
	/* Now SIGUSR2 and SIGRTMIN+1, no more SIGUSR1. */
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGRTMIN + 1);
	if (signalfd(sfd, &m, 0) != sfd) {
		pr_perror("signalfd(fd, mask)");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	raise(SIGUSR1);
	if (read(sfd, &si, sizeof(si)) != -1)
		fail("SIGUSR1 read from the signalfd (its first mask)");
	raise(SIGUSR2);
	if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != SIGUSR2)
		fail("SIGUSR2 not read from the signalfd");
	raise(SIGRTMIN + 1);
	if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != (uint32_t)SIGRTMIN + 1)
		fail("SIGRTMIN+1 not read from the signalfd");
	if (!test_failed())
		pass();
	return 0;
}
