#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX sockets whose file was deleted: a listener keeps its name and "
		       "its pending connection, with no file; a connection accepted from a "
		       "listener since closed and unlinked keeps working; a path deleted and "
		       "bound again by another listener stays that listener's; a regular file "
		       "made at a deleted listener's path stays as it was";

static char p1[108], p2[108], p3[108], p4[108];
static int l1, c1, acc, cli, old, fresh, c3, l4;

static socklen_t addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
}

static int listener(const char *path)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, l) || listen(s, 4)) {
		pr_perror("listen %s", path);
		return -1;
	}
	return s;
}

static int dial(const char *path)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, l)) {
		pr_perror("connect %s", path);
		return -1;
	}
	return s;
}

static void corrupt(void)
{
	close(fresh);
	unlink(p3);
}

static int named(int s, const char *path)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);

	return !getsockname(s, (struct sockaddr *)&a, &l) && !strcmp(a.sun_path, path);
}

int main(int argc, char **argv)
{
	struct stat st;
	char buf[8];
	int s;

	test_init(argc, argv);
	if (stat("/proc/self/ns/pid", &st)) {
		pr_perror("stat /proc/self/ns/pid");
		return 1;
	}
	snprintf(p1, sizeof(p1), "/tmp/zdtm-deleted_unix_sock.%lu.%d.1", (unsigned long)st.st_ino, getpid());
	snprintf(p2, sizeof(p2), "/tmp/zdtm-deleted_unix_sock.%lu.%d.2", (unsigned long)st.st_ino, getpid());
	snprintf(p3, sizeof(p3), "/tmp/zdtm-deleted_unix_sock.%lu.%d.3", (unsigned long)st.st_ino, getpid());
	snprintf(p4, sizeof(p4), "/tmp/zdtm-deleted_unix_sock.%lu.%d.4", (unsigned long)st.st_ino, getpid());
	unlink(p1);
	unlink(p2);
	unlink(p3);
	unlink(p4);

	/* A listener with a pending connection, its file deleted. */
	l1 = listener(p1);
	if (l1 < 0 || (c1 = dial(p1)) < 0)
		return 1;
	unlink(p1);

	/* An accepted connection whose listener is gone, with its file. */
	s = listener(p2);
	if (s < 0 || (cli = dial(p2)) < 0 || (acc = accept(s, NULL, NULL)) < 0)
		return 1;
	close(s);
	unlink(p2);

	/* A path deleted, then bound by another listener. */
	old = listener(p3);
	if (old < 0)
		return 1;
	unlink(p3);
	fresh = listener(p3);
	if (fresh < 0)
		return 1;
	/* The newer listener at the lower fd (dumped first). */
	s = dup(old);
	if (s < 0 || dup2(fresh, old) < 0 || dup2(s, fresh) < 0) {
		pr_perror("dup");
		return 1;
	}
	close(s);
	s = old;
	old = fresh;
	fresh = s;

	/* A deleted listener's path, now a regular file. */
	l4 = listener(p4);
	if (l4 < 0 || unlink(p4)) {
		pr_perror("unlink %s", p4);
		return 1;
	}
	s = open(p4, O_CREAT | O_WRONLY | O_EXCL, 0600);
	if (s < 0 || write(s, "keep", 4) != 4) {
		pr_perror("write %s", p4);
		return 1;
	}
	close(s);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!named(l1, p1) || access(p1, F_OK) == 0)
		fail("listener 1: name lost, or its file is back");
	if ((s = accept(l1, NULL, NULL)) < 0 || write(c1, "a", 1) != 1 || read(s, buf, 1) != 1)
		fail("listener 1: its pending connection is lost");
	if (!named(acc, p2) || access(p2, F_OK) == 0)
		fail("accepted socket: name lost, or the file is back");
	if (write(cli, "b", 1) != 1 || read(acc, buf, 1) != 1 || buf[0] != 'b')
		fail("accepted connection broken");
	if (!named(old, p3) || !named(fresh, p3))
		fail("path 3: a listener lost its name");
	if ((c3 = dial(p3)) < 0 || (s = accept(fresh, NULL, NULL)) < 0)
		fail("path 3 no longer reaches the listener that holds it");
	if (!named(l4, p4))
		fail("listener 4 lost its name");
	memset(buf, 0, sizeof(buf));
	s = open(p4, O_RDONLY);
	if (s < 0 || read(s, buf, sizeof(buf)) != 4 || memcmp(buf, "keep", 4))
		fail("the file at listener 4's path is not as it was");
	close(s);
	unlink(p3);
	unlink(p4);
	if (!test_failed())
		pass();
	return 0;
}
