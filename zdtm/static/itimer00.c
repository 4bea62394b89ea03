#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "zdtmtst.h"

const char *test_doc = "Interval timers keep their interval and keep firing";

static volatile sig_atomic_t alarms, vtalarms, profs;

static void handler(int sig)
{
	if (sig == SIGALRM)
		alarms++;
	else if (sig == SIGVTALRM)
		vtalarms++;
	else
		profs++;
}

static const struct {
	int which;
	const char *name;
	long interval_us;
} timers[] = {
	{ITIMER_REAL, "REAL", 50000},
	{ITIMER_VIRTUAL, "VIRTUAL", 20000},
	{ITIMER_PROF, "PROF", 30000},
};

static void corrupt(void)
{
	struct itimerval it = {{1, 0}, {1, 0}};

	setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
	struct itimerval it;
	volatile unsigned long spin = 0;
	int i, before;

	test_init(argc, argv);
	signal(SIGALRM, handler);
	signal(SIGVTALRM, handler);
	signal(SIGPROF, handler);
	for (i = 0; i < 3; i++) {
		it.it_interval.tv_sec = 0;
		it.it_interval.tv_usec = timers[i].interval_us;
		it.it_value = it.it_interval;
		if (setitimer(timers[i].which, &it, NULL)) {
			pr_perror("setitimer %s", timers[i].name);
			return 1;
		}
	}
	test_set_corrupt(corrupt);
	test_daemon();
	/* Burn CPU so the virtual and profiling timers run too. */
	while (test_go())
		spin++;

	for (i = 0; i < 3; i++) {
		if (getitimer(timers[i].which, &it)) {
			pr_perror("getitimer %s", timers[i].name);
			continue;
		}
		if (it.it_interval.tv_sec != 0 || it.it_interval.tv_usec != timers[i].interval_us)
			fail("ITIMER_%s interval is %ld.%06ld, want 0.%06ld", timers[i].name,
			     (long)it.it_interval.tv_sec, (long)it.it_interval.tv_usec,
			     timers[i].interval_us);
		if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
			fail("ITIMER_%s is disarmed", timers[i].name);
		/* The value is kept in ticks: allow a few ms over the interval. */
		else if (it.it_value.tv_sec > 0 || it.it_value.tv_usec > timers[i].interval_us + 20000)
			fail("ITIMER_%s value %ld.%06ld is more than its interval",
			     timers[i].name, (long)it.it_value.tv_sec, (long)it.it_value.tv_usec);
	}
	/* And it still fires. */
	before = alarms;
	for (i = 0; i < 100 && alarms == before; i++) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	if (alarms == before)
		fail("SIGALRM stopped coming");
	test_msg("%d SIGALRM, %d SIGVTALRM, %d SIGPROF\n", alarms, vtalarms, profs);
	pass();
	return 0;
}
