#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A task forked before the dump, from a parent whose memory has a "
		       "MADV_WIPEONFORK area and a MAP_DROPPABLE one: after restore the parent "
		       "still holds the wipe-on-fork area's bytes, the child still sees both "
		       "empty, the flags are still set, and a child forked after restore gets "
		       "both empty again";

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

#define PS 4096L
#define LEN (3 * PS)

enum { WIPE, DROP, KEEP, NR };
static const char *names[NR] = { "wipe-on-fork", "droppable", "plain" };
static uint8_t *areas[NR];

static int is_zero(const uint8_t *p, long len)
{
	for (long i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* has_vmflag says whether the mapping that starts at addr has flag in
 * its smaps VmFlags. */
static int has_vmflag(void *addr, const char *flag)
{
	char line[512];
	unsigned long s, e;
	int in = 0, found = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			in = s == (unsigned long)addr;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			char want[8];

			snprintf(want, sizeof(want), " %s", flag);
			found = strstr(line + 8, want) != NULL;
			break;
		}
	}
	fclose(f);
	return found;
}

/* child_check is what a forked child sees: both special areas empty,
 * the plain one its parent's. It returns an exit code naming the
 * first difference. */
static int child_check(void)
{
	if (!is_zero(areas[WIPE], LEN))
		return 10;
	if (areas[DROP] && !is_zero(areas[DROP], LEN))
		return 11;
	if (check_pattern(areas[KEEP], LEN, 3) >= 0)
		return 12;
	if (has_vmflag(areas[WIPE], "wf") != 1)
		return 13;
	return 0;
}

static const char *child_reason(int code)
{
	switch (code) {
	case 10: return "the wipe-on-fork area is not empty";
	case 11: return "the droppable area is not empty";
	case 12: return "the plain area differs from its parent's";
	case 13: return "the wipe-on-fork area lost VmFlags wf";
	}
	return "unknown";
}

static void reap(const char *which, pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		pr_perror("waitpid %s child", which);
		return;
	}
	if (!WIFEXITED(status))
		fail("%s child died: status %#x", which, status);
	else if (WEXITSTATUS(status))
		fail("%s child: %s", which, child_reason(WEXITSTATUS(status)));
}

static void corrupt(void)
{
	areas[WIPE][PS + 7] ^= 0x5a;
}

int main(int argc, char **argv)
{
	pid_t pid;

	test_init(argc, argv);

	areas[WIPE] = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	areas[DROP] = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
	areas[KEEP] = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (areas[WIPE] == MAP_FAILED || areas[KEEP] == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	if (areas[DROP] == MAP_FAILED) {
		if (errno != EINVAL) {
			pr_perror("mmap MAP_DROPPABLE");
			return 1;
		}
		areas[DROP] = NULL; /* an older kernel: the wipe-on-fork area alone */
	}
	if (madvise(areas[WIPE], LEN, MADV_WIPEONFORK)) {
		pr_perror("madvise MADV_WIPEONFORK");
		return 1;
	}
	for (int i = 0; i < NR; i++)
		if (areas[i])
			fill_pattern(areas[i], LEN, i + 1);

	test_set_corrupt(corrupt); /* the first child's check fails too */
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (pid == 0) {
		int code = child_check();

		if (code)
			_exit(code + 10); /* wrong already before the dump */
		test_waitsig();
		_exit(child_check());
	}

	test_daemon();
	test_waitsig();

	kill(pid, SIGTERM);
	reap("first", pid);

	for (int i = 0; i < NR; i++) {
		long off;

		if (!areas[i])
			continue;
		off = check_pattern(areas[i], LEN, i + 1);
		if (i == DROP) {
			/* The kernel may drop a droppable page at any time (and
			 * a dump need not save one): each page is whole or empty. */
			static uint8_t want[LEN];

			fill_pattern(want, LEN, i + 1);
			for (long p = 0; p < LEN; p += PS)
				if (!is_zero(areas[i] + p, PS) && memcmp(areas[i] + p, want + p, PS))
					fail("%s area: page %ld is neither its bytes nor empty", names[i], p / PS);
			continue;
		}
		if (off >= 0)
			fail("%s area differs at offset %ld", names[i], off);
	}
	if (has_vmflag(areas[WIPE], "wf") != 1)
		fail("the wipe-on-fork area lost VmFlags wf");
	if (areas[DROP] && has_vmflag(areas[DROP], "dp") != 1)
		fail("the droppable area lost VmFlags dp");

	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (pid == 0)
		_exit(child_check());
	reap("second", pid);

	if (!test_failed())
		pass();
	return 0;
}
