#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A file made with O_TMPFILE (never linked), open in the task and in its child "
		       "(shared: one open file), keeps its data, offset and access mode, and is a regular file";

static int fd;

static void corrupt(void)
{
	lseek(fd, 0, SEEK_SET);
}

int main(int argc, char **argv)
{
	char buf[16] = {};
	struct stat st;
	int status, p[2];
	pid_t child;

	test_init(argc, argv);
	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	if (fd < 0) {
		pr_perror("open(O_TMPFILE)");
		return 1;
	}
	if (write(fd, "tmpfile-data", 12) != 12) {
		pr_perror("write");
		return 1;
	}
	if (pipe(p)) {
		pr_perror("pipe");
		return 1;
	}
	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return 1;
	}
	if (child == 0) {
		char c;

		close(p[1]);
		/* Holds fd (inherited) until the parent is done. */
		if (read(p[0], &c, 1) < 0)
			_exit(2);
		_exit(lseek(fd, 0, SEEK_CUR) == 12 ? 0 : 1);
	}
	close(p[0]);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 0 || st.st_size != 12)
		fail("not a 12-byte unlinked regular file (mode %o, %lu links, %lld bytes)", st.st_mode,
		     (unsigned long)st.st_nlink, (long long)st.st_size);
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR)
		fail("access mode %o, want O_RDWR", fcntl(fd, F_GETFL) & O_ACCMODE);
	if (lseek(fd, 0, SEEK_CUR) != 12)
		fail("offset %lld, want 12", (long long)lseek(fd, 0, SEEK_CUR));
	if (pread(fd, buf, 12, 0) != 12 || strcmp(buf, "tmpfile-data"))
		fail("data \"%s\"", buf);
	if (write(p[1], "x", 1) != 1 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fail("the child did not see the shared offset 12 (status %x)", status);
	pass();
	return 0;
}
