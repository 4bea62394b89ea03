#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "timerfds keep their clock, interval, remaining time and unread ticks";

static int periodic, oneshot, expired, disarmed;

static void corrupt(void)
{
	uint64_t t;

	read(expired, &t, sizeof(t));
}

int main(int argc, char **argv)
{
	struct itimerspec its = {}, got;
	uint64_t ticks;

	test_init(argc, argv);
	periodic = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	oneshot = timerfd_create(CLOCK_REALTIME, 0);
	expired = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	disarmed = timerfd_create(CLOCK_MONOTONIC, 0);
	if (periodic < 0 || oneshot < 0 || expired < 0 || disarmed < 0) {
		pr_perror("timerfd_create");
		return 1;
	}
	its.it_value.tv_nsec = 1000000;
	its.it_interval.tv_sec = 3600;
	timerfd_settime(periodic, 0, &its, NULL); /* fires once, then hourly */
	its.it_value.tv_sec = 7200;
	its.it_value.tv_nsec = 0;
	its.it_interval.tv_sec = 0;
	timerfd_settime(oneshot, 0, &its, NULL);
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = 1000;
	its.it_interval.tv_nsec = 1000000; /* every ms for 20 ms */
	timerfd_settime(expired, 0, &its, NULL);
	usleep(20000);
	/* Read its ticks, then let a one-shot expire once: one tick unread. */
	read(expired, &ticks, sizeof(ticks));
	its.it_interval.tv_nsec = 0;
	timerfd_settime(expired, 0, &its, NULL);
	usleep(5000);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (timerfd_gettime(periodic, &got) || got.it_interval.tv_sec != 3600 || got.it_interval.tv_nsec != 0)
		fail("periodic: interval %ld.%09ld", (long)got.it_interval.tv_sec, got.it_interval.tv_nsec);
	if (got.it_value.tv_sec > 3600 || got.it_value.tv_sec < 3600 - 120)
		fail("periodic: %ld s to the next tick", (long)got.it_value.tv_sec);
	if (read(periodic, &ticks, sizeof(ticks)) != sizeof(ticks) || ticks != 1)
		fail("periodic: %llu ticks, want 1", (unsigned long long)ticks);
	if (!(fcntl(periodic, F_GETFL) & O_NONBLOCK))
		fail("periodic: lost O_NONBLOCK");
	if (timerfd_gettime(oneshot, &got) || got.it_interval.tv_sec || got.it_value.tv_sec > 7200 ||
	    got.it_value.tv_sec < 7200 - 120)
		fail("oneshot: %ld s left", (long)got.it_value.tv_sec);
	ticks = 0;
	if (read(expired, &ticks, sizeof(ticks)) != sizeof(ticks) || ticks != 1)
		fail("expired: %llu ticks, want 1", (unsigned long long)ticks);
	if (timerfd_gettime(disarmed, &got) || got.it_value.tv_sec || got.it_value.tv_nsec)
		fail("disarmed timer is armed");
	/* The clocks: a CLOCK_REALTIME timer accepts TFD_TIMER_CANCEL_ON_SET. */
	{
		struct itimerspec abs = {};

		clock_gettime(CLOCK_REALTIME, &abs.it_value);
		abs.it_value.tv_sec += 100;
		if (timerfd_settime(oneshot, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &abs, NULL))
			fail("oneshot is not a CLOCK_REALTIME timer");
	}
	if (!test_failed())
		pass();
	return 0;
}
