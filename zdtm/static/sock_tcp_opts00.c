#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "TCP options of a listener and of an unconnected TCP socket (nodelay, "
		       "cork, keepalive count, idle time and interval), and IP options of UDP "
		       "sockets (IPv4: freebind, pktinfo, ttl, tos; IPv6: freebind, recvpktinfo) "
		       "keep their values";

struct opt {
	const char *name;
	int level, opt, val;
};

static const struct opt tcp[] = {
	{"TCP_NODELAY", SOL_TCP, TCP_NODELAY, 1},	{"TCP_CORK", SOL_TCP, TCP_CORK, 1},
	{"TCP_KEEPCNT", SOL_TCP, TCP_KEEPCNT, 4},	{"TCP_KEEPIDLE", SOL_TCP, TCP_KEEPIDLE, 333},
	{"TCP_KEEPINTVL", SOL_TCP, TCP_KEEPINTVL, 17},	{"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 1},
};
static const struct opt udp[] = {
	{"IP_FREEBIND", SOL_IP, IP_FREEBIND, 1},
	{"IP_PKTINFO", SOL_IP, IP_PKTINFO, 1},
	{"IP_TTL", SOL_IP, IP_TTL, 9},
	{"IP_TOS", SOL_IP, IP_TOS, 0x10},
};
static const struct opt udp6[] = {
	{"IPV6_FREEBIND", SOL_IPV6, 78, 1},
	{"IPV6_RECVPKTINFO", SOL_IPV6, IPV6_RECVPKTINFO, 1},
};
#define N(a) (sizeof(a) / sizeof(a[0]))

static int lsk, usk, dsk, d6sk;

static void corrupt(void)
{
	int v = 5;

	setsockopt(lsk, SOL_TCP, TCP_KEEPCNT, &v, sizeof(v));
}

static int set(int sk, const struct opt *o, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (setsockopt(sk, o[i].level, o[i].opt, &o[i].val, sizeof(int))) {
			pr_perror("setsockopt %s", o[i].name);
			return 1;
		}
	return 0;
}

static void check(int sk, const char *what, const struct opt *o, unsigned n)
{
	unsigned i;
	socklen_t l;
	int v;

	for (i = 0; i < n; i++) {
		l = sizeof(v);
		if (getsockopt(sk, o[i].level, o[i].opt, &v, &l) || v != o[i].val)
			fail("%s: %s is %d, want %d", what, o[i].name, v, o[i].val);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	test_init(argc, argv);
	lsk = socket(AF_INET, SOCK_STREAM, 0);
	usk = socket(AF_INET6, SOCK_STREAM, 0);
	dsk = socket(AF_INET, SOCK_DGRAM, 0);
	d6sk = socket(AF_INET6, SOCK_DGRAM, 0);
	if (lsk < 0 || usk < 0 || dsk < 0 || d6sk < 0) {
		pr_perror("socket");
		return 1;
	}
	if (set(lsk, tcp, N(tcp)) || set(usk, tcp, N(tcp)) || set(dsk, udp, N(udp)) || set(d6sk, udp6, N(udp6)))
		return 1;
	if (bind(lsk, (struct sockaddr *)&a, sizeof(a)) || listen(lsk, 5)) {
		pr_perror("listen");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check(lsk, "listener", tcp, N(tcp));
	check(usk, "unconnected IPv6 TCP socket", tcp, N(tcp));
	check(dsk, "UDP socket", udp, N(udp));
	check(d6sk, "UDP IPv6 socket", udp6, N(udp6));
	if (!test_failed())
		pass();
	return 0;
}
