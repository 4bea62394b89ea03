#define _GNU_SOURCE
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "UNIX stream and seqpacket sockets bound but neither listening nor "
		       "connected (to an abstract name ending in a NUL, and to a path) keep "
		       "their exact names; after restore they listen and take a connection; "
		       "an unbound one shut down stays shut down";

static const int types[] = {SOCK_STREAM, SOCK_SEQPACKET};
#define NT 2

static struct sockaddr_un name[NT][2];
static socklen_t len[NT][2];
static int sk[NT][2], shut[NT];

static void corrupt(void)
{
	close(sk[1][0]);
	sk[1][0] = socket(AF_UNIX, SOCK_SEQPACKET, 0);
}

int main(int argc, char **argv)
{
	struct stat st;
	int t, k;

	test_init(argc, argv);
	if (stat("/proc/self/ns/pid", &st)) {
		pr_perror("stat /proc/self/ns/pid");
		return 1;
	}
	for (t = 0; t < NT; t++) {
		for (k = 0; k < 2; k++) {
			struct sockaddr_un *a = &name[t][k];
			int n;

			memset(a, 0, sizeof(*a));
			a->sun_family = AF_UNIX;
			n = snprintf(a->sun_path, sizeof(a->sun_path), "%s/zdtm-sk-unix-unconn.%lu.%d.%d.", k ? "/tmp" : "X",
				     (unsigned long)st.st_ino, getpid(), t);
			if (k) {
				unlink(a->sun_path);
				len[t][k] = offsetof(struct sockaddr_un, sun_path) + n + 1;
			} else {
				/* Abstract: a NUL first, and the last byte a NUL too. */
				a->sun_path[0] = 0;
				a->sun_path[n - 1] = 0;
				len[t][k] = offsetof(struct sockaddr_un, sun_path) + n;
			}
			sk[t][k] = socket(AF_UNIX, types[t], 0);
			if (sk[t][k] < 0 || bind(sk[t][k], (struct sockaddr *)a, len[t][k])) {
				pr_perror("bind");
				return 1;
			}
		}
		shut[t] = socket(AF_UNIX, types[t], 0);
		if (shut[t] < 0 || shutdown(shut[t], SHUT_RDWR)) {
			pr_perror("shutdown");
			return 1;
		}
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (t = 0; t < NT && !test_failed(); t++) {
		for (k = 0; k < 2 && !test_failed(); k++) {
			struct sockaddr_un a;
			socklen_t l = sizeof(a);
			int c;

			if (getsockname(sk[t][k], (struct sockaddr *)&a, &l) || l != len[t][k] ||
			    memcmp(&a, &name[t][k], l)) {
				fail("type %d, %s: name differs (%u bytes, want %u)", types[t], k ? "path" : "abstract", l,
				     len[t][k]);
				break;
			}
			c = socket(AF_UNIX, types[t], 0);
			if (listen(sk[t][k], 1) || c < 0 || connect(c, (struct sockaddr *)&name[t][k], len[t][k]) ||
			    accept(sk[t][k], NULL, NULL) < 0)
				fail("type %d, %s: cannot listen and accept: %m", types[t], k ? "path" : "abstract");
			close(c);
		}
		if (listen(shut[t], 1) == 0)
			fail("type %d: the shut down socket listens", types[t]);
	}
	for (t = 0; t < NT; t++)
		unlink(name[t][1].sun_path);
	if (!test_failed())
		pass();
	return 0;
}
