#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Every VMA flag that mmap, madvise, mlock and mseal can set (smaps VmFlags sr rr dc dd mg hg nh "
		       "wf dp lo lf sl gu) is the same after restore, and the contents too; guard regions stay "
		       "where they were";

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef __NR_mseal
#define __NR_mseal 462
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

#define PS 4096L
#define LEN (4 * PS)

enum how { ADVISE, DROPPABLE, LOCKED, LOCKONFAULT, SEALED, GUARD, GUARD_REMOVED };

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
	{ "guard", GUARD },
	{ "guard removed", GUARD_REMOVED },
};
#define NR (sizeof(areas) / sizeof(areas[0]))
static uint8_t saved[NR][LEN]; /* the guard areas' contents, but for the guard page */

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

/* guard_page reports a guard region page (pagemap bit 58, PM_GUARD_REGION). */
static int guard_page(void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 || pread(fd, &e, 8, (uintptr_t)addr / PS * 8) != 8)
		pr_perror("pagemap");
	if (fd >= 0)
		close(fd);
	return (e >> 58) & 1;
}

/* The corruption: the sequential area's advice is taken back (sr goes). */
static void corrupt(void)
{
	madvise(areas[0].addr, LEN, MADV_NORMAL);
}

int main(int argc, char **argv)
{
	char now[256];
	unsigned int i;
	uint8_t *base;

	test_init(argc, argv);
	test_set_corrupt(corrupt);
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
		case GUARD:
		case GUARD_REMOVED:
			/* Page 1 becomes a guard page (its contents go). */
			if (madvise(a->addr + PS, PS, MADV_GUARD_INSTALL)) {
				if (errno == EINVAL) {
					test_msg("guard regions: not in this kernel\n");
					a->how = ADVISE;
					break;
				}
				pr_perror("MADV_GUARD_INSTALL");
				return 1;
			}
			if (a->how == GUARD_REMOVED && madvise(a->addr + PS, PS, MADV_GUARD_REMOVE)) {
				pr_perror("MADV_GUARD_REMOVE");
				return 1;
			}
			if (a->how == GUARD_REMOVED)
				memset(a->addr + PS, 0, PS);
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
		if (a->how == GUARD || a->how == GUARD_REMOVED) {
			memcpy(saved[i], a->addr, PS);
			memcpy(saved[i] + 2 * PS, a->addr + 2 * PS, 2 * PS);
			if (a->how == GUARD_REMOVED)
				memcpy(saved[i] + PS, a->addr + PS, PS);
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
		if (a->how == GUARD || a->how == GUARD_REMOVED) {
			for (int p = 0; p < LEN / PS; p++)
				if (guard_page(a->addr + p * PS) != (a->how == GUARD && p == 1))
					fail("%s: page %d is %sa guard page", a->name, p, a->how == GUARD && p == 1 ? "not " : "");
			if (memcmp(a->addr, saved[i], PS) || memcmp(a->addr + 2 * PS, saved[i] + 2 * PS, 2 * PS) ||
			    (a->how == GUARD_REMOVED && memcmp(a->addr + PS, saved[i] + PS, PS)))
				fail("%s: contents differ", a->name);
			continue;
		}
		/* A droppable page may have been dropped: then it reads as zeros. */
		if (a->how != DROPPABLE && check_pattern(a->addr, LEN, 40 + i) >= 0)
			fail("%s: contents differ", a->name);
	}
	pass();
	return 0;
}
