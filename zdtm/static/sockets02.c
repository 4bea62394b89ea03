#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Semi-closed UNIX connections: stream and seqpacket socketpairs whose "
		       "other end was closed (as the JDK does at start), with and without data "
		       "the closed end sent; each keeps its data, then reads EOF, and writing "
		       "to it fails with EPIPE";

static const int types[] = {SOCK_STREAM, SOCK_SEQPACKET};
static const char *names[] = {"stream", "seqpacket"};
#define NT 2
#define NMSG 3

static int bare[NT], full[NT]; /* survivors without and with queued data */

static size_t msglen(int m) { return 50 + 700 * m; }
static uint64_t seed(int t, int m) { return 77 * t + m; }

static void corrupt(void)
{
	char c[4096];

	recv(full[0], c, 10, MSG_DONTWAIT);
}

static int check_closed(int t, int fd, const char *what)
{
	char c;
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};

	if (recv(fd, &c, 1, MSG_DONTWAIT) != 0) {
		fail("%s %s: no EOF after the data (%m)", names[t], what);
		return 1;
	}
	if (send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != -1 || errno != EPIPE) {
		fail("%s %s: write does not fail with EPIPE (%m)", names[t], what);
		return 1;
	}
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP)) {
		fail("%s %s: poll gives %#x, want POLLHUP", names[t], what, p.revents);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t buf[4096];
	int t, m, sk[2];

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	for (t = 0; t < NT; t++) {
		if (socketpair(AF_UNIX, types[t], 0, sk)) {
			pr_perror("socketpair");
			return 1;
		}
		bare[t] = sk[0];
		close(sk[1]);
		if (socketpair(AF_UNIX, types[t], 0, sk)) {
			pr_perror("socketpair");
			return 1;
		}
		full[t] = sk[0];
		for (m = 0; m < NMSG; m++) {
			fill_pattern(buf, msglen(m), seed(t, m));
			if (send(sk[1], buf, msglen(m), 0) != (ssize_t)msglen(m)) {
				pr_perror("send");
				return 1;
			}
		}
		close(sk[1]);
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (t = 0; t < NT && !test_failed(); t++) {
		if (check_closed(t, bare[t], "without data"))
			break;
		if (types[t] == SOCK_STREAM) {
			size_t total = 0, off = 0;
			uint8_t all[8192];
			ssize_t n;

			for (m = 0; m < NMSG; m++)
				total += msglen(m);
			while (off < total) {
				n = recv(full[t], all + off, total - off, MSG_DONTWAIT);
				if (n <= 0) {
					fail("stream: got %zu of %zu bytes", off, total);
					break;
				}
				off += n;
			}
			for (m = 0, off = 0; m < NMSG && !test_failed(); off += msglen(m), m++)
				if (check_pattern(all + off, msglen(m), seed(t, m)) >= 0)
					fail("stream: data %d differs", m);
		} else {
			for (m = 0; m < NMSG && !test_failed(); m++) {
				ssize_t n = recv(full[t], buf, sizeof(buf), MSG_DONTWAIT);

				if (n != (ssize_t)msglen(m) || check_pattern(buf, n, seed(t, m)) >= 0)
					fail("seqpacket: message %d: %zd bytes, want %zu", m, n, msglen(m));
			}
		}
		if (!test_failed())
			check_closed(t, full[t], "with data");
	}
	if (!test_failed())
		pass();
	return 0;
}
