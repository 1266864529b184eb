/* realloc_grow.c — a buffer grown by realloc from 1 KiB to 512 MiB in
 * doubling steps (issue 8: reallocation that moves pages, not bytes), once
 * per run (--scale below 0.5, as in make bench-quick: to 256 MiB). Every
 * step writes the new half, and a sample of the old contents is checked
 * after each move. Prints "realloc_grow: OK realloc_ms=…": the time spent
 * inside realloc alone, the part the allocator decides (the suite's wall
 * time adds the writes every allocator pays alike). */
#include "bench.h"
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  /* One growth to 1 GiB cost a copying allocator 4-8 s on 2 cores: to
   * 512 MiB, make bench stays within its 10 minutes. */
  int reps = 1;
  size_t top = a.scale < 0.5 ? (size_t)1 << 28 : (size_t)1 << 29;
  double in_realloc = 0;
  for (int rep = 0; rep < reps; rep++) {
    size_t n = 1024;
    uint8_t *buf = malloc(n);
    memset(buf, rep + 1, n);
    while (n < top) {
      double t0 = now_ms();
      uint8_t *grown = realloc(buf, 2 * n);
      in_realloc += now_ms() - t0;
      if (grown == NULL) bench_fail("realloc_grow", "realloc returned NULL");
      for (size_t off = 0; off < n; off += n / 16 + 1)
        if (grown[off] != (uint8_t)(rep + 1)) bench_fail("realloc_grow", "realloc lost contents");
      memset(grown + n, rep + 1, n);
      buf = grown;
      n *= 2;
    }
    free(buf);
  }
  printf("realloc_grow: OK realloc_ms=%.1f\n", in_realloc);
  return 0;
}
