/* stats.h — counters and the footprint (stats.c). */
#ifndef UMA_STATS_H
#define UMA_STATS_H
#include "base.h"
#include "heap.h"
#include "tlsf.h"

/* A counter one thread writes and others read racily: no locked instruction. */
#if defined(__x86_64__)
/* One `add` to memory: an aligned 8-byte store is never torn, and the asm
 * keeps the compiler from splitting it into load, add and store (three
 * instructions on the fast path, as the relaxed atomics below compile). */
#define STAT_ADD(field, n) __asm__ volatile("addq %1, %0" : "+m"(field) : "er"((uint64_t)(n)))
#else
#define STAT_ADD(field, n) \
  atomic_store_explicit((_Atomic uint64_t *)&(field), \
    atomic_load_explicit((_Atomic uint64_t *)&(field), memory_order_relaxed) + (n), memory_order_relaxed)
#endif
UMA_HIDDEN void stats_sample_peak(uma_heap_t *heap);
/* Who watches the counters, registered by the report's parts as they start
 * (frag.c, timeline.c): the allocator calls them and names none. NULL:
 * nobody watches. */
typedef struct stats_observers_s {
  void (*new_peak)(uint64_t committed);           /* the footprint passed its peak (stats_commit) */
  void (*sample)(uint64_t now_ms, uma_heap_t *h);  /* a refill or a large allocation (stats_sample_peak) */
  void (*after_slow_path)(void);                  /* end of an allocation slow path, outside any lock */
} stats_observers_t;
UMA_HIDDEN extern stats_observers_t stats_observers;
/* [limits] heap (0: none): P may not pass it where the heap maps more. */
UMA_HIDDEN extern uint64_t stats_heap_limit;
UMA_HIDDEN extern _Atomic uint64_t stats_heap_refusals;
UMA_HIDDEN bool stats_heap_allows(size_t more);   /* before the heap maps more */
UMA_HIDDEN extern _Atomic uint64_t stats_peak_walks;   /* walks taken at a new peak (frag.c counts them) */
typedef struct uma_totals_s {
  uint64_t allocs[UMA_CLASS_COUNT], frees[UMA_CLASS_COUNT], requested[UMA_CLASS_COUNT];
  uint64_t large_allocs, large_bytes, large_frees, large_freed, large_requested, large_remaps;
  tlsf_counters_t tlsf;
} uma_totals_t;
UMA_HIDDEN void stats_totals(uma_totals_t *t);
UMA_HIDDEN void stats_get_from(const uma_totals_t *t, uma_stats_t *out);
UMA_HIDDEN void stats_orphan_free(unsigned cls, size_t large_bytes);
UMA_HIDDEN extern _Atomic uint64_t stats_heaps_created, stats_heaps_abandoned_total, stats_heaps_adopted, stats_heaps_rehomed;

/* ---- the footprint: bytes of our mappings that may be resident (stats.c) */
/* Segment headers, pages handed out or dirty, large mappings; purged and
 * never-touched pages do not count. Its peak is the report's P. */
UMA_HIDDEN extern _Atomic uint64_t stats_committed, stats_peak_committed;
UMA_HIDDEN void stats_commit(int64_t delta);

#endif
