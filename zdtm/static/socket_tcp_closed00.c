#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "With --tcp-close, both ends of a loopback TCP connection that each "
		       "shut down for writing, so that the kernel closed it (state CLOSE), "
		       "stay closed: a read gets end of file, a write fails with EPIPE";

static int c, s;

/* The client end is a live connection again. */
static void corrupt(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(l, (struct sockaddr *)&a, sizeof(a));
	listen(l, 1);
	getsockname(l, (struct sockaddr *)&a, &al);
	n = socket(AF_INET, SOCK_STREAM, 0);
	connect(n, (struct sockaddr *)&a, sizeof(a));
	dup2(n, c);
}

static void check(int fd, const char *what)
{
	char b[4];
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

	if (n != 0)
		fail("%s: read %zd (errno %d), want end of file", what, n, errno);
	if (send(fd, "x", 1, MSG_DONTWAIT) != -1 || errno != EPIPE)
		fail("%s: write did not fail with EPIPE (errno %d)", what, errno);
	if (tcp_state(fd) != TCP_CLOSE)
		fail("%s: state %d, not CLOSE", what, tcp_state(fd));
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int l, i;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
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
	close(l);
	if (shutdown(c, SHUT_WR) || shutdown(s, SHUT_WR)) {
		pr_perror("shutdown");
		return 1;
	}
	for (i = 0; tcp_state(c) != TCP_CLOSE || tcp_state(s) != TCP_CLOSE; i++) {
		if (i == 500) {
			pr_err("the connection did not close: states %d %d", tcp_state(c), tcp_state(s));
			return 1;
		}
		usleep(10000);
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check(c, "client");
	check(s, "server");
	if (!test_failed())
		pass();
	return 0;
}
