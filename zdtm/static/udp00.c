#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UDP sockets (IPv4 and IPv6) keep their bound port, options and a "
		       "connected peer, and exchange datagrams after restore";

static int srv, cli, srv6;
static struct sockaddr_in sa;
static struct sockaddr_in6 sa6;

static void corrupt(void)
{
	connect(cli, (struct sockaddr *)&sa6, sizeof(sa6)); /* EAFNOSUPPORT or elsewhere */
	shutdown(srv, SHUT_RD);
	close(srv);
	srv = socket(AF_INET, SOCK_DGRAM, 0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in got;
	struct sockaddr_in6 c6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t l;
	int one = 1, v;
	socklen_t vl = sizeof(v);
	char buf[64];
	int c6s;

	test_init(argc, argv);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(srv, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	l = sizeof(sa);
	if (srv < 0 || bind(srv, (struct sockaddr *)&sa, sizeof(sa)) || getsockname(srv, (struct sockaddr *)&sa, &l)) {
		pr_perror("bind");
		return 1;
	}
	cli = socket(AF_INET, SOCK_DGRAM, 0);
	if (cli < 0 || connect(cli, (struct sockaddr *)&sa, sizeof(sa))) {
		pr_perror("connect");
		return 1;
	}
	srv6 = socket(AF_INET6, SOCK_DGRAM, 0);
	sa6.sin6_family = AF_INET6;
	sa6.sin6_addr = in6addr_loopback;
	l = sizeof(sa6);
	if (srv6 < 0 || bind(srv6, (struct sockaddr *)&sa6, sizeof(sa6)) || getsockname(srv6, (struct sockaddr *)&sa6, &l)) {
		pr_perror("bind IPv6");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	l = sizeof(got);
	if (getsockname(srv, (struct sockaddr *)&got, &l) || got.sin_port != sa.sin_port ||
	    got.sin_addr.s_addr != sa.sin_addr.s_addr)
		fail("server address changed");
	if (getsockopt(srv, SOL_SOCKET, SO_BROADCAST, &v, &vl) || !v)
		fail("server lost SO_BROADCAST");
	vl = sizeof(v);
	if (getsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &v, &vl) || !v)
		fail("server lost SO_REUSEADDR");
	l = sizeof(got);
	if (getpeername(cli, (struct sockaddr *)&got, &l) || got.sin_port != sa.sin_port)
		fail("client is not connected to the server");
	if (send(cli, "hello", 5, 0) != 5 || recv(srv, buf, sizeof(buf), MSG_DONTWAIT) != 5 || memcmp(buf, "hello", 5))
		fail("no datagram from the client to the server");
	c6s = socket(AF_INET6, SOCK_DGRAM, 0);
	if (sendto(c6s, "six", 3, 0, (struct sockaddr *)&sa6, sizeof(sa6)) != 3 ||
	    recv(srv6, buf, sizeof(buf), MSG_DONTWAIT) != 3)
		fail("no datagram to the IPv6 server");
	(void)c6;
	if (!test_failed())
		pass();
	return 0;
}
