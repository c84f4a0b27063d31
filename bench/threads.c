/* N threads blocked at the bottom of short call chains (a mutex wait, a
 * pipe read, a sleep), for timing `procscope stack --user` against
 * `eu-stack -p`. Build: gcc -O2 -g -fomit-frame-pointer -pthread -o
 * /tmp/threads bench/threads.c; run: /tmp/threads 2000 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static int p[2];
static volatile int sink;

__attribute__((noinline)) void lock_it(void) { pthread_mutex_lock(&m); sink++; pthread_mutex_unlock(&m); }
__attribute__((noinline)) void read_it(void) { char c; if (read(p[0], &c, 1) > 0) sink++; sink++; }
__attribute__((noinline)) void sleep_it(void) { struct timespec t = {3600, 0}; nanosleep(&t, 0); sink++; }
__attribute__((noinline)) void work(long i)
{
	switch (i % 3) {
	case 0: lock_it(); break;
	case 1: read_it(); break;
	default: sleep_it();
	}
	sink++;
}
static void *run(void *a) { work((long)a); return a; }

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000;
	pthread_attr_t at;
	pthread_t t;
	if (pipe(p))
		return 2;
	pthread_mutex_lock(&m);
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 * 1024);
	for (long i = 0; i < n; i++)
		pthread_create(&t, &at, run, (void *)i);
	puts("ready");
	fflush(stdout);
	for (;;)
		pause();
}
