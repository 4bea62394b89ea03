#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "zdtmtst.h"
#include "sched.inc"

const char *test_doc = "Scheduling policies are kept per thread and per process: a child under "
		       "SCHED_RR priority 3 with SCHED_RESET_ON_FORK, a thread under SCHED_FIFO 7 that "
		       "had nice 4, a thread under SCHED_BATCH nice 5, a thread under SCHED_IDLE";

static pid_t tids[3];
static volatile int stop;

static void *idle_thread(void *arg)
{
	tids[(long)arg] = syscall(SYS_gettid);
	while (!stop)
		usleep(10000);
	return NULL;
}

static void corrupt(void)
{
	set_attr(tids[1], SCHED_OTHER, 0, 5, 0);
}

int main(int argc, char **argv)
{
	pthread_t th[3];
	pid_t child;
	long i;
	int status;

	test_init(argc, argv);
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		while (1)
			pause();
	}
	for (i = 0; i < 3; i++)
		if (pthread_create(&th[i], NULL, idle_thread, (void *)i)) {
			pr_perror("pthread_create");
			return 1;
		}
	for (i = 0; i < 3; i++)
		while (!tids[i])
			usleep(1000);
	if (set_attr(child, SCHED_RR, 3, 0, 1) ||
	    set_attr(tids[0], SCHED_OTHER, 0, 4, 0) || set_attr(tids[0], SCHED_FIFO, 7, 0, 0) ||
	    set_attr(tids[1], SCHED_BATCH, 0, 5, 0) || set_attr(tids[2], SCHED_IDLE, 0, 0, 0)) {
		kill(child, SIGKILL);
		return 1;
	}
	check_attr("fifo thread", tids[0], SCHED_FIFO, 7, 4, 0);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check_attr("child", child, SCHED_RR, 3, 0, 1);
	check_attr("fifo thread", tids[0], SCHED_FIFO, 7, 4, 0);
	check_attr("batch thread", tids[1], SCHED_BATCH, 0, 5, 0);
	check_attr("idle thread", tids[2], SCHED_IDLE, 0, 0, 0);
	check_attr("main thread", syscall(SYS_gettid), SCHED_OTHER, 0, 0, 0);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	stop = 1;
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	if (!test_failed())
		pass();
	return 0;
}
