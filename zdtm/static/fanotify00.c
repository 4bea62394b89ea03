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

const char *test_doc = "A fanotify group keeps its flags (as fdinfo shows them: no FAN_CLOEXEC gained), event flags and its inode and mount marks "
		       "(mask, ignored mask, mark flags)";

static char *dirname = "fanotify00.dir";
TEST_OPTION(dirname, string, "directory to watch", 0);

static int fan;
static char file[PATH_MAX];

static void corrupt(void)
{
	/* The file's FAN_OPEN is lost. */
	fanotify_mark(fan, FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, file);
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return 0;
	return st.st_ino;
}

/* reads the queued events; ORs the masks of those on file, child and
 * ignored (by inode) into got[], checking their event fds; ours: only
 * events of this task count. */
static int collect(uint64_t got[3], ino_t inos[3], int ours)
{
	char buf[8192] __attribute__((aligned(8)));
	int n, bad = 0;

	while ((n = read(fan, buf, sizeof(buf))) > 0) {
		struct fanotify_event_metadata *ev = (struct fanotify_event_metadata *)buf;

		for (; FAN_EVENT_OK(ev, n); ev = FAN_EVENT_NEXT(ev, n)) {
			struct stat st;
			int i;

			if (ev->vers != FANOTIFY_METADATA_VERSION) {
				fail("event of version %d", ev->vers);
				bad = 1;
				continue;
			}
			if (ev->fd < 0) {
				fail("event without fd (mask %#llx)", (unsigned long long)ev->mask);
				bad = 1;
				continue;
			}
			if (fstat(ev->fd, &st)) {
				fail("event fd %d is not valid", ev->fd);
				bad = 1;
				continue;
			}
			for (i = 0; i < 3; i++) {
				if (st.st_ino != inos[i])
					continue;
				if (ours && ev->pid != getpid())
					break;
				got[i] |= ev->mask;
				/* the event flags: O_RDONLY | O_CLOEXEC */
				if ((fcntl(ev->fd, F_GETFL) & O_ACCMODE) != O_RDONLY ||
				    !(fcntl(ev->fd, F_GETFD) & FD_CLOEXEC)) {
					fail("event fd flags %#x fd flags %#x", fcntl(ev->fd, F_GETFL),
					     fcntl(ev->fd, F_GETFD));
					bad = 1;
				}
			}
			close(ev->fd);
		}
	}
	if (n < 0 && errno != EAGAIN) {
		pr_perror("read fanotify");
		bad = 1;
	}
	return bad;
}

static void touch(const char *path, int writes)
{
	int fd = open(path, writes ? O_WRONLY : O_RDONLY);

	if (fd < 0) {
		pr_perror("open %s", path);
		return;
	}
	if (writes && write(fd, "x", 1) != 1)
		pr_perror("write %s", path);
	close(fd);
}

/* group_line reads fdinfo's "fanotify flags:%x event-flags:%x" line of fan. */
static void group_line(char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fan);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "fanotify flags:", 15))
			snprintf(out, len, "%s", line);
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	char child[PATH_MAX], ignored[PATH_MAX], group[256], group_after[256];
	uint64_t got[3] = {};
	ino_t inos[3];
	int fl;

	test_init(argc, argv);
	snprintf(file, sizeof(file), "%s/watched", dirname);
	snprintf(child, sizeof(child), "%s/child", dirname);
	snprintf(ignored, sizeof(ignored), "%s.ignored", dirname);
	if (mkdir(dirname, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	close(open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	close(open(child, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	close(open(ignored, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	inos[0] = ino_of(file);
	inos[1] = ino_of(child);
	inos[2] = ino_of(ignored);

	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY | O_CLOEXEC);
	if (fan < 0) {
		pr_perror("fanotify_init");
		return 1;
	}
	/* An inode mark on a file, one on a directory (its children's
	 * writes), a mount mark on the mount of the directory, and an
	 * ignored mask that survives writes. */
	if (fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, file) ||
	    fanotify_mark(fan, FAN_MARK_ADD, FAN_MODIFY | FAN_EVENT_ON_CHILD, AT_FDCWD, dirname) ||
	    fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE, AT_FDCWD, dirname) ||
	    fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_CLOSE_WRITE,
			  AT_FDCWD, ignored)) {
		pr_perror("fanotify_mark");
		return 1;
	}
	/* The group's flags (no FAN_CLOEXEC) are what fdinfo shows. */
	group_line(group, sizeof(group));
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	group_line(group_after, sizeof(group_after));
	if (!group[0] || strcmp(group, group_after))
		fail("group was \"%s\", is \"%s\" after restore", group, group_after);
	if (fcntl(fan, F_GETFD) != 0)
		fail("the fd became close-on-exec");
	fl = fcntl(fan, F_GETFL);
	if (!(fl & O_NONBLOCK))
		fail("O_NONBLOCK is lost");
	/* Nothing of the restore's own opens is queued on our files (other
	 * tasks' writes on the mount may be). */
	if (collect(got, inos, 0))
		return 1;
	if (got[0] | got[1] | got[2])
		fail("events queued after restore: %#llx %#llx %#llx", (unsigned long long)got[0],
		     (unsigned long long)got[1], (unsigned long long)got[2]);
	memset(got, 0, sizeof(got));

	touch(file, 0);
	touch(child, 1);
	touch(ignored, 1);
	if (collect(got, inos, 1))
		return 1;
	if (!(got[0] & FAN_OPEN) || (got[0] & ~(uint64_t)FAN_OPEN))
		fail("watched file: mask %#llx, want FAN_OPEN", (unsigned long long)got[0]);
	if (got[1] != (FAN_MODIFY | FAN_CLOSE_WRITE))
		fail("child: mask %#llx, want FAN_MODIFY|FAN_CLOSE_WRITE", (unsigned long long)got[1]);
	if (got[2])
		fail("ignored file: mask %#llx, want none (ignored mask)", (unsigned long long)got[2]);
	if (!test_failed())
		pass();
	return 0;
}
