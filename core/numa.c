/* numa.c — the machine's NUMA nodes, and placing fresh memory on them.
 *
 * What the kernel says is read at start-up with raw system calls (sysfs and
 * get_mempolicy: no allocation, so it runs inside the core's init); hwloc
 * adds memory attributes and device locality later (numa_topology.c). With
 * one usable node — most machines — `numa_active` stays false and nothing
 * here runs again: every path tests that one flag.
 *
 * Placement is applied with mbind to memory the program has not touched yet
 * (a fresh segment, a fresh large mapping, a fresh mmap): a policy set after
 * the pages were faulted does nothing to them. Node masks are cut down to
 * the nodes this process may use before they reach the kernel, because the
 * kernel does not always refuse a bad one: an interleave over an unusable
 * node quietly uses the others. Every cut, fallback and refusal is counted
 * per rule and printed in the report. */
#define _GNU_SOURCE
#include "base.h"
#include "fmt.h"
#include "numa.h"
#include "os.h"
#include <fcntl.h>
#include <sched.h>
#include <string.h>

#define MPOL_DEFAULT_ 0
#define MPOL_PREFERRED_ 1
#define MPOL_BIND_ 2
#define MPOL_INTERLEAVE_ 3
#define MPOL_PREFERRED_MANY_ 5
#define MPOL_WEIGHTED_INTERLEAVE_ 6
#define MPOL_F_MEMS_ALLOWED_ 4

bool numa_active;
int numa_node_count;
uint64_t numa_online, numa_allowed, numa_with_cpus;
int numa_process_mode;
uint64_t numa_process_mask;
UMA_TABLE uint8_t numa_cpu_node[NUMA_CPU_MAX];
UMA_TABLE uint8_t numa_distance[NUMA_MAX][NUMA_MAX];
uint64_t numa_mem_total[NUMA_MAX];
bool numa_weighted_supported;
uint8_t numa_kernel_weight[NUMA_MAX];

/* ---- sysfs, read without allocating --------------------------------------- */

/* A small sysfs file into buf (NUL-terminated); its length, 0 if absent. */
size_t numa_read_file(const char *path, char *buf, size_t cap) {
  int fd = os_open(path, O_RDONLY, 0);
  if (fd < 0) return 0;
  long n = os_read(fd, buf, cap - 1);
  os_close(fd);
  if (n < 0) n = 0;
  buf[n] = 0;
  return (size_t)n;
}

static const char *scan_uint(const char *s, unsigned *out) {
  unsigned v = 0;
  if (*s < '0' || *s > '9') return NULL;
  while (*s >= '0' && *s <= '9') v = v * 10 + (unsigned)(*s++ - '0');
  *out = v;
  return s;
}

/* "0-3,8" → calls set(i) for each i; false on anything else. */
static bool parse_list(const char *s, void (*set)(unsigned, void *), void *arg) {
  while (*s && *s != '\n') {
    unsigned a, b;
    if ((s = scan_uint(s, &a)) == NULL) return false;
    b = a;
    if (*s == '-' && (s = scan_uint(s + 1, &b)) == NULL) return false;
    for (unsigned i = a; i <= b && i < 65536; i++) set(i, arg);
    if (*s == ',') s++;
  }
  return true;
}

static void set_mask_bit(unsigned i, void *arg) {
  if (i < NUMA_MAX) *(uint64_t *)arg |= 1ULL << i;
}
/* A node list ("0-1,3") as a mask; false when it does not parse. */
bool numa_parse_nodes(const char *s, uint64_t *mask) { return parse_list(s, set_mask_bit, mask); }
static void set_cpu_node(unsigned cpu, void *arg) {
  if (cpu < NUMA_CPU_MAX) numa_cpu_node[cpu] = (uint8_t)(uintptr_t)arg;
}

static void node_path(char *out, unsigned node, const char *file) {
  uma_buf_t b = { out, 0, 128 };
  buf_str(&b, "/sys/devices/system/node/node");
  buf_u64(&b, node);
  buf_str(&b, "/");
  buf_str(&b, file);
  out[b.len < 127 ? b.len : 127] = 0;
}

static void read_node(unsigned node) {
  char path[128], buf[4096];
  node_path(path, node, "cpulist");
  if (numa_read_file(path, buf, sizeof buf) && buf[0] != '\n') {
    parse_list(buf, set_cpu_node, (void *)(uintptr_t)node);
    numa_with_cpus |= 1ULL << node;
  }
  node_path(path, node, "distance");
  if (numa_read_file(path, buf, sizeof buf)) {
    const char *s = buf;
    for (unsigned to = 0; to < NUMA_MAX && *s && *s != '\n'; to++) {
      while (!(numa_online >> to & 1) && to < NUMA_MAX) to++;
      unsigned d;
      if (to >= NUMA_MAX || (s = scan_uint(s, &d)) == NULL) break;
      numa_distance[node][to] = (uint8_t)(d > 255 ? 255 : d);
      while (*s == ' ') s++;
    }
  }
  node_path(path, node, "meminfo");   /* "Node 0 MemTotal:       1234 kB" */
  if (numa_read_file(path, buf, sizeof buf)) {
    const char *m = strstr(buf, "MemTotal:");
    unsigned long kb = 0;
    if (m) {
      for (m += 9; *m == ' '; m++) {}
      while (*m >= '0' && *m <= '9') kb = kb * 10 + (unsigned long)(*m++ - '0');
    }
    numa_mem_total[node] = (uint64_t)kb * 1024;
  }
  char wpath[96];
  uma_buf_t wb = { wpath, 0, sizeof wpath };
  buf_str(&wb, "/sys/kernel/mm/mempolicy/weighted_interleave/node");
  buf_u64(&wb, node);
  wpath[wb.len < sizeof wpath - 1 ? wb.len : sizeof wpath - 1] = 0;
  unsigned w;
  if (numa_read_file(wpath, buf, sizeof buf) && scan_uint(buf, &w)) {
    numa_weighted_supported = true;
    numa_kernel_weight[node] = (uint8_t)(w > 255 ? 255 : w);
  }
}

/* At the core's start: which nodes exist, which this process may use, which
 * CPUs belong to which node, and the policy the process was started with
 * (numactl, a parent's set_mempolicy), which pooled memory then follows. */
void numa_init(void) {
  char buf[512];
  if (!numa_read_file("/sys/devices/system/node/online", buf, sizeof buf) ||
      !numa_parse_nodes(buf, &numa_online) || numa_online == 0) {
    numa_online = 1;   /* no sysfs (a container without it): one node */
  }
  numa_node_count = 64 - __builtin_clzll(numa_online);
  uint64_t allowed = 0;
  if (os_get_mempolicy(NULL, &allowed, NULL, MPOL_F_MEMS_ALLOWED_) != 0 || allowed == 0) allowed = numa_online;
  numa_allowed = allowed & numa_online;
  int mode = 0;
  uint64_t mask = 0;
  if (os_get_mempolicy(&mode, &mask, NULL, 0) == 0) {
    numa_process_mode = mode & 0xff;   /* flags live in the high bits */
    numa_process_mask = mask;
  }
  numa_active = __builtin_popcountll(numa_online) > 1;
  if (!numa_active) return;
  for (unsigned n = 0; n < NUMA_MAX; n++)
    if (numa_online >> n & 1) read_node(n);
}

/* The node of the CPU this thread runs on (glibc reads it from rseq). */
int numa_current_node(void) {
  if (!numa_active) return 0;
  int cpu = sched_getcpu();
  return cpu >= 0 && cpu < NUMA_CPU_MAX ? numa_cpu_node[cpu] : 0;
}

/* ---- placements ------------------------------------------------------------ */

static const char *const mode_names[NUMA_MODES] = {
  "local", "bind", "preferred", "preferred-many", "interleave", "weighted-interleave", "tier", "near-gpu",
};
const char *numa_mode_name(int mode) { return mode >= 0 && mode < NUMA_MODES ? mode_names[mode] : "?"; }

/* The rule's text, already checked by the policy parser: "bind:0-1",
 * "weighted-interleave:0=3,1=1", "tier:fast", "near-gpu:0". */
void numa_compile(const char *text, numa_place_t *pl) {
  memset(pl, 0, sizeof *pl);
  const char *colon = strchr(text, ':');
  size_t mode_len = colon ? (size_t)(colon - text) : strlen(text);
  for (int m = 0; m < NUMA_MODES; m++)
    if (strlen(mode_names[m]) == mode_len && memcmp(text, mode_names[m], mode_len) == 0) pl->mode = (uint8_t)m;
  if (!colon) return;
  const char *arg = colon + 1;
  if (pl->mode == NUMA_TIER) {
    pl->tier_slow = strcmp(arg, "slow") == 0;
  } else if (pl->mode == NUMA_WEIGHTED_INTERLEAVE) {
    while (*arg) {
      unsigned node, w;
      if ((arg = scan_uint(arg, &node)) == NULL || *arg != '=' || (arg = scan_uint(arg + 1, &w)) == NULL) break;
      if (node < NUMA_MAX) {
        pl->asked |= 1ULL << node;
        pl->weight[node] = (uint8_t)(w > 255 ? 255 : w);
      }
      if (*arg == ',') arg++;
    }
  } else if (pl->mode == NUMA_PREFERRED || pl->mode == NUMA_NEAR_GPU) {
    unsigned n = 0;
    if (scan_uint(arg, &n)) pl->arg = (uint16_t)n;
    if (pl->mode == NUMA_PREFERRED && n < NUMA_MAX) pl->asked = 1ULL << n;
  } else {
    parse_list(arg, set_mask_bit, &pl->asked);
  }
}

static void fall_back(numa_place_t *pl, uint8_t why) {
  pl->kernel_mode = 0;
  pl->nodes = 0;
  pl->fallback = why;
}

/* From what the rule asked to what the kernel gets, on this machine: masks
 * cut to the usable nodes, tiers and GPUs looked up, unsupported modes
 * replaced. `kernel_mode` 0 means local: the caller's node. */
void numa_resolve(numa_place_t *pl) {
  pl->fallback = NUMA_FB_NONE;
  pl->kernel_mode = 0;
  pl->nodes = 0;
  if (pl->mode == NUMA_TIER) {
    uint64_t tier = pl->tier_slow ? numa_slow_nodes : numa_fast_nodes;
    if (numa_slow_nodes == 0 || numa_fast_nodes == 0) return fall_back(pl, NUMA_FB_ONE_TIER);
    pl->asked = tier;
  } else if (pl->mode == NUMA_NEAR_GPU) {
    if (pl->arg >= numa_gpu_count || numa_gpu_node[pl->arg] < 0) return fall_back(pl, NUMA_FB_NO_GPU);
    pl->asked = 1ULL << numa_gpu_node[pl->arg];
  }
  if (pl->mode == NUMA_LOCAL) return;
  if (!numa_active) return fall_back(pl, NUMA_FB_ONE_NODE);
  uint64_t usable = pl->asked & numa_allowed;
  if (usable == 0) return fall_back(pl, NUMA_FB_NO_USABLE_NODE);
  if (usable != pl->asked) pl->fallback = NUMA_FB_NODES_DROPPED;
  pl->nodes = usable;
  switch (pl->mode) {
  case NUMA_BIND: pl->kernel_mode = MPOL_BIND_; break;
  case NUMA_PREFERRED: case NUMA_NEAR_GPU: pl->kernel_mode = MPOL_PREFERRED_; break;
  case NUMA_PREFERRED_MANY: case NUMA_TIER: pl->kernel_mode = MPOL_PREFERRED_MANY_; break;
  case NUMA_INTERLEAVE: pl->kernel_mode = MPOL_INTERLEAVE_; break;
  case NUMA_WEIGHTED_INTERLEAVE:
    if (!numa_weighted_supported) {
      pl->kernel_mode = MPOL_INTERLEAVE_;
      pl->fallback = NUMA_FB_NO_WEIGHTED;
      break;
    }
    pl->kernel_mode = MPOL_WEIGHTED_INTERLEAVE_;
    for (unsigned n = 0; n < NUMA_MAX; n++)
      if ((usable >> n & 1) && numa_kernel_weight[n] != pl->weight[n]) pl->fallback = NUMA_FB_KERNEL_WEIGHTS;
    break;
  }
  if (__builtin_popcountll(usable) == 1 && pl->kernel_mode == MPOL_PREFERRED_MANY_) pl->kernel_mode = MPOL_PREFERRED_;
}

const char *numa_fallback_text(int why) {
  switch (why) {
  case NUMA_FB_ONE_NODE: return "one NUMA node: memory stays local";
  case NUMA_FB_NO_USABLE_NODE: return "none of its nodes may be used by this process (cpuset or mems_allowed): memory stays local";
  case NUMA_FB_NODES_DROPPED: return "some of its nodes may not be used by this process and were left out";
  case NUMA_FB_NO_WEIGHTED: return "the kernel has no weighted interleave (Linux 6.9+): plain interleave over the same nodes";
  case NUMA_FB_KERNEL_WEIGHTS: return "the kernel's weights (/sys/kernel/mm/mempolicy/weighted_interleave) differ from the rule's and are the ones applied; set them there";
  case NUMA_FB_ONE_TIER: return "one memory tier: memory stays local";
  case NUMA_FB_NO_GPU: return "no such GPU on this machine: memory stays local";
  case NUMA_FB_NO_PREFERRED_MANY: return "the kernel has no preferred-many (Linux 5.15+): preferred on the first node";
  default: return "";
  }
}

/* Place [p, p+len) — untouched memory — as `pl` says (NULL: local), `node`
 * being the caller's for local placement. What the kernel refused is
 * counted in `c` (the rule's counters, or NULL) with its error number. */
void numa_place(void *p, size_t len, const numa_place_t *pl, int node, numa_counters_t *c) {
  if (!numa_active || len == 0) return;
  int mode = pl ? pl->kernel_mode : 0;
  uint64_t mask = mode ? pl->nodes : 1ULL << node;
  if (mode == 0) {
    if (numa_process_mode != MPOL_DEFAULT_) return;   /* the process's own policy (numactl) rules */
    mode = MPOL_PREFERRED_;
    if (!(numa_allowed & mask)) mask = numa_allowed & -numa_allowed;   /* its CPU's node is not ours */
  }
  long r = os_mbind(p, len, mode, mask, 0);
  if (r == -22 /* EINVAL */ && mode == MPOL_PREFERRED_MANY_) {   /* a kernel before 5.15 */
    r = os_mbind(p, len, MPOL_PREFERRED_, 1ULL << __builtin_ctzll(mask), 0);
    if (c) atomic_fetch_add_explicit(&c->preferred_many_fallbacks, 1, memory_order_relaxed);
  }
  if (c == NULL) return;
  if (r != 0) {
    atomic_fetch_add_explicit(&c->refused, 1, memory_order_relaxed);
    atomic_store_explicit(&c->last_errno, (int)-r, memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(&c->placed_bytes, len, memory_order_relaxed);
  }
}
