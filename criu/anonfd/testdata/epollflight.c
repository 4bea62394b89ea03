/* An epoll and its only target, an eventfd made ready, both passed in
 * flight (SCM_RIGHTS) and closed by the task: no task holds the target.
 * Writes "ready" to argv[1]; on SIGUSR2 receives them, checks the epoll
 * still reports the target, and writes PASS or FAIL. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr2(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = 9 };
	char cbuf[CMSG_SPACE(sizeof(int) * 2)], c = 'm';
	struct iovec iov = { &c, 1 };
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch = CMSG_FIRSTHDR(&h);
	int sk[2], fds[2];
	uint64_t one = 1;
	FILE *out;

	if (argc < 2 || !(out = fopen(argv[1], "w")))
		return 1;
	setvbuf(out, NULL, _IONBF, 0);
	signal(SIGUSR2, on_usr2);
	fds[0] = epoll_create1(EPOLL_CLOEXEC);
	fds[1] = eventfd(0, EFD_CLOEXEC);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sk) || fds[0] < 0 || fds[1] < 0 ||
	    epoll_ctl(fds[0], EPOLL_CTL_ADD, fds[1], &e) || write(fds[1], &one, sizeof(one)) != sizeof(one)) {
		fprintf(out, "FAIL: setup: %m\n");
		return 1;
	}
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(ch), fds, sizeof(fds));
	if (sendmsg(sk[0], &h, 0) != 1) {
		fprintf(out, "FAIL: sendmsg: %m\n");
		return 1;
	}
	close(fds[0]);
	close(fds[1]);
	fprintf(out, "ready\n");
	while (!go)
		pause();
	h.msg_controllen = sizeof(cbuf);
	if (recvmsg(sk[1], &h, MSG_DONTWAIT) != 1 || !(ch = CMSG_FIRSTHDR(&h))) {
		fprintf(out, "FAIL: recvmsg: %m\n");
		return 1;
	}
	memcpy(fds, CMSG_DATA(ch), sizeof(fds));
	if (epoll_wait(fds[0], &e, 1, 0) != 1 || e.data.u64 != 9) {
		fprintf(out, "FAIL: the epoll does not report its target\n");
		return 1;
	}
	fprintf(out, "PASS\n");
	return 0;
}
