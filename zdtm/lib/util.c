// Checksums, byte patterns and sysctls shared by the tests.
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <unistd.h>

#include "zdtmtst.h"

uint32_t crc32_buf(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;
	int k;

	crc = ~crc;
	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
	}
	return ~crc;
}

/* A cheap position-dependent pattern: a page moved or swapped shows. */
static inline uint64_t pattern_word(size_t word, uint64_t seed)
{
	uint64_t x = word * 0x9E3779B97F4A7C15ull + seed;

	return x ^ (x >> 29);
}

static inline uint8_t pattern_byte(size_t off, uint64_t seed)
{
	return (uint8_t)(pattern_word(off >> 3, seed) >> ((off & 7) * 8));
}

void fill_pattern(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w = pattern_word(i >> 3, seed);
		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] = pattern_byte(i, seed);
}

long check_pattern(const void *buf, size_t len, uint64_t seed)
{
	const uint8_t *p = buf;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w = pattern_word(i >> 3, seed), v;
		memcpy(&v, p + i, 8);
		if (v != w)
			break;
	}
	for (; i < len; i++)
		if (p[i] != pattern_byte(i, seed))
			return (long)i;
	return -1;
}

/* sysctl_open opens /proc/sys/NAME, or fails the test and returns -1. */
static int sysctl_open(const char *name, int flags)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, flags);
	if (fd < 0)
		pr_perror("open %s", path);
	return fd;
}

int sysctl_set(const char *name, const char *val)
{
	int fd = sysctl_open(name, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	if (n != (ssize_t)strlen(val)) {
		pr_perror("write %s to sysctl %s", val, name);
		return -1;
	}
	return 0;
}

void sysctl_check(const char *name, const char *want)
{
	int fd = sysctl_open(name, O_RDONLY);
	char buf[256], norm[256];
	size_t i, j = 0;
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		pr_perror("read sysctl %s", name);
		return;
	}
	buf[n] = '\0';
	/* "32000\t1024000000\t500\n" reads as "32000 1024000000 500". */
	for (i = 0; buf[i]; i++) {
		int blank = buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n';

		if (!blank)
			norm[j++] = buf[i];
		else if (j && norm[j - 1] != ' ')
			norm[j++] = ' ';
	}
	if (j && norm[j - 1] == ' ')
		j--;
	norm[j] = '\0';
	if (strcmp(norm, want))
		fail("sysctl %s is \"%s\", want \"%s\"", name, norm, want);
}

int tcp_state(int sk)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &l))
		return -1;
	return ti.tcpi_state;
}

int tcp_listen_lo(struct sockaddr_in *a, int backlog)
{
	socklen_t al = sizeof(*a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	*a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (l < 0 || bind(l, (struct sockaddr *)a, sizeof(*a)) || listen(l, backlog) ||
	    getsockname(l, (struct sockaddr *)a, &al)) {
		pr_perror("listen on 127.0.0.1");
		return -1;
	}
	return l;
}
