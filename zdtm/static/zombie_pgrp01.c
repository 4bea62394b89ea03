#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Zombies in a process group whose leader is gone: a task made a group, "
		       "forked into it, as children of the test (CLONE_PARENT), a task that "
		       "exited with code 5 and a live one, then exited and was reaped. The "
		       "zombie keeps the group and its status, the live one the group, and "
		       "the leader's pid stays free";

static pid_t leader, zombie, live;

/* corrupt reaps the zombie early: the check then finds it gone. */
static void corrupt(void)
{
	waitpid(zombie, NULL, 0);
}

/* sibling forks a child of the test (CLONE_PARENT) that runs fn. */
static pid_t sibling(int (*fn)(void))
{
	long p = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);

	if (p == 0)
		_exit(fn());
	return p;
}

static int die(void)
{
	return 5;
}

static __attribute__((noreturn)) int sleeper(void)
{
	while (1)
		pause();
}

int main(int argc, char **argv)
{
	siginfo_t si = {};
	int p[2], status;
	pid_t pids[2];

	test_init(argc, argv);
	if (pipe(p) < 0) {
		pr_perror("pipe");
		return 1;
	}
	leader = fork();
	if (leader < 0) {
		pr_perror("fork");
		return 1;
	}
	if (leader == 0) {
		if (setpgid(0, 0) < 0)
			_exit(100);
		pids[0] = sibling(die);
		pids[1] = sibling(sleeper);
		if (pids[0] < 0 || pids[1] < 0)
			_exit(101);
		write(p[1], pids, sizeof(pids));
		_exit(0);
	}
	if (read(p[0], pids, sizeof(pids)) != sizeof(pids)) {
		fail("no pids from leader %d", leader);
		return 1;
	}
	zombie = pids[0];
	live = pids[1];
	if (waitpid(leader, &status, 0) != leader || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("leader %d: status %#x", leader, status);
		return 1;
	}
	if (waitid(P_PID, zombie, &si, WEXITED | WNOWAIT) < 0) {
		pr_perror("waitid");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (kill(leader, 0) == 0 || errno != ESRCH)
		fail("the leader's pid %d is taken", leader);
	if (getpgid(live) != leader)
		fail("live member %d: group %d, want %d", live, getpgid(live), leader);
	if (getsid(live) != getsid(0))
		fail("live member %d: session %d, want %d", live, getsid(live), getsid(0));
	si.si_pid = 0;
	if (waitid(P_PID, zombie, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != zombie) {
		fail("%d is not a zombie", zombie);
	} else {
		if (getpgid(zombie) != leader)
			fail("zombie %d: group %d, want %d", zombie, getpgid(zombie), leader);
		if (waitpid(zombie, &status, 0) != zombie)
			pr_perror("waitpid zombie");
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 5)
			fail("zombie: status %#x, want exit 5", status);
	}
	kill(live, SIGKILL);
	waitpid(live, NULL, 0);
	if (!test_failed())
		pass();
	return 0;
}
