#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A two-process tree: the child keeps its pid, parent and memory";

#define SIZE 50000

static uint8_t buf[SIZE];
static pid_t child;
static volatile sig_atomic_t child_stop;

static void child_term(int sig)
{
	(void)sig;
	child_stop = 1;
}

/* child_main runs with SIGTERM blocked; it waits for it in sigsuspend. */
static int child_main(pid_t parent, sigset_t waitmask)
{
	struct sigaction sa = {.sa_handler = child_term};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	fill_pattern(buf, SIZE, 77);
	sigdelset(&waitmask, SIGTERM);
	while (!child_stop)
		sigsuspend(&waitmask);
	if (getppid() != parent)
		return 2;
	if (check_pattern(buf, SIZE, 77) >= 0)
		return 3;
	return 0;
}

static void corrupt(void)
{
	kill(child, SIGKILL);
}

int main(int argc, char **argv)
{
	sigset_t block, old;
	int status;

	test_init(argc, argv);
	/* Block SIGTERM around fork so the child installs its handler first. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		exit(child_main(getppid(), old));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	fill_pattern(buf, SIZE, 76);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (kill(child, SIGTERM))
		pr_perror("kill the child %d", child);
	if (waitpid(child, &status, 0) != child)
		pr_perror("waitpid %d", child);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("the child ended with status %#x (2: wrong parent, 3: memory)", status);
	if (check_pattern(buf, SIZE, 76) >= 0)
		fail("the parent's memory differs");
	pass();
	return 0;
}
