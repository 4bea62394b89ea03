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

const char *test_doc = "Mounts made in a mount namespace that is a copy of criu's (its own in h, made with unshare; "
		       "the flavor's in ns; a container's in ct) survive: a tmpfs with files, a bind of a directory "
		       "of the root filesystem made read-only, a proc mounted anew, the whole made a slave";

static char *dirname = "mnt_copy00.dir";
TEST_OPTION(dirname, string, "directory to mount in", 0);

static char top[PATH_MAX - 64];

static void at(char *buf, const char *rel)
{
	snprintf(buf, PATH_MAX, "%s/%s", top, rel);
}

/* table lists the mounts below top as "point fstype ro|rw master|-" lines. */
static int table(char *out, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f) {
		pr_perror("open mountinfo");
		return -1;
	}
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		char point[PATH_MAX], opts[256], *sep, fstype[64];
		int n = 0;

		if (sscanf(line, "%*d %*d %*s %*s %4095s %255s %n", point, opts, &n) != 2 || !n)
			continue;
		if (strncmp(point, top, strlen(top)) || (point[strlen(top)] != '/' && point[strlen(top)]))
			continue;
		sep = strstr(line + n, " - ");
		if (!sep || sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		snprintf(out + strlen(out), len - strlen(out), "%s %s %s %s\n", point + strlen(top), fstype,
			 strncmp(opts, "ro", 2) ? "rw" : "ro", strstr(line + n, "master:") && strstr(line + n, "master:") < sep ? "master" : "-");
	}
	fclose(f);
	return 0;
}

static int put(const char *rel, const char *what)
{
	char p[PATH_MAX];
	int fd;

	at(p, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, what, strlen(what)) != (ssize_t)strlen(what)) {
		pr_perror("write %s", p);
		return -1;
	}
	close(fd);
	return 0;
}

static int reads(const char *rel, const char *want)
{
	char p[PATH_MAX], buf[64] = "";
	int fd;

	at(p, rel);
	fd = open(p, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0) {
		fail("%s: %m", p);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	if (strcmp(buf, want)) {
		fail("%s reads %s, want %s", p, buf, want);
		return 0;
	}
	return 1;
}

static int mnt(const char *src, const char *rel, const char *fstype, unsigned long flags)
{
	char p[PATH_MAX];

	at(p, rel);
	if (mount(src, p, fstype, flags, NULL)) {
		pr_perror("mount %s on %s", src ? src : "-", p);
		return -1;
	}
	return 0;
}

static void corrupt(void)
{
	char p[PATH_MAX];

	at(p, "t");
	umount2(p, MNT_DETACH); /* as a restore that made a fresh copy */
}

int main(int argc, char **argv)
{
	char before[8192], after[8192], src[PATH_MAX], p[PATH_MAX];

	test_init(argc, argv);
	if (test_own_mntns(1))
		return 1;
	if (mkdir(dirname, 0755) || !realpath(dirname, p) || strlen(p) >= sizeof(top)) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	strcpy(top, p);
	at(src, "src");
	at(p, "t");
	if (mkdir(src, 0755) || mkdir(p, 0755) || put("src/f", "src") || put("t/under", "under")) {
		pr_perror("mkdir");
		return 1;
	}
	/* t: a tmpfs with a directory, a file and a symlink, over a file of
	 * the root filesystem; t/b: a bind of src, read-only; t/p: proc. */
	if (mnt("zdtm_copy", "t", "tmpfs", 0))
		return 1;
	at(p, "t/d");
	if (mkdir(p, 0700) || put("t/d/f", "made") || symlink("d/f", (at(p, "t/l"), p))) {
		pr_perror("fill t");
		return 1;
	}
	at(p, "t/b");
	if (mkdir(p, 0755) || (at(p, "t/p"), mkdir(p, 0755))) {
		pr_perror("mkdir");
		return 1;
	}
	if (mnt(src, "t/b", NULL, MS_BIND) || mnt(NULL, "t/b", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY) ||
	    mnt("proc", "t/p", "proc", 0))
		return 1;
	if (table(before, sizeof(before)))
		return 1;
	test_set_corrupt(corrupt);

	test_daemon();
	test_waitsig();

	if (table(after, sizeof(after)))
		return 1;
	if (strcmp(before, after))
		fail("mounts before:\n%safter:\n%s", before, after);
	reads("t/d/f", "made");
	reads("t/l", "made");
	reads("t/b/f", "src");
	at(p, "t/b/new");
	if (open(p, O_WRONLY | O_CREAT, 0644) >= 0 || errno != EROFS)
		fail("t/b is not read-only after restore: %m");
	at(p, "t/p/self/status");
	if (access(p, R_OK))
		fail("%s: %m", p);
	at(p, "t/d");
	{
		struct stat st;

		if (stat(p, &st) || (st.st_mode & 0777) != 0700)
			fail("%s: mode %o, want 700", p, st.st_mode & 0777);
	}
	for (const char *r = "t/p\0t/b\0t\0"; *r; r += strlen(r) + 1) {
		at(p, r);
		umount2(p, MNT_DETACH);
	}
	reads("t/under", "under");
	pass();
	return 0;
}
