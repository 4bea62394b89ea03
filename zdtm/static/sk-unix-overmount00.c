#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A UNIX stream listener bound in a directory that a tmpfs was mounted over since, with "
		       "a connection accepted (data queued): after restore the listener keeps its name, the "
		       "tmpfs has no file of it, and once the tmpfs is unmounted a new client reaches the "
		       "listener by its path (it is bound on the covered file)";

static int lst, acc, cli;
static char dir[PATH_MAX], path[PATH_MAX + 8];

static socklen_t addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
}

static void corrupt(void)
{
	char buf[16];

	/* The queued data is gone. */
	recv(acc, buf, sizeof(buf), MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	socklen_t al;
	struct stat st;
	char buf[16];
	int nc, n;

	test_init(argc, argv);
	if (!getcwd(dir, sizeof(dir) - 16)) {
		pr_perror("getcwd");
		return 1;
	}
	strcat(dir, "/skovm.dir");
	snprintf(path, sizeof(path), "%s/sk", dir);
	umount2(dir, MNT_DETACH);
	unlink(path);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", dir);
		return 1;
	}
	lst = socket(AF_UNIX, SOCK_STREAM, 0);
	al = addr(&a, path);
	if (lst < 0 || bind(lst, (struct sockaddr *)&a, al) || listen(lst, 4)) {
		pr_perror("listen %s", path);
		return 1;
	}
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (cli < 0 || connect(cli, (struct sockaddr *)&a, al) || (acc = accept(lst, NULL, NULL)) < 0) {
		pr_perror("connect %s", path);
		return 1;
	}
	if (write(cli, "to-srv", 6) != 6) {
		pr_perror("write");
		return 1;
	}
	if (mount("skovm", dir, "tmpfs", 0, "")) {
		pr_perror("mount tmpfs over %s", dir);
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	al = sizeof(a);
	memset(&a, 0, sizeof(a));
	if (getsockname(lst, (struct sockaddr *)&a, &al) || strcmp(a.sun_path, path)) {
		fail("the listener's name is %s, want %s", a.sun_path, path);
		return 1;
	}
	if (!lstat(path, &st)) {
		fail("the tmpfs over %s has a file sk: the socket was bound on it", dir);
		return 1;
	}
	if (recv(acc, buf, sizeof(buf), MSG_DONTWAIT) != 6 || memcmp(buf, "to-srv", 6)) {
		fail("the accepted connection lost its data");
		return 1;
	}
	if (umount(dir)) {
		fail("umount %s: %m", dir);
		return 1;
	}
	if (lstat(path, &st) || !S_ISSOCK(st.st_mode)) {
		fail("no socket file at %s under the tmpfs", path);
		return 1;
	}
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
	unlink(path);
	rmdir(dir);
	pass();
	return 0;
}
