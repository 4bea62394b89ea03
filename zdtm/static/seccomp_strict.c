#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A child in SECCOMP_MODE_STRICT stays strict: after restore it still echoes a "
		       "byte (read and write are allowed) and is then killed by its next syscall";

static pid_t child;
static int to_child[2], from_child[2];

static long seccomp_of(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;
	int hpid = pid;

	/* In the ns flavor /proc is the host's: the child, our only
	 * one, is found by the host pid our children list gives. */
	f = fopen("/proc/thread-self/children", "r");
	if (f) {
		if (fscanf(f, "%d", &hpid) != 1)
			hpid = pid;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", hpid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8))
			v = strtol(line + 8, NULL, 10);
	fclose(f);
	return v;
}

static void corrupt(void)
{
	kill(child, SIGKILL);
}

int main(int argc, char **argv)
{
	int status;
	char c;

	test_init(argc, argv);
	if (pipe(to_child) || pipe(from_child)) {
		pr_perror("pipe");
		return 1;
	}
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		close(to_child[1]);
		close(from_child[0]);
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
			_exit(2);
		/* Only read, write, exit and sigreturn from here on. */
		c = 'r';
		syscall(SYS_write, from_child[1], &c, 1);
		if (syscall(SYS_read, to_child[0], &c, 1) != 1)
			syscall(SYS_exit, 3);
		syscall(SYS_write, from_child[1], &c, 1);
		syscall(SYS_getpid); /* kills it if it is still strict */
		syscall(SYS_exit, 0);
	}
	close(to_child[0]);
	close(from_child[1]);
	if (read(from_child[0], &c, 1) != 1 || c != 'r') {
		fail("the child did not enter strict mode");
		return 1;
	}
	if (seccomp_of(child) != 1) {
		fail("the child's Seccomp is %ld, want 1", seccomp_of(child));
		return 1;
	}
	/* Corrupted, the child is dead: the write below must fail (EPIPE),
	 * not kill the test before it can report. */
	signal(SIGPIPE, SIG_IGN);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (seccomp_of(child) != 1)
		fail("after restore the child's Seccomp is %ld, want 1", seccomp_of(child));
	c = 'x';
	if (write(to_child[1], &c, 1) != 1 || read(from_child[0], &c, 1) != 1 || c != 'x')
		fail("the child did not echo the byte");
	if (waitpid(child, &status, 0) != child)
		pr_perror("waitpid");
	else if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail("the child ended with status %#x, want killed by SIGKILL (strict mode)", status);
	if (!test_failed())
		pass();
	return 0;
}
