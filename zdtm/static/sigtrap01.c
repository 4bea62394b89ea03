#include <signal.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A SIGTRAP handler survives checkpoint/restore (the injected syscalls' "
		       "single-step traps must not reset it), for a thread that blocks SIGTRAP too";

static volatile sig_atomic_t traps;

static void handler(int sig)
{
	(void)sig;
	traps++;
}

static void corrupt(void)
{
	signal(SIGTRAP, SIG_IGN);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = handler};
	sigset_t m;

	test_init(argc, argv);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTRAP, &sa, NULL)) {
		pr_perror("sigaction");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();
	if (sigaction(SIGTRAP, NULL, &sa) || sa.sa_handler != handler)
		fail("the SIGTRAP handler is %p, want %p", (void *)sa.sa_handler, (void *)handler);
	kill(getpid(), SIGTRAP);
	if (traps != 1)
		fail("the handler ran %d times for one SIGTRAP", traps);
	/* Blocked, it is pending until unblocked. */
	sigemptyset(&m);
	sigaddset(&m, SIGTRAP);
	sigprocmask(SIG_BLOCK, &m, NULL);
	kill(getpid(), SIGTRAP);
	sigprocmask(SIG_UNBLOCK, &m, NULL);
	if (traps != 2)
		fail("the handler ran %d times for two SIGTRAPs", traps);
	if (!test_failed())
		pass();
	return 0;
}
