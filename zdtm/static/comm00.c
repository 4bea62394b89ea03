#include <sys/prctl.h>

#include "zdtmtst.h"

const char *test_doc = "The task name set with PR_SET_NAME survives";

static const char name[] = "zdtm-comm-name";

static void corrupt(void)
{
	prctl(PR_SET_NAME, "corrupted", 0, 0, 0);
}

int main(int argc, char **argv)
{
	char got[17] = {0};

	test_init(argc, argv);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	prctl(PR_GET_NAME, got, 0, 0, 0);
	if (strcmp(got, name))
		fail("name %s, want %s", got, name);
	pass();
	return 0;
}
