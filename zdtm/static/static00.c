#include <stdlib.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A statically linked binary keeps its data, heap, TLS and environment";

static uint8_t data[10000] = {1};
static __thread int tls = 12345;
static uint8_t *heap;

static void corrupt(void)
{
	data[5000] ^= 1;
}

int main(int argc, char **argv)
{
	pid_t pid;
	long bad;

	test_init(argc, argv);
	fill_pattern(data, sizeof(data), 5);
	heap = malloc(100000);
	fill_pattern(heap, 100000, 6);
	setenv("ZDTM_STATIC", "static-value", 1);
	tls++;
	pid = getpid();
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if ((bad = check_pattern(data, sizeof(data), 5)) >= 0)
		fail(".data differs at %ld", bad);
	if ((bad = check_pattern(heap, 100000, 6)) >= 0)
		fail("the heap differs at %ld", bad);
	if (tls != 12346)
		fail("TLS is %d", tls);
	if (!getenv("ZDTM_STATIC") || strcmp(getenv("ZDTM_STATIC"), "static-value"))
		fail("the environment lost ZDTM_STATIC");
	if (getpid() != pid)
		fail("pid %d, want %d", getpid(), pid);
	pass();
	return 0;
}
