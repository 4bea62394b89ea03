#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Files deleted while open on mounts made read-only afterwards (a tmpfs and a bind of it, "
		       "read-only by their own flag) come back with their bytes, still deleted, the mounts still "
		       "read-only, and no name left behind";

static char *dirname = "ghost_ro00.dir";
TEST_OPTION(dirname, string, "directory to mount in", 0);

#define DATA "bytes of a ghost on a read-only mount"

static char top[PATH_MAX], ro[PATH_MAX + 8], bind[PATH_MAX + 8];
static int fd[2];

static void corrupt(void)
{
	char p[PATH_MAX + 16];
	int f;

	/* A name where the ghost was: restore left one. */
	mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND, NULL);
	snprintf(p, sizeof(p), "%s/left", ro);
	f = open(p, O_CREAT | O_WRONLY, 0600);
	if (f >= 0)
		close(f);
	mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
}

static int ghost(const char *dir, const char *name)
{
	char p[PATH_MAX + 32];
	int f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = open(p, O_CREAT | O_EXCL | O_WRONLY, 0640);
	if (f < 0 || write(f, DATA, sizeof(DATA)) != sizeof(DATA) || close(f))
		return -1;
	f = open(p, O_RDONLY);
	if (f < 0 || unlink(p))
		return -1;
	return f;
}

static int entries(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int read_only(const char *dir)
{
	struct statvfs sv;

	return statvfs(dir, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

int main(int argc, char **argv)
{
	char buf[sizeof(DATA)], link[64], target[PATH_MAX];
	struct stat st;
	int i;

	test_init(argc, argv);
	if (mkdir(dirname, 0755) || !realpath(dirname, top)) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	snprintf(ro, sizeof(ro), "%s/ro", top);
	snprintf(bind, sizeof(bind), "%s/bind", top);
	if (mount("zdtm_top", top, "tmpfs", 0, NULL) || mount(NULL, top, NULL, MS_PRIVATE, NULL) || mkdir(ro, 0755) ||
	    mkdir(bind, 0755) || mount("zdtm_ro", ro, "tmpfs", 0, NULL) || mount(NULL, ro, NULL, MS_SHARED, NULL) ||
	    mount(ro, bind, NULL, MS_BIND, NULL)) {
		pr_perror("mounts");
		return 1;
	}
	fd[0] = ghost(ro, "ghost");
	fd[1] = ghost(bind, "ghost_bind");
	if (fd[0] < 0 || fd[1] < 0) {
		pr_perror("ghosts");
		return 1;
	}
	if (mount(NULL, ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) ||
	    mount(NULL, bind, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL)) {
		pr_perror("remount read-only");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < 2; i++) {
		if (pread(fd[i], buf, sizeof(buf), 0) != sizeof(buf) || memcmp(buf, DATA, sizeof(DATA))) {
			fail("ghost %d lost its bytes", i);
			return 1;
		}
		if (fstat(fd[i], &st) || st.st_nlink != 0 || (st.st_mode & 07777) != 0640) {
			fail("ghost %d: links %ld, mode %o", i, (long)st.st_nlink, st.st_mode & 07777);
			return 1;
		}
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd[i]);
		memset(target, 0, sizeof(target));
		if (readlink(link, target, sizeof(target) - 1) < 0 || !strstr(target, " (deleted)")) {
			fail("ghost %d reads as %s", i, target);
			return 1;
		}
	}
	if (!read_only(ro) || !read_only(bind)) {
		fail("a mount is no longer read-only");
		return 1;
	}
	if (entries(ro) != 0 || entries(bind) != 0) {
		fail("names left on the mounts (%d, %d)", entries(ro), entries(bind));
		return 1;
	}
	pass();
	return 0;
}
