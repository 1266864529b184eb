/* tlsf.h — the coalescing pool, 64 KiB < size <= 512 KiB (tlsf.c). */
#ifndef UMA_TLSF_H
#define UMA_TLSF_H
#include "base.h"
#include "extents.h"

/* Segments of kind SEG_KIND_BIG. Counters are written under the pool's lock. */
typedef struct tlsf_counters_s {
  uint64_t allocs, bytes, requested, frees, freed_bytes, segments;
} tlsf_counters_t;
#define TLSF_GRANULARITY_MAX 4
typedef struct tlsf_granularity_s { size_t upto, step; } tlsf_granularity_t;   /* upto 0: unused */
UMA_HIDDEN extern tlsf_granularity_t tlsf_granularity[TLSF_GRANULARITY_MAX];
UMA_HIDDEN extern bool tlsf_first_fit;
UMA_HIDDEN extern unsigned tlsf_first_class;   /* classes from here on: the coalescing pool */
UMA_HIDDEN void tlsf_set_above(size_t above);
/* The fragmentation walk of one segment: its free blocks into pool's extents. */
UMA_HIDDEN void tlsf_walk(uma_frag_pool_t *pool, void *seg, bool resident);
UMA_HIDDEN void *tlsf_alloc(size_t size, bool zero, int node);
UMA_HIDDEN void tlsf_counters_sum(tlsf_counters_t *out);
UMA_HIDDEN void tlsf_free(void *seg, void *p, const char *func);
UMA_HIDDEN size_t tlsf_usable(void *seg, const void *p, const char *func);
UMA_HIDDEN bool tlsf_owns(void *seg, const void *p);
UMA_HIDDEN void tlsf_purge(uint64_t now_ms, bool force);
UMA_HIDDEN void tlsf_fork_prepare(void);
UMA_HIDDEN void tlsf_fork_parent(void);
UMA_HIDDEN void tlsf_fork_child(void);

#endif
