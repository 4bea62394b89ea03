#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A UNIX stream connection accepted from a listener closed since, whose file is still "
		       "there: after restore the accepted socket keeps its name and data, the file is still a "
		       "socket and nothing else was left beside it";

static int acc, cli;

static void corrupt(void)
{
	char buf[16];

	recv(acc, buf, sizeof(buf), MSG_DONTWAIT);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[PATH_MAX], buf[16];
	socklen_t al = sizeof(a);
	struct dirent *de;
	struct stat st;
	int lst, n = 0;
	DIR *d;

	test_init(argc, argv);
	if (!getcwd(dir, sizeof(dir) - 32)) {
		pr_perror("getcwd");
		return 1;
	}
	strcat(dir, "/skcl.dir");
	if (mkdir(dir, 0755) && errno != EEXIST) {
		pr_perror("mkdir %s", dir);
		return 1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/sk", dir);
	unlink(a.sun_path);
	lst = socket(AF_UNIX, SOCK_STREAM, 0);
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lst < 0 || cli < 0 || bind(lst, (struct sockaddr *)&a, sizeof(a)) || listen(lst, 1) ||
	    connect(cli, (struct sockaddr *)&a, sizeof(a)) || (acc = accept(lst, NULL, NULL)) < 0 ||
	    write(cli, "to-srv", 6) != 6) {
		pr_perror("connect %s", a.sun_path);
		return 1;
	}
	close(lst);

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	if (recv(acc, buf, sizeof(buf), MSG_DONTWAIT) != 6 || memcmp(buf, "to-srv", 6)) {
		fail("the accepted connection lost its data");
		return 1;
	}
	memset(&a, 0, sizeof(a));
	if (getsockname(acc, (struct sockaddr *)&a, &al) || strncmp(a.sun_path, dir, strlen(dir))) {
		fail("the accepted socket's name is %s", a.sun_path);
		return 1;
	}
	if (lstat(a.sun_path, &st) || !S_ISSOCK(st.st_mode)) {
		fail("%s is no socket file after restore", a.sun_path);
		return 1;
	}
	d = opendir(dir);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	if (!d || n != 1) {
		fail("%s has %d files, want 1 (sk)", dir, n);
		return 1;
	}
	closedir(d);
	unlink(a.sun_path);
	rmdir(dir);
	pass();
	return 0;
}
