#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Threads asleep in FUTEX_WAIT (private, shared, with a timeout) are "
		       "woken by FUTEX_WAKE after restore";

#define NR 4

static volatile int word_private, word_shared;
static volatile int woken[NR], asleep;
static int skip_wake;

static long futex(volatile int *uaddr, int op, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static void *waiter(void *arg)
{
	long i = (long)arg;
	volatile int *w = i % 2 ? &word_shared : &word_private;
	int op = i % 2 ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE;
	struct timespec ts = {3600, 0}, *tsp = i >= 2 ? &ts : NULL;

	__atomic_add_fetch(&asleep, 1, __ATOMIC_SEQ_CST);
	while (*w == 0)
		futex(w, op, 0, tsp);
	woken[i] = *w;
	return NULL;
}

static void corrupt(void)
{
	skip_wake = 1;
}

int main(int argc, char **argv)
{
	pthread_t th[NR];
	struct timespec t0, t;
	long i;
	int all;

	test_init(argc, argv);
	for (i = 0; i < NR; i++)
		pthread_create(&th[i], NULL, waiter, (void *)i);
	while (__atomic_load_n(&asleep, __ATOMIC_SEQ_CST) != NR)
		usleep(1000);
	usleep(20000);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < NR; i++)
		if (woken[i])
			fail("thread %ld left its wait early", i);
	/* Set the words without waking: only FUTEX_WAKE may end the waits. */
	word_private = 7;
	word_shared = 9;
	if (!skip_wake) {
		futex(&word_private, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
		futex(&word_shared, FUTEX_WAKE, INT_MAX, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		all = 1;
		for (i = 0; i < NR; i++)
			all &= woken[i] != 0;
		if (all)
			break;
		usleep(10000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 3);
	if (!all) {
		for (i = 0; i < NR; i++)
			if (!woken[i])
				fail("thread %ld still sleeps after FUTEX_WAKE", i);
		pass();
		return 0;
	}
	for (i = 0; i < NR; i++) {
		pthread_join(th[i], NULL);
		if (woken[i] != (i % 2 ? 9 : 7))
			fail("thread %ld saw %d", i, woken[i]);
	}
	pass();
	return 0;
}
