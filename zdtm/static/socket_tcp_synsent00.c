#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/filter.h>

#include "zdtmtst.h"

const char *test_doc = "With --tcp-established, non-blocking TCP connects in progress (SYN_SENT: "
		       "their listeners drop every SYN with a socket filter) come back connecting, "
		       "bound to their ports: once the filter goes, one completes (accepted, bytes "
		       "both ways), and the other, whose listener is closed instead, fails with "
		       "ECONNREFUSED; a child blocked in connect() (interrupted by the dump, "
		       "restarted) returns 0 once its listener lets the SYN in";

/* ok connects to lok, refused to lref; the child blocks connecting to lblk. */
static int lok, lref, lblk, ok, refused;
static pid_t child;

/* A failed check leaves no child connecting. */
static void kill_child(void)
{
	if (child > 0)
		kill(child, SIGKILL);
}
static struct sockaddr_in name[2];

static int listener(struct sockaddr_in *a)
{
	/* Returns 0: every packet is dropped, the SYNs with them. */
	struct sock_filter drop[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
	struct sock_fprog prog = {.len = 1, .filter = drop};
	int l = tcp_listen_lo(a, 4);

	if (l >= 0 && setsockopt(l, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog))) {
		pr_perror("SO_ATTACH_FILTER");
		return -1;
	}
	return l;
}

static int connecting(struct sockaddr_in *a, struct sockaddr_in *n)
{
	socklen_t l = sizeof(*n);
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (sk < 0 || connect(sk, (struct sockaddr *)a, sizeof(*a)) == 0 || errno != EINPROGRESS) {
		pr_perror("connect");
		return -1;
	}
	if (getsockname(sk, (struct sockaddr *)n, &l)) {
		pr_perror("getsockname");
		return -1;
	}
	return sk;
}

/* The client connecting to lok is a new socket, not connecting. */
static void corrupt(void)
{
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	dup2(sk, ok);
}

/* Waits for sk's connect to end, and returns its SO_ERROR. */
static int finished(int sk)
{
	struct pollfd p = {.fd = sk, .events = POLLOUT};
	int err = -1;
	socklen_t l = sizeof(err);

	if (poll(&p, 1, 20000) != 1)
		return -1;
	if (getsockopt(sk, SOL_SOCKET, SO_ERROR, &err, &l))
		return -1;
	return err;
}

int main(int argc, char **argv)
{
	struct sockaddr_in aok = {}, aref = {}, n, p;
	socklen_t l;
	char c;
	int s, err;

	struct sockaddr_in ablk = {};
	int status;

	test_init(argc, argv);
	if ((lok = listener(&aok)) < 0 || (lref = listener(&aref)) < 0 || (lblk = listener(&ablk)) < 0)
		return 1;
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		int sk = socket(AF_INET, SOCK_STREAM, 0);

		/* The listeners are the parent's to close. */
		close(lok);
		close(lref);
		close(lblk);
		_exit(sk < 0 || connect(sk, (struct sockaddr *)&ablk, sizeof(ablk)) || write(sk, "c", 1) != 1 ? 1 : 0);
	}
	atexit(kill_child);
	if ((ok = connecting(&aok, &name[0])) < 0 || (refused = connecting(&aref, &name[1])) < 0)
		return 1;
	usleep(100000);
	if (tcp_state(ok) != TCP_SYN_SENT || tcp_state(refused) != TCP_SYN_SENT) {
		fail("states %d %d, not SYN_SENT", tcp_state(ok), tcp_state(refused));
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (tcp_state(ok) != TCP_SYN_SENT || tcp_state(refused) != TCP_SYN_SENT) {
		fail("restored in states %d %d, not SYN_SENT", tcp_state(ok), tcp_state(refused));
		return 1;
	}
	if (!(fcntl(ok, F_GETFL) & O_NONBLOCK)) {
		fail("the connecting socket is blocking");
		return 1;
	}
	l = sizeof(n);
	if (getsockname(ok, (struct sockaddr *)&n, &l) || memcmp(&n, &name[0], sizeof(n))) {
		fail("the connecting socket's address changed");
		return 1;
	}
	l = sizeof(p);
	if (getsockopt(ok, SOL_SOCKET, SO_PEERNAME, &p, &l) || memcmp(&p, &aok, sizeof(p))) {
		fail("the connecting socket's peer changed");
		return 1;
	}

	/* The SYN sent again now reaches the listener. */
	if (setsockopt(lok, SOL_SOCKET, SO_DETACH_FILTER, &(int){0}, sizeof(int))) {
		pr_perror("SO_DETACH_FILTER");
		return 1;
	}
	if ((err = finished(ok)) != 0) {
		fail("connect ended with %d", err);
		return 1;
	}
	if (tcp_state(ok) != TCP_ESTABLISHED || (s = accept(lok, NULL, NULL)) < 0) {
		fail("connected in state %d, or not accepted", tcp_state(ok));
		return 1;
	}
	l = sizeof(p);
	if (getpeername(s, (struct sockaddr *)&p, &l) || memcmp(&p, &name[0], sizeof(p))) {
		fail("accepted from another address");
		return 1;
	}
	if (write(ok, "a", 1) != 1 || read(s, &c, 1) != 1 || c != 'a' || write(s, "b", 1) != 1) {
		fail("client to server: %m");
		return 1;
	}
	fcntl(ok, F_SETFL, 0);
	if (read(ok, &c, 1) != 1 || c != 'b') {
		fail("server to client: %m");
		return 1;
	}

	/* No listener any more: the SYN sent again is refused. */
	close(lref);
	if ((err = finished(refused)) != ECONNREFUSED) {
		fail("connect to a closed port ended with %d, not ECONNREFUSED", err);
		return 1;
	}

	/* The child's blocking connect goes on where it was. */
	if (setsockopt(lblk, SOL_SOCKET, SO_DETACH_FILTER, &(int){0}, sizeof(int))) {
		pr_perror("SO_DETACH_FILTER");
		return 1;
	}
	alarm(20);
	if ((s = accept(lblk, NULL, NULL)) < 0 || read(s, &c, 1) != 1 || c != 'c') {
		fail("the blocked child's connection: %m");
		return 1;
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("the child blocked in connect() ended with status %#x", status);
		return 1;
	}
	child = 0;
	pass();
	return 0;
}
