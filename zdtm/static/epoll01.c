#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef EPOLL_KEYS
const char *test_doc = "An epoll keeps targets whose fd was closed (the file still open at another fd) "
		       "or replaced by another file after they were added: they are reported with their "
		       "events and data, and their old fd numbers do not reach them";
#endif

static int ep, moved, kept, other, tclosed, treplaced;

static void corrupt(void)
{
	uint64_t v;

	read(moved, &v, sizeof(v));
}

int main(int argc, char **argv)
{
	struct epoll_event ev[8], e;
	uint64_t one = 1;
	int n, i, seen = 0;

	test_init(argc, argv);
	ep = epoll_create1(0);
	tclosed = eventfd(0, 0);
	treplaced = eventfd(0, 0);
	other = eventfd(0, 0);
	if (ep < 0 || tclosed < 0 || treplaced < 0 || other < 0) {
		pr_perror("setup");
		return 1;
	}
	e = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0x1111 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tclosed, &e)) {
		pr_perror("epoll_ctl");
		return 1;
	}
	e = (struct epoll_event){ .events = EPOLLIN | EPOLLET, .data.u64 = 0x2222 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, treplaced, &e)) {
		pr_perror("epoll_ctl");
		return 1;
	}
	/* The first target is now open at moved only; the second at kept,
	 * its fd number holding another eventfd. */
	moved = fcntl(tclosed, F_DUPFD, 100);
	close(tclosed);
	kept = fcntl(treplaced, F_DUPFD, 100);
	dup2(other, treplaced);
	write(moved, &one, sizeof(one));
	write(kept, &one, sizeof(one));
	write(other, &one, sizeof(one)); /* ready, but not watched */

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	n = epoll_wait(ep, ev, 8, 0);
	if (n != 2)
		fail("%d ready, want 2", n);
	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == 0x1111 && ev[i].events == EPOLLIN)
			seen |= 1;
		else if (ev[i].data.u64 == 0x2222 && ev[i].events == EPOLLIN)
			seen |= 2;
		else
			fail("unexpected event %#x data %#llx", ev[i].events, (unsigned long long)ev[i].data.u64);
	}
	if (seen != 3)
		fail("ready set %#x, want 3", seen);
	/* Edge-triggered: not reported again until written. */
	n = epoll_wait(ep, ev, 8, 0);
	for (i = 0; i < n; i++)
		if (ev[i].data.u64 == 0x2222)
			fail("the replaced target lost EPOLLET");
#ifdef EPOLL_KEYS
	/* The items are keyed by (file, fd number added with): the fds
	 * holding the files now are not in the set, and can be added. */
	e = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0x3333 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, moved, &e))
		fail("EPOLL_CTL_ADD of the fd the closed target is at now: %s (the item was keyed by it)", strerror(errno));
	e.data.u64 = 0x4444;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, kept, &e))
		fail("EPOLL_CTL_ADD of the fd the replaced target is at now: %s (the item was keyed by it)", strerror(errno));
#endif
	/* Neither can be reached through its old number any more. */
	if (epoll_ctl(ep, EPOLL_CTL_DEL, tclosed, NULL) != -1 || errno != EBADF)
		fail("EPOLL_CTL_DEL of the closed fd number: %s, want EBADF", strerror(errno));
	if (epoll_ctl(ep, EPOLL_CTL_DEL, treplaced, NULL) != -1 || errno != ENOENT)
		fail("EPOLL_CTL_DEL of the replaced fd number: %s, want ENOENT", strerror(errno));
	/* Closing the last fd of a file removes it from the set. */
	close(moved);
	n = epoll_wait(ep, ev, 8, 0);
	for (i = 0; i < n; i++)
		if (ev[i].data.u64 == 0x1111 || ev[i].data.u64 == 0x3333)
			fail("the closed target is still watched after its last fd was closed");
	if (!test_failed())
		pass();
	return 0;
}
