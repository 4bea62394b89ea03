#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A POSIX timer that notifies one thread (SIGEV_THREAD_ID) still signals that "
		       "thread, and only it, after restore; a process-wide one keeps its signal";

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static pid_t target_tid;
static atomic_int at_target, elsewhere, process_ticks;
static atomic_int stop;
static timer_t t_thread, t_proc;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGRTMIN + 1) {
		process_ticks++;
		return;
	}
	if (si->si_value.sival_int != 7)
		return;
	if (syscall(SYS_gettid) == target_tid)
		at_target++;
	else
		elsewhere++;
}

static void *target(void *arg)
{
	(void)arg;
	target_tid = syscall(SYS_gettid);
	while (!stop)
		pause();
	return NULL;
}

static void corrupt(void)
{
	struct sigevent sev = {0};

	/* The same timer id, now process-wide: the ticks may land on
	 * any thread. */
	timer_delete(t_thread);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 8;
	timer_create(CLOCK_MONOTONIC, &sev, &t_thread);
}

static int arm(timer_t t)
{
	struct itimerspec its = {{0, 2000000}, {0, 2000000}};

	if (timer_settime(t, 0, &its, NULL)) {
		pr_perror("timer_settime");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {0};
	struct sigevent sev = {0};
	struct timespec ts = {0, 200000000};
	pthread_t th;
	int before;

	test_init(argc, argv);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, NULL) || sigaction(SIGRTMIN + 1, &sa, NULL)) {
		pr_perror("sigaction");
		return 1;
	}
	if (pthread_create(&th, NULL, target, NULL)) {
		pr_perror("pthread_create");
		return 1;
	}
	while (!target_tid)
		usleep(1000);

	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 7;
	sev.sigev_notify_thread_id = target_tid;
	if (timer_create(CLOCK_MONOTONIC, &sev, &t_thread)) {
		pr_perror("timer_create SIGEV_THREAD_ID");
		return 1;
	}
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN + 1;
	sev.sigev_value.sival_int = 9;
	if (timer_create(CLOCK_MONOTONIC, &sev, &t_proc)) {
		pr_perror("timer_create SIGEV_SIGNAL");
		return 1;
	}
	if (arm(t_thread) || arm(t_proc))
		return 1;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();
	if (test_corrupting())
		arm(t_thread);

	/* The main thread waits here too: a process-wide signal would
	 * reach it as readily as the target. */
	elsewhere = 0;
	before = at_target;
	process_ticks = 0;
	while (nanosleep(&ts, &ts))
		;
	if (at_target - before < 10)
		fail("the thread-directed timer fired %d times at its thread in 200ms", at_target - before);
	if (elsewhere)
		fail("the thread-directed timer signalled %d times another thread", elsewhere);
	if (process_ticks < 10)
		fail("the process timer fired %d times in 200ms", process_ticks);
	stop = 1;
	pthread_kill(th, SIGRTMIN + 1);
	pthread_join(th, NULL);
	if (!test_failed())
		pass();
	return 0;
}
