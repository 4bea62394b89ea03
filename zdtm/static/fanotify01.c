#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A fanotify filesystem mark (FAN_MARK_FILESYSTEM, on /dev/shm's tmpfs) keeps its mask "
		       "and ignored mask: a file written anywhere on that filesystem is reported";

static char *dirname = "/dev/shm/zdtm-fanotify01.dir";
TEST_OPTION(dirname, string, "directory on the filesystem to mark", 0);

static int fan;

static void corrupt(void)
{
	fanotify_mark(fan, FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE, AT_FDCWD, dirname);
}

/* events reads the queued events of this task on inode ino, ORing their
 * masks. */
static uint64_t events(ino_t ino)
{
	char buf[8192] __attribute__((aligned(8)));
	uint64_t got = 0;
	int n;

	while ((n = read(fan, buf, sizeof(buf))) > 0) {
		struct fanotify_event_metadata *ev = (struct fanotify_event_metadata *)buf;

		for (; FAN_EVENT_OK(ev, n); ev = FAN_EVENT_NEXT(ev, n)) {
			struct stat st;

			if (ev->fd >= 0 && !fstat(ev->fd, &st) && st.st_ino == ino && ev->pid == getpid())
				got |= ev->mask;
			if (ev->fd >= 0)
				close(ev->fd);
		}
	}
	return got;
}

static ino_t write_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, "x", 1) != 1 || fstat(fd, &st)) {
		pr_perror("write %s", path);
		return 0;
	}
	close(fd);
	return st.st_ino;
}

int main(int argc, char **argv)
{
	char file[PATH_MAX + 16], ign[PATH_MAX + 16];
	uint64_t got;
	ino_t ino;

	test_init(argc, argv);
	snprintf(file, sizeof(file), "%s/written", dirname);
	snprintf(ign, sizeof(ign), "%s/ignored", dirname);
	if (mkdir(dirname, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	close(open(ign, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY | O_CLOEXEC);
	if (fan < 0) {
		pr_perror("fanotify_init");
		return 1;
	}
	/* The whole filesystem's writes, but for one file (an inode mark's
	 * ignored mask). */
	if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE, AT_FDCWD, dirname) ||
	    fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_CLOSE_WRITE,
			  AT_FDCWD, ign)) {
		pr_perror("fanotify_mark");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	events(0);
	ino = write_file(file);
	got = events(ino);
	if (got != FAN_CLOSE_WRITE)
		fail("a file written on the marked filesystem: mask %#llx, want FAN_CLOSE_WRITE", (unsigned long long)got);
	ino = write_file(ign);
	got = events(ino);
	if (got)
		fail("the ignored file: mask %#llx, want none", (unsigned long long)got);
	unlink(file);
	if (!test_failed())
		pass();
	return 0;
}
