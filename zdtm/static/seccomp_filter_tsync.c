#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "zdtmtst.h"
#include "seccomp.inc"

const char *test_doc = "A filter installed with SECCOMP_FILTER_FLAG_TSYNC by one thread of three "
		       "reaches all of them and stays shared: after restore each thread sees uname "
		       "fail with 42, and a second TSYNC filter (getppid, 45) reaches all of them too";

#define N 3
static atomic_int phase, done;
static int errs[N][2];
static long nfilters[N];

static void *thread(void *arg)
{
	int i = (long)arg;

	done++;
	for (int p = 1; p <= 2; p++) {
		while (phase < p)
			usleep(1000);
		errs[i][0] = errno_of(SYS_uname);
		errs[i][1] = errno_of(SYS_getppid);
		nfilters[i] = status_field("/proc/thread-self/status", "Seccomp_filters");
		done++;
	}
	while (phase < 3)
		usleep(1000);
	return NULL;
}

static void corrupt(void)
{
	/* The main thread alone: its chain is no longer the threads'. */
	deny(SYS_getpid, -1, 0, 99, 0, 0);
}

static void check(int p, int uname_err, int getppid_err, long n)
{
	phase = p;
	while (done < N + p * N)
		usleep(1000);
	for (int i = 0; i < N; i++)
		if (errs[i][0] != uname_err || errs[i][1] != getppid_err || nfilters[i] != n)
			fail("step %d: thread %d: uname %d getppid %d Seccomp_filters %ld, want %d %d %ld", p, i,
			     errs[i][0], errs[i][1], nfilters[i], uname_err, getppid_err, n);
}

int main(int argc, char **argv)
{
	pthread_t th[N];
	long i, r;

	test_init(argc, argv);
	for (i = 0; i < N; i++)
		if (pthread_create(&th[i], NULL, thread, (void *)i)) {
			pr_perror("pthread_create");
			return 1;
		}
	while (done < N)
		usleep(1000);
	/* Installed after the threads exist: TSYNC gives it to them. */
	if (deny(SYS_uname, -1, 0, 42, SECCOMP_FILTER_FLAG_TSYNC, 0))
		return 1;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check(1, 42, 0, 1);
	r = deny(SYS_getppid, -1, 0, 45, SECCOMP_FILTER_FLAG_TSYNC, 0);
	if (r)
		fail("a second TSYNC filter was refused: the threads' chains are not the main thread's");
	else
		check(2, 42, 45, 2);
	if (errno_of(SYS_uname) != 42)
		fail("main thread: uname fails with %d, want 42", errno_of(SYS_uname));
	phase = 3;
	for (i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	if (!test_failed())
		pass();
	return 0;
}
