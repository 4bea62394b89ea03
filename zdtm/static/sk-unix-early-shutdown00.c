#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX stream and seqpacket clients shut down for reading, or for "
		       "writing, before they connected to a listener that is still open: "
		       "the accepted end is not shut down to match (no POLLHUP once it "
		       "shuts down the other way itself), a write towards the end that "
		       "reads no more fails with EPIPE, the other way data flows";

static char path[2][108];
/* per type (stream, seqpacket): l listener; rd, wr clients shut down for
 * reading, for writing before connecting; ard, awr their accepted ends. */
static int l[2], rd[2], wr[2], ard[2], awr[2];

static int dial(int type, const char *p, int how)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, type, 0);

	strcpy(a.sun_path, p);
	if (s < 0 || (shutdown(s, how) && errno != ENOTCONN) || connect(s, (struct sockaddr *)&a, sizeof(a))) {
		pr_perror("connect %s", p);
		return -1;
	}
	return s;
}

/* The accepted ends are shut down to match, as a socketpair's would be. */
static void corrupt(void)
{
	shutdown(ard[0], SHUT_WR);
	shutdown(awr[0], SHUT_RD);
}

static int hup(int s)
{
	struct pollfd p = {.fd = s, .events = POLLIN};

	poll(&p, 1, 0);
	return !!(p.revents & POLLHUP);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int types[2] = {SOCK_STREAM, SOCK_SEQPACKET};
	struct stat st;
	char b[8];
	int i;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (stat("/proc/self/ns/pid", &st)) {
		pr_perror("stat /proc/self/ns/pid");
		return 1;
	}
	for (i = 0; i < 2; i++) {
		snprintf(path[i], sizeof(path[i]), "/tmp/zdtm-skearly.%lu.%d.%d", (unsigned long)st.st_ino, getpid(), i);
		unlink(path[i]);
		strcpy(a.sun_path, path[i]);
		l[i] = socket(AF_UNIX, types[i], 0);
		if (l[i] < 0 || bind(l[i], (struct sockaddr *)&a, sizeof(a)) || listen(l[i], 4)) {
			pr_perror("listen %s", path[i]);
			return 1;
		}
		if ((rd[i] = dial(types[i], path[i], SHUT_RD)) < 0 || (ard[i] = accept(l[i], NULL, NULL)) < 0 ||
		    (wr[i] = dial(types[i], path[i], SHUT_WR)) < 0 || (awr[i] = accept(l[i], NULL, NULL)) < 0) {
			pr_perror("accept on %s", path[i]);
			return 1;
		}
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < 2; i++) {
		const char *t = i ? "seqpacket" : "stream";

		if (write(ard[i], "x", 1) != -1 || errno != EPIPE)
			fail("%s: a write to the client that reads no more did not fail with EPIPE", t);
		if (write(rd[i], "y", 1) != 1 || read(ard[i], b, sizeof(b)) != 1 || b[0] != 'y')
			fail("%s: the client shut down for reading cannot send (errno %d)", t, errno);
		if (write(wr[i], "z", 1) != -1 || errno != EPIPE)
			fail("%s: the client shut down for writing can write", t);
		if (write(awr[i], "w", 1) != 1 || read(wr[i], b, sizeof(b)) != 1 || b[0] != 'w')
			fail("%s: the client shut down for writing cannot receive (errno %d)", t, errno);
		/* Shut down the other way, an end is shut down both ways only if it was before. */
		shutdown(ard[i], SHUT_RD);
		shutdown(awr[i], SHUT_WR);
		if (hup(ard[i]) || hup(awr[i]))
			fail("%s: an accepted end was shut down to match its client", t);
		unlink(path[i]);
	}
	if (!test_failed())
		pass();
	return 0;
}
