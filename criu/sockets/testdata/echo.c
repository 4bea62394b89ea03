/* A TCP echo server for the tests of established connections: echo.c
 * FAMILY(4|6) PORT READYFILE. It accepts one client and echoes what it
 * reads. SIGUSR1 toggles holding: while held it reads nothing (what the
 * client sends stays in the receive queue) and says HOLD/GO in
 * READYFILE; it says EOF there when its client's end is closed, READ
 * ERROR when a read fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t toggled;
static void on_usr1(int s) { (void)s; toggled = 1; }

static void say(const char *f, const char *s)
{
	int fd = open(f, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		exit(2);
	write(fd, s, strlen(s));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	int v6 = argv[1][0] == '6';
	int port = atoi(argv[2]);
	int l = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a6.sin6_addr = in6addr_loopback;
	if ((v6 ? bind(l, (void *)&a6, sizeof(a6)) : bind(l, (void *)&a4, sizeof(a4))) || listen(l, 1))
		return 3;
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	say(argv[3], "READY\n");
	int c = accept(l, NULL, NULL);
	if (c < 0)
		return 4;
	int held = 0;
	char buf[4096];
	for (;;) {
		if (toggled) {
			toggled = 0;
			held = !held;
			say(argv[3], held ? "HOLD\n" : "GO\n");
		}
		struct pollfd p = { .fd = c, .events = held ? 0 : POLLIN };
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			return 5;
		if (held || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = read(c, buf, sizeof(buf));
		if (n == 0) {
			say(argv[3], "EOF\n");
			return 0;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			say(argv[3], "READ ERROR\n");
			return 6;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(c, buf + off, n - off);
			if (w < 0 && errno != EINTR)
				return 7;
			if (w > 0)
				off += w;
		}
	}
}
