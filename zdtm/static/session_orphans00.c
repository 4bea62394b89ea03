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

static pid_t self;
static int rd[2];	/* pids and ready bytes come back on it */

static void corrupt(void);

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

static void corrupt(void)
{
	kill(m2, SIGKILL);
	waitpid(m2, NULL, 0);
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

int main(int argc, char **argv)
{
	siginfo_t si;
	pid_t p;

	test_init(argc, argv);
	self = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || pipe(rd) < 0) {
		pr_perror("setup");
		return 1;
	}

	/* 1 */
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

	/* 2 */
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

	/* 3 */
	zleader = fork();
	if (zleader == 0) {
		setsid();
		if (fork() == 0)
			member();
		_exit(4);
	}
	m3 = hear();

	/* 4 */
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
	if (waitid(P_PID, z1, &si, WEXITED | WNOWAIT) < 0 || waitid(P_PID, zleader, &si, WEXITED | WNOWAIT) < 0) {
		pr_perror("waitid");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (kill(reaped, 0) == 0 || errno != ESRCH)
		fail("the reaped leader's pid %d is taken", reaped);
	check("member of a reaped leader", m1, reaped, reaped);
	check("member of a live leader", m2, live, live);
	check("live leader", live, live, live);
	check("member of a zombie leader", m3, zleader, zleader);
	check("member of a grandchild leader", m4, deep, deep);
	check("the grandchild leader's parent", mid, getsid(0), getpgrp());
	if (kill(deep, 0) < 0)
		fail("the grandchild leader %d, a zombie, is gone", deep);
	else if (getsid(deep) != deep)
		fail("the grandchild leader %d: session %d", deep, getsid(deep));
	if (getsid(z1) != reaped)
		fail("zombie member %d: session %d, want %d", z1, getsid(z1), reaped);
	zombie("zombie member", z1, 3);
	zombie("zombie leader", zleader, 4);

	kill(m1, SIGKILL);
	kill(m2, SIGKILL);
	kill(m3, SIGKILL);
	kill(m4, SIGKILL);
	kill(live, SIGKILL);
	kill(mid, SIGKILL);
	while (wait(NULL) > 0)
		;
	if (!test_failed())
		pass();
	return 0;
}
