#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX sockets bound to relative paths (bind after chdir, the task's cwd "
		       "moved since): a stream listener with a connection accepted (data queued both "
		       "ways) and one not yet accepted, a datagram socket under a subdirectory with a "
		       "datagram queued from a relative-named sender connected to it, a listener whose "
		       "relative file was deleted; after restore "
		       "each keeps its relative name (getsockname, getpeername, recvfrom), and a new "
		       "client reaches the listener by its file";

static int lst, acc, cli, pend, srv, snd, gone;
static char dir[PATH_MAX];

static socklen_t addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
}

/* name checks that the socket's own (or, with peer, its peer's) name is want. */
static int name(int fd, int peer, const char *want, const char *what)
{
	struct sockaddr_un a;
	socklen_t al = sizeof(a);
	int r = peer ? getpeername(fd, (struct sockaddr *)&a, &al) : getsockname(fd, (struct sockaddr *)&a, &al);

	if (r || al <= offsetof(struct sockaddr_un, sun_path) || strcmp(a.sun_path, want)) {
		fail("%s: name %.*s, want %s", what, r ? 0 : (int)(al - offsetof(struct sockaddr_un, sun_path)),
		     a.sun_path, want);
		return 1;
	}
	return 0;
}

static void corrupt(void)
{
	char buf[16];

	/* The queued datagram is gone. */
	recv(srv, buf, sizeof(buf), MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	socklen_t al;
	char buf[64], path[PATH_MAX + 16];
	int n, nc;

	test_init(argc, argv);
	if (!getcwd(dir, sizeof(dir) - 8)) {
		pr_perror("getcwd");
		return 1;
	}
	strcat(dir, "/skrel");
	if ((mkdir(dir, 0755) && errno != EEXIST) || chdir(dir) || (mkdir("sub", 0755) && errno != EEXIST)) {
		pr_perror("mkdir %s", dir);
		return 1;
	}
	unlink("rel.sock");
	unlink("sub/dgram.sock");
	unlink("cli.sock");

	lst = socket(AF_UNIX, SOCK_STREAM, 0);
	al = addr(&a, "rel.sock");
	if (lst < 0 || bind(lst, (struct sockaddr *)&a, al) || listen(lst, 4)) {
		pr_perror("listen rel.sock");
		return 1;
	}
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	pend = socket(AF_UNIX, SOCK_STREAM, 0);
	if (cli < 0 || pend < 0 || connect(cli, (struct sockaddr *)&a, al) ||
	    (acc = accept(lst, NULL, NULL)) < 0 || connect(pend, (struct sockaddr *)&a, al)) {
		pr_perror("connect rel.sock");
		return 1;
	}
	if (write(cli, "to-srv", 6) != 6 || write(acc, "to-cli", 6) != 6) {
		pr_perror("write");
		return 1;
	}

	srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	snd = socket(AF_UNIX, SOCK_DGRAM, 0);
	al = addr(&a, "sub/dgram.sock");
	if (srv < 0 || snd < 0 || bind(srv, (struct sockaddr *)&a, al)) {
		pr_perror("bind sub/dgram.sock");
		return 1;
	}
	if (connect(snd, (struct sockaddr *)&a, al)) {
		pr_perror("connect sub/dgram.sock");
		return 1;
	}
	al = addr(&a, "cli.sock");
	if (bind(snd, (struct sockaddr *)&a, al) || send(snd, "dgram", 5, 0) != 5) {
		pr_perror("bind cli.sock and send");
		return 1;
	}
	gone = socket(AF_UNIX, SOCK_STREAM, 0);
	al = addr(&a, "gone.sock");
	if (gone < 0 || bind(gone, (struct sockaddr *)&a, al) || listen(gone, 1) || unlink("gone.sock")) {
		pr_perror("listen gone.sock");
		return 1;
	}
	/* The task's cwd is no longer the names' directory. */
	if (chdir("/")) {
		pr_perror("chdir /");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (name(lst, 0, "rel.sock", "listener") || name(acc, 0, "rel.sock", "accepted") ||
	    name(cli, 1, "rel.sock", "client's peer") || name(pend, 1, "rel.sock", "pending client's peer") ||
	    name(srv, 0, "sub/dgram.sock", "datagram socket") || name(snd, 0, "cli.sock", "datagram sender") ||
	    name(snd, 1, "sub/dgram.sock", "datagram sender's peer") || name(gone, 0, "gone.sock", "deleted listener"))
		return 1;
	snprintf(path, sizeof(path), "%s/gone.sock", dir);
	if (!access(path, F_OK)) {
		fail("the deleted listener's file is back");
		return 1;
	}
	if (read(acc, buf, sizeof(buf)) != 6 || memcmp(buf, "to-srv", 6) || read(cli, buf, sizeof(buf)) != 6 ||
	    memcmp(buf, "to-cli", 6)) {
		fail("the accepted connection lost its data");
		return 1;
	}
	al = sizeof(a);
	memset(&a, 0, sizeof(a));
	n = recvfrom(srv, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&a, &al);
	if (n != 5 || memcmp(buf, "dgram", 5) || strcmp(a.sun_path, "cli.sock")) {
		fail("the queued datagram: %d bytes from %s", n, n < 0 ? "-" : a.sun_path);
		return 1;
	}
	if (send(snd, "again", 5, 0) != 5 || recv(srv, buf, sizeof(buf), MSG_DONTWAIT) != 5) {
		fail("the datagram sender no longer reaches its peer: %m");
		return 1;
	}
	nc = accept(lst, NULL, NULL);
	if (nc < 0 || write(pend, "p", 1) != 1 || read(nc, buf, 1) != 1) {
		fail("the pending connection: %m");
		return 1;
	}
	close(nc);
	/* A new client, by the file's absolute path. */
	snprintf(path, sizeof(path), "%s/rel.sock", dir);
	nc = socket(AF_UNIX, SOCK_STREAM, 0);
	al = addr(&a, path);
	if (nc < 0 || connect(nc, (struct sockaddr *)&a, al) || write(nc, "n", 1) != 1) {
		fail("connect %s after restore: %m", path);
		return 1;
	}
	n = accept(lst, NULL, NULL);
	if (n < 0 || read(n, buf, 1) != 1 || buf[0] != 'n') {
		fail("the new connection: %m");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/rel.sock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cli.sock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub/dgram.sock", dir);
	unlink(path);
	pass();
	return 0;
}
