/* larson.c — a server simulation (after Larson & Krishnan): each thread owns
 * a table of blocks and replaces random ones; tables are handed from a
 * finishing thread to the next one, so blocks are freed by threads other
 * than those that allocated them. Sizes 16..1000 B. Prints "larson: OK". */
#include <pthread.h>
#include "bench.h"

#define SLOTS 2000
typedef struct { void *p[SLOTS]; uint16_t size[SLOTS]; } table_t;
static long rounds_per_thread;
static int generations;

static void *worker(void *arg) {
  table_t *t = arg;
  rng_t r = rng_seed((uintptr_t)t ^ (uintptr_t)&r);
  for (long i = 0; i < rounds_per_thread; i++) {
    unsigned k = (unsigned)(rng_next(&r) % SLOTS);
    if (t->p[k]) {
      if (!check_block(t->p[k], t->size[k], (uint8_t)k)) bench_fail("larson", "block contents changed");
      free(t->p[k]);
    }
    size_t n = 16 + rng_next(&r) % 985;
    t->p[k] = malloc(n);
    t->size[k] = (uint16_t)n;
    fill_block(t->p[k], n, (uint8_t)k);
  }
  return t;
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  rounds_per_thread = (long)(5000000 * a.scale / a.threads) + 1;
  generations = 8;
  table_t *tables = calloc((size_t)a.threads, sizeof *tables);
  for (int g = 0; g < generations; g++) {   /* each generation's threads inherit the tables */
    pthread_t th[256];
    for (int i = 0; i < a.threads; i++) pthread_create(&th[i], NULL, worker, &tables[i]);
    for (int i = 0; i < a.threads; i++) pthread_join(th[i], NULL);
  }
  size_t live = 0;
  for (int i = 0; i < a.threads; i++)
    for (int k = 0; k < SLOTS; k++)
      if (tables[i].p[k]) {
        if (!check_block(tables[i].p[k], tables[i].size[k], (uint8_t)k)) bench_fail("larson", "final check");
        free(tables[i].p[k]);
        live++;
      }
  free(tables);
  printf("larson: OK live=%zu\n", live);
  return 0;
}
