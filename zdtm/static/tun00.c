#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "tun/tap devices and the files attached to them come back: a tun with an "
		       "address that carries a packet sent to it after restore, a multiqueue tap "
		       "with a detached queue, its send buffer and vnet header size, a persistent "
		       "tun with an owner and no file, and a /dev/net/tun never attached; each "
		       "device with its index and flags";

struct dev {
	const char *name;
	int flags;
	int ifindex;
};

static struct dev devs[] = {
	{"zt0", IFF_TUN | IFF_NO_PI, 0},
	{"zt1", IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR, 0},
	{"zt2", IFF_TUN, 0},
};

/* attach opens /dev/net/tun and attaches it to name with flags (-1 on error). */
static int attach(const char *name, int flags)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);

	if (fd < 0) {
		fail("open /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ifr.ifr_flags = flags;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fail("TUNSETIFF %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* iff returns the TUNGETIFF flags of fd (its device must be name), -1 on error. */
static int iff(int fd, const char *name)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		fail("TUNGETIFF on the %s file: %s", name, strerror(errno));
		return -1;
	}
	if (strcmp(ifr.ifr_name, name))
		fail("a file of %s is attached to %s", name, ifr.ifr_name);
	return ifr.ifr_flags;
}

/* up gives link name an IPv4 address addr/24 (if addr) and MTU mtu, and brings it up. */
static int up(const char *name, const char *addr, int mtu)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (addr) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
			goto err;
		inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
		if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
			goto err;
	}
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		goto err;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto err;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		goto err;
	close(s);
	return 0;
err:
	fail("configure %s: %s", name, strerror(errno));
	close(s);
	return -1;
}

static int fd0, fd1a, fd1b, fdfree;

static void corrupt(void)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_DETACH_QUEUE;
	ioctl(fd1a, TUNSETQUEUE, &ifr);
}

int main(int argc, char **argv)
{
	int before[4], i, sndbuf = 65536, hdr = 12, s;
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9)};
	struct ifreq ifr;
	unsigned char pkt[2048];
	struct pollfd p;

	test_init(argc, argv);
	if (!test_flavor_ns()) {
		test_msg("tun00 makes devices in its network namespace: it runs only in the ns and ct flavors\n");
		return 1;
	}
	fd0 = attach("zt0", devs[0].flags);
	fd1a = attach("zt1", devs[1].flags);
	fd1b = attach("zt1", devs[1].flags);
	s = attach("zt2", devs[2].flags);
	fdfree = open("/dev/net/tun", O_RDWR);
	if (fd0 < 0 || fd1a < 0 || fd1b < 0 || s < 0 || fdfree < 0)
		return 1;
	if (ioctl(s, TUNSETOWNER, 1234) < 0 || ioctl(s, TUNSETPERSIST, 1) < 0) {
		fail("zt2 owner, persist: %s", strerror(errno));
		return 1;
	}
	close(s);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_DETACH_QUEUE;
	if (ioctl(fd1b, TUNSETQUEUE, &ifr) < 0 || ioctl(fd1a, TUNSETSNDBUF, &sndbuf) < 0 ||
	    ioctl(fd1a, TUNSETVNETHDRSZ, &hdr) < 0) {
		fail("zt1 queue, sndbuf, vnet header: %s", strerror(errno));
		return 1;
	}
	if (up("zt0", "198.18.7.1", 1300) || up("zt1", NULL, 1400))
		return 1;
	for (i = 0; i < 3; i++)
		devs[i].ifindex = if_nametoindex(devs[i].name);
	before[0] = iff(fd0, "zt0");
	before[1] = iff(fd1a, "zt1");
	before[2] = iff(fd1b, "zt1");
	if (!(before[2] & IFF_DETACH_QUEUE) || (before[1] & IFF_DETACH_QUEUE) || (before[0] & IFF_PERSIST)) {
		fail("flags before: zt0 %#x, zt1 %#x and %#x", before[0], before[1], before[2]);
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < 3; i++)
		if ((int)if_nametoindex(devs[i].name) != devs[i].ifindex)
			fail("%s: ifindex %d, was %d", devs[i].name, if_nametoindex(devs[i].name), devs[i].ifindex);
	if (iff(fd0, "zt0") != before[0])
		fail("zt0's flags %#x, were %#x", iff(fd0, "zt0"), before[0]);
	if (iff(fd1a, "zt1") != before[1])
		fail("zt1's first queue: flags %#x, were %#x", iff(fd1a, "zt1"), before[1]);
	if (iff(fd1b, "zt1") != before[2])
		fail("zt1's second queue: flags %#x, were %#x (detached)", iff(fd1b, "zt1"), before[2]);
	i = 0;
	if (ioctl(fd1a, TUNGETSNDBUF, &i) < 0 || i != sndbuf)
		fail("zt1's send buffer %d, want %d", i, sndbuf);
	i = 0;
	if (ioctl(fd1a, TUNGETVNETHDRSZ, &i) < 0 || i != hdr)
		fail("zt1's vnet header size %d, want %d", i, hdr);
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fdfree, TUNGETIFF, &ifr) == 0 || errno != EBADFD)
		fail("the unattached /dev/net/tun is attached to %s", ifr.ifr_name);
	/* zt2 is persistent with no file: a new file attaches to it, with its owner's blessing. */
	s = attach("zt2", devs[2].flags);
	if (s >= 0) {
		if (!(iff(s, "zt2") & IFF_PERSIST))
			fail("zt2 is no longer persistent");
		close(s);
	}

	/* A datagram to the tun's subnet comes out of its file. */
	inet_pton(AF_INET, "198.18.7.2", &dst.sin_addr);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (sendto(s, "zdtm", 4, 0, (struct sockaddr *)&dst, sizeof(dst)) != 4)
		fail("send through zt0: %s", strerror(errno));
	p.fd = fd0;
	p.events = POLLIN;
	for (;;) {
		ssize_t n;

		if (poll(&p, 1, 5000) != 1) {
			fail("no packet came out of zt0's file");
			break;
		}
		n = read(fd0, pkt, sizeof(pkt));
		if (n >= (ssize_t)sizeof(struct iphdr) && (pkt[0] >> 4) == 4 &&
		    ((struct iphdr *)pkt)->daddr == dst.sin_addr.s_addr)
			break; /* ours; others (IPv6 router solicitations) are skipped */
		if (n < 0) {
			fail("read zt0: %s", strerror(errno));
			break;
		}
	}
	pass();
	return 0;
}
