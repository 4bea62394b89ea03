#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A vDSO the task moved with mremap, away from its vvar pages, is where the "
		       "task put it after restore, whole, and the vvar pages stay where they were";

/* The task's special mappings as /proc/self/maps lists them. */
struct area {
	unsigned long start, end;
};

static struct area vdso, vvar, moved_from;

static int find(const char *name, struct area *a)
{
	char line[512];
	unsigned long s, e;
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '\n');

		if (p)
			*p = 0;
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		p = strrchr(line, ' ');
		if (p && !strcmp(p + 1, name)) {
			if (!found)
				a->start = s;
			a->end = e;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

static void corrupt(void)
{
	vdso.start += 4096;
}

int main(int argc, char **argv)
{
	struct area now_vdso, now_vvar;
	void *to;

	test_init(argc, argv);
	if (!find("[vdso]", &vdso) || !find("[vvar]", &vvar)) {
		fail("no [vdso] or [vvar] in /proc/self/maps");
		return 1;
	}
	moved_from = vdso;
	/* A place of its own, far from the vvar pages. */
	to = mmap(NULL, (vdso.end - vdso.start) + (64 << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	to = (char *)to + (32 << 20);
	if (mremap((void *)vdso.start, vdso.end - vdso.start, vdso.end - vdso.start, MREMAP_MAYMOVE | MREMAP_FIXED,
		   to) != to) {
		pr_perror("mremap the vdso");
		return 1;
	}
	vdso.end = (unsigned long)to + (vdso.end - vdso.start);
	vdso.start = (unsigned long)to;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!find("[vdso]", &now_vdso) || !find("[vvar]", &now_vvar))
		fail("no [vdso] or [vvar] after restore");
	else if (now_vdso.start != vdso.start || now_vdso.end != vdso.end)
		fail("the vdso is at %lx-%lx, the task had moved it to %lx-%lx", now_vdso.start, now_vdso.end,
		     vdso.start, vdso.end);
	else if (now_vvar.start != vvar.start)
		fail("the vvar pages are at %lx, were at %lx", now_vvar.start, vvar.start);
	else if (memcmp((void *)vdso.start, "\177ELF", 4))
		fail("the moved vdso does not start with its ELF header");
	if (!test_failed())
		pass();
	return 0;
}
