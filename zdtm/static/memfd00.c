#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "memfd: an fd keeps its name, size, contents, seals, mode, offset and flags; "
		       "a memfd only mapped (fd closed) keeps its pages, also those only an exited child wrote; "
		       "a private mapping of a memfd keeps its own pages over the memfd's";

#define PS 4096L
#define SIZE (3 * PS + 100)
#define MPAGES 64

static int fd;
static uint8_t *shared, *priv;

static void corrupt(void)
{
	shared[5 * PS] ^= 1;
}

static int maps_path(void *addr, const char *want)
{
	char line[512], path[256];
	unsigned long s, e;
	FILE *f = fopen("/proc/self/maps", "r");
	int ok = 0;

	while (f && fgets(line, sizeof(line), f)) {
		path[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255[^\n]", &s, &e, path) >= 2 && s == (unsigned long)addr)
			ok = !strcmp(path, want);
	}
	if (f)
		fclose(f);
	return ok;
}

int main(int argc, char **argv)
{
	uint8_t buf[SIZE], got[SIZE];
	int mfd, status, seals, i;
	char link[64], target[128];
	struct stat st;
	ssize_t n;
	pid_t pid;

	test_init(argc, argv);
	fd = memfd_create("zdtm-memfd", MFD_ALLOW_SEALING);
	mfd = memfd_create("zdtm-mapped", 0);
	if (fd < 0 || mfd < 0) {
		pr_perror("memfd_create");
		return 1;
	}
	fill_pattern(buf, SIZE, 21);
	if (write(fd, buf, SIZE) != SIZE) {
		pr_perror("write");
		return 1;
	}
	if (fchmod(fd, 0640) || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) || lseek(fd, 1234, SEEK_SET) != 1234 ||
	    fcntl(fd, F_SETFL, O_APPEND)) {
		pr_perror("set up fd");
		return 1;
	}
	/* mfd: only mapped once the fd is closed. */
	if (ftruncate(mfd, MPAGES * PS)) {
		pr_perror("ftruncate");
		return 1;
	}
	shared = mmap(NULL, MPAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	priv = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(mfd);
	if (shared == MAP_FAILED || priv == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	fill_pattern(shared, 8 * PS, 22);
	priv[PS + 7] = 0x5a; /* a private copy of page 1 */
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (pid == 0) {
		fill_pattern(shared + 32 * PS, 16 * PS, 23);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_perror("child");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	if (strcmp(target, "/memfd:zdtm-memfd (deleted)"))
		fail("fd is %s", target);
	if (fstat(fd, &st))
		fail("fstat");
	else if (st.st_size != SIZE || (st.st_mode & 07777) != 0640)
		fail("size %ld mode %o, want %ld 0640", (long)st.st_size, st.st_mode & 07777, (long)SIZE);
	seals = fcntl(fd, F_GET_SEALS);
	if (seals != (F_SEAL_SHRINK | F_SEAL_GROW))
		fail("seals %#x, want %#x", seals, F_SEAL_SHRINK | F_SEAL_GROW);
	if (ftruncate(fd, SIZE + 1) == 0 || errno != EPERM)
		fail("F_SEAL_GROW does not hold: ftruncate gives %m");
	if (lseek(fd, 0, SEEK_CUR) != 1234)
		fail("offset %ld", (long)lseek(fd, 0, SEEK_CUR));
	if (!(fcntl(fd, F_GETFL) & O_APPEND))
		fail("O_APPEND lost");
	if (pread(fd, got, SIZE, 0) != SIZE || memcmp(got, buf, SIZE))
		fail("contents of the memfd differ");
	if (check_pattern(shared, 8 * PS, 22) >= 0)
		fail("the mapped memfd's pages differ");
	if (check_pattern(shared + 32 * PS, 16 * PS, 23) >= 0)
		fail("the mapped memfd's pages written by an exited child differ");
	for (i = 8 * PS; i < 32 * PS; i++)
		if (shared[i]) {
			fail("the mapped memfd: byte %d is not zero", i);
			break;
		}
	if (!maps_path(shared, "/memfd:zdtm-mapped (deleted)"))
		fail("the shared mapping is not of /memfd:zdtm-mapped any more");
	if (!maps_path(priv, "/memfd:zdtm-memfd (deleted)"))
		fail("the private mapping is not of /memfd:zdtm-memfd any more");
	if (priv[PS + 7] != 0x5a || memcmp(priv, buf, PS + 7) || memcmp(priv + PS + 8, buf + PS + 8, SIZE - PS - 8))
		fail("the private mapping differs");
	/* Private stays private, shared stays shared. */
	priv[0] ^= 1;
	if (pread(fd, got, 1, 0) != 1 || got[0] != buf[0])
		fail("a write to the private mapping reached the memfd");
	pass();
	return 0;
}
