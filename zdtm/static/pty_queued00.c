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
		       "after restore, exactly as they were (output processing not applied twice)";

/* What the slave's writer wrote; with OPOST|ONLCR the master has it with "\r\n". */
static const char written[] = "first line\nsecond\tline\n\x01\x7f\xff no newline";
static char want[128];
static int m, s, nwant;

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
	for (i = 0; i < 1000; i++) {
		n = read(m, buf, sizeof(buf));
		if (n > 0 || errno != EAGAIN)
			break;
		usleep(1000);
	}
	if (n != 6 || memcmp(buf, "more\r\n", 6)) {
		fail("after restore the slave's output reads back as %d bytes", n);
		return 1;
	}
	pass();
	return 0;
}
