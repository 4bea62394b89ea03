#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef INOTIFY_DIR
const char *test_doc = "An inotify file keeps its watches (path, mask, watch descriptor) and O_NONBLOCK";
#define INOTIFY_DIR "inotify00.dir"
#endif

static char *dirname = INOTIFY_DIR;
TEST_OPTION(dirname, string, "directory to watch", 0);

static int ifd, wd_dir, wd_file, wd_attr;

static void corrupt(void)
{
	inotify_rm_watch(ifd, wd_file);
	/* The IN_IGNORED it queues is read away, as before the dump. */
	char buf[256];
	while (read(ifd, buf, sizeof(buf)) > 0)
		;
}

struct want {
	int *wd;
	uint32_t mask;
	const char *name;
};

int main(int argc, char **argv)
{
	char file[PATH_MAX], attr[PATH_MAX], created[PATH_MAX], buf[4096] __attribute__((aligned(8)));
	struct want want[] = {
		{ &wd_dir, IN_CREATE, "new" },
		{ &wd_file, IN_MODIFY, NULL },
		{ &wd_attr, IN_ATTRIB, NULL },
	};
	int tmp, fd, i, n, off;

	test_init(argc, argv);
	snprintf(file, sizeof(file), "%s/watched", dirname);
	snprintf(attr, sizeof(attr), "%s.attr", dirname);
	snprintf(created, sizeof(created), "%s/new", dirname);
	if (mkdir(dirname, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	close(open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	close(open(attr, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	unlink(created);
	ifd = inotify_init1(IN_NONBLOCK);
	if (ifd < 0) {
		pr_perror("inotify_init1");
		return 1;
	}
	wd_dir = inotify_add_watch(ifd, dirname, IN_CREATE | IN_DELETE);
	wd_file = inotify_add_watch(ifd, file, IN_MODIFY);
	/* A removed watch leaves a gap in the descriptors. */
	tmp = inotify_add_watch(ifd, ".", IN_ALL_EVENTS);
	inotify_rm_watch(ifd, tmp);
	wd_attr = inotify_add_watch(ifd, attr, IN_ATTRIB | IN_ONESHOT);
	if (wd_dir < 0 || wd_file < 0 || tmp < 0 || wd_attr < 0) {
		pr_perror("inotify_add_watch");
		return 1;
	}
	while (read(ifd, buf, sizeof(buf)) > 0)
		; /* the IN_IGNORED of tmp */
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!(fcntl(ifd, F_GETFL) & O_NONBLOCK))
		fail("O_NONBLOCK is lost");
	if (read(ifd, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		fail("events queued after restore (want none)");
	close(open(created, O_WRONLY | O_CREAT, 0644));
	fd = open(file, O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		pr_perror("write %s", file);
	close(fd);
	chmod(attr, 0600);
	n = read(ifd, buf, sizeof(buf));
	if (n <= 0) {
		fail("no events after restore");
		return 1;
	}
	for (i = 0, off = 0; off < n; i++) {
		struct inotify_event *ev = (struct inotify_event *)(buf + off);

		off += sizeof(*ev) + ev->len;
		if (i >= 3) {
			if (ev->mask & IN_IGNORED && ev->wd == wd_attr)
				continue; /* IN_ONESHOT removed the attr watch */
			fail("extra event wd %d mask %#x", ev->wd, ev->mask);
			break;
		}
		if (ev->wd != *want[i].wd || !(ev->mask & want[i].mask) ||
		    (want[i].name && (!ev->len || strcmp(ev->name, want[i].name)))) {
			fail("event %d: wd %d mask %#x name %s, want wd %d mask %#x", i, ev->wd, ev->mask,
			     ev->len ? ev->name : "-", *want[i].wd, want[i].mask);
			break;
		}
	}
	if (!test_failed() && i < 3)
		fail("%d events, want 3", i);
	unlink(created);
	if (!test_failed())
		pass();
	return 0;
}
