/* timeline.h — the footprint timeline (timeline.c). */
#ifndef UMA_TIMELINE_H
#define UMA_TIMELINE_H
#include "base.h"
#include "heap.h"

#define TIMELINE_MAX 1024
typedef struct uma_sample_s {
  uint64_t t_ms, live, requested_live, committed, mapped, resident;
} uma_sample_t;
UMA_HIDDEN extern uma_sample_t timeline_samples[TIMELINE_MAX];
UMA_HIDDEN extern _Atomic uint32_t timeline_count;
UMA_HIDDEN extern uint64_t timeline_interval_ms, timeline_start_ms, timeline_interval_bytes;
UMA_HIDDEN void timeline_start(uint64_t interval_ms, uint64_t interval_bytes);
UMA_HIDDEN void timeline_tick(uint64_t now_ms, uma_heap_t *heap);
UMA_HIDDEN void timeline_final(void);
UMA_HIDDEN void timeline_fork_child(void);
UMA_HIDDEN uint64_t timeline_process_resident(void);

#endif
