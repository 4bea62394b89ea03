#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "ICMP and ICMPv6 \"ping\" sockets (SOCK_DGRAM, IPPROTO_ICMP[V6]) keep "
		       "their identifier (the bound port), bound address, peer and IP_TTL: "
		       "the connected ones (to a port or to port 0, as ping connects) get the "
		       "reply to their echo request after restore, the IPv6 one to its sendto";

/* CRIU 4.2 dumps a connected ping socket as unconnected, and its
 * restore binds none to its identifier: 1 here checks only what it
 * keeps (the kind of socket, the echo), to compare with it. */
static unsigned int plain;
TEST_OPTION(plain, uint, "check only what CRIU 4.2 keeps (no identifier, no peer)", 0);

#define PING_RANGE "net/ipv4/ping_group_range"

static int p4, p6, unb, p0;
static struct sockaddr_in a4, a0;
static socklen_t l0 = sizeof(a0);
static struct sockaddr_in6 a6;
static char range[64];

static void corrupt(void)
{
	close(p4);
	p4 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
}

/* allow lets root (gid 0) make ping sockets in this network namespace,
 * keeping the range it had in range to put back at the end. */
static int allow(void)
{
	int fd = open("/proc/sys/" PING_RANGE, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		pr_perror("open " PING_RANGE);
		return -1;
	}
	n = read(fd, range, sizeof(range) - 1);
	close(fd);
	if (n <= 0) {
		pr_perror("read " PING_RANGE);
		return -1;
	}
	range[n] = 0;
	return sysctl_set(PING_RANGE, "0 2147483647");
}

/* echo sends an echo request with sequence seq to dst (NULL: the
 * connected peer) and waits for its reply, returning the reply's
 * identifier or -1. */
static int echo(int s, int v6, const struct sockaddr *dst, socklen_t dl, int seq)
{
	unsigned char req[16] = {0}, rep[64];
	struct pollfd p = {.fd = s, .events = POLLIN};
	ssize_t n;

	req[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	req[6] = seq >> 8;
	req[7] = seq;
	memcpy(req + 8, "zdtmping", 8);
	if (sendto(s, req, sizeof(req), 0, dst, dl) != sizeof(req)) {
		pr_perror("send echo request");
		return -1;
	}
	if (poll(&p, 1, 5000) != 1) {
		fail("no echo reply");
		return -1;
	}
	n = recv(s, rep, sizeof(rep), 0);
	if (n != sizeof(req) || rep[0] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) || rep[6] != req[6] ||
	    rep[7] != req[7] || memcmp(rep + 8, req + 8, 8)) {
		fail("a wrong echo reply (%zd bytes, type %d)", n, n > 0 ? rep[0] : -1);
		return -1;
	}
	return rep[4] << 8 | rep[5];
}

static int getint(int s, int level, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(s, level, opt, &v, &l))
		return -1;
	return v;
}

static void check(void)
{
	struct sockaddr_in got, peer;
	struct sockaddr_in6 got6;
	socklen_t l;
	int id, ttl = 7;

	l = sizeof(got);
	if (getsockname(p4, (struct sockaddr *)&got, &l) || got.sin_port != a4.sin_port ||
	    got.sin_addr.s_addr != a4.sin_addr.s_addr)
		fail("the ping socket's identifier or address changed");
	l = sizeof(peer);
	if (getpeername(p4, (struct sockaddr *)&peer, &l) || peer.sin_addr.s_addr != a4.sin_addr.s_addr)
		fail("the ping socket is not connected");
	if (getint(p4, IPPROTO_IP, IP_TTL) != ttl)
		fail("IP_TTL is %d, not %d", getint(p4, IPPROTO_IP, IP_TTL), ttl);
	if ((id = echo(p4, 0, NULL, 0, 2)) != ntohs(a4.sin_port))
		fail("the echo reply has identifier %d, not %d", id, ntohs(a4.sin_port));
	if ((id = echo(p0, 0, NULL, 0, 4)) != ntohs(a0.sin_port))
		fail("the echo reply of the socket connected to port 0 has identifier %d, not %d", id,
		     ntohs(a0.sin_port));
	l = sizeof(got6);
	if (getsockname(p6, (struct sockaddr *)&got6, &l) || got6.sin6_port != a6.sin6_port ||
	    memcmp(&got6.sin6_addr, &a6.sin6_addr, sizeof(a6.sin6_addr)))
		fail("the ICMPv6 ping socket's identifier or address changed");
	if ((id = echo(p6, 1, (struct sockaddr *)&a6, sizeof(a6), 3)) != ntohs(a6.sin6_port))
		fail("the ICMPv6 echo reply has identifier %d, not %d", id, ntohs(a6.sin6_port));
}

int main(int argc, char **argv)
{
	struct sockaddr_in peer;
	socklen_t l;
	int ttl = 7;

	test_init(argc, argv);
	if (allow())
		return 1;
	a4.sin_family = AF_INET;
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p4 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	l = sizeof(a4);
	if (p4 < 0 || bind(p4, (struct sockaddr *)&a4, sizeof(a4)) || getsockname(p4, (struct sockaddr *)&a4, &l)) {
		pr_perror("ping socket");
		return 1;
	}
	if (connect(p4, (struct sockaddr *)&a4, sizeof(a4)) ||
	    setsockopt(p4, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl))) {
		pr_perror("connect ping socket");
		return 1;
	}
	a6.sin6_family = AF_INET6;
	a6.sin6_addr = in6addr_loopback;
	p6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
	l = sizeof(a6);
	if (p6 < 0 || bind(p6, (struct sockaddr *)&a6, sizeof(a6)) || getsockname(p6, (struct sockaddr *)&a6, &l)) {
		pr_perror("ICMPv6 ping socket");
		return 1;
	}
	/* Connected to port 0: getpeername says ENOTCONN. */
	p0 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	peer = a4;
	peer.sin_port = 0;
	if (p0 < 0 || connect(p0, (struct sockaddr *)&peer, sizeof(peer)) || getsockname(p0, (struct sockaddr *)&a0, &l0)) {
		pr_perror("connect a ping socket to port 0");
		return 1;
	}
	unb = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_ICMP);
	if (unb < 0) {
		pr_perror("unbound ping socket");
		return 1;
	}
	if (echo(p4, 0, NULL, 0, 1) != ntohs(a4.sin_port))
		fail("before: the echo reply has another identifier");

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (plain) {
		if (echo(p4, 0, (struct sockaddr *)&a4, sizeof(a4), 2) < 0 || echo(p0, 0, (struct sockaddr *)&a4, sizeof(a4), 4) < 0 ||
		    echo(p6, 1, (struct sockaddr *)&a6, sizeof(a6), 3) < 0)
			fail("no echo reply");
	} else
		check();
	if (getint(unb, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_ICMP || !(fcntl(unb, F_GETFL) & O_NONBLOCK))
		fail("the unbound ping socket changed");
	if (sysctl_set(PING_RANGE, range))
		return 1;
	pass();
	return 0;
}
