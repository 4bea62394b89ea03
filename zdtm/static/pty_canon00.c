#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Input a pty slave's reader has not read, in canonical mode with echo: two "
		       "complete lines (one ended by NL, one by the tty's VEOL) and a line being "
		       "typed. They come back as the same lines, the typed one still open, and are "
		       "not echoed a second time";

static int m, s;

/* corrupt reads the first line early: the check then finds the second first. */
static void corrupt(void)
{
	char b[64];

	read(s, b, sizeof(b));
}

/* want_line reads the next line, waiting for it at most 5 s (a corrupted
 * or broken state fails, it does not hang the check). */
static void want_line(const char *l)
{
	struct pollfd p = {.fd = s, .events = POLLIN};
	char b[64];
	ssize_t n;

	if (poll(&p, 1, 5000) != 1) {
		fail("no line \"%s\" to read", l);
		return;
	}
	n = read(s, b, sizeof(b));

	if (n != (ssize_t)strlen(l) || memcmp(b, l, n))
		fail("read %zd bytes \"%.*s\", want \"%s\"", n, (int)(n > 0 ? n : 0), b, l);
}

/* drain reads what the master has to give, the echo. */
static int drain(void)
{
	struct pollfd p = {.fd = m, .events = POLLIN};
	char b[256];
	int got = 0;

	while (poll(&p, 1, 100) == 1 && (p.revents & POLLIN)) {
		ssize_t n = read(m, b, sizeof(b));
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

int main(int argc, char **argv)
{
	struct termios t;
	char b[16];
	int n;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) {
		pr_perror("posix_openpt");
		return 1;
	}
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (s < 0 || tcgetattr(s, &t)) {
		pr_perror("open %s", ptsname(m));
		return 1;
	}
	t.c_lflag |= ICANON | ECHO;
	t.c_cc[VEOL] = ';';
	if (tcsetattr(s, TCSANOW, &t)) {
		pr_perror("tcsetattr");
		return 1;
	}
	if (write(m, "one\ntwo;thr", 11) != 11) {
		pr_perror("write");
		return 1;
	}
	if (drain() == 0) {
		fail("no echo");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if ((n = drain()) != 0)
		fail("%d bytes more on the master: echoed again", n);
	want_line("one\n");
	want_line("two;");
	fcntl(s, F_SETFL, O_NONBLOCK);
	if (read(s, b, sizeof(b)) != -1 || errno != EAGAIN)
		fail("the line being typed is complete, or gone");
	fcntl(s, F_SETFL, 0);
	if (write(m, "ee\n", 3) != 3)
		pr_perror("write");
	want_line("three\n");
	if (!test_failed())
		pass();
	return 0;
}
