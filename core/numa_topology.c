/* numa_topology.c — what sysfs alone does not say, from hwloc: which nodes
 * are the fast and the slow memory (memory attributes), and which node each
 * GPU hangs off. Runs once after start-up (hwloc allocates), and only where
 * there are several nodes: on one node every placement is local anyway.
 *
 * hwloc is loaded with dlopen, like the CUDA driver: the library must load
 * where hwloc is not installed, and a process that never needs it should not
 * map libhwloc and libudev.
 *
 * Tiers, first source that tells nodes apart wins (the report names it):
 *  1. hwloc's Bandwidth attribute (ACPI HMAT) as seen from the first node
 *     with CPUs: fast = within 25 % of the best bandwidth;
 *  2. the kernel's memory tiers (/sys/devices/virtual/memory_tiering): the
 *     lowest tier is fast;
 *  3. nodes with CPUs are fast, CPU-less nodes (CXL, far memory) slow.
 * GPU K is the K-th display, 3D or accelerator PCI device in bus order,
 * NVIDIA's first — CUDA's order under CUDA_DEVICE_ORDER=PCI_BUS_ID; its node
 * is the node of its nearest non-I/O ancestor. */
#include "base.h"
#include "fmt.h"
#include "numa.h"
#include <dlfcn.h>
/* Built without hwloc's header (a machine without libhwloc-dev), the library
 * still works: tiers come from the kernel, GPUs have no node, and the report
 * says hwloc was not used. */
#if __has_include(<hwloc.h>)
#include <hwloc.h>
#define HAVE_HWLOC 1
#else
#define HAVE_HWLOC 0
#endif

uint64_t numa_fast_nodes, numa_slow_nodes;
uint64_t numa_bandwidth[NUMA_MAX], numa_latency[NUMA_MAX];   /* hwloc memattrs (MB/s, ns); 0: unknown */
const char *numa_tier_source = "none";
int numa_gpu_count;
int8_t numa_gpu_node[DEV_MAX_GPUS];
char numa_gpu_bus[DEV_MAX_GPUS][16];
bool numa_hwloc_loaded;

#if HAVE_HWLOC
typedef struct hwloc_api_s {
  int (*topology_init)(hwloc_topology_t *);
  int (*set_io_types_filter)(hwloc_topology_t, enum hwloc_type_filter_e);
  int (*topology_load)(hwloc_topology_t);
  void (*topology_destroy)(hwloc_topology_t);
  int (*get_type_depth)(hwloc_topology_t, hwloc_obj_type_t);
  unsigned (*get_nbobjs_by_depth)(hwloc_topology_t, int);
  hwloc_obj_t (*get_obj_by_depth)(hwloc_topology_t, int, unsigned);
  int (*bitmap_first)(hwloc_const_bitmap_t);
  int (*bitmap_weight)(hwloc_const_bitmap_t);
  int (*memattr_get_value)(hwloc_topology_t, hwloc_memattr_id_t, hwloc_obj_t, struct hwloc_location *,
                           unsigned long, hwloc_uint64_t *);
} hwloc_api_t;

/* lookup: the C library's dlsym, handed down by the preload (whose own
 * dlsym is a wrapper for CUDA's routes). */
static bool load_api(hwloc_api_t *h, void *(*lookup)(void *, const char *)) {
  void *lib = dlopen("libhwloc.so.15", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return false;
  void **slot = (void **)h;
  static const char *const names[] = {
    "hwloc_topology_init", "hwloc_topology_set_io_types_filter", "hwloc_topology_load",
    "hwloc_topology_destroy", "hwloc_get_type_depth", "hwloc_get_nbobjs_by_depth",
    "hwloc_get_obj_by_depth", "hwloc_bitmap_first", "hwloc_bitmap_weight", "hwloc_memattr_get_value",
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if ((slot[i] = lookup(lib, names[i])) == NULL) return false;
  return true;
}

/* Bandwidth and latency of each node as seen from the first node with
 * CPUs (what HMAT exports); then the tiers, if the bandwidths differ. */
static void tiers_from_bandwidth(const hwloc_api_t *h, hwloc_topology_t topo) {
  int depth = h->get_type_depth(topo, HWLOC_OBJ_NUMANODE);
  unsigned n = h->get_nbobjs_by_depth(topo, depth);
  hwloc_obj_t initiator_node = NULL;
  for (unsigned i = 0; i < n && !initiator_node; i++) {
    hwloc_obj_t node = h->get_obj_by_depth(topo, depth, i);
    if (node->cpuset && h->bitmap_weight(node->cpuset) > 0) initiator_node = node;
  }
  if (initiator_node == NULL) return;
  uint64_t bw[NUMA_MAX] = { 0 }, best = 0, known = 0;
  for (unsigned i = 0; i < n; i++) {
    hwloc_obj_t node = h->get_obj_by_depth(topo, depth, i);
    struct hwloc_location loc = { .type = HWLOC_LOCATION_TYPE_CPUSET, .location.cpuset = initiator_node->cpuset };
    hwloc_uint64_t v, lat;
    if (node->os_index >= NUMA_MAX) return;
    if (h->memattr_get_value(topo, HWLOC_MEMATTR_ID_LATENCY, node, &loc, 0, &lat) == 0)
      numa_latency[node->os_index] = lat;
    if (h->memattr_get_value(topo, HWLOC_MEMATTR_ID_BANDWIDTH, node, &loc, 0, &v) != 0) return;   /* all nodes or none */
    numa_bandwidth[node->os_index] = v;
    bw[node->os_index] = v;
    known |= 1ULL << node->os_index;
    if (v > best) best = v;
  }
  uint64_t fast = 0;
  for (unsigned i = 0; i < NUMA_MAX; i++)
    if ((known >> i & 1) && bw[i] * 4 >= best * 3) fast |= 1ULL << i;
  if (fast == known) return;   /* all alike: no tiers here */
  numa_fast_nodes = fast;
  numa_slow_nodes = known & ~fast;
  numa_tier_source = "hwloc bandwidth (HMAT)";
}

#endif

static void tiers_from_kernel(void) {
  uint64_t first = 0, rest = 0;
  for (unsigned t = 0; t < 512; t++) {   /* tier ids are abstract distances / 128 */
    char path[96], buf[256];
    uma_buf_t b = { path, 0, sizeof path };
    buf_str(&b, "/sys/devices/virtual/memory_tiering/memory_tier");
    buf_u64(&b, t);
    buf_str(&b, "/nodelist");
    path[b.len] = 0;
    uint64_t mask = 0;
    if (!numa_read_file(path, buf, sizeof buf) || !numa_parse_nodes(buf, &mask)) continue;
    if (first == 0) first = mask;
    else rest |= mask;
  }
  if (first == 0 || rest == 0) return;
  numa_fast_nodes = first;
  numa_slow_nodes = rest;
  numa_tier_source = "kernel memory tiers";
}

#if HAVE_HWLOC
static int gpu_rank(const hwloc_obj_t o) {   /* 0 not a GPU, 1 NVIDIA, 2 other */
  unsigned cls = o->attr->pcidev.class_id >> 8;
  if (cls != 0x03 && cls != 0x12) return 0;
  return o->attr->pcidev.vendor_id == 0x10de ? 1 : 2;
}

static void put_hex(uma_buf_t *b, unsigned v, int digits) {
  for (int i = digits - 1; i >= 0; i--) {
    char c[2] = { "0123456789abcdef"[(v >> (4 * i)) & 15], 0 };
    buf_str(b, c);
  }
}

static void find_gpus(const hwloc_api_t *h, hwloc_topology_t topo) {
  int depth = HWLOC_TYPE_DEPTH_PCI_DEVICE;
  unsigned n = h->get_nbobjs_by_depth(topo, depth);
  for (int rank = 1; rank <= 2; rank++)
    for (unsigned i = 0; i < n && numa_gpu_count < DEV_MAX_GPUS; i++) {
      hwloc_obj_t o = h->get_obj_by_depth(topo, depth, i);
      if (gpu_rank(o) != rank) continue;
      hwloc_obj_t anc = o->parent;
      while (anc && anc->cpuset == NULL) anc = anc->parent;   /* the nearest non-I/O object */
      int node = -1;
      if (anc && anc->nodeset && h->bitmap_weight(anc->nodeset) == 1) node = h->bitmap_first(anc->nodeset);
      int k = numa_gpu_count++;
      numa_gpu_node[k] = (int8_t)(node >= 0 && node < NUMA_MAX ? node : -1);
      uma_buf_t b = { numa_gpu_bus[k], 0, sizeof numa_gpu_bus[k] };
      put_hex(&b, o->attr->pcidev.domain, 4);
      buf_str(&b, ":");
      put_hex(&b, o->attr->pcidev.bus, 2);
      buf_str(&b, ":");
      put_hex(&b, o->attr->pcidev.dev, 2);
      buf_str(&b, ".");
      put_hex(&b, o->attr->pcidev.func, 1);
      numa_gpu_bus[k][b.len < 15 ? b.len : 15] = 0;
    }
}

#endif

void numa_topology_discover(void *(*lookup)(void *handle, const char *name)) {
  if (!numa_active) return;
#if HAVE_HWLOC
  hwloc_api_t h;
  hwloc_topology_t topo;
  if (load_api(&h, lookup) && h.topology_init(&topo) == 0) {
    h.set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (h.topology_load(topo) == 0) {
      numa_hwloc_loaded = true;
      tiers_from_bandwidth(&h, topo);
      find_gpus(&h, topo);
    }
    h.topology_destroy(topo);
  }
#endif
  if (numa_fast_nodes == 0) tiers_from_kernel();
  if (numa_fast_nodes == 0 && numa_with_cpus != 0 && (numa_online & ~numa_with_cpus) != 0) {
    numa_fast_nodes = numa_online & numa_with_cpus;
    numa_slow_nodes = numa_online & ~numa_with_cpus;
    numa_tier_source = "CPU-less nodes";
  }
}
