// ttyjob: an interactive job, for --shell-job tests.
//
//   ttyjob leader PIDFILE   the job itself (the test made it a session
//                           leader, maybe with a controlling terminal)
//   ttyjob shell PIDFILE    a tiny shell: it forks the job into a process
//                           group of its own, makes that group the
//                           terminal's foreground group (when stdin is a
//                           terminal) and waits for it, as a shell with
//                           job control does
//   ttyjob nojc PIDFILE     the same without job control: the job stays
//                           in the shell's process group
//
// The job dups its stdout to fd 10, writes its pid to PIDFILE, then prints "count N" to stdout
// every 50 ms; on SIGUSR1 it reads one line from stdin and prints
// "got: LINE".
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t want_read;

static void on_usr1(int sig)
{
	(void)sig;
	want_read = 1;
}

static void write_pid(const char *file)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		perror("pidfile");
		exit(1);
	}
	fprintf(f, "%d", getpid());
	fclose(f);
	rename(tmp, file);
}

static void job(const char *pidfile)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	dup2(1, 10);
	// Under the tiny shell: wait until it made us the foreground group.
	for (int i = 0; i < 200 && isatty(0) && tcgetpgrp(0) != getpgrp() && getsid(0) != getpid(); i++)
		usleep(10000);
	write_pid(pidfile);
	for (long n = 0;; n++) {
		printf("count %ld\n", n);
		fflush(stdout);
		if (want_read) {
			char line[256];
			want_read = 0;
			if (fgets(line, sizeof(line), stdin))
				printf("got: %s", line);
			else
				printf("read failed: %s\n", strerror(errno));
			clearerr(stdin);
			fflush(stdout);
		}
		usleep(50000);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ttyjob leader|shell|nojc PIDFILE\n");
		return 2;
	}
	if (strcmp(argv[1], "leader") == 0)
		job(argv[2]);
	pid_t c = fork();
	if (c < 0) {
		perror("fork");
		return 1;
	}
	int jc = strcmp(argv[1], "nojc") != 0;
	if (c == 0) {
		if (jc)
			setpgid(0, 0);
		job(argv[2]);
	}
	if (jc) {
		setpgid(c, c);
		if (isatty(0))
			tcsetpgrp(0, c);
	}
	int st;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	return 0;
}
