/* latency.c — nanoseconds per malloc+free pair, one thread, for each size
 * from 16 B to 64 KiB: "tight" frees each block at once; "shuffled" keeps
 * 1000 blocks live and replaces a random one per pair. The allocator is
 * chosen by LD_PRELOAD. Prints one line per size: "latency SIZE TIGHT SHUFFLED".
 * A warm-up of every size runs first, untimed: the figures are steady-state
 * costs, not the allocator's start-up (reading a policy, finding the
 * machine's topology) charged to whichever size happens to come first. */
#include <time.h>
#include "bench.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  long pairs = (long)(2000000 * a.scale) + 1000;
  for (size_t size = 16; size <= 65536; size *= 4)
    for (int i = 0; i < 10000; i++) {
      char *volatile p = malloc(size);
      p[0] = 1;
      free(p);
    }
  for (size_t size = 16; size <= 65536; size *= 4) {
    double t0 = now_ns();
    for (long i = 0; i < pairs; i++) {
      char *volatile p = malloc(size);
      p[0] = 1;
      free(p);
    }
    double t1 = now_ns();
    enum { LIVE = 1000 };
    char *live[LIVE] = { 0 };
    rng_t r = rng_seed(size);
    for (int k = 0; k < LIVE; k++) live[k] = malloc(size);
    double t2 = now_ns();
    for (long i = 0; i < pairs; i++) {
      unsigned k = (unsigned)(rng_next(&r) % LIVE);
      free(live[k]);
      live[k] = malloc(size);
      live[k][0] = 1;
    }
    double t3 = now_ns();
    for (int k = 0; k < LIVE; k++) free(live[k]);
    printf("latency %zu %.2f %.2f\n", size, (t1 - t0) / pairs, (t3 - t2) / pairs);
  }
  return 0;
}
