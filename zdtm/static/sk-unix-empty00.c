#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Empty datagrams in UNIX datagram and seqpacket queues (at the head, "
		       "in the middle, several in a row, at the end) are kept, with every "
		       "message after them, in order; a seqpacket queue whose sender shut "
		       "down keeps its messages and then reads end of file";

/* The messages queued, "" being an empty one. */
static const char *msgs[] = {"", "one", "", "", "two", "", "three", ""};
#define NM (sizeof(msgs) / sizeof(msgs[0]))
/* The shut-down seqpacket's queue: its trailing EOF follows. */
static const char *shut[] = {"", "a", "", "b"};
#define NS (sizeof(shut) / sizeof(shut[0]))

static int dg[2], sp[2], sh[2];

static void corrupt(void)
{
	char b[16];

	/* Drops the empty datagram at the head: what a dump that stops at
	 * the first empty datagram would have lost too. */
	recv(dg[0], b, sizeof(b), MSG_DONTWAIT);
}

static int fill(int fd, const char **m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (send(fd, m[i], strlen(m[i]), 0) != (ssize_t)strlen(m[i])) {
			pr_perror("send %zu", i);
			return -1;
		}
	return 0;
}

/* check reads the n messages m from fd, then expects EAGAIN (eof: 0). */
static int check(const char *what, int fd, const char **m, size_t n, int eof)
{
	char b[64];
	ssize_t r;
	size_t i;

	for (i = 0; i < n; i++) {
		r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (r < 0) {
			fail("%s: message %zu (%zu bytes): %s", what, i, strlen(m[i]), strerror(errno));
			return 1;
		}
		if ((size_t)r != strlen(m[i]) || memcmp(b, m[i], r)) {
			fail("%s: message %zu: %zd bytes %.*s, want %zu bytes %s", what, i, r, (int)r, b, strlen(m[i]), m[i]);
			return 1;
		}
	}
	r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	if (eof ? r != 0 : (r >= 0 || errno != EAGAIN)) {
		fail("%s: after %zu messages: recv %zd (%s), want %s", what, n, r, r < 0 ? strerror(errno) : "data",
		     eof ? "end of file" : "EAGAIN");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int ret = 0;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sh)) {
		pr_perror("socketpair");
		return 1;
	}
	if (fill(dg[1], msgs, NM) || fill(sp[1], msgs, NM) || fill(sh[1], shut, NS))
		return 1;
	if (shutdown(sh[1], SHUT_WR)) {
		pr_perror("shutdown");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	ret |= check("dgram", dg[0], msgs, NM, 0);
	ret |= check("seqpacket", sp[0], msgs, NM, 0);
	ret |= check("seqpacket shut down", sh[0], shut, NS, 1);
	if (!ret)
		pass();
	return ret;
}
