#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A file's owner (F_SETOWN_EX: process, process group), the uids recorded with it, "
		       "its signal (F_SETSIG) and O_ASYNC survive, and SIGIO still comes";

#ifndef F_GETOWNER_UIDS
#define F_GETOWNER_UIDS 17
#endif

static int p[2];
static volatile sig_atomic_t got;

static void h(int sig)
{
	(void)sig;
	got++;
}

static void corrupt(void)
{
	fcntl(p[0], F_SETSIG, 0);
}

struct want {
	int type, pid, sig;
	unsigned uids[2];
} want[2];

static void get(int fd, struct want *w)
{
	struct f_owner_ex o;

	memset(w, 0, sizeof(*w));
	if (fcntl(fd, F_GETOWN_EX, &o) == 0) {
		w->type = o.type;
		w->pid = o.pid;
	}
	w->sig = fcntl(fd, F_GETSIG);
	fcntl(fd, F_GETOWNER_UIDS, w->uids);
}

int main(int argc, char **argv)
{
	struct f_owner_ex o;
	struct want now;
	char c = 'x';

	test_init(argc, argv);
	signal(SIGUSR2, h);
	if (pipe2(p, O_NONBLOCK)) {
		pr_perror("pipe");
		return 1;
	}
	/* The read end's owner is set with euid 1: the uids are kept. */
	if (setresuid(-1, 1, -1)) {
		pr_perror("setresuid");
		return 1;
	}
	o.type = F_OWNER_PID;
	o.pid = getpid();
	if (fcntl(p[0], F_SETOWN_EX, &o) || fcntl(p[0], F_SETSIG, SIGUSR2)) {
		pr_perror("set the owner of the read end");
		return 1;
	}
	if (setresuid(-1, 0, -1)) {
		pr_perror("setresuid back");
		return 1;
	}
	o.type = F_OWNER_PGRP;
	o.pid = getpgrp();
	if (fcntl(p[1], F_SETOWN_EX, &o) || fcntl(p[1], F_SETSIG, SIGURG) ||
	    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC)) {
		pr_perror("set the owner of the write end");
		return 1;
	}
	get(p[0], &want[0]);
	get(p[1], &want[1]);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (int i = 0; i < 2; i++) {
		get(p[i], &now);
		if (now.type != want[i].type || now.pid != want[i].pid)
			fail("end %d: owner type %d pid %d, want %d %d", i, now.type, now.pid, want[i].type, want[i].pid);
		if (now.sig != want[i].sig)
			fail("end %d: F_GETSIG %d, want %d", i, now.sig, want[i].sig);
		if (now.uids[0] != want[i].uids[0] || now.uids[1] != want[i].uids[1])
			fail("end %d: owner uids %u/%u, want %u/%u", i, now.uids[0], now.uids[1], want[i].uids[0],
			     want[i].uids[1]);
	}
	if (!(fcntl(p[0], F_GETFL) & O_ASYNC))
		fail("O_ASYNC is lost");
	if (write(p[1], &c, 1) != 1)
		fail("write: %m");
	for (int i = 0; i < 100 && !got; i++)
		usleep(10000);
	if (!got)
		fail("no SIGUSR2 (F_SETSIG) when the read end became readable");
	pass();
	return 0;
}
