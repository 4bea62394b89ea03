// The zdtm protocol: option parsing, daemonizing, waiting for SIGTERM,
// and the PASS/FAIL report.
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "ct.h"

static struct test_option *opts;
static char *pidfile;
static char *outfile;
static int help;

static volatile int sig_received; /* futex word: 1 once SIGTERM arrived */
static int corrupt_requested;
static int corrupt_done;
static void (*corrupt_fn)(void);
static int nr_fails;
static int ready_fd = -1;
static int flavor_ns; /* ns or ct */
static int flavor_ct;

const char *test_doc __attribute__((weak)) = "";

void __test_push_opt(struct test_option *o)
{
	o->next = opts;
	opts = o;
}

static void usage(FILE *f, const char *prog)
{
	struct test_option *o;

	fprintf(f, "Usage: %s --pidfile=FILE --outfile=FILE [options]\n", prog);
	if (test_doc && *test_doc)
		fprintf(f, "%s\n", test_doc);
	for (o = opts; o; o = o->next)
		fprintf(f, "  --%s%s\t%s%s\n", o->name,
			o->type == opt_bool ? "" : "=VALUE", o->doc,
			o->required ? " (required)" : "");
}

static int set_opt(struct test_option *o, const char *val)
{
	char *end;

	switch (o->type) {
	case opt_string:
		*(char **)o->value = (char *)val;
		return 0;
	case opt_int: {
		long v = strtol(val, &end, 0);
		if (*val == '\0' || *end != '\0' || v < INT_MIN || v > INT_MAX)
			return -1;
		*(int *)o->value = (int)v;
		return 0;
	}
	case opt_uint: {
		unsigned long v = strtoul(val, &end, 0);
		if (*val == '\0' || *end != '\0' || v > UINT_MAX)
			return -1;
		*(unsigned int *)o->value = (unsigned int)v;
		return 0;
	}
	case opt_bool:
		if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes"))
			*(int *)o->value = 1;
		else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no"))
			*(int *)o->value = 0;
		else
			return -1;
		return 0;
	}
	return -1;
}

static struct test_option opt_pidfile = {"pidfile", opt_string, &pidfile, "where to write the pid once ready", 1, 0, NULL};
static struct test_option opt_outfile = {"outfile", opt_string, &outfile, "where to write PASS or FAIL", 1, 0, NULL};
static struct test_option opt_help = {"help", opt_bool, &help, "show this help", 0, 0, NULL};

static void parse_opts(int argc, char **argv)
{
	struct test_option *o;
	int i;

	__test_push_opt(&opt_pidfile);
	__test_push_opt(&opt_outfile);
	__test_push_opt(&opt_help);

	for (i = 1; i < argc; i++) {
		char *arg = argv[i], *eq, *val = NULL;
		size_t len;

		if (strncmp(arg, "--", 2)) {
			fprintf(stderr, "%s: unexpected argument %s\n", argv[0], arg);
			exit(2);
		}
		arg += 2;
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg) : strlen(arg);
		for (o = opts; o; o = o->next)
			if (strlen(o->name) == len && !strncmp(o->name, arg, len))
				break;
		if (!o) {
			fprintf(stderr, "%s: unknown option --%.*s\n", argv[0], (int)len, arg);
			usage(stderr, argv[0]);
			exit(2);
		}
		if (eq)
			val = eq + 1;
		else if (o->type == opt_bool)
			val = "1";
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			fprintf(stderr, "%s: --%s needs a value\n", argv[0], o->name);
			exit(2);
		}
		if (set_opt(o, val)) {
			fprintf(stderr, "%s: bad value %s for --%s\n", argv[0], val, o->name);
			exit(2);
		}
		o->seen = 1;
	}
	if (help) {
		usage(stdout, argv[0]);
		exit(0);
	}
	for (o = opts; o; o = o->next)
		if (o->required && !o->seen) {
			fprintf(stderr, "%s: --%s is required\n", argv[0], o->name);
			usage(stderr, argv[0]);
			exit(2);
		}
}

static long futex(volatile int *uaddr, int op, int val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static void sigterm_handler(int sig)
{
	int saved = errno;

	(void)sig;
	sig_received = 1;
	futex(&sig_received, FUTEX_WAKE, INT_MAX);
	errno = saved;
}

static void redirect_stdio(void)
{
	int fd;

	fd = open("/dev/null", O_RDWR);
	if (fd < 0 || dup2(fd, 0) < 0) {
		perror("stdin on /dev/null");
		exit(1);
	}
	if (fd > 2)
		close(fd);
	fd = open(outfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) {
		fprintf(stderr, "open %s: %m\n", outfile);
		exit(1);
	}
	if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
		perror("dup2 outfile");
		exit(1);
	}
	if (fd > 2)
		close(fd);
	setvbuf(stdout, NULL, _IONBF, 0);
	setvbuf(stderr, NULL, _IONBF, 0);
}

static void close_ready_fd(void)
{
	if (ready_fd >= 0) {
		close(ready_fd);
		ready_fd = -1;
	}
}

/* The namespaces a test of the ns flavor lives in, as pid 1. */
#define TEST_NS_FLAGS (CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNS)

int test_flavor_ns(void)
{
	return flavor_ns;
}

int test_flavor_ct(void)
{
	return flavor_ct;
}

int test_own_mntns(int slave)
{
	if (!flavor_ns && unshare(CLONE_NEWNS)) {
		pr_perror("unshare(CLONE_NEWNS)");
		return -1;
	}
	if (slave && mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) {
		pr_perror("make / rslave");
		return -1;
	}
	return 0;
}

static void read_flavor(const char *prog)
{
	const char *f = getenv("ZDTM_FLAVOR");

	if (!f || !*f || !strcmp(f, "h"))
		return;
	if (!strcmp(f, "ns")) {
		flavor_ns = 1;
		return;
	}
	if (!strcmp(f, "ct")) {
		flavor_ns = flavor_ct = 1;
		return;
	}
	fprintf(stderr, "%s: unknown ZDTM_FLAVOR=%s (want h, ns or ct)\n", prog, f);
	exit(2);
}

/* A new network namespace has lo down: bring it up, as ip link set lo up. */
static void loopback_up(void)
{
	struct ifreq ifr = {};
	int s;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		perror("socket for lo");
		exit(1);
	}
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr)) {
		perror("SIOCGIFFLAGS lo");
		exit(1);
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr)) {
		perror("SIOCSIFFLAGS lo up");
		exit(1);
	}
	close(s);
}

/*
 * write_pidfile writes pid to the pidfile through a rename, so that a
 * reader never sees a partial pid.
 */
static int write_pidfile(pid_t pid)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "open %s: %m\n", tmp);
		return -1;
	}
	fprintf(f, "%d\n", pid);
	if (fclose(f) || rename(tmp, pidfile)) {
		fprintf(stderr, "write %s: %m\n", pidfile);
		return -1;
	}
	return 0;
}

/*
 * test_init forks the test's daemon. The parent (the launcher) stays
 * until the daemon is ready, writes the daemon's pid, as fork returned
 * it, to the pidfile, and exits 0; the daemon is re-parented to the
 * runner, a child subreaper.
 *
 * In the ns flavor (ZDTM_FLAVOR=ns) the launcher first unshares the pid,
 * net, uts, ipc and mount namespaces, so that the daemon it forks is pid 1
 * of a new pid namespace and lives in the new others. fork still returns
 * the daemon's pid in the runner's namespace: that is the pid the pidfile
 * holds and the one criu dumps. The mount namespace is a plain copy: the
 * daemon mounts nothing, so /proc stays the host's and a test reaches its
 * own entries through /proc/self, never through /proc/<getpid()>.
 *
 * In the ct flavor (ZDTM_FLAVOR=ct) the launcher unshares the same
 * namespaces but the mount one, and the daemon, pid 1, makes its mount
 * namespace itself: it pivot_roots into the container the runner laid
 * out (ct.c) and executes the test again from inside, which calls
 * test_init once more and goes on as the daemon with the same ready pipe.
 */
void test_init(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = sigterm_handler};
	int p[2];
	pid_t pid;
	char c;

	parse_opts(argc, argv);
	read_flavor(argv[0]);

	/*
	 * The handler also makes SIGTERM reach a daemon that is the init of
	 * its pid namespace: init ignores signals it has no handler for.
	 */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL)) {
		perror("sigaction SIGTERM");
		exit(1);
	}
	if (flavor_ct && (ready_fd = ct_resumed()) >= 0) {
		/* The daemon, executed again inside its container. */
		if (getpid() != 1) {
			fprintf(stderr, "%s: pid %d inside the container, want 1\n", argv[0], getpid());
			exit(1);
		}
		goto daemon;
	}
	if (pipe2(p, O_CLOEXEC)) {
		perror("pipe");
		exit(1);
	}
	if (flavor_ct && unshare(TEST_NS_FLAGS & ~CLONE_NEWNS)) {
		perror("unshare pid, net, uts and ipc namespaces");
		exit(1);
	}
	if (flavor_ns && !flavor_ct && unshare(TEST_NS_FLAGS)) {
		perror("unshare pid, net, uts, ipc and mount namespaces");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid > 0) {
		int status;

		/* The launcher: exit once the daemon is ready. */
		close(p[1]);
		if (read(p[0], &c, 1) == 1) {
			/*
			 * Ready once the daemon has closed its end too, or the
			 * pipe could still be open when the dump starts.
			 */
			while (read(p[0], &c, 1) > 0)
				;
			exit(write_pidfile(pid) ? 1 : 0);
		}
		if (waitpid(pid, &status, 0) == pid) {
			if (WIFEXITED(status))
				fprintf(stderr, "%s: test exited with %d before it was ready\n",
					argv[0], WEXITSTATUS(status));
			else if (WIFSIGNALED(status))
				fprintf(stderr, "%s: test killed by signal %d before it was ready\n",
					argv[0], WTERMSIG(status));
		}
		exit(1);
	}
	close(p[0]);
	ready_fd = p[1];
	if (flavor_ns) {
		if (getpid() != 1) {
			fprintf(stderr, "%s: pid %d in the new pid namespace, want 1\n", argv[0], getpid());
			exit(1);
		}
		loopback_up();
	}
	if (setsid() < 0) {
		perror("setsid");
		exit(1);
	}
	if (flavor_ct)
		ct_enter(argv, ready_fd);
daemon:
	/* A process the test forks before it is ready must not hold the pipe. */
	pthread_atfork(NULL, NULL, close_ready_fd);
	if (getenv("ZDTM_CORRUPT")) {
		corrupt_requested = 1;
		unsetenv("ZDTM_CORRUPT");
	}
	redirect_stdio();
}

int test_daemon_prepare(void)
{
	int fd;

	if (ready_fd < 0) {
		test_msg("FAIL: test_daemon called twice\n");
		exit(1);
	}
	fd = ready_fd;
	ready_fd = -1;
	return fd;
}

void test_daemon(void)
{
	int fd = test_daemon_prepare();

	if (write(fd, "R", 1) != 1) {
		test_msg("FAIL: tell the parent we are ready: %m\n");
		exit(1);
	}
	close(fd);
}

void test_set_corrupt(void (*fn)(void))
{
	corrupt_fn = fn;
}

int test_corrupting(void)
{
	return corrupt_requested;
}

static void maybe_corrupt(void)
{
	if (!corrupt_requested || corrupt_done)
		return;
	corrupt_done = 1;
	if (corrupt_fn) {
		test_msg("corrupting the state before the check (ZDTM_CORRUPT)\n");
		corrupt_fn();
	} else {
		test_msg("ZDTM_CORRUPT set but this test has no corruption hook\n");
	}
}

volatile int *test_sigterm_flag(void)
{
	return &sig_received;
}

int test_go(void)
{
	if (!sig_received)
		return 1;
	maybe_corrupt();
	return 0;
}

void test_waitsig(void)
{
	while (!sig_received)
		futex(&sig_received, FUTEX_WAIT, 0);
	maybe_corrupt();
}

void test_msg(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	errno = saved;
}

void __test_fail(const char *file, int line, int with_errno, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	nr_fails++;
	fprintf(stdout, "FAIL: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	if (with_errno)
		fprintf(stdout, ": %s", strerror(saved));
	fprintf(stdout, "\n");
	errno = saved;
}

int test_failed(void)
{
	return nr_fails != 0;
}

void pass(void)
{
	if (nr_fails) {
		fprintf(stdout, "FAIL: %d check(s) failed\n", nr_fails);
		return;
	}
	fprintf(stdout, "PASS\n");
}
