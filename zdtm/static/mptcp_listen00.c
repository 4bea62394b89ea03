#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

const char *test_doc = "Listening MPTCP sockets (IPv4 on loopback, IPv6 wildcard v6only) stay "
		       "MPTCP with their port, options and backlog and accept an MPTCP and a "
		       "plain TCP client after restore; an unbound MPTCP socket stays unbound";

static int l4, l6, unbound;
static unsigned short port4, port6;

static void corrupt(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port4)};
	int one = 1;

	/* The same port, but plain TCP. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	close(l4);
	l4 = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l4, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(l4, (struct sockaddr *)&a, sizeof(a)) || listen(l4, 5))
		pr_perror("corrupt: listen");
}

static unsigned short bound_port(int s)
{
	struct sockaddr_in6 a;
	socklen_t l = sizeof(a);

	if (getsockname(s, (struct sockaddr *)&a, &l))
		return 0;
	return ntohs(a.sin6_port); /* same offset in sockaddr_in */
}

static int proto(int s)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l);
	return v;
}

/* A client of protocol p connects to port, is accepted and is answered. */
static int check_accept(int l, int family, int p, unsigned short port)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int c, s, fl;
	char b[2];

	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = socket(family, SOCK_STREAM, p);
	if (c < 0 || connect(c, family == AF_INET ? (struct sockaddr *)&a4 : (struct sockaddr *)&a6,
			     family == AF_INET ? sizeof(a4) : sizeof(a6))) {
		fail("connect to port %u (protocol %d): %m", port, p);
		return 1;
	}
	fl = fcntl(l, F_GETFL);
	fcntl(l, F_SETFL, fl & ~O_NONBLOCK);
	s = accept(l, NULL, NULL);
	fcntl(l, F_SETFL, fl);
	if (s < 0 || write(c, "ok", 2) != 2 || read(s, b, 2) != 2 || write(s, "ko", 2) != 2 || read(c, b, 2) != 2 ||
	    b[0] != 'k') {
		fail("accept on port %u (protocol %d): %m", port, p);
		return 1;
	}
	/* A plain TCP client falls back: accept gives a TCP socket. */
	if (p == IPPROTO_MPTCP && proto(s) != IPPROTO_MPTCP)
		fail("the connection accepted on port %u is protocol %d, not MPTCP", port, proto(s));
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

	test_init(argc, argv);
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l4 = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (l4 < 0) {
		/* zdtm.desc needs mptcp: the runner skips a kernel without it. */
		pr_perror("socket(IPPROTO_MPTCP)");
		return 1;
	}
	setsockopt(l4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l4, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(l4, (struct sockaddr *)&a4, sizeof(a4)) || listen(l4, 5)) {
		pr_perror("listen IPv4");
		return 1;
	}
	l6 = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP);
	setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (l6 < 0 || bind(l6, (struct sockaddr *)&a6, sizeof(a6)) || listen(l6, 9)) {
		pr_perror("listen IPv6");
		return 1;
	}
	unbound = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (unbound < 0) {
		pr_perror("socket");
		return 1;
	}
	port4 = bound_port(l4);
	port6 = bound_port(l6);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (proto(l4) != IPPROTO_MPTCP || proto(l6) != IPPROTO_MPTCP || proto(unbound) != IPPROTO_MPTCP)
		fail("protocols %d %d %d, want MPTCP (%d)", proto(l4), proto(l6), proto(unbound), IPPROTO_MPTCP);
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
	if (bound_port(unbound) != 0)
		fail("the unbound socket got a port");
	if (!test_failed()) {
		check_accept(l4, AF_INET, IPPROTO_MPTCP, port4);
		check_accept(l6, AF_INET6, IPPROTO_MPTCP, port6);
		check_accept(l6, AF_INET6, IPPROTO_TCP, port6);
	}
	if (!test_failed())
		pass();
	return 0;
}
