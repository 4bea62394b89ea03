#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Datagrams with descriptors (SCM_RIGHTS) queued on a bound UNIX socket from several senders "
		       "(bound, unbound, bound and since closed) come back in order, each from its sender's name "
		       "and with its own pipe end";

#define NM 6
static int srv, cli[3], pipes[NM][2];
static struct sockaddr_un saddr, caddr[3];
static socklen_t slen, clen[3];
static const int from[NM] = {0, 1, 2, 0, 2, 1};

static socklen_t name(struct sockaddr_un *a, const char *fmt, unsigned long ino, int i)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), fmt, ino, getpid(), i);
	return offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

static void corrupt(void)
{
	char b[8];

	recv(srv, b, sizeof(b), MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
	char cbuf[CMSG_SPACE(sizeof(int))], data[16], want[16], b[16];
	struct iovec iov;
	struct msghdr h;
	struct cmsghdr *ch;
	struct sockaddr_un got;
	struct stat st;
	int i, fd;
	ssize_t n;

	test_init(argc, argv);
	if (stat("/proc/self/ns/net", &st)) {
		pr_perror("stat");
		return 1;
	}
	slen = name(&saddr, "/tmp/zdtm-scm07.%lu.%d.srv%d", st.st_ino, 0);
	unlink(saddr.sun_path);
	srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&saddr, slen)) {
		pr_perror("bind server");
		return 1;
	}
	for (i = 0; i < 3; i++) {
		cli[i] = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (cli[i] < 0) {
			pr_perror("socket");
			return 1;
		}
		if (i == 1)
			continue; /* unbound */
		clen[i] = name(&caddr[i], "/tmp/zdtm-scm07.%lu.%d.cli%d", st.st_ino, i);
		unlink(caddr[i].sun_path);
		if (bind(cli[i], (struct sockaddr *)&caddr[i], clen[i])) {
			pr_perror("bind client");
			return 1;
		}
	}
	for (i = 0; i < NM; i++) {
		if (pipe(pipes[i]) || write(pipes[i][1], want, snprintf(want, sizeof(want), "pipe%d", i)) != 5) {
			pr_perror("pipe");
			return 1;
		}
		snprintf(data, sizeof(data), "msg%d", i);
		iov = (struct iovec){data, strlen(data)};
		h = (struct msghdr){.msg_name = &saddr, .msg_namelen = slen, .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		ch = CMSG_FIRSTHDR(&h);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &pipes[i][0], sizeof(int));
		if (sendmsg(cli[from[i]], &h, 0) != (ssize_t)strlen(data)) {
			pr_perror("sendmsg %d", i);
			return 1;
		}
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	/* Client 2 is gone, its file too: restore sends from its name. */
	close(cli[2]);
	unlink(caddr[2].sun_path);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < NM; i++) {
		socklen_t gl = sizeof(got);

		memset(cbuf, 0, sizeof(cbuf));
		memset(&got, 0, sizeof(got));
		iov = (struct iovec){data, sizeof(data) - 1};
		h = (struct msghdr){.msg_name = &got, .msg_namelen = gl, .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		n = recvmsg(srv, &h, MSG_DONTWAIT);
		if (n < 0) {
			fail("message %d: %s", i, strerror(errno));
			return 1;
		}
		data[n] = 0;
		snprintf(want, sizeof(want), "msg%d", i);
		if (strcmp(data, want)) {
			fail("message %d: '%s', want '%s'", i, data, want);
			return 1;
		}
		if (from[i] == 1 ? h.msg_namelen > offsetof(struct sockaddr_un, sun_path)
				 : strcmp(got.sun_path, caddr[from[i]].sun_path)) {
			fail("message %d: from '%s', want '%s'", i, got.sun_path, from[i] == 1 ? "" : caddr[from[i]].sun_path);
			return 1;
		}
		ch = CMSG_FIRSTHDR(&h);
		if (!ch || ch->cmsg_type != SCM_RIGHTS) {
			fail("message %d: no descriptor", i);
			return 1;
		}
		memcpy(&fd, CMSG_DATA(ch), sizeof(int));
		snprintf(want, sizeof(want), "pipe%d", i);
		if (read(fd, b, 5) != 5 || memcmp(b, want, 5)) {
			fail("message %d: its pipe lost its data", i);
			return 1;
		}
		close(fd);
	}
	if (recv(srv, b, sizeof(b), MSG_DONTWAIT) >= 0 || errno != EAGAIN) {
		fail("more queued than was sent");
		return 1;
	}
	unlink(saddr.sun_path);
	unlink(caddr[0].sun_path);
	pass();
	return 0;
}
