#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX datagram sockets: a bound server with datagrams queued from "
		       "several senders (connected or not, bound or not, one since closed and "
		       "its file removed) keeps them in order with each sender's address; connected clients stay connected; a server "
		       "whose file was deleted keeps its queue, its clients and no file; a "
		       "socketpair end whose peer closed keeps what the peer sent; a socket "
		       "connected to one that is not connected back keeps more datagrams from "
		       "it than a receive queue takes from others";

static char spath[108], bpath[108], gpath[108], dpath[108], rpath[108], ppath[108];
static int rsk, psk;
#define NP 20
static int srv, c_unb, c_bnd, c_free, gsrv, gcli, orphan;

static int c_gone;

#define NR 7
static const struct {
	int *from;
	const char *msg;
} q[NR] = {
	{&c_unb, "one"},  {&c_bnd, "two"}, {&c_free, "three"}, {&c_unb, "four"},
	{&c_free, "five"}, {&c_bnd, "six"}, {&c_gone, "seven"},
};

static socklen_t addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
}

static int bound(const char *path)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, path);
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);

	unlink(path);
	if (s < 0 || bind(s, (struct sockaddr *)&a, l)) {
		pr_perror("bind %s", path);
		return -1;
	}
	return s;
}

static void corrupt(void)
{
	char b[16];

	recv(srv, b, sizeof(b), MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a, from;
	socklen_t l, fl;
	struct stat st;
	char buf[64];
	int i, p[2];

	test_init(argc, argv);
	if (stat("/proc/self/ns/pid", &st)) {
		pr_perror("stat /proc/self/ns/pid");
		return 1;
	}
	snprintf(spath, sizeof(spath), "/tmp/zdtm-sockets_dgram.%lu.%d.srv", (unsigned long)st.st_ino, getpid());
	snprintf(bpath, sizeof(bpath), "/tmp/zdtm-sockets_dgram.%lu.%d.cli", (unsigned long)st.st_ino, getpid());
	snprintf(dpath, sizeof(dpath), "/tmp/zdtm-sockets_dgram.%lu.%d.gone", (unsigned long)st.st_ino, getpid());
	snprintf(rpath, sizeof(rpath), "/tmp/zdtm-sockets_dgram.%lu.%d.r", (unsigned long)st.st_ino, getpid());
	snprintf(ppath, sizeof(ppath), "/tmp/zdtm-sockets_dgram.%lu.%d.p", (unsigned long)st.st_ino, getpid());
	snprintf(gpath, sizeof(gpath), "/tmp/zdtm-sockets_dgram.%lu.%d.ghost", (unsigned long)st.st_ino, getpid());

	srv = bound(spath);
	c_bnd = bound(bpath);
	c_unb = socket(AF_UNIX, SOCK_DGRAM, 0);
	c_free = socket(AF_UNIX, SOCK_DGRAM, 0);
	c_gone = bound(dpath);
	l = addr(&a, spath);
	if (srv < 0 || c_bnd < 0 || c_unb < 0 || c_free < 0 || connect(c_unb, (struct sockaddr *)&a, l) ||
	    connect(c_bnd, (struct sockaddr *)&a, l)) {
		pr_perror("connect");
		return 1;
	}
	for (i = 0; i < NR; i++)
		if (sendto(*q[i].from, q[i].msg, strlen(q[i].msg), 0,
			   *q[i].from == c_free || *q[i].from == c_gone ? (struct sockaddr *)&a : NULL,
			   *q[i].from == c_free || *q[i].from == c_gone ? l : 0) < 0) {
			pr_perror("send %s", q[i].msg);
			return 1;
		}
	close(c_gone);
	unlink(dpath);

	/* A server whose file is gone, with a connected client and a queue. */
	gsrv = bound(gpath);
	gcli = socket(AF_UNIX, SOCK_DGRAM, 0);
	l = addr(&a, gpath);
	if (gsrv < 0 || gcli < 0 || connect(gcli, (struct sockaddr *)&a, l) || send(gcli, "ghost", 5, 0) != 5) {
		pr_perror("ghost");
		return 1;
	}
	unlink(gpath);

	/* rsk connects to psk, which sends NP datagrams back. */
	rsk = bound(rpath);
	psk = bound(ppath);
	l = addr(&a, ppath);
	if (rsk < 0 || psk < 0 || connect(rsk, (struct sockaddr *)&a, l)) {
		pr_perror("connect to %s", ppath);
		return 1;
	}
	l = addr(&a, rpath);
	for (i = 0; i < NP; i++) {
		snprintf(buf, sizeof(buf), "reply %d", i);
		if (sendto(psk, buf, strlen(buf), 0, (struct sockaddr *)&a, l) < 0) {
			pr_perror("sendto %s", rpath);
			return 1;
		}
	}

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, p) || send(p[1], "last words", 10, 0) != 10) {
		pr_perror("socketpair");
		return 1;
	}
	close(p[1]);
	orphan = p[0];

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < NR && !test_failed(); i++) {
		ssize_t n;
		const char *want_from = *q[i].from == c_bnd ? bpath : *q[i].from == c_gone ? dpath : "";

		memset(buf, 0, sizeof(buf));
		fl = sizeof(from);
		memset(&from, 0, sizeof(from));
		n = recvfrom(srv, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n != (ssize_t)strlen(q[i].msg) || strcmp(buf, q[i].msg)) {
			fail("datagram %d: got %zd bytes \"%s\", want \"%s\"", i, n, buf, q[i].msg);
			break;
		}
		if (fl > sizeof(sa_family_t) ? strcmp(from.sun_path, want_from) : want_from[0] != 0)
			fail("datagram %d (\"%s\"): sender \"%s\", want \"%s\"", i, buf, fl > sizeof(sa_family_t) ? from.sun_path : "", want_from);
	}
	if (recv(srv, buf, sizeof(buf), MSG_DONTWAIT) != -1)
		fail("a datagram too many");
	if (send(c_unb, "again", 5, 0) != 5 || send(c_bnd, "again", 5, 0) != 5 ||
	    recv(srv, buf, sizeof(buf), MSG_DONTWAIT) != 5 || recv(srv, buf, sizeof(buf), MSG_DONTWAIT) != 5)
		fail("the clients are no longer connected to the server");

	memset(buf, 0, sizeof(buf));
	if (recv(gsrv, buf, sizeof(buf), MSG_DONTWAIT) != 5 || strcmp(buf, "ghost"))
		fail("the deleted server lost its queue: %s", buf);
	if (send(gcli, "more", 4, 0) != 4 || recv(gsrv, buf, sizeof(buf), MSG_DONTWAIT) != 4)
		fail("the deleted server's client is not connected");
	if (access(gpath, F_OK) == 0 || errno != ENOENT)
		fail("the deleted server's file is back");
	if (access(dpath, F_OK) == 0 || errno != ENOENT)
		fail("the closed sender's file is back");
	l = sizeof(a);
	if (getsockname(gsrv, (struct sockaddr *)&a, &l) || strcmp(a.sun_path, gpath))
		fail("the deleted server lost its name");

	memset(buf, 0, sizeof(buf));
	if (recv(orphan, buf, sizeof(buf), MSG_DONTWAIT) != 10 || strcmp(buf, "last words"))
		fail("the socketpair end whose peer closed lost its queue: %s", buf);

	for (i = 0; i < NP && !test_failed(); i++) {
		char want[32];

		snprintf(want, sizeof(want), "reply %d", i);
		memset(buf, 0, sizeof(buf));
		if (recv(rsk, buf, sizeof(buf), MSG_DONTWAIT) != (ssize_t)strlen(want) || strcmp(buf, want))
			fail("reply %d: got \"%s\"", i, buf);
	}
	if (send(rsk, "to p", 4, 0) != 4 || recv(psk, buf, sizeof(buf), MSG_DONTWAIT) != 4)
		fail("the socket is no longer connected to its peer");

	unlink(spath);
	unlink(bpath);
	unlink(rpath);
	unlink(ppath);
	if (!test_failed())
		pass();
	return 0;
}
