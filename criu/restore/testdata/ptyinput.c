/*
 * ptyinput OUT [raw|eof]: opens a pty and types a line into it (written to
 * the master), which no one reads from the slave; writes "ready N" to OUT
 * once the slave holds the N bytes. With eof, the line is ended by EOF
 * (^D) instead of a newline (the slave counts no byte for it). With raw, the slave is in a
 * readline-like mode (no ICANON, no ECHO) and the line holds a ^C taken
 * in while ISIG was off, after which ISIG is turned on: replayed now, the
 * ^C would be a signal. On SIGUSR1 it reads the slave and writes
 * "read: LINE" to OUT (a ^C shown as "^C").
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	const char *line = "typed line\n";
	char name[64], buf[128];
	int m, s, n = 0, i, raw = argc == 3 && !strcmp(argv[2], "raw");
	int eof = argc == 3 && !strcmp(argv[2], "eof");
	struct termios tio;
	FILE *out;

	if (argc < 2)
		return 2;
	out = fopen(argv[1], "w");
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (!out || m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)))
		return 1;
	s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0 || tcgetattr(s, &tio))
		return 1;
	if (raw) {
		line = "typed\003line";
		tio.c_lflag &= ~(ICANON | ECHO | ISIG);
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		if (tcsetattr(s, TCSANOW, &tio))
			return 1;
	}
	if (eof)
		line = "typed line\004";
	if (write(m, line, strlen(line)) != (ssize_t)strlen(line))
		return 1;
	for (i = 0; i < 1000 && n != (int)strlen(line) - eof; i++) {
		ioctl(s, TIOCINQ, &n);
		usleep(1000);
	}
	if (raw) {
		tio.c_lflag |= ISIG;
		if (tcsetattr(s, TCSANOW, &tio))
			return 1;
	}
	signal(SIGUSR1, on_usr1);
	fprintf(out, "ready %d\n", n);
	fflush(out);
	while (!go)
		pause();
	n = read(s, buf, sizeof(buf) - 1);
	fprintf(out, "read: ");
	for (i = 0; i < n; i++) {
		if (buf[i] == 3)
			fprintf(out, "^C");
		else if (buf[i] != '\n')
			fputc(buf[i], out);
	}
	fprintf(out, "\n");
	fclose(out);
	return 0;
}
