/* numa_report.c — where the memory really is: at exit, every resident page
 * of our pools and of the program's routed mappings is asked for its node
 * (move_pages with no target: a query, nothing moves), per pool and per
 * rule; then the text and JSON sections of the report. On one node there is
 * nothing to ask: the report says so. */
#include "base.h"
#include "fmt.h"
#include "extents.h"
#include "json.h"
#include "layout.h"
#include "mmap_track.h"
#include "numa.h"
#include "numa_report.h"
#include "os.h"
#include "route.h"
#include "stats.h"

#define CENSUS_POOLS (FRAG_POOLS + 1)   /* the four pools and the program's mmap */
#define CENSUS_BATCH 512

typedef struct numa_census_s {
  bool taken;
  uint64_t pool[CENSUS_POOLS][NUMA_MAX];
  uint64_t rule[UMA_ROUTE_MAX + 1][NUMA_MAX];
  uint64_t absent;                     /* pages asked that were not resident */
} numa_census_t;
static UMA_TABLE numa_census_t census;
static const char *const census_pool_names[CENSUS_POOLS] = { "small", "medium", "coalescing", "large", "mmap" };

/* Resident pages of [p, p+len) by node, into the pool's and the rule's rows. */
static void count_range(uintptr_t p, size_t len, int pool, int route) {
  void *pages[CENSUS_BATCH];
  int status[CENSUS_BATCH];
  size_t n_pages = len / UMA_OS_PAGE;
  for (size_t done = 0; done < n_pages;) {
    unsigned n = n_pages - done < CENSUS_BATCH ? (unsigned)(n_pages - done) : CENSUS_BATCH;
    for (unsigned i = 0; i < n; i++) pages[i] = (void *)(p + (done + i) * UMA_OS_PAGE);
    done += n;
    if (os_page_nodes(n, pages, status) != 0) continue;
    for (unsigned i = 0; i < n; i++) {
      if (status[i] < 0 || status[i] >= NUMA_MAX) { census.absent++; continue; }
      census.pool[pool][status[i]] += UMA_OS_PAGE;
      if (route >= 0) census.rule[route][status[i]] += UMA_OS_PAGE;
    }
  }
}

/* From the exit walk (frag.c), for each of our mappings. */
void numa_census_mapping(const void *base, uint8_t kind) {
  if (!numa_active) return;
  census.taken = true;
  if (kind == SEG_KIND_LARGE) {
    const uma_large_t *lg = base;
    size_t map = lg->map_size;
    if (map > ((size_t)1 << 46)) return;   /* being rewritten */
    count_range((uintptr_t)base, map, FRAG_POOL_LARGE, lg->route);   /* cached ones keep their placement */
  } else {
    int pool = kind == SEG_KIND_SMALL ? FRAG_POOL_SMALL : kind == SEG_KIND_MEDIUM ? FRAG_POOL_MEDIUM : FRAG_POOL_COALESCING;
    count_range((uintptr_t)base, UMA_SEG_SIZE, pool, 0);
  }
}

static void visit_mmap(uintptr_t start, size_t len, unsigned route, void *arg) {
  (void)arg;
  count_range(start, len, FRAG_POOLS, (int)route);
}
void numa_census_mmap(void) {
  if (!numa_active) return;
  census.taken = true;
  mmap_track_each(visit_mmap, NULL);
}

/* ---- text ---------------------------------------------------------------- */

static void put_nodes(uma_buf_t *b, uint64_t mask) {
  bool first = true;
  for (unsigned n = 0; n < NUMA_MAX; n++) {
    if (!(mask >> n & 1)) continue;
    unsigned m = n;
    while (m + 1 < NUMA_MAX && (mask >> (m + 1) & 1)) m++;
    if (!first) buf_str(b, ",");
    buf_u64(b, n);
    if (m > n) { buf_str(b, "-"); buf_u64(b, m); }
    first = false;
    n = m;
  }
  if (first) buf_str(b, "none");
}

static bool rule_shown(int r) {
  const numa_place_t *pl = &route_place[r];
  uint64_t any = 0;
  for (unsigned n = 0; n < NUMA_MAX; n++) any |= census.rule[r][n];
  return r > 0 && (pl->mode != NUMA_LOCAL || route_table[r].track || any) &&
         (any || pl->fallback || atomic_load(&route_numa[r].refused) || pl->mode != NUMA_LOCAL);
}

void numa_write_text(int fd) {
  char text[4096];
  uma_buf_t b = { text, 0, sizeof text };
  if (mmap_totals.maps) {
    buf_str(&b, "  program mmap");
    buf_pad(&b, 24);
    buf_count(&b, mmap_track_ranges());
    buf_str(&b, " mappings now, ");
    buf_bytes(&b, mmap_totals.bytes);
    buf_str(&b, "; peak ");
    buf_bytes(&b, mmap_totals.peak);
    buf_str(&b, "; ");
    buf_count(&b, mmap_totals.maps);
    buf_str(&b, " made, ");
    buf_count(&b, mmap_totals.remaps);
    buf_str(&b, " remapped\n");
  }
  buf_str(&b, "  NUMA");
  buf_pad(&b, 24);
  if (!numa_active) {
    buf_str(&b, "one node: all memory local\n");
    os_write(fd, text, b.len);
    return;
  }
  buf_u64(&b, (uint64_t)__builtin_popcountll(numa_online));
  buf_str(&b, " nodes (usable ");
  put_nodes(&b, numa_allowed);
  buf_str(&b, "); tiers: ");
  if (numa_slow_nodes) {
    buf_str(&b, "fast ");
    put_nodes(&b, numa_fast_nodes);
    buf_str(&b, ", slow ");
    put_nodes(&b, numa_slow_nodes);
    buf_str(&b, " (");
    buf_str(&b, numa_tier_source);
    buf_str(&b, ")");
  } else {
    buf_str(&b, "one");
  }
  buf_str(&b, numa_hwloc_loaded ? "; hwloc" : "; no hwloc");
  if (numa_process_mode != 0) buf_str(&b, "; the process's own policy (numactl) places pooled memory");
  buf_str(&b, "\n");
  for (int k = 0; k < numa_gpu_count; k++) {
    buf_str(&b, "    gpu");
    buf_u64(&b, (uint64_t)k);
    buf_str(&b, " ");
    buf_str(&b, numa_gpu_bus[k]);
    buf_str(&b, " on node ");
    if (numa_gpu_node[k] >= 0) buf_u64(&b, (uint64_t)numa_gpu_node[k]);
    else buf_str(&b, "unknown");
    buf_str(&b, "\n");
  }
  if (census.taken) {
    buf_str(&b, "    resident by node  ");
    for (int p = 0; p < CENSUS_POOLS; p++) {
      buf_pad(&b, 24 + 14 * (size_t)p);
      buf_str(&b, census_pool_names[p]);
    }
    buf_str(&b, "\n");
    for (unsigned n = 0; n < NUMA_MAX; n++) {
      if (!(numa_online >> n & 1)) continue;
      buf_str(&b, "    node ");
      buf_u64(&b, n);
      for (int p = 0; p < CENSUS_POOLS; p++) {
        buf_pad(&b, 24 + 14 * (size_t)p);
        buf_size(&b, census.pool[p][n]);
      }
      buf_str(&b, "\n");
    }
  }
  os_write(fd, text, b.len);
  for (int r = 0; r <= route_count; r++) {
    if (!rule_shown(r)) continue;
    const numa_place_t *pl = &route_place[r];
    b.len = 0;
    buf_str(&b, "    rule '");
    buf_str(&b, route_table[r].name);
    buf_str(&b, "' ");
    buf_str(&b, route_table[r].numa);
    buf_str(&b, ": resident");
    for (unsigned n = 0; n < NUMA_MAX; n++) {
      if (!(numa_online >> n & 1)) continue;
      buf_str(&b, " node");
      buf_u64(&b, n);
      buf_str(&b, "=");
      buf_size(&b, census.rule[r][n]);
    }
    uint64_t refused = atomic_load(&route_numa[r].refused);
    if (refused) {
      buf_str(&b, "; the kernel refused ");
      buf_count(&b, refused);
      buf_str(&b, " placements (errno ");
      buf_u64(&b, (uint64_t)atomic_load(&route_numa[r].last_errno));
      buf_str(&b, ")");
    }
    if (pl->fallback) {
      buf_str(&b, "; ");
      buf_str(&b, numa_fallback_text(pl->fallback));
    }
    buf_str(&b, "\n");
    os_write(fd, text, b.len);
  }
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_nodes(uma_json_t *j, const char *k, uint64_t mask) {
  json_open(j, k, '[');
  for (unsigned n = 0; n < NUMA_MAX; n++)
    if (mask >> n & 1) json_u64(j, NULL, n);
  json_close(j, ']');
}

void numa_write_json(uma_json_t *j) {
  json_open(j, "mmap", '{');
  json_u64(j, "mappings", mmap_track_ranges());
  json_u64(j, "bytes", mmap_totals.bytes);
  json_u64(j, "peak_bytes", mmap_totals.peak);
  json_u64(j, "made", mmap_totals.maps);
  json_u64(j, "remapped", mmap_totals.remaps);
  json_u64(j, "untracked", mmap_totals.untracked);
  json_close(j, '}');

  json_open(j, "numa", '{');
  json_bool(j, "active", numa_active);
  json_nodes(j, "online", numa_online);
  json_nodes(j, "usable", numa_allowed);
  json_bool(j, "hwloc", numa_hwloc_loaded);
  json_u64(j, "process_policy", (uint64_t)numa_process_mode);
  json_open(j, "tiers", '{');
  json_str(j, "source", numa_tier_source);
  json_nodes(j, "fast", numa_fast_nodes);
  json_nodes(j, "slow", numa_slow_nodes);
  json_close(j, '}');
  json_open(j, "gpus", '[');
  for (int k = 0; k < numa_gpu_count; k++) {
    json_open(j, NULL, '{');
    json_u64(j, "index", (uint64_t)k);
    json_str(j, "pci", numa_gpu_bus[k]);
    if (numa_gpu_node[k] >= 0) json_u64(j, "node", (uint64_t)numa_gpu_node[k]);
    else json_null(j, "node");
    json_close(j, '}');
  }
  json_close(j, ']');
  json_open(j, "nodes", '[');
  for (unsigned n = 0; n < NUMA_MAX && census.taken; n++) {
    if (!(numa_online >> n & 1)) continue;
    json_open(j, NULL, '{');
    json_u64(j, "node", n);
    json_u64(j, "memory_bytes", numa_mem_total[n]);
    if (numa_bandwidth[n]) json_u64(j, "bandwidth_mbps", numa_bandwidth[n]);
    else json_null(j, "bandwidth_mbps");
    if (numa_latency[n]) json_u64(j, "latency_ns", numa_latency[n]);
    else json_null(j, "latency_ns");
    json_open(j, "distances", '[');
    for (unsigned m = 0; m < NUMA_MAX; m++)
      if (numa_online >> m & 1) json_u64(j, NULL, numa_distance[n][m]);
    json_close(j, ']');
    json_open(j, "resident_bytes", '{');
    for (int p = 0; p < CENSUS_POOLS; p++) json_u64(j, census_pool_names[p], census.pool[p][n]);
    json_close(j, '}');
    json_close(j, '}');
  }
  json_close(j, ']');
  json_open(j, "rules", '[');
  for (int r = 0; r <= route_count; r++) {
    const numa_place_t *pl = &route_place[r];
    json_open(j, NULL, '{');
    json_str(j, "rule", r ? route_table[r].name : "(defaults)");
    json_str(j, "placement", r ? route_table[r].numa : "local");
    json_str(j, "applied", pl->kernel_mode ? numa_mode_name(pl->mode) : "local");
    json_nodes(j, "nodes", pl->nodes);
    if (pl->fallback) json_str(j, "fallback", numa_fallback_text(pl->fallback));
    else json_null(j, "fallback");
    json_u64(j, "placed_bytes", atomic_load(&route_numa[r].placed_bytes));
    json_u64(j, "refused", atomic_load(&route_numa[r].refused));
    json_u64(j, "mmap_bytes", atomic_load(&route_table[r].mmap_bytes));
    json_u64(j, "mmap_peak_bytes", atomic_load(&route_table[r].mmap_peak));
    json_open(j, "resident_by_node", '{');
    for (unsigned n = 0; n < NUMA_MAX && census.taken; n++) {
      if (!(numa_online >> n & 1)) continue;
      char key[8];
      uma_buf_t kb = { key, 0, sizeof key };
      buf_u64(&kb, n);
      key[kb.len] = 0;
      json_u64(j, key, census.rule[r][n]);
    }
    json_close(j, '}');
    json_close(j, '}');
  }
  json_close(j, ']');
  json_u64(j, "rehomed_heaps", atomic_load(&stats_heaps_rehomed));
  json_close(j, '}');
}
