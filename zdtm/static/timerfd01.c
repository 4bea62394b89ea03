#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif

const char *test_doc = "A CLOCK_REALTIME timerfd set to an absolute time with TFD_TIMER_CANCEL_ON_SET "
		       "keeps both flags (fdinfo's settime flags) and the time left";

static int tfd;

static void corrupt(void)
{
	struct itimerspec its = { .it_value.tv_sec = 3000 };

	timerfd_settime(tfd, 0, &its, NULL);
}

/* settime_flags reads the settime flags the kernel shows for fd. */
static int settime_flags(int fd)
{
	char path[64], line[256];
	int flags = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "settime flags: %o", &flags) == 1)
			break;
	fclose(f);
	return flags;
}

int main(int argc, char **argv)
{
	struct itimerspec its = {}, got;

	test_init(argc, argv);
	tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	if (tfd < 0) {
		pr_perror("timerfd_create");
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &its.it_value);
	its.it_value.tv_sec += 3600;
	its.it_interval.tv_sec = 60;
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL)) {
		pr_perror("timerfd_settime");
		return 1;
	}
	if (settime_flags(tfd) != (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) {
		fail("settime flags %#o before the dump", settime_flags(tfd));
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (settime_flags(tfd) != (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET))
		fail("settime flags %#o, want %#o (TFD_TIMER_ABSTIME|TFD_TIMER_CANCEL_ON_SET)", settime_flags(tfd),
		     TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
	if (timerfd_gettime(tfd, &got) || got.it_value.tv_sec > 3600 || got.it_value.tv_sec < 3600 - 120 ||
	    got.it_interval.tv_sec != 60)
		fail("%ld s left, interval %ld s", (long)got.it_value.tv_sec, (long)got.it_interval.tv_sec);
	if (!test_failed())
		pass();
	return 0;
}
