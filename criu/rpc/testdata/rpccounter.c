// rpccounter: appends "tick N" to argv[1] every 20 ms, N counting from 0
// in its memory. With argv[2] "lock" it first takes a flock on argv[1]
// (a dump without file_locks must refuse it).
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
int main(int argc, char **argv) {
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (out < 0)
		return 1;
	if (argc > 2 && strcmp(argv[2], "lock") == 0 && flock(out, LOCK_EX) < 0)
		return 2;
	for (long t = 0;; t++) {
		char buf[32];
		int k = snprintf(buf, sizeof buf, "tick %ld\n", t);
		write(out, buf, k);
		usleep(20000);
	}
}
