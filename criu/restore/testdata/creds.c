// creds: gives itself non-root ids, groups, a capability mix (bounding,
// permitted, effective, inheritable, ambient), securebits, no_new_privs,
// a personality, SCHED_BATCH at nice 5, a parent-death signal, dumpable 0,
// THP disabled, umask 027 and lowered rlimits; then writes "READY".
// On SIGUSR2 it writes a "STATE" block describing all of that to argv[1],
// so the test can compare the block before dump and after restore.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }

static void die(const char *what) {
	perror(what);
	_exit(1);
}

static void dump_state(int fd) {
	char buf[8192];
	int n = 0;
	n += snprintf(buf + n, sizeof buf - n, "STATE\n");
	FILE *f = fopen("/proc/self/status", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		static const char *keys[] = {"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:",
		                             "CapBnd:", "CapAmb:", "NoNewPrivs:", "THP_enabled:", "Umask:", 0};
		for (int i = 0; keys[i]; i++)
			if (!strncmp(line, keys[i], strlen(keys[i])))
				n += snprintf(buf + n, sizeof buf - n, "%s", line);
	}
	if (f) fclose(f);
	int pd = 0;
	prctl(PR_GET_PDEATHSIG, &pd);
	n += snprintf(buf + n, sizeof buf - n, "securebits %d\npdeathsig %d\ndumpable %d\npersonality %#x\n",
	              prctl(PR_GET_SECUREBITS), pd, prctl(PR_GET_DUMPABLE), personality(0xffffffff));
	errno = 0;
	n += snprintf(buf + n, sizeof buf - n, "sched %d nice %d\n", sched_getscheduler(0), getpriority(PRIO_PROCESS, 0));
	int res[] = {RLIMIT_NOFILE, RLIMIT_CORE, RLIMIT_STACK, RLIMIT_MSGQUEUE, RLIMIT_MEMLOCK};
	for (int i = 0; i < 5; i++) {
		struct rlimit rl;
		getrlimit(res[i], &rl);
		n += snprintf(buf + n, sizeof buf - n, "rlimit %d %llu %llu\n", res[i],
		              (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
	}
	n += snprintf(buf + n, sizeof buf - n, "END\n");
	write(fd, buf, n);
}

int main(int argc, char **argv) {
	signal(SIGUSR2, h2);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	umask(027);
	struct rlimit rl = {100, 200};
	if (setrlimit(RLIMIT_NOFILE, &rl)) die("RLIMIT_NOFILE");
	rl.rlim_cur = 0; rl.rlim_max = 4096;
	if (setrlimit(RLIMIT_CORE, &rl)) die("RLIMIT_CORE");
	rl.rlim_cur = 4 << 20; rl.rlim_max = 64 << 20;
	if (setrlimit(RLIMIT_STACK, &rl)) die("RLIMIT_STACK");
	rl.rlim_cur = 1000; rl.rlim_max = 2000;
	if (setrlimit(RLIMIT_MSGQUEUE, &rl)) die("RLIMIT_MSGQUEUE");
	rl.rlim_cur = 4096; rl.rlim_max = 8192;
	if (setrlimit(RLIMIT_MEMLOCK, &rl)) die("RLIMIT_MEMLOCK");
	if (personality(PER_LINUX | ADDR_NO_RANDOMIZE) < 0) die("personality");
	struct sched_param sp = {0};
	if (sched_setscheduler(0, SCHED_BATCH, &sp)) die("sched_setscheduler");
	if (setpriority(PRIO_PROCESS, 0, 5)) die("setpriority");
	gid_t groups[] = {1001, 1002, 1003};
	if (setgroups(3, groups)) die("setgroups");
	if (prctl(PR_SET_SECUREBITS, 1 << 2 /* NO_SETUID_FIXUP */ | 1 << 4 /* KEEP_CAPS */)) die("securebits");
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_MODULE)) die("CAPBSET_DROP");
	if (prctl(PR_CAPBSET_DROP, CAP_MKNOD)) die("CAPBSET_DROP");
	if (setresgid(1000, 1001, 1002)) die("setresgid");
	if (setresuid(1000, 1001, 1002)) die("setresuid");
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {0};
	data[0].permitted = 1 << CAP_CHOWN | 1 << CAP_NET_BIND_SERVICE | 1 << CAP_KILL;
	data[0].effective = 1 << CAP_CHOWN;
	data[0].inheritable = 1 << CAP_NET_BIND_SERVICE | 1 << CAP_KILL;
	data[1].permitted = 1 << (CAP_BPF - 32);
	data[1].inheritable = 1 << (CAP_BPF - 32);
	if (syscall(SYS_capset, &hdr, data)) die("capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0)) die("ambient");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_BPF, 0, 0)) die("ambient");
	if (prctl(PR_SET_PDEATHSIG, SIGWINCH)) die("pdeathsig");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("nnp");
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)) die("thp");
	if (prctl(PR_SET_DUMPABLE, 0)) die("dumpable");
	dump_state(fd);
	write(fd, "READY\n", 6);
	for (;;) {
		if (check) {
			check = 0;
			dump_state(fd);
		}
		usleep(1000);
	}
}
