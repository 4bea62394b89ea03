#include <stdlib.h>

#include "zdtmtst.h"

const char *test_doc = "An environment variable set before the dump is there after restore";

static char *envname;
TEST_OPTION(envname, string, "name of the variable to set", 1);

static const char value[] = "zdtm env00: the value survives";

static void corrupt(void)
{
	setenv(envname, "corrupted", 1);
}

int main(int argc, char **argv)
{
	char *v;

	test_init(argc, argv);
	if (setenv(envname, value, 1)) {
		pr_perror("setenv %s", envname);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	v = getenv(envname);
	if (!v)
		fail("%s is gone", envname);
	else if (strcmp(v, value))
		fail("%s is %s, want %s", envname, v, value);
	pass();
	return 0;
}
