/* plan.h — lifetime-planned reuse: the planner (plan.c). */
#ifndef UMA_PLAN_H
#define UMA_PLAN_H
#include "base.h"

#define PLAN_SLOTS_MAX 1024
typedef struct plan_s plan_t;
typedef struct plan_buf_s { uint64_t size, t0, t1, off; } plan_buf_t;
typedef struct plan_stats_s {
  uint64_t plans, deviations, served, unplanned;   /* plans made; plans ended; allocations from the arena; others */
  uint64_t planned_blocks, arena_need, live_bound; /* the last plan: blocks, packed size, live lower bound */
  uint64_t period;                                 /* events in the period while planning, else 0 */
} plan_stats_t;
UMA_HIDDEN uint64_t plan_pack(plan_buf_t *b, size_t n, uint32_t *order);
UMA_HIDDEN plan_t *plan_new(void);
UMA_HIDDEN bool plan_alloc(plan_t *p, uint64_t size, uint64_t arena_size, uint64_t align, uint64_t *off, uint64_t *seq,
                           uint64_t *need);
UMA_HIDDEN void plan_free(plan_t *p, uint64_t seq);
UMA_HIDDEN uint64_t plan_planned(plan_t *p, uint64_t off, bool release);
UMA_HIDDEN bool plan_arena_idle(plan_t *p);              /* nothing live in the arena, not planning */
UMA_HIDDEN int plan_live(plan_t *p);                     /* planned blocks live now */
UMA_HIDDEN void plan_reset(plan_t *p);                   /* its arena is gone: forget the plan */
UMA_HIDDEN void plan_snapshot(plan_t *p, plan_stats_t *out);
UMA_HIDDEN void plan_lock(plan_t *p, bool lock);   /* fork handlers */
UMA_HIDDEN void plan_fork_child(plan_t *p);

#endif
