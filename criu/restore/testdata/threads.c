// threads: N threads, each with TLS state and its own tid; SIGUSR2 asks
// main to write PASS if every thread still sees its own TLS, tid and
// progress, FAIL otherwise.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#define N 4
static __thread long tls_count;
static __thread int tls_id = -1;
static volatile long shared[N];
static volatile int bad;
static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }
static void *run(void *a) {
	int id = (int)(long)a;
	tls_id = id;
	pid_t tid = syscall(SYS_gettid);
	char name[16];
	snprintf(name, sizeof name, "worker%d", id);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		tls_count++;
		shared[id] = tls_count;
		if (tls_id != id || syscall(SYS_gettid) != tid) bad = 1;
		double x = id * 1.5;
		for (int i = 0; i < 1000; i++) x = x * 1.0000001 + 0.5;
		if (x < id) bad = 1;
		usleep(1000);
	}
	return 0;
}
int main(int argc, char **argv) {
	signal(SIGUSR2, h2);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	pthread_t t[N];
	for (long i = 0; i < N; i++) pthread_create(&t[i], 0, run, (void *)i);
	write(fd, "READY\n", 6);
	for (;;) {
		if (check) {
			check = 0;
			long before[N];
			for (int i = 0; i < N; i++) before[i] = shared[i];
			usleep(200000);
			int ok = !bad;
			for (int i = 0; i < N; i++)
				if (shared[i] <= before[i]) ok = 0;
			write(fd, ok ? "PASS\n" : "FAIL\n", 5);
		}
		usleep(1000);
	}
}
