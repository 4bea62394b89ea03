#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Sockets bound with IP_FREEBIND to addresses no interface holds (IPv6 "
		       "and IPv4 UDP, an IPv4 TCP listener) keep their address and port; the "
		       "option stays on where it was kept, off where the task turned it off "
		       "after the bind";

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

struct sk {
	int family, type, keep, fd;
	const char *addr;
	struct sockaddr_storage name;
};

static struct sk sks[] = {
	{AF_INET6, SOCK_DGRAM, 0, -1, "2001:db8::42:1"},
	{AF_INET6, SOCK_DGRAM, 1, -1, "2001:db8::42:2"},
	{AF_INET, SOCK_DGRAM, 0, -1, "198.51.100.7"},
	{AF_INET, SOCK_STREAM, 0, -1, "198.51.100.8"},
};

#define N (int)(sizeof(sks) / sizeof(sks[0]))

static int freebind(struct sk *s, int *v)
{
	socklen_t l = sizeof(*v);

	if (s->family == AF_INET6)
		return getsockopt(s->fd, IPPROTO_IPV6, IPV6_FREEBIND, v, &l);
	return getsockopt(s->fd, IPPROTO_IP, IP_FREEBIND, v, &l);
}

/* The kept one is turned off too. */
static void corrupt(void)
{
	int off = 0;

	setsockopt(sks[1].fd, IPPROTO_IPV6, IPV6_FREEBIND, &off, sizeof(off));
}

int main(int argc, char **argv)
{
	int i, on = 1, off = 0, v;

	test_init(argc, argv);
	for (i = 0; i < N; i++) {
		struct sk *s = &sks[i];
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
		struct sockaddr_in a4 = {.sin_family = AF_INET};
		socklen_t l = sizeof(s->name);
		int r;

		s->fd = socket(s->family, s->type, 0);
		if (s->fd < 0 || setsockopt(s->fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof(on))) {
			pr_perror("socket %s", s->addr);
			return 1;
		}
		if (s->family == AF_INET6) {
			inet_pton(AF_INET6, s->addr, &a6.sin6_addr);
			r = bind(s->fd, (struct sockaddr *)&a6, sizeof(a6));
		} else {
			inet_pton(AF_INET, s->addr, &a4.sin_addr);
			r = bind(s->fd, (struct sockaddr *)&a4, sizeof(a4));
		}
		if (r || getsockname(s->fd, (struct sockaddr *)&s->name, &l) ||
		    (s->type == SOCK_STREAM && listen(s->fd, 4))) {
			pr_perror("bind %s", s->addr);
			return 1;
		}
		if (!s->keep && setsockopt(s->fd, IPPROTO_IP, IP_FREEBIND, &off, sizeof(off))) {
			pr_perror("IP_FREEBIND off on %s", s->addr);
			return 1;
		}
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < N; i++) {
		struct sk *s = &sks[i];
		struct sockaddr_storage name;
		socklen_t l = sizeof(name);

		memset(&name, 0, sizeof(name));
		if (getsockname(s->fd, (struct sockaddr *)&name, &l) || memcmp(&name, &s->name, l))
			fail("%s: its address or port changed", s->addr);
		if (freebind(s, &v) || !v != !s->keep)
			fail("%s: IP_FREEBIND is %d, want %d", s->addr, v, s->keep);
	}
	if (!test_failed())
		pass();
	return 0;
}
