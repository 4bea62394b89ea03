#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "The process-wide memory prctls stay set: memory-deny-write-execute (PR_SET_MDWE) "
		       "and KSM merging of every mapping (PR_SET_MEMORY_MERGE)";

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif

static int has_mg(void *addr)
{
	char line[512];
	unsigned long s, e;
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, mg = -1;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			in = s == (unsigned long)addr;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8))
			mg = strstr(line, " mg") != NULL;
	}
	if (f)
		fclose(f);
	return mg;
}

/* The corruption: KSM merging of new mappings is turned off (MDWE
 * cannot be turned off once set). */
static void corrupt(void)
{
	prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
	int ksm = 1;
	void *p;

	test_init(argc, argv);
	test_set_corrupt(corrupt);
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0)) {
		if (errno != EINVAL) {
			pr_perror("PR_SET_MEMORY_MERGE");
			return 1;
		}
		test_msg("no KSM in this kernel\n");
		ksm = 0;
	}
	if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0)) {
		pr_perror("PR_SET_MDWE");
		return 1;
	}
	test_daemon();
	test_waitsig();

	if (prctl(PR_GET_MDWE, 0, 0, 0, 0) != PR_MDWE_REFUSE_EXEC_GAIN)
		fail("PR_GET_MDWE gives %d, want %d", prctl(PR_GET_MDWE, 0, 0, 0, 0), PR_MDWE_REFUSE_EXEC_GAIN);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		fail("a writable and executable mapping was made despite MDWE");
	if (ksm) {
		if (prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) != 1)
			fail("PR_GET_MEMORY_MERGE gives %d, want 1", prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			fail("mmap: %m");
		else if (has_mg(p) != 1)
			fail("a new mapping is not mergeable (VmFlags without mg)");
	}
	pass();
	return 0;
}
