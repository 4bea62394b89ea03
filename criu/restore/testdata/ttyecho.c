// ttyecho: a task whose stdio is a terminal its supervisor holds the
// other end of (a container's console: runc's terminal: true, conmon, a
// tmux pane). The test made it a session leader with that terminal as
// its controlling terminal, as runc does.
//
//   ttyecho LOG
//
// It opens its terminal once more at fd 10 (read-only, non-blocking: a
// description of its own, with other flags), turns the terminal's echo
// off (so that what comes back is its own output, and a restore that
// lost the termios shows), writes "ready" to
// LOG, then for each line read from stdin writes to stdout
// "echo: LINE sid=S pgrp=G", S and G being the session and foreground
// group of its controlling terminal as seen through stdin (-1 when stdin
// is not its controlling terminal).
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct termios t;
	char line[512];
	FILE *log;

	int fd;

	if (argc != 2)
		return 2;
	fd = open("/proc/self/fd/0", O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || dup2(fd, 10) != 10)
		return 1;
	close(fd);
	if (tcgetattr(0, &t) == 0) {
		t.c_lflag &= ~ECHO;
		tcsetattr(0, TCSANOW, &t);
	}
	log = fopen(argv[1], "w");
	if (!log)
		return 1;
	fprintf(log, "ready\n");
	fclose(log);
	setvbuf(stdout, NULL, _IONBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		printf("echo: %s sid=%d pgrp=%d\n", line, (int)tcgetsid(0), (int)tcgetpgrp(0));
	}
	return 0;
}
