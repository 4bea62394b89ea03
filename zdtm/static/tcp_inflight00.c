#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A TCP listener with a connection not yet accepted (its client gone "
		       "from the tree) is dumped with --skip-in-flight: the connection is "
		       "dropped, the listener keeps its port and accepts a new one (without "
		       "C/R, the connection is still there: the listener's inode tells)";

static int l;
static unsigned short port;
static ino_t ino;

static ino_t inode(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

static int dial(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int c;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a))) {
		pr_perror("connect");
		return -1;
	}
	return c;
}

/* A connection left in the accept queue after the restore. */
static void corrupt(void)
{
	close(dial());
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	char b[2];
	int c, s;

	test_init(argc, argv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&a, &al)) {
		pr_perror("listen");
		return 1;
	}
	port = ntohs(a.sin_port);
	ino = inode(l);
	/* Connected, then closed: the connection waits in the accept queue
	 * and no fd of the tree holds its client. */
	c = dial();
	if (c < 0)
		return 1;
	close(c);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	/* Not restored (the same socket): the one connection waits. */
	if (inode(l) == ino) {
		s = accept(l, NULL, NULL);
		if (s < 0)
			fail("without C/R, the connection not yet accepted is gone: %m");
		close(s);
	}
	s = accept(l, NULL, NULL);
	if (s >= 0)
		fail("a connection not yet accepted survived the dump");
	else if (errno != EAGAIN)
		fail("accept: %m");
	c = dial();
	if (c < 0) {
		fail("connect after restore");
		return 1;
	}
	fcntl(l, F_SETFL, 0);
	s = accept(l, NULL, NULL);
	if (s < 0 || write(c, "ok", 2) != 2 || read(s, b, 2) != 2)
		fail("accept after restore: %m");
	if (!test_failed())
		pass();
	return 0;
}
