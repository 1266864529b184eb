/* page.c — pages of one size class inside a heap: the class queues, refilling
 * a free list (collect remote frees, extend into the never-used tail, or take
 * a new page from segment.c), and the full/delayed protocol that lets other
 * threads free into a page without a lock (see uma_page_t in layout.h). */
#include "base.h"
#include "decay.h"
#include "fmt.h"
#include "heap.h"
#include "layout.h"
#include "os.h"
#include "page.h"
#include "segment.h"
#include "size_class.h"
#include "stats.h"

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

/* ---- free memory inside pages in use (decay) ----------------------------- */

/* A page that lost most of its blocks but keeps a few survivors never goes
 * back to its segment, so its memory never would either: a server that
 * deleted 3 keys of 4 holds every page it filled. page_decay returns the
 * OS pages (4 KiB) of such a page whose every block is free, while the page
 * stays in use. Blocks that overlap a returned OS page leave the free list
 * ("reserved": free, on no list, their first 16 bytes zero), so nothing
 * writes there; `purged` says which OS pages went. Only the part below
 * `bump` is looked at: the never-used tail above is handed out by
 * page_extend and was never written by this page's blocks.
 *
 * When the page has nothing else to hand out, page_restore takes back the
 * lowest returned OS page — with the returned pages after it that its
 * blocks reach into, so that no block on a list ever overlaps a returned
 * page and the committed count stays exact — and threads its blocks onto
 * the free list, checking that each still reads zero (a block written after
 * its free, or freed twice, is diagnosed there rather than handed out). */
#define PAGE_MAX_BLOCKS ((1u << UMA_SMALL_PAGE_SHIFT) / 16)            /* 4096 16-byte blocks */
#define PAGE_OS_PAGES   ((1u << UMA_MEDIUM_PAGE_SHIFT) / UMA_OS_PAGE)  /* 128 on a 512 KiB page */
_Static_assert(PAGE_OS_PAGES <= 128, "uma_page_t.purged holds 128 bits");
_Static_assert((1u << UMA_MEDIUM_PAGE_SHIFT) / (8u * 1024) <= PAGE_MAX_BLOCKS, "medium pages' blocks fit the map");

static inline bool bit_get(const uint64_t *m, unsigned i) { return (m[i >> 6] >> (i & 63)) & 1; }
static inline void bit_set(uint64_t *m, unsigned i) { m[i >> 6] |= 1ULL << (i & 63); }

_Atomic uint64_t page_decay_bytes;

unsigned page_purged_count(const uma_page_t *page) {
  return (unsigned)(__builtin_popcountll(page->purged[0]) + __builtin_popcountll(page->purged[1]));
}

/* Does block k overlap one of the OS pages in `mask`? */
static bool block_hits(const uint64_t *mask, size_t bs, unsigned k) {
  unsigned first = (unsigned)(((size_t)k * bs) / UMA_OS_PAGE);
  unsigned last = (unsigned)(((size_t)k * bs + bs - 1) / UMA_OS_PAGE);
  for (unsigned j = first; j <= last; j++)
    if (bit_get(mask, j)) return true;
  return false;
}

/* Owner or decay pass, with the heap's busy flag held; never the class's
 * current page (malloc's fast path pops it without the flag) nor a full
 * one. Gives back the OS pages whose every block has been free (and `used`
 * unchanged) for the delay; `force`: now. */
void page_decay(uma_page_t *page, uint64_t now_ms, uint64_t delay_ms, bool force) {
  if (page->used != page->seen_used) {
    page->seen_used = page->used;
    page->idle_since_ms = now_ms;
    page->decay_tried = 0;
    if (!force && delay_ms) return;
  }
  if (page->decay_tried || (!force && now_ms - page->idle_since_ms < delay_ms)) return;
  page->decay_tried = 1;
  size_t bs = page->block_size;
  uint8_t *start = page_start(page);
  size_t touched = (size_t)(page->bump - start);
  unsigned os_pages = (unsigned)(touched / UMA_OS_PAGE);
  unsigned n = (unsigned)(touched / bs);
  /* Worth a look only when at least two OS pages' worth of blocks are free. */
  if (os_pages == 0 || n > PAGE_MAX_BLOCKS || ((size_t)n - page->used) * bs < 2 * UMA_OS_PAGE) return;
  uint64_t listed[PAGE_MAX_BLOCKS / 64], is_free[PAGE_MAX_BLOCKS / 64];
  unsigned words = (n + 63) / 64;
  __builtin_memset(listed, 0, words * 8);
  for (uma_block_t *b = page->free; b; b = block_next(b)) bit_set(listed, (unsigned)(((uint8_t *)b - start) / bs));
  for (unsigned w = 0; w < words; w++) is_free[w] = listed[w];
  if (page->purged[0] | page->purged[1])
    for (unsigned k = 0; k < n; k++)
      if (block_hits(page->purged, bs, k)) bit_set(is_free, k);
  uint64_t fresh[2] = { 0, 0 };
  for (unsigned j = 0; j < os_pages; j++) {
    if (bit_get(page->purged, j)) continue;
    unsigned k0 = (unsigned)((size_t)j * UMA_OS_PAGE / bs);
    unsigned k1 = (unsigned)(((size_t)(j + 1) * UMA_OS_PAGE - 1) / bs);
    bool all = true;
    for (unsigned k = k0; k <= k1 && all; k++) all = bit_get(is_free, k);
    if (all) bit_set(fresh, j);
  }
  if ((fresh[0] | fresh[1]) == 0) return;
  uint64_t gone[2] = { page->purged[0] | fresh[0], page->purged[1] | fresh[1] };
  /* The free list again, in address order, without the blocks that touch a
   * returned OS page; those read zero in their first 16 bytes from now on. */
  uma_block_t *head = NULL;
  for (unsigned k = n; k-- > 0;) {
    if (!bit_get(listed, k)) continue;
    uma_block_t *b = (uma_block_t *)(start + (size_t)k * bs);
    if (block_hits(gone, bs, k)) {
      b->next = NULL;
      b->cookie = 0;
      continue;
    }
    block_link(b, head);
    head = b;
  }
  page->free = head;
  for (unsigned j = 0; j < os_pages;) {   /* one madvise per run */
    if (!bit_get(fresh, j)) {
      j++;
      continue;
    }
    unsigned e = j;
    while (e < os_pages && bit_get(fresh, e)) e++;
    uint8_t *lo = start + (size_t)j * UMA_OS_PAGE;
    size_t len = (size_t)(e - j) * UMA_OS_PAGE;
    /* Refused (mlock'd memory): zeroed by hand so the reserved blocks
     * still read as zero, and counted off all the same, as page_restore
     * counts it back: committed reads low by these pages meanwhile. */
    if (os_purge(lo, len)) atomic_fetch_add_explicit(&page_decay_bytes, len, memory_order_relaxed);
    else __builtin_memset(lo, 0, len);
    stats_commit(-(int64_t)len);
    j = e;
  }
  page->purged[0] = gone[0];
  page->purged[1] = gone[1];
}

/* Owner, with busy held: the page has nothing else to hand out. */
static bool page_restore(uma_page_t *page) {
  size_t bs = page->block_size;
  uint8_t *start = page_start(page);
  unsigned os_pages = (unsigned)((size_t)(page->bump - start) / UMA_OS_PAGE);
  unsigned n = (unsigned)((size_t)(page->bump - start) / bs);
  while ((page->purged[0] | page->purged[1]) != 0) {
    unsigned lo = page->purged[0] ? (unsigned)__builtin_ctzll(page->purged[0]) : 64 + (unsigned)__builtin_ctzll(page->purged[1]);
    unsigned hi = lo + 1;
    /* The last block touching OS page hi − 1 reaches into page hi: take it too. */
    while (hi < os_pages && bit_get(page->purged, hi) && ((((size_t)hi * UMA_OS_PAGE - 1) / bs + 1) * bs) > (size_t)hi * UMA_OS_PAGE)
      hi++;
    for (unsigned j = lo; j < hi; j++) page->purged[j >> 6] &= ~(1ULL << (j & 63));
    stats_commit((int64_t)(hi - lo) * (int64_t)UMA_OS_PAGE);
    unsigned k0 = (unsigned)((size_t)lo * UMA_OS_PAGE / bs);
    unsigned k1 = (unsigned)(((size_t)hi * UMA_OS_PAGE - 1) / bs);
    if (k1 >= n) k1 = n - 1;
    uma_block_t *list = NULL;
    for (unsigned k = k1 + 1; k-- > k0;) {
      if (block_hits(page->purged, bs, k)) continue;   /* still reaches a returned page */
      uma_block_t *b = (uma_block_t *)(start + (size_t)k * bs);
      if (b->next != NULL || b->cookie != 0) block_corrupt(b);
      block_link(b, list);
      list = b;
    }
    page->free = list;
    if (list) return true;   /* else every block reached on: the next run */
  }
  return false;
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
  return page_restore(page);
}

/* The class's current page ran dry: find a page with a free block and make
 * it current. Returns NULL only when the OS refuses memory. */
uma_page_t *page_malloc_slow(uma_heap_t *heap, unsigned cls) {
  heap_drain_delayed(heap);
  /* Free blocks still resident first, among the first few pages: taking
   * back a page's returned memory (page_restore) or its never-used tail
   * costs page faults, and a page that kept a few survivors after most of
   * its blocks went should drain, not fill up again while others have room. */
  unsigned looked = 0;
  for (uma_page_t *page = heap->queue[cls].first; page && looked < 8; page = page->next, looked++) {
    page_collect(page);
    if (page->free == NULL) continue;
    if (page != heap->queue[cls].first) {
      page_queue_remove(heap, page);
      page_queue_push_front(heap, page);
    }
    return page;
  }
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
  heap_purge_tick_locked(heap, false);
  page = seg_page_alloc(heap, cls);
  if (page == NULL) return NULL;
  page_queue_push_front(heap, page);
  page_extend(page);
  UMA_ASSERT(page->free != NULL && page->class_idx == cls && heap->tcache[cls].page == page);
  stats_sample_peak(heap);
  return page;
}
