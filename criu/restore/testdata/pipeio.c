// pipeio: writes "tick N" lines to its stdout every 10ms (SIGPIPE
// ignored: a failed write logs "write: ERRNO" once to argv[1]); on
// SIGUSR1 reads its stdin (made non-blocking) and logs "read: DATA",
// "read: EOF" or "read: EAGAIN" to argv[1].
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static volatile sig_atomic_t doread;
static void h(int s) { (void)s; doread = 1; }
int main(int argc, char **argv) {
	int log = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644), failed = 0;
	char buf[128];
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, h);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	write(log, "ready\n", 6);
	for (long i = 0;; i++) {
		if (doread) {
			doread = 0;
			ssize_t n = read(0, buf, sizeof buf - 1);
			int m;
			if (n > 0) {
				buf[n] = 0;
				char line[200];
				m = snprintf(line, sizeof line, "read: %s\n", buf);
				write(log, line, m);
			} else if (n == 0) {
				write(log, "read: EOF\n", 10);
			} else {
				m = snprintf(buf, sizeof buf, "read: %s\n", errno == EAGAIN ? "EAGAIN" : strerror(errno));
				write(log, buf, m);
			}
		}
		int n = snprintf(buf, sizeof buf, "tick %ld\n", i);
		if (write(1, buf, n) < 0 && !failed) {
			failed = 1;
			n = snprintf(buf, sizeof buf, "write: %s\n", errno == EPIPE ? "EPIPE" : strerror(errno));
			write(log, buf, n);
		}
		usleep(10000);
	}
}
