/* stats.c — totals across heaps for uma_stats_get() and the exit summary.
 * Each heap counts its own allocations and frees without locked
 * instructions; readers sum all heaps (racy but never torn). Frees by a
 * thread with no heap land in the process-wide "orphan" counters. */
#include "base.h"
#include "decay.h"
#include "heap.h"
#include "os.h"
#include "size_class.h"
#include "stats.h"
#include "tlsf.h"
#include <string.h>

_Atomic uint64_t stats_heaps_created, stats_heaps_abandoned_total, stats_heaps_adopted, stats_heaps_rehomed;
static _Atomic uint64_t orphan_free_count[UMA_CLASS_COUNT];
static _Atomic uint64_t orphan_large_frees, orphan_large_freed_bytes;
static _Atomic uint64_t peak_live_bytes;
static _Atomic uint64_t last_sample_ms;

/* cls == UMA_CLASS_COUNT: a large block of `large_bytes`. */
void stats_orphan_free(unsigned cls, size_t large_bytes) {
  if (cls < UMA_CLASS_COUNT) {
    atomic_fetch_add_explicit(&orphan_free_count[cls], 1, memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(&orphan_large_frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&orphan_large_freed_bytes, large_bytes, memory_order_relaxed);
  }
}

static uint64_t rd(const uint64_t *field) {
  return atomic_load_explicit((_Atomic uint64_t *)field, memory_order_relaxed);
}

/* Per class and for large blocks, summed over every heap and the orphan
 * counters. */
void stats_totals(uma_totals_t *t) {
  memset(t, 0, sizeof *t);
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++)
    t->frees[c] = atomic_load_explicit(&orphan_free_count[c], memory_order_relaxed);
  t->large_frees = atomic_load_explicit(&orphan_large_frees, memory_order_relaxed);
  t->large_freed = atomic_load_explicit(&orphan_large_freed_bytes, memory_order_relaxed);
  for (uma_heap_t *h = atomic_load_explicit(&heap_all, memory_order_acquire); h; h = h->all_next) {
    for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) {
      t->allocs[c] += rd(&h->tcache[c].allocs);
      t->requested[c] += tcache_requested(&h->tcache[c]);
      t->frees[c] += rd(&h->tcache[c].frees);
    }
    t->large_requested += rd(&h->stats.large_requested);
    t->large_allocs += rd(&h->stats.large_allocs);
    t->large_bytes += rd(&h->stats.large_bytes);
    t->large_frees += rd(&h->stats.large_frees);
    t->large_freed += rd(&h->stats.large_freed_bytes);
    t->large_remaps += rd(&h->stats.large_remaps);
  }
  tlsf_counters_sum(&t->tlsf);
}

/* Frees by other threads may be counted before the matching allocation is
 * seen, so differences are clamped at zero. */
static void stats_sum_of(const uma_totals_t *t, uma_stats_t *out) {
  memset(out, 0, sizeof *out);
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) {
    out->allocs += t->allocs[c];
    out->frees += t->frees[c];
    out->bytes_requested += t->requested[c];
    if (c >= tlsf_first_class) continue;   /* served by the coalescing pool: counted below */
    out->bytes_served += t->allocs[c] * sc_size(c);
    if (t->allocs[c] > t->frees[c]) {
      out->live_blocks += t->allocs[c] - t->frees[c];
      out->live_bytes += (t->allocs[c] - t->frees[c]) * sc_size(c);
    }
  }
  out->frees += t->tlsf.frees;
  out->bytes_served += t->tlsf.bytes;
  if (t->tlsf.allocs > t->tlsf.frees) out->live_blocks += t->tlsf.allocs - t->tlsf.frees;
  if (t->tlsf.bytes > t->tlsf.freed_bytes) out->live_bytes += t->tlsf.bytes - t->tlsf.freed_bytes;
  out->allocs += t->large_allocs;
  out->frees += t->large_frees;
  out->bytes_requested += t->large_requested;
  out->bytes_served += t->large_bytes;
  out->large_allocs = t->large_allocs;
  out->large_remaps = t->large_remaps;
  if (t->large_allocs > t->large_frees) out->live_blocks += t->large_allocs - t->large_frees;
  if (t->large_bytes > t->large_freed) out->live_bytes += t->large_bytes - t->large_freed;
}

static void stats_sum(uma_stats_t *out) {
  uma_totals_t t;
  stats_totals(&t);
  stats_sum_of(&t, out);
}

/* ---- the footprint -------------------------------------------------------- */
_Atomic uint64_t stats_committed, stats_peak_committed;
stats_observers_t stats_observers;

/* [limits] heap: the quota on P, checked where the heap maps more
 * (segments, large mappings, the coalescing pool's segments); limits.c
 * reports it and raises its alarms. */
uint64_t stats_heap_limit;
_Atomic uint64_t stats_heap_refusals;

/* more: what the new mapping commits at once (a large block: all of it; a
 * segment: 0, it commits page by page — it may be mapped while P is under
 * the quota, which P may then pass by what its pages take). */
bool stats_heap_allows(size_t more) {
  if (stats_heap_limit == 0) return true;
  uint64_t p = atomic_load_explicit(&stats_committed, memory_order_relaxed);
  if (more ? p + more <= stats_heap_limit : p < stats_heap_limit) return true;
  atomic_fetch_add_explicit(&stats_heap_refusals, 1, memory_order_relaxed);
  return false;
}
_Atomic uint64_t stats_peak_walks;

void stats_commit(int64_t delta) {
  uint64_t now = atomic_fetch_add_explicit(&stats_committed, (uint64_t)delta, memory_order_relaxed) + (uint64_t)delta;
  if (delta <= 0) return;
  uint64_t peak = atomic_load_explicit(&stats_peak_committed, memory_order_relaxed);
  while (now > peak && !atomic_compare_exchange_weak_explicit(&stats_peak_committed, &peak, now,
                                                              memory_order_relaxed, memory_order_relaxed)) {}
  if (now > peak && stats_observers.new_peak) stats_observers.new_peak(now);
}

static void peak_update(uint64_t live) {
  uint64_t peak = atomic_load_explicit(&peak_live_bytes, memory_order_relaxed);
  while (live > peak &&
         !atomic_compare_exchange_weak_explicit(&peak_live_bytes, &peak, live,
                                                memory_order_relaxed, memory_order_relaxed)) {}
}

/* Called on page refills and large allocations: live bytes only grow past a
 * peak through these. At most once per clock tick, since summing every heap
 * costs O(heaps × classes). */
void stats_sample_peak(uma_heap_t *heap) {
  uint64_t now = os_now_ms();
  if (stats_observers.sample) stats_observers.sample(now, heap);
  if (atomic_exchange_explicit(&last_sample_ms, now, memory_order_relaxed) == now) return;
  uma_stats_t s;
  stats_sum(&s);
  peak_update(s.live_bytes);
}

/* The public counters from one snapshot of the totals, so a report's
 * per-class figures add up to its totals while threads keep allocating. */
void stats_get_from(const uma_totals_t *t, uma_stats_t *out) {
  stats_sum_of(t, out);
  peak_update(out->live_bytes);
  out->peak_live_bytes = atomic_load_explicit(&peak_live_bytes, memory_order_relaxed);
  out->mapped_bytes = atomic_load_explicit(&os_mapped_bytes, memory_order_relaxed);
  out->peak_mapped_bytes = atomic_load_explicit(&os_peak_mapped_bytes, memory_order_relaxed);
  out->purged_bytes = atomic_load_explicit(&os_purged_bytes, memory_order_relaxed);
  out->heaps_created = atomic_load_explicit(&stats_heaps_created, memory_order_relaxed);
  out->heaps_abandoned = atomic_load_explicit(&stats_heaps_abandoned_total, memory_order_relaxed);
  out->heaps_adopted = atomic_load_explicit(&stats_heaps_adopted, memory_order_relaxed);
  out->purged_in_use_bytes = atomic_load_explicit(&page_decay_bytes, memory_order_relaxed);
  out->purge_passes = atomic_load_explicit(&decay_passes, memory_order_relaxed);
}

void uma_stats_get(uma_stats_t *out) {
  uma_totals_t t;
  stats_totals(&t);
  stats_get_from(&t, out);
}
