#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "fds on /proc/PID files of tasks of the tree (the task's own status, a child's status "
		       "passed to its parent, a thread directory) still show those tasks";

static int self_fd, child_fd, dir_fd;

static void corrupt(void)
{
	dup2(child_fd, self_fd);
}

/* The last pid of the NSpid line read from fd: the task's pid as it sees it. */
static int nspid(int fd)
{
	char buf[4096], *l, *end;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	l = strstr(buf, "\nNSpid:");
	if (!l)
		return -1;
	end = strchr(l + 1, '\n');
	if (end)
		*end = 0;
	l = strrchr(l, '\t');
	return l ? atoi(l + 1) : -1;
}

static int send_fd(int sk, int fd)
{
	char c = 0, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sk, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sk)
{
	char c, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	int fd;

	if (recvmsg(sk, &m, 0) != 1 || !CMSG_FIRSTHDR(&m))
		return -1;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	return fd;
}

int main(int argc, char **argv)
{
	int sk[2], st, fd;
	pid_t child;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sk)) {
		pr_perror("socketpair");
		return 1;
	}
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		fd = open("/proc/self/status", O_RDONLY);
		if (fd < 0 || send_fd(sk[1], fd))
			_exit(1);
		close(fd);
		pause();
		_exit(0);
	}
	child_fd = recv_fd(sk[0]);
	self_fd = open("/proc/self/status", O_RDONLY);
	dir_fd = open("/proc/thread-self", O_RDONLY | O_DIRECTORY);
	if (child_fd < 0 || self_fd < 0 || dir_fd < 0) {
		pr_perror("open the /proc files");
		return 1;
	}
	close(sk[0]);
	close(sk[1]);
	if (nspid(self_fd) != getpid() || nspid(child_fd) != child) {
		pr_err("NSpid %d and %d, want %d and %d\n", nspid(self_fd), nspid(child_fd), getpid(), child);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (nspid(self_fd) != getpid())
		fail("the task's own status shows pid %d, want %d", nspid(self_fd), getpid());
	if (nspid(child_fd) != child)
		fail("the child's status shows pid %d, want %d", nspid(child_fd), child);
	fd = openat(dir_fd, "status", O_RDONLY);
	if (fd < 0 || nspid(fd) != getpid())
		fail("the thread directory's status shows pid %d, want %d", fd < 0 ? -1 : nspid(fd), getpid());
	kill(child, SIGKILL);
	if (waitpid(child, &st, 0) != child)
		fail("waitpid the child: %m");
	pass();
	return 0;
}
