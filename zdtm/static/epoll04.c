#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "An epoll whose target only a child still holds (the parent, which added it, closed it "
		       "after the fork; the child shares the epoll) is restored with its target: the parent's "
		       "epoll reports it with its data, fdinfo shows it by the number it was added with, and the "
		       "child's writes to it reach the parent";

static int ep, target, tnum;
static pid_t child;

static void corrupt(void)
{
	/* An empty epoll in place of the parent's. */
	dup2(epoll_create1(0), ep);
}

/* tfd_shown reports whether fdinfo of ep shows a target added as fd n. */
static int tfd_shown(int n)
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
	int go[2], status, n;
	uint64_t one = 1, v;

	test_init(argc, argv);
	ep = epoll_create1(0);
	target = eventfd(0, EFD_NONBLOCK);
	if (ep < 0 || target < 0 || pipe(go)) {
		pr_perror("setup");
		return 1;
	}
	tnum = target;
	e = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0x4444 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, target, &e)) {
		pr_perror("epoll_ctl");
		return 1;
	}
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		/* Holds the epoll and the target; on a byte from the parent,
		 * makes the target ready. */
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		if (write(target, &one, sizeof(one)) != sizeof(one))
			_exit(2);
		/* Holds the target until the parent is done (EOF). */
		while (read(go[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(go[0]);
	close(target); /* only the child holds it now */

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!tfd_shown(tnum))
		fail("fdinfo shows no target added as fd %d", tnum);
	n = epoll_wait(ep, ev, 4, 0);
	if (n != 0)
		fail("%d ready before the child wrote, want 0", n);
	if (write(go[1], "x", 1) != 1) {
		fail("write to the child");
		return 1;
	}
	n = epoll_wait(ep, ev, 4, 5000);
	if (n != 1 || ev[0].data.u64 != 0x4444 || ev[0].events != EPOLLIN)
		fail("after the child's write: %d ready (data %#llx), want the target's 0x4444", n,
		     n > 0 ? (unsigned long long)ev[0].data.u64 : 0ULL);
	close(go[1]);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child failed (status %#x)", status);
	/* The target is not at its old number in the parent. */
	if (read(tnum, &v, sizeof(v)) != -1 || errno != EBADF)
		fail("fd %d reaches a file in the parent", tnum);
	if (!test_failed())
		pass();
	return 0;
}
