#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Two TCP listeners and two UDP sockets, each pair bound to one loopback "
		       "port with SO_REUSEPORT, the first of each then turning it off: they "
		       "keep the port and each its SO_REUSEPORT; a client's connection is "
		       "accepted by one of the listeners, a datagram to the port received "
		       "by one of the UDP sockets";

/* sk[0], sk[1]: TCP listeners; sk[2], sk[3]: UDP. */
static int sk[4];
static unsigned short port[2];

static int bound(int type, unsigned short *p)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(*p)};
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, type | SOCK_NONBLOCK, 0), on = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) ||
	    bind(s, (struct sockaddr *)&a, sizeof(a)) || getsockname(s, (struct sockaddr *)&a, &l) ||
	    (type == SOCK_STREAM && listen(s, 4))) {
		pr_perror("bind port %u", *p);
		return -1;
	}
	*p = ntohs(a.sin_port);
	return s;
}

static int reuseport(int s)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(s, SOL_SOCKET, SO_REUSEPORT, &v, &l);
	return v;
}

static unsigned short port_of(int s)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	if (getsockname(s, (struct sockaddr *)&a, &l))
		return 0;
	return ntohs(a.sin_port);
}

/* The second of each pair turns it off too. */
static void corrupt(void)
{
	int off = 0;

	setsockopt(sk[1], SOL_SOCKET, SO_REUSEPORT, &off, sizeof(off));
	setsockopt(sk[3], SOL_SOCKET, SO_REUSEPORT, &off, sizeof(off));
}

/* got waits a little for one of a and b to be readable and takes from it. */
static int got(int a, int b, int stream)
{
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	char buf[4];
	int i, s;

	if (poll(p, 2, 5000) < 1)
		return -1;
	for (i = 0; i < 2; i++) {
		if (!(p[i].revents & POLLIN))
			continue;
		if (!stream)
			return recv(p[i].fd, buf, sizeof(buf), 0) == 2 ? 0 : -1;
		s = accept(p[i].fd, NULL, NULL);
		if (s < 0)
			return -1;
		close(s);
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int i, off = 0, c;

	test_init(argc, argv);
	for (i = 0; i < 4; i++) {
		sk[i] = bound(i < 2 ? SOCK_STREAM : SOCK_DGRAM, &port[i / 2]);
		if (sk[i] < 0)
			return 1;
	}
	if (setsockopt(sk[0], SOL_SOCKET, SO_REUSEPORT, &off, sizeof(off)) ||
	    setsockopt(sk[2], SOL_SOCKET, SO_REUSEPORT, &off, sizeof(off))) {
		pr_perror("SO_REUSEPORT off");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < 4; i++) {
		if (port_of(sk[i]) != port[i / 2])
			fail("socket %d: port %u, want %u", i, port_of(sk[i]), port[i / 2]);
		if (reuseport(sk[i]) != (i % 2))
			fail("socket %d: SO_REUSEPORT %d, want %d", i, reuseport(sk[i]), i % 2);
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port[0]);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) || got(sk[0], sk[1], 1))
		fail("no listener accepts on port %u (errno %d)", port[0], errno);
	close(c);
	a.sin_port = htons(port[1]);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	if (c < 0 || sendto(c, "hi", 2, 0, (struct sockaddr *)&a, sizeof(a)) != 2 || got(sk[2], sk[3], 0))
		fail("no UDP socket receives on port %u (errno %d)", port[1], errno);
	close(c);
	if (!test_failed())
		pass();
	return 0;
}
