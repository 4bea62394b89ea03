#define _GNU_SOURCE
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/types.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "Credentials are kept exactly: supplementary groups, real, effective, "
		       "saved and fs uids and gids all different (setgroups, setresuid, setfsuid)";

static const gid_t groups[] = {5, 7, 100, 65534};

static void corrupt(void)
{
	/* Unprivileged now: the real uid can become the saved one. */
	setresuid(13, -1, -1);
}

int main(int argc, char **argv)
{
	uid_t r, e, s;
	gid_t gr, ge, gs, got[16];
	int n, i;

	test_init(argc, argv);
	if (setgroups(4, groups) < 0 || setresgid(21, 22, 23) < 0) {
		pr_perror("setgroups/setresgid");
		return 1;
	}
	setfsgid(23);
	if (setresuid(11, 12, 13) < 0) {
		pr_perror("setresuid");
		return 1;
	}
	setfsuid(13);
	if ((uid_t)setfsuid(-1) != 13 || (gid_t)setfsgid(-1) != 23) {
		fail("fs ids not set");
		return 1;
	}
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	getresuid(&r, &e, &s);
	if (r != 11 || e != 12 || s != 13)
		fail("uids %d %d %d, want 11 12 13", r, e, s);
	getresgid(&gr, &ge, &gs);
	if (gr != 21 || ge != 22 || gs != 23)
		fail("gids %d %d %d, want 21 22 23", gr, ge, gs);
	if ((uid_t)setfsuid(-1) != 13)
		fail("fsuid %d, want 13", setfsuid(-1));
	if ((gid_t)setfsgid(-1) != 23)
		fail("fsgid %d, want 23", setfsgid(-1));
	n = getgroups(16, got);
	if (n != 4)
		fail("%d groups, want 4", n);
	for (i = 0; i < n && i < 4; i++)
		if (got[i] != groups[i])
			fail("group %d is %d, want %d", i, got[i], groups[i]);
	if (!test_failed())
		pass();
	return 0;
}
