#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A block device node deleted while open (made with mknod, as /dev/loop0 is) stays "
		       "open on the same device, with its mode (CRIU 4.2 refuses block device fds)";

static char *filename = "deleted_blkdev00.node";
TEST_OPTION(filename, string, "prefix of the device nodes to make and unlink", 0);

struct node {
	mode_t type;
	int major, minor;
	mode_t perm;
	int fd;
	char name[256];
};

static struct node n[2] = { { S_IFBLK, 7, 0, 0600 }, { S_IFBLK, 7, 1, 0640 } };
static const int nn = 2;

static void corrupt(void)
{
	dup2(n[1].fd, n[0].fd);
}

int main(int argc, char **argv)
{
	struct stat st;

	test_init(argc, argv);
	for (int i = 0; i < nn; i++) {
		snprintf(n[i].name, sizeof(n[i].name), "%s.%d", filename, i);
		unlink(n[i].name);
		if (mknod(n[i].name, n[i].type | n[i].perm, makedev(n[i].major, n[i].minor)) ||
		    chmod(n[i].name, n[i].perm)) {
			pr_perror("mknod %s", n[i].name);
			return 1;
		}
		n[i].fd = open(n[i].name, n[i].type == S_IFBLK ? O_RDONLY : O_RDWR);
		if (n[i].fd < 0 || unlink(n[i].name)) {
			pr_perror("open and unlink %s", n[i].name);
			return 1;
		}
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (int i = 0; i < nn; i++) {
		if (fstat(n[i].fd, &st)) {
			fail("fstat %s: %m", n[i].name);
			continue;
		}
		if ((st.st_mode & S_IFMT) != n[i].type || major(st.st_rdev) != (unsigned)n[i].major ||
		    minor(st.st_rdev) != (unsigned)n[i].minor || (st.st_mode & 07777) != n[i].perm)
			fail("%s is no device %d:%d of mode %o (mode %o, device %u:%u)", n[i].name,
			     n[i].major, n[i].minor, n[i].perm, st.st_mode, major(st.st_rdev), minor(st.st_rdev));
		if (st.st_nlink != 0)
			fail("%s has %lu links, want 0", n[i].name, (unsigned long)st.st_nlink);
	}
	pass();
	return 0;
}
