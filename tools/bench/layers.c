/* layers.c — a training loop's host memory, repeated: each step runs a
 * forward pass over 16 layers whose activations have different sizes (1–24
 * MiB; each kept until the backward pass, plus a workspace per layer that
 * lives for the layer), then a backward pass in reverse that makes a
 * gradient per layer and frees the activation. Every buffer is written
 * where it is used and checked before it is freed. The pattern is the same
 * each step: what [plan] host = auto recognises and packs. Prints
 * "layers: OK" and the checksum. Single-threaded. */
#include "bench.h"

enum { LAYERS = 16 };

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  rng_t r = rng_seed(7);
  size_t act_size[LAYERS], work_size[LAYERS];
  for (int l = 0; l < LAYERS; l++) {
    act_size[l] = (1u << 20) + rng_next(&r) % (23u << 20);
    work_size[l] = (1u << 20) + rng_next(&r) % (8u << 20);
  }
  int steps = (int)(2 * a.scale) + 2;   /* 4 steps at scale 1: a page fault costs 3-4 us on this VM */
  uint64_t sum = 0;
  uint8_t *act[LAYERS];
  for (int s = 0; s < steps; s++) {
    for (int l = 0; l < LAYERS; l++) {
      act[l] = malloc(act_size[l]);
      uint8_t *work = malloc(work_size[l]);
      if (!act[l] || !work) bench_fail("layers", "out of memory");
      for (size_t i = 0; i < work_size[l]; i += 4096) work[i] = (uint8_t)(i >> 12);
      for (size_t i = 0; i < act_size[l]; i += 4096) act[l][i] = (uint8_t)(l + s + work[((i >> 12) % (work_size[l] >> 12)) << 12]);
      fill_block(act[l], act_size[l], (uint8_t)(l * 3 + s));
      free(work);
    }
    uint8_t *grad = NULL;
    for (int l = LAYERS - 1; l >= 0; l--) {
      if (!check_block(act[l], act_size[l], (uint8_t)(l * 3 + s))) bench_fail("layers", "an activation changed");
      uint8_t *g = malloc(act_size[l]);
      if (!g) bench_fail("layers", "out of memory");
      for (size_t i = 4096; i < act_size[l] - 4096; i += 4096) g[i] = (uint8_t)(act[l][i] ^ (grad ? grad[4096] : 0));
      sum += g[act_size[l] / 2 / 4096 * 4096];
      free(grad);
      free(act[l]);
      grad = g;
    }
    free(grad);
  }
  printf("layers: OK %llu\n", (unsigned long long)sum);
  return 0;
}
