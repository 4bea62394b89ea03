#define _GNU_SOURCE
#include <signal.h>

#include "zdtmtst.h"

const char *test_doc = "Signal handlers with their flags and masks survive, and a pending "
		       "blocked signal is delivered to its handler after restore";

static volatile sig_atomic_t got_usr1, got_usr2, got_rt;
static volatile siginfo_t usr2_info;

static void usr1_handler(int sig)
{
	(void)sig;
	got_usr1++;
}

static void usr2_action(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	usr2_info.si_code = si->si_code;
	usr2_info.si_value = si->si_value;
	got_usr2++;
}

static void rt_handler(int sig)
{
	(void)sig;
	got_rt++;
}

static struct {
	int sig;
	int flags;
	int mask_sig;
} want[] = {
	{SIGUSR1, SA_RESTART, SIGHUP},
	{SIGUSR2, SA_SIGINFO | SA_NODEFER, SIGQUIT},
	{0 /* SIGRTMIN + 3, set in main */, SA_RESETHAND | SA_ONSTACK, SIGPIPE},
};
#define N 3

static void *handler_of(int i)
{
	switch (i) {
	case 0: return (void *)usr1_handler;
	case 1: return (void *)usr2_action;
	default: return (void *)rt_handler;
	}
}

static void corrupt(void)
{
	signal(SIGUSR1, SIG_IGN);
}

int main(int argc, char **argv)
{
	struct sigaction sa, old;
	sigset_t block, pend;
	int i;

	test_init(argc, argv);
	want[2].sig = SIGRTMIN + 3;
	for (i = 0; i < N; i++) {
		memset(&sa, 0, sizeof(sa));
		if (want[i].flags & SA_SIGINFO)
			sa.sa_sigaction = handler_of(i);
		else
			sa.sa_handler = handler_of(i);
		sa.sa_flags = want[i].flags;
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, want[i].mask_sig);
		if (sigaction(want[i].sig, &sa, NULL)) {
			pr_perror("sigaction %d", want[i].sig);
			return 1;
		}
	}
	signal(SIGWINCH, SIG_IGN);

	/* A queued signal with a value waits, blocked, in the pending set. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	if (sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 0x5a5a}))
		pr_perror("sigqueue");

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < N; i++) {
		if (sigaction(want[i].sig, NULL, &old)) {
			pr_perror("sigaction %d", want[i].sig);
			continue;
		}
		if ((void *)old.sa_handler != handler_of(i))
			fail("signal %d: handler %p, want %p", want[i].sig,
			     (void *)old.sa_handler, handler_of(i));
		if ((old.sa_flags & want[i].flags) != want[i].flags)
			fail("signal %d: flags %#x, want %#x set", want[i].sig,
			     old.sa_flags, want[i].flags);
		if (!sigismember(&old.sa_mask, want[i].mask_sig))
			fail("signal %d: signal %d left the handler's mask",
			     want[i].sig, want[i].mask_sig);
	}
	if (sigaction(SIGWINCH, NULL, &old) || old.sa_handler != SIG_IGN)
		fail("SIGWINCH is not ignored any more");

	sigpending(&pend);
	if (!sigismember(&pend, SIGUSR2))
		fail("SIGUSR2 is not pending any more");
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	if (got_usr2 != 1)
		fail("the pending SIGUSR2 was delivered %d times", got_usr2);
	else if (usr2_info.si_code != SI_QUEUE || usr2_info.si_value.sival_int != 0x5a5a)
		fail("SIGUSR2 siginfo code %d value %#x, want SI_QUEUE 0x5a5a",
		     usr2_info.si_code, usr2_info.si_value.sival_int);

	raise(SIGUSR1);
	if (got_usr1 != 1)
		fail("SIGUSR1 reached its handler %d times", got_usr1);
	raise(SIGRTMIN + 3);
	if (got_rt != 1)
		fail("SIGRTMIN+3 reached its handler %d times", got_rt);
	if (sigaction(SIGRTMIN + 3, NULL, &old) || old.sa_handler != SIG_DFL)
		fail("SA_RESETHAND did not reset the handler");
	pass();
	return 0;
}
