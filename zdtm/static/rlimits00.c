#include <sys/resource.h>

#include "zdtmtst.h"

const char *test_doc = "Soft and hard resource limits survive";

static const struct {
	int res;
	const char *name;
	rlim_t cur, max; /* 0 max: keep the hard limit */
} limits[] = {
	{RLIMIT_NOFILE, "NOFILE", 777, 888},
	{RLIMIT_CORE, "CORE", 12345, RLIM_INFINITY},
	{RLIMIT_STACK, "STACK", 7 << 20, 0},
	{RLIMIT_CPU, "CPU", 3600, 7200},
	{RLIMIT_FSIZE, "FSIZE", 1ull << 40, RLIM_INFINITY},
	{RLIMIT_NPROC, "NPROC", 4321, 5432},
	{RLIMIT_MSGQUEUE, "MSGQUEUE", 100000, 200000},
	{RLIMIT_SIGPENDING, "SIGPENDING", 1234, 2345},
	{RLIMIT_MEMLOCK, "MEMLOCK", 1 << 20, 2 << 20},
	{RLIMIT_NICE, "NICE", 5, 5},
};
#define N (sizeof(limits) / sizeof(limits[0]))

static struct rlimit want[N];

static void corrupt(void)
{
	struct rlimit r = want[0];

	r.rlim_cur--;
	setrlimit(limits[0].res, &r);
}

int main(int argc, char **argv)
{
	struct rlimit r;
	unsigned i;

	test_init(argc, argv);
	for (i = 0; i < N; i++) {
		if (getrlimit(limits[i].res, &r)) {
			pr_perror("getrlimit %s", limits[i].name);
			return 1;
		}
		/* Only lower hard limits: raising needs CAP_SYS_RESOURCE. */
		if (limits[i].max && limits[i].max < r.rlim_max)
			r.rlim_max = limits[i].max;
		r.rlim_cur = limits[i].cur;
		if (r.rlim_cur > r.rlim_max)
			r.rlim_cur = r.rlim_max;
		if (setrlimit(limits[i].res, &r)) {
			pr_perror("setrlimit %s", limits[i].name);
			return 1;
		}
		getrlimit(limits[i].res, &want[i]);
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < N; i++) {
		if (getrlimit(limits[i].res, &r)) {
			pr_perror("getrlimit %s", limits[i].name);
			continue;
		}
		if (r.rlim_cur != want[i].rlim_cur || r.rlim_max != want[i].rlim_max)
			fail("RLIMIT_%s is %llu/%llu, want %llu/%llu", limits[i].name,
			     (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max,
			     (unsigned long long)want[i].rlim_cur,
			     (unsigned long long)want[i].rlim_max);
	}
	pass();
	return 0;
}
