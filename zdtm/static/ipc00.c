#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_doc = "The SysV IPC objects of the test's own IPC namespace survive with their "
		       "ids, keys and modes: a semaphore set and its values, a message queue and "
		       "its messages (types, sizes, zero-length ones, order), a shared memory "
		       "segment attached with a pattern and one not attached, and the namespace's "
		       "IPC limits (kernel.msgmnb, sem, shmmax...)";

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

#define KEY_SEM 0x5a1c0001
#define KEY_MSG 0x5a1c0002
#define KEY_SHM 0x5a1c0003

#define NSEMS 6
static const unsigned short sem_vals[NSEMS] = {0, 1, 7, 32767, 100, 3};

#define QBYTES 10000
static const struct {
	long type;
	size_t size;
} msgs[] = {{1, 0}, {5, 1}, {2, 333}, {1, 4000}, {7, 0}};
#define NMSGS (sizeof(msgs) / sizeof(msgs[0]))
#define MSG_MAX 4096

#define SHM_A_SIZE (3 * 4096 + 100) /* not a page multiple */
#define SHM_B_SIZE (2 * 4096)

static int semid, msgid, shm_a, shm_b;
static uint8_t *shm_a_addr;

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct msgbuf_max {
	long mtype;
	char mtext[MSG_MAX];
};

static void corrupt(void)
{
	if (semctl(semid, 2, SETVAL, (union semun){.val = 8}))
		pr_perror("semctl SETVAL");
}

static void check_perm(const char *what, struct ipc_perm *p, key_t key, unsigned int mode)
{
	if (p->__key != key)
		fail("%s: key %#x, want %#x", what, p->__key, key);
	if ((p->mode & 0777) != mode)
		fail("%s: mode %o, want %o", what, p->mode & 0777, mode);
	if (p->uid != getuid() || p->cuid != getuid() || p->gid != getgid())
		fail("%s: uid %d cuid %d gid %d, want ours", what, p->uid, p->cuid, p->gid);
}

/* count_objects counts the lines after the header of /proc/sysvipc/NAME. */
static int count_objects(const char *name)
{
	char path[64], line[512];
	int n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sysvipc/%s", name);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("open %s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* The IPC namespace's own limits, set to values no kernel defaults to. */
static const struct {
	const char *name, *val;
} sysctls[] = {
	{"kernel/msgmnb", "20011"},
	{"kernel/msgmax", "4099"},
	{"kernel/msgmni", "3001"},
	{"kernel/sem", "251 32001 65 129"},
	{"kernel/shmmni", "1003"},
	{"kernel/shmmax", "268435457"},
	{NULL, NULL},
};

static int setup(void)
{
	struct msgbuf_max m;
	struct msqid_ds mq;
	unsigned int i;
	void *b;

	for (i = 0; sysctls[i].name; i++)
		if (sysctl_set(sysctls[i].name, sysctls[i].val))
			return -1;

	semid = semget(KEY_SEM, NSEMS, IPC_CREAT | IPC_EXCL | 0640);
	if (semid < 0 || semctl(semid, 0, SETALL, (union semun){.array = (unsigned short *)sem_vals})) {
		pr_perror("semaphore set");
		return -1;
	}

	msgid = msgget(KEY_MSG, IPC_CREAT | IPC_EXCL | 0620);
	if (msgid < 0 || msgctl(msgid, IPC_STAT, &mq)) {
		pr_perror("message queue");
		return -1;
	}
	mq.msg_qbytes = QBYTES;
	if (msgctl(msgid, IPC_SET, &mq)) {
		pr_perror("msgctl IPC_SET qbytes");
		return -1;
	}
	for (i = 0; i < NMSGS; i++) {
		m.mtype = msgs[i].type;
		fill_pattern(m.mtext, msgs[i].size, 300 + i);
		if (msgsnd(msgid, &m, msgs[i].size, IPC_NOWAIT)) {
			pr_perror("msgsnd %u", i);
			return -1;
		}
	}

	shm_a = shmget(KEY_SHM, SHM_A_SIZE, IPC_CREAT | IPC_EXCL | 0600);
	if (shm_a < 0) {
		pr_perror("shmget A");
		return -1;
	}
	shm_a_addr = shmat(shm_a, NULL, 0);
	if (shm_a_addr == (void *)-1) {
		pr_perror("shmat A");
		return -1;
	}
	fill_pattern(shm_a_addr, SHM_A_SIZE, 400);

	/* B: private key, filled, then detached: it lives on with no user. */
	shm_b = shmget(IPC_PRIVATE, SHM_B_SIZE, IPC_CREAT | 0644);
	if (shm_b < 0) {
		pr_perror("shmget B");
		return -1;
	}
	b = shmat(shm_b, NULL, 0);
	if (b == (void *)-1) {
		pr_perror("shmat B");
		return -1;
	}
	fill_pattern(b, SHM_B_SIZE, 500);
	if (shmdt(b)) {
		pr_perror("shmdt B");
		return -1;
	}
	return 0;
}

static void check_sem(void)
{
	unsigned short vals[NSEMS];
	struct semid_ds ds;
	int i;

	if (semget(KEY_SEM, 0, 0) != semid)
		fail("semget(%#x) gives %d, want id %d", KEY_SEM, semget(KEY_SEM, 0, 0), semid);
	if (semctl(semid, 0, IPC_STAT, (union semun){.buf = &ds})) {
		pr_perror("semctl IPC_STAT %d", semid);
		return;
	}
	check_perm("semaphore set", &ds.sem_perm, KEY_SEM, 0640);
	if (ds.sem_nsems != NSEMS)
		fail("semaphore set: %lu semaphores, want %d", (unsigned long)ds.sem_nsems, NSEMS);
	if (semctl(semid, 0, GETALL, (union semun){.array = vals})) {
		pr_perror("semctl GETALL");
		return;
	}
	for (i = 0; i < NSEMS; i++)
		if (vals[i] != sem_vals[i])
			fail("semaphore %d is %u, want %u", i, vals[i], sem_vals[i]);
}

static void check_msg_one(const char *how, unsigned int i, struct msgbuf_max *m, ssize_t n)
{
	if (n < 0) {
		pr_perror("%s message %u", how, i);
		return;
	}
	if (m->mtype != msgs[i].type || (size_t)n != msgs[i].size)
		fail("%s message %u: type %ld size %zd, want type %ld size %zu", how, i, m->mtype, n,
		     msgs[i].type, msgs[i].size);
	else if (check_pattern(m->mtext, n, 300 + i) >= 0)
		fail("%s message %u: content differs at byte %ld", how, i, check_pattern(m->mtext, n, 300 + i));
}

static void check_msg(void)
{
	size_t bytes = 0;
	struct msgbuf_max m;
	struct msqid_ds ds;
	unsigned int i;

	if (msgget(KEY_MSG, 0) != msgid)
		fail("msgget(%#x) gives %d, want id %d", KEY_MSG, msgget(KEY_MSG, 0), msgid);
	if (msgctl(msgid, IPC_STAT, &ds)) {
		pr_perror("msgctl IPC_STAT %d", msgid);
		return;
	}
	check_perm("message queue", &ds.msg_perm, KEY_MSG, 0620);
	for (i = 0; i < NMSGS; i++)
		bytes += msgs[i].size;
	if (ds.msg_qnum != NMSGS || ds.__msg_cbytes != bytes || ds.msg_qbytes != QBYTES)
		fail("message queue: %lu messages, %lu bytes, limit %lu; want %zu, %zu, %d",
		     (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes,
		     NMSGS, bytes, QBYTES);
	/* First without taking them (MSG_COPY: by position), then in order. */
	for (i = 0; i < NMSGS; i++) {
		memset(&m, 0xee, sizeof(m));
		check_msg_one("copied", i, &m, msgrcv(msgid, &m, MSG_MAX, i, IPC_NOWAIT | MSG_COPY | MSG_NOERROR));
	}
	for (i = 0; i < NMSGS; i++) {
		memset(&m, 0xee, sizeof(m));
		check_msg_one("received", i, &m, msgrcv(msgid, &m, MSG_MAX, 0, IPC_NOWAIT));
	}
	if (msgrcv(msgid, &m, MSG_MAX, 0, IPC_NOWAIT) >= 0)
		fail("message queue: a message of type %ld after the last one", m.mtype);
}

static void check_shm(void)
{
	struct shmid_ds ds;
	uint8_t *a2, *b;
	long off;

	if (shmget(KEY_SHM, 0, 0) != shm_a)
		fail("shmget(%#x) gives %d, want id %d", KEY_SHM, shmget(KEY_SHM, 0, 0), shm_a);
	if (shmctl(shm_a, IPC_STAT, &ds)) {
		pr_perror("shmctl IPC_STAT A %d", shm_a);
	} else {
		check_perm("shm A", &ds.shm_perm, KEY_SHM, 0600);
		if (ds.shm_segsz != SHM_A_SIZE || ds.shm_nattch != 1)
			fail("shm A: size %zu, %lu attached; want %d, 1", ds.shm_segsz,
			     (unsigned long)ds.shm_nattch, SHM_A_SIZE);
	}
	off = check_pattern(shm_a_addr, SHM_A_SIZE, 400);
	if (off >= 0)
		fail("shm A at %p: content differs at byte %ld", (void *)shm_a_addr, off);
	/* Our mapping must be the segment, not a private copy of it. */
	a2 = shmat(shm_a, NULL, SHM_RDONLY);
	if (a2 == (void *)-1) {
		pr_perror("shmat A again");
	} else {
		shm_a_addr[SHM_A_SIZE - 1] ^= 0xff;
		if (a2[SHM_A_SIZE - 1] != shm_a_addr[SHM_A_SIZE - 1])
			fail("shm A: our mapping at %p is not shared with the segment", (void *)shm_a_addr);
		shm_a_addr[SHM_A_SIZE - 1] ^= 0xff;
		shmdt(a2);
	}

	if (shmctl(shm_b, IPC_STAT, &ds)) {
		pr_perror("shmctl IPC_STAT B %d", shm_b);
		return;
	}
	check_perm("shm B", &ds.shm_perm, IPC_PRIVATE, 0644);
	if (ds.shm_segsz != SHM_B_SIZE || ds.shm_nattch != 0)
		fail("shm B: size %zu, %lu attached; want %d, 0", ds.shm_segsz, (unsigned long)ds.shm_nattch,
		     SHM_B_SIZE);
	b = shmat(shm_b, NULL, SHM_RDONLY);
	if (b == (void *)-1) {
		pr_perror("shmat B");
		return;
	}
	off = check_pattern(b, SHM_B_SIZE, 500);
	if (off >= 0)
		fail("shm B: content differs at byte %ld", off);
	shmdt(b);
}

int main(int argc, char **argv)
{
	const struct {
		const char *name;
		int want;
	} counts[] = {{"sem", 1}, {"msg", 1}, {"shm", 2}};
	unsigned int i;

	test_init(argc, argv);
	if (!test_flavor_ns()) {
		test_msg("ipc00 uses fixed keys: it runs only in the ns flavor, in an IPC namespace of its own\n");
		return 1;
	}
	if (setup())
		return 1;

	test_set_corrupt(corrupt);
	test_daemon();
	test_waitsig();

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		int n = count_objects(counts[i].name);

		if (n != counts[i].want)
			fail("/proc/sysvipc/%s lists %d objects, want %d", counts[i].name, n, counts[i].want);
	}
	for (i = 0; sysctls[i].name; i++)
		sysctl_check(sysctls[i].name, sysctls[i].val);
	check_sem();
	check_msg();
	check_shm();
	pass();
	return 0;
}
