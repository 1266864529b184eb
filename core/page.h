/* page.h — pages of one size class: slow paths and block arithmetic (page.c). */
#ifndef UMA_PAGE_H
#define UMA_PAGE_H
#include "base.h"
#include "heap.h"
#include "layout.h"

UMA_HIDDEN uma_page_t *page_malloc_slow(uma_heap_t *heap, unsigned cls);
UMA_HIDDEN void page_free_slow(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_free_remote(uma_segment_t *seg, uma_page_t *page, uma_block_t *b);
UMA_HIDDEN void page_collect(uma_page_t *page);
UMA_HIDDEN void page_queue_remove(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_queue_push_front(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_retire(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_retire_if_empty(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void page_decay(uma_page_t *page, uint64_t now_ms, uint64_t delay_ms, bool force);
UMA_HIDDEN unsigned page_purged_count(const uma_page_t *page);

static inline uma_page_t *seg_page_of(uma_segment_t *seg, const void *p) {
  return &seg->pages[((uintptr_t)p - (uintptr_t)seg) >> seg->page_shift];
}
static inline uint8_t *page_start(const uma_page_t *page) { return (uint8_t *)(0 - page->neg_start); }
/* Is p a block start of `page` (of p's own segment)? off = p − first block
 * is below 4 MiB (a pointer into the segment header, below page 0's first
 * block, wraps around) and a multiple of the block size: off × ⌈2⁶⁴/size⌉
 * wraps below ⌈2⁶⁴/size⌉ exactly then (Lemire, Kaser & Kurz, "Faster
 * remainder by direct computation", 2019: exact for off < 2³², sizes
 * < 2³²). Where the page is not in use, div_magic is 0 and nothing passes,
 * so a never-written descriptor already says "not in use". An add, a
 * multiply, two compares: free(p + 16) of a live block is diagnosed, never
 * put on a free list (it would hand out memory overlapping the block). */
static inline bool page_is_block_start(const uma_page_t *page, const void *p) {
  uint64_t off = (uintptr_t)p + page->neg_start;
  return off < UMA_SEG_SIZE && off * page->div_magic < page->div_magic;
}
static inline uint64_t page_div_magic(size_t block_size) { return UINT64_MAX / block_size + 1; }

#endif
