#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Packet sockets with PACKET_MMAP rings that no task maps at the dump "
		       "(mapped and unmapped before it): TPACKET_V1 and V2 RX rings, a V2 "
		       "TX ring, a V3 RX ring, keep their version and geometry (they map "
		       "again at their whole size, which mmap takes only exact), and the "
		       "V2 RX ring on lo gets a datagram sent after restore (packet_mmap00: "
		       "rings mapped at the dump)";

#define BS 4096
#define BN 4
#define FS 2048
#define FN (BS / FS * BN)
#define PORT 9 /* discard: nothing listens, the ring sees the datagram */

static int v1, v2, v3;

static void corrupt(void)
{
	/* Without its ring the socket maps no more. */
	close(v2);
	v2 = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
}

static int ring(int version, int tx)
{
	struct tpacket_req req = {.tp_block_size = BS, .tp_block_nr = BN, .tp_frame_size = FS, .tp_frame_nr = FN};
	struct tpacket_req3 req3 = {.tp_block_size = BS, .tp_block_nr = BN, .tp_frame_size = FS, .tp_frame_nr = FN,
				    .tp_retire_blk_tov = 10};
	struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	void *m;

	ll.sll_ifindex = if_nametoindex("lo");
	if (s < 0 || setsockopt(s, SOL_PACKET, PACKET_VERSION, &version, sizeof(version))) {
		pr_perror("packet socket of version %d", version);
		return -1;
	}
	if (version == TPACKET_V3 ? setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req3, sizeof(req3))
				  : setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req))) {
		pr_perror("PACKET_RX_RING");
		return -1;
	}
	if (tx && setsockopt(s, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req))) {
		pr_perror("PACKET_TX_RING");
		return -1;
	}
	if (bind(s, (struct sockaddr *)&ll, sizeof(ll))) {
		pr_perror("bind to lo");
		return -1;
	}
	/* Mapped once, as a program that dropped its mapping did. */
	m = mmap(NULL, (tx + 1) * BS * BN, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
	if (m == MAP_FAILED || munmap(m, (tx + 1) * BS * BN)) {
		pr_perror("mmap the ring");
		return -1;
	}
	return s;
}

static void *check(const char *what, int s, int version, int tx)
{
	int v = -1;
	socklen_t l = sizeof(v);
	void *m;

	if (getsockopt(s, SOL_PACKET, PACKET_VERSION, &v, &l) || v != version)
		fail("%s: PACKET_VERSION is %d, not %d", what, v, version);
	m = mmap(NULL, (tx + 1) * BS * BN, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
	if (m == MAP_FAILED) {
		fail("%s: its ring does not map at %d bytes", what, (tx + 1) * BS * BN);
		return NULL;
	}
	return m;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	static const char mark[] = "zdtm-packet-ring00";
	unsigned char *m;
	int u, found = 0;

	test_init(argc, argv);
	if ((v1 = ring(TPACKET_V1, 0)) < 0 || (v2 = ring(TPACKET_V2, 1)) < 0 || (v3 = ring(TPACKET_V3, 0)) < 0)
		return 1;

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check("TPACKET_V1", v1, TPACKET_V1, 0);
	check("TPACKET_V3", v3, TPACKET_V3, 0);
	m = check("TPACKET_V2", v2, TPACKET_V2, 1);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	/* lo carries others' traffic in the h flavor: look for ours in
	 * every frame, handing each back to the kernel, a few times. */
	for (int try = 0; m && !found && try < 20; try++) {
		struct pollfd p = {.fd = v2, .events = POLLIN};

		if (sendto(u, mark, sizeof(mark), 0, (struct sockaddr *)&to, sizeof(to)) != sizeof(mark)) {
			pr_perror("send");
			break;
		}
		poll(&p, 1, 500);
		for (int i = 0; i < FN; i++) {
			struct tpacket2_hdr *h = (void *)(m + i * FS);

			if (!(h->tp_status & TP_STATUS_USER))
				continue;
			if (h->tp_snaplen >= sizeof(mark) &&
			    memmem((char *)h + h->tp_mac, h->tp_snaplen, mark, sizeof(mark)))
				found = 1;
			__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		}
	}
	if (m && !found)
		fail("the TPACKET_V2 RX ring got no datagram sent on lo");
	pass();
	return 0;
}
