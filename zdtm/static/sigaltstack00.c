#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>

#include "zdtmtst.h"

const char *test_doc = "The alternate signal stack survives and handlers still run on it";

#define ALTSZ (64 * 1024)

static char *alt;
static volatile uintptr_t handler_sp;

static void handler(int sig)
{
	int here;

	(void)sig;
	handler_sp = (uintptr_t)&here;
}

static void corrupt(void)
{
	stack_t ss = {.ss_sp = alt, .ss_size = ALTSZ / 2};

	sigaltstack(&ss, NULL);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_ONSTACK};
	stack_t ss, cur;

	test_init(argc, argv);
	alt = malloc(ALTSZ);
	ss.ss_sp = alt;
	ss.ss_size = ALTSZ;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL)) {
		pr_perror("sigaltstack");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (sigaltstack(NULL, &cur))
		pr_perror("sigaltstack");
	else if (cur.ss_sp != alt || cur.ss_size != ALTSZ || cur.ss_flags != 0)
		fail("altstack is %p+%zu flags %#x, want %p+%d flags 0", cur.ss_sp,
		     cur.ss_size, cur.ss_flags, alt, ALTSZ);
	raise(SIGUSR1);
	if (handler_sp < (uintptr_t)alt || handler_sp >= (uintptr_t)alt + ALTSZ)
		fail("the handler ran on %#lx, outside the altstack", (unsigned long)handler_sp);
	pass();
	return 0;
}
