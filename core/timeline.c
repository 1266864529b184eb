/* timeline.c — counters sampled at the policy's intervals ([report]
 * timeline: time; timeline_bytes: bytes allocated) into a bounded buffer, so the report shows how live, committed,
 * mapped and resident bytes moved over the run. Samples are taken on a
 * clock by the ticker thread (ticker.c) and on allocation slow paths (page
 * refills, large blocks) when it is due there first. When the buffer is full, every other sample is dropped and the
 * interval doubles: the whole run stays covered at a coarser grain, where a
 * ring that overwrote its oldest entries would lose the start. */
#include "base.h"
#include "ticker.h"
#include "fork.h"
#include "heap.h"
#include "os.h"
#include "stats.h"
#include "timeline.h"
#include "trace.h"

UMA_TABLE uma_sample_t timeline_samples[TIMELINE_MAX];
_Atomic uint32_t timeline_count;
uint64_t timeline_interval_ms;           /* 0: off */
uint64_t timeline_interval_bytes;        /* 0: off */
uint64_t timeline_start_ms;
static _Atomic uint64_t next_due_ms;
static _Atomic uint64_t allocated_bytes, next_due_bytes;   /* requested bytes seen on slow paths */
static _Atomic bool busy;

/* Whole-process resident bytes from /proc/self/statm (three system calls). */
uint64_t timeline_process_resident(void) {
  char text[128];
  int fd = os_open("/proc/self/statm", 0, 0);
  if (fd < 0) return 0;
  long n = os_read(fd, text, sizeof text - 1);
  os_close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  const char *s = text;
  while (*s && *s != ' ') s++;   /* skip the size field: the second is resident pages */
  while (*s == ' ') s++;
  uint64_t pages = 0;
  while (*s >= '0' && *s <= '9') pages = pages * 10 + (uint64_t)(*s++ - '0');
  return pages * UMA_OS_PAGE;
}

/* On a clock, the helper thread samples too: a program holding still gets
 * samples, so the timeline shows it flat. Its interval doubles as the
 * buffer fills. */
static bool clock_wanted(void) { return timeline_interval_ms != 0; }
static uint64_t clock_period(void) { return timeline_interval_ms; }
static void clock_run(uint64_t now) { timeline_tick(now, NULL); }
static const ticker_job_t clock_job = { clock_wanted, clock_period, clock_run };

void timeline_start(uint64_t interval_ms, uint64_t interval_bytes) {
  fork_register(FORK_TIMELINE, NULL, NULL, timeline_fork_child);
  if (interval_ms) ticker_add(&clock_job);
  stats_observers.sample = timeline_tick;
  timeline_start_ms = os_now_ms();
  timeline_interval_ms = interval_ms;
  timeline_interval_bytes = interval_bytes;
  atomic_store(&next_due_ms, interval_ms ? timeline_start_ms : UINT64_MAX);
  atomic_store(&next_due_bytes, interval_bytes ? 0 : UINT64_MAX);
}

/* Bytes the heap's thread requested since its last slow path, added to the
 * process-wide count (O(classes) on a slow path, which runs once per page
 * of blocks at most). */
static uint64_t count_allocated(uma_heap_t *heap) {
  if (heap == NULL) return atomic_load_explicit(&allocated_bytes, memory_order_relaxed);
  uint64_t total = heap->stats.large_requested;
  for (unsigned c = 0; c < UMA_CLASS_COUNT; c++) total += tcache_requested(&heap->tcache[c]);
  uint64_t delta = total - heap->timeline_mark;
  heap->timeline_mark = total;
  return atomic_fetch_add_explicit(&allocated_bytes, delta, memory_order_relaxed) + delta;
}

static void take(uint64_t now) {
  uint32_t n = atomic_load_explicit(&timeline_count, memory_order_relaxed);
  if (n == TIMELINE_MAX) {
    for (uint32_t i = 0; i < TIMELINE_MAX / 2; i++) timeline_samples[i] = timeline_samples[2 * i];
    n = TIMELINE_MAX / 2;
    timeline_interval_ms *= 2;
    timeline_interval_bytes *= 2;
  }
  uma_stats_t s;
  uma_stats_get(&s);
  uma_sample_t *x = &timeline_samples[n];
  x->t_ms = now - timeline_start_ms;
  x->live = s.live_bytes;
  /* Requested bytes are not known at free: exact while tracing, else the
   * live share estimated from the fill of the blocks allocated so far
   * (bytes requested / bytes served up to this sample). */
  if (trace_on) x->requested_live = __atomic_load_n(&trace_live, __ATOMIC_RELAXED);
  else x->requested_live = s.bytes_served ? (uint64_t)((double)s.live_bytes * (double)s.bytes_requested / (double)s.bytes_served) : 0;
  x->committed = atomic_load_explicit(&stats_committed, memory_order_relaxed);
  x->mapped = s.mapped_bytes;
  x->resident = timeline_process_resident();
  atomic_store_explicit(&timeline_count, n + 1, memory_order_release);
}

void timeline_tick(uint64_t now, uma_heap_t *heap) {
  if (timeline_interval_ms == 0 && timeline_interval_bytes == 0) return;
  uint64_t bytes = timeline_interval_bytes ? count_allocated(heap) : 0;
  if (now < atomic_load_explicit(&next_due_ms, memory_order_relaxed) &&
      bytes < atomic_load_explicit(&next_due_bytes, memory_order_relaxed))
    return;
  if (atomic_exchange(&busy, true)) return;
  if (now >= atomic_load(&next_due_ms) || bytes >= atomic_load(&next_due_bytes)) {
    take(now);
    if (timeline_interval_ms) atomic_store(&next_due_ms, now + timeline_interval_ms);
    if (timeline_interval_bytes) atomic_store(&next_due_bytes, bytes + timeline_interval_bytes);
  }
  atomic_store(&busy, false);
}

/* The last sample, at exit, whatever the interval. */
void timeline_final(void) {
  if ((timeline_interval_ms == 0 && timeline_interval_bytes == 0) || atomic_exchange(&busy, true)) return;
  take(os_now_ms());
  atomic_store(&busy, false);
}

void timeline_fork_child(void) { atomic_store(&busy, false); }
