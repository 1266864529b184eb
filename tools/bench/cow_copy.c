/* cow_copy — what a large memcpy costs, with what the program does after:
 * reads every page, writes every page, writes a few pages, or nothing; into
 * a fresh destination (malloc'd for the copy, as realloc, bytes(x) or a
 * tensor clone make) or one already in memory. Run under each allocator
 * (tools/bench/cow-bench): with alias = cow the copy shares pages and the
 * cost moves to the first touch of each page. Checks every page it reads.
 * Prints "cow_copy DEST AFTER MiB ms" lines (median of the rounds).
 * Usage: cow_copy MIB [ROUNDS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
static int by_value(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 64, n = mib << 20;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  const char *after_names[] = { "nothing", "read-all", "write-few", "write-all" };
  uint8_t *src = malloc(n);
  for (size_t i = 0; i < n; i++) src[i] = (uint8_t)(i * 7 + (i >> 12));
  for (int fresh = 1; fresh >= 0; fresh--)
    for (int after = 0; after < 4; after++) {
      double t[32];
      uint8_t *keep = fresh ? NULL : malloc(n);
      if (keep) memset(keep, 1, n);
      for (int r = 0; r < rounds && r < 32; r++) {
        uint8_t *dst = fresh ? malloc(n) : keep;
        double t0 = now_ms();
        memcpy(dst, src, n);
        uint64_t sum = 0;
        if (after == 1)
          for (size_t i = 0; i < n; i += 4096) sum += dst[i];
        if (after == 2)
          for (size_t i = 0; i < n; i += n / 8) dst[i] ^= 1;
        if (after == 3)
          for (size_t i = 0; i < n; i += 4096) dst[i] ^= 1;
        t[r] = now_ms() - t0;
        for (size_t i = 0; i < n; i += 4096)   /* outside the timing: every page holds the source's bytes */
          if ((dst[i] ^ (after >= 2 && (after == 3 || i % (n / 8) == 0))) != src[i] || dst[i + 4095] != src[i + 4095]) {
            printf("cow_copy: page %zu of the copy is wrong\n", i / 4096);
            return 1;
          }
        if (sum == 42) puts("");
        if (fresh) free(dst);
      }
      free(keep);
      qsort(t, (size_t)rounds, sizeof t[0], by_value);
      printf("cow_copy %s %s %zu %.3f\n", fresh ? "fresh" : "resident", after_names[after], mib, t[rounds / 2]);
    }
  free(src);
  return 0;
}
