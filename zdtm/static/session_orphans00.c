#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Session members re-parented to the test (a subreaper) when their leader, "
		       "or the tasks between them, exited: a session whose leader was reaped (a "
		       "live member in its group, a zombie member), a live leader whose member's "
		       "parent exited, a zombie leader, and a zombie leader that is a grandchild "
		       "of the test. Each member keeps its session and group, each zombie its "
		       "status, a reaped leader's pid stays free";

static int only; /* a case alone, 1 to 4 (0: all) */
TEST_OPTION(only, int, "make only this case (1 to 4), for a tool that restores some", 0);

static pid_t self;
static int rd[2];	/* pids and ready bytes come back on it */

static void say(pid_t p)
{
	write(rd[1], &p, sizeof(p));
}

/* member waits until it is the test's child, says so and sleeps. */
static void __attribute__((noreturn)) member(void)
{
	while (getppid() != self)
		usleep(1000);
	say(getpid());
	while (1)
		pause();
}

static pid_t hear(void)
{
	pid_t p;

	if (read(rd[0], &p, sizeof(p)) != sizeof(p)) {
		pr_perror("read");
		exit(1);
	}
	return p;
}

static pid_t reaped, m1, z1;	/* 1: the leader reaped; a live and a zombie member */
static pid_t live, m2;		/* 2: a live leader; its member's parent exited */
static pid_t zleader, m3;	/* 3: a zombie leader */
static pid_t mid, deep, m4;	/* 4: a grandchild leader, a zombie of mid */

/* corrupt kills a member: the check then finds it gone. */
static void corrupt(void)
{
	pid_t m = m1 ? m1 : m2 ? m2 : m3 ? m3 : m4;

	kill(m, SIGKILL);
	waitpid(m, NULL, 0);
}

static void check(const char *what, pid_t p, pid_t sid, pid_t pgid)
{
	if (kill(p, 0) < 0) {
		fail("%s %d is gone", what, p);
		return;
	}
	if (getsid(p) != sid)
		fail("%s %d: session %d, want %d", what, p, getsid(p), sid);
	if (pgid && getpgid(p) != pgid)
		fail("%s %d: group %d, want %d", what, p, getpgid(p), pgid);
}

static void zombie(const char *what, pid_t p, int code)
{
	siginfo_t si = {};
	int st;

	if (waitid(P_PID, p, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != p) {
		fail("%s %d is not a zombie", what, p);
		return;
	}
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != code)
		fail("%s %d: status %#x, want exit %d", what, p, st, code);
}

static void setup(int n)
{
	pid_t p;

	switch (n) {
	case 1:
		reaped = fork();
		if (reaped == 0) {
			setsid();
			if (fork() == 0)
				member();
			if ((p = fork()) == 0)
				_exit(3);
			say(p);
			_exit(0);
		}
		z1 = hear();
		m1 = hear();
		waitpid(reaped, NULL, 0);
		break;
	case 2:
		live = fork();
		if (live == 0) {
			setsid();
			if ((p = fork()) == 0) {
				if (fork() == 0)
					member();
				_exit(0);
			}
			waitpid(p, NULL, 0);
			while (1)
				pause();
		}
		m2 = hear();
		break;
	case 3:
		zleader = fork();
		if (zleader == 0) {
			setsid();
			if (fork() == 0)
				member();
			_exit(4);
		}
		m3 = hear();
		break;
	case 4:
		mid = fork();
		if (mid == 0) {
			if ((p = fork()) == 0) {
				setsid();
				if (fork() == 0)
					member();
				_exit(5);
			}
			say(p);
			while (1)
				pause();
		}
		deep = hear();
		m4 = hear(); /* after the leader's exit: told by the leader's parent, maybe after */
		if (getsid(deep) != deep) {
			p = deep;
			deep = m4;
			m4 = p;
		}
		break;
	}
}

static void verify(int n)
{
	switch (n) {
	case 1:
		if (kill(reaped, 0) == 0 || errno != ESRCH)
			fail("the reaped leader's pid %d is taken", reaped);
		check("member of a reaped leader", m1, reaped, reaped);
		if (getsid(z1) != reaped)
			fail("zombie member %d: session %d, want %d", z1, getsid(z1), reaped);
		zombie("zombie member", z1, 3);
		kill(m1, SIGKILL);
		break;
	case 2:
		check("member of a live leader", m2, live, live);
		check("live leader", live, live, live);
		kill(m2, SIGKILL);
		kill(live, SIGKILL);
		break;
	case 3:
		check("member of a zombie leader", m3, zleader, zleader);
		zombie("zombie leader", zleader, 4);
		kill(m3, SIGKILL);
		break;
	case 4:
		check("member of a grandchild leader", m4, deep, deep);
		check("the grandchild leader's parent", mid, getsid(0), getpgrp());
		if (kill(deep, 0) < 0)
			fail("the grandchild leader %d, a zombie, is gone", deep);
		else if (getsid(deep) != deep)
			fail("the grandchild leader %d: session %d", deep, getsid(deep));
		kill(m4, SIGKILL);
		kill(mid, SIGKILL);
		break;
	}
}

int main(int argc, char **argv)
{
	siginfo_t si;
	int n;

	test_init(argc, argv);
	self = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || pipe(rd) < 0) {
		pr_perror("setup");
		return 1;
	}
	for (n = 1; n <= 4; n++)
		if (!only || only == n)
			setup(n);
	if ((z1 && waitid(P_PID, z1, &si, WEXITED | WNOWAIT) < 0) || (zleader && waitid(P_PID, zleader, &si, WEXITED | WNOWAIT) < 0)) {
		pr_perror("waitid");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (n = 1; n <= 4; n++)
		if (!only || only == n)
			verify(n);
	while (wait(NULL) > 0)
		;
	if (!test_failed())
		pass();
	return 0;
}
