/* cache_scratch.c — false sharing (after Hoard's cache-scratch and
 * cache-thrash): with "scratch", the main thread allocates one small object
 * per thread and each thread frees it and then allocates and writes its own
 * small objects; with "thrash", each thread only allocates its own. An
 * allocator that puts two threads' objects in one cache line makes the
 * writes crawl. Usage: cache_scratch scratch|thrash [--threads N]. */
#include <pthread.h>
#include "bench.h"

static long iterations;
static int object_size = 8, writes = 1000;

static void *worker(void *arg) {
  char *given = arg;
  if (given) free(given);   /* scratch: the first object came from the main thread */
  for (long i = 0; i < iterations; i++) {
    volatile char *p = malloc((size_t)object_size);
    for (int w = 0; w < writes; w++) {
      p[w % object_size] = (char)w;
      (void)p[(w + 3) % object_size];
    }
    if (p[(writes - 1) % object_size] != (char)(writes - 1)) bench_fail("cache_scratch", "lost a write");
    free((void *)p);
  }
  return NULL;
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  int scratch = argc > 1 && strcmp(argv[1], "scratch") == 0;
  iterations = (long)(1000000 * a.scale) + 1;
  pthread_t th[256];
  for (int i = 0; i < a.threads; i++) {
    char *given = scratch ? malloc((size_t)object_size) : NULL;
    pthread_create(&th[i], NULL, worker, given);
  }
  for (int i = 0; i < a.threads; i++) pthread_join(th[i], NULL);
  printf("cache_%s: OK\n", scratch ? "scratch" : "thrash");
  return 0;
}
