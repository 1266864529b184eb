/* frag_medium.c — fragmentation in the 64 KiB – 512 KiB range (buffers,
 * pages of databases, decoded images): ramp up to a peak, free a random
 * 90 %, then allocate a different size mix into the holes, and repeat.
 * Blocks are written whole, as programs write their buffers, so peak RSS
 * measures the holes each allocator leaves. Prints "frag_medium: OK". */
#include "bench.h"
#include <string.h>

#define N 1200

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  rng_t r = rng_seed(11);
  static char *blk[N];
  static uint32_t sz[N];
  int phases = (int)(6 * a.scale) + 1;
  for (int phase = 0; phase < phases; phase++) {
    size_t lo = phase % 2 ? 160 << 10 : 65 << 10, span = phase % 2 ? 352 << 10 : 128 << 10;
    for (int i = 0; i < N; i++) {
      if (blk[i]) continue;
      sz[i] = (uint32_t)(lo + rng_next(&r) % span);
      blk[i] = malloc(sz[i]);
      if (!blk[i]) bench_fail("frag_medium", "malloc returned NULL");
      memset(blk[i], (int)(i & 0xff), sz[i]);
      fill_block(blk[i], sz[i], (uint8_t)i);
    }
    for (int i = 0; i < N; i++)
      if (blk[i] && rng_next(&r) % 10) {
        if (!check_block(blk[i], sz[i], (uint8_t)i)) bench_fail("frag_medium", "block contents changed");
        free(blk[i]);
        blk[i] = NULL;
      }
  }
  for (int i = 0; i < N; i++) free(blk[i]);
  printf("frag_medium: OK phases=%d\n", phases);
  return 0;
}
