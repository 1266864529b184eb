/* frag.h — the fragmentation walk (frag.c). */
#ifndef UMA_FRAG_H
#define UMA_FRAG_H
#include "base.h"

enum { FRAG_POOL_SMALL, FRAG_POOL_MEDIUM, FRAG_POOL_COALESCING, FRAG_POOL_LARGE, FRAG_POOLS };
#define FRAG_BUCKETS 48      /* free extents by size: bucket b holds [2^b, 2^(b+1)) bytes */
#define FRAG_PROBES 5        /* request sizes of the unusable-free-space index */
UMA_HIDDEN extern const uint64_t frag_probe_sizes[FRAG_PROBES];
UMA_HIDDEN extern const char *const frag_pool_names[FRAG_POOLS];
typedef struct uma_frag_pool_s uma_frag_pool_t;

struct uma_frag_pool_s {
  uint64_t mappings, mapped, resident, metadata;
  uint64_t live_bytes;                      /* bytes of blocks in use (thread caches included) */
  uint64_t free_bytes, free_extents, largest_free;
  uint64_t free_returned;                   /* of free_bytes, pages already given back to the OS (not in P) */
  uint64_t usable[FRAG_PROBES];             /* free bytes a request of probe size j could use */
  uint64_t hist_count[FRAG_BUCKETS], hist_bytes[FRAG_BUCKETS];
};
UMA_HIDDEN void tlsf_walk(uma_frag_pool_t *pool, void *seg, void (*add_extents)(uma_frag_pool_t *, uint64_t, uint64_t),
                          bool resident);

typedef struct uma_frag_s {
  bool valid, resident_known;
  uint64_t t_ms, committed;
  uma_frag_pool_t pool[FRAG_POOLS];
  uint64_t class_live[UMA_CLASS_COUNT], class_free[UMA_CLASS_COUNT];
} uma_frag_t;

UMA_HIDDEN extern uma_frag_t frag_at_peak, frag_at_exit;
UMA_HIDDEN extern bool frag_snapshots_on;
UMA_HIDDEN bool frag_scan(uma_frag_t *out, bool resident);
UMA_HIDDEN void frag_note_committed(uint64_t committed);
UMA_HIDDEN void frag_snapshot_if_due(void);
UMA_HIDDEN extern _Atomic uint64_t frag_peak_snapshots;
UMA_HIDDEN void frag_fork_child(void);

#endif
