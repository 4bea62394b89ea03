#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX sockets that share a path: each datagram client stays connected to "
		       "the server it connected to, though the path was unlinked and bound "
		       "again by another (the newest holding it, or none), and each server "
		       "keeps the datagrams its client queued; each of two listeners bound in "
		       "turn at one path keeps its own connection not yet accepted; a datagram "
		       "socket connected to itself stays so, with its queue";

static char pdg[108], pgh[108], pst[108], pself[108];
/* dgram: srv[i] bound at pdg (0, 1) or pgh (2, 3), cli[i] connected to it. */
static int srv[4], cli[4];
/* stream: lis[i] bound at pst in turn, pend[i] its connection not yet accepted. */
static int lis[2], pend[2];
static int self;

static socklen_t addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
}

static int bound(int type, const char *path)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, path);
	int s = socket(AF_UNIX, type, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, l)) {
		pr_perror("bind %s", path);
		return -1;
	}
	return s;
}

static int dial(int type, const char *path)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, path);
	int s = socket(AF_UNIX, type, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, l)) {
		pr_perror("connect %s", path);
		return -1;
	}
	return s;
}

/* Client 0 connects to the path again: to server 1, which holds it now. */
static void corrupt(void)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, pdg);

	connect(cli[0], (struct sockaddr *)&a, l);
}

/* got reads one datagram or message from s without waiting: want, or a failure. */
static int got(int s, const char *want, const char *what)
{
	char buf[32];
	ssize_t n;

	memset(buf, 0, sizeof(buf));
	n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n)) {
		fail("%s: got %zd bytes \"%s\" (errno %d), want \"%s\"", what, n, n > 0 ? buf : "", errno, want);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char msg[32], what[64];
	struct sockaddr_un a;
	struct stat st;
	socklen_t l;
	int i, s;

	test_init(argc, argv);
	if (stat("/proc/self/ns/pid", &st)) {
		pr_perror("stat /proc/self/ns/pid");
		return 1;
	}
	snprintf(pdg, sizeof(pdg), "/tmp/zdtm-skshared.%lu.%d.dg", (unsigned long)st.st_ino, getpid());
	snprintf(pgh, sizeof(pgh), "/tmp/zdtm-skshared.%lu.%d.gh", (unsigned long)st.st_ino, getpid());
	snprintf(pst, sizeof(pst), "/tmp/zdtm-skshared.%lu.%d.st", (unsigned long)st.st_ino, getpid());
	snprintf(pself, sizeof(pself), "/tmp/zdtm-skshared.%lu.%d.self", (unsigned long)st.st_ino, getpid());
	unlink(pdg);
	unlink(pgh);
	unlink(pst);
	unlink(pself);

	/*
	 * Servers 0 and 1 at pdg in turn (1 holds it), 2 and 3 at pgh in
	 * turn (unlinked after both): each with a client connected and a
	 * datagram from it queued.
	 */
	for (i = 0; i < 4; i++) {
		const char *p = i < 2 ? pdg : pgh;

		if ((srv[i] = bound(SOCK_DGRAM, p)) < 0 || (cli[i] = dial(SOCK_DGRAM, p)) < 0)
			return 1;
		snprintf(msg, sizeof(msg), "queued %d", i);
		if (write(cli[i], msg, strlen(msg)) != (ssize_t)strlen(msg)) {
			pr_perror("write to server %d", i);
			return 1;
		}
		if (i != 1 && unlink(p)) {
			pr_perror("unlink %s", p);
			return 1;
		}
	}

	/* Two listeners at pst in turn, each with a connection not yet accepted. */
	for (i = 0; i < 2; i++) {
		if ((lis[i] = bound(SOCK_STREAM, pst)) < 0 || listen(lis[i], 4)) {
			pr_perror("listen %s", pst);
			return 1;
		}
		if ((pend[i] = dial(SOCK_STREAM, pst)) < 0)
			return 1;
		if (i == 0 && unlink(pst)) {
			pr_perror("unlink %s", pst);
			return 1;
		}
	}

	/* A datagram socket connected to itself, a datagram to itself queued. */
	if ((self = bound(SOCK_DGRAM, pself)) < 0)
		return 1;
	l = addr(&a, pself);
	if (connect(self, (struct sockaddr *)&a, l) || write(self, "to me", 5) != 5) {
		pr_perror("connect %s to itself", pself);
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < 4; i++) {
		snprintf(what, sizeof(what), "server %d's queue", i);
		snprintf(msg, sizeof(msg), "queued %d", i);
		if (got(srv[i], msg, what))
			continue;
		snprintf(msg, sizeof(msg), "after %d", i);
		if (write(cli[i], msg, strlen(msg)) != (ssize_t)strlen(msg)) {
			fail("client %d cannot write to its server (errno %d)", i, errno);
			continue;
		}
		snprintf(what, sizeof(what), "server %d, from its client", i);
		got(srv[i], msg, what);
	}
	for (i = 0; i < 2; i++) {
		s = accept4(lis[i], NULL, NULL, SOCK_NONBLOCK);
		if (s < 0) {
			fail("listener %d has no connection waiting (errno %d)", i, errno);
			continue;
		}
		snprintf(msg, sizeof(msg), "pending %d", i);
		if (write(pend[i], msg, strlen(msg)) != (ssize_t)strlen(msg)) {
			fail("connection %d cannot write (errno %d)", i, errno);
			continue;
		}
		snprintf(what, sizeof(what), "listener %d's connection", i);
		got(s, msg, what);
		close(s);
	}
	got(self, "to me", "the self-connected socket's queue");
	l = sizeof(a);
	memset(&a, 0, sizeof(a));
	if (getpeername(self, (struct sockaddr *)&a, &l) || strcmp(a.sun_path, pself))
		fail("the self-connected socket's peer is \"%s\", not itself", a.sun_path);
	else if (write(self, "again", 5) != 5)
		fail("the self-connected socket cannot write (errno %d)", errno);
	else
		got(self, "again", "the self-connected socket");

	unlink(pdg);
	unlink(pst);
	unlink(pself);
	if (!test_failed())
		pass();
	return 0;
}
