/* report_race.c — the heap walk behind the report against threads that map
 * and unmap memory as fast as they can: workers allocate and free small,
 * medium and large blocks (with UMA_PURGE_DELAY=0 every empty segment and
 * large block is unmapped at once), while a walker thread calls
 * malloc_stats() (a full walk) in a loop. Then a worker calls exit() while
 * the others still run: the exit report must still be written.
 * Prints "report_race: OK walks=N" before exiting with 0. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

static atomic_int walks, stop;

static void *walker(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    malloc_stats();
    atomic_fetch_add(&walks, 1);
  }
  return NULL;
}

static void *worker(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  static const size_t sizes[] = { 24, 700, 5000, 40000, 300000, 3 << 20 };
  for (;;) {
    char *p[32];
    for (int i = 0; i < 32; i++) {
      size_t n = sizes[rand_r(&seed) % 6];
      p[i] = malloc(n);
      if (!p[i]) { fprintf(stderr, "report_race: malloc failed\n"); exit(1); }
      memset(p[i], i, n < 4096 ? n : 4096);
    }
    for (int i = 0; i < 32; i++) {
      if (p[i][0] != (char)i) { fprintf(stderr, "report_race: block corrupted\n"); exit(1); }
      free(p[i]);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 2;
  pthread_t w, t[4];
  pthread_create(&w, NULL, walker, NULL);
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
  sleep((unsigned)seconds);
  atomic_store(&stop, 1);
  pthread_join(w, NULL);
  printf("report_race: OK walks=%d\n", atomic_load(&walks));
  fflush(stdout);
  exit(0);   /* the workers are still allocating */
}
