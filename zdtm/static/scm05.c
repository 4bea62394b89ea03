#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX sockets passed in UNIX queues (SCM_RIGHTS) in loops: a socket in its own queue, "
		       "and two sockets each in the other's queue, one of them held by no task (only in flight)";

static int a[2], c[2], d[2];

static void corrupt(void)
{
	char b[16];

	recv(a[1], b, sizeof(b), MSG_DONTWAIT);
}

static int send_fd(int via, int fd, const char *data)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {(void *)data, strlen(data)};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *ch = CMSG_FIRSTHDR(&h);

	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	return sendmsg(via, &h, 0) == (ssize_t)strlen(data) ? 0 : -1;
}

/* recv_fd reads a message of want from fd and returns the descriptor it carries. */
static int recv_fd(int fd, const char *want)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)], data[32];
	struct iovec iov = {data, strlen(want)};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *ch;
	ssize_t n = recvmsg(fd, &h, MSG_DONTWAIT);
	int got;

	if (n < 0) {
		fail("recvmsg %s: %s", want, strerror(errno));
		return -1;
	}
	data[n] = 0;
	ch = CMSG_FIRSTHDR(&h);
	if (strcmp(data, want) || !ch || ch->cmsg_type != SCM_RIGHTS || ch->cmsg_len != CMSG_LEN(sizeof(int))) {
		fail("message %s: got '%s' with %s", want, data, ch ? "other control data" : "no descriptor");
		return -1;
	}
	memcpy(&got, CMSG_DATA(ch), sizeof(int));
	return got;
}

static int same(int x, int y, const char *what)
{
	struct stat sx, sy;

	if (fstat(x, &sx) || fstat(y, &sy)) {
		fail("fstat %s", what);
		return 0;
	}
	if (sx.st_ino != sy.st_ino) {
		fail("%s: socket:[%lu], want socket:[%lu]", what, (unsigned long)sx.st_ino, (unsigned long)sy.st_ino);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	int x, dd, cc;
	char b[8];

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_DGRAM, 0, c) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, d)) {
		pr_perror("socketpair");
		return 1;
	}
	/* a[1] in its own queue; d[1] in c[1]'s queue, c[1] in d[1]'s, then
	 * d[1] closed: it is only in flight. */
	if (send_fd(a[0], a[1], "self") || send_fd(c[0], d[1], "d1") || send_fd(d[0], c[1], "c1") ||
	    write(d[0], "data", 4) != 4) {
		pr_perror("sendmsg");
		return 1;
	}
	close(d[1]);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	x = recv_fd(a[1], "self");
	if (x < 0 || !same(x, a[1], "the socket passed in its own queue"))
		return 1;
	if (write(a[0], "ping", 4) != 4 || read(x, b, 4) != 4 || memcmp(b, "ping", 4)) {
		fail("the socket passed in its own queue does not read its peer");
		return 1;
	}
	dd = recv_fd(c[1], "d1");
	if (dd < 0)
		return 1;
	cc = recv_fd(dd, "c1");
	if (cc < 0 || !same(cc, c[1], "the socket passed in the queue of the one passed in its queue"))
		return 1;
	if (read(dd, b, sizeof(b)) != 4 || memcmp(b, "data", 4)) {
		fail("the socket only in flight lost its queue");
		return 1;
	}
	if (write(dd, "back", 4) != 4 || read(d[0], b, sizeof(b)) != 4 || memcmp(b, "back", 4)) {
		fail("the socket only in flight is not its peer's any more");
		return 1;
	}
	pass();
	return 0;
}
