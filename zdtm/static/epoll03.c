#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "An epoll with several targets added with one fd number (three with 702, two with 701), "
		       "all but the last of each closed after: each is reported with its own data";

#define N 5

static int ep, rd[N], wr[N];

static void corrupt(void)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, 702, NULL);
}

int main(int argc, char **argv)
{
	static const int num[N] = { 702, 702, 702, 701, 701 };
	static const int keep[N] = { 0, 0, 1, 0, 1 };
	struct epoll_event ev;
	int i, p[2];

	test_init(argc, argv);
	ep = epoll_create1(0);
	if (ep < 0) {
		pr_perror("epoll_create1");
		return 1;
	}
	for (i = 0; i < N; i++) {
		if (pipe(p)) {
			pr_perror("pipe");
			return 1;
		}
		rd[i] = p[0];
		wr[i] = p[1];
		if (dup2(rd[i], num[i]) != num[i]) {
			pr_perror("dup2");
			return 1;
		}
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0x100 + i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, num[i], &ev)) {
			pr_perror("epoll_ctl");
			return 1;
		}
		if (!keep[i])
			close(num[i]);
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	/* One pipe ready at a time: its own target is reported. */
	for (i = 0; i < N; i++) {
		char c = 'x';
		int n;

		if (write(wr[i], &c, 1) != 1) {
			pr_perror("write");
			return 1;
		}
		n = epoll_wait(ep, &ev, 1, 1000);
		if (n != 1 || ev.data.u64 != (uint64_t)(0x100 + i))
			fail("pipe %d: %d ready, data %#llx, want %#x", i, n, (unsigned long long)ev.data.u64, 0x100 + i);
		if (read(rd[i], &c, 1) != 1)
			pr_perror("read");
	}
	/* The ones still open at their numbers are keyed by them. */
	if (epoll_ctl(ep, EPOLL_CTL_DEL, 702, NULL) || epoll_ctl(ep, EPOLL_CTL_DEL, 701, NULL))
		fail("EPOLL_CTL_DEL of 702 and 701: %s", strerror(errno));
	if (!test_failed())
		pass();
	return 0;
}
