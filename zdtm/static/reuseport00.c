#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "SO_REUSEPORT groups: two UDP sockets and two TCP listeners (IPv4), and "
		       "two IPv6 UDP sockets, each pair bound to one port, are groups again "
		       "after restore: datagrams and connections from many source ports reach "
		       "both members, and a third socket with SO_REUSEPORT joins the group";

#define N 2
#define TRIES 64

static int udp[N], tcp[N], udp6[N];
static struct sockaddr_in ua, ta;
static struct sockaddr_in6 ua6;

static void corrupt(void)
{
	/* The second UDP member leaves: nothing more reaches it. */
	close(udp[1]);
	udp[1] = socket(AF_INET, SOCK_DGRAM, 0);
}

static int member(int family, int type, struct sockaddr *a, socklen_t al, int bound)
{
	int one = 1, s = socket(family, type | SOCK_NONBLOCK, 0);
	socklen_t l = al;

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) {
		pr_perror("socket");
		return -1;
	}
	if (bind(s, a, al) || (!bound && getsockname(s, a, &l))) {
		pr_perror("bind");
		return -1;
	}
	if (type == SOCK_STREAM && listen(s, TRIES)) {
		pr_perror("listen");
		return -1;
	}
	return s;
}

static int group(int *s, int family, int type, struct sockaddr *a, socklen_t al)
{
	for (int i = 0; i < N; i++)
		if ((s[i] = member(family, type, a, al, i > 0)) < 0)
			return -1;
	return 0;
}

/* spread sends TRIES datagrams (or connections) to a, each from a new
 * socket (so a new source port), and fails unless every member of s got
 * at least one. The kernel picks the member by a hash of the source
 * port: all 64 to one of two members would come once in 2^63. */
static void spread(const char *what, int *s, int family, int type, struct sockaddr *a, socklen_t al)
{
	int got[N] = {0};
	char b[8];

	for (int t = 0; t < TRIES; t++) {
		int c = socket(family, type, 0);

		if (c < 0 || connect(c, a, al)) {
			fail("%s: connect", what);
			return;
		}
		if (type == SOCK_DGRAM && send(c, "x", 1, 0) != 1) {
			fail("%s: send", what);
			return;
		}
		for (int i = 0; i < N; i++) {
			int n = 0;

			if (type == SOCK_DGRAM)
				n = recv(s[i], b, sizeof(b), MSG_DONTWAIT) == 1;
			else {
				int a = accept(s[i], NULL, NULL);

				if (a >= 0) {
					n = 1;
					close(a);
				}
			}
			got[i] += n;
		}
		close(c);
	}
	for (int i = 0; i < N; i++)
		if (got[i] == 0)
			fail("%s: member %d got none of %d (%d, %d)", what, i, TRIES, got[0], got[1]);
	if (got[0] + got[1] != TRIES)
		fail("%s: %d of %d arrived", what, got[0] + got[1], TRIES);
}

static void joins(const char *what, int family, int type, struct sockaddr *a, socklen_t al)
{
	int s = member(family, type, a, al, 1);

	if (s < 0)
		fail("%s: a third socket with SO_REUSEPORT cannot join", what);
	else
		close(s);
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	ua.sin_family = ta.sin_family = AF_INET;
	ua.sin_addr.s_addr = ta.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ua6.sin6_family = AF_INET6;
	ua6.sin6_addr = in6addr_loopback;
	if (group(udp, AF_INET, SOCK_DGRAM, (struct sockaddr *)&ua, sizeof(ua)) ||
	    group(tcp, AF_INET, SOCK_STREAM, (struct sockaddr *)&ta, sizeof(ta)) ||
	    group(udp6, AF_INET6, SOCK_DGRAM, (struct sockaddr *)&ua6, sizeof(ua6)))
		return 1;
	spread("before: UDP", udp, AF_INET, SOCK_DGRAM, (struct sockaddr *)&ua, sizeof(ua));

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	spread("UDP", udp, AF_INET, SOCK_DGRAM, (struct sockaddr *)&ua, sizeof(ua));
	spread("TCP", tcp, AF_INET, SOCK_STREAM, (struct sockaddr *)&ta, sizeof(ta));
	spread("UDPv6", udp6, AF_INET6, SOCK_DGRAM, (struct sockaddr *)&ua6, sizeof(ua6));
	joins("UDP", AF_INET, SOCK_DGRAM, (struct sockaddr *)&ua, sizeof(ua));
	joins("TCP", AF_INET, SOCK_STREAM, (struct sockaddr *)&ta, sizeof(ta));
	pass();
	return 0;
}
