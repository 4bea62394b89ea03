// cowwriter: writers that never stop, for the copy-on-write dump.
// usage: cowwriter OUT MIB THREADS MODE
// Each of THREADS threads owns MIB MiB of private anonymous memory and
// rewrites it page after page, generation after generation: page p of
// generation g is filled with tag(g, p), and the thread's state (in the
// region's first page, so that it is snapshotted with the pages) says
// which generation and page it is at. So at any instant, and in an exact
// snapshot, pages below the state's page hold generation g, pages above
// it g-1, and the page at it a prefix of g over g-1 (a write cut by the
// freeze). SIGUSR2 stops the writers and checks exactly that, writing
// PASS or FAIL to OUT: a page copied after the tree wrote it again shows
// up as a generation too new. It writes each region's address and size
// to OUT ("REGION ADDR PAGES"), for the same check on images.
// MODE: "plain"; "fork" (the main thread forks a child every few ms that
// writes here and there in its copy of the memory and exits); "discard" (the main
// thread also MADV_DONTNEEDs a page of a filled region of its own every
// millisecond, without writing it first); "unmap" (likewise, munmap);
// "exec" (SIGUSR1 makes it exec sleep).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096
#define WORDS (PG / 8)

// state is (generation << 32 | page), stored in one write.
struct state {
	volatile unsigned long pos;
};

struct region {
	unsigned long *mem;
	size_t pages;
};

static volatile sig_atomic_t check;
static atomic_int stopped;
static int out;
static size_t npages;

static void h2(int s) { check = 1; }
static void h1(int s) { execl("/bin/sleep", "sleep", "1000", (char *)0); }

static unsigned long tag(unsigned long g, size_t p) { return (g << 40) ^ (p * 2654435761u) ^ 0x5a5a; }

static void fill(unsigned long *pg, unsigned long v) {
	for (int w = 0; w < WORDS; w++) ((volatile unsigned long *)pg)[w] = v;
}

static void *writer(void *arg) {
	struct region *r = arg;
	struct state *st = (struct state *)r->mem;
	for (unsigned long g = st->pos >> 32;; g++) {
		for (size_t p = 1; p < r->pages; p++) {
			if (check) {
				atomic_fetch_add(&stopped, 1);
				for (;;) pause();
			}
			st->pos = g << 32 | p;
			fill(r->mem + p * WORDS, tag(g, p));
		}
		st->pos = (g + 1) << 32;
	}
	return 0;
}

// verify checks a stopped writer's region against its state.
static int verify(struct region *r, char *why, size_t n) {
	struct state *st = (struct state *)r->mem;
	unsigned long g = st->pos >> 32, at = st->pos & 0xffffffff;
	for (size_t p = 1; p < r->pages; p++) {
		unsigned long *pg = r->mem + p * WORDS;
		unsigned long newer = tag(g, p), older = tag(g - 1, p);
		int w = 0;
		if (p <= at)
			for (; w < WORDS && pg[w] == newer; w++) ;
		if (p >= at)
			for (; w < WORDS && pg[w] == older; w++) ;
		if (w != WORDS) {
			snprintf(why, n, "page %zu word %d is %#lx: gen %lu at page %lu wants %#lx", p, w, pg[w], g, at,
				 p < at ? newer : older);
			return 0;
		}
	}
	return 1;
}

// junk is the region the "discard" and "unmap" modes drop, page by page:
// mapped first, so above the writers' regions, and so copied last.
static char *junk;
static size_t junkPages = 16384;

static void *discard(void *mode) {
	int unmap = !strcmp(mode, "unmap");
	for (size_t k = 0;; k = (k + 1) % junkPages) {
		if (check) for (;;) pause();
		if (unmap)
			munmap(junk + k * PG, PG);
		else
			madvise(junk + k * PG, PG, MADV_DONTNEED);
		usleep(1000);
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 5) return 2;
	signal(SIGUSR2, h2);
	if (!strcmp(argv[4], "exec")) signal(SIGUSR1, h1);
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	size_t mib = atoi(argv[2]);
	int nth = atoi(argv[3]);
	char *mode = argv[4];
	npages = mib << 8;
	if (!strcmp(mode, "discard") || !strcmp(mode, "unmap")) {
		junk = mmap(0, junkPages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memset(junk, 0x77, junkPages * PG);
	}
	struct region *rs = calloc(nth, sizeof *rs);
	for (int t = 0; t < nth; t++) {
		rs[t].pages = npages;
		rs[t].mem = mmap(0, npages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (rs[t].mem == MAP_FAILED) return 3;
		struct state *st = (struct state *)rs[t].mem;
		for (size_t p = 1; p < npages; p++) fill(rs[t].mem + p * WORDS, tag(0, p));
		st->pos = 1ul << 32;
	}
	// gen 1 is written over gen 0 from page 1 on.
	for (int t = 0; t < nth; t++) {
		pthread_t th;
		pthread_create(&th, 0, writer, &rs[t]);
	}
	if (!strcmp(mode, "discard") || !strcmp(mode, "unmap")) {
		pthread_t th;
		pthread_create(&th, 0, discard, mode);
	}
	for (int t = 0; t < nth; t++) {
		char l[64];
		write(out, l, snprintf(l, sizeof l, "REGION %lx %zu\n", (unsigned long)rs[t].mem, rs[t].pages));
	}
	if (junk) {
		char l[64];
		write(out, l, snprintf(l, sizeof l, "JUNK %lx %zu\n", (unsigned long)junk, junkPages));
	}
	write(out, "READY\n", 6);
	for (;;) {
		if (check) {
			while (atomic_load(&stopped) < nth) usleep(1000);
			char why[256] = "";
			int ok = 1;
			for (int t = 0; t < nth && ok; t++) ok = verify(&rs[t], why, sizeof why);
			char line[400];
			struct state *st = (struct state *)rs[0].mem;
			int l = ok ? snprintf(line, sizeof line, "PASS gen %lu page %lu\n", st->pos >> 32, st->pos & 0xffffffff)
				   : snprintf(line, sizeof line, "FAIL %s\n", why);
			write(out, line, l);
			for (;;) pause();
		}
		if (!strcmp(mode, "fork")) {
			pid_t c = fork();
			if (c == 0) {
				// The child's writes must not reach the parent's snapshot.
				// Short-lived: a child the freeze finds must live through
				// the copy (a dump that sees a task exit meanwhile fails).
				for (int t = 0; t < nth; t++)
					for (size_t p = 1; p < npages; p += npages / 64) fill(rs[t].mem + p * WORDS, 0xdeadbeef);
				_exit(0);
			}
			waitpid(c, 0, 0);
		}
		usleep(2000);
	}
}
