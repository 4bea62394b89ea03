/* A task with a message queued on a UNIX socketpair that carries what a
 * dump refuses: scmrefuse MODE READYFILE, MODE one of pty (a pty master
 * passed, SCM_RIGHTS, its slave held), flock
 * (a file with a lock passed), creds (the receiver has SO_PASSCRED: the
 * message carries its sender's SCM_CREDENTIALS). What is passed is closed
 * by the sender: it exists only in flight. It says READY in READYFILE;
 * on SIGUSR1 it receives the message and says OK (the message and its
 * descriptor are still there) or BAD. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }

static void say(const char *f, const char *s)
{
	int fd = open(f, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		exit(2);
	write(fd, s, strlen(s));
	close(fd);
}

int main(int argc, char **argv)
{
	int sk[2], fd = -1, one = 1, slave = -1;
	char cbuf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))], c = 'm';
	struct iovec iov = {&c, 1};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *ch;
	struct sigaction sa = {.sa_handler = on_usr1};
	struct stat st;
	char path[64];

	if (argc != 3 || socketpair(AF_UNIX, SOCK_STREAM, 0, sk))
		return 2;
	if (!strcmp(argv[1], "pty")) {
		fd = posix_openpt(O_RDWR | O_NOCTTY);
		if (fd < 0 || grantpt(fd) || unlockpt(fd))
			return 3;
		slave = open(ptsname(fd), O_RDWR | O_NOCTTY);
		if (slave < 0)
			return 3;
	} else if (!strcmp(argv[1], "flock")) {
		snprintf(path, sizeof(path), "/tmp/scmrefuse.%d", getpid());
		fd = open(path, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || flock(fd, LOCK_EX))
			return 3;
		unlink(path);
	} else if (!strcmp(argv[1], "creds")) {
		if (setsockopt(sk[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
			return 3;
	} else {
		return 2;
	}
	if (fd >= 0) {
		h.msg_control = cbuf;
		h.msg_controllen = CMSG_SPACE(sizeof(int));
		ch = CMSG_FIRSTHDR(&h);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	}
	if (sendmsg(sk[0], &h, 0) != 1)
		return 4;
	if (fd >= 0)
		close(fd);
	sigaction(SIGUSR1, &sa, NULL);
	say(argv[2], "READY\n");
	while (!go)
		pause();
	memset(cbuf, 0, sizeof(cbuf));
	h.msg_control = cbuf;
	h.msg_controllen = sizeof(cbuf);
	if (recvmsg(sk[1], &h, MSG_DONTWAIT) != 1 || c != 'm' || !(ch = CMSG_FIRSTHDR(&h))) {
		say(argv[2], "BAD\n");
		return 5;
	}
	if (ch->cmsg_type == SCM_RIGHTS) {
		memcpy(&fd, CMSG_DATA(ch), sizeof(int));
		if (fstat(fd, &st)) {
			say(argv[2], "BAD\n");
			return 5;
		}
	}
	(void)slave;
	say(argv[2], "OK\n");
	return 0;
}
