#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "The oom_score_adj survives";

/*
 * Raised, not lowered: without CAP_SYS_RESOURCE a task cannot go below
 * the oom_score_adj it inherited, and neither can the restorer.
 */
static int score = 345;
TEST_OPTION(score, int, "oom_score_adj to set (0..1000)", 0);

static int set_score(int v)
{
	char buf[16];
	int fd, n, ret = 0;

	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof buf, "%d", v);
	if (write(fd, buf, n) != n)
		ret = -1;
	close(fd);
	return ret;
}

static int get_score(int *v)
{
	char buf[16] = "";
	int fd, n;

	fd = open("/proc/self/oom_score_adj", O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	*v = atoi(buf);
	return 0;
}

static void corrupt(void)
{
	set_score(score == 1000 ? 999 : score + 1);
}

int main(int argc, char **argv)
{
	int v;

	test_init(argc, argv);
	if (set_score(score)) {
		pr_perror("set oom_score_adj %d", score);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (get_score(&v))
		fail("cannot read /proc/self/oom_score_adj");
	else if (v != score)
		fail("oom_score_adj is %d, want %d", v, score);
	pass();
	return 0;
}
