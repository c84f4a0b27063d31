/* A process with threads blocked at the bottom of known call chains, for
 * `procscope stack --user` and `why` (crates/cli/tests/integration/ustack.rs).
 * Built by the test with gcc -O2 -g -fomit-frame-pointer. The tests find the
 * lines they expect by the MARK comments below, never by number.
 *
 *   holder: locks `db`, then reads a pipe nobody writes: fetch_reply → read_reply → read
 *   waiter: db_write → db_commit → db_lock → pthread_mutex_lock(&db), held by holder
 *   beat:   spins on a CPU, writing its count to argv[1] every 2^20 beats
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t db = PTHREAD_MUTEX_INITIALIZER;
static int pipefd[2];
static volatile unsigned long sink;
static volatile unsigned long beats;
static volatile int held;
static const char *beat_path;

__attribute__((noinline)) void db_lock(void)
{
	pthread_mutex_lock(&db); /* MARK: mutex */
	sink++;
	pthread_mutex_unlock(&db);
}

__attribute__((noinline)) void db_commit(void)
{
	db_lock(); /* MARK: commit */
	sink++;
}

__attribute__((noinline)) void db_write(void)
{
	db_commit(); /* MARK: write */
	sink++;
}

__attribute__((noinline)) void read_reply(void)
{
	char c;
	if (read(pipefd[0], &c, 1) > 0) /* MARK: read */
		sink++;
	sink++;
}

__attribute__((noinline)) void fetch_reply(void)
{
	read_reply(); /* MARK: fetch */
	sink++;
}

static void *holder(void *a)
{
	pthread_setname_np(pthread_self(), "holder");
	pthread_mutex_lock(&db);
	held = 1;
	fetch_reply();
	pthread_mutex_unlock(&db);
	return a;
}

static void *waiter(void *a)
{
	pthread_setname_np(pthread_self(), "waiter");
	while (!held)
		usleep(1000);
	db_write();
	return a;
}

__attribute__((noinline)) void beat(void)
{
	int fd = open(beat_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (;;) {
		beats++;
		if ((beats & 0xfffff) == 0) {
			char b[32];
			int n = snprintf(b, sizeof b, "%lu\n", beats);
			if (pwrite(fd, b, n, 0) < 0)
				return;
		}
	}
}

static void *beater(void *a)
{
	pthread_setname_np(pthread_self(), "beat");
	beat();
	return a;
}

int main(int argc, char **argv)
{
	pthread_t t;
	if (argc < 2 || pipe(pipefd) != 0)
		return 2;
	beat_path = argv[1];
	pthread_create(&t, 0, holder, 0);
	pthread_create(&t, 0, waiter, 0);
	pthread_create(&t, 0, beater, 0);
	puts("ready");
	fflush(stdout);
	for (;;)
		pause();
}
