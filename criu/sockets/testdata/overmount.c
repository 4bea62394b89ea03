/* A listener bound at DIR/sk with a connection it accepted (both named
 * DIR/sk): overmount DIR READYFILE. It says READY in READYFILE (the
 * test then mounts over DIR, dumps, and unmounts); on SIGUSR1 it checks
 * that the accepted connection still carries data and that DIR/sk still
 * reaches the listener, and says OK or BAD. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }

static void say(const char *f, const char *s)
{
	int fd = open(f, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		exit(2);
	write(fd, s, strlen(s));
	close(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct sigaction sa = {.sa_handler = on_usr1};
	int l, c, s, c2, s2;
	char b[2];

	if (argc != 3 || snprintf(a.sun_path, sizeof(a.sun_path), "%s/sk", argv[1]) >= (int)sizeof(a.sun_path))
		return 2;
	sigaction(SIGUSR1, &sa, NULL);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4) ||
	    connect(c, (struct sockaddr *)&a, sizeof(a)) || (s = accept(l, NULL, NULL)) < 0)
		return 2;
	say(argv[2], "READY");
	while (!go)
		pause();
	c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	if (write(c, "x", 1) != 1 || read(s, b, 1) != 1 || c2 < 0 ||
	    connect(c2, (struct sockaddr *)&a, sizeof(a)) || (s2 = accept(l, NULL, NULL)) < 0) {
		say(argv[2], "BAD");
		return 1;
	}
	say(argv[2], "OK");
	return 0;
}
