#include <sys/utsname.h>

#include "zdtmtst.h"
#include "seccomp.inc"

const char *test_doc = "A chain of four seccomp filters, with no_new_privs, is restored in order: "
		       "uname fails with 42, seccomp() without flags with 44, prctl and munmap with 43 "
		       "(neither the dump's nor the restore's injected syscalls pass them unless seccomp "
		       "is suspended), getppid with 45 from the newest filter, not 42 from the oldest";

static void corrupt(void)
{
	/* The newest filter answers first among equal actions; seccomp()
	 * with a flag passes the second filter. */
	deny(SYS_uname, -1, 0, 99, SECCOMP_FILTER_FLAG_LOG, 0);
}

static void check(const char *when)
{
	int e;

	if ((e = errno_of(SYS_uname)) != 42)
		fail("%s: uname fails with %d, want 42", when, e);
	if ((e = errno_of(SYS_seccomp)) != 44)
		fail("%s: seccomp() fails with %d, want 44", when, e);
	if ((e = errno_of(SYS_prctl)) != 43)
		fail("%s: prctl fails with %d, want 43", when, e);
	if ((e = errno_of(SYS_munmap)) != 43)
		fail("%s: munmap fails with %d, want 43", when, e);
	if ((e = errno_of(SYS_getppid)) != 45)
		fail("%s: getppid fails with %d, want 45 (the newest filter's)", when, e);
	if ((e = errno_of(SYS_getpid)) != 0)
		fail("%s: getpid fails with %d, want success", when, e);
	if (status_field("/proc/self/status", "Seccomp") != 2)
		fail("%s: Seccomp is %ld, want 2", when, status_field("/proc/self/status", "Seccomp"));
	if (status_field("/proc/self/status", "Seccomp_filters") != 4)
		fail("%s: Seccomp_filters is %ld, want 4", when, status_field("/proc/self/status", "Seccomp_filters"));
	if (status_field("/proc/self/status", "NoNewPrivs") != 1)
		fail("%s: NoNewPrivs is %ld, want 1", when, status_field("/proc/self/status", "NoNewPrivs"));
}

int main(int argc, char **argv)
{
	test_init(argc, argv);

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		pr_perror("PR_SET_NO_NEW_PRIVS");
		return 1;
	}
	/* The third filter is installed with prctl, the fourth with a flag:
	 * the second denies seccomp() without flags, which a restore must
	 * still be able to use, and the third prctl. */
	if (deny(SYS_uname, SYS_getppid, 0, 42, 0, 0) || deny(SYS_seccomp, -1, 1, 44, 0, 0) ||
	    deny(SYS_prctl, SYS_munmap, 0, 43, 0, 1) ||
	    deny(SYS_getppid, -1, 0, 45, SECCOMP_FILTER_FLAG_LOG, 0))
		return 1;
	check("before");
	if (test_failed())
		return 1;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();
	check("after restore");
	if (!test_failed())
		pass();
	return 0;
}
