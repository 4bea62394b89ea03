/* A task with a UDP socket that joined a multicast group on lo:
 * mcastjoin MODE READYFILE, MODE v4 (IP_ADD_MEMBERSHIP 239.7.7.7), v6
 * (IPV6_JOIN_GROUP ff15::7) or mapped (239.7.7.7 joined by an IPv6
 * socket). It says READY in READYFILE; on SIGUSR1 it sends a datagram to
 * the group out of lo and says OK if its socket gets it (it is a member
 * still) or BAD; v6 (lo routes no IPv6 multicast) says OK if joining
 * again fails with EADDRINUSE, as a member's join does. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }

static void say(const char *f, const char *s)
{
	FILE *fp = fopen(f, "a");

	if (!fp)
		exit(2);
	fputs(s, fp);
	fclose(fp);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	struct sockaddr_in to4 = {.sin_family = AF_INET};
	struct ip_mreqn mr = {0};
	struct ipv6_mreq m6 = {0};
	struct pollfd p;
	socklen_t l = sizeof(a6);
	int s, snd, lo = if_nametoindex("lo"), v6;
	char b[8];

	if (argc != 3)
		return 2;
	v6 = !strcmp(argv[1], "v6");
	s = socket(strcmp(argv[1], "v4") ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return 3;
	/* Bound to a port of its own on every address (:: takes IPv4 too). */
	if (!strcmp(argv[1], "v4")) {
		struct sockaddr_in a4 = {.sin_family = AF_INET};

		l = sizeof(a4);
		if (bind(s, (struct sockaddr *)&a4, sizeof(a4)) || getsockname(s, (struct sockaddr *)&a4, &l))
			return 3;
		to4.sin_port = a4.sin_port;
	} else {
		if (bind(s, (struct sockaddr *)&a6, sizeof(a6)) || getsockname(s, (struct sockaddr *)&a6, &l))
			return 3;
		to4.sin_port = a6.sin6_port;
	}
	inet_pton(AF_INET, "239.7.7.7", &mr.imr_multiaddr);
	inet_pton(AF_INET6, "ff15::7", &m6.ipv6mr_multiaddr);
	mr.imr_ifindex = m6.ipv6mr_interface = lo;
	if (v6 ? setsockopt(s, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof(m6))
	       : setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		return 3;
	sigaction(SIGUSR1, &sa, NULL);
	say(argv[2], "READY\n");
	while (!go)
		pause();
	if (v6) {
		if (!setsockopt(s, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof(m6)) || errno != EADDRINUSE) {
			say(argv[2], "BAD\n");
			return 5;
		}
		say(argv[2], "OK\n");
		return 0;
	} else {
		snd = socket(AF_INET, SOCK_DGRAM, 0);
		to4.sin_addr = mr.imr_multiaddr;
		if (snd < 0 || setsockopt(snd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) ||
		    sendto(snd, "group", 5, 0, (struct sockaddr *)&to4, sizeof(to4)) != 5)
			return 4;
	}
	p.fd = s;
	p.events = POLLIN;
	if (poll(&p, 1, 5000) != 1 || recv(s, b, sizeof(b), MSG_DONTWAIT) != 5) {
		say(argv[2], "BAD\n");
		return 5;
	}
	say(argv[2], "OK\n");
	return 0;
}
