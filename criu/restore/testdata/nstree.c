// nstree: a process tree rooted at the init of its own pid namespace,
// with its own net, uts, ipc and mount namespaces. argv[1] is the output
// file, argv[2] the mode: "ok", "split" (the child moves into a network
// namespace of its own, which dump must refuse), or "nosid" (init stays
// in the launcher's session, outside its pid namespace: a shell job).
//
// The launcher clones init (pid 1) into the new namespaces, writes
// "ROOT <host pid>" and exits. Init sets the hostname, brings lo up,
// listens on TCP 127.0.0.1:4321 and on the abstract UNIX name
// "@nstree", and forks a child (pid 2) that starts a thread (tid 3).
// Init and the child share a System V shm segment. Init also keeps a
// zombie child (pid 4, exit status 5). "READY" is
// written when all run. On SIGUSR2 init checks its pid,
// hostname, lo, both listeners (connect and accept), signals the child,
// which checks its pid and its thread's tid and exits 0 if all is well;
// init writes "ALLPASS" or "FAIL ...".
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <unistd.h>

static int out;
static int split_mode, nosid_mode;
static volatile sig_atomic_t check;
static void h2(int s) { check = 1; }
static volatile long counter;
static volatile int thread_tid;
static int shmid;
static char *shm;

static void say(const char *fmt, ...) {
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	write(out, buf, n);
}

static volatile long spins;
static volatile int init_threads; // started (their signal masks set)
static void *init_thread(void *a) {
	__sync_fetch_and_add(&init_threads, 1);
	if (a)
		for (;;)
			spins++;
	for (;;)
		pause();
	return NULL;
}

static void *thread_main(void *a) {
	for (;;) {
		thread_tid = syscall(SYS_gettid);
		counter++;
		usleep(1000);
	}
	return NULL;
}

static int child_main(int split, int ready) {
	pthread_t th;
	if (split && unshare(CLONE_NEWNET) < 0) {
		say("FAIL unshare: %m\n");
		return 1;
	}
	// SIGUSR2 from init is sent to the process, and the kernel may give
	// a process-directed signal to any thread that does not block it:
	// to the thread, if this one is not ready for it, e.g. still waking
	// from a tracer's detach (a refused dump), which leaves this one
	// asleep in pause() for good. So the thread (which inherits the
	// mask) never takes it, and this one waits in sigsuspend(), which
	// takes it even when it comes before the wait.
	sigset_t usr2, orig;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, &orig);
	pthread_create(&th, NULL, thread_main, NULL);
	while (!thread_tid) // runs, with its signal mask set
		usleep(1000);
	write(ready, "", 1);
	close(ready);
	while (!check)
		sigsuspend(&orig);
	if (getpid() != 2) {
		say("FAIL child pid %d, want 2\n", getpid());
		return 1;
	}
	if (thread_tid != 3) {
		say("FAIL thread tid %d, want 3\n", thread_tid);
		return 1;
	}
	if (strcmp(shm, "nstree-shm")) {
		say("FAIL child's SysV shm holds %.16s\n", shm);
		return 1;
	}
	shm[100] = 'C'; // init reads it
	return 0;
}

static int lo_up(int set) {
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	if (set) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			return -1;
	}
	close(s);
	return (ifr.ifr_flags & IFF_UP) != 0;
}

static struct sockaddr_un abstract(socklen_t *len) {
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path + 1, "nstree", 6);
	*len = offsetof(struct sockaddr_un, sun_path) + 7;
	return a;
}

static int init_main(int split) {
	char host[64];
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(4321), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t ulen;
	struct sockaddr_un un = abstract(&ulen);
	int one = 1;

	signal(SIGUSR2, h2);
	if (!nosid_mode)
		setsid();
	if (sethostname("nstree", 6) < 0 || lo_up(1) != 1) {
		say("FAIL setup: %m\n");
		return 1;
	}
	int tl = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(tl, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(tl, (void *)&in, sizeof in) < 0 || listen(tl, 4) < 0) {
		say("FAIL tcp listen: %m\n");
		return 1;
	}
	int ul = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(ul, (void *)&un, ulen) < 0 || listen(ul, 4) < 0) {
		say("FAIL unix listen: %m\n");
		return 1;
	}
	// A System V shm segment of the ipc namespace, attached by init and
	// (over fork) the child.
	shmid = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	shm = shmat(shmid, NULL, 0);
	if (shmid < 0 || shm == (void *)-1) {
		say("FAIL shm: %m\n");
		return 1;
	}
	strcpy(shm, "nstree-shm");
	int sync[2];
	char b;
	pipe(sync);
	pid_t kid = fork();
	if (kid == 0) {
		close(sync[0]);
		_exit(child_main(split, sync[1]));
	}
	close(sync[1]);
	read(sync[0], &b, 1); // the child's thread runs
	close(sync[0]);
	// Both attach it: removed, it lives on while attached (SHM_DEST).
	shmctl(shmid, IPC_RMID, NULL);
	// A zombie (pid 4), reaped only after restore.
	pid_t zombie = fork();
	if (zombie == 0)
		_exit(5);
	siginfo_t si;
	waitid(P_PID, zombie, &si, WEXITED | WNOWAIT);
	// Threads of init, one spinning: killing a pid namespace's init
	// with traced threads must not deadlock the dump.
	pthread_t ith;
	for (int i = 0; i < 3; i++)
		pthread_create(&ith, NULL, init_thread, (void *)(long)(i == 0));
	while (init_threads < 3)
		usleep(1000);
	say("READY\n");
	while (!check) {
		counter++;
		usleep(1000);
	}
	int ok = 1;
	if (getpid() != 1) {
		say("FAIL init pid %d\n", getpid());
		ok = 0;
	}
	gethostname(host, sizeof host);
	if (strcmp(host, "nstree")) {
		say("FAIL hostname %s\n", host);
		ok = 0;
	}
	if (lo_up(0) != 1) {
		say("FAIL lo is down\n");
		ok = 0;
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (void *)&in, sizeof in) < 0 || accept(tl, NULL, NULL) < 0) {
		say("FAIL tcp connect/accept: %m\n");
		ok = 0;
	}
	int u = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(u, (void *)&un, ulen) < 0 || accept(ul, NULL, NULL) < 0) {
		say("FAIL unix connect/accept: %m\n");
		ok = 0;
	}
	kill(kid, SIGUSR2);
	int st;
	if (zombie != 4 || waitpid(zombie, &st, 0) != 4 || !WIFEXITED(st) || WEXITSTATUS(st) != 5) {
		say("FAIL zombie %d status %#x\n", zombie, st);
		ok = 0;
	}
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		say("FAIL child status %#x\n", st);
		ok = 0;
	}
	struct shmid_ds ds;
	if (shmctl(shmid, IPC_STAT, &ds) < 0 || ds.shm_segsz != 8192 || ds.shm_nattch != 1 || !(ds.shm_perm.mode & SHM_DEST) ||
	    shm[100] != 'C') {
		say("FAIL shm %d after restore: %m, size %zu, %lu attached, mode %#o, child wrote %c\n", shmid, ds.shm_segsz,
		    ds.shm_nattch, ds.shm_perm.mode, shm[100]);
		ok = 0;
	}
	say(ok ? "ALLPASS\n" : "FAIL\n");
	return !ok;
}

static char stack[1 << 16] __attribute__((aligned(16)));
static int init_entry(void *a) { return init_main(split_mode); }

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	split_mode = !strcmp(argv[2], "split");
	nosid_mode = !strcmp(argv[2], "nosid");
	int fl = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNS | SIGCHLD;
	pid_t p = clone(init_entry, stack + sizeof stack, fl, NULL);
	if (p < 0) {
		say("FAIL clone: %m\n");
		return 1;
	}
	say("ROOT %d\n", p);
	return 0;
}
