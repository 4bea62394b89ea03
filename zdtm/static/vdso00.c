#define _GNU_SOURCE
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Clock reads through the vDSO work after restore, agree with the "
		       "syscall, and CLOCK_MONOTONIC does not go back";

static struct timespec before;
static unsigned long vdso;

static double ts2d(struct timespec ts)
{
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void corrupt(void)
{
	before.tv_sec += 100000;
}

static int vdso_mapped(unsigned long addr)
{
	char line[512];
	unsigned long s, e;
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s == addr && strstr(line, "[vdso]"))
			found = 1;
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	static const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME,
					   CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME_COARSE};
	struct timespec v, s, now;
	struct timeval tv;
	unsigned i;
	int n;

	test_init(argc, argv);
	vdso = getauxval(AT_SYSINFO_EHDR);
	clock_gettime(CLOCK_MONOTONIC, &before);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!vdso_mapped(vdso))
		fail("[vdso] is not at %#lx any more", vdso);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ts2d(now) < ts2d(before))
		fail("CLOCK_MONOTONIC went back: %f before, %f now", ts2d(before), ts2d(now));
	for (i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		clock_gettime(clocks[i], &v);
		syscall(SYS_clock_gettime, clocks[i], &s);
		if (ts2d(s) - ts2d(v) > 0.5 || ts2d(v) - ts2d(s) > 0.5)
			fail("clock %d: vDSO %f, syscall %f", clocks[i], ts2d(v), ts2d(s));
	}
	gettimeofday(&tv, NULL);
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &s);
	if (tv.tv_sec - s.tv_sec > 1 || s.tv_sec - tv.tv_sec > 1)
		fail("gettimeofday %ld, clock_gettime %ld", (long)tv.tv_sec, (long)s.tv_sec);
	n = 0;
	for (i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &v);
		if (ts2d(v) < ts2d(now))
			n++;
		now = v;
	}
	if (n)
		fail("CLOCK_MONOTONIC went back %d times in a loop", n);
	pass();
	return 0;
}
