/* large_churn.c — big blocks in a tight loop: sizes 64 KiB – 32 MiB
 * (log-uniform), each allocated, written whole, checked and freed, with a
 * window of 4 kept alive. What a program that builds a buffer per request
 * does; an allocator that hands back memory the OS must fault in again
 * pays a page fault per 4 KiB on every block. Single-threaded. Prints
 * "large_churn: OK". */
#include "bench.h"

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  enum { WINDOW = 4 };
  long rounds = (long)(400 * a.scale) + 1;
  rng_t r = rng_seed(11);
  char *win[WINDOW] = { 0 };
  size_t sz[WINDOW] = { 0 };
  uint64_t written = 0;
  for (long i = 0; i < rounds; i++) {
    int slot = (int)(rng_next(&r) % WINDOW);
    if (win[slot]) {
      if (!check_block(win[slot], sz[slot], (uint8_t)slot)) bench_fail("large_churn", "a block changed");
      free(win[slot]);
    }
    /* 2^16 .. 2^25 bytes, log-uniform, not page-aligned */
    size_t size = (size_t)1 << (16 + rng_next(&r) % 10);
    size += (size_t)(rng_next(&r) % size);
    char *p = malloc(size);
    if (!p) bench_fail("large_churn", "malloc");
    memset(p, (int)i, size);
    fill_block(p, size, (uint8_t)slot);
    win[slot] = p;
    sz[slot] = size;
    written += size;
  }
  for (int s = 0; s < WINDOW; s++) {
    if (win[s] && !check_block(win[s], sz[s], (uint8_t)s)) bench_fail("large_churn", "a block changed");
    free(win[s]);
  }
  printf("large_churn: OK %llu MiB written\n", (unsigned long long)(written >> 20));
  return 0;
}
