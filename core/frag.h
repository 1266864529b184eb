/* frag.h — the fragmentation walk (frag.c). */
#ifndef UMA_FRAG_H
#define UMA_FRAG_H
#include "base.h"
#include "extents.h"


typedef struct uma_frag_s {
  bool valid, resident_known;
  uint64_t t_ms, committed;
  uma_frag_pool_t pool[FRAG_POOLS];
  uint64_t class_live[UMA_CLASS_COUNT], class_free[UMA_CLASS_COUNT];
} uma_frag_t;

UMA_HIDDEN extern uma_frag_t frag_at_peak, frag_at_exit;
UMA_HIDDEN void frag_watch_peaks(void);   /* a walk at each new peak of the footprint, for the report */
UMA_HIDDEN bool frag_scan(uma_frag_t *out, bool resident);
UMA_HIDDEN void frag_note_committed(uint64_t committed);
UMA_HIDDEN void frag_snapshot_if_due(void);
UMA_HIDDEN void frag_fork_child(void);

#endif
