#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "/dev/tty held open by a session leader whose controlling terminal is a pty "
		       "of the test (and a dup of it): after restore it is /dev/tty still, the leader's "
		       "controlling terminal, and what the leader writes to it reaches the test's master";

struct shared {
	volatile int ready, ping, pinged, corrupt;
	volatile int bad; /* the leader's checks, a bit each */
};
static struct shared *sh;
static pid_t leader;

static void corrupt(void)
{
	sh->corrupt = 1;
	while (sh->corrupt == 1)
		usleep(1000);
}

static void run_leader(int m)
{
	int s, fd, d;
	struct stat st;
	char *name = ptsname(m);

	if (setsid() < 0)
		_exit(1);
	s = open(name, O_RDWR); /* the first terminal a leader opens becomes its own */
	if (s < 0)
		_exit(2);
	close(s);
	close(m);
	fd = open("/dev/tty", O_RDWR);
	if (fd < 0)
		_exit(3);
	d = dup(fd);
	sh->ready = 1;
	while (1) {
		if (sh->corrupt == 1) {
			int n = open("/dev/null", O_RDWR);

			dup2(n, fd);
			sh->corrupt = 2;
		}
		if (sh->ping && !sh->pinged) {
			int bad = 0;

			if (fstat(fd, &st) < 0 || st.st_rdev != makedev(5, 0))
				bad |= 1;
			if (tcgetsid(fd) != getsid(0))
				bad |= 2;
			if ((fcntl(d, F_GETFL) & O_ACCMODE) != O_RDWR)
				bad |= 4;
			if (write(fd, "ping", 4) != 4)
				bad |= 8;
			sh->bad = bad;
			sh->pinged = 1;
		}
		usleep(1000);
	}
}

int main(int argc, char **argv)
{
	char buf[16] = {};
	int m, n, i, status;

	test_init(argc, argv);
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (sh == MAP_FAILED || m < 0 || grantpt(m) || unlockpt(m)) {
		pr_perror("pty");
		return 1;
	}
	leader = fork();
	if (leader < 0) {
		pr_perror("fork");
		return 1;
	}
	if (leader == 0)
		run_leader(m);
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

	sh->ping = 1;
	for (i = 0; i < 3000 && !sh->pinged; i++)
		usleep(1000);
	if (!sh->pinged)
		fail("the leader did not answer");
	if (sh->bad)
		fail("the leader's /dev/tty: checks %#x failed (1 device, 2 session, 4 dup's mode, 8 write)", sh->bad);
	fcntl(m, F_SETFL, O_NONBLOCK);
	for (i = 0, n = 0; i < 1000 && n < 4; i++) {
		int r = read(m, buf + n, sizeof(buf) - 1 - n);

		if (r > 0)
			n += r;
		else
			usleep(1000);
	}
	if (n != 4 || memcmp(buf, "ping", 4))
		fail("the master read %d bytes \"%s\", want \"ping\"", n, buf);
	kill(leader, SIGKILL);
	waitpid(leader, &status, 0);
	if (!test_failed())
		pass();
	return 0;
}
