#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "eventfds keep their counter (a 64-bit one too), O_NONBLOCK and semaphore mode";

static int efd, sfd;

static void corrupt(void)
{
	uint64_t v;

	read(sfd, &v, sizeof(v));
}

int main(int argc, char **argv)
{
	uint64_t v = 0x123456789aULL, got;
	int i;

	test_init(argc, argv);
	efd = eventfd(0, EFD_NONBLOCK);
	sfd = eventfd(3, EFD_SEMAPHORE);
	if (efd < 0 || sfd < 0) {
		pr_perror("eventfd");
		return 1;
	}
	write(efd, &v, sizeof(v));
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (!(fcntl(efd, F_GETFL) & O_NONBLOCK) || (fcntl(sfd, F_GETFL) & O_NONBLOCK))
		fail("O_NONBLOCK not as set");
	if (read(efd, &got, sizeof(got)) != sizeof(got) || got != v)
		fail("counter %#llx, want %#llx", (unsigned long long)got, (unsigned long long)v);
	if (read(efd, &got, sizeof(got)) != -1 || errno != EAGAIN)
		fail("a read counter is not zero");
	/* Semaphore mode: three reads of 1, then it would block. */
	fcntl(sfd, F_SETFL, O_NONBLOCK);
	for (i = 0; i < 3; i++)
		if (read(sfd, &got, sizeof(got)) != sizeof(got) || got != 1) {
			fail("semaphore read %d gave %llu", i, (unsigned long long)got);
			break;
		}
	if (!test_failed() && (read(sfd, &got, sizeof(got)) != -1 || errno != EAGAIN))
		fail("semaphore counter was more than 3");
	if (!test_failed())
		pass();
	return 0;
}
