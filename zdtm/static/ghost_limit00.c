#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A file deleted while open with more data than the default --ghost-limit (1 MiB) "
		       "is kept when the limit allows it";

static char *filename = "ghost_limit00.file";
TEST_OPTION(filename, string, "file to make and unlink", 0);

#define SIZE (3 << 20)

static int fd;

static void corrupt(void)
{
	pwrite(fd, "x", 1, SIZE / 2);
}

int main(int argc, char **argv)
{
	unsigned char *buf = malloc(SIZE), *got = malloc(SIZE);

	test_init(argc, argv);
	fill_pattern(buf, SIZE, 17);
	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, SIZE) != SIZE || unlink(filename)) {
		pr_perror("make and unlink %s", filename);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (pread(fd, got, SIZE, 0) != SIZE || memcmp(got, buf, SIZE))
		fail("the 3 MiB of the deleted file changed");
	pass();
	return 0;
}
