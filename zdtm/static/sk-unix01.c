#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX sockets bound in directories since removed (the socket file "
		       "unlinked, then its directory and the one above): a listener with a "
		       "pending connection and a datagram server with a connected client and a "
		       "queued datagram keep their names and work; the directories stay removed";

static char top[64], dir[80], lpath[100], dpath[100];
static int lsk, lcli, dsk, dcli;

static socklen_t addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
}

static void corrupt(void)
{
	mkdir(top, 0700);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	struct stat st;
	socklen_t l;
	char buf[16];
	int s;

	test_init(argc, argv);
	if (stat("/proc/self/ns/pid", &st)) {
		pr_perror("stat /proc/self/ns/pid");
		return 1;
	}
	snprintf(top, sizeof(top), "/tmp/zdtm-sk-unix01.%lu.%d", (unsigned long)st.st_ino, getpid());
	snprintf(dir, sizeof(dir), "%s/sub", top);
	snprintf(lpath, sizeof(lpath), "%s/listen", dir);
	snprintf(dpath, sizeof(dpath), "%s/dgram", dir);
	if (mkdir(top, 0700) || mkdir(dir, 0755)) {
		pr_perror("mkdir");
		return 1;
	}
	lsk = socket(AF_UNIX, SOCK_STREAM, 0);
	l = addr(&a, lpath);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&a, l) || listen(lsk, 4)) {
		pr_perror("listen");
		return 1;
	}
	lcli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lcli < 0 || connect(lcli, (struct sockaddr *)&a, l)) {
		pr_perror("connect");
		return 1;
	}
	dsk = socket(AF_UNIX, SOCK_DGRAM, 0);
	dcli = socket(AF_UNIX, SOCK_DGRAM, 0);
	l = addr(&a, dpath);
	if (dsk < 0 || dcli < 0 || bind(dsk, (struct sockaddr *)&a, l) || connect(dcli, (struct sockaddr *)&a, l) ||
	    send(dcli, "queued", 6, 0) != 6) {
		pr_perror("dgram");
		return 1;
	}
	if (unlink(lpath) || unlink(dpath) || rmdir(dir) || rmdir(top)) {
		pr_perror("remove");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	l = sizeof(a);
	if (getsockname(lsk, (struct sockaddr *)&a, &l) || strcmp(a.sun_path, lpath))
		fail("the listener lost its name");
	if ((s = accept(lsk, NULL, NULL)) < 0 || write(lcli, "x", 1) != 1 || read(s, buf, 1) != 1)
		fail("the pending connection is lost");
	l = sizeof(a);
	if (getsockname(dsk, (struct sockaddr *)&a, &l) || strcmp(a.sun_path, dpath))
		fail("the datagram server lost its name");
	memset(buf, 0, sizeof(buf));
	if (recv(dsk, buf, sizeof(buf), MSG_DONTWAIT) != 6 || strcmp(buf, "queued"))
		fail("the queued datagram is lost: %s", buf);
	if (send(dcli, "more", 4, 0) != 4 || recv(dsk, buf, sizeof(buf), MSG_DONTWAIT) != 4)
		fail("the datagram client is no longer connected");
	if (access(top, F_OK) == 0 || errno != ENOENT)
		fail("%s is back", top);
	rmdir(top);
	if (!test_failed())
		pass();
	return 0;
}
