#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "The audit login uid (/proc/self/loginuid) is kept";

static int set_loginuid(const char *v)
{
	int fd = open("/proc/self/loginuid", O_WRONLY);

	if (fd < 0 || write(fd, v, strlen(v)) != (ssize_t)strlen(v)) {
		pr_perror("write loginuid %s", v);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void corrupt(void)
{
	set_loginuid("1001");
}

int main(int argc, char **argv)
{
	char buf[32] = {0};
	int fd;

	test_init(argc, argv);
	if (set_loginuid("1000"))
		return 1;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();
	fd = open("/proc/self/loginuid", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0) {
		pr_perror("read loginuid");
		return 1;
	}
	close(fd);
	if (strtoul(buf, NULL, 10) != 1000)
		fail("loginuid %s, want 1000", buf);
	else
		pass();
	return 0;
}
