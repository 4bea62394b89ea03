// The ct flavor: the test's daemon, pid 1 of its namespaces, builds a
// container's mount namespace, pivot_roots into it and re-executes
// itself there.
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "ct.h"

static void __attribute__((noreturn)) die(const char *what, const char *path)
{
	fprintf(stderr, "ct: %s %s: %m\n", what, path);
	exit(1);
}

/* at_root puts root and path, an absolute path below it, into buf. */
static void at_root(char *buf, size_t len, const char *root, const char *path)
{
	if ((size_t)snprintf(buf, len, "%s%s", root, path) >= len) {
		fprintf(stderr, "ct: path %s%s too long\n", root, path);
		exit(1);
	}
}

static void do_mount(const char *src, const char *dst, const char *fstype, unsigned long flags, const char *data)
{
	if (mount(src, dst, fstype, flags, data))
		die(fstype ? fstype : "bind mount on", dst);
}

/* mkdir_p makes directory path and its parents, as mkdir -p. */
static void mkdir_p(const char *path)
{
	char p[PATH_MAX], *s, c;

	at_root(p, sizeof(p), "", path);
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			die("mkdir", p);
		*s = c;
		if (!c)
			break;
	}
}

/*
 * bind_all mounts the runner's binds: ZDTM_CT_BINDS holds one line per
 * bind, "ro SRC DST" or "rw SRC DST", DST being the path inside the
 * container, parents first. They go on the filesystems made anew (the
 * run dir can be in /tmp), each on a directory made if missing.
 */
static void bind_all(const char *root, const char *list)
{
	char *copy = strdup(list), *line, *save = NULL;

	if (!copy) {
		fprintf(stderr, "ct: out of memory\n");
		exit(1);
	}
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mode[3], src[PATH_MAX], dst[PATH_MAX], at[PATH_MAX];

		if (sscanf(line, "%2s %4095s %4095s", mode, src, dst) != 3 ||
		    (strcmp(mode, "ro") && strcmp(mode, "rw"))) {
			fprintf(stderr, "ct: bad ZDTM_CT_BINDS line \"%s\"\n", line);
			exit(1);
		}
		at_root(at, sizeof(at), root, dst);
		mkdir_p(at);
		do_mount(src, at, NULL, MS_BIND, NULL);
		if (!strcmp(mode, "ro"))
			do_mount(NULL, at, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
	}
	free(copy);
}

static void node(const char *dev, const char *name, unsigned int major, unsigned int minor)
{
	char p[PATH_MAX];

	at_root(p, sizeof(p), dev, name);
	if (mknod(p, S_IFCHR | 0666, makedev(major, minor)))
		die("mknod", p);
	/* mknod obeys the umask. */
	if (chmod(p, 0666))
		die("chmod", p);
}

static void link_to(const char *dev, const char *name, const char *target)
{
	char p[PATH_MAX];

	at_root(p, sizeof(p), dev, name);
	if (symlink(target, p))
		die("symlink", p);
}

/*
 * make_dev mounts /dev as a tmpfs with the device nodes a program
 * expects (and net/tun), a new devpts instance at /dev/pts whose ptmx /dev/ptmx
 * links to, and a tmpfs at /dev/shm (glibc's shm_open and sem_open).
 */
static void make_dev(const char *root)
{
	char dev[PATH_MAX], sub[PATH_MAX];

	at_root(dev, sizeof(dev), root, "/dev");
	do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1m");
	node(dev, "/null", 1, 3);
	node(dev, "/zero", 1, 5);
	node(dev, "/full", 1, 7);
	node(dev, "/random", 1, 8);
	node(dev, "/urandom", 1, 9);
	node(dev, "/tty", 5, 0);
	/* As a container given the tun device (docker run --device /dev/net/tun). */
	at_root(sub, sizeof(sub), dev, "/net");
	if (mkdir(sub, 0755))
		die("mkdir", sub);
	node(dev, "/net/tun", 10, 200);
	link_to(dev, "/ptmx", "pts/ptmx");
	link_to(dev, "/fd", "/proc/self/fd");
	link_to(dev, "/stdin", "/proc/self/fd/0");
	link_to(dev, "/stdout", "/proc/self/fd/1");
	link_to(dev, "/stderr", "/proc/self/fd/2");
	at_root(sub, sizeof(sub), dev, "/pts");
	if (mkdir(sub, 0755))
		die("mkdir", sub);
	do_mount("devpts", sub, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	at_root(sub, sizeof(sub), dev, "/shm");
	if (mkdir(sub, 01777))
		die("mkdir", sub);
	do_mount("shm", sub, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=64m");
}

/*
 * ct_enter runs in the daemon, pid 1 of its new pid namespace: it makes
 * a mount namespace of its own, builds the container in the rootfs the
 * runner made (ZDTM_CT_ROOT) and pivot_roots into it, the old root
 * detached, as runc does; then it executes the test again from inside,
 * so that every file it maps is reached through the container's mounts.
 * The ready pipe's descriptor crosses the exec in ZDTM_CT_READY_FD. It
 * does not return.
 */
void ct_enter(char **argv, int ready)
{
	const char *root = getenv("ZDTM_CT_ROOT");
	const char *binds = getenv("ZDTM_CT_BINDS");
	char cwd[PATH_MAX], p[PATH_MAX], fd[16];

	if (!root || root[0] != '/' || !binds) {
		fprintf(stderr, "ct: ZDTM_FLAVOR=ct needs ZDTM_CT_ROOT (an absolute rootfs path) and ZDTM_CT_BINDS\n");
		exit(2);
	}
	if (argv[0][0] != '/') {
		fprintf(stderr, "ct: the test must be started by its absolute path, not %s\n", argv[0]);
		exit(2);
	}
	if (!getcwd(cwd, sizeof(cwd)))
		die("getcwd", "");
	if (unshare(CLONE_NEWNS))
		die("unshare", "CLONE_NEWNS");
	/* Nothing mounted here propagates back to the runner's namespace. */
	do_mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL);
	do_mount(root, root, NULL, MS_BIND, NULL);
	at_root(p, sizeof(p), root, "/proc");
	do_mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	make_dev(root);
	at_root(p, sizeof(p), root, "/tmp");
	do_mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	bind_all(root, binds);

	if (chdir(root))
		die("chdir", root);
	/* The old root is stacked on the new one at "/", then detached. */
	if (syscall(SYS_pivot_root, ".", "."))
		die("pivot_root into", root);
	if (umount2(".", MNT_DETACH))
		die("detach the old root from", root);
	if (chdir("/") || chdir(cwd))
		die("chdir", cwd);

	unsetenv("ZDTM_CT_ROOT");
	unsetenv("ZDTM_CT_BINDS");
	snprintf(fd, sizeof(fd), "%d", ready);
	if (setenv("ZDTM_CT_READY_FD", fd, 1) || fcntl(ready, F_SETFD, 0))
		die("pass the ready pipe across exec", "");
	execv(argv[0], argv);
	die("exec inside the container", argv[0]);
}

/*
 * ct_resumed returns the ready pipe's descriptor when this is the test
 * executed again by ct_enter, inside the container, and -1 otherwise.
 */
int ct_resumed(void)
{
	const char *s = getenv("ZDTM_CT_READY_FD");
	int fd;

	if (!s)
		return -1;
	fd = atoi(s);
	unsetenv("ZDTM_CT_READY_FD");
	if (fd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		fprintf(stderr, "ct: bad ZDTM_CT_READY_FD=%s\n", s);
		exit(1);
	}
	return fd;
}
