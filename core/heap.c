/* heap.c — thread heaps: made or adopted at a thread's first allocation,
 * handed back when the thread exits (a pthread key destructor), adopted by
 * the next new thread; periodic purging; the fork handlers. Heaps live in
 * metadata chunks from the OS and are never unmapped, so a remote free can
 * always reach the heap that owns a page. */
#include "base.h"
#include "options.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "layout.h"
#include "numa.h"
#include "os.h"
#include "page.h"
#include "sample.h"
#include "segment.h"
#include "size_class.h"
#include "stats.h"
#include "tlsf.h"
#include <string.h>

UMA_TLS uma_heap_t *uma_tls_heap;
static UMA_TLS bool tls_heap_released;   /* the thread-exit destructor already ran */

_Atomic(uma_heap_t *) heap_all;
static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;   /* guards the two below */
static uma_heap_t *heap_abandoned;
static uint8_t *meta_cur, *meta_end;
static pthread_key_t heap_key;
static bool heap_key_ready;

#define META_CHUNK (1UL << 20)

/* Each heap starts 2 KiB into its own 4 KiB-aligned run. The first block of
 * a page is 4 KiB-aligned; had the thread cache's head for a class the same
 * low 12 address bits, the CPU would take the block's loads for reloads of
 * the head just stored (4K aliasing) and stall: 16-byte malloc+free pairs ran
 * at 5.1–6.3 ns against 4.5–5.1 ns for 64 bytes in the same runs before
 * this, 4.8 ns against 4.7 ns after. */
#define HEAP_OFFSET 2048
/* NULL when the OS refuses the memory: the allocation that needed the heap
 * fails with ENOMEM, and the thread tries again at its next one. */
static uma_heap_t *heap_new_locked(int node) {
  size_t size = (HEAP_OFFSET + sizeof(uma_heap_t) + UMA_OS_PAGE - 1) & ~(UMA_OS_PAGE - 1);
  if (meta_cur == NULL || meta_cur + size > meta_end) {
    uint8_t *chunk = os_map(META_CHUNK);
    if (chunk == NULL) return NULL;
    meta_cur = chunk;
    meta_end = meta_cur + META_CHUNK;
  }
  uma_heap_t *heap = (uma_heap_t *)(meta_cur + HEAP_OFFSET);   /* fresh mapping: all zero */
  meta_cur += size;
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) heap->tcache[c].page = &page_empty;
  for (unsigned i = 0; i < SC_SMALL_ENTRIES; i++) heap->small[i] = &heap->tcache[sc_small_table[i]];
  for (unsigned c = 0; c < UMA_CLASS_COUNT && sc_size(c) <= UMA_TCACHE_MAX_SIZE; c++) {
    size_t fit = UMA_TCACHE_BYTES / sc_size(c);
    heap->tcache[c].max = fit > UMA_TCACHE_SLOTS ? UMA_TCACHE_SLOTS : fit ? (uint32_t)fit : 1;
    heap->tcache[c].room = heap->tcache[c].max;
  }
  heap->node = (uint8_t)node;
  sample_arm(heap);
  heap->all_next = atomic_load_explicit(&heap_all, memory_order_relaxed);
  atomic_store_explicit(&heap_all, heap, memory_order_release);
  atomic_fetch_add_explicit(&stats_heaps_created, 1, memory_order_relaxed);
  return heap;
}

/* A handed-back heap of the caller's NUMA node if there is one (its pages
 * are warm), else a new one: memory freed on one node is never handed to
 * another node's threads. */
static uma_heap_t *heap_take_locked(int node, bool *adopted) {
  uma_heap_t **link = &heap_abandoned;
  while (*link && (*link)->node != node) link = &(*link)->abandoned_next;
  uma_heap_t *heap = *link;
  *adopted = heap != NULL;
  if (heap) {
    *link = heap->abandoned_next;
    heap->abandoned = false;
    atomic_fetch_sub_explicit(&stats_heaps_abandoned_total, 1, memory_order_relaxed);
    return heap;
  }
  return heap_new_locked(node);
}

static void heap_give_back_locked(uma_heap_t *heap) {
  heap->abandoned = true;
  heap->abandoned_next = heap_abandoned;
  heap_abandoned = heap;
  atomic_fetch_add_explicit(&stats_heaps_abandoned_total, 1, memory_order_relaxed);
}

/* The calling thread's heap, made on first use; NULL once the thread's exit
 * destructor handed its heap back (the caller then borrows one), or when
 * the OS refuses the memory for a new one (tls_heap_released stays false). */
uma_heap_t *heap_get_slow(void) {
  uma_ensure_init();
  if (uma_tls_heap) return uma_tls_heap;   /* made while init ran (pthread_atfork allocates) */
  if (tls_heap_released) return NULL;
  bool adopted;
  pthread_mutex_lock(&heap_lock);
  uma_heap_t *heap = heap_take_locked(numa_current_node(), &adopted);
  pthread_mutex_unlock(&heap_lock);
  if (heap == NULL) return NULL;
  if (adopted) atomic_fetch_add_explicit(&stats_heaps_adopted, 1, memory_order_relaxed);
  uma_tls_heap = heap;
  /* Registers the exit destructor. Keys below 32 need no allocation; if it
   * did allocate, that malloc finds uma_tls_heap already set. */
  if (heap_key_ready) pthread_setspecific(heap_key, heap);
  return heap;
}

/* NULL when the OS refuses the memory for a heap. */
uma_heap_t *heap_borrow(void) { return heap_borrow_on(numa_current_node()); }

/* A heap whose memory is on `node`, for a caller that serves blocks for
 * threads of that node (the sampling heaps). */
uma_heap_t *heap_borrow_on(int node) {
  uma_ensure_init();
  bool adopted;
  pthread_mutex_lock(&heap_lock);
  uma_heap_t *heap = heap_take_locked(node, &adopted);
  pthread_mutex_unlock(&heap_lock);
  return heap;
}

void heap_return_borrowed(uma_heap_t *heap) {
  pthread_mutex_lock(&heap_lock);
  heap_give_back_locked(heap);
  pthread_mutex_unlock(&heap_lock);
}

/* ---- collecting and purging --------------------------------------------- */

void heap_enter_wait(uma_heap_t *heap) {
  while (atomic_exchange_explicit(&heap->busy, 1, memory_order_acquire))
    while (atomic_load_explicit(&heap->busy, memory_order_relaxed)) os_yield();
}

/* What anyone holding the heap's busy flag may give back: free OS pages
 * inside pages in use (not a class's current page, which malloc's fast path
 * pops without the flag; not a full one), then the segments' free pages.
 * The owner's purge tick runs it, and so does the helper thread's decay
 * pass for heaps whose threads do not allocate (decay.c). */
void heap_decay(uma_heap_t *heap, uint64_t now, bool force) {
  uint64_t delay = (uint64_t)uma_options[UMA_OPTION_PURGE_DELAY_MS];
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) {
    uma_page_t *cur = heap->tcache[c].page;
    for (uma_page_t *page = heap->queue[c].first; page; page = page->next)
      if (page != cur) page_decay(page, now, delay, force);
  }
  for (int kind = SEG_KIND_SMALL; kind <= SEG_KIND_MEDIUM; kind++)
    for (uma_segment_t *seg = heap->segs_with_free[kind]; seg; seg = seg->next)
      seg_purge(seg, now, force ? 0 : delay);
}

/* Owner, busy held. */
void heap_purge_tick_locked(uma_heap_t *heap, bool force) {
  uint64_t delay = (uint64_t)uma_options[UMA_OPTION_PURGE_DELAY_MS];
  uint64_t now = os_now_ms();
  if (!force && now < heap->purge_due_ms) return;
  heap->purge_due_ms = now + (delay ? delay / 4 + 1 : 1000);
  /* A class's current page is kept when it empties (page_free_slow). One
   * that is empty and whose class saw no allocation for a whole tick goes
   * back to its segment like any other page, so its memory decays too (a
   * 4 MiB big-class page would otherwise stay). Classes in use keep theirs:
   * retiring those cost the Python benchmark 4 MB of peak RSS. */
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) {
    uint64_t allocs = heap->tcache[c].allocs;
    bool idle = allocs == heap->tcache[c].tick_allocs;
    heap->tcache[c].tick_allocs = allocs;
    /* An idle class's cached blocks go back to their pages, so those can empty. */
    if (idle && heap->tcache[c].head) heap_flush_tcache_class(heap, c);
    uma_page_t *page = heap->queue[c].first;
    if (idle && page != NULL && page->used == 0) page_retire_if_empty(heap, page);
  }
  heap_decay(heap, now, force);
  seg_cache_purge(now, force);
  tlsf_purge(now, force);
  large_cache_purge(now, force);
}

void heap_purge_tick(uma_heap_t *heap, bool force) {
  heap_enter(heap);
  heap_purge_tick_locked(heap, force);
  heap_leave(heap);
}

/* Owner (or the holder of an abandoned heap), busy held: take in every
 * remote free and retire every empty page, then purge what is due (or
 * everything). */
static void heap_collect_locked(uma_heap_t *heap, bool force) {
  heap_flush_tcache(heap);
  heap_drain_delayed(heap);
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) {
    uma_page_t *page = heap->queue[c].first;
    while (page) {
      uma_page_t *next = page->next;
      page_retire_if_empty(heap, page);
      page = next;
    }
  }
  heap_purge_tick_locked(heap, force);
}

void heap_collect_all(uma_heap_t *heap, bool force) {
  heap_enter(heap);
  heap_collect_locked(heap, force);
  heap_leave(heap);
}

/* The exit report's settling: the calling thread may be inside a slow path
 * of its own heap (exit or _exit called from a signal handler that cut
 * one), so the flag is waited for at most 50 ms — long enough for the
 * helper's pass to move on — and the heap left as it is otherwise. */
bool heap_collect_own_if_free(uma_heap_t *heap) {
  uint64_t until = os_now_ms() + 50;
  while (!heap_try_enter(heap)) {
    if (os_now_ms() >= until) return false;
    os_yield();
  }
  heap_collect_locked(heap, false);
  heap_leave(heap);
  return true;
}

/* Collect the heaps of exited threads too: take them all off the list,
 * collect, put them back. New threads meanwhile get fresh heaps. */
void heap_collect_abandoned(bool force) {
  pthread_mutex_lock(&heap_lock);
  uma_heap_t *list = heap_abandoned;
  heap_abandoned = NULL;
  pthread_mutex_unlock(&heap_lock);
  uma_heap_t *last = NULL;
  for (uma_heap_t *h = list; h; h = h->abandoned_next) {
    heap_collect_all(h, force);
    last = h;
  }
  if (last == NULL) return;
  pthread_mutex_lock(&heap_lock);
  last->abandoned_next = heap_abandoned;
  heap_abandoned = list;
  pthread_mutex_unlock(&heap_lock);
}

void uma_collect(bool force) {
  uma_ensure_init();
  uma_heap_t *heap = uma_tls_heap;
  if (heap) heap_collect_all(heap, force);
  heap_collect_abandoned(force);
  uint64_t now = os_now_ms();
  seg_cache_purge(now, force);
  large_cache_purge(now, force);
  tlsf_purge(now, force);
  if (force && large_hooks.trim) large_hooks.trim();
}

/* ---- NUMA: a thread that moved to another node ----------------------------- */

/* On a refill (several nodes only): a thread seen on another node for 8
 * refills in a row — its affinity changed, not a passing migration — hands
 * its heap back, as at exit, and takes one of its new node. Its blocks stay
 * valid; frees from it reach their pages as remote frees. */
#define HEAP_AWAY_LIMIT 8
uma_heap_t *heap_check_home(uma_heap_t *heap) {
  if (numa_current_node() == heap->node) {
    heap->away = 0;
    return heap;
  }
  if (++heap->away < HEAP_AWAY_LIMIT) return heap;
  heap->away = 0;
  heap_collect_all(heap, false);
  bool adopted;
  pthread_mutex_lock(&heap_lock);
  uma_heap_t *fresh = heap_take_locked(numa_current_node(), &adopted);
  if (fresh == NULL) {   /* no memory for a heap of the new node: keep this one */
    pthread_mutex_unlock(&heap_lock);
    return heap;
  }
  heap_give_back_locked(heap);
  pthread_mutex_unlock(&heap_lock);
  if (adopted) atomic_fetch_add_explicit(&stats_heaps_adopted, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&stats_heaps_rehomed, 1, memory_order_relaxed);
  uma_tls_heap = fresh;
  if (heap_key_ready) pthread_setspecific(heap_key, fresh);
  return fresh;
}

/* ---- thread exit and start-up ------------------------------------------- */

static void heap_thread_exit(void *value) {
  (void)value;
  uma_heap_t *heap = uma_tls_heap;
  if (heap == NULL) return;
  heap_collect_all(heap, false);
  uma_tls_heap = NULL;
  tls_heap_released = true;
  pthread_mutex_lock(&heap_lock);
  heap_give_back_locked(heap);
  pthread_mutex_unlock(&heap_lock);
}

UMA_HIDDEN void heap_init(void);
void heap_init(void) {
  heap_key_ready = pthread_key_create(&heap_key, heap_thread_exit) == 0;
}

/* ---- fork: no lock may be held by a thread that will not exist in the
 * child. Heaps of other threads are simply never used again there. */
void heap_fork_prepare(void) { pthread_mutex_lock(&heap_lock); }
void heap_fork_parent(void) { pthread_mutex_unlock(&heap_lock); }
void heap_fork_child(void) { pthread_mutex_init(&heap_lock, NULL); }
