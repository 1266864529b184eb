/* alloc_test.c — small objects with Pareto-distributed sizes up to 1 KiB
 * (after alloc-test): each thread keeps a window of live objects and
 * replaces the oldest, so most objects die young and a few live long.
 * Prints "alloc_test: OK". */
#include <math.h>
#include <pthread.h>
#include "bench.h"

#define WINDOW 4096
static long ops_per_thread;

static size_t pareto_size(rng_t *r) {   /* shape 1.1, minimum 8, capped at 1 KiB */
  double u = ((double)(rng_next(r) >> 11) + 1) / 9007199254740993.0;
  double v = 8.0 / pow(u, 1.0 / 1.1);
  return v > 1024 ? 1024 : (size_t)v;
}

#define SIZES 65536   /* drawn up front: the benchmark measures malloc, not pow() */

static void *worker(void *arg) {
  rng_t r = rng_seed((uintptr_t)arg);
  void **win = calloc(WINDOW, sizeof *win);
  uint16_t *sz = calloc(WINDOW, sizeof *sz);
  uint16_t *sizes = malloc(SIZES * sizeof *sizes);
  for (int i = 0; i < SIZES; i++) sizes[i] = (uint16_t)pareto_size(&r);
  for (long i = 0; i < ops_per_thread; i++) {
    unsigned k = (unsigned)(i % WINDOW);
    if (rng_next(&r) % 8 == 0) k = (unsigned)(rng_next(&r) % WINDOW);   /* some die out of order */
    if (win[k]) {
      if (!check_block(win[k], sz[k], (uint8_t)k)) bench_fail("alloc_test", "block contents changed");
      free(win[k]);
    }
    size_t n = sizes[i % SIZES];
    win[k] = malloc(n);
    sz[k] = (uint16_t)n;
    fill_block(win[k], n, (uint8_t)k);
  }
  for (int k = 0; k < WINDOW; k++) free(win[k]);
  free(win);
  free(sz);
  free(sizes);
  return NULL;
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  ops_per_thread = (long)(120000000 * a.scale / a.threads) + 1;
  pthread_t th[256];
  for (int i = 0; i < a.threads; i++) pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
  for (int i = 0; i < a.threads; i++) pthread_join(th[i], NULL);
  printf("alloc_test: OK threads=%d\n", a.threads);
  return 0;
}
