// Checksums and byte patterns shared by the tests.
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
