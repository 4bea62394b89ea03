#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A virtual terminal (/dev/tty9) open twice, one a dup: its device, access "
		       "modes and status flags, termios (raw-ish, VMIN 3) and window size come back";

#define VT "/dev/tty9"

static int fd, fd2, dupfd;
static struct termios saved, want;

static void corrupt(void)
{
	struct winsize w = {.ws_row = 1, .ws_col = 2};

	ioctl(fd, TIOCSWINSZ, &w);
}

static void check_fd(int f, const char *what, int acc, int fl)
{
	struct stat st;
	int got;

	if (fstat(f, &st) < 0) {
		pr_perror("fstat %s", what);
		return;
	}
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(4, 9))
		fail("%s: device %u:%u, want 4:9", what, major(st.st_rdev), minor(st.st_rdev));
	got = fcntl(f, F_GETFL);
	if ((got & O_ACCMODE) != acc || (got & (O_NONBLOCK | O_APPEND)) != fl)
		fail("%s: flags %#o, want access %o and %#o", what, got, acc, fl);
}

int main(int argc, char **argv)
{
	struct winsize w = {.ws_row = 33, .ws_col = 111}, gw;
	struct termios t;

	test_init(argc, argv);
	fd = open(VT, O_RDWR | O_NOCTTY | O_NONBLOCK);
	fd2 = open(VT, O_WRONLY | O_NOCTTY | O_APPEND);
	if (fd < 0 || fd2 < 0) {
		pr_perror("open " VT);
		return 1;
	}
	dupfd = dup(fd);
	if (tcgetattr(fd, &saved) < 0) {
		pr_perror("tcgetattr");
		return 1;
	}
	want = saved;
	want.c_lflag &= ~(ICANON | ECHO);
	want.c_cc[VMIN] = 3;
	want.c_cc[VTIME] = 7;
	if (tcsetattr(fd, TCSANOW, &want) < 0 || ioctl(fd, TIOCSWINSZ, &w) < 0 || tcgetattr(fd, &want) < 0) {
		pr_perror("set " VT);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check_fd(fd, "fd", O_RDWR, O_NONBLOCK);
	check_fd(fd2, "second fd", O_WRONLY, O_APPEND);
	check_fd(dupfd, "dup", O_RDWR, O_NONBLOCK);
	fcntl(dupfd, F_SETFL, 0);
	if (fcntl(fd, F_GETFL) & O_NONBLOCK)
		fail("the dup is a description of its own");
	if (tcgetattr(fd, &t) < 0)
		pr_perror("tcgetattr");
	else if (t.c_lflag != want.c_lflag || t.c_iflag != want.c_iflag || t.c_oflag != want.c_oflag ||
		 t.c_cflag != want.c_cflag || memcmp(t.c_cc, want.c_cc, sizeof(t.c_cc)))
		fail("termios lflag %#x cc[VMIN] %d, want %#x %d", t.c_lflag, t.c_cc[VMIN], want.c_lflag, want.c_cc[VMIN]);
	if (ioctl(fd, TIOCGWINSZ, &gw) < 0)
		pr_perror("TIOCGWINSZ");
	else if (gw.ws_row != 33 || gw.ws_col != 111)
		fail("window %dx%d, want 33x111", gw.ws_row, gw.ws_col);
	tcsetattr(fd, TCSANOW, &saved);
	if (!test_failed())
		pass();
	return 0;
}
