/* A task with a userfaultfd of its own, its API handshake done, and with
 * "register" a page registered on it for missing pages. Writes "ready"
 * to argv[1], and on SIGUSR2 checks the userfaultfd still answers and
 * writes PASS or FAIL. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr2(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_zeropage zp;
	long psz = sysconf(_SC_PAGESIZE);
	FILE *out;
	char *area;
	int uffd;

	if (argc < 3 || !(out = fopen(argv[1], "w")))
		return 1;
	setvbuf(out, NULL, _IONBF, 0);
	signal(SIGUSR2, on_usr2);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		fprintf(out, "FAIL: userfaultfd: %m\n");
		return 1;
	}
	area = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!strcmp(argv[2], "register")) {
		struct uffdio_register reg = { .range = { .start = (unsigned long)area, .len = psz },
					       .mode = UFFDIO_REGISTER_MODE_MISSING };

		if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
			fprintf(out, "FAIL: UFFDIO_REGISTER: %m\n");
			return 1;
		}
	}
	fprintf(out, "ready\n");
	while (!go)
		pause();
	if (!strcmp(argv[2], "register")) {
		zp = (struct uffdio_zeropage){ .range = { .start = (unsigned long)area, .len = psz } };
		if (ioctl(uffd, UFFDIO_ZEROPAGE, &zp)) {
			fprintf(out, "FAIL: UFFDIO_ZEROPAGE: %m\n");
			return 1;
		}
	}
	fprintf(out, "PASS\n");
	return 0;
}
