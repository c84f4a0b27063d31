/* Threads on CPUs, for `stack --user`'s sampling of running threads
 * (crates/cli/tests/integration/ustack_busy.rs).
 *
 *   argv[1] busy threads spin for ever;
 *   argv[2] nappers alternate 4 ms on the CPU with a 4 ms epoll_wait, and
 *   count the epoll_waits that failed with EINTR, written to argv[3] by the
 *   main thread every 20 ms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static long eintr;
static int ep;

static void *busy(void *a)
{
	for (;;)
		sink++;
	return a;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void *napper(void *a)
{
	struct epoll_event ev;
	for (;;) {
		double t0 = now();
		while (now() - t0 < 0.004)
			sink++;
		if (epoll_wait(ep, &ev, 1, 4) < 0 && errno == EINTR)
			__atomic_add_fetch(&eintr, 1, __ATOMIC_RELAXED);
	}
	return a;
}

int main(int argc, char **argv)
{
	pthread_t t;
	if (argc < 4)
		return 2;
	int nb = atoi(argv[1]), nn = atoi(argv[2]);
	ep = epoll_create1(0);
	for (int i = 0; i < nb; i++)
		pthread_create(&t, 0, busy, 0);
	for (int i = 0; i < nn; i++)
		pthread_create(&t, 0, napper, 0);
	puts("ready");
	fflush(stdout);
	for (;;) {
		char b[32];
		usleep(20000);
		int n = snprintf(b, sizeof b, "%ld\n", __atomic_load_n(&eintr, __ATOMIC_RELAXED));
		int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			if (write(fd, b, n) < 0)
				return 3;
			close(fd);
		}
	}
}
