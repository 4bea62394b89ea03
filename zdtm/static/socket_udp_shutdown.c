#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UDP sockets shut down for reading, for writing and both ways, connected, "
		       "bound, or neither (reading and both ways only: the kernel shows no other "
		       "way how an unbound socket was shut down), stay shut down: poll shows it, "
		       "a write fails with EPIPE";

static const int how[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
#define NH 3
static int sk[3][NH]; /* [connected, bound, neither][how] */

static void corrupt(void)
{
	close(sk[0][1]);
	sk[0][1] = socket(AF_INET, SOCK_DGRAM, 0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int srv, c, h;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	srv = socket(AF_INET, SOCK_DGRAM, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&a, sizeof(a)) || getsockname(srv, (struct sockaddr *)&a, &al)) {
		pr_perror("bind");
		return 1;
	}
	for (c = 0; c < 3; c++)
		for (h = 0; h < NH; h++) {
			struct sockaddr_in b = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

			if (c == 2 && how[h] == SHUT_WR)
				continue;
			sk[c][h] = socket(AF_INET, SOCK_DGRAM, 0);
			if (sk[c][h] < 0 || (c == 0 && connect(sk[c][h], (struct sockaddr *)&a, sizeof(a))) ||
			    (c == 1 && bind(sk[c][h], (struct sockaddr *)&b, sizeof(b)))) {
				pr_perror("socket");
				return 1;
			}
			/* An unconnected socket gives ENOTCONN, and is shut down all the same. */
			if (shutdown(sk[c][h], how[h]) && !(errno == ENOTCONN && c)) {
				pr_perror("shutdown");
				return 1;
			}
		}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (c = 0; c < 3; c++)
		for (h = 0; h < NH; h++) {
			if (c == 2 && how[h] == SHUT_WR)
				continue;
			struct pollfd p = {.fd = sk[c][h], .events = POLLIN | POLLRDHUP};
			int rd = how[h] != SHUT_WR, wr = how[h] != SHUT_RD;
			ssize_t n;

			poll(&p, 1, 0);
			if (!!(p.revents & POLLRDHUP) != rd || !!(p.revents & POLLHUP) != (rd && wr))
				fail("socket %d/%d: poll gives %#x", c, h, p.revents);
			n = sendto(sk[c][h], "x", 1, MSG_DONTWAIT, (struct sockaddr *)&a, sizeof(a));
			if (wr != (n == -1 && errno == EPIPE))
				fail("socket %d/%d: write gives %zd (%m)", c, h, n);
		}
	if (!test_failed())
		pass();
	return 0;
}
