#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "zdtmtst.h"

const char *test_doc = "With --tcp-established, loopback TCP sockets the kernel closed (state CLOSE, "
		       "an open fd each) come back exactly: a pair closed by both FINs, one end "
		       "with bytes unread, and a client reset by its server (SO_LINGER 0) after "
		       "bytes it did not read, its error already read; each keeps its addresses "
		       "and unread bytes, reads end of file after them and fails to write with EPIPE";

static const char fin_bytes[] = "unread before the FIN";
static const char rst_bytes[] = "unread before the reset";

/* fc, fs: the pair closed by FINs (fs holds fin_bytes unread);
 * rc: the client reset after rst_bytes. */
static int fc, fs, rc;
static struct sockaddr_in name[3], peer[3];

static int wait_close(int sk)
{
	for (int i = 0; i < 2000 && tcp_state(sk) != TCP_CLOSE; i++)
		usleep(1000);
	return tcp_state(sk) == TCP_CLOSE ? 0 : -1;
}

static int addrs(int sk, struct sockaddr_in *n, struct sockaddr_in *p)
{
	socklen_t l = sizeof(*n);

	if (getsockname(sk, (struct sockaddr *)n, &l))
		return -1;
	l = sizeof(*p);
	/* getpeername answers ENOTCONN in CLOSE; SO_PEERNAME keeps it. */
	return getsockopt(sk, SOL_SOCKET, SO_PEERNAME, p, &l);
}

static int make_pair(int l, struct sockaddr_in *a, int *c, int *s)
{
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)a, sizeof(*a)) || (*s = accept(l, NULL, NULL)) < 0) {
		pr_perror("connect");
		return -1;
	}
	return 0;
}

/* A closed socket's unread bytes: one fewer. */
static void corrupt(void)
{
	char c;

	if (recv(fs, &c, 1, MSG_DONTWAIT) != 1)
		pr_perror("corrupt");
}

static void check(int sk, int i, const char *what, const char *want)
{
	struct sockaddr_in n, p;
	struct pollfd pf = {.fd = sk, .events = POLLIN | POLLOUT};
	char buf[64];
	int q = -1, err = -1;
	socklen_t l = sizeof(err);
	ssize_t r;

	if (tcp_state(sk) != TCP_CLOSE) {
		fail("%s: state %d, not CLOSE", what, tcp_state(sk));
		return;
	}
	if (addrs(sk, &n, &p) || memcmp(&n, &name[i], sizeof(n)) || memcmp(&p, &peer[i], sizeof(p))) {
		fail("%s: its addresses changed", what);
		return;
	}
	if (getsockopt(sk, SOL_SOCKET, SO_ERROR, &err, &l) || err) {
		fail("%s: SO_ERROR %d", what, err);
		return;
	}
	if (poll(&pf, 1, 0) != 1 || pf.revents != (POLLIN | POLLOUT | POLLHUP)) {
		fail("%s: polls %#x, want POLLIN|POLLOUT|POLLHUP", what, pf.revents);
		return;
	}
	if (ioctl(sk, SIOCINQ, &q) || q != (int)strlen(want)) {
		fail("%s: SIOCINQ %d, want %zu", what, q, strlen(want));
		return;
	}
	r = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);
	if (r != (ssize_t)strlen(want) || memcmp(buf, want, r)) {
		fail("%s: read %zd bytes, want %zu", what, r, strlen(want));
		return;
	}
	if ((r = recv(sk, buf, sizeof(buf), MSG_DONTWAIT)) != 0) {
		fail("%s: read %zd (errno %d) after its bytes, want end of file", what, r, errno);
		return;
	}
	if (send(sk, "x", 1, MSG_DONTWAIT) != -1 || errno != EPIPE)
		fail("%s: write did not fail with EPIPE (errno %d)", what, errno);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	socklen_t al;
	int l, rs, err;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if ((l = tcp_listen_lo(&a, 4)) < 0)
		return 1;
	if (make_pair(l, &a, &fc, &fs) || make_pair(l, &a, &rc, &rs))
		return 1;
	close(l);

	/* fc sends its bytes and FIN, fs reads nothing and shuts down:
	 * fs goes CLOSE on fc's ack, fc through TIME_WAIT. */
	if (send(fc, fin_bytes, strlen(fin_bytes), 0) != (ssize_t)strlen(fin_bytes) || shutdown(fc, SHUT_WR)) {
		pr_perror("send");
		return 1;
	}
	for (int i = 0; i < 2000 && tcp_state(fs) != TCP_CLOSE_WAIT; i++)
		usleep(1000);
	if (shutdown(fs, SHUT_WR) || wait_close(fc) || wait_close(fs)) {
		fail("fin: states %d %d, not CLOSE", tcp_state(fc), tcp_state(fs));
		return 1;
	}
	/* rs sends its bytes and resets: rc, not reading, is closed with
	 * ECONNRESET, which it reads. */
	if (send(rs, rst_bytes, strlen(rst_bytes), 0) != (ssize_t)strlen(rst_bytes)) {
		pr_perror("send");
		return 1;
	}
	for (int i = 0; i < 2000; i++) {
		int q = 0;
		if (!ioctl(rc, SIOCINQ, &q) && q == (int)strlen(rst_bytes))
			break;
		usleep(1000);
	}
	if (setsockopt(rs, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) || close(rs) || wait_close(rc)) {
		fail("reset: state %d, not CLOSE", tcp_state(rc));
		return 1;
	}
	al = sizeof(err);
	if (getsockopt(rc, SOL_SOCKET, SO_ERROR, &err, &al) || err != ECONNRESET) {
		fail("reset: SO_ERROR %d, want ECONNRESET", err);
		return 1;
	}
	if (addrs(fc, &name[0], &peer[0]) || addrs(fs, &name[1], &peer[1]) || addrs(rc, &name[2], &peer[2])) {
		pr_perror("addresses");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check(fc, 0, "fin client", "");
	check(fs, 1, "fin server", fin_bytes);
	check(rc, 2, "reset client", rst_bytes);
	if (!test_failed())
		pass();
	return 0;
}
