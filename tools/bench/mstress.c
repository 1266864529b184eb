/* mstress.c — objects migrate between threads that are created and
 * destroyed over and over (after mimalloc-bench's mstress): each round's
 * threads take a share of a global pool, free part of it, allocate new
 * objects, and exit. Sizes 8 B .. 32 KiB, a few larger. Prints "mstress: OK". */
#include <pthread.h>
#include "bench.h"

#define POOL 20000
static void *pool[POOL];
static uint32_t pool_size[POOL];
static long steps_per_thread;

typedef struct { int first, count; uint64_t seed; } share_t;

static void *worker(void *arg) {
  share_t *s = arg;
  rng_t r = rng_seed(s->seed);
  for (long i = 0; i < steps_per_thread; i++) {
    int k = s->first + (int)(rng_next(&r) % (uint64_t)s->count);
    if (pool[k]) {
      if (!check_block(pool[k], pool_size[k], (uint8_t)k)) bench_fail("mstress", "block contents changed");
      free(pool[k]);
      pool[k] = NULL;
    }
    if (rng_next(&r) % 4) {
      uint64_t x = rng_next(&r);
      size_t n = x % 100 == 0 ? 32768 + x % 200000 : 8 + x % (x % 10 == 0 ? 32768 : 256);
      pool[k] = malloc(n);
      pool_size[k] = (uint32_t)n;
      fill_block(pool[k], n, (uint8_t)k);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  int rounds = 40;
  steps_per_thread = (long)(8000000 * a.scale / rounds / a.threads) + 1;
  for (int round = 0; round < rounds; round++) {
    pthread_t th[256];
    share_t share[256];
    for (int i = 0; i < a.threads; i++) {   /* disjoint shares that rotate: objects change threads */
      share[i].count = POOL / a.threads;
      share[i].first = ((i + round) % a.threads) * share[i].count;
      share[i].seed = (uint64_t)round * 1000 + (uint64_t)i + 1;
      pthread_create(&th[i], NULL, worker, &share[i]);
    }
    for (int i = 0; i < a.threads; i++) pthread_join(th[i], NULL);
  }
  for (int k = 0; k < POOL; k++)
    if (pool[k]) {
      if (!check_block(pool[k], pool_size[k], (uint8_t)k)) bench_fail("mstress", "final check");
      free(pool[k]);
    }
  printf("mstress: OK\n");
  return 0;
}
