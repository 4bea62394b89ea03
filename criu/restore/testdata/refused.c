// refused: a task with state that CRIU's images have no place for, by
// argv[2]: "ioprio" (ioprio_set idle class), "affinity" (pinned to CPU 0),
// "exitsig" (a child cloned with exit signal SIGUSR1). It writes "ready"
// to argv[1] and on SIGUSR2 writes PASS if the state is still there.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t check;
static void h_usr2(int s) { (void)s; check = 1; }
static char stack[65536];
static int child(void *arg) { (void)arg; for (;;) pause(); return 0; }
int main(int argc, char **argv) {
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	struct sigaction sa = {0};
	int ok = 0;
	pid_t kid = 0;
	(void)argc;
	sa.sa_handler = h_usr2;
	sigaction(SIGUSR2, &sa, 0);
	signal(SIGUSR1, SIG_IGN); /* the exit signal of the clone child */
	if (!strcmp(argv[2], "ioprio"))
		syscall(SYS_ioprio_set, 1, 0, 3 << 13); /* IOPRIO_CLASS_IDLE */
	else if (!strcmp(argv[2], "affinity")) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		sched_setaffinity(0, sizeof set, &set);
	}
	else if (!strcmp(argv[2], "exitsig"))
		kid = clone(child, stack + sizeof stack, SIGUSR1, 0);
	write(out, "ready\n", 6);
	while (!check)
		pause();
	if (!strcmp(argv[2], "ioprio"))
		ok = syscall(SYS_ioprio_get, 1, 0) == 3 << 13;
	else if (!strcmp(argv[2], "affinity")) {
		cpu_set_t set;
		ok = sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1 && CPU_ISSET(0, &set);
	}
	else if (!strcmp(argv[2], "exitsig")) {
		/* Field 38 of the child's stat is its exit signal. */
		char path[64], buf[1024], *p;
		int fd, n, field = 2;
		snprintf(path, sizeof path, "/proc/%d/stat", kid);
		fd = open(path, O_RDONLY);
		n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = 0;
		p = strrchr(buf, ')');
		while (p && *p && field < 38)
			if (*p++ == ' ')
				field++;
		ok = kid > 0 && p && atoi(p) == SIGUSR1;
		kill(kid, SIGKILL);
		waitpid(kid, 0, __WALL);
	}
	write(out, ok ? "PASS\n" : "FAIL\n", 5);
	return 0;
}
