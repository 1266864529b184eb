/* leak — a leak, a churning loop and a big short-lived block, each in a
 * function of its own: uma-report's call sites must name make_record and
 * this file's line (tests/preload/run-all, t_report_sites). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[20000];

__attribute__((noinline)) void *make_record(size_t n) {
  void *p = malloc(n);   /* LEAK-LINE */
  memset(p, 1, n);
  return p;
}

__attribute__((noinline)) void churn(void) {
  for (int i = 0; i < 200000; i++) {
    void *volatile p = malloc(256);
    memset(p, 2, 256);
    free(p);
  }
}

int main(void) {
  for (int i = 0; i < 20000; i++) keep[i] = make_record(512);   /* 10 MB kept to the end */
  churn();
  char *volatile big = malloc(30 << 20);
  memset(big, 3, 30 << 20);
  free(big);
  printf("leak: %d records kept\n", keep[19999] != NULL ? 20000 : 0);
  return 0;
}
