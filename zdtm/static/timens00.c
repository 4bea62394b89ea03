#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "zdtmtst.h"

const char *test_doc = "A tree in a time namespace of its own (monotonic +7 days, boottime +30 days): "
		       "CLOCK_MONOTONIC and CLOCK_BOOTTIME never go backwards nor jump across dump/restore, "
		       "in the root and in its child, both stay in one namespace, and the offsets read back";

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define NSEC 1000000000LL
#define MONO_OFF (7 * 86400LL)
#define BOOT_OFF (30 * 86400LL)
/* The most a clock may move between two reads 1 ms apart, dump and restore included. */
#define MAX_STEP (60 * NSEC)

static long long expect_mono = MONO_OFF, expect_boot = BOOT_OFF;

static void corrupt(void)
{
	expect_mono += 1000;
}

static long long now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static int read_offsets(long long *mono, long long *boot)
{
	FILE *f = fopen("/proc/self/timens_offsets", "r");
	char name[32];
	long long sec, nsec;
	int n = 0;

	if (!f)
		return -1;
	while (fscanf(f, "%31s %lld %lld", name, &sec, &nsec) == 3) {
		if (!strcmp(name, "monotonic") || !strcmp(name, "1"))
			*mono = sec * NSEC + nsec, n++;
		else if (!strcmp(name, "boottime") || !strcmp(name, "7"))
			*boot = sec * NSEC + nsec, n++;
	}
	fclose(f);
	return n == 2 ? 0 : -1;
}

static unsigned long long ns_ino(const char *name)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/self/ns/%s", name);
	if (stat(p, &st))
		return 0;
	return st.st_ino;
}

/*
 * check_step checks one clock read against the last: never backwards,
 * never a jump (a restore in the restorer's time namespace goes back by
 * the offsets; one without new offsets jumps by the host's uptime).
 */
static int check_step(const char *who, const char *clock, long long *last, long long v, long long floor)
{
	if (v < floor) {
		fail("%s: %s %lld.%09lld is below the namespace's offset %lld s", who, clock, v / NSEC, v % NSEC, floor / NSEC);
		return -1;
	}
	if (*last && v < *last) {
		fail("%s: %s went backwards by %lld ns", who, clock, *last - v);
		return -1;
	}
	if (*last && v - *last > MAX_STEP) {
		fail("%s: %s jumped forward by %lld s", who, clock, (v - *last) / NSEC);
		return -1;
	}
	*last = v;
	return 0;
}

static volatile sig_atomic_t child_stop;

static void child_term(int sig)
{
	(void)sig;
	child_stop = 1;
}

/* The child's namespace inode, written when it stops, for the root to compare. */
static volatile unsigned long long *child_ino;

static int child(void)
{
	long long lm = 0, lb = 0;

	signal(SIGTERM, child_term);
	/* A SIGTERM before signal() went to the library's handler, inherited. */
	while (!child_stop && !*test_sigterm_flag()) {
		if (check_step("child", "CLOCK_MONOTONIC", &lm, now(CLOCK_MONOTONIC), MONO_OFF * NSEC) ||
		    check_step("child", "CLOCK_BOOTTIME", &lb, now(CLOCK_BOOTTIME), BOOT_OFF * NSEC))
			return 1;
		usleep(1000);
	}
	*child_ino = ns_ino("time");
	return 0;
}

int main(int argc, char **argv)
{
	long long lm = 0, lb = 0, mono, boot;
	int fd, status;
	char buf[128];
	pid_t pid;

	/*
	 * Before test_init forks the daemon: it is the first task of the new
	 * namespace, whose offsets can be set only until a task enters it.
	 * In the ct flavor the daemon executes itself again inside its
	 * container and comes here once more, in the namespace it made with
	 * these offsets: it makes no other.
	 */
	if (read_offsets(&mono, &boot) || mono != MONO_OFF * NSEC || boot != BOOT_OFF * NSEC) {
		if (unshare(CLONE_NEWTIME)) {
			perror("unshare(CLONE_NEWTIME)");
			return 1;
		}
		fd = open("/proc/self/timens_offsets", O_WRONLY);
		snprintf(buf, sizeof(buf), "monotonic %lld 0\nboottime %lld 0\n", MONO_OFF, BOOT_OFF);
		if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
			perror("write /proc/self/timens_offsets");
			return 1;
		}
		close(fd);
	}

	test_init(argc, argv);
	if (ns_ino("time") != ns_ino("time_for_children")) {
		fail("the test is not in the time namespace it made");
		return 1;
	}
	if (read_offsets(&mono, &boot) || mono != MONO_OFF * NSEC || boot != BOOT_OFF * NSEC) {
		fail("offsets before the dump: %lld %lld", mono, boot);
		return 1;
	}
	child_ino = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (child_ino == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (pid == 0)
		_exit(child());

	test_set_corrupt(corrupt);
	test_daemon();
	while (test_go()) {
		if (check_step("root", "CLOCK_MONOTONIC", &lm, now(CLOCK_MONOTONIC), MONO_OFF * NSEC) ||
		    check_step("root", "CLOCK_BOOTTIME", &lb, now(CLOCK_BOOTTIME), BOOT_OFF * NSEC))
			break;
		usleep(1000);
	}
	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child failed (status %#x)", status);
	else if (*child_ino != ns_ino("time"))
		fail("the child is in time:[%llu], the root in time:[%llu]", *child_ino, ns_ino("time"));
	if (ns_ino("time") != ns_ino("time_for_children"))
		fail("the root creates its children in another time namespace than its own");

	/*
	 * Each restore sets the offsets so that the clocks go on from their
	 * dumped values: they lose the time the tree was frozen, never gain.
	 */
	if (read_offsets(&mono, &boot))
		fail("read the offsets after the restore");
	else if (mono > expect_mono * NSEC || mono < (expect_mono - 600) * NSEC ||
		 boot > expect_boot * NSEC || boot < (expect_boot - 600) * NSEC)
		fail("offsets %lld.%09lld %lld.%09lld, want at most %lld and %lld s, less the frozen time",
		     mono / NSEC, mono % NSEC, boot / NSEC, boot % NSEC, expect_mono, expect_boot);
	if (!test_failed())
		pass();
	return 0;
}
