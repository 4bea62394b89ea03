// tree: a process tree for dump/restore of trees. argv[1] is the output
// file (opened once by the root, O_APPEND, inherited by every task),
// argv[2] the mode:
//   tree:    root with 3 children, the first with a grandchild;
//   zombie:  root with a live child and two zombies (exit 7, SIGTERM);
//   session: root (a session leader) with a child that calls setsid and
//            has a group leader and its member below it, a child born
//            before that setsid, a group shared across two children, and
//            a group whose leader has exited (root is a subreaper).
// Every task fills its heap with a pattern of its own, remembers its
// ppid, pgid and sid, and counts in a loop. "READY <n>" is written when
// all n tasks run. On SIGUSR2 the root signals its children, each task
// checks its state, forwards SIGUSR2 down, reaps its children (checking
// their exit statuses) and exits 0 if all is well; the root writes
// "ALLPASS" or "FAIL ...".
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int out;
static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }
static pid_t kids[8];
static int nkids;
static pid_t ppid0, pgid0, sid0;
static char *heap;
static long counter;

static void say(const char *fmt, ...) {
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	write(out, buf, n);
}

static void init_self(void) {
	ppid0 = getppid();
	pgid0 = getpgrp();
	sid0 = getsid(0);
	heap = malloc(1 << 16);
	memset(heap, getpid() & 0x7f, 1 << 16);
}

// verify checks this task's own state after restore.
static int verify(const char *name) {
	int ok = 1;
	for (int k = 0; k < (1 << 16); k++)
		if (heap[k] != (getpid() & 0x7f)) {
			say("FAIL %s %d: heap\n", name, getpid());
			ok = 0;
			break;
		}
	if (getppid() != ppid0) {
		say("FAIL %s %d: ppid %d, want %d\n", name, getpid(), getppid(), ppid0);
		ok = 0;
	}
	if (getpgrp() != pgid0) {
		say("FAIL %s %d: pgid %d, want %d\n", name, getpid(), getpgrp(), pgid0);
		ok = 0;
	}
	if (getsid(0) != sid0) {
		say("FAIL %s %d: sid %d, want %d\n", name, getpid(), getsid(0), sid0);
		ok = 0;
	}
	if (counter < 2) {
		say("FAIL %s %d: counter %ld\n", name, getpid(), counter);
		ok = 0;
	}
	return ok;
}

// reap waits for every child, expecting exit 0.
static int reap(const char *name) {
	int ok = 1;
	for (int i = 0; i < nkids; i++) {
		int st;
		pid_t p = waitpid(kids[i], &st, 0);
		if (p != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			say("FAIL %s %d: child %d: waitpid %d status %#x\n", name, getpid(), kids[i], p, st);
			ok = 0;
		}
	}
	return ok;
}

// loop runs until SIGUSR2, then checks, forwards, reaps; returns ok.
static int loop(const char *name) {
	while (!check) {
		counter++;
		usleep(5000);
	}
	int ok = verify(name);
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGUSR2);
	ok &= reap(name);
	if (ok)
		say("PASS %s %d\n", name, getpid());
	return ok;
}

// spawn forks a child running fn; the child exits with loop's verdict.
static pid_t spawn(void (*fn)(void), const char *name) {
	pid_t p = fork();
	if (p == 0) {
		nkids = 0;
		init_self();
		if (fn)
			fn();
		_exit(loop(name) ? 0 : 1);
	}
	kids[nkids++] = p;
	return p;
}

static void grandchild(void) {}
static void child1(void) { spawn(grandchild, "grandchild"); }

// session mode pieces
static pid_t c2;
static void member(void) {}
static void groupleader(void) {
	setpgid(0, 0);
	init_self();
	spawn(member, "member");
}
static void sessionleader(void) {
	spawn(0, "bornbefore"); // keeps the root's session
	setsid();
	init_self();
	spawn(groupleader, "groupleader");
}
static void join_c2(void) {
	setpgid(0, c2);
	init_self();
}
static void leader_c2(void) {
	setpgid(0, 0);
	init_self();
}

int main(int argc, char **argv) {
	struct sigaction sa = {0};
	sa.sa_handler = h2;
	sigaction(SIGUSR2, &sa, 0);
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	const char *mode = argv[2];
	init_self();
	int n = 1;
	pid_t z1 = 0, z2 = 0;
	if (!strcmp(mode, "tree")) {
		spawn(child1, "child1");
		spawn(0, "child2");
		spawn(0, "child3");
		n = 5;
	} else if (!strcmp(mode, "zombie")) {
		z1 = fork();
		if (z1 == 0)
			_exit(7);
		z2 = fork();
		if (z2 == 0) {
			signal(SIGTERM, SIG_DFL);
			kill(getpid(), SIGTERM);
			pause();
		}
		spawn(0, "live");
		n = 2;
		usleep(100000);
	} else if (!strcmp(mode, "session")) {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		spawn(sessionleader, "sessionleader");
		c2 = spawn(leader_c2, "c2");
		setpgid(c2, c2);
		usleep(20000);
		spawn(join_c2, "c3");
		// A group whose leader exits: its member is re-parented to us.
		int pfd[2];
		pipe(pfd);
		pid_t gone = fork();
		if (gone == 0) {
			setpgid(0, 0);
			pid_t m = fork();
			if (m == 0) {
				close(pfd[0]);
				usleep(50000); // until re-parented
				nkids = 0;
				init_self();
				close(pfd[1]);
				_exit(loop("orphan") ? 0 : 1);
			}
			write(pfd[1], &m, sizeof m);
			_exit(0);
		}
		pid_t m;
		read(pfd[0], &m, sizeof m);
		close(pfd[1]);
		waitpid(gone, 0, 0);
		char c;
		read(pfd[0], &c, 1); // EOF once the orphan has initialised
		close(pfd[0]);
		kids[nkids++] = m;
		n = 8;
	}
	usleep(50000);
	say("READY %d\n", n);
	int ok = 1;
	while (!check) {
		counter++;
		usleep(5000);
	}
	ok = verify("root");
	if (z1) {
		int st;
		if (waitpid(z1, &st, 0) != z1 || !WIFEXITED(st) || WEXITSTATUS(st) != 7) {
			say("FAIL root: zombie %d status %#x\n", z1, st);
			ok = 0;
		}
		if (waitpid(z2, &st, 0) != z2 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) {
			say("FAIL root: zombie %d status %#x\n", z2, st);
			ok = 0;
		}
	}
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGUSR2);
	ok &= reap("root");
	say(ok ? "ALLPASS\n" : "FAIL root\n");
	return 0;
}
