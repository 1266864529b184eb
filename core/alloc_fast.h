/* alloc_fast.h — the malloc and free fast paths, inlined into the exported
 * entry points (interpose/malloc.c) and into alloc.c's alloc_malloc and
 * alloc_free. A pair costs about 70 instructions, so a call and a jump
 * between files show (taken branches are what a pair runs out of first).
 * Everything else is alloc.c's: alloc_generic, free_to_page, free_slow. */
#ifndef UMA_ALLOC_FAST_H
#define UMA_ALLOC_FAST_H
#include "internal.h"

UMA_HIDDEN UMA_NOINLINE void *alloc_generic(size_t size, size_t align, bool zero, const void *ra);
UMA_HIDDEN UMA_NOINLINE void free_to_page(uma_heap_t *heap, uma_page_t *page, uma_block_t *b);
UMA_HIDDEN UMA_NOINLINE void free_slow(void *p, const char *func);

/* What a free block holds at offset 8: its address keyed with a per-process
 * secret, so a double free is told apart from live data. */
static inline uintptr_t block_cookie(const uma_block_t *b) { return (uintptr_t)b ^ uma_secret; }

/* A block of a class up to 64 KiB from the thread cache, else from the
 * class's current page; anything else (no heap yet, larger, refill) is
 * alloc_generic's. `ra`: the program's return address (rules may match it). */
static inline __attribute__((always_inline)) void *alloc_malloc_inline(size_t size, const void *ra) {
  uma_heap_t *heap = uma_tls_heap;
  if (uma_likely(heap != NULL && size <= UMA_TCACHE_MAX_SIZE)) {
    unsigned cls = sc_of(size);
    uma_tcache_t *tc = &heap->tcache[cls];
    uma_block_t *b = tc->head;
    if (uma_likely(b != NULL)) {
      tc->head = b->next;
      tc->room++;
    } else {
      uma_page_t *page = heap->tcache[cls].page;
      b = page->free;
      if (uma_unlikely(b == NULL)) return alloc_generic(size, UMA_ALIGN_MIN, false, ra);
      page->free = b->next;
      page->used++;
    }
    b->cookie = 0;
    STAT_ADD(tc->allocs, 1);
    STAT_ADD(tc->requested, size);
    return b;
  }
  return alloc_generic(size, UMA_ALIGN_MIN, false, ra);
}

/* A block of the calling thread's own pages goes onto its class's thread
 * cache while there is room. The checks every free pays for: ours and on
 * pages (the ownership map), in a page in use at or after its first block
 * and 16-aligned (page_may_start_block), and not already free (the
 * cookie). NULL fails the ownership test (its slot 0 is never ours) and
 * takes the slow path. */
static inline __attribute__((always_inline)) void alloc_free_inline(void *p) {
  /* A block on pages never starts its slot (the segment header does), so
   * the slot is p's own, without seg_of's p − 1 for large aligned blocks
   * (their slot reads OWNER_NONE here and free_slow looks again). */
  uma_segment_t *seg = (uma_segment_t *)((uintptr_t)p & ~UMA_SEG_MASK);
  if (uma_likely(owner_map_get(seg) == OWNER_PAGES)) {
    uma_page_t *page = seg_page_of(seg, p);
    uma_block_t *b = p;
    uma_heap_t *heap = uma_tls_heap;
    if (uma_likely(page_may_start_block(page, p) && b->cookie != block_cookie(b) &&
                   seg->heap == heap)) {
      uma_tcache_t *tc = &heap->tcache[page->class_idx];
      if (uma_likely(tc->room != 0)) {
        tc->room--;
        b->cookie = block_cookie(b);
        b->next = tc->head;
        tc->head = b;
        STAT_ADD(tc->frees, 1);
        return;
      }
      free_to_page(heap, page, b);
      return;
    }
  }
  free_slow(p, "free");
}

#endif
