#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "More kinds of file passed in one queued message (SCM_RIGHTS) and held by no task: a signalfd, "
		       "a timerfd, an inotify with a watch, a UDP socket, a FIFO with data, a netlink socket and a "
		       "directory; each comes back as it was";

enum { SIGFD, TIMERFD, INOTIFY, UDP, FIFO, NETLINK, DIR_FD, N };
static int sk[2];
static char dir[128], fifo[160];

static void corrupt(void)
{
	char b[8];

	recv(sk[1], b, sizeof(b), MSG_DONTWAIT);
}

/* fdinfo_has tells whether /proc/self/fdinfo/fd has a line starting with s. */
static int fdinfo_has(int fd, const char *s)
{
	char p[64], line[256];
	FILE *f;
	int found = 0;

	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	f = fopen(p, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, s, strlen(s)))
			found = 1;
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	int fds[N], got[N], i, nl_pid = 0;
	char cbuf[CMSG_SPACE(sizeof(int) * N)], c = 'x', b[8];
	struct iovec iov = {&c, 1};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *ch;
	struct itimerspec its = {.it_interval = {1000, 0}, .it_value = {1000, 0}}, gits;
	struct sockaddr_in sin = {.sin_family = AF_INET}, gsin;
	struct sockaddr_nl snl = {.nl_family = AF_NETLINK};
	socklen_t l;
	struct stat st, dst;
	sigset_t mask;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sk) || stat("/proc/self/ns/pid", &st)) {
		pr_perror("socketpair");
		return 1;
	}
	/* A fresh name: a pid namespace's inode is reused, and a run that
	 * failed before its cleanup leaves its directory behind. */
	snprintf(dir, sizeof(dir), "/tmp/zdtm-scm08.XXXXXX");
	if (!mkdtemp(dir)) {
		pr_perror("mkdtemp");
		return 1;
	}
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	if (mkfifo(fifo, 0600)) {
		pr_perror("mkdir/mkfifo");
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	fds[SIGFD] = signalfd(-1, &mask, 0);
	fds[TIMERFD] = timerfd_create(CLOCK_MONOTONIC, 0);
	fds[INOTIFY] = inotify_init1(0);
	fds[UDP] = socket(AF_INET, SOCK_DGRAM, 0);
	fds[FIFO] = open(fifo, O_RDWR);
	fds[NETLINK] = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	fds[DIR_FD] = open(dir, O_RDONLY | O_DIRECTORY);
	for (i = 0; i < N; i++)
		if (fds[i] < 0) {
			pr_perror("fd %d", i);
			return 1;
		}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = sizeof(sin);
	if (timerfd_settime(fds[TIMERFD], 0, &its, NULL) || inotify_add_watch(fds[INOTIFY], dir, IN_CREATE) < 0 ||
	    bind(fds[UDP], (struct sockaddr *)&sin, sizeof(sin)) || getsockname(fds[UDP], (struct sockaddr *)&sin, &l) ||
	    write(fds[FIFO], "fifo", 4) != 4 || bind(fds[NETLINK], (struct sockaddr *)&snl, sizeof(snl)) ||
	    fstat(fds[DIR_FD], &dst)) {
		pr_perror("set up");
		return 1;
	}
	l = sizeof(snl);
	if (getsockname(fds[NETLINK], (struct sockaddr *)&snl, &l)) {
		pr_perror("getsockname");
		return 1;
	}
	nl_pid = snl.nl_pid;
	ch = CMSG_FIRSTHDR(&h);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int) * N);
	memcpy(CMSG_DATA(ch), fds, sizeof(int) * N);
	if (sendmsg(sk[0], &h, 0) != 1) {
		pr_perror("sendmsg");
		return 1;
	}
	for (i = 0; i < N; i++)
		close(fds[i]);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	memset(cbuf, 0, sizeof(cbuf));
	if (recvmsg(sk[1], &h, MSG_DONTWAIT) != 1 || !(ch = CMSG_FIRSTHDR(&h)) || ch->cmsg_len != CMSG_LEN(sizeof(int) * N)) {
		fail("the message or its %d descriptors: %s", N, strerror(errno));
		return 1;
	}
	memcpy(got, CMSG_DATA(ch), sizeof(int) * N);
	if (!fdinfo_has(got[SIGFD], "sigmask:\t0000000000000800")) {
		fail("the signalfd lost its mask");
		return 1;
	}
	if (timerfd_gettime(got[TIMERFD], &gits) || gits.it_interval.tv_sec != 1000 || gits.it_value.tv_sec < 900) {
		fail("the timerfd lost its timer");
		return 1;
	}
	if (!fdinfo_has(got[INOTIFY], "inotify wd:")) {
		fail("the inotify lost its watch");
		return 1;
	}
	l = sizeof(gsin);
	if (getsockname(got[UDP], (struct sockaddr *)&gsin, &l) || gsin.sin_port != sin.sin_port) {
		fail("the UDP socket lost its port");
		return 1;
	}
	if (read(got[FIFO], b, 4) != 4 || memcmp(b, "fifo", 4)) {
		fail("the FIFO lost its data");
		return 1;
	}
	l = sizeof(snl);
	if (getsockname(got[NETLINK], (struct sockaddr *)&snl, &l) || (int)snl.nl_pid != nl_pid) {
		fail("the netlink socket lost its port id (%u, want %d)", snl.nl_pid, nl_pid);
		return 1;
	}
	/*
	 * The directory at its path: in the ct flavor /tmp is the
	 * container's own tmpfs, made anew by the restore with new inode
	 * numbers (tmpfs hands them out in per-CPU batches).
	 */
	if (fstat(got[DIR_FD], &st) || stat(dir, &dst) || st.st_ino != dst.st_ino || st.st_dev != dst.st_dev) {
		fail("the directory is another");
		return 1;
	}
	unlink(fifo);
	rmdir(dir);
	pass();
	return 0;
}
