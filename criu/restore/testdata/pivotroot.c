// pivotroot: in a mount namespace of its own, pivot_root()s into a fresh
// tmpfs and detaches the old root, as a container runtime does; then
// closes every file it had from outside (its stdio), writes "ready" to
// /out of its new root and counts on it every 10ms. Its root is
// reachable by no path from the host's root.
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
int main(int argc, char **argv) {
	char dir[] = "/tmp/pivotroot.XXXXXX", old[64];
	if (!mkdtemp(dir)) return 1;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) return 2;
	if (mount("newroot", dir, "tmpfs", 0, NULL)) return 3;
	snprintf(old, sizeof old, "%s/old", dir);
	if (mkdir(old, 0700) || syscall(SYS_pivot_root, dir, old) || chdir("/")) return 4;
	if (umount2("/old", MNT_DETACH) || rmdir("/old")) return 5;
	close(0), close(1), close(2);
	int fd = open("/out", O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) return 6;
	write(fd, "ready\n", 6);
	for (long i = 0;; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof buf, "%ld\n", i);
		write(fd, buf, n);
		usleep(10000);
	}
}
