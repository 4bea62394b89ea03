#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Peer groups of slaves, a bind of a part of one, and an unbindable tmpfs with a bind made "
		       "before it was made unbindable keep their propagation: the slaves receive what is mounted "
		       "in their master, the unbindable one cannot be bound";

static char *dirname = "mnt_propagation00.dir";
TEST_OPTION(dirname, string, "directory to mount in", 0);

static char top[2048];

/* The mount points, below top. */
static const char *points[] = {"s", "a", "b", "c", "ub", "ubb"};
#define NPOINTS (sizeof(points) / sizeof(points[0]))

static void at(char *buf, const char *rel)
{
	snprintf(buf, PATH_MAX, "%s/%s", top, rel);
}

/*
 * layout describes the propagation of the mounts at points, the peer
 * group ids renamed in the order they are first seen (the kernel gives
 * new ids at restore): "s:shared=1 a:shared=2,master=1 ..." and, for an
 * unbindable mount, ",unbindable".
 */
static int layout(char *out, size_t len)
{
	char line[4096], *desc[NPOINTS] = {0};
	long ids[64];
	int nids = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f) {
		pr_perror("open mountinfo");
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char point[PATH_MAX], *p, *tok, d[256] = "";
		size_t i;
		int n = 0;

		if (sscanf(line, "%*d %*d %*s %*s %4095s %*s %n", point, &n) != 1 || !n)
			continue;
		for (i = 0; i < NPOINTS; i++) {
			char want[PATH_MAX];

			at(want, points[i]);
			if (!strcmp(point, want))
				break;
		}
		if (i == NPOINTS)
			continue;
		for (p = line + n; (tok = strtok(p, " \n")) && strcmp(tok, "-"); p = NULL) {
			char kind[16];
			long id;
			int j;

			if (!strcmp(tok, "unbindable")) {
				strcat(d, ",unbindable");
				continue;
			}
			if (sscanf(tok, "%15[a-z]:%ld", kind, &id) != 2 || (strcmp(kind, "shared") && strcmp(kind, "master")))
				continue;
			for (j = 0; j < nids && ids[j] != id; j++)
				;
			if (j == nids && nids < 64)
				ids[nids++] = id;
			snprintf(d + strlen(d), sizeof(d) - strlen(d), ",%s=%d", kind, j + 1);
		}
		free(desc[i]);
		desc[i] = strdup(d);
	}
	fclose(f);
	out[0] = 0;
	for (size_t i = 0; i < NPOINTS; i++) {
		snprintf(out + strlen(out), len - strlen(out), "%s:%s ", points[i], desc[i] ? desc[i] : "(none)");
		free(desc[i]);
	}
	return 0;
}

static int sh(const char *what, int ok)
{
	if (!ok)
		pr_perror("%s", what);
	return ok;
}

static void corrupt(void)
{
	char p[PATH_MAX];

	at(p, "ub");
	mount(NULL, p, NULL, MS_PRIVATE, NULL); /* bindable again */
}

int main(int argc, char **argv)
{
	char before[2048], after[2048], p[PATH_MAX], q[PATH_MAX], full[PATH_MAX], buf[16];
	int fd;

	test_init(argc, argv);
	if (test_own_mntns(0))
		return 1;
	if (mkdir(dirname, 0755) || !realpath(dirname, full) || strlen(full) >= sizeof(top)) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	strcpy(top, full);
	for (size_t i = 0; i < NPOINTS; i++) {
		at(p, points[i]);
		if (mkdir(p, 0755)) {
			pr_perror("mkdir %s", p);
			return 1;
		}
	}
	/* s: a shared tmpfs; a: a bind of it made a slave, then shared; c: a
	 * bind of a's sub, b: a bind of a (both in a's group, slaves of s's). */
	at(p, "s");
	if (!sh("mount s", !mount("zdtm_s", p, "tmpfs", 0, NULL)))
		return 1;
	at(q, "s/sub");
	if (!sh("mkdir s/sub", !mkdir(q, 0755)) || !sh("shared s", !mount(NULL, p, NULL, MS_SHARED, NULL)))
		return 1;
	at(q, "a");
	if (!sh("bind a", !mount(p, q, NULL, MS_BIND, NULL)) || !sh("slave a", !mount(NULL, q, NULL, MS_SLAVE, NULL)) ||
	    !sh("shared a", !mount(NULL, q, NULL, MS_SHARED, NULL)))
		return 1;
	at(p, "a/sub");
	at(q, "c");
	if (!sh("bind c", !mount(p, q, NULL, MS_BIND, NULL)))
		return 1;
	at(p, "a");
	at(q, "b");
	if (!sh("bind b", !mount(p, q, NULL, MS_BIND, NULL)))
		return 1;
	/* ub: a tmpfs with a file, its aux bound at ubb, then unbindable. */
	at(p, "ub");
	if (!sh("mount ub", !mount("zdtm_ub", p, "tmpfs", 0, NULL)))
		return 1;
	at(q, "ub/aux");
	if (!sh("mkdir ub/aux", !mkdir(q, 0755)))
		return 1;
	at(q, "ub/aux/f");
	fd = open(q, O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || write(fd, "kept", 4) != 4) {
		pr_perror("write %s", q);
		return 1;
	}
	close(fd);
	at(p, "ub/aux");
	at(q, "ubb");
	if (!sh("bind ubb", !mount(p, q, NULL, MS_BIND, NULL)))
		return 1;
	at(p, "ub");
	if (!sh("unbindable ub", !mount(NULL, p, NULL, MS_UNBINDABLE, NULL)))
		return 1;
	if (layout(before, sizeof(before)))
		return 1;
	test_set_corrupt(corrupt);

	test_daemon();
	test_waitsig();

	if (layout(after, sizeof(after)))
		return 1;
	if (strcmp(before, after))
		fail("propagation before: %s, after: %s", before, after);
	/* The slaves receive a mount made in their master's sub. */
	at(p, "s/sub");
	if (mount("zdtm_probe", p, "tmpfs", 0, NULL)) {
		pr_perror("mount in s/sub");
	} else {
		at(q, "s/sub/probe");
		if (mkdir(q, 0755))
			pr_perror("mkdir %s", q);
		for (const char *r = "a/sub/probe\0b/sub/probe\0"; *r; r += strlen(r) + 1) {
			struct stat st;

			at(q, r);
			if (stat(q, &st))
				fail("%s: the mount made in s/sub did not propagate: %m", r);
		}
		umount2(p, MNT_DETACH);
	}
	/* ub is still unbindable, its files there through ubb. */
	at(p, "ub");
	at(q, "s/sub");
	if (!mount(p, q, NULL, MS_BIND, NULL)) {
		fail("ub could be bound after restore");
		umount2(q, MNT_DETACH);
	} else if (errno != EINVAL) {
		pr_perror("bind ub");
	}
	at(q, "ubb/f");
	fd = open(q, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 4 || memcmp(buf, "kept", 4))
		fail("%s does not read 'kept'", q);
	if (fd >= 0)
		close(fd);
	for (size_t i = NPOINTS; i > 0; i--) {
		at(p, points[i - 1]);
		umount2(p, MNT_DETACH);
	}
	pass();
	return 0;
}
