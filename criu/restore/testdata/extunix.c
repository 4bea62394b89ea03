// extunix: fd 3 is a UNIX datagram socket connected to a socket outside
// the tree. Every SIGUSR1 sends "ping N" on it; "ready" and each "sent N"
// go to argv[1].
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static volatile sig_atomic_t ping;
static void h(int s) { ping++; }
int main(int argc, char **argv) {
	struct sigaction sa = {0};
	sa.sa_handler = h;
	sigaction(SIGUSR1, &sa, 0);
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	write(out, "ready\n", 6);
	int sent = 0;
	for (;;) {
		while (sent < ping) {
			char b[32];
			int n = snprintf(b, sizeof b, "ping %d", sent);
			if (send(3, b, n, 0) != n) {
				write(out, "FAIL send\n", 10);
				return 1;
			}
			sent++;
			n = snprintf(b, sizeof b, "sent %d\n", sent);
			write(out, b, n);
		}
		usleep(10000);
	}
}
