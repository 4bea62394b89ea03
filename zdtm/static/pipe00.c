#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A pipe keeps the data queued in it and its flags";

#define SIZE 3000

static int p[2];

static void corrupt(void)
{
	char c;

	read(p[0], &c, 1);
}

int main(int argc, char **argv)
{
	uint8_t buf[SIZE + 1];
	long bad;
	ssize_t n;

	test_init(argc, argv);
	if (pipe2(p, O_NONBLOCK)) {
		pr_perror("pipe");
		return 1;
	}
	fill_pattern(buf, SIZE, 31);
	if (write(p[1], buf, SIZE) != SIZE) {
		pr_perror("write");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!(fcntl(p[0], F_GETFL) & O_NONBLOCK))
		fail("the read end lost O_NONBLOCK");
	memset(buf, 0, sizeof(buf));
	n = read(p[0], buf, SIZE + 1);
	if (n != SIZE)
		fail("read %zd bytes from the pipe, want %d", n, SIZE);
	else if ((bad = check_pattern(buf, SIZE, 31)) >= 0)
		fail("pipe data differs at %ld", bad);
	if (write(p[1], "x", 1) != 1 || read(p[0], buf, 2) != 1 || buf[0] != 'x')
		fail("the two ends are not one pipe any more");
	pass();
	return 0;
}
