#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef CGROUP_NS
const char *test_doc = "A task in cgroups of its own (pids.max 123, a 256 MiB memory limit) with a child in a "
		       "cgroup below them comes back in the same cgroups, with the same limits";
#endif

#define PIDS_MAX "123"
#define MEM_LIMIT "268435456"

static char want_pids[16] = PIDS_MAX;
static char pids_dir[1024], mem_dir[1024], mem_sub[1100], pids_parent[600], mem_parent[600];
static const char *mem_file; /* memory.limit_in_bytes (v1) or memory.max (v2) */

static void corrupt(void)
{
	strcpy(want_pids, "124");
}

static int write_file(const char *dir, const char *name, const char *val)
{
	char p[1200];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY);
	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
		pr_perror("write %s to %s", val, p);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int read_file(const char *dir, const char *name, char *buf, size_t len)
{
	char p[1200];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_RDONLY);
	if (fd < 0) {
		pr_perror("open %s", p);
		return -1;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0) {
		pr_perror("read %s", p);
		return -1;
	}
	buf[n] = 0;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	return 0;
}

/* own_path finds the task's cgroup in hierarchy ctrl ("" for v2) in /proc/self/cgroup. */
static int own_path(const char *ctrl, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[1024];
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':'), *p;

		if (!c || !(p = strchr(c + 1, ':')))
			continue;
		*p = 0;
		if (strcmp(c + 1, ctrl))
			continue;
		p[strcspn(p + 1, "\n") + 1] = 0;
		snprintf(out, len, "%s", strcmp(p + 1, "/") ? p + 1 : "");
		ret = 0;
	}
	fclose(f);
	return ret;
}

static int join(const char *dir)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_file(dir, "cgroup.procs", pid);
}

/*
 * read_self reads our /proc/self/cgroup without the named v1 hierarchies
 * (name=..., but systemd's): other programs on the host make and remove those while we
 * run (criu/restore's own test of an unmounted one), and a hierarchy
 * gone from the host is gone from every task's list. The controllers'
 * and the v2 lines are what this test is about.
 */
static int read_self(char *buf, size_t len)
{
	char raw[8192], *line, *save, *out = buf;

	if (read_file("/proc/self", "cgroup", raw, sizeof(raw)))
		return -1;
	*out = 0;
	for (line = strtok_r(raw, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);

		if (strstr(line, ":name=") && !strstr(line, ":name=systemd:"))
			continue;
		if ((size_t)(out - buf) + n + 2 > len)
			break;
		memcpy(out, line, n);
		out[n] = '\n';
		out += n + 1;
		*out = 0;
	}
	return 0;
}

static volatile sig_atomic_t child_stop;

static void child_term(int sig)
{
	(void)sig;
	child_stop = 1;
}

/* child lives in the cgroup below the root's; on SIGTERM it checks it is still there. */
static int child(int ready)
{
	char before[4096], after[4096];

	signal(SIGTERM, child_term);
	if (join(mem_sub) || read_self(before, sizeof(before)))
		return 1;
	if (write(ready, "x", 1) != 1)
		return 1;
	close(ready);
	while (!child_stop)
		usleep(10000);
	if (read_self(after, sizeof(after)))
		return 1;
	if (strcmp(before, after)) {
		fail("the child's cgroups were\n%s\nand are\n%s", before, after);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char base[512], before[4096], after[4096], v[64];
	struct stat st;
	int v2, p[2], status;
	unsigned int tag;
	pid_t pid;
	char c;

	test_init(argc, argv);
	tag = (unsigned int)time(NULL) ^ (unsigned int)getppid() << 8;
	v2 = stat("/sys/fs/cgroup/pids", &st) != 0;
	if (v2) {
		/* cgroup v2: one hierarchy; the root enables pids and memory below it. */
		snprintf(pids_parent, sizeof(pids_parent), "/sys/fs/cgroup");
		snprintf(pids_dir, sizeof(pids_dir), "/sys/fs/cgroup/zdtm_cgroup00.%x", tag);
		strcpy(mem_parent, pids_parent);
		strcpy(mem_dir, pids_dir);
		mem_file = "memory.max";
	} else {
		if (own_path("pids", base, sizeof(base)) < 0) {
			fail("no pids hierarchy in /proc/self/cgroup");
			return 1;
		}
		snprintf(pids_parent, sizeof(pids_parent), "/sys/fs/cgroup/pids%s", base);
		snprintf(pids_dir, sizeof(pids_dir), "%s/zdtm_cgroup00.%x", pids_parent, tag);
		if (own_path("memory", base, sizeof(base)) < 0) {
			fail("no memory hierarchy in /proc/self/cgroup");
			return 1;
		}
		snprintf(mem_parent, sizeof(mem_parent), "/sys/fs/cgroup/memory%s", base);
		snprintf(mem_dir, sizeof(mem_dir), "%s/zdtm_cgroup00.%x", mem_parent, tag);
		mem_file = "memory.limit_in_bytes";
	}
	snprintf(mem_sub, sizeof(mem_sub), "%s/sub", mem_dir);
	if (mkdir(pids_dir, 0755) || (strcmp(pids_dir, mem_dir) && mkdir(mem_dir, 0755)) || mkdir(mem_sub, 0755)) {
		pr_perror("mkdir the test's cgroups");
		return 1;
	}
	if (write_file(pids_dir, "pids.max", PIDS_MAX) || write_file(mem_dir, mem_file, MEM_LIMIT))
		return 1;
	if (join(pids_dir) || (strcmp(pids_dir, mem_dir) && join(mem_dir)))
		return 1;
#ifdef CGROUP_NS
	/* Its cgroups are the roots of its cgroup namespace: it sees "/" there. */
	if (unshare(CLONE_NEWCGROUP)) {
		pr_perror("unshare(CLONE_NEWCGROUP)");
		return 1;
	}
	if (own_path("pids", base, sizeof(base)) == 0 && base[0]) {
		fail("in its cgroup namespace, its pids cgroup is %s, not /", base);
		return 1;
	}
#endif
	if (pipe(p)) {
		pr_perror("pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		_exit(child(p[1]));
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		fail("the child did not join its cgroup");
		return 1;
	}
	close(p[0]);
	if (read_self(before, sizeof(before)))
		return 1;

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (read_self(after, sizeof(after)) == 0 && strcmp(before, after))
		fail("the cgroups were\n%s\nand are\n%s", before, after);
	if (read_file(pids_dir, "pids.max", v, sizeof(v)) == 0 && strcmp(v, want_pids))
		fail("pids.max is %s, want %s", v, want_pids);
	if (read_file(mem_dir, mem_file, v, sizeof(v)) == 0 && strcmp(v, MEM_LIMIT))
		fail("%s is %s, want %s", mem_file, v, MEM_LIMIT);
	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child failed (status %#x)", status);

	/* Out of the test's cgroups, then remove them. */
	join(pids_parent);
	if (strcmp(pids_parent, mem_parent))
		join(mem_parent);
	rmdir(mem_sub);
	rmdir(mem_dir);
	rmdir(pids_dir);
	if (!test_failed())
		pass();
	return 0;
}
