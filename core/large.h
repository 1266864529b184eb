/* large.h — the large pool: one mapping per block, and its cache (large.c). */
#ifndef UMA_LARGE_H
#define UMA_LARGE_H
#include "base.h"
#include "heap.h"
#include "layout.h"

/* What the features over large blocks add, each registered by the feature
 * as it starts (plan_host.c, cow.c, pinned.c): the pool and alloc.c reach
 * them only through this table. A NULL entry: that feature is off. */
typedef struct large_hooks_s {
  /* The host planner: its arena's blocks lie outside the ownership map. */
  void *(*planned_alloc)(size_t size, bool zero, uint64_t *seq);   /* NULL: allocate as usual */
  size_t (*planned_size)(const void *p);                          /* a live planned block's size, or 0 */
  bool (*planned_free)(void *p);
  void (*observe_free)(uint64_t seq);                             /* a block it numbered (plan_seq) */
  void (*trim)(void);                                             /* an empty arena back now */
  /* Copy-on-write: blocks over the memory file, and copies between them. */
  uma_large_t *(*shared_map)(size_t size);                        /* map_size set; or NULL */
  void (*shared_unmap)(uma_large_t *lg);
  bool (*copy)(void *dst, const void *src, size_t n);             /* false: the caller copies */
  /* Transparent pinning: registered blocks are never moved, and unmapped
   * only once CUDA has given their registration back. */
  void (*on_alloc)(uma_large_t *lg, bool reused);
  void (*on_release)(uma_large_t *lg);                            /* freed, or about to move */
  bool (*retire)(uma_large_t *lg);                                /* true: it unmaps the block later */
} large_hooks_t;
UMA_HIDDEN extern large_hooks_t large_hooks;

UMA_HIDDEN void *large_alloc(uma_heap_t *heap, size_t size, size_t align, bool zero, unsigned route);
UMA_HIDDEN void large_free(uma_heap_t *heap, uma_large_t *lg, void *p);
UMA_HIDDEN void *large_realloc(uma_heap_t *heap, uma_large_t *lg, void *p, size_t size);
UMA_HIDDEN size_t large_usable(const uma_large_t *lg);
/* The large block (one of ours, in use) holding all of [p, p+len), or NULL:
 * for copies (pinning, copy-on-write) that start inside a block. */
UMA_HIDDEN uma_large_t *large_block_of(const void *p, size_t len);
UMA_HIDDEN bool large_was_retired(const void *p);   /* one of the last 64 blocks whose mapping went back */
UMA_HIDDEN void large_cache_purge(uint64_t now_ms, bool force);
UMA_HIDDEN void large_fork_prepare(void);
UMA_HIDDEN void large_fork_parent(void);
UMA_HIDDEN void large_fork_child(void);

UMA_HIDDEN extern size_t large_max_span;   /* the largest large-block mapping ever made (large.c) */
UMA_HIDDEN uint64_t large_cache_drop_pinned(void);   /* registered cached mappings go; bytes */

#endif
