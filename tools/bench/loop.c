/* loop.c — the simplest allocator benchmark: malloc+free pairs in a tight
 * loop (sizes cycling through 16 B … 1 KiB), and a shuffled loop that keeps
 * 1000 blocks live and frees them in pseudo-random order. Prints
 * "loop: ns_per_pair tight=X shuffled=Y checksum=Z"; the allocator is chosen
 * by LD_PRELOAD (tools/bench/run). Usage: loop [pairs] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long pairs = argc > 1 ? atol(argv[1]) : 20000000;
  uint64_t checksum = 0;
  double t0 = now_ns();
  for (long i = 0; i < pairs; i++) {
    size_t size = 16 + (size_t)(i & 63) * 16;
    char *volatile p = malloc(size);
    p[0] = (char)i;
    checksum += (uint8_t)p[0];
    free(p);
  }
  double t1 = now_ns();
  enum { LIVE = 1000 };
  char *live[LIVE] = { 0 };
  uint64_t s = 88172645463325252ULL;
  for (long i = 0; i < pairs; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    unsigned slot = (unsigned)(s % LIVE);
    free(live[slot]);
    live[slot] = malloc(16 + (size_t)((s >> 20) & 63) * 16);
    live[slot][0] = (char)i;
    checksum += (uint8_t)live[slot][0];
  }
  double t2 = now_ns();
  for (int i = 0; i < LIVE; i++) free(live[i]);
  printf("loop: ns_per_pair tight=%.2f shuffled=%.2f checksum=%llu\n", (t1 - t0) / pairs, (t2 - t1) / pairs,
         (unsigned long long)checksum);
  return 0;
}
