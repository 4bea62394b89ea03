// tasks_refused OUT MODE: a tree whose state criu refuses at dump. It
// appends "ready PID..." to OUT once set up, then "tick N" lines, from a
// task of each kind, while it runs.
//   traced:     a child traced (PTRACE_SEIZE) by its sibling
//   deadleader: a child whose main thread has exited (pthread_exit)
//               while two threads run on
//   personality: a child with a thread whose personality (personality(2)
//               is per thread) is not its leader's
//   sessiontwo: the members of a session whose leader has exited and
//               was reaped, under two parents: the leader's parent (the
//               ready line's second pid, a subreaper), and a task the
//               leader forked that made its own session after it forked
//               its member; the ticking member is the third
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *out;

static void tick(void)
{
	for (long n = 0;; n++) {
		FILE *f = fopen(out, "a");
		if (f) {
			fprintf(f, "tick %ld\n", n);
			fclose(f);
		}
		usleep(10000);
	}
}

static void *spin(void *arg)
{
	if (arg)
		tick();
	while (1)
		pause();
	return NULL;
}

static void *personal(void *arg)
{
	(void)arg;
	personality(ADDR_NO_RANDOMIZE);
	while (1)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pid_t kid, tracer = 0;
	FILE *f;

	if (argc != 3)
		return 2;
	out = argv[1];
	if (!strcmp(argv[2], "sessiontwo")) {
		pid_t member = 0;
		int p[2];

		prctl(PR_SET_CHILD_SUBREAPER, 1);
		if (pipe(p) < 0)
			return 1;
		kid = fork();
		if (kid == 0) {
			pid_t leader;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			prctl(PR_SET_CHILD_SUBREAPER, 1);
			leader = fork();
			if (leader == 0) {
				/* In here fork() gave 0: the children wait for
				 * this pid to be gone, not for "leader". */
				pid_t me = getpid();

				setsid();
				if (fork() == 0) { /* then its own session's leader */
					if (fork() == 0) {
						prctl(PR_SET_PDEATHSIG, SIGKILL);
						spin(NULL);
					}
					setsid();
					while (getppid() == me)
						usleep(1000);
					prctl(PR_SET_PDEATHSIG, SIGKILL);
					spin(NULL);
				}
				member = fork();
				if (member == 0) {
					while (getppid() == me)
						usleep(1000);
					prctl(PR_SET_PDEATHSIG, SIGKILL);
					tick();
				}
				write(p[1], &member, sizeof(member));
				_exit(0);
			}
			waitpid(leader, NULL, 0);
			spin(NULL);
		}
		if (read(p[0], &member, sizeof(member)) != sizeof(member))
			return 1;
		usleep(100000);
		f = fopen(out, "a");
		fprintf(f, "ready %d %d %d\n", getpid(), kid, member);
		fclose(f);
		while (1)
			pause();
	}
	kid = fork();
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!strcmp(argv[2], "personality")) {
			pthread_t th;

			pthread_create(&th, NULL, personal, NULL);
			tick();
		}
		if (!strcmp(argv[2], "deadleader")) {
			pthread_t th;

			pthread_create(&th, NULL, spin, NULL);
			pthread_create(&th, NULL, spin, (void *)1);
			pthread_exit(NULL);
		}
		tick();
	}
	if (!strcmp(argv[2], "traced")) {
		tracer = fork();
		if (tracer == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (ptrace(PTRACE_SEIZE, kid, 0, 0) < 0)
				_exit(1);
			while (1)
				pause();
		}
	}
	usleep(100000);
	f = fopen(out, "a");
	fprintf(f, "ready %d %d %d\n", getpid(), kid, tracer);
	fclose(f);
	while (1)
		pause();
}
