#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "An epoll passed in flight (SCM_RIGHTS) that no task holds any more, watching an eventfd "
		       "the task holds at the number it was added with and a pipe it holds at another number only, "
		       "and an empty epoll with it: received after restore, the first reports both targets with "
		       "their data and shows them by the numbers they were added with; the empty one has none";

static int sk[2], efd, rd, wr, tpipe;

static void corrupt(void)
{
	uint64_t v;

	read(efd, &v, sizeof(v));
}

static int send_two(int a, int b)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 2)], c = 'e';
	struct iovec iov = { &c, 1 };
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch = CMSG_FIRSTHDR(&h);
	int fds[2] = { a, b };

	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(ch), fds, sizeof(fds));
	return sendmsg(sk[0], &h, 0) == 1 ? 0 : -1;
}

static int recv_two(int *fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 2)], c;
	struct iovec iov = { &c, 1 };
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch;

	if (recvmsg(sk[1], &h, MSG_DONTWAIT) != 1)
		return -1;
	ch = CMSG_FIRSTHDR(&h);
	if (!ch || ch->cmsg_type != SCM_RIGHTS || ch->cmsg_len != CMSG_LEN(sizeof(int) * 2))
		return -1;
	memcpy(fds, CMSG_DATA(ch), sizeof(int) * 2);
	return 0;
}

/* shown reports whether fdinfo of ep shows a target added as fd n. */
static int shown(int ep, int n)
{
	char path[64], line[256];
	int got = 0, fd;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "tfd: %d", &fd) == 1 && fd == n)
			got = 1;
	if (f)
		fclose(f);
	return got;
}

int main(int argc, char **argv)
{
	struct epoll_event e, ev[4];
	int ep, empty, p[2], got[2], n, i, seen = 0;
	uint64_t one = 1;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sk) || pipe(p)) {
		pr_perror("socketpair or pipe");
		return 1;
	}
	ep = epoll_create1(0);
	empty = epoll_create1(0);
	efd = eventfd(0, 0);
	if (ep < 0 || empty < 0 || efd < 0) {
		pr_perror("epoll_create1 or eventfd");
		return 1;
	}
	rd = p[0];
	wr = p[1];
	e = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0xe1 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &e)) {
		pr_perror("epoll_ctl");
		return 1;
	}
	e = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0xe2 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, rd, &e)) {
		pr_perror("epoll_ctl");
		return 1;
	}
	/* The pipe's read end is held at another number only. */
	tpipe = rd;
	rd = fcntl(p[0], F_DUPFD, 100);
	close(p[0]);
	if (send_two(ep, empty)) {
		pr_perror("sendmsg");
		return 1;
	}
	close(ep);
	close(empty);
	write(efd, &one, sizeof(one));
	write(wr, "x", 1);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (recv_two(got)) {
		fail("no two epolls received");
		return 1;
	}
	if (!shown(got[0], efd) || !shown(got[0], tpipe))
		fail("the epoll does not show its targets as fds %d and %d", efd, tpipe);
	n = epoll_wait(got[0], ev, 4, 0);
	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == 0xe1 && ev[i].events == EPOLLIN)
			seen |= 1;
		else if (ev[i].data.u64 == 0xe2 && ev[i].events == EPOLLIN)
			seen |= 2;
		else
			fail("unexpected event %#x data %#llx", ev[i].events, (unsigned long long)ev[i].data.u64);
	}
	if (n != 2 || seen != 3)
		fail("%d ready (set %#x), want both targets", n, seen);
	if (epoll_wait(got[1], ev, 4, 0) != 0)
		fail("the empty epoll reports something");
	if (!test_failed())
		pass();
	return 0;
}
