#include <signal.h>
#include <time.h>

#include "zdtmtst.h"

const char *test_doc = "POSIX timers keep their clock, interval, signal and value, and keep firing";

static volatile sig_atomic_t ticks_mono, ticks_real;
static volatile int last_value;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_value.sival_int == 1)
		ticks_mono++;
	else if (si->si_value.sival_int == 2)
		ticks_real++;
	last_value = si->si_value.sival_int;
}

static timer_t tm_mono, tm_real;

static void corrupt(void)
{
	struct itimerspec its = {{0, 0}, {0, 0}};

	timer_settime(tm_mono, 0, &its, NULL);
}

static int make(clockid_t clk, int sig, int val, long interval_ns, timer_t *t)
{
	struct sigevent sev = {0};
	struct itimerspec its;

	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = sig;
	sev.sigev_value.sival_int = val;
	if (timer_create(clk, &sev, t)) {
		pr_perror("timer_create");
		return -1;
	}
	its.it_interval.tv_sec = 0;
	its.it_interval.tv_nsec = interval_ns;
	its.it_value = its.it_interval;
	if (timer_settime(*t, 0, &its, NULL)) {
		pr_perror("timer_settime");
		return -1;
	}
	return 0;
}

static void check(timer_t t, const char *name, long interval_ns)
{
	struct itimerspec its;

	if (timer_gettime(t, &its)) {
		pr_perror("timer_gettime %s", name);
		return;
	}
	if (its.it_interval.tv_sec != 0 || its.it_interval.tv_nsec != interval_ns)
		fail("%s interval %ld.%09ld, want 0.%09ld", name, (long)its.it_interval.tv_sec,
		     its.it_interval.tv_nsec, interval_ns);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		fail("%s is disarmed", name);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO | SA_RESTART};
	int m, r, i;

	test_init(argc, argv);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN, &sa, NULL);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	if (make(CLOCK_MONOTONIC, SIGRTMIN, 1, 20000000, &tm_mono) ||
	    make(CLOCK_REALTIME, SIGRTMIN + 1, 2, 30000000, &tm_real))
		return 1;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check(tm_mono, "CLOCK_MONOTONIC timer", 20000000);
	check(tm_real, "CLOCK_REALTIME timer", 30000000);
	m = ticks_mono;
	r = ticks_real;
	for (i = 0; i < 200 && (ticks_mono == m || ticks_real == r); i++) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	if (ticks_mono == m)
		fail("the CLOCK_MONOTONIC timer stopped firing");
	if (ticks_real == r)
		fail("the CLOCK_REALTIME timer stopped firing");
	test_msg("ticks: %d monotonic, %d realtime\n", ticks_mono, ticks_real);
	pass();
	return 0;
}
