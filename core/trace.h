/* trace.h — the lifetime trace (trace.c). */
#ifndef UMA_TRACE_H
#define UMA_TRACE_H
#include "base.h"

typedef struct uma_trace_rec_s { uint64_t size, t_alloc, t_free; } uma_trace_rec_t;   /* t_free 0: live */
UMA_HIDDEN extern bool trace_on;
UMA_HIDDEN extern uma_trace_rec_t *trace_recs;
UMA_HIDDEN extern uint64_t trace_cap, trace_len, trace_dropped, trace_clock, trace_live, trace_peak_live, trace_untracked;
UMA_HIDDEN bool trace_start(uint64_t records);
UMA_HIDDEN void trace_alloc(const void *p, size_t size);
UMA_HIDDEN void trace_free(const void *p);
UMA_HIDDEN void trace_fork_prepare(void);
UMA_HIDDEN void trace_fork_parent(void);
UMA_HIDDEN void trace_fork_child(void);

#endif
