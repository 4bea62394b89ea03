// mt: two threads and a child process, all waiting; "READY" goes to
// argv[1] once they run.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
static void *th(void *a) { for (;;) pause(); return a; }
int main(int argc, char **argv) {
	pthread_t t;
	pthread_create(&t, 0, th, 0);
	pthread_create(&t, 0, th, 0);
	if (fork() == 0)
		for (;;)
			pause();
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	write(out, "READY\n", 6);
	for (;;)
		pause();
}
