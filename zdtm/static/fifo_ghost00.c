#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A named fifo removed while open (a ghost fifo) keeps the data queued in "
		       "it, its mode, no name, and its ends (one in a child) stay one fifo";

static char *filename = "fifo_ghost00.fifo";
TEST_OPTION(filename, string, "the fifo to create and remove", 0);

#define SIZE 5000

static int wr;

static void corrupt(void)
{
	/* One byte more in flight: the reader then reads SIZE + 1. */
	write(wr, "!", 1);
}

/* fifo_ok checks that fd is a fifo of mode 0640 with no name left. */
static int fifo_ok(int fd, ino_t ino)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISFIFO(st.st_mode))
		return 0;
	return st.st_nlink == 0 && (st.st_mode & 07777) == 0640 && (ino == 0 || st.st_ino == ino);
}

/* child: holds a second read end; reads what the parent writes after the check. */
static int child(int rd, int ctl)
{
	char c, buf[4];

	if (read(ctl, &c, 1) != 1)
		return 10;
	if (!fifo_ok(rd, 0))
		return 11;
	if ((fcntl(rd, F_GETFL) & O_ACCMODE) != O_RDONLY)
		return 12;
	if (read(rd, buf, sizeof(buf)) != 1 || buf[0] != 'y')
		return 13; /* not the parent's fifo any more */
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t buf[SIZE + 2];
	int ctl[2], rd, rd2, status;
	struct stat st;
	ssize_t n;
	long bad;
	pid_t pid;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	unlink(filename);
	umask(0);
	if (mkfifo(filename, 0640)) {
		pr_perror("mkfifo %s", filename);
		return 1;
	}
	rd = open(filename, O_RDONLY | O_NONBLOCK);
	wr = open(filename, O_WRONLY);
	rd2 = open(filename, O_RDONLY | O_NONBLOCK);
	if (rd < 0 || wr < 0 || rd2 < 0) {
		pr_perror("open %s", filename);
		return 1;
	}
	if (unlink(filename)) {
		pr_perror("unlink %s", filename);
		return 1;
	}
	if (pipe(ctl)) {
		pr_perror("pipe");
		return 1;
	}
	fill_pattern(buf, SIZE, 51);
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
		close(rd);
		close(ctl[1]);
		_exit(child(rd2, ctl[0]));
	}
	close(rd2);
	close(ctl[0]);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (fstat(wr, &st))
		pr_perror("fstat");
	/* A new inode after restore: the ends must share it. */
	if (!fifo_ok(rd, st.st_ino) || !fifo_ok(wr, st.st_ino))
		fail("the ends are not the same nameless fifo of mode 0640");
	if (access(filename, F_OK) == 0)
		fail("%s exists again", filename);
	if ((fcntl(wr, F_GETFL) & O_ACCMODE) != O_WRONLY || !(fcntl(rd, F_GETFL) & O_NONBLOCK))
		fail("the ends lost their flags");
	n = read(rd, buf, sizeof(buf));
	if (n != SIZE)
		fail("read %zd bytes, want %d", n, SIZE);
	else if ((bad = check_pattern(buf, SIZE, 51)) >= 0)
		fail("data differs at offset %ld", bad);
	/* The child's end is the same fifo: what is written now reaches it. */
	if (write(wr, "y", 1) != 1)
		pr_perror("write y");
	if (write(ctl[1], "1", 1) != 1)
		pr_perror("write ctl");
	close(ctl[1]);
	if (waitpid(pid, &status, 0) != pid)
		pr_perror("waitpid");
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child found the fifo wrong: status %#x", status);
	pass();
	return 0;
}
