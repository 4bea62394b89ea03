#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

const char *test_doc = "Netlink sockets as daemons open them keep their protocol, port id and "
		       "groups: NETLINK_ROUTE bound with a group of the first 32 and one past "
		       "them, answering a request after restore; NETLINK_KOBJECT_UEVENT in "
		       "group 1 with a socket filter; an unbound one stays unbound";

static int rt, uev, unbound;
static unsigned int rt_port, uev_port;

static void corrupt(void)
{
	struct sockaddr_nl a = {.nl_family = AF_NETLINK};

	/* The same socket, without its groups. */
	close(rt);
	rt = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	bind(rt, (struct sockaddr *)&a, sizeof(a));
}

static unsigned int portid(int s)
{
	struct sockaddr_nl a;
	socklen_t l = sizeof(a);

	if (getsockname(s, (struct sockaddr *)&a, &l))
		return ~0u;
	return a.nl_pid;
}

/* The groups s joined, as NETLINK_LIST_MEMBERSHIPS words 0 and 1. */
static void groups(int s, unsigned int g[2])
{
	socklen_t l = 2 * sizeof(g[0]);

	g[0] = g[1] = 0;
	if (getsockopt(s, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, g, &l))
		pr_perror("NETLINK_LIST_MEMBERSHIPS");
}

static int proto(int s)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l);
	return v;
}

/* rt answers RTM_GETLINK for lo (ifindex 1). */
static int ask_link(int s)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = {.nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 7},
		.i = {.ifi_family = AF_UNSPEC, .ifi_index = 1},
	};
	char buf[8192];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	ssize_t n;

	if (send(s, &req, sizeof(req), 0) != sizeof(req)) {
		fail("send RTM_GETLINK: %m");
		return 1;
	}
	n = recv(s, buf, sizeof(buf), 0);
	if (n < (ssize_t)sizeof(*h) || h->nlmsg_type != RTM_NEWLINK || h->nlmsg_seq != 7 || h->nlmsg_pid != portid(s)) {
		fail("RTM_GETLINK: %zd bytes, type %d seq %u pid %u: %m", n, n > 0 ? h->nlmsg_type : -1,
		     n > 0 ? h->nlmsg_seq : 0, n > 0 ? h->nlmsg_pid : 0);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* Quiet groups (MPLS routes, bridge VLANs): no event may be queued
	 * at the dump. */
	struct sockaddr_nl a = {.nl_family = AF_NETLINK, .nl_groups = 1u << (RTNLGRP_MPLS_ROUTE - 1)};
	struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = {.len = 1, .filter = &drop};
	int brvlan = RTNLGRP_BRVLAN;
	unsigned int g[2], want[2] = {1u << (RTNLGRP_MPLS_ROUTE - 1), 1u << (RTNLGRP_BRVLAN - 33)};
	socklen_t fl = 0;

	test_init(argc, argv);
	rt = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	if (rt < 0 || bind(rt, (struct sockaddr *)&a, sizeof(a)) ||
	    setsockopt(rt, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &brvlan, sizeof(brvlan))) {
		pr_perror("NETLINK_ROUTE");
		return 1;
	}
	/* udev's monitor: group 1, a filter (here one that drops all, so
	 * that no uevent is queued at the dump). */
	uev = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	a.nl_groups = 1;
	if (uev < 0 || setsockopt(uev, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    bind(uev, (struct sockaddr *)&a, sizeof(a))) {
		pr_perror("NETLINK_KOBJECT_UEVENT");
		return 1;
	}
	unbound = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	if (unbound < 0) {
		pr_perror("socket");
		return 1;
	}
	rt_port = portid(rt);
	uev_port = portid(uev);
	if (ask_link(rt))
		return 1;

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (proto(rt) != NETLINK_ROUTE || proto(uev) != NETLINK_KOBJECT_UEVENT || proto(unbound) != NETLINK_ROUTE)
		fail("protocols %d %d %d", proto(rt), proto(uev), proto(unbound));
	if (portid(rt) != rt_port || portid(uev) != uev_port)
		fail("port ids %u %u, want %u %u", portid(rt), portid(uev), rt_port, uev_port);
	if (portid(unbound) != 0)
		fail("the unbound socket got port id %u", portid(unbound));
	groups(rt, g);
	if (g[0] != want[0] || g[1] != want[1])
		fail("NETLINK_ROUTE groups %#x %#x, want %#x %#x", g[0], g[1], want[0], want[1]);
	groups(uev, g);
	if (g[0] != 1 || g[1] != 0)
		fail("uevent groups %#x %#x, want 1 0", g[0], g[1]);
	if (getsockopt(uev, SOL_SOCKET, SO_GET_FILTER, NULL, &fl) || fl != 1)
		fail("uevent filter: %u instructions, want 1", fl);
	if (!test_failed())
		ask_link(rt);
	if (!test_failed())
		pass();
	return 0;
}
