#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A session leader with three children, one leading a process group "
		       "that holds its own child, and a zombie: pids, parents, groups, "
		       "session, memory and the zombie's exit status survive";

#define SIZE 30000

static uint8_t buf[SIZE];
static pid_t kids[3], grandchild, zombie;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void wait_term(sigset_t waitmask)
{
	struct sigaction sa = {.sa_handler = on_term};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigdelset(&waitmask, SIGTERM);
	while (!stop)
		sigsuspend(&waitmask);
}

/* child returns 0 when it is still where it was put, else a code. */
static int child(int i, pid_t leader, sigset_t waitmask)
{
	pid_t gc = 0;
	int status;

	fill_pattern(buf, SIZE, 100 + i);
	if (i == 1) {
		setpgid(0, 0);
		gc = fork();
		if (gc < 0)
			return 10;
		if (gc == 0) {
			pid_t parent = getppid();

			fill_pattern(buf, SIZE, 200);
			wait_term(waitmask);
			if (getppid() != parent || getpgrp() != parent || getsid(0) != leader)
				return 11;
			return check_pattern(buf, SIZE, 200) >= 0 ? 12 : 0;
		}
		grandchild = gc;
	}
	wait_term(waitmask);
	if (getppid() != leader || getsid(0) != leader)
		return 2;
	if (getpgrp() != (i == 1 ? getpid() : leader))
		return 3;
	if (check_pattern(buf, SIZE, 100 + i) >= 0)
		return 4;
	if (gc) {
		kill(gc, SIGTERM);
		if (waitpid(gc, &status, 0) != gc || !WIFEXITED(status))
			return 5;
		return WEXITSTATUS(status);
	}
	return 0;
}

static void corrupt(void)
{
	/*
	 * Kill child 1's process group, the child and the grandchild: the
	 * check then finds child 1 killed. (By group, not through
	 * /proc/PID/task/PID/children: in the ns flavor our pids are not the
	 * ones the host's /proc shows.)
	 */
	kill(-kids[1], SIGKILL);
}

int main(int argc, char **argv)
{
	sigset_t block, old;
	pid_t leader, z;
	int i, status;

	test_init(argc, argv);
	leader = getpid();
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < 3; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			pr_perror("fork");
			return 1;
		}
		if (kids[i] == 0)
			_exit(child(i, leader, old));
	}
	zombie = fork();
	if (zombie == 0)
		_exit(42);
	/* Wait for the zombie to be one, and for the group to exist. */
	for (;;) {
		siginfo_t si = {};

		if (waitid(P_PID, zombie, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == zombie)
			break;
		usleep(1000);
	}
	while (getpgid(kids[1]) != kids[1])
		usleep(1000);
	sigprocmask(SIG_SETMASK, &old, NULL);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (getsid(0) != leader || getpgrp() != leader)
		fail("the leader lost its session or group");
	z = waitpid(zombie, &status, WNOHANG);
	if (z != zombie || !WIFEXITED(status) || WEXITSTATUS(status) != 42)
		fail("zombie %d: waitpid gave %d, status %#x", zombie, z, status);
	for (i = 0; i < 3; i++) {
		kill(kids[i], SIGTERM);
		if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail("child %d (%d): status %#x", i, kids[i], status);
	}
	if (!test_failed())
		pass();
	return 0;
}
