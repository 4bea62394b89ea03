// spin: writes "tick N" to stdout every 10ms; SIGUSR1 makes it write
// "usr1". A task left with injected registers crashes; one left with
// every signal blocked never says usr1.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static volatile sig_atomic_t got;
static void h(int s) { got = 1; }
int main(void) {
	signal(SIGUSR1, h);
	setvbuf(stdout, 0, _IONBF, 0);
	for (long i = 0;; i++) {
		if (got) {
			got = 0;
			printf("usr1\n");
		}
		printf("tick %ld\n", i);
		usleep(10000);
	}
}
