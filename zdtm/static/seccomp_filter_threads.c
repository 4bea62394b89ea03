#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "zdtmtst.h"
#include "seccomp.inc"

const char *test_doc = "Threads keep their own seccomp filters on top of the ones they inherited "
		       "from the main thread, shared: after restore each sees its own errnos and a "
		       "TSYNC from a thread whose chain holds the main thread's still succeeds";

/* Thread 0 adds getppid -> 45, thread 1 nothing, thread 2 sets
 * no_new_privs and adds getuid, prctl -> 46; all inherit uname -> 42. */
#define N 3
static pid_t tids[N];
static atomic_int phase, done;
static int errs[N][3];
static long nfilters[N], nnp[N];

static long tsync[N];

/* try_tsync installs a filter with TSYNC from the calling thread: the
 * kernel refuses while another thread's chain does not hold the
 * caller's, and answers with the first such thread in creation order.
 * The main thread comes first: if its filter is still shared with
 * thread 1, the answer is thread 0 (which has a filter of its own on
 * top), else it is the main thread. Refused, it changes nothing. */
static long try_tsync(void)
{
	struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog prog = {.len = 1, .filter = f};

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

static void measure(int i)
{
	errs[i][0] = errno_of(SYS_uname);
	errs[i][1] = errno_of(SYS_getppid);
	errs[i][2] = errno_of(SYS_getuid);
	nfilters[i] = status_field("/proc/thread-self/status", "Seccomp_filters");
	nnp[i] = status_field("/proc/thread-self/status", "NoNewPrivs");
	if (i == 1)
		tsync[i] = try_tsync();
}

static void *thread(void *arg)
{
	int i = (long)arg;

	tids[i] = syscall(SYS_gettid);
	if (i == 0 && deny(SYS_getppid, -1, 0, 45, 0, 0))
		return NULL;
	while (i == 1 && done < 1)
		usleep(1000);
	while (i == 2 && done < 2)
		usleep(1000);
	/* Its filter denies prctl too, which the restore injects into it
	 * after its filters (creds): seccomp must be suspended in every
	 * thread, not only the leader. */
	if (i == 2 && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || deny(SYS_getuid, SYS_prctl, 0, 46, 0, 0)))
		return NULL;
	done++;
	while (phase < 1)
		usleep(1000);
	/* Thread 1 measures last, while the others still live. */
	while (i == 1 && done < 2 * N - 1)
		usleep(1000);
	measure(i);
	done++;
	while (phase < 2)
		usleep(1000);
	return NULL;
}

static void corrupt(void)
{
	deny(SYS_getuid, -1, 0, 99, 0, 0);
}

static void check(const char *when)
{
	const int want[N][3] = {{42, 45, 0}, {42, 0, 0}, {42, 0, 46}};
	const long want_n[N] = {2, 1, 2}, want_nnp[N] = {0, 0, 1};
	long i;

	phase = 1;
	while (done < 2 * N)
		usleep(1000);
	for (i = 0; i < N; i++) {
		if (memcmp(errs[i], want[i], sizeof(want[i])))
			fail("%s: thread %ld: uname, getppid, getuid fail with %d %d %d, want %d %d %d", when, i,
			     errs[i][0], errs[i][1], errs[i][2], want[i][0], want[i][1], want[i][2]);
		if (nfilters[i] != want_n[i] || nnp[i] != want_nnp[i])
			fail("%s: thread %ld: Seccomp_filters %ld NoNewPrivs %ld, want %ld %ld", when, i, nfilters[i],
			     nnp[i], want_n[i], want_nnp[i]);
	}
	if (tsync[1] != tids[0])
		fail("%s: TSYNC from thread 1 stopped at %ld, want thread 0 (%d): the main thread's filter is not "
		     "shared with thread 1 (main thread %ld)", when, tsync[1], tids[0], (long)syscall(SYS_gettid));
	if (errno_of(SYS_uname) != 42 || errno_of(SYS_getuid) != 0 ||
	    status_field("/proc/self/status", "Seccomp_filters") != 1 ||
	    status_field("/proc/self/status", "NoNewPrivs") != 0)
		fail("%s: main thread: uname %d getuid %d Seccomp_filters %ld NoNewPrivs %ld, want 42 0 1 0", when,
		     errno_of(SYS_uname), errno_of(SYS_getuid), status_field("/proc/self/status", "Seccomp_filters"),
		     status_field("/proc/self/status", "NoNewPrivs"));
}

int main(int argc, char **argv)
{
	pthread_t th[N];
	long i;

	test_init(argc, argv);
	if (deny(SYS_uname, -1, 0, 42, 0, 0))
		return 1;
	/* Created in order, each after the one before is set up. */
	for (i = 0; i < N; i++) {
		if (pthread_create(&th[i], NULL, thread, (void *)i)) {
			pr_perror("pthread_create");
			return 1;
		}
		while (done < i + 1)
			usleep(1000);
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();
	check("after restore");
	phase = 2;
	for (i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	if (!test_failed())
		pass();
	return 0;
}
