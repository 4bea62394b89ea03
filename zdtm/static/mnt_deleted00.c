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

const char *test_doc = "Binds of a directory (on a tmpfs) and of an empty file (on the root filesystem) removed since "
		       "survive: still binds of deleted nodes, of the same kind, mode and owner, the directory empty";

static char *dirname = "mnt_deleted00.dir";
TEST_OPTION(dirname, string, "directory to mount in", 0);

static char top[PATH_MAX - 64], cwd[PATH_MAX - 64];

/* deleted says whether the mount at point is a bind of a deleted node. */
static int deleted(const char *point)
{
	char line[4096], p[PATH_MAX], root[PATH_MAX];
	int found = -1;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f) {
		pr_perror("open mountinfo");
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*d %*d %*s %4095s %4095s", root, p) == 2 && !strcmp(p, point))
			found = strlen(root) > 9 && !strcmp(root + strlen(root) - 9, "//deleted");
	fclose(f);
	return found;
}

static int check(const char *point, mode_t kind, mode_t mode)
{
	struct stat st;

	if (deleted(point) != 1) {
		fail("%s: not a bind of a deleted node", point);
		return 0;
	}
	if (stat(point, &st)) {
		fail("stat %s: %m", point);
		return 0;
	}
	if ((st.st_mode & S_IFMT) != kind || (st.st_mode & 07777) != mode || st.st_uid != 0 || st.st_nlink != 0) {
		fail("%s: mode %o, owner %d, links %ld, want %o, 0 and 0", point, st.st_mode, st.st_uid, (long)st.st_nlink,
		     kind | mode);
		return 0;
	}
	if (kind == S_IFREG && st.st_size != 0)
		fail("%s: %ld bytes", point, (long)st.st_size);
	return 1;
}

static char dsrc[PATH_MAX], ddst[PATH_MAX], fsrc[PATH_MAX], fdst[PATH_MAX];

static void corrupt(void)
{
	umount2(ddst, MNT_DETACH); /* as a restore without the bind */
}

int main(int argc, char **argv)
{
	int fd;

	test_init(argc, argv);
	if (test_own_mntns(1))
		return 1;
	if (mkdir(dirname, 0755) || !realpath(dirname, top) || !getcwd(cwd, sizeof(cwd))) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	if (mount("zdtm_deleted", top, "tmpfs", 0, NULL)) {
		pr_perror("mount %s", top);
		return 1;
	}
	snprintf(dsrc, sizeof(dsrc), "%s/src", top);
	snprintf(ddst, sizeof(ddst), "%s/dst", top);
	snprintf(fsrc, sizeof(fsrc), "%s/mnt_deleted00.fsrc", cwd);
	snprintf(fdst, sizeof(fdst), "%s/mnt_deleted00.fdst", cwd);
	umask(0);
	if (mkdir(dsrc, 0710) || mkdir(ddst, 0710)) {
		pr_perror("mkdir");
		return 1;
	}
	unlink(fsrc);
	unlink(fdst);
	for (const char *p = fsrc; p; p = p == fsrc ? fdst : NULL) {
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0640);
		if (fd < 0) {
			pr_perror("create %s", p);
			return 1;
		}
		close(fd);
	}
	if (mount(dsrc, ddst, NULL, MS_BIND, NULL) || mount(fsrc, fdst, NULL, MS_BIND, NULL)) {
		pr_perror("bind");
		return 1;
	}
	if (rmdir(dsrc) || unlink(fsrc)) {
		pr_perror("remove the sources");
		return 1;
	}
	if (!check(ddst, S_IFDIR, 0710) || !check(fdst, S_IFREG, 0640))
		return 1;
	test_set_corrupt(corrupt);

	test_daemon();
	test_waitsig();

	if (check(ddst, S_IFDIR, 0710) && check(fdst, S_IFREG, 0640)) {
		if (access(dsrc, F_OK) == 0 || access(fsrc, F_OK) == 0)
			fail("a source is there again after restore");
		if (mkdir("x", 0755) == 0 && chdir(ddst) == 0 && mkdir("x", 0755) == 0)
			fail("a directory was made in the deleted one");
		chdir(cwd);
		rmdir("x");
	}
	umount2(fdst, MNT_DETACH);
	unlink(fdst);
	umount2(ddst, MNT_DETACH);
	umount2(top, MNT_DETACH);
	pass();
	return 0;
}
