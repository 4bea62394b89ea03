#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX listeners (stream and seqpacket, on a path and on an abstract "
		       "name) with connections not yet accepted: each is accepted after "
		       "restore, in the order they connected, and carries data both ways";

static const int types[] = {SOCK_STREAM, SOCK_SEQPACKET};
static const char *names[] = {"stream", "seqpacket"};
#define NT 2
#define NC 3 /* connections waiting on each listener */

struct lst {
	int fd;
	char name[108];
	size_t len; /* of name; an abstract name starts with a NUL */
	int cli[NC];
};

static struct lst l[NT][2]; /* [type][path, abstract] */

static socklen_t addr(struct sockaddr_un *a, const char *name, size_t len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, name, len);
	return offsetof(struct sockaddr_un, sun_path) + len;
}

static void corrupt(void)
{
	/* Accept one connection: the order after restore is then off by one. */
	accept(l[0][0].fd, NULL, NULL);
}

static int check(int t, struct lst *s)
{
	char buf[32], want[32];
	struct sockaddr_un a;
	socklen_t al;
	int i, srv;

	for (i = 0; i < NC; i++) {
		al = sizeof(a);
		/* A path's length counts its NUL. */
		if (getpeername(s->cli[i], (struct sockaddr *)&a, &al) ||
		    al != offsetof(struct sockaddr_un, sun_path) + s->len + (s->name[0] != 0) ||
		    memcmp(a.sun_path, s->name, s->len)) {
			fail("%s client %d: peer name lost", names[t], i);
			return 1;
		}
		snprintf(want, sizeof(want), "client %d", i);
		if (send(s->cli[i], want, strlen(want), 0) != (ssize_t)strlen(want)) {
			fail("%s client %d: send: %m", names[t], i);
			return 1;
		}
	}
	for (i = 0; i < NC; i++) {
		srv = accept(s->fd, NULL, NULL);
		if (srv < 0) {
			fail("%s: accept %d: %m", names[t], i);
			return 1;
		}
		snprintf(want, sizeof(want), "client %d", i);
		memset(buf, 0, sizeof(buf));
		if (recv(srv, buf, sizeof(buf), 0) != (ssize_t)strlen(want) || strcmp(buf, want)) {
			fail("%s: connection %d accepted out of order: got %s", names[t], i, buf);
			return 1;
		}
		if (send(srv, "ok", 2, 0) != 2 || recv(s->cli[i], buf, sizeof(buf), 0) != 2) {
			fail("%s: connection %d: no reply", names[t], i);
			return 1;
		}
		close(srv);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	socklen_t al;
	struct stat st;
	int t, k, i;

	test_init(argc, argv);
	if (stat("/proc/self/ns/pid", &st)) {
		pr_perror("stat /proc/self/ns/pid");
		return 1;
	}
	for (t = 0; t < NT; t++) {
		for (k = 0; k < 2; k++) {
			struct lst *s = &l[t][k];

			if (k == 0) {
				snprintf(s->name, sizeof(s->name), "/tmp/zdtm-sk-unix-listen01.%lu.%d.%d",
					 (unsigned long)st.st_ino, getpid(), t);
				s->len = strlen(s->name);
				unlink(s->name);
			} else {
				s->len = 1 + snprintf(s->name + 1, sizeof(s->name) - 1, "zdtm-sk-unix-listen01.%lu.%d.%d",
						      (unsigned long)st.st_ino, getpid(), t);
			}
			s->fd = socket(AF_UNIX, types[t] | (k ? SOCK_NONBLOCK : 0), 0);
			al = addr(&a, s->name, s->len);
			if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, al) || listen(s->fd, 8)) {
				pr_perror("listen");
				return 1;
			}
			for (i = 0; i < NC; i++) {
				s->cli[i] = socket(AF_UNIX, types[t], 0);
				if (s->cli[i] < 0 || connect(s->cli[i], (struct sockaddr *)&a, al)) {
					pr_perror("connect");
					return 1;
				}
			}
		}
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (t = 0; t < NT && !test_failed(); t++)
		for (k = 0; k < 2 && !test_failed(); k++)
			check(t, &l[t][k]);
	for (t = 0; t < NT; t++)
		unlink(l[t][0].name);
	if (!test_failed())
		pass();
	return 0;
}
