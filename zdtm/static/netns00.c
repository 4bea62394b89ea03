#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Links (a veth pair with MTU and MAC), IPv4 and IPv6 addresses, routes "
		       "in the main table and in table 100, policy rules and sysctls of the test's "
		       "own network namespace and its links survive: ip link, addr, route, rule "
		       "show the same";

/* The configuration, made with the ip tool inside our network namespace. */
static const char *setup[] = {
	"link add zv0 type veth peer name zv1",
	"link set zv0 mtu 1400 address 02:00:5a:00:00:01",
	"link set zv1 mtu 1280 address 02:00:5a:00:00:02",
	"link set zv0 up",
	"link set zv1 up",
	"addr add 198.18.5.1/24 dev zv0",
	"addr add 198.18.5.9/24 dev zv0",
	"addr add 198.18.6.1/24 brd + dev zv1",
	"-6 addr add 2001:db8:5::1/64 dev zv0 nodad",
	"-6 addr add 2001:db8:6::1/64 dev zv1 nodad",
	"route add 198.18.100.0/24 via 198.18.5.2 dev zv0",
	"route add 198.18.101.0/24 dev zv1 metric 7",
	"route add 198.18.102.0/24 via 198.18.6.2 dev zv1 table 100",
	"route add default via 198.18.5.254 dev zv0 table 100",
	"-6 route add 2001:db8:99::/64 via 2001:db8:5::2 dev zv0",
	"-6 route add 2001:db8:100::/64 dev zv1 table 100",
	"rule add from 198.18.6.0/24 lookup 100 pref 1000",
	"rule add to 198.18.102.0/24 tos 0x10 lookup 100 pref 1001",
	"-6 rule add from 2001:db8:6::/64 lookup 100 pref 1000",
	NULL,
};

/* Sysctls of the namespace and of its links, set to values no default has. */
static const struct {
	const char *name, *val;
} sysctls[] = {
	{"net/ipv4/conf/all/forwarding", "1"},
	{"net/ipv4/conf/zv0/rp_filter", "2"},
	{"net/ipv4/conf/zv1/accept_local", "1"},
	{"net/ipv6/conf/zv1/hop_limit", "33"},
	{"net/ipv6/conf/zv0/forwarding", "1"},
	{"net/ipv4/ping_group_range", "0 100"},
	{NULL, NULL},
};

/*
 * What is compared before and after: ip's own listings, one per command.
 * Routes are compared as sets: the kernel lists routes to one prefix
 * (fe80::/64 on each link) in the order they were made, which reflects
 * which link came up first, not the configuration. Links are listed by
 * ifindex, addresses in an order that is configuration (the first IPv4
 * address of a subnet is the primary), rules by preference.
 */
static const struct {
	const char *args;
	int as_set;
} views[] = {
	{"-o link show", 0},
	{"-o addr show", 0},
	{"-4 route show table all", 1},
	{"-6 route show table all", 1},
	{"-4 rule show", 0},
	{"-6 rule show", 0},
	{NULL, 0},
};

#define MAX_ARGS 32

/*
 * ip runs `ip ARGS` (ARGS split at spaces), reaps it and returns a
 * malloc'ed string: its output if capture is set, else "" (the output then
 * goes to our stdout, the outfile). NULL, with a fail() saying why, if it
 * could not run or did not exit 0.
 */
static char *ip(const char *args, int capture)
{
	char *copy = strdup(args), *argv[MAX_ARGS], *save = NULL, *tok, *buf = NULL;
	size_t len = 0, cap = 0;
	int p[2] = {-1, -1}, argc = 0, status;
	pid_t pid;

	argv[argc++] = "ip";
	for (tok = strtok_r(copy, " ", &save); tok && argc < MAX_ARGS - 1; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (capture && pipe(p)) {
		pr_perror("pipe for ip %s", args);
		free(copy);
		return NULL;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork for ip %s", args);
		free(copy);
		return NULL;
	}
	if (pid == 0) {
		if (capture && dup2(p[1], 1) < 0)
			_exit(126);
		closefrom(3);
		execvp("ip", argv);
		fprintf(stderr, "exec ip: %m\n");
		_exit(127);
	}
	if (capture) {
		close(p[1]);
		for (;;) {
			ssize_t n;

			if (cap - len < 4096) {
				cap = cap ? cap * 2 : 16384;
				buf = realloc(buf, cap);
				if (!buf) {
					fail("out of memory reading ip %s", args);
					break;
				}
			}
			n = read(p[0], buf + len, cap - len - 1);
			if (n <= 0)
				break;
			len += n;
		}
		close(p[0]);
		if (buf)
			buf[len] = '\0';
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pr_perror("waitpid ip %s", args);
			free(copy);
			free(buf);
			return NULL;
		}
	}
	free(copy);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("ip %s: wait status %#x", args, status);
		free(buf);
		return NULL;
	}
	return capture ? buf : strdup("");
}

/* settled says whether no address is still in duplicate address detection. */
static int settled(void)
{
	char *a = ip("-o addr show", 1);
	int ok = a && !strstr(a, "tentative");

	free(a);
	return ok;
}

/*
 * wait_settled waits until the kernel has finished duplicate address
 * detection of the link-local IPv6 addresses, which it runs after a link
 * comes up (and again after a restore brings the links up): a transient,
 * not configuration. It gives up after max_s seconds.
 */
static void wait_settled(int max_s)
{
	struct timespec ts = {0, 50 * 1000 * 1000};
	int i;

	for (i = 0; i < max_s * 20 && !settled(); i++)
		nanosleep(&ts, NULL);
}

static char *before[sizeof(views) / sizeof(views[0])];

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sort_lines sorts the lines of the malloc'ed text s in place. */
static char *sort_lines(char *s)
{
	size_t n = 0, i, len = strlen(s);
	char **lines, *out, *p, *save = NULL;

	for (p = s; *p; p++)
		n += *p == '\n';
	lines = calloc(n + 1, sizeof(*lines));
	out = malloc(len + 2);
	if (!lines || !out) {
		fail("out of memory sorting %zu lines", n);
		free(lines);
		free(out);
		return s;
	}
	n = 0;
	for (p = strtok_r(s, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
		lines[n++] = p;
	qsort(lines, n, sizeof(*lines), cmp_lines);
	out[0] = '\0';
	for (i = 0, p = out; i < n; i++)
		p += sprintf(p, "%s\n", lines[i]);
	free(lines);
	free(s);
	return out;
}

/* view lists views[i] as it is compared. */
static char *view(int i)
{
	char *s = ip(views[i].args, 1);

	return s && views[i].as_set ? sort_lines(s) : s;
}

/* first_diff reports the first line that differs between a and b. */
static void first_diff(const char *view, const char *a, const char *b)
{
	int line = 1;

	while (*a && *b) {
		const char *ea = strchrnul(a, '\n'), *eb = strchrnul(b, '\n');

		if (ea - a != eb - b || memcmp(a, b, ea - a)) {
			fail("ip %s, line %d: was \"%.*s\", now \"%.*s\"", view, line, (int)(ea - a), a,
			     (int)(eb - b), b);
			return;
		}
		a = *ea ? ea + 1 : ea;
		b = *eb ? eb + 1 : eb;
		line++;
	}
	if (*a)
		fail("ip %s, line %d: was \"%.*s\", now gone", view, line, (int)(strchrnul(a, '\n') - a), a);
	else if (*b)
		fail("ip %s, line %d: new \"%.*s\"", view, line, (int)(strchrnul(b, '\n') - b), b);
}

static void corrupt(void)
{
	char *r = ip("link set zv1 mtu 1300", 0);

	free(r);
}

int main(int argc, char **argv)
{
	int i;

	test_init(argc, argv);
	if (!test_flavor_ns()) {
		test_msg("netns00 changes its network namespace: it runs only in the ns flavor\n");
		return 1;
	}
	for (i = 0; setup[i]; i++) {
		char *r = ip(setup[i], 0);

		if (!r)
			return 1;
		free(r);
	}
	for (i = 0; sysctls[i].name; i++)
		if (sysctl_set(sysctls[i].name, sysctls[i].val))
			return 1;
	wait_settled(30);
	for (i = 0; views[i].args; i++) {
		before[i] = view(i);
		if (!before[i])
			return 1;
	}
	if (!strstr(before[0], "zv0@zv1") || !strstr(before[2], "table 100") || !strstr(before[3], "table 100") ||
	    !strstr(before[4], "1001:") || !strstr(before[5], "1000:"))
		fail("the configuration is not what was set up:\n%s%s%s%s%s", before[0], before[2], before[3], before[4],
		     before[5]);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	wait_settled(30);
	for (i = 0; views[i].args; i++) {
		char *now = view(i);

		if (!now)
			continue;
		if (strcmp(before[i], now)) {
			first_diff(views[i].args, before[i], now);
			test_msg("ip %s before:\n%snow:\n%s", views[i].args, before[i], now);
		}
		free(now);
	}
	for (i = 0; sysctls[i].name; i++)
		sysctl_check(sysctls[i].name, sysctls[i].val);
	pass();
	return 0;
}
