/* numa.h — NUMA nodes, topology and placement (numa.c, numa_topology.c). */
#ifndef UMA_NUMA_H
#define UMA_NUMA_H
#include "base.h"

#define NUMA_MAX 64                /* node masks are one 64-bit word */
#define NUMA_CPU_MAX 4096
enum { NUMA_LOCAL, NUMA_BIND, NUMA_PREFERRED, NUMA_PREFERRED_MANY, NUMA_INTERLEAVE,
       NUMA_WEIGHTED_INTERLEAVE, NUMA_TIER, NUMA_NEAR_GPU, NUMA_MODES };
/* Why a placement differs from what its rule asked (the report says it). */
enum { NUMA_FB_NONE, NUMA_FB_ONE_NODE, NUMA_FB_NO_USABLE_NODE, NUMA_FB_NODES_DROPPED, NUMA_FB_NO_WEIGHTED,
       NUMA_FB_KERNEL_WEIGHTS, NUMA_FB_ONE_TIER, NUMA_FB_NO_GPU, NUMA_FB_NO_PREFERRED_MANY };
typedef struct numa_place_s {
  uint8_t mode;                    /* NUMA_*: what the rule asked */
  uint8_t kernel_mode;             /* the MPOL_* applied; 0: local (the caller's node) */
  uint8_t fallback;                /* NUMA_FB_* */
  bool tier_slow;
  uint16_t arg;                    /* preferred:N, near-gpu:K */
  uint64_t asked, nodes;           /* node masks: asked, and applied */
  uint8_t weight[NUMA_MAX];        /* weighted-interleave weights asked */
} numa_place_t;
typedef struct numa_counters_s {
  _Atomic uint64_t placed_bytes, refused, preferred_many_fallbacks;
  _Atomic int last_errno;
} numa_counters_t;
UMA_HIDDEN extern bool numa_active;                 /* more than one node online */
UMA_HIDDEN extern int numa_node_count;              /* highest online node + 1 */
UMA_HIDDEN extern uint64_t numa_online, numa_allowed, numa_with_cpus;
UMA_HIDDEN extern int numa_process_mode;            /* MPOL_* the process started with */
UMA_HIDDEN extern uint64_t numa_process_mask;
UMA_HIDDEN extern uint8_t numa_cpu_node[NUMA_CPU_MAX];
UMA_HIDDEN extern uint8_t numa_distance[NUMA_MAX][NUMA_MAX];
UMA_HIDDEN extern uint64_t numa_mem_total[NUMA_MAX];
UMA_HIDDEN extern bool numa_weighted_supported;
UMA_HIDDEN extern uint8_t numa_kernel_weight[NUMA_MAX];
UMA_HIDDEN void numa_init(void);
UMA_HIDDEN size_t numa_read_file(const char *path, char *buf, size_t cap);
UMA_HIDDEN bool numa_parse_nodes(const char *s, uint64_t *mask);
UMA_HIDDEN int numa_current_node(void);
UMA_HIDDEN void numa_compile(const char *text, numa_place_t *pl);
UMA_HIDDEN void numa_resolve(numa_place_t *pl);
UMA_HIDDEN void numa_place(void *p, size_t len, const numa_place_t *pl, int node, numa_counters_t *c);
UMA_HIDDEN const char *numa_mode_name(int mode);
UMA_HIDDEN const char *numa_fallback_text(int why);
/* From hwloc (numa_topology.c), after start-up; empty until then. */
UMA_HIDDEN extern uint64_t numa_fast_nodes, numa_slow_nodes;
UMA_HIDDEN extern uint64_t numa_bandwidth[NUMA_MAX], numa_latency[NUMA_MAX];   /* MB/s, ns; 0: unknown */
UMA_HIDDEN extern const char *numa_tier_source;     /* how the tiers were told apart */
UMA_HIDDEN extern int numa_gpu_count;
#define DEV_MAX_GPUS 16
UMA_HIDDEN extern int8_t numa_gpu_node[DEV_MAX_GPUS];
UMA_HIDDEN extern char numa_gpu_bus[DEV_MAX_GPUS][16];
UMA_HIDDEN extern bool numa_hwloc_loaded;
UMA_HIDDEN void numa_topology_discover(void *(*lookup)(void *handle, const char *name));   /* lookup: dlsym, never a wrapper */

#endif
