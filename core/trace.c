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
#include "internal.h"

bool trace_on;
uma_trace_rec_t *trace_recs;
uint64_t trace_cap, trace_len, trace_dropped, trace_clock;
uint64_t trace_live, trace_peak_live, trace_untracked;
typedef struct slot_s { uint64_t ptr, size; uint32_t rec; } slot_t;   /* ptr 0: empty */
#define NO_RECORD UINT32_MAX
static slot_t *slots;
static uint64_t slot_mask, slot_used;
static _Atomic bool lock;

static void trace_lock(void) { while (atomic_exchange_explicit(&lock, true, memory_order_acquire)) os_yield(); }
static void trace_unlock(void) { atomic_store_explicit(&lock, false, memory_order_release); }

/* Set up before main (policy start-up); false when the OS refuses memory. */
static uint64_t slot_of(uint64_t p) {
  return ((p * 0x9E3779B97F4A7C15ULL) >> 20) & slot_mask;
}

static uint64_t find_slot(uint64_t p) {
  uint64_t i = slot_of(p);
  while (slots[i].ptr != 0 && slots[i].ptr != p) i = (i + 1) & slot_mask;
  return i;
}

/* Twice the slots once half are used. False when the OS refuses. */
static bool table_grow(void) {
  slot_t *old = slots;
  uint64_t old_n = old ? slot_mask + 1 : 0, n = old ? 2 * old_n : 65536;
  slot_t *fresh = os_map(n * sizeof *fresh);
  if (fresh == NULL) return false;
  slots = fresh;
  slot_mask = n - 1;
  for (uint64_t i = 0; i < old_n; i++)
    if (old[i].ptr) slots[find_slot(old[i].ptr)] = old[i];
  if (old) os_unmap(old, old_n * sizeof *old);
  return true;
}

bool trace_start(uint64_t records) {
  if (records == 0) return false;
  trace_recs = os_map(records * sizeof *trace_recs);
  if (!trace_recs || !table_grow()) return false;
  trace_cap = records;
  trace_on = true;
  return true;
}

void trace_alloc(const void *p, size_t size) {
  if (p == NULL) return;
  trace_lock();
  trace_clock++;
  if (2 * (slot_used + 1) > slot_mask + 1 && !table_grow()) {
    trace_untracked++;   /* the live bytes are a lower bound from here on */
  } else {
    uint32_t rec = NO_RECORD;
    if (trace_len < trace_cap) {
      rec = (uint32_t)trace_len;
      trace_recs[trace_len++] = (uma_trace_rec_t){ size, trace_clock, 0 };
    } else {
      trace_dropped++;
    }
    uint64_t i = find_slot((uintptr_t)p);
    if (slots[i].ptr == 0) slot_used++;
    slots[i] = (slot_t){ (uintptr_t)p, size, rec };
    trace_live += size;
    if (trace_live > trace_peak_live) trace_peak_live = trace_live;
  }
  trace_unlock();
}

void trace_free(const void *p) {
  if (p == NULL) return;
  trace_lock();
  trace_clock++;
  uint64_t i = find_slot((uintptr_t)p);
  if (slots[i].ptr != 0) {
    if (slots[i].rec != NO_RECORD) trace_recs[slots[i].rec].t_free = trace_clock;
    trace_live -= slots[i].size;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    uint64_t hole = i;
    for (uint64_t j = (i + 1) & slot_mask; slots[j].ptr != 0; j = (j + 1) & slot_mask) {
      uint64_t home = slot_of(slots[j].ptr);
      if (((j - home) & slot_mask) >= ((j - hole) & slot_mask)) {
        slots[hole] = slots[j];
        hole = j;
      }
    }
    slots[hole].ptr = 0;
    slot_used--;
  }
  trace_unlock();
}

void trace_fork_prepare(void) { if (trace_on) trace_lock(); }
void trace_fork_parent(void) { if (trace_on) trace_unlock(); }
void trace_fork_child(void) { if (trace_on) trace_unlock(); }
