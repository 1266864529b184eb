/* bench.h — shared by the workload programs of the benchmark suite: a fast
 * random generator, argument parsing, and the fill/check of block contents
 * every workload does so that a broken allocator cannot look fast. */
#ifndef UMA_BENCH_H
#define UMA_BENCH_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint64_t s; } rng_t;
static inline uint64_t rng_next(rng_t *r) {   /* xorshift64* */
  r->s ^= r->s >> 12; r->s ^= r->s << 25; r->s ^= r->s >> 27;
  return r->s * 0x2545F4914F6CDD1DULL;
}
static inline rng_t rng_seed(uint64_t seed) { rng_t r = { seed * 0x9E3779B97F4A7C15ULL | 1 }; return r; }

/* "--threads N" and "--scale X" (work multiplier, 1 = the full run). */
typedef struct { int threads; double scale; } bench_args_t;
static inline bench_args_t bench_args(int argc, char **argv) {
  bench_args_t a = { 2, 1.0 };
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0) a.threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--scale") == 0) a.scale = atof(argv[++i]);
  }
  if (a.threads < 1) a.threads = 1;
  if (a.threads > 256) a.threads = 256;
  return a;
}

/* The first and last bytes carry a tag; check_block verifies them. */
static inline void fill_block(void *p, size_t n, uint8_t tag) {
  uint8_t *b = p;
  b[0] = tag;
  b[n - 1] = (uint8_t)~tag;
  if (n > 2) b[n / 2] = (uint8_t)(tag ^ 0x5a);
}
static inline int check_block(const void *p, size_t n, uint8_t tag) {
  const uint8_t *b = p;
  return b[0] == tag && b[n - 1] == (uint8_t)~tag && (n <= 2 || b[n / 2] == (uint8_t)(tag ^ 0x5a));
}
static inline void bench_fail(const char *name, const char *what) {
  fprintf(stderr, "%s: FAILED: %s\n", name, what);
  exit(1);
}
#endif
