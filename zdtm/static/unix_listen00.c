#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX sockets bound to a path and to an abstract name: listeners keep "
		       "their names and accept new clients; an accepted connection and its "
		       "client keep their queued data and names; a datagram client stays "
		       "connected to its server with its datagrams queued";

static char path[108], dpath[108];
static char abstract[64]; /* "\0zdtm-unix-listen00.ID", abstract_len bytes */
static size_t abstract_len;
static int lsk, alsk, srv, cli, dsrv, dcli;

static socklen_t addr(struct sockaddr_un *a, const char *name, size_t len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, name, len);
	return offsetof(struct sockaddr_un, sun_path) + len;
}

static void corrupt(void)
{
	close(alsk);
}

static int connect_to(const char *name, size_t len)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, len);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, l)) {
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

static int check_listener(int l, const char *name, size_t len)
{
	char buf[8];
	int c, a;

	c = connect_to(name, len);
	if (c < 0) {
		fail("connect to listener %s: %m", name[0] ? name : name + 1);
		return 1;
	}
	a = accept(l, NULL, NULL);
	if (a < 0 || write(c, "hi", 2) != 2 || read(a, buf, 2) != 2 || memcmp(buf, "hi", 2)) {
		fail("listener %s does not accept", name[0] ? name : name + 1);
		return 1;
	}
	close(a);
	close(c);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	socklen_t l;
	char buf[256];
	struct stat st;
	int i;

	test_init(argc, argv);
	/*
	 * Names unique on the host while we run, also in the ns flavor (where
	 * every test is pid 1): our pid and our pid namespace's inode.
	 */
	if (stat("/proc/self/ns/pid", &st)) {
		pr_perror("stat /proc/self/ns/pid");
		return 1;
	}
	snprintf(path, sizeof(path), "/tmp/zdtm-unix-listen00.%lu.%d", (unsigned long)st.st_ino, getpid());
	snprintf(dpath, sizeof(dpath), "/tmp/zdtm-unix-dgram00.%lu.%d", (unsigned long)st.st_ino, getpid());
	abstract_len = 1 + snprintf(abstract + 1, sizeof(abstract) - 1, "zdtm-unix-listen00.%lu.%d",
				    (unsigned long)st.st_ino, getpid());
	unlink(path);
	unlink(dpath);

	lsk = socket(AF_UNIX, SOCK_STREAM, 0);
	l = addr(&a, path, strlen(path));
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&a, l) || listen(lsk, 7)) {
		pr_perror("listen on %s", path);
		return 1;
	}
	chmod(path, 0640);
	alsk = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	l = addr(&a, abstract, abstract_len);
	if (alsk < 0 || bind(alsk, (struct sockaddr *)&a, l) || listen(alsk, 3)) {
		pr_perror("listen on an abstract name");
		return 1;
	}
	cli = connect_to(path, strlen(path));
	srv = accept(lsk, NULL, NULL);
	if (cli < 0 || srv < 0) {
		pr_perror("connect/accept");
		return 1;
	}
	write(cli, "to server", 9);
	write(srv, "to client!", 10);

	dsrv = socket(AF_UNIX, SOCK_DGRAM, 0);
	l = addr(&a, dpath, strlen(dpath));
	if (dsrv < 0 || bind(dsrv, (struct sockaddr *)&a, l)) {
		pr_perror("bind %s", dpath);
		return 1;
	}
	dcli = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (dcli < 0 || connect(dcli, (struct sockaddr *)&a, l)) {
		pr_perror("connect %s", dpath);
		return 1;
	}
	for (i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "datagram %d", i);
		send(dcli, buf, strlen(buf), 0);
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	/* The queued data, both ways. */
	memset(buf, 0, sizeof(buf));
	if (recv(srv, buf, sizeof(buf), MSG_DONTWAIT) != 9 || memcmp(buf, "to server", 9))
		fail("server side got %s", buf);
	memset(buf, 0, sizeof(buf));
	if (recv(cli, buf, sizeof(buf), MSG_DONTWAIT) != 10 || memcmp(buf, "to client!", 10))
		fail("client side got %s", buf);
	if (write(srv, "x", 1) != 1 || read(cli, buf, 1) != 1 || buf[0] != 'x')
		fail("the accepted connection is broken");
	/* Names: the accepted socket carries the listener's. */
	l = sizeof(a);
	if (getsockname(lsk, (struct sockaddr *)&a, &l) || strcmp(a.sun_path, path))
		fail("listener name %s, want %s", a.sun_path, path);
	l = sizeof(a);
	if (getsockname(srv, (struct sockaddr *)&a, &l) || strcmp(a.sun_path, path))
		fail("accepted socket name %s, want %s", a.sun_path, path);
	l = sizeof(a);
	if (getpeername(cli, (struct sockaddr *)&a, &l) || strcmp(a.sun_path, path))
		fail("client's peer name %s, want %s", a.sun_path, path);
	l = sizeof(a);
	if (getsockname(alsk, (struct sockaddr *)&a, &l) || l != offsetof(struct sockaddr_un, sun_path) + abstract_len ||
	    memcmp(a.sun_path, abstract, abstract_len))
		fail("abstract listener lost its name");
	if (!(fcntl(alsk, F_GETFL) & O_NONBLOCK))
		fail("abstract listener lost O_NONBLOCK");
	if (stat(path, &st) || !S_ISSOCK(st.st_mode) || (st.st_mode & 0777) != 0640)
		fail("socket file %s: mode %o", path, st.st_mode);
	if (!test_failed()) {
		check_listener(lsk, path, strlen(path));
		check_listener(alsk, abstract, abstract_len);
	}
	/* Datagrams in order, then the client still reaches the server. */
	for (i = 0; i < 3 && !test_failed(); i++) {
		char want[32];
		ssize_t n;

		snprintf(want, sizeof(want), "datagram %d", i);
		memset(buf, 0, sizeof(buf));
		n = recv(dsrv, buf, sizeof(buf), MSG_DONTWAIT);
		if (n != (ssize_t)strlen(want) || strcmp(buf, want))
			fail("datagram %d: got %zd bytes %s", i, n, buf);
	}
	if (send(dcli, "more", 4, 0) != 4 || recv(dsrv, buf, sizeof(buf), MSG_DONTWAIT) != 4)
		fail("the datagram client is not connected to its server");
	unlink(path);
	unlink(dpath);
	if (!test_failed())
		pass();
	return 0;
}
