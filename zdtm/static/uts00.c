#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "The host name and NIS domain name of the test's own UTS namespace survive";

static const char hostname[] = "zdtm-uts00.host-name-of-the-test";
/* 64 bytes, the longest a domain name can be (__NEW_UTS_LEN). */
static const char domainname[] = "zdtm.domain.name.of.uts00.that.fills.the.field.to.its.limit.wxyz";

static void corrupt(void)
{
	if (sethostname("corrupted", strlen("corrupted")))
		pr_perror("sethostname");
}

static void check(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want))
		fail("%s is \"%s\", want \"%s\"", what, got, want);
}

int main(int argc, char **argv)
{
	struct utsname u;

	test_init(argc, argv);
	if (!test_flavor_ns()) {
		test_msg("uts00 sets the host name: it runs only in the ns flavor\n");
		return 1;
	}
	if (sizeof(domainname) - 1 != sizeof(u.domainname) - 1) {
		fail("domainname has %zu bytes, want %zu", sizeof(domainname) - 1, sizeof(u.domainname) - 1);
		return 1;
	}
	if (sethostname(hostname, strlen(hostname)) || setdomainname(domainname, strlen(domainname))) {
		pr_perror("set the names");
		return 1;
	}

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (uname(&u)) {
		pr_perror("uname");
	} else {
		check("nodename", u.nodename, hostname);
		check("domainname", u.domainname, domainname);
	}
	pass();
	return 0;
}
