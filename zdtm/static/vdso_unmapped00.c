#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A child that unmapped its vDSO and vvar pages (as on a kernel booted with vdso=0), "
		       "and mapped memory of its own where its vDSO was, has neither after restore, "
		       "and its memory there as it was";

/*
 * The child never calls into the vDSO after unmapping it: only raw
 * system calls (syscall(2)) and libc functions that make them. The
 * parent keeps its own vDSO: restore forks the child from it with the
 * parent's vDSO where the child's own memory goes.
 */

#define MARK 0x7d50a11fU

struct area {
	unsigned long start, end;
};

/* special lists the special mappings of /proc/self/maps ([vdso],
 * [vvar], [vvar_vclock]) in a, at most n; it returns how many. */
static int special(struct area *a, int n)
{
	char line[512];
	int k = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[vdso]") && !strstr(line, "[vvar"))
			continue;
		if (k < n && sscanf(line, "%lx-%lx", &a[k].start, &a[k].end) == 2)
			k++;
	}
	fclose(f);
	return k;
}

static int cmd[2], res[2];

static void child(void)
{
	struct area a[8];
	unsigned int *mark;
	unsigned long at;
	char c;
	int i, n = special(a, 8);

	if (n <= 0)
		syscall(SYS_exit, 10);
	at = a[0].start;
	for (i = 0; i < n; i++)
		if (syscall(SYS_munmap, a[i].start, a[i].end - a[i].start))
			syscall(SYS_exit, 11);
	/* Memory of its own where its first special mapping was. */
	mark = (void *)syscall(SYS_mmap, at, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			       0);
	if ((unsigned long)mark != at)
		syscall(SYS_exit, 12);
	*mark = MARK;
	c = special(a, 8) == 0 ? 'r' : 'v';
	syscall(SYS_write, res[1], &c, 1);
	if (syscall(SYS_read, cmd[0], &c, 1) != 1)
		syscall(SYS_exit, 13);
	if (c == 'x')
		*mark = ~MARK;
	n = special(a, 8);
	if (n != 0)
		c = 'v'; /* a vDSO or vvar came back */
	else if (*mark != MARK)
		c = 'm';
	else
		c = 'k';
	syscall(SYS_write, res[1], &c, 1);
	syscall(SYS_exit, 0);
}

static int corrupted;

static void corrupt(void)
{
	corrupted = 1;
}

int main(int argc, char **argv)
{
	pid_t pid;
	int status;
	char c;

	test_init(argc, argv);
	if (pipe(cmd) || pipe(res)) {
		pr_perror("pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (pid == 0)
		child();
	if (read(res[0], &c, 1) != 1 || c != 'r') {
		fail("the child did not unmap its vDSO and vvar pages (%c)", c);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	c = corrupted ? 'x' : 'c';
	if (write(cmd[1], &c, 1) != 1) {
		pr_perror("write");
		return 1;
	}
	if (read(res[0], &c, 1) != 1) {
		fail("the child died before its check");
		return 1;
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("the child ended with status %#x", status);
		return 1;
	}
	switch (c) {
	case 'k':
		pass();
		return 0;
	case 'v':
		fail("the child has a vDSO or vvar mapping after restore");
		return 1;
	case 'm':
		fail("the child's memory where its vDSO was is not as it was");
		return 1;
	}
	fail("the child answered %c", c);
	return 1;
}
