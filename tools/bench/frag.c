/* frag.c — fragmentation, the pattern long-running services show: ramp up
 * to a peak of small and medium blocks, free a random 90 %, then allocate a
 * different size mix, and repeat. Peak RSS is the measure that matters.
 * Prints "frag: OK". */
#include "bench.h"

#define N 400000

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  rng_t r = rng_seed(7);
  char **blk = calloc(N, sizeof *blk);
  uint32_t *sz = calloc(N, sizeof *sz);
  int phases = (int)(3 * a.scale) + 1;
  for (int phase = 0; phase < phases; phase++) {
    size_t lo = phase % 2 ? 24 : 200, span = phase % 2 ? 180 : 3000;   /* alternate size mixes */
    for (int i = 0; i < N; i++) {
      if (blk[i]) continue;
      sz[i] = (uint32_t)(lo + rng_next(&r) % span);
      blk[i] = malloc(sz[i]);
      fill_block(blk[i], sz[i], (uint8_t)i);
    }
    for (int i = 0; i < N; i++)
      if (blk[i] && rng_next(&r) % 10) {   /* free 90 %, the survivors scattered */
        if (!check_block(blk[i], sz[i], (uint8_t)i)) bench_fail("frag", "block contents changed");
        free(blk[i]);
        blk[i] = NULL;
      }
  }
  for (int i = 0; i < N; i++) free(blk[i]);
  free(blk);
  free(sz);
  printf("frag: OK phases=%d\n", phases);
  return 0;
}
