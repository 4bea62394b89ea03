// pipes: a pipeline and shared state across a process tree.
// argv[1] output file, argv[2] a scratch file.
//   A (producer) writes numbered 8-byte records into pipe p1 every 0.5ms;
//   B (filter) reads p1 slowly and forwards each record into pipe p2, so
//     p1 holds buffered data at any moment;
//   the root reads p2 and checks the numbers run without gap or repeat.
//   C increments a counter in MAP_SHARED|MAP_ANONYMOUS memory mapped
//     before the fork; the root must see it move, and C must see a value
//     the root writes;
//   C and the root share one open file description of argv[2] (offset);
//   D is cloned with CLONE_FILES: an fd it opens appears in the root.
// On SIGUSR2 the root stops the pipeline (A sends -1 down), checks
// everything and writes ALLPASS or FAIL lines.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#define errno_is_intr() (errno == EINTR)

static int out;
static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }
static volatile long *shm;

static void say(const char *fmt, ...) {
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	write(out, buf, n);
}

static int readrec(int fd, long *v) {
	char *p = (char *)v;
	size_t got = 0;
	while (got < sizeof *v) {
		ssize_t n = read(fd, p + got, sizeof *v - got);
		if (n < 0 && errno_is_intr())
			continue;
		if (n <= 0)
			return 0;
		got += n;
	}
	return 1;
}

static int dfn(void *arg) {
	while (!check)
		usleep(1000);
	int fd = open("/dev/null", O_RDONLY);
	shm[2] = fd;
	return 0;
}

int main(int argc, char **argv) {
	struct sigaction sa = {0};
	sa.sa_handler = h2;
	sigaction(SIGUSR2, &sa, 0);
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	int sfd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(sfd, "root", 4);
	shm = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int p1[2], p2[2];
	pipe(p1);
	pipe(p2);
	pid_t a = fork();
	if (a == 0) {
		close(p1[0]);
		close(p2[0]);
		close(p2[1]);
		for (long i = 0; !check; i++) {
			write(p1[1], &i, sizeof i);
			usleep(500);
		}
		long end = -1;
		write(p1[1], &end, sizeof end);
		_exit(0);
	}
	pid_t b = fork();
	if (b == 0) {
		close(p1[1]);
		close(p2[0]);
		long v;
		while (readrec(p1[0], &v)) {
			write(p2[1], &v, sizeof v);
			if (v < 0)
				_exit(0);
			usleep(1000);
		}
		_exit(1);
	}
	close(p1[0]);
	close(p1[1]);
	close(p2[1]);
	pid_t c = fork();
	if (c == 0) {
		while (!check) {
			__atomic_add_fetch(&shm[0], 1, __ATOMIC_SEQ_CST);
			usleep(1000);
		}
		if (shm[1] != 0x1234)
			_exit(2);
		write(sfd, "kid!", 4);
		_exit(0);
	}
	char *stack = malloc(1 << 16);
	pid_t d = clone(dfn, stack + (1 << 16), CLONE_FILES | SIGCHLD, 0);
	usleep(50000);
	say("READY\n");
	long next = 0, v;
	int ok = 1;
	for (;;) {
		if (check == 1) {
			check = 2;
			kill(a, SIGUSR2);
		}
		if (!readrec(p2[0], &v)) {
			if (check)
				continue;
			say("FAIL root: p2 closed at %ld\n", next);
			ok = 0;
			break;
		}
		if (v < 0)
			break;
		if (v != next) {
			say("FAIL root: record %ld, want %ld\n", v, next);
			ok = 0;
			break;
		}
		next++;
	}
	long v0 = shm[0];
	usleep(50000);
	if (shm[0] <= v0) {
		say("FAIL root: shared counter stuck at %ld\n", v0);
		ok = 0;
	}
	shm[1] = 0x1234;
	kill(c, SIGUSR2);
	kill(d, SIGUSR2);
	pid_t kids[] = {a, b, c, d};
	for (int i = 0; i < 4; i++) {
		int st;
		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			say("FAIL root: child %d status %#x\n", kids[i], st);
			ok = 0;
		}
	}
	off_t pos = lseek(sfd, 0, SEEK_CUR);
	if (pos != 8) {
		say("FAIL root: shared offset %ld, want 8\n", (long)pos);
		ok = 0;
	}
	if (shm[2] <= 2 || fcntl(shm[2], F_GETFD) < 0) {
		say("FAIL root: fd %ld opened by the CLONE_FILES child is not ours\n", shm[2]);
		ok = 0;
	}
	say("records %ld\n", next);
	say(ok ? "ALLPASS\n" : "FAIL root\n");
	return 0;
}
