#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Packet sockets with PACKET_MMAP rings the task maps, not used yet: "
		       "TPACKET_V2 RX and TX rings mapped shared, a TPACKET_V3 RX ring; after "
		       "restore each is mapped at its address from its socket, a frame sent on lo "
		       "lands in the first RX frame (V2) and the first block (V3), and a frame "
		       "put in the TX ring is sent";

#define PROTO 0x88b5 /* IEEE 802 local experimental: nobody else's frames */
#define BLOCK 4096
#define FRAME 2048

static int v2, v3, ifindex;
static unsigned char *m2, *m3;

static int ring_socket(int version, int tx, unsigned char **map)
{
	struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(PROTO), .sll_ifindex = ifindex};
	struct tpacket_req3 r = {.tp_block_size = BLOCK, .tp_block_nr = 2, .tp_frame_size = FRAME, .tp_frame_nr = 4};
	int sk = socket(AF_PACKET, SOCK_RAW, htons(PROTO));
	size_t size = 2 * BLOCK * (tx ? 2 : 1);

	if (version == TPACKET_V3)
		r.tp_retire_blk_tov = 10;
	if (sk < 0 || setsockopt(sk, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) ||
	    setsockopt(sk, SOL_PACKET, PACKET_RX_RING, &r, version == TPACKET_V3 ? sizeof(r) : sizeof(struct tpacket_req)) ||
	    (tx && setsockopt(sk, SOL_PACKET, PACKET_TX_RING, &r, sizeof(struct tpacket_req))) ||
	    bind(sk, (struct sockaddr *)&a, sizeof(a))) {
		pr_perror("packet socket (TPACKET version %d)", version);
		return -1;
	}
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, sk, 0);
	if (*map == MAP_FAILED) {
		pr_perror("mmap");
		return -1;
	}
	return sk;
}

/* The mapping at addr is of socket sk. */
static int mapped_from(unsigned char *addr, int sk)
{
	char line[512];
	struct stat st;
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f || fstat(sk, &st))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start;
		unsigned long long ino;
		if (sscanf(line, "%lx-%*x %*s %*s %*s %llu", &start, &ino) == 2 && start == (unsigned long)addr &&
		    ino == st.st_ino)
			found = 1;
	}
	fclose(f);
	return found;
}

static void frame(unsigned char *b, const char *payload)
{
	memset(b, 0, ETH_HLEN);
	b[12] = PROTO >> 8;
	b[13] = PROTO & 0xff;
	strcpy((char *)b + ETH_HLEN, payload);
}

/* Sends payload on lo from a new socket. */
static int send_frame(const char *payload)
{
	struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(PROTO), .sll_ifindex = ifindex, .sll_halen = ETH_ALEN};
	unsigned char b[64];
	int sk = socket(AF_PACKET, SOCK_RAW, 0), ret;

	frame(b, payload);
	ret = sk < 0 || sendto(sk, b, sizeof(b), 0, (struct sockaddr *)&a, sizeof(a)) != sizeof(b);
	close(sk);
	return ret ? -1 : 0;
}

static int wait_status(volatile uint32_t *status, uint32_t bit)
{
	for (int i = 0; i < 2000 && !(*status & bit); i++)
		usleep(1000);
	return *status & bit ? 0 : -1;
}

/* The V2 ring is gone: anonymous memory in its place. */
static void corrupt(void)
{
	mmap(m2, 4 * BLOCK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

int main(int argc, char **argv)
{
	struct tpacket2_hdr *h2;
	struct tpacket_block_desc *bd;

	test_init(argc, argv);
	ifindex = if_nametoindex("lo");
	if (!ifindex) {
		pr_perror("lo");
		return 1;
	}
	if ((v2 = ring_socket(TPACKET_V2, 1, &m2)) < 0 || (v3 = ring_socket(TPACKET_V3, 0, &m3)) < 0)
		return 1;

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!mapped_from(m2, v2) || !mapped_from(m3, v3)) {
		fail("a ring is not mapped from its socket at its address");
		return 1;
	}
	if (send_frame("to the rings")) {
		pr_perror("send");
		return 1;
	}
	h2 = (struct tpacket2_hdr *)m2;
	if (wait_status(&h2->tp_status, TP_STATUS_USER) ||
	    strcmp((char *)m2 + h2->tp_mac + ETH_HLEN, "to the rings")) {
		fail("V2: the frame is not in the first RX frame (status %#x)", h2->tp_status);
		return 1;
	}
	bd = (struct tpacket_block_desc *)m3;
	if (wait_status(&bd->hdr.bh1.block_status, TP_STATUS_USER) || bd->hdr.bh1.num_pkts != 1) {
		fail("V3: the first block holds %u frames (status %#x)", bd->hdr.bh1.num_pkts, bd->hdr.bh1.block_status);
		return 1;
	}
	{
		struct tpacket3_hdr *f = (struct tpacket3_hdr *)((unsigned char *)bd + bd->hdr.bh1.offset_to_first_pkt);
		if (strcmp((char *)f + f->tp_mac + ETH_HLEN, "to the rings")) {
			fail("V3: another frame in the first block");
			return 1;
		}
	}
	/* The V2 TX ring (after the RX ring's two blocks) sends its first
	 * frame; the V3 ring gets it in its second block. */
	h2 = (struct tpacket2_hdr *)(m2 + 2 * BLOCK);
	frame((unsigned char *)h2 + TPACKET2_HDRLEN - sizeof(struct sockaddr_ll), "from the TX ring");
	h2->tp_len = 64;
	h2->tp_status = TP_STATUS_SEND_REQUEST;
	if (send(v2, NULL, 0, 0) < 0) {
		pr_perror("send the TX ring");
		return 1;
	}
	bd = (struct tpacket_block_desc *)(m3 + BLOCK);
	if (wait_status(&bd->hdr.bh1.block_status, TP_STATUS_USER) || bd->hdr.bh1.num_pkts != 1) {
		fail("the TX ring's frame did not reach the V3 ring (%u frames)", bd->hdr.bh1.num_pkts);
		return 1;
	}
	pass();
	return 0;
}
