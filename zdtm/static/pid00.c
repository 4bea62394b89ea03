#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "The pid, process group and session (the test leads both) survive";

static pid_t pid, pgid, sid;

static void corrupt(void)
{
	pid++;
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	pid = getpid();
	pgid = getpgid(0);
	sid = getsid(0);
	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (getpid() != pid)
		fail("pid %d, want %d", getpid(), pid);
	if (getpgid(0) != pgid)
		fail("pgid %d, want %d", getpgid(0), pgid);
	if (getsid(0) != sid)
		fail("sid %d, want %d", getsid(0), sid);
	if (sid != pid)
		fail("the test does not lead its session (sid %d)", sid);
	pass();
	return 0;
}
