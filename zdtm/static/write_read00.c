#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "An open file keeps its contents and position; reads continue from it";

static char *filename = "write_read00.data";
TEST_OPTION(filename, string, "file to write and read", 0);

#define SIZE (64 * 1024 + 123)
#define POS 40000

static int fd;
static uint8_t buf[SIZE];

static void corrupt(void)
{
	lseek(fd, POS + 1, SEEK_SET);
}

int main(int argc, char **argv)
{
	off_t pos;
	ssize_t n;

	test_init(argc, argv);
	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		pr_perror("open %s", filename);
		return 1;
	}
	fill_pattern(buf, SIZE, 7);
	if (write(fd, buf, SIZE) != SIZE) {
		pr_perror("write");
		return 1;
	}
	if (lseek(fd, POS, SEEK_SET) != POS) {
		pr_perror("lseek");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	pos = lseek(fd, 0, SEEK_CUR);
	if (pos != POS)
		fail("position is %lld, want %d", (long long)pos, POS);
	memset(buf, 0, sizeof(buf));
	n = read(fd, buf + POS, SIZE - POS);
	if (n != SIZE - POS)
		fail("read %zd bytes at the position, want %d", n, SIZE - POS);
	else {
		uint8_t want[SIZE];

		fill_pattern(want, SIZE, 7);
		if (memcmp(buf + POS, want + POS, SIZE - POS))
			fail("the data after the position differs");
	}
	/* Writing more must extend the same file. */
	if (write(fd, "tail", 4) != 4)
		pr_perror("write after restore");
	else if (lseek(fd, 0, SEEK_END) != SIZE + 4)
		fail("the file is not %d bytes long after a write", SIZE + 4);
	pass();
	return 0;
}
