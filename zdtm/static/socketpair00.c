#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Stream, datagram and seqpacket socketpairs keep the data queued "
		       "in both directions, message boundaries, flags and buffer sizes";

static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
static const char *names[] = {"stream", "dgram", "seqpacket"};
#define NT 3
#define NMSG 4

static int sk[NT][2];

/* msglen: the length of message m sent from end e (1..2000 bytes). */
static size_t msglen(int e, int m) { return 100 + 300 * m + 17 * e; }
static uint64_t seed(int t, int e, int m) { return 1000 * t + 100 * e + m; }

static void corrupt(void)
{
	char c[4096];

	recv(sk[1][0], c, sizeof(c), MSG_DONTWAIT);
}

static int check_end(int t, int e)
{
	/* End e reads what the other end sent. */
	int fd = sk[t][e], from = 1 - e;
	uint8_t buf[4096];
	ssize_t n;
	int m;

	if (types[t] == SOCK_STREAM) {
		size_t total = 0, off = 0;
		uint8_t all[16384];

		for (m = 0; m < NMSG; m++)
			total += msglen(from, m);
		while (off < total) {
			n = recv(fd, all + off, total - off, MSG_DONTWAIT);
			if (n <= 0) {
				fail("%s end %d: got %zu of %zu bytes", names[t], e, off, total);
				return 1;
			}
			off += n;
		}
		off = 0;
		for (m = 0; m < NMSG; m++) {
			if (check_pattern(all + off, msglen(from, m), seed(t, from, m)) >= 0) {
				fail("%s end %d: data %d differs", names[t], e, m);
				return 1;
			}
			off += msglen(from, m);
		}
	} else {
		for (m = 0; m < NMSG; m++) {
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n != (ssize_t)msglen(from, m)) {
				fail("%s end %d: message %d has %zd bytes, want %zu", names[t], e, m, n, msglen(from, m));
				return 1;
			}
			if (check_pattern(buf, n, seed(t, from, m)) >= 0) {
				fail("%s end %d: message %d differs", names[t], e, m);
				return 1;
			}
		}
	}
	if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN) {
		fail("%s end %d: more data than was queued", names[t], e);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t buf[4096];
	int t, e, m, v;
	socklen_t vl = sizeof(v);
	int sndbuf;

	test_init(argc, argv);
	for (t = 0; t < NT; t++) {
		if (socketpair(AF_UNIX, types[t], 0, sk[t])) {
			pr_perror("socketpair %s", names[t]);
			return 1;
		}
		for (e = 0; e < 2; e++)
			for (m = 0; m < NMSG; m++) {
				fill_pattern(buf, msglen(e, m), seed(t, e, m));
				if (send(sk[t][e], buf, msglen(e, m), 0) != (ssize_t)msglen(e, m)) {
					pr_perror("send %s", names[t]);
					return 1;
				}
			}
	}
	fcntl(sk[0][1], F_SETFL, O_NONBLOCK);
	v = 65536;
	setsockopt(sk[2][0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	getsockopt(sk[2][0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &vl);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (t = 0; t < NT; t++)
		for (e = 0; e < 2; e++)
			if (check_end(t, e))
				goto out;
	if (!(fcntl(sk[0][1], F_GETFL) & O_NONBLOCK) || (fcntl(sk[0][0], F_GETFL) & O_NONBLOCK))
		fail("O_NONBLOCK not as set");
	vl = sizeof(v);
	if (getsockopt(sk[2][0], SOL_SOCKET, SO_SNDBUF, &v, &vl) || v != sndbuf)
		fail("SO_SNDBUF is %d, want %d", v, sndbuf);
	for (t = 0; t < NT; t++) {
		int type;

		vl = sizeof(type);
		if (getsockopt(sk[t][0], SOL_SOCKET, SO_TYPE, &type, &vl) || type != types[t])
			fail("%s: type %d", names[t], type);
		if (send(sk[t][0], "ping", 4, 0) != 4 || recv(sk[t][1], buf, sizeof(buf), 0) != 4 ||
		    memcmp(buf, "ping", 4))
			fail("%s: the two ends are not connected any more", names[t]);
	}
out:
	if (!test_failed())
		pass();
	return 0;
}
