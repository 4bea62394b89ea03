#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A pty master in packet mode (TIOCPKT) with bytes its slave wrote not yet read: "
		       "after restore packet mode is on, no status change is pending, and a read gives "
		       "TIOCPKT_DATA and the bytes; the termios of both ends, the window size and the "
		       "lock state (this pty unlocked, a second one still locked) come back; the slave "
		       "has flow control off, which restore must not report as a status change";

static const char written[] = "packet\tdata\x01\x7f";
static int m, s, m2;
static struct termios stio, mtio;
static struct winsize ws = {.ws_row = 33, .ws_col = 111, .ws_xpixel = 7, .ws_ypixel = 9};

static void corrupt(void)
{
	int off = 0;

	ioctl(m, TIOCPKT, &off);
}

static int same(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
	       a->c_lflag == b->c_lflag && !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc));
}

int main(int argc, char **argv)
{
	char name[64], buf[256];
	struct termios tio;
	struct winsize w;
	struct pollfd p;
	int n = 0, i, on = 1, want = sizeof(written) - 1;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name))) {
		pr_perror("posix_openpt");
		return 1;
	}
	s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0 || tcgetattr(s, &stio)) {
		pr_perror("open %s", name);
		return 1;
	}
	/* A raw-ish slave (as a full-screen program sets it), a window size. */
	stio.c_lflag &= ~(ICANON | ECHO);
	stio.c_iflag &= ~IXON; /* with packet mode on, this would be a status change */
	stio.c_oflag &= ~ONLCR;
	stio.c_cc[VMIN] = 1;
	stio.c_cc[VTIME] = 3;
	stio.c_cc[VINTR] = 0x07;
	if (tcsetattr(s, TCSANOW, &stio) || tcgetattr(s, &stio) || ioctl(s, TIOCSWINSZ, &ws) || tcgetattr(m, &mtio)) {
		pr_perror("set the slave's mode");
		return 1;
	}
	if (ioctl(m, TIOCPKT, &on)) {
		pr_perror("TIOCPKT");
		return 1;
	}
	if (write(s, written, want) != want) {
		pr_perror("write to the slave");
		return 1;
	}
	for (i = 0; i < 1000 && n != want; i++) {
		if (ioctl(m, TIOCINQ, &n))
			pr_perror("TIOCINQ");
		usleep(1000);
	}
	if (n != want) {
		pr_err("the master has %d bytes waiting, want %d\n", n, want);
		return 1;
	}
	/* A second pty, never unlocked. */
	m2 = posix_openpt(O_RDWR | O_NOCTTY);
	if (m2 < 0 || grantpt(m2)) {
		pr_perror("posix_openpt");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (ioctl(m, TIOCGPKT, &on) || !on) {
		fail("packet mode is off after restore");
		return 1;
	}
	p.fd = m;
	p.events = POLLPRI;
	if (poll(&p, 1, 0) != 0) {
		fail("a status change is pending on the master (poll %#x)", p.revents);
		return 1;
	}
	fcntl(m, F_SETFL, O_NONBLOCK);
	n = read(m, buf, sizeof(buf));
	if (n != want + 1 || buf[0] != TIOCPKT_DATA || memcmp(buf + 1, written, want)) {
		fail("read %d bytes from the master (first %#x), want TIOCPKT_DATA and the %d written", n,
		     n > 0 ? buf[0] : -1, want);
		return 1;
	}
	if (tcgetattr(s, &tio) || !same(&tio, &stio)) {
		fail("the slave's termios changed");
		return 1;
	}
	if (tcgetattr(m, &tio) || !same(&tio, &mtio)) {
		fail("the master's termios changed");
		return 1;
	}
	if (ioctl(s, TIOCGWINSZ, &w) || memcmp(&w, &ws, sizeof(w)) || ioctl(m, TIOCGWINSZ, &w) ||
	    memcmp(&w, &ws, sizeof(w))) {
		fail("the window size changed: %dx%d", w.ws_row, w.ws_col);
		return 1;
	}
	if (ioctl(m, TIOCGPTLCK, &on) || on) {
		fail("the pty is locked");
		return 1;
	}
	if (ioctl(m2, TIOCGPTLCK, &on) || !on) {
		fail("the second pty is unlocked");
		return 1;
	}
	if (write(s, "more", 4) != 4) {
		fail("write to the slave after restore: %m");
		return 1;
	}
	for (i = 0; i < 1000; i++) {
		n = read(m, buf, sizeof(buf));
		if (n > 0 || errno != EAGAIN)
			break;
		usleep(1000);
	}
	if (n != 5 || buf[0] != TIOCPKT_DATA || memcmp(buf + 1, "more", 4)) {
		fail("after restore the slave's output reads back as %d bytes", n);
		return 1;
	}
	pass();
	return 0;
}
