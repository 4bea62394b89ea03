#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "AIO contexts (io_setup) keep their ring: completed events not reaped yet come back "
		       "with their data, the ring's head and tail (one of them wrapped), and the context "
		       "takes new requests";

#define NREQ 16

struct ctx {
	aio_context_t id;
	int fd;
	char buf[NREQ][8];
	struct iocb cb[NREQ];
	struct iocb *p[NREQ];
};

static struct ctx plain, wrapped;
static char *path = "aio00.data";
TEST_OPTION(path, string, "file the requests write", 0);

static int sys_submit(aio_context_t id, long n, struct iocb **p)
{
	return syscall(SYS_io_submit, id, n, p);
}

static int sys_getevents(aio_context_t id, long min, long max, struct io_event *ev)
{
	struct timespec ts = { 5, 0 };

	return syscall(SYS_io_getevents, id, min, max, ev, &ts);
}

/* setup makes a context of 16 requests, runs rounds full rounds of
 * writes through it, then submits 16 more and reaps 8: 8 stay in the
 * ring. */
static int setup(struct ctx *c, int rounds, int tag)
{
	struct io_event ev[NREQ];
	int i, r;

	if (syscall(SYS_io_setup, NREQ, &c->id)) {
		pr_perror("io_setup");
		return -1;
	}
	c->fd = open(path, O_RDWR);
	if (c->fd < 0) {
		pr_perror("open %s", path);
		return -1;
	}
	for (i = 0; i < NREQ; i++) {
		memset(&c->cb[i], 0, sizeof(c->cb[i]));
		snprintf(c->buf[i], sizeof(c->buf[i]), "%c%06d", 'a' + tag, i);
		c->cb[i].aio_data = tag * 1000 + i;
		c->cb[i].aio_lio_opcode = IOCB_CMD_PWRITE;
		c->cb[i].aio_fildes = c->fd;
		c->cb[i].aio_buf = (unsigned long)c->buf[i];
		c->cb[i].aio_nbytes = 7;
		c->cb[i].aio_offset = (tag * NREQ + i) * 7;
		c->p[i] = &c->cb[i];
	}
	for (r = 0; r <= rounds; r++) {
		if (sys_submit(c->id, NREQ, c->p) != NREQ) {
			pr_perror("io_submit");
			return -1;
		}
		if (sys_getevents(c->id, r < rounds ? NREQ : NREQ / 2, r < rounds ? NREQ : NREQ / 2, ev) !=
		    (r < rounds ? NREQ : NREQ / 2)) {
			pr_perror("io_getevents");
			return -1;
		}
	}
	return 0;
}

static void corrupt(void)
{
	struct io_event ev;

	sys_getevents(plain.id, 1, 1, &ev);
}

static void check(struct ctx *c, int tag, const char *name)
{
	struct io_event ev[NREQ];
	int i, n;

	n = sys_getevents(c->id, NREQ / 2, NREQ, ev);
	if (n != NREQ / 2) {
		fail("%s: %d events left in the ring, want %d", name, n, NREQ / 2);
		return;
	}
	for (i = 0; i < n; i++)
		if (ev[i].data != (unsigned long)(tag * 1000 + NREQ / 2 + i) || ev[i].res != 7 ||
		    ev[i].obj != (unsigned long)&c->cb[NREQ / 2 + i])
			fail("%s: event %d: data %llu res %lld", name, i, (unsigned long long)ev[i].data,
			     (long long)ev[i].res);
	for (i = 0; i < 3; i++) {
		if (sys_submit(c->id, NREQ, c->p) != NREQ) {
			pr_perror("%s: io_submit after restore", name);
			return;
		}
		if (sys_getevents(c->id, NREQ, NREQ, ev) != NREQ) {
			pr_perror("%s: io_getevents after restore", name);
			return;
		}
	}
}

int main(int argc, char **argv)
{
	unsigned *ring;

	test_init(argc, argv);
	close(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	/* A ring of 127 events: 2 rounds leave head 40, tail 48; 7 rounds
	 * head 120, tail 1 (wrapped). */
	if (setup(&plain, 2, 1) || setup(&wrapped, 7, 2))
		return 1;
	ring = (unsigned *)wrapped.id;
	if (ring[3] >= ring[2])
		fail("the second ring did not wrap: head %u tail %u", ring[2], ring[3]);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	check(&plain, 1, "plain");
	check(&wrapped, 2, "wrapped");
	unlink(path);
	if (!test_failed())
		pass();
	return 0;
}
