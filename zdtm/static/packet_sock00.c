#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/net_tstamp.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Packet sockets keep their kind and settings: a SOCK_RAW ETH_P_ALL one "
		       "bound to lo with PACKET_VERSION, AUXDATA, ORIGDEV, VNET_HDR, LOSS, a "
		       "fanout group, a multicast membership (seen in lo's list) and a "
		       "promiscuous one; an unbound "
		       "SOCK_DGRAM ETH_P_IP one with PACKET_RESERVE, TIMESTAMP and SO_RCVBUF; "
		       "both receive a datagram sent to 127.0.0.1 after restore";

#define RCVBUF 123456

/* CRIU 4.2 keeps a fanout group's id and type, not its flags: 0 here to
 * compare with it. */
static unsigned int fanout_flags = PACKET_FANOUT_FLAG_DEFRAG;
TEST_OPTION(fanout_flags, uint, "the fanout group's flags", 0);
#define FANOUT ((int)(0x4242 | ((PACKET_FANOUT_HASH | fanout_flags) << 16)))

static int raw, dgram;
static const unsigned char mcaddr[ETH_ALEN] = {0x01, 0x00, 0x5e, 0x7f, 0x12, 0x34};

static void corrupt(void)
{
	int off = 0;

	setsockopt(raw, SOL_PACKET, PACKET_LOSS, &off, sizeof(off));
}

static int getint(int s, int level, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(s, level, opt, &v, &l))
		return -1;
	return v;
}

static int setint(int s, int opt, int v)
{
	if (setsockopt(s, SOL_PACKET, opt, &v, sizeof(v))) {
		pr_perror("setsockopt(SOL_PACKET, %d)", opt);
		return -1;
	}
	return 0;
}

/* mcast_on_lo says whether lo's multicast list holds mcaddr. */
static int mcast_on_lo(void)
{
	char line[256], want[16];
	FILE *f = fopen("/proc/self/net/dev_mcast", "r");
	int found = 0;

	snprintf(want, sizeof(want), "%02x%02x%02x%02x%02x%02x", mcaddr[0], mcaddr[1], mcaddr[2], mcaddr[3],
		 mcaddr[4], mcaddr[5]);
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " lo ") && strstr(line, want))
			found = 1;
	fclose(f);
	return found;
}

static void drain(int s)
{
	char buf[4096];

	while (recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* seen waits up to 3 s for a packet holding tag on s; aux: it must carry PACKET_AUXDATA. */
static int seen(int s, const char *tag, int aux)
{
	char buf[4096], cbuf[256];
	struct pollfd p = {.fd = s, .events = POLLIN};
	int i;

	for (i = 0; i < 300; i++) {
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *c;
		ssize_t n;
		int has_aux = 0;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recvmsg(s, &mh, MSG_DONTWAIT);
		if (n <= 0 || !memmem(buf, n, tag, strlen(tag)))
			continue;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
				has_aux = 1;
		return !aux || has_aux;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	struct packet_mreq mr = {};
	socklen_t l = sizeof(sll);
	char tag[64];
	int lo, udp, v;

	test_init(argc, argv);
	lo = if_nametoindex("lo");
	raw = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	dgram = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
	if (raw < 0 || dgram < 0 || !lo) {
		pr_perror("socket(AF_PACKET)");
		return 1;
	}
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = lo;
	if (bind(raw, (struct sockaddr *)&sll, sizeof(sll))) {
		pr_perror("bind");
		return 1;
	}
	if (setint(raw, PACKET_VERSION, TPACKET_V2) || setint(raw, PACKET_AUXDATA, 1) ||
	    setint(raw, PACKET_ORIGDEV, 1) || setint(raw, PACKET_VNET_HDR, 1) || setint(raw, PACKET_LOSS, 1) ||
	    setint(raw, PACKET_FANOUT, FANOUT))
		return 1;
	mr.mr_ifindex = lo;
	mr.mr_type = PACKET_MR_MULTICAST;
	mr.mr_alen = ETH_ALEN;
	memcpy(mr.mr_address, mcaddr, ETH_ALEN);
	if (setsockopt(raw, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
		pr_perror("PACKET_ADD_MEMBERSHIP multicast");
		return 1;
	}
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = lo;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(raw, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
		pr_perror("PACKET_ADD_MEMBERSHIP promisc");
		return 1;
	}
	v = RCVBUF;
	if (setint(dgram, PACKET_RESERVE, 64) || setint(dgram, PACKET_TIMESTAMP, SOF_TIMESTAMPING_RAW_HARDWARE) ||
	    setsockopt(dgram, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v))) {
		pr_perror("dgram options");
		return 1;
	}
	if (!mcast_on_lo()) {
		pr_err("lo has not the multicast membership before dump");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (getint(raw, SOL_SOCKET, SO_TYPE) != SOCK_RAW || getint(raw, SOL_SOCKET, SO_DOMAIN) != AF_PACKET)
		fail("raw: type %d", getint(raw, SOL_SOCKET, SO_TYPE));
	if (getint(dgram, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM)
		fail("dgram: type %d", getint(dgram, SOL_SOCKET, SO_TYPE));
	if (getsockname(raw, (struct sockaddr *)&sll, &l) || sll.sll_ifindex != lo || sll.sll_protocol != htons(ETH_P_ALL))
		fail("raw: bound to ifindex %d protocol %#x, want %d %#x", sll.sll_ifindex, sll.sll_protocol, lo,
		     htons(ETH_P_ALL));
	l = sizeof(sll);
	if (getsockname(dgram, (struct sockaddr *)&sll, &l) || sll.sll_ifindex != 0 || sll.sll_protocol != htons(ETH_P_IP))
		fail("dgram: bound to ifindex %d protocol %#x, want 0 %#x", sll.sll_ifindex, sll.sll_protocol,
		     htons(ETH_P_IP));
	if (getint(raw, SOL_PACKET, PACKET_VERSION) != TPACKET_V2)
		fail("raw: PACKET_VERSION %d", getint(raw, SOL_PACKET, PACKET_VERSION));
	if (getint(raw, SOL_PACKET, PACKET_AUXDATA) != 1 || getint(raw, SOL_PACKET, PACKET_ORIGDEV) != 1 ||
	    getint(raw, SOL_PACKET, PACKET_VNET_HDR) != 1 || getint(raw, SOL_PACKET, PACKET_LOSS) != 1)
		fail("raw: AUXDATA %d ORIGDEV %d VNET_HDR %d LOSS %d, want 1", getint(raw, SOL_PACKET, PACKET_AUXDATA),
		     getint(raw, SOL_PACKET, PACKET_ORIGDEV), getint(raw, SOL_PACKET, PACKET_VNET_HDR),
		     getint(raw, SOL_PACKET, PACKET_LOSS));
	if (getint(raw, SOL_PACKET, PACKET_FANOUT) != FANOUT)
		fail("raw: PACKET_FANOUT %#x, want %#x", getint(raw, SOL_PACKET, PACKET_FANOUT), FANOUT);
	if (getint(dgram, SOL_PACKET, PACKET_RESERVE) != 64 ||
	    getint(dgram, SOL_PACKET, PACKET_TIMESTAMP) != SOF_TIMESTAMPING_RAW_HARDWARE)
		fail("dgram: RESERVE %d TIMESTAMP %#x", getint(dgram, SOL_PACKET, PACKET_RESERVE),
		     getint(dgram, SOL_PACKET, PACKET_TIMESTAMP));
	if (getint(dgram, SOL_SOCKET, SO_RCVBUF) != 2 * RCVBUF)
		fail("dgram: SO_RCVBUF %d, want %d", getint(dgram, SOL_SOCKET, SO_RCVBUF), 2 * RCVBUF);
	if (!mcast_on_lo())
		fail("lo lost the multicast membership");

	/* Both still receive: a datagram to 127.0.0.1 with a tag of our own. */
	drain(raw);
	drain(dgram);
	snprintf(tag, sizeof(tag), "packet_sock00-%d-tag", getpid());
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (udp < 0 || sendto(udp, tag, strlen(tag), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		pr_perror("send to 127.0.0.1");
	if (!seen(raw, tag, 1))
		fail("raw: the datagram (with its PACKET_AUXDATA) did not arrive");
	if (!seen(dgram, tag, 0))
		fail("dgram: the datagram did not arrive");
	pass();
	return 0;
}
