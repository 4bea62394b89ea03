#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A small file (under the 3 pages that are saved as chunks: a raw ghost, as CRIU saves it) unlinked while open keeps its data, its size and no name";

static char *filename = "unlink_fstat01.data";
TEST_OPTION(filename, string, "file to create and unlink", 0);

#define SIZE 1000

static int fd;

static void corrupt(void)
{
	pwrite(fd, "X", 1, 10);
}

int main(int argc, char **argv)
{
	uint8_t buf[SIZE];
	struct stat st;
	long bad;

	test_init(argc, argv);
	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		pr_perror("open %s", filename);
		return 1;
	}
	fill_pattern(buf, SIZE, 42);
	if (write(fd, buf, SIZE) != SIZE) {
		pr_perror("write");
		return 1;
	}
	if (unlink(filename)) {
		pr_perror("unlink");
		return 1;
	}
	lseek(fd, 100, SEEK_SET);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (fstat(fd, &st))
		pr_perror("fstat");
	else {
		if (st.st_nlink != 0)
			fail("the file has %lu links, want 0", (unsigned long)st.st_nlink);
		if (st.st_size != SIZE)
			fail("size %lld, want %d", (long long)st.st_size, SIZE);
		if ((st.st_mode & 07777) != 0600)
			fail("mode %o, want 600", st.st_mode & 07777);
	}
	if (access(filename, F_OK) == 0)
		fail("%s exists again", filename);
	if (lseek(fd, 0, SEEK_CUR) != 100)
		fail("position moved");
	memset(buf, 0, SIZE);
	if (pread(fd, buf, SIZE, 0) != SIZE)
		pr_perror("pread");
	else if ((bad = check_pattern(buf, SIZE, 42)) >= 0)
		fail("data differs at offset %ld", bad);
	pass();
	return 0;
}
