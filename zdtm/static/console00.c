#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "/dev/console held open (O_RDWR, O_APPEND) and read-only: its device, "
		       "access modes and status flags come back, its termios is as it was";

static int fd, ro;
static struct termios want;

static void corrupt(void)
{
	fcntl(fd, F_SETFL, 0);
}

static void check_fd(int f, const char *what, int acc, int fl)
{
	struct stat st;
	int got;

	if (fstat(f, &st) < 0) {
		pr_perror("fstat %s", what);
		return;
	}
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(5, 1))
		fail("%s: device %u:%u, want 5:1", what, major(st.st_rdev), minor(st.st_rdev));
	got = fcntl(f, F_GETFL);
	if ((got & O_ACCMODE) != acc || (got & (O_NONBLOCK | O_APPEND)) != fl)
		fail("%s: flags %#o, want access %o and %#o", what, got, acc, fl);
}

int main(int argc, char **argv)
{
	struct termios t;

	test_init(argc, argv);
	fd = open("/dev/console", O_RDWR | O_NOCTTY | O_APPEND);
	ro = open("/dev/console", O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || ro < 0) {
		pr_perror("open /dev/console");
		return 1;
	}
	if (tcgetattr(fd, &want) < 0) {
		pr_perror("tcgetattr");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check_fd(fd, "fd", O_RDWR, O_APPEND);
	check_fd(ro, "read-only fd", O_RDONLY, O_NONBLOCK);
	if (tcgetattr(fd, &t) < 0)
		pr_perror("tcgetattr");
	else if (t.c_lflag != want.c_lflag || t.c_iflag != want.c_iflag || t.c_cflag != want.c_cflag ||
		 memcmp(t.c_cc, want.c_cc, sizeof(t.c_cc)))
		fail("termios changed: lflag %#x, want %#x", t.c_lflag, want.c_lflag);
	if (!test_failed())
		pass();
	return 0;
}
