#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A pty slave given to another owner (fchown, as a login program does for its user) keeps that owner";

#define OWNER 23456
#define GROUP 34567

static int s;

static void corrupt(void)
{
	if (fchown(s, OWNER + 1, GROUP))
		pr_perror("fchown");
}

int main(int argc, char **argv)
{
	char name[64];
	struct stat st;
	int m;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name))) {
		pr_perror("posix_openpt");
		return 1;
	}
	s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0 || fchown(s, OWNER, GROUP)) {
		pr_perror("open or fchown %s", name);
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (fstat(s, &st)) {
		fail("fstat");
		return 1;
	}
	if (st.st_uid != OWNER || st.st_gid != GROUP) {
		fail("the slave is owned by %d:%d, want %d:%d", st.st_uid, st.st_gid, OWNER, GROUP);
		return 1;
	}
	pass();
	return 0;
}
