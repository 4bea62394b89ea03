#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "An O_APPEND file keeps the flag: writes after restore go to the end";

static char *filename = "file_append00.data";
TEST_OPTION(filename, string, "file to append to", 0);

static int fd, other;

static void corrupt(void)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_APPEND);
}

int main(int argc, char **argv)
{
	char buf[64];
	struct stat st;
	int flags;

	test_init(argc, argv);
	fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	other = open(filename, O_WRONLY);
	if (fd < 0 || other < 0) {
		pr_perror("open %s", filename);
		return 1;
	}
	if (write(fd, "0123456789", 10) != 10) {
		pr_perror("write");
		return 1;
	}
	/* Move the offset back: an appending write ignores it. */
	lseek(fd, 2, SEEK_SET);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	flags = fcntl(fd, F_GETFL);
	if (!(flags & O_APPEND))
		fail("O_APPEND is lost: flags %#x", flags);
	if ((flags & O_ACCMODE) != O_WRONLY)
		fail("access mode changed: flags %#x", flags);
	/* Another writer extends the file; the appending fd follows it. */
	if (pwrite(other, "abc", 3, 10) != 3)
		pr_perror("pwrite");
	if (write(fd, "END", 3) != 3)
		pr_perror("write after restore");
	if (fstat(fd, &st))
		pr_perror("fstat");
	else if (st.st_size != 16)
		fail("size %lld, want 16", (long long)st.st_size);
	if (pread(open(filename, O_RDONLY), buf, 16, 0) != 16 || memcmp(buf, "0123456789abcEND", 16))
		fail("contents are %.16s, want 0123456789abcEND", buf);
	pass();
	return 0;
}
