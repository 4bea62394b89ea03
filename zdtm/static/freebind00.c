#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Sockets bound to addresses on no interface with IP_FREEBIND (UDP, "
		       "IPv4) and IPV6_FREEBIND (UDP and a TCP listener, IPv6) keep their "
		       "address and the option; IPv6 sockets on :: with IPV6_V6ONLY on and "
		       "off keep it (the dual-stack one still gets IPv4 datagrams)";

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

static int u4, u6, t6, only, dual;
static struct sockaddr_in a4;
static struct sockaddr_in6 a6, t6a, onlya, duala;

static void corrupt(void)
{
	int zero = 0;

	setsockopt(u4, IPPROTO_IP, IP_FREEBIND, &zero, sizeof(zero));
}

static int getint(int s, int level, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(s, level, opt, &v, &l))
		return -1;
	return v;
}

static int mk(int family, int type, int level, int opt, int val, struct sockaddr *a, socklen_t al)
{
	int s = socket(family, type, 0);
	socklen_t l = al;

	if (s < 0 || setsockopt(s, level, opt, &val, sizeof(val)) || bind(s, a, al) || getsockname(s, a, &l)) {
		pr_perror("socket bound with option %d=%d", opt, val);
		return -1;
	}
	return s;
}

static void same6(const char *what, int s, struct sockaddr_in6 *want)
{
	struct sockaddr_in6 got;
	socklen_t l = sizeof(got);

	if (getsockname(s, (struct sockaddr *)&got, &l) || got.sin6_port != want->sin6_port ||
	    memcmp(&got.sin6_addr, &want->sin6_addr, sizeof(got.sin6_addr)))
		fail("%s: the bound address changed", what);
}

int main(int argc, char **argv)
{
	struct sockaddr_in got, to = {.sin_family = AF_INET};
	socklen_t l;
	char b[8];
	int c;

	test_init(argc, argv);
	a4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &a4.sin_addr); /* TEST-NET-1: on no interface */
	a6.sin6_family = t6a.sin6_family = onlya.sin6_family = duala.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
	inet_pton(AF_INET6, "2001:db8::2", &t6a.sin6_addr);
	onlya.sin6_addr = duala.sin6_addr = in6addr_any;
	if ((u4 = mk(AF_INET, SOCK_DGRAM, IPPROTO_IP, IP_FREEBIND, 1, (struct sockaddr *)&a4, sizeof(a4))) < 0 ||
	    (u6 = mk(AF_INET6, SOCK_DGRAM, IPPROTO_IPV6, IPV6_FREEBIND, 1, (struct sockaddr *)&a6, sizeof(a6))) < 0 ||
	    (t6 = mk(AF_INET6, SOCK_STREAM, IPPROTO_IPV6, IPV6_FREEBIND, 1, (struct sockaddr *)&t6a, sizeof(t6a))) < 0 ||
	    (only = mk(AF_INET6, SOCK_DGRAM, IPPROTO_IPV6, IPV6_V6ONLY, 1, (struct sockaddr *)&onlya, sizeof(onlya))) < 0 ||
	    (dual = mk(AF_INET6, SOCK_DGRAM, IPPROTO_IPV6, IPV6_V6ONLY, 0, (struct sockaddr *)&duala, sizeof(duala))) < 0)
		return 1;
	if (listen(t6, 4)) {
		pr_perror("listen");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	l = sizeof(got);
	if (getsockname(u4, (struct sockaddr *)&got, &l) || got.sin_port != a4.sin_port ||
	    got.sin_addr.s_addr != a4.sin_addr.s_addr)
		fail("IPv4: the bound address changed");
	if (getint(u4, IPPROTO_IP, IP_FREEBIND) != 1)
		fail("IPv4: IP_FREEBIND is off");
	same6("IPv6 UDP", u6, &a6);
	if (getint(u6, IPPROTO_IPV6, IPV6_FREEBIND) != 1)
		fail("IPv6 UDP: IPV6_FREEBIND is off");
	same6("IPv6 TCP", t6, &t6a);
	if (getint(t6, IPPROTO_IPV6, IPV6_FREEBIND) != 1)
		fail("IPv6 TCP: IPV6_FREEBIND is off");
	if (getint(t6, SOL_SOCKET, SO_ACCEPTCONN) != 1)
		fail("IPv6 TCP: not listening");
	same6("V6ONLY on", only, &onlya);
	same6("V6ONLY off", dual, &duala);
	if (getint(only, IPPROTO_IPV6, IPV6_V6ONLY) != 1)
		fail("IPV6_V6ONLY is off");
	if (getint(dual, IPPROTO_IPV6, IPV6_V6ONLY) != 0)
		fail("IPV6_V6ONLY is on on the dual-stack socket");
	/* The dual-stack socket gets an IPv4 datagram on its port. */
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = duala.sin6_port;
	c = socket(AF_INET, SOCK_DGRAM, 0);
	if (c < 0 || sendto(c, "four", 4, 0, (struct sockaddr *)&to, sizeof(to)) != 4 ||
	    recv(dual, b, sizeof(b), MSG_DONTWAIT) != 4)
		fail("the dual-stack socket got no IPv4 datagram");
	pass();
	return 0;
}
