#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A zombie that leads a process group whose member lives on: the group "
		       "leader exited with code 9 leaving a member of its group, re-parented to the "
		       "test (a subreaper); the member keeps the group, the zombie its status";

static pid_t gleader, gmember;

static void corrupt(void)
{
	setpgid(gmember, gmember);
}

static void member(int fd)
{
	char c = 0;

	write(fd, &c, 1);
	while (1)
		pause();
}

/* leader forks a member of its group (and session, if sess), tells the
 * test its pid and exits with code. */
static pid_t start(int sess, int code, pid_t *memb)
{
	int p[2], q[2]; /* the leader's pid message, the member's byte: two pipes, for they race */
	pid_t l;
	char c;

	if (pipe(p) < 0 || pipe(q) < 0) {
		pr_perror("pipe");
		exit(1);
	}
	l = fork();
	if (l < 0) {
		pr_perror("fork");
		exit(1);
	}
	if (l == 0) {
		pid_t m;

		if (sess ? setsid() < 0 : setpgid(0, 0) < 0)
			_exit(100);
		m = fork();
		if (m == 0)
			member(q[1]);
		write(p[1], &m, sizeof(m));
		_exit(code);
	}
	if (read(p[0], memb, sizeof(*memb)) != sizeof(*memb) || read(q[0], &c, 1) != 1) {
		fail("no member from leader %d", l);
		exit(1);
	}
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	return l;
}

static void check_member(const char *what, pid_t m, pid_t pgid, pid_t sid)
{
	if (kill(m, 0) < 0)
		pr_perror("%s %d is gone", what, m);
	if (getpgid(m) != pgid)
		fail("%s %d: group %d, want %d", what, m, getpgid(m), pgid);
	if (getsid(m) != sid)
		fail("%s %d: session %d, want %d", what, m, getsid(m), sid);
}

static void check_zombie(const char *what, pid_t l, int code)
{
	siginfo_t si = {};
	int status;

	if (waitid(P_PID, l, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != l) {
		fail("%s %d is not a zombie", what, l);
		return;
	}
	if (getpgid(l) != l)
		fail("%s %d: group %d", what, l, getpgid(l));
	if (waitpid(l, &status, 0) != l)
		pr_perror("waitpid %s", what);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
		fail("%s: status %#x, want exit %d", what, status, code);
}

int main(int argc, char **argv)
{
	siginfo_t si;

	test_init(argc, argv);
	/* The members, orphaned, come to the test and so stay in the tree. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		pr_perror("PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	gleader = start(0, 9, &gmember);
	if (waitid(P_PID, gleader, &si, WEXITED | WNOWAIT) < 0) {
		pr_perror("waitid");
		return 1;
	}
	/* The member is re-parented to the test once its leader is gone. */
	while (getpgid(gmember) != gleader)
		usleep(1000);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check_member("group member", gmember, gleader, getsid(0));
	check_zombie("group leader", gleader, 9);
	kill(gmember, SIGKILL);
	waitpid(gmember, NULL, 0);
	if (!test_failed())
		pass();
	return 0;
}
