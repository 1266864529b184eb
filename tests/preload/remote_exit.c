/* remote_exit — 100 MiB of small blocks made by main; 4 threads free half
 * of them (frees into another thread's heap) and exit; the report's "in
 * use" at exit must be the 50 MiB still live, not live plus frees still in
 * transit (tests/preload/run-all, t_report_in_use). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N (100 * 1024)   /* blocks of 1 KiB */
static char *blocks[N];

static void *worker(void *arg) {
  long k = (long)arg;
  for (long i = k; i < N; i += 8) {   /* 4 threads x every 8th: half the blocks */
    free(blocks[i]);
    blocks[i] = NULL;
  }
  return NULL;
}

int main(void) {
  for (long i = 0; i < N; i++) {
    blocks[i] = malloc(1000);
    memset(blocks[i], 3, 1000);
  }
  pthread_t t[4];
  for (long k = 0; k < 4; k++) pthread_create(&t[k], NULL, worker, (void *)(k * 2));
  for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
  long live = 0;
  for (long i = 0; i < N; i++) live += blocks[i] != NULL;
  printf("remote_exit: %ld live\n", live);
  return 0;
}
