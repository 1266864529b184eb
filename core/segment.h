/* segment.h — 4 MiB segments of pages (segment.c). */
#ifndef UMA_SEGMENT_H
#define UMA_SEGMENT_H
#include "base.h"
#include "heap.h"
#include "layout.h"

UMA_HIDDEN uma_page_t *seg_page_alloc(uma_heap_t *heap, unsigned cls);
UMA_HIDDEN void seg_page_free(uma_heap_t *heap, uma_page_t *page);
UMA_HIDDEN void seg_purge(uma_segment_t *seg, uint64_t now_ms, uint64_t delay_ms);
UMA_HIDDEN void seg_cache_purge(uint64_t now_ms, bool force);
UMA_HIDDEN void seg_fork_prepare(void);
UMA_HIDDEN void seg_fork_parent(void);
UMA_HIDDEN void seg_fork_child(void);

#endif
