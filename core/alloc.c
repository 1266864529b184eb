/* alloc.c — the public allocation API (alloc_malloc, alloc_free, …) around
 * the fast paths of alloc_fast.h, and everything they hand off: a thread
 * without a heap, refills, alignment, zeroing, other threads' blocks, the
 * coalescing pool and large blocks, realloc, the diagnoses; routed to pages
 * (page.c), the large pool (large.c) and heaps (heap.c). */
#include "base.h"
#include "bytes.h"
#include "alloc.h"
#include "fmt.h"
#include "heap.h"
#include "large.h"
#include "layout.h"
#include "numa.h"
#include "owner_map.h"
#include "page.h"
#include "route.h"
#include "sample.h"
#include "size_class.h"
#include "stats.h"
#include "ticker.h"
#include "tlsf.h"
#include "alloc_fast.h"
#include <errno.h>
#include <string.h>

#define UMA_MAX_REQUEST ((size_t)PTRDIFF_MAX - 2 * UMA_SEG_SIZE)

/* The smallest class at or above `size` whose blocks are `align`-aligned:
 * page starts are 4 KiB-aligned, so a class whose size is a multiple of
 * `align` (≤ 4 KiB) has every block aligned. A power of two always is. */
static unsigned class_for_alignment(size_t size, size_t align) {
  unsigned cls = sc_of(size < align ? align : size);
  while (sc_size(cls) % align != 0) cls++;
  return cls;
}

static void *heap_alloc(uma_heap_t *heap, size_t size, size_t align, bool zero, const void *ra) {
  if (uma_unlikely(size > UMA_MAX_REQUEST)) return NULL;
  unsigned route = route_for(size, align, ra);
  if (size > UMA_BLOCK_MAX || align > UMA_OS_PAGE || route_table[route].pool == UMA_POOL_LARGE) {
    void *p = large_alloc(heap, size, align, zero, route);
    if (p) STAT_ADD(heap->stats.large_requested, size);
    return p;
  }
  unsigned cls = align <= UMA_ALIGN_MIN ? sc_of(size) : class_for_alignment(size, align);
  if (cls >= tlsf_first_class) {
    /* The coalescing pool aligns to 16; larger alignments get a mapping. */
    void *p = align <= UMA_ALIGN_MIN ? tlsf_alloc(size, zero, heap->node) : large_alloc(heap, size, align, zero, route);
    if (p && align <= UMA_ALIGN_MIN) {
      STAT_ADD(heap->tcache[cls].allocs, 1);
      STAT_ADD(heap->tcache[cls].requested, size);
      stats_sample_peak(heap);
      heap_purge_tick(heap, false);   /* a program using only this pool must still decay */
    } else if (p) {
      STAT_ADD(heap->stats.large_requested, size);
    }
    return p;
  }
  uma_page_t *page = heap->tcache[cls].page;
  if (page->free == NULL) {
    heap_enter(heap);
    page = page_malloc_slow(heap, cls);
    heap_leave(heap);
    if (page == NULL) return NULL;
  }
  uma_block_t *b = page->free;
  page->free = block_next(b);
  page->used++;
  b->cookie = 0;
  STAT_ADD(heap->tcache[cls].allocs, 1);
  STAT_ADD(heap->tcache[cls].requested, size);
  if (zero) memset(b, 0, size);
  return b;
}

void *alloc_in_heap(uma_heap_t *heap, size_t size, size_t align, bool zero, const void *ra) {
  return heap_alloc(heap, size, align, zero, ra);
}

static void *generic_once(size_t size, size_t align, bool zero, const void *ra) {
  uma_heap_t *heap = uma_tls_heap;
  if (heap == NULL) heap = heap_get_slow();
  else if (uma_unlikely(numa_active)) heap = heap_check_home(heap);
  if (uma_likely(heap != NULL)) return heap_alloc(heap, size, align, zero, ra);
  /* A thread past its heap's release (a later thread-exit destructor):
   * borrow a handed-back heap for this one call. Or no memory for a heap. */
  heap = heap_borrow();
  if (heap == NULL) return NULL;
  uma_tls_heap = heap;
  void *p = heap_alloc(heap, size, align, zero, ra);
  uma_tls_heap = NULL;
  heap_return_borrowed(heap);
  return p;
}

/* The OS refused memory: what the caches hold (free pages, cached
 * segments and mappings, exited threads' heaps, the coalescing pool's free
 * blocks) goes back to it now, and the caller tries once more. Memory a
 * program freed must serve its next request at once, not after the purge
 * delay. */
bool alloc_purge_for_retry(size_t size) {
  if (size > UMA_MAX_REQUEST) return false;
  uma_collect(true);
  return true;
}

/* Everything but the fast path: a thread without a heap yet, a thread whose
 * heap was already handed back at its exit, alignment, zeroing, refills. */
void *alloc_generic(size_t size, size_t align, bool zero, const void *ra) {
  void *p = generic_once(size, align, zero, ra);
  if (uma_unlikely(p == NULL) && alloc_purge_for_retry(size)) p = generic_once(size, align, zero, ra);
  if (stats_observers.after_slow_path) stats_observers.after_slow_path();   /* a walk due at a new peak */
  ticker_ensure();   /* a forked child's first slow path: outside any lock */
  if (uma_unlikely(p == NULL)) errno = ENOMEM;   /* last: what ran above may have set errno */
  return p;
}

void *alloc_corrupt(const uma_block_t *b) { block_corrupt(b); }

/* `ra`: the program's return address, for rules that match the caller. */
size_t fast_malloc_limit = UMA_TCACHE_MAX_SIZE + 1;
uintptr_t fast_free_slots = OWNER_MAP_SLOTS;

/* malloc past its fast path: a refill or a request the fast path does not
 * serve. Either way the slow path's countdown counts it for sampling: a
 * refill's bytes go back to the class's countdown first, because
 * heap_alloc counts them in the class's requested bytes (which include
 * what that countdown counted). A refill comes every OS page of blocks —
 * one malloc in 8 at 512 B — and until 2026-12-06 was left out of both
 * countdowns: call sites' estimates read 13 % low. */
void *alloc_malloc_slow(size_t size, const void *ra) {
  uma_heap_t *heap = uma_tls_heap;
  if (heap != NULL && size < fast_malloc_limit) {
    uma_tcache_t *tc = size <= SC_SMALL_MAX ? heap->small[sc_small_index(size)] : &heap->tcache[sc_of(size)];
    tcache_sample_give_back(tc, size);
  }
  void *s = sample_maybe(size, UMA_ALIGN_MIN, false, ra);
  if (s) return s;
  return alloc_generic(size, UMA_ALIGN_MIN, false, ra);
}
void *alloc_malloc(size_t size, const void *ra) { return alloc_malloc_inline(size, ra, alloc_malloc_slow); }

void *alloc_calloc(size_t count, size_t size, const void *ra) {
  size_t total;
  if (uma_unlikely(__builtin_mul_overflow(count, size, &total))) {
    errno = ENOMEM;
    return NULL;
  }
  void *s = sample_maybe(total, UMA_ALIGN_MIN, true, ra);
  if (s) return s;
  return alloc_generic(total, UMA_ALIGN_MIN, true, ra);
}

void *alloc_aligned(size_t alignment, size_t size, const void *ra) {
  if (uma_unlikely(alignment == 0 || (alignment & (alignment - 1)) != 0)) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment <= UMA_ALIGN_MIN) return alloc_malloc(size, ra);
  void *s = sample_maybe(size, alignment, false, ra);
  if (s) return s;
  return alloc_generic(size, alignment, false, ra);
}

/* ---- free --------------------------------------------------------------- */

static UMA_NOINLINE void free_remote(uma_segment_t *seg, uma_page_t *page, uma_block_t *b) {
  unsigned cls = page->class_idx;   /* read before the push: the owner may reuse the page after */
  page_free_remote(seg, page, b);
  uma_heap_t *heap = uma_tls_heap;
  if (heap) STAT_ADD(heap->tcache[cls].frees, 1);
  else stats_orphan_free(cls, 0);
}

static UMA_NOINLINE void free_large(uma_large_t *lg, void *p, const char *func) {
  if (((uma_segment_t *)lg)->kind == SEG_KIND_BIG) {
    tlsf_free(lg, p, func);
    return;
  }
  if (uma_unlikely(p != (uint8_t *)lg + lg->user_offset))
    uma_invalid_pointer(func, p, "points inside a large block, not at its start");
  if (uma_unlikely(lg->is_free)) uma_invalid_pointer(func, p, "was already freed (double free)");
  large_free(uma_tls_heap, lg, p);
}

/* The block's page, after the cheap checks that every free pays for. */
static inline uma_page_t *checked_page(uma_segment_t *seg, const void *p, const char *func) {
  uma_page_t *page = seg_page_of(seg, p);
  if (uma_unlikely(!page_is_block_start(page, p)))
    uma_invalid_pointer(func, p, "is not the start of a block allocated here");
  if (uma_unlikely(block_is_free(p)))
    uma_invalid_pointer(func, p, "was already freed (double free)");
  return page;
}

const uma_foreign_heap_t *uma_foreign_heap;
/* A block of the host planner's arena (outside the ownership map): its size, or 0. */
static size_t planned_size(const void *p) { return large_hooks.planned_size ? large_hooks.planned_size(p) : 0; }
static bool foreign_owns(const void *p) { return uma_foreign_heap && uma_foreign_heap->owns(p); }

/* Not in the ownership map: a block of the host's planned arena, a block of
 * the other allocator (uma_foreign_heap), or a pointer that is not ours. */
static UMA_NOINLINE void free_unowned(void *p, const char *func) {
  size_t size = planned_size(p);
  if (size == 0 || !large_hooks.planned_free(p)) {
    if (large_was_retired(p)) uma_invalid_pointer(func, p, "was already freed (double free)");
    if (foreign_owns(p)) {
      uma_foreign_heap->free(p);
      return;
    }
    uma_invalid_pointer(func, p, "was not allocated here");
  }
  uma_heap_t *heap = uma_tls_heap;
  if (heap) {
    STAT_ADD(heap->stats.large_frees, 1);
    STAT_ADD(heap->stats.large_freed_bytes, size);
  } else {
    stats_orphan_free(UMA_CLASS_COUNT, size);
  }
}

/* A checked block of the calling thread's own pages, its class's thread
 * cache full: onto its page. */
void free_to_page(uma_heap_t *heap, uma_page_t *page, uma_block_t *b) {
  unsigned cls = page->class_idx;
  UMA_ASSERT(page->used > 0 && page_is_block_start(page, b) && ((uma_segment_t *)seg_of(b))->heap == heap);
  STAT_ADD(heap->tcache[cls].frees, 1);
  heap_enter(heap);
  block_link(b, page->free);
  page->free = b;
  /* The slow case also covers "the current page has nothing left": this
   * page then becomes current, so the next malloc reuses the block just
   * freed, still in cache, instead of refilling from a cold page. */
  uma_page_t *cur = heap->tcache[cls].page;
  if (uma_unlikely(--page->used == 0 || page->in_full || (cur->free == NULL && cur != page))) {
    if (cur != page || page->in_full) page_free_slow(heap, page);   /* the current page stays even when empty */
  }
  heap_leave(heap);
}

/* The fast path found the class's thread cache full (its room wrapped):
 * the whole cache goes back to its pages in one pass and `b` starts it
 * again, so a program that frees long runs of blocks (a list, a tree)
 * takes the heap's busy flag once per cache-full, not once per block. */
void free_to_full_cache(uma_heap_t *heap, uma_page_t *page, uma_block_t *b) {
  uma_tcache_t *tc = &heap->tcache[page->class_idx];
  heap_enter(heap);
  heap_flush_tcache_class(heap, page->class_idx);
  heap_leave(heap);
  block_link(b, NULL);
  tc->head = b;
  tc->room = tc->max - 1;
  STAT_ADD(tc->frees, 1);
}

/* Everything but a valid block of the calling thread's own small or medium
 * pages: NULL, a pointer that is not ours, the coalescing pool, a large
 * block, another thread's block, and the diagnoses. */
void free_slow(void *p, const char *func) {
  if (p == NULL) return;
  void *s = seg_of(p);
  if (uma_unlikely(!owner_map_test(s))) {
    free_unowned(p, func);
    return;
  }
  uma_segment_t *seg = s;
  /* a sampled block: in the coalescing pool, a mapping or the sampling heap */
  if (uma_unlikely(atomic_load_explicit(&sample_live_blocks, memory_order_relaxed)) &&
      (seg->kind >= SEG_KIND_BIG || sample_heap_is(seg->heap)))
    sample_free_slow(p);
  if (seg->kind >= SEG_KIND_BIG) {   /* the coalescing pool or a mapping */
    free_large(s, p, func);
    return;
  }
  uma_page_t *page = checked_page(seg, p, func);
  uma_heap_t *heap = uma_tls_heap;
  if (seg->heap != heap) free_remote(seg, page, p);
  else free_to_page(heap, page, p);
}

static void free_slow_free(void *p) { free_slow(p, "free"); }
void alloc_free(void *p) { alloc_free_inline(p, free_slow_free); }

/* ---- size queries and realloc ------------------------------------------ */

static size_t usable_checked(const void *p, const char *func) {
  void *s = seg_of(p);
  if (uma_unlikely(!owner_map_test(s))) {
    size_t planned = planned_size(p);
    if (planned == 0 && foreign_owns(p)) return uma_foreign_heap->usable(p);
    if (planned == 0) uma_invalid_pointer(func, p, "was not allocated here");
    return planned;
  }
  if (((uma_segment_t *)s)->kind == SEG_KIND_LARGE) {
    uma_large_t *lg = s;
    if (p != (uint8_t *)lg + lg->user_offset || lg->is_free)
      uma_invalid_pointer(func, p, "is not a live large block");
    return large_usable(lg);
  }
  if (((uma_segment_t *)s)->kind == SEG_KIND_BIG) return tlsf_usable(s, p, func);
  return checked_page(s, p, func)->block_size;
}

size_t alloc_usable_size(const void *p) {
  return p ? usable_checked(p, "malloc_usable_size") : 0;
}

bool alloc_owns(const void *p) {
  if (p == NULL) return false;
  void *s = seg_of(p);
  if (!owner_map_test(s)) return planned_size(p) != 0;
  if (((uma_segment_t *)s)->kind == SEG_KIND_LARGE) {
    uma_large_t *lg = s;
    return p == (uint8_t *)lg + lg->user_offset && !lg->is_free;   /* cached or retired: not the program's */
  }
  if (((uma_segment_t *)s)->kind == SEG_KIND_BIG) return tlsf_owns(s, p);
  uma_page_t *page = seg_page_of(s, p);
  return page_is_block_start(page, p);
}

/* Counted as one free and one allocation, like a move. */
static void count_in_place(size_t old_bytes, size_t new_request, unsigned cls, bool large, size_t new_bytes) {
  uma_heap_t *heap = uma_tls_heap;
  if (heap == NULL) return;
  if (large) {
    STAT_ADD(heap->stats.large_requested, new_request);
    STAT_ADD(heap->stats.large_frees, 1);
    STAT_ADD(heap->stats.large_freed_bytes, old_bytes);
    STAT_ADD(heap->stats.large_allocs, 1);
    STAT_ADD(heap->stats.large_bytes, new_bytes);
  } else {
    STAT_ADD(heap->tcache[cls].frees, 1);
    STAT_ADD(heap->tcache[cls].allocs, 1);
    STAT_ADD(heap->tcache[cls].requested, new_request);
  }
}

void *alloc_realloc(void *p, size_t size, const void *ra) {
  if (p == NULL) return alloc_malloc(size, ra);
  if (size == 0) {          /* glibc: realloc(p, 0) frees p and returns NULL */
    alloc_free(p);
    return NULL;
  }
  if (uma_unlikely(size > UMA_MAX_REQUEST)) {
    errno = ENOMEM;
    return NULL;
  }
  void *s = seg_of(p);
  size_t old_usable;
  if (uma_unlikely(!owner_map_test(s))) {   /* a planned block moves out of the arena */
    old_usable = planned_size(p);
    if (old_usable == 0 && foreign_owns(p)) return uma_foreign_heap->realloc(p, size);
    if (old_usable == 0) uma_invalid_pointer("realloc", p, "was not allocated here");
  } else if (((uma_segment_t *)s)->kind == SEG_KIND_LARGE) {
    uma_large_t *lg = s;
    if (p != (uint8_t *)lg + lg->user_offset || lg->is_free)
      uma_invalid_pointer("realloc", p, "is not a live large block");
    old_usable = large_usable(lg);
    /* A block registered with CUDA is not moved: its registration names
     * these addresses. It is copied like any other. */
    if (lg->cow) {   /* over the memory file: moving it would map other blocks' file pages; alias instead */
      if (size <= old_usable && size >= old_usable / 2) return p;
    } else if (size > UMA_BLOCK_MAX && route_table[lg->route].alias != UMA_ALIAS_OFF && lg->pinned != PIN_YES) {
      if (uma_tls_heap == NULL) heap_get_slow();
      void *q = large_realloc(uma_tls_heap, lg, p, size);   /* pages move, bytes do not */
      if (q == NULL && alloc_purge_for_retry(size)) q = large_realloc(uma_tls_heap, lg, p, size);
      if (stats_observers.after_slow_path) stats_observers.after_slow_path();
      if (q == NULL) errno = ENOMEM;   /* after: the snapshot may set errno */
      return q;
    }
  } else if (((uma_segment_t *)s)->kind == SEG_KIND_BIG) {
    old_usable = tlsf_usable(s, p, "realloc");
    if (size <= old_usable && size >= old_usable / 2 && sc_of(size) >= tlsf_first_class) return p;
  } else {
    uma_page_t *page = checked_page(s, p, "realloc");
    old_usable = page->block_size;
    if (size <= old_usable && size >= old_usable / 2) {
      count_in_place(old_usable, size, page->class_idx, false, old_usable);
      return p;
    }
  }
  void *q = alloc_malloc(size, ra);
  if (q == NULL) return NULL;
  size_t keep = size < old_usable ? size : old_usable;
  if (!(large_hooks.copy && large_hooks.copy(q, p, keep))) bytes_copy(q, p, keep);   /* aliased, or copied once */
  alloc_free(p);
  return q;
}

/* Used by large_realloc, which never moves bytes. */
void alloc_count_large_in_place(size_t old_bytes, size_t new_request, size_t new_bytes) {
  count_in_place(old_bytes, new_request, 0, true, new_bytes);
}

/* The public names (include/uma.h). The preload's entry points call the
 * hidden alloc_* names directly, never through the PLT. */
#define UMA_PUBLIC_ALIAS(name) __attribute__((alias(#name), visibility("default")))
#define RA __builtin_return_address(0)
void *uma_malloc(size_t size) { return alloc_malloc(size, RA); }
void *uma_calloc(size_t count, size_t size) { return alloc_calloc(count, size, RA); }
void *uma_realloc(void *p, size_t size) { return alloc_realloc(p, size, RA); }
void *uma_aligned_alloc(size_t alignment, size_t size) { return alloc_aligned(alignment, size, RA); }
void uma_free(void *p) UMA_PUBLIC_ALIAS(alloc_free);
size_t uma_usable_size(const void *p) UMA_PUBLIC_ALIAS(alloc_usable_size);
bool uma_owns(const void *p) UMA_PUBLIC_ALIAS(alloc_owns);
