// sigtrap: a SIGTRAP handler and a blocked SIGTRAP pending for the
// process. It writes "ready" to argv[1]; on SIGUSR2 it writes PASS if
// the SIGTRAP is still pending and its handler still set, FAIL if not.
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
static volatile sig_atomic_t check, traps;
static void h_trap(int s) { (void)s; traps++; }
static void h_usr2(int s) { (void)s; check = 1; }
int main(int argc, char **argv) {
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	struct sigaction sa = {0};
	sigset_t m;
	(void)argc;
	sa.sa_handler = h_trap;
	sigaction(SIGTRAP, &sa, 0);
	sa.sa_handler = h_usr2;
	sigaction(SIGUSR2, &sa, 0);
	sigemptyset(&m);
	sigaddset(&m, SIGTRAP);
	sigprocmask(SIG_BLOCK, &m, 0);
	kill(getpid(), SIGTRAP);
	write(out, "ready\n", 6);
	while (!check)
		pause();
	sigset_t pend;
	sigpending(&pend);
	struct sigaction cur;
	sigaction(SIGTRAP, 0, &cur);
	int ok = sigismember(&pend, SIGTRAP) && cur.sa_handler == h_trap;
	sigprocmask(SIG_UNBLOCK, &m, 0);
	ok = ok && traps == 1;
	write(out, ok ? "PASS\n" : "FAIL\n", 5);
	return 0;
}
