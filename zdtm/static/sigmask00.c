#define _GNU_SOURCE
#include <signal.h>

#include "zdtmtst.h"

const char *test_doc = "The blocked signal mask survives";

static sigset_t want;

static void corrupt(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
}

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGUSR1, SIGHUP, SIGPIPE, SIGCHLD, SIGALRM, SIGWINCH};
	sigset_t cur;
	unsigned i;
	int s;

	test_init(argc, argv);
	sigemptyset(&want);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&want, sigs[i]);
	sigaddset(&want, SIGRTMIN + 1);
	sigaddset(&want, SIGRTMAX - 1);
	if (sigprocmask(SIG_SETMASK, &want, NULL)) {
		pr_perror("sigprocmask");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	sigprocmask(SIG_SETMASK, NULL, &cur);
	for (s = 1; s < _NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP || (s > 31 && s < SIGRTMIN))
			continue;
		if (sigismember(&cur, s) != sigismember(&want, s))
			fail("signal %d is %sblocked", s, sigismember(&cur, s) ? "" : "not ");
	}
	pass();
	return 0;
}
