// signals: an interval timer (SIGALRM), a POSIX timer (SIGRTMIN), an
// alternate signal stack, a blocked pending SIGUSR1 raised before the dump,
// and umask. On SIGUSR2 it unblocks SIGUSR1 and writes PASS if the pending
// signal arrives on the altstack and both timers kept ticking.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
static volatile long alrm, rt, usr1_on_alt;
static volatile sig_atomic_t check;
static char altstack[65536];
static void h_alrm(int s) { alrm++; }
static void h_rt(int s) { rt++; }
static void h_usr1(int s) {
	char here;
	if (&here >= altstack && &here < altstack + sizeof altstack) usr1_on_alt = 1;
	else usr1_on_alt = -1;
}
static void h_usr2(int s) { check = 1; }
int main(int argc, char **argv) {
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	umask(027);
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	sigaltstack(&ss, 0);
	struct sigaction sa = {0};
	sa.sa_handler = h_alrm;
	sigaction(SIGALRM, &sa, 0);
	sa.sa_handler = h_rt;
	sigaction(SIGRTMIN, &sa, 0);
	sa.sa_handler = h_usr2;
	sigaction(SIGUSR2, &sa, 0);
	sa.sa_handler = h_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, 0);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, 0);
	raise(SIGUSR1);
	struct itimerval it = {{0, 5000}, {0, 5000}};
	setitimer(ITIMER_REAL, &it, 0);
	timer_t tid;
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN};
	timer_create(CLOCK_MONOTONIC, &ev, &tid);
	struct itimerspec its = {{0, 5000000}, {0, 5000000}};
	timer_settime(tid, 0, &its, 0);
	write(out, "READY\n", 6);
	for (;;) {
		if (check) {
			check = 0;
			long a = alrm, r = rt;
			for (int i = 0; i < 100; i++) usleep(1000); /* signals cut sleeps short */
			sigprocmask(SIG_UNBLOCK, &m, 0);
			mode_t um = umask(0);
			umask(um);
			char b[128];
			int ok = alrm > a && rt > r && usr1_on_alt == 1 && um == 027;
			int n = snprintf(b, sizeof b, "%s alrm %ld>%ld rt %ld>%ld alt %ld umask %o\n", ok ? "PASS" : "FAIL", alrm, a, rt, r, usr1_on_alt, um);
			write(out, b, n);
		}
		pause();
	}
}
