// covered DIR PIVOT COVER: holds a file opened in criu's mount namespace
// (fd 5, DIR/pre/file), then in a mount namespace of its own (private)
// opens a fifo (fd 3) and a file (fd 4) in a directory d: DIR/d, or, when
// PIVOT is 1, /d of a tmpfs it has pivot_root()ed into (the old root
// detached, as a container runtime does). When COVER is 1 it then mounts
// a tmpfs over d (and, without PIVOT, over DIR/pre); when 2, it binds d
// over itself (and DIR/pre): the same files, on another mount. It writes
// "ready\n" to stdout and sleeps.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int over(const char *d, int cover) {
	if (cover == 1) return mount("covering", d, "tmpfs", 0, NULL);
	if (cover == 2) return mount(d, d, NULL, MS_BIND, NULL);
	return 0;
}

static int place(const char *d, int cover) {
	char p[4096];
	snprintf(p, sizeof p, "%s/fifo", d);
	if (mkfifo(p, 0600) && access(p, F_OK)) return 1;
	if (dup2(open(p, O_RDWR), 3) != 3) return 1;
	snprintf(p, sizeof p, "%s/file", d);
	if (dup2(open(p, O_RDWR | O_CREAT, 0644), 4) != 4) return 1;
	return over(d, cover);
}

int main(int argc, char **argv) {
	char p[4096];
	if (argc != 4) return 1;
	const char *dir = argv[1];
	int pivot = atoi(argv[2]), cover = atoi(argv[3]);
	snprintf(p, sizeof p, "%s/pre/file", dir);
	if (dup2(open(p, O_RDONLY), 5) != 5) return 2;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) return 3;
	if (pivot) {
		snprintf(p, sizeof p, "%s/root", dir);
		if (mount("newroot", p, "tmpfs", 0, NULL)) return 4;
		char old[4200];
		snprintf(old, sizeof old, "%s/old", p);
		if (mkdir(old, 0700) || syscall(SYS_pivot_root, p, old) || chdir("/")) return 5;
		if (umount2("/old", MNT_DETACH) || rmdir("/old") || mkdir("/d", 0755)) return 6;
		if (place("/d", cover)) return 7;
	} else {
		snprintf(p, sizeof p, "%s/d", dir);
		if (place(p, cover)) return 8;
		snprintf(p, sizeof p, "%s/pre", dir);
		if (over(p, cover)) return 9;
	}
	if (write(1, "ready\n", 6) != 6) return 10;
	for (;;) pause();
}
