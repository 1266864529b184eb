/* plan_host.c — the planner (plan.c) over the host's large blocks
 * ([plan] host = auto): requests of at least [plan] min_size that malloc,
 * calloc and realloc turn into large blocks are observed; once a period is
 * planned, its blocks come from one arena mapping, page-aligned, at their
 * planned offsets. The arena is not in the ownership map: free, realloc and
 * malloc_usable_size reach it on their "not allocated here" path, which
 * costs the fast path nothing. Its pages stay mapped while a plan uses it
 * (the next period reuses them without faults) and go back when the plan
 * ends with nothing left in it. */
#include "base.h"
#include "fork.h"
#include "fmt.h"
#include "json.h"
#include "large.h"
#include "os.h"
#include "plan.h"
#include "plan_host.h"
#include "stats.h"
#include <string.h>

bool plan_host_on;
uint64_t plan_min = 1 << 20;
static plan_t *planner;
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *_Atomic arena;
static _Atomic uint64_t arena_size;
static uint64_t arena_peak, arenas_mapped;
/* The process's committed footprint: its peak before the first arena (what
 * the program needed without the plan), and the most seen since, sampled at
 * each planned allocation (under arena_lock). */
static uint64_t footprint_before, footprint_since;

static bool planner_ready(void) {
  if (planner) return true;
  pthread_mutex_lock(&arena_lock);
  if (planner == NULL) planner = plan_new();
  pthread_mutex_unlock(&arena_lock);
  return planner != NULL;
}

/* The mapping behind an arena of `size` bytes: whole 4 MiB slots, the
 * arena one page into the first. free and realloc look at the ownership
 * map first: a large block sharing a slot with the arena would claim the
 * arena's blocks there, and a block at a slot's start is looked up in the
 * slot below (seg_of), which must be the arena's too (both found by the
 * alloc_fuzz shadow model). Untouched, the rounding costs address space only. */
static uint64_t arena_span(uint64_t size) { return (size + UMA_OS_PAGE + UMA_SEG_MASK) & ~UMA_SEG_MASK; }

/* Under arena_lock: map an arena of `need` bytes in place of the old one,
 * or give an idle one back (need = 0) — only while no planned block lives
 * in it. */
static void arena_set(uint64_t need) {
  if (need == arena_size || plan_live(planner) != 0) return;
  if (arena) {
    os_unmap(arena - UMA_OS_PAGE, arena_span(arena_size));
    stats_commit(-(int64_t)arena_size);
  }
  arena = NULL;
  arena_size = 0;
  if (need && footprint_before == 0) footprint_before = atomic_load_explicit(&stats_peak_committed, memory_order_relaxed);
  uint8_t *a = need && stats_heap_allows(need) ? os_map_aligned(arena_span(need), UMA_SEG_SIZE) : NULL;
  if (a == NULL) return;
  arena_size = need;
  arena = a + UMA_OS_PAGE;
  arenas_mapped++;
  stats_commit((int64_t)need);
  if (need > arena_peak) arena_peak = need;
}

/* Under arena_lock throughout: the arena cannot change between the
 * planner's answer and the address made from it. */
void *plan_host_alloc(size_t size, bool zero, uint64_t *seq) {
  *seq = 0;
  if (!plan_host_on || size < plan_min || !planner_ready()) return NULL;
  uint64_t off = 0, need = 0, s = 0;
  pthread_mutex_lock(&arena_lock);
  bool served = plan_alloc(planner, size, arena_size, UMA_OS_PAGE, &off, &s, &need);
  if (!served && need) {   /* a period starts and the arena is missing or too small */
    /* The mappings the large cache kept while learning would sit beside the
     * arena: give them back first (outside arena_lock: fork takes
     * large_lock before it). */
    pthread_mutex_unlock(&arena_lock);
    large_cache_purge(os_now_ms(), true);
    pthread_mutex_lock(&arena_lock);
    served = plan_alloc(planner, size, arena_size, UMA_OS_PAGE, &off, &s, &need);
    if (!served && need) {
      arena_set(need);
      served = plan_alloc(planner, size, arena_size, UMA_OS_PAGE, &off, &s, &need);
    }
  }
  uint8_t *p = served ? arena + off : NULL;
  if (served) {
    uint64_t now = atomic_load_explicit(&stats_committed, memory_order_relaxed);
    if (now > footprint_since) footprint_since = now;
  }
  if (!served && arena && plan_arena_idle(planner)) arena_set(0);   /* the plan ended and the arena emptied */
  pthread_mutex_unlock(&arena_lock);
  if (!served) {
    *seq = s + 1;
    return NULL;
  }
  if (zero) memset(p, 0, size);
  return p;
}

/* malloc_trim, uma_collect(true), a refused request: an arena with no
 * block in it goes back now (the next period maps it again). */
void plan_host_trim(void) {
  if (planner == NULL) return;
  pthread_mutex_lock(&arena_lock);
  if (arena && plan_live(planner) == 0) arena_set(0);
  pthread_mutex_unlock(&arena_lock);
}

void plan_host_observe_free(uint64_t seq) {
  if (seq && planner) plan_free(planner, seq - 1);
}

static bool in_arena(const void *p, uint64_t *off) {
  uint8_t *a = arena;
  if (a == NULL || (const uint8_t *)p < a || (const uint8_t *)p >= a + arena_size) return false;
  *off = (uint64_t)((const uint8_t *)p - a);
  return true;
}

size_t plan_host_block(const void *p) {
  uint64_t off;
  return planner && in_arena(p, &off) ? (size_t)plan_planned(planner, off, false) : 0;
}

bool plan_host_free(void *p) {
  uint64_t off;
  if (planner == NULL || !in_arena(p, &off)) return false;
  return plan_planned(planner, off, true) != 0;
}

/* ---- the report ----------------------------------------------------------- */

void plan_host_snapshot(plan_stats_t *out) {
  *out = (plan_stats_t){ 0 };
  if (planner) plan_snapshot(planner, out);
}

void plan_host_write_text(int fd) {
  if (!plan_host_on || planner == NULL) return;
  plan_stats_t s;
  plan_snapshot(planner, &s);
  char text[400];
  uma_buf_t b = { text, 0, sizeof text };
  buf_str(&b, "  planned (host)");
  buf_pad(&b, 24);
  buf_count(&b, s.served);
  buf_str(&b, " allocations from a ");
  buf_bytes(&b, arena_peak);
  buf_str(&b, " arena (live lower bound ");
  buf_bytes(&b, s.live_bound);
  buf_str(&b, "); ");
  buf_count(&b, s.plans);
  buf_str(&b, " plans, ");
  buf_count(&b, s.deviations);
  buf_str(&b, " ended by a deviation\n");
  os_write(fd, text, b.len);
}

void plan_host_write_json(uma_json_t *j) {
  plan_stats_t s = { 0 };
  if (planner) plan_snapshot(planner, &s);
  json_open(j, "plan_host", '{');
  json_str(j, "mode", plan_host_on ? "auto" : "off");
  json_u64(j, "min_size", plan_min);
  json_u64(j, "plans", s.plans);
  json_u64(j, "deviations", s.deviations);
  json_u64(j, "served", s.served);
  json_u64(j, "unplanned", s.unplanned);
  json_u64(j, "period_events", s.period);
  json_u64(j, "planned_blocks", s.planned_blocks);
  json_u64(j, "arena_bytes", arena_size);
  json_u64(j, "arena_peak_bytes", arena_peak);
  json_u64(j, "arenas_mapped", arenas_mapped);
  json_u64(j, "live_bound_bytes", s.live_bound);
  json_u64(j, "footprint_before_plan_bytes", footprint_before);
  json_u64(j, "footprint_with_plan_bytes", footprint_since);
  json_close(j, '}');
}

/* fork: no lock may be held by a thread that does not exist in the child. */
void plan_host_fork_prepare(void) {
  pthread_mutex_lock(&arena_lock);
  if (planner) plan_lock(planner, true);
}
void plan_host_fork_parent(void) {
  if (planner) plan_lock(planner, false);
  pthread_mutex_unlock(&arena_lock);
}
void plan_host_fork_child(void) {
  pthread_mutex_init(&arena_lock, NULL);
  if (planner) plan_fork_child(planner);
}

/* [plan] host = auto: the large pool asks the planner first, and tells it of frees. */
void plan_host_install(void) {
  large_hooks.planned_size = plan_host_block;
  large_hooks.planned_free = plan_host_free;
  large_hooks.observe_free = plan_host_observe_free;
  large_hooks.trim = plan_host_trim;
  fork_register(FORK_PLAN, plan_host_fork_prepare, plan_host_fork_parent, plan_host_fork_child);
  large_hooks.planned_alloc = plan_host_alloc;   /* last: its blocks are known to the others first */
}
