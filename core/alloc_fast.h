/* alloc_fast.h — the malloc and free fast paths, inlined into the exported
 * entry points (interpose/malloc.c) and into alloc.c's alloc_malloc and
 * alloc_free. A pair costs about 70 instructions, so a call and a jump
 * between files show (taken branches are what a pair runs out of first).
 * Everything else is alloc.c's: alloc_generic, free_to_page, free_slow. */
#ifndef UMA_ALLOC_FAST_H
#define UMA_ALLOC_FAST_H
#include "base.h"
#include "heap.h"
#include "layout.h"
#include "owner_map.h"
#include "page.h"
#include "sample.h"
#include "size_class.h"
#include "stats.h"

UMA_HIDDEN UMA_NOINLINE void *alloc_generic(size_t size, size_t align, bool zero, const void *ra);
UMA_HIDDEN UMA_NOINLINE void free_to_page(uma_heap_t *heap, uma_page_t *page, uma_block_t *b);
UMA_HIDDEN UMA_NOINLINE void free_to_full_cache(uma_heap_t *heap, uma_page_t *page, uma_block_t *b);
UMA_HIDDEN UMA_NOINLINE void free_slow(void *p, const char *func);
/* block_corrupt, reached by a jump: a call to a function that does not
 * return would make malloc set up a stack frame on its fast path. */
UMA_HIDDEN UMA_COLD void *alloc_corrupt(const uma_block_t *b);

/* The fast paths' limits are variables, not constants: with [report] trace
 * on, trace_start zeroes them and every call takes the caller's slow path,
 * where it is traced, so the fast paths test nothing for tracing. */
UMA_HIDDEN extern size_t fast_malloc_limit;   /* UMA_TCACHE_MAX_SIZE + 1, or 0 */
UMA_HIDDEN extern uintptr_t fast_free_slots;  /* OWNER_MAP_SLOTS, or 0 */

/* Room for one more block in a thread cache? Taken if so. On x86-64 one
 * subtract from memory whose borrow is the answer (the compiler makes a
 * load, a test, a subtract and a store of `if (room) room--`); a full
 * cache's room is left wrapped to UINT32_MAX, and free_to_full_cache puts
 * it back to 0 (out of line, so the fast path keeps nothing for it). */
static inline __attribute__((always_inline)) bool tcache_take_room(uint32_t *room) {
#if defined(__x86_64__)
  __asm__ goto("subl $1, %0\n\tjc %l[full]" : "+m"(*room) : : "cc" : full);
  return true;
full:
  return false;
#else
  if (*room == 0) return false;
  (*room)--;
  return true;
#endif
}

/* Bytes until the next sampled call site ([report] sample): one subtract
 * from memory whose sign is the answer (sample.c re-arms it). */
static inline __attribute__((always_inline)) bool sample_take(int32_t *left, size_t size) {
#if defined(__x86_64__)
  __asm__ goto("subl %1, %0\n\tjs %l[hit]" : "+m"(*left) : "r"((uint32_t)size) : "cc" : hit);
  return false;
hit:
  return true;
#else
  *left -= (int32_t)size;
  return *left < 0;
#endif
}

/* A block of a class up to 64 KiB from the thread cache, else from the
 * class's current page; anything else (no heap yet, larger, refill, a
 * trace) is `slow`'s. `ra`: the program's return address (rules may match
 * it). */
static inline __attribute__((always_inline)) void *
alloc_malloc_inline(size_t size, const void *ra, void *(*slow)(size_t size, const void *ra)) {
  uma_heap_t *heap = uma_tls_heap;
  if (uma_likely(heap != NULL && size < fast_malloc_limit)) {
    if (size > UMA_TCACHE_MAX_SIZE) __builtin_unreachable();   /* the limit is at most one above */
    uma_tcache_t *tc = uma_likely(size <= SC_SMALL_MAX) ? heap->small[sc_small_index(size)]
                                                        : &heap->tcache[sc_of(size)];
    if (uma_unlikely(sample_take(&tc->sample_left, size))) return sample_alloc(size, UMA_ALIGN_MIN, false, ra, tc);
    uma_block_t *b = tc->head, *next;
    if (uma_likely(b != NULL)) {
      next = b->next;
      if (uma_unlikely(b->cookie != block_seal(b, next))) return alloc_corrupt(b);
      tc->head = next;
      tc->room++;
    } else {
      uma_page_t *page = tc->page;
      b = page->free;
      if (uma_unlikely(b == NULL)) return slow(size, ra);
      next = b->next;
      if (uma_unlikely(b->cookie != block_seal(b, next))) return alloc_corrupt(b);
      page->free = next;
      page->used++;
    }
    b->cookie = 0;
    STAT_ADD(tc->allocs, 1);   /* the requested bytes: sample_take counted them */
    return b;
  }
  return slow(size, ra);
}

/* A block of the calling thread's own pages goes onto its class's thread
 * cache while there is room. The checks every free pays for: ours and on
 * pages (the ownership map), in a page in use at or after its first block
 * and at a block start (page_is_block_start), and not already free (the
 * cookie). NULL fails the ownership test (its slot 0 is never ours) and
 * takes the slow path. */
static inline __attribute__((always_inline)) void alloc_free_inline(void *p, void (*slow)(void *p)) {
  /* A block on pages never starts its slot (the segment header does), so
   * the slot is p's own, without seg_of's p − 1 for large aligned blocks
   * (their slot reads OWNER_NONE here and free_slow looks again). */
  uma_segment_t *seg = (uma_segment_t *)((uintptr_t)p & ~UMA_SEG_MASK);
  uintptr_t slot = (uintptr_t)p >> UMA_SEG_SHIFT;
  if (uma_likely(slot < fast_free_slots && owner_bit(owner_paged, slot, memory_order_relaxed))) {
    unsigned shift = seg->page_shift;
    uma_page_t *page = &seg->pages[((uintptr_t)p - (uintptr_t)seg) >> shift];
    uma_block_t *b = p;
    uma_heap_t *heap = uma_tls_heap;
    if (uma_likely(page_is_block_start(page, p) && !block_is_free(b) && seg->heap == heap)) {
      uma_tcache_t *tc = &heap->tcache[page->class_idx];
      if (uma_likely(tcache_take_room(&tc->room))) {
        block_link(b, tc->head);
        tc->head = b;
        STAT_ADD(tc->frees, 1);
        return;
      }
      free_to_full_cache(heap, page, b);
      return;
    }
  }
  slow(p);
}

#endif
