#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "eventfds keep their counter (a 64-bit one too) and O_NONBLOCK (one in semaphore mode is refused at dump: TestDumpRefusesEventfdSemaphore)";

static int efd, sfd;

static void corrupt(void)
{
	uint64_t v;

	read(sfd, &v, sizeof(v));
}

int main(int argc, char **argv)
{
	uint64_t v = 0x123456789aULL, got;

	test_init(argc, argv);
	efd = eventfd(0, EFD_NONBLOCK);
	sfd = eventfd(3, 0);
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
	/* A blocking one keeps its small counter: read whole. */
	fcntl(sfd, F_SETFL, O_NONBLOCK);
	if (read(sfd, &got, sizeof(got)) != sizeof(got) || got != 3)
		fail("counter of the blocking eventfd %llu, want 3", (unsigned long long)got);
	if (!test_failed())
		pass();
	return 0;
}
