#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "An established loopback TCP connection, its ends with the kernel's "
		       "default buffers or 1 MiB ones, each end written to in small writes "
		       "until its send buffer is full and its peer's window closed (bytes "
		       "sent and not acked, bytes never sent): after restore each end reads "
		       "every byte once and in order";

static int c, s;
static unsigned long wrote[2];

static unsigned char byte(int dir, unsigned long off)
{
	return (unsigned char)(off * 7 + (off >> 11) + dir * 53);
}

/* fill writes direction dir on sk in small writes until it would block. */
static int fill(int sk, int dir)
{
	unsigned char b[24];
	ssize_t w;
	size_t i;

	for (;;) {
		for (i = 0; i < sizeof(b); i++)
			b[i] = byte(dir, wrote[dir] + i);
		w = send(sk, b, sizeof(b), MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		wrote[dir] += w;
	}
}

/* drain reads direction dir's wrote[dir] bytes from sk, checking each. */
static void drain(int sk, int dir, const char *what)
{
	unsigned char b[65536];
	unsigned long off = 0;
	struct pollfd p = {.fd = sk, .events = POLLIN};
	ssize_t n, i;

	while (off < wrote[dir]) {
		if (poll(&p, 1, 10000) != 1) {
			fail("%s: %lu of %lu bytes, then nothing for 10s", what, off, wrote[dir]);
			return;
		}
		n = recv(sk, b, sizeof(b), MSG_DONTWAIT);
		if (n <= 0) {
			fail("%s: read %zd (errno %d) at byte %lu of %lu", what, n, errno, off, wrote[dir]);
			return;
		}
		for (i = 0; i < n; i++)
			if (b[i] != byte(dir, off + i)) {
				fail("%s: byte %lu differs", what, off + i);
				return;
			}
		off += n;
	}
}

/* One byte of the client's stream is read before the dump. */
static void corrupt(void)
{
	unsigned char b;

	recv(s, &b, 1, MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int l;

	test_init(argc, argv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&a, &al)) {
		pr_perror("listen");
		return 1;
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) || (s = accept(l, NULL, NULL)) < 0) {
		pr_perror("connect");
		return 1;
	}
	/* The server's buffers are 1 MiB (as set: doubled), the client's the kernel's. */
	if (setsockopt(s, SOL_SOCKET, SO_SNDBUF, &(int){1 << 20}, sizeof(int)) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &(int){1 << 20}, sizeof(int))) {
		pr_perror("buffers");
		return 1;
	}
	/* Twice each: the first fill's last segments may be acked late. */
	if (fill(c, 0) || fill(s, 1) || usleep(200000) || fill(c, 0) || fill(s, 1)) {
		pr_perror("fill");
		return 1;
	}
	test_msg("wrote %lu and %lu bytes\n", wrote[0], wrote[1]);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	drain(s, 0, "server");
	drain(c, 1, "client");
	if (!test_failed())
		pass();
	return 0;
}
