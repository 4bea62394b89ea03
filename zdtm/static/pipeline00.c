#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "A pipeline of three processes passes a numbered stream through two "
		       "pipes while it is checkpointed: nothing is lost, repeated or reordered";

static int p1[2], p2[2];
static pid_t producer, relay;

/*
 * A lost relay: its end is seen by its status. (Stealing a number from
 * the stream was missed when SIGTERM came before the producer wrote two.)
 */
static void corrupt(void)
{
	kill(relay, SIGKILL);
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	uint64_t v, next = 0;
	int status;
	ssize_t n;

	test_init(argc, argv);
	if (pipe(p1) || pipe(p2)) {
		pr_perror("pipe");
		return 1;
	}
	producer = fork();
	if (producer == 0) {
		struct sigaction sa = {.sa_handler = on_term};

		sigaction(SIGTERM, &sa, NULL);
		close(p1[0]);
		close(p2[0]);
		close(p2[1]);
		for (v = 0; !stop; v++)
			if (write(p1[1], &v, sizeof(v)) != sizeof(v) && !stop)
				_exit(2);
		_exit(0);
	}
	relay = fork();
	if (relay == 0) {
		close(p1[1]);
		close(p2[0]);
		/* Forwards until the producer closes its end. */
		while ((n = read(p1[0], &v, sizeof(v))) == sizeof(v))
			if (write(p2[1], &v, sizeof(v)) != sizeof(v))
				_exit(3);
		_exit(n == 0 ? 0 : 4);
	}
	close(p1[0]);
	close(p1[1]);
	close(p2[1]);
	test_daemon();
	test_set_corrupt(corrupt);
	while (test_go()) {
		if (read(p2[0], &v, sizeof(v)) != sizeof(v)) {
			if (errno == EINTR)
				continue;
			fail("read: %m");
			break;
		}
		if (v != next) {
			fail("got %llu, want %llu", (unsigned long long)v, (unsigned long long)next);
			break;
		}
		next++;
	}
	/* test_go returned: corruption (if asked) has run. Drain the rest. */
	kill(producer, SIGTERM);
	while (!test_failed() && (n = read(p2[0], &v, sizeof(v))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(v) || v != next) {
			fail("got %llu, want %llu", (unsigned long long)v, (unsigned long long)next);
			break;
		}
		next++;
	}
	/* After a failure the relay may be blocked writing to p2: closing
	 * our end lets it go (EPIPE) instead of waiting forever. */
	close(p2[0]);
	if (waitpid(producer, &status, 0) != producer || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("producer: status %#x", status);
	if (waitpid(relay, &status, 0) != relay || (!test_failed() && (!WIFEXITED(status) || WEXITSTATUS(status))))
		fail("relay: status %#x", status);
	test_msg("%llu numbers passed\n", (unsigned long long)next);
	if (!test_failed())
		pass();
	return 0;
}
