#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UDP sockets bound to a device (SO_BINDTODEVICE lo) keep it; with "
		       "--join=1 one also joins multicast group 239.7.7.7 on lo and must still "
		       "get the group's datagrams after restore (CRIU 4.2 drops the membership; "
		       "our dump refuses it by name)";

static unsigned int join;
TEST_OPTION(join, uint, "join a multicast group (refused at dump: criu/sockets/mcast)", 0);

#define GROUP "239.7.7.7"

static int dev, mc;
static struct sockaddr_in da, ma;

static void corrupt(void)
{
	setsockopt(dev, SOL_SOCKET, SO_BINDTODEVICE, "", 0);
}

int main(int argc, char **argv)
{
	struct ip_mreqn mr = {0};
	struct pollfd p;
	char name[IFNAMSIZ] = {0}, b[8];
	socklen_t l;
	int one = 1, snd;

	test_init(argc, argv);
	da.sin_family = ma.sin_family = AF_INET;
	da.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dev = socket(AF_INET, SOCK_DGRAM, 0);
	l = sizeof(da);
	if (dev < 0 || setsockopt(dev, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) ||
	    bind(dev, (struct sockaddr *)&da, sizeof(da)) || getsockname(dev, (struct sockaddr *)&da, &l)) {
		pr_perror("socket bound to lo");
		return 1;
	}
	mc = socket(AF_INET, SOCK_DGRAM, 0);
	ma.sin_addr.s_addr = htonl(INADDR_ANY);
	l = sizeof(ma);
	if (mc < 0 || setsockopt(mc, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(mc, (struct sockaddr *)&ma, sizeof(ma)) || getsockname(mc, (struct sockaddr *)&ma, &l)) {
		pr_perror("multicast socket");
		return 1;
	}
	inet_pton(AF_INET, GROUP, &mr.imr_multiaddr);
	mr.imr_ifindex = if_nametoindex("lo");
	if (join && setsockopt(mc, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
		pr_perror("IP_ADD_MEMBERSHIP");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	l = sizeof(name);
	if (getsockopt(dev, SOL_SOCKET, SO_BINDTODEVICE, name, &l) || strcmp(name, "lo"))
		fail("SO_BINDTODEVICE is \"%s\", not \"lo\"", name);
	snd = socket(AF_INET, SOCK_DGRAM, 0);
	if (snd < 0 || sendto(snd, "dev", 3, 0, (struct sockaddr *)&da, sizeof(da)) != 3 ||
	    recv(dev, b, sizeof(b), MSG_DONTWAIT) != 3)
		fail("no datagram to the socket bound to lo");
	if (join) {
		struct sockaddr_in to = ma;

		/* Sent out of lo, the group's datagram loops back to members. */
		if (setsockopt(snd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)))
			pr_perror("IP_MULTICAST_IF");
		to.sin_addr = mr.imr_multiaddr;
		if (sendto(snd, "group", 5, 0, (struct sockaddr *)&to, sizeof(to)) != 5)
			pr_perror("send to the group");
		p.fd = mc;
		p.events = POLLIN;
		if (poll(&p, 1, 2000) != 1 || recv(mc, b, sizeof(b), MSG_DONTWAIT) != 5)
			fail("the member got no datagram sent to " GROUP);
	}
	pass();
	return 0;
}
