#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "An epoll keeps its watched fds with their events and data; "
		       "ready ones are reported, the others are not, and they can be "
		       "modified and removed by fd number";

static int ep, efd, p[2], sk[2], idle;

static void corrupt(void)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL);
}

static int add(int fd, uint32_t ev, uint64_t data)
{
	struct epoll_event e = {.events = ev, .data.u64 = data};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

int main(int argc, char **argv)
{
	struct epoll_event ev[8];
	uint64_t one = 1;
	int n, i, seen = 0;

	test_init(argc, argv);
	ep = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, 0);
	idle = eventfd(0, 0);
	if (ep < 0 || efd < 0 || idle < 0 || pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, sk)) {
		pr_perror("setup");
		return 1;
	}
	if (add(efd, EPOLLIN, 0x1111222233334444ULL) || add(p[0], EPOLLIN | EPOLLET, 0xabc) ||
	    add(sk[1], EPOLLIN | EPOLLRDHUP, 77) || add(idle, EPOLLIN, 5)) {
		pr_perror("epoll_ctl");
		return 1;
	}
	write(efd, &one, sizeof(one));
	write(p[1], "x", 1);
	send(sk[0], "y", 1, 0);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!(fcntl(ep, F_GETFD) & FD_CLOEXEC))
		fail("epoll lost FD_CLOEXEC");
	n = epoll_wait(ep, ev, 8, 0);
	if (n != 3)
		fail("%d ready, want 3", n);
	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == 0x1111222233334444ULL && ev[i].events == EPOLLIN)
			seen |= 1;
		else if (ev[i].data.u64 == 0xabc && ev[i].events == EPOLLIN)
			seen |= 2;
		else if (ev[i].data.u64 == 77 && ev[i].events == EPOLLIN)
			seen |= 4;
		else
			fail("unexpected event %#x data %#llx", ev[i].events, (unsigned long long)ev[i].data.u64);
	}
	if (seen != 7)
		fail("ready set %#x, want 7", seen);
	/* Edge-triggered: the pipe is not reported again until new data. */
	n = epoll_wait(ep, ev, 8, 0);
	for (i = 0; i < n; i++)
		if (ev[i].data.u64 == 0xabc)
			fail("the pipe lost EPOLLET");
	/* The items are keyed by these fd numbers. */
	if (epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL) || epoll_ctl(ep, EPOLL_CTL_DEL, idle, NULL))
		fail("EPOLL_CTL_DEL by fd number: %m");
	close(sk[0]);
	n = epoll_wait(ep, ev, 8, 0);
	for (i = 0; i < n; i++)
		if (ev[i].data.u64 == 77 && !(ev[i].events & EPOLLRDHUP))
			fail("the socket lost EPOLLRDHUP (%#x)", ev[i].events);
	if (!test_failed())
		pass();
	return 0;
}
