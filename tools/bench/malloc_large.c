/* malloc_large.c — big blocks: 5–25 MiB allocated, partly written, kept in
 * a small window and freed (after mimalloc-bench's malloc-large); then a
 * buffer grown by realloc from 1 KiB to 64 MiB in 1.5x steps, its contents
 * checked after each move. Prints "malloc_large: OK". */
#include "bench.h"

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  rng_t r = rng_seed(42);
  enum { WINDOW = 20 };
  char *win[WINDOW] = { 0 };
  size_t sz[WINDOW] = { 0 };
  long steps = (long)(400 * a.scale) + 1;
  for (long i = 0; i < steps; i++) {
    int k = (int)(rng_next(&r) % WINDOW);
    if (win[k]) {
      if (!check_block(win[k], sz[k], (uint8_t)k)) bench_fail("malloc_large", "block contents changed");
      free(win[k]);
    }
    sz[k] = (5u << 20) + rng_next(&r) % (20u << 20);
    win[k] = malloc(sz[k]);
    for (size_t off = 0; off < sz[k]; off += 4096 * 16) win[k][off] = 1;   /* touch every 16th page */
    fill_block(win[k], sz[k], (uint8_t)k);
  }
  for (int k = 0; k < WINDOW; k++) free(win[k]);
  for (int rep = 0; rep < (int)(2 * a.scale) + 1; rep++) {
    size_t n = 1024;
    char *buf = malloc(n);
    memset(buf, 7, n);
    while (n < (64u << 20)) {
      size_t next = n + n / 2;
      buf = realloc(buf, next);
      if (buf[n - 1] != 7 || buf[0] != 7) bench_fail("malloc_large", "realloc lost contents");
      memset(buf + n, 7, next - n);
      n = next;
    }
    free(buf);
  }
  printf("malloc_large: OK\n");
  return 0;
}
