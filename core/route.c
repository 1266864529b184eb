/* route.c — the compiled routing table: which rule governs a request, as
 * plain data the policy layer installs once at start (policy/load.c). Pooled
 * sizes are routed per size class (route_of_class, read only on slow paths);
 * large and aligned requests walk the rules in file order, first match wins.
 * Nothing here allocates: the caller's library is found with
 * dl_iterate_phdr, which takes the loader's lock but no heap memory. */
#define _GNU_SOURCE
#include "base.h"
#include "bytes.h"
#include "numa.h"
#include "route.h"
#include "size_class.h"
#include <link.h>
#include <string.h>

UMA_TABLE uma_route_t route_table[UMA_ROUTE_MAX + 1];   /* [0]: no rule matched — the defaults */
int route_count;                               /* rules in [1, route_count] */
uint8_t route_of_class[UMA_CLASS_COUNT];
bool route_class_to_large[UMA_CLASS_COUNT];
static bool route_any_caller, route_any_alignment;

/* ---- glob matching ('*', '?', '[…]'), the subset fnmatch users expect ---- */
static bool glob_match(const char *pat, const char *s) {
  while (*pat) {
    if (*pat == '*') {
      while (*pat == '*') pat++;
      if (!*pat) return true;
      for (; *s; s++)
        if (glob_match(pat, s)) return true;
      return false;
    }
    if (!*s) return false;
    if (*pat == '[') {
      const char *p = pat + 1;
      bool neg = *p == '!' || *p == '^', hit = false;
      if (neg) p++;
      for (; *p && *p != ']'; p++) {
        if (p[1] == '-' && p[2] && p[2] != ']') {
          if (*s >= p[0] && *s <= p[2]) hit = true;
          p += 2;
        } else if (*p == *s) {
          hit = true;
        }
      }
      if (*p != ']' || hit == neg) return false;
      pat = p + 1;
      s++;
      continue;
    }
    if (*pat != '?' && *pat != *s) return false;
    pat++;
    s++;
  }
  return !*s;
}

/* ---- the calling library --------------------------------------------------- */
typedef struct { uintptr_t addr; const char *name; } caller_query_t;

static int caller_visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  caller_query_t *q = arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (q->addr >= lo && q->addr < lo + ph->p_memsz) {
      q->name = info->dlpi_name;
      return 1;
    }
  }
  return 0;
}

/* The base name of the shared object holding `addr` ("" for the program). */
static const char *caller_library(const void *addr) {
  caller_query_t q = { (uintptr_t)addr, NULL };
  if (addr == NULL || dl_iterate_phdr(caller_visit, &q) == 0 || q.name == NULL) return "";
  const char *base = q.name;
  for (const char *p = q.name; *p; p++)
    if (*p == '/') base = p + 1;
  return base;
}

static bool rule_matches(const uma_route_t *r, unsigned source, size_t size, size_t align, const char **caller,
                         const void *ra) {
  if (!(r->sources & source)) return false;
  if (size < r->size_lo || size > r->size_hi) return false;
  if (align < r->align_lo || align > r->align_hi) return false;
  if (r->caller[0]) {
    if (*caller == NULL) *caller = caller_library(ra);   /* looked up once per request */
    if (!glob_match(r->caller, *caller)) return false;
  }
  return true;
}

/* For callers that already know the calling library's name (uma-conf
 * explain): NULL means unknown, and then no caller rule matches. */
bool route_rule_matches(const uma_route_t *r, unsigned source, size_t size, size_t align, const char *caller) {
  const char *known = caller ? caller : "";
  if (r->caller[0] && caller == NULL) return false;
  return rule_matches(r, source, size, align < UMA_ALIGN_MIN ? UMA_ALIGN_MIN : align, &known, NULL);
}

/* First rule, in file order, that matches; 0 when none does. */
unsigned route_match(unsigned source, size_t size, size_t align, const void *ra) {
  const char *caller = NULL;
  if (align < UMA_ALIGN_MIN) align = UMA_ALIGN_MIN;
  for (int i = 1; i <= route_count; i++)
    if (rule_matches(&route_table[i], source, size, align, &caller, ra)) return (unsigned)i;
  return 0;
}

/* The rule for a request the allocator is about to serve: by class for
 * pooled sizes (callers are only looked at for large requests), by walking
 * the rules otherwise. */
unsigned route_for(size_t size, size_t align, const void *ra) {
  if (route_count == 0) return 0;
  if (size <= UMA_BLOCK_MAX && (align <= UMA_ALIGN_MIN || !route_any_alignment))
    return route_of_class[sc_of(size)];
  return route_match(UMA_SOURCE_MALLOC, size, align, route_any_caller ? ra : NULL);
}

bool route_glob_match(const char *pattern, const char *text) { return glob_match(pattern, text); }

/* Install a new table: rules [1, count] in file order. The per-class table
 * uses the class size as the request size and the natural alignment; rules
 * that name a caller never govern pooled sizes. */
void route_install(const uma_route_t *rules, int count) {
  if (count > UMA_ROUTE_MAX) count = UMA_ROUTE_MAX;
  memset(&route_table[0], 0, sizeof route_table[0]);
  route_table[0].sources = ~0u;
  route_table[0].size_hi = SIZE_MAX;
  route_table[0].align_hi = SIZE_MAX;
  route_table[0].purge_delay_ms = -1;
  if (count > 0) bytes_copy(&route_table[1], rules, sizeof rules[0] * (size_t)count);
  route_any_caller = route_any_alignment = false;
  for (int i = 1; i <= count; i++) {
    route_any_caller |= route_table[i].caller[0] != 0;
    route_any_alignment |= route_table[i].align_lo > UMA_ALIGN_MIN;
  }
  route_count = count;
  route_resolve_numa();
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) {
    unsigned r = 0;
    for (int i = 1; i <= count && r == 0; i++)
      if (route_rule_matches(&route_table[i], UMA_SOURCE_MALLOC, sc_size(c), UMA_ALIGN_MIN, NULL)) r = (unsigned)i;
    route_of_class[c] = (uint8_t)r;
    route_class_to_large[c] = route_table[r].pool == UMA_POOL_LARGE;
  }
}

/* Each rule's placement, as it applies on this machine; again after hwloc
 * has told tiers and GPUs apart (numa_topology.c). Rule 0, the defaults, is
 * local. */
UMA_TABLE numa_place_t route_place[UMA_ROUTE_MAX + 1];
UMA_TABLE numa_counters_t route_numa[UMA_ROUTE_MAX + 1];
void route_resolve_numa(void) {
  for (int i = 0; i <= route_count; i++) {
    numa_compile(i ? route_table[i].numa : "local", &route_place[i]);
    numa_resolve(&route_place[i]);
  }
}

/* Per-rule counters for large blocks (pooled sizes are counted per class). */
void route_count_alloc(unsigned r, size_t bytes) {
  atomic_fetch_add_explicit(&route_table[r].large_allocs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&route_table[r].large_bytes, bytes, memory_order_relaxed);
}
void route_count_free(unsigned r, size_t bytes) {
  atomic_fetch_add_explicit(&route_table[r].large_frees, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&route_table[r].large_freed_bytes, bytes, memory_order_relaxed);
}
