#include <signal.h>
#include <sys/wait.h>

#include "zdtmtst.h"
#include "seccomp.inc"

const char *test_doc = "Seccomp filters inherited across fork are kept in the parent and in the "
		       "child, each with the filters it added after the fork";

static int to_child[2], from_child[2];

/* report is what a process sees: uname, getppid, getuid errnos and its
 * filter count, packed in one int. */
static int report(void)
{
	return errno_of(SYS_uname) | errno_of(SYS_getppid) << 8 | errno_of(SYS_getuid) << 16 |
	       (int)status_field("/proc/self/status", "Seccomp_filters") << 24;
}

static void corrupt(void)
{
	deny(SYS_getppid, -1, 0, 99, 0, 0);
}

int main(int argc, char **argv)
{
	pid_t child;
	int r, status;
	char c;

	test_init(argc, argv);
	if (pipe(to_child) || pipe(from_child)) {
		pr_perror("pipe");
		return 1;
	}
	if (deny(SYS_uname, -1, 0, 42, 0, 0))
		return 1;
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		close(to_child[1]);
		close(from_child[0]);
		if (deny(SYS_getuid, -1, 0, 46, 0, 0))
			_exit(1);
		while (read(to_child[0], &c, 1) == 1) {
			r = report();
			if (write(from_child[1], &r, sizeof(r)) != sizeof(r))
				_exit(1);
		}
		_exit(0);
	}
	close(to_child[0]);
	close(from_child[1]);
	if (deny(SYS_getppid, -1, 0, 45, 0, 0))
		return 1;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	r = report();
	if (r != (42 | 45 << 8 | 0 << 16 | 2 << 24))
		fail("parent: uname %d getppid %d getuid %d filters %d, want 42 45 0 2", r & 0xff, r >> 8 & 0xff,
		     r >> 16 & 0xff, r >> 24);
	if (write(to_child[1], "?", 1) != 1 || read(from_child[0], &r, sizeof(r)) != sizeof(r))
		fail("the child does not answer");
	else if (r != (42 | 0 << 8 | 46 << 16 | 2 << 24))
		fail("child: uname %d getppid %d getuid %d filters %d, want 42 0 46 2", r & 0xff, r >> 8 & 0xff,
		     r >> 16 & 0xff, r >> 24);
	close(to_child[1]);
	waitpid(child, &status, 0);
	if (!test_failed())
		pass();
	return 0;
}
