#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A named fifo with its write end in the parent and its read end in a "
		       "child keeps the data queued in it, its path and its flags";

static char *filename = "fifo00.fifo";
TEST_OPTION(filename, string, "the fifo to create", 0);

#define SIZE 3000

static int wr;

static void corrupt(void)
{
	/* One byte more in flight: the child then reads SIZE + 1. */
	write(wr, "!", 1);
}

/* child: holds the read end; checks the data when told through ctl. */
static int child(int rd, int ctl, int ack)
{
	uint8_t buf[SIZE + 2];
	struct stat a, b;
	ssize_t n;
	char c;

	if (read(ctl, &c, 1) != 1)
		return 10;
	if (!(fcntl(rd, F_GETFL) & O_NONBLOCK))
		return 11; /* lost O_NONBLOCK */
	if ((fcntl(rd, F_GETFL) & O_ACCMODE) != O_RDONLY)
		return 12;
	if (fstat(rd, &a) || stat(filename, &b) || !S_ISFIFO(a.st_mode) || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev)
		return 13; /* not the fifo at the path */
	n = read(rd, buf, sizeof(buf));
	if (n != SIZE)
		return 14;
	if (check_pattern(buf, SIZE, 47) >= 0)
		return 15;
	if (write(ack, "a", 1) != 1)
		return 18;
	/* The parent writes 'x' to the fifo, then a byte to ctl. */
	if (read(ctl, &c, 1) != 1)
		return 16;
	if (read(rd, buf, 2) != 1 || buf[0] != 'x')
		return 17; /* the ends are not one fifo any more */
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t buf[SIZE];
	int ctl[2], ack[2], rd, status, flags;
	pid_t pid;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	unlink(filename);
	if (mkfifo(filename, 0640)) {
		pr_perror("mkfifo %s", filename);
		return 1;
	}
	rd = open(filename, O_RDONLY | O_NONBLOCK);
	wr = open(filename, O_WRONLY);
	if (rd < 0 || wr < 0) {
		pr_perror("open %s", filename);
		return 1;
	}
	if (pipe(ctl) || pipe(ack)) {
		pr_perror("pipe");
		return 1;
	}
	fill_pattern(buf, SIZE, 47);
	if (write(wr, buf, SIZE) != SIZE) {
		pr_perror("write");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(wr);
		close(ctl[1]);
		close(ack[0]);
		_exit(child(rd, ctl[0], ack[1]));
	}
	close(rd);
	close(ctl[0]);
	close(ack[1]);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	flags = fcntl(wr, F_GETFL);
	if ((flags & O_ACCMODE) != O_WRONLY || (flags & O_NONBLOCK))
		fail("write end flags %#x, want O_WRONLY", flags);
	if (write(ctl[1], "1", 1) != 1)
		pr_perror("write ctl");
	/* Once the child has read the data, a new byte goes through. */
	if (read(ack[0], buf, 1) == 1) {
		if (write(wr, "x", 1) != 1)
			pr_perror("write x");
		if (write(ctl[1], "2", 1) != 1)
			pr_perror("write ctl");
	}
	close(ctl[1]);
	if (waitpid(pid, &status, 0) != pid)
		pr_perror("waitpid");
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child found the fifo wrong: status %#x", status);
	unlink(filename);
	pass();
	return 0;
}
