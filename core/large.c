/* large.c — blocks above 512 KiB (or aligned above 4 KiB): one 4 MiB-aligned
 * mapping each, a header page in front. realloc moves pages with mremap,
 * never bytes. Freed mappings wait in a small cache for reuse and go back to
 * the OS after the purge delay. */
#include "base.h"
#include "options.h"
#include "bytes.h"
#include "alloc.h"
#include "fmt.h"
#include "heap.h"
#include "large.h"
#include "layout.h"
#include "numa.h"
#include "os.h"
#include "owner_map.h"
#include "route.h"
#include "stats.h"
#include <string.h>

/* Reusing a freed mapping saves its page faults, the dominant cost of a
 * fresh one; the purge delay bounds how long the cache holds memory, and
 * UMA_OPTION_LARGE_CACHE_MAX how much (a block above half of it is unmapped
 * at once). */
#define LARGE_CACHE_MAX   64

static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { uma_large_t *lg; uint64_t expire_ms; } large_cache[LARGE_CACHE_MAX];
static int large_cache_count;             /* entries [0, count), oldest first */
static size_t large_cache_bytes;          /* of mappings not registered with CUDA */
/* Registered mappings are kept whatever their size (bounded by [cuda]
 * pinned_max, which counts them): registering costs 30-180 ms per GiB, and a
 * program that copies fresh buffers to or from the GPU each step gets the
 * same registered pages back. */
static size_t large_cache_pinned_bytes;

static size_t round_page(size_t n) { return (n + UMA_OS_PAGE - 1) & ~(UMA_OS_PAGE - 1); }

large_hooks_t large_hooks;
size_t large_max_span;   /* bounds large_block_of's walk back to a header */
static void note_span(size_t map_size) {
  size_t seen = __atomic_load_n(&large_max_span, __ATOMIC_RELAXED);
  while (map_size > seen && !__atomic_compare_exchange_n(&large_max_span, &seen, map_size, true, __ATOMIC_RELAXED,
                                                         __ATOMIC_RELAXED)) {}
}

/* Where the block starts in its mapping: a page of header, or the alignment
 * itself; alignments above 4 MiB put the header one slot below the block. */
static size_t user_offset_for(size_t align) {
  if (align <= UMA_OS_PAGE) return UMA_OS_PAGE;
  return align <= UMA_SEG_SIZE ? align : UMA_SEG_SIZE;
}

size_t large_usable(const uma_large_t *lg) { return lg->map_size - lg->user_offset; }

/* The large block (one of ours, in use) holding all of [p, p+len), or NULL.
 * Reads only headers the ownership map vouches for. */
uma_large_t *large_block_of(const void *p, size_t len) {
  if (p == NULL || len == 0) return NULL;
  uintptr_t a = (uintptr_t)p;
  /* The map marks only a large block's first 4 MiB slot: walk back from the
   * pointer's slot to the nearest slot that is ours, no further than the
   * largest large block ever made spans (a pointer that is not ours costs
   * that many bit tests, not 64 Ki); it must be a large block's header and
   * the block must cover the range. */
  uintptr_t max_steps = __atomic_load_n(&large_max_span, __ATOMIC_RELAXED) / UMA_SEG_SIZE + 1;
  for (uintptr_t slot = a & ~UMA_SEG_MASK, steps = 0; slot && steps < max_steps; slot -= UMA_SEG_SIZE, steps++) {
    if (!owner_map_test((void *)slot)) continue;
    if (*(volatile uint8_t *)slot != SEG_KIND_LARGE) return NULL;   /* a segment of a pool */
    uma_large_t *lg = (uma_large_t *)slot;
    if (lg->is_free || a < slot + lg->user_offset || a + len > slot + lg->map_size) return NULL;
    return lg;
  }
  return NULL;
}

/* The blocks of the last mappings given back: a second free of one of them
 * is told as a double free, not as a pointer never allocated here. */
#define RETIRED_MAX 64
static _Atomic(uintptr_t) retired[RETIRED_MAX];
static _Atomic unsigned retired_next;

bool large_was_retired(const void *p) {
  for (unsigned i = 0; i < RETIRED_MAX; i++)
    if (atomic_load_explicit(&retired[i], memory_order_relaxed) == (uintptr_t)p) return true;
  return false;
}

static void note_retired(uintptr_t block) {
  unsigned slot = atomic_fetch_add_explicit(&retired_next, 1, memory_order_relaxed) % RETIRED_MAX;
  atomic_store_explicit(&retired[slot], block, memory_order_relaxed);
}

static void large_unmap(uma_large_t *lg) {
  note_retired((uintptr_t)lg + lg->user_offset);
  if (large_hooks.retire && large_hooks.retire(lg)) return;   /* registered with CUDA: unmapped after its unregistration */
  stats_commit(-(int64_t)lg->map_size);
  owner_map_release(lg);
  os_unmap(lg, lg->map_size);
}

static void cache_remove_at(int i) {
  if (large_cache[i].lg->pinned == PIN_YES) large_cache_pinned_bytes -= large_cache[i].lg->map_size;
  else large_cache_bytes -= large_cache[i].lg->map_size;
  bytes_move(&large_cache[i], &large_cache[i + 1], sizeof large_cache[0] * (size_t)(large_cache_count - i - 1));
  large_cache_count--;
}

/* Two cached mappings that touch, with the same placement and neither
 * registered, become one (tcmalloc coalesces free spans the same way): a
 * split tail meets its head again when the head is freed, and a request
 * as big as both is served without a page fault. */
static bool mergeable(const uma_large_t *lo, const uma_large_t *hi) {
  return (const uint8_t *)lo + lo->map_size == (const uint8_t *)hi && lo->pinned != PIN_YES && hi->pinned != PIN_YES &&
         lo->route == hi->route && lo->node == hi->node && lo->hugepages == hi->hugepages;
}

/* `hi` leaves the map before `lo` grows over it, so a heap walk sees each
 * byte once: in `hi`, or in `lo` once `hi` is gone. */
static void absorb(uma_large_t *lo, uma_large_t *hi) {
  size_t add = hi->map_size;
  owner_map_release(hi);
  lo->map_size += add;
}

/* Into the cache, newest last, merged with the cached mappings it touches;
 * over its count or byte bound, the oldest unregistered mappings go back
 * to the OS. */
static void cache_put(uma_large_t *lg, uint64_t expire_ms) {
  size_t cache_max = (size_t)uma_options[UMA_OPTION_LARGE_CACHE_MAX];
  uma_large_t *evict[LARGE_CACHE_MAX + 1];
  int n = 0;
  pthread_mutex_lock(&large_lock);
  for (int i = 0; i < large_cache_count;) {
    uma_large_t *c = large_cache[i].lg;
    if (mergeable(c, lg)) {          /* c lies just below: it takes lg in, and is put again as the newest */
      cache_remove_at(i);
      absorb(c, lg);
      lg = c;
      i = 0;
    } else if (mergeable(lg, c)) {   /* c lies just above */
      cache_remove_at(i);
      absorb(lg, c);
      i = 0;
    } else {
      i++;
    }
  }
  large_cache[large_cache_count].lg = lg;
  large_cache[large_cache_count].expire_ms = expire_ms;
  large_cache_count++;
  if (lg->pinned == PIN_YES) large_cache_pinned_bytes += lg->map_size;
  else large_cache_bytes += lg->map_size;
  while (large_cache_count == LARGE_CACHE_MAX || large_cache_bytes > cache_max) {
    int oldest = 0;   /* over the byte bound: the oldest unregistered mapping */
    if (large_cache_count < LARGE_CACHE_MAX)
      while (large_cache[oldest].lg->pinned == PIN_YES) oldest++;
    evict[n++] = large_cache[oldest].lg;
    cache_remove_at(oldest);
  }
  pthread_mutex_unlock(&large_lock);
  for (int i = 0; i < n; i++) large_unmap(evict[i]);
}

/* A cached mapping keeps the placement it was given before its first
 * touch: it serves only requests that want the same (the same node for
 * local placement, the same rule otherwise). */
static bool same_placement(const uma_large_t *lg, unsigned route, int node) {
  if (route_place[route].kernel_mode != 0) return lg->route == route;
  return route_place[lg->route].kernel_mode == 0 && lg->node == node;
}

/* Grow a mapping to `need` bytes by moving page mappings (in place where
 * the address space after it is free, else to a fresh 4 MiB-aligned slot),
 * never bytes: its resident pages stay resident. The mapping, moved or
 * not, or NULL with `lg` untouched when the OS refuses. */
static uma_large_t *grow_mapping(uma_large_t *lg, size_t need) {
  if (!stats_heap_allows(need - lg->map_size)) return NULL;
  if (os_remap_in_place(lg, lg->map_size, need)) {
    stats_commit((int64_t)(need - lg->map_size));
    lg->map_size = need;
    return lg;
  }
  uma_large_t *target = os_map_aligned(need, UMA_SEG_SIZE);
  if (target == NULL) return NULL;
  /* The old slot leaves the map before its pages move (a heap walk must
   * not read it after), and comes back if the move fails. */
  owner_map_release(lg);
  if (!owner_map_set(target, OWNER_MAPPING) || !os_remap_to(lg, lg->map_size, need, target)) {
    owner_map_set(target, OWNER_NONE);
    owner_map_set(lg, OWNER_MAPPING);
    os_unmap(target, need);
    return NULL;
  }
  stats_commit((int64_t)(need - target->map_size));   /* the header moved with the pages */
  target->map_size = need;
  return target;
}

/* The part of a cached mapping beyond the 4 MiB slot boundary `head`
 * becomes a cached mapping of its own (its header written into its first
 * page, which is resident already), so the pages a request does not need
 * stay resident for the next one instead of going back to the OS (tcmalloc
 * splits its free spans the same way). The tail keeps the mapping's
 * placement and its time in the cache. */
static void split_tail(uma_large_t *lg, size_t head, uint64_t expire_ms) {
  uma_large_t *tail = (uma_large_t *)((uint8_t *)lg + head);
  __builtin_memset(tail, 0, sizeof *tail);
  tail->kind = SEG_KIND_LARGE;
  tail->is_free = 1;
  tail->route = lg->route;
  tail->hugepages = lg->hugepages;
  tail->node = lg->node;
  tail->map_size = lg->map_size - head;
  tail->user_offset = UMA_OS_PAGE;
  lg->map_size = head;   /* before the tail's slot is ours: a heap walk does not count it twice */
  if (!owner_map_set(tail, OWNER_MAPPING)) {   /* beyond the map: give it back instead */
    stats_commit(-(int64_t)tail->map_size);
    os_unmap(tail, tail->map_size);
    return;
  }
  cache_put(tail, expire_ms);
}

/* A cached mapping for a request of `map_size` bytes: the smallest one big
 * enough, its tail split off (or, where no 4 MiB slot boundary leaves 1 MiB
 * for a tail, given back when more than a quarter too big); else the
 * biggest smaller one, grown. Pages already faulted in are what a fresh
 * mapping costs most, and both keep them: a program that makes a buffer of
 * a different size per request would otherwise fault in every page of
 * every buffer (tcmalloc's page heap and glibc's heap reuse such memory
 * too). Registered mappings serve only requests they fit within twice,
 * whole: the registration names them as they are. */
static uma_large_t *cache_take(size_t map_size, unsigned route, int node) {
  uma_large_t *best = NULL;
  uint64_t expire_ms = 0;
  pthread_mutex_lock(&large_lock);
  int fit_i = -1, grow_i = -1;
  for (int i = 0; i < large_cache_count; i++) {
    const uma_large_t *c = large_cache[i].lg;
    size_t s = c->map_size;
    if (!same_placement(c, route, node) || (c->pinned == PIN_YES && (s < map_size || s > 2 * map_size))) continue;
    if (s >= map_size) {
      if (fit_i < 0 || s < large_cache[fit_i].lg->map_size) fit_i = i;
    } else if (grow_i < 0 || s > large_cache[grow_i].lg->map_size) {
      grow_i = i;
    }
  }
  int take = fit_i >= 0 ? fit_i : grow_i;
  if (take >= 0) {
    best = large_cache[take].lg;
    expire_ms = large_cache[take].expire_ms;
    cache_remove_at(take);
  }
  pthread_mutex_unlock(&large_lock);
  if (best == NULL || best->pinned == PIN_YES) return best;
  if (best->map_size < map_size) {
    uintptr_t old_block = (uintptr_t)best + best->user_offset;
    uma_large_t *grown = grow_mapping(best, map_size);
    if (grown == NULL) {   /* the OS refused the move: a fresh mapping instead */
      large_unmap(best);
      return NULL;
    }
    if (grown != best) note_retired(old_block);   /* its old block's address is gone: a stale free is a double free */
    return grown;
  }
  size_t head = (map_size + UMA_SEG_MASK) & ~(size_t)UMA_SEG_MASK;
  if (best->map_size >= head + ((size_t)1 << 20)) {
    split_tail(best, head, expire_ms);
  } else if (best->map_size > map_size + map_size / 4 && os_remap_in_place(best, best->map_size, map_size)) {
    stats_commit(-(int64_t)(best->map_size - map_size));
    best->map_size = map_size;
  }
  return best;
}

/* A mapping about to be made would raise the footprint past its peak while
 * the cache holds mappings that did not fit the request: unmap those first
 * (oldest first), as many bytes as the new one would add past the peak. The
 * cache saves page faults for blocks it can serve again; it must not be why
 * a program's peak grows (a working set of blocks of changing sizes would
 * otherwise peak at live + cache). */
static void cache_yield_to(size_t map_size) {
  uint64_t committed = atomic_load_explicit(&stats_committed, memory_order_relaxed);
  uint64_t peak = atomic_load_explicit(&stats_peak_committed, memory_order_relaxed);
  if (committed + map_size <= peak) return;
  size_t over = (size_t)(committed + map_size - peak), freed = 0;
  uma_large_t *evict[LARGE_CACHE_MAX];
  int n = 0;
  pthread_mutex_lock(&large_lock);   /* large_cache_bytes is read under it too */
  for (int i = 0; i < large_cache_count && freed < over;) {
    if (large_cache[i].lg->pinned == PIN_YES) {
      i++;
      continue;
    }
    freed += large_cache[i].lg->map_size;
    evict[n++] = large_cache[i].lg;
    cache_remove_at(i);
  }
  pthread_mutex_unlock(&large_lock);
  for (int i = 0; i < n; i++) large_unmap(evict[i]);
}

static void stats_large_alloc(uma_heap_t *heap, size_t usable) {
  STAT_ADD(heap->stats.large_allocs, 1);
  STAT_ADD(heap->stats.large_bytes, usable);
}

void *large_alloc(uma_heap_t *heap, size_t size, size_t align, bool zero, unsigned route) {
  uint64_t plan_seq = 0;
  /* A repeating program's planned arena (plan_host.c), for blocks no rule
   * governs: a rule's placement, huge pages or aliasing would not apply. */
  if (large_hooks.planned_alloc && align <= UMA_ALIGN_MIN && route == 0) {
    void *planned = large_hooks.planned_alloc(size, zero, &plan_seq);
    if (planned) {
      stats_large_alloc(heap, round_page(size));
      stats_sample_peak(heap);
      return planned;
    }
  }
  int node = numa_active ? numa_current_node() : 0;   /* local: where the caller runs now */
  size_t offset = user_offset_for(align);
  size_t map_size = round_page(offset + size);
  bool cow = route_table[route].alias == UMA_ALIAS_COW && large_hooks.shared_map && align <= UMA_OS_PAGE;
  uma_large_t *lg = align <= UMA_SEG_SIZE && !cow ? cache_take(map_size, route, node) : NULL;
  bool reused = lg != NULL;
  if (cow && (lg = large_hooks.shared_map(size)) != NULL) {   /* over the memory file (cow.c): never cached */
    if (!owner_map_set(lg, OWNER_MAPPING)) {
      large_hooks.shared_unmap(lg);
      return NULL;
    }
    numa_place(lg, lg->map_size, &route_place[route], node, &route_numa[route]);
    lg->node = (uint8_t)node;
    stats_commit((int64_t)lg->map_size);
  } else if (!reused) {
    if (!stats_heap_allows(map_size)) return NULL;   /* [limits] heap: the caller purges and retries */
    cache_yield_to(map_size);
    lg = align <= UMA_SEG_SIZE ? os_map_aligned(map_size, UMA_SEG_SIZE)
                               : os_map_aligned_at_offset(map_size, align, offset);
    if (lg == NULL) return NULL;
    if (!owner_map_set(lg, OWNER_MAPPING)) {
      os_unmap(lg, map_size);
      return NULL;
    }
    numa_place(lg, map_size, &route_place[route], node, &route_numa[route]);   /* before the first touch */
    lg->node = (uint8_t)node;
    lg->map_size = map_size;
    lg->cow = 0;
    stats_commit((int64_t)map_size);   /* an upper bound: untouched pages count too */
  }
  UMA_ASSERT(lg->map_size % UMA_OS_PAGE == 0 && offset + size <= lg->map_size);
  note_span(lg->map_size + (align > UMA_SEG_SIZE ? UMA_SEG_SIZE : 0));   /* the header may sit one slot below */
  uint8_t hugepages = route_table[route].hugepages;
  if (!reused || lg->hugepages != hugepages) os_advise_hugepages(lg, lg->map_size, hugepages);  /* before first touch */
  lg->kind = SEG_KIND_LARGE;
  lg->is_free = 0;
  lg->route = (uint8_t)route;
  lg->hugepages = hugepages;
  lg->user_offset = offset;
  lg->plan_seq = plan_seq;
  if (large_hooks.on_alloc) large_hooks.on_alloc(lg, reused);
  uint8_t *p = (uint8_t *)lg + offset;
  if (zero && reused) memset(p, 0, size);   /* a fresh mapping reads as zero already */
  stats_large_alloc(heap, large_usable(lg));
  if (route) route_count_alloc(route, large_usable(lg));
  stats_sample_peak(heap);
  return p;
}

void large_free(uma_heap_t *heap, uma_large_t *lg, void *p) {
  (void)p;
  size_t usable = large_usable(lg);
  if (heap) {
    STAT_ADD(heap->stats.large_frees, 1);
    STAT_ADD(heap->stats.large_freed_bytes, usable);
  } else {
    stats_orphan_free(UMA_CLASS_COUNT, usable);
  }
  if (lg->route) route_count_free(lg->route, usable);
  if (lg->plan_seq && large_hooks.observe_free) large_hooks.observe_free(lg->plan_seq);
  lg->plan_seq = 0;
  if (large_hooks.on_release) large_hooks.on_release(lg);
  if (lg->cow) {
    stats_commit(-(int64_t)lg->map_size);
    owner_map_release(lg);
    large_hooks.shared_unmap(lg);
    return;
  }
  bool registered = lg->pinned == PIN_YES;
  int64_t delay = route_table[lg->route].purge_delay_ms;
  if (delay < 0) delay = uma_options[UMA_OPTION_PURGE_DELAY_MS];
  size_t cache_max = (size_t)uma_options[UMA_OPTION_LARGE_CACHE_MAX];
  if (delay == 0 || (!registered && lg->map_size > cache_max / 2)) {
    large_unmap(lg);
    return;
  }
  lg->is_free = 1;
  cache_put(lg, os_now_ms() + (uint64_t)delay);
}

/* Grow or shrink by moving page mappings. NULL (p untouched) when the OS
 * refuses. Stays 4 MiB-aligned so the header is still found by masking. */
void *large_realloc(uma_heap_t *heap, uma_large_t *lg, void *p, size_t size) {
  size_t offset = lg->user_offset;
  size_t need = round_page(offset + size);
  size_t old_usable = large_usable(lg);
  if (need <= lg->map_size) {
    if (need < lg->map_size / 2 && lg->pinned != PIN_YES && os_remap_in_place(lg, lg->map_size, need)) {
      stats_commit(-(int64_t)(lg->map_size - need));
      lg->map_size = need;   /* shrink: give the tail back */
    }
    alloc_count_large_in_place(old_usable, size, large_usable(lg));
    return p;
  }
  if (lg->pinned == PIN_YES) return NULL;   /* never moved while registered (alloc_realloc copies instead) */
  if (large_hooks.on_release) large_hooks.on_release(lg);   /* an eager block waiting: its header is about to move */
  uma_large_t *grown = grow_mapping(lg, need);
  if (grown == NULL) return NULL;
  if (grown != lg && heap) STAT_ADD(heap->stats.large_remaps, 1);
  lg = grown;
  note_span(need);
  alloc_count_large_in_place(old_usable, size, large_usable(lg));
  if (heap) stats_sample_peak(heap);
  return (uint8_t *)lg + offset;
}

/* Memory pressure (limits.c): registered mappings leave the cache — their
 * page-locked memory goes back once CUDA unregisters them (pin_retire). */
uint64_t large_cache_drop_pinned(void) {
  uma_large_t *gone[LARGE_CACHE_MAX];
  int n = 0;
  uint64_t bytes = 0;
  pthread_mutex_lock(&large_lock);
  for (int i = 0; i < large_cache_count;) {
    if (large_cache[i].lg->pinned == PIN_YES) {
      gone[n++] = large_cache[i].lg;
      bytes += large_cache[i].lg->map_size;
      cache_remove_at(i);
    } else {
      i++;
    }
  }
  pthread_mutex_unlock(&large_lock);
  for (int i = 0; i < n; i++) large_unmap(gone[i]);
  return bytes;
}

void large_cache_purge(uint64_t now_ms, bool force) {
  uma_large_t *expired[LARGE_CACHE_MAX];
  int n = 0;
  pthread_mutex_lock(&large_lock);
  for (int i = 0; i < large_cache_count;) {   /* rules may give entries different delays */
    if (force || now_ms >= large_cache[i].expire_ms) {
      expired[n++] = large_cache[i].lg;
      cache_remove_at(i);
    } else {
      i++;
    }
  }
  pthread_mutex_unlock(&large_lock);
  for (int i = 0; i < n; i++) large_unmap(expired[i]);
}

void large_fork_prepare(void) { pthread_mutex_lock(&large_lock); }
void large_fork_parent(void) { pthread_mutex_unlock(&large_lock); }
void large_fork_child(void) { pthread_mutex_init(&large_lock, NULL); }
