/* report_peak — blocks of one size (argv[1]) filling 150 MiB, all freed,
 * and the program exits: the report's peak snapshot must show the 150 MiB
 * in use (tests/preload/run-all, t_report_peak). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  size_t size = argc > 1 ? strtoul(argv[1], NULL, 0) : 1024, n = (150u << 20) / size;
  char **v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    v[i] = malloc(size);
    memset(v[i], 1, size);
  }
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
  printf("report_peak: %zu blocks of %zu\n", n, size);
  return 0;
}
