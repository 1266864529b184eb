/* page.c — pages of one size class inside a heap: the class queues, refilling
 * a free list (collect remote frees, extend into the never-used tail, or take
 * a new page from segment.c), and the full/delayed protocol that lets other
 * threads free into a page without a lock (see uma_page_t in internal.h). */
#include "internal.h"

uma_page_t page_empty;   /* free == NULL: the fast path falls through to the slow path */

/* ---- class queues -------------------------------------------------------- */

void page_queue_push_front(uma_heap_t *heap, uma_page_t *page) {
  uma_page_queue_t *q = &heap->queue[page->class_idx];
  UMA_ASSERT(page->block_size == sc_size(page->class_idx) && !page->in_full);
  page->prev = NULL;
  page->next = q->first;
  if (q->first) q->first->prev = page;
  else q->last = page;
  q->first = page;
  heap->tcache[page->class_idx].page = page;
}

static void page_queue_push_back(uma_heap_t *heap, uma_page_t *page) {
  uma_page_queue_t *q = &heap->queue[page->class_idx];
  if (q->first == NULL) {
    page_queue_push_front(heap, page);
    return;
  }
  page->next = NULL;
  page->prev = q->last;
  q->last->next = page;
  q->last = page;
}

void page_queue_remove(uma_heap_t *heap, uma_page_t *page) {
  uma_page_queue_t *q = &heap->queue[page->class_idx];
  if (page->prev) page->prev->next = page->next;
  else {
    q->first = page->next;
    heap->tcache[page->class_idx].page = q->first ? q->first : &page_empty;
  }
  if (page->next) page->next->prev = page->prev;
  else q->last = page->prev;
  page->next = page->prev = NULL;
}

/* ---- remote frees -------------------------------------------------------- */

/* Any thread but the owner: push the block; if the page sat in the full
 * state, hand the page to its heap's delayed stack (exactly once). */
void page_free_remote(uma_segment_t *seg, uma_page_t *page, uma_block_t *b) {
  uintptr_t old = atomic_load_explicit(&page->thread_free, memory_order_relaxed);
  uintptr_t state;
  for (;;) {
    state = old & PAGE_TF_BITS;
    block_link(b, (uma_block_t *)(old & ~(uintptr_t)PAGE_TF_BITS));
    uintptr_t next = (uintptr_t)b | (state == PAGE_TF_FULL ? PAGE_TF_NOTIFIED : state);
    if (atomic_compare_exchange_weak_explicit(&page->thread_free, &old, next,
                                              memory_order_release, memory_order_relaxed))
      break;
  }
  if (state != PAGE_TF_FULL) return;
  uma_heap_t *heap = seg->heap;   /* stable: the page holds a live block until the owner collects */
  uma_page_t *head = atomic_load_explicit(&heap->delayed, memory_order_relaxed);
  do {
    page->delayed_next = head;
  } while (!atomic_compare_exchange_weak_explicit(&heap->delayed, &head, page,
                                                  memory_order_release, memory_order_relaxed));
}

/* Owner: move remote frees onto the free list, keeping the state bits. */
void page_collect(uma_page_t *page) {
  uintptr_t old = atomic_load_explicit(&page->thread_free, memory_order_relaxed);
  if ((old & ~(uintptr_t)PAGE_TF_BITS) == 0) return;
  while (!atomic_compare_exchange_weak_explicit(&page->thread_free, &old, old & PAGE_TF_BITS,
                                                memory_order_acquire, memory_order_relaxed)) {}
  uma_block_t *list = (uma_block_t *)(old & ~(uintptr_t)PAGE_TF_BITS);
  uint32_t count = 1;
  uma_block_t *tail = list;
  for (uma_block_t *next; (next = block_next(tail)) != NULL; tail = next) count++;
  block_link(tail, page->free);
  page->free = list;
  UMA_ASSERT(page->used >= count);
  page->used -= count;
}

static void page_set_normal(uma_page_t *page) {
  uintptr_t old = atomic_load_explicit(&page->thread_free, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&page->thread_free, &old, old & ~(uintptr_t)PAGE_TF_BITS,
                                                memory_order_acq_rel, memory_order_relaxed)) {}
}

static bool page_state_is_normal(uma_page_t *page) {
  return (atomic_load_explicit(&page->thread_free, memory_order_acquire) & PAGE_TF_BITS) == PAGE_TF_NORMAL;
}

/* Owner: put back the pages that remote frees took out of the full state. */
void heap_drain_delayed(uma_heap_t *heap) {
  if (atomic_load_explicit(&heap->delayed, memory_order_relaxed) == NULL) return;
  uma_page_t *page = atomic_exchange_explicit(&heap->delayed, NULL, memory_order_acquire);
  while (page) {
    uma_page_t *next = page->delayed_next;   /* read before NORMAL allows another push */
    page_set_normal(page);
    if (page->in_full) {
      page->in_full = 0;
      page_queue_push_back(heap, page);
    }
    page_collect(page);
    if (page->used == 0 && page != heap->queue[page->class_idx].first) page_retire(heap, page);
    page = next;
  }
}

/* Owner: the page has nothing to hand out. Take it out of the queue unless
 * remote frees arrived meanwhile (then the caller collects them). */
static bool page_mark_full(uma_heap_t *heap, uma_page_t *page) {
  uintptr_t old = atomic_load_explicit(&page->thread_free, memory_order_relaxed);
  for (;;) {
    if ((old & ~(uintptr_t)PAGE_TF_BITS) != 0) return false;
    if ((old & PAGE_TF_BITS) != PAGE_TF_NORMAL) break;   /* NOTIFIED: already queued for draining */
    if (atomic_compare_exchange_weak_explicit(&page->thread_free, &old, PAGE_TF_FULL,
                                              memory_order_acq_rel, memory_order_relaxed))
      break;
  }
  page_queue_remove(heap, page);
  page->in_full = 1;
  return true;
}

/* ---- local frees that need more than a push ------------------------------ */

/* Owner: take in remote frees; retire the page if that left it empty (and it
 * is on no delayed stack). */
void page_retire_if_empty(uma_heap_t *heap, uma_page_t *page) {
  page_collect(page);
  if (page->used == 0 && page_state_is_normal(page)) page_retire(heap, page);
}

void page_retire(uma_heap_t *heap, uma_page_t *page) {
  UMA_ASSERT(page->used == 0 && !page->in_full && page_state_is_normal(page));
  page_queue_remove(heap, page);
  seg_page_free(heap, page);
}

/* Owner, after a local free: the page just became empty, left the full
 * state, or should become current because the current page ran dry. */
void page_free_slow(uma_heap_t *heap, uma_page_t *page) {
  uma_page_t *cur = heap->tcache[page->class_idx].page;
  bool make_current = cur->free == NULL && cur != page;
  if (page->in_full) {
    page->in_full = 0;
    uintptr_t old = atomic_load_explicit(&page->thread_free, memory_order_relaxed);
    while ((old & PAGE_TF_BITS) == PAGE_TF_FULL &&
           !atomic_compare_exchange_weak_explicit(&page->thread_free, &old, old & ~(uintptr_t)PAGE_TF_BITS,
                                                  memory_order_acq_rel, memory_order_relaxed)) {}
    if (make_current) page_queue_push_front(heap, page);
    else page_queue_push_back(heap, page);
  } else if (make_current) {
    page_queue_remove(heap, page);
    page_queue_push_front(heap, page);
  }
  /* Keep the class's current page even when empty: alternating malloc/free
   * of one block must not map and purge a page each time. */
  if (page->used == 0 && page != heap->queue[page->class_idx].first && page_state_is_normal(page))
    page_retire(heap, page);
}

/* Owner: give the blocks one class holds in the thread cache back to their pages. */
void heap_flush_tcache_class(uma_heap_t *heap, unsigned cls) {
  uma_tcache_t *tc = &heap->tcache[cls];
  uma_block_t *b = tc->head;
  tc->head = NULL;
  tc->room = tc->max;
  while (b) {
    uma_block_t *next = block_next(b);
    uma_page_t *page = seg_page_of(seg_of(b), b);
    UMA_ASSERT(page->class_idx == cls && page->used > 0 && ((uma_segment_t *)seg_of(b))->heap == heap);
    block_link(b, page->free);
    page->free = b;
    if (--page->used == 0 || page->in_full) page_free_slow(heap, page);
    b = next;
  }
}

void heap_flush_tcache(uma_heap_t *heap) {
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) heap_flush_tcache_class(heap, c);
}

/* ---- refills -------------------------------------------------------------- */

/* Thread up to one OS page of never-used blocks onto the free list. */
static void page_extend(uma_page_t *page) {
  size_t bs = page->block_size;
  UMA_ASSERT(page->bump < page->end && (size_t)(page->end - page->bump) % bs == 0);
  size_t room = (size_t)(page->end - page->bump) / bs;
  size_t n = UMA_OS_PAGE / bs;
  if (n == 0) n = 1;
  if (n > room) n = room;
  uint8_t *first = page->bump;
  uint8_t *last = first + (n - 1) * bs;
  for (uint8_t *q = first; q < last; q += bs) block_link((uma_block_t *)q, (uma_block_t *)(q + bs));
  block_link((uma_block_t *)last, page->free);
  page->free = (uma_block_t *)first;
  page->bump = last + bs;
}

static bool page_refill(uma_page_t *page) {
  page_collect(page);
  if (page->free) return true;
  if (page->bump < page->end) {
    page_extend(page);
    return true;
  }
  return false;
}

/* The class's current page ran dry: find a page with a free block and make
 * it current. Returns NULL only when the OS refuses memory. */
uma_page_t *page_malloc_slow(uma_heap_t *heap, unsigned cls) {
  heap_drain_delayed(heap);
  uma_page_t *page = heap->queue[cls].first;
  while (page) {
    if (page_refill(page)) {
      if (page != heap->queue[cls].first) {
        page_queue_remove(heap, page);
        page_queue_push_front(heap, page);
      }
      return page;
    }
    uma_page_t *next = page->next;
    if (!page_mark_full(heap, page)) continue;   /* remote frees arrived: collect them */
    page = next;
  }
  heap_purge_tick(heap, false);
  page = seg_page_alloc(heap, cls);
  if (page == NULL) return NULL;
  page_queue_push_front(heap, page);
  page_extend(page);
  UMA_ASSERT(page->free != NULL && page->class_idx == cls && heap->tcache[cls].page == page);
  stats_sample_peak(heap);
  return page;
}
