#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS and /dev/zero) filled only by a child "
		       "that has exited keeps its pages; the pages nobody wrote stay holes";

#define PS 4096L
#define NPAGES 256

static uint8_t *anon, *zero;

static void corrupt(void)
{
	anon[77 * PS + 5] ^= 0xff;
}

/* count_resident counts the pages of [p, p+len) in memory, through a fresh
 * MAP_SHARED mapping of the same object would be ideal; mincore on our own
 * mapping shows the object's page cache for shared memory. */
static long count_resident(uint8_t *p, long len)
{
	unsigned char vec[4 * NPAGES];
	long n = 0, i;

	if (mincore(p, len, vec)) {
		pr_perror("mincore");
		return -1;
	}
	for (i = 0; i < len / PS; i++)
		n += vec[i] & 1;
	return n;
}

int main(int argc, char **argv)
{
	int fd, status;
	pid_t pid;
	long bad, res;

	test_init(argc, argv);
	/* Twice NPAGES: the child fills the first half only. */
	anon = mmap(NULL, 2 * NPAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = open("/dev/zero", O_RDWR);
	if (fd < 0) {
		pr_perror("open /dev/zero");
		return 1;
	}
	zero = mmap(NULL, 2 * NPAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (anon == MAP_FAILED || zero == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (pid == 0) {
		fill_pattern(anon, NPAGES * PS, 11);
		fill_pattern(zero + NPAGES * PS, NPAGES * PS, 12);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_perror("child");
		return 1;
	}
	/* The parent never touched a page: none is in its page tables. */
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if ((bad = check_pattern(anon, NPAGES * PS, 11)) >= 0)
		fail("MAP_SHARED|MAP_ANONYMOUS: byte %ld (page %ld of %ld) differs", bad, bad / PS, (long)NPAGES);
	if ((bad = check_pattern(zero + NPAGES * PS, NPAGES * PS, 12)) >= 0)
		fail("/dev/zero MAP_SHARED: byte %ld (page %ld of %ld) differs", bad, bad / PS, (long)NPAGES);
	/* The halves nobody wrote hold no pages (they were holes) and read as zeros. */
	res = count_resident(anon + NPAGES * PS, NPAGES * PS);
	if (res != 0)
		fail("MAP_SHARED|MAP_ANONYMOUS: %ld pages of the unwritten half are resident", res);
	res = count_resident(zero, NPAGES * PS);
	if (res != 0)
		fail("/dev/zero: %ld pages of the unwritten half are resident", res);
	for (bad = 0; bad < NPAGES * PS; bad++)
		if (anon[NPAGES * PS + bad] || zero[bad]) {
			fail("unwritten half: byte %ld is not zero", bad);
			break;
		}
	pass();
	return 0;
}
