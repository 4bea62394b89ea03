#include <errno.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A child subreaper still adopts its orphaned descendants: "
		       "S (subreaper) -> C -> G; after restore C exits and S must reap G";

/*
 * S, not the test itself, is the subreaper: in the ns flavor the test is
 * pid 1 of its namespace and adopts every orphan anyway.
 */

static int cmd[2], res[2]; /* test -> S, S -> test */

/* grandchild and child wait for EOF on go, then exit. */
static void wait_go(int go)
{
	char c;

	while (read(go, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* subreaper runs S; it reports 'r' when set up, then 'y' or 'n'. */
static void subreaper(void)
{
	int go[2], rdy[2];
	pid_t c, g = 0, w;
	char x = 0;

	close(cmd[1]);
	close(res[0]);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || pipe(go) || pipe(rdy))
		_exit(1);
	c = fork();
	if (c < 0)
		_exit(1);
	if (c == 0) {
		close(go[1]);
		close(rdy[0]);
		g = fork();
		if (g == 0) {
			close(rdy[1]);
			wait_go(go[0]);
		}
		if (g < 0 || write(rdy[1], &g, sizeof g) != sizeof g)
			_exit(1);
		close(rdy[1]);
		wait_go(go[0]);
	}
	close(go[0]);
	close(rdy[1]);
	if (read(rdy[0], &g, sizeof g) != sizeof g)
		_exit(1);
	close(rdy[0]);
	if (write(res[1], "r", 1) != 1)
		_exit(1);

	/* The test says 'g' (go) or 'c' (corrupt: drop the flag first). */
	while (read(cmd[0], &x, 1) < 0 && errno == EINTR)
		;
	if (x == 'c')
		prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
	close(go[1]);
	while ((w = waitpid(c, NULL, 0)) < 0 && errno == EINTR)
		;
	if (w != c)
		_exit(2);
	/* G was reparented when C exited, before C could be reaped. */
	while ((w = waitpid(g, NULL, 0)) < 0 && errno == EINTR)
		;
	x = w == g ? 'y' : 'n';
	write(res[1], &x, 1);
	_exit(0);
}

static int corrupted;

static void corrupt(void)
{
	corrupted = 1;
}

int main(int argc, char **argv)
{
	pid_t s;
	char x = 0;
	int status;

	test_init(argc, argv);
	if (pipe(cmd) || pipe(res)) {
		pr_perror("pipe");
		return 1;
	}
	s = fork();
	if (s < 0) {
		pr_perror("fork");
		return 1;
	}
	if (s == 0)
		subreaper();
	close(cmd[0]);
	close(res[1]);
	if (read(res[0], &x, 1) != 1 || x != 'r') {
		fail("the subreaper did not set up");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	x = corrupted ? 'c' : 'g';
	if (write(cmd[1], &x, 1) != 1)
		pr_perror("write to the subreaper");
	else if (read(res[0], &x, 1) != 1)
		fail("no answer from the subreaper");
	else if (x != 'y')
		fail("the orphaned grandchild was not adopted by its subreaper");
	if (waitpid(s, &status, 0) != s || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the subreaper failed: status %#x", status);
	/* A grandchild adopted by us (ns flavor, no subreaper) is reaped here. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	pass();
	return 0;
}
