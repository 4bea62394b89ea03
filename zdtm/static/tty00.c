#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A child session leader whose controlling terminal is a pty of the test (master in the test, "
		       "no slave fd open anywhere) gets it back, for itself and for its own child forked after it, "
		       "with the foreground group it had; closing the master then hangs the session up";

static int m;
static pid_t leader, member;
static volatile sig_atomic_t got_term, got_hup;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

/* The corruption: the leader takes the foreground back. */
static void on_usr1(int sig)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY);

	(void)sig;
	signal(SIGTTOU, SIG_IGN); /* from the background */
	if (fd >= 0) {
		tcsetpgrp(fd, getpid());
		close(fd);
	}
}

static void handle(int sig, void (*h)(int))
{
	struct sigaction sa = { .sa_handler = h };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* ctty is the tty_nr field of /proc/self/stat. */
static unsigned long ctty(void)
{
	char buf[1024], *p;
	unsigned long nr = 0;
	int fd = open("/proc/self/stat", O_RDONLY), n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	/* ") S ppid pgrp session tty_nr" */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %lu", &nr) != 1)
		return 0;
	return nr;
}

/*
 * has_ctty returns 0 when the task's controlling terminal is rdev (tty_nr)
 * and /dev/tty opens onto the terminal of its session.
 */
static int has_ctty(dev_t rdev)
{
	int fd, ret = 0;

	if (ctty() != rdev)
		return 1;
	fd = open("/dev/tty", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return 2;
	if (tcgetsid(fd) != getsid(0))
		ret = 3;
	close(fd);
	return ret;
}

static void wait_for(volatile sig_atomic_t *flag)
{
	sigset_t none;

	sigemptyset(&none);
	while (!*flag)
		sigsuspend(&none);
}

/* The session member: in a process group of its own, the foreground one. */
static int member_main(dev_t rdev)
{
	wait_for(&got_term);
	return has_ctty(rdev) ? 20 + has_ctty(rdev) : 0;
}

/* give_up ends the member (waiting for a SIGTERM it will not get) and returns ret. */
static int give_up(pid_t member, int ret)
{
	kill(member, SIGKILL);
	waitpid(member, NULL, 0);
	return ret;
}

/*
 * The session leader. Returns 0 when, after restore, it and its child still
 * have the terminal, the child's group is in the foreground, and the hangup
 * came when the test closed the master.
 */
static int leader_main(const char *name, dev_t rdev, int ready)
{
	int fd, status, ret;
	char c = 0;

	if (setsid() < 0)
		return 2;
	fd = open(name, O_RDWR); /* a session leader without one: its ctty */
	if (fd < 0)
		return 3;
	member = fork();
	if (member < 0)
		return 4;
	if (member == 0) {
		close(fd);
		close(ready);
		if (setpgid(0, 0))
			_exit(5);
		_exit(member_main(rdev));
	}
	setpgid(member, member);
	if (tcsetpgrp(fd, member))
		return give_up(member, 6);
	close(fd);
	if (write(ready, &c, 1) != 1)
		return give_up(member, 7);

	wait_for(&got_term);
	if ((ret = has_ctty(rdev)))
		return give_up(member, 10 + ret);
	fd = open("/dev/tty", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return give_up(member, 14);
	if (tcgetpgrp(fd) != member || tcgetsid(fd) != getpid())
		return give_up(member, 15);
	close(fd);
	kill(member, SIGTERM);
	if (waitpid(member, &status, 0) != member || !WIFEXITED(status))
		return 16;
	if (WEXITSTATUS(status))
		return WEXITSTATUS(status);
	/* Now let the test close the master: a hangup for us. */
	if (write(ready, &c, 1) != 1)
		return 17;
	alarm(10);
	wait_for(&got_hup);
	return 0;
}

static void corrupt(void)
{
	kill(leader, SIGUSR1);
	usleep(100000);
}

int main(int argc, char **argv)
{
	int ready[2], status = 0, sid = 0, pgrp = 0;
	char name[64], c;
	struct stat st;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)) || stat(name, &st)) {
		pr_perror("posix_openpt");
		return 1;
	}
	if (pipe(ready)) {
		pr_perror("pipe");
		return 1;
	}
	leader = fork();
	if (leader < 0) {
		pr_perror("fork");
		return 1;
	}
	if (leader == 0) {
		close(m);
		close(ready[0]);
		handle(SIGTERM, on_term);
		handle(SIGHUP, on_hup);
		handle(SIGUSR1, on_usr1);
		_exit(leader_main(name, st.st_rdev, ready[1]));
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		fail("the session leader died before it was ready");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (ioctl(m, TIOCGSID, &sid) || sid != leader)
		fail("the pty is the terminal of session %d, want %d", sid, leader);
	if (ioctl(m, TIOCGPGRP, &pgrp))
		fail("TIOCGPGRP: %m");
	kill(leader, SIGTERM);
	if (read(ready[0], &c, 1) != 1)
		test_msg("the leader did not get to the hangup\n");
	close(m);
	if (waitpid(leader, &status, 0) != leader || !WIFEXITED(status)) {
		fail("the session leader was killed (status %#x)", status);
		return 1;
	}
	if (WEXITSTATUS(status)) {
		fail("the session leader's check %d failed (foreground group was %d)", WEXITSTATUS(status), pgrp);
		return 1;
	}
	pass();
	return 0;
}
