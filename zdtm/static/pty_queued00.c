#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Bytes written to a pty slave and not yet read from its master are in the master's buffer "
		       "after restore, exactly as they were (output processing not applied twice); so is input "
		       "typed into a second pty whose slave is in a readline-like mode (no ICANON, ECHO, ICRNL; ISIG on)";

/* What the slave's writer wrote; with OPOST|ONLCR the master has it with "\r\n". */
static const char written[] = "first line\nsecond\tline\n\x01\x7f\xff no newline";
static char want[128];
static int m, s, nwant;
/* Typed into the second pty, not yet read from its slave: no ^C, ^\\, ^Z among them. */
static const char typed[] = "ls -l\r\x7f\x1b[A\n\xe2\x82\xac\0end";
static int m2, s2;

static void corrupt(void)
{
	char c;

	if (read(m, &c, 1) != 1)
		pr_perror("corrupt: read");
}

int main(int argc, char **argv)
{
	char name[64], buf[256];
	int n = 0, i;

	test_init(argc, argv);
	for (i = 0; written[i]; i++) {
		if (written[i] == '\n')
			want[nwant++] = '\r';
		want[nwant++] = written[i];
	}
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
	if (write(s, written, sizeof(written) - 1) != sizeof(written) - 1) {
		pr_perror("write to the slave");
		return 1;
	}
	/* The line discipline takes them in from a work queue: wait for it. */
	for (i = 0; i < 1000 && n != nwant; i++) {
		if (ioctl(m, TIOCINQ, &n))
			pr_perror("TIOCINQ");
		usleep(1000);
	}
	if (n != nwant) {
		pr_err("the master has %d bytes waiting, want %d\n", n, nwant);
		return 1;
	}
	{
		struct termios tio;

		m2 = posix_openpt(O_RDWR | O_NOCTTY);
		if (m2 < 0 || grantpt(m2) || unlockpt(m2) || ptsname_r(m2, name, sizeof(name))) {
			pr_perror("posix_openpt");
			return 1;
		}
		s2 = open(name, O_RDWR | O_NOCTTY);
		if (s2 < 0 || tcgetattr(s2, &tio)) {
			pr_perror("open %s", name);
			return 1;
		}
		tio.c_lflag &= ~(ICANON | ECHO);
		tio.c_iflag &= ~(ICRNL | INLCR | IXON);
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		if (tcsetattr(s2, TCSANOW, &tio) || write(m2, typed, sizeof(typed) - 1) != sizeof(typed) - 1) {
			pr_perror("type into the second pty");
			return 1;
		}
		for (i = 0, n = 0; i < 1000 && n != sizeof(typed) - 1; i++) {
			ioctl(s2, TIOCINQ, &n);
			usleep(1000);
		}
		if (n != sizeof(typed) - 1) {
			pr_err("the second slave has %d bytes waiting, want %zu\n", n, sizeof(typed) - 1);
			return 1;
		}
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (ioctl(m, TIOCINQ, &n) || n != nwant) {
		fail("the master has %d bytes waiting, want %d", n, nwant);
		return 1;
	}
	fcntl(m, F_SETFL, O_NONBLOCK);
	n = read(m, buf, sizeof(buf));
	if (n != nwant || memcmp(buf, want, nwant)) {
		fail("read %d bytes from the master, want the %d it had", n, nwant);
		return 1;
	}
	if (write(s, "more\n", 5) != 5) {
		fail("write to the slave after restore: %m");
		return 1;
	}
	/* The tty layer may hand the output over in pieces ("more", then
	 * "\r\n"): gather until the six bytes are in, or a second. */
	n = 0;
	for (i = 0; i < 1000 && n < 6; i++) {
		int k = read(m, buf + n, sizeof(buf) - n);

		if (k > 0) {
			n += k;
			continue;
		}
		if (k < 0 && errno != EAGAIN)
			break;
		usleep(1000);
	}
	if (n != 6 || memcmp(buf, "more\r\n", 6)) {
		fail("after restore the slave's output reads back as %d bytes", n);
		return 1;
	}
	if (ioctl(s2, TIOCINQ, &n) || n != sizeof(typed) - 1) {
		fail("the second slave has %d bytes of input waiting, want %zu", n, sizeof(typed) - 1);
		return 1;
	}
	n = read(s2, buf, sizeof(buf));
	if (n != sizeof(typed) - 1 || memcmp(buf, typed, n)) {
		fail("read %d bytes of input from the second slave, want the %zu it had", n, sizeof(typed) - 1);
		return 1;
	}
	pass();
	return 0;
}
