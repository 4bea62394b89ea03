#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "membarrier registrations of the mm (private expedited, its sync-core and rseq "
		       "flavors, global expedited) are kept: the barriers work, and "
		       "MEMBARRIER_CMD_GET_REGISTRATIONS says the same";

#ifndef MEMBARRIER_CMD_GET_REGISTRATIONS
#define MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)
#endif

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
}

static const int regs = MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED |
			MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE |
			MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;

static void corrupt(void)
{
	membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ);
}

int main(int argc, char **argv)
{
	long got;

	test_init(argc, argv);
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != -1 || errno != EPERM) {
		fail("a barrier of an unregistered mm did not fail with EPERM");
		return 1;
	}
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) ||
	    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) ||
	    membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)) {
		pr_perror("register");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();
	got = membarrier(MEMBARRIER_CMD_GET_REGISTRATIONS);
	if (got != regs)
		fail("registrations %#lx, want %#x", got, regs);
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		pr_perror("private expedited barrier");
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE))
		pr_perror("sync-core barrier");
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != -1 || errno != EPERM)
		fail("an rseq barrier without its registration did not fail with EPERM");
	if (!test_failed())
		pass();
	return 0;
}
