/* heap.h — thread heaps, their thread caches and the busy flag (heap.c). */
#ifndef UMA_HEAP_H
#define UMA_HEAP_H
#include "base.h"
#include "layout.h"
#include "size_class.h"

typedef struct uma_page_queue_s { uma_page_t *first, *last; } uma_page_queue_t;

/* Per class counters live in the class's cache line (uma_tcache_t). */
typedef struct uma_heap_stats_s {
  uint64_t large_requested;
  uint64_t large_allocs, large_bytes, large_frees, large_freed_bytes, large_remaps;
} uma_heap_stats_t;

/* A thread's heap. Touched only by the thread that owns it, except `delayed`
 * (remote threads push pages) and the stats (read racily for reports).
 * Heaps are never unmapped: an exited thread's heap waits for adoption. */
/* Per class, one cache line: everything malloc's and free's fast paths
 * touch for it. The thread cache is the most recently freed blocks of a
 * class up to 64 KiB, reused first (LIFO, so the next malloc gets a block
 * still in cache): a list threaded through the blocks, as in tcmalloc's
 * thread cache, so a pop is two loads. It holds at most `max` blocks
 * (UMA_TCACHE_BYTES worth, 1–16; 0 for the classes above 64 KiB); `room`
 * = max − blocks held. Its blocks stay counted as used by their pages until
 * flushed back (heap_flush_tcache). The counters are the class's
 * statistics: written by the owner only, read racily by reports. */
#define UMA_TCACHE_MAX_SIZE (64 * 1024UL)         /* every class on pages */
#define UMA_TCACHE_SLOTS   16                     /* the most blocks of one class */
#define UMA_TCACHE_BYTES   (32 * 1024UL)          /* per class, above 2 KiB blocks */
typedef struct __attribute__((aligned(64))) uma_tcache_s {
  /* The first 16 bytes hold nothing the fast paths touch: blocks at a
   * multiple of 64 (page starts, most classes) share those low address bits
   * modulo 4 KiB with a line's start, and a load there would wait on the
   * block just written (4K aliasing; see heap_new_locked). */
  uint32_t max;
  int32_t sample_armed;              /* sample_left when last armed (sample.c) */
  uint64_t tick_allocs;              /* allocs at the last purge tick */
  uma_block_t *head;
  uint32_t room;
  /* Bytes until the next sampled call site. malloc's fast path counts its
   * requests here only (one subtract): the class's requested bytes are
   * `requested` + (sample_armed − sample_left), tcache_requested(). */
  int32_t sample_left;
  uint64_t allocs, requested, frees;
  uma_page_t *page;                  /* the class's queue head, or &page_empty */
} uma_tcache_t;

/* The owner moves the countdown outside the fast path (readers sum it). */
static inline void tcache_sample_give_back(uma_tcache_t *tc, size_t size) {
  __atomic_store_n(&tc->sample_left, __atomic_load_n(&tc->sample_left, __ATOMIC_RELAXED) + (int32_t)size, __ATOMIC_RELAXED);
}
static inline uint64_t tcache_requested(const uma_tcache_t *tc) {
  int64_t armed = __atomic_load_n(&tc->sample_armed, __ATOMIC_RELAXED);
  int64_t left = __atomic_load_n(&tc->sample_left, __ATOMIC_RELAXED);
  return __atomic_load_n(&tc->requested, __ATOMIC_RELAXED) + (uint64_t)(armed - left);
}

/* Every per-class word is in the class's line: the heap is 9.6 KB, three
 * pages with HEAP_OFFSET (four when the current pages and the purge marks
 * were arrays of their own), resident in every thread. */
typedef struct uma_heap_s {
  uma_tcache_t tcache[UMA_CLASS_COUNT];      /* per class: thread cache, current page, counters */
  /* small[sc_small_index(size)] = &tcache[sc_of(size)] for size ≤ 1 KiB:
   * malloc goes from the size to the class's line in one load (sc_small_table's
   * byte, a shift and an add before). Read only after heap_new_locked. */
  uma_tcache_t *small[SC_SMALL_ENTRIES];
  uma_page_queue_t queue[UMA_CLASS_COUNT];
  _Atomic(uma_page_t *) delayed;             /* pages that left the full state */
  uma_segment_t *segs_with_free[SEG_KIND_LARGE];   /* indexed by SEG_KIND_* */
  uint64_t purge_due_ms;
  /* Held by whoever changes the heap's pages and segments outside the fast
   * paths: the owner's slow paths, and the helper thread's decay pass
   * (decay.c), which only ever tries it. See heap_enter. */
  _Atomic uint32_t busy;
  uint64_t timeline_mark;                    /* requested bytes already counted by the timeline */
  int64_t sample_left;                       /* bytes until a sample, for requests off malloc's fast path */
  uma_heap_stats_t stats;
  struct uma_heap_s *all_next;
  struct uma_heap_s *abandoned_next;
  bool abandoned;
  bool sampling;                             /* a sampling heap: its blocks' frees go by sample.c */
  uint8_t node;                              /* its memory's NUMA node (0 on one node) */
  uint8_t away;                              /* slow paths in a row run on another node */
} uma_heap_t;

UMA_HIDDEN extern UMA_TLS uma_heap_t *uma_tls_heap;
UMA_HIDDEN extern uma_page_t page_empty;
UMA_HIDDEN extern _Atomic(uma_heap_t *) heap_all;

UMA_HIDDEN uma_heap_t *heap_get_slow(void);
UMA_HIDDEN void heap_purge_tick(uma_heap_t *heap, bool force);
UMA_HIDDEN void heap_purge_tick_locked(uma_heap_t *heap, bool force);
UMA_HIDDEN void heap_decay(uma_heap_t *heap, uint64_t now_ms, bool force);
UMA_HIDDEN void heap_collect_all(uma_heap_t *heap, bool force);
UMA_HIDDEN bool heap_collect_own_if_free(uma_heap_t *heap);

/* A heap's pages and segments change outside the fast paths only with its
 * `busy` flag held: the owner holds it in every slow path that touches a
 * page other than a class's current one or a segment (refills, frees onto
 * pages, collects, purge ticks); the helper thread's decay pass only tries
 * it (heap_try_enter), so the owner never waits longer than one heap's
 * decay (a few madvise calls). The fast paths take nothing: they touch the
 * thread cache and each class's current page, which the decay pass leaves
 * alone. */
UMA_HIDDEN void heap_enter_wait(uma_heap_t *heap);
static inline void heap_enter(uma_heap_t *heap) {
  if (uma_unlikely(atomic_exchange_explicit(&heap->busy, 1, memory_order_acquire))) heap_enter_wait(heap);
}
static inline bool heap_try_enter(uma_heap_t *heap) {
  return atomic_load_explicit(&heap->busy, memory_order_relaxed) == 0 &&
         !atomic_exchange_explicit(&heap->busy, 1, memory_order_acquire);
}
static inline void heap_leave(uma_heap_t *heap) { atomic_store_explicit(&heap->busy, 0, memory_order_release); }
UMA_HIDDEN void heap_drain_delayed(uma_heap_t *heap);
UMA_HIDDEN void heap_flush_tcache(uma_heap_t *heap);
UMA_HIDDEN void heap_flush_tcache_class(uma_heap_t *heap, unsigned cls);
UMA_HIDDEN uma_heap_t *heap_borrow(void);
UMA_HIDDEN uma_heap_t *heap_borrow_on(int node);
UMA_HIDDEN void heap_return_borrowed(uma_heap_t *heap);
UMA_HIDDEN void heap_fork_prepare(void);
UMA_HIDDEN void heap_fork_parent(void);
UMA_HIDDEN void heap_fork_child(void);
UMA_HIDDEN void heap_collect_abandoned(bool force);
UMA_HIDDEN uma_heap_t *heap_check_home(uma_heap_t *heap);

_Static_assert(offsetof(uma_tcache_t, head) % 64 >= 16 && offsetof(uma_tcache_t, allocs) % 64 >= 16 &&
               offsetof(uma_tcache_t, page) % 64 >= 16 && sizeof(uma_tcache_t) == 64,
               "the thread cache's hot words stay off a line's first 16 bytes, in one line");
_Static_assert(2048 + sizeof(uma_heap_t) <= 3 * UMA_OS_PAGE, "a heap is three pages (heap.c's HEAP_OFFSET)");

#endif
