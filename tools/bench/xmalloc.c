/* xmalloc.c — producers only allocate, consumers only free (after xmalloc-
 * test): blocks travel through a bounded queue per pair. Sizes 8..512 B.
 * Prints "xmalloc: OK". */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "bench.h"

#define QSIZE 4096
typedef struct {
  void *_Atomic slot[QSIZE];
  _Alignas(64) atomic_ulong head;   /* next slot the producer fills */
  _Alignas(64) atomic_ulong tail;   /* next slot the consumer empties */
  long count;
} queue_t;

static void *producer(void *arg) {
  queue_t *q = arg;
  rng_t r = rng_seed((uintptr_t)q);
  for (long i = 0; i < q->count; i++) {
    size_t n = 8 + rng_next(&r) % 505;
    unsigned char *p = malloc(n);
    p[0] = (unsigned char)n;
    p[1] = (unsigned char)(n >> 8);
    p[n - 1] = 0xA5;
    unsigned long h = atomic_load_explicit(&q->head, memory_order_relaxed);
    while (h - atomic_load_explicit(&q->tail, memory_order_acquire) >= QSIZE) sched_yield();
    atomic_store_explicit(&q->slot[h % QSIZE], p, memory_order_relaxed);
    atomic_store_explicit(&q->head, h + 1, memory_order_release);
  }
  return NULL;
}

static void *consumer(void *arg) {
  queue_t *q = arg;
  for (long i = 0; i < q->count; i++) {
    unsigned long t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    while (atomic_load_explicit(&q->head, memory_order_acquire) == t) sched_yield();
    unsigned char *p = atomic_load_explicit(&q->slot[t % QSIZE], memory_order_relaxed);
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    size_t n = p[0] | (size_t)p[1] << 8;
    if (n < 8 || n > 512 || p[n - 1] != 0xA5) bench_fail("xmalloc", "block contents changed");
    free(p);
  }
  return NULL;
}

int main(int argc, char **argv) {
  bench_args_t a = bench_args(argc, argv);
  int pairs = a.threads > 1 ? a.threads / 2 : 1;
  queue_t *q = aligned_alloc(64, sizeof(queue_t) * (size_t)pairs);
  memset(q, 0, sizeof(queue_t) * (size_t)pairs);
  pthread_t th[512];
  for (int i = 0; i < pairs; i++) {
    q[i].count = (long)(1500000 * a.scale / pairs) + 1;
    pthread_create(&th[2 * i], NULL, producer, &q[i]);
    pthread_create(&th[2 * i + 1], NULL, consumer, &q[i]);
  }
  for (int i = 0; i < 2 * pairs; i++) pthread_join(th[i], NULL);
  free(q);
  printf("xmalloc: OK pairs=%d\n", pairs);
  return 0;
}
