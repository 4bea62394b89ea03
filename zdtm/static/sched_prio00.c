#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Nice values are kept: three children at nice 1, 7 and 19, and the test at -3";

static pid_t kids[3];
static const int nices[3] = {1, 7, 19};

static void corrupt(void)
{
	setpriority(PRIO_PROCESS, kids[1], 2);
}

int main(int argc, char **argv)
{
	int i, status, v;

	test_init(argc, argv);
	for (i = 0; i < 3; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			pr_perror("fork");
			return 1;
		}
		if (kids[i] == 0) {
			while (1)
				pause();
		}
		if (setpriority(PRIO_PROCESS, kids[i], nices[i])) {
			pr_perror("setpriority %d", nices[i]);
			return 1;
		}
	}
	if (setpriority(PRIO_PROCESS, 0, -3)) {
		pr_perror("setpriority -3");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();
	for (i = 0; i < 3; i++) {
		errno = 0;
		v = getpriority(PRIO_PROCESS, kids[i]);
		if (errno || v != nices[i])
			fail("child %d: nice %d, want %d", i, v, nices[i]);
		kill(kids[i], SIGKILL);
		waitpid(kids[i], &status, 0);
	}
	errno = 0;
	v = getpriority(PRIO_PROCESS, 0);
	if (errno || v != -3)
		fail("nice %d, want -3", v);
	if (!test_failed())
		pass();
	return 0;
}
