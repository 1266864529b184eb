/* glibc_simple.c — the plain malloc/free loop of glibc's benchtests, single
 * thread or --threads N each running it: a block of 16 .. 1 KiB allocated,
 * touched and freed at once. Prints "glibc_simple: OK". */
#include <pthread.h>
#include "bench.h"

static long pairs;

static void *worker(void *arg) {
  uint64_t sum = 0;
  for (long i = 0; i < pairs; i++) {
    size_t n = 16 + (size_t)((i * 7 + (uintptr_t)arg) & 63) * 16;
    char *volatile p = malloc(n);
    p[0] = (char)i;
    sum += (unsigned char)p[0];
    free(p);
  }
  return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  pairs = (long)(100000000 * a.scale / a.threads) + 1;
  pthread_t th[256];
  for (int i = 0; i < a.threads; i++) pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
  uint64_t total = 0;
  for (int i = 0; i < a.threads; i++) {
    void *s;
    pthread_join(th[i], &s);
    total += (uintptr_t)s;
  }
  uint64_t expect = 0;
  for (long i = 0; i < pairs; i++) expect += (unsigned char)(char)i;
  if (total != expect * (uint64_t)a.threads) bench_fail("glibc_simple", "checksum");
  printf("glibc_simple: OK threads=%d\n", a.threads);
  return 0;
}
