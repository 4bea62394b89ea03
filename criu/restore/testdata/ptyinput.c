/*
 * ptyinput OUT: opens a pty and types a line into it (written to the
 * master), which no one reads from the slave; writes "ready" to OUT. On
 * SIGUSR1 it reads the slave and writes "read: LINE" to OUT.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	char name[64], buf[128];
	int m, s, n = 0, i;
	FILE *out;

	if (argc != 2)
		return 2;
	out = fopen(argv[1], "w");
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (!out || m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)))
		return 1;
	s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0 || write(m, "typed line\n", 11) != 11)
		return 1;
	for (i = 0; i < 1000 && n != 11; i++) {
		ioctl(s, TIOCINQ, &n);
		usleep(1000);
	}
	signal(SIGUSR1, on_usr1);
	fprintf(out, "ready %d\n", n);
	fflush(out);
	while (!go)
		pause();
	n = read(s, buf, sizeof(buf) - 1);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	fprintf(out, "read: %.*s\n", n > 0 ? n : 0, buf);
	fclose(out);
	return 0;
}
