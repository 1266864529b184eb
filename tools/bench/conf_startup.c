/* conf_startup.c — what the policy costs a program at start: read, parse,
 * check and compile a policy file of N rules into the route table, as the
 * preload's constructor does. Prints the median of 200 runs in microseconds.
 * Usage: conf_startup [rules]   (links libumacore.a; make bench builds it) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "../../policy/policy.h"

static pol_config_t cfg;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int rules = argc > 1 ? atoi(argv[1]) : 100;
  char path[] = "/tmp/uma-conf-startup-XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "[purge]\ndelay = 500ms\n[large]\ncache_max = 64M\n");
  for (int i = 0; i < rules; i++)   /* disjoint size bands, a caller on every fourth */
    fprintf(f, "\n[rule r%d]\n# band %d\nsize = %dK..%dK\n%shugepages = %s\ntrack = %s\n", i, i, 64 * (i + 1),
            64 * (i + 1) + 63, i % 4 == 0 ? "caller = libexample*.so*\n" : "", i % 2 ? "always" : "never",
            i % 3 ? "yes" : "no");
  fclose(f);
  enum { RUNS = 200 };
  double t[RUNS];
  uma_free(uma_malloc(1));
  for (int r = 0; r < RUNS; r++) {
    double t0 = now_us();
    pol_load(&cfg, path);
    pol_apply(&cfg);
    t[r] = now_us() - t0;
    if (cfg.error_count) {
      pol_write_diags(&cfg, 2);
      return 1;
    }
  }
  remove(path);
  qsort(t, RUNS, sizeof t[0], cmp);
  printf("conf_startup: %d rules: median %.1f us, p90 %.1f us (load, parse, check, compile)\n", rules,
         t[RUNS / 2], t[RUNS * 9 / 10]);
  return 0;
}
