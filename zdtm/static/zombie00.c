#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Zombie children keep their exit status: three children exited with "
		       "codes 0, 3 and 255, two killed by SIGKILL and SIGUSR1, none reaped";

#define NR 5
static pid_t kids[NR];
static const int codes[] = {0, 3, 255};
static const int sigs[] = {SIGKILL, SIGUSR1};

/* corrupt reaps one zombie early: the check then finds it gone. */
static void corrupt(void)
{
	waitpid(kids[1], NULL, 0);
}

int main(int argc, char **argv)
{
	siginfo_t si;
	int i, status;

	test_init(argc, argv);
	for (i = 0; i < NR; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			pr_perror("fork");
			return 1;
		}
		if (kids[i] == 0) {
			if (i < 3)
				_exit(codes[i]);
			signal(SIGUSR1, SIG_DFL);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			while (1)
				pause();
		}
		if (i >= 3) {
			usleep(10000);
			kill(kids[i], sigs[i - 3]);
		}
	}
	/* Every child is a zombie before the test is ready. */
	for (i = 0; i < NR; i++)
		if (waitid(P_PID, kids[i], &si, WEXITED | WNOWAIT) < 0) {
			pr_perror("waitid %d", kids[i]);
			return 1;
		}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < NR; i++) {
		if (waitid(P_PID, kids[i], &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != kids[i]) {
			fail("child %d (%d) is not a zombie", i, kids[i]);
			continue;
		}
		if (waitpid(kids[i], &status, 0) != kids[i]) {
			pr_perror("waitpid %d", kids[i]);
			continue;
		}
		if (i < 3) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != codes[i])
				fail("child %d: status %#x, want exit %d", i, status, codes[i]);
		} else if (!WIFSIGNALED(status) || WTERMSIG(status) != sigs[i - 3] || WCOREDUMP(status)) {
			fail("child %d: status %#x, want killed by %d", i, status, sigs[i - 3]);
		}
	}
	if (!test_failed())
		pass();
	return 0;
}
