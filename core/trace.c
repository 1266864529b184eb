/* trace.c — the lifetime trace ([report] trace = yes): one record per
 * allocation (requested size, allocation time, free time) in a bounded
 * array, so uma-report can pack the same trace offline and say what a
 * perfect planner would have needed. Time is an event clock: every traced
 * malloc and free advances it by one. While tracing, the live requested
 * bytes are known exactly, and so is their peak (the report's L).
 *
 * Opt-in and slower: the preload's entry points call in here under one
 * lock. A table of live blocks (open addressing, linear probing; pointer →
 * size and record) finds the record at free. When the record array is full,
 * later allocations are counted as dropped, but the table still follows
 * them (it doubles as needed), so the live bytes and their peak stay exact.
 * Memory comes straight from the OS. */
#include "base.h"
#include "fork.h"
#include "addr_table.h"
#include "os.h"
#include "trace.h"
#include "alloc_fast.h"

bool trace_on;
uma_trace_rec_t *trace_recs;
uint64_t trace_cap, trace_len, trace_dropped, trace_clock;
uint64_t trace_live, trace_peak_live, trace_untracked;
#define NO_RECORD UINT32_MAX
static addr_table_t live;        /* block → (requested size, record or NO_RECORD) */
static _Atomic bool lock;

static void trace_lock(void) { while (atomic_exchange_explicit(&lock, true, memory_order_acquire)) os_yield(); }
static void trace_unlock(void) { atomic_store_explicit(&lock, false, memory_order_release); }

/* Set up before main (policy start-up); false when the OS refuses memory. */
bool trace_start(uint64_t records) {
  if (records == 0) return false;
  trace_recs = os_map(records * sizeof *trace_recs);
  if (!trace_recs) return false;
  trace_cap = records;
  fork_register(FORK_TRACE, trace_fork_prepare, trace_fork_parent, trace_fork_child);
  trace_on = true;
  fast_malloc_limit = 0;   /* every malloc and free to its entry's slow path (alloc_fast.h) */
  fast_free_slots = 0;
  return true;
}

void trace_alloc(const void *p, size_t size) {
  if (p == NULL) return;
  trace_lock();
  trace_clock++;
  uint32_t rec = trace_len < trace_cap ? (uint32_t)trace_len : NO_RECORD;
  if (!addr_table_put(&live, (uintptr_t)p, size, rec)) {
    trace_untracked++;   /* the live bytes are a lower bound from here on */
  } else {
    if (rec != NO_RECORD) trace_recs[trace_len++] = (uma_trace_rec_t){ size, trace_clock, 0 };
    else trace_dropped++;
    trace_live += size;
    if (trace_live > trace_peak_live) trace_peak_live = trace_live;
  }
  trace_unlock();
}

void trace_free(const void *p) {
  if (p == NULL) return;
  trace_lock();
  trace_clock++;
  addr_slot_t s;
  if (addr_table_take(&live, (uintptr_t)p, &s)) {
    if (s.b != NO_RECORD) trace_recs[s.b].t_free = trace_clock;
    trace_live -= s.a;
  }
  trace_unlock();
}

void trace_fork_prepare(void) { if (trace_on) trace_lock(); }
void trace_fork_parent(void) { if (trace_on) trace_unlock(); }
void trace_fork_child(void) { if (trace_on) trace_unlock(); }
