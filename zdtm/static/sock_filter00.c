#define _GNU_SOURCE
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A classic BPF socket filter (SO_ATTACH_FILTER) on a UNIX datagram "
		       "socket and on a UDP socket is kept: SO_GET_FILTER gives the same "
		       "program, messages it drops stay dropped, queued ones are kept";

/*
 * Accept a message whose first byte is 'a', drop the rest. A UDP socket's
 * filter sees the UDP header first (8 bytes): its program is patched.
 */
static struct sock_filter prog[] = {
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'a', 0, 1),
	BPF_STMT(BPF_RET | BPF_K, 0xffff),
	BPF_STMT(BPF_RET | BPF_K, 0),
};
#define NP (sizeof(prog) / sizeof(prog[0]))
static struct sock_filter uprog[NP];

static int us[2], ud, uc;

static void corrupt(void)
{
	int v = 0;

	setsockopt(us[0], SOL_SOCKET, SO_DETACH_FILTER, &v, sizeof(v));
}

static int attach(int sk, struct sock_filter *p)
{
	struct sock_fprog fp = {.len = NP, .filter = p};

	if (setsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp))) {
		pr_perror("SO_ATTACH_FILTER");
		return 1;
	}
	return 0;
}

static void check(int rx, int tx, const char *what, struct sock_filter *p)
{
	struct sock_filter got[16];
	socklen_t l = 16;
	char buf[16];

	if (getsockopt(rx, SOL_SOCKET, SO_GET_FILTER, got, &l) || l != NP || memcmp(got, p, sizeof(prog))) {
		fail("%s: SO_GET_FILTER gives %u instructions, want the same %zu", what, l, NP);
		return;
	}
	if (send(tx, "bad", 3, 0) != 3 || send(tx, "another", 7, 0) != 7) {
		fail("%s: send: %m", what);
		return;
	}
	if (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) != 7 || memcmp(buf, "another", 7))
		fail("%s: the filter let \"bad\" through, or dropped \"another\"", what);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	char buf[16];

	test_init(argc, argv);
	memcpy(uprog, prog, sizeof(prog));
	uprog[0].k = 8;
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, us) || attach(us[0], prog)) {
		pr_perror("socketpair");
		return 1;
	}
	ud = socket(AF_INET, SOCK_DGRAM, 0);
	uc = socket(AF_INET, SOCK_DGRAM, 0);
	if (ud < 0 || uc < 0 || bind(ud, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(ud, (struct sockaddr *)&a, &al) || connect(uc, (struct sockaddr *)&a, sizeof(a)) || attach(ud, uprog)) {
		pr_perror("udp");
		return 1;
	}
	/* Queued before the dump: "apple" passes, "pear" is dropped. */
	send(us[1], "pear", 4, 0);
	send(us[1], "apple", 5, 0);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (recv(us[0], buf, sizeof(buf), MSG_DONTWAIT) != 5 || memcmp(buf, "apple", 5))
		fail("the queued message is lost");
	else if (recv(us[0], buf, sizeof(buf), MSG_DONTWAIT) != -1)
		fail("a message too many is queued");
	check(us[0], us[1], "unix", prog);
	check(ud, uc, "udp", uprog);
	if (!test_failed())
		pass();
	return 0;
}
