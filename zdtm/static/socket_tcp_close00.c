#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "With --tcp-close, both ends of an established TCP connection on "
		       "loopback come back closed both ways, as CRIU leaves them: state CLOSE, "
		       "a read gets end of file, poll says POLLHUP, a write fails with EPIPE; "
		       "the listener still accepts";

static int l, c, s;
static struct sockaddr_in a = {.sin_family = AF_INET};

/* The server end stops writing: the connection is no longer as it was. */
static void corrupt(void)
{
	shutdown(s, SHUT_WR);
}

static void check_closed(int fd, const char *what)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	struct pollfd p = {.fd = fd, .events = POLLHUP};
	char b[4];
	ssize_t n;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) || ti.tcpi_state != TCP_CLOSE)
		fail("%s: state %d, not CLOSE", what, ti.tcpi_state);
	n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	if (n != 0)
		fail("%s: read %zd (errno %d), want end of file", what, n, errno);
	if (poll(&p, 1, 0) != 1 || p.revents != POLLHUP)
		fail("%s: poll revents %#x, want POLLHUP", what, p.revents);
	if (send(fd, "x", 1, MSG_DONTWAIT) != -1 || errno != EPIPE)
		fail("%s: write did not fail with EPIPE (errno %d)", what, errno);
}

int main(int argc, char **argv)
{
	socklen_t al = sizeof(a);
	char b[2];
	int n;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	/*
	 * As servers do: the dumped connection, closed when the dump kills
	 * the task, lingers (FIN_WAIT2, TIME_WAIT) on the listener's port,
	 * which a listener without SO_REUSEADDR could not bind again in
	 * the same network namespace (CRIU 4.2 fails so too).
	 */
	if (l >= 0 && setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int))) {
		pr_perror("SO_REUSEADDR");
		return 1;
	}
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&a, &al)) {
		pr_perror("listen");
		return 1;
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) || (s = accept(l, NULL, NULL)) < 0) {
		pr_perror("connect");
		return 1;
	}
	if (write(c, "hi", 2) != 2 || read(s, b, 2) != 2) {
		pr_perror("exchange");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (getenv("ZDTM_NOCR")) {
		/* Not checkpointed: the connection is as it was. */
		if (write(s, "ok", 2) != 2 || read(c, b, 2) != 2)
			fail("the connection is broken without a checkpoint (errno %d)", errno);
	} else {
		check_closed(c, "client");
		check_closed(s, "server");
	}
	close(c);
	close(s);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) || (n = accept(l, NULL, NULL)) < 0)
		fail("the listener does not accept after restore (errno %d)", errno);
	if (!test_failed())
		pass();
	return 0;
}
