#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A pty whose both ends are open keeps its index, termios, window size, and carries data both ways";

static int m, s;

static void corrupt(void)
{
	struct winsize ws = { .ws_row = 1, .ws_col = 1 };

	ioctl(s, TIOCSWINSZ, &ws);
}

int main(int argc, char **argv)
{
	struct winsize ws = { .ws_row = 33, .ws_col = 77, .ws_xpixel = 5, .ws_ypixel = 9 }, gotws;
	struct termios tio, got;
	char name[64], buf[64];
	struct stat st;
	int n = 0;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name))) {
		pr_perror("posix_openpt");
		return 1;
	}
	s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0) {
		pr_perror("open %s", name);
		return 1;
	}
	tcgetattr(s, &tio);
	tio.c_lflag &= ~(ECHO | ICANON);
	tio.c_oflag &= ~OPOST;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	tio.c_cc[VINTR] = 3;
	cfsetspeed(&tio, B9600);
	if (tcsetattr(s, TCSANOW, &tio) || ioctl(s, TIOCSWINSZ, &ws)) {
		pr_perror("set termios");
		return 1;
	}
	tcgetattr(s, &tio);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (ptsname_r(m, buf, sizeof(buf)) || strcmp(buf, name))
		fail("master is %s, was %s", buf, name);
	if (fstat(s, &st) || stat(name, &st) || fstat(s, &st))
		pr_perror("stat");
	{
		struct stat want;

		if (stat(name, &want) || st.st_rdev != want.st_rdev)
			fail("slave is not %s", name);
	}
	if (tcgetattr(s, &got))
		pr_perror("tcgetattr");
	else if (got.c_lflag != tio.c_lflag || got.c_iflag != tio.c_iflag || got.c_oflag != tio.c_oflag ||
		 got.c_cflag != tio.c_cflag || memcmp(got.c_cc, tio.c_cc, sizeof(got.c_cc)) ||
		 cfgetospeed(&got) != B9600)
		fail("termios changed: lflag %#x want %#x, oflag %#x want %#x", got.c_lflag, tio.c_lflag, got.c_oflag,
		     tio.c_oflag);
	if (ioctl(s, TIOCGWINSZ, &gotws) || memcmp(&gotws, &ws, sizeof(ws)))
		fail("window size %dx%d, want %dx%d", gotws.ws_row, gotws.ws_col, ws.ws_row, ws.ws_col);
	if (write(m, "in", 2) != 2 || (n = read(s, buf, sizeof(buf))) != 2 || memcmp(buf, "in", 2))
		fail("master to slave: got %d bytes", n);
	if (write(s, "out", 3) != 3 || (n = read(m, buf, sizeof(buf))) != 3 || memcmp(buf, "out", 3))
		fail("slave to master: got %d bytes", n);
	if (!test_failed())
		pass();
	return 0;
}
