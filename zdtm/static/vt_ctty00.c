#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A session leader whose controlling terminal is a virtual terminal "
		       "(/dev/tty8, taken with TIOCSCTTY), with a member in a foreground group of its "
		       "own: after restore both have it, its foreground group is the member's, and "
		       "/dev/tty opened by the leader still leads to it";

#define VT "/dev/tty8"

struct shared {
	volatile int ready, check, checked, corrupt;
	volatile int bad, mchecked;
	volatile pid_t member;
};
static struct shared *sh;
static pid_t leader;

static void corrupt(void)
{
	sh->corrupt = 1;
	while (sh->corrupt == 1)
		usleep(1000);
}

/* member_check: the member's session is the leader's and its own stat
 * says its controlling terminal is the VT; 0 if so. */
static int member_check(pid_t sid)
{
	char buf[512], *p;
	int ppid, pgrp, s, ttynr;
	FILE *f = fopen("/proc/self/stat", "r");

	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return -1;
	if (sscanf(p + 2, "%*c %d %d %d %d", &ppid, &pgrp, &s, &ttynr) != 4)
		return -1;
	/* stat's ids are the host's in the ns flavor: the session by getsid. */
	return getsid(0) == sid && ttynr == (int)makedev(4, 8) ? 0 : -1;
}

static void run_leader(void)
{
	int fd, alias;
	pid_t m;

	if (setsid() < 0)
		_exit(1);
	fd = open(VT, O_RDWR | O_NOCTTY);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 1) < 0)
		_exit(2);
	alias = open("/dev/tty", O_RDWR);
	if (alias < 0)
		_exit(3);
	m = fork();
	if (m == 0) {
		setpgid(0, 0);
		while (!sh->check)
			usleep(1000);
		sh->mchecked = member_check(getppid()) ? 2 : 1;
		while (1)
			pause();
	}
	setpgid(m, m);
	if (tcsetpgrp(fd, m) < 0)
		_exit(4);
	sh->member = m;
	sh->ready = 1;
	while (1) {
		if (sh->corrupt == 1) {
			/* The session gives its terminal up (its group is
			 * orphaned: a tcsetpgrp would fail with EIO). */
			signal(SIGHUP, SIG_IGN);
			ioctl(fd, TIOCNOTTY);
			sh->corrupt = 2;
		}
		if (sh->check && !sh->checked) {
			int bad = 0;
			struct stat st;

			if (tcgetsid(fd) != getpid())
				bad |= 1;
			if (tcgetpgrp(fd) != m)
				bad |= 2;
			if (fstat(alias, &st) < 0 || st.st_rdev != makedev(5, 0) || ioctl(alias, TIOCGDEV, &st.st_rdev) < 0 ||
			    (unsigned)st.st_rdev != makedev(4, 8))
				bad |= 4;
			for (int i = 0; i < 3000 && !sh->mchecked; i++)
				usleep(1000);
			if (sh->mchecked != 1)
				bad |= 8;
			sh->bad = bad;
			sh->checked = 1;
		}
		usleep(1000);
	}
}

int main(int argc, char **argv)
{
	int i, status;

	test_init(argc, argv);
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	leader = fork();
	if (leader < 0) {
		pr_perror("fork");
		return 1;
	}
	if (leader == 0)
		run_leader();
	while (!sh->ready) {
		if (waitpid(leader, &status, WNOHANG) == leader) {
			fail("leader exited: %#x", status);
			return 1;
		}
		usleep(1000);
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	sh->check = 1;
	for (i = 0; i < 3000 && !sh->checked; i++)
		usleep(1000);
	if (!sh->checked)
		fail("the leader did not answer");
	if (sh->bad)
		fail("the leader's checks %#x failed (1 session, 2 foreground group, 4 /dev/tty, 8 the member's terminal)", sh->bad);
	kill(sh->member, SIGKILL);
	kill(leader, SIGKILL);
	waitpid(leader, &status, 0);
	/* The member, orphaned, is the kernel's (or the runner's) to reap. */
	if (!test_failed())
		pass();
	return 0;
}
