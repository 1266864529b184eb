/* trace.c — the lifetime trace ([report] trace = yes): one record per
 * allocation (requested size, allocation time, free time) in a bounded
 * array, so uma-report can pack the same trace offline and say what a
 * perfect planner would have needed. Time is an event clock: every traced
 * malloc and free advances it by one. While tracing, the live requested
 * bytes are known exactly, and so is their peak (the report's L).
 *
 * Opt-in and slower: the preload's entry points call in here under one
 * lock. A pointer → record table (open addressing, linear probing) finds the
 * record at free. When the array is full, later allocations are counted as
 * dropped and the trace says so. Memory comes straight from the OS. */
#include "internal.h"

bool trace_on;
uma_trace_rec_t *trace_recs;
uint64_t trace_cap, trace_len, trace_dropped, trace_clock;
uint64_t trace_live, trace_peak_live;
static uint64_t *slots;          /* pointer, or 0 (empty) */
static uint32_t *slot_rec;
static uint64_t slot_mask;
static _Atomic bool lock;

static void trace_lock(void) { while (atomic_exchange_explicit(&lock, true, memory_order_acquire)) os_yield(); }
static void trace_unlock(void) { atomic_store_explicit(&lock, false, memory_order_release); }

/* Set up before main (policy start-up); false when the OS refuses memory. */
bool trace_start(uint64_t records) {
  if (records == 0) return false;
  uint64_t nslots = 1;
  while (nslots < 2 * records) nslots <<= 1;
  trace_recs = os_map(records * sizeof *trace_recs);
  slots = os_map(nslots * sizeof *slots);
  slot_rec = os_map(nslots * sizeof *slot_rec);
  if (!trace_recs || !slots || !slot_rec) return false;
  trace_cap = records;
  slot_mask = nslots - 1;
  trace_on = true;
  return true;
}

static uint64_t slot_of(const void *p) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL;
  return (h >> 20) & slot_mask;
}

void trace_alloc(const void *p, size_t size) {
  if (p == NULL) return;
  trace_lock();
  trace_clock++;
  if (trace_len == trace_cap) {
    trace_dropped++;
  } else {
    uint64_t i = slot_of(p);
    while (slots[i] != 0 && slots[i] != (uintptr_t)p) i = (i + 1) & slot_mask;
    slots[i] = (uintptr_t)p;
    slot_rec[i] = (uint32_t)trace_len;
    trace_recs[trace_len++] = (uma_trace_rec_t){ size, trace_clock, 0 };
    trace_live += size;
    if (trace_live > trace_peak_live) trace_peak_live = trace_live;
  }
  trace_unlock();
}

void trace_free(const void *p) {
  if (p == NULL) return;
  trace_lock();
  trace_clock++;
  uint64_t i = slot_of(p);
  while (slots[i] != 0 && slots[i] != (uintptr_t)p) i = (i + 1) & slot_mask;
  if (slots[i] != 0) {
    uma_trace_rec_t *r = &trace_recs[slot_rec[i]];
    r->t_free = trace_clock;
    trace_live -= r->size;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    uint64_t hole = i;
    for (uint64_t j = (i + 1) & slot_mask; slots[j] != 0; j = (j + 1) & slot_mask) {
      uint64_t home = slot_of((void *)(uintptr_t)slots[j]);
      if (((j - home) & slot_mask) >= ((j - hole) & slot_mask)) {
        slots[hole] = slots[j];
        slot_rec[hole] = slot_rec[j];
        hole = j;
      }
    }
    slots[hole] = 0;
  }
  trace_unlock();
}

void trace_fork_prepare(void) { if (trace_on) trace_lock(); }
void trace_fork_parent(void) { if (trace_on) trace_unlock(); }
void trace_fork_child(void) { if (trace_on) trace_unlock(); }
