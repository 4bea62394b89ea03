#define _GNU_SOURCE
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "SOL_SOCKET options of UNIX, UDP and TCP sockets keep their values: "
		       "priority, rcvlowat, mark, passcred, passsec, dontroute, no_check, "
		       "oobinline, keepalive, broadcast, linger";

struct opt {
	const char *name;
	int opt, val;
};

static const struct opt opts[] = {
	{"SO_PRIORITY", SO_PRIORITY, 5},   {"SO_RCVLOWAT", SO_RCVLOWAT, 3}, {"SO_MARK", SO_MARK, 42},
	{"SO_PASSCRED", SO_PASSCRED, 1},   {"SO_PASSSEC", SO_PASSSEC, 1},   {"SO_DONTROUTE", SO_DONTROUTE, 1},
	{"SO_NO_CHECK", SO_NO_CHECK, 1},   {"SO_OOBINLINE", SO_OOBINLINE, 1}, {"SO_KEEPALIVE", SO_KEEPALIVE, 1},
	{"SO_BROADCAST", SO_BROADCAST, 1},
};
#define NO (sizeof(opts) / sizeof(opts[0]))

static const int fam[] = {AF_UNIX, AF_INET, AF_INET6};
static const int typ[] = {SOCK_DGRAM, SOCK_DGRAM, SOCK_STREAM};
#define NS 3
static int sk[NS];

static void corrupt(void)
{
	int v = 6;

	setsockopt(sk[1], SOL_SOCKET, SO_PRIORITY, &v, sizeof(v));
}

int main(int argc, char **argv)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 7};
	socklen_t l;
	unsigned i, s;
	int v;

	test_init(argc, argv);
	for (s = 0; s < NS; s++) {
		sk[s] = socket(fam[s], typ[s], 0);
		if (sk[s] < 0) {
			pr_perror("socket");
			return 1;
		}
		for (i = 0; i < NO; i++) {
			/* SO_PASSCRED and SO_PASSSEC are UNIX (and netlink) options. */
			if (fam[s] != AF_UNIX && (opts[i].opt == SO_PASSCRED || opts[i].opt == SO_PASSSEC))
				continue;
			if (setsockopt(sk[s], SOL_SOCKET, opts[i].opt, &opts[i].val, sizeof(int))) {
				pr_perror("setsockopt %s", opts[i].name);
				return 1;
			}
		}
		if (setsockopt(sk[s], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) {
			pr_perror("setsockopt SO_LINGER");
			return 1;
		}
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (s = 0; s < NS; s++) {
		for (i = 0; i < NO; i++) {
			if (fam[s] != AF_UNIX && (opts[i].opt == SO_PASSCRED || opts[i].opt == SO_PASSSEC))
				continue;
			l = sizeof(v);
			if (getsockopt(sk[s], SOL_SOCKET, opts[i].opt, &v, &l) || v != opts[i].val)
				fail("socket %u (family %d): %s is %d, want %d", s, fam[s], opts[i].name, v, opts[i].val);
		}
		l = sizeof(lg);
		if (getsockopt(sk[s], SOL_SOCKET, SO_LINGER, &lg, &l) || !lg.l_onoff || lg.l_linger != 7)
			fail("socket %u: SO_LINGER is %d/%d", s, lg.l_onoff, lg.l_linger);
	}
	if (!test_failed())
		pass();
	return 0;
}
