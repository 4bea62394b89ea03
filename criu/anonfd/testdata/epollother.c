/* A parent whose epoll target only its child holds: the parent added an
 * eventfd, forked, closed it and opened another eventfd at its number.
 * Writes "ready" to argv[1]; on SIGUSR2 has the child make the target
 * ready, checks the parent's epoll reports it, and writes PASS or FAIL. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr2(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = 7 };
	int ep, target, other, p[2], status;
	uint64_t one = 1;
	FILE *out;
	pid_t child;
	char c;

	if (argc < 2 || !(out = fopen(argv[1], "w")))
		return 1;
	setvbuf(out, NULL, _IONBF, 0);
	signal(SIGUSR2, on_usr2);
	ep = epoll_create1(EPOLL_CLOEXEC);
	target = eventfd(0, EFD_CLOEXEC);
	if (ep < 0 || target < 0 || pipe(p) || epoll_ctl(ep, EPOLL_CTL_ADD, target, &e)) {
		fprintf(out, "FAIL: setup: %m\n");
		return 1;
	}
	child = fork();
	if (child == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1 || write(target, &one, sizeof(one)) != sizeof(one))
			_exit(1);
		while (read(p[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	close(target);
	other = eventfd(0, EFD_CLOEXEC); /* at the target's number */
	if (other != target) {
		fprintf(out, "FAIL: the other eventfd is at %d, not %d\n", other, target);
		return 1;
	}
	fprintf(out, "ready\n");
	while (!go)
		pause();
	if (write(p[1], "x", 1) != 1 || epoll_wait(ep, &e, 1, 5000) != 1 || e.data.u64 != 7) {
		fprintf(out, "FAIL: the child's target is not reported\n");
		return 1;
	}
	close(p[1]);
	if (waitpid(child, &status, 0) != child || status) {
		fprintf(out, "FAIL: child status %#x\n", status);
		return 1;
	}
	fprintf(out, "PASS\n");
	return 0;
}
