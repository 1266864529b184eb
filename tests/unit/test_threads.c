/* Threads: frees from other threads reach the owner without a lock; an
 * exited thread's heap is handed back and adopted by the next thread; blocks
 * of an exited thread can still be freed. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include "uma.h"

#define N 20000
static void *blocks[N];

static void *alloc_all(void *arg) {
  size_t size = (size_t)(uintptr_t)arg;
  for (int i = 0; i < N; i++) {
    blocks[i] = uma_malloc(size);
    memset(blocks[i], i & 0xff, size);
  }
  return NULL;
}

static void *free_all(void *arg) {
  if (arg) uma_free(uma_malloc(16));   /* with an argument: this thread gets a heap first */
  for (int i = 0; i < N; i++) {
    unsigned char *p = blocks[i];
    if (p[0] != (i & 0xff)) return (void *)1;
    uma_free(p);
  }
  return NULL;
}

static void run(void *(*fn)(void *), void *arg, void **ret) {
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
  pthread_join(t, ret);
}

Test(threads, cross_thread_free_returns_every_block) {
  uma_stats_t before, after;
  uma_stats_get(&before);
  alloc_all((void *)(uintptr_t)48);   /* this thread owns them */
  void *ret;
  run(free_all, NULL, &ret);          /* another thread frees them */
  cr_assert_null(ret, "a block's contents changed");
  uma_collect(false);                 /* the owner takes the remote frees in */
  uma_stats_get(&after);
  cr_assert_eq(after.allocs - before.allocs, N);
  cr_assert_eq(after.frees - before.frees, N);
  cr_assert_eq(after.live_bytes, before.live_bytes);
  /* The owner reuses the same memory: no new mapping for the same work. */
  uint64_t mapped = after.mapped_bytes;
  alloc_all((void *)(uintptr_t)48);
  uma_stats_get(&after);
  cr_assert_leq(after.mapped_bytes, mapped);
  free_all(NULL);
}

Test(threads, exited_thread_heap_is_handed_back_and_adopted) {
  uma_stats_t s0, s1, s2;
  uma_stats_get(&s0);
  run(alloc_all, (void *)(uintptr_t)100, NULL);   /* exits holding N live blocks */
  uma_stats_get(&s1);
  cr_assert_eq(s1.heaps_created, s0.heaps_created + 1);
  cr_assert_eq(s1.heaps_abandoned, s0.heaps_abandoned + 1, "the exited thread's heap was not handed back");
  void *ret;
  run(free_all, (void *)1, &ret);   /* a new thread adopts that heap and frees its blocks */
  cr_assert_null(ret);
  uma_stats_get(&s2);
  cr_assert_eq(s2.heaps_created, s1.heaps_created, "a new heap was made instead of adopting");
  cr_assert_eq(s2.heaps_adopted, s1.heaps_adopted + 1);
  cr_assert_eq(s2.live_blocks, s0.live_blocks);
  cr_assert_eq(s2.heaps_abandoned, s1.heaps_abandoned, "the adopting thread exited and handed it back again");
}

static void *churn(void *arg) {
  for (int i = 0; i < 2000; i++) {
    int slot = (int)(((uintptr_t)arg * 7919 + (unsigned)i * 104729) % N);
    void *p = __atomic_exchange_n(&blocks[slot], uma_malloc((size_t)(i % 700) + 1), __ATOMIC_ACQ_REL);
    uma_free(p);
  }
  return NULL;
}

Test(threads, threads_exit_while_others_free_their_blocks) {
  memset(blocks, 0, sizeof blocks);
  for (int round = 0; round < 10; round++) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(round * 4 + i));
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  }
  for (int i = 0; i < N; i++) uma_free(blocks[i]);
  uma_stats_t s;
  uma_collect(true);
  uma_stats_get(&s);
  cr_assert_eq(s.allocs, s.frees, "every block was freed once");
}
