/*
 * zdtmtst.h: the helper library of the zdtm test programs.
 *
 * A test speaks the classic zdtm protocol:
 *
 *   ./NAME --pidfile=F --outfile=O [test options]
 *
 * test_init() parses the options and forks. The parent waits until the
 * child calls test_daemon(), writes the child's pid to F and exits 0 (1
 * if the child died first). The child becomes a session leader with
 * stdin on /dev/null and stdout/stderr appended to O, announces itself
 * ready in test_daemon(), waits for SIGTERM (test_waitsig() or a
 * test_go() loop), checks its state and calls pass() or fail(), which
 * write "PASS" or "FAIL: ..." to O.
 *
 * Flavors: the runner sets ZDTM_FLAVOR. With "h" (or unset) the test
 * runs on the host. With "ns" the parent first unshares the pid, net,
 * uts, ipc and mount namespaces: the child is pid 1 of its own pid
 * namespace, with lo up in its own network namespace, and F gets its pid
 * as the runner sees it. A test must then name itself /proc/self (the
 * /proc it sees is the host's), must not count on signals it has no
 * handler for (pid 1 ignores them), and reaps what it forks; orphans
 * re-parented to it are reaped by the kernel when it exits.
 * With "ct" it is in the same namespaces, its mount namespace a
 * container's: pivot_root'ed into a rootfs the runner made (the host's
 * /usr bound read-only, the zdtm directory at its own path, a fresh
 * /proc, /dev a tmpfs with a new devpts instance, /tmp a tmpfs), and it
 * runs executed again from inside it (ct.c).
 *
 * Corruption hook: when the environment variable ZDTM_CORRUPT is set at
 * start, the library removes it from the environment and, once SIGTERM
 * has arrived and before the test checks its state, calls the function
 * registered with test_set_corrupt(). The hook alters the state the test
 * checks, so the check must then fail: that proves each test can fail.
 */
#ifndef ZDTMTST_H
#define ZDTMTST_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum test_opt_type { opt_string, opt_int, opt_uint, opt_bool };

struct test_option {
	const char *name;
	enum test_opt_type type;
	void *value;
	const char *doc;
	int required;
	int seen;
	struct test_option *next;
};

void __test_push_opt(struct test_option *o);

/*
 * TEST_OPTION(var, type, doc, required) declares --var=VALUE for the
 * variable var, of type string (char *), int, uint (unsigned int) or bool
 * (int, set to 1 by --var).
 */
#define TEST_OPTION(var, type, doc, req)                                      \
	static struct test_option __test_opt_##var = {#var, opt_##type, &var,  \
						      doc, req, 0, NULL};     \
	static void __attribute__((constructor)) __test_opt_init_##var(void)   \
	{                                                                      \
		__test_push_opt(&__test_opt_##var);                            \
	}

/* What the test checks, shown by --help. */
extern const char *test_doc;

void test_init(int argc, char **argv);
/* test_flavor_ns says whether the test runs in namespaces of its own
 * (the ns or the ct flavor); test_flavor_ct whether in the ct flavor. */
int test_flavor_ns(void);
int test_flavor_ct(void);
/* test_own_mntns gives the test a mount namespace of its own in the h
 * flavor too (a copy of the runner's, as unshare -m; its desc says
 * "owns: mnt"); slave (MS_REC|MS_SLAVE) says to make its mounts slaves
 * of theirs, so that nothing mounted there reaches the runner's. 0 or -1. */
int test_own_mntns(int slave);
void test_daemon(void);
/*
 * test_daemon_prepare writes the pidfile and returns the descriptor on
 * which one byte announces readiness. The caller writes that byte and
 * closes the descriptor itself: tests that must be checkpointed at an
 * exact instruction (registers loaded) do it in assembly with
 * TEST_READY_ASM, operands [readyfd] "m"(int fd) and [readybyte]
 * "m"(char), and TEST_READY_CLOBBERS.
 */
int test_daemon_prepare(void);
#define TEST_READY_ASM                                                         \
	"mov $1, %%eax\n mov %[readyfd], %%edi\n lea %[readybyte], %%rsi\n"     \
	"mov $1, %%edx\n syscall\n"                                            \
	"mov $3, %%eax\n mov %[readyfd], %%edi\n syscall\n"
#define TEST_READY_CLOBBERS "rax", "rdi", "rsi", "rdx", "rcx", "r11"
int test_go(void);
/* test_sigterm_flag points to the word that becomes 1 when SIGTERM
 * arrives, for tests that wait in assembly without calling anything. */
volatile int *test_sigterm_flag(void);
void test_waitsig(void);
void test_set_corrupt(void (*fn)(void));
/* test_corrupting says whether a corruption run was asked for. */
int test_corrupting(void);

void test_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void __test_fail(const char *file, int line, int with_errno, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void pass(void);

/* fail() records a failure: the outfile gets "FAIL: file:line: msg". */
#define fail(fmt, ...) __test_fail(__FILE__, __LINE__, 0, fmt, ##__VA_ARGS__)
/* pr_perror() is fail() with strerror(errno) appended. */
#define pr_perror(fmt, ...) __test_fail(__FILE__, __LINE__, 1, fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...) test_msg("error: " fmt "\n", ##__VA_ARGS__)

/* test_failed says whether fail() was called. */
int test_failed(void);

/*
 * Sysctls by their /proc/sys path, e.g. "kernel/msgmnb". sysctl_set
 * writes val and returns 0, or fails the test and returns -1.
 * sysctl_check fails the test, naming the sysctl, unless its value (with
 * runs of blanks read as one space) is want.
 */
int sysctl_set(const char *name, const char *val);
void sysctl_check(const char *name, const char *want);

/* Small helpers shared by the tests. */
uint32_t crc32_buf(uint32_t crc, const void *buf, size_t len);
void fill_pattern(void *buf, size_t len, uint64_t seed);
/* check_pattern returns the offset of the first wrong byte, or -1. */
long check_pattern(const void *buf, size_t len, uint64_t seed);
/* tcp_state is the TCP state of sk (TCP_INFO's tcpi_state), or -1. */
int tcp_state(int sk);
/* tcp_listen_lo returns a TCP socket listening on 127.0.0.1, a port
 * the kernel chose (its address in *a), or fails the test and returns -1. */
struct sockaddr_in;
int tcp_listen_lo(struct sockaddr_in *a, int backlog);

#endif
