#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "memfd: a script in a memfd still runs by execveat() of its fd after restore: "
		       "restore adds no writer to the inode (memfd_create's own fd, a writable shared "
		       "mapping of it and a read-only reopen are none); a memfd mapped only (fd closed) "
		       "runs through a read-only reopen";

static const char script[] = "#!/bin/true\n";

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

/* run forks and execveat()s fd with AT_EMPTY_PATH; the child's errno, or 0. */
static int run(int fd)
{
	char *argv[] = { "true", NULL }, *envp[] = { NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0) {
		syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		_exit(errno & 0xff);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int ro_of(int fd)
{
	char link[64];

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return open(link, O_RDONLY);
}

static int fd, ro, mapped_ro, noexec = -1;
static char *shared, *priv, *only;

static void corrupt(void)
{
	char link[64];

	/* A writer by path: execveat gives ETXTBSY while it is open. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	open(link, O_RDWR);
}

static int check(const char *when)
{
	int err;

	if ((err = run(fd)) != 0) {
		fail("%s: execveat of the memfd's own fd: %s", when, strerror(err));
		return 1;
	}
	if ((err = run(ro)) != 0) {
		fail("%s: execveat of a read-only reopen: %s", when, strerror(err));
		return 1;
	}
	if ((err = run(mapped_ro)) != 0) {
		fail("%s: execveat of the mapped-only memfd: %s", when, strerror(err));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int mfd, flags;

	test_init(argc, argv);
	fd = memfd_create("zdtm-script", 0);
	mfd = memfd_create("zdtm-mapped-script", MFD_CLOEXEC);
	if (fd < 0 || mfd < 0) {
		pr_perror("memfd_create");
		return 1;
	}
	if (write(fd, script, strlen(script)) != (ssize_t)strlen(script) ||
	    write(mfd, script, strlen(script)) != (ssize_t)strlen(script)) {
		pr_perror("write");
		return 1;
	}
	/* A page long: the mappings write past the script's end. */
	if (ftruncate(fd, 4096) || ftruncate(mfd, 4096)) {
		pr_perror("ftruncate");
		return 1;
	}
	ro = ro_of(fd);
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	only = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (ro < 0 || shared == MAP_FAILED || priv == MAP_FAILED || only == MAP_FAILED) {
		pr_perror("reopen or mmap");
		return 1;
	}
	/* mfd: only the writable shared mapping and a read-only reopen stay. */
	mapped_ro = ro_of(mfd);
	close(mfd);
	if (mapped_ro < 0) {
		pr_perror("reopen");
		return 1;
	}
	priv[100] = 'p';
	/* One that may never run (MFD_NOEXEC_SEAL: F_SEAL_EXEC, mode 0666),
	 * where the kernel has it. */
	noexec = memfd_create("zdtm-noexec", MFD_NOEXEC_SEAL);
	if (noexec >= 0 && write(noexec, script, strlen(script)) != (ssize_t)strlen(script)) {
		pr_perror("write");
		return 1;
	}
	if (check("before"))
		return 1;
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	flags = fcntl(fd, F_GETFL);
	if ((flags & O_ACCMODE) != O_RDWR)
		fail("the memfd's fd is not read-write any more (flags %#x)", flags);
	if ((fcntl(ro, F_GETFL) & O_ACCMODE) != O_RDONLY)
		fail("the reopen is not read-only any more");
	if (check("after"))
		return 1;
	if (noexec >= 0) {
		struct stat st;
		int err;

		if (!(fcntl(noexec, F_GET_SEALS) & F_SEAL_EXEC))
			fail("MFD_NOEXEC_SEAL memfd lost F_SEAL_EXEC (seals %#x)", fcntl(noexec, F_GET_SEALS));
		if (fstat(noexec, &st) || (st.st_mode & 0777) != 0666)
			fail("MFD_NOEXEC_SEAL memfd mode %o, want 0666", st.st_mode & 0777);
		if (fchmod(noexec, 0755) == 0 || errno != EPERM)
			fail("fchmod of an exec-sealed memfd: %m, want EPERM");
		if ((err = run(noexec)) != EACCES)
			fail("execveat of the MFD_NOEXEC_SEAL memfd: %s, want EACCES", strerror(err));
	}
	/* The writable shared mapping still writes the memfd (past the script). */
	shared[200] = 's';
	only[200] = 'o';
	{
		char c = 0;

		if (pread(fd, &c, 1, 200) != 1 || c != 's')
			fail("a write to the shared mapping did not reach the memfd");
		if (pread(mapped_ro, &c, 1, 200) != 1 || c != 'o')
			fail("a write to the mapped-only memfd did not reach it");
		if (pread(fd, &c, 1, 100) != 1 || c != 0 || priv[100] != 'p')
			fail("the private mapping is not private any more");
	}
	pass();
	return 0;
}
