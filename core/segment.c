/* segment.c — 4 MiB segments cut into pages for one heap: handing pages out
 * and taking them back, purging free pages after the decay delay, and a small
 * process-wide cache of empty segments so heaps reuse them before mapping. */
#include "base.h"
#include "options.h"
#include "bytes.h"
#include "fmt.h"
#include "heap.h"
#include "layout.h"
#include "numa.h"
#include "os.h"
#include "owner_map.h"
#include "page.h"
#include "segment.h"
#include "size_class.h"
#include "stats.h"
#include "route.h"
#include <string.h>

#define SEG_CACHE_MAX 16   /* 64 MiB of empty segments at most, each unmapped after the delay */

static pthread_mutex_t seg_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { uma_segment_t *seg; uint64_t stamp_ms; } seg_cache[SEG_CACHE_MAX];
static int seg_cache_count;   /* entries [0, count), oldest first */

/* Page i's blocks: page 0 starts after the segment header. */
static uint8_t *seg_page_start(uma_segment_t *seg, unsigned i) {
  return (uint8_t *)seg + (i == 0 ? UMA_SEG_HEADER_SIZE : (size_t)i << seg->page_shift);
}
static uint8_t *seg_page_end(uma_segment_t *seg, unsigned i) {
  return (uint8_t *)seg + ((size_t)(i + 1) << seg->page_shift);
}
static size_t seg_page_bytes(uma_segment_t *seg, unsigned i) {
  return (size_t)(seg_page_end(seg, i) - seg_page_start(seg, i));
}

/* An empty segment leaves: its header and its dirty pages stop counting. */
static void seg_unmap(uma_segment_t *seg) {
  size_t committed = UMA_SEG_HEADER_SIZE;
  for (unsigned i = 0; i < seg->page_count; i++)
    if ((seg->dirty_mask >> i) & 1) committed += seg_page_bytes(seg, i);
  stats_commit(-(int64_t)committed);
  owner_map_release(seg);
  os_unmap(seg, UMA_SEG_SIZE);
}

static void seg_list_push(uma_heap_t *heap, uma_segment_t *seg) {
  uma_segment_t **head = &heap->segs_with_free[seg->kind];
  seg->prev = NULL;
  seg->next = *head;
  if (*head) (*head)->prev = seg;
  *head = seg;
}

static void seg_list_remove(uma_heap_t *heap, uma_segment_t *seg) {
  if (seg->prev) seg->prev->next = seg->next;
  else heap->segs_with_free[seg->kind] = seg->next;
  if (seg->next) seg->next->prev = seg->prev;
  seg->next = seg->prev = NULL;
}

/* A cached segment keeps what it knew of its resident pages (purged ones are
 * not), but in its new page size: a 64 KiB page was dirty ⇒ the 512 KiB page
 * around it is, and the other way round. A dirty bit must never name a page
 * beyond the new layout — the purge would madvise memory outside the
 * segment. The committed count follows the change. */
static void seg_dirty_relayout(uma_segment_t *seg, uint64_t old_dirty, unsigned old_shift) {
  if (old_shift == seg->page_shift) {
    seg->dirty_mask = old_dirty & seg->free_mask;
    return;
  }
  unsigned old_count = (unsigned)(UMA_SEG_SIZE >> old_shift);
  uint64_t fresh_mask = 0;
  int64_t old_bytes = 0, new_bytes = 0;
  for (unsigned j = 0; j < old_count && j < 64; j++) {
    if (!((old_dirty >> j) & 1)) continue;
    uintptr_t lo = (uintptr_t)j << old_shift, hi = ((uintptr_t)(j + 1) << old_shift) - 1;
    old_bytes += (int64_t)((hi + 1) - (j == 0 ? UMA_SEG_HEADER_SIZE : lo));
    for (uintptr_t i = lo >> seg->page_shift; i <= hi >> seg->page_shift; i++) fresh_mask |= 1ULL << i;
  }
  seg->dirty_mask = fresh_mask & seg->free_mask;
  for (unsigned i = 0; i < seg->page_count; i++)
    if ((seg->dirty_mask >> i) & 1) new_bytes += (int64_t)seg_page_bytes(seg, i);
  stats_commit(new_bytes - old_bytes);
}

/* The newest cached segment of the heap's node (its pages were placed
 * there, and refault there after a purge). */
static uma_segment_t *seg_cache_take(uint8_t node) {
  uma_segment_t *seg = NULL;
  pthread_mutex_lock(&seg_cache_lock);
  for (int i = seg_cache_count - 1; i >= 0; i--)
    if (seg_cache[i].seg->node == node) {
      seg = seg_cache[i].seg;
      bytes_move(&seg_cache[i], &seg_cache[i + 1], sizeof seg_cache[0] * (size_t)(seg_cache_count - i - 1));
      seg_cache_count--;
      break;
    }
  pthread_mutex_unlock(&seg_cache_lock);
  return seg;
}

static uma_segment_t *seg_acquire(uma_heap_t *heap, uint8_t kind) {
  uint8_t shift = kind == SEG_KIND_SMALL ? UMA_SMALL_PAGE_SHIFT : UMA_MEDIUM_PAGE_SHIFT;
  uma_segment_t *seg = seg_cache_take(heap->node);
  bool fresh = seg == NULL;
  if (fresh) {
    if (!stats_heap_allows(0)) return NULL;   /* [limits] heap: a segment commits page by page */
    seg = os_map_aligned(UMA_SEG_SIZE, UMA_SEG_SIZE);
    if (seg == NULL) return NULL;
    seg->page_shift = shift;   /* before the map says "paged": free's fast path reads it then */
    if (!owner_map_set(seg, shift)) {
      os_unmap(seg, UMA_SEG_SIZE);
      return NULL;
    }
    numa_place(seg, UMA_SEG_SIZE, NULL, heap->node, &route_numa[0]);   /* before the first touch */
    seg->node = heap->node;
    seg->dirty_mask = 0;   /* fresh: nothing resident but the header */
    stats_commit(UMA_SEG_HEADER_SIZE);
  }
  uint64_t old_dirty = seg->dirty_mask;
  unsigned old_shift = seg->page_shift;
  /* A fresh mapping's descriptors are zero, "not in use", and stay
   * untouched until their page is: 8 KB of header that is not resident. */
  if (!fresh) memset(seg->pages, 0, sizeof seg->pages);
  seg->kind = kind;
  seg->page_shift = shift;
  if (!fresh) owner_map_set(seg, shift);   /* a cached segment may change kind */
  seg->page_count = (uint16_t)(UMA_SEG_SIZE >> seg->page_shift);
  seg->used_pages = 0;
  seg->heap = heap;
  seg->free_mask = seg->page_count == 64 ? ~0ULL : (1ULL << seg->page_count) - 1;
  if (!fresh) seg_dirty_relayout(seg, old_dirty, old_shift);
  seg->dirty_stamp_ms = os_now_ms();
  seg_list_push(heap, seg);
  return seg;
}

uma_page_t *seg_page_alloc(uma_heap_t *heap, unsigned cls) {
  uint8_t kind = cls < UMA_SMALL_CLASSES ? SEG_KIND_SMALL : SEG_KIND_MEDIUM;
  uma_segment_t *seg = heap->segs_with_free[kind];
  if (seg == NULL) seg = seg_acquire(heap, kind);
  if (seg == NULL) return NULL;
  /* A page still resident costs no page faults: prefer it to a purged one. */
  uint64_t pick = seg->free_mask & seg->dirty_mask;
  if (pick == 0) pick = seg->free_mask;
  UMA_ASSERT(pick != 0 && seg->heap == heap && seg->kind == kind);
  unsigned i = (unsigned)__builtin_ctzll(pick);
  UMA_ASSERT(seg->pages[i].block_size == 0 && seg->pages[i].div_magic == 0);   /* a free page is "not in use" */
  if (!((seg->dirty_mask >> i) & 1)) stats_commit((int64_t)seg_page_bytes(seg, i));
  seg->free_mask &= ~(1ULL << i);
  seg->dirty_mask &= ~(1ULL << i);
  seg->used_pages++;
  UMA_ASSERT(seg->used_pages <= seg->page_count);
  if (seg->free_mask == 0) seg_list_remove(heap, seg);

  uma_page_t *page = &seg->pages[i];
  size_t bs = sc_size(cls);
  uint8_t *start = seg_page_start(seg, i);
  page->free = NULL;
  page->used = 0;
  page->block_size = (uint32_t)bs;
  page->neg_start = 0 - (uintptr_t)start;
  page->div_magic = page_div_magic(bs);
  page->bump = start;
  page->end = start + (size_t)(seg_page_end(seg, i) - start) / bs * bs;
  atomic_store_explicit(&page->thread_free, 0, memory_order_relaxed);
  page->next = page->prev = page->delayed_next = NULL;
  page->class_idx = (uint8_t)cls;
  page->in_full = 0;
  page->purged[0] = page->purged[1] = 0;
  page->seen_used = 0;
  page->decay_tried = 0;
  return page;
}

static void seg_release(uma_segment_t *seg) {
  seg->heap = NULL;
  if (uma_options[UMA_OPTION_PURGE_DELAY_MS] == 0) {
    seg_unmap(seg);
    return;
  }
  uma_segment_t *evict = NULL;
  pthread_mutex_lock(&seg_cache_lock);
  if (seg_cache_count == SEG_CACHE_MAX) {
    evict = seg_cache[0].seg;
    bytes_move(&seg_cache[0], &seg_cache[1], sizeof seg_cache[0] * (SEG_CACHE_MAX - 1));
    seg_cache_count--;
  }
  seg_cache[seg_cache_count].seg = seg;
  seg_cache[seg_cache_count].stamp_ms = os_now_ms();
  seg_cache_count++;
  pthread_mutex_unlock(&seg_cache_lock);
  if (evict) seg_unmap(evict);
}

void seg_page_free(uma_heap_t *heap, uma_page_t *page) {
  uma_segment_t *seg = seg_of(page);
  unsigned i = (unsigned)(page - seg->pages);
  bool was_full = seg->free_mask == 0;
  UMA_ASSERT(page->used == 0 && page->block_size != 0 && !((seg->free_mask >> i) & 1) && seg->heap == heap);
  /* OS pages returned while the page was in use (page_decay) count again:
   * a free page is committed whole until the segment purges it. */
  stats_commit((int64_t)page_purged_count(page) * (int64_t)UMA_OS_PAGE);
  page->purged[0] = page->purged[1] = 0;
  page->block_size = 0;
  page->neg_start = 0;
  page->div_magic = 0;   /* frees into it fail page_is_block_start */
  seg->free_mask |= 1ULL << i;
  seg->used_pages--;
  if (uma_options[UMA_OPTION_PURGE_DELAY_MS] == 0) {
    os_purge(seg_page_start(seg, i), seg_page_bytes(seg, i));
    stats_commit(-(int64_t)seg_page_bytes(seg, i));
  } else {
    seg->dirty_mask |= 1ULL << i;
    seg->dirty_stamp_ms = os_now_ms();
  }
  if (seg->used_pages == 0) {
    if (!was_full) seg_list_remove(heap, seg);
    seg_release(seg);
  } else if (was_full || heap->segs_with_free[seg->kind] != seg) {
    /* To the front: the next page comes from memory still resident here
     * rather than from a purged or untouched page of another segment. */
    if (!was_full) seg_list_remove(heap, seg);
    seg_list_push(heap, seg);
  }
}

/* Return the free pages that have been dirty for the whole delay, as runs of
 * adjacent pages (one madvise per run). */
void seg_purge(uma_segment_t *seg, uint64_t now_ms, uint64_t delay_ms) {
  if (seg->dirty_mask == 0 || now_ms - seg->dirty_stamp_ms < delay_ms) return;
  uint64_t mask = seg->dirty_mask;
  while (mask) {
    unsigned first = (unsigned)__builtin_ctzll(mask);
    unsigned last = first;
    while (last + 1 < seg->page_count && (mask >> (last + 1)) & 1) last++;
    uint8_t *start = seg_page_start(seg, first);
    os_purge(start, (size_t)(seg_page_end(seg, last) - start));
    stats_commit(-(int64_t)(seg_page_end(seg, last) - start));
    for (unsigned i = first; i <= last; i++) mask &= ~(1ULL << i);
  }
  seg->dirty_mask = 0;
}

void seg_cache_purge(uint64_t now_ms, bool force) {
  uint64_t delay = (uint64_t)uma_options[UMA_OPTION_PURGE_DELAY_MS];
  uma_segment_t *expired[SEG_CACHE_MAX];
  int n = 0;
  pthread_mutex_lock(&seg_cache_lock);
  while (n < seg_cache_count && (force || now_ms - seg_cache[n].stamp_ms >= delay)) {
    expired[n] = seg_cache[n].seg;
    n++;
  }
  bytes_move(&seg_cache[0], &seg_cache[n], sizeof seg_cache[0] * (size_t)(seg_cache_count - n));
  seg_cache_count -= n;
  pthread_mutex_unlock(&seg_cache_lock);
  for (int i = 0; i < n; i++) seg_unmap(expired[i]);
}

void seg_fork_prepare(void) { pthread_mutex_lock(&seg_cache_lock); }
void seg_fork_parent(void) { pthread_mutex_unlock(&seg_cache_lock); }
void seg_fork_child(void) { pthread_mutex_init(&seg_cache_lock, NULL); }
