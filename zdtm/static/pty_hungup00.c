#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Slaves of a pty whose master was closed: the session's controlling "
		       "terminal, given to another owner, two fds (one non-blocking), hung up "
		       "by the kernel with the master. They stay hung up (reads give end of "
		       "file, writes and ioctls EIO, flags and owner kept) and the session has "
		       "no controlling terminal";

#define OWNER 23456
#define GROUP 34567

static int s1, s2, m2 = -1;

/* corrupt puts a live pty's slave in the place of the first (non-blocking:
 * the check's read must fail, not wait for input that never comes). */
static void corrupt(void)
{
	m2 = posix_openpt(O_RDWR | O_NOCTTY);
	if (m2 < 0 || grantpt(m2) || unlockpt(m2)) {
		pr_perror("posix_openpt");
		return;
	}
	dup2(ioctl(m2, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK), s1);
}

static void check_hung(const char *what, int fd, int flags)
{
	struct termios t;
	struct stat st;
	char c;

	if (read(fd, &c, 1) != 0)
		fail("%s: read gives no end of file", what);
	if (write(fd, "x", 1) != -1 || errno != EIO)
		fail("%s: write is not refused with EIO", what);
	if (tcgetattr(fd, &t) != -1 || errno != EIO)
		fail("%s: tcgetattr is not refused with EIO", what);
	if (fcntl(fd, F_GETFL) != flags)
		fail("%s: flags %#x, want %#x", what, fcntl(fd, F_GETFL), flags);
	if (fstat(fd, &st) || st.st_uid != OWNER || st.st_gid != GROUP)
		fail("%s: owner %d:%d, want %d:%d", what, st.st_uid, st.st_gid, OWNER, GROUP);
}

int main(int argc, char **argv)
{
	int m, f1, f2;

	test_init(argc, argv);
	signal(SIGHUP, SIG_IGN); /* the hangup of its controlling terminal */
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) {
		pr_perror("posix_openpt");
		return 1;
	}
	s1 = open(ptsname(m), O_RDWR);
	s2 = open(ptsname(m), O_RDWR | O_NONBLOCK | O_NOCTTY);
	if (s1 < 0 || s2 < 0) {
		pr_perror("open %s", ptsname(m));
		return 1;
	}
	if (ioctl(s1, TIOCSCTTY, 0) < 0 || fchown(s1, OWNER, GROUP)) {
		pr_perror("TIOCSCTTY, fchown");
		return 1;
	}
	close(m);
	f1 = fcntl(s1, F_GETFL);
	f2 = fcntl(s2, F_GETFL);
	check_hung("slave", s1, f1);
	check_hung("non-blocking slave", s2, f2);
	if (open("/dev/tty", O_RDWR) >= 0 || errno != ENXIO)
		fail("the session still has a controlling terminal");
	if (test_failed())
		return 1;

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check_hung("slave", s1, f1);
	check_hung("non-blocking slave", s2, f2);
	if (open("/dev/tty", O_RDWR) >= 0 || errno != ENXIO)
		fail("the session has a controlling terminal");
	if (!test_failed())
		pass();
	return 0;
}
