/* plan_host.h — the host planner over large blocks ([plan] host, plan_host.c). */
#ifndef UMA_PLAN_HOST_H
#define UMA_PLAN_HOST_H
#include "base.h"
#include "json.h"
#include "plan.h"

/* The host's planner over large blocks ([plan] host = auto). */
UMA_HIDDEN extern bool plan_host_on, plan_device_on;
UMA_HIDDEN extern bool plan_device_one_stream;   /* [plan] device_streams = one: reuse without fences */
UMA_HIDDEN extern uint64_t plan_min;
UMA_HIDDEN void plan_host_install(void);   /* registers its hooks (large.h) and fork handlers */
UMA_HIDDEN void *plan_host_alloc(size_t size, bool zero, uint64_t *seq);   /* NULL: allocate as usual */
UMA_HIDDEN void plan_host_trim(void);   /* an empty arena goes back now */
UMA_HIDDEN void plan_host_observe_free(uint64_t seq);
UMA_HIDDEN size_t plan_host_block(const void *p);                          /* a live planned block's size, or 0 */
UMA_HIDDEN bool plan_host_free(void *p);
UMA_HIDDEN void plan_host_snapshot(plan_stats_t *out);
UMA_HIDDEN void plan_host_write_text(int fd);
UMA_HIDDEN void plan_host_write_json(uma_json_t *j);
UMA_HIDDEN void plan_host_fork_prepare(void);
UMA_HIDDEN void plan_host_fork_parent(void);
UMA_HIDDEN void plan_host_fork_child(void);

#endif
