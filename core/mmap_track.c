/* mmap_track.c — the program's own anonymous mappings (source `mmap`):
 * placed and advised by the rule that matches them, before the program
 * touches them, and accounted exactly through partial munmap and mremap.
 *
 * The table is a sorted array of [start, end) ranges in memory from the OS,
 * under one lock; lookups are binary searches. Programs keep few anonymous
 * mappings of their own (CPython: one per 1 MiB arena), so inserting by
 * moving the tail costs little next to the system call it follows. */
#include "base.h"
#include "bytes.h"
#include "fork.h"
#include "mmap_track.h"
#include "numa.h"
#include "os.h"
#include "route.h"
#include <string.h>

typedef struct mmap_range_s { uintptr_t start, end; uint8_t route, node; } mmap_range_t;

static pthread_mutex_t mmap_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool fork_registered;
/* The lock, with fork's handler registered before its first use. */
static void take_lock(void) {
  if (uma_unlikely(!atomic_load_explicit(&fork_registered, memory_order_relaxed)) && !atomic_exchange(&fork_registered, true))
    fork_register(FORK_MMAP, mmap_fork_prepare, mmap_fork_parent, mmap_fork_child);
  pthread_mutex_lock(&mmap_lock);
}
static mmap_range_t *ranges;
static size_t range_count, range_cap;
mmap_totals_t mmap_totals;

static void route_bytes(unsigned r, int64_t delta) {
  uint64_t now = atomic_fetch_add_explicit(&route_table[r].mmap_bytes, (uint64_t)delta, memory_order_relaxed) +
                 (uint64_t)delta;
  if (delta > 0 && now > atomic_load_explicit(&route_table[r].mmap_peak, memory_order_relaxed))
    atomic_store_explicit(&route_table[r].mmap_peak, now, memory_order_relaxed);
  mmap_totals.bytes += (uint64_t)delta;
  if (mmap_totals.bytes > mmap_totals.peak) mmap_totals.peak = mmap_totals.bytes;
}

/* The first range whose end is above `addr`. */
static size_t first_after(uintptr_t addr) {
  size_t lo = 0, hi = range_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ranges[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static bool grow_table(void) {
  size_t cap = range_cap ? range_cap * 2 : 1024;
  mmap_range_t *fresh = os_map(cap * sizeof *fresh);
  if (fresh == NULL) return false;
  if (ranges) {
    bytes_copy(fresh, ranges, range_count * sizeof *fresh);
    os_unmap(ranges, range_cap * sizeof *ranges);
  }
  ranges = fresh;
  range_cap = cap;
  return true;
}

/* Under the lock: forget [start, end), splitting ranges it cuts. */
static void forget_locked(uintptr_t start, uintptr_t end) {
  size_t i = first_after(start);
  while (i < range_count && ranges[i].start < end) {
    mmap_range_t *r = &ranges[i];
    uintptr_t lo = r->start > start ? r->start : start, hi = r->end < end ? r->end : end;
    route_bytes(r->route, -(int64_t)(hi - lo));
    if (r->start < start && r->end > end) {   /* a hole in the middle: two ranges */
      if (range_count == range_cap && !grow_table()) { r->end = start; return; }
      r = &ranges[i];
      bytes_move(&ranges[i + 1], &ranges[i], (range_count - i) * sizeof *ranges);
      range_count++;
      ranges[i].end = start;
      ranges[i + 1].start = end;
      return;
    }
    if (r->start < start) { r->end = start; i++; continue; }
    if (r->end > end) { r->start = end; return; }
    bytes_move(&ranges[i], &ranges[i + 1], (range_count - i - 1) * sizeof *ranges);
    range_count--;
  }
}

static void remember_locked(uintptr_t start, uintptr_t end, unsigned route, int node) {
  if (range_count == range_cap && !grow_table()) {
    mmap_totals.untracked++;
    return;
  }
  size_t i = first_after(start);
  bytes_move(&ranges[i + 1], &ranges[i], (range_count - i) * sizeof *ranges);
  ranges[i] = (mmap_range_t){ start, end, (uint8_t)route, (uint8_t)node };
  range_count++;
  route_bytes(route, (int64_t)(end - start));
}

/* A fresh anonymous private mapping the program just made: placed and
 * advised before it can be touched, then remembered. */
void mmap_track_new(void *p, size_t len, const void *ra) {
  len = (len + UMA_OS_PAGE - 1) & ~(UMA_OS_PAGE - 1);
  unsigned route = route_count ? route_match(UMA_SOURCE_MMAP, len, UMA_OS_PAGE, ra) : 0;
  int node = numa_current_node();
  numa_place(p, len, &route_place[route], node, &route_numa[route]);
  os_advise_hugepages(p, len, route_table[route].hugepages);
  atomic_fetch_add_explicit(&route_table[route].mmap_count, 1, memory_order_relaxed);
  take_lock();
  mmap_totals.maps++;
  forget_locked((uintptr_t)p, (uintptr_t)p + len);   /* a mapping the kernel reused */
  remember_locked((uintptr_t)p, (uintptr_t)p + len, route, node);
  pthread_mutex_unlock(&mmap_lock);
}

/* [p, p+len) is no longer the program's routed memory (munmap, or a
 * MAP_FIXED mapping over it). */
void mmap_track_gone(void *p, size_t len) {
  len = (len + UMA_OS_PAGE - 1) & ~(UMA_OS_PAGE - 1);
  take_lock();
  if (range_count) forget_locked((uintptr_t)p, (uintptr_t)p + len);
  pthread_mutex_unlock(&mmap_lock);
}

/* mremap moved or resized [old, old+old_len) to [fresh, fresh+new_len): the
 * pages (and the kernel's policy) moved with it; a grown tail is placed by
 * the rule the mapping had. */
void mmap_track_moved(void *old, size_t old_len, void *fresh, size_t new_len) {
  old_len = (old_len + UMA_OS_PAGE - 1) & ~(UMA_OS_PAGE - 1);
  new_len = (new_len + UMA_OS_PAGE - 1) & ~(UMA_OS_PAGE - 1);
  take_lock();
  size_t i = first_after((uintptr_t)old);
  bool tracked = i < range_count && ranges[i].start <= (uintptr_t)old;
  unsigned route = tracked ? ranges[i].route : 0;
  int node = tracked ? ranges[i].node : 0;
  if (tracked) {
    forget_locked((uintptr_t)old, (uintptr_t)old + old_len);
    forget_locked((uintptr_t)fresh, (uintptr_t)fresh + new_len);
    remember_locked((uintptr_t)fresh, (uintptr_t)fresh + new_len, route, node);
    mmap_totals.remaps++;
  }
  pthread_mutex_unlock(&mmap_lock);
  if (tracked && new_len > old_len)
    numa_place((uint8_t *)fresh + old_len, new_len - old_len, &route_place[route], node, &route_numa[route]);
}

/* The program's mremap of [p, p+len) failed with EFAULT: the range is not
 * one mapping. Where that is our doing — huge-page advice given to a routed
 * mapping keeps the kernel from merging it with the program's adjacent
 * one, which without us would have merged — give the whole range the same
 * advice (the kernel then merges them) and say so; the caller tries again. */
bool mmap_track_unify_advice(void *p, size_t len) {
  uintptr_t start = (uintptr_t)p, end = start + ((len + UMA_OS_PAGE - 1) & ~(UMA_OS_PAGE - 1));
  int mode = UMA_HUGEPAGES_MADVISE;
  take_lock();
  for (size_t i = first_after(start); i < range_count && ranges[i].start < end; i++)
    if (route_table[ranges[i].route].hugepages != UMA_HUGEPAGES_MADVISE) mode = route_table[ranges[i].route].hugepages;
  pthread_mutex_unlock(&mmap_lock);
  if (mode == UMA_HUGEPAGES_MADVISE) return false;
  os_advise_hugepages(p, end - start, mode);
  return true;
}

/* Calls visit(start, len, route) for each routed range, under the lock. */
void mmap_track_each(void (*visit)(uintptr_t, size_t, unsigned, void *), void *arg) {
  take_lock();
  for (size_t i = 0; i < range_count; i++) visit(ranges[i].start, ranges[i].end - ranges[i].start, ranges[i].route, arg);
  pthread_mutex_unlock(&mmap_lock);
}

size_t mmap_track_ranges(void) { return range_count; }

void mmap_fork_prepare(void) { pthread_mutex_lock(&mmap_lock); }
void mmap_fork_parent(void) { pthread_mutex_unlock(&mmap_lock); }
void mmap_fork_child(void) { pthread_mutex_init(&mmap_lock, NULL); }
