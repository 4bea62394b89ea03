#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Listening sockets passed as systemd passes them (SCM_RIGHTS), held by no task: a UNIX "
		       "listener bound to an abstract name and a TCP one on loopback, with a memfd, in an empty "
		       "datagram and an empty seqpacket message (no data, only the descriptors), between messages with data";

static int dg[2], sp[2];
static struct sockaddr_un uaddr;
static socklen_t ulen;
static struct sockaddr_in taddr;

static void corrupt(void)
{
	char b[16];

	recv(dg[0], b, sizeof(b), MSG_DONTWAIT);
}

static int send_fds(int via, int *fds, int n, const char *data)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = {(void *)data, strlen(data)};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			   .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
	struct cmsghdr *ch = CMSG_FIRSTHDR(&h);

	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(ch), fds, sizeof(int) * n);
	return sendmsg(via, &h, 0) == (ssize_t)strlen(data) ? 0 : -1;
}

/* recv_fds reads one message of want from fd; it returns how many
 * descriptors came with it (into fds), -1 on a difference. */
static int recv_fds(const char *what, int fd, const char *want, int *fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)], data[32];
	struct iovec iov = {data, sizeof(data) - 1};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *ch;
	ssize_t n = recvmsg(fd, &h, MSG_DONTWAIT);

	if (n < 0) {
		fail("%s: recvmsg '%s': %s", what, want, strerror(errno));
		return -1;
	}
	data[n] = 0;
	if ((size_t)n != strlen(want) || memcmp(data, want, n)) {
		fail("%s: got %zd bytes '%s', want '%s'", what, n, data, want);
		return -1;
	}
	ch = CMSG_FIRSTHDR(&h);
	if (!ch)
		return 0;
	if (ch->cmsg_type != SCM_RIGHTS) {
		fail("%s: control message of type %d", what, ch->cmsg_type);
		return -1;
	}
	memcpy(fds, CMSG_DATA(ch), ch->cmsg_len - CMSG_LEN(0));
	return (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
}

/* expect reads a message of want with n descriptors from fd. */
static int expect(const char *what, int fd, const char *want, int n, int *fds)
{
	int got = recv_fds(what, fd, want, fds);

	if (got < 0)
		return 1;
	if (got != n) {
		fail("%s: message '%s' with %d descriptors, want %d", what, want, got, n);
		return 1;
	}
	return 0;
}

/* check_passed: fds are the UNIX listener, the TCP listener, the memfd. */
static int check_passed(const char *what, int *fds)
{
	int c, s;
	char b[8];

	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&uaddr, ulen) || write(c, "u", 1) != 1) {
		fail("%s: connect to the UNIX listener: %s", what, strerror(errno));
		return 1;
	}
	s = accept(fds[0], NULL, NULL);
	if (s < 0 || read(s, b, 1) != 1 || b[0] != 'u') {
		fail("%s: accept on the UNIX listener passed: %s", what, strerror(errno));
		return 1;
	}
	close(s);
	close(c);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&taddr, sizeof(taddr)) || write(c, "t", 1) != 1) {
		fail("%s: connect to the TCP listener: %s", what, strerror(errno));
		return 1;
	}
	s = accept(fds[1], NULL, NULL);
	if (s < 0 || read(s, b, 1) != 1 || b[0] != 't') {
		fail("%s: accept on the TCP listener passed: %s", what, strerror(errno));
		return 1;
	}
	close(s);
	close(c);
	if (pread(fds[2], b, 5, 0) != 5 || memcmp(b, "memfd", 5)) {
		fail("%s: the memfd passed lost its data", what);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fds[3], got[4], i, n;
	socklen_t tl = sizeof(taddr);
	struct stat st;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp)) {
		pr_perror("socketpair");
		return 1;
	}
	if (stat("/proc/self/ns/net", &st)) {
		pr_perror("stat");
		return 1;
	}
	memset(&uaddr, 0, sizeof(uaddr));
	uaddr.sun_family = AF_UNIX;
	n = snprintf(uaddr.sun_path + 1, sizeof(uaddr.sun_path) - 1, "zdtm-scm06.%lu.%d", (unsigned long)st.st_ino, getpid());
	ulen = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	fds[0] = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fds[0] < 0 || bind(fds[0], (struct sockaddr *)&uaddr, ulen) || listen(fds[0], 4)) {
		pr_perror("UNIX listener");
		return 1;
	}
	memset(&taddr, 0, sizeof(taddr));
	taddr.sin_family = AF_INET;
	taddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fds[1] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[1] < 0 || bind(fds[1], (struct sockaddr *)&taddr, sizeof(taddr)) || listen(fds[1], 4) ||
	    getsockname(fds[1], (struct sockaddr *)&taddr, &tl)) {
		pr_perror("TCP listener");
		return 1;
	}
	fds[2] = memfd_create("scm06", 0);
	if (fds[2] < 0 || write(fds[2], "memfd", 5) != 5) {
		pr_perror("memfd");
		return 1;
	}
	if (write(dg[1], "before", 6) != 6 || send_fds(dg[1], fds, 3, "") || write(dg[1], "after", 5) != 5 ||
	    write(sp[1], "before", 6) != 6 || send_fds(sp[1], fds, 3, "") || write(sp[1], "after", 5) != 5) {
		pr_perror("send");
		return 1;
	}
	for (i = 0; i < 3; i++)
		close(fds[i]);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (expect("dgram", dg[0], "before", 0, got) || expect("dgram", dg[0], "", 3, got) ||
	    check_passed("dgram", got) || expect("dgram", dg[0], "after", 0, got))
		return 1;
	if (expect("seqpacket", sp[0], "before", 0, got) || expect("seqpacket", sp[0], "", 3, got) ||
	    check_passed("seqpacket", got) || expect("seqpacket", sp[0], "after", 0, got))
		return 1;
	pass();
	return 0;
}
