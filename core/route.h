/* route.h — routing: the rules compiled by policy/ into plain data (route.c). */
#ifndef UMA_ROUTE_H
#define UMA_ROUTE_H
#include "base.h"
#include "numa.h"

#define UMA_ROUTE_MAX 255
enum { UMA_SOURCE_MALLOC = 1, UMA_SOURCE_MMAP = 2, UMA_SOURCE_CUDA_DEVICE = 4, UMA_SOURCE_CUDA_HOST = 8 };
enum { UMA_POOL_AUTO = 0, UMA_POOL_LARGE = 1 };
enum { UMA_PINNED_OFF = 0, UMA_PINNED_LAZY = 1, UMA_PINNED_EAGER = 2 };
enum { UMA_ALIAS_MREMAP = 0, UMA_ALIAS_OFF = 1, UMA_ALIAS_COW = 2 };

/* One rule: what it matches, what it does, and its large-block counters.
 * Sizes and alignments are inclusive ranges. */
typedef struct uma_route_s {
  char name[48];
  char caller[64];               /* glob on the caller's library; "" = any */
  char numa[64];                 /* placement text, applied by the NUMA layer */
  uint32_t sources;              /* UMA_SOURCE_* mask */
  size_t size_lo, size_hi;
  size_t align_lo, align_hi;
  uint8_t pool, hugepages, pinned, alias;
  bool track;                    /* shown by name in the report */
  int64_t purge_delay_ms;        /* -1: the global delay */
  int line;                      /* where the rule starts in its file */
  _Atomic uint64_t large_allocs, large_bytes, large_frees, large_freed_bytes;
  _Atomic uint64_t mmap_count, mmap_bytes, mmap_peak;   /* source mmap: mappings, bytes now, peak */
} uma_route_t;

UMA_HIDDEN extern uma_route_t route_table[UMA_ROUTE_MAX + 1];
/* Each rule's placement as it applies on this machine, and its counters. */
UMA_HIDDEN extern numa_place_t route_place[UMA_ROUTE_MAX + 1];
UMA_HIDDEN extern numa_counters_t route_numa[UMA_ROUTE_MAX + 1];
UMA_HIDDEN void route_resolve_numa(void);   /* again once hwloc has told tiers and GPUs apart */
UMA_HIDDEN extern int route_count;
UMA_HIDDEN extern uint8_t route_of_class[UMA_CLASS_COUNT];
UMA_HIDDEN extern bool route_class_to_large[UMA_CLASS_COUNT];
UMA_HIDDEN unsigned route_match(unsigned source, size_t size, size_t align, const void *ra);
UMA_HIDDEN unsigned route_for(size_t size, size_t align, const void *ra);
UMA_HIDDEN void route_install(const uma_route_t *rules, int count);
UMA_HIDDEN bool route_glob_match(const char *pattern, const char *text);
UMA_HIDDEN bool route_rule_matches(const uma_route_t *r, unsigned source, size_t size, size_t align, const char *caller);
UMA_HIDDEN void route_count_alloc(unsigned r, size_t bytes);
UMA_HIDDEN void route_count_free(unsigned r, size_t bytes);

#endif
