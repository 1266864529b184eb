/* large.h — the large pool: one mapping per block, and its cache (large.c). */
#ifndef UMA_LARGE_H
#define UMA_LARGE_H
#include "base.h"
#include "heap.h"
#include "layout.h"

UMA_HIDDEN void *large_alloc(uma_heap_t *heap, size_t size, size_t align, bool zero, unsigned route);
UMA_HIDDEN void large_free(uma_heap_t *heap, uma_large_t *lg, void *p);
UMA_HIDDEN void *large_realloc(uma_heap_t *heap, uma_large_t *lg, void *p, size_t size);
UMA_HIDDEN size_t large_usable(const uma_large_t *lg);
UMA_HIDDEN bool large_was_retired(const void *p);   /* one of the last 64 blocks whose mapping went back */
UMA_HIDDEN void large_cache_purge(uint64_t now_ms, bool force);
UMA_HIDDEN void large_fork_prepare(void);
UMA_HIDDEN void large_fork_parent(void);
UMA_HIDDEN void large_fork_child(void);

UMA_HIDDEN extern size_t large_max_span;   /* the largest large-block mapping ever made (large.c) */
UMA_HIDDEN uint64_t large_cache_drop_pinned(void);   /* registered cached mappings go; bytes */

#endif
