#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Device nodes deleted while open (a character device made with mknod, as /dev/null "
		       "and /dev/zero are) stay open on the same devices, with their modes";

static char *filename = "deleted_dev00.node";
TEST_OPTION(filename, string, "prefix of the device nodes to make and unlink", 0);

struct node {
	int major, minor;
	mode_t perm;
	int fd;
	char name[256];
};

static struct node n[2] = { { 1, 3, 0620 }, { 1, 5, 0604 } };

static void corrupt(void)
{
	dup2(n[1].fd, n[0].fd);
}

int main(int argc, char **argv)
{
	char buf[16];
	struct stat st;

	test_init(argc, argv);
	for (int i = 0; i < 2; i++) {
		snprintf(n[i].name, sizeof(n[i].name), "%s.%d", filename, i);
		unlink(n[i].name);
		if (mknod(n[i].name, S_IFCHR | n[i].perm, makedev(n[i].major, n[i].minor)) ||
		    chmod(n[i].name, n[i].perm)) {
			pr_perror("mknod %s", n[i].name);
			return 1;
		}
		n[i].fd = open(n[i].name, O_RDWR);
		if (n[i].fd < 0 || unlink(n[i].name)) {
			pr_perror("open and unlink %s", n[i].name);
			return 1;
		}
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (int i = 0; i < 2; i++) {
		if (fstat(n[i].fd, &st)) {
			fail("fstat %s: %m", n[i].name);
			continue;
		}
		if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != (unsigned)n[i].major ||
		    minor(st.st_rdev) != (unsigned)n[i].minor || (st.st_mode & 07777) != n[i].perm)
			fail("%s is no character device %d:%d of mode %o (mode %o, device %u:%u)", n[i].name,
			     n[i].major, n[i].minor, n[i].perm, st.st_mode, major(st.st_rdev), minor(st.st_rdev));
		if (st.st_nlink != 0)
			fail("%s has %lu links, want 0", n[i].name, (unsigned long)st.st_nlink);
	}
	memset(buf, 'x', sizeof(buf));
	if (read(n[0].fd, buf, sizeof(buf)) != 0)
		fail("reading the deleted null device gives data");
	if (read(n[1].fd, buf, sizeof(buf)) != sizeof(buf) || buf[0] || buf[sizeof(buf) - 1])
		fail("reading the deleted zero device gives no zeros");
	pass();
	return 0;
}
