#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "An fd table and an fs struct shared down a line of tasks: the test "
		       "clones a child with CLONE_FILES|CLONE_FS, which clones a grandchild "
		       "with the same; after restore an fd the test opens and a directory it "
		       "changes to are seen by both, and what they open is seen by the test";

#define STACK (64 * 1024)

struct shared {
	volatile int fd;	  /* an fd the test opened after restore: -1 before */
	volatile int ack[2];	  /* each task saw it, and its cwd */
	volatile int theirs[2];	  /* an fd each opened before the dump */
	volatile ino_t cwd;
	volatile int stop;
};
static struct shared *sh;
static pid_t kids[2];

static void corrupt(void)
{
	/* The test gets an fd table of its own: the children's fds vanish. */
	unshare(CLONE_FILES);
	close(sh->theirs[0]);
	close(sh->theirs[1]);
}

static void serve(int i)
{
	struct stat st;

	sh->theirs[i] = open("/dev/null", O_RDONLY);
	while (!sh->stop) {
		if (sh->fd >= 0 && !sh->ack[i] && fcntl(sh->fd, F_GETFD) >= 0 &&
		    stat(".", &st) == 0 && st.st_ino == sh->cwd)
			sh->ack[i] = 1;
		usleep(1000);
	}
}

static int grandchild(void *arg)
{
	(void)arg;
	serve(1);
	return 0;
}

static int child(void *arg)
{
	char *stack = malloc(STACK);

	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	kids[1] = clone(grandchild, stack + STACK, CLONE_FILES | CLONE_FS | SIGCHLD, NULL);
	if (kids[1] < 0)
		_exit(1);
	serve(0);
	waitpid(kids[1], NULL, 0);
	return 0;
}

int main(int argc, char **argv)
{
	char *stack;
	struct stat st;
	int i, fd, status;

	test_init(argc, argv);
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	stack = malloc(STACK);
	if (sh == MAP_FAILED || !stack) {
		pr_perror("mmap");
		return 1;
	}
	sh->fd = -1;
	sh->theirs[0] = sh->theirs[1] = -1;
	kids[0] = clone(child, stack + STACK, CLONE_FILES | CLONE_FS | SIGCHLD, NULL);
	if (kids[0] < 0) {
		pr_perror("clone");
		return 1;
	}
	while (sh->theirs[0] < 0 || sh->theirs[1] < 0)
		usleep(1000);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < 2; i++)
		if (fcntl(sh->theirs[i], F_GETFD) < 0)
			fail("fd %d that task %d opened is not in the test's table", sh->theirs[i], i);
	if (mkdir("clone_files00.dir", 0700) < 0 || chdir("clone_files00.dir") < 0 || stat(".", &st) < 0) {
		pr_perror("mkdir/chdir");
	} else {
		sh->cwd = st.st_ino;
		fd = open("/dev/zero", O_RDONLY);
		sh->fd = fd;
		for (i = 0; i < 3000 && !(sh->ack[0] && sh->ack[1]); i++)
			usleep(1000);
		for (i = 0; i < 2; i++)
			if (!sh->ack[i])
				fail("task %d does not see the test's new fd %d or cwd", i, fd);
		chdir("..");
		rmdir("clone_files00.dir");
	}
	sh->stop = 1;
	if (waitpid(kids[0], &status, 0) != kids[0] || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("child: status %#x", status);
	if (!test_failed())
		pass();
	return 0;
}
