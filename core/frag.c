/* frag.c — the heap walk behind the fragmentation report: for every pool,
 * the bytes in use, the free extents (how many, how big, the largest), what
 * requests of a few sizes could still be served from free space, mapped,
 * resident and metadata bytes. Run at exit, and at each new peak of the
 * footprint (committed bytes) so the report can show the holes at the peak.
 *
 * A free extent is free space as the allocator can use it: a free block of
 * a size class (it serves requests up to its class size only), a run of
 * adjacent empty pages in a segment (any class of that page size), an empty
 * cached segment, a cached large mapping.
 *
 * The walk runs while other threads allocate: it finds mappings through the
 * ownership map (and its handshake with unmapping, owner_map.c), reads
 * headers racily and clamps what it reads, so a header being rewritten can
 * skew a figure but never fault. */
#include "base.h"
#include "fork.h"
#include "frag.h"
#include "layout.h"
#include "numa_report.h"
#include "os.h"
#include "owner_map.h"
#include "page.h"
#include "sample.h"
#include "stats.h"


UMA_TABLE uma_frag_t frag_at_peak, frag_at_exit;
static bool frag_snapshots_on;           /* the report wants the peak snapshot */
static _Atomic bool frag_busy;           /* one walk at a time */
static _Atomic uint64_t frag_next_snapshot;

static void walk_segment(uma_frag_t *out, uma_segment_t *seg, bool resident) {
  uint8_t kind = seg->kind;
  uint8_t shift = kind == SEG_KIND_SMALL ? UMA_SMALL_PAGE_SHIFT : UMA_MEDIUM_PAGE_SHIFT;
  uma_frag_pool_t *pool = &out->pool[kind - SEG_KIND_SMALL];
  unsigned count = (unsigned)(UMA_SEG_SIZE >> shift);
  uint64_t free_mask = seg->free_mask;
  pool->mappings++;
  pool->mapped += UMA_SEG_SIZE;
  pool->metadata += UMA_SEG_HEADER_SIZE;
  if (resident) pool->resident += os_resident(seg, UMA_SEG_SIZE);
  uint64_t run = 0;
  for (unsigned i = 0; i < count; i++) {
    size_t page_bytes = ((size_t)1 << shift) - (i == 0 ? UMA_SEG_HEADER_SIZE : 0);
    if ((free_mask >> i) & 1) {
      run += page_bytes;
      if (!((seg->dirty_mask >> i) & 1)) pool->free_returned += page_bytes;
      continue;
    }
    extents_add(pool, run, 1);
    run = 0;
    uma_page_t *page = &seg->pages[i];
    uint64_t bs = page->block_size;
    uint8_t *start = page_start(page), *end = page->end;
    unsigned cls = page->class_idx;
    if (bs == 0 || cls >= UMA_CLASS_COUNT || start < (uint8_t *)seg || end > (uint8_t *)seg + UMA_SEG_SIZE ||
        end < start)
      continue;   /* being handed out or retired right now */
    uint64_t capacity = (uint64_t)(end - start) / bs;
    uint64_t used = page->used < capacity ? page->used : capacity;
    pool->live_bytes += used * bs;
    pool->free_returned += (uint64_t)page_purged_count(page) * UMA_OS_PAGE;
    out->class_live[cls] += used * bs;
    out->class_free[cls] += (capacity - used) * bs;
    extents_add(pool, bs, capacity - used);
  }
  extents_add(pool, run, 1);
}

static void walk_large(uma_frag_t *out, uma_large_t *lg, bool resident) {
  uma_frag_pool_t *pool = &out->pool[FRAG_POOL_LARGE];
  size_t map = lg->map_size, offset = lg->user_offset;
  if (map > ((size_t)1 << 46) || offset >= map) return;   /* being rewritten */
  pool->mappings++;
  pool->mapped += map;
  pool->metadata += offset;
  if (resident) pool->resident += os_resident(lg, map);
  if (lg->is_free) extents_add(pool, map - offset, 1);
  else pool->live_bytes += map - offset;
}

/* False when another walk is running (the caller keeps its old figures).
 * `resident` asks mincore per mapping: a few microseconds each, so the
 * walks at the peak leave it out (resident_known says which). */
bool frag_scan(uma_frag_t *out, bool resident) {
  fork_register(FORK_FRAG, NULL, NULL, frag_fork_child);   /* a child of a fork mid-walk may walk again */
  if (atomic_exchange(&frag_busy, true)) return false;
  __builtin_memset(out, 0, sizeof *out);
  atomic_fetch_add(&owner_map_scanners, 1);
  atomic_thread_fence(memory_order_seq_cst);
  uintptr_t lo = atomic_load(&owner_map_lo), hi = atomic_load(&owner_map_hi);
  for (uintptr_t slot = lo; slot <= hi && slot < OWNER_MAP_SLOTS; slot++) {
    if (!owner_bit(owner_ours, slot, memory_order_seq_cst)) continue;
    void *base = (void *)(slot << UMA_SEG_SHIFT);
    uint8_t kind = *(volatile uint8_t *)base;
    if (kind == SEG_KIND_LARGE) walk_large(out, base, resident);
    else if (kind == SEG_KIND_BIG) tlsf_walk(&out->pool[FRAG_POOL_COALESCING], base, resident);
    else if (kind == SEG_KIND_SMALL || kind == SEG_KIND_MEDIUM) walk_segment(out, base, resident);
    if (resident && kind >= SEG_KIND_SMALL && kind <= SEG_KIND_LARGE) numa_census_mapping(base, kind);
  }
  atomic_fetch_sub(&owner_map_scanners, 1);
  out->t_ms = os_now_ms();
  out->committed = atomic_load_explicit(&stats_committed, memory_order_relaxed);
  out->valid = true;
  out->resident_known = resident;
  atomic_store(&frag_busy, false);
  return true;
}

/* The footprint grew to `committed`: walk again once it is 1/32 (at least
 * 1 MiB) past the last snapshot, so the holes shown are those within 3 %
 * of the peak at a cost of O(log peak) walks. The walk waits until the
 * allocation that grew the footprint is done (frag_snapshot_if_due, at the
 * end of the allocating calls): walked here, inside the call, the block
 * that made the peak was not yet in its pool and the snapshot missed it. */
static _Atomic bool frag_due;

void frag_note_committed(uint64_t committed) {
  uint64_t due = atomic_load_explicit(&frag_next_snapshot, memory_order_relaxed);
  if (committed < due || !frag_snapshots_on) return;
  uint64_t step = committed / 32 > (1u << 20) ? committed / 32 : (1u << 20);
  if (!atomic_compare_exchange_strong(&frag_next_snapshot, &due, committed + step)) return;
  atomic_store_explicit(&frag_due, true, memory_order_relaxed);
}

void frag_snapshot_if_due(void) {
  if (uma_unlikely(atomic_load_explicit(&frag_due, memory_order_relaxed)) &&
      atomic_exchange_explicit(&frag_due, false, memory_order_relaxed) && frag_scan(&frag_at_peak, false)) {
    sample_note_peak();
    atomic_fetch_add_explicit(&stats_peak_walks, 1, memory_order_relaxed);
  }
}

void frag_fork_child(void) {
  atomic_store(&frag_busy, false);
  atomic_store(&frag_due, false);
  atomic_store(&owner_map_scanners, 0);
}

void frag_watch_peaks(void) {
  frag_snapshots_on = true;
  stats_observers.new_peak = frag_note_committed;
  stats_observers.after_slow_path = frag_snapshot_if_due;
}
