#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Listening TCP sockets (IPv4 on loopback, IPv6 wildcard v6only) keep "
		       "their port, options and backlog and accept after restore; an unbound "
		       "TCP socket stays unbound, connects after restore and carries data both ways";

static int l4, l6, unbound;
static unsigned short port4, port6;

static void corrupt(void)
{
	close(l4);
	l4 = socket(AF_INET, SOCK_STREAM, 0);
}

static unsigned short bound_port(int s)
{
	struct sockaddr_in6 a;
	socklen_t l = sizeof(a);

	if (getsockname(s, (struct sockaddr *)&a, &l))
		return 0;
	return ntohs(a.sin6_port); /* same offset in sockaddr_in */
}

/* check_accept connects c (a new socket if -1) to l and sends both ways. */
static int check_accept(int l, int c, int family, unsigned short port)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int s;
	char b[2];

	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (c < 0)
		c = socket(family, SOCK_STREAM, 0);
	if (c < 0 || connect(c, family == AF_INET ? (struct sockaddr *)&a4 : (struct sockaddr *)&a6,
			     family == AF_INET ? sizeof(a4) : sizeof(a6))) {
		fail("connect to port %u: %m", port);
		return 1;
	}
	s = accept(l, NULL, NULL);
	if (s < 0 || write(c, "ok", 2) != 2 || read(s, b, 2) != 2) {
		fail("accept on port %u: %m", port);
		return 1;
	}
	if (write(s, "ko", 2) != 2 || read(c, b, 2) != 2 || memcmp(b, "ko", 2)) {
		fail("reply on port %u: %m", port);
		return 1;
	}
	close(s);
	close(c);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	int one = 1, v;
	socklen_t vl = sizeof(v);
	struct sockaddr_in6 any;
	socklen_t al = sizeof(any);

	test_init(argc, argv);
	/* A write on a socket shut down fails (EPIPE) and says so. */
	signal(SIGPIPE, SIG_IGN);
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l4 = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l4, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (l4 < 0 || bind(l4, (struct sockaddr *)&a4, sizeof(a4)) || listen(l4, 5)) {
		pr_perror("listen IPv4");
		return 1;
	}
	l6 = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (l6 < 0 || bind(l6, (struct sockaddr *)&a6, sizeof(a6)) || listen(l6, 9)) {
		pr_perror("listen IPv6");
		return 1;
	}
	unbound = socket(AF_INET, SOCK_STREAM, 0);
	port4 = bound_port(l4);
	port6 = bound_port(l6);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (bound_port(l4) != port4 || bound_port(l6) != port6)
		fail("ports %u %u, want %u %u", bound_port(l4), bound_port(l6), port4, port6);
	if (getsockopt(l4, SOL_SOCKET, SO_REUSEADDR, &v, &vl) || !v)
		fail("IPv4 listener lost SO_REUSEADDR");
	vl = sizeof(v);
	if (getsockopt(l4, IPPROTO_TCP, TCP_NODELAY, &v, &vl) || !v)
		fail("IPv4 listener lost TCP_NODELAY");
	vl = sizeof(v);
	if (getsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl) || !v)
		fail("IPv6 listener lost IPV6_V6ONLY");
	vl = sizeof(v);
	if (getsockopt(l4, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) || !v)
		fail("IPv4 socket is not listening");
	if (!(fcntl(l6, F_GETFL) & O_NONBLOCK))
		fail("IPv6 listener lost O_NONBLOCK");
	if (getsockname(unbound, (struct sockaddr *)&any, &al) || bound_port(unbound) != 0)
		fail("the unbound socket got a port");
	if (!test_failed()) {
		check_accept(l4, -1, AF_INET, port4);
		check_accept(l6, -1, AF_INET6, port6);
		check_accept(l4, unbound, AF_INET, port4);
	}
	if (!test_failed())
		pass();
	return 0;
}
