/* extents.h — a pool's free extents as the report counts them: sizes in
 * buckets, and what requests of a few probe sizes could still use
 * (extents.c). Every pool's walk fills one (frag.c, tlsf.c, device_pool.c). */
#ifndef UMA_EXTENTS_H
#define UMA_EXTENTS_H
#include "base.h"

/* The host's pools, as the walks count them. */
enum { FRAG_POOL_SMALL, FRAG_POOL_MEDIUM, FRAG_POOL_COALESCING, FRAG_POOL_LARGE, FRAG_POOLS };
UMA_HIDDEN extern const char *const frag_pool_names[FRAG_POOLS];

#define FRAG_BUCKETS 48      /* free extents by size: bucket b holds [2^b, 2^(b+1)) bytes */
#define FRAG_PROBES 5        /* request sizes of the unusable-free-space index */
UMA_HIDDEN extern const uint64_t extent_probe_sizes[FRAG_PROBES];

typedef struct uma_frag_pool_s {
  uint64_t mappings, mapped, resident, metadata;
  uint64_t live_bytes;                      /* bytes of blocks in use (thread caches included) */
  uint64_t free_bytes, free_extents, largest_free;
  uint64_t free_returned;                   /* of free_bytes, pages already given back to the OS (not in P) */
  uint64_t usable[FRAG_PROBES];             /* free bytes a request of probe size j could use */
  uint64_t hist_count[FRAG_BUCKETS], hist_bytes[FRAG_BUCKETS];
} uma_frag_pool_t;

/* n free extents of `size` bytes each. */
UMA_HIDDEN void extents_add(uma_frag_pool_t *pool, uint64_t size, uint64_t n);

#endif
