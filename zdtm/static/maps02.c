#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Every VMA flag that mmap, madvise, mlock and mseal can set (smaps VmFlags sr rr dc dd mg hg nh "
		       "wf dp lo lf sl) is the same after restore, and the contents too";

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef __NR_mseal
#define __NR_mseal 462
#endif

#define PS 4096L
#define LEN (4 * PS)

enum how { ADVISE, DROPPABLE, LOCKED, LOCKONFAULT, SEALED };

struct area {
	const char *name;
	enum how how;
	int arg;
	uint8_t *addr;
	char flags[256];
};

static struct area areas[] = {
	{ "sequential", ADVISE, MADV_SEQUENTIAL },
	{ "random", ADVISE, MADV_RANDOM },
	{ "dontfork", ADVISE, MADV_DONTFORK },
	{ "dontdump", ADVISE, MADV_DONTDUMP },
	{ "mergeable", ADVISE, MADV_MERGEABLE },
	{ "hugepage", ADVISE, MADV_HUGEPAGE },
	{ "nohugepage", ADVISE, MADV_NOHUGEPAGE },
	{ "wipeonfork", ADVISE, MADV_WIPEONFORK },
	{ "droppable", DROPPABLE },
	{ "locked", LOCKED },
	{ "lock on fault", LOCKONFAULT },
	{ "sealed", SEALED },
};
#define NR (sizeof(areas) / sizeof(areas[0]))

static int vmflags(void *addr, char *out, size_t len)
{
	char line[512];
	unsigned long s, e;
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) { /* a mapping's first line */
			in = s == (unsigned long)addr;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, len, "%.250s", line + 8);
			out[strcspn(out, "\n")] = 0;
			found = 1;
			in = 0;
		}
	}
	fclose(f);
	return found ? 0 : -1;
}

int main(int argc, char **argv)
{
	char now[256];
	unsigned int i;
	uint8_t *base;

	test_init(argc, argv);
	/* One reserved range, each area with a guard page on both sides, so
	 * that no two areas merge. */
	base = mmap(NULL, NR * (LEN + PS) + PS, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	for (i = 0; i < NR; i++) {
		struct area *a = &areas[i];
		int type = a->how == DROPPABLE ? MAP_DROPPABLE : MAP_PRIVATE;

		a->addr = mmap(base + PS + i * (LEN + PS), LEN, PROT_READ | PROT_WRITE,
			       type | MAP_ANONYMOUS | MAP_FIXED | (a->how == LOCKED ? MAP_LOCKED : 0), -1, 0);
		if (a->addr == MAP_FAILED) {
			pr_perror("mmap %s", a->name);
			return 1;
		}
		fill_pattern(a->addr, LEN, 40 + i);
		switch (a->how) {
		case ADVISE:
			if (madvise(a->addr, LEN, a->arg)) {
				if (errno == EINVAL) {
					test_msg("madvise %s: not in this kernel\n", a->name);
					break;
				}
				pr_perror("madvise %s", a->name);
				return 1;
			}
			break;
		case LOCKONFAULT:
			if (syscall(__NR_mlock2, a->addr, LEN, MLOCK_ONFAULT)) {
				pr_perror("mlock2");
				return 1;
			}
			break;
		case SEALED:
			if (syscall(__NR_mseal, a->addr, LEN, 0)) {
				if (errno == ENOSYS || errno == EINVAL) {
					test_msg("mseal: not in this kernel\n");
					break;
				}
				pr_perror("mseal");
				return 1;
			}
			break;
		default:
			break;
		}
		if (vmflags(a->addr, a->flags, sizeof(a->flags))) {
			pr_err("no VmFlags for %s\n", a->name);
			return 1;
		}
		test_msg("%-14s %s\n", a->name, a->flags);
	}
	test_daemon();
	test_waitsig();

	for (i = 0; i < NR; i++) {
		struct area *a = &areas[i];

		if (vmflags(a->addr, now, sizeof(now)))
			fail("%s: the mapping at %p is gone", a->name, a->addr);
		else if (strcmp(now, a->flags))
			fail("%s: VmFlags \"%s\", was \"%s\"", a->name, now, a->flags);
		/* A droppable page may have been dropped: then it reads as zeros. */
		if (a->how != DROPPABLE && check_pattern(a->addr, LEN, 40 + i) >= 0)
			fail("%s: contents differ", a->name);
	}
	pass();
	return 0;
}
