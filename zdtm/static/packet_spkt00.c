#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Old SOCK_PACKET sockets keep their kind and binding: one bound to lo "
		       "(by its name) with SO_RCVBUF receives a datagram sent to 127.0.0.1 "
		       "after restore, one never bound stays so";

#define RCVBUF 98765

static int bound, unbound;

static int devname(int s, char *name)
{
	struct sockaddr a;
	socklen_t l = sizeof(a);

	memset(&a, 0, sizeof(a));
	if (getsockname(s, &a, &l) || a.sa_family != AF_PACKET)
		return -1;
	memcpy(name, a.sa_data, sizeof(a.sa_data));
	name[sizeof(a.sa_data)] = 0;
	return 0;
}

/* The bound one is replaced by an unbound one. */
static void corrupt(void)
{
	int s = socket(AF_PACKET, SOCK_PACKET, htons(ETH_P_ALL));

	dup2(s, bound);
}

int main(int argc, char **argv)
{
	struct sockaddr a = {.sa_family = AF_PACKET};
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	struct pollfd p;
	char name[16], buf[2048];
	int v = RCVBUF, u;
	socklen_t vl = sizeof(v);

	test_init(argc, argv);
	strcpy(a.sa_data, "lo");
	bound = socket(AF_PACKET, SOCK_PACKET, htons(ETH_P_ALL));
	unbound = socket(AF_PACKET, SOCK_PACKET, htons(ETH_P_ALL));
	if (bound < 0 || unbound < 0 || bind(bound, &a, sizeof(a)) ||
	    setsockopt(bound, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v))) {
		pr_perror("SOCK_PACKET sockets");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (devname(bound, name) || strcmp(name, "lo"))
		fail("the bound socket is not bound to lo");
	if (devname(unbound, name) || name[0])
		fail("the unbound socket is bound to \"%s\"", name);
	if (getsockopt(bound, SOL_SOCKET, SO_RCVBUF, &v, &vl) || v != 2 * RCVBUF)
		fail("SO_RCVBUF is %d, want %d", v, 2 * RCVBUF);
	/* Drain what lo carried meanwhile, then send one. */
	while (recv(bound, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	if (u < 0 || sendto(u, "spkt", 4, 0, (struct sockaddr *)&to, sizeof(to)) != 4)
		pr_perror("send to 127.0.0.1");
	p = (struct pollfd){.fd = bound, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1 || recv(bound, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
		fail("the bound socket received nothing from lo");
	if (!test_failed())
		pass();
	return 0;
}
