#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "/proc/self/cmdline, /proc/self/exe and the argv memory survive";

static char *arg = "";
TEST_OPTION(arg, string, "an extra argument that shows in the command line", 0);

static char cmdline[8192], exe[PATH_MAX];
static ssize_t cmdline_len;
static char **saved_argv;

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + total, len - total)) > 0)
		total += n;
	close(fd);
	return total;
}

static void corrupt(void)
{
	saved_argv[0][0] ^= 1;
}

int main(int argc, char **argv)
{
	char now[8192], nowexe[PATH_MAX];
	ssize_t n;

	test_init(argc, argv);
	saved_argv = argv;
	cmdline_len = read_file("/proc/self/cmdline", cmdline, sizeof(cmdline));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (cmdline_len <= 0 || n <= 0) {
		pr_perror("read /proc/self");
		return 1;
	}
	exe[n] = 0;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	n = read_file("/proc/self/cmdline", now, sizeof(now));
	if (n != cmdline_len || memcmp(now, cmdline, n))
		fail("/proc/self/cmdline changed (%zd bytes, was %zd)", n, cmdline_len);
	n = readlink("/proc/self/exe", nowexe, sizeof(nowexe) - 1);
	if (n < 0)
		pr_perror("readlink /proc/self/exe");
	else {
		nowexe[n] = 0;
		if (strcmp(nowexe, exe))
			fail("/proc/self/exe is %s, want %s", nowexe, exe);
	}
	if (strcmp(argv[0], cmdline))
		fail("argv[0] is %s, want %s", argv[0], cmdline);
	pass();
	return 0;
}
